//! Safaricom Daraja (M-Pesa Express / STK Push) over `https`: the OAuth token cache, STK Push
//! for PayBill and Buy Goods, STK Push Query, the callback's parser, and the owner's connection
//! check. The wire formats and error meanings are payments.md A2-A6; the request builders and
//! response classifiers are pure functions at the bottom of this file, tested without sockets.
//! Never logs or returns a secret; never retries a push whose answer was lost.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::adapters::https::{self, HttpError};
use crate::core::config::{Mpesa, MpesaEnvironment, MpesaKind};
use crate::core::model::Money;
use crate::core::payments::{
    CheckStep, Decline, GatewayError, PaymentGateway, StkAccepted, StkOutcome, StkPush,
};
use crate::core::time::{daraja_timestamp, Clock};

/// Daraja's hosts (payments.md A1).
pub const SANDBOX_URL: &str = "https://sandbox.safaricom.co.ke";
pub const PRODUCTION_URL: &str = "https://api.safaricom.co.ke";

pub const OAUTH_PATH: &str = "/oauth/v1/generate?grant_type=client_credentials";
pub const PUSH_PATH: &str = "/mpesa/stkpush/v1/processrequest";
pub const QUERY_PATH: &str = "/mpesa/stkpushquery/v1/query";

/// Each Daraja call must finish within this (connect, TLS, request, answer). A push can take a
/// few seconds at Safaricom's end; a query is quick.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// A token is renewed this long before Daraja says it expires (A2: 3599 s).
const TOKEN_RENEW_EARLY_SECS: u64 = 300;

/// Daraja's limits on the prompt's texts (A3).
const MAX_REFERENCE: usize = 12;
const MAX_DESCRIPTION: usize = 13;

/// The host for an environment; `None` for lango's own simulator, whose address is given.
pub fn base_url(environment: MpesaEnvironment) -> Option<&'static str> {
    match environment {
        MpesaEnvironment::Sandbox => Some(SANDBOX_URL),
        MpesaEnvironment::Production => Some(PRODUCTION_URL),
        MpesaEnvironment::Simulator => None,
    }
}

struct Token {
    value: String,
    renew_at: Instant,
}

/// The Daraja client. One per M-Pesa account; shared by every worker thread.
pub struct Daraja {
    account: Mpesa,
    base_url: String,
    http: https::Client,
    clock: Arc<dyn Clock>,
    /// One shared token: Daraja may invalidate the previous token when it issues a new one
    /// (A2), so concurrent workers must not each fetch their own. Held while a token is fetched
    /// (bounded by the call timeout), never while a push or query is in flight.
    token: Mutex<Option<Token>>,
}

impl Daraja {
    pub fn new(
        account: Mpesa,
        base_url: &str,
        http: https::Client,
        clock: Arc<dyn Clock>,
    ) -> Daraja {
        Daraja {
            account,
            base_url: base_url.trim_end_matches('/').to_string(),
            http,
            clock,
            token: Mutex::new(None),
        }
    }

