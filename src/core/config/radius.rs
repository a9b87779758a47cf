//! `config radius 'radius'`: the RADIUS server that checks vouchers and guest accounts
//! (`core::radius`, `adapters::radius`). Its option table and validation, with every problem
//! on its line like the other sections. The shared secret is never repeated in a message and
//! never shown by `Debug`. Feature `radius` only; without it the section is refused
//! (`validate::RawConfig::sort`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use super::validate::{Check, Raw};
use super::values::{not, parse_bool, parse_host, parse_path, parse_port, parse_text};
use super::Cidr;

pub(super) const RADIUS: &[&str] = &[
    "enabled",
    "server",
    "backup_server",
    "secret",
    "auth_port",
    "acct_port",
    "nas_id",
    "nas_ip",
    "ssid",
    "auth",
    "timeout",
    "retries",
    "accounting",
    "acct_secret",
    "interim",
    "das_port",
    "das_secret",
    "das_client",
    "transport",
    "ca",
    "cert",
    "key",
];

/// RadSec (RFC 6614, `option transport 'tls'`): RADIUS over TLS on TCP, with lango's
/// certificate and the CA the server's must chain to (PEM files). Feature `radsec`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RadSecFiles {
    /// `option ca`: the CA (or CAs) the server's certificate must chain to.
    pub ca: PathBuf,
    /// `option cert`, `option key`: lango's client certificate (chain) and its private key.
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The shared secret RadSec uses (RFC 6614 §2.3): TLS protects the packets, the secret stays.
pub const RADSEC_SECRET: &str = "radsec";

/// How the guest's password reaches the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RadiusAuth {
    Pap,
    Chap,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Radius {
    /// `option server` (required), `option backup_server` (optional): an IP address or a
    /// host name, asked in this order.
    pub server: String,
    pub backup_server: Option<String>,
    /// `option secret` (required): the shared secret. Never shown back.
    pub secret: String,
    /// `option auth_port` (default 1812), `option acct_port` (default 1813, for accounting).
    pub auth_port: u16,
    pub acct_port: u16,
    /// `option nas_id` (default `lango`): NAS-Identifier, how the server tells routers apart.
    pub nas_id: String,
    /// `option nas_ip` (default: `portal_addr` when it is IPv4): NAS-IP-Address.
    pub nas_ip: Option<Ipv4Addr>,
    /// `option ssid` (optional): the network name in Called-Station-Id (`ROUTER-MAC:SSID`).
    pub ssid: Option<String>,
    /// `option auth` (default pap): `pap` or `chap`.
    pub auth: RadiusAuth,
    /// `option timeout` (default 3, 1 to 8): seconds to wait for the first answer; each retry
    /// waits twice as long as the one before, and one server is waited for 8 s at most in all
    /// (`adapters::radius::PER_SERVER`: a guest is waiting on the portal).
    pub timeout_secs: u64,
    /// `option retries` (default 2, 0 to 5): sends after the first, per server.
    pub retries: u8,
    /// `option accounting` (default 1): RFC 2866 accounting to `acct_port` (docs/radius.md).
    pub accounting: bool,
    /// `option acct_secret` (default: `secret`): the accounting server's shared secret.
    pub acct_secret: Option<String>,
    /// `option interim` (default 600, 60 to 86400): seconds between Interim-Updates when the
    /// Access-Accept has no Acct-Interim-Interval.
    pub interim_secs: u32,
    /// `option das_port` (default: off): the UDP port lango answers Disconnect-Request and
    /// CoA-Request on (RFC 5176; 3799 is the usual one; docs/radius.md).
    pub das_port: Option<u16>,
    /// `option das_secret` (default: `secret`): the DAS clients' shared secret.
    pub das_secret: Option<String>,
    /// `list das_client` (default: `server` and `backup_server` when they are IP addresses):
    /// the addresses or networks requests are taken from; others are dropped.
    pub das_clients: Vec<Cidr>,
    /// `option transport` (default `udp`): `tls` for RadSec, with `ca`, `cert` and `key`.
    /// Authentication, accounting and Status-Server then share one TLS connection per server
    /// on `auth_port` (default 2083; `acct_port` and `acct_secret` are refused); `secret`
    /// defaults to `radsec`. Disconnect and CoA stay on UDP (`das_port`).
    pub tls: Option<RadSecFiles>,
}

impl Radius {
    /// The secret accounting packets are signed with.
    pub fn acct_secret(&self) -> &str {
        if self.tls.is_some() {
            // One connection, one client entry on the server: one secret.
            return &self.secret;
        }
        self.acct_secret.as_deref().unwrap_or(&self.secret)
    }

    /// The secret Disconnect and CoA requests are signed with.
    pub fn das_secret(&self) -> &str {
        self.das_secret.as_deref().unwrap_or(&self.secret)
    }
}

/// Hides the secret: a `Config` may be logged with `{:?}`.
impl fmt::Debug for Radius {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Radius")
            .field("server", &self.server)
            .field("backup_server", &self.backup_server)
            .field("secret", &"***")
            .field("auth_port", &self.auth_port)
            .field("nas_id", &self.nas_id)
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .finish()
    }
}

