//! The money state machine: a payment's record, the transitions a gateway's answer causes, and
//! the polling schedule. Pure: functions take `now` and return the new record. Also declares the
//! `PaymentGateway` trait, the seam to Daraja (or the simulator); gateways are called only from
//! the background worker, never from an HTTP handler and never under a lock.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::core::daraja::pull::PullTxn;
use crate::core::locks::{read, write};
use crate::core::model::{Mac, Money, Phone};
pub(crate) use crate::core::provider::NoGateway;
#[cfg(feature = "airtel")]
use crate::core::provider::Provider;
use crate::core::sessions::Terms;
use crate::core::time::Timestamp;

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
    pub(crate) fn is_open(self) -> bool {
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
    /// Classifies an STK ResultCode (docs/daraja.md, Result codes).
    pub(crate) fn from_result_code(code: i64) -> Decline {
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
    /// What Daraja's callback claimed, kept as evidence once the payment is final. A callback
    /// never settles a payment by itself (see `confirmations`).
    #[serde(default)]
    pub callback: Option<CallbackHint>,
    /// The wallet that prompted; absent (M-Pesa) in records older than Airtel, and in builds
    /// without Airtel (`Payment::provider`).
    #[cfg(feature = "airtel")]
    #[serde(default, skip_serializing_if = "Provider::is_mpesa")]
    pub provider: Provider,
}

/// Characters of a payment's move code: the start of its token, shown on the paid payment's
/// page, which only the paying device knows (its URL carries the whole token). 40 bits; with the
/// paying phone number and the move limits, out of a guesser's reach.
pub const MOVE_CODE_LEN: usize = 10;

/// The move code of a payment token, as the guest reads it (upper case).
pub fn move_code(token: &str) -> String {
    token
        .get(..MOVE_CODE_LEN)
        .unwrap_or("")
        .to_ascii_uppercase()
}

/// The code that adds another device to a paid purchase of a package for several devices
/// (`option devices`), entered in the voucher box: a voucher code (`vouchers::CODE_LEN`
/// symbols) drawn from the token's bytes after those of the move code, so that knowing one
/// tells nothing of the other (sharing it with a family does not give away the move). None in
/// the (about one in ten million) case where the bytes run out.
pub fn share_code(token: &str) -> Option<String> {
    let bytes = crate::core::token::unhex(token.get(MOVE_CODE_LEN..)?)?;
    crate::core::vouchers::code_from_random(&bytes)
}

/// A typed move code as the token prefix it stands for, if it has the shape of one (spaces and
/// dashes ignored, any case).
pub fn parse_move_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect::<String>()
        .to_ascii_lowercase();
    (code.len() == MOVE_CODE_LEN && code.bytes().all(|b| b.is_ascii_hexdigit())).then_some(code)
}

/// A callback that matched this payment (our CheckoutRequestID, right phone, enough money):
/// a hint that makes lango query at once. Only the query's answer settles the payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackHint {
    pub result_code: i64,
    pub receipt: Option<String>,
    pub amount: Option<Money>,
    pub at: Timestamp,
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
    /// Where Daraja should POST the result: the owner's public URL with lango's secret path, or
    /// a placeholder that goes nowhere when the router is not reachable from outside.
    pub callback_url: String,
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
    /// Daraja answered with a server error: try again later.
    Unavailable(String),
    /// Daraja refused the request for its rate limits (`500.003.02` Spike Arrest, `500.003.03`
    /// Quota Violation): nothing was done; every query waits (`core::pacing::Throttle`).
    Throttled(String),
    /// No answer at all, and the request certainly did not reach Daraja: connection refused,
    /// TLS refused, timeout while connecting. Safe to send again.
    Transport(String),
    /// The request was sent but no answer came back (timeout while waiting, connection reset):
    /// Daraja may have acted on it. A push in this state must not be sent again.
    Unanswered(String),
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatewayError::Refused { message, .. } => write!(f, "refused: {message}"),
            GatewayError::Merchant(m) => write!(f, "merchant account problem: {m}"),
            GatewayError::Unavailable(m) => write!(f, "gateway unavailable: {m}"),
            GatewayError::Throttled(m) => write!(f, "gateway rate limit: {m}"),
            GatewayError::Transport(m) => write!(f, "cannot reach gateway: {m}"),
            GatewayError::Unanswered(m) => write!(f, "no answer from gateway: {m}"),
        }
    }
}

/// One line of the owner's "Test M-Pesa connection" report. Never carries a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckStep {
    pub what: String,
    pub ok: bool,
    pub detail: String,
}

