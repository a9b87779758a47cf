//! The Daraja simulator's state machine (docs/daraja.md, Simulator), pure: every method takes `now`,
//! randomness comes from a seeded generator, and callbacks are returned for the shell
//! (`simulator.rs`) to deliver. Endpoints: OAuth, STK Push with Daraja's validation order and
//! error envelopes, STK Push Query, and a control API under `/__sim/`. Fault switches reproduce
//! what goes wrong in practice: lost, duplicate, late and contradicting callbacks, a query stuck
//! on "being processed", 5xx answers, spike arrest, stalls and tokens that die early.
//! Everything marked [SIM] is a choice of this simulator, not a claim about
//! Daraja.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::daraja;
use crate::core::time::{daraja_timestamp, Timestamp};

/// An HTTP request as the simulator sees it.
#[derive(Clone, Debug, Default)]
pub struct SimRequest {
    pub method: String,
    /// Path and query string.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SimRequest {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        crate::core::http::header(&self.headers, name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// Hold the answer back this long (the stall fault). The shell sleeps; the core never does.
    pub stall_secs: u64,
}

impl SimResponse {
    pub(crate) fn json(status: u16, value: &Value) -> SimResponse {
        SimResponse {
            status,
            content_type: "application/json",
            body: value.to_string(),
            stall_secs: 0,
        }
    }
}

/// A Daraja error: HTTP status, `errorCode`, `errorMessage` (docs/daraja.md, Answers and errors).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SimError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl SimError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> SimError {
        SimError {
            status,
            code,
            message: message.into(),
        }
    }

    fn invalid(field: &str) -> SimError {
        SimError::new(400, "400.002.02", format!("Bad Request - Invalid {field}"))
    }
}

/// A PayBill number or a store number with its passkey and the tills under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merchant {
    pub shortcode: String,
    pub passkey: String,
    pub tills: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimSettings {
    pub consumer_key: String,
    pub consumer_secret: String,
    pub merchants: Vec<Merchant>,
    /// Seconds the simulated customer takes to type the PIN; negative: never. [SIM] (docs/daraja.md, Simulator, says
    /// 8-25 s; the doc's own sample took 39 s.)
    pub approve_after_secs: i64,
    /// No answer from the customer within this → 1037. [SIM default 60 s]
    pub prompt_timeout_secs: i64,
    /// A callback leaves this long after the prompt ends. [SIM; docs/daraja.md, Simulator: 1-5 s]
    pub callback_delay_secs: i64,
    /// A2: `expires_in` "3599".
    pub token_lifetime_secs: i64,
    /// Issuing a token revokes the previous one (the Authorization FAQ). [SIM option]
    pub revoke_previous_token: bool,
    /// Requests per second per API before `500.003.02 Spike Arrest`. [SIM]
    pub spike_limit_per_sec: u32,
    pub seed: u64,
}

impl SimSettings {
    /// The demo's account (matches `www/demo.conf`).
    pub fn demo(approve_after_secs: i64) -> SimSettings {
        SimSettings {
            consumer_key: "demo".into(),
            consumer_secret: "demo".into(),
            merchants: vec![Merchant {
                shortcode: "174379".into(),
                passkey: "demo-passkey".into(),
                tills: vec!["5123456".into()],
            }],
            approve_after_secs,
            prompt_timeout_secs: 60,
            callback_delay_secs: 1,
            token_lifetime_secs: 3599,
            revoke_previous_token: true,
            spike_limit_per_sec: 10,
            seed: 0x5eed_1a90,
        }
    }
}

