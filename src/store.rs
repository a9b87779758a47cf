//! The state on flash: one redb file holding sessions, payments, vouchers, devices, counters and
//! an event log, with a schema version and an upgrade path. The only module that opens the
//! database. Every write is one transaction whose durability the caller chooses: money and
//! entitlements are `Durable` (fsync before anyone is told), counters and expiries are `Lazy`
//! (reach flash with the next durable commit or the periodic checkpoint).

use std::fmt;
use std::path::Path;
use std::sync::Mutex;

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

/// Bump when a record's meaning changes; add the step to `migrate`.
/// 3: guest accounts (`accounts`), and sessions whose source is an account (`Source::Account`),
/// which an older lango could not read.
pub const SCHEMA_VERSION: u64 = 3;

mod owner;
mod records;

pub use records::{Reader, Writer};

/// redb's page cache. The default (1 GiB) is absurd on a 128 MB router; the working set of a
/// busy hotspot (thousands of rows) fits in a few hundred KiB.
const CACHE_BYTES: usize = 512 * 1024;

/// Events kept on flash; older ones are pruned as new ones arrive.
const MAX_EVENTS: u64 = 5000;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const SESSIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("sessions");
/// MAC → id of its active session. Exactly the sessions in state Active.
const ACTIVE: TableDefinition<&str, u64> = TableDefinition::new("active_by_mac");
/// MAC → id of its most recent session, active or not.
const LATEST: TableDefinition<&str, u64> = TableDefinition::new("latest_by_mac");
const PAYMENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("payments");
const PAYMENT_TOKENS: TableDefinition<&str, u64> = TableDefinition::new("payment_by_token");
/// CheckoutRequestID → payment id. Unique: one checkout is one payment.
const CHECKOUTS: TableDefinition<&str, u64> = TableDefinition::new("payment_by_checkout");
/// M-Pesa receipt → payment id. Unique: a receipt is credited once, whatever path it came by.
const RECEIPTS: TableDefinition<&str, u64> = TableDefinition::new("payment_by_receipt");
/// Payment id → MAC, for payments still Initiating or Pending.
const OPEN_PAYMENTS: TableDefinition<u64, &str> = TableDefinition::new("open_payments");
const VOUCHERS: TableDefinition<&str, &[u8]> = TableDefinition::new("vouchers");
const DEVICES: TableDefinition<&str, &[u8]> = TableDefinition::new("devices");
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
/// Since schema 2: pasted M-Pesa SMS kept for the owner, by id.
const SMS_CLAIMS: TableDefinition<u64, &[u8]> = TableDefinition::new("sms_claims");
/// Receipt → SMS claim id. Unique: one claim per receipt.
const CLAIM_BY_RECEIPT: TableDefinition<&str, u64> = TableDefinition::new("sms_claim_by_receipt");
/// Since schema 2: lango's own secrets (the callback path; since schema 3 also the owner's
/// password hash, `owner_password`), by name.
const SECRETS: TableDefinition<&str, &str> = TableDefinition::new("secrets");

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

pub struct Store {
    db: Database,
    durable_commits: AtomicU64,
    lazy_commits: AtomicU64,
    /// The active sessions and blocked devices, loaded once at open and kept equal to the
    /// committed tables by every commit (`Writer::changes`).
    active: Mutex<Active>,
    sessions_decoded: AtomicU64,
}

impl Store {
    /// Opens (or creates) the store file, repairing it after an unclean shutdown, and upgrades
    /// its schema.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
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
        // The integrity check reads the whole file once per start and commits: it turns a file
        // damaged outside redb (flash corruption, a bad copy) into an error instead of a panic
        // later, when a page is read.
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .set_check_integrity_on_open(true)
            .set_repair_callback(|_| log::warn!("store: repairing after an unclean shutdown"))
            .create(path)?;
        Store::init(db)
    }

    /// A store in RAM, for tests.
    pub fn in_memory() -> Result<Store, StoreError> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create_with_backend(redb::backends::InMemoryBackend::new())?;
        Store::init(db)
    }

    fn init(db: Database) -> Result<Store, StoreError> {
        // A write transaction, because a new file has no tables yet; it is committed only when
        // a migration ran, so opening an up-to-date store writes nothing.
        let txn = db.begin_write()?;
        let version = txn
            .open_table(META)?
            .get("schema_version")?
            .map(|v| v.value());
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
                migrate(&mut writer, found.unwrap_or(0))?;
                writer.txn.commit()?;
            }
        }
        let store = Store {
            db,
            durable_commits: AtomicU64::new(0),
            lazy_commits: AtomicU64::new(0),
            active: Mutex::new(Active::default()),
            sessions_decoded: AtomicU64::new(0),
        };
        // The one full read of the active sessions and devices, at open.
        let (sessions, blocked) =
            store.read(|r| Ok((r.active_sessions()?, r.blocked_devices()?)))?;
        let mut active = store.active();
        for session in &sessions {
            active.put(session);
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
        let txn = self.db.begin_read()?;
        let reader = Reader {
            txn,
            decoded: std::cell::Cell::new(0),
        };
        let out = f(&reader);
        self.sessions_decoded
            .fetch_add(reader.decoded.get(), Ordering::Relaxed);
        out
    }

    /// Runs `f` in one write transaction and commits it with the given durability. If `f`
    /// returns an error nothing is written.
    pub fn write<T>(
        &self,
        durability: Durability,
        f: impl FnOnce(&mut Writer) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(match durability {
            Durability::Durable => redb::Durability::Immediate,
            Durability::Lazy => redb::Durability::None,
        })?;
        let mut writer = Writer::new(txn);
        let result = f(&mut writer);
        self.sessions_decoded
            .fetch_add(writer.decoded.get(), Ordering::Relaxed);
        let out = match result {
            Ok(out) => out,
            Err(err) => {
                // Dropping the transaction aborts it; report the original error.
                let _ = writer.txn.abort();
                return Err(err);
            }
        };
        writer.txn.commit()?;
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
        Ok(out)
    }

    pub fn write_stats(&self) -> WriteStats {
        WriteStats {
            durable_commits: self.durable_commits.load(Ordering::Relaxed),
            lazy_commits: self.lazy_commits.load(Ordering::Relaxed),
        }
    }
}

/// Schema upgrades, one step per version. Version 0 is a new, empty file.
fn migrate(w: &mut Writer, from: u64) -> Result<(), StoreError> {
    if from == 0 {
        // Create every table so that readers never meet a missing one.
        w.txn.open_table(META)?;
        w.txn.open_table(SESSIONS)?;
        w.txn.open_table(ACTIVE)?;
        w.txn.open_table(LATEST)?;
        w.txn.open_table(PAYMENTS)?;
        w.txn.open_table(PAYMENT_TOKENS)?;
        w.txn.open_table(CHECKOUTS)?;
        w.txn.open_table(RECEIPTS)?;
        w.txn.open_table(OPEN_PAYMENTS)?;
        w.txn.open_table(VOUCHERS)?;
        w.txn.open_table(DEVICES)?;
        w.txn.open_table(EVENTS)?;
        w.txn.open_table(COUNTERS)?;
    }
    if from < 2 {
        w.txn.open_table(SMS_CLAIMS)?;
        w.txn.open_table(CLAIM_BY_RECEIPT)?;
        w.txn.open_table(SECRETS)?;
    }
    if from < 3 {
        owner::create_tables(w)?;
    }
    // Future steps go here: `if from < 4 { ... }`.
    w.set_meta("schema_version", SCHEMA_VERSION)
}

fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Record(format!("{what}: {e}")))
}

fn encode(value: &impl Serialize) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Record(e.to_string()))
}
