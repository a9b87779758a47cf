//! The store's long memory (schema 4): settled payments as compact rows in one block per UTC day
//! of their creation (`core::archive`), and the passes that keep the file small: moving
//! payments there (`archive_payments`), forgetting ended sessions, the devices that only they
//! remembered and old events (`prune_history`), and dropping blocks past the owner's retention
//! (`drop_archive_before`). Each pass does a bounded amount of work per transaction.

use redb::{ReadableTable, TableDefinition};

use super::{decode, from_le, Reader, StoreError, Writer};
use super::{CHECKOUTS, DEVICES, EVENTS, LATEST, PAYMENTS, PAYMENT_TOKENS, RECEIPTS, SESSIONS};
use crate::core::archive;
use crate::core::payments::Payment;
use crate::core::sessions::Session;
use crate::core::time::Timestamp;

/// UTC day of creation → block of compact payments (`core::archive`). Same key and value
/// types as the record tables: no more of redb's code in the binary.
const ARCHIVE: TableDefinition<u64, &[u8]> = TableDefinition::new("archive_by_day");

pub(super) fn create_tables(w: &mut Writer) -> Result<(), StoreError> {
    w.txn.open_table(ARCHIVE)?;
    Ok(())
}

fn day_of(ts: Timestamp) -> u64 {
    u64::try_from(ts.div_euclid(86_400)).unwrap_or(0)
}

