//! The Daraja simulator's state machine (payments.md A12), pure: every method takes `now`,
//! randomness comes from a seeded generator, and callbacks are returned for the shell
//! (`simulator.rs`) to deliver. Endpoints: OAuth, STK Push with Daraja's validation order and
//! error envelopes, STK Push Query, and a control API under `/__sim/`. Fault switches reproduce
//! what goes wrong in practice: lost, duplicate, late and contradicting callbacks, a query stuck
//! on "being processed", 5xx answers, spike arrest, stalls and tokens that die early.
//! Everything marked [SIM] in payments.md is a choice of this simulator, not a claim about
//! Daraja.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::adapters::daraja;
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
    fn header(&self, name: &str) -> Option<&str> {
        crate::adapters::https::header(&self.headers, name)
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
    fn json(status: u16, value: &Value) -> SimResponse {
        SimResponse {
            status,
            content_type: "application/json",
            body: value.to_string(),
            stall_secs: 0,
        }
    }
}

/// A Daraja error: HTTP status, `errorCode`, `errorMessage` (A4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimError {
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
    /// Seconds the simulated customer takes to type the PIN; negative: never. [SIM] (A12 says
    /// 8-25 s; the doc's own sample took 39 s.)
    pub approve_after_secs: i64,
    /// No answer from the customer within this → 1037. [SIM default 60 s]
    pub prompt_timeout_secs: i64,
    /// A callback leaves this long after the prompt ends. [SIM, A12: 1-5 s]
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

/// Fault switches, each independent (A12 "Fault injection"). Settable over `/__sim/faults`.
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
pub enum Action {
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

