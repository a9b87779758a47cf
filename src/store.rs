//! The state on flash: one redb file holding sessions, payments, vouchers, devices, counters and
//! an event log, with a schema version and an upgrade path. The only module that opens the
//! database. Every write is one transaction whose durability the caller chooses: money and
//! entitlements are `Durable` (fsync before anyone is told), counters and expiries are `Lazy`
//! (reach flash with the next durable commit or the periodic checkpoint).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, RwLock};

use portable_atomic::{AtomicU64, Ordering};
use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::core::active::Active;
use crate::core::model::Mac;
use crate::core::payments::Payment;
use crate::core::sessions::Session;
use crate::core::sms::SmsClaim;
use crate::core::time::Timestamp;
use crate::core::vouchers::Voucher;

/// Bump when a record's meaning changes; add the step to `schema::migrate`.
/// 3: guest accounts (`accounts`), and sessions whose source is an account (`Source::Account`),
/// which an older lango could not read.
/// 4: the archive of settled payments (`archive_by_day`, `store::archive`); an older lango would
/// not see the payments moved there.
/// 5: `secrets` and `open_payments` become `secret_values` and `open_payment_macs`, with byte
/// values: two fewer key/value type pairs in the binary (docs/size.md).
/// 6: the free trial: sessions whose source is a trial (`Source::Trial`), which an older lango
/// could not read, and its marks (`trials`).
/// 7: the nine tables of `&str → u64` (`schema::OLD_TABLES`) become tables of `&str → &[u8]`
/// under new names, the number as 8 bytes little-endian (`le`, `from_le`): one fewer key/value
/// type pair in the binary (docs/size.md). The schema version moved with `meta`: a newer lango
/// keeps it in `meta_values`, where this one looks first.
pub const SCHEMA_VERSION: u64 = 7;

#[cfg(feature = "radius")]
mod accounting;
mod archive;
mod compact;
mod owner;
mod records;
mod schema;
#[cfg(test)]
mod tests;

pub use records::{Reader, Writer};

/// redb's page cache. The default (1 GiB) is absurd on a 128 MB router; the working set of a
/// busy hotspot (thousands of rows) fits in a few hundred KiB.
const CACHE_BYTES: usize = 512 * 1024;

/// Events kept on flash; older ones are pruned as new ones arrive.
const MAX_EVENTS: u64 = 5000;

/// Names → numbers (`schema_version`, `next_id`, `event_seq`), as `le` bytes.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta_values");
const SESSIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("sessions");
/// MAC → id of its active session. Exactly the sessions in state Active.
const ACTIVE: TableDefinition<&str, &[u8]> = TableDefinition::new("active_session_by_mac");
/// MAC → id of its most recent session, active or not.
const LATEST: TableDefinition<&str, &[u8]> = TableDefinition::new("latest_session_by_mac");
const PAYMENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("payments");
const PAYMENT_TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("payment_id_by_token");
/// CheckoutRequestID → payment id. Unique: one checkout is one payment.
const CHECKOUTS: TableDefinition<&str, &[u8]> = TableDefinition::new("payment_id_by_checkout");
/// M-Pesa receipt → payment id. Unique: a receipt is credited once, whatever path it came by.
const RECEIPTS: TableDefinition<&str, &[u8]> = TableDefinition::new("payment_id_by_receipt");
/// Payment id → MAC, for payments still Initiating or Pending.
/// Since schema 5 its values are bytes (the MAC's text), like every other table keyed by id: each
/// key/value type pair instantiates redb's B-tree code again (docs/size.md).
const OPEN_PAYMENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("open_payment_macs");
const VOUCHERS: TableDefinition<&str, &[u8]> = TableDefinition::new("vouchers");
const DEVICES: TableDefinition<&str, &[u8]> = TableDefinition::new("devices");
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
const COUNTERS: TableDefinition<&str, &[u8]> = TableDefinition::new("counter_values");
/// Since schema 2: pasted M-Pesa SMS kept for the owner, by id.
const SMS_CLAIMS: TableDefinition<u64, &[u8]> = TableDefinition::new("sms_claims");
/// Receipt → SMS claim id. Unique: one claim per receipt.
const CLAIM_BY_RECEIPT: TableDefinition<&str, &[u8]> =
    TableDefinition::new("sms_claim_id_by_receipt");
