//! Prepaid voucher codes: generation from injected random bytes and the redemption rules. Pure:
//! the caller supplies randomness and `now`; the store records the outcome.

use serde::{Deserialize, Serialize};

use crate::core::model::Mac;
use crate::core::sessions::Terms;
use crate::core::time::Timestamp;

/// Code alphabet: upper-case letters and digits without the look-alikes 0/O, 1/I/L, so that a
/// code read off paper is typed right. 31 symbols, about 4.95 bits each.
const ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// Symbols per code. 10 symbols give about 49 bits: guessing one valid code out of 10,000
/// printed ones takes about 5.6e10 tries, far beyond what the portal's rate limits allow.
/// Printed in two groups of five after the prefix (`CAFE-2GMAS-S3VCG`), typed in any case,
/// dashes optional. Not shorter: with look-alikes left out the alphabet cannot grow, and 8
/// symbols would be 39.6 bits, about 1,000 times easier to guess (issue 16).
pub(crate) const CODE_LEN: usize = 10;

/// At most this many vouchers in one batch (the owner page, its JSON API, `ubus call lango
/// voucher_generate`): one batch is one write transaction and one print sheet.
pub const MAX_BATCH: usize = 500;
/// A voucher can be valid (redeemable) for at most this many days, about ten years.
pub const MAX_VALID_DAYS: u64 = 3_650;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VoucherState {
    Unused,
    Used {
        mac: Mac,
        at: Timestamp,
        session_id: u64,
    },
    Revoked {
        at: Timestamp,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voucher {
    pub code: String,
    pub terms: Terms,
    pub created_at: Timestamp,
    /// After this the code can no longer be redeemed (time already granted keeps running).
    pub valid_until: Option<Timestamp>,
    pub batch: String,
    pub state: VoucherState,
}

/// Why a code was not accepted. Guests are told the first three the same way ("not valid"),
/// so that trying codes teaches nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Unknown,
    Used,
    Expired,
    Revoked,
    /// Its package's window (`Terms::window`) is closed now.
    Closed,
}

/// Makes a code from random bytes (at least `CODE_LEN` of them). Rejection sampling keeps every
/// symbol equally likely; returns `None` if the bytes ran out first (the caller draws more).
pub(crate) fn code_from_random(random: &[u8]) -> Option<String> {
    let limit = 256 - 256 % ALPHABET.len();
    let mut out = String::with_capacity(CODE_LEN);
    for &byte in random {
        if usize::from(byte) >= limit {
            continue;
        }
        out.push(char::from(ALPHABET[usize::from(byte) % ALPHABET.len()]));
        if out.len() == CODE_LEN {
            return Some(out);
        }
    }
    None
}

/// Canonical form of what a guest typed: upper case, no spaces or dashes, and the look-alikes
/// mapped to the symbols they stand for (O→0 is not in the alphabet, so O and 0 both fail fast).
pub(crate) fn normalise(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The owner's prefix for a batch (printed before the random part, like `CAFE`): 0-8 letters
/// or digits, upper-cased; `None` if it has anything else. It adds no secrecy: every code keeps
/// its `CODE_LEN` random symbols.
pub(crate) fn normalise_prefix(typed: &str) -> Option<String> {
    let prefix = normalise(typed);
    let ok = prefix.len() <= 8 && prefix.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then_some(prefix)
}

/// A code as printed: the prefix (if any) and the random part in groups of five, `CAFE-ABCDE-FGH23`.
pub fn display(code: &str) -> String {
    let split = code.len().saturating_sub(CODE_LEN);
    let (prefix, random) = (
        code.get(..split).unwrap_or(""),
        code.get(split..).unwrap_or(code),
    );
    let cut = random.len().min(5);
    let groups: Vec<&str> = [random.get(..cut), random.get(cut..)]
        .into_iter()
        .flatten()
        .filter(|g| !g.is_empty())
        .collect();
    let body = groups.join("-");
    if prefix.is_empty() {
        body
    } else {
        format!("{prefix}-{body}")
    }
}

/// Pure: can this voucher be redeemed now?
pub(crate) fn check(voucher: Option<&Voucher>, now: Timestamp) -> Result<&Voucher, Refusal> {
    let voucher = voucher.ok_or(Refusal::Unknown)?;
    match voucher.state {
        VoucherState::Used { .. } => Err(Refusal::Used),
        VoucherState::Revoked { .. } => Err(Refusal::Revoked),
        VoucherState::Unused => match voucher.valid_until {
            Some(until) if now >= until => Err(Refusal::Expired),
            _ if voucher
                .terms
                .window
                .is_some_and(|w| w.open_until(now).is_none()) =>
            {
                Err(Refusal::Closed)
            }
            _ => Ok(voucher),
        },
    }
}

/// The voucher after a successful redemption.
pub(crate) fn redeemed(voucher: &Voucher, mac: Mac, session_id: u64, now: Timestamp) -> Voucher {
    let mut out = voucher.clone();
    out.state = VoucherState::Used {
        mac,
        at: now,
        session_id,
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::Money;

    fn voucher(state: VoucherState, valid_until: Option<Timestamp>) -> Voucher {
        Voucher {
            code: "ABCDEFGH23".into(),
            terms: Terms {
                package_id: "day".into(),
                package_name: "1 Day".into(),
                price: Money(5000),
                duration_secs: 86_400,
                quota_bytes: None,
                rate_down_kbit: None,
                rate_up_kbit: None,
                fair_kbit: None,
                window: None,
                devices: 1,
                idle_secs: None,
            },
            created_at: 0,
            valid_until,
            batch: "b1".into(),
            state,
        }
    }

    #[test]
    fn codes_use_the_alphabet_and_need_enough_bytes() {
        let bytes: Vec<u8> = (0..=255).collect();
        let code = code_from_random(&bytes).unwrap();
        assert_eq!(code, "23456789AB");
        assert!(code_from_random(&bytes[..5]).is_none());
        // Bytes at or above 248 are skipped, not folded (no bias).
        assert!(code_from_random(&[250; 64]).is_none());
    }

    #[test]
    fn redemption_rules() {
        let mac = Mac([2, 0, 0, 0, 0, 9]);
        let unused = voucher(VoucherState::Unused, Some(100));
        assert!(check(Some(&unused), 99).is_ok());
        assert_eq!(check(Some(&unused), 100), Err(Refusal::Expired));
        assert_eq!(check(None, 0), Err(Refusal::Unknown));
        let used = redeemed(&unused, mac, 4, 50);
        assert_eq!(check(Some(&used), 60), Err(Refusal::Used));
        let revoked = voucher(VoucherState::Revoked { at: 3 }, None);
        assert_eq!(check(Some(&revoked), 4), Err(Refusal::Revoked));
        assert_eq!(normalise(" abcd-efgh 23"), "ABCDEFGH23");
        // A night package's voucher works only inside its window (01:00-02:00 UTC here).
        let mut night = voucher(VoucherState::Unused, None);
        night.terms.window = Some(crate::core::window::Window {
            start: 60,
            end: 120,
            days: crate::core::window::ALL_DAYS,
            utc_offset: 0,
        });
        assert_eq!(check(Some(&night), 3599), Err(Refusal::Closed));
        assert!(check(Some(&night), 3600).is_ok());
        assert_eq!(check(Some(&night), 7200), Err(Refusal::Closed));
    }

    #[test]
    fn prefixes_and_display() {
        assert_eq!(normalise_prefix(" cafe ").as_deref(), Some("CAFE"));
        assert_eq!(normalise_prefix("").as_deref(), Some(""));
        assert_eq!(normalise_prefix("<b>"), None);
        assert_eq!(normalise_prefix("TOOLONGXX"), None);
        assert_eq!(display("ABCDEFGH23"), "ABCDE-FGH23");
        assert_eq!(display("CAFEABCDEFGH23"), "CAFE-ABCDE-FGH23");
        assert_eq!(normalise(&display("CAFEABCDEFGH23")), "CAFEABCDEFGH23");
        assert_eq!(display("AB"), "AB");
    }
}
