//! The Airtel Money simulator's state machine (docs/airtel.md, Simulator), pure: the token
//! endpoint and its tokens' lifetimes, the USSD push with Airtel's checks (token, X-Country and
//! X-Currency, the body's fields, a transaction id used once), the status enquiry's letters
//! over time, the callback each final transaction posts, and the fault switches. Requests and
//! answers are `daraja_sim::{SimRequest, SimResponse}`, so the Daraja simulator's server
//! serves it (`adapters::airtel_sim`). Features `simulator` and `airtel`.

use serde_json::{json, Value};

use crate::core::config::Country;
use crate::core::daraja_sim::{SimRequest, SimResponse};
use crate::core::time::Timestamp;

use super::signing::{self, PUSH_PATH_V2};
use super::{PUSH_PATH, STATUS_PATH, TOKEN_PATH};

/// How a simulated customer ends a prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Pay,
    /// Fails with this collection code (`DP00800001002` wrong PIN, `…007` insufficient funds).
    Fail(&'static str),
    /// Never answers: in progress, then failed with `DP00800001024` (timed out).
    NoAnswer,
    /// Pays less than asked (a market whose enquiry states the amount).
    PayShort(i64),
}

/// The switches a test turns.
#[derive(Clone, Debug, Default)]
pub struct AirtelFaults {
    /// The next push's customer ends so (else: by the number's last digits, see `fate_of`).
    pub next: Option<Fate>,
    /// The next this-many calls after the token get HTTP 429 (rate limit).
    pub rate_limit: u32,
    /// The enquiry says the status is ambiguous (`TA`) this many times before the truth.
    pub ambiguous: u32,
    /// The next push is taken (the customer is prompted) but answered only after a second:
    /// a client with a shorter deadline gets no answer.
    pub stall_push: bool,
}

/// The simulator's accounts and pace.
#[derive(Clone, Debug)]
pub struct AirtelSimSettings {
    pub client_id: String,
    pub client_secret: String,
    pub country: Country,
    /// A token's lifetime (Airtel's example: 180 s).
    pub token_secs: i64,
    /// The customer's time to answer the prompt.
    pub answer_secs: i64,
    /// How long an unanswered prompt stays in progress before it fails as timed out.
    pub prompt_secs: i64,
    /// Where final transactions are POSTed (the app's callback URL on Airtel's portal).
    pub callback_url: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Txn {
    pub id: String,
    pub msisdn: String,
    pub amount: i64,
    pub created: Timestamp,
    pub fate: Fate,
    pub airtel_money_id: String,
    notified: bool,
}

pub struct AirtelSimCore {
    settings: AirtelSimSettings,
    tokens: Vec<(String, Timestamp)>,
    txns: Vec<Txn>,
    faults: AirtelFaults,
    serial: u64,
    /// Callbacks not yet handed to the server: (id, url, body).
    outbox: Vec<(u64, String, String)>,
    /// Counts per path of answers refused for the rate limit.
    pub throttled: u32,
    /// Set: the account requires message signing (v2): a push must come to the v2 path with
    /// `x-signature` and `x-key` made for this key's public half.
    signing: Option<crate::core::rsa::private::PrivateKey>,
    /// Pushes refused for a missing or wrong signature.
    pub unsigned: u32,
}

/// A simulated customer by the number's last digits: `…0002` wrong PIN, `…0007` insufficient
/// funds, `…0024` never answers; any other pays.
pub fn fate_of(msisdn: &str) -> Fate {
    match msisdn.get(msisdn.len().saturating_sub(4)..) {
        Some("0002") => Fate::Fail("DP00800001002"),
        Some("0007") => Fate::Fail("DP00800001007"),
        Some("0024") => Fate::NoAnswer,
        _ => Fate::Pay,
    }
}

fn answer(status: u16, body: Value) -> SimResponse {
    SimResponse::json(status, &body)
}

fn envelope(code: &str, message: &str, success: bool) -> Value {
    json!({"code": "200", "message": message, "result_code": "ESB000010",
           "response_code": code, "success": success})
}

fn refused(status: u16, code: &str, message: &str) -> SimResponse {
    answer(
        status,
        json!({"data": {}, "status": envelope(code, message, false)}),
    )
}

impl AirtelSimCore {
    pub fn new(settings: AirtelSimSettings) -> AirtelSimCore {
        AirtelSimCore {
            settings,
            tokens: Vec::new(),
            txns: Vec::new(),
            faults: AirtelFaults::default(),
            serial: 0,
            outbox: Vec::new(),
            throttled: 0,
            signing: None,
            unsigned: 0,
        }
    }

