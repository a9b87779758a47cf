//! The shell around the pure core: `App` holds the config, the store and the adapters (`Env`),
//! and turns requests and background work into core calls and store transactions. HTTP
//! handlers call the quick methods (`start_purchase`, `redeem`, `device`), which never wait on
//! a gateway or the firewall; the background worker (`worker.rs`) runs `Job`s, which do.
//! Locks here guard only in-memory bookkeeping and are never held across I/O.

#[cfg(feature = "radius")]
pub mod accounting;
pub mod accounts;
pub(crate) mod admission;
pub(crate) mod airtel;
#[cfg(feature = "clickpesa")]
pub(crate) mod clickpesa;
#[cfg(feature = "radius")]
pub mod das;
pub(crate) mod events;
pub(crate) mod guest;
pub(crate) mod housekeeping;
pub(crate) mod metrics;
pub mod mpesa;
pub(crate) mod owner;
pub(crate) mod pull;
pub(crate) mod purchase;
#[cfg(feature = "mpesa-qr")]
pub mod qr;
#[cfg(feature = "radius")]
pub(crate) mod radius;
pub mod reconfigure;
pub(crate) mod retention;
pub(crate) mod trial;
#[cfg(feature = "vodacom")]
pub(crate) mod vodacom;
pub mod worker;

pub use accounts::LoginError;
pub use admission::{AdmitError, Admitted, Denied, DeviceView};
pub use events::{Change, ChangeSink};
pub use guest::{MoveError, RedeemError};
pub use mpesa::SmsError;
pub use owner::{FirstRun, OwnerError};
pub use purchase::PurchaseError;
#[cfg(feature = "radius")]
pub use radius::RadiusStatus;
pub use trial::TrialError;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

use portable_atomic::{AtomicU64, Ordering};

use crate::adapters::neighbours::Neighbours;
use crate::core::config::Config;
use crate::core::firewall::{self, Firewall};
use crate::core::locks;
use crate::core::model::{Mac, Phone};
use crate::core::payments::{
    self, GatewayError, Payment, PaymentGateway, PaymentState, Settlement,
};
use crate::core::sessions::{self, EndReason, Lifecycle, Session, Source, Terms};
use crate::core::time::{Clock, ClockGuard, TimeView, Timestamp};
use crate::core::token;
use crate::core::vouchers::{self, Refusal};
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

/// For the log: router builds print derived `Debug` shallowly (docs/size.md).
impl std::fmt::Display for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Push(id) => write!(f, "push of payment {id}"),
            Job::Poll(id) => write!(f, "query of payment {id}"),
            Job::Housekeeping => f.write_str("housekeeping"),
        }
    }
}

/// After a failed push (gateway unavailable), try again this much later.
const PUSH_RETRY_SECS: i64 = 5;

/// A pending payment whose queries got no answer at all (rate limits, Daraja down) is kept open
/// this long past its prompt window before it is called expired: the window is about the
/// customer's time to answer, not about lango's luck in asking.
const UNANSWERED_GRACE_SECS: i64 = 600;
/// After a write that failed (a full flash), the payment's next try waits this long, doubled
/// per failure up to `STORE_RETRY_MAX_SECS`: a write that cannot succeed is not repeated at
/// full cost, and the payment stays open for later.
const STORE_RETRY_SECS: i64 = 30;
const STORE_RETRY_MAX_SECS: i64 = 600;

/// The wait before the next try of a payment whose write failed `attempt` times before.
fn store_retry_delay(attempt: u32) -> i64 {
    (STORE_RETRY_SECS << attempt.min(5)).min(STORE_RETRY_MAX_SECS)
}

/// After a failed firewall apply, try again this much later.
const RECONCILE_RETRY_SECS: i64 = 5;