/// Since schema 2: lango's own secrets (the callback path; since schema 3 also the owner's
/// password hash, `owner_password`), by name.
/// Since schema 5 the values are bytes (UTF-8), as in the other tables keyed by name.
const SECRETS: TableDefinition<&str, &[u8]> = TableDefinition::new("secret_values");
/// The free trial's marks (`core::trial::keys`: `2026-12-03 m <mac>`, `c`, `h`, `i`) → the
/// session it granted. Since schema 6; the retention pass drops past days.
const TRIALS: TableDefinition<&str, &[u8]> = TableDefinition::new("trial_marks");
/// A number as a table value (schema 7): 8 bytes, little-endian.
fn le(value: u64) -> [u8; 8] {
    value.to_le_bytes()
}

/// A number written by `le`; any other length is a damaged record, not a panic.
fn from_le(bytes: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_le_bytes)
        .map_err(|_| StoreError::Record(format!("a number of {} bytes", bytes.len())))
}

#[derive(Debug)]
pub enum StoreError {
    /// The file exists but is not a lango store, or is damaged beyond redb's repair.
    Damaged(String),
    /// Written by a newer lango; refusing to touch it.
    TooNew { found: u64, supported: u64 },
    /// Another lango process has the file open.
    InUse,
    /// The flash is full: the write was not made, nothing already stored was lost.
    Full,
    /// Any other I/O failure.
    Io(String),
    /// A record that does not decode (a bug or damage), with where it was.
    Record(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Damaged(m) => write!(f, "the store is damaged: {m}"),
            StoreError::TooNew { found, supported } => write!(
                f,
                "the store has schema version {found}, this lango understands up to {supported}; \
                 upgrade lango"
            ),
            StoreError::InUse => write!(f, "the store is already open in another lango process"),
            StoreError::Full => write!(f, "no space left on the flash; nothing was written"),
            StoreError::Io(m) => write!(f, "store I/O error: {m}"),
            StoreError::Record(m) => write!(f, "unreadable record: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

fn storage(err: redb::StorageError) -> StoreError {
    match err {
        redb::StorageError::Corrupted(m) => StoreError::Damaged(m),
        redb::StorageError::Io(io) if io.raw_os_error() == Some(28) => StoreError::Full,
        // redb reports a wrong magic number or a bad header as InvalidData.
        redb::StorageError::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
            StoreError::Damaged(io.to_string())
        }
        redb::StorageError::Io(io) => StoreError::Io(io.to_string()),
        other => StoreError::Io(other.to_string()),
    }
}

macro_rules! from_redb {
    ($($ty:ty),*) => {$(
        impl From<$ty> for StoreError {
            fn from(err: $ty) -> StoreError {
                match err.into() {
                    redb::Error::Corrupted(m) => StoreError::Damaged(m),
                    redb::Error::DatabaseAlreadyOpen => StoreError::InUse,
                    redb::Error::Io(io) if io.raw_os_error() == Some(28) => StoreError::Full,
                    redb::Error::Io(io) => StoreError::Io(io.to_string()),
                    other => StoreError::Io(other.to_string()),
                }
            }
        }
    )*};
}
from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::CommitError,
    redb::SetDurabilityError
);

impl From<redb::StorageError> for StoreError {
    fn from(err: redb::StorageError) -> StoreError {
        storage(err)
    }
}

/// A record that needs a fresh token (a session) cannot be made without the random generator.
impl From<crate::core::token::RandomError> for StoreError {
    fn from(err: crate::core::token::RandomError) -> StoreError {
        StoreError::Io(err.to_string())
    }
}

impl From<redb::DatabaseError> for StoreError {
    fn from(err: redb::DatabaseError) -> StoreError {
        match err {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse,
            redb::DatabaseError::Storage(s) => storage(s),
            redb::DatabaseError::UpgradeRequired(v) => {
                StoreError::Damaged(format!("redb file format {v} needs a manual upgrade"))
            }
            other => StoreError::Damaged(other.to_string()),
        }
    }
}

/// How soon a write must reach flash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// fsync'd before `write` returns: money, grants, redemptions, owner changes.
    Durable,
    /// Consistent but not synced: counters, expiries (recomputable from deadlines), last-seen.
    Lazy,
}

