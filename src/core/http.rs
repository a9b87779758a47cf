//! HTTP values without I/O, shared by the client (`adapters::https`), the servers and the
//! simulator's state machine: the absolute `Url` lango parses from its config, a `Message` as
//! read from the wire, and header lookup.

/// A parsed `http://` or `https://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Url {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Url {
    /// Parses an absolute http(s) URL. No user info, no fragments, no whitespace.
    pub fn parse(text: &str) -> Result<Url, String> {
        let bad = || format!("'{text}' is not an http(s) URL");
        if text.is_empty() || text.bytes().any(|b| b.is_ascii_whitespace() || b < 0x20) {
            return Err(bad());
        }
        let (tls, rest) = if let Some(rest) = text.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad());
        };
        let (authority, path) = match rest.find('/') {
            Some(idx) => (&rest[..idx], &rest[idx..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') || path.contains('#') {
            return Err(bad());
        }
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad())?,
                None if after.is_empty() => default_port,
                None => return Err(bad()),
            };
            (host.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host.to_string(), port.parse().map_err(|_| bad())?),
                None => (authority.to_string(), default_port),
            }
        };
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok(Url {
            tls,
            host,
            port,
            path: path.to_string(),
        })
    }

    /// `host:port` for messages.
    pub(crate) fn authority(&self) -> String {
        format!("{}:{}", self.host_header(), self.port)
    }

    /// The host as a Host header or an authority writes it (IPv6 in brackets).
    pub(crate) fn host_header(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

/// A request or response as read from the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub start_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The first header called `name` (case-insensitive).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u =
            Url::parse("https://sandbox.safaricom.co.ke/mpesa/stkpush/v1/processrequest").unwrap();
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.path.as_str()),
            (
                true,
                "sandbox.safaricom.co.ke",
                443,
                "/mpesa/stkpush/v1/processrequest"
            )
        );
        let u = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((u.tls, u.port, u.path.as_str()), (false, 8080, "/"));
        let u = Url::parse("https://[::1]:9443/x?y=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.authority()),
            ("::1", 9443, "[::1]:9443".into())
        );
        for bad in [
            "",
            "ftp://x",
            "https://",
            "https:// x/",
            "https://u@h/",
            "https://h:0/",
            "https://h:99999/",
            "https://h/#f",
            "https://[::1/",
            "http://h:x/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }
}
