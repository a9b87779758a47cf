//! The Airtel Money protocol (Africa Open API, collections; docs/airtel.md), pure: hosts and
//! paths, the token, USSD push and status enquiry bodies, their answers' classification into
//! lango's outcomes (`StkOutcome`, `GatewayError`), the callback's parser, and the number a
//! guest typed turned into the msisdn Airtel wants (`msisdn`). No I/O: `adapters::airtel` sends.
//! Feature `airtel`.

use serde_json::{json, Value};

use crate::core::config::{Country, MpesaEnvironment};
use crate::core::model::{Money, Phone};
use crate::core::payments::{Decline, GatewayError, StkOutcome};

pub(crate) mod signing;
#[cfg(feature = "simulator")]
pub mod sim;
#[cfg(test)]
mod tests;

pub(crate) const TOKEN_PATH: &str = "/auth/oauth2/token";
pub(crate) const PUSH_PATH: &str = "/merchant/v1/payments/";
pub(crate) const STATUS_PATH: &str = "/standard/v1/payments/";

/// Airtel's address for an environment; `None` for the simulator (its address is configured).
pub(crate) fn base_url(environment: MpesaEnvironment) -> Option<&'static str> {
    match environment {
        MpesaEnvironment::Sandbox => Some("https://openapiuat.airtel.africa"),
        MpesaEnvironment::Production => Some("https://openapi.airtel.africa"),
        MpesaEnvironment::Simulator => None,
    }
}

/// The national part of an Airtel number (9 digits) and whether it is Airtel's, per country.
/// Prefixes from the regulators' numbering plans as operators announce them (docs/airtel.md).
fn airtel_prefix(country: Country, national: &str) -> bool {
    let starts = |p: &[&str]| p.iter().any(|p| national.starts_with(p));
    match country {
        // 073x, 0750-0756, 0762, 078x, 0100-0102.
        Country::Kenya => starts(&[
            "73", "750", "751", "752", "753", "754", "755", "756", "762", "78", "100", "101", "102",
        ]),
        // 070, 074, 075 (MTN has 076-079 and 031/039).
        Country::Uganda => starts(&["70", "74", "75"]),
        // 068, 069, 078.
        Country::Tanzania => starts(&["68", "69", "78"]),
    }
}

fn example(country: Country) -> &'static str {
    match country {
        Country::Kenya => "0733 123 456",
        Country::Uganda => "0701 234 567",
        Country::Tanzania => "0688 123 456",
    }
}

/// What a guest typed (`0733 123 456`, `+254733123456`, `733123456`) as an Airtel number of
/// `country`, with its country code. Refuses other networks' numbers, saying so.
pub(crate) fn msisdn(country: Country, typed: &str) -> Result<Phone, String> {
    let digits: String = typed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    let digits = digits.strip_prefix('+').unwrap_or(&digits);
    let bad = || format!("enter an Airtel number like {}", example(country));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let national = match (
        digits.strip_prefix(country.dial()),
        digits.strip_prefix('0'),
    ) {
        (Some(rest), _) if digits.len() == 12 => rest,
        (_, Some(rest)) if digits.len() == 10 => rest,
        _ if digits.len() == 9 => digits,
        _ => return Err(bad()),
    };
    if !airtel_prefix(country, national) {
        return Err(format!(
            "0{national} is not an Airtel Money number: use an Airtel line like {}, or pay \
             with another wallet",
            example(country)
        ));
    }
    Ok(Phone::international(format!(
        "{}{national}",
        country.dial()
    )))
}

/// The msisdn without its country code, as Airtel's `subscriber.msisdn` wants it.
pub(crate) fn national(country: Country, phone: &Phone) -> String {
    let s = phone.as_str();
    s.strip_prefix(country.dial()).unwrap_or(s).to_string()
}

/// `POST /auth/oauth2/token`.
pub(crate) fn token_body(client_id: &str, client_secret: &str) -> Value {
    json!({
        "client_id": client_id,
        "client_secret": client_secret,
        "grant_type": "client_credentials",
    })
}

/// The token and its lifetime in seconds (`expires_in` as a string, as Airtel's example, or
/// a number).
pub(crate) fn parse_token(body: &[u8]) -> Result<(String, u64), String> {
    let value: Value = serde_json::from_slice(body).map_err(|_| "token: not JSON".to_string())?;
    let token = value["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or("token: no access_token")?;
    let expires = match &value["expires_in"] {
        Value::String(s) => s.trim().parse().ok(),
        v => v.as_u64(),
    };
    Ok((token.to_string(), expires.unwrap_or(180)))
}

/// `POST /merchant/v1/payments/`: a USSD push to `phone` for `amount_major` whole units.
/// `id` is lango's transaction id, the one the status enquiry names.
pub(crate) fn push_body(
    country: Country,
    phone: &Phone,
    amount_major: i64,
    reference: &str,
    id: &str,
) -> Value {
    json!({
        "reference": reference,
        "subscriber": {
            "country": country.code(),
            "currency": country.currency(),
            "msisdn": national(country, phone),
        },
        "transaction": {
            "amount": amount_major,
            "country": country.code(),
            "currency": country.currency(),
            "id": id,
        },
    })
}

/// The headers every call after the token carries, besides `Authorization`.
pub(crate) fn headers(country: Country) -> [(&'static str, &'static str); 4] {
    [
        ("Content-Type", "application/json"),
        ("Accept", "*/*"),
        ("X-Country", country.code()),
        ("X-Currency", country.currency()),
    ]
}

/// An Airtel answer, classified.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The call was understood (HTTP 200, `status.success` or a known code).
    Ok(Value),
    /// 401: the token is no longer good; fetch one and ask again.
    TokenRejected,
    Failed(GatewayError),
}