/// Something that happened, for the owner's event log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub at: Timestamp,
    pub kind: String,
    pub mac: Option<Mac>,
    pub detail: String,
}

impl Event {
    /// An event of `kind` at `at`, about `mac` if it concerns one device.
    pub fn new(at: Timestamp, kind: &str, mac: Option<Mac>, detail: String) -> Event {
        Event {
            at,
            kind: kind.to_string(),
            mac,
            detail,
        }
    }
}

/// A device lango has seen buy or redeem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub mac: Mac,
    pub first_seen: Timestamp,
    pub last_ip: Option<std::net::IpAddr>,
    pub blocked: bool,
}

/// Write statistics since open, for measuring flash wear.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    pub durable_commits: u64,
    pub lazy_commits: u64,
}

/// Free space kept on the store's filesystem: below it, new sales are refused
/// (`App::room_for_sales`), so that what is already under way (a prompt being paid, an expiry,
/// a checkpoint) still has room to commit. The larger of a fixed floor and a share of the
/// filesystem: a redb commit writes about 40-55 KB, and the file grows in steps.
pub const HEADROOM_MIN_BYTES: u64 = 256 * 1024;
/// The share of the filesystem kept free, in percent.
pub const HEADROOM_PERCENT: u64 = 3;

/// The flash the store lives on, as `statvfs` sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Space {
    /// Bytes an unprivileged writer may still use.
    pub free: u64,
    /// The filesystem's size.
    pub total: u64,
}

impl Space {
    /// The free space below which new sales are refused.
    pub fn reserve(&self) -> u64 {
        HEADROOM_MIN_BYTES.max(self.total / 100 * HEADROOM_PERCENT)
    }

    /// Whether there is room for new sales.
    pub fn enough(&self) -> bool {
        self.free >= self.reserve()
    }
}

pub struct Store {
    /// `None` only after `close`, or while a reopen after an I/O error has failed (the next
    /// failing operation tries again).
    db: RwLock<Option<Database>>,
    /// The file, for reopening after an I/O error; `None` in RAM.
    path: Option<PathBuf>,
    /// How many times the database was reopened, so that threads failing together reopen once.
    generation: AtomicU64,
    /// Set by `close`: no reopening after that.
    closed: AtomicBool,
    durable_commits: AtomicU64,
    lazy_commits: AtomicU64,
    /// The active sessions and blocked devices, loaded once at open and kept equal to the
    /// committed tables by every commit (`Writer::changes`).
    active: Mutex<Active>,
    sessions_decoded: AtomicU64,
}

/// The open database, read-locked for one transaction, and the reopen count when it was taken.
struct Held<'a> {
    db: std::sync::RwLockReadGuard<'a, Option<Database>>,
    seen: u64,
}

/// A read transaction and the database it holds (`Store::read`).
struct Reading<'a> {
    reader: Reader,
    held: Held<'a>,
}

/// A write transaction and the database it holds (`Store::write`).
struct Writing<'a> {
    writer: Writer,
    durability: Durability,
    held: Held<'a>,
}

/// A reopen failed earlier (the flash still full), or the store is closed.
#[cold]
fn not_open() -> StoreError {
    StoreError::Io("the store is not open".into())
}

/// Whether an error may leave redb refusing later transactions ("Previous I/O error"): after a
/// failed write (a full flash, a flash error) redb poisons the open `Database`; only a new one
/// writes again.
fn poisons(err: &StoreError) -> bool {
    matches!(err, StoreError::Full | StoreError::Io(_))
}

