//! The application's figures for `/metrics` and the alerts (issue 17): what lango counts in RAM
//! since it started (payment outcomes by kind, firewall applies and their time, Daraja failing in
//! a row, spoofing seen) and what it reads at scrape time from its own state (guests online, open
//! payments, takings, the stored funnel). Atomics on the counting paths: no allocation, no flash
//! write. The owner page's web layer adds the router's health and renders the text
//! (`core::metrics`); `daemon::alerts` reads `alert_inputs`.

use portable_atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::app::App;
use crate::core::metrics::{Family, Kind, Value};
use crate::core::payments::{Decline, GatewayError, Payment, PaymentState};
use crate::store::StoreError;

/// The outcome label of a final payment, in the order of `Counts::outcomes`.
const OUTCOMES: [&str; 11] = [
    "paid",
    "cancelled",
    "timed_out",
    "wrong_pin",
    "insufficient_funds",
    "busy",
    "limit",
    "merchant",
    "unavailable",
    "failed",
    "expired",
];

/// Pure: which outcome a final payment counts as; `None` while it is open.
fn outcome(state: PaymentState, decline: Option<Decline>) -> Option<usize> {
    let name = match (state, decline) {
        (PaymentState::Initiating | PaymentState::Pending, _) => return None,
        (PaymentState::Paid, _) => "paid",
        (_, Some(Decline::Cancelled)) | (PaymentState::Cancelled, None) => "cancelled",
        (_, Some(Decline::TimedOut)) => "timed_out",
        (_, Some(Decline::WrongPin)) => "wrong_pin",
        (_, Some(Decline::InsufficientFunds)) => "insufficient_funds",
        (_, Some(Decline::Busy)) => "busy",
        (_, Some(Decline::Limit)) => "limit",
        (_, Some(Decline::Merchant)) => "merchant",
        (_, Some(Decline::Unavailable)) => "unavailable",
        (PaymentState::Expired, None) => "expired",
        (_, Some(Decline::Other)) | (PaymentState::Failed, None) => "failed",
    };
    OUTCOMES.iter().position(|o| *o == name)
}

/// Counted since lango started.
#[derive(Default)]
pub struct Counts {
    outcomes: [AtomicU64; OUTCOMES.len()],
    applies_ok: AtomicU64,
    applies_failed: AtomicU64,
    apply_micros_total: AtomicU64,
    apply_micros_last: AtomicU64,
    /// Gateway requests in a row that got no answer (no connection, 5xx, no reply), and the
    /// last one's error: `Condition::Daraja` for the alerts.
    gateway_failing: AtomicU64,
    gateway_error: std::sync::Mutex<String>,
    /// Spoofing and refused moves logged (once per device and interval, as in the event log).
    spoofing: AtomicU64,
}

/// What the alerts look at (`core::alerts`), read at once: counters since start and flags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertInputs {
    pub gateway_failing: u64,
    pub gateway_error: String,
    pub applies_ok: u64,
    pub applies_failed: u64,
    /// Prompts that failed on the owner's side (merchant account, Daraja unavailable, other).
    pub owner_failures: u64,
    pub paid: u64,
    pub spoofing: u64,
    pub flash_low: bool,
    /// Every RADIUS server silent at its last Status-Server probe: which, since when
    /// (`App::radius_down`; always `None` without the feature `radius`).
    pub radius_down: Option<String>,
}