    fn who(&self) -> Who<'_> {
        Who {
            shortcode: &self.account.shortcode,
            till: self.account.kind == MpesaKind::Till,
        }
    }

    /// A valid token: the cached one, or a fresh one. `rejected` is a token Daraja just refused;
    /// a fresh one is fetched unless another thread already replaced it.
    fn token(&self, rejected: Option<&str>) -> Result<String, GatewayError> {
        let mut cache = match self.token.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        let now = self.clock.mono();
        if let Some(token) = cache.as_ref() {
            let fresh = match rejected {
                Some(old) => token.value != old,
                None => now < token.renew_at,
            };
            if fresh {
                return Ok(token.value.clone());
            }
        }
        *cache = None;
        let (value, expires_in) = self.fetch_token()?;
        let lifetime = if expires_in > 2 * TOKEN_RENEW_EARLY_SECS {
            expires_in - TOKEN_RENEW_EARLY_SECS
        } else {
            expires_in / 2
        };
        *cache = Some(Token {
            value: value.clone(),
            renew_at: now + Duration::from_secs(lifetime),
        });
        Ok(value)
    }

    fn fetch_token(&self) -> Result<(String, u64), GatewayError> {
        let credentials = base64_encode(
            format!(
                "{}:{}",
                self.account.consumer_key, self.account.consumer_secret
            )
            .as_bytes(),
        );
        let auth = format!("Basic {credentials}");
        let url = format!("{}{OAUTH_PATH}", self.base_url);
        let response = self
            .http
            .send("GET", &url, &[("Authorization", &auth)], b"")
            // Asking for a token twice is harmless: an unanswered token request is retryable.
            .map_err(|e| GatewayError::Transport(e.to_string()))?;
        if response.status == 200 {
            return parse_token(&response.body).map_err(GatewayError::Unavailable);
        }
        match error_envelope(&response.body) {
            Some((code, message)) if response.status < 500 => Err(GatewayError::Merchant(format!(
                "Daraja refused the consumer key and secret ({code} {message}): check \
                     consumer_key and consumer_secret, and that they belong to the {} app",
                environment_name(self.account.environment)
            ))),
            _ if response.status < 500 => Err(GatewayError::Merchant(format!(
                "Daraja refused the consumer key and secret (HTTP {}): check consumer_key and \
                 consumer_secret",
                response.status
            ))),
            _ => Err(GatewayError::Unavailable(format!(
                "token: HTTP {}",
                response.status
            ))),
        }
    }

    /// POSTs a JSON body with the bearer token; a refused token is renewed and the call made
    /// once more (A13 item 4).
    fn post(&self, path: &str, body: &Value) -> Result<Answer, GatewayError> {
        let url = format!("{}{path}", self.base_url);
        let bytes = body.to_string().into_bytes();
        let mut rejected: Option<String> = None;
        for _ in 0..2 {
            let token = self.token(rejected.as_deref())?;
            let auth = format!("Bearer {token}");
            let headers = [
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/json"),
                ("Accept", "application/json"),
            ];
            let response = self
                .http
                .send("POST", &url, &headers, &bytes)
                .map_err(|e| match e {
                    HttpError::NotSent(m) => GatewayError::Transport(m),
                    HttpError::NoAnswer(m) => GatewayError::Unanswered(m),
                })?;
            match interpret(response.status, &response.body, self.who()) {
                Answer::Failure(Failure::TokenRejected(message)) if rejected.is_none() => {
                    log::info!("Daraja refused the access token ({message}); renewing it");
                    rejected = Some(token);
                }
                Answer::Failure(Failure::TokenRejected(message)) => {
                    return Err(GatewayError::Merchant(format!(
                        "Daraja refused a fresh access token ({message}): check that the app \
                         has the M-Pesa Express product and that the keys are for the {} \
                         environment",
                        environment_name(self.account.environment)
                    )))
                }
                answer => return Ok(answer),
            }
        }
        Err(GatewayError::Unavailable("token refused twice".into()))
    }

    fn query_answer(&self, checkout_id: &str) -> Result<Answer, GatewayError> {
        let timestamp = daraja_timestamp(self.clock.now());
        let body = query_body(&self.account, checkout_id, &timestamp);
        self.post(QUERY_PATH, &body)
    }
}

impl PaymentGateway for Daraja {
    fn stk_push(&self, push: &StkPush) -> Result<StkAccepted, GatewayError> {
        let timestamp = daraja_timestamp(self.clock.now());
        let body = push_body(&self.account, push, &timestamp);
        match self.post(PUSH_PATH, &body)? {
            Answer::Ok(value) => parse_push_ack(&value),
            Answer::Failure(failure) => Err(failure.into_gateway_error()),
        }
    }

    fn stk_query(&self, checkout_id: &str) -> Result<StkOutcome, GatewayError> {
        match self.query_answer(checkout_id)? {
            Answer::Ok(value) => parse_query_result(&value),
            Answer::Failure(Failure::BeingProcessed) => Ok(StkOutcome::Pending),
            Answer::Failure(failure) => Err(failure.into_gateway_error()),
        }
    }

    fn check(&self) -> Vec<CheckStep> {
        check(self)
    }
}

