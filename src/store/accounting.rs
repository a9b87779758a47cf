//! RADIUS accounting on flash (feature `radius`): `acct_queue`, the records waiting for their
//! Accounting-Response in the order they were made (key: a sequence number, `meta`
//! `acct_seq`), bounded by `core::radius::acct::make_room`; and `acct_sessions`, what an
//! accounted session's Interim-Updates and Stop need, by session id. Both tables are created
//! by the first write that needs them: a store without RADIUS has neither (no schema change;
//! a reader treats a missing table as empty).

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, TableError};

use super::{Event, Reader, StoreError, Writer};
use crate::core::radius::acct::{self, Accounted, Record, Room, Status};
use crate::core::radius::codec;
use crate::core::time::Timestamp;

const ACCT_QUEUE: TableDefinition<u64, &[u8]> = TableDefinition::new("acct_queue");
const ACCT_SESSIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("acct_sessions");

fn decoded(bytes: &[u8]) -> Result<Record, StoreError> {
    codec::decode_record(bytes).ok_or_else(|| StoreError::Record("an accounting record".into()))
}

fn accounted(bytes: &[u8]) -> Result<Accounted, StoreError> {
    let decoded = codec::decode_accounted(bytes);
    decoded.ok_or_else(|| StoreError::Record("an accounted session".into()))
}

