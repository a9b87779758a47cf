//! The state on flash: one redb file holding sessions, payments, vouchers, devices, counters and
//! an event log, with a schema version and an upgrade path. The only module that opens the
//! database. Every write is one transaction whose durability the caller chooses: money and
//! entitlements are `Durable` (fsync before anyone is told), counters and expiries are `Lazy`
//! (reach flash with the next durable commit or the periodic checkpoint).

use std::fmt;
use std::path::Path;

use portable_atomic::{AtomicU64, Ordering};
use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

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
                let mut writer = Writer { txn };
                migrate(&mut writer, found.unwrap_or(0))?;
                writer.txn.commit()?;
            }
        }
        Ok(Store {
            db,
            durable_commits: AtomicU64::new(0),
            lazy_commits: AtomicU64::new(0),
        })
    }

    /// Runs `f` on a consistent snapshot.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Reader) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let txn = self.db.begin_read()?;
        f(&Reader { txn })
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
        let mut writer = Writer { txn };
        let out = match f(&mut writer) {
            Ok(out) => out,
            Err(err) => {
                // Dropping the transaction aborts it; report the original error.
                let _ = writer.txn.abort();
                return Err(err);
            }
        };
        writer.txn.commit()?;
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

pub struct Reader {
    txn: ReadTransaction,
}

pub struct Writer {
    txn: WriteTransaction,
}

