//! ClickPesa's collection API for Mixx by Yas (Tigo Pesa) and HaloPesa in Tanzania
//! (docs.clickpesa.com; docs/tz-aggregator.md), pure: the paths, the token's answer, the
//! USSD-push body with its optional checksum (HMAC-SHA256 over the canonical JSON), the answers
//! of the push and of the payment query by lango's order reference classified into lango's
//! outcomes, the webhook's parser and checksum check, and the number a guest typed turned into
//! the `255…` number ClickPesa wants (`msisdn`). No I/O: `adapters::clickpesa` sends.
//! Feature `clickpesa`.

use serde_json::{json, Value};

use crate::core::config::MpesaEnvironment;
use crate::core::model::{Money, Phone};
use crate::core::payments::{Decline, GatewayError, StkOutcome};

#[cfg(feature = "simulator")]
pub mod sim;
#[cfg(test)]
mod tests;

pub(crate) const TOKEN_PATH: &str = "/third-parties/generate-token";
pub(crate) const PUSH_PATH: &str = "/third-parties/payments/initiate-ussd-push-request";
/// `GET …/payments/{orderReference}`.
pub(crate) const QUERY_PATH: &str = "/third-parties/payments/";
pub(crate) const CURRENCY: &str = "TZS";
const DIAL: &str = "255";

/// ClickPesa's address; `None` for the simulator (its address is configured). ClickPesa has no
/// sandbox: the configuration refuses `environment 'sandbox'`.
pub(crate) fn base_url(environment: MpesaEnvironment) -> Option<&'static str> {
    match environment {
        MpesaEnvironment::Simulator => None,
        _ => Some("https://api.clickpesa.com"),
    }
}

/// The wallets lango sends through ClickPesa.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    /// Mixx by Yas, formerly Tigo Pesa (and Zantel's range, now Yas): 065, 067, 071, 077.
    Mixx,
    /// HaloPesa (Halotel): 061, 062.
    HaloPesa,
}

impl Network {
    pub fn name(self) -> &'static str {
        match self {
            Network::Mixx => "Mixx by Yas",
            Network::HaloPesa => "HaloPesa",
        }
    }

    /// The channel ClickPesa names in its answers.
    pub fn channel(self) -> &'static str {
        match self {
            Network::Mixx => "TIGO-PESA",
            Network::HaloPesa => "HALOPESA",
        }
    }
}

/// The network of a national number (9 digits after the 0), by the regulator's prefixes as
/// ClickPesa's own validator lists them (github.com/ClickPesa/tanzanian-phone-validator).
fn network_of_national(national: &str) -> Option<Network> {
    match national.get(..2)? {
        "65" | "67" | "71" | "77" => Some(Network::Mixx),
        "61" | "62" => Some(Network::HaloPesa),
        _ => None,
    }
}

/// The network of a number lango keeps (`255…`).
pub fn network(phone: &Phone) -> Option<Network> {
    network_of_national(phone.as_str().strip_prefix(DIAL)?)
}

/// What a guest typed (`0654 123 456`, `+255 712 345 678`, `612345678`) as a Mixx by Yas or
/// HaloPesa number with its country code (`255654123456`, ClickPesa's `phoneNumber`). Refuses
/// other networks' numbers, saying so.
pub fn msisdn(typed: &str) -> Result<Phone, String> {
    let digits: String = typed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    let digits = digits.strip_prefix('+').unwrap_or(&digits);
    let bad = || "enter a Mixx by Yas or HaloPesa number like 0654 123 456".to_string();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let national = match (digits.strip_prefix(DIAL), digits.strip_prefix('0')) {
        (Some(rest), _) if digits.len() == 12 => rest,
        (_, Some(rest)) if digits.len() == 10 => rest,
        _ if digits.len() == 9 => digits,
        _ => return Err(bad()),
    };
    if network_of_national(national).is_none() {
        return Err(format!(
            "0{national} is not a Mixx by Yas or HaloPesa number: use a line like 0654 123 456 \
             or 0621 234 567, or pay with another wallet"
        ));
    }
    Ok(Phone::international(format!("{DIAL}{national}")))
}