/// A missing table reads as `None` (then empty).
fn absent<T>(opened: Result<T, TableError>) -> Result<Option<T>, StoreError> {
    match opened {
        Ok(table) => Ok(Some(table)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

macro_rules! acct_getters {
    ($ty:ty) => {
        impl $ty {
            /// The first `limit` queued records, oldest first, with their keys.
            pub fn acct_queue(&self, limit: usize) -> Result<Vec<(u64, Record)>, StoreError> {
                let Some(table) = absent(self.txn.open_table(ACCT_QUEUE))? else {
                    return Ok(Vec::new());
                };
                let mut out = Vec::new();
                for row in table.iter()?.take(limit) {
                    let (key, value) = row?;
                    out.push((key.value(), decoded(value.value())?));
                }
                Ok(out)
            }

            /// How many records wait.
            pub fn acct_queue_len(&self) -> Result<u64, StoreError> {
                match absent(self.txn.open_table(ACCT_QUEUE))? {
                    Some(table) => Ok(table.len()?),
                    None => Ok(0),
                }
            }

            pub fn acct_session(&self, id: u64) -> Result<Option<Accounted>, StoreError> {
                let Some(table) = absent(self.txn.open_table(ACCT_SESSIONS))? else {
                    return Ok(None);
                };
                let value = table.get(id)?;
                value.map(|v| accounted(v.value())).transpose()
            }

            /// Every accounted session, by session id.
            pub fn acct_sessions(&self) -> Result<Vec<(u64, Accounted)>, StoreError> {
                let Some(table) = absent(self.txn.open_table(ACCT_SESSIONS))? else {
                    return Ok(Vec::new());
                };
                let mut out = Vec::new();
                for row in table.iter()? {
                    let (key, value) = row?;
                    out.push((key.value(), accounted(value.value())?));
                }
                Ok(out)
            }
        }
    };
}

acct_getters!(Reader);
acct_getters!(Writer);

impl Writer {
    pub fn put_acct_session(&mut self, id: u64, accounted: &Accounted) -> Result<(), StoreError> {
        let bytes = codec::encode_accounted(accounted);
        self.txn
            .open_table(ACCT_SESSIONS)?
            .insert(id, bytes.as_slice())?;
        Ok(())
    }

    pub fn remove_acct_session(&mut self, id: u64) -> Result<(), StoreError> {
        self.txn.open_table(ACCT_SESSIONS)?.remove(id)?;
        Ok(())
    }

    /// Queues `record` after every queued one, within `bound` (`acct::make_room`); a record
    /// dropped or skipped is an event. Returns what the bound did.
    pub fn queue_acct(&mut self, record: &Record, bound: usize) -> Result<Room, StoreError> {
        let len = usize::try_from(self.acct_queue_len()?).unwrap_or(usize::MAX);
        let mut oldest_interim = None;
        if len >= bound {
            let table = self.txn.open_table(ACCT_QUEUE)?;
            for row in table.iter()? {
                let (key, value) = row?;
                let queued = decoded(value.value())?;
                if queued.status == Status::Interim && !acct::is_sale(&queued) {
                    oldest_interim = Some(key.value());
                    break;
                }
            }
        }
        // A sale is kept like a Start or Stop, whatever its status.
        let kind = match acct::is_sale(record) {
            true => Status::Start,
            false => record.status,
        };
        let room = acct::make_room(len, bound, kind, oldest_interim);
        let note = |what: &str| {
            Event::new(
                record.at as Timestamp,
                "acct_dropped",
                record.mac,
                format!("accounting queue full ({len} records): {what}"),
            )
        };
        match room {
            Room::Drop(key) => {
                self.txn.open_table(ACCT_QUEUE)?.remove(key)?;
                self.push_event(&note("the oldest Interim-Update dropped"))?;
            }
            Room::Skip => {
                self.push_event(&note("an Interim-Update not queued"))?;
                return Ok(room);
            }
            Room::Fits | Room::Over => {}
        }
        let key = self.meta("acct_seq")?.unwrap_or(0) + 1;
        self.set_meta("acct_seq", key)?;
        let bytes = codec::encode_record(record);
        self.txn
            .open_table(ACCT_QUEUE)?
            .insert(key, bytes.as_slice())?;
        Ok(room)
    }

    /// Removes a record whose verified Accounting-Response arrived.
    pub fn acct_done(&mut self, key: u64) -> Result<(), StoreError> {
        self.txn.open_table(ACCT_QUEUE)?.remove(key)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::radius::acct::nas_record;
    use crate::store::{Durability, Store};

    fn queued(store: &Store) -> Vec<(u64, Status)> {
        let all = store.read(|r| r.acct_queue(100)).unwrap();
        all.into_iter().map(|(k, r)| (k, r.status)).collect()
    }

    #[test]
    fn the_bound_drops_the_oldest_plain_interim_and_logs_it() {
        let store = Store::in_memory().unwrap();
        assert_eq!(store.read(|r| r.acct_queue_len()).unwrap(), 0);
        let sale = Record {
            class: vec![acct::sale_class("hour", 2000, "KES", "R1")],
            ..nas_record(Status::Interim, 1)
        };
        let add = |record: &Record| {
            store
                .write(Durability::Lazy, |w| w.queue_acct(record, 3))
                .unwrap()
        };
        assert_eq!(add(&sale), Room::Fits);
        assert_eq!(add(&nas_record(Status::Interim, 2)), Room::Fits);
        assert_eq!(add(&nas_record(Status::Start, 3)), Room::Fits);
        // Full: the sale is kept, the plain Interim-Update (key 2) makes room.
        assert_eq!(add(&nas_record(Status::Stop, 4)), Room::Drop(2));
        let events = store.read(|r| r.recent_events(10)).unwrap();
        assert!(events.iter().any(|e| e.kind == "acct_dropped"));
        assert_eq!(
            queued(&store),
            [(1, Status::Interim), (3, Status::Start), (4, Status::Stop)]
        );
        // Nothing left to drop: an Interim-Update is skipped, a Stop goes over the bound.
        assert_eq!(add(&nas_record(Status::Interim, 5)), Room::Skip);
        assert_eq!(add(&nas_record(Status::Stop, 6)), Room::Over);
        assert_eq!(queued(&store).len(), 4);
        store.write(Durability::Lazy, |w| w.acct_done(1)).unwrap();
        assert_eq!(queued(&store)[0], (3, Status::Start));
    }
}
