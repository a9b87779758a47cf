//! RadSec (RFC 6614): RADIUS over TLS on TCP, for a router that reaches its server across the
//! internet (`option transport 'tls'`, docs/radius.md). One connection per server, shared by
//! authentication, accounting and the Status-Server probes, which are its watchdog (RFC 6613
//! §2.6: a probe that goes unanswered closes the connection, and the next exchange makes a new
//! one). The TLS is rustls with lango's provider (`https::crypto_provider`: ring, no Ed25519),
//! mutual: lango's certificate and key, and the CA the server's certificate must chain to,
//! for the name or address in `option server`.
//!
//! Framing: a packet is its own length (the RADIUS Length field, 20 to 4096), read as a
//! 4-byte header then the rest. There are no retransmissions over TCP (RFC 6613 §2.5): a
//! request is sent once and waited for; a connection whose answer did not come is closed,
//! since a late answer would be out of step. A reused connection the server had closed (an
//! idle timeout) costs one new connection and one more send. A connection that cannot be
//! made is tried again after a back-off (1 s, doubled to 60 s); in between, exchanges fail at
//! once. The packets are `core::radius`'s, checked by the caller. Feature `radsec` only.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::core::config::RadSecFiles;
use crate::core::locks;
use crate::core::radius::{HEADER, MAX_LEN};

/// The first wait after a connection could not be made, and the longest.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

type Stream = StreamOwned<ClientConnection, TcpStream>;

/// The TLS connections to the servers (by their index in the config: primary, backup).
pub struct RadSec {
    /// The client configuration, or why it could not be made (a file missing or wrong).
    tls: Result<Arc<ClientConfig>, String>,
    port: u16,
    slots: Vec<Mutex<Slot>>,
}

/// One server's connection and its back-off.
#[derive(Default)]
struct Slot {
    stream: Option<Stream>,
    /// No new connection before this, after one failed; and what the failure was (`None`:
    /// the server could not be reached, `Some`: it was, and TLS failed).
    retry: Option<(Instant, Option<String>)>,
    backoff: Duration,
}

/// How one send and wait ended.
enum Ended<T> {
    Answered(T),
    /// Nothing accepted before the deadline.
    Silent,
    /// The server closed the connection (or reset it) before answering.
    Closed,
    /// TLS failed on the connection (an alert: the server refused lango's certificate).
    Tls(String),
}

impl RadSec {
    /// Connections to `servers` servers on `port`, with the certificates of `files`.
    pub fn new(files: &RadSecFiles, port: u16, servers: usize) -> RadSec {
        let tls = client_config(files);
        if let Err(e) = &tls {
            log::error!("RadSec: {e}");
        }
        RadSec {
            tls,
            port,
            slots: (0..servers).map(|_| Mutex::default()).collect(),
        }
    }

    /// Sends `packet` to server `index` (named `host`) and waits up to `wait` for a packet
    /// that `check` accepts. `Ok(None)`: no answer (the server unreachable, silent or gone);
    /// `Err`: TLS refused, with why (for the owner: a certificate from another CA, lango's
    /// own certificate refused, a file that cannot be read).
    pub fn exchange<T>(
        &self,
        index: usize,
        host: &str,
        packet: &[u8],
        wait: Duration,
        mut check: impl FnMut(&[u8]) -> Option<T>,
    ) -> Result<Option<T>, String> {
        let tls = self.tls.as_ref().map_err(Clone::clone)?;
        let Some(slot) = self.slots.get(index) else {
            return Ok(None);
        };
        let mut slot = locks::lock(slot);
        let deadline = Instant::now() + wait;
        for _ in 0..2 {
            let fresh = slot.stream.is_none();
            if fresh {
                if let Some((not_before, why)) = &slot.retry {
                    if Instant::now() < *not_before {
                        return why.clone().map_or(Ok(None), Err);
                    }
                }
                match connect(tls, host, self.port, wait) {
                    Ok(stream) => {
                        log::info!("RadSec {host}:{}: connected", self.port);
                        slot.stream = Some(stream);
                        slot.retry = None;
                        slot.backoff = BACKOFF_FIRST;
                    }
                    Err(why) => {
                        let why = why.map(|why| format!("{host}:{}: {why}", self.port));
                        let backoff = slot.backoff.max(BACKOFF_FIRST);
                        slot.backoff = (backoff * 2).min(BACKOFF_MAX);
                        match &why {
                            Some(why) => log::warn!("RadSec {why}"),
                            None => log::warn!("RadSec {host}:{}: cannot connect", self.port),
                        }
                        slot.retry = Some((Instant::now() + backoff, why.clone()));
                        return why.map_or(Ok(None), Err);
                    }
                }
            }
            let Some(stream) = slot.stream.as_mut() else {
                return Ok(None);
            };
            match send_and_wait(stream, packet, deadline, &mut check) {
                Ended::Answered(answer) => return Ok(Some(answer)),
                Ended::Closed if !fresh => {
                    log::info!("RadSec {host}:{}: closed by the server", self.port);
                    slot.stream = None;
                }
                ended => {
                    slot.stream = None;
                    return match ended {
                        Ended::Tls(why) => {
                            let why = format!("{host}:{}: {why}", self.port);
                            log::warn!("RadSec {why}");
                            Err(why)
                        }
                        _ => Ok(None),
                    };
                }
            }
        }
        Ok(None)
    }
}

