//! The Vodacom M-Pesa Tanzania simulator's state machine (docs/vodacom.md, Simulator), pure:
//! it holds the private half of the key it publishes and decrypts every bearer (`getSession`
//! takes the API key, every other call a live session id), so lango's RSA encryption is tested
//! end to end; the C2B single-stage push with Vodacom's checks (market, currency, a Vodacom
//! msisdn, the service provider code, an amount, a reference of 1 to 20 characters used once)
//! answered synchronously as the customer ends it; the status query; the fault switches.
//! Vodacom's single-stage push posts no callback: there is none here. Features `simulator` and
//! `vodacom`.

use serde_json::{json, Value};

use crate::core::daraja_sim::{SimRequest, SimResponse};
use crate::core::rsa::private::PrivateKey;
use crate::core::time::Timestamp;

use super::{COUNTRY, CURRENCY, PUSH_PATH, QUERY_PATH, SESSION_PATH};

/// How a simulated customer ends a prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Pay,
    /// The push is answered with this INS code (`INS-2006` insufficient funds, `INS-5`
    /// cancelled) and the query says `Failed` or `Cancelled`.
    Fail(&'static str),
    /// The customer never answers: the push is answered `INS-9` (request timeout), the query
    /// says `Expired`.
    NoAnswer,
}

/// The switches a test turns.
#[derive(Clone, Debug, Default)]
pub struct VodacomFaults {
    /// The next push's customer ends so (else: by the number's last digits, see `fate_of`).
    pub next: Option<Fate>,
    /// The next this-many calls after the session check get HTTP 429.
    pub rate_limit: u32,
    /// The next push's answer is `INS-1` (internal error, HTTP 500) whatever the customer did.
    pub internal_error: bool,
    /// The query says `Pending` this many times before the truth.
    pub pending: u32,
    /// The next push is taken (the customer is prompted) but answered only after this many
    /// seconds (0: at once).
    pub stall_push_secs: u64,
}

/// The simulator's account and pace.
pub struct VodacomSimSettings {
    pub api_key: String,
    /// The key pair whose public half lango is configured with (PEM or base64 DER).
    pub private_key: PrivateKey,
    pub service_provider_code: String,
    /// A session id's lifetime.
    pub session_secs: i64,
}

#[derive(Clone, Debug)]
pub struct Txn {
    pub conversation: String,
    pub reference: String,
    pub msisdn: String,
    pub amount: i64,
    pub created: Timestamp,
    pub fate: Fate,
    pub transaction_id: String,
}

pub struct VodacomSimCore {
    settings: VodacomSimSettings,
    sessions: Vec<(String, Timestamp)>,
    txns: Vec<Txn>,
    faults: VodacomFaults,
    serial: u64,
    /// Answers refused for the rate limit.
    pub throttled: u32,
    /// Bearers that did not decrypt to the API key or a live session.
    pub refused_bearers: u32,
    /// Sessions issued.
    pub sessions_issued: u32,
}

/// A simulated customer by the number's last digits: `…0006` has no money (`INS-2006`),
/// `…0005` cancels (`INS-5`), `…0009` never answers; any other pays.
pub fn fate_of(msisdn: &str) -> Fate {
    match msisdn.get(msisdn.len().saturating_sub(4)..) {
        Some("0006") => Fate::Fail("INS-2006"),
        Some("0005") => Fate::Fail("INS-5"),
        Some("0009") => Fate::NoAnswer,
        _ => Fate::Pay,
    }
}

fn answer(status: u16, body: Value) -> SimResponse {
    SimResponse::json(status, &body)
}

fn refused(status: u16, code: &str, desc: &str) -> SimResponse {
    answer(
        status,
        json!({"output_ResponseCode": code, "output_ResponseDesc": desc}),
    )
}