/// The section, or `None` when it is switched off (`option enabled '0'`) or wrong (reported).
/// Not inlined into `RawConfig::validate`: inlined, it cost 14 KB there (docs/size.md).
#[inline(never)]
pub(super) fn validate_radius(raw: &Raw, portal: IpAddr, check: &mut Check) -> Option<Radius> {
    let enabled = check.get(raw, "enabled", parse_bool, true);
    let server = check.required(raw, "server", parse_server);
    let (wants_tls, tls) = validate_transport(raw, check);
    let secret = match wants_tls {
        true => Some(check.get(raw, "secret", parse_secret, RADSEC_SECRET.into())),
        false => check.required(raw, "secret", parse_secret),
    };
    let auth_port = if wants_tls { 2083 } else { 1812 };
    let nas_ip = match portal {
        IpAddr::V4(v4) if !v4.is_unspecified() => Some(v4),
        _ => None,
    };
    let mut radius = Radius {
        backup_server: check.optional(raw, "backup_server", parse_server),
        auth_port: check.get(raw, "auth_port", parse_port, auth_port),
        acct_port: check.get(raw, "acct_port", parse_port, 1813),
        nas_id: check.get(raw, "nas_id", parse_nas_id, "lango".into()),
        nas_ip: check.optional(raw, "nas_ip", parse_ipv4).or(nas_ip),
        ssid: check.optional(raw, "ssid", parse_text),
        auth: check.get(raw, "auth", parse_auth, RadiusAuth::Pap),
        timeout_secs: check.get(raw, "timeout", parse_timeout, 3),
        retries: check.get(raw, "retries", parse_retries, 2),
        accounting: check.get(raw, "accounting", parse_bool, true),
        acct_secret: check.optional(raw, "acct_secret", parse_secret),
        interim_secs: check.get(raw, "interim", parse_interim, 600),
        das_port: check.optional(raw, "das_port", parse_port),
        das_secret: check.optional(raw, "das_secret", parse_secret),
        das_clients: raw
            .list("das_client")
            .filter_map(|value| check.item(value, Cidr::parse))
            .collect(),
        server: server?,
        secret: secret?,
        tls,
    };
    if radius.das_clients.is_empty() {
        let servers = std::iter::once(&radius.server).chain(&radius.backup_server);
        radius.das_clients = servers.filter_map(|s| Cidr::parse(s).ok()).collect();
    }
    enabled.then_some(radius)
}

/// `option transport`: `udp` (the default) or `tls` (RadSec) with its three files, each
/// problem on its line; the files themselves are read when the connection is made (a wrong
/// one is logged, and the server shows as not answering). Whether TLS was asked for, and
/// its files when they are all there.
fn validate_transport(raw: &Raw, check: &mut Check) -> (bool, Option<RadSecFiles>) {
    let tls = check.get(raw, "transport", parse_transport, false);
    let line = raw.one("transport").map_or(raw.line, |v| v.line);
    if tls && !cfg!(feature = "radsec") {
        check.error(
            line,
            "this lango is built without RadSec (the x86_64, aarch64 and ARMv7 packages have \
             it; docs/size.md): use option transport 'udp'",
        );
        return (true, None);
    }
    // Accounting goes over the same connection, signed with the same secret.
    for name in ["acct_port", "acct_secret"] {
        if let (true, Some(value)) = (tls, raw.one(name)) {
            let message = format!(
                "option {name} is not used with option transport 'tls' (accounting goes over \
                 the same connection, on auth_port)"
            );
            check.error(value.line, message);
        }
    }
    let files = ["ca", "cert", "key"].map(|name| match (tls, raw.one(name)) {
        (true, None) => {
            let message = format!("option transport 'tls' needs option {name} (a PEM file)");
            check.error(line, message);
            None
        }
        (true, Some(value)) => check.item(value, parse_path),
        (false, Some(value)) => {
            check.error(
                value.line,
                format!("option {name} is for option transport 'tls'"),
            );
            None
        }
        (false, None) => None,
    });
    let [Some(ca), Some(cert), Some(key)] = files else {
        return (tls, None);
    };
    (tls, Some(RadSecFiles { ca, cert, key }))
}

fn parse_transport(text: &str) -> Result<bool, String> {
    match text {
        "udp" => Ok(false),
        "tls" => Ok(true),
        _ => Err(not(text, "udp or tls (RadSec)")),
    }
}

fn parse_server(text: &str) -> Result<String, String> {
    match text.parse::<IpAddr>() {
        Ok(_) => Ok(text.to_string()),
        Err(_) => parse_host(text).map_err(|_| not(text, "an IP address or host name")),
    }
}

/// 1 to 128 printable characters. The message never repeats the value.
fn parse_secret(text: &str) -> Result<String, String> {
    let ok = (1..=128).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| text.to_string())
        .ok_or_else(|| "the secret must be 1 to 128 printable characters without spaces".into())
}

fn parse_nas_id(text: &str) -> Result<String, String> {
    let ok = text.len() <= 64 && text.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| text.to_string())
        .ok_or_else(|| not(text, "a NAS identifier (up to 64 characters, no spaces)"))
}

fn parse_ipv4(text: &str) -> Result<Ipv4Addr, String> {
    text.parse()
        .map_err(|_| not(text, "an IPv4 address (like 10.0.0.1)"))
}

fn parse_auth(text: &str) -> Result<RadiusAuth, String> {
    match text {
        "pap" => Ok(RadiusAuth::Pap),
        "chap" => Ok(RadiusAuth::Chap),
        _ => Err(not(text, "pap or chap")),
    }
}

fn parse_timeout(text: &str) -> Result<u64, String> {
    let n = text.parse::<u64>().ok().filter(|n| (1..=8).contains(n));
    n.ok_or_else(|| not(text, "a number of seconds from 1 to 8"))
}

fn parse_interim(text: &str) -> Result<u32, String> {
    let n = text
        .parse::<u32>()
        .ok()
        .filter(|n| (60..=86_400).contains(n));
    n.ok_or_else(|| not(text, "a number of seconds from 60 to 86400"))
}

fn parse_retries(text: &str) -> Result<u8, String> {
    let n = text.parse::<u8>().ok().filter(|n| *n <= 5);
    n.ok_or_else(|| not(text, "a number of retries from 0 to 5"))
}
