//! The web transport's front: `serve` binds a listener and hands it to the bounded transport
//! (`server.rs`, with the limits in `server::Limits`), and this file holds the small helpers
//! every handler shares (form parsing with a size limit, HTML escaping, security headers). The
//! client's address always comes from the socket, never from a header.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use rouille::{Request, Response};

pub use crate::web::server::Limits;

/// Largest request body accepted (forms and JSON are tiny; anything bigger is hostile).
pub(crate) const MAX_BODY: u64 = 16 * 1024;

/// A running listener.
pub struct Listener {
    pub addr: SocketAddr,
    /// The I/O thread; it never ends (the process exits if it does).
    pub thread: std::thread::JoinHandle<()>,
}

/// Binds `addr` and serves `handler` with the default limits.
pub fn serve<F>(addr: SocketAddr, handler: F) -> Result<Listener, String>
where
    F: Send + Sync + 'static + Fn(&Request) -> Response,
{
    serve_with(addr, Limits::default(), handler)
}

/// Binds `addr` and serves `handler` within `limits`.
pub fn serve_with<F>(addr: SocketAddr, limits: Limits, handler: F) -> Result<Listener, String>
where
    F: Send + Sync + 'static + Fn(&Request) -> Response,
{
    let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let handler: crate::web::server::Handler = Arc::new(move |r| with_headers(handler(r)));
    let thread = crate::web::server::spawn(listener, limits, handler)?;
    Ok(Listener { addr, thread })
}

/// Headers on every response (OWASP HTTP headers cheat sheet). Pages inline
/// their own CSS and script, so the policy allows inline but nothing from elsewhere. A handler
/// may set its own Referrer-Policy (the owner page uses `same-origin`, so that browsers send
/// the page's Origin with its forms instead of `null`).
pub(crate) fn with_headers(response: Response) -> Response {
    let referrer = response
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("Referrer-Policy"));
    let response = if referrer {
        response
    } else {
        response.with_unique_header("Referrer-Policy", "no-referrer")
    };
    response
        .with_unique_header("X-Content-Type-Options", "nosniff")
        .with_unique_header("X-Frame-Options", "DENY")
        .with_unique_header(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
             img-src data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'",
        )
        .with_unique_header("Cache-Control", "no-store")
}

/// Reads an `application/x-www-form-urlencoded` body of at most `MAX_BODY` bytes.
pub(crate) fn read_form(request: &Request) -> Result<HashMap<String, String>, Response> {
    let body = read_body(request)?;
    Ok(parse_form(&String::from_utf8_lossy(&body)))
}

/// Reads a raw body of at most `MAX_BODY` bytes (a JSON callback).
pub(crate) fn read_body(request: &Request) -> Result<Vec<u8>, Response> {
    crate::web::body::read(request)
        .map_err(|e| Response::text(e.message()).with_status_code(e.status()))
}

/// Parses `a=1&b=two+words`. Later duplicates win; malformed escapes are kept literally.
pub(crate) fn parse_form(text: &str) -> HashMap<String, String> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut idx = 0;
    while idx < bytes.len() {
        match bytes[idx] {
            b'+' => out.push(b' '),
            b'%' if idx + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[idx + 1..idx + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        idx += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        idx += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Fills `{{name}}` placeholders of a page template. Values are inserted as given: callers
/// escape anything that came from a guest or the owner.
pub(crate) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    out
}

/// A `303 See Other` to a path on the same host (after a form post).
pub(crate) fn see_other(path: &str) -> Response {
    Response::empty_204()
        .with_status_code(303)
        .with_unique_header("Location", path.to_string())
}

/// A JSON response from a serde_json value.
pub(crate) fn json(status: u16, value: &serde_json::Value) -> Response {
    Response::from_data("application/json", value.to_string()).with_status_code(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode() {
        let f = parse_form("phone=0712+345%20678&package=hour&bad=%zz&cut=%4");
        assert_eq!(f["phone"], "0712 345 678");
        assert_eq!(f["package"], "hour");
        assert_eq!(f["bad"], "%zz");
        assert_eq!(f["cut"], "%4");
        assert_eq!(percent_decode("%E2%9C%93"), "✓");
    }

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(fill("a {{x}} b {{x}}", &[("x", "1")]), "a 1 b 1");
    }
}
