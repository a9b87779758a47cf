//! The RADIUS server, as a NAS asks it: `RadiusClient` (one Access-Request, its checked
//! reply; a Status-Server probe), `UdpRadius` (RFC 2865 over UDP: a connected socket per
//! exchange (`exchange`), the server that answered last first, then the others (`in_order`),
//! each tried `1 + retries` times with the wait doubled each time; or over RadSec's TLS
//! connections, `Transport`, feature `radsec`) and `FakeRadius` for tests.
//! The packets are `core::radius`'s; nothing here reads a reply that `core::radius` has not
//! verified. Feature `radius` only.

use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::core::config::{Radius, RadiusAuth};
use crate::core::locks;
use crate::core::model::Mac;
use crate::core::radius::acct::check_signed;
use crate::core::radius::{self, Auth, Nonce, PacketError, Reply, Request};
use crate::core::token;

/// The longest one server is waited for, retries included: a guest waits on the portal for
/// the answer, and with the backup server the whole exchange stays under 16 s.
pub const PER_SERVER: Duration = Duration::from_secs(8);

/// Who asks to be let in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login {
    /// User-Name: a voucher's code, or an account's user name.
    pub user: String,
    /// The password: the code again for a voucher.
    pub password: String,
    pub mac: Mac,
    pub ip: Option<IpAddr>,
}

/// Why a login was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RadiusError {
    /// Access-Reject (or a Challenge, which a portal cannot answer), with its Reply-Message.
    Rejected(Option<String>),
    /// No server answered (none resolved, refused, or silent through every retry).
    Unreachable,
    /// Only replies that failed their checks came back (a wrong shared secret, a forgery).
    BadReply(PacketError),
    /// The request could not be built (a value too long) or no random octets were available.
    Request(String),
    /// RadSec: the TLS connection was refused, with why (a certificate from another CA,
    /// lango's own refused, a file that cannot be read). Feature `radsec`.
    Tls(String),
}

impl fmt::Display for RadiusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RadiusError::Rejected(Some(message)) => write!(f, "rejected: {message}"),
            RadiusError::Rejected(None) => f.write_str("rejected"),
            RadiusError::Unreachable => f.write_str("no RADIUS server answered"),
            RadiusError::BadReply(e) => write!(f, "RADIUS reply refused: {e}"),
            RadiusError::Request(e) => write!(f, "RADIUS request not sent: {e}"),
            RadiusError::Tls(e) => write!(f, "RadSec: {e}"),
        }
    }
}

/// The seam the app asks through.
pub trait RadiusClient: Send + Sync {
    /// Blocks for at most the configured timeouts. `Ok` only for a verified Access-Accept.
    fn authenticate(&self, login: &Login) -> Result<Reply, RadiusError>;

    /// The servers, in the order they are asked.
    fn servers(&self) -> Vec<String> {
        Vec::new()
    }

    /// One Status-Server probe (RFC 5997) of server `index`: whether a verified answer came
    /// within the configured timeouts.
    fn probe(&self, index: usize) -> bool {
        let _ = index;
        false
    }
}

/// What the authentication and the accounting clients share: the servers in the order they
/// are asked, the port and secret, the NAS's own attributes, the timeouts, and the server that
/// answered last.
pub(crate) struct Link {
    pub(crate) servers: Vec<String>,
    pub(crate) port: u16,
    pub(crate) secret: Vec<u8>,
    pub(crate) nas_id: String,
    pub(crate) nas_ip: Option<[u8; 4]>,
    /// Called-Station-Id: the router's MAC (`AA-BB-CC-DD-EE-FF`) and `:SSID` when known.
    pub(crate) called_station: Option<String>,
    pub(crate) timeout: Duration,
    pub(crate) retries: u8,
    /// The index in `servers` of the one that answered last (`in_order`).
    pub(crate) preferred: AtomicUsize,
    /// UDP is all a build without `radsec` has.
    #[cfg_attr(not(feature = "radsec"), allow(dead_code))]
    pub(crate) transport: Transport,
}

/// How packets reach the servers: UDP, or RadSec's TLS connections (one per server, shared by
/// the authentication and accounting clients of one config).
#[derive(Clone)]
pub enum Transport {
    Udp,
    #[cfg(feature = "radsec")]
    Tls(std::sync::Arc<super::radsec::RadSec>),
}

impl Transport {
    /// What `config` asks for (`option transport`).
    pub fn for_config(config: &Radius) -> Transport {
        #[cfg(feature = "radsec")]
        if let Some(files) = &config.tls {
            let servers = 1 + usize::from(config.backup_server.is_some());
            let radsec = super::radsec::RadSec::new(files, config.auth_port, servers);
            return Transport::Tls(std::sync::Arc::new(radsec));
        }
        let _ = config;
        Transport::Udp
    }
}

