//! The Vodacom M-Pesa Tanzania protocol (Vodacom OpenAPI, openapi.m-pesa.com; docs/vodacom.md),
//! pure: the market's paths, the bearer (the API key or the session id RSA-encrypted with the
//! published key, `core::rsa`), the C2B single-stage push body, the transaction status query,
//! the answers' `output_ResponseCode` (INS codes) classified into lango's outcomes, and the
//! number a guest typed turned into a Vodacom Tanzania msisdn (`msisdn`). No I/O:
//! `adapters::vodacom` sends. Feature `vodacom`.

use serde_json::{json, Value};

use crate::core::config::MpesaEnvironment;
use crate::core::model::Phone;
use crate::core::payments::{Decline, GatewayError, StkOutcome};

#[cfg(feature = "simulator")]
pub mod sim;
#[cfg(test)]
mod tests;

pub(crate) const SESSION_PATH: &str = "/getSession/";
pub(crate) const PUSH_PATH: &str = "/c2bPayment/singleStage/";
pub(crate) const QUERY_PATH: &str = "/queryTransactionStatus/";

/// The market: Tanzania (`input_Country`), its currency and dialling prefix.
pub(crate) const COUNTRY: &str = "TZN";
pub(crate) const CURRENCY: &str = "TZS";
const DIAL: &str = "255";

/// Vodacom's address for an environment; `None` for the simulator (its address is configured).
pub(crate) fn base_url(environment: MpesaEnvironment) -> Option<&'static str> {
    match environment {
        MpesaEnvironment::Sandbox | MpesaEnvironment::Production => {
            Some("https://openapi.m-pesa.com")
        }
        MpesaEnvironment::Simulator => None,
    }
}

/// The market's path under the address: the sandbox's (also the simulator's) or production's.
pub(crate) fn market_path(environment: MpesaEnvironment) -> &'static str {
    match environment {
        MpesaEnvironment::Production => "/openapi/ipg/v2/vodacomTZN",
        _ => "/sandbox/ipg/v2/vodacomTZN",
    }
}

/// Vodacom Tanzania's mobile prefixes (national, after the 0): 074x, 075x, 076x.
fn vodacom_prefix(national: &str) -> bool {
    ["74", "75", "76"].iter().any(|p| national.starts_with(p))
}

/// Whether a typed number is a Tanzanian one at all (`+255…`, `255…` or `0` and 9 digits), so
/// that the portal can say "not a Vodacom number" rather than "not a number".
fn national_part(typed: &str) -> Option<String> {
    let digits: String = typed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    let digits = digits.strip_prefix('+').unwrap_or(&digits);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match (digits.strip_prefix(DIAL), digits.strip_prefix('0')) {
        (Some(rest), _) if digits.len() == 12 => Some(rest.to_string()),
        (_, Some(rest)) if digits.len() == 10 => Some(rest.to_string()),
        _ if digits.len() == 9 => Some(digits.to_string()),
        _ => None,
    }
}

/// What a guest typed (`0754 123 456`, `+255754123456`, `754123456`) as a Vodacom Tanzania
/// number with its country code (`255754123456`, as `input_CustomerMSISDN` wants it). Refuses
/// other networks' numbers, saying so.
pub fn msisdn(typed: &str) -> Result<Phone, String> {
    let Some(national) = national_part(typed) else {
        return Err("enter a Vodacom M-Pesa number like 0754 123 456".into());
    };
    if !vodacom_prefix(&national) {
        return Err(format!(
            "0{national} is not a Vodacom M-Pesa number: use a Vodacom line like 0754 123 456, \
             or pay with another wallet"
        ));
    }
    Ok(Phone::international(format!("{DIAL}{national}")))
}

/// The `Authorization` header's value: `Bearer` and base64 of `secret` (the API key for the
/// session, the session id after) RSA-encrypted with the published key.
pub(crate) fn bearer(
    key: &crate::core::rsa::PublicKey,
    secret: &str,
    random: &mut dyn FnMut(&mut [u8]) -> bool,
) -> Result<String, crate::core::rsa::RsaError> {
    let sealed = key.encrypt(secret.as_bytes(), random)?;
    Ok(format!("Bearer {}", crate::core::base64::encode(&sealed)))
}

/// The headers of every call, besides `Authorization`.
pub(crate) const HEADERS: [(&str, &str); 3] = [
    ("Content-Type", "application/json"),
    ("Accept", "application/json"),
    ("Origin", "*"),
];

/// The session id from `getSession`'s answer.
pub(crate) fn parse_session(value: &Value) -> Result<String, GatewayError> {
    let code = value["output_ResponseCode"].as_str().unwrap_or("");
    match value["output_SessionID"].as_str() {
        Some(id) if code == "INS-0" && !id.is_empty() && id.len() <= 256 => Ok(id.to_string()),
        _ => Err(GatewayError::Merchant(format!(
            "Vodacom gave no session ({code} {}): check api_key and public_key",
            desc(value)
        ))),
    }
}

/// `POST …/c2bPayment/singleStage/`: a push to `phone` for `amount_major` whole shillings.
/// `conversation` is lango's id for it (`input_ThirdPartyConversationID`, what the query names);
/// `reference` the transaction reference (unique per attempt, 1 to 20 characters).
pub(crate) fn push_body(
    phone: &Phone,
    amount_major: i64,
    provider_code: &str,
    conversation: &str,
    reference: &str,
    description: &str,
) -> Value {
    json!({
        "input_Amount": amount_major.to_string(),
        "input_Country": COUNTRY,
        "input_Currency": CURRENCY,
        "input_CustomerMSISDN": phone.as_str(),
        "input_ServiceProviderCode": provider_code,
        "input_ThirdPartyConversationID": conversation,
        "input_TransactionReference": reference,
        "input_PurchasedItemsDesc": description,
    })
}

