//! A small HTTP/1.1 client over TCP or TLS (rustls with the ring provider), just enough for
//! Daraja: one request per connection (`Connection: close`), a deadline on the whole exchange,
//! bounded heads and bodies, Content-Length, chunked or read-to-close bodies. Never follows a
//! redirect and never retries: callers decide, because an unanswered payment request must not be
//! sent twice. Errors say whether the request can have reached the server (`NoAnswer`) or
//! certainly did not (`NotSent`).
//!
//! Also holds the HTTP/1.1 message reader the Daraja simulator's server shares, and the TLS
//! configuration: trusted roots come from a PEM bundle (the router's `ca-bundle`) or, in tests,
//! from a CA generated at run time. Why not minreq: ARCHITECTURE.md "Daraja over rustls".

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, SignatureScheme, StreamOwned};

use crate::core::http::{header, Message, Url};

/// Largest response head (status line and headers) accepted.
const MAX_HEAD: usize = 16 * 1024;

/// Largest body accepted. Daraja's answers are a few hundred bytes.
pub(crate) const MAX_BODY: usize = 256 * 1024;

/// Where the router's CA bundle lives on OpenWrt (package `ca-bundle`).
pub(crate) const DEFAULT_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Why an exchange failed, split by what the caller may do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// The request certainly did not reach the server (bad URL, DNS, connect, TLS handshake,
    /// writing the request): safe to send again.
    NotSent(String),
    /// The request was sent but no complete answer came back (timeout, reset, garbled reply):
    /// the server may have acted on it.
    NoAnswer(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::NotSent(m) => write!(f, "{m}"),
            HttpError::NoAnswer(m) => write!(f, "{m} (the request was sent; no answer)"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// A blocking client. Cheap to clone (the TLS configuration is shared).
#[derive(Clone)]
pub struct Client {
    /// `None`: plain `http://` only (the demo's loopback simulator, callback delivery).
    tls: Option<Arc<ClientConfig>>,
    /// The whole exchange (resolve, connect, handshake, request, answer) must fit in this.
    timeout: Duration,
}

/// Installs `crypto_provider` as rustls' process-wide provider (idempotent). lango builds its
/// TLS configurations with an explicit provider anyway; this keeps any other builder from
/// panicking for want of one.
pub fn install_crypto_provider() {
    let _ = crypto_provider().install_default();
}

/// rustls' ring provider without Ed25519: every cipher suite and key exchange group of
/// `rustls::crypto::ring::default_provider()`, ECDSA (P-256, P-384) and RSA for certificates
/// and the portal's own key. No public CA issues Ed25519 certificates and no browser accepts
/// them for TLS; leaving the algorithm out keeps ring's Ed25519 code (about 40 KB on MIPS)
/// out of the router binary.
pub(crate) fn crypto_provider() -> CryptoProvider {
    use rustls::crypto::ring::kx_group;
    CryptoProvider {
        cipher_suites: rustls::crypto::ring::DEFAULT_CIPHER_SUITES.to_vec(),
        kx_groups: vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1],
        signature_verification_algorithms: SIGNATURE_ALGORITHMS,
        secure_random: &SystemRandom,
        key_provider: &RsaOrEcdsaKeys,
    }
}

/// The signature algorithms lango verifies in certificates and handshakes: rustls' ring list
/// minus Ed25519.
static SIGNATURE_ALGORITHMS: WebPkiSupportedAlgorithms = {
    use webpki::ring as alg;
    WebPkiSupportedAlgorithms {
        all: &[
            alg::ECDSA_P256_SHA256,
            alg::ECDSA_P256_SHA384,
            alg::ECDSA_P384_SHA256,
            alg::ECDSA_P384_SHA384,
            alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
            alg::RSA_PKCS1_2048_8192_SHA256,
            alg::RSA_PKCS1_2048_8192_SHA384,
            alg::RSA_PKCS1_2048_8192_SHA512,
            alg::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
            alg::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
            alg::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
        ],
        mapping: &[
            (
                SignatureScheme::ECDSA_NISTP384_SHA384,
                &[alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384],
            ),
            (
                SignatureScheme::ECDSA_NISTP256_SHA256,
                &[alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256],
            ),
            (
                SignatureScheme::RSA_PSS_SHA512,
                &[alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PSS_SHA384,
                &[alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PSS_SHA256,
                &[alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA512,
                &[alg::RSA_PKCS1_2048_8192_SHA512],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA384,
                &[alg::RSA_PKCS1_2048_8192_SHA384],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA256,
                &[alg::RSA_PKCS1_2048_8192_SHA256],
            ),
        ],
    }
};

/// Randomness for TLS, from the kernel (getrandom).
#[derive(Debug)]
struct SystemRandom;

impl rustls::crypto::SecureRandom for SystemRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), rustls::crypto::GetRandomFailed> {
        crate::core::token::fill(buf).map_err(|_| rustls::crypto::GetRandomFailed)
    }
}

/// Loads the portal's private key: RSA or ECDSA (P-256, P-384), as PKCS#1, SEC1 or PKCS#8.
#[derive(Debug)]
struct RsaOrEcdsaKeys;

impl rustls::crypto::KeyProvider for RsaOrEcdsaKeys {
    fn load_private_key(
        &self,
        key: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
        use rustls::crypto::ring::sign;
        if let Ok(rsa) = sign::RsaSigningKey::new(&key) {
            return Ok(Arc::new(rsa));
        }
        sign::any_ecdsa_type(&key).map_err(|_| {
            rustls::Error::General("the private key is neither RSA nor ECDSA P-256/P-384".into())
        })
    }
}

/// A client configuration trusting exactly `roots` (DER certificates).
pub fn tls_config(roots: Vec<CertificateDer<'static>>) -> Result<Arc<ClientConfig>, String> {
    let mut store = RootCertStore::empty();
    let (added, _ignored) = store.add_parsable_certificates(roots);
    if added == 0 {
        return Err("no usable CA certificate".into());
    }
    let config = ClientConfig::builder_with_provider(Arc::new(crypto_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A client configuration trusting the certificates of a PEM bundle.
pub fn tls_config_from_pem(pem: &[u8]) -> Result<Arc<ClientConfig>, String> {
    let roots: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect();
    tls_config(roots)
}

/// Reads the CA bundle at `path` (thin wrapper over `tls_config_from_pem`).
pub(crate) fn load_ca_bundle(path: &std::path::Path) -> Result<Arc<ClientConfig>, String> {
    let pem = std::fs::read(path).map_err(|e| {
        format!(
            "cannot read the CA bundle {}: {e} (install the ca-bundle package, or set \
             option ca_bundle)",
            path.display()
        )
    })?;
    tls_config_from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))
}

impl Client {
    pub fn new(tls: Option<Arc<ClientConfig>>, timeout: Duration) -> Client {
        Client { tls, timeout }
    }

    /// The deadline of one exchange.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The same client with another deadline (a call that waits for a customer).
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        Client {
            tls: self.tls.clone(),
            timeout,
        }
    }

    /// Sends one request and reads the whole answer.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, HttpError> {
        let deadline = Instant::now() + self.timeout;
        let target = Url::parse(url).map_err(HttpError::NotSent)?;
        let tcp = connect(&target, deadline)?;
        let mut stream = DeadlineStream { tcp, deadline };
        let request = render_request(method, &target, headers, body);
        if target.tls {
            let Some(config) = &self.tls else {
                return Err(HttpError::NotSent(format!(
                    "{url}: https is not configured for this client"
                )));
            };
            let name = ServerName::try_from(target.host.clone())
                .map_err(|_| HttpError::NotSent(format!("{}: not a host name", target.host)))?;
            let mut conn = ClientConnection::new(config.clone(), name)
                .map_err(|e| HttpError::NotSent(format!("TLS: {e}")))?;
            // Finish the handshake before sending anything, so that a refused certificate is
            // known to be "not sent".
            while conn.is_handshaking() {
                conn.complete_io(&mut stream)
                    .map_err(|e| HttpError::NotSent(describe(&target, &e)))?;
            }
            let mut tls = StreamOwned::new(conn, stream);
            exchange(&mut tls, &request, &target)
        } else {
            exchange(&mut stream, &request, &target)
        }
    }
}

fn exchange<S: Read + Write>(
    stream: &mut S,
    request: &[u8],
    target: &Url,
) -> Result<Response, HttpError> {
    stream
        .write_all(request)
        .and_then(|()| stream.flush())
        .map_err(|e| HttpError::NotSent(describe(target, &e)))?;
    let message = read_message(stream, Body::UntilClose, MAX_BODY)
        .map_err(|e| HttpError::NoAnswer(describe(target, &e)))?;
    let status = parse_status_line(&message.start_line).ok_or_else(|| {
        HttpError::NoAnswer(format!("{}: not an HTTP answer", target.authority()))
    })?;
    Ok(Response {
        status,
        headers: message.headers,
        body: message.body,
    })
}

/// An owner-readable account of an I/O or TLS failure.
fn describe(target: &Url, err: &io::Error) -> String {
    let at = target.authority();
    if let Some(tls) = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        use rustls::CertificateError as C;
        return match tls {
            rustls::Error::InvalidCertificate(C::UnknownIssuer) => format!(
                "{at}: TLS: the server's certificate is not from a trusted authority \
                 (unknown issuer); refusing to send credentials"
            ),
            rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. })
            | rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => format!(
                "{at}: TLS: the server's certificate is outside its validity period \
                 (is the router's clock right?)"
            ),
            rustls::Error::InvalidCertificate(
                C::NotValidForName | C::NotValidForNameContext { .. },
            ) => format!("{at}: TLS: the server's certificate is for another name"),
            other => format!("{at}: TLS: {other}"),
        };
    }
    match err.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => format!("{at}: timed out"),
        io::ErrorKind::ConnectionRefused => format!("{at}: connection refused"),
        io::ErrorKind::UnexpectedEof => format!("{at}: connection closed early"),
        _ => format!("{at}: {err}"),
    }
}

