//! The connection gate every listener shares the rules of: a cap on open connections in all
//! and per source address, and eviction of the connection that has waited longest for a request
//! when a new one needs its place (so that slow or silent clients cannot hold every slot).
//! Connections hold a `Pass`; dropping it frees the slot.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::core::locks::lock;

/// Closes a connection from elsewhere (the transport wakes it, or shuts its socket down).
pub(crate) type Evict = Box<dyn Fn() + Send>;

/// Admission of connections under the caps.
pub(crate) struct Gate {
    total: usize,
    per_source: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    open: HashMap<u64, Entry>,
    per_source: HashMap<IpAddr, usize>,
}

struct Entry {
    source: IpAddr,
    /// Waiting for a request (or reading one) since then; `None` while a request is served.
    waiting_since: Option<Instant>,
    evict: Evict,
}

impl Inner {
    fn remove(&mut self, id: u64) -> Option<Entry> {
        let entry = self.open.remove(&id)?;
        if let Some(n) = self.per_source.get_mut(&entry.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_source.remove(&entry.source);
            }
        }
        Some(entry)
    }

    /// Closes the connection that has waited longest for a request. Whether there was one.
    fn evict_oldest(&mut self) -> bool {
        let oldest = self
            .open
            .iter()
            .filter_map(|(id, e)| e.waiting_since.map(|since| (since, *id)))
            .min();
        match oldest.and_then(|(_, id)| self.remove(id)) {
            Some(entry) => {
                (entry.evict)();
                true
            }
            None => false,
        }
    }
}

impl Gate {
    pub(crate) fn new(total: usize, per_source: usize) -> Arc<Gate> {
        Arc::new(Gate {
            total: total.max(1),
            per_source: per_source.max(1),
            inner: Mutex::new(Inner::default()),
        })
    }

    /// Admits a connection from `source`, or refuses it when that source has its share. When
    /// every slot is taken, the connection that has waited longest for a request is evicted
    /// to make room; when all are busy with requests, the new one is refused.
    pub(crate) fn enter(self: &Arc<Self>, source: IpAddr, evict: Evict) -> Option<Pass> {
        // An IPv4 client of a dual-stack socket is the same source as over IPv4.
        let source = source.to_canonical();
        let mut inner = lock(&self.inner);
        if inner.per_source.get(&source).copied().unwrap_or(0) >= self.per_source {
            return None;
        }
        if inner.open.len() >= self.total && !inner.evict_oldest() {
            return None;
        }
        let id = inner.next_id;
        inner.next_id += 1;
        inner.open.insert(
            id,
            Entry {
                source,
                waiting_since: Some(Instant::now()),
                evict,
            },
        );
        *inner.per_source.entry(source).or_insert(0) += 1;
        Some(Pass {
            gate: self.clone(),
            id,
        })
    }

    /// Closes the connection that has waited longest for a request (out of file handles).
    pub(crate) fn evict_oldest(&self) -> bool {
        lock(&self.inner).evict_oldest()
    }

    /// Open connections.
    #[cfg(test)]
    fn open(&self) -> usize {
        lock(&self.inner).open.len()
    }
}

/// One admitted connection; its slot is freed when it is dropped.
pub(crate) struct Pass {
    gate: Arc<Gate>,
    id: u64,
}

impl Pass {
    /// Marks the connection as waiting for a request (it may be evicted) or serving one.
    pub(crate) fn waiting(&self, waiting: bool) {
        if let Some(entry) = lock(&self.gate.inner).open.get_mut(&self.id) {
            entry.waiting_since = waiting.then(Instant::now);
        }
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        lock(&self.gate.inner).remove(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn caps_per_source_and_in_all_with_eviction_of_the_longest_waiting() {
        let gate = Gate::new(3, 2);
        let evicted = Arc::new(AtomicUsize::new(0));
        let counter = |n: usize| -> Evict {
            let evicted = evicted.clone();
            Box::new(move || {
                evicted.store(n, Ordering::SeqCst);
            })
        };
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let c: IpAddr = "10.0.0.3".parse().unwrap();
        let first = gate.enter(a, counter(1)).unwrap();
        let second = gate.enter(a, counter(2)).unwrap();
        assert!(
            gate.enter(a, counter(9)).is_none(),
            "a third from one source"
        );
        first.waiting(false);
        let _third = gate.enter(b, counter(3)).unwrap();
        // Full: the longest-waiting connection (the second; the first is busy) makes room.
        let fourth = gate.enter(c, counter(4)).unwrap();
        assert_eq!(evicted.load(Ordering::SeqCst), 2);
        assert_eq!(gate.open(), 3);
        drop(second); // already evicted: frees nothing twice
        assert_eq!(gate.open(), 3);
        drop(fourth);
        assert_eq!(gate.open(), 2);
        assert!(
            gate.enter(a, counter(5)).is_some(),
            "the evicted slot of a is free"
        );
    }
}