/// A TCP connection to `host:port` and its TLS handshake, each within `wait`. `Err(None)`:
/// the server could not be reached; `Err(Some)`: TLS failed, with why.
fn connect(
    tls: &Arc<ClientConfig>,
    host: &str,
    port: u16,
    wait: Duration,
) -> Result<Stream, Option<String>> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| Some(format!("'{host}' is not a name TLS can check")))?;
    let address = (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next());
    let tcp = TcpStream::connect_timeout(&address.ok_or(None)?, wait).map_err(|_| None)?;
    let timeouts = tcp
        .set_read_timeout(Some(wait))
        .and(tcp.set_write_timeout(Some(wait)));
    timeouts.map_err(|_| None)?;
    let _ = tcp.set_nodelay(true);
    let conn = ClientConnection::new(tls.clone(), name).map_err(|e| Some(e.to_string()))?;
    let mut stream = StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        if let Err(e) = stream.conn.complete_io(&mut stream.sock) {
            return Err(tls_failure(&e));
        }
    }
    Ok(stream)
}

/// Writes `packet` and reads packets until `check` accepts one or `deadline` passes.
fn send_and_wait<T>(
    stream: &mut Stream,
    packet: &[u8],
    deadline: Instant,
    check: &mut impl FnMut(&[u8]) -> Option<T>,
) -> Ended<T> {
    if let Err(e) = stream.write_all(packet).and_then(|()| stream.flush()) {
        return ended_by(&e);
    }
    let mut buf = [0u8; MAX_LEN];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.sock.set_read_timeout(Some(left)).is_err() {
            return Ended::Silent;
        }
        let Some(header) = buf.get_mut(..4) else {
            return Ended::Silent;
        };
        if let Err(e) = stream.read_exact(header) {
            return ended_by(&e);
        }
        let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
        if !(HEADER..=MAX_LEN).contains(&len) {
            // Out of step: the rest of the stream cannot be framed.
            log::warn!("RadSec: a packet of length {len} (20-4096); closing");
            return Ended::Silent;
        }
        let Some(rest) = buf.get_mut(4..len) else {
            return Ended::Silent;
        };
        if let Err(e) = stream.read_exact(rest) {
            return ended_by(&e);
        }
        if let Some(answer) = buf.get(..len).and_then(&mut *check) {
            return Ended::Answered(answer);
        }
    }
}

/// What an I/O error on an open connection means.
fn ended_by<T>(e: &io::Error) -> Ended<T> {
    if let Some(why) = tls_error(e).and_then(tls_failure_text) {
        return Ended::Tls(why);
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => Ended::Closed,
        _ => Ended::Silent,
    }
}

fn tls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// A handshake's failure: why, when TLS said (`Some`), or `None` when the connection just
/// went (the server is not there or not listening for TLS).
fn tls_failure(e: &io::Error) -> Option<String> {
    match tls_error(e) {
        Some(tls) => tls_failure_text(tls).or_else(|| Some(format!("TLS: {tls}"))),
        None => None,
    }
}

/// The owner's words for a TLS failure.
fn tls_failure_text(e: &rustls::Error) -> Option<String> {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    let text = match e {
        E::InvalidCertificate(C::UnknownIssuer) => {
            "TLS: the server's certificate is not from the CA in option ca (unknown issuer); \
             refused"
        }
        E::InvalidCertificate(C::Expired | C::ExpiredContext { .. })
        | E::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "TLS: the server's certificate is outside its validity period (is the router's \
             clock right?)"
        }
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            "TLS: the server's certificate is not for the name or address in option server"
        }
        E::AlertReceived(
            A::BadCertificate | A::UnknownCA | A::CertificateRequired | A::AccessDenied,
        ) => "TLS: the server refused lango's certificate (option cert)",
        E::InvalidCertificate(_) | E::AlertReceived(_) | E::InvalidMessage(_) => {
            return Some(format!("TLS: {e}"))
        }
        _ => return None,
    };
    Some(text.to_string())
}

