//! HTTPS for the portal and its captive-portal API, when the owner configures a certificate
//! (`option tls_cert`, `option tls_key`). rustls terminates TLS here; each request is read under
//! the plain transport's limits (`wire`: head bytes and header count, body bytes; one deadline
//! for the handshake and the whole request, a write deadline), handed to the very same handler
//! as plain HTTP (as a rouille request carrying the real client address, so devices are
//! identified exactly as on port 80), and answered with `Connection: close`. A blocking thread
//! serves each admitted connection, and the gate (`gate.rs`) bounds them: at most
//! `MAX_CONNECTIONS` in all and `MAX_PER_SOURCE` from one address; when all are taken, the one
//! that has waited longest for its request is shut down to make room.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rouille::{Request, Response};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::web::gate::{Gate, Pass};
use crate::web::server::Limits;
use crate::web::wire::{self, Refusal, Reply, MAX_HEAD};

/// TLS connections served at once (one thread each); a phone opens one or two.
const MAX_CONNECTIONS: usize = 32;

/// TLS connections from one address.
const MAX_PER_SOURCE: usize = 4;

/// Reads a PEM certificate chain and private key into a server config.
pub(crate) fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate in the file", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let config =
        ServerConfig::builder_with_provider(Arc::new(crate::adapters::https::crypto_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| format!("certificate and key do not fit together: {e}"))?;
    Ok(Arc::new(config))
}

/// Serves `handler` over TLS on `addr`. Returns the bound address.
pub fn serve<F>(
    addr: SocketAddr,
    config: Arc<ServerConfig>,
    handler: F,
) -> Result<SocketAddr, String>
where
    F: Fn(&Request) -> Response + Send + Sync + 'static,
{
    let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let handler = Arc::new(handler);
    let limits = Arc::new(Limits::default());
    let gate = Gate::new(MAX_CONNECTIONS, MAX_PER_SOURCE);
    std::thread::Builder::new()
        .name(format!("lango-https-{}", bound.port()))
        .spawn(move || {
            let _exit = crate::web::server::ExitWhenEnded(bound);
            loop {
                let (stream, peer) = match listener.accept() {
                    Ok(accepted) => accepted,
                    Err(e) if crate::web::server::exhausted(&e) => {
                        gate.evict_oldest();
                        std::thread::sleep(crate::web::server::ACCEPT_BACKOFF);
                        continue;
                    }
                    Err(_) => continue,
                };
                let evict: crate::web::gate::Evict = match stream.try_clone() {
                    Ok(clone) => Box::new(move || {
                        let _ = clone.shutdown(std::net::Shutdown::Both);
                    }),
                    Err(_) => continue,
                };
                // Over the caps: closed at once (a TLS client cannot read a plain 503).
                let Some(pass) = gate.enter(peer.ip(), evict) else {
                    continue;
                };
                let (config, handler, limits) = (config.clone(), handler.clone(), limits.clone());
                let spawned = std::thread::Builder::new()
                    .name("lango-https-conn".into())
                    .spawn(move || {
                        if let Err(e) =
                            connection(stream, peer, &pass, config, &limits, handler.as_ref())
                        {
                            log::debug!("https: {e}");
                        }
                    });
                if spawned.is_err() {
                    log::warn!("https: cannot start a connection thread");
                }
            }
        })
        .map_err(|e| format!("cannot start HTTPS thread: {e}"))?;
    Ok(bound)
}

/// A socket whose reads and writes fail past a deadline (not only after a quiet spell).
struct Deadlined {
    tcp: TcpStream,
    deadline: Instant,
}

impl Deadlined {
    fn left(&self) -> std::io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        Ok(left)
    }
}

impl Read for Deadlined {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.tcp.set_read_timeout(Some(self.left()?))?;
        self.tcp.read(buf)
    }
}

impl Write for Deadlined {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tcp.set_write_timeout(Some(self.left()?))?;
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}

fn connection<F>(
    tcp: TcpStream,
    peer: SocketAddr,
    pass: &Pass,
    config: Arc<ServerConfig>,
    limits: &Limits,
    handler: &F,
) -> std::io::Result<()>
where
    F: Fn(&Request) -> Response,
{
    tcp.set_nodelay(true)?;
    // The first byte within the idle timeout, then the handshake and the request within the
    // request timeout.
    let deadline = Instant::now() + limits.idle_timeout.max(limits.request_timeout);
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, Deadlined { tcp, deadline });
    let (response, reply) = match read_request(&mut tls, peer, limits) {
        Ok((request, head)) => {
            pass.waiting(false);
            let reply = Reply {
                head_only: head.method.eq_ignore_ascii_case("HEAD"),
                close: true,
                http10: head.http10,
            };
            (handler(&request), reply)
        }
        Err(Ok(refusal)) => {
            let reply = Reply {
                head_only: false,
                close: true,
                http10: false,
            };
            (crate::web::http::with_headers(refusal.response()), reply)
        }
        Err(Err(e)) => return Err(e),
    };
    tls.sock.deadline = Instant::now() + limits.write_timeout;
    tls.write_all(&wire::encode(response, reply))?;
    tls.conn.send_close_notify();
    tls.flush()
}

/// Reads one request: a refusal to answer, or an I/O error (nothing to answer).
fn read_request<R: Read>(
    reader: &mut R,
    peer: SocketAddr,
    limits: &Limits,
) -> Result<(Request, wire::Head), Result<Refusal, std::io::Error>> {
    let mut buf = Vec::new();
    let head = loop {
        match wire::parse_head(&buf, limits.max_body) {
            Ok(Some(head)) => break head,
            Ok(None) => read_more(reader, &mut buf, MAX_HEAD).map_err(Err)?,
            Err(refusal) => return Err(Ok(refusal)),
        }
    };
    buf.drain(..head.len);
    let wire_max = wire::max_wire_body(head.body, limits.max_body);
    let body = loop {
        match wire::take_body(&buf, head.body, limits.max_body) {
            Ok(Some((body, _))) => break body,
            Ok(None) => read_more(reader, &mut buf, wire_max).map_err(Err)?,
            Err(refusal) => return Err(Ok(refusal)),
        }
    };
    let request = Request::fake_http_from(
        peer,
        head.method.clone(),
        head.url.clone(),
        head.headers.clone(),
        body,
    );
    Ok((request, head))
}

/// Reads more bytes into `buf`, which holds at most `max`.
fn read_more<R: Read>(reader: &mut R, buf: &mut Vec<u8>, max: usize) -> std::io::Result<()> {
    let start = buf.len();
    let want = max.saturating_sub(start).clamp(1, 4096);
    buf.resize(start + want, 0);
    let n = loop {
        match reader.read(&mut buf[start..]) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => break other,
        }
    };
    let n = n.unwrap_or(0);
    buf.truncate(start + n);
    if n == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}
