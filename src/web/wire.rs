//! HTTP/1.x framing for the web transport, without I/O: a request head parsed with httparse under
//! hard limits (head bytes, header count), a request body by Content-Length or chunked (at most
//! the body limit), and a rouille `Response` turned into the bytes of one HTTP/1.1 response.
//! The transports (`server.rs`, `tls.rs`) read bytes until these functions say a request is
//! complete or refused; they never buffer more than these limits allow.

use std::io::Read;

use rouille::Response;

/// Largest request head (request line and headers, with the blank line): a phone's browser
/// sends well under 2 KB; anything near this is hostile.
pub(crate) const MAX_HEAD: usize = 8 * 1024;

/// Most headers in one request (a browser sends about 15).
pub(crate) const MAX_HEADERS: usize = 48;

/// Largest chunk-size line and trailer section of a chunked body.
const MAX_CHUNK_OVERHEAD: usize = 4 * 1024;

/// Why a request is refused before any handler sees it. Each is answered with its status and
/// the connection is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The head is longer than `MAX_HEAD`.
    HeadTooLarge,
    /// More than `MAX_HEADERS` headers.
    TooManyHeaders,
    /// Not an HTTP/1.x request, or a framing that could be read two ways.
    Malformed,
    /// Not HTTP/1.0 or 1.1.
    Version,
    /// A transfer coding other than chunked.
    Coding,
    /// A body longer than the limit.
    BodyTooLarge,
    /// Too many connections (from this source, or in all): the transport is full.
    Busy,
}

impl Refusal {
    /// The status that answers it.
    pub(crate) fn status(self) -> u16 {
        match self {
            Refusal::HeadTooLarge | Refusal::TooManyHeaders => 431,
            Refusal::Malformed => 400,
            Refusal::Version => 505,
            Refusal::Coding => 501,
            Refusal::BodyTooLarge => 413,
            Refusal::Busy => 503,
        }
    }

    /// The refusal as a response (`Connection: close` is added when it is written).
    pub(crate) fn response(self) -> Response {
        let text = match self {
            Refusal::HeadTooLarge => "request head too large",
            Refusal::TooManyHeaders => "too many headers",
            Refusal::Malformed => "bad request",
            Refusal::Version => "HTTP/1.1 only",
            Refusal::Coding => "unsupported transfer coding",
            Refusal::BodyTooLarge => "request too large",
            Refusal::Busy => "busy, try again",
        };
        let response = Response::text(text).with_status_code(self.status());
        if self == Refusal::Busy {
            response.with_unique_header("Retry-After", "1")
        } else {
            response
        }
    }
}

/// How the body of a request is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Exactly this many bytes (0 when the request has none).
    Length(usize),
    /// Chunked transfer coding.
    Chunked,
}

/// A complete request head.
#[derive(Debug)]
pub(crate) struct Head {
    pub method: String,
    /// The request target as sent (a path and query, normally).
    pub url: String,
    /// HTTP/1.0 (`true`) or 1.1.
    pub http10: bool,
    pub headers: Vec<(String, String)>,
    /// Bytes of the head, blank line included.
    pub len: usize,
    pub body: Framing,
    /// Whether the client wants the connection kept open after the response.
    pub keep_alive: bool,
    /// `Expect: 100-continue` (HTTP/1.1): the client waits for a 100 before it sends the body.
    pub expect_continue: bool,
}

/// Parses the head at the start of `buf`. `Ok(None)`: more bytes are needed (and may come: the
/// caller reads at most `MAX_HEAD` bytes before the head is complete).
pub(crate) fn parse_head(buf: &[u8], max_body: usize) -> Result<Option<Head>, Refusal> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut slots);
    let len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            return Err(Refusal::HeadTooLarge)
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Refusal::TooManyHeaders),
        Err(httparse::Error::Version) => return Err(Refusal::Version),
        Err(_) => return Err(Refusal::Malformed),
    };
    if len > MAX_HEAD {
        return Err(Refusal::HeadTooLarge);
    }
    let (Some(method), Some(url), Some(version)) = (request.method, request.path, request.version)
    else {
        return Err(Refusal::Malformed);
    };
    let headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|h| {
            let value = String::from_utf8_lossy(h.value);
            (h.name.to_string(), value.trim().to_string())
        })
        .collect();
    let http10 = version == 0;
    let body = framing(&headers, max_body)?;
    let tokens = |name: &str, token: &str| {
        headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    let keep_alive = if tokens("Connection", "close") {
        false
    } else {
        !http10 || tokens("Connection", "keep-alive")
    };
    let expect_continue = !http10 && tokens("Expect", "100-continue");
    Ok(Some(Head {
        method: method.to_string(),
        url: url.to_string(),
        http10,
        headers,
        len,
        body,
        keep_alive,
        expect_continue,
    }))
}