/// The seam to a mobile-money provider. Blocking; called only from background threads.
pub trait PaymentGateway: Send + Sync {
    fn stk_push(&self, push: &StkPush) -> Result<StkAccepted, GatewayError>;
    fn stk_query(&self, checkout_id: &str) -> Result<StkOutcome, GatewayError>;
    /// Registers the shortcode for Pull Transactions (docs/daraja.md, Pull Transactions).
    fn pull_register(&self, _nominated: &str, _callback_url: &str) -> Result<(), GatewayError> {
        Err(GatewayError::Merchant(
            "this gateway has no Pull Transactions".into(),
        ))
    }
    /// One page of the shortcode's C2B transactions of the last 48 hours, from `offset`.
    fn pull_query(&self, _offset: u32) -> Result<Vec<PullTxn>, GatewayError> {
        Err(GatewayError::Merchant("no Pull Transactions here".into()))
    }
    /// A Dynamic QR code (docs/daraja.md, Dynamic QR): its PNG as a `data:` URI.
    #[cfg(feature = "mpesa-qr")]
    fn qr_generate(
        &self,
        _qr: &crate::core::daraja::qr::QrRequest,
    ) -> Result<String, GatewayError> {
        Err(GatewayError::Merchant("no Dynamic QR here".into()))
    }
    /// Tests the account without prompting anyone, and says which part is wrong.
    fn check(&self) -> Vec<CheckStep> {
        vec![CheckStep {
            what: "M-Pesa".into(),
            ok: false,
            detail: "this payment gateway cannot be tested".into(),
        }]
    }
}

/// A gateway that can be replaced while lango runs: the owner saves new M-Pesa credentials and
/// the next push (and "Test M-Pesa connection") uses them. Holds whatever keeps the current
/// gateway alive (the local simulator's server, in `environment 'simulator'`). A payment still
/// open when the account changes is queried through the new account.
pub struct SwitchGateway {
    current: std::sync::RwLock<(std::sync::Arc<dyn PaymentGateway>, Option<KeepAlive>)>,
}

/// Whatever must live as long as a gateway does.
pub(crate) type KeepAlive = Box<dyn std::any::Any + Send + Sync>;

impl SwitchGateway {
    pub fn new(gateway: std::sync::Arc<dyn PaymentGateway>) -> SwitchGateway {
        SwitchGateway {
            current: std::sync::RwLock::new((gateway, None)),
        }
    }

    /// Replaces the gateway; `keep` lives as long as it is current.
    pub fn set(&self, gateway: std::sync::Arc<dyn PaymentGateway>, keep: Option<KeepAlive>) {
        let mut current = write(&self.current);
        *current = (gateway, keep);
    }

    fn get(&self) -> std::sync::Arc<dyn PaymentGateway> {
        read(&self.current).0.clone()
    }
}

impl PaymentGateway for SwitchGateway {
    fn stk_push(&self, push: &StkPush) -> Result<StkAccepted, GatewayError> {
        self.get().stk_push(push)
    }
    fn stk_query(&self, checkout_id: &str) -> Result<StkOutcome, GatewayError> {
        self.get().stk_query(checkout_id)
    }
    fn pull_register(&self, nominated: &str, callback_url: &str) -> Result<(), GatewayError> {
        self.get().pull_register(nominated, callback_url)
    }
    fn pull_query(&self, offset: u32) -> Result<Vec<PullTxn>, GatewayError> {
        self.get().pull_query(offset)
    }
    #[cfg(feature = "mpesa-qr")]
    fn qr_generate(&self, qr: &crate::core::daraja::qr::QrRequest) -> Result<String, GatewayError> {
        self.get().qr_generate(qr)
    }
    fn check(&self) -> Vec<CheckStep> {
        self.get().check()
    }
}

/// How long lango keeps asking about a prompt before calling it expired. Daraja's prompt times out
/// on the phone after about a minute (1037); answers can lag well behind that (integrations stop
/// asking after 2-3 minutes; docs/daraja.md, Query).
pub(crate) const PROMPT_WINDOW_SECS: i64 = 180;

