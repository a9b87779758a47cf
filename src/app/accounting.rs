//! RADIUS accounting (RFC 2866, `config radius`, `option accounting`; docs/radius.md): which
//! sessions are accounted and when their records are made, and the delivery of the queue on
//! flash (`store::accounting`) to the server. Feature `radius` only.
//!
//! - A record is made in the same write as what it reports: a Start with the grant
//!   (`acct_start_in`), a Stop with the session's end (`acct_stop_in`; those writes are durable
//!   when a Stop is in them), an Interim-Update per session every interval
//!   (`account_interims`, one durable write for all that are due), Accounting-On at start and
//!   -Off at a clean stop (`accounting_on`, `accounting_off`).
//! - Delivery (`deliver_accounting`) sends the queue in order; a record leaves the queue only
//!   after its verified Accounting-Response, and the removal is durable before the next batch
//!   is sent: a record is not sent again once its response was processed. lango killed between
//!   a send and that removal sends the same record again (same Acct-Session-Id, status and
//!   Event-Timestamp, a larger Acct-Delay-Time), which RFC 2866 allows and a server with a
//!   unique key on those three keeps once. A server that does not answer stops the delivery
//!   until a back-off (5 s doubled to 5 min) has passed; nothing is dropped.
//! - Without a radius section, or with `option accounting '0'`, nothing here writes.

use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use super::*;
use crate::adapters::radius::{device_mac, Transport};
use crate::adapters::radius_acct::{AcctClient, UdpAcct};
use crate::core::radius::acct::{self, Accounted, Room, Status, QUEUE_BOUND};
use crate::core::radius::Reply;
use crate::store::Writer;

/// How long a clean stop waits for the Accounting-Off to be delivered.
const OFF_WAIT: Duration = Duration::from_secs(2);
/// Records sent between two durable removals.
const BATCH: usize = 32;
/// The first wait after a failed delivery, and the longest.
const BACKOFF_SECS: i64 = 5;
const BACKOFF_MAX_SECS: i64 = 300;

/// The accounting client and the delivery's back-off.
#[derive(Default)]
pub(crate) struct AcctState {
    client: RwLock<Option<Arc<dyn AcctClient>>>,
    /// (not before, current back-off) after a failed delivery.
    retry: Mutex<(Timestamp, i64)>,
    /// One delivery at a time (the thread, a test, the clean stop).
    sending: Mutex<()>,
    /// No Interim-Update is due before this time (the accounted sessions are read only then).
    interims_from: Mutex<Timestamp>,
}

impl AcctState {
    /// The client for `config` over `transport` (the authentication client's).
    pub(crate) fn configure(&self, config: &Config, transport: Option<Transport>) {
        let radius = config.radius.as_ref().filter(|r| r.accounting);
        let client = radius.zip(transport).map(|(r, transport)| {
            let router = device_mac(&config.gateway.device);
            Arc::new(UdpAcct::new(r, router, transport)) as Arc<dyn AcctClient>
        });
        *locks::write(&self.client) = client;
    }

    fn client(&self) -> Option<Arc<dyn AcctClient>> {
        locks::read(&self.client).clone()
    }
}

impl App {
    /// The default interim interval when accounting is on.
    fn acct_default_interim(&self) -> Option<u32> {
        let config = self.config();
        let radius = config.radius.as_ref().filter(|r| r.accounting)?;
        Some(radius.interim_secs)
    }

    /// Starts accounting `session` in the grant's write `w`: its Start record, and what its
    /// Interim-Updates and Stop need. A session already accounted (a grant that extended it)
    /// gets no second Start. `reply`: the Access-Accept, for a session the server granted;
    /// `class`: the Class of a sale made on the router (`acct::sale_class`).
    pub(crate) fn acct_start_in(
        &self,
        w: &mut Writer,
        session: &Session,
        user: Option<&str>,
        reply: Option<&Reply>,
        class: Option<Vec<u8>>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let Some(default) = self.acct_default_interim() else {
            return Ok(());
        };
        if w.acct_session(session.id)?.is_some() {
            return Ok(());
        }
        let interim_secs = acct::interim_secs(reply.and_then(|r| r.interim_interval), default);
        let accounted = Accounted {
            user: user.map(str::to_string),
            class: match reply {
                Some(reply) => reply.class.clone(),
                None => class.into_iter().collect(),
            },
            interim_secs,
            next_interim: now + i64::from(interim_secs),
            radius: reply.is_some(),
        };
        let record = acct::record(session, &accounted, Status::Start, None, now);
        {
            let mut from = locks::lock(&self.radius.acct.interims_from);
            *from = (*from).min(accounted.next_interim);
        }
        w.put_acct_session(session.id, &accounted)?;
        w.queue_acct(&record, QUEUE_BOUND)?;
        Ok(())
    }

