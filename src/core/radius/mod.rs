//! RADIUS (RFC 2865) as a NAS speaks it, pure: Access-Request packets built from data and a
//! random authenticator the caller draws, Access-Accept/Reject/Challenge replies checked
//! (Identifier, Response Authenticator, Message-Authenticator of RFC 3579 §3.2) and decoded.
//! PAP User-Password hiding (§5.2) and CHAP (§5.3, §5.40). Every length is checked before it
//! is used: a malformed or truncated packet is a `PacketError`, never a panic. No sockets, no
//! clock, no random source: `adapters::radius` sends and receives. Feature `radius` only.

use std::fmt;

use md5::{Digest, Md5};

use crate::core::token;

pub mod acct;
pub mod codec;
pub mod das;
mod dictionary;
pub mod health;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_acct;
#[cfg(test)]
mod tests_das;

pub use dictionary::{Reply, DEFAULT_SESSION_SECS};

/// The header: Code, Identifier, Length (2), Authenticator (16).
pub const HEADER: usize = 20;
/// RFC 2865 §3: a packet is 20 to 4096 octets.
pub const MAX_LEN: usize = 4096;

/// Packet codes (RFC 2865 §3; 11 is Access-Challenge).
pub const ACCESS_REQUEST: u8 = 1;
pub const ACCESS_ACCEPT: u8 = 2;
pub const ACCESS_REJECT: u8 = 3;
pub const ACCESS_CHALLENGE: u8 = 11;
/// Status-Server (RFC 5997): a probe, answered with an Access-Accept.
pub const STATUS_SERVER: u8 = 12;

/// Attribute types lango sends or reads (RFC 2865 §5, RFC 2869 §5.14, RFC 3579 §3.2).
pub mod attr {
    pub const USER_NAME: u8 = 1;
    pub const USER_PASSWORD: u8 = 2;
    pub const CHAP_PASSWORD: u8 = 3;
    pub const NAS_IP_ADDRESS: u8 = 4;
    pub const SERVICE_TYPE: u8 = 6;
    pub const FRAMED_IP_ADDRESS: u8 = 8;
    pub const REPLY_MESSAGE: u8 = 18;
    pub const CLASS: u8 = 25;
    pub const VENDOR_SPECIFIC: u8 = 26;
    pub const SESSION_TIMEOUT: u8 = 27;
    pub const IDLE_TIMEOUT: u8 = 28;
    pub const CALLED_STATION_ID: u8 = 30;
    pub const CALLING_STATION_ID: u8 = 31;
    pub const NAS_IDENTIFIER: u8 = 32;
    pub const CHAP_CHALLENGE: u8 = 60;
    pub const NAS_PORT_TYPE: u8 = 61;
    pub const ACCT_INTERIM_INTERVAL: u8 = 85;
    pub const MESSAGE_AUTHENTICATOR: u8 = 80;
    /// Service-Type Login-User (RFC 2865 §5.6): what a captive portal asks for.
    pub const LOGIN_USER: u32 = 1;
    /// NAS-Port-Type Wireless-802.11 (RFC 2865 §5.41).
    pub const WIRELESS_802_11: u32 = 19;
}

/// Why a packet was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PacketError {
    /// Fewer than 20 or more than 4096 octets, or a Length field outside 20..=received.
    Length(usize),
    /// An attribute (or a Vendor-Specific sub-attribute) runs past its packet or is shorter
    /// than its own header, at this offset.
    Attribute(usize),
    /// A value lango sends does not fit in one attribute (253 octets), or the packet would
    /// pass 4096 octets.
    TooBig,
    /// Not a reply to an Access-Request (this code).
    Code(u8),
    /// The reply's Identifier is not the request's.
    Identifier,
    /// The Response Authenticator does not match: wrong shared secret, or a forged reply.
    ResponseAuthenticator,
    /// No Message-Authenticator, more than one, or one that does not match.
    MessageAuthenticator,
    /// A known attribute with a value of the wrong size (its type).
    Value(u8),
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PacketError::Length(n) => write!(f, "bad packet length {n}"),
            PacketError::Attribute(at) => write!(f, "malformed attribute at octet {at}"),
            PacketError::TooBig => write!(f, "value too long for RADIUS"),
            PacketError::Code(code) => write!(f, "unexpected code {code}"),
            PacketError::Identifier => write!(f, "identifier does not match the request"),
            PacketError::ResponseAuthenticator => write!(f, "bad Response Authenticator"),
            PacketError::MessageAuthenticator => {
                write!(f, "missing or bad Message-Authenticator")
            }
            PacketError::Value(kind) => write!(f, "attribute {kind} has a malformed value"),
        }
    }
}

