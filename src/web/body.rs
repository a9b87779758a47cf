//! The one bounded reader for request bodies (forms, JSON, Daraja's callbacks): at most
//! `http::MAX_BODY` bytes are read, so a client cannot make lango buffer more than that, and a
//! longer body is refused whole instead of cut.

use std::io::Read;

use rouille::Request;

use crate::web::http::MAX_BODY;

/// Why a body was not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// The connection failed or timed out while the body arrived.
    Unreadable,
    /// Longer than the limit.
    TooLarge,
}

impl BodyError {
    /// The HTTP status that answers it: 400 or 413.
    pub fn status(self) -> u16 {
        match self {
            BodyError::Unreadable => 400,
            BodyError::TooLarge => 413,
        }
    }

    /// A short English message for the response.
    pub(crate) fn message(self) -> &'static str {
        match self {
            BodyError::Unreadable => "could not read the request",
            BodyError::TooLarge => "request too large",
        }
    }
}

/// The request's body, at most `MAX_BODY` bytes (empty when it has none, or it was taken).
pub fn read(request: &Request) -> Result<Vec<u8>, BodyError> {
    match request.data() {
        Some(data) => read_limited(data, MAX_BODY),
        None => Ok(Vec::new()),
    }
}

/// Everything `reader` gives, if that is at most `max` bytes; one byte more is read to tell.
pub(crate) fn read_limited(reader: impl Read, max: u64) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    reader
        .take(max.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(|_| BodyError::Unreadable)?;
    if body.len() as u64 > max {
        return Err(BodyError::TooLarge);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Broken;

    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("reset"))
        }
    }

    #[test]
    fn reads_up_to_the_limit_and_refuses_more() {
        assert_eq!(read_limited(&b"abcd"[..], 4), Ok(b"abcd".to_vec()));
        assert_eq!(read_limited(&b""[..], 4), Ok(Vec::new()));
        assert_eq!(read_limited(&b"abcde"[..], 4), Err(BodyError::TooLarge));
        assert_eq!(read_limited(Broken, 4), Err(BodyError::Unreadable));
        assert_eq!(BodyError::TooLarge.status(), 413);
    }

    #[test]
    fn a_request_body_is_bounded_by_max_body() {
        let post = |len: usize| Request::fake_http("POST", "/", vec![], vec![b'x'; len]);
        assert_eq!(
            read(&post(MAX_BODY as usize)).map(|b| b.len()),
            Ok(MAX_BODY as usize)
        );
        assert_eq!(read(&post(MAX_BODY as usize + 1)), Err(BodyError::TooLarge));
    }
}
