//! Dynamic Authorization (RFC 5176) as a NAS answers it, pure: a Disconnect-Request or
//! CoA-Request checked (Request Authenticator, Message-Authenticator when present, the
//! Event-Timestamp window, duplicates) and read into what it asks (`Asked`: which session,
//! what change); the session it names (`Target::matches`); the change applied to a session
//! (`apply`); the ACK or NAK with its Error-Cause (`answer`). No sockets, no clock:
//! `adapters::radius_das` receives, `app::das` decides. Feature `radius` only.

use md5::{Digest, Md5};

use super::acct::{acct_attr, session_id};
use super::dictionary::{CHILLISPOT, WISPR};
use super::{attr, hmac_md5, put, vendor_attributes, Packet, PacketError, Reply, HEADER};
use crate::core::model::Mac;
use crate::core::sessions::Session;
use crate::core::token;

pub const DISCONNECT_REQUEST: u8 = 40;
pub const DISCONNECT_ACK: u8 = 41;
pub const DISCONNECT_NAK: u8 = 42;
pub const COA_REQUEST: u8 = 43;
pub const COA_ACK: u8 = 44;
pub const COA_NAK: u8 = 45;
const ERROR_CAUSE: u8 = 101;
const PROXY_STATE: u8 = 33;

/// A request's Event-Timestamp must be within this many seconds of now (RFC 5176 §3.5
/// recommends 300), and a request seen once is remembered this long.
pub const WINDOW_SECS: i64 = 300;
/// Requests remembered for duplicate detection: the oldest goes first.
const REMEMBERED: usize = 64;

/// Error-Cause values (RFC 5176 §3.5) lango answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// 401: an attribute lango does not act on.
    UnsupportedAttribute = 401,
    /// 402: no Event-Timestamp, no session identification, or a CoA that changes nothing.
    MissingAttribute = 402,
    /// 404: an attribute with a malformed value.
    InvalidRequest = 404,
    /// 405: a Service-Type (Authorize-Only re-authentication is not offered).
    UnsupportedService = 405,
    /// 503: no running session matches.
    SessionNotFound = 503,
    /// 506: the store failed.
    ResourcesUnavailable = 506,
}

/// Why a request gets no answer at all (RFC 5176 §3.5: silently discarded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dropped {
    Malformed(PacketError),
    /// Not a Disconnect-Request or CoA-Request.
    Code(u8),
    /// Wrong shared secret or forged (Request Authenticator or Message-Authenticator).
    Authenticator,
    /// Event-Timestamp outside `WINDOW_SECS` of now: an old request replayed.
    Stale(i64),
}

impl Dropped {
    /// Why, for the log (plain words: the log line is rate-limited, the details do not matter).
    pub fn why(&self) -> &'static str {
        match self {
            Dropped::Malformed(_) => "malformed",
            Dropped::Code(_) => "not a CoA or Disconnect",
            Dropped::Authenticator => "bad authenticator (wrong secret?)",
            Dropped::Stale(_) => "Event-Timestamp outside the window",
        }
    }
}

/// Which session a request names; every attribute given must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    /// Acct-Session-Id, as accounting sends it (`acct::session_id`).
    pub session_id: Option<String>,
    pub user: Option<String>,
    /// Calling-Station-Id.
    pub mac: Option<Mac>,
    /// Framed-IP-Address.
    pub ip: Option<[u8; 4]>,
}

impl Target {
    /// Whether `session` (with `user`, the User-Name accounting knows it by) is the one named.
    pub fn matches(&self, session: &Session, user: Option<&str>) -> bool {
        let ip = match session.ip {
            Some(std::net::IpAddr::V4(v4)) => Some(v4.octets()),
            _ => None,
        };
        let id = || session_id(session.started_at, session.id);
        self.session_id.as_ref().is_none_or(|s| *s == id())
            && self.user.as_deref().is_none_or(|u| Some(u) == user)
            && self.mac.is_none_or(|m| m == session.mac)
            && self.ip.is_none_or(|i| Some(i) == ip)
    }
}

/// What a CoA-Request changes; each `None` is left as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// Session-Timeout: the session ends this many seconds from now.
    pub session_secs: Option<u32>,
    pub up_kbit: Option<u32>,
    pub down_kbit: Option<u32>,
    /// The data the session may use in all, counted from its start.
    pub quota_bytes: Option<u64>,
    /// Idle-Timeout: the session ends after this many seconds without traffic (0: never
    /// for want of traffic), from the next counter reading on.
    pub idle_secs: Option<u32>,
}