/// Folds a counter reading into `work.usage` for a session stored with `stored` bytes: the
/// larger of what was known and what was read, each way; marks it unsaved if it grew.
fn fold_usage(work: &mut Work, id: u64, stored: (u64, u64), read: (u64, u64)) -> (u64, u64) {
    let entry = work.usage.entry(id).or_insert(stored);
    let new = (entry.0.max(read.0), entry.1.max(read.1));
    if new != *entry {
        *entry = new;
        work.unsaved = true;
    }
    new
}

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
    /// When the store's retention pass runs next (`retention.rs`).
    next_compaction: Timestamp,
    /// Rows the retention pass removed since the file was last compacted (`retention.rs`).
    removed_since_compact: usize,
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
    /// Session id → the IPv6 addresses bound to it (`core::ipv6`); RAM only, and seeded from
    /// the kernel's table after a restart (`ipv6_seeded`).
    ipv6: HashMap<u64, Vec<std::net::Ipv6Addr>>,
    ipv6_seeded: bool,
    /// Addresses whose flows are still to be forgotten, and the earliest time of the next
    /// walk of the kernel's connection table (`forget_due`).
    forget_pending: Vec<IpAddr>,
    forget_after: Timestamp,
    /// Session id → (when its byte count last changed, the count): how long a device has been
    /// silent, as evidence of a move.
    last_traffic: HashMap<u64, (Timestamp, u64)>,
    /// Sessions whose quota the last counter reading found used up: the next housekeeping
    /// ends them.
    quota_due: Vec<u64>,
    /// Sessions the last counter reading found silent for their Idle-Timeout (RADIUS): the
    /// next housekeeping ends them with `EndReason::Idle`.
    idle_due: Vec<u64>,
    /// Ending sessions could not be stored (a full flash): not tried again before this time, so
    /// that a due deadline does not make every wake repeat a write that fails.
    expiry_retry_at: Option<Timestamp>,
    /// Pushes M-Pesa accepted whose Pending state could not be stored (a full flash): the next
    /// attempt stores it again instead of pushing a second prompt. A list, not a map: it is
    /// empty but on a full flash, and a map of this type would add its own code (~1 KB).
    accepted: Vec<(u64, payments::StkAccepted)>,
    /// The guest network's IPv6 prefixes and when they were read.
    prefixes: Option<(Timestamp, Vec<(std::net::Ipv6Addr, u8)>)>,
    /// Status queries' one-second slots, and the back-off after rate-limit answers, per
    /// provider (`core::pacing`).
    pacing: crate::core::pacing::Pacing,
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
    /// Payment outcomes and firewall applies since start, for `/metrics` (`metrics`).
    pub(crate) counts: metrics::Counts,
    /// Per-device and per-phone limits on the public endpoints.
    pub limiter: crate::core::ratelimit::RateLimiter,
    /// The owner page's lock-out (per address, with an overall ceiling), here rather than in
    /// the owner page so that the ubus object can lift it (`unlock`): the owner's way back in.
    pub owner_lockout: crate::core::auth::Lockout,
    /// Wakes the background worker when new work appears.
    wake: smol::channel::Sender<()>,
    /// Where session and payment events go (the ubus object), if anywhere.
    events: RwLock<Option<events::ChangeSink>>,
    /// Callback hints, the callback secret, SMS attempts, the connection test (`mpesa`).
    pub(crate) mpesa: crate::app::mpesa::MpesaState,
    /// Pull Transactions: registered yet, the rate-limit back-off (`pull`).
    pub(crate) pull: crate::app::pull::PullState,
    /// The Dynamic QR codes shown to devices (`qr`).
    #[cfg(feature = "mpesa-qr")]
    pub(crate) qr: crate::app::qr::QrState,
    /// The Airtel Money gateway (`airtel::gateway_for`), replaced when its section changes.
    #[cfg(feature = "airtel")]
    pub(crate) airtel: Arc<payments::SwitchGateway>,
    /// The Vodacom M-Pesa gateway (`vodacom::gateway_for`), replaced when its section changes.
    #[cfg(feature = "vodacom")]
    pub(crate) vodacom: Arc<payments::SwitchGateway>,
    /// The ClickPesa gateway (`clickpesa::gateway_for`), replaced when its section changes.
    #[cfg(feature = "clickpesa")]
    pub(crate) clickpesa: Arc<payments::SwitchGateway>,
    /// The RADIUS client the config asks for (`radius`).
    #[cfg(feature = "radius")]
    pub(crate) radius: crate::app::radius::RadiusState,
    /// The flash was below the headroom at the last look (`room_for_sales`): logged once per
    /// change, not per request.
    flash_low: std::sync::atomic::AtomicBool,
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
        #[cfg(feature = "airtel")]
        let airtel = Arc::new(payments::SwitchGateway::new(airtel::gateway_for(
            &config,
            env.clock.clone(),
        )));
        #[cfg(feature = "vodacom")]
        let vodacom = Arc::new(payments::SwitchGateway::new(vodacom::gateway_for(
            &config,
            env.clock.clone(),
        )));
        #[cfg(feature = "clickpesa")]
        let clickpesa = Arc::new(payments::SwitchGateway::new(clickpesa::gateway_for(
            &config,
            env.clock.clone(),
        )));
        #[cfg(feature = "radius")]
        let radius = crate::app::radius::RadiusState::default();
        #[cfg(feature = "radius")]
        radius.configure(&config);
        let app = App {
            #[cfg(feature = "airtel")]
            airtel,
            #[cfg(feature = "vodacom")]
            vodacom,
            #[cfg(feature = "clickpesa")]
            clickpesa,
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
            counts: metrics::Counts::default(),
            limiter: crate::core::ratelimit::RateLimiter::default(),
            owner_lockout: crate::core::auth::Lockout::default(),
            wake,
            mpesa: crate::app::mpesa::MpesaState::default(),
            pull: crate::app::pull::PullState::default(),
            #[cfg(feature = "mpesa-qr")]
            qr: crate::app::qr::QrState::default(),
            #[cfg(feature = "radius")]
            radius,
            events: RwLock::new(None),
            flash_low: std::sync::atomic::AtomicBool::new(false),
        };
        app.resume()?;
        Ok((app, woken))
    }

    pub fn config(&self) -> Arc<Config> {
        locks::read(&self.config).clone()
    }

    /// Swaps in a new config. Sessions keep the terms they were bought with.
    pub(crate) fn set_config(&self, config: Config) {
        #[cfg(feature = "radius")]
        self.radius.configure(&config);
        *locks::write(&self.config) = Arc::new(config);
        self.mark_dirty();
    }

    pub fn time(&self) -> TimeView {
        self.clock_guard.view(self.env.clock.as_ref())
    }

    fn work(&self) -> std::sync::MutexGuard<'_, Work> {
        locks::lock(&self.work)
    }

    /// Makes a payment's next query due now (a callback or an SMS points at it).
    pub(crate) fn poll_soon(&self, id: u64) {
        let now = self.time().now;
        let provider = self.store.read(|r| r.payment(id)).ok().flatten();
        let provider = provider.map(|p| p.provider()).unwrap_or_default();
        let mut work = self.work();
        let at = work.pacing.slot(provider, now, now);
        work.due
            .entry(id)
            .and_modify(|due| due.0 = at)
            .or_insert((at, 0));
        drop(work);
        self.notify();
    }

    /// Wakes the worker (after a job finished, new work may be due).
    pub fn due_jobs_wake(&self) {
        self.notify();
    }

    fn notify(&self) {
        let _ = self.wake.try_send(());
    }

    /// Asks the worker to reconcile the firewall now (after a SIGHUP or a firewall restart).
    pub fn reconcile_now(&self) {
        self.mark_dirty();
    }

    pub(crate) fn mark_dirty(&self) {
        self.work().dirty = true;
        self.notify();
    }
}