/// The owner's "Test M-Pesa connection": what is configured (secrets masked), a token, then a
/// query for a made-up checkout, which makes Daraja check the shortcode and the password
/// (shortcode + passkey) without prompting anyone. Stops at the first failing step.
fn check(daraja: &Daraja) -> Vec<CheckStep> {
    let account = &daraja.account;
    let mut steps = Vec::new();
    let step = |steps: &mut Vec<CheckStep>, what: &str, ok: bool, detail: String| {
        steps.push(CheckStep {
            what: what.into(),
            ok,
            detail,
        });
    };
    step(
        &mut steps,
        "settings",
        true,
        format!(
            "{} at {}; {}, shortcode {}, party B {}; consumer key {}, consumer secret {}, \
             passkey {}",
            environment_name(account.environment),
            daraja.base_url,
            match account.kind {
                MpesaKind::PayBill => "PayBill",
                MpesaKind::Till => "Buy Goods (till)",
            },
            account.shortcode,
            party_b(account),
            mask(&account.consumer_key),
            hidden(&account.consumer_secret),
            hidden(&account.passkey),
        ),
    );
    if account.kind == MpesaKind::Till && account.till.as_deref() == Some(&account.shortcode) {
        step(
            &mut steps,
            "till or PayBill",
            false,
            "the till number is also set as the shortcode. For Buy Goods, shortcode is the \
             store (head office) number the passkey was issued for, and the till goes in \
             option till"
                .into(),
        );
        return steps;
    }
    let started = Instant::now();
    match daraja.fetch_token() {
        Ok((_, expires_in)) => step(
            &mut steps,
            "access token",
            true,
            format!(
                "Daraja issued a token valid for {expires_in} s ({} ms)",
                started.elapsed().as_millis()
            ),
        ),
        Err(e) => {
            step(&mut steps, "access token", false, e.to_string());
            return steps;
        }
    }
    let probe = format!(
        "ws_CO_{}000000000000",
        &daraja_timestamp(daraja.clock.now())
    );
    let (ok, detail) = match daraja.query_answer(&probe) {
        Ok(Answer::Ok(_))
        | Ok(Answer::Failure(Failure::BeingProcessed))
        | Ok(Answer::Failure(Failure::Gateway(GatewayError::Refused { .. }))) => (
            true,
            format!(
                "Daraja accepted shortcode {} with this passkey (a test query for a made-up \
                 checkout was answered as unknown, as expected)",
                account.shortcode
            ),
        ),
        Ok(Answer::Failure(failure)) => (false, failure.into_gateway_error().to_string()),
        Err(e) => (false, e.to_string()),
    };
    step(&mut steps, "shortcode and passkey", ok, detail);
    if ok && account.kind == MpesaKind::PayBill {
        step(
            &mut steps,
            "till or PayBill",
            true,
            "PayBill: party B is the shortcode. If this number is really a Buy Goods till, \
             payments will fail with ResultCode 2028: set option type 'till'"
                .into(),
        );
    }
    steps
}

// ---- pure: requests ----

/// `base64(shortcode + passkey + timestamp)` (A3).
pub fn password(shortcode: &str, passkey: &str, timestamp: &str) -> String {
    base64_encode(format!("{shortcode}{passkey}{timestamp}").as_bytes())
}

/// PartyB: the PayBill number itself, or the till for Buy Goods (A3, "PayBill vs Till").
pub fn party_b(account: &Mpesa) -> &str {
    match (account.kind, account.till.as_deref()) {
        (MpesaKind::Till, Some(till)) => till,
        _ => &account.shortcode,
    }
}

pub fn transaction_type(kind: MpesaKind) -> &'static str {
    match kind {
        MpesaKind::PayBill => "CustomerPayBillOnline",
        MpesaKind::Till => "CustomerBuyGoodsOnline",
    }
}

/// The processrequest body. Amount is an integer; texts are cut to Daraja's limits.
pub fn push_body(account: &Mpesa, push: &StkPush, timestamp: &str) -> Value {
    json!({
        "BusinessShortCode": account.shortcode,
        "Password": password(&account.shortcode, &account.passkey, timestamp),
        "Timestamp": timestamp,
        "TransactionType": transaction_type(account.kind),
        "Amount": push.amount_major,
        "PartyA": push.phone.as_str(),
        "PartyB": party_b(account),
        "PhoneNumber": push.phone.as_str(),
        "CallBackURL": push.callback_url,
        "AccountReference": cut(&push.account_reference, MAX_REFERENCE),
        "TransactionDesc": cut(&push.description, MAX_DESCRIPTION),
    })
}

pub fn query_body(account: &Mpesa, checkout_id: &str, timestamp: &str) -> Value {
    json!({
        "BusinessShortCode": account.shortcode,
        "Password": password(&account.shortcode, &account.passkey, timestamp),
        "Timestamp": timestamp,
        "CheckoutRequestID": checkout_id,
    })
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

// ---- pure: answers ----

/// A Daraja answer, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// HTTP 200 with a JSON object.
    Ok(Value),
    Failure(Failure),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// `404.001.03 Invalid Access Token` and relatives: renew the token and try once more.
    TokenRejected(String),
    /// `500.001.1001 The transaction is being processed`: the query's "still pending" (A6).
    BeingProcessed,
    Gateway(GatewayError),
}

impl Failure {
    fn into_gateway_error(self) -> GatewayError {
        match self {
            Failure::TokenRejected(m) => GatewayError::Merchant(format!("access token: {m}")),
            Failure::BeingProcessed => {
                GatewayError::Unavailable("the transaction is being processed".into())
            }
            Failure::Gateway(e) => e,
        }
    }
}

/// What the error messages need to know about the account.
#[derive(Clone, Copy)]
pub struct Who<'a> {
    pub shortcode: &'a str,
    pub till: bool,
}