/// A checked request: `Ok` what it asks, `Err` the NAK's cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asked {
    pub code: u8,
    pub id: u8,
    pub authenticator: [u8; 16],
    pub asks: Result<(Target, Change), Cause>,
    /// Proxy-State values, echoed in the answer (RFC 5176 §3.5).
    pub proxy_state: Vec<Vec<u8>>,
}

/// Requests seen within the window, with their answers: a retransmission gets the same answer
/// again and is not acted on twice.
#[derive(Debug, Default)]
pub struct Seen(Vec<(i64, u8, [u8; 16], Vec<u8>)>);

impl Seen {
    /// The answer already given to request (`id`, `authenticator`), if it is remembered.
    pub fn answer(&self, id: u8, authenticator: &[u8; 16]) -> Option<&[u8]> {
        let same = |e: &&(i64, u8, [u8; 16], Vec<u8>)| e.1 == id && e.2 == *authenticator;
        self.0.iter().find(same).map(|e| e.3.as_slice())
    }

    /// Remembers an answer at `now`; forgets what is older than the window, and the oldest
    /// past `REMEMBERED`.
    pub fn remember(&mut self, id: u8, authenticator: [u8; 16], answer: Vec<u8>, now: i64) {
        self.0.retain(|e| now.abs_diff(e.0) <= WINDOW_SECS as u64);
        if self.0.len() >= REMEMBERED {
            self.0.remove(0);
        }
        self.0.push((now, id, authenticator, answer));
    }
}

/// Whether a log line is due: at most one a minute (a flood of refused requests).
pub fn log_due(last: &mut i64, now: i64) -> bool {
    let due = now.saturating_sub(*last) >= 60;
    if due {
        *last = now;
    }
    due
}

/// Checks a Disconnect-Request or CoA-Request signed with `secret`, at `now`. The Request
/// Authenticator is MD5 over the packet with a zero authenticator, then the secret (§3.5); a
/// Message-Authenticator is HMAC-MD5 over the packet with it and the authenticator zeroed.
pub fn check(bytes: &[u8], secret: &[u8], now: i64) -> Result<Asked, Dropped> {
    let packet = Packet::decode(bytes).map_err(Dropped::Malformed)?;
    if packet.code != DISCONNECT_REQUEST && packet.code != COA_REQUEST {
        return Err(Dropped::Code(packet.code));
    }
    let mut zeroed = packet.bytes().to_vec();
    zeroed[4..HEADER].fill(0);
    let mut md5 = Md5::new();
    md5.update(&zeroed);
    md5.update(secret);
    if !token::same(&packet.authenticator, &md5.finalize()) {
        return Err(Dropped::Authenticator);
    }
    let mut stamp = None;
    let mut proxy_state = Vec::new();
    for (kind, value, at) in packet.attributes() {
        match kind {
            attr::MESSAGE_AUTHENTICATOR => {
                zeroed[at..at + value.len()].fill(0);
                if value.len() != 16 || !token::same(value, &hmac_md5(secret, &zeroed)) {
                    return Err(Dropped::Authenticator);
                }
            }
            acct_attr::EVENT_TIMESTAMP => stamp = Some(<[u8; 4]>::try_from(value)),
            PROXY_STATE => proxy_state.push(value.to_vec()),
            _ => {}
        }
    }
    let asks = match stamp {
        None => Err(Cause::MissingAttribute),
        Some(Err(_)) => Err(Cause::InvalidRequest),
        Some(Ok(at)) => {
            let at = i64::from(u32::from_be_bytes(at));
            if now.abs_diff(at) > WINDOW_SECS as u64 {
                return Err(Dropped::Stale(at));
            }
            read(&packet)
        }
    };
    Ok(Asked {
        code: packet.code,
        id: packet.id,
        authenticator: packet.authenticator,
        asks,
        proxy_state,
    })
}