    pub fn result_code(self) -> i64 {
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
pub struct StkSession {
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
pub struct PushParams {
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
pub struct Ack {
    pub merchant_request_id: String,
    pub checkout_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryAnswer {
    /// `500.001.1001 The transaction is being processed`.
    Pending,
    Final {
        code: i64,
        desc: String,
    },
}

/// Same phone and amount within this → 17 (A10).
const RULE17_SECS: i64 = 120;
/// Reference + description over this → 1025 (A10: prompt text budget). [SIM]
const PROMPT_TEXT_BUDGET: usize = 25;

pub struct SimCore {
    settings: SimSettings,
    faults: Faults,
    tokens: Vec<(String, Timestamp)>,
    sessions: Vec<StkSession>,
    last_push: HashMap<(String, i64), Timestamp>,
    /// Per API: (second, requests in it).
    spike: HashMap<&'static str, (Timestamp, u32)>,
    seq: u64,
    rng: u64,
    decline_next: Option<i64>,
    deliveries: Vec<Delivery>,
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
            seq: 0,
            rng,
            decline_next: None,
            deliveries: Vec::new(),
        }
    }

    pub fn settings(&self) -> &SimSettings {
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
    pub fn resolve(&mut self, checkout_id: &str, action: Action, now: Timestamp) -> bool {
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

    // ---- HTTP ----

    /// Answers one request.
    pub fn handle(&mut self, request: &SimRequest, now: Timestamp) -> SimResponse {
        let path = request.path.split('?').next().unwrap_or("");
        if let Some(control) = path.strip_prefix("/__sim/") {
            return self.control(control, request, now);
        }
        let mut stall_secs = 0;
        if self.faults.stall_next > 0 {
            self.faults.stall_next -= 1;
            stall_secs = self.faults.stall_secs;
        }
        let mut response = self.api(path, request, now);
        response.stall_secs = stall_secs;
        response
    }

    fn api(&mut self, path: &str, request: &SimRequest, now: Timestamp) -> SimResponse {
        if self.faults.unavailable_next > 0 {
            self.faults.unavailable_next -= 1;
            return SimResponse {
                status: 503,
                content_type: "text/html",
                body: "<html><body><h1>503 Service Unavailable</h1></body></html>".into(),
                stall_secs: 0,
            };
        }
        if self.faults.fail_next > 0 {
            self.faults.fail_next -= 1;
            let e = SimError::new(500, "500.003.1001", "Internal Server Error");
            return self.error(&e);
        }
        if self.faults.spike_next > 0 {
            self.faults.spike_next -= 1;
            let e = SimError::new(500, "500.003.02", "Error Occurred: Spike Arrest Violation");
            return self.error(&e);
        }
        let result = match path {
            "/oauth/v1/generate" => self.oauth(request, now),
            daraja::PUSH_PATH => self.push_http(request, now),
            daraja::QUERY_PATH => self.query_http(request, now),
            _ => Err(SimError::new(404, "404.001.01", "Resource not found")),
        };
        match result {
            Ok(value) => SimResponse::json(200, &value),
            Err(e) => self.error(&e),
        }
    }

    fn error(&mut self, e: &SimError) -> SimResponse {
        let request_id = self.request_id();
        SimResponse::json(
            e.status,
            &json!({"requestId": request_id, "errorCode": e.code, "errorMessage": e.message}),
        )
    }

    fn oauth(&mut self, request: &SimRequest, now: Timestamp) -> Result<Value, SimError> {
        if request.method != "GET" {
            return Err(SimError::new(405, "405.001", "Method Not Allowed"));
        }
        let query = request.path.split_once('?').map(|(_, q)| q).unwrap_or("");
        if !query
            .split('&')
            .any(|p| p == "grant_type=client_credentials")
        {
            return Err(SimError::new(
                400,
                "400.008.02",
                "Invalid grant type passed",
            ));
        }
        let auth = request.header("Authorization").unwrap_or("");
        let Some(encoded) = auth.strip_prefix("Basic ") else {
            return Err(SimError::new(
                400,
                "400.008.01",
                "Invalid authentication type passed",
            ));
        };
        let expected = format!(
            "{}:{}",
            self.settings.consumer_key, self.settings.consumer_secret
        );
        if daraja::base64_decode(encoded).as_deref() != Some(expected.as_bytes()) {
            // [SIM]: the doc names no code for wrong credentials; this is the auth family.
            return Err(SimError::new(
                400,
                "400.008.01",
                "Invalid Authentication passed",
            ));
        }
        let token = self.alphanumeric(28);
        if self.settings.revoke_previous_token {
            self.tokens.clear();
        }
        self.tokens
            .push((token.clone(), now + self.settings.token_lifetime_secs));
        Ok(json!({
            "access_token": token,
            "expires_in": self.settings.token_lifetime_secs.to_string(),
        }))
    }

    fn bearer(&self, request: &SimRequest, now: Timestamp) -> Result<(), SimError> {
        let token = request
            .header("Authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or("");
        if self
            .tokens
            .iter()
            .any(|(t, until)| t == token && now < *until)
        {
            Ok(())
        } else {
            Err(SimError::new(404, "404.001.03", "Invalid Access Token"))
        }
    }

    /// Steps 1-3 of the validation order: token, method, JSON body.
    fn json_body(&self, request: &SimRequest, now: Timestamp) -> Result<Value, SimError> {
        self.bearer(request, now)?;
        if request.method != "POST" {
            return Err(SimError::new(405, "405.001", "Method Not Allowed"));
        }
        let is_json = request
            .header("Content-Type")
            .is_some_and(|c| c.to_ascii_lowercase().contains("application/json"));
        match serde_json::from_slice::<Value>(&request.body) {
            Ok(value) if is_json && value.is_object() => Ok(value),
            _ => Err(SimError::invalid("BusinessShortCode")),
        }
    }

    /// Steps 5, 6 and 7: the merchant exists, the password matches, the rate is bearable.
    fn authorise(
        &mut self,
        api: &'static str,
        shortcode: &str,
        password: &str,
        timestamp: &str,
        now: Timestamp,
    ) -> Result<(), SimError> {
        let Some(merchant) = self.merchant(shortcode) else {
            return Err(SimError::new(
                500,
                "500.001.1001",
                "Merchant does not exist",
            ));
        };
        if daraja::password(shortcode, &merchant.passkey, timestamp) != password {
            return Err(SimError::new(500, "500.001.1001", "Wrong credentials"));
        }
        let (second, count) = self.spike.entry(api).or_insert((now, 0));
        if *second != now {
            *second = now;
            *count = 0;
        }
        *count += 1;
        if *count > self.settings.spike_limit_per_sec {
            return Err(SimError::new(
                500,
                "500.003.02",
                "Error Occurred: Spike Arrest Violation",
            ));
        }
        Ok(())
    }

    fn push_http(&mut self, request: &SimRequest, now: Timestamp) -> Result<Value, SimError> {
        let body = self.json_body(request, now)?;
        let shortcode = field(&body, "BusinessShortCode", is_shortcode)?;
        let password = field(&body, "Password", |p| !p.is_empty())?;
        let timestamp = field(&body, "Timestamp", is_timestamp)?;
        let kind = field(&body, "TransactionType", |t| {
            t == "CustomerPayBillOnline" || t == "CustomerBuyGoodsOnline"
        })?;
        let amount = match body.get("Amount") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) if is_digits(s) => s.parse().ok(),
            _ => None,
        }
        .filter(|a| *a >= 1)
        .ok_or_else(|| SimError::invalid("Amount"))?;
        let party_a = field(&body, "PartyA", is_msisdn)?;
        let party_b = field(&body, "PartyB", is_shortcode)?;
        let phone = field(&body, "PhoneNumber", is_msisdn)?;
        let callback_url = field(&body, "CallBackURL", |u| {
            crate::adapters::https::Url::parse(u).is_ok()
        })?;
        let account_reference = field(&body, "AccountReference", |r| !r.is_empty())?;
        let description = match body.get("TransactionDesc") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(SimError::invalid("TransactionDesc")),
        };
        let _ = party_a;
        self.authorise("push", &shortcode, &password, &timestamp, now)?;
        let params = PushParams {
            shortcode,
            buy_goods: kind == "CustomerBuyGoodsOnline",
            amount,
            phone,
            party_b,
            callback_url,
            account_reference,
            description,
        };
        let ack = self.accept_push(&params, now)?;
        Ok(json!({
            "MerchantRequestID": ack.merchant_request_id,
            "CheckoutRequestID": ack.checkout_id,
            "ResponseCode": "0",
            "ResponseDescription": "Success. Request accepted for processing",
            "CustomerMessage": "Success. Request accepted for processing",
        }))
    }

    /// Steps 8 and 9: the subscriber lock, then a new prompt. Also the entry point of the
    /// in-process gateway, which skips the wire validation.
    pub fn accept_push(&mut self, p: &PushParams, now: Timestamp) -> Result<Ack, SimError> {
        let open = self
            .sessions
            .iter()
            .any(|s| s.phone == p.phone && now < s.resolve_at);
        if open {
            return Err(SimError::new(
                500,
                "500.001.1001",
                "Unable to lock subscriber, a transaction is already in process for the \
                 current subscriber",
            ));
        }
        self.seq += 1;
        let (result, resolve_at) = self.plan(p, now);
        self.last_push.insert((p.phone.clone(), p.amount), now);
        let subscriber = p.phone.get(3..).unwrap_or("");
        let mut checkout_id = format!(
            "ws_CO_{}{:03}{subscriber}",
            ddmmyyyyhhmmss(now),
            self.seq % 1000
        );
        while self.session(&checkout_id).is_some() {
            checkout_id.push('0');
        }
        let merchant_request_id = self.request_id();
        let receipt = self.receipt(now);
        self.sessions.push(StkSession {
            checkout_id: checkout_id.clone(),
            merchant_request_id: merchant_request_id.clone(),
            shortcode: p.shortcode.clone(),
            phone: p.phone.clone(),
            amount: p.amount,
            callback_url: p.callback_url.clone(),
            created_at: now,
            result,
            resolve_at,
            receipt,
            scheduled: false,
        });
        Ok(Ack {
            merchant_request_id,
            checkout_id,
        })
    }

    /// How the prompt will end, and when.
    fn plan(&mut self, p: &PushParams, now: Timestamp) -> (i64, Timestamp) {
        let settings = &self.settings;
        let product_ok = match self.merchant(&p.shortcode) {
            Some(m) if p.buy_goods => m.tills.contains(&p.party_b),
            Some(m) => p.party_b == m.shortcode,
            None => true,
        };
        if !product_ok {
            return (2028, now + 1);
        }
        if p.account_reference.chars().count() + p.description.chars().count() > PROMPT_TEXT_BUDGET
        {
            return (1025, now + 1);
        }
        let recent = self
            .last_push
            .get(&(p.phone.clone(), p.amount))
            .is_some_and(|at| now - at < RULE17_SECS);
        if recent {
            return (17, now + 1);
        }
        let timeout = now + settings.prompt_timeout_secs;
        let approve = settings.approve_after_secs;
        let answer_at = if (0..settings.prompt_timeout_secs).contains(&approve) {
            now + approve
        } else {
            timeout
        };
        let planned = self.decline_next.take().unwrap_or_else(|| {
            // [SIM] The last four digits of the phone decide, so that tests and the demo can
            // pick an outcome by number.
            match p.phone.get(p.phone.len().saturating_sub(4)..).unwrap_or("") {
                "1032" => 1032,
                "1037" => 1037,
                "2001" => 2001,
                "0001" => 1,
                "1019" => 1019,
                _ if answer_at == timeout => 1037,
                _ => 0,
            }
        });
        match planned {
            1037 | 1019 => (planned, timeout),
            code => (code, answer_at),
        }
    }

    fn query_http(&mut self, request: &SimRequest, now: Timestamp) -> Result<Value, SimError> {
        let body = self.json_body(request, now)?;
        let shortcode = field(&body, "BusinessShortCode", is_shortcode)?;
        let password = field(&body, "Password", |p| !p.is_empty())?;
        let timestamp = field(&body, "Timestamp", is_timestamp)?;
        let checkout_id = field(&body, "CheckoutRequestID", |c| !c.is_empty())?;
        self.authorise("query", &shortcode, &password, &timestamp, now)?;
        match self.query(&checkout_id, now)? {
            QueryAnswer::Pending => Err(SimError::new(
                500,
                "500.001.1001",
                "The transaction is being processed",
            )),
            QueryAnswer::Final { code, desc } => {
                let session = self.session(&checkout_id);
                let merchant_request_id = session
                    .map(|s| s.merchant_request_id.clone())
                    .unwrap_or_default();
                let desc = if self.faults.stk_cb_prefix {
                    format!("[STK_CB - ]{desc}")
                } else {
                    desc
                };
                Ok(json!({
                    "ResponseCode": "0",
                    "ResponseDescription": "The service request has been accepted successsfully",
                    "MerchantRequestID": merchant_request_id,
                    "CheckoutRequestID": checkout_id,
                    "ResultCode": code.to_string(),
                    "ResultDesc": desc,
                }))
            }
        }
    }

    /// What the query says about a prompt now.
    pub fn query(&self, checkout_id: &str, now: Timestamp) -> Result<QueryAnswer, SimError> {
        let Some(session) = self.session(checkout_id) else {
            // [SIM] The doc names no code for an unknown CheckoutRequestID.
            return Err(SimError::invalid("CheckoutRequestID"));
        };
        if now < session.resolve_at || self.faults.query_stuck {
            return Ok(QueryAnswer::Pending);
        }
        let code = if session.result == 0 && self.faults.query_contradicts {
            1032
        } else {
            session.result
        };
        Ok(QueryAnswer::Final {
            code,
            desc: result_desc(code).into(),
        })
    }

    // ---- callbacks ----

    /// Schedules the callbacks of prompts that ended, and hands out those now due (marked in
    /// flight until `delivered` is told how they went).
    pub fn due_deliveries(&mut self, now: Timestamp) -> Vec<(u64, String, String)> {
        let mut new = Vec::new();
        for idx in 0..self.sessions.len() {
            let session = &self.sessions[idx];
            if session.scheduled || now < session.resolve_at {
                continue;
            }
            let body = self.callback_body(session);
            let session = &mut self.sessions[idx];
            session.scheduled = true;
            let delay = if self.faults.late_callback_secs > 0 {
                self.faults.late_callback_secs
            } else {
                self.settings.callback_delay_secs
            };
            let due = session.resolve_at + delay;
            let copies = if self.faults.duplicate_callbacks {
                2
            } else {
                1
            };
            for copy in 0..copies {
                new.push((
                    session.checkout_id.clone(),
                    session.callback_url.clone(),
                    body.clone(),
                    due + 2 * copy,
                ));
            }
        }
        for (checkout_id, url, body, due) in new {
            let id = self.deliveries.len() as u64 + 1;
            self.deliveries.push(Delivery {
                id,
                checkout_id,
                url,
                body,
                due,
                attempts: 0,
                status: None,
                dropped: self.faults.drop_callbacks,
                done: self.faults.drop_callbacks,
                in_flight: false,
                retries_left: self.faults.retry_deliveries,
            });
        }
        let mut out = Vec::new();
        for d in &mut self.deliveries {
            if !d.done && !d.in_flight && d.due <= now {
                d.in_flight = true;
                out.push((d.id, d.url.clone(), d.body.clone()));
            }
        }
        out
    }

    /// Records how a delivery went (`None`: no answer). A failure is retried if the fault
    /// switches ask for it, with a doubling delay.
    pub fn delivered(&mut self, id: u64, status: Option<u16>, now: Timestamp) {
        if let Some(d) = self.deliveries.iter_mut().find(|d| d.id == id) {
            d.in_flight = false;
            d.attempts += 1;
            d.status = Some(status.unwrap_or(0));
            let ok = status.is_some_and(|s| (200..300).contains(&s));
            if ok || d.retries_left == 0 {
                d.done = true;
            } else {
                d.retries_left -= 1;
                d.due = now + (1i64 << d.attempts.min(8));
            }
        }
    }

    /// The callback body (A5): ResultCode a number; metadata only on success, items by name.
    fn callback_body(&self, s: &StkSession) -> String {
        let code = match (self.faults.callback_contradicts, s.result) {
            (true, 0) => 1032,
            (true, _) => 0,
            (false, code) => code,
        };
        let quoted = |t: &str| Value::from(t).to_string();
        let meta = if code == 0 {
            let amount = if self.faults.amount_decimals {
                format!("{}.00", s.amount)
            } else {
                s.amount.to_string()
            };
            let balance = if self.faults.balance_item {
                r#"{"Name":"Balance"},"#
            } else {
                ""
            };
            format!(
                r#","CallbackMetadata":{{"Item":[{{"Name":"Amount","Value":{amount}}},{{"Name":"MpesaReceiptNumber","Value":{}}},{balance}{{"Name":"TransactionDate","Value":{}}},{{"Name":"PhoneNumber","Value":{}}}]}}"#,
                quoted(&s.receipt),
                daraja_timestamp(s.resolve_at),
                if is_digits(&s.phone) {
                    s.phone.as_str()
                } else {
                    "0"
                },
            )
        } else {
            String::new()
        };
        format!(
            r#"{{"Body":{{"stkCallback":{{"MerchantRequestID":{},"CheckoutRequestID":{},"ResultCode":{code},"ResultDesc":{}{meta}}}}}}}"#,
            quoted(&s.merchant_request_id),
            quoted(&s.checkout_id),
            quoted(result_desc(code)),
        )
    }

    // ---- control API ----

    fn control(&mut self, what: &str, request: &SimRequest, now: Timestamp) -> SimResponse {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let ok = |value: Value| SimResponse::json(200, &value);
        let bad = |message: &str| SimResponse::json(400, &json!({ "error": message }));
        match (request.method.as_str(), what) {
            ("GET", "state") => ok(json!({
                "faults": self.faults,
                "sessions": self.sessions,
                "deliveries": self.deliveries,
            })),
            ("POST", "faults") => match serde_json::from_value::<Faults>(body) {
                Ok(faults) => {
                    self.faults = faults;
                    ok(json!({ "faults": self.faults }))
                }
                Err(e) => bad(&e.to_string()),
            },
            ("POST", "resolve") => {
                let checkout = body.get("checkout").and_then(Value::as_str).unwrap_or("");
                let action = body
                    .get("action")
                    .and_then(Value::as_str)
                    .and_then(Action::parse);
                match action {
                    Some(action) => ok(json!({ "resolved": self.resolve(checkout, action, now) })),
                    None => bad("action: success, cancel, wrong_pin, insufficient, timeout, expired, lock or rule17"),
                }
            }
            ("POST", "decline_next") => match body.get("code").and_then(Value::as_i64) {
                Some(code) => {
                    self.decline_next(code);
                    ok(json!({ "decline_next": code }))
                }
                None => bad("code: a ResultCode"),
            },
            ("POST", "expire_tokens") => {
                self.expire_tokens();
                ok(json!({ "tokens": 0 }))
            }
            _ => SimResponse::json(404, &json!({ "error": "unknown control" })),
        }
    }

    // ---- identifiers (A11) ----

    fn next_random(&mut self) -> u64 {
        // xorshift64*: deterministic for a seed, good enough for IDs.
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
    /// upper-case alphanumerics (A11).
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

/// The usual ResultDesc of a ResultCode (A5 table).
pub fn result_desc(code: i64) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timestamp = 1_800_000_000;

    fn core() -> SimCore {
        let mut settings = SimSettings::demo(10);
        settings.spike_limit_per_sec = 3;
        SimCore::new(settings)
    }

    fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> SimRequest {
        SimRequest {
            method: method.into(),
            path: path.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn token(core: &mut SimCore) -> String {
        let auth = format!("Basic {}", daraja::base64_encode(b"demo:demo"));
        let r = core.handle(
            &request("GET", daraja::OAUTH_PATH, &[("Authorization", &auth)], ""),
            T,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["expires_in"], "3599");
        v["access_token"].as_str().unwrap().to_string()
    }

    fn push_body(phone: &str, amount: Value) -> Value {
        let ts = daraja_timestamp(T);
        json!({
            "BusinessShortCode": 174379,
            "Password": daraja::password("174379", "demo-passkey", &ts),
            "Timestamp": ts,
            "TransactionType": "CustomerPayBillOnline",
            "Amount": amount,
            "PartyA": phone,
            "PartyB": "174379",
            "PhoneNumber": phone,
            "CallBackURL": "http://127.0.0.1:9/cb",
            "AccountReference": "WiFi",
            "TransactionDesc": "WiFi",
        })
    }

    fn post(
        core: &mut SimCore,
        token: &str,
        path: &str,
        body: &Value,
        now: Timestamp,
    ) -> (u16, Value) {
        let auth = format!("Bearer {token}");
        let r = core.handle(
            &request(
                "POST",
                path,
                &[
                    ("Authorization", &auth),
                    ("Content-Type", "application/json"),
                ],
                &body.to_string(),
            ),
            now,
        );
        (
            r.status,
            serde_json::from_str(&r.body).unwrap_or(Value::Null),
        )
    }

    #[test]
    fn oauth_errors_follow_the_doc() {
        let mut core = core();
        let r = core.handle(
            &request("GET", "/oauth/v1/generate?grant_type=password", &[], ""),
            T,
        );
        assert!(r.body.contains("400.008.02"), "{}", r.body);
        let r = core.handle(
            &request(
                "GET",
                daraja::OAUTH_PATH,
                &[("Authorization", "Bearer x")],
                "",
            ),
            T,
        );
        assert!(r.body.contains("400.008.01"));
        let wrong = format!("Basic {}", daraja::base64_encode(b"demo:nope"));
        let r = core.handle(
            &request("GET", daraja::OAUTH_PATH, &[("Authorization", &wrong)], ""),
            T,
        );
        assert_eq!(r.status, 400);
        // A new token revokes the previous one.
        let first = token(&mut core);
        let second = token(&mut core);
        let (status, v) = post(
            &mut core,
            &first,
            daraja::PUSH_PATH,
            &push_body("254712345678", json!(20)),
            T,
        );
        assert_eq!((status, v["errorCode"].as_str()), (404, Some("404.001.03")));
        let (status, _) = post(
            &mut core,
            &second,
            daraja::PUSH_PATH,
            &push_body("254712345678", json!(20)),
            T,
        );
        assert_eq!(status, 200);
    }

    #[test]
    fn push_validation_order() {
        let mut core = core();
        let t = token(&mut core);
        let mut body = push_body("254712345678", json!(20));
        // Missing content type: the documented "Invalid BusinessShortCode" symptom.
        let auth = format!("Bearer {t}");
        let r = core.handle(
            &request(
                "POST",
                daraja::PUSH_PATH,
                &[("Authorization", &auth)],
                &body.to_string(),
            ),
            T,
        );
        assert!(r.body.contains("Invalid BusinessShortCode"), "{}", r.body);
        let r = core.handle(
            &request("GET", daraja::PUSH_PATH, &[("Authorization", &auth)], ""),
            T,
        );
        assert_eq!(r.status, 405);
        for (name, bad, message) in [
            ("Amount", json!(20.5), "Bad Request - Invalid Amount"),
            ("Amount", json!(0), "Bad Request - Invalid Amount"),
            (
                "PhoneNumber",
                json!("0712345678"),
                "Bad Request - Invalid PhoneNumber",
            ),
            (
                "PartyA",
                json!("+254712345678"),
                "Bad Request - Invalid PartyA",
            ),
            (
                "CallBackURL",
                json!("https://ex ample.com"),
                "Bad Request - Invalid CallBackURL",
            ),
            (
                "Timestamp",
                json!("20261341000000"),
                "Bad Request - Invalid Timestamp",
            ),
            (
                "TransactionType",
                json!("PayBill"),
                "Bad Request - Invalid TransactionType",
            ),
        ] {
            let mut b = body.clone();
            b[name] = bad;
            let (status, v) = post(&mut core, &t, daraja::PUSH_PATH, &b, T);
            assert_eq!(
                (status, v["errorMessage"].as_str()),
                (400, Some(message)),
                "{name}"
            );
        }
        let mut b = body.clone();
        b["BusinessShortCode"] = json!("600984");
        let (status, v) = post(&mut core, &t, daraja::PUSH_PATH, &b, T);
        assert_eq!(
            (status, v["errorMessage"].as_str()),
            (500, Some("Merchant does not exist"))
        );
        body["Password"] = json!(daraja::password("174379", "wrong", &daraja_timestamp(T)));
        let (_, v) = post(&mut core, &t, daraja::PUSH_PATH, &body, T);
        assert_eq!(v["errorMessage"], "Wrong credentials");
    }

    #[test]
    fn one_prompt_per_subscriber_rule17_and_spike_arrest() {
        let mut core = core();
        let t = token(&mut core);
        let body = push_body("254712345678", json!("20"));
        let (status, ack) = post(&mut core, &t, daraja::PUSH_PATH, &body, T);
        assert_eq!(status, 200);
        let checkout = ack["CheckoutRequestID"].as_str().unwrap().to_string();
        assert!(
            checkout.starts_with("ws_CO_") && checkout.ends_with("712345678"),
            "{checkout}"
        );
        let (status, v) = post(&mut core, &t, daraja::PUSH_PATH, &body, T);
        assert_eq!(status, 500);
        assert!(v["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("Unable to lock subscriber"));
        // After the prompt ends, the same amount within two minutes is rule-limited.
        assert!(core.resolve(&checkout, Action::Cancel, T + 5));
        let (_, ack) = post(&mut core, &t, daraja::PUSH_PATH, &body, T + 6);
        let again = ack["CheckoutRequestID"].as_str().unwrap().to_string();
        assert_eq!(
            core.query(&again, T + 7),
            Ok(QueryAnswer::Final {
                code: 17,
                desc: "Rule limited.".into()
            })
        );
        // Four pushes in one second with a budget of three.
        let mut last = 0;
        for phone in [
            "254711111111",
            "254722222222",
            "254733333333",
            "254744444444",
        ] {
            last = post(
                &mut core,
                &t,
                daraja::PUSH_PATH,
                &push_body(phone, json!(20)),
                T + 100,
            )
            .0;
        }
        assert_eq!(last, 500);
    }

    #[test]
    fn the_query_waits_then_answers_with_strings() {
        let mut core = core();
        let t = token(&mut core);
        let (_, ack) = post(
            &mut core,
            &t,
            daraja::PUSH_PATH,
            &push_body("254712345678", json!(20)),
            T,
        );
        let checkout = ack["CheckoutRequestID"].as_str().unwrap().to_string();
        let ts = daraja_timestamp(T);
        let query = json!({"BusinessShortCode": "174379", "Password": daraja::password("174379", "demo-passkey", &ts),
            "Timestamp": ts, "CheckoutRequestID": checkout});
        let (status, v) = post(&mut core, &t, daraja::QUERY_PATH, &query, T + 5);
        assert_eq!(
            (status, v["errorCode"].as_str(), v["errorMessage"].as_str()),
            (
                500,
                Some("500.001.1001"),
                Some("The transaction is being processed")
            )
        );
        let (status, v) = post(&mut core, &t, daraja::QUERY_PATH, &query, T + 10);
        assert_eq!((status, v["ResultCode"].as_str()), (200, Some("0")));
        assert_eq!(
            v["ResponseDescription"],
            "The service request has been accepted successsfully"
        );
        assert!(
            v.get("MpesaReceiptNumber").is_none(),
            "the query never carries the receipt"
        );
        let mut unknown = query.clone();
        unknown["CheckoutRequestID"] = json!("ws_CO_nope");
        let (status, v) = post(&mut core, &t, daraja::QUERY_PATH, &unknown, T + 10);
        assert_eq!((status, v["errorCode"].as_str()), (400, Some("400.002.02")));
    }

    #[test]
    fn callbacks_are_scheduled_duplicated_and_dropped_on_request() {
        let mut core = core();
        let p = PushParams {
            shortcode: "174379".into(),
            buy_goods: false,
            amount: 20,
            phone: "254712345678".into(),
            party_b: "174379".into(),
            callback_url: "http://127.0.0.1:9/cb".into(),
            account_reference: "WiFi".into(),
            description: "WiFi".into(),
        };
        let ack = core.accept_push(&p, T).unwrap();
        assert!(
            core.due_deliveries(T + 10).is_empty(),
            "the callback leaves 1 s after the PIN"
        );
        let due = core.due_deliveries(T + 11);
        assert_eq!(due.len(), 1);
        let cb = daraja::parse_callback(due[0].2.as_bytes()).unwrap();
        assert_eq!(cb.checkout_id, ack.checkout_id);
        assert_eq!(
            (cb.result_code, cb.amount, cb.phone.as_deref()),
            (
                0,
                Some(crate::core::model::Money(2000)),
                Some("254712345678")
            )
        );
        let receipt = cb.receipt.unwrap();
        assert_eq!(
            core.receipt_for(&ack.checkout_id, T + 11).as_deref(),
            Some(receipt.as_str())
        );
        assert!(
            core.due_deliveries(T + 12).is_empty(),
            "in flight until told"
        );
        core.delivered(due[0].0, Some(200), T + 12);
        assert!(core.due_deliveries(T + 100).is_empty());

        core.set_faults(Faults {
            duplicate_callbacks: true,
            amount_decimals: true,
            balance_item: true,
            ..Faults::default()
        });
        let p2 = PushParams {
            phone: "254722222222".into(),
            ..p.clone()
        };
        core.accept_push(&p2, T).unwrap();
        let due = core.due_deliveries(T + 13);
        assert_eq!(due.len(), 2);
        assert!(
            due[0].2.contains(r#""Value":20.00"#) && due[0].2.contains(r#"{"Name":"Balance"}"#),
            "{}",
            due[0].2
        );

        core.set_faults(Faults {
            drop_callbacks: true,
            ..Faults::default()
        });
        let p3 = PushParams {
            phone: "254733331032".into(),
            ..p
        };
        core.accept_push(&p3, T).unwrap();
        assert!(core.due_deliveries(T + 100).is_empty());
        assert!(core.deliveries().iter().any(|d| d.dropped));
    }

    #[test]
    fn faults_shape_the_answers() {
        let mut core = core();
        let t = token(&mut core);
        core.set_faults(Faults {
            fail_next: 1,
            unavailable_next: 1,
            stall_next: 1,
            stall_secs: 3,
            ..Faults::default()
        });
        let body = push_body("254712345678", json!(20));
        let auth = format!("Bearer {t}");
        let req = request(
            "POST",
            daraja::PUSH_PATH,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            &body.to_string(),
        );
        let r = core.handle(&req, T);
        assert_eq!(
            (r.status, r.content_type, r.stall_secs),
            (503, "text/html", 3)
        );
        let r = core.handle(&req, T);
        assert!(r.status == 500 && r.body.contains("500.003.1001"));
        assert_eq!(core.handle(&req, T).status, 200);
        core.expire_tokens();
        assert!(core.handle(&req, T).body.contains("404.001.03"));
        // The control API ignores faults and tokens.
        let r = core.handle(
            &request("POST", "/__sim/faults", &[], r#"{"query_stuck":true}"#),
            T,
        );
        assert_eq!(r.status, 200);
        assert!(core.faults().query_stuck);
        let r = core.handle(
            &request(
                "POST",
                "/__sim/resolve",
                &[],
                r#"{"checkout":"nope","action":"dance"}"#,
            ),
            T,
        );
        assert_eq!(r.status, 400);
        let r = core.handle(&request("GET", "/__sim/state", &[], ""), T);
        assert!(r.body.contains("\"sessions\""));
    }

    #[test]
    fn till_pushes_need_the_store_number_and_the_till() {
        let mut core = core();
        let p = PushParams {
            shortcode: "174379".into(),
            buy_goods: true,
            amount: 20,
            phone: "254712345678".into(),
            party_b: "174379".into(),
            callback_url: "http://127.0.0.1:9/cb".into(),
            account_reference: "WiFi".into(),
            description: "WiFi".into(),
        };
        let wrong = core.accept_push(&p, T).unwrap();
        assert!(matches!(
            core.query(&wrong.checkout_id, T + 2),
            Ok(QueryAnswer::Final { code: 2028, .. })
        ));
        let right = core
            .accept_push(
                &PushParams {
                    party_b: "5123456".into(),
                    phone: "254722222222".into(),
                    ..p
                },
                T,
            )
            .unwrap();
        assert!(matches!(
            core.query(&right.checkout_id, T + 10),
            Ok(QueryAnswer::Final { code: 0, .. })
        ));
    }

    #[test]
    fn junk_requests_never_panic() {
        let mut core = core();
        let t = token(&mut core);
        let auth = format!("Bearer {t}");
        let mut seed = 99u64;
        for _ in 0..1000 {
            let len = (seed % 200) as usize;
            let body: String = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let alphabet = b"{}[]\":,0123456789AmountPhoneNumber \\";
                    char::from(alphabet[(seed % alphabet.len() as u64) as usize])
                })
                .collect();
            for path in [
                daraja::PUSH_PATH,
                daraja::QUERY_PATH,
                "/__sim/faults",
                "/__sim/resolve",
                "/x",
            ] {
                core.handle(
                    &request(
                        "POST",
                        path,
                        &[
                            ("Authorization", &auth),
                            ("Content-Type", "application/json"),
                        ],
                        &body,
                    ),
                    T,
                );
            }
        }
    }
}
