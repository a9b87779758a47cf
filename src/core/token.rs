//! Secrets lango makes and checks: the one random-token format (256 bits, hex), the one place
//! that reads the OS random generator, and the one constant-time compare.
//!
//! The generator is read here, beside the pure formatting, for the reason `time::SystemClock`
//! sits beside the `Clock` trait: the core (password salts, the owner's sessions, a guest
//! account's session token) and the adapters (rustls) both need it, and `getrandom` has no
//! handle or state worth injecting. It blocks only until the kernel's pool is first seeded and
//! does not fail after that on the kernels OpenWrt ships (Linux 3.17+). Code that must be
//! testable with fixed bytes takes the bytes (`hex_token`, `vouchers::code_from_random`).

use std::fmt;

/// Random bytes in every token: 256 bits, more than any guesser can search.
pub(crate) const TOKEN_BYTES: usize = 32;
/// A token's length as text (two hex digits a byte).
pub const TOKEN_LEN: usize = TOKEN_BYTES * 2;

/// The OS random generator failed (it has not been seeded yet, or the syscall is missing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RandomError(String);

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "random generator: {}", self.0)
    }
}

impl std::error::Error for RandomError {}

impl From<RandomError> for String {
    fn from(e: RandomError) -> String {
        e.to_string()
    }
}

/// Fills `buf` from the OS generator: the only read of it in lango.
pub(crate) fn fill(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(buf).map_err(|e| RandomError(e.to_string()))
}

/// `N` random bytes from the OS generator.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut bytes = [0u8; N];
    fill(&mut bytes)?;
    Ok(bytes)
}

/// A fresh token: session ids, CSRF tokens, payment tokens, the API token, the callback secret.
pub(crate) fn random_token() -> Result<String, RandomError> {
    Ok(hex_token(&random_bytes::<TOKEN_BYTES>()?))
}

/// Pure: the token made of these bytes.
pub(crate) fn hex_token(bytes: &[u8; TOKEN_BYTES]) -> String {
    hex(bytes)
}

/// Lower-case hex, two digits a byte.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// The bytes of an even-length hex string (either case); `None` for anything else.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Whether a secret the caller holds (`known`) equals what someone sent, in time that does not
/// depend on where they differ. Both sides go through HMAC-SHA256 and ring compares the tags
/// (`hmac::verify` is documented as constant-time; ring's `constant_time` module is deprecated,
/// "no promises regarding side channels"), so neither the position of the first difference nor
/// a length mismatch shows in the timing, and the compiler cannot turn it into an early exit.
pub(crate) fn same(sent: &[u8], known: &[u8]) -> bool {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"lango constant-time compare");
    let tag = ring::hmac::sign(&key, known);
    ring::hmac::verify(&key, sent, tag.as_ref()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_of_hex_and_differ() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), TOKEN_LEN);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
        assert_eq!(hex_token(&[0xab; TOKEN_BYTES]), "ab".repeat(TOKEN_BYTES));
    }

    #[test]
    fn hex_round_trips_and_refuses_junk() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex(&all)), Some(all));
        assert_eq!(unhex("0A"), Some(vec![10]));
        for junk in ["a", "zz", "0é", "0x"] {
            assert_eq!(unhex(junk), None, "{junk}");
        }
    }

    #[test]
    fn same_compares_exactly() {
        assert!(same(b"abc", b"abc"));
        assert!(same(b"", b""));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
        assert!(!same(b"ab", b"abc"));
        assert!(!same(b"", b"a"));
    }
}
