//! HTTPS for the portal and its captive-portal API, when the owner configures a certificate
//! (`option tls_cert`, `option tls_key`). rustls terminates TLS here; each request is read with
//! the same bounded reader as the Daraja client (`https::read_message`), handed to the very same
//! handler as plain HTTP (as a rouille request carrying the real client address, so devices are
//! identified exactly as on port 80), and answered with `Connection: close`. Concurrency is
//! bounded: past `MAX_CONNECTIONS` a new connection is closed at once.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rouille::{Request, Response};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::adapters::https::{read_message, Body};

/// TLS connections served at once; a phone opens one or two.
const MAX_CONNECTIONS: usize = 16;

/// A slow or silent client is dropped after this long.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

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
    let busy = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name(format!("lango-https-{}", bound.port()))
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if busy.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                    busy.fetch_sub(1, Ordering::SeqCst);
                    continue; // dropped: closed
                }
                let (config, handler, busy) = (config.clone(), handler.clone(), busy.clone());
                let spawned = std::thread::Builder::new()
                    .name("lango-https-conn".into())
                    .spawn(move || {
                        if let Err(e) = connection(stream, config, handler.as_ref()) {
                            log::debug!("https: {e}");
                        }
                        busy.fetch_sub(1, Ordering::SeqCst);
                    });
                if spawned.is_err() {
                    log::warn!("https: cannot start a connection thread");
                }
            }
        })
        .map_err(|e| format!("cannot start HTTPS thread: {e}"))?;
    Ok(bound)
}

fn connection<F>(tcp: TcpStream, config: Arc<ServerConfig>, handler: &F) -> std::io::Result<()>
where
    F: Fn(&Request) -> Response,
{
    tcp.set_read_timeout(Some(IO_TIMEOUT))?;
    tcp.set_write_timeout(Some(IO_TIMEOUT))?;
    let peer = tcp.peer_addr()?;
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let message = read_message(&mut tls, Body::Empty, crate::web::http::MAX_BODY as usize)?;
    let mut parts = message.start_line.split_whitespace();
    let (Some(method), Some(url)) = (parts.next(), parts.next()) else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "bad request line",
        ));
    };
    let request = Request::fake_http_from(
        peer,
        method,
        url,
        message.headers.clone(),
        message.body.clone(),
    );
    let response = handler(&request);
    write(&mut tls, response)?;
    tls.conn.send_close_notify();
    tls.flush()
}

fn write<W: Write>(out: &mut W, response: Response) -> std::io::Result<()> {
    let status = response.status_code;
    let headers: Vec<(String, String)> = response
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (mut reader, _) = response.data.into_reader_and_size();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut body)?;
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("content-length"))
    {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    out.write_all(head.as_bytes())?;
    out.write_all(&body)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        302 => "Found",
        303 => "See Other",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