    /// From now on every push must be signed for `key` (an account that requires v2).
    pub fn require_signing(&mut self, key: crate::core::rsa::private::PrivateKey) {
        self.signing = Some(key);
    }

    /// Whether a push may go on: always without required signing; else only on the v2 path
    /// with headers that sign its body (`DP00800001026` otherwise; the HTTP status is assumed).
    fn signed(&mut self, request: &SimRequest) -> Result<(), SimResponse> {
        let Some(key) = &self.signing else {
            return Ok(());
        };
        let headers = (request.header("x-signature"), request.header("x-key"));
        let ok = match headers {
            (Some(signature), Some(x_key)) if request.path == PUSH_PATH_V2 => {
                signing::check(key, &request.body, signature, x_key)
            }
            _ => false,
        };
        if ok {
            return Ok(());
        }
        self.unsigned += 1;
        Err(refused(400, "DP00800001026", "x-signature mismatch"))
    }

    pub fn faults_mut(&mut self) -> &mut AirtelFaults {
        &mut self.faults
    }

    /// Where final transactions are POSTed from now on.
    pub fn set_callback_url(&mut self, url: Option<String>) {
        self.settings.callback_url = url;
    }

    /// Every token issued so far stops working (Airtel answers 401).
    pub fn expire_tokens(&mut self) {
        self.tokens.clear();
    }

    pub fn txns(&self) -> &[Txn] {
        &self.txns
    }

    /// The callbacks to POST now.
    pub fn take_outbox(&mut self) -> Vec<(u64, String, String)> {
        std::mem::take(&mut self.outbox)
    }

    pub fn handle(&mut self, request: &SimRequest, now: Timestamp) -> SimResponse {
        self.finish_due(now);
        let path = request.path.as_str();
        if request.method == "POST" && path == TOKEN_PATH {
            return self.token(request, now);
        }
        let bearer = request
            .header("Authorization")
            .and_then(|a| a.strip_prefix("Bearer "));
        if !bearer.is_some_and(|t| self.tokens.iter().any(|(v, until)| v == t && now < *until)) {
            return answer(401, json!({"error": "invalid_token"}));
        }
        if self.faults.rate_limit > 0 {
            self.faults.rate_limit -= 1;
            self.throttled += 1;
            return answer(429, json!({"error": "Too Many Requests"}));
        }
        let country = self.settings.country;
        if request.header("X-Country") != Some(country.code())
            || request.header("X-Currency") != Some(country.currency())
        {
            return refused(400, "DP00800001013", "X-Country or X-Currency is wrong");
        }
        match (request.method.as_str(), path) {
            ("POST", PUSH_PATH | PUSH_PATH_V2) => {
                if let Err(refusal) = self.signed(request) {
                    return refusal;
                }
                let mut answer = self.push(&request.body, now);
                if std::mem::take(&mut self.faults.stall_push) {
                    answer.stall_secs = 1;
                }
                answer
            }
            ("GET", p) if p.starts_with(STATUS_PATH) => self.status(&p[STATUS_PATH.len()..], now),
            _ => answer(404, json!({"error": "not found"})),
        }
    }

    fn token(&mut self, request: &SimRequest, now: Timestamp) -> SimResponse {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let s = &self.settings;
        if body["grant_type"] != "client_credentials"
            || body["client_id"] != s.client_id.as_str()
            || body["client_secret"] != s.client_secret.as_str()
        {
            return answer(401, json!({"error": "invalid_client"}));
        }
        self.serial += 1;
        let token = format!("sim-airtel-token-{}", self.serial);
        self.tokens.push((token.clone(), now + s.token_secs));
        let expires = s.token_secs.to_string();
        answer(
            200,
            json!({"access_token": token, "expires_in": expires, "token_type": "bearer"}),
        )
    }