impl Link {
    /// For `config` on `port` with `secret`; `router` is the guest network device's MAC.
    pub(crate) fn new(
        config: &Radius,
        router: Option<Mac>,
        port: u16,
        secret: &str,
        transport: Transport,
    ) -> Link {
        Link {
            servers: std::iter::once(config.server.clone())
                .chain(config.backup_server.clone())
                .collect(),
            port,
            secret: secret.as_bytes().to_vec(),
            nas_id: config.nas_id.clone(),
            nas_ip: config.nas_ip.map(|ip| ip.octets()),
            called_station: called_station(config, router),
            timeout: Duration::from_secs(config.timeout_secs),
            retries: config.retries,
            preferred: AtomicUsize::new(0),
            transport,
        }
    }

    /// One exchange with server `index` (`server`, as configured): over UDP with its
    /// retransmissions (`exchange`), or sent once over its TLS connection and waited for as
    /// long as the retransmissions would have been, within `PER_SERVER`. `Ok(None)`: nothing
    /// accepted; `Err`: RadSec's TLS refused.
    pub(crate) fn exchange<T>(
        &self,
        index: usize,
        server: &str,
        packet: &[u8],
        check: impl FnMut(&[u8]) -> Option<T>,
    ) -> Result<Option<T>, RadiusError> {
        #[cfg(feature = "radsec")]
        if let Transport::Tls(radsec) = &self.transport {
            let wait = (self.timeout * (1 + u32::from(self.retries))).min(PER_SERVER);
            let answer = radsec.exchange(index, server, packet, wait, check);
            return answer.map_err(RadiusError::Tls);
        }
        let _ = index;
        let address = (server, self.port).to_socket_addrs();
        let Some(address) = address.ok().and_then(|mut a| a.next()) else {
            log::warn!("RADIUS server {server}: cannot resolve");
            return Ok(None);
        };
        Ok(exchange(address, packet, self.timeout, self.retries, check))
    }
}

/// The real client, over UDP or (feature `radsec`) TLS.
pub struct UdpRadius {
    link: Link,
    auth: Auth,
}

impl UdpRadius {
    /// A client for `config`; `router` is the guest network device's MAC, when known.
    pub fn new(config: &Radius, router: Option<Mac>) -> UdpRadius {
        UdpRadius::with_transport(config, router, Transport::for_config(config))
    }

    /// The same over `transport` (the accounting client's too: one TLS connection per server).
    pub fn with_transport(config: &Radius, router: Option<Mac>, transport: Transport) -> UdpRadius {
        UdpRadius {
            link: Link::new(config, router, config.auth_port, &config.secret, transport),
            auth: match config.auth {
                RadiusAuth::Pap => Auth::Pap,
                RadiusAuth::Chap => Auth::Chap,
            },
        }
    }

    /// Server `index`: `Ok(Some)` a verified reply, `Ok(None)` silence or refusal, `Err` a
    /// reply that failed its checks or TLS refused (kept to report if no server does better).
    fn ask(&self, index: usize, server: &str, login: &Login) -> Result<Option<Reply>, RadiusError> {
        let mut random = [0u8; 34];
        if token::fill(&mut random).is_err() {
            return Ok(None);
        }
        let mut nonce = Nonce {
            authenticator: [0; 16],
            challenge: [0; 16],
            chap_id: random[32],
        };
        nonce.authenticator.copy_from_slice(&random[..16]);
        nonce.challenge.copy_from_slice(&random[16..32]);
        let id = random[33];
        let calling = ietf(login.mac);
        let framed_ip = match login.ip {
            Some(IpAddr::V4(v4)) => Some(v4.octets()),
            _ => None,
        };
        let request = Request {
            user: &login.user,
            password: &login.password,
            auth: self.auth,
            nas_id: Some(&self.link.nas_id),
            nas_ip: self.link.nas_ip,
            called_station: self.link.called_station.as_deref(),
            calling_station: Some(&calling),
            framed_ip,
        };
        let packet = radius::access_request(id, &nonce, &request, &self.link.secret)
            .map_err(|e| RadiusError::Request(e.to_string()))?;
        // A reply that fails a check is dropped (RFC 2865 §3) and the wait goes on.
        let mut bad = None;
        let reply = self.link.exchange(index, server, &packet, |bytes| {
            let checked = radius::check_reply(bytes, id, &nonce.authenticator, &self.link.secret);
            match checked.and_then(|packet| Reply::of(&packet)) {
                Ok(reply) => Some(reply),
                Err(e) => {
                    log::warn!("RADIUS {server}: reply dropped: {e}");
                    bad = Some(e);
                    None
                }
            }
        })?;
        match (reply, bad) {
            (Some(reply), _) => Ok(Some(reply)),
            (None, Some(e)) => Err(RadiusError::BadReply(e)),
            (None, None) => Ok(None),
        }
    }
}