    /// A sale made on the router (an M-Pesa or Airtel payment, a local voucher), accounted in
    /// its grant's write `w`: the Start of `session` with the sale as its Class
    /// (`acct::sale_class`), or, when the session was already accounted (buy more), an
    /// Interim-Update carrying it. `user`: the voucher's code, else the guest's MAC.
    pub(crate) fn acct_sale_in(
        &self,
        w: &mut Writer,
        session: &Session,
        user: &str,
        receipt: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if self.acct_default_interim().is_none() {
            return Ok(());
        }
        let terms = &session.terms;
        let price = u64::try_from(terms.price.0).unwrap_or(0);
        let currency = self.config().gateway.currency.clone();
        let class = acct::sale_class(&terms.package_id, price, &currency, receipt);
        let Some(mut accounted) = w.acct_session(session.id)? else {
            return self.acct_start_in(w, session, Some(user), None, Some(class), now);
        };
        accounted.class = vec![class];
        let record = acct::record(session, &accounted, Status::Interim, None, now);
        w.queue_acct(&record, QUEUE_BOUND)?;
        w.put_acct_session(session.id, &accounted)
    }

    /// Whether session `id` is accounted (its end then needs a durable write and fresh
    /// counters).
    pub(crate) fn is_accounted(&self, id: u64) -> bool {
        self.acct_default_interim().is_some()
            && self
                .store
                .read(|r| r.acct_session(id))
                .ok()
                .flatten()
                .is_some()
    }

    /// Queues the Stop of `ended` (its counters as final as they are) in the write that ends
    /// it, and forgets it. Nothing for a session that is not accounted.
    pub(crate) fn acct_stop_in(
        &self,
        w: &mut Writer,
        ended: &Session,
        reason: EndReason,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let Some(accounted) = w.acct_session(ended.id)? else {
            return Ok(());
        };
        let cause = acct::cause_of(reason);
        // A session that ran out while lango was down ended at its deadline, not at the start.
        let at = match reason {
            EndReason::Time => now.min(ended.deadline),
            _ => now,
        };
        let record = acct::record(ended, &accounted, Status::Stop, Some(cause), at);
        w.queue_acct(&record, QUEUE_BOUND)?;
        w.remove_acct_session(ended.id)
    }

    /// Makes the Interim-Updates that are due (one counter read, one durable write), and the
    /// Stop of an accounted session that is no longer active. Returns how many were queued.
    pub fn account_interims(&self) -> Result<usize, StoreError> {
        if self.acct_default_interim().is_none() {
            return Ok(0);
        }
        let now = self.time().now;
        if *locks::lock(&self.radius.acct.interims_from) > now {
            return Ok(0);
        }
        let all = self.store.read(|r| r.acct_sessions())?;
        // The next look: the earliest interval end of the sessions not due now, or after the
        // due ones' next interval (at least `MIN_INTERIM_SECS`).
        let later = all.iter().map(|(_, a)| a.next_interim).filter(|t| *t > now);
        let next = later
            .min()
            .unwrap_or(now + i64::from(acct::MIN_INTERIM_SECS));
        *locks::lock(&self.radius.acct.interims_from) =
            next.min(now + i64::from(acct::MIN_INTERIM_SECS));
        let due: Vec<(u64, Accounted)> = all
            .into_iter()
            .filter(|(_, a)| a.next_interim <= now)
            .collect();
        if due.is_empty() {
            return Ok(0);
        }
        self.read_usage();
        let sessions: Vec<(Option<Session>, u64, Accounted)> = self.store.read(|r| {
            let mut out = Vec::with_capacity(due.len());
            for (id, accounted) in due {
                out.push((r.session(id)?.map(|s| self.with_usage(s)), id, accounted));
            }
            Ok(out)
        })?;
        let count = sessions.len();
        self.store.write(Durability::Durable, |w| {
            for (session, id, mut accounted) in sessions {
                match session {
                    Some(s) if s.is_active() => {
                        let record = acct::record(&s, &accounted, Status::Interim, None, now);
                        w.queue_acct(&record, QUEUE_BOUND)?;
                        accounted.next_interim = now + i64::from(accounted.interim_secs);
                        w.put_acct_session(id, &accounted)?;
                    }
                    Some(s) => {
                        let reason = s.end_reason.unwrap_or(EndReason::Time);
                        let at = s.ended_at.unwrap_or(now);
                        self.acct_stop_in(w, &s, reason, at)?;
                    }
                    None => w.remove_acct_session(id)?,
                }
            }
            Ok(())
        })?;
        Ok(count)
    }