/// Classifies a response by status and body. Daraja reuses codes for unrelated meanings
/// (`500.001.1001` is "being processed", "wrong credentials", "merchant does not exist" and
/// "unable to lock subscriber"), so the message text decides where it must (A4).
pub fn interpret(status: u16, body: &[u8], who: Who<'_>) -> Answer {
    if status == 200 {
        return match serde_json::from_slice::<Value>(body) {
            Ok(value) if value.is_object() => Answer::Ok(value),
            _ => Answer::Failure(Failure::Gateway(GatewayError::Unavailable(
                "HTTP 200 without a JSON object".into(),
            ))),
        };
    }
    match error_envelope(body) {
        Some((code, message)) => classify_error(status, &code, &message, who),
        None if status >= 500 || status == 429 => Answer::Failure(Failure::Gateway(
            GatewayError::Unavailable(format!("HTTP {status}")),
        )),
        None => Answer::Failure(Failure::Gateway(GatewayError::Merchant(format!(
            "Daraja answered HTTP {status} without an explanation (wrong address?)"
        )))),
    }
}

/// `errorCode` and `errorMessage` of Daraja's error envelope, if the body is one.
pub fn error_envelope(body: &[u8]) -> Option<(String, String)> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let code = text_of(value.get("errorCode")?)?;
    let message = value
        .get("errorMessage")
        .and_then(text_of)
        .unwrap_or_default();
    Some((code, message))
}

pub fn classify_error(status: u16, code: &str, message: &str, who: Who<'_>) -> Answer {
    let lower = message.to_ascii_lowercase();
    let fail = |e: GatewayError| Answer::Failure(Failure::Gateway(e));
    let shown = format!("{code} {message}");
    if lower.contains("invalid access token")
        || matches!(
            code,
            "404.001.03" | "401.003.01" | "404.001.04" | "400.003.01"
        )
    {
        return Answer::Failure(Failure::TokenRejected(shown));
    }
    if lower.contains("being processed") {
        return Answer::Failure(Failure::BeingProcessed);
    }
    if lower.contains("unable to lock subscriber") {
        return fail(GatewayError::Refused {
            decline: Decline::Busy,
            message: shown,
        });
    }
    if lower.contains("merchant does not exist") {
        let hint = if who.till {
            "for a till, shortcode must be the store (head office) number used at Go-Live, \
             not the till number"
        } else {
            "check option shortcode (your PayBill number) and the environment (sandbox or \
             production)"
        };
        return fail(GatewayError::Merchant(format!(
            "Daraja does not know shortcode {} ({shown}): {hint}",
            who.shortcode
        )));
    }
    if lower.contains("wrong credentials") {
        let hint = if who.till {
            "the passkey belongs to the store number the till was registered under"
        } else {
            "check option passkey (Safaricom emails it after Go-Live)"
        };
        return fail(GatewayError::Merchant(format!(
            "the passkey does not match shortcode {} ({shown}): {hint}",
            who.shortcode
        )));
    }
    if code.starts_with("500.003")
        || lower.contains("spike arrest")
        || lower.contains("quota")
        || lower.contains("system is busy")
        || status >= 500
    {
        return fail(GatewayError::Unavailable(shown));
    }
    if code == "400.002.02" {
        // The guest's number or the amount, or the request we built (a configuration or a bug).
        let guest = ["phonenumber", "partya", "amount", "checkoutrequestid"];
        if guest.iter().any(|field| lower.contains(field)) {
            return fail(GatewayError::Refused {
                decline: Decline::Other,
                message: shown,
            });
        }
    }
    if code.starts_with("400.008") {
        return fail(GatewayError::Merchant(format!(
            "Daraja refused the token request ({shown})"
        )));
    }
    fail(GatewayError::Merchant(shown))
}

/// `{"access_token": "...", "expires_in": "3599"}`; `expires_in` may be a string or a number.
pub fn parse_token(body: &[u8]) -> Result<(String, u64), String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| "token answer is not JSON".to_string())?;
    let token = value
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && t.len() <= 2048 && t.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or("token answer without a usable access_token")?;
    let expires_in = value
        .get("expires_in")
        .and_then(text_of)
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .ok_or("token answer without a usable expires_in")?;
    Ok((token.to_string(), expires_in))
}

/// The push acknowledgement (A4): `ResponseCode` "0" and a CheckoutRequestID.
pub fn parse_push_ack(value: &Value) -> Result<StkAccepted, GatewayError> {
    let code = value.get("ResponseCode").and_then(text_of);
    let description = value
        .get("ResponseDescription")
        .and_then(text_of)
        .unwrap_or_default();
    if code.as_deref() != Some("0") {
        return Err(GatewayError::Refused {
            decline: Decline::Other,
            message: format!("ResponseCode {}: {description}", code.unwrap_or_default()),
        });
    }
    let checkout_id = value
        .get("CheckoutRequestID")
        .and_then(Value::as_str)
        .filter(|id| is_identifier(id))
        .ok_or_else(|| {
            // Accepted, but we cannot follow it: the prompt may be on the phone.
            GatewayError::Unanswered("push accepted without a usable CheckoutRequestID".into())
        })?;
    let merchant_request_id = value
        .get("MerchantRequestID")
        .and_then(Value::as_str)
        .filter(|id| is_identifier(id))
        .unwrap_or_default();
    Ok(StkAccepted {
        merchant_request_id: merchant_request_id.to_string(),
        checkout_id: checkout_id.to_string(),
    })
}

