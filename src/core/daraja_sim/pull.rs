//! The simulator's Pull Transactions endpoints (docs/daraja.md, Pull Transactions): register a
//! shortcode, then list its C2B transactions of a window, a page at a time. The transactions are
//! the paid STK prompts under the shortcode and the payments a test recorded as made from the
//! M-Pesa menu (`/__sim/till_payment`, `Simulator::pay_till`). Not kept in the `--state` file.

use serde_json::{json, Value};

use super::*;
use crate::core::daraja::pull::{PULL_QUERY_PATH, PULL_REGISTER_PATH};
use crate::core::time::daraja_datetime;

/// Transactions per page. [SIM]
pub(crate) const PAGE: usize = 100;

/// A payment a customer made from the M-Pesa menu to a till or PayBill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TillPayment {
    pub receipt: String,
    pub phone: String,
    /// Whole shillings.
    pub amount: i64,
    /// The till or PayBill number paid.
    pub till: String,
    pub at: Timestamp,
}

fn is_datetime(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

impl SimCore {
    pub(crate) fn pull_api(
        &mut self,
        path: &str,
        request: &SimRequest,
        now: Timestamp,
    ) -> Option<Result<Value, SimError>> {
        match path {
            PULL_REGISTER_PATH => Some(self.pull_register(request, now)),
            PULL_QUERY_PATH => Some(self.pull_query(request, now)),
            _ => None,
        }
    }

    fn pull_register(&mut self, request: &SimRequest, now: Timestamp) -> Result<Value, SimError> {
        let body = self.json_body(request, now)?;
        let shortcode = field(&body, "ShortCode", is_shortcode)?;
        field(&body, "RequestType", |t| t == "Pull")?;
        field(&body, "NominatedNumber", |n| is_digits(n) && n.len() >= 9)?;
        field(&body, "CallBackURL", |u| {
            crate::core::http::Url::parse(u).is_ok()
        })?;
        if self.merchant(&shortcode).is_none() {
            return Err(SimError::invalid("ShortCode"));
        }
        self.spike_check("pull", now)?;
        let already = self.pull_registered.contains(&shortcode);
        if !already {
            self.pull_registered.push(shortcode.clone());
        }
        Ok(json!({
            "ResponseRefID": self.request_id(),
            "ResponseStatus": if already { "1001" } else { "1000" },
            "ShortCode": shortcode,
            "ResponseDescription": if already {
                "Shortcode already registered"
            } else {
                "Shortcode Registered Successfully"
            },
        }))
    }

    fn pull_query(&mut self, request: &SimRequest, now: Timestamp) -> Result<Value, SimError> {
        let body = self.json_body(request, now)?;
        let shortcode = field(&body, "ShortCode", is_shortcode)?;
        let start = field(&body, "StartDate", is_datetime)?;
        let end = field(&body, "EndDate", is_datetime)?;
        let offset: usize = field(&body, "OffSetValue", is_digits)?
            .parse()
            .map_err(|_| SimError::invalid("OffSetValue"))?;
        if !self.pull_registered.contains(&shortcode) {
            // [SIM]: the words Daraja uses here are not documented.
            return Err(SimError::new(
                400,
                "400.003.01",
                "Shortcode is not registered for Pull Transactions",
            ));
        }
        self.spike_check("pull", now)?;
        let Some(merchant) = self.merchant(&shortcode).cloned() else {
            return Err(SimError::invalid("ShortCode"));
        };
        let in_window = |at: Timestamp| {
            let t = daraja_datetime(at);
            at <= now && t >= start && t <= end
        };
        let ours = |to: &str| to == merchant.shortcode || merchant.tills.iter().any(|t| t == to);
        let mut all: Vec<(Timestamp, Value)> = Vec::new();
        for s in &self.sessions {
            if s.result == 0 && s.resolve_at <= now && s.shortcode == shortcode {
                all.push((
                    s.resolve_at,
                    item(&s.receipt, &s.phone, s.amount, s.resolve_at),
                ));
            }
        }
        for p in &self.till_payments {
            if ours(&p.till) {
                all.push((p.at, item(&p.receipt, &p.phone, p.amount, p.at)));
            }
        }
        all.retain(|(at, _)| in_window(*at));
        all.sort_by_key(|(at, _)| *at);
        let page: Vec<Value> = all
            .into_iter()
            .skip(offset)
            .take(PAGE)
            .map(|(_, v)| v)
            .collect();
        Ok(json!({
            "ResponseRefID": self.request_id(),
            "ResponseCode": "1000",
            "ResponseMessage": "Success",
            "Response": [page],
        }))
    }

    /// A customer paid `till` from the M-Pesa menu; a receipt is made if none is given.
    pub(crate) fn pay_till(
        &mut self,
        receipt: Option<&str>,
        phone: &str,
        amount: i64,
        till: &str,
        now: Timestamp,
    ) -> String {
        let receipt = match receipt {
            Some(r) => r.to_string(),
            None => self.receipt(now),
        };
        self.till_payments.push(TillPayment {
            receipt: receipt.clone(),
            phone: phone.to_string(),
            amount,
            till: till.to_string(),
            at: now,
        });
        receipt
    }

    pub(crate) fn till_payment_control(&mut self, body: &Value, now: Timestamp) -> Option<Value> {
        let phone = body.get("phone").and_then(Value::as_str)?;
        let amount = body
            .get("amount")
            .and_then(Value::as_i64)
            .filter(|a| *a >= 1)?;
        let till = body.get("till").and_then(Value::as_str)?;
        let receipt = body.get("receipt").and_then(Value::as_str);
        let receipt = self.pay_till(receipt, phone, amount, till, now);
        Some(json!({ "receipt": receipt }))
    }
}

/// One transaction in Pull's shape. The phone is shown masked, as Daraja does. [SIM]
fn item(receipt: &str, phone: &str, amount: i64, at: Timestamp) -> Value {
    let masked: String = phone
        .chars()
        .enumerate()
        .map(|(i, c)| if (6..9).contains(&i) { '*' } else { c })
        .collect();
    let (date, time) = daraja_datetime(at)
        .split_once(' ')
        .map(|(d, t)| (d.to_string(), t.to_string()))
        .unwrap_or_default();
    json!({
        "transactionId": receipt,
        "trxDate": format!("{date}T{time}.000+03:00"),
        "msisdn": masked,
        "sender": "MPESA",
        "transactiontype": "c2b-buy-goods-debit",
        "billreference": "",
        "amount": amount.to_string(),
        "organizationname": "lango simulator",
    })
}
