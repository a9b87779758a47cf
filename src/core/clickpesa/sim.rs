//! The ClickPesa simulator's state machine (docs/tz-aggregator.md, Simulator), pure, built from
//! ClickPesa's public OpenAPI documents: `generate-token` with the `client-id` and `api-key`
//! headers and its tokens' lifetime, the USSD push with ClickPesa's checks (a live token, the
//! checksum when the application has a key, the amount as a string, TZS, an alphanumeric order
//! reference used once, a Tanzanian number of a network it serves), the payment query by order
//! reference (a list; 404 for an unknown reference), the customer's answer over time, the
//! signed webhook each final payment posts, and the fault switches. Requests and answers are
//! `daraja_sim::{SimRequest, SimResponse}`, so the Daraja simulator's server serves it
//! (`adapters::clickpesa_sim`). Features `simulator` and `clickpesa`.

use serde_json::{json, Value};

use crate::core::daraja_sim::{SimRequest, SimResponse};
use crate::core::time::{iso8601, Timestamp};

use super::{checksum, checksum_ok, CURRENCY, PUSH_PATH, QUERY_PATH, TOKEN_PATH};

/// How a simulated customer ends a prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Pay,
    /// Fails with this message (the wallet's words: "Insufficient balance").
    Fail(&'static str),
    /// Never answers: processing, then failed as timed out after `prompt_secs`.
    NoAnswer,
    /// The query says this many shillings were collected, fewer than asked.
    PayShort(i64),
}

/// The switches a test turns.
#[derive(Clone, Debug, Default)]
pub struct ClickPesaFaults {
    /// The next push's customer ends so (else: by the number's last digits, see `fate_of`).
    pub next: Option<Fate>,
    /// The next this-many calls after the token get HTTP 429.
    pub rate_limit: u32,
    /// The query says `PENDING` this many times after the customer has answered.
    pub pending: u32,
    /// The next push prompts the customer but is answered HTTP 500.
    pub internal_error: bool,
    /// The next push prompts the customer but is answered only after this many seconds.
    pub stall_push_secs: u64,
}

/// The simulator's application and pace.
#[derive(Clone, Debug)]
pub struct ClickPesaSimSettings {
    pub client_id: String,
    pub api_key: String,
    /// The application's checksum key, when checksums are on: pushes must carry one, webhooks
    /// carry one.
    pub checksum_key: Option<String>,
    /// A token's lifetime (ClickPesa: an hour).
    pub token_secs: i64,
    /// The customer's time to answer the prompt.
    pub answer_secs: i64,
    /// How long an unanswered prompt stays processing before it fails as timed out.
    pub prompt_secs: i64,
    /// Where final payments are POSTed (the webhook URL set on ClickPesa's dashboard).
    pub callback_url: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Txn {
    pub order_reference: String,
    pub phone: String,
    /// Whole shillings asked.
    pub amount: i64,
    pub channel: &'static str,
    pub created: Timestamp,
    pub fate: Fate,
    /// ClickPesa's id of the payment.
    pub id: String,
    /// The wallet's reference, once paid (the receipt on the customer's SMS).
    pub payment_reference: String,
    notified: bool,
}

pub struct ClickPesaSimCore {
    settings: ClickPesaSimSettings,
    tokens: Vec<(String, Timestamp)>,
    txns: Vec<Txn>,
    faults: ClickPesaFaults,
    serial: u64,
    outbox: Vec<(u64, String, String)>,
    /// Answers refused for the rate limit.
    pub throttled: u32,
    /// Calls refused for a missing, unknown or expired token.
    pub refused_tokens: u32,
    /// Tokens issued.
    pub tokens_issued: u32,
    /// Payment queries answered.
    pub queries: u32,
}

/// A simulated customer by the number's last digits: `…0006` has no money, `…0005` cancels,
/// `…0009` never answers; any other pays.
pub fn fate_of(phone: &str) -> Fate {
    match phone.get(phone.len().saturating_sub(4)..) {
        Some("0006") => Fate::Fail("Insufficient balance"),
        Some("0005") => Fate::Fail("Transaction cancelled by user"),
        Some("0009") => Fate::NoAnswer,
        _ => Fate::Pay,
    }
}

/// The channel ClickPesa routes a `255…` number to, or `None` for a number it does not take.
fn channel_of(phone: &str) -> Option<&'static str> {
    if phone.len() != 12 || !phone.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match phone.strip_prefix("255")?.get(..2)? {
        "65" | "67" | "71" | "77" => Some("TIGO-PESA"),
        "61" | "62" => Some("HALOPESA"),
        "68" | "69" | "78" => Some("AIRTEL-MONEY"),
        "74" | "75" | "76" | "79" => Some("M-PESA"),
        _ => None,
    }
}