/// The typed getters, written once for both transaction kinds: redb's read-only and writable
/// tables share the `ReadableTable` trait but not a type.
macro_rules! getters {
    ($ty:ty) => {
        impl $ty {
            pub fn meta(&self, key: &str) -> Result<Option<u64>, StoreError> {
                Ok(self.txn.open_table(META)?.get(key)?.map(|v| v.value()))
            }

            pub fn session(&self, id: u64) -> Result<Option<Session>, StoreError> {
                match self.txn.open_table(SESSIONS)?.get(id)? {
                    Some(v) => decode("session", v.value()).map(Some),
                    None => Ok(None),
                }
            }

            pub fn active_session(&self, mac: Mac) -> Result<Option<Session>, StoreError> {
                let id = self
                    .txn
                    .open_table(ACTIVE)?
                    .get(mac.to_string().as_str())?
                    .map(|v| v.value());
                match id {
                    Some(id) => self.session(id),
                    None => Ok(None),
                }
            }

            pub fn latest_session(&self, mac: Mac) -> Result<Option<Session>, StoreError> {
                let id = self
                    .txn
                    .open_table(LATEST)?
                    .get(mac.to_string().as_str())?
                    .map(|v| v.value());
                // A session moved to another MAC stays in this index under the old one: it is
                // no longer this MAC's.
                match id {
                    Some(id) => Ok(self.session(id)?.filter(|s| s.mac == mac)),
                    None => Ok(None),
                }
            }

            /// Every active session.
            pub fn active_sessions(&self) -> Result<Vec<Session>, StoreError> {
                let ids: Vec<u64> = self
                    .txn
                    .open_table(ACTIVE)?
                    .iter()?
                    .map(|r| r.map(|(_, v)| v.value()))
                    .collect::<Result<_, _>>()?;
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(s) = self.session(id)? {
                        out.push(s);
                    }
                }
                Ok(out)
            }

            /// The most recent sessions, newest first.
            pub fn recent_sessions(&self, limit: usize) -> Result<Vec<Session>, StoreError> {
                let table = self.txn.open_table(SESSIONS)?;
                let mut out = Vec::new();
                for row in table.iter()?.rev().take(limit) {
                    out.push(decode("session", row?.1.value())?);
                }
                Ok(out)
            }

            pub fn payment(&self, id: u64) -> Result<Option<Payment>, StoreError> {
                match self.txn.open_table(PAYMENTS)?.get(id)? {
                    Some(v) => decode("payment", v.value()).map(Some),
                    None => Ok(None),
                }
            }

            pub fn payment_by_token(&self, token: &str) -> Result<Option<Payment>, StoreError> {
                match self
                    .txn
                    .open_table(PAYMENT_TOKENS)?
                    .get(token)?
                    .map(|v| v.value())
                {
                    Some(id) => self.payment(id),
                    None => Ok(None),
                }
            }

            /// The payment whose token starts with `prefix` (a move code; the caller checks its
            /// length, an empty prefix would name the first payment).
            pub fn payment_by_token_prefix(
                &self,
                prefix: &str,
            ) -> Result<Option<Payment>, StoreError> {
                let table = self.txn.open_table(PAYMENT_TOKENS)?;
                let first = table.range(prefix..)?.next().transpose()?;
                match first {
                    Some((token, id)) if token.value().starts_with(prefix) => {
                        self.payment(id.value())
                    }
                    _ => Ok(None),
                }
            }

            pub fn payment_by_checkout(
                &self,
                checkout: &str,
            ) -> Result<Option<Payment>, StoreError> {
                match self
                    .txn
                    .open_table(CHECKOUTS)?
                    .get(checkout)?
                    .map(|v| v.value())
                {
                    Some(id) => self.payment(id),
                    None => Ok(None),
                }
            }

            /// The payment a receipt was credited to, if any.
            pub fn receipt_owner(&self, receipt: &str) -> Result<Option<u64>, StoreError> {
                Ok(self
                    .txn
                    .open_table(RECEIPTS)?
                    .get(receipt)?
                    .map(|v| v.value()))
            }

            /// Payments still Initiating or Pending.
            pub fn open_payments(&self) -> Result<Vec<Payment>, StoreError> {
                let ids: Vec<u64> = self
                    .txn
                    .open_table(OPEN_PAYMENTS)?
                    .iter()?
                    .map(|r| r.map(|(k, _)| k.value()))
                    .collect::<Result<_, _>>()?;
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(p) = self.payment(id)? {
                        out.push(p);
                    }
                }
                Ok(out)
            }

            /// The open payment of a device, if it has one.
            pub fn open_payment_for(&self, mac: Mac) -> Result<Option<Payment>, StoreError> {
                let key = mac.to_string();
                let table = self.txn.open_table(OPEN_PAYMENTS)?;
                for row in table.iter()? {
                    let (id, owner) = row?;
                    if owner.value() == key {
                        return self.payment(id.value());
                    }
                }
                Ok(None)
            }

            /// The most recent payments, newest first.
            pub fn recent_payments(&self, limit: usize) -> Result<Vec<Payment>, StoreError> {
                let table = self.txn.open_table(PAYMENTS)?;
                let mut out = Vec::new();
                for row in table.iter()?.rev().take(limit) {
                    out.push(decode("payment", row?.1.value())?);
                }
                Ok(out)
            }

            pub fn voucher(&self, code: &str) -> Result<Option<Voucher>, StoreError> {
                match self.txn.open_table(VOUCHERS)?.get(code)? {
                    Some(v) => decode("voucher", v.value()).map(Some),
                    None => Ok(None),
                }
            }

            pub fn vouchers(&self) -> Result<Vec<Voucher>, StoreError> {
                let table = self.txn.open_table(VOUCHERS)?;
                let mut out = Vec::new();
                for row in table.iter()? {
                    out.push(decode("voucher", row?.1.value())?);
                }
                Ok(out)
            }

            pub fn device(&self, mac: Mac) -> Result<Option<Device>, StoreError> {
                match self
                    .txn
                    .open_table(DEVICES)?
                    .get(mac.to_string().as_str())?
                {
                    Some(v) => decode("device", v.value()).map(Some),
                    None => Ok(None),
                }
            }

            /// The most recent events, newest first.
            pub fn recent_events(&self, limit: usize) -> Result<Vec<Event>, StoreError> {
                let table = self.txn.open_table(EVENTS)?;
                let mut out = Vec::new();
                for row in table.iter()?.rev().take(limit) {
                    out.push(decode("event", row?.1.value())?);
                }
                Ok(out)
            }

            /// Payments created at or after `since`, newest first, at most `limit` of them.
            pub fn payments_since(
                &self,
                since: Timestamp,
                limit: usize,
            ) -> Result<Vec<Payment>, StoreError> {
                let table = self.txn.open_table(PAYMENTS)?;
                let mut out = Vec::new();
                for row in table.iter()?.rev().take(limit) {
                    let payment: Payment = decode("payment", row?.1.value())?;
                    if payment.created_at < since {
                        break;
                    }
                    out.push(payment);
                }
                Ok(out)
            }

            pub fn sms_claim(&self, id: u64) -> Result<Option<SmsClaim>, StoreError> {
                match self.txn.open_table(SMS_CLAIMS)?.get(id)? {
                    Some(v) => decode("sms claim", v.value()).map(Some),
                    None => Ok(None),
                }
            }

            pub fn sms_claim_by_receipt(
                &self,
                receipt: &str,
            ) -> Result<Option<SmsClaim>, StoreError> {
                let id = self
                    .txn
                    .open_table(CLAIM_BY_RECEIPT)?
                    .get(receipt)?
                    .map(|v| v.value());
                match id {
                    Some(id) => self.sms_claim(id),
                    None => Ok(None),
                }
            }

            /// The most recent SMS claims, newest first.
            pub fn sms_claims(&self, limit: usize) -> Result<Vec<SmsClaim>, StoreError> {
                let table = self.txn.open_table(SMS_CLAIMS)?;
                let mut out = Vec::new();
                for row in table.iter()?.rev().take(limit) {
                    out.push(decode("sms claim", row?.1.value())?);
                }
                Ok(out)
            }

            pub fn secret(&self, name: &str) -> Result<Option<String>, StoreError> {
                Ok(self
                    .txn
                    .open_table(SECRETS)?
                    .get(name)?
                    .map(|v| v.value().to_string()))
            }

            pub fn counters(&self) -> Result<Vec<(String, u64)>, StoreError> {
                let table = self.txn.open_table(COUNTERS)?;
                let mut out = Vec::new();
                for row in table.iter()? {
                    let (k, v) = row?;
                    out.push((k.value().to_string(), v.value()));
                }
                Ok(out)
            }
        }
    };
}

