//! The shell around the pure core: `App` holds the config, the store and the adapters (`Env`),
//! and turns requests and background work into core calls and store transactions. HTTP
//! handlers call the quick methods (`start_purchase`, `redeem`, `device`), which never wait on
//! a gateway or the firewall; the background worker (`worker.rs`) runs `Job`s, which do.
//! Locks here guard only in-memory bookkeeping and are never held across I/O.

pub mod mpesa;
pub mod owner;
pub mod worker;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

use portable_atomic::{AtomicU64, Ordering};

use crate::adapters::neighbours::Neighbours;
use crate::core::config::Config;
use crate::core::firewall::{self, Firewall};
use crate::core::model::{Mac, Phone};
use crate::core::payments::{
    self, GatewayError, Payment, PaymentGateway, PaymentState, Settlement,
};
use crate::core::sessions::{self, EndReason, Lifecycle, Session, Source, Terms};
use crate::core::time::{Clock, ClockGuard, TimeView, Timestamp};
use crate::core::vouchers::{self, Refusal, Voucher, VoucherState};
use crate::store::{Device, Durability, Event, Store, StoreError};

/// The adapters to the outside world. Tests build it from fakes, `lango demo` from the
/// recording firewall and the simulator, `lango serve` from the real ones.
pub struct Env {
    pub clock: Arc<dyn Clock>,
    pub firewall: Arc<dyn Firewall>,
    pub neighbours: Arc<dyn Neighbours>,
    pub gateway: Arc<dyn PaymentGateway>,
}

/// Background work. Each job is blocking and runs off the HTTP threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Job {
    /// Send the STK push of an Initiating payment.
    Push(u64),
    /// Ask the gateway how a Pending payment ended.
    Poll(u64),
    /// End sessions that are over, read usage, reconcile the firewall, checkpoint counters.
    Housekeeping,
}

/// After a failed push (gateway unavailable), try again this much later.
const PUSH_RETRY_SECS: i64 = 5;
/// After a failed firewall apply, try again this much later.
const RECONCILE_RETRY_SECS: i64 = 5;

#[derive(Default)]
struct Work {
    /// Payment id → (when to run its next push or poll, attempts so far).
    due: HashMap<u64, (Timestamp, u32)>,
    in_flight: HashSet<Job>,
    /// The firewall may differ from the store; reconcile as soon as possible.
    dirty: bool,
    next_reconcile: Timestamp,
    /// Armed at the first unsaved change; the checkpoint runs when it passes.
    next_checkpoint: Option<Timestamp>,
    /// Session id → (bytes up, bytes down) read from the firewall and not yet stored.
    usage: HashMap<u64, (u64, u64)>,
    /// Session id → (when, bytes up, bytes down) at the last usage reading, and the speed
    /// (bytes per second up, down) between the last two readings.
    samples: HashMap<u64, (i64, u64, u64)>,
    speeds: HashMap<u64, (u64, u64)>,
    unsaved: bool,
    floor_saved: Timestamp,
    /// When a spoofing event was last written for a (MAC, address) pair.
    spoof_logged: HashMap<(Mac, IpAddr), Timestamp>,
}

/// A clone that keeps knocking is logged once per this interval (the event log is on flash).
const SPOOF_LOG_INTERVAL_SECS: i64 = 600;

/// Funnel counters, kept in RAM and checkpointed (never one flash write per page view).
#[derive(Default)]
pub struct Funnel {
    pub portal_views: AtomicU64,
    pub purchases_started: AtomicU64,
    pub paid: AtomicU64,
}

pub struct App {
    pub env: Env,
    pub store: Store,
    config: RwLock<Arc<Config>>,
    clock_guard: ClockGuard,
    work: Mutex<Work>,
    pub funnel: Funnel,
    /// Per-device and per-phone limits on the public endpoints.
    pub limiter: crate::core::ratelimit::RateLimiter,
    /// Wakes the background worker when new work appears.
    wake: smol::channel::Sender<()>,
    /// Where session and payment events go (the ubus object), if anywhere.
    events: Mutex<Option<std::sync::mpsc::SyncSender<crate::adapters::ubusd::Event>>>,
    /// Callback hints, the callback secret, SMS attempts, the connection test (mpesa.rs).
    pub(crate) mpesa: crate::app::mpesa::MpesaState,
}

/// Why a purchase could not start.
#[derive(Debug)]
pub enum PurchaseError {
    /// The request did not come from a device on the guest network.
    UnknownDevice,
    UnknownPackage,
    BadPhone(String),
    /// The router's clock is not synced yet: selling time now would be unfair.
    ClockUnsynced,
    /// This device already has a prompt open; here is its token.
    AlreadyPending(String),
    Blocked,
    /// Abuse limits (`payments::check_limits`): one open prompt per phone, not the same amount
    /// to the same phone within two minutes, a few purchases per device per ten minutes.
    Limited(payments::LimitRefusal),
    Store(StoreError),
}

#[derive(Debug)]
pub enum RedeemError {
    UnknownDevice,
    Refused(Refusal),
    ClockUnsynced,
    Blocked,
    Store(StoreError),
}

impl From<StoreError> for PurchaseError {
    fn from(e: StoreError) -> Self {
        PurchaseError::Store(e)
    }
}

impl From<StoreError> for RedeemError {
    fn from(e: StoreError) -> Self {
        RedeemError::Store(e)
    }
}

/// Why a purchase could not be moved to the requesting device.
#[derive(Debug)]
pub enum MoveError {
    UnknownDevice,
    /// No paid purchase with this receipt and phone, or its time is over.
    NotFound,
    /// Moved too recently; try again after this many seconds.
    TooSoon(u64),
    /// The device already has time of its own running.
    AlreadyOnline,
    Store(StoreError),
}