/// The session identification and, for a CoA, the change.
fn read(packet: &Packet) -> Result<(Target, Change), Cause> {
    let coa = packet.code == COA_REQUEST;
    let mut target = Target::default();
    let text = |v: &[u8]| String::from_utf8(v.to_vec()).map_err(|_| Cause::InvalidRequest);
    let mut changes = false;
    for (kind, value, _) in packet.attributes() {
        match kind {
            acct_attr::SESSION_ID => target.session_id = Some(text(value)?),
            attr::USER_NAME => target.user = Some(text(value)?),
            attr::CALLING_STATION_ID => {
                let mac = text(value)?.parse().map_err(|_| Cause::InvalidRequest)?;
                target.mac = Some(mac);
            }
            attr::FRAMED_IP_ADDRESS => {
                let ip = <[u8; 4]>::try_from(value).map_err(|_| Cause::InvalidRequest)?;
                target.ip = Some(ip);
            }
            // The NAS's own attributes and the request's signature: nothing to act on.
            attr::NAS_IP_ADDRESS
            | attr::NAS_IDENTIFIER
            | attr::CALLED_STATION_ID
            | attr::MESSAGE_AUTHENTICATOR
            | acct_attr::EVENT_TIMESTAMP
            | PROXY_STATE => {}
            attr::SERVICE_TYPE => return Err(Cause::UnsupportedService),
            attr::SESSION_TIMEOUT | attr::IDLE_TIMEOUT if coa => changes = true,
            attr::VENDOR_SPECIFIC if coa => {
                let (vendor, subs) = vendor_attributes(value).map_err(|_| Cause::InvalidRequest)?;
                let known = |sub: u8| match vendor {
                    WISPR => sub == 7 || sub == 8,
                    CHILLISPOT => matches!(sub, 1..=5 | 21..=23),
                    _ => false,
                };
                if !subs.iter().all(|(sub, _)| known(*sub)) {
                    return Err(Cause::UnsupportedAttribute);
                }
                changes = true;
            }
            _ => return Err(Cause::UnsupportedAttribute),
        }
    }
    if target.session_id.is_none() && target.mac.is_none() && target.ip.is_none() {
        return Err(Cause::MissingAttribute);
    }
    if !coa {
        return Ok((target, Change::default()));
    }
    if !changes {
        return Err(Cause::MissingAttribute);
    }
    // The values as an Access-Accept's are read (the same dictionary, the same units).
    let reply = Reply::of(packet).map_err(|_| Cause::InvalidRequest)?;
    let change = Change {
        session_secs: reply.session_timeout,
        up_kbit: reply.up_kbit,
        down_kbit: reply.down_kbit,
        quota_bytes: reply.terms().quota_bytes,
        idle_secs: reply.idle_timeout,
    };
    Ok((target, change))
}

/// `session` with `change` applied at `now`: a Session-Timeout is a new deadline from now,
/// the caps replace the old ones, the quota is the session's total from its start, an
/// Idle-Timeout replaces the session's (`Terms::idle_secs`; 0 removes it).
pub fn apply(session: &Session, change: &Change, now: i64) -> Session {
    let mut out = session.clone();
    if let Some(secs) = change.session_secs {
        out.deadline = now.saturating_add(i64::from(secs));
    }
    if change.up_kbit.is_some() {
        out.terms.rate_up_kbit = change.up_kbit;
    }
    if change.down_kbit.is_some() {
        out.terms.rate_down_kbit = change.down_kbit;
    }
    if change.quota_bytes.is_some() {
        out.quota_bytes = change.quota_bytes;
    }
    if let Some(secs) = change.idle_secs {
        out.terms.idle_secs = (secs > 0).then_some(secs);
    }
    out
}

/// The ACK (`cause` none) or NAK with Error-Cause to `asked`, Proxy-State echoed; its
/// Response Authenticator is MD5 over it with the Request Authenticator, then the secret.
pub fn answer(asked: &Asked, cause: Option<Cause>, secret: &[u8]) -> Vec<u8> {
    let ack = asked.code + 1;
    let mut out = vec![ack + u8::from(cause.is_some()), asked.id, 0, 0];
    out.extend_from_slice(&asked.authenticator);
    if let Some(cause) = cause {
        let _ = put(&mut out, ERROR_CAUSE, &(cause as u32).to_be_bytes());
    }
    for state in &asked.proxy_state {
        if out.len() + state.len() + 2 <= super::MAX_LEN {
            let _ = put(&mut out, PROXY_STATE, state);
        }
    }
    let length = out.len() as u16;
    out[2..4].copy_from_slice(&length.to_be_bytes());
    let mut md5 = Md5::new();
    md5.update(&out);
    md5.update(secret);
    out[4..HEADER].copy_from_slice(&md5.finalize());
    out
}