getters!(Reader);
getters!(Writer);

impl Writer {
    pub fn set_meta(&mut self, key: &str, value: u64) -> Result<(), StoreError> {
        self.txn.open_table(META)?.insert(key, value)?;
        Ok(())
    }

    /// A fresh id, unique across sessions, payments and events of this store.
    pub fn next_id(&mut self) -> Result<u64, StoreError> {
        let id = self.meta("next_id")?.unwrap_or(1);
        self.set_meta("next_id", id + 1)?;
        Ok(id)
    }

    /// Inserts or replaces a session and keeps the MAC indexes exact.
    pub(crate) fn put_session(&mut self, session: &Session) -> Result<(), StoreError> {
        let key = session.mac.to_string();
        self.txn
            .open_table(SESSIONS)?
            .insert(session.id, encode(session)?.as_slice())?;
        let mut active = self.txn.open_table(ACTIVE)?;
        if session.is_active() {
            active.insert(key.as_str(), session.id)?;
        } else if active.get(key.as_str())?.map(|v| v.value()) == Some(session.id) {
            active.remove(key.as_str())?;
        }
        drop(active);
        let mut latest = self.txn.open_table(LATEST)?;
        let newer = latest
            .get(key.as_str())?
            .map(|v| v.value())
            .is_none_or(|id| id <= session.id);
        if newer {
            latest.insert(key.as_str(), session.id)?;
        }
        Ok(())
    }

    /// Moves an active session to another MAC: its record, and both MACs' indexes.
    pub fn move_session(&mut self, session: &Session, old_mac: Mac) -> Result<(), StoreError> {
        let old_key = old_mac.to_string();
        let mut active = self.txn.open_table(ACTIVE)?;
        if active.get(old_key.as_str())?.map(|v| v.value()) == Some(session.id) {
            active.remove(old_key.as_str())?;
        }
        drop(active);
        self.put_session(session)
    }

