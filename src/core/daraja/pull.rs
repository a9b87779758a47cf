//! Daraja's Pull Transactions API, pure (docs/daraja.md, Pull Transactions): the register and
//! query bodies, the query window, the answer's parser (no panic on any input), and the rule
//! that decides whether a receipt a guest names was paid to this till for a package. The
//! client is `adapters::daraja`; the simulator answers the same shapes (`core::daraja_sim`).

use serde_json::{json, Value};

use crate::core::model::Money;
use crate::core::payments::GatewayError;
use crate::core::time::{daraja_datetime, Timestamp};

pub const PULL_REGISTER_PATH: &str = "/pulltransactions/v1/register";
pub const PULL_QUERY_PATH: &str = "/pulltransactions/v1/query";

/// Daraja keeps pulled transactions this long; lango never asks further back.
pub(crate) const WINDOW_SECS: i64 = 48 * 3600;
/// Transactions read from one answer at most (the rest of a page is ignored).
pub(crate) const MAX_PER_PAGE: usize = 1000;
/// Pages asked for one receipt at most.
pub(crate) const MAX_PAGES: u32 = 3;
/// The success code of both answers.
const SUCCESS: &str = "1000";

/// One C2B transaction as Pull lists it. Only what lango checks is kept.
#[derive(Clone, PartialEq, Eq)]
pub struct PullTxn {
    /// `transactionId`: the M-Pesa receipt.
    pub receipt: String,
    pub amount: Money,
    /// `msisdn`, as written (often masked).
    pub msisdn: String,
    /// `trxDate`, as written.
    pub at: String,
}

/// The register body. `nominated` is the owner's M-Pesa phone; `callback_url` is required by
/// Daraja even though lango never waits for a push to it.
pub(crate) fn register_body(shortcode: &str, nominated: &str, callback_url: &str) -> Value {
    json!({
        "ShortCode": shortcode,
        "RequestType": "Pull",
        "NominatedNumber": nominated,
        "CallBackURL": callback_url,
    })
}

/// The query window ending `now`: the last 48 hours, in East Africa Time.
pub(crate) fn window(now: Timestamp) -> (String, String) {
    (daraja_datetime(now - WINDOW_SECS), daraja_datetime(now))
}

