//! The Daraja protocol (M-Pesa Express / STK Push), pure: Daraja's hosts and paths, the
//! request builders (password, push and query bodies), the response classifiers (error
//! envelopes, acknowledgements, query results, tokens) and the callback's parser. The wire
//! formats and error meanings are in docs/daraja.md (Access token to Query). The client that sends these over `https`
//! is `adapters::daraja`; the simulator's state machine (`core::daraja_sim`) speaks the same
//! protocol from the other side. Never logs or returns a secret.

use serde_json::{json, Value};

pub mod pull;
#[cfg(feature = "mpesa-qr")]
pub mod qr;

use crate::core::config::{Mpesa, MpesaEnvironment, MpesaKind};
use crate::core::model::Money;
use crate::core::payments::{Decline, GatewayError, StkAccepted, StkOutcome, StkPush};

/// Daraja's hosts (docs/daraja.md, Hosts).
pub(crate) const SANDBOX_URL: &str = "https://sandbox.safaricom.co.ke";
pub(crate) const PRODUCTION_URL: &str = "https://api.safaricom.co.ke";

pub(crate) const OAUTH_PATH: &str = "/oauth/v1/generate?grant_type=client_credentials";
pub const PUSH_PATH: &str = "/mpesa/stkpush/v1/processrequest";
pub(crate) const QUERY_PATH: &str = "/mpesa/stkpushquery/v1/query";

/// Daraja's limits on the prompt's texts (docs/daraja.md, STK push request).
const MAX_REFERENCE: usize = 12;
const MAX_DESCRIPTION: usize = 13;

/// The host for an environment; `None` for lango's own simulator, whose address is given.
pub(crate) fn base_url(environment: MpesaEnvironment) -> Option<&'static str> {
    match environment {
        MpesaEnvironment::Sandbox => Some(SANDBOX_URL),
        MpesaEnvironment::Production => Some(PRODUCTION_URL),
        MpesaEnvironment::Simulator => None,
    }
}

// ---- pure: requests ----

/// `base64(shortcode + passkey + timestamp)` (docs/daraja.md, STK push request).
pub(crate) fn password(shortcode: &str, passkey: &str, timestamp: &str) -> String {
    crate::core::base64::encode(format!("{shortcode}{passkey}{timestamp}").as_bytes())
}

/// PartyB: the PayBill number itself, or the till for Buy Goods (docs/daraja.md, STK push request).
pub(crate) fn party_b(account: &Mpesa) -> &str {
    match (account.kind, account.till.as_deref()) {
        (MpesaKind::Till, Some(till)) => till,
        _ => &account.shortcode,
    }
}

pub(crate) fn transaction_type(kind: MpesaKind) -> &'static str {
    match kind {
        MpesaKind::PayBill => "CustomerPayBillOnline",
        MpesaKind::Till => "CustomerBuyGoodsOnline",
    }
}

/// The processrequest body. Amount is an integer; texts are cut to Daraja's limits.
pub(crate) fn push_body(account: &Mpesa, push: &StkPush, timestamp: &str) -> Value {
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

pub(crate) fn query_body(account: &Mpesa, checkout_id: &str, timestamp: &str) -> Value {
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
pub(crate) enum Answer {
    /// HTTP 200 with a JSON object.
    Ok(Value),
    Failure(Failure),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// `404.001.03 Invalid Access Token` and relatives: renew the token and try once more.
    TokenRejected(String),
    /// `500.001.1001 The transaction is being processed`: the query's "still pending" (docs/daraja.md, Query).
    BeingProcessed,
    Gateway(GatewayError),
}

impl Failure {
    pub(crate) fn into_gateway_error(self) -> GatewayError {
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
pub(crate) struct Who<'a> {
    pub shortcode: &'a str,
    pub till: bool,
}

/// Classifies a response by status and body. Daraja reuses codes for unrelated meanings
/// (`500.001.1001` is "being processed", "wrong credentials", "merchant does not exist" and
/// "unable to lock subscriber"), so the message text decides where it must (docs/daraja.md, Answers and errors).
pub(crate) fn interpret(status: u16, body: &[u8], who: Who<'_>) -> Answer {
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
pub(crate) fn error_envelope(body: &[u8]) -> Option<(String, String)> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let code = text_of(value.get("errorCode")?)?;
    let message = value
        .get("errorMessage")
        .and_then(text_of)
        .unwrap_or_default();
    Some((code, message))
}

pub(crate) fn classify_error(status: u16, code: &str, message: &str, who: Who<'_>) -> Answer {
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
    if code == "500.003.02"
        || code == "500.003.03"
        || lower.contains("spike arrest")
        || lower.contains("quota violation")
    {
        return fail(GatewayError::Throttled(shown));
    }
    if code.starts_with("500.003") || lower.contains("system is busy") || status >= 500 {
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
pub(crate) fn parse_token(body: &[u8]) -> Result<(String, u64), String> {
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

/// The push acknowledgement (docs/daraja.md, Answers and errors): `ResponseCode` "0" and a CheckoutRequestID.
pub(crate) fn parse_push_ack(value: &Value) -> Result<StkAccepted, GatewayError> {
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

/// A final query answer (docs/daraja.md, Query): `ResultCode` as a string (or a number); "0" is paid.
pub(crate) fn parse_query_result(value: &Value) -> Result<StkOutcome, GatewayError> {
    let Some(code) = value.get("ResultCode").and_then(text_of) else {
        return Err(GatewayError::Unavailable(
            "query answer without a ResultCode".into(),
        ));
    };
    Ok(outcome_of(&code))
}

/// A ResultCode as the payment state machine wants it. Non-numeric codes (`SFC_IC0003`, the
/// operator does not exist) are a merchant problem.
pub(crate) fn outcome_of(code: &str) -> StkOutcome {
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

/// Daraja's STK callback (docs/daraja.md, Callback), as far as lango uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Callback {
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
pub(crate) fn parse_callback(body: &[u8]) -> Result<Callback, String> {
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
pub(crate) fn is_receipt(text: &str) -> bool {
    (8..=12).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

pub(crate) fn environment_name(environment: MpesaEnvironment) -> &'static str {
    match environment {
        MpesaEnvironment::Sandbox => "sandbox",
        MpesaEnvironment::Production => "production",
        MpesaEnvironment::Simulator => "simulator",
    }
}

/// A key shown to the owner: its first and last 3 characters.
pub(crate) fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 10 {
        return hidden(secret);
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}...{tail}")
}

/// A secret shown to the owner: only whether it is set and how long it is.
pub(crate) fn hidden(secret: &str) -> String {
    match secret.chars().count() {
        0 => "not set".into(),
        n => format!("set ({n} characters)"),
    }
}

#[cfg(test)]
mod tests;