/// Fault switches, each independent (docs/daraja.md, Simulator). Settable over `/__sim/faults`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Never deliver callbacks (S16, S30, S47).
    pub drop_callbacks: bool,
    /// Deliver each callback twice, 2 s apart (S28, S29, S48).
    pub duplicate_callbacks: bool,
    /// Deliver callbacks this many seconds after the prompt ends instead of at once.
    pub late_callback_secs: i64,
    /// Retry a delivery that got no 2xx this many times.
    pub retry_deliveries: u32,
    /// The callback reports the opposite of what happened: success with a receipt for a
    /// prompt that failed (a forged-looking success), 1032 for one that was paid.
    pub callback_contradicts: bool,
    /// The query reports 1032 for a paid prompt (the sandbox quirk of S35).
    pub query_contradicts: bool,
    /// The query says "being processed" whatever happened (S16 #13).
    pub query_stuck: bool,
    /// The next N API requests get `500 500.003.1001 Internal Server Error`.
    pub fail_next: u32,
    /// The next N API requests get a 503 HTML page (a proxy in front of Daraja).
    pub unavailable_next: u32,
    /// The next N API requests get `500.003.02 Spike Arrest Violation`.
    pub spike_next: u32,
    /// The next N API requests are answered only after `stall_secs`.
    pub stall_next: u32,
    pub stall_secs: u64,
    /// Callback Amount written `20.00` rather than `20`.
    pub amount_decimals: bool,
    /// Callback metadata includes `{"Name":"Balance"}` without a value.
    pub balance_item: bool,
    /// Query ResultDesc prefixed `[STK_CB - ]` (S27).
    pub stk_cb_prefix: bool,
}

/// What a simulated customer (or the control API) does with a prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Success,
    Cancel,
    WrongPin,
    Insufficient,
    Timeout,
    Expired,
    Lock,
    Rule17,
}

impl Action {
    pub fn parse(text: &str) -> Option<Action> {
        Some(match text {
            "success" => Action::Success,
            "cancel" => Action::Cancel,
            "wrong_pin" => Action::WrongPin,
            "insufficient" => Action::Insufficient,
            "timeout" => Action::Timeout,
            "expired" => Action::Expired,
            "lock" => Action::Lock,
            "rule17" => Action::Rule17,
            _ => return None,
        })
    }

    pub(crate) fn result_code(self) -> i64 {
        match self {
            Action::Success => 0,
            Action::Cancel => 1032,
            Action::WrongPin => 2001,
            Action::Insufficient => 1,
            Action::Timeout => 1037,
            Action::Expired => 1019,
            Action::Lock => 1001,
            Action::Rule17 => 17,
        }
    }
}

/// One STK prompt.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct StkSession {
    pub checkout_id: String,
    pub merchant_request_id: String,
    pub shortcode: String,
    pub phone: String,
    pub amount: i64,
    pub callback_url: String,
    pub created_at: Timestamp,
    /// The ResultCode the prompt ends with, and when.
    pub result: i64,
    pub resolve_at: Timestamp,
    pub receipt: String,
    scheduled: bool,
}

/// A callback to POST, and what became of it.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    pub id: u64,
    pub checkout_id: String,
    pub url: String,
    pub body: String,
    pub due: Timestamp,
    pub attempts: u32,
    /// Last HTTP status (0: no answer), if attempted.
    pub status: Option<u16>,
    pub dropped: bool,
    pub done: bool,
    in_flight: bool,
    retries_left: u32,
}

