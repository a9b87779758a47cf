//! How a RADIUS server is doing, pure: each server's reachability from its Status-Server
//! probes (RFC 5997) and when to probe it next. An answering server is probed every
//! `PROBE_SECS`; a silent one after a back-off that doubles up to `PROBE_MAX_SECS`, so a dead
//! server costs little and a returning one is seen within minutes.

/// The probe interval of a server that answers, and the longest back-off.
pub const PROBE_SECS: i64 = 30;
pub const PROBE_MAX_SECS: i64 = 300;

/// What the last probes said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Not probed yet.
    Unknown,
    Up,
    Down,
}

impl Reach {
    /// The word `ubus call lango status` and the owner page show.
    pub fn name(self) -> &'static str {
        match self {
            Reach::Unknown => "unknown",
            Reach::Up => "up",
            Reach::Down => "down",
        }
    }
}

/// One server's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    /// The server as configured (address or host name).
    pub server: String,
    pub reach: Reach,
    /// Since when `reach` holds (Unix seconds).
    pub since: i64,
    /// Probes without an answer in a row.
    pub failures: u32,
    /// When the next probe is due.
    pub next_probe: i64,
}

impl Health {
    pub fn new(server: &str, now: i64) -> Health {
        Health {
            server: server.to_string(),
            reach: Reach::Unknown,
            since: now,
            failures: 0,
            next_probe: now,
        }
    }

    /// A probe's outcome at `now`: a change of state starts a new `since`; the next probe in
    /// `PROBE_SECS`, or after the back-off of a silent server.
    pub fn observe(&mut self, answered: bool, now: i64) {
        let reach = if answered { Reach::Up } else { Reach::Down };
        if reach != self.reach {
            self.reach = reach;
            self.since = now;
        }
        self.failures = if answered {
            0
        } else {
            self.failures.saturating_add(1)
        };
        let wait = match self.failures {
            0 => PROBE_SECS,
            n => (PROBE_SECS << (n - 1).min(4)).min(PROBE_MAX_SECS),
        };
        self.next_probe = now + wait;
    }
}

/// Whether every server is known to be down (a guest's central code is then refused at once,
/// without waiting for the timeouts).
pub fn all_down(servers: &[Health]) -> bool {
    !servers.is_empty() && servers.iter().all(|s| s.reach == Reach::Down)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_server_is_probed_less_often_and_seen_again_when_it_answers() {
        let mut h = Health::new("192.0.2.1", 100);
        assert_eq!((h.reach, h.next_probe), (Reach::Unknown, 100));
        h.observe(true, 100);
        assert_eq!((h.reach, h.since, h.next_probe), (Reach::Up, 100, 130));
        h.observe(true, 130);
        assert_eq!(h.since, 100);
        let mut at = 160;
        let mut waits = Vec::new();
        for _ in 0..7 {
            h.observe(false, at);
            waits.push(h.next_probe - at);
            at = h.next_probe;
        }
        assert_eq!(waits, [30, 60, 120, 240, 300, 300, 300]);
        assert_eq!((h.reach, h.since), (Reach::Down, 160));
        assert!(all_down(std::slice::from_ref(&h)));
        h.observe(true, at);
        assert_eq!((h.reach, h.since, h.failures), (Reach::Up, at, 0));
        assert!(!all_down(&[h, Health::new("b", 0)]));
        assert!(!all_down(&[]));
    }
}