impl Store {
    /// Opens (or creates) the store file, repairing it after an unclean shutdown, and upgrades
    /// its schema.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_hinting(path, &|_| {})
    }

    /// `open`, calling `hint` with the number of active sessions as soon as it is known, before
    /// they are read (a start loads the firewall's skeleton meanwhile: `Firewall::prepare`).
    pub fn open_hinting(path: &Path, hint: &dyn Fn(usize)) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Io(format!("{}: {e}", dir.display())))?;
        }
        if let Ok(meta) = std::fs::metadata(path) {
            // redb needs at least its header; anything shorter is not a store (and redb would
            // otherwise treat a stray small file as a fresh one to format).
            if meta.len() > 0 && meta.len() < 512 {
                return Err(StoreError::Damaged(format!(
                    "{} is {} bytes, too short to be a lango store",
                    path.display(),
                    meta.len()
                )));
            }
        }
        // A compaction cut short before its rename: the old file is whole, the copy is not.
        let _ = std::fs::remove_file(compact::copy_path(path));
        if needs_recovery(path) {
            log::warn!("store: repairing after an unclean shutdown");
        }
        // The integrity check reads the whole file once per start: it turns a file damaged
        // outside redb (flash corruption, a bad copy) into an error instead of a panic later,
        // when a page is read (a plain open of such a file can panic in redb). redb runs it as
        // a repair pass at every open, so its callback does not say whether the last stop was
        // clean: the file's header does (`needs_recovery`).
        let db = Store::open_db(path, true)?;
        let mut store = Store::init(db, hint)?;
        store.path = Some(path.to_path_buf());
        Ok(store)
    }

    /// Opens the file, with redb's integrity check if `check`; without it redb repairs the file
    /// only after an unclean shutdown or a failed commit.
    fn open_db(path: &Path, check: bool) -> Result<Database, StoreError> {
        Ok(Database::builder()
            .set_cache_size(CACHE_BYTES)
            .set_check_integrity_on_open(check)
            .set_repair_callback({
                // redb calls back with its progress, several times per pass: one line.
                let said = AtomicBool::new(false);
                move |_| {
                    if !said.swap(true, std::sync::atomic::Ordering::Relaxed) {
                        log::debug!("store: checking and rebuilding the allocator state");
                    }
                }
            })
            .create(path)?)
    }

    /// A store in RAM, for tests.
    pub fn in_memory() -> Result<Store, StoreError> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create_with_backend(redb::backends::InMemoryBackend::new())?;
        Store::init(db, &|_| {})
    }

    fn init(db: Database, hint: &dyn Fn(usize)) -> Result<Store, StoreError> {
        // A write transaction, because a new file has no tables yet; it is committed only when
        // a migration ran, so opening an up-to-date store writes nothing.
        let txn = db.begin_write()?;
        let version = match schema::stored_version(&txn) {
            Ok(v) => v,
            Err(err) => {
                let _ = txn.abort();
                return Err(err);
            }
        };
        match version {
            Some(v) if v > SCHEMA_VERSION => {
                let _ = txn.abort();
                return Err(StoreError::TooNew {
                    found: v,
                    supported: SCHEMA_VERSION,
                });
            }
            Some(v) if v == SCHEMA_VERSION => {
                let _ = txn.abort();
            }
            found => {
                let mut writer = Writer::new(txn);
                schema::migrate(&mut writer, found.unwrap_or(0))?;
                writer.txn.commit()?;
            }
        }
        let store = Store {
            db: RwLock::new(Some(db)),
            path: None,
            generation: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            durable_commits: AtomicU64::new(0),
            lazy_commits: AtomicU64::new(0),
            active: Mutex::new(Active::default()),
            sessions_decoded: AtomicU64::new(0),
        };
        // The one full read of the active sessions and devices, at open.
        let (sessions, blocked) =
            store.read(|r| Ok((r.active_sessions_at_open(hint)?, r.blocked_devices()?)))?;
        let mut active = store.active();
        for session in sessions {
            active.put(&session);
        }
        for device in &blocked {
            active.set_blocked(device.mac, true);
        }
        drop(active);
        Ok(store)
    }

    /// The active sessions and blocked devices as committed, in RAM (`core::active`). Held
    /// briefly: never across I/O.
    pub fn active(&self) -> std::sync::MutexGuard<'_, Active> {
        crate::core::locks::lock(&self.active)
    }

    /// Sessions decoded from the store since open (a wake must decode only what is due).
    pub fn sessions_decoded(&self) -> u64 {
        self.sessions_decoded.load(Ordering::Relaxed)
    }

    /// Runs `f` on a consistent snapshot.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Reader) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // Only the call of `f` is generic: the lock, the transaction and the reopen are in the
        // non-generic `begin_read` and `end_read`, once, not copied into each of the ~70
        // callers (with the reopen, the copies cost ~40 KB on mipsel).
        let txn = self.begin_read()?;
        let out = f(&txn.reader);
        self.end_read(txn, out.as_ref().err());
        out
    }

    /// Runs `f` in one write transaction and commits it with the given durability. If `f`
    /// returns an error, or calls `Writer::discard`, nothing is written (and nothing counted).
    pub fn write<T>(
        &self,
        durability: Durability,
        f: impl FnOnce(&mut Writer) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut txn = self.begin_write(durability)?;
        let out = f(&mut txn.writer);
        self.commit(txn, out.as_ref().err())?;
        out
    }

    /// The open database, held for one transaction (a reopen or `close` waits for it).
    fn hold(&self) -> Held<'_> {
        let db = crate::core::locks::read(&self.db);
        let seen = self.generation.load(Ordering::Relaxed);
        Held { db, seen }
    }

    #[inline(never)]
    fn begin_read(&self) -> Result<Reading<'_>, StoreError> {
        let held = self.hold();
        let txn = match held.db.as_ref() {
            Some(db) => db.begin_read().map_err(StoreError::from),
            None => Err(not_open()),
        };
        match txn {
            Ok(txn) => Ok(Reading {
                reader: Reader {
                    txn,
                    decoded: std::cell::Cell::new(0),
                },
                held,
            }),
            Err(err) => {
                self.end(held, Some(&err));
                Err(err)
            }
        }
    }

    #[inline(never)]
    fn end_read(&self, txn: Reading<'_>, failed: Option<&StoreError>) {
        let Reading { reader, held } = txn;
        self.sessions_decoded
            .fetch_add(reader.decoded.get(), Ordering::Relaxed);
        drop(reader);
        self.end(held, failed);
    }

    #[inline(never)]
    fn begin_write(&self, durability: Durability) -> Result<Writing<'_>, StoreError> {
        let held = self.hold();
        let txn = match held.db.as_ref() {
            Some(db) => db.begin_write().map_err(StoreError::from),
            None => Err(not_open()),
        };
        let txn = txn.and_then(|mut txn| {
            txn.set_durability(match durability {
                Durability::Durable => redb::Durability::Immediate,
                Durability::Lazy => redb::Durability::None,
            })?;
            Ok(txn)
        });
        match txn {
            Ok(txn) => Ok(Writing {
                writer: Writer::new(txn),
                durability,
                held,
            }),
            Err(err) => {
                self.end(held, Some(&err));
                Err(err)
            }
        }
    }

    /// Ends a write transaction: aborted if `failed` (the error `f` returned) or discarded,
    /// committed otherwise.
    #[inline(never)]
    fn commit(&self, txn: Writing<'_>, failed: Option<&StoreError>) -> Result<(), StoreError> {
        let Writing {
            writer,
            durability,
            held,
        } = txn;
        self.sessions_decoded
            .fetch_add(writer.decoded.get(), Ordering::Relaxed);
        if failed.is_some() || writer.discard {
            // Report the caller's error, not the abort's.
            let _ = writer.txn.abort();
            self.end(held, failed);
            return Ok(());
        }
        if let Err(err) = writer.txn.commit() {
            let err = StoreError::from(err);
            self.end(held, Some(&err));
            return Err(err);
        }
        drop(held);
        // Committed: the in-memory mirror follows (`core::active`).
        let mut active = self.active();
        for change in writer.changes {
            match change {
                records::Change::Session(s) => active.put(&s),
                records::Change::Blocked(mac, blocked) => active.set_blocked(mac, blocked),
            }
        }
        drop(active);
        match durability {
            Durability::Durable => self.durable_commits.fetch_add(1, Ordering::Relaxed),
            Durability::Lazy => self.lazy_commits.fetch_add(1, Ordering::Relaxed),
        };
        Ok(())
    }

    /// Lets go of the database after a transaction, and after an error that poisons it
    /// (`poisons`) reopens it, so that later operations work (redb repairs what the failed
    /// commit left; nothing committed is lost).
    #[inline(never)]
    fn end(&self, held: Held<'_>, failed: Option<&StoreError>) {
        let seen = held.seen;
        drop(held);
        let Some(err) = failed else {
            return;
        };
        let closed = self.closed.load(std::sync::atomic::Ordering::Relaxed);
        if poisons(err) && self.path.is_some() && !closed {
            log::warn!("store: {err}; reopening the database");
            if let Err(e) = self.reopen(seen) {
                log::error!("store: cannot reopen: {e}");
            }
        }
    }

    /// Drops the database and opens the file again, unless another thread did since `seen`.
    fn reopen(&self, seen: u64) -> Result<(), StoreError> {
        let Some(path) = &self.path else {
            return Err(StoreError::Io("the store is in RAM".into()));
        };
        let mut guard = crate::core::locks::write(&self.db);
        if self.closed.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(StoreError::Io("the store is closed".into()));
        }
        if self.generation.load(Ordering::Relaxed) != seen && guard.is_some() {
            return Ok(());
        }
        // The old handle holds the file's lock: it goes first.
        drop(guard.take());
        self.generation.fetch_add(1, Ordering::Relaxed);
        // No integrity check here: the file was checked at start, and this runs on a flash that
        // may be full; redb's repair of what the failed commit left still runs.
        *guard = Some(Store::open_db(path, false)?);
        Ok(())
    }

    /// How many times the database was reopened after an error since open.
    pub fn reopens(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Closes the database cleanly (redb marks the file clean, so the next start needs no
    /// repair). Waits for the operations in flight; later ones fail with `StoreError::Io`.
    pub fn close(&self) {
        let mut guard = crate::core::locks::write(&self.db);
        self.closed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        drop(guard.take());
    }

    /// The free space of the store's filesystem; `None` in RAM or when `statvfs` fails.
    pub fn space(&self) -> Option<Space> {
        let path = self.path.as_ref()?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
        let st = nix::sys::statvfs::statvfs(dir).ok()?;
        let unit = st.fragment_size().max(1) as u64;
        Some(Space {
            free: (st.blocks_available() as u64).saturating_mul(unit),
            total: (st.blocks() as u64).saturating_mul(unit),
        })
    }

    pub fn write_stats(&self) -> WriteStats {
        WriteStats {
            durable_commits: self.durable_commits.load(Ordering::Relaxed),
            lazy_commits: self.lazy_commits.load(Ordering::Relaxed),
        }
    }
}

/// Whether the redb file at `path` was left without a clean close (a crash, a power cut, a
/// process that exited without dropping its `Database`): redb's header has a "recovery
/// required" bit, set while the file is open and cleared by a clean close. redb 4.6's layout
/// (the version is pinned in Cargo.toml): a 9-byte magic number, then the "god byte", bit 2.
pub fn needs_recovery(path: &Path) -> bool {
    const MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];
    const RECOVERY_REQUIRED: u8 = 2;
    let mut head = [0u8; 10];
    let read = std::fs::File::open(path).and_then(|mut f| {
        use std::io::Read;
        f.read_exact(&mut head)
    });
    read.is_ok() && head[..9] == MAGIC && head[9] & RECOVERY_REQUIRED != 0
}

fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Record(format!("{what}: {e}")))
}

fn encode(value: &impl Serialize) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Record(e.to_string()))
}