    /// Accounting-On: queued at start (lango's sessions survive a restart, so their Interim
    /// records follow it and a server that closed them on the On reopens them).
    pub fn accounting_on(&self) -> Result<(), StoreError> {
        self.queue_nas(Status::On)
    }

    /// Accounting-Off at a clean stop: queued, then delivered with the rest of the queue for
    /// at most `OFF_WAIT` (procd kills a service 5 s after asking it to stop); what is left
    /// is sent after the next start. No attempt while the server is backed off.
    pub fn accounting_off(self: &Arc<App>) -> Result<(), StoreError> {
        self.queue_nas(Status::Off)?;
        if locks::lock(&self.radius.acct.retry).0 > self.time().now {
            return Ok(());
        }
        let app = self.clone();
        let sender = std::thread::Builder::new()
            .name("accounting-off".into())
            .spawn(move || app.deliver_accounting());
        // Polled, not a channel: one more channel type costs several KB of std's code.
        if let Ok(sender) = sender {
            let until = std::time::Instant::now() + OFF_WAIT;
            while !sender.is_finished() && std::time::Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    fn queue_nas(&self, status: Status) -> Result<(), StoreError> {
        if self.acct_default_interim().is_none() {
            return Ok(());
        }
        let record = acct::nas_record(status, self.time().now);
        self.store.write(Durability::Durable, |w| {
            w.queue_acct(&record, QUEUE_BOUND).map(|_: Room| ())
        })
    }

    /// Sends the queue in order until it is empty or the server does not answer (then the
    /// back-off). Returns how many records were delivered.
    pub fn deliver_accounting(&self) -> usize {
        let Some(client) = self.radius.acct.client() else {
            return 0;
        };
        let _one = locks::lock(&self.radius.acct.sending);
        let mut delivered = 0;
        loop {
            let now = self.time().now;
            if locks::lock(&self.radius.acct.retry).0 > now {
                return delivered;
            }
            let batch = match self.store.read(|r| r.acct_queue(BATCH)) {
                Ok(batch) if !batch.is_empty() => batch,
                Ok(_) => return delivered,
                Err(e) => {
                    log::error!("accounting queue: {e}");
                    return delivered;
                }
            };
            let mut done: Vec<u64> = Vec::new();
            let mut failed = false;
            for (key, record) in &batch {
                match client.send(record, self.time().now) {
                    Ok(()) => done.push(*key),
                    Err(e) => {
                        log::warn!(
                            "RADIUS accounting: {} of {} not delivered: {e}",
                            record.status.name(),
                            record.session_id
                        );
                        failed = true;
                        break;
                    }
                }
            }
            if !done.is_empty() {
                let removed = self.store.write(Durability::Durable, |w| {
                    done.iter().try_for_each(|key| w.acct_done(*key))
                });
                if let Err(e) = removed {
                    log::error!("accounting queue: {e}");
                    return delivered;
                }
                delivered += done.len();
            }
            let mut retry = locks::lock(&self.radius.acct.retry);
            if failed {
                let backoff = (retry.1 * 2).clamp(BACKOFF_SECS, BACKOFF_MAX_SECS);
                *retry = (now + backoff, backoff);
                return delivered;
            }
            *retry = (0, 0);
        }
    }

    /// Records waiting for the server.
    pub fn accounting_queued(&self) -> u64 {
        self.store.read(|r| r.acct_queue_len()).unwrap_or(0)
    }

    /// Replaces the accounting client (tests and benches: a client at a test server).
    pub fn use_accounting(&self, client: Arc<dyn AcctClient>) {
        *locks::write(&self.radius.acct.client) = Some(client);
    }
}

/// The RADIUS thread: every second, the Status-Server probes that are due, the Interim-Updates
/// that are due, then the queue. Without a radius section it looks every 30 s whether a reload
/// added one.
pub fn spawn(app: &Arc<App>) -> std::io::Result<()> {
    let app: Weak<App> = Arc::downgrade(app);
    std::thread::Builder::new()
        .name("accounting".into())
        .spawn(move || loop {
            let idle = app
                .upgrade()
                .is_none_or(|app| app.config().radius.is_none());
            std::thread::sleep(Duration::from_secs(if idle { 30 } else { 1 }));
            let Some(app) = app.upgrade() else { return };
            app.probe_radius();
            if let Err(e) = app.account_interims() {
                log::error!("accounting: {e}");
            }
            app.deliver_accounting();
        })
        .map(|_| ())
}
