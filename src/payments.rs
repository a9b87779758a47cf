//! The money state machine: a payment's record, the transitions a gateway's answer causes, and
//! the polling schedule. Pure: functions take `now` and return the new record. Also declares the
//! `PaymentGateway` trait, the seam to Daraja (or the simulator); gateways are called only from
//! the background worker, never from an HTTP handler and never under a lock.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::model::{Mac, Money, Phone};
use crate::sessions::Terms;
use crate::time::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentState {
    /// Recorded, STK push not yet acknowledged by the gateway.
    Initiating,
    /// The prompt is on the guest's phone; waiting for their PIN.
    Pending,
    /// Confirmed by the gateway; a session was granted in the same store transaction.
    Paid,
    /// Refused: wrong PIN, insufficient funds, gateway refused the push.
    Failed,
    /// The guest pressed Cancel.
    Cancelled,
    /// No final answer within the prompt's lifetime, or the phone could not be reached.
    Expired,
}

impl PaymentState {
    pub fn is_open(self) -> bool {
        matches!(self, PaymentState::Initiating | PaymentState::Pending)
    }
}

/// Why a payment did not complete, in terms a guest can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decline {
    Cancelled,
    TimedOut,
    WrongPin,
    InsufficientFunds,
    /// The phone is already in another M-Pesa session, or the same amount was just tried.
    Busy,
    /// Limits on the customer's account.
    Limit,
    /// The owner's M-Pesa account is misconfigured (shortcode, passkey, till vs PayBill).
    Merchant,
    /// Daraja was unreachable or failing for the whole window.
    Unavailable,
    Other,
}

impl Decline {
    /// Classifies an STK ResultCode (payments.md A5, "STK ResultCodes").
    pub fn from_result_code(code: i64) -> Decline {
        match code {
            1032 | 1031 => Decline::Cancelled,
            1037 | 1019 => Decline::TimedOut,
            2001 | 8006 => Decline::WrongPin,
            1 => Decline::InsufficientFunds,
            17 | 26 | 1001 => Decline::Busy,
            2..=8 => Decline::Limit,
            2028 => Decline::Merchant,
            _ => Decline::Other,
        }
    }

    fn final_state(self) -> PaymentState {
        match self {
            Decline::Cancelled => PaymentState::Cancelled,
            Decline::TimedOut => PaymentState::Expired,
            _ => PaymentState::Failed,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub id: u64,
    /// A long random token that names this payment in the guest's status URL. Never the id.
    pub token: String,
    pub terms: Terms,
    /// What was asked of the guest, in minor units (the package price, rounded up to whole
    /// shillings for Daraja).
    pub amount: Money,
    pub phone: Phone,
    pub mac: Mac,
    pub ip: Option<IpAddr>,
    pub state: PaymentState,
    pub checkout_id: Option<String>,
    pub merchant_request_id: Option<String>,
    pub receipt: Option<String>,
    pub result_code: Option<i64>,
    pub decline: Option<Decline>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub session_id: Option<u64>,
}

/// A gateway's answer to "how did this prompt end?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StkOutcome {
    /// The guest has not acted yet ("The transaction is being processed").
    Pending,
    /// ResultCode 0. The query API never carries a receipt or amount; a callback does.
    Paid {
        receipt: Option<String>,
        amount: Option<Money>,
    },
    /// Any other ResultCode.
    Declined { code: i64, decline: Decline },
}

/// An STK push as lango asks for it; the gateway adds the credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StkPush {
    pub phone: Phone,
    /// Whole shillings: Daraja refuses decimals.
    pub amount_major: i64,
    pub account_reference: String,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StkAccepted {
    pub merchant_request_id: String,
    pub checkout_id: String,
}

/// Why a gateway call failed, for callers that must decide between retrying, telling the guest
/// and alerting the owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatewayError {
    /// The guest's phone or the amount was refused before any prompt was sent.
    Refused { decline: Decline, message: String },
    /// The owner's credentials, shortcode or passkey are wrong.
    Merchant(String),
    /// Daraja answered with a server error or throttling: try again later.
    Unavailable(String),
    /// No answer at all: connection, TLS or timeout.
    Transport(String),
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatewayError::Refused { message, .. } => write!(f, "refused: {message}"),
            GatewayError::Merchant(m) => write!(f, "merchant account problem: {m}"),
            GatewayError::Unavailable(m) => write!(f, "gateway unavailable: {m}"),
            GatewayError::Transport(m) => write!(f, "cannot reach gateway: {m}"),
        }
    }
}

