//! The active sessions in RAM, with an expiry index (issue 14): a wake asks which sessions are
//! due and when the next one is, and the answer costs in proportion to what is due, not to what
//! is active. Pure data: the store keeps one, fed by every session it commits (`put`), so that
//! it holds exactly the sessions in state Active. No wake decodes sessions that are not due.
//! It keeps of each session only what the firewall, the IPv6 binding and the usage read need
//! (`Live`): no package names, tokens or payment sources, which stay in the store.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use crate::core::model::Mac;
use crate::core::sessions::Session;
use crate::core::time::Timestamp;

/// What RAM keeps of an active session: 152 bytes and no heap unless it is one of several
/// devices of a purchase, against 344 bytes and five allocations for a `Session`
/// (docs/BENCHMARKS.md, "RSS").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Live {
    pub id: u64,
    pub mac: Mac,
    pub ip: Option<IpAddr>,
    pub started_at: Timestamp,
    pub deadline: Timestamp,
    pub moved_at: Option<Timestamp>,
    pub quota_bytes: Option<u64>,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub joined: Option<u64>,
    pub members: Box<[u64]>,
    pub rate_down_kbit: Option<u32>,
    pub rate_up_kbit: Option<u32>,
    pub fair_kbit: Option<u32>,
}

impl From<&Session> for Live {
    fn from(s: &Session) -> Live {
        Live {
            id: s.id,
            mac: s.mac,
            ip: s.ip,
            started_at: s.started_at,
            deadline: s.deadline,
            moved_at: s.moved_at,
            quota_bytes: s.quota_bytes,
            bytes_up: s.bytes_up,
            bytes_down: s.bytes_down,
            joined: s.joined,
            members: s.members.as_slice().into(),
            rate_down_kbit: s.terms.rate_down_kbit,
            rate_up_kbit: s.terms.rate_up_kbit,
            fair_kbit: s.terms.fair_kbit,
        }
    }
}

impl Live {
    /// As `Session::fair_use`: goes on, slower, past its quota.
    pub fn fair_use(&self) -> bool {
        self.fair_kbit.is_some() && self.quota_bytes.is_some()
    }

    /// As `Session::group`: the purchase's first device's session id.
    pub fn group(&self) -> u64 {
        self.joined.unwrap_or(self.id)
    }

    /// One of several devices of a purchase.
    pub fn shared(&self) -> bool {
        self.joined.is_some() || !self.members.is_empty()
    }
}

/// Active sessions in deadline order, and the devices the owner blocked.
#[derive(Clone, Debug, Default)]
pub struct Active {
    /// By (deadline, id): the expiry index and the sessions in one map (one B-tree's code on
    /// the router, not two). Boxed: a node then holds 11 pointers, not 11 entries in nodes
    /// about two-thirds full (docs/BENCHMARKS.md).
    by_deadline: BTreeMap<(Timestamp, u64), Box<Live>>,
    /// Session id → its deadline, to find its entry when it changes.
    deadline_of: HashMap<u64, Timestamp>,
    blocked: HashSet<Mac>,
    /// Session id → its Idle-Timeout (s), for the few sessions a RADIUS Accept gave one: kept
    /// beside `Live`, which stays at 152 bytes for every other session. Feature `radius`.
    #[cfg(feature = "radius")]
    idle: HashMap<u64, u32>,
}

impl Active {
    /// Records a session as committed: kept (or replaced) while active, dropped once it ends.
    pub fn put(&mut self, session: &Session) {
        if let Some(old) = self.deadline_of.remove(&session.id) {
            self.by_deadline.remove(&(old, session.id));
        }
        #[cfg(feature = "radius")]
        self.idle.remove(&session.id);
        if session.is_active() {
            #[cfg(feature = "radius")]
            if let Some(secs) = session.terms.idle_secs {
                self.idle.insert(session.id, secs);
            }
            self.deadline_of.insert(session.id, session.deadline);
            self.by_deadline.insert(
                (session.deadline, session.id),
                Box::new(Live::from(session)),
            );
        }
    }

