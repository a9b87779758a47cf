//! An in-process Daraja sandbox: STK prompts that a simulated customer approves a few seconds
//! after the push, or declines when told to. It implements `PaymentGateway` directly, so the
//! demo and the tests exercise the whole purchase path without any network. Its behaviour
//! follows payments.md A12: the query answers "being processed" until the customer acts, then
//! the final ResultCode, never a receipt; one open prompt per phone; the same phone and amount
//! within two minutes is rule-limited (17).
//!
//! How a simulated customer answers depends on the last four digits of the phone number:
//! `1032` cancels, `1037` never answers (timeout), `2001` types a wrong PIN, `0001` has
//! insufficient funds; any other number pays. `decline_next` overrides this once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::model::{Money, Phone};
use crate::payments::{Decline, GatewayError, PaymentGateway, StkAccepted, StkOutcome, StkPush};
use crate::time::{Clock, Timestamp};

/// The customer's phone shows the prompt for this long before Daraja gives up (1037).
const PROMPT_TIMEOUT_SECS: i64 = 60;

/// Daraja refuses a push for the same phone and amount within this window (ResultCode 17).
const RULE17_WINDOW_SECS: i64 = 120;

struct SimSession {
    phone: Phone,
    amount_major: i64,
    created_at: Timestamp,
    /// ResultCode the customer will produce, and when.
    result: i64,
    resolve_at: Timestamp,
    receipt: String,
}

struct SimState {
    sessions: HashMap<String, SimSession>,
    last_push: HashMap<(String, i64), Timestamp>,
    seq: u64,
    decline_next: Option<i64>,
}

pub struct Simulator {
    clock: Arc<dyn Clock>,
    /// How long the simulated customer takes to type the PIN.
    approve_after_secs: i64,
    state: Mutex<SimState>,
}

impl Simulator {
    pub fn new(clock: Arc<dyn Clock>, approve_after_secs: i64) -> Simulator {
        Simulator {
            clock,
            approve_after_secs,
            state: Mutex::new(SimState {
                sessions: HashMap::new(),
                last_push: HashMap::new(),
                seq: 0,
                decline_next: None,
            }),
        }
    }

    /// Makes the next prompt end with this ResultCode (1032 cancel, 2001 wrong PIN, ...).
    pub fn decline_next(&self, result_code: i64) {
        if let Ok(mut state) = self.state.lock() {
            state.decline_next = Some(result_code);
        }
    }

    /// The receipt the simulated M-Pesa issued for a checkout, once paid (what the customer's
    /// confirmation SMS would carry).
    pub fn receipt_for(&self, checkout_id: &str) -> Option<String> {
        let state = self.state.lock().ok()?;
        let s = state.sessions.get(checkout_id)?;
        (s.result == 0 && self.clock.now() >= s.resolve_at).then(|| s.receipt.clone())
    }

    /// What the simulated customer does, from the phone number's last four digits.
    fn planned_result(phone: &Phone) -> i64 {
        let s = phone.as_str();
        match &s[s.len().saturating_sub(4)..] {
            "1032" => 1032,
            "1037" => 1037,
            "2001" => 2001,
            "0001" => 1,
            _ => 0,
        }
    }
}

/// A receipt in M-Pesa's shape (payments.md A11): year letter, month letter, day symbol, then
/// seven upper-case alphanumerics.
fn receipt(now: Timestamp, seq: u64) -> String {
    const SYMBOLS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let iso = crate::time::iso8601(now);
    let year: u32 = iso[..4].parse().unwrap_or(2026);
    let month: u32 = iso[5..7].parse().unwrap_or(1);
    let day: u32 = iso[8..10].parse().unwrap_or(1);
    let year_letter = char::from(b'L' + (year.saturating_sub(2017) % 15) as u8);
    let month_letter = char::from(b'A' + (month.saturating_sub(1) % 12) as u8);
    let day_symbol = char::from(SYMBOLS[(day % 36) as usize]);
    let mut rand = [0u8; 7];
    let _ = getrandom::fill(&mut rand);
    let tail: String = rand
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let mix = u64::from(*b) ^ (seq >> (i * 5));
            char::from(SYMBOLS[(mix % 36) as usize])
        })
        .collect();
    format!("{year_letter}{month_letter}{day_symbol}{tail}")
}