fn connect(target: &Url, deadline: Instant) -> Result<TcpStream, HttpError> {
    // Name resolution has no timeout of its own here; musl's resolver gives up after its
    // resolv.conf timeout (5 s, 2 attempts by default).
    let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| HttpError::NotSent(format!("{}: {e}", target.authority())))?
        .collect();
    let mut last = format!("{}: no address", target.authority());
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HttpError::NotSent(format!(
                "{}: timed out connecting",
                target.authority()
            )));
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(tcp) => {
                let _ = tcp.set_nodelay(true);
                return Ok(tcp);
            }
            Err(e) => last = describe(target, &e),
        }
    }
    Err(HttpError::NotSent(last))
}

fn render_request(method: &str, target: &Url, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: lango/{}\r\n",
        target.path,
        target.host_header(),
        env!("CARGO_PKG_VERSION")
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A TCP stream whose every read and write must finish before one deadline.
pub(crate) struct DeadlineStream {
    pub tcp: TcpStream,
    pub deadline: Instant,
}

impl DeadlineStream {
    fn arm(&self, write: bool) -> io::Result<()> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
        }
        if write {
            self.tcp.set_write_timeout(Some(left))
        } else {
            self.tcp.set_read_timeout(Some(left))
        }
    }
}

impl Read for DeadlineStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm(false)?;
        self.tcp.read(buf)
    }
}