/// A final query answer (A6): `ResultCode` as a string (or a number); "0" is paid.
pub fn parse_query_result(value: &Value) -> Result<StkOutcome, GatewayError> {
    let Some(code) = value.get("ResultCode").and_then(text_of) else {
        return Err(GatewayError::Unavailable(
            "query answer without a ResultCode".into(),
        ));
    };
    Ok(outcome_of(&code))
}

/// A ResultCode as the payment state machine wants it. Non-numeric codes (`SFC_IC0003`, the
/// operator does not exist) are a merchant problem.
pub fn outcome_of(code: &str) -> StkOutcome {
    match code.trim().parse::<i64>() {
        Ok(0) => StkOutcome::Paid {
            receipt: None,
            amount: None,
        },
        Ok(code) => StkOutcome::Declined {
            code,
            decline: Decline::from_result_code(code),
        },
        Err(_) if code.trim() == "SFC_IC0003" => StkOutcome::Declined {
            code: -1,
            decline: Decline::Merchant,
        },
        Err(_) => StkOutcome::Declined {
            code: -1,
            decline: Decline::Other,
        },
    }
}

/// Daraja's STK callback (A5), as far as lango uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Callback {
    pub merchant_request_id: Option<String>,
    pub checkout_id: String,
    /// -1 for a code that is not a number.
    pub result_code: i64,
    pub result_desc: String,
    pub amount: Option<Money>,
    pub receipt: Option<String>,
    /// Digits only, as sent (a number or a string).
    pub phone: Option<String>,
}

/// Parses a callback body. Items are found by name, never by position; numbers may come as
/// strings; a malformed body is an error, never a panic.
pub fn parse_callback(body: &[u8]) -> Result<Callback, String> {
    let value: Value = serde_json::from_slice(body).map_err(|_| "not JSON".to_string())?;
    let stk = value
        .get("Body")
        .and_then(|b| b.get("stkCallback"))
        .ok_or("no Body.stkCallback")?;
    let checkout_id = stk
        .get("CheckoutRequestID")
        .and_then(Value::as_str)
        .filter(|id| is_identifier(id))
        .ok_or("no usable CheckoutRequestID")?
        .to_string();
    let code = stk
        .get("ResultCode")
        .and_then(text_of)
        .ok_or("no ResultCode")?;
    let result_code = code.trim().parse::<i64>().unwrap_or(-1);
    let result_desc = stk
        .get("ResultDesc")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    let item = |name: &str| -> Option<&Value> {
        stk.get("CallbackMetadata")?
            .get("Item")?
            .as_array()?
            .iter()
            .find(|i| i.get("Name").and_then(Value::as_str) == Some(name))?
            .get("Value")
    };
    let amount = item("Amount")
        .and_then(text_of)
        .and_then(|a| Money::parse(&a).ok());
    let receipt = item("MpesaReceiptNumber")
        .and_then(Value::as_str)
        .filter(|r| is_receipt(r))
        .map(str::to_string);
    let phone = item("PhoneNumber")
        .and_then(text_of)
        .filter(|p| !p.is_empty() && p.len() <= 15 && p.bytes().all(|b| b.is_ascii_digit()));
    Ok(Callback {
        merchant_request_id: stk
            .get("MerchantRequestID")
            .and_then(Value::as_str)
            .filter(|id| is_identifier(id))
            .map(str::to_string),
        checkout_id,
        result_code,
        result_desc,
        amount,
        receipt,
        phone,
    })
}

/// A string or number as text (Daraja sends both for the same field).
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An ID we are willing to store and look up: short printable ASCII.
fn is_identifier(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_graphic())
}

/// An M-Pesa receipt: upper-case letters and digits, 10 since about 2015 (8-9 before, A11).
pub fn is_receipt(text: &str) -> bool {
    (8..=12).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

pub fn environment_name(environment: MpesaEnvironment) -> &'static str {
    match environment {
        MpesaEnvironment::Sandbox => "sandbox",
        MpesaEnvironment::Production => "production",
        MpesaEnvironment::Simulator => "simulator",
    }
}

/// A key shown to the owner: its first and last 3 characters.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 10 {
        return hidden(secret);
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}...{tail}")
}