/// `value` as ClickPesa's canonical JSON: object keys sorted at every level, no whitespace
/// (what `JSON.stringify` of the key-sorted object gives for the strings and integers lango
/// sends and receives). serde_json's `Map` is a `BTreeMap` (its `preserve_order` feature is
/// off in this tree), so its keys come sorted; sorting them again here cost a sort's code in
/// the binary. Should `preserve_order` ever be turned on, the checksum test against
/// ClickPesa's reference (keys out of order) fails.
pub(crate) fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            out.push('{');
            for (i, (key, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The payload checksum: HMAC-SHA256 with the application's checksum key over the canonical
/// JSON of `payload` without its `checksum` and `checksumMethod` fields, as 64 hex digits.
pub fn checksum(key: &str, payload: &Value) -> String {
    let mut payload = payload.clone();
    if let Some(map) = payload.as_object_mut() {
        map.remove("checksum");
        map.remove("checksumMethod");
    }
    let mut text = String::new();
    canonical(&payload, &mut text);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
    crate::core::token::hex(ring::hmac::sign(&key, text.as_bytes()).as_ref())
}

/// Whether `payload`'s own `checksum` field is the one `key` makes (compared in constant time).
pub(crate) fn checksum_ok(key: &str, payload: &Value) -> bool {
    let Some(given) = payload["checksum"].as_str() else {
        return false;
    };
    let want = checksum(key, payload);
    crate::core::token::same(given.as_bytes(), want.as_bytes())
}

/// The `Authorization` value from `generate-token`'s answer `{"success": true, "token":
/// "Bearer eyJ…"}` (the token carries its `Bearer ` prefix).
pub(crate) fn parse_token(body: &[u8]) -> Result<String, String> {
    let value: Value = serde_json::from_slice(body).map_err(|_| "token: not JSON".to_string())?;
    if value["success"] == Value::Bool(false) {
        return Err("token: success false".into());
    }
    let token = value["token"]
        .as_str()
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 4096)
        .ok_or("token: no token")?;
    Ok(match token.strip_prefix("Bearer ") {
        Some(_) => token.to_string(),
        None => format!("Bearer {token}"),
    })
}

/// `POST …/initiate-ussd-push-request`: a push to `phone` for `amount_major` whole shillings,
/// under lango's `reference` (alphanumeric, what the query names); with the checksum when the
/// application has one.
pub(crate) fn push_body(
    phone: &Phone,
    amount_major: i64,
    reference: &str,
    checksum_key: Option<&str>,
) -> Value {
    let mut body = json!({
        "amount": amount_major.to_string(),
        "currency": CURRENCY,
        "orderReference": reference,
        "phoneNumber": phone.as_str(),
    });
    if let Some(key) = checksum_key {
        body["checksum"] = checksum(key, &body).into();
    }
    body
}

/// The headers of every call after the token, besides `Authorization`.
pub(crate) const HEADERS: [(&str, &str); 2] = [
    ("Content-Type", "application/json"),
    ("Accept", "application/json"),
];

/// A ClickPesa answer, classified.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// HTTP 2xx with JSON, or a 4xx/5xx whose meaning depends on the call (`parse_push`,
    /// `parse_status`): the status and the body.
    Said(u16, Value),
    /// 401: the token is no longer good; fetch one and ask again (ClickPesa did nothing).
    TokenRejected,
    /// 429: the rate limit; nothing was done.
    Throttled(String),
}

/// What ClickPesa's `message` says, shortened for a log line.
fn message(value: &Value) -> String {
    let text = value["message"].as_str().unwrap_or("");
    text.chars().take(160).collect()
}

/// HTTP status and body to an `Answer`.
pub(crate) fn interpret(status: u16, body: &[u8]) -> Answer {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match status {
        429 => Answer::Throttled(format!("HTTP 429 {}", message(&value))),
        401 => Answer::TokenRejected,
        _ => Answer::Said(status, value),
    }
}

/// The push's answer: `Ok` when the prompt is on its way or may be (any 2xx whatever its
/// `status`, a 409 "order reference already used", which can only be lango's own request, and a
/// 5xx: the query by the order reference settles it and the push is never sent again); a number
/// ClickPesa does not take is the guest's refusal; any other 4xx is the owner's account.
pub(crate) fn parse_push(status: u16, value: &Value) -> Result<(), GatewayError> {
    let said = message(value);
    match status {
        200..=299 | 409 | 500..=599 => Ok(()),
        400 if said.to_ascii_lowercase().contains("phone") => Err(GatewayError::Refused {
            decline: Decline::Other,
            message: said,
        }),
        _ => Err(GatewayError::Merchant(format!(
            "ClickPesa refused the push (HTTP {status}): {said}"
        ))),
    }
}