impl PaymentGateway for Simulator {
    fn stk_push(&self, push: &StkPush) -> Result<StkAccepted, GatewayError> {
        let now = self.clock.now();
        let mut state = self
            .state
            .lock()
            .map_err(|_| GatewayError::Unavailable("simulator".into()))?;
        if push.amount_major < 1 {
            return Err(GatewayError::Refused {
                decline: Decline::Other,
                message: "Bad Request - Invalid Amount".into(),
            });
        }
        let open = state.sessions.values().any(|s| {
            s.phone == push.phone && now < s.resolve_at && now < s.created_at + PROMPT_TIMEOUT_SECS
        });
        if open {
            return Err(GatewayError::Refused {
                decline: Decline::Busy,
                message: "Unable to lock subscriber, a transaction is already in process for the \
                          current subscriber"
                    .into(),
            });
        }
        state.seq += 1;
        let seq = state.seq;
        let key = (push.phone.as_str().to_string(), push.amount_major);
        let rule17 = state
            .last_push
            .get(&key)
            .is_some_and(|t| now - t < RULE17_WINDOW_SECS);
        state.last_push.insert(key, now);
        let planned = state
            .decline_next
            .take()
            .unwrap_or_else(|| Simulator::planned_result(&push.phone));
        let (result, resolve_at) = match (rule17, planned) {
            (true, _) => (17, now + 1),
            (false, 1037) => (1037, now + PROMPT_TIMEOUT_SECS),
            (false, code) => (code, now + self.approve_after_secs),
        };
        let subscriber = &push.phone.as_str()[3..];
        let checkout_id = format!("ws_CO_{}{:03}{subscriber}", ddmmyyyyhhmmss(now), seq % 1000);
        let merchant_request_id = format!(
            "{:04x}-{:04x}-{:04x}-{seq}",
            now & 0xffff,
            seq,
            now >> 16 & 0xffff
        );
        state.sessions.insert(
            checkout_id.clone(),
            SimSession {
                phone: push.phone.clone(),
                amount_major: push.amount_major,
                created_at: now,
                result,
                resolve_at,
                receipt: receipt(now, seq),
            },
        );
        log::info!(
            "daraja simulator: STK prompt to {} for {} (customer will answer {} in {}s)",
            push.phone.masked(),
            Money::from_major(push.amount_major),
            result,
            resolve_at - now
        );
        Ok(StkAccepted {
            merchant_request_id,
            checkout_id,
        })
    }

    fn stk_query(&self, checkout_id: &str) -> Result<StkOutcome, GatewayError> {
        let now = self.clock.now();
        let state = self
            .state
            .lock()
            .map_err(|_| GatewayError::Unavailable("simulator".into()))?;
        let Some(session) = state.sessions.get(checkout_id) else {
            return Err(GatewayError::Refused {
                decline: Decline::Other,
                message: "Bad Request - Invalid CheckoutRequestID".into(),
            });
        };
        if now < session.resolve_at {
            return Ok(StkOutcome::Pending);
        }
        let _ = session.amount_major;
        Ok(match session.result {
            0 => StkOutcome::Paid {
                receipt: None,
                amount: None,
            },
            code => StkOutcome::Declined {
                code,
                decline: Decline::from_result_code(code),
            },
        })
    }
}

/// `DDMMYYYYHHMMSS` in East Africa Time, as in CheckoutRequestIDs.
fn ddmmyyyyhhmmss(now: Timestamp) -> String {
    let t = crate::time::daraja_timestamp(now);
    format!("{}{}{}{}", &t[6..8], &t[4..6], &t[0..4], &t[8..14])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_encode_the_date() {
        // 2026-05-30: U (2026), E (May), U (30).
        let r = receipt(1_780_142_400, 7);
        assert_eq!(&r[..3], "UEU");
        assert_eq!(r.len(), 10);
        assert!(r
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
    }
}