impl RadiusClient for UdpRadius {
    fn servers(&self) -> Vec<String> {
        self.link.servers.clone()
    }

    fn probe(&self, index: usize) -> bool {
        let Some(server) = self.link.servers.get(index) else {
            return false;
        };
        let mut random = [0u8; 17];
        if token::fill(&mut random).is_err() {
            return false;
        }
        let (id, mut authenticator) = (random[16], [0u8; 16]);
        authenticator.copy_from_slice(&random[..16]);
        let packet = radius::status_server(id, &authenticator, &self.link.secret);
        let code = radius::ACCESS_ACCEPT;
        let check = |bytes: &[u8]| check_signed(bytes, id, &authenticator, &self.link.secret, code);
        let answered = self
            .link
            .exchange(index, server, &packet, |b| check(b).ok());
        matches!(answered, Ok(Some(())))
    }

    fn authenticate(&self, login: &Login) -> Result<Reply, RadiusError> {
        let mut bad = None;
        for (index, server) in in_order(&self.link.servers, &self.link.preferred) {
            let answer = self.ask(index, server, login);
            if let Ok(Some(_)) = answer {
                self.link.preferred.store(index, Ordering::Relaxed);
            }
            match answer {
                Ok(Some(reply)) if reply.accept => return Ok(reply),
                Ok(Some(reply)) => return Err(RadiusError::Rejected(reply.message)),
                Ok(None) => log::warn!("RADIUS server {server}: no answer"),
                Err(e @ RadiusError::Request(_)) => return Err(e),
                Err(e) => bad = Some(e),
            }
        }
        Err(bad.unwrap_or(RadiusError::Unreachable))
    }
}

/// The servers with their index, the one that answered last first, then the others in their
/// configured order: a primary that went silent costs its timeouts once, not on every login.
pub(crate) fn in_order<'a>(
    servers: &'a [String],
    preferred: &AtomicUsize,
) -> impl Iterator<Item = (usize, &'a String)> {
    let first = preferred
        .load(Ordering::Relaxed)
        .min(servers.len().saturating_sub(1));
    let rest = servers.iter().enumerate().filter(move |(i, _)| *i != first);
    servers
        .get(first)
        .map(|s| (first, s))
        .into_iter()
        .chain(rest)
}

/// One exchange with `server` over a connected UDP socket of its own: `packet` sent
/// `1 + retries` times (a retransmission is the same packet), the wait doubled each time,
/// within `PER_SERVER` in all; each datagram received goes to `check` until it accepts one.
/// `None`: silence, nobody listening (ICMP port unreachable: no point retrying), or nothing
/// accepted.
pub(crate) fn exchange<T>(
    server: SocketAddr,
    packet: &[u8],
    timeout: Duration,
    retries: u8,
    mut check: impl FnMut(&[u8]) -> Option<T>,
) -> Option<T> {
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).ok()?;
    socket.connect(server).ok()?;
    let mut buf = [0u8; radius::MAX_LEN];
    let budget = Instant::now() + PER_SERVER;
    for attempt in 0..=u32::from(retries) {
        if Instant::now() >= budget || socket.send(packet).is_err() {
            break;
        }
        let deadline = (Instant::now() + timeout * (1 << attempt.min(4))).min(budget);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || socket.set_read_timeout(Some(left)).is_err() {
                break;
            }
            let n = match socket.recv(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return None,
                Err(_) => break,
            };
            if let Some(answer) = buf.get(..n).and_then(&mut check) {
                return Some(answer);
            }
        }
    }
    None
}

pub use crate::core::radius::acct::ietf;

/// Called-Station-Id: the router's MAC (`AA-BB-CC-DD-EE-FF`) and `:SSID` when known.
pub fn called_station(config: &Radius, router: Option<Mac>) -> Option<String> {
    match (router, &config.ssid) {
        (Some(mac), Some(ssid)) => Some(format!("{}:{ssid}", ietf(mac))),
        (Some(mac), None) => Some(ietf(mac)),
        (None, ssid) => ssid.clone(),
    }
}

/// The MAC of a network device (`/sys/class/net/DEVICE/address`), for Called-Station-Id.
pub fn device_mac(device: &str) -> Option<Mac> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{device}/address")).ok()?;
    text.trim().parse().ok()
}

/// Answers from a queue, and records who asked.
#[derive(Default)]
pub struct FakeRadius {
    answers: Mutex<VecDeque<Result<Reply, RadiusError>>>,
    pub asked: Mutex<Vec<Login>>,
}