impl Counts {
    /// A payment reached its final state (called once per payment, after its commit).
    pub(crate) fn payment_final(&self, payment: &Payment) {
        if let Some(i) = outcome(payment.state, payment.decline) {
            self.outcomes[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A gateway request's result: no answer at all counts towards "Daraja is not answering";
    /// any answer (a refusal, a rate limit) clears it.
    pub(crate) fn gateway<T>(&self, result: &Result<T, GatewayError>) {
        match result {
            Err(
                e @ (GatewayError::Unavailable(_)
                | GatewayError::Transport(_)
                | GatewayError::Unanswered(_)),
            ) => {
                self.gateway_failing.fetch_add(1, Ordering::Relaxed);
                *crate::core::locks::lock(&self.gateway_error) = e.to_string();
            }
            _ => self.gateway_failing.store(0, Ordering::Relaxed),
        }
    }

    /// A spoofing attempt or a refused move was logged.
    pub(crate) fn spoofing_seen(&self) {
        self.spoofing.fetch_add(1, Ordering::Relaxed);
    }

    /// One firewall apply (a change or a whole reconcile) took `took`.
    pub(crate) fn applied(&self, ok: bool, took: Duration) {
        let counter = if ok {
            &self.applies_ok
        } else {
            &self.applies_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.apply_micros_total.fetch_add(micros, Ordering::Relaxed);
        self.apply_micros_last.store(micros, Ordering::Relaxed);
    }
}

impl App {
    /// Keeps an alert that was sent (or could not be) in the event log, for the owner page.
    pub fn record_alert(&self, text: &str) -> Result<(), StoreError> {
        let now = self.time().now;
        self.store.write(crate::store::Durability::Lazy, |w| {
            w.push_event(&crate::store::Event::new(
                now,
                "alert",
                None,
                text.to_string(),
            ))
        })
    }

    /// What the alerts look at, now.
    pub fn alert_inputs(&self) -> AlertInputs {
        let c = &self.counts;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let outcome = |name: &str| {
            OUTCOMES
                .iter()
                .position(|o| *o == name)
                .map_or(0, |i| n(&c.outcomes[i]))
        };
        AlertInputs {
            gateway_failing: n(&c.gateway_failing),
            gateway_error: crate::core::locks::lock(&c.gateway_error).clone(),
            applies_ok: n(&c.applies_ok),
            applies_failed: n(&c.applies_failed),
            owner_failures: outcome("merchant") + outcome("unavailable") + outcome("failed"),
            paid: outcome("paid"),
            spoofing: n(&c.spoofing),
            flash_low: self.flash_low.load(std::sync::atomic::Ordering::Relaxed),
            #[cfg(feature = "radius")]
            radius_down: self.radius_down(),
            #[cfg(not(feature = "radius"))]
            radius_down: None,
        }
    }

    /// The application's metric families, read now. Costs the open payments and one day's
    /// takings from the store; the active sessions come from RAM (`core::active`).
    pub fn metric_families(&self) -> Result<Vec<Family>, StoreError> {
        let count = |a: &AtomicU64| Value::Int(a.load(Ordering::Relaxed) as i64);
        let (online, blocked) = {
            let active = self.store.active();
            (active.len(), active.blocked().len())
        };
        let (open, stored) = self
            .store
            .read(|r| Ok((r.open_payments()?.len(), r.counters()?)))?;
        let today = self.daily_takings(1)?;
        let config = self.config();
        let currency = config.gateway.currency.as_str();
        let funnel = |name: &str| -> i64 {
            let saved = stored
                .iter()
                .find(|(k, _)| k == name)
                .map_or(0, |(_, n)| *n);
            let unsaved = self
                .unsaved_funnel()
                .iter()
                .find(|(k, _)| *k == name)
                .map_or(0, |(_, n)| *n);
            (saved + unsaved) as i64
        };
        let mut outcomes = Family::new(
            "lango_payments_total",
            "M-Pesa prompts that reached a final state since lango started, by outcome.",
            Kind::Counter,
        );
        for (i, name) in OUTCOMES.iter().enumerate() {
            outcomes = outcomes.with(&[("outcome", name)], count(&self.counts.outcomes[i]));
        }
        let day = today.last().cloned().unwrap_or_default();
        let mut sales = Family::new(
            "lango_sales_today",
            "Sales of the owner's local day so far, by how they were paid (stk: a prompt; pull: \
             the till, confirmed through Pull; qr: a Dynamic QR; sms: approved by the owner).",
            Kind::Gauge,
        );
        let mut revenue = Family::new(
            "lango_revenue_today_minor_units",
            "Money taken in the owner's local day so far, in minor units of the currency, by \
             how it was paid.",
            Kind::Gauge,
        );
        for (method, _, count, amount) in day.split() {
            sales = sales.with(&[("method", method)], Value::Int(i64::from(count)));
            revenue = revenue.with(
                &[("method", method), ("currency", currency)],
                Value::Int(amount.0),
            );
        }
        let c = &self.counts;
        Ok(vec![
            Family::single(
                "lango_guests_online",
                "Paid sessions active now.",
                Kind::Gauge,
                Value::Int(online as i64),
            ),
            Family::single(
                "lango_devices_blocked",
                "Devices the owner blocked.",
                Kind::Gauge,
                Value::Int(blocked as i64),
            ),
            Family::single(
                "lango_payments_open",
                "M-Pesa prompts waiting for an answer now.",
                Kind::Gauge,
                Value::Int(open as i64),
            ),
            outcomes,
            Family::new(
                "lango_funnel_total",
                "Portal views, purchases started and purchases paid, since the store was made.",
                Kind::Counter,
            )
            .with(
                &[("step", "portal_views")],
                Value::Int(funnel("portal_views")),
            )
            .with(
                &[("step", "purchases_started")],
                Value::Int(funnel("purchases_started")),
            )
            .with(&[("step", "paid")], Value::Int(funnel("paid"))),
            sales,
            revenue,
            Family::new(
                "lango_firewall_applies_total",
                "Firewall changes and reconciles since lango started, by result.",
                Kind::Counter,
            )
            .with(&[("result", "ok")], count(&c.applies_ok))
            .with(&[("result", "error")], count(&c.applies_failed)),
            Family::single(
                "lango_firewall_apply_seconds_total",
                "Time spent applying firewall changes since lango started.",
                Kind::Counter,
                Value::Micros(c.apply_micros_total.load(Ordering::Relaxed)),
            ),
            Family::single(
                "lango_firewall_apply_last_seconds",
                "How long the last firewall apply took.",
                Kind::Gauge,
                Value::Micros(c.apply_micros_last.load(Ordering::Relaxed)),
            ),
            Family::single(
                "lango_clock_trusted",
                "1 when the router's clock is trusted (NTP synced or past the stored floor).",
                Kind::Gauge,
                Value::Int(i64::from(self.time().trusted)),
            ),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_final_state_and_decline_has_an_outcome_and_open_ones_none() {
        use PaymentState::*;
        assert_eq!(outcome(Pending, None), None);
        assert_eq!(outcome(Initiating, Some(Decline::Busy)), None);
        let name = |s, d| OUTCOMES[outcome(s, d).unwrap()];
        assert_eq!(name(Paid, None), "paid");
        assert_eq!(name(Cancelled, None), "cancelled");
        assert_eq!(name(Cancelled, Some(Decline::Cancelled)), "cancelled");
        assert_eq!(name(Expired, Some(Decline::TimedOut)), "timed_out");
        assert_eq!(name(Expired, None), "expired");
        assert_eq!(name(Failed, Some(Decline::WrongPin)), "wrong_pin");
        assert_eq!(
            name(Failed, Some(Decline::InsufficientFunds)),
            "insufficient_funds"
        );
        assert_eq!(name(Failed, Some(Decline::Unavailable)), "unavailable");
        assert_eq!(name(Failed, Some(Decline::Other)), "failed");
        assert_eq!(name(Failed, None), "failed");
    }
}