/// The counter of `name` for one local day: `portal_views@2027-01-15`.
pub(crate) fn day_counter(name: &str, day: i64) -> String {
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
        session.token = token::random_token()?;
    }
    if let Some(shared) = existing.filter(|s| s.joined.is_some() && s.id != session.id) {
        // The device leaves the purchase it had joined: it now has one of its own.
        w.put_session(&sessions::end(&shared, EndReason::Revoked, start))?;
    }
    w.put_session(&session)?;
    // "Buy more" on a purchase for several devices: its other devices follow.
    for member in group_members(w, &session)? {
        w.put_session(&sessions::follow(&member, &session))?;
    }
    Ok(session)
}

/// The running sessions of the devices that joined `first`'s purchase.
pub(crate) fn group_members(
    w: &crate::store::Writer,
    first: &Session,
) -> Result<Vec<Session>, StoreError> {
    let mut out = Vec::new();
    for id in &first.members {
        out.extend(w.session(*id)?.filter(Session::is_active));
    }
    Ok(out)
}

/// Joins the device `mac` to the purchase whose first session is `first_id` (a code for
/// several devices, `sessions::join`), in the caller's write transaction.
pub(crate) fn join_in(
    w: &mut crate::store::Writer,
    first_id: u64,
    mac: Mac,
    ip: Option<IpAddr>,
    source: Source,
    now: Timestamp,
) -> Result<Result<Session, sessions::JoinRefusal>, StoreError> {
    let Some(mut first) = w.session(first_id)? else {
        return Ok(Err(sessions::JoinRefusal::Over));
    };
    let members = group_members(w, &first)?;
    let new_id = w.next_id()?;
    let mut session = match sessions::join(&first, &members, new_id, mac, ip, source, now) {
        Ok(sessions::Join::New(s)) => s,
        Ok(sessions::Join::Already(s)) => return Ok(Ok(s)),
        Err(refusal) => return Ok(Err(refusal)),
    };
    if let Some(own) = w.active_session(mac)? {
        // Time of its own (or a share of another purchase) ends: one session per device.
        w.put_session(&sessions::end(&own, EndReason::Revoked, now))?;
    }
    session.token = token::random_token()?;
    first.members = members.iter().map(|m| m.id).collect();
    first.members.push(session.id);
    w.put_session(&first)?;
    w.put_session(&session)?;
    Ok(Ok(session))
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