    /// Inserts or replaces a payment and keeps the token, checkout and open indexes exact.
    /// Refuses a checkout id that already names another payment.
    pub(crate) fn put_payment(&mut self, payment: &Payment) -> Result<(), StoreError> {
        self.txn
            .open_table(PAYMENTS)?
            .insert(payment.id, encode(payment)?.as_slice())?;
        self.txn
            .open_table(PAYMENT_TOKENS)?
            .insert(payment.token.as_str(), payment.id)?;
        if let Some(checkout) = &payment.checkout_id {
            let mut checkouts = self.txn.open_table(CHECKOUTS)?;
            let owner = checkouts.get(checkout.as_str())?.map(|v| v.value());
            match owner {
                Some(id) if id != payment.id => {
                    return Err(StoreError::Record(format!(
                        "checkout {checkout} already belongs to payment {id}"
                    )))
                }
                Some(_) => {}
                None => {
                    checkouts.insert(checkout.as_str(), payment.id)?;
                }
            }
        }
        let mut open = self.txn.open_table(OPEN_PAYMENTS)?;
        if payment.state.is_open() {
            open.insert(payment.id, payment.mac.to_string().as_str())?;
        } else {
            open.remove(payment.id)?;
        }
        Ok(())
    }

    /// Records that `receipt` was credited to `payment_id`. Returns false (and writes nothing)
    /// if it already belongs to another payment.
    pub fn claim_receipt(&mut self, receipt: &str, payment_id: u64) -> Result<bool, StoreError> {
        let mut receipts = self.txn.open_table(RECEIPTS)?;
        let owner = receipts.get(receipt)?.map(|v| v.value());
        match owner {
            Some(id) => Ok(id == payment_id),
            None => {
                receipts.insert(receipt, payment_id)?;
                Ok(true)
            }
        }
    }

    pub(crate) fn put_voucher(&mut self, voucher: &Voucher) -> Result<(), StoreError> {
        self.txn
            .open_table(VOUCHERS)?
            .insert(voucher.code.as_str(), encode(voucher)?.as_slice())?;
        Ok(())
    }

    pub fn put_device(&mut self, device: &Device) -> Result<(), StoreError> {
        let key = device.mac.to_string();
        self.txn
            .open_table(DEVICES)?
            .insert(key.as_str(), encode(device)?.as_slice())?;
        Ok(())
    }

    /// Appends to the event log, pruning the oldest entries beyond `MAX_EVENTS`.
    pub(crate) fn push_event(&mut self, event: &Event) -> Result<(), StoreError> {
        let seq = self.meta("event_seq")?.unwrap_or(0) + 1;
        self.set_meta("event_seq", seq)?;
        let mut events = self.txn.open_table(EVENTS)?;
        events.insert(seq, encode(event)?.as_slice())?;
        if seq > MAX_EVENTS {
            events.remove(seq - MAX_EVENTS)?;
        }
        Ok(())
    }

    /// Inserts or replaces an SMS claim. Refuses a receipt that another claim already has.
    pub(crate) fn put_sms_claim(&mut self, claim: &SmsClaim) -> Result<(), StoreError> {
        let mut index = self.txn.open_table(CLAIM_BY_RECEIPT)?;
        let owner = index.get(claim.receipt.as_str())?.map(|v| v.value());
        match owner {
            Some(id) if id != claim.id => {
                return Err(StoreError::Record(format!(
                    "receipt {} is already claimed by SMS claim {id}",
                    claim.receipt
                )))
            }
            Some(_) => {}
            None => {
                index.insert(claim.receipt.as_str(), claim.id)?;
            }
        }
        drop(index);
        self.txn
            .open_table(SMS_CLAIMS)?
            .insert(claim.id, encode(claim)?.as_slice())?;
        Ok(())
    }

    pub(crate) fn set_secret(&mut self, name: &str, value: &str) -> Result<(), StoreError> {
        self.txn.open_table(SECRETS)?.insert(name, value)?;
        Ok(())
    }

    pub(crate) fn remove_secret(&mut self, name: &str) -> Result<(), StoreError> {
        self.txn.open_table(SECRETS)?.remove(name)?;
        Ok(())
    }

    pub(crate) fn add_counter(&mut self, name: &str, delta: u64) -> Result<(), StoreError> {
        let mut table = self.txn.open_table(COUNTERS)?;
        let old = table.get(name)?.map(|v| v.value()).unwrap_or(0);
        table.insert(name, old.saturating_add(delta))?;
        Ok(())
    }
}