/// What a failed payment's `message` says, as lango's decline (ClickPesa passes on the
/// wallet's words: "Insufficient balance" in its example).
pub(crate) fn decline_of(message: &str) -> Decline {
    let m = message.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| m.contains(w));
    if has(&["insufficient", "balance"]) {
        Decline::InsufficientFunds
    } else if has(&["cancel", "rejected by", "declined by"]) {
        Decline::Cancelled
    } else if has(&["pin"]) {
        Decline::WrongPin
    } else if has(&["timeout", "timed out", "expired"]) {
        Decline::TimedOut
    } else if has(&["limit"]) {
        Decline::Limit
    } else {
        Decline::Other
    }
}

/// `collectedAmount` (an integer, or a string like `"20"` or `"20.00"`, in whole shillings) as
/// `Money`; a currency other than TZS counts as nothing collected, so the price check refuses
/// it.
pub(crate) fn collected(entry: &Value) -> Option<Money> {
    if entry["collectedCurrency"]
        .as_str()
        .is_some_and(|c| c != CURRENCY)
    {
        return Some(Money(0));
    }
    match &entry["collectedAmount"] {
        Value::String(s) => Money::parse(s).ok(),
        v => v
            .as_i64()
            .and_then(|major| major.checked_mul(Money::MINOR_PER_MAJOR))
            .map(Money),
    }
}

/// The payment query's answer about `reference`: a list of payments (the documented shape; a
/// single object is taken too). `SUCCESS` or `SETTLED` paid (the receipt the wallet's
/// `paymentReference`, else ClickPesa's `id`; the amount `collectedAmount`), `FAILED` declined
/// by its `message`, `REFUNDED` and `REVERSED` declined (the money went back); `PROCESSING`,
/// `PENDING`, `ON-HOLD`, anything else, none listed and 404 (not registered yet) pending, asked
/// again within the window.
pub(crate) fn parse_status(status: u16, value: &Value, reference: &str) -> StkOutcome {
    if status == 404 {
        return StkOutcome::Pending;
    }
    let entries: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![value],
        _ => Vec::new(),
    };
    let ours = entries
        .iter()
        .find(|e| e["orderReference"].as_str() == Some(reference))
        .or(entries.first());
    let Some(entry) = ours else {
        return StkOutcome::Pending;
    };
    let text = |name: &str| {
        entry[name]
            .as_str()
            .filter(|r| !r.is_empty() && r.len() <= 64)
            .map(str::to_string)
    };
    match entry["status"].as_str().unwrap_or("") {
        "SUCCESS" | "SETTLED" => StkOutcome::Paid {
            receipt: text("paymentReference").or_else(|| text("id")),
            amount: collected(entry),
        },
        "FAILED" => StkOutcome::Declined {
            code: -1,
            decline: decline_of(entry["message"].as_str().unwrap_or("")),
        },
        "REFUNDED" | "REVERSED" => StkOutcome::Declined {
            code: -1,
            decline: Decline::Other,
        },
        _ => StkOutcome::Pending,
    }
}

/// What ClickPesa's webhook says: a hint naming lango's order reference, never a grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Callback {
    pub order_reference: String,
    pub paid: bool,
}

/// Why a webhook that is ClickPesa's is not taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CallbackError {
    /// The application has a checksum key and the body's `checksum` is missing or wrong.
    Forged,
}

/// `{"event" (or "eventType", as the failed example has it): "PAYMENT RECEIVED" | "PAYMENT
/// FAILED", "data": {"orderReference", "status", …}, "checksum"?}`. `None` when the body is not
/// a ClickPesa payment webhook (Daraja's and Airtel's come to the same path); with a checksum key
/// the checksum must match (`CallbackError::Forged` otherwise).
pub(crate) fn parse_callback(
    body: &[u8],
    checksum_key: Option<&str>,
) -> Option<Result<Callback, CallbackError>> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let event = value["event"]
        .as_str()
        .or(value["eventType"].as_str())
        .filter(|e| e.starts_with("PAYMENT"))?;
    let data = &value["data"];
    let reference = data["orderReference"]
        .as_str()
        .filter(|r| !r.is_empty() && r.len() <= 64)?;
    if let Some(key) = checksum_key {
        if !checksum_ok(key, &value) {
            return Some(Err(CallbackError::Forged));
        }
    }
    let status = data["status"].as_str().unwrap_or("");
    Some(Ok(Callback {
        order_reference: reference.to_string(),
        paid: event == "PAYMENT RECEIVED" || matches!(status, "SUCCESS" | "SETTLED"),
    }))
}