/// The value of `name` in a query string (lango sends only unreserved characters).
fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl VodacomSimCore {
    pub fn new(settings: VodacomSimSettings) -> VodacomSimCore {
        VodacomSimCore {
            settings,
            sessions: Vec::new(),
            txns: Vec::new(),
            faults: VodacomFaults::default(),
            serial: 0,
            throttled: 0,
            refused_bearers: 0,
            sessions_issued: 0,
        }
    }

    pub fn faults_mut(&mut self) -> &mut VodacomFaults {
        &mut self.faults
    }

    /// Every session issued so far stops working (Vodacom answers 401).
    pub fn expire_sessions(&mut self) {
        self.sessions.clear();
    }

    pub fn txns(&self) -> &[Txn] {
        &self.txns
    }

    /// The bearer decrypted with the simulator's private key.
    fn bearer(&self, request: &SimRequest) -> Option<String> {
        let sealed = request
            .header("Authorization")?
            .strip_prefix("Bearer ")
            .and_then(crate::core::base64::decode)?;
        let plain = self.settings.private_key.decrypt(&sealed).ok()?;
        String::from_utf8(plain).ok()
    }

    pub fn handle(&mut self, request: &SimRequest, now: Timestamp) -> SimResponse {
        let (path, query) = request
            .path
            .split_once('?')
            .unwrap_or((request.path.as_str(), ""));
        let bearer = self.bearer(request);
        if request.header("Origin").is_none() {
            return answer(400, json!({"output_error": "Origin header is required"}));
        }
        if request.method == "GET" && path.ends_with(SESSION_PATH) {
            if bearer.as_deref() != Some(self.settings.api_key.as_str()) {
                self.refused_bearers += 1;
                return refused(401, "INS-2", "Invalid API Key");
            }
            self.serial += 1;
            self.sessions_issued += 1;
            let id = format!("sim{:029x}", self.serial * 7919);
            self.sessions
                .push((id.clone(), now + self.settings.session_secs));
            return answer(
                200,
                json!({"output_ResponseCode": "INS-0",
                       "output_ResponseDesc": "Request processed successfully",
                       "output_SessionID": id}),
            );
        }
        let live = bearer.is_some_and(|b| self.sessions.iter().any(|(s, t)| *s == b && now < *t));
        if !live {
            self.refused_bearers += 1;
            return answer(
                401,
                json!({"output_error": "Session ID is invalid or expired"}),
            );
        }
        if self.faults.rate_limit > 0 {
            self.faults.rate_limit -= 1;
            self.throttled += 1;
            return answer(429, json!({"output_error": "Too Many Requests"}));
        }
        match request.method.as_str() {
            "POST" if path.ends_with(PUSH_PATH) => {
                let mut answer = self.push(&request.body, now);
                answer.stall_secs = std::mem::take(&mut self.faults.stall_push_secs);
                answer
            }
            "GET" if path.ends_with(QUERY_PATH) => self.query(query),
            _ => answer(404, json!({"output_error": "not found"})),
        }
    }

    fn push(&mut self, body: &[u8], now: Timestamp) -> SimResponse {
        let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let text = |name: &str| body[name].as_str().unwrap_or("").to_string();
        let msisdn = text("input_CustomerMSISDN");
        let reference = text("input_TransactionReference");
        let conversation = text("input_ThirdPartyConversationID");
        if text("input_Country") != COUNTRY || text("input_Currency") != CURRENCY {
            return refused(
                400,
                "INS-21",
                "Parameter validations failed: country or currency",
            );
        }
        let vodacom = ["25574", "25575", "25576"]
            .iter()
            .any(|p| msisdn.starts_with(p));
        if msisdn.len() != 12 || !msisdn.bytes().all(|b| b.is_ascii_digit()) || !vodacom {
            return refused(400, "INS-2051", "MSISDN invalid");
        }
        if text("input_ServiceProviderCode") != self.settings.service_provider_code {
            return refused(400, "INS-13", "Invalid Shortcode Used");
        }
        // Whole shillings as a string of digits.
        let amount = text("input_Amount").parse::<i64>().unwrap_or(0);
        if amount < 1 {
            return refused(400, "INS-15", "Invalid Amount Used");
        }
        if reference.is_empty() || reference.len() > 20 {
            return refused(
                400,
                "INS-17",
                "Invalid Transaction Reference. Length Should Be Between 1 and 20.",
            );
        }
        if conversation.is_empty() || text("input_PurchasedItemsDesc").is_empty() {
            return refused(
                400,
                "INS-20",
                "Not All Parameters Provided. Please try again.",
            );
        }
        if self.txns.iter().any(|t| t.reference == reference) {
            return refused(409, "INS-10", "Duplicate Transaction");
        }
        let fate = self.faults.next.take().unwrap_or_else(|| fate_of(&msisdn));
        self.serial += 1;
        let transaction_id = format!("9{:05}SIM{}", self.serial, now % 10_000);
        self.txns.push(Txn {
            conversation: conversation.clone(),
            reference,
            msisdn,
            amount,
            created: now,
            fate,
            transaction_id: transaction_id.clone(),
        });
        if std::mem::take(&mut self.faults.internal_error) {
            return refused(500, "INS-1", "Internal Error");
        }
        match fate {
            Fate::Pay => answer(
                201,
                json!({"output_ResponseCode": "INS-0",
                       "output_ResponseDesc": "Request processed successfully",
                       "output_TransactionID": transaction_id,
                       "output_ConversationID": format!("c{:031x}", self.serial),
                       "output_ThirdPartyConversationID": conversation}),
            ),
            Fate::Fail("INS-2006") => refused(422, "INS-2006", "Insufficient balance"),
            Fate::Fail(code) => refused(422, code, "Transaction failed"),
            Fate::NoAnswer => refused(408, "INS-9", "Request timeout"),
        }
    }

    fn query(&mut self, query: &str) -> SimResponse {
        let reference = param(query, "input_QueryReference").unwrap_or("");
        let fields = [
            param(query, "input_ServiceProviderCode")
                == Some(self.settings.service_provider_code.as_str()),
            param(query, "input_Country") == Some(COUNTRY),
            param(query, "input_ThirdPartyConversationID").is_some_and(|c| !c.is_empty()),
        ];
        if !fields.iter().all(|ok| *ok) {
            return refused(400, "INS-21", "Parameter validations failed");
        }
        let Some(txn) = self
            .txns
            .iter()
            .find(|t| t.conversation == reference || t.transaction_id == reference)
        else {
            return refused(400, "INS-18", "Invalid TransactionID Used");
        };
        let status = if self.faults.pending > 0 {
            self.faults.pending -= 1;
            "Pending"
        } else {
            match txn.fate {
                Fate::Pay => "Completed",
                Fate::Fail("INS-5") => "Cancelled",
                Fate::Fail(_) => "Failed",
                Fate::NoAnswer => "Expired",
            }
        };
        answer(
            200,
            json!({"output_ResponseCode": "INS-0",
                   "output_ResponseDesc": "Request processed successfully",
                   "output_ResponseTransactionStatus": status,
                   "output_TransactionID": txn.transaction_id,
                   "output_ConversationID": format!("q{:031x}", self.serial),
                   "output_ThirdPartyConversationID": param(query, "input_ThirdPartyConversationID")}),
        )
    }
}
