//! Keeping the store small for years: a pass every few hours moves settled payments to the
//! archive (`store::archive`, about 40 bytes each instead of a record and four index entries),
//! forgets ended sessions, the devices only they remembered and events after `keep_sessions`,
//! the free trial's marks of the days before yesterday (`core::trial::keep_from`), and drops
//! archived days after `keep_payments`. Each transaction handles at most `BATCH` rows, so a
//! pass never holds the store for long; a backlog (a store from an older lango) is worked off
//! a minute later. A pass with nothing to do writes nothing. Once passes have removed
//! `COMPACT_AFTER_ROWS` rows and more than half of the file is free pages, the file is
//! compacted: it shrinks to what it holds.

use super::*;
use crate::core::time::Timestamp;

/// How often the pass runs.
const EVERY_SECS: i64 = 6 * 3600;
/// Rows per transaction, and transactions per pass.
const BATCH: usize = 500;
const BATCHES: usize = 10;
/// Rows removed before the file is considered for compaction (a walk of its trees), which
/// happens only when enough of it is free (`COMPACT_SLACK`).
const COMPACT_AFTER_ROWS: usize = 100;
/// And only when the file is more than this many times the pages in use: redb doubles a small
/// file whenever it needs room, so up to half of a healthy file is free; compacting it then
/// would only rewrite the flash for a file that doubles again at its next growth.
const COMPACT_SLACK: u64 = 2;

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Compaction {
    pub archived: usize,
    pub forgotten: usize,
    pub days_dropped: usize,
}

impl App {
    /// Runs the pass when it is due (and the clock is trusted: a clock in the past or future
    /// must not archive or forget anything). Lazy commits: the rows involved are durable
    /// already, and a pass lost in a power cut is simply done again.
    pub(crate) fn compact_store(&self, now: Timestamp) -> Result<Compaction, StoreError> {
        {
            let mut work = self.work();
            if !self.time().trusted || now < work.next_compaction {
                return Ok(Compaction::default());
            }
            work.next_compaction = now + EVERY_SECS;
        }
        let (keep_payments, keep_sessions) = {
            let gw = &self.config().gateway;
            (gw.keep_payments_secs as i64, gw.keep_sessions_secs as i64)
        };
        let mut done = Compaction::default();
        let mut backlog = false;
        for pass in 0..2 {
            for _ in 0..BATCHES {
                let n = self.store.write(Durability::Lazy, |w| {
                    let n = match pass {
                        0 => w.archive_payments(now, BATCH)?,
                        _ => w.prune_history(now - keep_sessions, BATCH)?,
                    };
                    if n == 0 {
                        w.discard();
                    }
                    Ok(n)
                })?;
                match pass {
                    0 => done.archived += n,
                    _ => done.forgotten += n,
                }
                backlog = n == BATCH;
                if !backlog {
                    break;
                }
            }
        }
        let keep_trials = crate::core::trial::keep_from(now, self.config().gateway.utc_offset_secs);
        let keep_trials = crate::core::trial::day_prefix(keep_trials);
        done.forgotten += self.store.write(Durability::Lazy, |w| {
            let n = w.forget_trials_before(&keep_trials)?;
            if n == 0 {
                w.discard();
            }
            Ok(n)
        })?;
        done.days_dropped = self.store.write(Durability::Lazy, |w| {
            let n = w.drop_archive_before(now - keep_payments)?;
            if n == 0 {
                w.discard();
            }
            Ok(n)
        })?;
        let removed = done.archived + done.forgotten + done.days_dropped;
        let compact = {
            let mut work = self.work();
            if backlog {
                work.next_compaction = now + 60;
            }
            work.removed_since_compact += removed;
            !backlog && work.removed_since_compact >= COMPACT_AFTER_ROWS
        };
        // Worth it only when most of the file is free (one walk of the trees, at a pass that
        // removed rows); until then the rows removed keep counting.
        if compact
            && self
                .store
                .bytes_in_use()
                .is_ok_and(|used| self.store.file_size() > used.saturating_mul(COMPACT_SLACK))
        {
            self.work().removed_since_compact = 0;
            self.compact_file();
        }
        if done != Compaction::default() {
            log::info!(
                "store: {} payments archived, {} old sessions forgotten, {} archived days dropped",
                done.archived,
                done.forgotten,
                done.days_dropped
            );
        }
        Ok(done)
    }

    /// Shrinks the store's file after retention freed pages in it (`Store::compact_file`).
    /// A failure costs nothing: the pages stay free for later writes.
    fn compact_file(&self) {
        let started = std::time::Instant::now();
        match self.store.compact_file() {
            Ok(Some((before, after))) => log::info!(
                "store: file compacted from {before} to {after} bytes in {} ms",
                started.elapsed().as_millis()
            ),
            Ok(None) => {}
            Err(e) => log::warn!("store: compaction: {e}"),
        }
    }
}
