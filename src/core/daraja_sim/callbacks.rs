//! The simulator's callbacks: scheduling them when a prompt ends (with the lost, duplicate,
//! late and contradicting faults), handing out those due, and their bodies (docs/daraja.md, Query).

use super::*;

impl SimCore {
    /// Schedules the callbacks of prompts that ended, and hands out those now due (marked in
    /// flight until `delivered` is told how they went).
    pub(crate) fn due_deliveries(&mut self, now: Timestamp) -> Vec<(u64, String, String)> {
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

    /// Whether a callback may still fall due: a prompt not yet ended and scheduled, or a
    /// delivery not done. When none, the delivery thread sleeps until the next request.
    pub(crate) fn pending(&self) -> bool {
        self.sessions.iter().any(|s| !s.scheduled) || self.deliveries.iter().any(|d| !d.done)
    }

    /// Records how a delivery went (`None`: no answer). A failure is retried if the fault
    /// switches ask for it, with a doubling delay.
    pub(crate) fn delivered(&mut self, id: u64, status: Option<u16>, now: Timestamp) {
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

    /// The callback body (docs/daraja.md, Callback): ResultCode a number; metadata only on success, items by name.
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
}