impl From<StoreError> for MoveError {
    fn from(e: StoreError) -> Self {
        MoveError::Store(e)
    }
}

/// What the portal knows about the device behind a request.
#[derive(Clone, Debug)]
pub struct DeviceView {
    pub mac: Mac,
    pub lifecycle: Lifecycle,
    pub now: Timestamp,
}

/// A long random token (128 bits, hex) from the OS generator.
pub fn random_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Io(format!("random generator: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl App {
    /// Builds the app and the receiver the background worker waits on.
    pub fn new(
        config: Config,
        store: Store,
        env: Env,
    ) -> Result<(App, smol::channel::Receiver<()>), StoreError> {
        let floor = store.read(|r| r.meta("clock_floor"))?.unwrap_or(0) as Timestamp;
        let (wake, woken) = smol::channel::unbounded();
        let app = App {
            env,
            store,
            config: RwLock::new(Arc::new(config)),
            clock_guard: ClockGuard::new(floor),
            work: Mutex::new(Work {
                dirty: true,
                floor_saved: floor,
                ..Work::default()
            }),
            funnel: Funnel::default(),
            limiter: crate::core::ratelimit::RateLimiter::default(),
            wake,
            mpesa: crate::app::mpesa::MpesaState::default(),
            events: Mutex::new(None),
        };
        app.resume()?;
        Ok((app, woken))
    }

    pub fn config(&self) -> Arc<Config> {
        match self.config.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Swaps in a new config. Sessions keep the terms they were bought with.
    pub fn set_config(&self, config: Config) {
        match self.config.write() {
            Ok(mut c) => *c = Arc::new(config),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(config),
        }
        self.mark_dirty();
    }

    pub fn time(&self) -> TimeView {
        self.clock_guard.view(self.env.clock.as_ref())
    }

    fn work(&self) -> std::sync::MutexGuard<'_, Work> {
        match self.work.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Makes a payment's next query due now (a callback or an SMS points at it).
    pub(crate) fn poll_soon(&self, id: u64) {
        let now = self.time().now;
        self.work()
            .due
            .entry(id)
            .and_modify(|due| due.0 = now)
            .or_insert((now, 0));
        self.notify();
    }

    /// Wakes the worker (after a job finished, new work may be due).
    pub fn due_jobs_wake(&self) {
        self.notify();
    }

    fn notify(&self) {
        let _ = self.wake.try_send(());
    }

    /// Sends session and payment events to `sink` from now on (ubus notifications). Events are
    /// dropped, never waited for, when the sink is full.
    pub fn set_event_sink(&self, sink: std::sync::mpsc::SyncSender<crate::adapters::ubusd::Event>) {
        if let Ok(mut events) = self.events.lock() {
            *events = Some(sink);
        }
    }

    fn emit(&self, event: crate::adapters::ubusd::Event) {
        if let Ok(events) = self.events.lock() {
            if let Some(sink) = events.as_ref() {
                let _ = sink.try_send(event);
            }
        }
    }

    /// Emits a payment's current state (after its write committed).
    fn emit_payment(&self, id: u64) {
        if let Ok(Some(p)) = self.store.read(|r| r.payment(id)) {
            self.emit(crate::ubus::payment_state(&p));
        }
    }

    /// Emits a session's start or stop (after its write committed).
    fn emit_session(&self, id: u64, start: bool) {
        if let Ok(Some(s)) = self.store.read(|r| r.session(id)) {
            let event = if start {
                crate::ubus::session_start(&s)
            } else {
                crate::ubus::session_stop(&s)
            };
            self.emit(event);
        }
    }

    /// Asks the worker to reconcile the firewall now (after a SIGHUP or a firewall restart).
    pub fn reconcile_now(&self) {
        self.mark_dirty();
    }

    pub(crate) fn mark_dirty(&self) {
        self.work().dirty = true;
        self.notify();
    }

    /// After a start: schedule every open payment. A payment still Initiating was interrupted
    /// before its push was acknowledged; pushing again could double-charge, so it is closed and
    /// logged for the owner.
    fn resume(&self) -> Result<(), StoreError> {
        let now = self.time().now;
        let open = self.store.read(|r| r.open_payments())?;
        let mut work = self.work();
        for payment in open {
            match payment.state {
                PaymentState::Pending => {
                    work.due.insert(payment.id, (now, 0));
                }
                _ => {
                    let mut closed = payment.clone();
                    closed.state = PaymentState::Expired;
                    closed.decline = Some(payments::Decline::Unavailable);
                    closed.updated_at = now;
                    self.store.write(Durability::Durable, |w| {
                        w.put_payment(&closed)?;
                        w.push_event(&event(
                            now,
                            "payment_interrupted",
                            Some(closed.mac),
                            format!(
                            "payment {} was interrupted by a restart before M-Pesa acknowledged it",
                            closed.id
                        ),
                        ))
                    })?;
                }
            }
        }
        Ok(())
    }

    /// The MAC behind a client address, from the network.
    pub fn identify(&self, ip: IpAddr) -> Option<Mac> {
        self.env.neighbours.mac_for(ip.to_canonical())
    }

    /// Checks that a request from `ip` may act for `mac`'s session. A device whose address
    /// changed gets its session moved (durably, then the firewall follows); a second device
    /// using a paid MAC from another address is a clone: logged as spoofing, and refused.
    /// Returns true for a clone.
    fn check_binding(&self, ip: IpAddr, mac: Mac) -> Result<bool, StoreError> {
        let ip = ip.to_canonical();
        let Some(session) = self.store.read(|r| r.active_session(mac))? else {
            return Ok(false);
        };
        let now = self.time().now;
        match sessions::binding(&session, ip, &self.env.neighbours.ipv4_of(mac)) {
            sessions::Binding::Same => Ok(false),
            sessions::Binding::Moved => {
                let old = session.ip;
                self.store.write(Durability::Durable, |w| {
                    let Some(mut current) = w.active_session(mac)? else {
                        return Ok(());
                    };
                    current.ip = Some(ip);
                    w.put_session(&current)?;
                    w.push_event(&event(
                        now,
                        "session_moved",
                        Some(mac),
                        format!(
                            "session {} moved from {} to {ip}",
                            current.id,
                            old.map(|o| o.to_string()).unwrap_or_default()
                        ),
                    ))
                })?;
                self.mark_dirty();
                Ok(false)
            }
            sessions::Binding::Clone => {
                let first = {
                    let mut work = self.work();
                    let last = work.spoof_logged.get(&(mac, ip)).copied();
                    let due = last.is_none_or(|at| now - at >= SPOOF_LOG_INTERVAL_SECS);
                    if due {
                        work.spoof_logged.insert((mac, ip), now);
                    }
                    due
                };
                if first {
                    log::warn!("spoofing: {ip} uses {mac}, which is paid for at another address");
                    self.store.write(Durability::Lazy, |w| {
                        w.push_event(&event(
                            now,
                            "spoofing",
                            Some(mac),
                            format!(
                                "{ip} is using MAC {mac}, which belongs to session {} at {}",
                                session.id,
                                session.ip.map(|o| o.to_string()).unwrap_or_default()
                            ),
                        ))
                    })?;
                }
                Ok(true)
            }
        }
    }

    fn is_blocked(&self, mac: Mac) -> Result<bool, StoreError> {
        Ok(self
            .store
            .read(|r| r.device(mac))?
            .is_some_and(|d| d.blocked))
    }

    /// Starts buying `package_id` for the device at `ip`. Records the payment durably and leaves
    /// the STK push to the background; returns at once with the payment (and its token).
    pub fn start_purchase(
        &self,
        ip: IpAddr,
        package_id: &str,
        phone: &str,
    ) -> Result<Payment, PurchaseError> {
        let ip = ip.to_canonical();
        let mac = self.identify(ip).ok_or(PurchaseError::UnknownDevice)?;
        if self.check_binding(ip, mac)? {
            return Err(PurchaseError::Blocked);
        }
        let config = self.config();
        let package = config
            .package(package_id)
            .filter(|p| p.active)
            .ok_or(PurchaseError::UnknownPackage)?;
        let phone = Phone::parse(phone).map_err(PurchaseError::BadPhone)?;
        let time = self.time();
        if !time.trusted {
            return Err(PurchaseError::ClockUnsynced);
        }
        if self.is_blocked(mac)? {
            return Err(PurchaseError::Blocked);
        }
        let token = random_token()?;
        let now = time.now;
        let terms = Terms::of(package);
        let payment = self.store.write(Durability::Durable, |w| {
            if let Some(open) = w.open_payment_for(mac)? {
                return Ok(Err(PurchaseError::AlreadyPending(open.token)));
            }
            let (open, recent) = (
                w.open_payments()?,
                w.payments_since(now - payments::DEVICE_WINDOW_SECS, 500)?,
            );
            if let Err(refusal) =
                payments::check_limits(&open, &recent, mac, &phone, terms.price, now)
            {
                return Ok(Err(PurchaseError::Limited(refusal)));
            }
            let payment = Payment {
                id: w.next_id()?,
                token,
                amount: terms.price,
                terms,
                phone,
                mac,
                ip: Some(ip),
                state: PaymentState::Initiating,
                checkout_id: None,
                merchant_request_id: None,
                receipt: None,
                result_code: None,
                decline: None,
                created_at: now,
                updated_at: now,
                session_id: None,
                callback: None,
            };
            w.put_payment(&payment)?;
            Ok(Ok(payment))
        })??;
        self.funnel
            .purchases_started
            .fetch_add(1, Ordering::Relaxed);
        self.work().due.insert(payment.id, (now, 0));
        self.notify();
        Ok(payment)
    }

    /// Redeems a voucher code for the device at `ip`, granting its terms at once.
    pub fn redeem(&self, ip: IpAddr, typed_code: &str) -> Result<Session, RedeemError> {
        let ip = ip.to_canonical();
        let mac = self.identify(ip).ok_or(RedeemError::UnknownDevice)?;
        if self.check_binding(ip, mac)? {
            return Err(RedeemError::Blocked);
        }
        let time = self.time();
        if !time.trusted {
            return Err(RedeemError::ClockUnsynced);
        }
        if self.is_blocked(mac)? {
            return Err(RedeemError::Blocked);
        }
        let code = vouchers::normalise(typed_code);
        let now = time.now;
        let session = self.store.write(Durability::Durable, |w| {
            let voucher = w.voucher(&code)?;
            let voucher = match vouchers::check(voucher.as_ref(), now) {
                Ok(v) => v.clone(),
                Err(refusal) => return Ok(Err(refusal)),
            };
            let terms = &voucher.terms;
            let source = Source::Voucher(code.clone());
            let session = grant_in(w, mac, Some(ip), terms, source, time.start())?;
            w.put_voucher(&vouchers::redeemed(&voucher, mac, session.id, now))?;
            touch_device(w, mac, Some(ip), now)?;
            w.push_event(&event(
                now,
                "voucher_redeemed",
                Some(mac),
                format!(
                    "voucher {} ({}) redeemed, session {} until {}",
                    code,
                    voucher.terms.package_name,
                    session.id,
                    crate::core::time::iso8601(session.deadline)
                ),
            ))?;
            Ok(Ok(session))
        })?;
        match session {
            Ok(session) => {
                self.mark_dirty();
                self.emit_session(session.id, true);
                Ok(session)
            }
            Err(refusal) => {
                log::info!("voucher refused for {mac}: {refusal:?}");
                Err(RedeemError::Refused(refusal))
            }
        }
    }

    /// Moves a running purchase to the device at `ip`, for a phone that randomised its MAC. The
    /// guest proves the purchase with its M-Pesa receipt and the phone number that paid; a
    /// session moves at most once per `move_interval`. The old MAC loses access at the next
    /// reconcile (at once: the move marks the firewall dirty).
    pub fn move_session(
        &self,
        ip: IpAddr,
        receipt: &str,
        phone: &str,
    ) -> Result<Session, MoveError> {
        let ip = ip.to_canonical();
        let mac = self.identify(ip).ok_or(MoveError::UnknownDevice)?;
        let phone = Phone::parse(phone).map_err(|_| MoveError::NotFound)?;
        let receipt = receipt.trim().to_ascii_uppercase();
        let interval = self.config().gateway.move_interval_secs as i64;
        let now = self.time().now;
        let moved = self.store.write(Durability::Durable, |w| {
            let Some(payment_id) = w.receipt_owner(&receipt)? else {
                return Ok(Err(MoveError::NotFound));
            };
            let Some(payment) = w.payment(payment_id)? else {
                return Ok(Err(MoveError::NotFound));
            };
            if payment.phone != phone || payment.state != PaymentState::Paid {
                return Ok(Err(MoveError::NotFound));
            }
            let session = match payment.session_id {
                Some(id) => w.session(id)?,
                None => None,
            };
            let Some(mut session) =
                session.filter(|s| sessions::must_end(s, now).is_none() && s.is_active())
            else {
                return Ok(Err(MoveError::NotFound));
            };
            if session.mac == mac {
                return Ok(Ok(session));
            }
            if let Some(at) = session.moved_at.filter(|at| now - at < interval) {
                return Ok(Err(MoveError::TooSoon(
                    u64::try_from(at + interval - now).unwrap_or(1),
                )));
            }
            if w.active_session(mac)?.is_some() {
                return Ok(Err(MoveError::AlreadyOnline));
            }
            let old_mac = session.mac;
            session.mac = mac;
            session.ip = Some(ip);
            session.moved_at = Some(now);
            w.move_session(&session, old_mac)?;
            touch_device(w, mac, Some(ip), now)?;
            w.push_event(&event(
                now,
                "session_moved_mac",
                Some(mac),
                format!(
                    "session {} moved from {old_mac} to {mac} with receipt {receipt}",
                    session.id
                ),
            ))?;
            Ok(Ok(session))
        })??;
        self.mark_dirty();
        Ok(moved)
    }

    /// The device behind `ip` and where it stands.
    pub fn device(&self, ip: IpAddr) -> Result<Option<DeviceView>, StoreError> {
        let Some(mac) = self.identify(ip) else {
            return Ok(None);
        };
        let now = self.time().now;
        if self.check_binding(ip, mac)? {
            // A clone sees nothing of the session it is imitating.
            return Ok(Some(DeviceView {
                mac,
                lifecycle: Lifecycle::Idle,
                now,
            }));
        }
        let (latest, open) = self
            .store
            .read(|r| Ok((r.latest_session(mac)?, r.open_payment_for(mac)?)))?;
        let latest = latest.map(|s| self.with_usage(s));
        let lifecycle = sessions::lifecycle(latest.as_ref(), open.map(|p| p.id), now);
        Ok(Some(DeviceView {
            mac,
            lifecycle,
            now,
        }))
    }

    pub fn payment_by_token(&self, token: &str) -> Result<Option<Payment>, StoreError> {
        self.store.read(|r| r.payment_by_token(token))
    }

    /// A session with the usage read from the firewall since the last checkpoint.
    pub fn with_usage(&self, mut session: Session) -> Session {
        if let Some((up, down)) = self.work().usage.get(&session.id) {
            session.bytes_up = session.bytes_up.max(*up);
            session.bytes_down = session.bytes_down.max(*down);
        }
        session
    }

    /// Bytes per second (up, down) a session moved between the last two firewall readings.
    pub fn speed(&self, session_id: u64) -> Option<(u64, u64)> {
        self.work().speeds.get(&session_id).copied()
    }

    /// Funnel counters not yet checkpointed (added to the stored ones for the owner's view).
    pub fn unsaved_funnel(&self) -> [(&'static str, u64); 3] {
        [
            (
                "portal_views",
                self.funnel.portal_views.load(Ordering::Relaxed),
            ),
            (
                "purchases_started",
                self.funnel.purchases_started.load(Ordering::Relaxed),
            ),
            ("paid", self.funnel.paid.load(Ordering::Relaxed)),
        ]
    }

    /// Owner: makes `count` vouchers for a package, each code `prefix` (checked by
    /// `vouchers::normalise_prefix`; may be empty) followed by the random part.
    pub fn generate_vouchers(
        &self,
        package_id: &str,
        count: usize,
        prefix: &str,
        valid_days: Option<u64>,
    ) -> Result<Option<Vec<Voucher>>, StoreError> {
        let config = self.config();
        let Some(package) = config.package(package_id) else {
            return Ok(None);
        };
        let now = self.time().now;
        let batch = random_token()?[..8].to_string();
        let terms = Terms::of(package);
        let vouchers = self.store.write(Durability::Durable, |w| {
            let mut out = Vec::with_capacity(count);
            while out.len() < count {
                let mut random = [0u8; 32];
                getrandom::fill(&mut random)
                    .map_err(|e| StoreError::Io(format!("random generator: {e}")))?;
                let Some(code) = vouchers::code_from_random(&random) else {
                    continue;
                };
                let code = format!("{prefix}{code}");
                if w.voucher(&code)?.is_some() {
                    continue;
                }
                let voucher = Voucher {
                    code,
                    terms: terms.clone(),
                    created_at: now,
                    valid_until: valid_days.map(|d| now + d as i64 * 86_400),
                    batch: batch.clone(),
                    state: VoucherState::Unused,
                };
                w.put_voucher(&voucher)?;
                out.push(voucher);
            }
            w.push_event(&event(
                now,
                "vouchers_generated",
                None,
                format!(
                    "{count} vouchers for {} (batch {batch})",
                    terms.package_name
                ),
            ))?;
            Ok(out)
        })?;
        Ok(Some(vouchers))
    }

    /// Owner: ends a session now.
    pub fn revoke_session(&self, id: u64) -> Result<bool, StoreError> {
        let now = self.time().now;
        let done = self.store.write(Durability::Durable, |w| {
            let Some(session) = w.session(id)? else {
                return Ok(false);
            };
            if !session.is_active() {
                return Ok(false);
            }
            let ended = sessions::end(&session, EndReason::Revoked, now);
            w.put_session(&ended)?;
            w.push_event(&event(
                now,
                "session_revoked",
                Some(session.mac),
                format!("session {id} revoked by the owner"),
            ))?;
            Ok(true)
        })?;
        if done {
            self.mark_dirty();
            self.emit_session(id, false);
        }
        Ok(done)
    }

    /// Owner: lengthens a running session by `secs` (the firewall is reconciled with the new
    /// deadline). None if there is no active session with this id.
    pub fn extend_session(&self, id: u64, secs: u64) -> Result<Option<Session>, StoreError> {
        let now = self.time().now;
        let extended = self.store.write(Durability::Durable, |w| {
            let Some(session) = w.session(id)? else {
                return Ok(None);
            };
            if !session.is_active() {
                return Ok(None);
            }
            let extended = sessions::extend(&session, secs);
            w.put_session(&extended)?;
            w.push_event(&event(
                now,
                "session_extended",
                Some(session.mac),
                format!("session {id} extended by {secs} s by the owner"),
            ))?;
            Ok(Some(extended))
        })?;
        if extended.is_some() {
            self.mark_dirty();
        }
        Ok(extended)
    }

    // ---- background work ----

    /// The jobs due at this moment, marked in flight so that they are handed out once.
    pub fn due_jobs(&self) -> Vec<Job> {
        let time = self.time();
        let now = time.now;
        // While the clock is untrusted, sessions are not ended from the store (the kernel's
        // element timeouts still run), so their deadlines are not work.
        let sessions_due = time.trusted && self.next_session_deadline().is_some_and(|d| d <= now);
        let due_ids: Vec<u64> = {
            let work = self.work();
            work.due
                .iter()
                .filter(|(_, (at, _))| *at <= now)
                .map(|(id, _)| *id)
                .collect()
        };
        // Store reads happen with the work lock released.
        let candidates: Vec<(u64, Option<Job>)> = due_ids
            .into_iter()
            .map(|id| (id, self.job_for(id)))
            .collect();
        let mut work = self.work();
        let mut jobs = Vec::new();
        for (id, job) in candidates {
            match job {
                Some(job) => {
                    if work.in_flight.insert(job) {
                        jobs.push(job);
                    }
                }
                None => {
                    work.due.remove(&id);
                }
            }
        }
        let housekeeping = work.dirty
            || sessions_due
            || now >= work.next_reconcile
            || work.next_checkpoint.is_some_and(|at| now >= at);
        if housekeeping && work.in_flight.insert(Job::Housekeeping) {
            jobs.push(Job::Housekeeping);
        }
        jobs
    }

    fn job_for(&self, payment_id: u64) -> Option<Job> {
        let payment = self.store.read(|r| r.payment(payment_id)).ok()??;
        match payment.state {
            PaymentState::Initiating => Some(Job::Push(payment_id)),
            PaymentState::Pending => Some(Job::Poll(payment_id)),
            // A late callback for an expired prompt: ask M-Pesa once more.
            PaymentState::Expired if self.has_hint(payment_id) => Some(Job::Poll(payment_id)),
            _ => None,
        }
    }

    /// When the worker should next look for work, as wall-clock time.
    pub fn next_wake(&self) -> Timestamp {
        let session_deadline = self.next_session_deadline().filter(|_| self.time().trusted);
        let work = self.work();
        let mut at = work.next_reconcile;
        if let Some(checkpoint) = work.next_checkpoint {
            at = at.min(checkpoint);
        }
        if let Some(d) = session_deadline {
            at = at.min(d);
        }
        for (due, _) in work.due.values() {
            at = at.min(*due);
        }
        at
    }

    fn next_session_deadline(&self) -> Option<Timestamp> {
        let active = self.store.read(|r| r.active_sessions()).ok()?;
        sessions::next_deadline(&active)
    }

    /// Runs one job to completion (blocking).
    pub fn run(&self, job: Job) {
        let result = match job {
            Job::Push(id) => self.push(id),
            Job::Poll(id) => self.poll(id),
            Job::Housekeeping => self.housekeeping(),
        };
        if let Err(e) = result {
            log::error!("{job:?}: {e}");
        }
        self.work().in_flight.remove(&job);
    }

    /// Runs every due job, in this thread, until none is due. For tests and one-shot use.
    pub fn run_due(&self) {
        for _ in 0..100 {
            let jobs = self.due_jobs();
            if jobs.is_empty() {
                return;
            }
            for job in jobs {
                self.run(job);
            }
        }
    }

    fn push(&self, id: u64) -> Result<(), StoreError> {
        let Some(payment) = self.store.read(|r| r.payment(id))? else {
            return Ok(());
        };
        if payment.state != PaymentState::Initiating {
            return Ok(());
        }
        let now = self.time().now;
        if let Some(expired) = payments::expire_if_stale(&payment, now) {
            return self.close_payment(&expired, "push never acknowledged");
        }
        let config = self.config();
        let account_reference = config
            .mpesa
            .as_ref()
            .map(|m| m.account_reference.clone())
            .unwrap_or_else(|| "WiFi".into());
        let push = payments::StkPush {
            phone: payment.phone.clone(),
            amount_major: payment.amount.major_ceil(),
            account_reference,
            description: "WiFi".into(),
            callback_url: self.push_callback_url(),
        };
        match self.env.gateway.stk_push(&push) {
            Ok(accepted) => {
                let mut next = payment.clone();
                next.state = PaymentState::Pending;
                next.checkout_id = Some(accepted.checkout_id);
                next.merchant_request_id = Some(accepted.merchant_request_id);
                next.updated_at = now;
                self.store.write(Durability::Durable, |w| {
                    // Re-read inside the transaction: only an Initiating payment becomes Pending.
                    if w.payment(id)?
                        .is_some_and(|p| p.state == PaymentState::Initiating)
                    {
                        w.put_payment(&next)?;
                    }
                    Ok(())
                })?;
                self.emit_payment(id);
                self.work()
                    .due
                    .insert(id, (now + payments::poll_delay(0), 0));
                Ok(())
            }
            Err(GatewayError::Refused { decline, message }) => {
                let mut next = payment.clone();
                next.state = PaymentState::Failed;
                next.decline = Some(decline);
                next.updated_at = now;
                self.close_payment(&next, &message)
            }
            Err(GatewayError::Unanswered(message)) => {
                // The push may have reached the phone: sending it again could prompt twice.
                // If the guest pays anyway, their SMS can be approved on the owner page.
                let mut next = payment.clone();
                next.state = PaymentState::Expired;
                next.decline = Some(payments::Decline::Unavailable);
                next.updated_at = now;
                log::warn!("STK push for payment {id} got no answer: {message}");
                self.close_payment(&next, &format!("no answer to the push ({message})"))
            }
            Err(GatewayError::Merchant(message)) => {
                let mut next = payment.clone();
                next.state = PaymentState::Failed;
                next.decline = Some(payments::Decline::Merchant);
                next.updated_at = now;
                log::error!("M-Pesa account problem: {message}");
                self.close_payment(&next, &message)
            }
            Err(e) => {
                log::warn!("STK push for payment {id} failed, will retry: {e}");
                self.work().due.insert(id, (now + PUSH_RETRY_SECS, 0));
                Ok(())
            }
        }
    }

    fn close_payment(&self, payment: &Payment, why: &str) -> Result<(), StoreError> {
        let now = self.time().now;
        self.store.write(Durability::Durable, |w| {
            let current = w.payment(payment.id)?;
            if current.is_some_and(|p| p.state.is_open()) {
                w.put_payment(payment)?;
                w.push_event(&event(
                    now,
                    "payment_failed",
                    Some(payment.mac),
                    format!("payment {} {:?}: {why}", payment.id, payment.state),
                ))?;
            }
            Ok(())
        })?;
        self.emit_payment(payment.id);
        self.work().due.remove(&payment.id);
        Ok(())
    }

    fn poll(&self, id: u64) -> Result<(), StoreError> {
        let Some(payment) = self.store.read(|r| r.payment(id))? else {
            return Ok(());
        };
        let late = payment.state == PaymentState::Expired && self.has_hint(id);
        let Some(checkout) = payment
            .checkout_id
            .clone()
            .filter(|_| payment.state == PaymentState::Pending || late)
        else {
            self.work().due.remove(&id);
            return Ok(());
        };
        let attempt = self.work().due.get(&id).map(|(_, a)| *a).unwrap_or(0);
        let outcome = self.env.gateway.stk_query(&checkout);
        let now = self.time().now;
        match outcome {
            Ok(outcome) => {
                let settled = self.settle(id, &outcome)?;
                if settled {
                    self.work().due.remove(&id);
                    return Ok(());
                }
            }
            Err(e) => log::warn!("STK query for payment {id} failed, will retry: {e}"),
        }
        if late && attempt + 1 >= crate::app::mpesa::LATE_QUERIES {
            self.work().due.remove(&id);
            self.forget_hint(id);
            return Ok(());
        }
        if let Some(mut expired) = payments::expire_if_stale(&payment, now) {
            // A callback that the query never confirmed stays on record (an SMS may match it).
            expired.callback = self.hint(id);
            return self.close_payment(&expired, "no final answer within the prompt window");
        }
        // The last query is at the end of the window, not up to 20 s after it.
        let window_end = payment.created_at + payments::PROMPT_WINDOW_SECS;
        let next = (now + payments::poll_delay(attempt + 1)).min(window_end.max(now + 1));
        self.work().due.insert(id, (next, attempt + 1));
        Ok(())
    }

    /// Applies a gateway answer in one durable transaction: the payment's new state, the receipt
    /// claim and the session grant together. Returns whether the payment is now final.
    pub fn settle(&self, id: u64, outcome: &payments::StkOutcome) -> Result<bool, StoreError> {
        let time = self.time();
        let now = time.now;
        let outcome = &self.with_hint(id, outcome);
        let hint = self.hint(id);
        let (final_state, granted) = self.store.write(Durability::Durable, |w| {
            let Some(payment) = w.payment(id)? else {
                return Ok((true, false));
            };
            let receipt = match outcome {
                payments::StkOutcome::Paid { receipt, .. } => receipt.clone(),
                _ => None,
            };
            let used_elsewhere = match &receipt {
                Some(r) => w.receipt_owner(r)?.is_some_and(|owner| owner != id),
                None => false,
            };
            match payments::settle(&payment, outcome, used_elsewhere, now) {
                Settlement::NoChange => Ok((!payment.state.is_open(), false)),
                Settlement::Paid { mut payment } => {
                    if let Some(r) = &payment.receipt {
                        w.claim_receipt(r, id)?;
                    }
                    let (mac, ip, source) = (payment.mac, payment.ip, Source::Payment(id));
                    let session = &grant_in(w, mac, ip, &payment.terms, source, time.start())?;
                    payment.session_id = Some(session.id);
                    payment.callback = hint.clone().or(payment.callback);
                    w.put_payment(&payment)?;
                    touch_device(w, payment.mac, payment.ip, now)?;
                    w.push_event(&event(
                        now,
                        "payment_paid",
                        Some(payment.mac),
                        format!(
                            "payment {} of {} for {} by {} paid (receipt {}), session {} until {}",
                            id,
                            payment.amount,
                            payment.terms.package_name,
                            payment.phone.masked(),
                            payment.receipt.as_deref().unwrap_or("not yet known"),
                            session.id,
                            crate::core::time::iso8601(session.deadline)
                        ),
                    ))?;
                    Ok((true, true))
                }
                Settlement::Closed { mut payment } => {
                    payment.callback = hint.clone().or(payment.callback);
                    // A callback that said paid, contradicted by the query: not granted, and
                    // the owner is told what the callback claimed.
                    let contradicted = match &hint {
                        Some(h) if h.result_code == 0 => format!(
                            "; a callback said paid (receipt {}), not granted",
                            h.receipt.as_deref().unwrap_or("none")
                        ),
                        _ => String::new(),
                    };
                    w.put_payment(&payment)?;
                    w.push_event(&event(
                        now,
                        "payment_failed",
                        Some(payment.mac),
                        format!(
                            "payment {id} {:?} (ResultCode {}){contradicted}",
                            payment.state,
                            payment.result_code.unwrap_or(-1)
                        ),
                    ))?;
                    Ok((true, false))
                }
                Settlement::Rejected {
                    mut payment,
                    reason,
                } => {
                    payment.callback = hint.clone().or(payment.callback);
                    w.put_payment(&payment)?;
                    w.push_event(&event(
                        now,
                        "payment_rejected",
                        Some(payment.mac),
                        format!("payment {id} not granted: {reason}"),
                    ))?;
                    Ok((true, false))
                }
            }
        })?;
        if granted {
            self.funnel.paid.fetch_add(1, Ordering::Relaxed);
            self.mark_dirty();
            if let Ok(Some(session_id)) = self
                .store
                .read(|r| Ok(r.payment(id)?.and_then(|p| p.session_id)))
            {
                self.emit_session(session_id, true);
            }
        }
        if final_state {
            self.forget_hint(id);
            self.emit_payment(id);
        }
        Ok(final_state)
    }

    /// Reads usage, ends what is over, reconciles the firewall and checkpoints counters.
    fn housekeeping(&self) -> Result<(), StoreError> {
        let time = self.time();
        let now = time.now;
        let config = self.config();
        self.read_usage();
        let mut changed = false;
        if time.trusted {
            let active: Vec<Session> = self
                .store
                .read(|r| r.active_sessions())?
                .into_iter()
                .map(|s| self.with_usage(s))
                .collect();
            let due = sessions::due(&active, now);
            if !due.is_empty() {
                // Lazy: an expiry is recomputed from the deadline if it is lost in a power cut.
                self.store.write(Durability::Lazy, |w| {
                    for (session, reason) in &due {
                        let ended = sessions::end(session, *reason, now);
                        w.put_session(&ended)?;
                        w.push_event(&event(
                            now,
                            "session_ended",
                            Some(session.mac),
                            format!("session {} ended ({:?})", session.id, reason),
                        ))?;
                    }
                    Ok(())
                })?;
                {
                    let mut work = self.work();
                    for (session, _) in &due {
                        work.usage.remove(&session.id);
                    }
                }
                for (session, _) in &due {
                    self.emit_session(session.id, false);
                }
                changed = true;
            }
        }
        let reconcile_due = {
            let mut work = self.work();
            let due = work.dirty || changed || now >= work.next_reconcile;
            work.dirty = false;
            due
        };
        if reconcile_due {
            let active = self.store.read(|r| r.active_sessions())?;
            let ipv6 = self.env.neighbours.ipv6_by_mac();
            let desired = firewall::desired(&active, time.now_ms, &ipv6);
            let result = self.env.firewall.apply(&desired);
            let mut work = self.work();
            match result {
                Ok(()) => work.next_reconcile = now + config.gateway.reconcile_interval_secs as i64,
                Err(e) => {
                    log::error!("firewall: {e}; retrying in {RECONCILE_RETRY_SECS}s");
                    work.next_reconcile = now + RECONCILE_RETRY_SECS;
                }
            }
        }
        self.checkpoint(false)
    }

    /// Folds the firewall's per-device byte counts into the in-memory usage.
    fn read_usage(&self) {
        let usage = match self.env.firewall.usage() {
            Ok(u) if !u.is_empty() => u,
            Ok(_) => return,
            Err(e) => {
                log::warn!("firewall usage: {e}");
                return;
            }
        };
        let Ok(active) = self.store.read(|r| r.active_sessions()) else {
            return;
        };
        let now_ms = self.time().now_ms;
        let mut work = self.work();
        let live: HashSet<u64> = active.iter().map(|s| s.id).collect();
        work.samples.retain(|id, _| live.contains(id));
        work.speeds.retain(|id, _| live.contains(id));
        for u in &usage {
            if let Some(session) = active.iter().find(|s| s.mac == u.mac) {
                let sample = (now_ms, u.bytes_up, u.bytes_down);
                if let Some((at, up, down)) = work.samples.insert(session.id, sample) {
                    let ms = u64::try_from(now_ms - at).unwrap_or(0);
                    if ms >= 1000 {
                        let rate = |new: u64, old: u64| new.saturating_sub(old) * 1000 / ms;
                        let speed = (rate(u.bytes_up, up), rate(u.bytes_down, down));
                        work.speeds.insert(session.id, speed);
                    }
                }
            }
        }
        for u in usage {
            if let Some(session) = active.iter().find(|s| s.mac == u.mac) {
                let entry = work
                    .usage
                    .entry(session.id)
                    .or_insert((session.bytes_up, session.bytes_down));
                let new = (entry.0.max(u.bytes_up), entry.1.max(u.bytes_down));
                if new != *entry {
                    *entry = new;
                    work.unsaved = true;
                }
            }
        }
    }

    /// Writes usage, funnel counters and the clock floor to flash once the checkpoint interval
    /// has passed since the first unsaved change (or at once with `force`, at shutdown). Writes
    /// nothing when nothing changed: an idle lango does not wear the flash.
    pub fn checkpoint(&self, force: bool) -> Result<(), StoreError> {
        let now = self.time().now;
        let interval = self.config().gateway.checkpoint_interval_secs as i64;
        let floor = self.clock_guard.floor();
        let usage = {
            let mut work = self.work();
            let counters_pending = self.funnel.portal_views.load(Ordering::Relaxed) > 0
                || self.funnel.purchases_started.load(Ordering::Relaxed) > 0
                || self.funnel.paid.load(Ordering::Relaxed) > 0;
            let floor_pending = force && floor > work.floor_saved;
            if !(work.unsaved || counters_pending || floor_pending) {
                return Ok(());
            }
            if !force {
                match work.next_checkpoint {
                    None => {
                        work.next_checkpoint = Some(now + interval);
                        return Ok(());
                    }
                    Some(at) if now < at => return Ok(()),
                    Some(_) => {}
                }
            }
            work.unsaved = false;
            work.floor_saved = floor;
            work.next_checkpoint = None;
            work.usage.clone()
        };
        let funnel = [
            (
                "portal_views",
                self.funnel.portal_views.swap(0, Ordering::Relaxed),
            ),
            (
                "purchases_started",
                self.funnel.purchases_started.swap(0, Ordering::Relaxed),
            ),
            ("paid", self.funnel.paid.swap(0, Ordering::Relaxed)),
        ];
        let day = crate::core::time::local_day(now, self.config().gateway.utc_offset_secs);
        self.store.write(Durability::Durable, |w| {
            for (id, (up, down)) in &usage {
                if let Some(mut s) = w.session(*id)? {
                    if s.bytes_up < *up || s.bytes_down < *down {
                        s.bytes_up = s.bytes_up.max(*up);
                        s.bytes_down = s.bytes_down.max(*down);
                        w.put_session(&s)?;
                    }
                }
            }
            // Totals, and per day in the owner's time for the dashboard's "today".
            for (name, n) in funnel {
                if n > 0 {
                    w.add_counter(name, n)?;
                    w.add_counter(&day_counter(name, day), n)?;
                }
            }
            w.set_meta("clock_floor", floor.max(0) as u64)
        })
    }
}

/// The counter of `name` for one local day: `portal_views@2027-01-15`.
pub fn day_counter(name: &str, day: i64) -> String {
    format!("{name}@{}", crate::core::time::date_of_day(day))
}

/// Grants `terms` to `mac` inside a write transaction: lengthens its running session or starts
/// a new one (with a fresh random token), and stores it. Every paid or redeemed grant goes
/// through here, so they all extend the same way and all carry a token.
pub(crate) fn grant_in(
    w: &mut crate::store::Writer,
    mac: Mac,
    ip: Option<IpAddr>,
    terms: &Terms,
    source: Source,
    start: Timestamp,
) -> Result<Session, StoreError> {
    let existing = w.active_session(mac)?;
    let new_id = w.next_id()?;
    let grant = sessions::grant(existing.as_ref(), new_id, mac, ip, terms, source, start);
    let mut session = grant.session().clone();
    if session.token.is_empty() {
        session.token = random_token()?;
    }
    w.put_session(&session)?;
    Ok(session)
}

fn event(at: Timestamp, kind: &str, mac: Option<Mac>, detail: String) -> Event {
    Event {
        at,
        kind: kind.to_string(),
        mac,
        detail,
    }
}

fn touch_device(
    w: &mut crate::store::Writer,
    mac: Mac,
    ip: Option<IpAddr>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let device = match w.device(mac)? {
        Some(mut d) => {
            d.last_ip = ip.or(d.last_ip);
            d
        }
        None => Device {
            mac,
            first_seen: now,
            last_ip: ip,
            blocked: false,
        },
    };
    w.put_device(&device)
}