/// A packet whose header length and attribute list have been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    pub code: u8,
    pub id: u8,
    pub authenticator: [u8; 16],
    /// The packet up to its Length field (octets past it are padding, RFC 2865 §3).
    bytes: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Checks the header and walks every attribute once, so that `attributes` never fails.
    pub fn decode(bytes: &'a [u8]) -> Result<Packet<'a>, PacketError> {
        if bytes.len() < HEADER || bytes.len() > MAX_LEN {
            return Err(PacketError::Length(bytes.len()));
        }
        let length = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        if !(HEADER..=bytes.len()).contains(&length) {
            return Err(PacketError::Length(length));
        }
        let bytes = &bytes[..length];
        let mut at = HEADER;
        while at < length {
            let size = match bytes.get(at + 1) {
                Some(&size) if size >= 2 && at + usize::from(size) <= length => size,
                _ => return Err(PacketError::Attribute(at)),
            };
            at += usize::from(size);
        }
        let mut authenticator = [0; 16];
        authenticator.copy_from_slice(&bytes[4..HEADER]);
        Ok(Packet {
            code: bytes[0],
            id: bytes[1],
            authenticator,
            bytes,
        })
    }

    /// Every attribute as (type, value, offset of its value), in packet order.
    pub fn attributes(&self) -> impl Iterator<Item = (u8, &'a [u8], usize)> {
        let bytes = self.bytes;
        let mut at = HEADER;
        std::iter::from_fn(move || {
            let kind = *bytes.get(at)?;
            let size = usize::from(*bytes.get(at + 1)?);
            let value = bytes.get(at + 2..at + size)?;
            let start = at + 2;
            at += size;
            Some((kind, value, start))
        })
    }

    /// The octets of the packet (up to its Length).
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// A Vendor-Specific sub-attribute: its type and value.
pub type SubAttribute<'a> = (u8, &'a [u8]);

/// The sub-attributes of one Vendor-Specific value (RFC 2865 §5.26, the recommended format):
/// the vendor and its (type, value) pairs, or the offset of the first malformed one.
pub fn vendor_attributes(value: &[u8]) -> Result<(u32, Vec<SubAttribute<'_>>), PacketError> {
    let Some((vendor, mut rest)) = value.split_first_chunk::<4>() else {
        return Err(PacketError::Attribute(0));
    };
    let mut subs = Vec::new();
    let mut at = 4;
    while !rest.is_empty() {
        let size = match rest.get(1) {
            Some(&size) if size >= 2 && usize::from(size) <= rest.len() => usize::from(size),
            _ => return Err(PacketError::Attribute(at)),
        };
        subs.push((rest[0], &rest[2..size]));
        rest = &rest[size..];
        at += size;
    }
    Ok((u32::from_be_bytes(*vendor), subs))
}

/// How the guest's password travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// User-Password, hidden with the shared secret (RFC 2865 §5.2).
    Pap,
    /// CHAP-Password and CHAP-Challenge (RFC 2865 §5.3, §5.40).
    Chap,
}

/// What an Access-Request carries besides the password. Values are bytes as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub user: &'a str,
    pub password: &'a str,
    pub auth: Auth,
    /// NAS-Identifier, NAS-IP-Address, Called-Station-Id (router MAC:SSID), Calling-Station-Id
    /// (the guest's MAC, `AA-BB-CC-DD-EE-FF`), Framed-IP-Address: each left out when `None`.
    pub nas_id: Option<&'a str>,
    pub nas_ip: Option<[u8; 4]>,
    pub called_station: Option<&'a str>,
    pub calling_station: Option<&'a str>,
    pub framed_ip: Option<[u8; 4]>,
}