/// The seam to a mobile-money provider. Blocking; called only from background threads.
pub trait PaymentGateway: Send + Sync {
    fn stk_push(&self, push: &StkPush) -> Result<StkAccepted, GatewayError>;
    fn stk_query(&self, checkout_id: &str) -> Result<StkOutcome, GatewayError>;
}

/// The gateway when no usable M-Pesa account is configured: every push is refused with a
/// plain reason, so vouchers keep working and the owner sees why M-Pesa does not.
pub struct NoGateway {
    pub reason: String,
}

impl PaymentGateway for NoGateway {
    fn stk_push(&self, _push: &StkPush) -> Result<StkAccepted, GatewayError> {
        Err(GatewayError::Merchant(self.reason.clone()))
    }
    fn stk_query(&self, _checkout_id: &str) -> Result<StkOutcome, GatewayError> {
        Err(GatewayError::Merchant(self.reason.clone()))
    }
}

/// How long lango keeps asking about a prompt before calling it expired. Daraja's prompt times out
/// on the phone after about a minute (1037); answers can lag well behind that (payments.md A6
/// polling guidance: stop after 2-3 minutes).
pub const PROMPT_WINDOW_SECS: i64 = 180;

/// Seconds to wait before query number `attempt` (0-based). Starts quick because most guests
/// type their PIN within 10-30 s, then backs off so as not to trip Daraja's spike arrest.
pub fn poll_delay(attempt: u32) -> i64 {
    const DELAYS: [i64; 8] = [4, 3, 3, 5, 5, 10, 10, 15];
    DELAYS.get(attempt as usize).copied().unwrap_or(20)
}

/// What the store must do after a gateway answer. The caller applies it in one write
/// transaction, re-reading the payment inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// Nothing to record (still pending, or the payment is already final).
    NoChange,
    /// Mark paid and grant the terms to the payment's device.
    Paid { payment: Payment },
    /// A final refusal.
    Closed { payment: Payment },
    /// The answer cannot be accepted (an amount below the price, a receipt already used):
    /// record it for the owner, grant nothing.
    Rejected { payment: Payment, reason: String },
}

/// Pure: applies a gateway answer to a payment. `receipt_used_elsewhere` tells whether the
/// receipt in the answer already belongs to another payment.
pub fn settle(
    payment: &Payment,
    outcome: &StkOutcome,
    receipt_used_elsewhere: bool,
    now: Timestamp,
) -> Settlement {
    if payment.state != PaymentState::Pending {
        // Paid is final; a late failure after success (or a duplicate) never downgrades it.
        // A late success after an expiry is handled: Expired can still become Paid.
        if !(payment.state == PaymentState::Expired && matches!(outcome, StkOutcome::Paid { .. })) {
            return Settlement::NoChange;
        }
    }
    let mut next = payment.clone();
    next.updated_at = now;
    match outcome {
        StkOutcome::Pending => Settlement::NoChange,
        StkOutcome::Paid { receipt, amount } => {
            if let Some(amount) = amount {
                if *amount < payment.amount {
                    next.state = PaymentState::Failed;
                    next.decline = Some(Decline::Other);
                    return Settlement::Rejected {
                        payment: next,
                        reason: format!("paid {amount} but the price is {}", payment.amount),
                    };
                }
            }
            if receipt_used_elsewhere {
                return Settlement::Rejected {
                    payment: next,
                    reason: format!(
                        "receipt {} already credited to another payment",
                        receipt.as_deref().unwrap_or("?")
                    ),
                };
            }
            next.state = PaymentState::Paid;
            next.result_code = Some(0);
            if receipt.is_some() {
                next.receipt = receipt.clone();
            }
            Settlement::Paid { payment: next }
        }
        StkOutcome::Declined { code, decline } => {
            next.state = decline.final_state();
            next.result_code = Some(*code);
            next.decline = Some(*decline);
            Settlement::Closed { payment: next }
        }
    }
}