    fn push(&mut self, body: &[u8], now: Timestamp) -> SimResponse {
        let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let (sub, txn) = (&body["subscriber"], &body["transaction"]);
        let country = self.settings.country;
        let msisdn = sub["msisdn"].as_str().unwrap_or("");
        let id = txn["id"].as_str().unwrap_or("");
        let amount = txn["amount"].as_i64().unwrap_or(0);
        let same = |v: &Value, want: &str| v.as_str() == Some(want);
        if msisdn.len() != 9 || !msisdn.bytes().all(|b| b.is_ascii_digit()) {
            return refused(
                400,
                "DP00800001013",
                "Invalid MSISDN: without the country code",
            );
        }
        let (code, currency) = (country.code(), country.currency());
        let fields = [(&sub["country"], code), (&txn["country"], code)];
        let money = [(&sub["currency"], currency), (&txn["currency"], currency)];
        if !fields
            .iter()
            .chain(money.iter())
            .all(|(v, want)| same(v, want))
        {
            return refused(400, "DP00800001013", "country or currency does not match");
        }
        if amount < 1 {
            return refused(400, "DP00800001004", "Invalid amount");
        }
        if id.is_empty() || self.txns.iter().any(|t| t.id == id) {
            return refused(400, "DP00800001014", "Duplicate or missing transaction id");
        }
        let fate = self.faults.next.take().unwrap_or_else(|| fate_of(msisdn));
        self.serial += 1;
        self.txns.push(Txn {
            id: id.to_string(),
            msisdn: msisdn.to_string(),
            amount,
            created: now,
            fate,
            airtel_money_id: format!("MP{now}.{:04}.A{:05}", self.serial % 10_000, self.serial),
            notified: false,
        });
        let data = json!({"transaction": {"id": id, "status": "SUCCESS"}});
        answer(
            200,
            json!({"data": data, "status": envelope("DP00800001006", "SUCCESS", true)}),
        )
    }

    /// The letter and code of a transaction at `now`.
    fn state(&self, txn: &Txn, now: Timestamp) -> (&'static str, &'static str) {
        let s = &self.settings;
        match txn.fate {
            _ if now < txn.created + s.answer_secs => ("TIP", "DP00800001006"),
            Fate::Pay | Fate::PayShort(_) => ("TS", "DP00800001001"),
            Fate::Fail(code) => ("TF", code),
            Fate::NoAnswer if now < txn.created + s.prompt_secs => ("TIP", "DP00800001006"),
            Fate::NoAnswer => ("TF", "DP00800001024"),
        }
    }

    fn status(&mut self, id: &str, now: Timestamp) -> SimResponse {
        let Some(txn) = self.txns.iter().find(|t| t.id == id) else {
            return answer(
                200,
                json!({"data": {},
                "status": envelope("DP00800001025", "Transaction not found", false)}),
            );
        };
        let (mut letter, code) = self.state(txn, now);
        if letter != "TIP" && self.faults.ambiguous > 0 {
            self.faults.ambiguous -= 1;
            letter = "TA";
        }
        let mut t = json!({"id": txn.id, "status": letter, "message": code});
        if letter == "TS" {
            t["airtel_money_id"] = txn.airtel_money_id.clone().into();
            if let Fate::PayShort(paid) = txn.fate {
                t["amount"] = paid.to_string().into();
            }
        }
        answer(
            200,
            json!({"data": {"transaction": t}, "status": envelope(code, "SUCCESS", true)}),
        )
    }

    /// Queues the callback of every transaction that became final.
    fn finish_due(&mut self, now: Timestamp) {
        let Some(url) = self.settings.callback_url.clone() else {
            return;
        };
        for i in 0..self.txns.len() {
            let (letter, _) = self.state(&self.txns[i], now);
            let txn = &mut self.txns[i];
            if letter == "TIP" || txn.notified {
                continue;
            }
            txn.notified = true;
            let body = json!({"transaction": {"id": txn.id, "message": "simulated",
                "status_code": letter, "airtel_money_id": txn.airtel_money_id}});
            self.outbox.push((i as u64, url.clone(), body.to_string()));
        }
    }

    /// Called by the server's delivery thread: finishes what is due and hands the callbacks.
    pub fn due(&mut self, now: Timestamp) -> Vec<(u64, String, String)> {
        self.finish_due(now);
        self.take_outbox()
    }
}