/// The random octets one Access-Request needs: its Request Authenticator and, for CHAP, the
/// challenge and the CHAP identifier. Drawn by the caller (`token::fill`).
#[derive(Clone, Copy, Debug)]
pub struct Nonce {
    pub authenticator: [u8; 16],
    pub challenge: [u8; 16],
    pub chap_id: u8,
}

/// Builds an Access-Request with Message-Authenticator first (as FreeRADIUS 3.2.5 and later
/// ask, against the Blast-RADIUS forgery) and signed with `secret`.
pub fn access_request(
    id: u8,
    nonce: &Nonce,
    request: &Request,
    secret: &[u8],
) -> Result<Vec<u8>, PacketError> {
    let mut out = vec![ACCESS_REQUEST, id, 0, 0];
    out.extend_from_slice(&nonce.authenticator);
    put(&mut out, attr::MESSAGE_AUTHENTICATOR, &[0; 16])?;
    put(&mut out, attr::USER_NAME, request.user.as_bytes())?;
    match request.auth {
        Auth::Pap => {
            let hidden = hide_password(request.password.as_bytes(), secret, &nonce.authenticator)?;
            put(&mut out, attr::USER_PASSWORD, &hidden)?;
        }
        Auth::Chap => {
            let mut md5 = Md5::new();
            md5.update([nonce.chap_id]);
            md5.update(request.password.as_bytes());
            md5.update(nonce.challenge);
            let mut value = vec![nonce.chap_id];
            value.extend_from_slice(&md5.finalize());
            put(&mut out, attr::CHAP_PASSWORD, &value)?;
            put(&mut out, attr::CHAP_CHALLENGE, &nonce.challenge)?;
        }
    }
    put(
        &mut out,
        attr::SERVICE_TYPE,
        &attr::LOGIN_USER.to_be_bytes(),
    )?;
    put(
        &mut out,
        attr::NAS_PORT_TYPE,
        &attr::WIRELESS_802_11.to_be_bytes(),
    )?;
    let texts = [
        (attr::NAS_IDENTIFIER, request.nas_id),
        (attr::CALLED_STATION_ID, request.called_station),
        (attr::CALLING_STATION_ID, request.calling_station),
    ];
    for (kind, text) in texts {
        if let Some(text) = text {
            put(&mut out, kind, text.as_bytes())?;
        }
    }
    let addresses = [
        (attr::NAS_IP_ADDRESS, request.nas_ip),
        (attr::FRAMED_IP_ADDRESS, request.framed_ip),
    ];
    for (kind, address) in addresses {
        if let Some(address) = address {
            put(&mut out, kind, &address)?;
        }
    }
    let length = u16::try_from(out.len())
        .ok()
        .filter(|n| usize::from(*n) <= MAX_LEN);
    let length = length.ok_or(PacketError::TooBig)?;
    out[2..4].copy_from_slice(&length.to_be_bytes());
    // The Message-Authenticator is the first attribute: its value at 22..38.
    let mac = hmac_md5(secret, &out);
    out[HEADER + 2..HEADER + 18].copy_from_slice(&mac);
    Ok(out)
}

/// A Status-Server probe (RFC 5997 §3): only a Message-Authenticator, signed with `secret`.
/// Its answer is an Access-Accept that `check_reply` verifies like any other.
pub fn status_server(id: u8, authenticator: &[u8; 16], secret: &[u8]) -> Vec<u8> {
    let mut out = vec![STATUS_SERVER, id, 0, 38];
    out.extend_from_slice(authenticator);
    out.extend_from_slice(&[attr::MESSAGE_AUTHENTICATOR, 18]);
    out.extend_from_slice(&[0; 16]);
    let mac = hmac_md5(secret, &out);
    out[HEADER + 2..HEADER + 18].copy_from_slice(&mac);
    out
}