impl Write for DeadlineStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm(true)?;
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// Whether a TCP connection to `host:port` opens within `timeout` (name lookup included), and
/// how long it took in milliseconds. Sends nothing: the owner page's "is the internet there"
/// check (`health::Probes`).
pub(crate) fn tcp_probe(host: &str, port: u16, timeout: Duration) -> Result<u64, String> {
    let started = Instant::now();
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last = format!("{host} has no address");
    for addr in addrs {
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(format!(
                "{host}:{port}: no answer within {} ms",
                timeout.as_millis()
            ));
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(_) => return Ok(started.elapsed().as_millis() as u64),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}

// ---- HTTP/1.1 messages, shared with the simulator's server ----

/// How to find the end of a body that has neither Content-Length nor chunked encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// A response: the body runs to the end of the connection.
    UntilClose,
    /// A request: no body.
    Empty,
}

/// Reads one HTTP/1.1 message: head (at most `MAX_HEAD` bytes) and body (at most `max_body`).
pub(crate) fn read_message<R: Read>(
    reader: &mut R,
    missing_length: Body,
    max_body: usize,
) -> io::Result<Message> {
    let invalid = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(idx) = find(&buf, b"\r\n\r\n") {
            break idx;
        }
        if buf.len() > MAX_HEAD {
            return Err(invalid("head too large"));
        }
        let mut chunk = [0u8; 2048];
        let n = read_some(reader, &mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the head ended",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| invalid("head is not text"))?;
    let mut lines = head.split("\r\n");
    let start_line = lines.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or_else(|| invalid("bad header"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut rest = buf[head_end + 4..].to_vec();
    let chunked = header(&headers, "Transfer-Encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        read_chunked(reader, rest, max_body)?
    } else if let Some(length) = header(&headers, "Content-Length") {
        let length: usize = length.parse().map_err(|_| invalid("bad Content-Length"))?;
        if length > max_body {
            return Err(invalid("body too large"));
        }
        while rest.len() < length {
            let mut chunk = [0u8; 4096];
            let n = read_some(reader, &mut chunk)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed inside the body",
                ));
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(length);
        rest
    } else if missing_length == Body::Empty {
        Vec::new()
    } else {
        loop {
            if rest.len() > max_body {
                return Err(invalid("body too large"));
            }
            let mut chunk = [0u8; 4096];
            match read_some(reader, &mut chunk) {
                Ok(0) => break,
                Ok(n) => rest.extend_from_slice(&chunk[..n]),
                // A TLS peer that closes without close_notify ends the body all the same.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e),
            }
        }
        rest
    };
    Ok(Message {
        start_line,
        headers,
        body,
    })
}

fn read_some<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn read_chunked<R: Read>(reader: &mut R, mut pending: Vec<u8>, max: usize) -> io::Result<Vec<u8>> {
    let invalid = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let mut body = Vec::new();
    let mut fill = |pending: &mut Vec<u8>, want: usize| -> io::Result<()> {
        while pending.len() < want {
            let mut chunk = [0u8; 4096];
            let n = read_some(reader, &mut chunk)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed inside a chunk",
                ));
            }
            pending.extend_from_slice(&chunk[..n]);
        }
        Ok(())
    };
    loop {
        let line_end = loop {
            if let Some(idx) = find(&pending, b"\r\n") {
                break idx;
            }
            if pending.len() > 1024 {
                return Err(invalid("chunk size line too long"));
            }
            let want = pending.len() + 1;
            fill(&mut pending, want)?;
        };
        let size_text = std::str::from_utf8(&pending[..line_end])
            .map_err(|_| invalid("bad chunk size"))?
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let size = usize::from_str_radix(&size_text, 16).map_err(|_| invalid("bad chunk size"))?;
        pending.drain(..line_end + 2);
        if size == 0 {
            return Ok(body);
        }
        // Checked: a chunk size near usize::MAX must not wrap past the limit (fuzz: http).
        if size > max.saturating_sub(body.len()) {
            return Err(invalid("body too large"));
        }
        fill(&mut pending, size + 2)?;
        body.extend_from_slice(&pending[..size]);
        pending.drain(..size + 2);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The status code of `HTTP/1.1 200 OK`.
fn parse_status_line(line: &str) -> Option<u16> {
    let mut parts = line.split_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let code: u16 = parts.next()?.parse().ok()?;
    (100..=599).contains(&code).then_some(code)
}

/// Writes a complete HTTP/1.1 response (`Connection: close`).
#[cfg(feature = "simulator")]
pub(crate) fn write_response<W: Write>(
    writer: &mut W,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    writer.write_all(head.as_bytes())?;
    writer.write_all(body)?;
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_loads_ecdsa_keys_and_refuses_ed25519() {
        use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519};
        use rustls::pki_types::PrivatePkcs8KeyDer;
        let provider = crypto_provider();
        let load = |alg| {
            let pair = KeyPair::generate_for(alg).unwrap();
            let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pair.serialize_der()));
            provider.key_provider.load_private_key(der)
        };
        assert!(load(&PKCS_ECDSA_P256_SHA256).is_ok());
        assert!(load(&PKCS_ECDSA_P384_SHA384).is_ok());
        let refused = load(&PKCS_ED25519).err().unwrap().to_string();
        assert!(refused.contains("neither RSA nor ECDSA"), "{refused}");
    }

    #[test]
    fn the_provider_verifies_rsa_and_ecdsa_but_not_ed25519() {
        let schemes = crypto_provider()
            .signature_verification_algorithms
            .supported_schemes();
        for want in [
            SignatureScheme::RSA_PKCS1_SHA256,
            SignatureScheme::RSA_PSS_SHA256,
            SignatureScheme::ECDSA_NISTP256_SHA256,
            SignatureScheme::ECDSA_NISTP384_SHA384,
        ] {
            assert!(schemes.contains(&want), "{want:?} missing");
        }
        assert!(!schemes.contains(&SignatureScheme::ED25519));
        let default = rustls::crypto::ring::default_provider();
        assert_eq!(crypto_provider().cipher_suites, default.cipher_suites);
        assert!(crypto_provider().fips() == default.fips());
    }

    #[test]
    fn messages_with_each_kind_of_body() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhelloEXTRA";
        let m = read_message(&mut &raw[..], Body::UntilClose, 100).unwrap();
        assert_eq!(
            (m.body.as_slice(), header(&m.headers, "x")),
            (&b"hello"[..], Some("y"))
        );
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;x=1\r\npedia\r\n0\r\n\r\n";
        let m = read_message(&mut &raw[..], Body::UntilClose, 100).unwrap();
        assert_eq!(m.body, b"Wikipedia");
        let raw = b"HTTP/1.0 500 Oops\r\n\r\nto the end";
        let m = read_message(&mut &raw[..], Body::UntilClose, 100).unwrap();
        assert_eq!(
            (parse_status_line(&m.start_line), m.body.as_slice()),
            (Some(500), &b"to the end"[..])
        );
        let raw = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(read_message(&mut &raw[..], Body::Empty, 100)
            .unwrap()
            .body
            .is_empty());
    }

    #[test]
    fn junk_never_panics() {
        let cases: [&[u8]; 9] = [
            b"",
            b"HTTP/1.1 200 OK\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffff\r\nab",
            b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
            b"\xff\xfe\r\n\r\n",
        ];
        for raw in cases {
            let _ = read_message(&mut &raw[..], Body::UntilClose, 1000);
        }
        // A chunk size near usize::MAX after a first chunk: the limit check must not wrap
        // (found by the http fuzz target: "attempt to add with overflow").
        // usize::MAX in hex: 16 digits here, 8 on the 32-bit routers.
        let raw = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n{:x}\r\nab",
            usize::MAX
        );
        let err = read_message(&mut raw.as_bytes(), Body::UntilClose, 1000).unwrap_err();
        assert!(err.to_string().contains("too large"), "{err}");
        assert_eq!(parse_status_line("HTTP/1.1 2000 x"), None);
        assert_eq!(parse_status_line("SSH-2.0"), None);
        assert_eq!(parse_status_line(""), None);
    }

    #[test]
    fn a_pem_bundle_without_certificates_is_refused() {
        assert!(tls_config_from_pem(b"not a bundle").is_err());
        assert!(tls_config(Vec::new()).is_err());
    }
}
