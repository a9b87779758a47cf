//! Compaction of the store's file (issue 14): redb reuses the pages retention frees but never
//! gives them back, so a file stays at its peak. `Store::compact_file` copies every table into
//! a new file, makes it durable, and renames it over the old one: the live data is written once
//! and the file shrinks to it. It copies with the store's own two key/value type pairs (redb's
//! own `compact` would add 25 KB on the MIPS builds) and refuses any table it cannot copy, so
//! nothing is left behind. A crash before the rename leaves the old file and a stray copy that
//! the next open deletes; after it, the new file is complete.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use redb::{
    Database, ReadTransaction, ReadableDatabase, TableDefinition, TableHandle, WriteTransaction,
};

use super::{storage, Store, StoreError};

/// The copy's name beside the store: `lango.redb.compact`.
pub(super) fn copy_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".compact");
    PathBuf::from(name)
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

impl Store {
    /// The file's length in bytes; 0 in RAM.
    pub fn file_size(&self) -> u64 {
        self.path.as_deref().map_or(0, size)
    }

    /// The bytes of the pages in use (redb's stats: a walk of every tree, in a write
    /// transaction that is then aborted, so nothing is written).
    pub fn bytes_in_use(&self) -> Result<u64, StoreError> {
        let guard = crate::core::locks::read(&self.db);
        let db = guard
            .as_ref()
            .ok_or_else(|| StoreError::Io("not open".into()))?;
        let txn = db.begin_write()?;
        let stats = txn.stats().map_err(storage);
        let _ = txn.abort();
        let stats = stats?;
        Ok(stats.allocated_pages() * stats.page_size() as u64)
    }

    /// Rewrites the file with only what it holds. Every read and write waits meanwhile. Skipped
    /// (`None`) in RAM, when closed, or when the flash has no room for a copy and the sales
    /// headroom after it. The file's size before and after.
    pub fn compact_file(&self) -> Result<Option<(u64, u64)>, StoreError> {
        let Some(path) = &self.path else {
            return Ok(None);
        };
        let room = self.space();
        let mut guard = crate::core::locks::write(&self.db);
        let Some(db) = guard.as_ref() else {
            return Ok(None);
        };
        let before = size(path);
        if room.is_some_and(|r| r.free < before.saturating_add(r.reserve())) {
            return Ok(None);
        }
        let copy = copy_path(path);
        if let Err(e) = copy_into(db, &copy) {
            let _ = std::fs::remove_file(&copy);
            return Err(e);
        }
        // The old handle holds the file's lock: it goes first.
        drop(guard.take());
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let renamed = std::fs::rename(&copy, path).map_err(|e| StoreError::Io(e.to_string()));
        if renamed.is_ok() {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
            }
        } else {
            let _ = std::fs::remove_file(&copy);
        }
        // The old file, or the new one: either holds every row.
        *guard = Some(Store::open_db(path, false)?);
        renamed.map(|()| Some((before, size(path))))
    }
}

/// Copies every table of `db` into a new file at `to`, in one durable transaction.
fn copy_into(db: &Database, to: &Path) -> Result<(), StoreError> {
    let _ = std::fs::remove_file(to);
    let new = Store::open_db(to, false)?;
    let read = db.begin_read()?;
    let write = new.begin_write()?;
    if read.list_multimap_tables()?.next().is_some() {
        return Err(StoreError::Damaged("a multimap table in the store".into()));
    }
    for table in read.list_tables()? {
        let name = table.name();
        if !copy::<u64>(&read, &write, name)? && !copy::<&str>(&read, &write, name)? {
            return Err(StoreError::Damaged(format!("table {name}: not copied")));
        }
    }
    write.commit()?;
    Ok(())
}

/// Copies one table whose key is `K` and value bytes; `false` if its key is not `K`.
fn copy<K: redb::Key + 'static>(
    read: &ReadTransaction,
    write: &WriteTransaction,
    name: &str,
) -> Result<bool, StoreError> {
    let def = TableDefinition::<K, &[u8]>::new(name);
    let from = match read.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableTypeMismatch { .. }) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let mut to = write.open_table(def)?;
    for row in redb::ReadableTable::iter(&from)? {
        let (k, v) = row.map_err(storage)?;
        to.insert(k.value(), v.value())?;
    }
    Ok(true)
}
