//! The simulator's HTTP endpoints: OAuth, STK Push with Daraja's validation order and error
//! envelopes, STK Push Query (docs/daraja.md: Access token to Callback), the fault switches that answer before them,
//! and the control API under `/__sim/`.

use serde_json::{json, Value};

use super::*;

impl SimCore {
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
            #[cfg(feature = "mpesa-qr")]
            daraja::qr::QR_PATH => self.qr_api(request, now),
            other => match self.pull_api(other, request, now) {
                Some(result) => result,
                None => Err(SimError::new(404, "404.001.01", "Resource not found")),
            },
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
        if crate::core::base64::decode(encoded).as_deref() != Some(expected.as_bytes()) {
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
    pub(crate) fn json_body(
        &self,
        request: &SimRequest,
        now: Timestamp,
    ) -> Result<Value, SimError> {
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
        self.spike_check(api, now)
    }

    /// Step 7: more than the spike limit in a second → `500.003.02`.
    pub(crate) fn spike_check(
        &mut self,
        api: &'static str,
        now: Timestamp,
    ) -> Result<(), SimError> {
        let (second, count) = self.spike.entry(api).or_insert((now, 0));
        if *second != now {
            *second = now;
            *count = 0;
        }
        *count += 1;
        if *count > self.settings.spike_limit_per_sec {
            *self.spike_refused.entry(api).or_insert(0) += 1;
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
            crate::core::http::Url::parse(u).is_ok()
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
    pub(crate) fn accept_push(&mut self, p: &PushParams, now: Timestamp) -> Result<Ack, SimError> {
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
        // The real shape: `ws_CO_`, DDMMYYYYHHmmss, three digits (milliseconds at Safaricom;
        // random here, never the push count), the subscriber without 254.
        let mut checkout_id = format!(
            "ws_CO_{}{:03}{subscriber}",
            ddmmyyyyhhmmss(now),
            self.next_random() % 1000
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
    pub(crate) fn query(&self, checkout_id: &str, now: Timestamp) -> Result<QueryAnswer, SimError> {
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
            ("POST", "till_payment") => match self.till_payment_control(&body, now) {
                Some(answer) => ok(answer),
                None => bad("phone, amount (whole shillings), till, and optionally receipt"),
            },
            #[cfg(feature = "mpesa-qr")]
            ("POST", "qr_payment") => match self.qr_payment_control(&body, now) {
                Some(answer) => ok(answer),
                None => bad("ref_no of a QR issued, phone, and optionally amount"),
            },
            ("POST", "expire_tokens") => {
                self.expire_tokens();
                ok(json!({ "tokens": 0 }))
            }
            _ => SimResponse::json(404, &json!({ "error": "unknown control" })),
        }
    }
}