/// The body's framing from the headers. A request with both Content-Length and
/// Transfer-Encoding, or with two different lengths, could be read two ways (request
/// smuggling) and is refused.
fn framing(headers: &[(String, String)], max_body: usize) -> Result<Framing, Refusal> {
    fn named<'a>(
        headers: &'a [(String, String)],
        name: &'static str,
    ) -> impl Iterator<Item = &'a str> {
        headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    let mut lengths = named(headers, "Content-Length");
    let coding = named(headers, "Transfer-Encoding").next();
    match (lengths.next(), coding) {
        (None, None) => Ok(Framing::Length(0)),
        (Some(_), Some(_)) => Err(Refusal::Malformed),
        (None, Some(coding)) => {
            if named(headers, "Transfer-Encoding").count() == 1
                && coding.eq_ignore_ascii_case("chunked")
            {
                Ok(Framing::Chunked)
            } else {
                Err(Refusal::Coding)
            }
        }
        (Some(first), None) => {
            if lengths.any(|other| other != first) {
                return Err(Refusal::Malformed);
            }
            if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Refusal::Malformed);
            }
            match first.parse::<usize>() {
                Ok(n) if n <= max_body => Ok(Framing::Length(n)),
                _ => Err(Refusal::BodyTooLarge),
            }
        }
    }
}

/// Most bytes a body with this framing may take on the wire: reading stops there.
pub(crate) fn max_wire_body(framing: Framing, max_body: usize) -> usize {
    match framing {
        Framing::Length(n) => n,
        Framing::Chunked => max_body.saturating_add(MAX_CHUNK_OVERHEAD),
    }
}

/// The body at the start of `buf` (the bytes after the head). `Ok(None)`: more bytes are
/// needed; `Ok(Some((body, used)))`: the body and how many bytes of `buf` it took.
pub(crate) fn take_body(
    buf: &[u8],
    framing: Framing,
    max_body: usize,
) -> Result<Option<(Vec<u8>, usize)>, Refusal> {
    match framing {
        Framing::Length(n) => Ok((buf.len() >= n).then(|| (buf[..n].to_vec(), n))),
        Framing::Chunked => {
            let complete = dechunk(buf, max_body)?;
            if complete.is_none() && buf.len() >= max_wire_body(framing, max_body) {
                return Err(Refusal::BodyTooLarge);
            }
            Ok(complete)
        }
    }
}

/// Decodes a whole chunked body from `buf`, if it is all there.
fn dechunk(buf: &[u8], max_body: usize) -> Result<Option<(Vec<u8>, usize)>, Refusal> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let (size_len, size) = match httparse::parse_chunk_size(&buf[pos..]) {
            Ok(httparse::Status::Complete(found)) => found,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(Refusal::Malformed),
        };
        pos += size_len;
        let size = usize::try_from(size).map_err(|_| Refusal::BodyTooLarge)?;
        if size > max_body.saturating_sub(body.len()) {
            return Err(Refusal::BodyTooLarge);
        }
        if size == 0 {
            // Trailer lines (ignored) up to a blank line.
            loop {
                let rest = &buf[pos..];
                let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
                    return Ok(None);
                };
                pos += end + 2;
                if end == 0 {
                    return Ok(Some((body, pos)));
                }
            }
        }
        if buf.len() < pos + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        if &buf[pos + size..pos + size + 2] != b"\r\n" {
            return Err(Refusal::Malformed);
        }
        pos += size + 2;
    }
}

/// How a response is written.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reply {
    /// A HEAD request: the head only, with the length the body would have.
    pub head_only: bool,
    /// Close the connection after this response.
    pub close: bool,
    /// The request was HTTP/1.0 (keep-alive must then be said).
    pub http10: bool,
}