/// Pure: a pending payment whose window has passed without a final answer.
pub fn expire_if_stale(payment: &Payment, now: Timestamp) -> Option<Payment> {
    if payment.state.is_open() && now >= payment.created_at + PROMPT_WINDOW_SECS {
        let mut next = payment.clone();
        next.state = PaymentState::Expired;
        next.decline = Some(if payment.state == PaymentState::Initiating {
            Decline::Unavailable
        } else {
            Decline::TimedOut
        });
        next.updated_at = now;
        return Some(next);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> Payment {
        Payment {
            id: 1,
            token: "t".into(),
            terms: Terms {
                package_id: "hour".into(),
                package_name: "1 Hour".into(),
                price: Money(2000),
                duration_secs: 3600,
                quota_bytes: None,
                rate_down_kbit: None,
                rate_up_kbit: None,
            },
            amount: Money(2000),
            phone: Phone::parse("0712345678").unwrap(),
            mac: Mac([2, 0, 0, 0, 0, 1]),
            ip: None,
            state: PaymentState::Pending,
            checkout_id: Some("ws_CO_1".into()),
            merchant_request_id: None,
            receipt: None,
            result_code: None,
            decline: None,
            created_at: 1000,
            updated_at: 1000,
            session_id: None,
        }
    }

    #[test]
    fn paid_is_final_and_never_downgraded() {
        let p = pending();
        let paid = StkOutcome::Paid {
            receipt: Some("UEULA5XW6C".into()),
            amount: None,
        };
        let Settlement::Paid { payment } = settle(&p, &paid, false, 1010) else {
            panic!("expected paid")
        };
        assert_eq!(payment.receipt.as_deref(), Some("UEULA5XW6C"));
        let cancel = StkOutcome::Declined {
            code: 1032,
            decline: Decline::Cancelled,
        };
        assert_eq!(settle(&payment, &cancel, false, 1020), Settlement::NoChange);
        assert_eq!(settle(&payment, &paid, false, 1020), Settlement::NoChange);
    }

    #[test]
    fn underpayment_and_replayed_receipt_grant_nothing() {
        let p = pending();
        let low = StkOutcome::Paid {
            receipt: Some("R1".into()),
            amount: Some(Money(1900)),
        };
        assert!(matches!(
            settle(&p, &low, false, 1),
            Settlement::Rejected { .. }
        ));
        let replay = StkOutcome::Paid {
            receipt: Some("R1".into()),
            amount: Some(Money(2000)),
        };
        assert!(matches!(
            settle(&p, &replay, true, 1),
            Settlement::Rejected { .. }
        ));
    }

    #[test]
    fn declines_map_to_states() {
        let p = pending();
        for (code, state) in [
            (1032, PaymentState::Cancelled),
            (1037, PaymentState::Expired),
            (2001, PaymentState::Failed),
            (1, PaymentState::Failed),
        ] {
            let o = StkOutcome::Declined {
                code,
                decline: Decline::from_result_code(code),
            };
            let Settlement::Closed { payment } = settle(&p, &o, false, 5) else {
                panic!("{code}")
            };
            assert_eq!(payment.state, state, "{code}");
        }
        assert_eq!(
            settle(&p, &StkOutcome::Pending, false, 5),
            Settlement::NoChange
        );
    }

    #[test]
    fn stale_payments_expire_and_late_success_still_counts() {
        let p = pending();
        assert_eq!(expire_if_stale(&p, 1000 + PROMPT_WINDOW_SECS - 1), None);
        let expired = expire_if_stale(&p, 1000 + PROMPT_WINDOW_SECS).unwrap();
        assert_eq!(expired.state, PaymentState::Expired);
        let paid = StkOutcome::Paid {
            receipt: None,
            amount: None,
        };
        assert!(matches!(
            settle(&expired, &paid, false, 2000),
            Settlement::Paid { .. }
        ));
    }
}