pub(crate) fn query_body(shortcode: &str, now: Timestamp, offset: u32) -> Value {
    let (start, end) = window(now);
    json!({
        "ShortCode": shortcode,
        "StartDate": start,
        "EndDate": end,
        "OffSetValue": offset.to_string(),
    })
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn code_of(value: &Value) -> Option<String> {
    ["ResponseCode", "ResponseStatus"]
        .iter()
        .find_map(|k| value.get(*k).and_then(text_of))
}

fn message_of(value: &Value) -> String {
    ["ResponseMessage", "ResponseDescription"]
        .iter()
        .find_map(|k| value.get(*k).and_then(Value::as_str))
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

/// The register answer: success, or "already registered", which is as good.
pub(crate) fn parse_register(value: &Value) -> Result<(), GatewayError> {
    let message = message_of(value);
    if code_of(value).as_deref() == Some(SUCCESS)
        || message.to_ascii_lowercase().contains("already")
    {
        return Ok(());
    }
    Err(GatewayError::Merchant(format!(
        "Pull Transactions registration refused: {} {message}",
        code_of(value).unwrap_or_default()
    )))
}

/// The query answer's transactions. `Response` is a list of transactions, or of lists of
/// them (Daraja's own sample nests one level); anything that is not a transaction with a
/// receipt and a plain amount is skipped.
pub(crate) fn parse_query(value: &Value) -> Result<Vec<PullTxn>, GatewayError> {
    let code = code_of(value);
    let Some(list) = value.get("Response").and_then(Value::as_array) else {
        return match code.as_deref() {
            Some(SUCCESS) => Ok(Vec::new()),
            _ => Err(GatewayError::Unavailable(format!(
                "Pull Transactions answer without a list: {} {}",
                code.unwrap_or_default(),
                message_of(value)
            ))),
        };
    };
    if code.as_deref().is_some_and(|c| c != SUCCESS) {
        return Err(GatewayError::Unavailable(format!(
            "Pull Transactions: {} {}",
            code.unwrap_or_default(),
            message_of(value)
        )));
    }
    let flat = list.iter().flat_map(|item| match item {
        Value::Array(inner) => inner.iter().collect::<Vec<_>>(),
        other => vec![other],
    });
    Ok(flat.take(MAX_PER_PAGE).filter_map(transaction).collect())
}

fn transaction(item: &Value) -> Option<PullTxn> {
    let receipt = item.get("transactionId").and_then(text_of)?;
    let receipt_ok = (8..=12).contains(&receipt.len())
        && receipt
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !receipt_ok {
        return None;
    }
    let amount = Money::parse(&item.get("amount").and_then(text_of)?).ok()?;
    let short = |key: &str| -> String {
        item.get(key)
            .and_then(text_of)
            .unwrap_or_default()
            .chars()
            .take(40)
            .collect()
    };
    Some(PullTxn {
        receipt,
        amount,
        msisdn: short("msisdn"),
        at: short("trxDate"),
    })
}

/// What Pull says of a receipt a guest names, for a package at `price`.
#[derive(Clone, PartialEq, Eq)]
pub enum PullVerdict {
    /// Paid to this shortcode or till, at least the price.
    Paid(PullTxn),
    /// Paid, but less than the price.
    TooLow(Money),
    /// Not among this till's transactions in the window.
    NotFound,
}

/// The rule: the receipt must be one of this till's transactions (the query names only the
/// owner's shortcode) for at least the price. Receipts are compared exactly, upper case.
pub fn verdict(txns: &[PullTxn], receipt: &str, price: Money) -> PullVerdict {
    match txns.iter().find(|t| t.receipt == receipt) {
        Some(t) if t.amount >= price => PullVerdict::Paid(t.clone()),
        Some(t) => PullVerdict::TooLow(t.amount),
        None => PullVerdict::NotFound,
    }
}

/// Whether the `msisdn` Pull shows (digits, some masked as `*`) may be `phone` (`2547…`).
/// When it cannot tell (too short, hashed), it says it may.
pub fn msisdn_may_be(msisdn: &str, phone: &str) -> bool {
    let m = msisdn.trim().trim_start_matches('+').as_bytes();
    let p = phone.as_bytes();
    let readable = m.iter().all(|b| b.is_ascii_digit() || *b == b'*');
    if !readable || m.len() < 9 || p.len() < 9 {
        return true;
    }
    m[m.len() - 9..]
        .iter()
        .zip(&p[p.len() - 9..])
        .all(|(a, b)| *a == b'*' || a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timestamp = 1_780_000_000;

    #[test]
    fn bodies_have_daraja_fields() {
        let r = register_body("174379", "0722000000", "https://x.invalid/p");
        assert_eq!(r["RequestType"], "Pull");
        assert_eq!(r["ShortCode"], "174379");
        assert_eq!(r["NominatedNumber"], "0722000000");
        let q = query_body("174379", T, 0);
        assert_eq!(q["OffSetValue"], "0");
        let (start, end) = window(T);
        assert_eq!(q["StartDate"], start.as_str());
        assert_eq!(q["EndDate"], end.as_str());
        // East Africa Time, 48 h apart.
        assert_eq!(end, "2026-05-28 23:26:40");
        assert_eq!(start, "2026-05-26 23:26:40");
    }

    fn answer(items: Value) -> Value {
        json!({"ResponseRefID": "x", "ResponseCode": "1000", "ResponseMessage": "Success",
               "Response": items})
    }

    #[test]
    fn the_answer_is_read_flat_or_nested() {
        let item = json!({"transactionId": "UAB1234567", "trxDate": "2026-05-28T10:13:00.000+03:00",
            "msisdn": 254712345678u64, "sender": "UPI", "transactiontype": "c2b-buy-goods-debit",
            "billreference": "", "amount": "20.00", "organizationname": "Shop"});
        for shape in [json!([[item.clone()]]), json!([item.clone()])] {
            let txns = parse_query(&answer(shape)).unwrap();
            assert_eq!(txns.len(), 1);
            assert_eq!(txns[0].receipt, "UAB1234567");
            assert_eq!(txns[0].amount, Money(2000));
            assert_eq!(txns[0].msisdn, "254712345678");
        }
        // Numbers, bad amounts and bad receipts.
        let odd = json!([
            {"transactionId": "UAB1234568", "amount": 50},
            {"transactionId": "UAB1234569", "amount": "1e3"},
            {"transactionId": "bad id", "amount": "5"},
            {"transactionId": "UAB1234570", "amount": "-5"},
            {"amount": "5"}, 7, null, "x", [[1]]
        ]);
        let txns = parse_query(&answer(odd)).unwrap();
        assert_eq!(txns.len(), 1);
        assert_eq!(txns[0].amount, Money(5000));
    }

    #[test]
    fn errors_and_junk_never_panic() {
        assert!(parse_query(&json!({"ResponseCode": "1000"}))
            .unwrap()
            .is_empty());
        assert!(parse_query(&json!({"ResponseCode": "1001", "ResponseMessage": "x"})).is_err());
        assert!(parse_query(&json!({"ResponseCode": "1001", "Response": []})).is_err());
        for junk in [
            json!(null),
            json!([]),
            json!("s"),
            json!({"Response": {"a": 1}}),
        ] {
            let _ = parse_query(&junk);
            let _ = parse_register(&junk);
        }
        assert!(parse_register(&json!({"ResponseStatus": "1000"})).is_ok());
        assert!(parse_register(&json!({"ResponseStatus": "1001",
            "ResponseDescription": "Shortcode already registered"}))
        .is_ok());
        assert!(matches!(
            parse_register(&json!({"ResponseStatus": "1001", "ResponseDescription": "no"})),
            Err(GatewayError::Merchant(_))
        ));
    }

    #[test]
    fn a_masked_msisdn_may_be_a_phone() {
        assert!(msisdn_may_be("254712***678", "254712345678"));
        assert!(msisdn_may_be("0712345678", "254712345678"));
        assert!(!msisdn_may_be("254712***679", "254712345678"));
        assert!(!msisdn_may_be("254722345678", "254712345678"));
        // Cannot tell: may be.
        assert!(msisdn_may_be("", "254712345678"));
        assert!(msisdn_may_be("9f86d081884c7d65", "254712345678"));
    }

    #[test]
    fn the_matching_rule() {
        let t = |r: &str, a: i64| PullTxn {
            receipt: r.into(),
            amount: Money(a),
            msisdn: String::new(),
            at: String::new(),
        };
        let txns = [t("UAB0000001", 2000), t("UAB0000002", 1000)];
        assert!(matches!(
            verdict(&txns, "UAB0000001", Money(2000)),
            PullVerdict::Paid(_)
        ));
        assert!(matches!(
            verdict(&txns, "UAB0000001", Money(1500)),
            PullVerdict::Paid(_)
        ));
        assert!(verdict(&txns, "UAB0000002", Money(2000)) == PullVerdict::TooLow(Money(1000)));
        assert!(verdict(&txns, "UAB0000003", Money(1)) == PullVerdict::NotFound);
        assert!(verdict(&txns, "uab0000001", Money(1)) == PullVerdict::NotFound);
        assert!(verdict(&[], "UAB0000001", Money(1)) == PullVerdict::NotFound);
    }
}