/// The bytes of one response: status line, the handler's headers (minus the framing ones, which
/// are the transport's), Content-Length, Connection, and the body, in one buffer so that it goes
/// out in one write.
pub(crate) fn encode(response: Response, reply: Reply) -> Vec<u8> {
    let status = response.status_code;
    let (mut reader, _) = response.data.into_reader_and_size();
    let mut body = Vec::new();
    if let Err(e) = reader.read_to_end(&mut body) {
        log::warn!("http: a response body could not be read: {e}");
        return encode(
            Response::text("internal error").with_status_code(500),
            Reply {
                close: true,
                ..reply
            },
        );
    }
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", reason(status)).as_bytes());
    for (name, value) in &response.headers {
        let framing = ["Content-Length", "Transfer-Encoding", "Connection"]
            .iter()
            .any(|f| name.eq_ignore_ascii_case(f));
        if framing {
            continue;
        }
        for part in [name.as_bytes(), b": ", value.as_bytes(), b"\r\n"] {
            out.extend_from_slice(part);
        }
    }
    // No length on 1xx, 204 and 304 (RFC 9110 8.6).
    if !matches!(status, 100..=199 | 204 | 304) {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    if reply.close {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if reply.http10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !reply.head_only {
        out.extend_from_slice(&body);
    }
    out
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 16 * 1024;

    fn head(text: &str) -> Result<Option<Head>, Refusal> {
        parse_head(text.as_bytes(), MAX)
    }

    #[test]
    fn heads_parse_in_pieces_and_keep_alive_follows_the_version() {
        let full = "GET /a?b=c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
        for cut in 0..full.find("\r\n\r\n").unwrap_or(0) + 3 {
            assert!(head(&full[..cut]).unwrap().is_none(), "{cut}");
        }
        let h = head(full).unwrap().unwrap();
        assert_eq!((h.method.as_str(), h.url.as_str()), ("GET", "/a?b=c"));
        assert_eq!(
            (h.len, h.body, h.keep_alive),
            (full.len() - 3, Framing::Length(3), true)
        );
        let h = head("GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(h.http10 && !h.keep_alive);
        let h = head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.keep_alive);
        let h = head("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive);
        let h = head("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
        assert!(h.unwrap().unwrap().expect_continue);
    }

    #[test]
    fn limits_and_ambiguities_are_refused() {
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(head(&long).err(), Some(Refusal::HeadTooLarge));
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X{i}: 1\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(head(&many).err(), Some(Refusal::TooManyHeaders));
        let cases = [
            (
                "GET / HTTP/1.1\r\nContent-Length: 99999\r\n\r\n",
                Refusal::BodyTooLarge,
            ),
            (
                "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                Refusal::Malformed,
            ),
            (
                "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                Refusal::Malformed,
            ),
            (
                "GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                Refusal::Malformed,
            ),
            (
                "GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                Refusal::Coding,
            ),
            ("GET / HTTP/2.0\r\n\r\n", Refusal::Version),
            ("\x00\x01\x02 / HTTP/1.1\r\n\r\n", Refusal::Malformed),
        ];
        for (text, refusal) in cases {
            assert_eq!(head(text).err(), Some(refusal), "{text:?}");
        }
    }

    #[test]
    fn chunked_bodies_decode_and_are_bounded() {
        let wire = b"4\r\nabcd\r\n2;x=y\r\nef\r\n0\r\nTrailer: t\r\n\r\nNEXT";
        for cut in 0..wire.len() - 4 {
            assert_eq!(
                take_body(&wire[..cut], Framing::Chunked, MAX),
                Ok(None),
                "{cut}"
            );
        }
        let (body, used) = take_body(wire, Framing::Chunked, MAX).unwrap().unwrap();
        assert_eq!((body.as_slice(), used), (&b"abcdef"[..], wire.len() - 4));
        assert_eq!(
            take_body(b"5\r\nabcde\r\n0\r\n\r\n", Framing::Chunked, 4),
            Err(Refusal::BodyTooLarge)
        );
        assert_eq!(
            take_body(b"2\r\nabcd\r\n", Framing::Chunked, MAX),
            Err(Refusal::Malformed)
        );
        // Never-ending framing (a chunk extension without an end) is refused at the limit.
        let endless = format!("1;{}", "x".repeat(MAX + MAX_CHUNK_OVERHEAD));
        assert!(take_body(endless.as_bytes(), Framing::Chunked, MAX).is_err());
        assert_eq!(take_body(b"ab", Framing::Length(3), MAX), Ok(None));
        assert_eq!(
            take_body(b"abcd", Framing::Length(3), MAX),
            Ok(Some((b"abc".to_vec(), 3)))
        );
    }

    #[test]
    fn responses_are_one_buffer_with_the_transports_framing() {
        let response = Response::text("hello")
            .with_unique_header("Content-Length", "999")
            .with_unique_header("Connection", "upgrade");
        let reply = Reply {
            head_only: false,
            close: false,
            http10: false,
        };
        let text = String::from_utf8(encode(response, reply)).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(
            text.contains("Content-Length: 5\r\n") && !text.contains("999"),
            "{text}"
        );
        assert!(
            !text.contains("Connection:") && text.ends_with("\r\n\r\nhello"),
            "{text}"
        );
        let head_only = Reply {
            head_only: true,
            close: true,
            http10: true,
        };
        let text = String::from_utf8(encode(Response::text("hello"), head_only)).unwrap();
        assert!(
            text.contains("Content-Length: 5\r\nConnection: close\r\n\r\n"),
            "{text}"
        );
        assert!(text.ends_with("\r\n\r\n"), "{text}");
        let text = String::from_utf8(encode(Response::empty_204(), reply)).unwrap();
        assert!(!text.contains("Content-Length"), "{text}");
    }
}