/// `GET …/queryTransactionStatus/?…`: the path and query string asking about `reference`
/// (lango's conversation id of the push), as request `conversation`.
pub(crate) fn query_path(reference: &str, provider_code: &str, conversation: &str) -> String {
    // Percent-encoding of anything but the unreserved characters (RFC 3986).
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    format!(
        "{QUERY_PATH}?input_QueryReference={}&input_ServiceProviderCode={}\
         &input_ThirdPartyConversationID={}&input_Country={COUNTRY}",
        enc(reference),
        enc(provider_code),
        enc(conversation)
    )
}

fn desc(value: &Value) -> String {
    let text = value["output_ResponseDesc"]
        .as_str()
        .or(value["output_error"].as_str())
        .unwrap_or("");
    text.chars().take(120).collect()
}

/// A Vodacom answer, classified.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Vodacom answered with an `output_ResponseCode` (success or a refusal).
    Ok(Value),
    /// 401: the session is no longer good (expired, or not yet usable); get one and ask again.
    SessionRejected,
    Failed(GatewayError),
}

/// What an INS code means for the guest; `None` for success and for codes that do not settle
/// a payment (internal error, timeout of the request: the query does).
pub(crate) fn decline_of(code: &str) -> Option<Decline> {
    Some(match code {
        "INS-5" => Decline::Cancelled,
        "INS-2006" => Decline::InsufficientFunds,
        "INS-2" | "INS-13" | "INS-24" | "INS-25" | "INS-26" | "INS-2001" | "INS-2002"
        | "INS-996" => Decline::Merchant,
        "INS-4" | "INS-6" | "INS-10" | "INS-14" | "INS-15" | "INS-17" | "INS-18" | "INS-19"
        | "INS-20" | "INS-21" | "INS-22" | "INS-2051" | "INS-2057" => Decline::Other,
        _ => return None,
    })
}

/// `INS-2006` → 2006: the code as the number kept on the payment.
pub(crate) fn code_number(code: &str) -> Option<i64> {
    code.strip_prefix("INS-")?.parse().ok()
}

/// HTTP status and body to an `Answer`. 429 and `INS-16` (temporary overload) are the rate
/// limit; 401 a refused session; a body with an INS code is an answer whatever the status
/// (Vodacom says refusals with 4xx); 5xx without one is unavailable.
pub(crate) fn interpret(status: u16, body: &[u8]) -> Answer {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let code = value["output_ResponseCode"].as_str().unwrap_or("");
    if status == 429 || code == "INS-16" {
        return Answer::Failed(GatewayError::Throttled(format!(
            "HTTP {status} {code} {}",
            desc(&value)
        )));
    }
    match status {
        401 => Answer::SessionRejected,
        _ if code.starts_with("INS-") => Answer::Ok(value),
        500..=599 => Answer::Failed(GatewayError::Unavailable(format!("HTTP {status}"))),
        _ => Answer::Failed(GatewayError::Merchant(format!(
            "Vodacom refused the request (HTTP {status}): {}",
            desc(&value)
        ))),
    }
}

/// The push's answer: `Ok` when the payment is on its way or its end is uncertain (INS-0, an
/// internal error, a timeout: the query settles it), or the refusal.
pub(crate) fn parse_push(value: &Value) -> Result<(), GatewayError> {
    let code = value["output_ResponseCode"].as_str().unwrap_or("");
    match decline_of(code) {
        Some(Decline::Merchant) => Err(GatewayError::Merchant(format!(
            "Vodacom refused the push: {code} {}",
            desc(value)
        ))),
        Some(decline) => Err(GatewayError::Refused {
            decline,
            message: format!("{code} {}", desc(value)),
        }),
        None => Ok(()),
    }
}

/// The query's answer: `Completed` paid (its `output_TransactionID` the receipt), a failed or
/// cancelled or expired transaction declined, anything else (pending, not yet known) asked
/// again. The query names no amount: the push's amount is lango's own, which the customer
/// cannot change.
pub(crate) fn parse_status(value: &Value) -> StkOutcome {
    let code = value["output_ResponseCode"].as_str().unwrap_or("");
    if code != "INS-0" {
        // A market that says the transaction's own refusal in the query; any other code
        // (not found yet, an internal error) leaves it to the next query and the window.
        return match code {
            "INS-5" | "INS-6" | "INS-2006" => StkOutcome::Declined {
                code: code_number(code).unwrap_or(-1),
                decline: decline_of(code).unwrap_or(Decline::Other),
            },
            _ => StkOutcome::Pending,
        };
    }
    let status = value["output_ResponseTransactionStatus"]
        .as_str()
        .unwrap_or("");
    match status.to_ascii_lowercase().as_str() {
        "completed" | "success" | "successful" => StkOutcome::Paid {
            receipt: value["output_TransactionID"]
                .as_str()
                .filter(|r| !r.is_empty() && r.len() <= 64)
                .map(str::to_string),
            amount: None,
        },
        "cancelled" => StkOutcome::Declined {
            code: 5,
            decline: Decline::Cancelled,
        },
        "expired" | "timeout" | "timed out" => StkOutcome::Declined {
            code: 9,
            decline: Decline::TimedOut,
        },
        "failed" | "declined" | "reversed" => StkOutcome::Declined {
            code: -1,
            decline: Decline::Other,
        },
        _ => StkOutcome::Pending,
    }
}