/// Seconds to wait before query number `attempt` (0-based). Starts quick because most guests
/// type their PIN within 10-30 s, then backs off so as not to trip Daraja's spike arrest.
pub(crate) fn poll_delay(attempt: u32) -> i64 {
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
                // Closed, not left open: an open payment would block the device's next try.
                next.state = PaymentState::Failed;
                next.decline = Some(Decline::Other);
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
pub(crate) fn expire_if_stale(payment: &Payment, now: Timestamp) -> Option<Payment> {
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

/// Daraja refuses the same amount to the same phone within two minutes (ResultCode 17,
/// docs/daraja.md, Limits): lango does not even try.
pub(crate) const SAME_AMOUNT_WINDOW_SECS: i64 = 120;
/// At most this many purchases started by one device within `DEVICE_WINDOW_SECS`: a script on
/// the guest Wi-Fi cannot spam prompts to other people's phones: every prompt costs its
/// recipient an interruption and the owner's Daraja budget.
pub(crate) const DEVICE_MAX_STARTS: usize = 5;
pub(crate) const DEVICE_WINDOW_SECS: i64 = 600;
/// At most this many prompts sent to one phone within `DEVICE_WINDOW_SECS`, from any device:
/// a guest cannot bomb someone else's phone with prompts by trying each package in turn.
pub(crate) const PHONE_MAX_PROMPTS: usize = 3;

/// Why a new STK push is not allowed now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitRefusal {
    /// This phone already has a prompt open (Daraja allows one per subscriber).
    PhoneBusy,
    /// The same phone was asked for the same amount less than two minutes ago.
    SameAmountTooSoon { wait_secs: i64 },
    /// This device started too many purchases recently.
    TooManyAttempts { wait_secs: i64 },
    /// This phone was sent `PHONE_MAX_PROMPTS` prompts recently.
    PhoneTooManyPrompts { wait_secs: i64 },
}

/// Pure: may `mac` start a push of `amount` to `phone` now? `open` are the payments still open,
/// `recent` those created in the last `DEVICE_WINDOW_SECS` (any state).
pub(crate) fn check_limits(
    open: &[Payment],
    recent: &[Payment],
    mac: Mac,
    phone: &Phone,
    amount: Money,
    now: Timestamp,
) -> Result<(), LimitRefusal> {
    if open.iter().any(|p| &p.phone == phone) {
        return Err(LimitRefusal::PhoneBusy);
    }
    // Only pushes Daraja acknowledged count towards its rule 17.
    let same = recent
        .iter()
        .filter(|p| &p.phone == phone && p.amount.major_ceil() == amount.major_ceil())
        .filter(|p| p.checkout_id.is_some() && now - p.created_at < SAME_AMOUNT_WINDOW_SECS)
        .map(|p| p.created_at)
        .max();
    if let Some(at) = same {
        return Err(LimitRefusal::SameAmountTooSoon {
            wait_secs: SAME_AMOUNT_WINDOW_SECS - (now - at),
        });
    }
    let prompted = recent
        .iter()
        .filter(|p| &p.phone == phone && p.checkout_id.is_some());
    if let Some(wait_secs) = window_full(prompted, PHONE_MAX_PROMPTS, now) {
        return Err(LimitRefusal::PhoneTooManyPrompts { wait_secs });
    }
    let mine = recent.iter().filter(|p| p.mac == mac);
    if let Some(wait_secs) = window_full(mine, DEVICE_MAX_STARTS, now) {
        return Err(LimitRefusal::TooManyAttempts { wait_secs });
    }
    Ok(())
}

/// Pure: when `max` of `payments` were created within the last `DEVICE_WINDOW_SECS`, the
/// seconds until the oldest of those `max` leaves the window; None while there is room.
fn window_full<'a>(
    payments: impl Iterator<Item = &'a Payment>,
    max: usize,
    now: Timestamp,
) -> Option<i64> {
    let mut times: Vec<Timestamp> = payments
        .filter(|p| now - p.created_at < DEVICE_WINDOW_SECS)
        .map(|p| p.created_at)
        .collect();
    if times.len() < max {
        return None;
    }
    times.sort_unstable();
    let oldest_that_counts = times[times.len() - max];
    Some(DEVICE_WINDOW_SECS - (now - oldest_that_counts))
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
                fair_kbit: None,
                window: None,
                devices: 1,
                idle_secs: None,
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
            callback: None,
            #[cfg(feature = "airtel")]
            provider: Default::default(),
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

#[cfg(test)]
mod limit_tests {
    use super::*;

    fn made(id: u64, mac: u8, phone: &str, amount: i64, at: Timestamp, acked: bool) -> Payment {
        Payment {
            id,
            token: format!("t{id}"),
            terms: Terms {
                package_id: "hour".into(),
                package_name: "1 Hour".into(),
                price: Money::from_major(amount),
                duration_secs: 3600,
                quota_bytes: None,
                rate_down_kbit: None,
                rate_up_kbit: None,
                fair_kbit: None,
                window: None,
                devices: 1,
                idle_secs: None,
            },
            amount: Money::from_major(amount),
            phone: Phone::parse(phone).unwrap(),
            mac: Mac([2, 0, 0, 0, 0, mac]),
            ip: None,
            state: PaymentState::Failed,
            checkout_id: acked.then(|| format!("ws_CO_{id}")),
            merchant_request_id: None,
            receipt: None,
            result_code: None,
            decline: None,
            created_at: at,
            updated_at: at,
            session_id: None,
            callback: None,
            #[cfg(feature = "airtel")]
            provider: Default::default(),
        }
    }

    #[test]
    fn three_prompts_per_phone_in_ten_minutes_from_any_device() {
        let phone = Phone::parse("0712345678").unwrap();
        // Three devices each had a prompt sent to the same phone, at 100, 250 and 400 s, for
        // three different amounts: a fourth prompt waits until the first is ten minutes old.
        let recent = [
            made(1, 1, "0712345678", 20, 100, true),
            made(2, 2, "0712345678", 50, 250, true),
            made(3, 3, "0712345678", 80, 400, true),
        ];
        assert_eq!(
            check_limits(
                &[],
                &recent,
                Mac([2, 0, 0, 0, 0, 4]),
                &phone,
                Money(10_000),
                500
            ),
            Err(LimitRefusal::PhoneTooManyPrompts { wait_secs: 200 })
        );
        assert_eq!(
            check_limits(
                &[],
                &recent,
                Mac([2, 0, 0, 0, 0, 4]),
                &phone,
                Money(10_000),
                700
            ),
            Ok(())
        );
        // A request Daraja never acknowledged reached no phone and does not count.
        let unsent = [
            made(1, 1, "0712345678", 20, 100, false),
            made(2, 2, "0712345678", 50, 250, true),
            made(3, 3, "0712345678", 80, 400, true),
        ];
        let other = Phone::parse("0722000000").unwrap();
        assert_eq!(
            check_limits(
                &[],
                &unsent,
                Mac([2, 0, 0, 0, 0, 4]),
                &phone,
                Money(10_000),
                500
            ),
            Ok(())
        );
        assert_eq!(
            check_limits(
                &[],
                &recent,
                Mac([2, 0, 0, 0, 0, 4]),
                &other,
                Money(10_000),
                500
            ),
            Ok(())
        );
    }

    #[test]
    fn one_open_prompt_per_phone() {
        let mut open = made(1, 1, "0712345678", 20, 100, true);
        open.state = PaymentState::Pending;
        let phone = Phone::parse("+254 712 345 678").unwrap();
        let mac = Mac([2, 0, 0, 0, 0, 9]);
        assert_eq!(
            check_limits(&[open], &[], mac, &phone, Money(2000), 100),
            Err(LimitRefusal::PhoneBusy)
        );
    }

    #[test]
    fn same_phone_and_amount_waits_two_minutes() {
        let phone = Phone::parse("0712345678").unwrap();
        let mac = Mac([2, 0, 0, 0, 0, 1]);
        let earlier = [made(1, 1, "0712345678", 20, 1000, true)];
        assert_eq!(
            check_limits(&[], &earlier, mac, &phone, Money(2000), 1030),
            Err(LimitRefusal::SameAmountTooSoon { wait_secs: 90 })
        );
        assert_eq!(
            check_limits(&[], &earlier, mac, &phone, Money(2000), 1120),
            Ok(())
        );
        assert_eq!(
            check_limits(&[], &earlier, mac, &phone, Money(5000), 1030),
            Ok(())
        );
        // A push Daraja never acknowledged does not count.
        let refused = [made(1, 1, "0712345678", 20, 1000, false)];
        assert_eq!(
            check_limits(&[], &refused, mac, &phone, Money(2000), 1030),
            Ok(())
        );
    }

    #[test]
    fn a_device_starts_at_most_five_purchases_in_ten_minutes() {
        let phone = Phone::parse("0799999999").unwrap();
        let mac = Mac([2, 0, 0, 0, 0, 1]);
        let recent: Vec<Payment> = (0..5)
            .map(|i| {
                made(
                    i,
                    1,
                    &format!("07123456{i:02}"),
                    20,
                    1000 + i as i64 * 10,
                    true,
                )
            })
            .collect();
        assert_eq!(
            check_limits(&[], &recent, mac, &phone, Money(2000), 1100),
            Err(LimitRefusal::TooManyAttempts { wait_secs: 500 })
        );
        let other = Mac([2, 0, 0, 0, 0, 2]);
        assert_eq!(
            check_limits(&[], &recent, other, &phone, Money(2000), 1100),
            Ok(())
        );
        assert_eq!(
            check_limits(&[], &recent, mac, &phone, Money(2000), 1600),
            Ok(())
        );
    }
}