fn answer(status: u16, body: Value) -> SimResponse {
    SimResponse::json(status, &body)
}

fn said(status: u16, message: &str) -> SimResponse {
    answer(status, json!({ "message": message }))
}

impl ClickPesaSimCore {
    pub fn new(settings: ClickPesaSimSettings) -> ClickPesaSimCore {
        ClickPesaSimCore {
            settings,
            tokens: Vec::new(),
            txns: Vec::new(),
            faults: ClickPesaFaults::default(),
            serial: 0,
            outbox: Vec::new(),
            throttled: 0,
            refused_tokens: 0,
            tokens_issued: 0,
            queries: 0,
        }
    }

    pub fn faults_mut(&mut self) -> &mut ClickPesaFaults {
        &mut self.faults
    }

    pub fn set_callback_url(&mut self, url: Option<String>) {
        self.settings.callback_url = url;
    }

    /// Every token issued so far stops working (ClickPesa answers 401).
    pub fn expire_tokens(&mut self) {
        self.tokens.clear();
    }

    pub fn txns(&self) -> &[Txn] {
        &self.txns
    }

    pub fn handle(&mut self, request: &SimRequest, now: Timestamp) -> SimResponse {
        self.finish_due(now);
        let path = request.path.as_str();
        if request.method == "POST" && path == TOKEN_PATH {
            return self.token(request, now);
        }
        let live = request.header("Authorization").is_some_and(|auth| {
            self.tokens
                .iter()
                .any(|(t, until)| *auth == format!("Bearer {t}") && now < *until)
        });
        if !live {
            self.refused_tokens += 1;
            return said(401, "Unauthorized");
        }
        if self.faults.rate_limit > 0 {
            self.faults.rate_limit -= 1;
            self.throttled += 1;
            return said(429, "Too Many Requests");
        }
        match request.method.as_str() {
            "POST" if path == PUSH_PATH => {
                let mut answer = self.push(&request.body, now);
                answer.stall_secs = std::mem::take(&mut self.faults.stall_push_secs);
                answer
            }
            "GET" if path.starts_with(QUERY_PATH) => self.query(&path[QUERY_PATH.len()..], now),
            _ => said(404, "Not Found"),
        }
    }

    fn token(&mut self, request: &SimRequest, now: Timestamp) -> SimResponse {
        let s = &self.settings;
        let (Some(id), Some(key)) = (request.header("client-id"), request.header("api-key")) else {
            return said(401, "Unauthorized");
        };
        if id != s.client_id {
            return said(403, "Invalid client details");
        }
        if key != s.api_key {
            return said(403, "Invalid or Expired API-Key");
        }
        self.serial += 1;
        self.tokens_issued += 1;
        let token = format!(
            "eyJsim.{:08x}.{}",
            self.serial * 2_654_435_761 % (1 << 32),
            now
        );
        self.tokens.push((token.clone(), now + s.token_secs));
        answer(
            200,
            json!({"success": true, "token": format!("Bearer {token}")}),
        )
    }