/// The client configuration: the CA of `option ca`, lango's certificate and key.
fn client_config(files: &RadSecFiles) -> Result<Arc<ClientConfig>, String> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let ca = read(&files.ca)?;
    let mut roots = RootCertStore::empty();
    let cas = CertificateDer::pem_slice_iter(&ca).filter_map(Result::ok);
    if roots.add_parsable_certificates(cas).0 == 0 {
        return Err(format!("{}: no usable CA certificate", files.ca.display()));
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(&files.cert)?)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(format!(
            "{}: no certificate in the file",
            files.cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&read(&files.key)?)
        .map_err(|e| format!("{}: no private key: {e}", files.key.display()))?;
    let provider = Arc::new(crate::adapters::https::crypto_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| format!("option cert and option key do not fit together: {e}"))?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use rustls::pki_types::PrivatePkcs8KeyDer;
    use std::net::TcpListener;

    use crate::adapters::testing::pem;

    /// A TLS server on 127.0.0.1 that wants a client certificate from its CA and, per
    /// connection, answers the first packet with each of `answers` (raw bytes, written in
    /// two halves), then closes. The files lango needs, in a temp directory.
    fn server(answers: Vec<Vec<u8>>) -> (u16, RadSecFiles) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let issue = |names: Vec<String>| {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(names).unwrap().signed_by(&key, &ca);
            (cert.unwrap().der().clone(), key.serialize_der())
        };
        let (server_cert, server_key) = issue(vec!["127.0.0.1".into()]);
        let (client_cert, client_key) = issue(vec!["router".into()]);
        let dir = std::env::temp_dir().join(format!(
            "lango-radsec-{}",
            crate::core::token::random_token().unwrap()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let files = RadSecFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&files.ca, pem("CERTIFICATE", ca.der())).unwrap();
        std::fs::write(&files.cert, pem("CERTIFICATE", &client_cert)).unwrap();
        std::fs::write(&files.key, pem("PRIVATE KEY", &client_key)).unwrap();
        let provider = Arc::new(crate::adapters::https::crypto_provider());
        let mut roots = RootCertStore::empty();
        roots.add(ca.der().clone()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots.into(),
            provider.clone(),
        )
        .build()
        .unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key));
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![server_cert], key)
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for answer in answers {
                let Ok((tcp, _)) = listener.accept() else {
                    return;
                };
                let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                let mut tls = StreamOwned::new(conn, tcp);
                let mut head = [0u8; 20];
                if tls.read_exact(&mut head).is_err() {
                    continue;
                }
                let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
                let mut rest = vec![0u8; len - 20];
                let _ = tls.read_exact(&mut rest);
                let half = answer.len() / 2;
                let _ = tls.write_all(&answer[..half]).and_then(|()| tls.flush());
                std::thread::sleep(Duration::from_millis(20));
                let _ = tls.write_all(&answer[half..]).and_then(|()| tls.flush());
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        (port, files)
    }

    fn packet(code: u8, id: u8) -> Vec<u8> {
        let mut out = vec![code, id, 0, 20];
        out.extend_from_slice(&[7; 16]);
        out
    }

    /// A reply split across TLS records is framed by its Length; a packet that `check`
    /// refuses is skipped; a length out of bounds (here 5) ends the connection without a
    /// panic, and the next exchange makes a new one.
    #[test]
    fn replies_are_framed_by_their_length_and_junk_closes_the_connection() {
        let mut two = packet(5, 9);
        two.extend(packet(2, 1));
        let junk = vec![2, 1, 0, 5, 0, 0, 0, 0];
        let (port, files) = server(vec![two, junk, packet(2, 1)]);
        let radsec = RadSec::new(&files, port, 1);
        let wait = Duration::from_secs(2);
        let accept = |bytes: &[u8]| (bytes.first() == Some(&2)).then_some(bytes.len());
        let request = packet(1, 1);
        assert_eq!(
            radsec.exchange(0, "127.0.0.1", &request, wait, accept),
            Ok(Some(20))
        );
        assert_eq!(
            radsec.exchange(0, "127.0.0.1", &request, wait, accept),
            Ok(None)
        );
        assert_eq!(
            radsec.exchange(0, "127.0.0.1", &request, wait, accept),
            Ok(Some(20))
        );
        // A server index the config does not have.
        assert_eq!(
            radsec.exchange(3, "127.0.0.1", &request, wait, accept),
            Ok(None)
        );
    }

    #[test]
    fn unreadable_files_are_said_at_each_exchange() {
        let files = RadSecFiles {
            ca: "/nonexistent/ca.pem".into(),
            cert: "/nonexistent/cert.pem".into(),
            key: "/nonexistent/key.pem".into(),
        };
        let radsec = RadSec::new(&files, 2083, 1);
        let answer = radsec.exchange(0, "127.0.0.1", &[], Duration::from_secs(1), |_| Some(()));
        assert!(answer
            .unwrap_err()
            .contains("cannot read /nonexistent/ca.pem"));
    }
}