/// An event record's time without decoding it: `Event` serialises `at` first, as
/// `{"at":1800000000,...`. `None` for anything else (then nothing older is pruned). A whole
/// `Event` decoder would add 3 KB to the router binary for this one field.
fn event_time(json: &[u8]) -> Option<Timestamp> {
    let rest = json.strip_prefix(b"{\"at\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

fn bad(e: archive::BadBlock) -> StoreError {
    StoreError::Record(e.to_string())
}

macro_rules! archive_getters {
    ($ty:ty) => {
        impl $ty {
            /// Archived payments created at or after `since`, newest first.
            pub fn archived_since(&self, since: Timestamp) -> Result<Vec<Payment>, StoreError> {
                let table = self.txn.open_table(ARCHIVE)?;
                let mut out = Vec::new();
                for row in table.range(day_of(since)..)?.rev() {
                    let mut day = archive::payments(row?.1.value()).map_err(bad)?;
                    day.retain(|p| p.created_at >= since);
                    out.extend(day.into_iter().rev());
                }
                Ok(out)
            }

            /// The archived payment that was credited `receipt`, looked up in the days around
            /// `around` (a pasted SMS carries its date).
            pub fn archived_receipt(
                &self,
                receipt: &str,
                around: Timestamp,
            ) -> Result<Option<Payment>, StoreError> {
                let table = self.txn.open_table(ARCHIVE)?;
                let day = day_of(around);
                for row in table.range(day.saturating_sub(2)..=day + 1)? {
                    let found = archive::payments(row?.1.value())
                        .map_err(bad)?
                        .into_iter()
                        .find(|p| p.receipt.as_deref() == Some(receipt));
                    if found.is_some() {
                        return Ok(found);
                    }
                }
                Ok(None)
            }

            /// Archived days, and the bytes their blocks take.
            pub fn archive_size(&self) -> Result<(usize, usize), StoreError> {
                let table = self.txn.open_table(ARCHIVE)?;
                let mut days = 0;
                let mut bytes = 0;
                for row in table.iter()? {
                    days += 1;
                    bytes += row?.1.value().len();
                }
                Ok((days, bytes))
            }
        }
    };
}

archive_getters!(Reader);
archive_getters!(Writer);

impl Writer {
    /// Moves up to `limit` payments that `core::archive::archivable` allows at `now`, oldest
    /// first, into their days' blocks; their full records and index entries go. Returns how
    /// many moved. A payment whose session still runs stays until the session ends.
    pub fn archive_payments(&mut self, now: Timestamp, limit: usize) -> Result<usize, StoreError> {
        let mut moving: Vec<Payment> = Vec::new();
        {
            let table = self.txn.open_table(PAYMENTS)?;
            for row in table.iter()? {
                let payment: Payment = decode("payment", row?.1.value())?;
                // Ids follow creation: the rest are too new.
                if moving.len() >= limit || payment.created_at >= now - archive::FULL_DAYS * 86_400
                {
                    break;
                }
                let running = match payment.session_id {
                    Some(id) => self.session(id)?.is_some_and(|s| s.is_active()),
                    None => false,
                };
                if archive::archivable(&payment, running, now) {
                    moving.push(payment);
                }
            }
        }
        let mut by_day: std::collections::BTreeMap<u64, Vec<Payment>> = Default::default();
        for p in &moving {
            by_day
                .entry(day_of(p.created_at))
                .or_default()
                .push(p.clone());
        }
        let mut blocks = self.txn.open_table(ARCHIVE)?;
        for (day, payments) in by_day {
            let old = blocks
                .get(day)?
                .map(|v| v.value().to_vec())
                .unwrap_or_default();
            let block = archive::append(&old, &payments).map_err(bad)?;
            blocks.insert(day, block.as_slice())?;
        }
        drop(blocks);
        let mut records = self.txn.open_table(PAYMENTS)?;
        let mut tokens = self.txn.open_table(PAYMENT_TOKENS)?;
        let mut checkouts = self.txn.open_table(CHECKOUTS)?;
        let mut receipts = self.txn.open_table(RECEIPTS)?;
        for p in &moving {
            records.remove(p.id)?;
            tokens.remove(p.token.as_str())?;
            if let Some(c) = &p.checkout_id {
                checkouts.remove(c.as_str())?;
            }
            if let Some(r) = &p.receipt {
                receipts.remove(r.as_str())?;
            }
        }
        Ok(moving.len())
    }

    /// Forgets up to `limit` sessions that ended before `before`, oldest first, the devices
    /// that only they remembered (a blocked device is always kept), and up to `limit` events
    /// older than `before`. Returns how many rows went.
    pub fn prune_history(&mut self, before: Timestamp, limit: usize) -> Result<usize, StoreError> {
        let mut ended: Vec<Session> = Vec::new();
        {
            let table = self.txn.open_table(SESSIONS)?;
            for row in table.iter()? {
                let session: Session = decode("session", row?.1.value())?;
                // Sessions are in id order, which is start order: the rest started later.
                if ended.len() >= limit || session.started_at >= before {
                    break;
                }
                if !session.is_active() && session.ended_at.is_some_and(|at| at < before) {
                    ended.push(session);
                }
            }
        }
        let mut sessions = self.txn.open_table(SESSIONS)?;
        let mut latest = self.txn.open_table(LATEST)?;
        let mut devices = self.txn.open_table(DEVICES)?;
        for s in &ended {
            sessions.remove(s.id)?;
            let key = s.mac.to_string();
            if latest
                .get(key.as_str())?
                .map(|v| from_le(v.value()))
                .transpose()?
                == Some(s.id)
            {
                latest.remove(key.as_str())?;
                let blocked = match devices.get(key.as_str())? {
                    Some(v) => decode::<super::Device>("device", v.value())?.blocked,
                    None => true,
                };
                if !blocked {
                    devices.remove(key.as_str())?;
                }
            }
        }
        drop((sessions, latest, devices));
        // The owner's event log goes with the same retention (and stays under `MAX_EVENTS`).
        let mut events = self.txn.open_table(EVENTS)?;
        let mut old_events = Vec::new();
        for row in events.iter()?.take(limit) {
            let (seq, bytes) = row?;
            if event_time(bytes.value()).is_none_or(|at| at >= before) {
                break;
            }
            old_events.push(seq.value());
        }
        for seq in &old_events {
            events.remove(*seq)?;
        }
        Ok(ended.len() + old_events.len())
    }

    /// Drops the archived days created before `before`: past the owner's retention.
    pub fn drop_archive_before(&mut self, before: Timestamp) -> Result<usize, StoreError> {
        let mut table = self.txn.open_table(ARCHIVE)?;
        let days: Vec<u64> = table
            .range(..day_of(before))?
            .map(|r| r.map(|(k, _)| k.value()))
            .collect::<Result<_, _>>()?;
        for day in &days {
            table.remove(*day)?;
        }
        Ok(days.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_s_time_is_read_from_its_record() {
        let event = super::super::Event::new(1_800_000_123, "payment_paid", None, "x".into());
        let json = super::super::encode(&event).unwrap();
        assert_eq!(event_time(&json), Some(1_800_000_123));
        assert_eq!(event_time(b"{\"kind\":1}"), None);
        assert_eq!(event_time(b""), None);
    }
}