    /// Records whether a device is blocked.
    pub fn set_blocked(&mut self, mac: Mac, blocked: bool) {
        if blocked {
            self.blocked.insert(mac);
        } else {
            self.blocked.remove(&mac);
        }
    }

    /// The ids of the sessions whose deadline is at or before `now` (the deadline is
    /// exclusive: a session with deadline T is over at T), soonest first.
    pub fn due(&self, now: Timestamp) -> Vec<u64> {
        self.by_deadline
            .range(..=(now, u64::MAX))
            .map(|((_, id), _)| *id)
            .collect()
    }

    /// The earliest deadline of an active session.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.by_deadline.keys().next().map(|(at, _)| *at)
    }

    /// Every active session, soonest deadline first.
    pub fn sessions(&self) -> impl Iterator<Item = &Live> {
        self.by_deadline.values().map(|s| &**s)
    }

    pub fn len(&self) -> usize {
        self.by_deadline.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_deadline.is_empty()
    }

    pub fn blocked(&self) -> &HashSet<Mac> {
        &self.blocked
    }

    /// The active sessions with an Idle-Timeout: (session id, seconds).
    #[cfg(feature = "radius")]
    pub fn idle_timeouts(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.idle.iter().map(|(id, secs)| (*id, *secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::sessions::{self, EndReason, Source, Terms};

    fn session(id: u64, deadline: Timestamp) -> Session {
        let terms = Terms {
            package_id: "h".into(),
            package_name: "Hour".into(),
            price: crate::core::model::Money(1),
            duration_secs: 3600,
            quota_bytes: None,
            rate_down_kbit: None,
            rate_up_kbit: None,
            fair_kbit: None,
            window: None,
            devices: 1,
            idle_secs: None,
        };
        let mac = Mac([2, 0, 0, 0, 0, id as u8]);
        let grant = sessions::grant(None, id, mac, None, &terms, Source::Owner, 0);
        Session {
            deadline,
            ..grant.session().clone()
        }
    }

    #[test]
    fn due_and_next_deadline_follow_puts_extensions_and_ends() {
        let mut active = Active::default();
        for (id, deadline) in [(1, 30), (2, 10), (3, 20)] {
            active.put(&session(id, deadline));
        }
        assert_eq!(active.next_deadline(), Some(10));
        assert_eq!(active.due(9), Vec::<u64>::new());
        assert_eq!(active.due(20), vec![2, 3]);
        // An extension moves the deadline; the old one is gone from the index.
        active.put(&session(2, 40));
        assert_eq!(active.due(20), vec![3]);
        // An end drops the session.
        active.put(&sessions::end(&session(3, 20), EndReason::Time, 20));
        assert_eq!(active.due(35), vec![1]);
        assert_eq!(active.len(), 2);
        assert_eq!(active.next_deadline(), Some(30));
    }

    #[cfg(feature = "radius")]
    #[test]
    fn idle_timeouts_are_kept_only_for_the_active_sessions_that_have_one() {
        let mut active = Active::default();
        let mut idle = session(1, 30);
        idle.terms.idle_secs = Some(600);
        active.put(&idle);
        active.put(&session(2, 30));
        assert_eq!(active.idle_timeouts().collect::<Vec<_>>(), [(1, 600)]);
        // An extension keeps it; an end drops it.
        active.put(&Session {
            deadline: 60,
            ..idle.clone()
        });
        assert_eq!(active.idle_timeouts().count(), 1);
        active.put(&sessions::end(&idle, EndReason::Idle, 40));
        assert_eq!(active.idle_timeouts().count(), 0);
    }

    #[test]
    fn the_index_keeps_a_small_record_with_no_heap_for_a_single_device() {
        // RSS at 10,000 devices (issue 14): the index held whole sessions, 344 bytes each
        // plus their package names, token and sources on the heap (5.9 MB of 10.3 MB).
        assert!(
            std::mem::size_of::<Live>() <= 152,
            "{}",
            std::mem::size_of::<Live>()
        );
        let mut s = session(1, 10);
        s.token = "x".repeat(43);
        let live = Live::from(&s);
        assert!(live.members.is_empty() && !live.shared());
        assert_eq!((live.id, live.deadline, live.group()), (1, 10, 1));
    }
}
