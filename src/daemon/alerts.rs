//! The alerts thread (issue 17): every `LOOK_SECS` it reads what the app counted
//! (`App::alert_inputs`: the app's counters and flags, the RADIUS servers' Status-Server state)
//! and the router's memory, turns them into observations for
//! `core::alerts::Incidents`, and posts each notice once to `option alert_url` (ntfy, a
//! Telegram bot, a Slack-style receiver), keeping it in the event log too. A notice is sent again
//! only if it certainly did not reach the receiver (no connection); one that was sent without
//! an answer is not, so a receiver never gets it twice. Without `alert_url` it only logs.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::adapters::https::{Client, HttpError};
use crate::app::metrics::AlertInputs;
use crate::app::App;
use crate::core::alerts::{body, Condition, Incidents, Notice};
use crate::core::time::Timestamp;

/// Seconds between looks.
pub const LOOK_SECS: u64 = 30;
/// Gateway requests in a row without an answer before Daraja counts as not answering.
const GATEWAY_FAILURES: u64 = 3;
/// Prompts failing on the owner's side in one look, at least, before it is an incident.
const OWNER_FAILURES: u64 = 3;
/// Memory below this (kB of MemAvailable) is low.
const LOW_MEMORY_KB: u64 = 8 * 1024;
/// Tries for a notice that did not reach the receiver.
const TRIES: u32 = 3;

/// The incidents and the counters of the previous look.
pub struct Alerter {
    incidents: Incidents,
    last: Option<AlertInputs>,
    client: Client,
}

impl Default for Alerter {
    fn default() -> Self {
        Alerter::new()
    }
}

impl Alerter {
    pub fn new() -> Alerter {
        // https receivers are checked against the system's CA bundle (or none: then only
        // http ones are reached, and the failure is logged).
        let tls = crate::adapters::https::load_ca_bundle(std::path::Path::new(
            crate::adapters::https::DEFAULT_CA_BUNDLE,
        ))
        .ok();
        Alerter::with_client(Client::new(tls, Duration::from_secs(10)))
    }

    /// With the client the notices are posted through (tests pass one with their own CA).
    pub fn with_client(client: Client) -> Alerter {
        Alerter {
            incidents: Incidents::default(),
            last: None,
            client,
        }
    }

    /// One look at `now`, with the router's available memory (kB) when known: the notices it
    /// produced, each already posted (when `alert_url` is set) and in the event log.
    pub fn look(
        &mut self,
        app: &App,
        now: Timestamp,
        mem_available_kb: Option<u64>,
    ) -> Vec<Notice> {
        let inputs = app.alert_inputs();
        let last = self.last.replace(inputs.clone()).unwrap_or_default();
        let delta = |now: u64, before: u64| now.saturating_sub(before);
        let new_failures = delta(inputs.owner_failures, last.owner_failures);
        let observations = [
            (
                Condition::Daraja,
                inputs.gateway_failing >= GATEWAY_FAILURES,
                inputs.gateway_error.clone(),
            ),
            (
                Condition::Firewall,
                delta(inputs.applies_failed, last.applies_failed) > 0
                    && delta(inputs.applies_ok, last.applies_ok) == 0,
                String::new(),
            ),
            (Condition::Flash, inputs.flash_low, String::new()),
            (
                Condition::Memory,
                mem_available_kb.is_some_and(|kb| kb < LOW_MEMORY_KB),
                mem_available_kb.map_or(String::new(), |kb| format!("{} MB free", kb / 1024)),
            ),
            (
                Condition::Payments,
                new_failures >= OWNER_FAILURES && new_failures > delta(inputs.paid, last.paid),
                format!("{new_failures} failed in {LOOK_SECS} s"),
            ),
            (
                Condition::Spoofing,
                delta(inputs.spoofing, last.spoofing) > 0,
                "see the owner page's events".to_string(),
            ),
            #[cfg(feature = "radius")]
            (
                Condition::Radius,
                inputs.radius_down.is_some(),
                inputs.radius_down.clone().unwrap_or_default(),
            ),
        ];
        let mut notices = Vec::new();
        for (condition, active, detail) in observations {
            if let Some(notice) = self.incidents.observe(now, condition, active, &detail) {
                self.tell(app, &notice);
                notices.push(notice);
            }
        }
        notices
    }

    /// Logs the notice, keeps it in the event log and posts it to the receiver.
    fn tell(&self, app: &App, notice: &Notice) {
        let config = app.config();
        let text = notice.text(&config.brand.name);
        log::warn!("alert: {text}");
        let url = config.gateway.alert_url.as_deref();
        let delivered = match url {
            Some(url) => self.post(url, config.gateway.alert_format, &text),
            None => "no alert_url".to_string(),
        };
        if let Err(e) = app.record_alert(&format!("{text} ({delivered})")) {
            log::error!("alert: not kept in the event log: {e}");
        }
    }

    /// Posts `text`; what became of it, in words.
    fn post(&self, url: &str, format: crate::core::alerts::Format, text: &str) -> String {
        let (data, kind) = body(format, text);
        for attempt in 1..=TRIES {
            match self
                .client
                .send("POST", url, &[("Content-Type", kind)], &data)
            {
                Ok(r) if (200..300).contains(&r.status) => return "sent".into(),
                Ok(r) => return format!("the receiver answered {}", r.status),
                Err(HttpError::NoAnswer(e)) => return format!("sent, no answer: {e}"),
                Err(HttpError::NotSent(e)) if attempt == TRIES => {
                    return format!("not sent: {e}");
                }
                Err(HttpError::NotSent(_)) => {
                    std::thread::sleep(Duration::from_secs(u64::from(attempt) * 2));
                }
            }
        }
        "not sent".into()
    }
}

/// Starts the thread; it ends when the app is gone.
pub fn spawn(app: &Arc<App>) -> std::io::Result<()> {
    let app: Weak<App> = Arc::downgrade(app);
    std::thread::Builder::new()
        .name("alerts".into())
        .spawn(move || {
            let mut alerter = Alerter::new();
            loop {
                std::thread::sleep(Duration::from_secs(LOOK_SECS));
                let Some(app) = app.upgrade() else { return };
                let config = app.config();
                let memory = crate::adapters::health::read(&config.gateway.store);
                alerter.look(&app, app.time().now, memory.mem_available_kb);
            }
        })
        .map(|_| ())
}