impl FakeRadius {
    pub fn answer(&self, answer: Result<Reply, RadiusError>) {
        locks::lock(&self.answers).push_back(answer);
    }
}

impl RadiusClient for FakeRadius {
    fn authenticate(&self, login: &Login) -> Result<Reply, RadiusError> {
        locks::lock(&self.asked).push(login.clone());
        let next = locks::lock(&self.answers).pop_front();
        next.unwrap_or(Err(RadiusError::Unreachable))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::radius::{attr, hmac_md5, Packet, ACCESS_ACCEPT};
    use md5::{Digest, Md5};

    const SECRET: &str = "s3cret";

    /// A server on 127.0.0.1 that ignores the first `ignore` requests and accepts the next
    /// with Session-Timeout 60: the reply signed as FreeRADIUS signs it.
    fn server(ignore: usize) -> u16 {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            for n_seen in 0.. {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    return;
                };
                if n_seen < ignore {
                    continue;
                }
                let request = Packet::decode(&buf[..n]).unwrap();
                let mut out = vec![ACCESS_ACCEPT, request.id, 0, 0];
                out.extend_from_slice(&request.authenticator);
                out.extend_from_slice(&[attr::SESSION_TIMEOUT, 6, 0, 0, 0, 60]);
                out.extend_from_slice(&[attr::MESSAGE_AUTHENTICATOR, 18]);
                out.extend_from_slice(&[0; 16]);
                let len = out.len();
                out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                let mac = hmac_md5(SECRET.as_bytes(), &out);
                out[len - 16..].copy_from_slice(&mac);
                let mut md5 = Md5::new();
                md5.update(&out);
                md5.update(SECRET);
                out[4..20].copy_from_slice(&md5.finalize());
                socket.send_to(&out, from).unwrap();
            }
        });
        port
    }

    fn client(server: &str, backup: Option<&str>, port: u16, retries: u8) -> UdpRadius {
        let config = Radius {
            server: server.into(),
            backup_server: backup.map(str::to_string),
            secret: SECRET.into(),
            auth_port: port,
            acct_port: 1813,
            nas_id: "test".into(),
            nas_ip: None,
            ssid: Some("Cafe".into()),
            auth: RadiusAuth::Pap,
            timeout_secs: 1,
            retries,
            accounting: true,
            acct_secret: None,
            interim_secs: 600,
            das_port: None,
            das_secret: None,
            das_clients: Vec::new(),
            tls: None,
        };
        UdpRadius::new(&config, Some(Mac([2, 0, 0, 0, 0, 1])))
    }

    fn login() -> Login {
        Login {
            user: "CODE234567".into(),
            password: "CODE234567".into(),
            mac: Mac([0xaa, 0xbb, 0xcc, 0, 0, 1]),
            ip: Some([192, 168, 1, 20].into()),
        }
    }

    #[test]
    fn a_silent_first_send_is_retried_with_the_same_packet() {
        let port = server(1);
        let reply = client("127.0.0.1", None, port, 1).authenticate(&login());
        assert_eq!(reply.map(|r| r.session_timeout), Ok(Some(60)));
        // Without a retry, the silence is all there is.
        let port = server(1);
        let none = client("127.0.0.1", None, port, 0).authenticate(&login());
        assert_eq!(none, Err(RadiusError::Unreachable));
    }

    /// A primary that went silent (a socket that never answers, on 127.0.0.2) costs its
    /// timeout at the first login only: the next one asks the backup first.
    #[test]
    fn after_a_silent_primary_the_backup_is_asked_first() {
        let port = server(0);
        let silent = UdpSocket::bind(("127.0.0.2", port)).unwrap();
        silent.set_nonblocking(true).unwrap();
        let radius = client("127.0.0.2", Some("127.0.0.1"), port, 0);
        for _ in 0..3 {
            assert_eq!(radius.authenticate(&login()).map(|r| r.accept), Ok(true));
        }
        let mut buf = [0u8; 4096];
        let mut asked = 0;
        while silent.recv(&mut buf).is_ok() {
            asked += 1;
        }
        assert_eq!(asked, 1);
    }

    #[test]
    fn the_backup_answers_when_the_primary_refuses() {
        // Nothing listens on 127.0.0.2 (loopback too): the kernel answers port unreachable.
        let port = server(0);
        let radius = client("127.0.0.2", Some("127.0.0.1"), port, 2);
        let started = Instant::now();
        assert_eq!(radius.authenticate(&login()).map(|r| r.accept), Ok(true));
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            radius.link.called_station.as_deref(),
            Some("02-00-00-00-00-01:Cafe")
        );
        assert_eq!(ietf(login().mac), "AA-BB-CC-00-00-01");
    }
}