/// `DP00800001007` → 800001007: the response code as the number kept on the payment.
pub(crate) fn code_number(code: &str) -> Option<i64> {
    code.strip_prefix("DP")?.parse().ok()
}

/// What a collection response code means for the guest (docs/airtel.md, Codes). `None` for
/// success, pending and ambiguous codes, which a query settles.
pub(crate) fn decline_of(code: &str) -> Option<Decline> {
    Some(match code.strip_prefix("DP00800001")? {
        "002" => Decline::WrongPin,
        "003" => Decline::Limit,
        "005" | "024" | "029" => Decline::TimedOut,
        "007" => Decline::InsufficientFunds,
        "010" | "026" => Decline::Merchant,
        "004" | "008" | "009" | "011" | "012" | "013" | "014" => Decline::Other,
        _ => return None,
    })
}

/// HTTP status and body to an `Answer`. 429 and Airtel's spike-arrest envelope are the rate
/// limit (`GatewayError::Throttled`); 5xx is unavailable; other 4xx the owner's account.
pub(crate) fn interpret(status: u16, body: &[u8]) -> Answer {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = String::from_utf8_lossy(body);
    let said = || text.chars().take(200).collect::<String>();
    if status == 429 || text.contains("Spike") || text.contains("Quota Violation") {
        return Answer::Failed(GatewayError::Throttled(format!(
            "HTTP {status}: {}",
            said()
        )));
    }
    match status {
        200..=299 if value.is_object() => Answer::Ok(value),
        200..=299 => Answer::Failed(GatewayError::Unavailable(
            "an answer that is not JSON".into(),
        )),
        401 => Answer::TokenRejected,
        500..=599 => Answer::Failed(GatewayError::Unavailable(format!("HTTP {status}"))),
        _ => {
            let code = value["status"]["response_code"].as_str().unwrap_or("");
            match decline_of(code) {
                Some(decline) => Answer::Failed(GatewayError::Refused {
                    decline,
                    message: format!(
                        "{code} {}",
                        value["status"]["message"].as_str().unwrap_or("")
                    ),
                }),
                None => Answer::Failed(GatewayError::Merchant(format!(
                    "Airtel refused the request (HTTP {status}): {}",
                    said()
                ))),
            }
        }
    }
}

/// The push's answer: accepted (the prompt is on its way, `DP00800001006`, or ambiguous and
/// left to the enquiry), or refused before any prompt.
pub(crate) fn parse_push(value: &Value) -> Result<(), GatewayError> {
    let status = &value["status"];
    let code = status["response_code"].as_str().unwrap_or("");
    if let Some(decline) = decline_of(code) {
        let message = status["message"].as_str().unwrap_or("");
        return Err(GatewayError::Refused {
            decline,
            message: format!("{code} {message}"),
        });
    }
    if status["success"] == Value::Bool(false) && code.is_empty() {
        return Err(GatewayError::Merchant(format!(
            "Airtel refused the push: {}",
            status["message"].as_str().unwrap_or("no reason given")
        )));
    }
    Ok(())
}

/// The status enquiry's answer: `TS` paid (its `airtel_money_id` is the receipt), `TF`
/// failed, `TE` expired; `TIP`, `TA` and anything else still pending, asked again.
pub(crate) fn parse_status(value: &Value) -> StkOutcome {
    let txn = &value["data"]["transaction"];
    let code = value["status"]["response_code"].as_str().unwrap_or("");
    match txn["status"].as_str().unwrap_or("") {
        "TS" => StkOutcome::Paid {
            receipt: txn["airtel_money_id"]
                .as_str()
                .filter(|r| !r.is_empty() && r.len() <= 64)
                .map(str::to_string),
            // The enquiry of some markets says the amount; where it does, it is checked.
            amount: amount_of(&txn["amount"]),
        },
        "TF" => StkOutcome::Declined {
            code: code_number(code).unwrap_or(-1),
            decline: decline_of(code).unwrap_or(Decline::Other),
        },
        "TE" => StkOutcome::Declined {
            code: code_number(code).unwrap_or(-1),
            decline: Decline::TimedOut,
        },
        _ => StkOutcome::Pending,
    }
}

/// A whole amount (a number or a string of digits) as `Money`.
fn amount_of(value: &Value) -> Option<Money> {
    let major = match value {
        Value::String(s) => s.trim().parse::<i64>().ok(),
        v => v.as_i64(),
    }?;
    major.checked_mul(Money::MINOR_PER_MAJOR).map(Money)
}

/// What Airtel's callback says: a hint naming lango's transaction id, never a grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Callback {
    pub id: String,
    pub paid: bool,
    pub airtel_money_id: Option<String>,
}

/// `{"transaction":{"id","status_code","airtel_money_id","message"},"hash"?}`.
pub(crate) fn parse_callback(body: &[u8]) -> Option<Callback> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let txn = &value["transaction"];
    let id = txn["id"]
        .as_str()
        .filter(|id| !id.is_empty() && id.len() <= 64)?;
    Some(Callback {
        id: id.to_string(),
        paid: txn["status_code"].as_str() == Some("TS"),
        airtel_money_id: txn["airtel_money_id"]
            .as_str()
            .filter(|r| !r.is_empty() && r.len() <= 64)
            .map(str::to_string),
    })
}
