//! The simulator's Dynamic QR endpoint (docs/daraja.md, Dynamic QR): the documented fields
//! checked in order, Daraja's `400.002.02` envelope for the first one wrong, and a fixed small
//! PNG for a good request (a real QR encoder would add nothing a test can read). A test "pays"
//! a code it issued (`/__sim/qr_payment`, `Simulator::pay_qr`): the money then shows in Pull
//! Transactions as a payment to the code's till or PayBill. Not kept in the `--state` file.

use serde_json::{json, Value};

use super::*;

/// A valid 1x1 PNG: what every QR request gets. [SIM]
const PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";
/// The transaction types the API documents.
const TRX_CODES: [&str; 5] = ["BG", "WA", "PB", "SM", "SB"];

/// A QR code the simulator issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QrIssued {
    pub request_id: String,
    pub ref_no: String,
    /// Whole shillings.
    pub amount: i64,
    pub trx_code: String,
    pub cpi: String,
}

impl SimCore {
    pub(crate) fn qr_api(
        &mut self,
        request: &SimRequest,
        now: Timestamp,
    ) -> Result<Value, SimError> {
        let body = self.json_body(request, now)?;
        field(&body, "MerchantName", |_| true)?;
        let ref_no = field(&body, "RefNo", |_| true)?;
        let amount: i64 = field(&body, "Amount", |a| is_digits(a) && a != "0")?
            .parse()
            .map_err(|_| SimError::invalid("Amount"))?;
        let trx_code = field(&body, "TrxCode", |t| TRX_CODES.contains(&t))?;
        let cpi = field(&body, "CPI", is_digits)?;
        field(&body, "Size", |s| is_digits(s) && s.len() <= 4)?;
        // [SIM]: a till or PayBill number no merchant here has is refused as an invalid CPI.
        let known = self.settings.merchants.iter().any(|m| {
            (trx_code == "PB" && m.shortcode == cpi)
                || (trx_code == "BG" && (m.tills.contains(&cpi) || m.shortcode == cpi))
        });
        if !known && matches!(trx_code.as_str(), "BG" | "PB") {
            return Err(SimError::invalid("CPI"));
        }
        self.spike_check("qr", now)?;
        let request_id = self.request_id();
        self.qr_codes.push(QrIssued {
            request_id: request_id.clone(),
            ref_no,
            amount,
            trx_code,
            cpi,
        });
        Ok(json!({
            "ResponseCode": format!("AG_{}_{}", &daraja_timestamp(now)[..8], self.alphanumeric(20)),
            "RequestID": request_id,
            "ResponseDescription": "QR Code Successfully Generated.",
            "QRCode": PNG,
        }))
    }

    pub fn qr_codes(&self) -> &[QrIssued] {
        &self.qr_codes
    }

    /// Someone scanned the last code issued with `ref_no` and paid it (`amount` whole shillings
    /// if they changed it): Pull lists it from now. The receipt, or `None` for no such code.
    pub(crate) fn pay_qr(
        &mut self,
        ref_no: &str,
        phone: &str,
        amount: Option<i64>,
        now: Timestamp,
    ) -> Option<String> {
        let qr = self
            .qr_codes
            .iter()
            .rev()
            .find(|q| q.ref_no == ref_no)?
            .clone();
        let amount = amount.unwrap_or(qr.amount);
        Some(self.pay_till(None, phone, amount, &qr.cpi, now))
    }

    pub(crate) fn qr_payment_control(&mut self, body: &Value, now: Timestamp) -> Option<Value> {
        let ref_no = body.get("ref_no").and_then(Value::as_str)?;
        let phone = body.get("phone").and_then(Value::as_str)?;
        let amount = body
            .get("amount")
            .and_then(Value::as_i64)
            .filter(|a| *a >= 1);
        let receipt = self.pay_qr(ref_no, phone, amount, now)?;
        Some(json!({ "receipt": receipt }))
    }
}