/// Checks a reply to the request with `id` and `request_authenticator`: its code, Identifier,
/// Response Authenticator and Message-Authenticator (required). Only then is it decoded.
pub fn check_reply<'a>(
    bytes: &'a [u8],
    id: u8,
    request_authenticator: &[u8; 16],
    secret: &[u8],
) -> Result<Packet<'a>, PacketError> {
    let packet = Packet::decode(bytes)?;
    if ![ACCESS_ACCEPT, ACCESS_REJECT, ACCESS_CHALLENGE].contains(&packet.code) {
        return Err(PacketError::Code(packet.code));
    }
    let mut copy = verify_response(&packet, id, request_authenticator, secret)?;
    // RFC 3579 §3.2: HMAC-MD5 over the reply with the Request Authenticator in place of the
    // Response Authenticator and the Message-Authenticator's own value zeroed.
    let mut found = None;
    for (kind, value, at) in packet.attributes() {
        if kind == attr::MESSAGE_AUTHENTICATOR {
            if found.is_some() || value.len() != 16 {
                return Err(PacketError::MessageAuthenticator);
            }
            found = Some((value, at));
        }
    }
    let (sent, at) = found.ok_or(PacketError::MessageAuthenticator)?;
    copy[at..at + 16].fill(0);
    if !token::same(sent, &hmac_md5(secret, &copy)) {
        return Err(PacketError::MessageAuthenticator);
    }
    Ok(packet)
}

/// Checks a reply's Identifier and Response Authenticator (RFC 2865 §3, RFC 2866 §3:
/// MD5(Code+ID+Length+RequestAuth+Attributes+Secret)). Returns the reply with the Request
/// Authenticator in place of the Response Authenticator: what a Message-Authenticator signs.
fn verify_response(
    packet: &Packet,
    id: u8,
    request_authenticator: &[u8; 16],
    secret: &[u8],
) -> Result<Vec<u8>, PacketError> {
    if packet.id != id {
        return Err(PacketError::Identifier);
    }
    let mut copy = packet.bytes().to_vec();
    copy[4..HEADER].copy_from_slice(request_authenticator);
    let mut md5 = Md5::new();
    md5.update(&copy);
    md5.update(secret);
    if !token::same(&packet.authenticator, &md5.finalize()) {
        return Err(PacketError::ResponseAuthenticator);
    }
    Ok(copy)
}

/// Appends one attribute.
fn put(out: &mut Vec<u8>, kind: u8, value: &[u8]) -> Result<(), PacketError> {
    let size = u8::try_from(value.len() + 2).map_err(|_| PacketError::TooBig)?;
    out.extend_from_slice(&[kind, size]);
    out.extend_from_slice(value);
    Ok(())
}

/// User-Password hiding (RFC 2865 §5.2): the password padded with zeros to a multiple of 16
/// (at most 128 octets), each block XORed with MD5(secret + the previous cipher block), the
/// first with MD5(secret + Request Authenticator).
pub fn hide_password(
    password: &[u8],
    secret: &[u8],
    authenticator: &[u8; 16],
) -> Result<Vec<u8>, PacketError> {
    if password.len() > 128 {
        return Err(PacketError::TooBig);
    }
    let padded = password.len().div_ceil(16).max(1) * 16;
    let mut out = password.to_vec();
    out.resize(padded, 0);
    let mut previous = *authenticator;
    for block in out.chunks_mut(16) {
        let mut md5 = Md5::new();
        md5.update(secret);
        md5.update(previous);
        for (byte, key) in block.iter_mut().zip(md5.finalize()) {
            *byte ^= key;
        }
        previous.copy_from_slice(block);
    }
    Ok(out)
}

/// HMAC-MD5 (RFC 2104), the Message-Authenticator's function.
pub fn hmac_md5(key: &[u8], message: &[u8]) -> [u8; 16] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..16].copy_from_slice(&Md5::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|k| k ^ byte);
    let mut inner = Md5::new();
    inner.update(pad(0x36));
    inner.update(message);
    let mut outer = Md5::new();
    outer.update(pad(0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}