/// A secret shown to the owner: only whether it is set and how long it is.
pub fn hidden(secret: &str) -> String {
    match secret.chars().count() {
        0 => "not set".into(),
        n => format!("set ({n} characters)"),
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 section 4).
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (idx, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if idx <= chunk.len() {
                out.push(char::from(BASE64[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 with padding; `None` for anything else.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.trim().as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let value = |c: u8| BASE64.iter().position(|&b| b == c).map(|p| p as u32);
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (idx, chunk) in bytes.chunks(4).enumerate() {
        let last = idx == bytes.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::Phone;

    const PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";
    const WHO: Who<'static> = Who {
        shortcode: "174379",
        till: false,
    };

    fn account(kind: MpesaKind) -> Mpesa {
        Mpesa {
            environment: MpesaEnvironment::Sandbox,
            consumer_key: "key".into(),
            consumer_secret: "secret".into(),
            kind,
            shortcode: "174379".into(),
            till: (kind == MpesaKind::Till).then(|| "5123456".into()),
            passkey: PASSKEY.into(),
            account_reference: "WiFi".into(),
            callback_url: None,
            ca_bundle: None,
        }
    }

    #[test]
    fn password_test_vectors_from_payments_md() {
        let cases = [
            ("20160216165627", "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMTYwMjE2MTY1NjI3"),
            ("20210628092408", "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMjEwNjI4MDkyNDA4"),
            ("20260604194233", "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMjYwNjA0MTk0MjMz"),
        ];
        for (timestamp, expected) in cases {
            assert_eq!(password("174379", PASSKEY, timestamp), expected);
        }
    }

    #[test]
    fn timestamps_are_east_africa_time() {
        // 2026-06-04T16:42:33Z is 19:42:33 in Nairobi.
        assert_eq!(daraja_timestamp(1_780_591_353), "20260604194233");
    }

    #[test]
    fn base64_round_trips() {
        for text in [
            "",
            "f",
            "fo",
            "foo",
            "foob",
            "fooba",
            "foobar",
            "key:secret",
        ] {
            let encoded = base64_encode(text.as_bytes());
            assert_eq!(base64_decode(&encoded).as_deref(), Some(text.as_bytes()));
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        for junk in ["a", "ab=c", "====", "Zm9v!", "Zg==Zg==", "Z==="] {
            assert_eq!(base64_decode(junk), None, "{junk}");
        }
    }

    #[test]
    fn paybill_and_till_bodies() {
        let push = StkPush {
            phone: Phone::parse("0712 345 678").unwrap(),
            amount_major: 20,
            account_reference: "Cafe WiFi 1234567".into(),
            description: "Internet package".into(),
            callback_url: "https://example.net/cb".into(),
        };
        let body = push_body(&account(MpesaKind::PayBill), &push, "20260604194233");
        assert_eq!(body["TransactionType"], "CustomerPayBillOnline");
        assert_eq!(
            (body["PartyB"].as_str(), body["Amount"].as_i64()),
            (Some("174379"), Some(20))
        );
        assert_eq!(body["PartyA"], "254712345678");
        assert_eq!(body["PhoneNumber"], "254712345678");
        assert_eq!(body["AccountReference"], "Cafe WiFi 12");
        assert_eq!(body["TransactionDesc"], "Internet pack");
        let body = push_body(&account(MpesaKind::Till), &push, "20260604194233");
        assert_eq!(
            (
                body["TransactionType"].as_str(),
                body["BusinessShortCode"].as_str(),
                body["PartyB"].as_str()
            ),
            (
                Some("CustomerBuyGoodsOnline"),
                Some("174379"),
                Some("5123456")
            )
        );
        let query = query_body(&account(MpesaKind::PayBill), "ws_CO_1", "20260604194233");
        assert_eq!(query["CheckoutRequestID"], "ws_CO_1");
        assert_eq!(query["Password"], body["Password"]);
    }

    fn failure(status: u16, code: &str, message: &str) -> Answer {
        let body = json!({"requestId": "1-2-3", "errorCode": code, "errorMessage": message});
        interpret(status, body.to_string().as_bytes(), WHO)
    }

    #[test]
    fn errors_are_classified_by_code_and_text() {
        let merchant = |a: Answer| {
            matches!(
                a,
                Answer::Failure(Failure::Gateway(GatewayError::Merchant(_)))
            )
        };
        let unavailable = |a: Answer| {
            matches!(
                a,
                Answer::Failure(Failure::Gateway(GatewayError::Unavailable(_)))
            )
        };
        assert!(matches!(
            failure(404, "404.001.03", "Invalid Access Token"),
            Answer::Failure(Failure::TokenRejected(_))
        ));
        assert!(matches!(
            failure(401, "401.003.01", "Error Occurred - Invalid Access Token - Invalid API call as no apiproduct match found"),
            Answer::Failure(Failure::TokenRejected(_))
        ));
        assert_eq!(
            failure(500, "500.001.1001", "The transaction is being processed"),
            Answer::Failure(Failure::BeingProcessed)
        );
        assert!(matches!(
            failure(500, "500.001.1001", "Unable to lock subscriber, a transaction is already in process for the current subscriber"),
            Answer::Failure(Failure::Gateway(GatewayError::Refused { decline: Decline::Busy, .. }))
        ));
        assert!(merchant(failure(
            500,
            "500.001.1001",
            "Merchant does not exist"
        )));
        assert!(merchant(failure(500, "500.001.1001", "Wrong credentials")));
        assert!(merchant(failure(
            500,
            "500.001.1001",
            "[MerchantValidate] - Wrong credentials"
        )));
        assert!(unavailable(failure(
            500,
            "500.003.02",
            "Error Occurred: Spike Arrest Violation"
        )));
        assert!(unavailable(failure(500, "500.003.03", "Quota Violation")));
        assert!(unavailable(failure(
            500,
            "500.003.1001",
            "Internal Server Error"
        )));
        assert!(matches!(
            failure(400, "400.002.02", "Bad Request - Invalid PhoneNumber"),
            Answer::Failure(Failure::Gateway(GatewayError::Refused {
                decline: Decline::Other,
                ..
            }))
        ));
        assert!(merchant(failure(
            400,
            "400.002.02",
            "Bad Request - Invalid BusinessShortCode"
        )));
        assert!(merchant(failure(
            400,
            "400.002.02",
            "Bad Request - Invalid CallBackURL"
        )));
        assert!(merchant(failure(
            400,
            "400.008.01",
            "Invalid authentication type passed"
        )));
        assert!(merchant(failure(404, "404.001.01", "Resource not found")));
        // No envelope at all.
        assert!(unavailable(interpret(
            503,
            b"<html>Service Unavailable</html>",
            WHO
        )));
        assert!(unavailable(interpret(502, b"", WHO)));
        assert!(merchant(interpret(404, b"Not Found", WHO)));
        assert!(unavailable(interpret(200, b"not json", WHO)));
        assert!(unavailable(interpret(200, b"[1,2]", WHO)));
    }

    #[test]
    fn the_till_hint_names_the_store_number() {
        let till = Who {
            shortcode: "5123456",
            till: true,
        };
        let body = json!({"errorCode": "500.001.1001", "errorMessage": "Merchant does not exist"});
        let Answer::Failure(Failure::Gateway(GatewayError::Merchant(m))) =
            interpret(500, body.to_string().as_bytes(), till)
        else {
            panic!("merchant")
        };
        assert!(m.contains("store (head office) number"), "{m}");
    }

    #[test]
    fn acknowledgements_and_query_results() {
        let ack = json!({"MerchantRequestID": "6e3f-4a1c-9b27-5d0c8e41f2a71204518", "CheckoutRequestID": "ws_CO_04062026194233517712345678",
            "ResponseCode": "0", "ResponseDescription": "Success. Request accepted for processing"});
        let accepted = parse_push_ack(&ack).unwrap();
        assert_eq!(accepted.checkout_id, "ws_CO_04062026194233517712345678");
        assert!(matches!(
            parse_push_ack(&json!({"ResponseCode": "1", "ResponseDescription": "no"})),
            Err(GatewayError::Refused { .. })
        ));
        assert!(matches!(
            parse_push_ack(&json!({"ResponseCode": 0})),
            Err(GatewayError::Unanswered(_))
        ));
        assert!(matches!(
            parse_push_ack(&json!({"ResponseCode": "0", "CheckoutRequestID": "x y"})),
            Err(GatewayError::Unanswered(_))
        ));
        let paid = json!({"ResponseCode": "0", "ResponseDescription": "The service request has been accepted successsfully", "ResultCode": "0", "ResultDesc": "The service request is processed successfully."});
        assert_eq!(
            parse_query_result(&paid),
            Ok(StkOutcome::Paid {
                receipt: None,
                amount: None
            })
        );
        for (code, decline) in [
            ("1032", Decline::Cancelled),
            ("1037", Decline::TimedOut),
            ("2001", Decline::WrongPin),
            ("1", Decline::InsufficientFunds),
            ("17", Decline::Busy),
            ("2028", Decline::Merchant),
        ] {
            assert_eq!(
                parse_query_result(
                    &json!({"ResultCode": code, "ResultDesc": "[STK_CB - ]The service request is processed successfully."})
                ),
                Ok(StkOutcome::Declined {
                    code: code.parse().unwrap(),
                    decline
                }),
                "{code}"
            );
        }
        assert_eq!(
            parse_query_result(&json!({"ResultCode": 1032})),
            Ok(StkOutcome::Declined {
                code: 1032,
                decline: Decline::Cancelled
            })
        );
        assert_eq!(
            parse_query_result(&json!({"ResultCode": "SFC_IC0003"})),
            Ok(StkOutcome::Declined {
                code: -1,
                decline: Decline::Merchant
            })
        );
        assert!(parse_query_result(&json!({"ResponseCode": "0"})).is_err());
    }

    #[test]
    fn tokens_with_string_or_number_lifetimes() {
        assert_eq!(
            parse_token(br#"{"access_token":"abc","expires_in":"3599"}"#),
            Ok(("abc".into(), 3599))
        );
        assert_eq!(
            parse_token(br#"{"access_token":"abc","expires_in":3599}"#),
            Ok(("abc".into(), 3599))
        );
        for junk in [
            &b"{}"[..],
            b"null",
            b"",
            br#"{"access_token":"","expires_in":1}"#,
            br#"{"access_token":"a b","expires_in":1}"#,
            br#"{"access_token":"a","expires_in":"soon"}"#,
            br#"{"access_token":"a","expires_in":-5}"#,
        ] {
            assert!(parse_token(junk).is_err());
        }
    }

    #[test]
    fn callbacks_of_every_documented_shape() {
        let success = br#"{"Body":{"stkCallback":{"MerchantRequestID":"6e3f-4a1c-9b27-5d0c8e41f2a71204518",
            "CheckoutRequestID":"ws_CO_04062026194233517712345678","ResultCode":0,
            "ResultDesc":"The service request is processed successfully.","CallbackMetadata":{"Item":[
            {"Name":"Amount","Value":20.00},{"Name":"MpesaReceiptNumber","Value":"UF4KQ81ZTD"},{"Name":"Balance"},
            {"Name":"TransactionDate","Value":20260604194301},{"Name":"PhoneNumber","Value":254712345678}]}}}}"#;
        let cb = parse_callback(success).unwrap();
        assert_eq!(
            (
                cb.result_code,
                cb.amount,
                cb.receipt.as_deref(),
                cb.phone.as_deref()
            ),
            (
                0,
                Some(Money(2000)),
                Some("UF4KQ81ZTD"),
                Some("254712345678")
            )
        );
        // Items in another order, no Balance, strings for numbers, whole-number amount.
        let reordered = br#"{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":"0","ResultDesc":"ok",
            "CallbackMetadata":{"Item":[{"Name":"PhoneNumber","Value":"254712345678"},{"Name":"Amount","Value":"20"},
            {"Name":"MpesaReceiptNumber","Value":"UF4KQ81ZTD"}]}}}}"#;
        let cb = parse_callback(reordered).unwrap();
        assert_eq!(
            (cb.amount, cb.phone.as_deref()),
            (Some(Money(2000)), Some("254712345678"))
        );
        let cancelled = br#"{"Body":{"stkCallback":{"MerchantRequestID":"m","CheckoutRequestID":"ws_CO_1","ResultCode":1032,"ResultDesc":"Request cancelled by user"}}}"#;
        let cb = parse_callback(cancelled).unwrap();
        assert_eq!((cb.result_code, cb.amount, cb.receipt), (1032, None, None));
        let odd = br#"{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":"SFC_IC0003"}}}"#;
        assert_eq!(parse_callback(odd).unwrap().result_code, -1);
    }

    #[test]
    fn junk_callbacks_are_errors_not_panics() {
        let junk: [&[u8]; 12] = [
            b"",
            b"null",
            b"[]",
            b"{}",
            br#"{"Body":1}"#,
            br#"{"Body":{"stkCallback":[]}}"#,
            br#"{"Body":{"stkCallback":{"ResultCode":0}}}"#,
            br#"{"Body":{"stkCallback":{"CheckoutRequestID":"","ResultCode":0}}}"#,
            br#"{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1"}}}"#,
            br#"{"Body":{"stkCallback":{"CheckoutRequestID":7,"ResultCode":0}}}"#,
            b"\xff\xfe{",
            br#"{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":{}}}}"#,
        ];
        for body in junk {
            assert!(
                parse_callback(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // Bad metadata degrades to "unknown", never to a wrong value.
        let weird = br#"{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":0,"CallbackMetadata":{"Item":[
            {"Name":"Amount","Value":"1e3"},{"Name":"MpesaReceiptNumber","Value":"lower case"},{"Name":"PhoneNumber","Value":[1]}]}}}}"#;
        let cb = parse_callback(weird).unwrap();
        assert_eq!((cb.amount, cb.receipt, cb.phone), (None, None, None));
        let mut seed = 7u64;
        for _ in 0..2000 {
            let len = (seed % 300) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let alphabet = b"{}[]\":,0123456789abcBodystkCallbackResultCode \\";
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let _ = parse_callback(&bytes);
            let _ = interpret((seed % 600) as u16, &bytes, WHO);
            let _ = parse_token(&bytes);
        }
    }

    #[test]
    fn secrets_are_masked() {
        assert_eq!(mask("AbCdEfGhIjKlMnOp"), "AbC...nOp");
        assert_eq!(mask("short"), "set (5 characters)");
        assert_eq!(hidden(PASSKEY), "set (64 characters)");
        assert_eq!(hidden(""), "not set");
    }
}