    fn push(&mut self, body: &[u8], now: Timestamp) -> SimResponse {
        let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        if let Some(key) = &self.settings.checksum_key {
            if !checksum_ok(key, &body) {
                return said(400, "Invalid checksum");
            }
        }
        let text = |name: &str| body[name].as_str().unwrap_or("").to_string();
        let reference = text("orderReference");
        let phone = text("phoneNumber");
        // The amount is a string (the OpenAPI schema), whole shillings.
        let amount = body["amount"]
            .as_str()
            .filter(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|a| a.parse::<i64>().ok())
            .unwrap_or(0);
        if amount < 1 {
            return said(400, "Invalid amount");
        }
        if text("currency") != CURRENCY {
            return said(400, "Unsupported currency");
        }
        if reference.is_empty() || !reference.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return said(
                400,
                "Invalid Order Reference, should only contain alphanumeric characters and cannot \
                 be blank",
            );
        }
        let Some(channel) = channel_of(&phone) else {
            return said(400, "Invalid / unsupported phone number");
        };
        if self.txns.iter().any(|t| t.order_reference == reference) {
            return said(
                409,
                &format!("Order reference {reference} already used: Create a different reference"),
            );
        }
        let fate = self.faults.next.take().unwrap_or_else(|| fate_of(&phone));
        self.serial += 1;
        let id = format!("{reference}LCP{:05}", self.serial);
        self.txns.push(Txn {
            order_reference: reference.clone(),
            phone,
            amount,
            channel,
            created: now,
            fate,
            id: id.clone(),
            payment_reference: format!("TZ{:08}{}", self.serial * 7919, now % 1000),
            notified: false,
        });
        if std::mem::take(&mut self.faults.internal_error) {
            return said(500, "Error validating fee, try again later");
        }
        answer(
            200,
            json!({"id": id, "status": "PROCESSING", "channel": channel,
                   "orderReference": reference, "collectedAmount": amount.to_string(),
                   "collectedCurrency": CURRENCY, "createdAt": iso8601(now)}),
        )
    }

    /// A payment's status at `now`, and the wallet's words when it failed.
    fn state(&self, txn: &Txn, now: Timestamp) -> (&'static str, &'static str) {
        let s = &self.settings;
        match txn.fate {
            _ if now < txn.created + s.answer_secs => ("PROCESSING", ""),
            Fate::Pay | Fate::PayShort(_) => ("SUCCESS", "Payment received"),
            Fate::Fail(message) => ("FAILED", message),
            Fate::NoAnswer if now < txn.created + s.prompt_secs => ("PROCESSING", ""),
            Fate::NoAnswer => ("FAILED", "Request timed out"),
        }
    }

    fn collected(txn: &Txn) -> i64 {
        match txn.fate {
            Fate::PayShort(paid) => paid,
            _ => txn.amount,
        }
    }

    fn query(&mut self, reference: &str, now: Timestamp) -> SimResponse {
        self.queries += 1;
        let Some(txn) = self.txns.iter().find(|t| t.order_reference == reference) else {
            return said(404, &format!("Invalid or missing payment: {reference}"));
        };
        let (mut status, message) = self.state(txn, now);
        if status != "PROCESSING" && self.faults.pending > 0 {
            self.faults.pending -= 1;
            status = "PENDING";
        }
        let mut entry = json!({
            "id": txn.id, "status": status, "paymentPhoneNumber": txn.phone,
            "orderReference": txn.order_reference, "collectedAmount": Self::collected(txn),
            "collectedCurrency": CURRENCY, "message": message,
            "createdAt": iso8601(txn.created), "updatedAt": iso8601(now),
            "customer": {"customerPhoneNumber": txn.phone},
            "clientId": self.settings.client_id,
        });
        if status == "SUCCESS" {
            entry["paymentReference"] = txn.payment_reference.clone().into();
        }
        answer(200, json!([entry]))
    }

    /// Queues the webhook of every payment that became final, signed when there is a key.
    fn finish_due(&mut self, now: Timestamp) {
        let Some(url) = self.settings.callback_url.clone() else {
            return;
        };
        for i in 0..self.txns.len() {
            let (status, message) = self.state(&self.txns[i], now);
            let collected = Self::collected(&self.txns[i]);
            let txn = &mut self.txns[i];
            if status == "PROCESSING" || txn.notified {
                continue;
            }
            txn.notified = true;
            // As ClickPesa's examples have them: "event" for a payment received, "eventType"
            // for a failed one.
            let mut body = if status == "SUCCESS" {
                json!({"event": "PAYMENT RECEIVED", "data": {
                    "paymentId": txn.id, "orderReference": txn.order_reference,
                    "amount": format!("{collected}.00"), "currency": CURRENCY,
                    "status": "SUCCESS", "channel": txn.channel,
                    "customer": {"name": "Simulated Customer", "phone": txn.phone},
                    "createdAt": iso8601(txn.created), "updatedAt": iso8601(now)}})
            } else {
                json!({"eventType": "PAYMENT FAILED", "data": {
                    "id": txn.id, "status": "FAILED", "orderReference": txn.order_reference,
                    "message": message, "createdAt": iso8601(txn.created),
                    "updatedAt": iso8601(now)}})
            };
            if let Some(key) = &self.settings.checksum_key {
                body["checksum"] = checksum(key, &body).into();
            }
            self.outbox.push((i as u64, url.clone(), body.to_string()));
        }
    }

    /// Called by the server's delivery thread: finishes what is due and hands the webhooks.
    pub fn due(&mut self, now: Timestamp) -> Vec<(u64, String, String)> {
        self.finish_due(now);
        std::mem::take(&mut self.outbox)
    }
}