/// A push as the validation leaves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PushParams {
    pub shortcode: String,
    pub buy_goods: bool,
    pub amount: i64,
    pub phone: String,
    pub party_b: String,
    pub callback_url: String,
    pub account_reference: String,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ack {
    pub merchant_request_id: String,
    pub checkout_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum QueryAnswer {
    /// `500.001.1001 The transaction is being processed`.
    Pending,
    Final {
        code: i64,
        desc: String,
    },
}

/// Same phone and amount within this → 17 (docs/daraja.md, Limits).
const RULE17_SECS: i64 = 120;
/// Reference + description over this → 1025 (docs/daraja.md, Limits: prompt text budget). [SIM]
const PROMPT_TEXT_BUDGET: usize = 25;

pub(crate) struct SimCore {
    settings: SimSettings,
    faults: Faults,
    tokens: Vec<(String, Timestamp)>,
    sessions: Vec<StkSession>,
    last_push: HashMap<(String, i64), Timestamp>,
    /// Per API: (second, requests in it).
    spike: HashMap<&'static str, (Timestamp, u32)>,
    /// Requests refused with `500.003.02` for the spike limit, per API path.
    pub(crate) spike_refused: HashMap<&'static str, u32>,
    seq: u64,
    rng: u64,
    decline_next: Option<i64>,
    deliveries: Vec<Delivery>,
    /// Shortcodes registered for Pull Transactions.
    pull_registered: Vec<String>,
    till_payments: Vec<pull::TillPayment>,
    #[cfg(feature = "mpesa-qr")]
    qr_codes: Vec<qr::QrIssued>,
}

impl SimCore {
    pub fn new(settings: SimSettings) -> SimCore {
        let rng = settings.seed | 1;
        SimCore {
            settings,
            faults: Faults::default(),
            tokens: Vec::new(),
            sessions: Vec::new(),
            last_push: HashMap::new(),
            spike: HashMap::new(),
            spike_refused: HashMap::new(),
            seq: 0,
            rng,
            decline_next: None,
            deliveries: Vec::new(),
            pull_registered: Vec::new(),
            till_payments: Vec::new(),
            #[cfg(feature = "mpesa-qr")]
            qr_codes: Vec::new(),
        }
    }

    pub(crate) fn settings(&self) -> &SimSettings {
        &self.settings
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    /// The next prompt ends with this ResultCode, whatever the phone number says.
    pub fn decline_next(&mut self, code: i64) {
        self.decline_next = Some(code);
    }

    /// Every token dies now (the "Invalid Access Token mid-flow" fault).
    pub fn expire_tokens(&mut self) {
        self.tokens.clear();
    }

    pub fn sessions(&self) -> &[StkSession] {
        &self.sessions
    }

    pub fn deliveries(&self) -> &[Delivery] {
        &self.deliveries
    }

    /// The receipt M-Pesa issued for a checkout, once it is paid.
    pub fn receipt_for(&self, checkout_id: &str, now: Timestamp) -> Option<String> {
        let s = self.session(checkout_id)?;
        (s.result == 0 && now >= s.resolve_at).then(|| s.receipt.clone())
    }

    /// Ends an open prompt now with `action`. False if it is unknown or already over.
    pub(crate) fn resolve(&mut self, checkout_id: &str, action: Action, now: Timestamp) -> bool {
        match self
            .sessions
            .iter_mut()
            .find(|s| s.checkout_id == checkout_id && now < s.resolve_at)
        {
            Some(s) => {
                s.result = action.result_code();
                s.resolve_at = now;
                true
            }
            None => false,
        }
    }

    fn session(&self, checkout_id: &str) -> Option<&StkSession> {
        self.sessions.iter().find(|s| s.checkout_id == checkout_id)
    }

    fn merchant(&self, shortcode: &str) -> Option<&Merchant> {
        self.settings
            .merchants
            .iter()
            .find(|m| m.shortcode == shortcode)
    }
}

impl SimCore {
    // ---- identifiers (docs/daraja.md, Identifiers) ----

    /// 64 random bits for the identifiers a guest may see (CheckoutRequestIDs, MerchantRequestIDs,
    /// receipts, tokens): from the OS generator (`token::fill`), so that none can be predicted
    /// from an earlier one (issue 13). Only if the generator fails does the seeded xorshift64*
    /// stand in, so the simulator keeps answering.
    fn next_random(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        if crate::core::token::fill(&mut bytes).is_ok() {
            return u64::from_le_bytes(bytes);
        }
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn alphanumeric(&mut self, len: usize) -> String {
        const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| char::from(ALNUM[(self.next_random() % ALNUM.len() as u64) as usize]))
            .collect()
    }

    /// `2654-4b64-97ff-b827b542881d3130`: hex groups and trailing digits.
    fn request_id(&mut self) -> String {
        let r = self.next_random();
        let s = self.next_random();
        format!(
            "{:04x}-{:04x}-{:04x}-{:012x}{}",
            r & 0xffff,
            (r >> 16) & 0xffff,
            (r >> 32) & 0xffff,
            s & 0xffff_ffff_ffff,
            s >> 48 & 0x3fff
        )
    }

    /// A receipt in M-Pesa's shape: year letter, month letter, day symbol, then seven
    /// upper-case alphanumerics (docs/daraja.md, Identifiers).
    fn receipt(&mut self, now: Timestamp) -> String {
        const SYMBOLS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let stamp = daraja_timestamp(now);
        let number = |range: std::ops::Range<usize>| -> u32 {
            stamp.get(range).and_then(|t| t.parse().ok()).unwrap_or(1)
        };
        let (year, month, day) = (number(0..4), number(4..6), number(6..8));
        let year_letter = char::from(b'L' + (year.saturating_sub(2017) % 15) as u8);
        let month_letter = char::from(b'A' + (month.saturating_sub(1) % 12) as u8);
        let day_symbol = char::from(SYMBOLS[(day % 36) as usize]);
        let tail: String = (0..7)
            .map(|_| char::from(SYMBOLS[(self.next_random() % 36) as usize]))
            .collect();
        format!("{year_letter}{month_letter}{day_symbol}{tail}")
    }
}

/// A required string-or-number field that passes `valid`, as text; otherwise `Invalid <name>`.
fn field(body: &Value, name: &str, valid: impl Fn(&str) -> bool) -> Result<String, SimError> {
    let text = match body.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) if n.is_u64() => n.to_string(),
        _ => return Err(SimError::invalid(name)),
    };
    if text.trim().is_empty() || !valid(&text) {
        return Err(SimError::invalid(name));
    }
    Ok(text)
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn is_shortcode(text: &str) -> bool {
    is_digits(text) && (5..=7).contains(&text.len())
}

/// `^254(7|1)\d{8}$`
fn is_msisdn(text: &str) -> bool {
    is_digits(text) && text.len() == 12 && (text.starts_with("2547") || text.starts_with("2541"))
}

/// `YYYYMMDDHHmmss` and a real date and time.
fn is_timestamp(text: &str) -> bool {
    if text.len() != 14 || !is_digits(text) {
        return false;
    }
    let n = |r: std::ops::Range<usize>| text.get(r).and_then(|t| t.parse::<u32>().ok());
    let (Some(month), Some(day), Some(hour), Some(minute), Some(second)) =
        (n(4..6), n(6..8), n(8..10), n(10..12), n(12..14))
    else {
        return false;
    };
    (1..=12).contains(&month) && (1..=31).contains(&day) && hour < 24 && minute < 60 && second < 60
}

/// The usual ResultDesc of a ResultCode (docs/daraja.md, Result codes).
pub(crate) fn result_desc(code: i64) -> &'static str {
    match code {
        0 => "The service request is processed successfully.",
        1 => "The balance is insufficient for the transaction.",
        17 => "Rule limited.",
        1001 => "Unable to lock subscriber, a transaction is already in process for the current subscriber",
        1019 => "Transaction has expired.",
        1025 => "An error occurred while sending a push request.",
        1032 => "Request cancelled by user",
        1037 => "DS timeout user cannot be reached",
        2001 => "The initiator information is invalid.",
        2028 => "The request is not permitted according to product assignment.",
        _ => "The service request failed.",
    }
}

/// `DDMMYYYYHHMMSS` in East Africa Time, as in CheckoutRequestIDs.
fn ddmmyyyyhhmmss(now: Timestamp) -> String {
    let t = daraja_timestamp(now);
    match (t.get(0..4), t.get(4..6), t.get(6..8), t.get(8..14)) {
        (Some(y), Some(m), Some(d), Some(hms)) => format!("{d}{m}{y}{hms}"),
        _ => t,
    }
}

mod api;
mod callbacks;
pub mod pull;
#[cfg(feature = "mpesa-qr")]
pub mod qr;
mod state;
#[cfg(test)]
mod tests;
