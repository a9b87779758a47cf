//! Which IPv6 addresses a paid device may use (pure). A MAC is bound to an IPv4 address by the
//! portal request that paid; IPv6 addresses come and go (SLAAC, privacy addresses), so they are
//! learned, and only from evidence a guest on another device cannot plant:
//! - the kernel saw the address as the source of the paid MAC's own packets (the `seen6` set,
//!   filled by lango's table for paid MACs only: an unpaid guest cannot add to it without
//!   sending as the paid MAC, which makes it a clone);
//! - the address is inside the guest network's on-link prefix (no off-link source rides in on a
//!   neighbour solicitation);
//! - the router's neighbour table does not tie the address to another MAC;
//! - it arrives in the binding window: the first minute of the session, or of its last move.
//!   After that, a new address under a paid MAC while that MAC is in use is a clone candidate:
//!   refused and logged (the device keeps IPv4, and browsers fall back to it);
//! - at most `MAX_PER_DEVICE` addresses per device; they end with the session.

use std::collections::HashMap;
use std::net::Ipv6Addr;

use crate::core::active::Live;
use crate::core::model::Mac;
use crate::core::time::Timestamp;

/// IPv6 addresses one paid device may use at once (a phone has a stable and a temporary one).
pub const MAX_PER_DEVICE: usize = 4;

/// How long after a session starts (or moves) its device may add IPv6 addresses, unless the
/// config says otherwise (`option ipv6_window`).
pub const BIND_WINDOW_SECS: i64 = 60;

/// Pure: whether a session's device (started at `started_at`, last moved at `moved_at`) may
/// still add IPv6 addresses at `now`.
pub fn window_open(
    started_at: Timestamp,
    moved_at: Option<Timestamp>,
    now: Timestamp,
    window_secs: i64,
) -> bool {
    let opened = moved_at.unwrap_or(started_at).max(started_at);
    now < opened.saturating_add(window_secs)
}

/// What the router observed, for one decision.
#[derive(Clone, Debug, Default)]
pub struct Evidence {
    /// (MAC, source address) pairs the kernel saw from paid MACs, not yet allowed.
    pub seen: Vec<(Mac, Ipv6Addr)>,
    /// The router's IPv6 neighbour table on the guest device: address → MAC.
    pub neighbours: Vec<(Ipv6Addr, Mac)>,
    /// The guest network's on-link prefixes (address, length).
    pub prefixes: Vec<(Ipv6Addr, u8)>,
}

/// Why an address was not bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Outside the guest network's prefixes, link-local or multicast.
    OffLink,
    /// The neighbour table ties the address to another MAC.
    OtherMac,
    /// The device already has `MAX_PER_DEVICE` addresses.
    Cap,
    /// A new address after the binding window: a second device imitating the MAC.
    Clone,
}

/// The decision for one round.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Session id → every address it may use now (the old ones plus the new).
    pub bound: HashMap<u64, Vec<Ipv6Addr>>,
    /// Addresses refused, with the reason.
    pub refused: Vec<(Mac, Ipv6Addr, Refusal)>,
}

/// Pure: whether `addr` is inside `prefix/len`.
pub fn in_prefix(addr: Ipv6Addr, prefix: Ipv6Addr, len: u8) -> bool {
    let len = u32::from(len.min(128));
    if len == 0 {
        return true;
    }
    let mask = u128::MAX << (128 - len);
    u128::from(addr) & mask == u128::from(prefix) & mask
}

fn usable(addr: Ipv6Addr) -> bool {
    let link_local = addr.segments()[0] & 0xffc0 == 0xfe80;
    !link_local && !addr.is_multicast() && !addr.is_unspecified() && !addr.is_loopback()
}

/// Pure: the addresses each active session may use, given what was bound before and what the
/// router saw since. Sessions not in `active` lose their addresses.
pub fn decide<'a>(
    active: impl IntoIterator<Item = &'a Live>,
    before: &HashMap<u64, Vec<Ipv6Addr>>,
    evidence: &Evidence,
    now: Timestamp,
    window_secs: i64,
) -> Outcome {
    let mut outcome = Outcome::default();
    // Grouped by MAC once: each session looks up its own, not the whole list (O(N), not
    // O(N × sources)).
    let mut seen_by_mac: HashMap<Mac, Vec<Ipv6Addr>> = HashMap::new();
    for (mac, addr) in &evidence.seen {
        seen_by_mac.entry(*mac).or_default().push(*addr);
    }
    for session in active {
        let mut addrs: Vec<Ipv6Addr> = before.get(&session.id).cloned().unwrap_or_default();
        let window_open = window_open(session.started_at, session.moved_at, now, window_secs);
        let mut candidates: Vec<Ipv6Addr> = seen_by_mac
            .get(&session.mac)
            .into_iter()
            .flatten()
            .copied()
            .filter(|a| !addrs.contains(a))
            .collect();
        candidates.sort();
        candidates.dedup();
        for addr in candidates {
            let on_link = usable(addr)
                && evidence
                    .prefixes
                    .iter()
                    .any(|(p, len)| in_prefix(addr, *p, *len));
            let refusal = if !on_link {
                Some(Refusal::OffLink)
            } else if evidence
                .neighbours
                .iter()
                .any(|(a, mac)| *a == addr && *mac != session.mac)
            {
                Some(Refusal::OtherMac)
            } else if !window_open {
                Some(Refusal::Clone)
            } else if addrs.len() >= MAX_PER_DEVICE {
                Some(Refusal::Cap)
            } else {
                None
            };
            match refusal {
                Some(r) => outcome.refused.push((session.mac, addr, r)),
                None => addrs.push(addr),
            }
        }
        if !addrs.is_empty() {
            addrs.sort();
            outcome.bound.insert(session.id, addrs);
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::Money;
    use crate::core::sessions::{Session, SessionState, Terms};

    const MAC: Mac = Mac([2, 0, 0, 0, 0, 1]);
    const OTHER: Mac = Mac([2, 0, 0, 0, 0, 2]);
    const T0: Timestamp = 1_800_000_000;

    fn session(id: u64, mac: Mac) -> Live {
        Live::from(&Session {
            id,
            mac,
            ip: Some("10.77.0.10".parse().unwrap()),
            terms: Terms {
                package_id: "hour".into(),
                package_name: "Hour".into(),
                price: Money(2000),
                duration_secs: 3600,
                quota_bytes: None,
                rate_down_kbit: None,
                rate_up_kbit: None,
                fair_kbit: None,
                window: None,
                devices: 1,
                idle_secs: None,
            },
            started_at: T0,
            deadline: T0 + 3600,
            quota_bytes: None,
            bytes_up: 0,
            bytes_down: 0,
            state: SessionState::Active,
            ended_at: None,
            end_reason: None,
            sources: Vec::new(),
            token: String::new(),
            moved_at: None,
            joined: None,
            members: Vec::new(),
        })
    }

    fn a(text: &str) -> Ipv6Addr {
        text.parse().unwrap()
    }

    fn evidence(seen: &[(Mac, &str)]) -> Evidence {
        Evidence {
            seen: seen.iter().map(|(m, t)| (*m, a(t))).collect(),
            neighbours: Vec::new(),
            prefixes: vec![(a("fd77::"), 64)],
        }
    }

    #[test]
    fn prefixes_match_by_length() {
        assert!(in_prefix(a("fd77::10"), a("fd77::"), 64));
        assert!(!in_prefix(a("fd78::10"), a("fd77::"), 64));
        assert!(in_prefix(a("2001:db8::1"), a("::"), 0));
        assert!(in_prefix(a("fd77::1"), a("fd77::1"), 128));
    }

    #[test]
    fn own_traffic_in_the_window_binds() {
        let ev = evidence(&[(MAC, "fd77::10"), (MAC, "fd77::11")]);
        let out = decide(
            &[session(1, MAC)],
            &HashMap::new(),
            &ev,
            T0 + 5,
            BIND_WINDOW_SECS,
        );
        assert_eq!(out.bound[&1], vec![a("fd77::10"), a("fd77::11")]);
        assert!(out.refused.is_empty());
    }

    #[test]
    fn an_off_link_or_link_local_source_is_refused() {
        let ev = evidence(&[(MAC, "2001:db8::66"), (MAC, "fe80::1"), (MAC, "ff02::1")]);
        let out = decide(
            &[session(1, MAC)],
            &HashMap::new(),
            &ev,
            T0 + 5,
            BIND_WINDOW_SECS,
        );
        assert!(out.bound.is_empty());
        assert!(out.refused.iter().all(|r| r.2 == Refusal::OffLink));
        assert_eq!(out.refused.len(), 3);
    }

    #[test]
    fn a_new_address_after_the_window_is_a_clone() {
        let before = HashMap::from([(1, vec![a("fd77::10")])]);
        let ev = evidence(&[(MAC, "fd77::66")]);
        let out = decide(
            &[session(1, MAC)],
            &before,
            &ev,
            T0 + BIND_WINDOW_SECS + 1,
            BIND_WINDOW_SECS,
        );
        assert_eq!(out.bound[&1], vec![a("fd77::10")], "the old address stays");
        assert_eq!(out.refused, vec![(MAC, a("fd77::66"), Refusal::Clone)]);
        // A move reopens the window for the device that moved.
        let mut moved = session(1, MAC);
        moved.moved_at = Some(T0 + 500);
        let out = decide(&[moved], &before, &ev, T0 + 510, BIND_WINDOW_SECS);
        assert_eq!(out.bound[&1], vec![a("fd77::10"), a("fd77::66")]);
    }

    #[test]
    fn addresses_are_capped_per_device() {
        let seen: Vec<(Mac, String)> = (0..300)
            .map(|n| (MAC, format!("fd77::{:x}", 0x100 + n)))
            .collect();
        let refs: Vec<(Mac, &str)> = seen.iter().map(|(m, t)| (*m, t.as_str())).collect();
        let out = decide(
            &[session(1, MAC)],
            &HashMap::new(),
            &evidence(&refs),
            T0 + 1,
            BIND_WINDOW_SECS,
        );
        assert_eq!(out.bound[&1].len(), MAX_PER_DEVICE);
        assert_eq!(out.refused.len(), 300 - MAX_PER_DEVICE);
    }

    #[test]
    fn another_devices_traffic_or_neighbour_entry_never_lands_in_a_paid_set() {
        // Guest 2 (unpaid) is seen with its own MAC: nothing for session 1.
        let mut ev = evidence(&[(OTHER, "fd77::66")]);
        let out = decide(
            &[session(1, MAC)],
            &HashMap::new(),
            &ev,
            T0 + 1,
            BIND_WINDOW_SECS,
        );
        assert!(out.bound.is_empty() && out.refused.is_empty());
        // An address the neighbour table ties to another MAC is refused even if seen.
        ev.seen.push((MAC, a("fd77::67")));
        ev.neighbours.push((a("fd77::67"), OTHER));
        let out = decide(
            &[session(1, MAC)],
            &HashMap::new(),
            &ev,
            T0 + 1,
            BIND_WINDOW_SECS,
        );
        assert_eq!(out.refused, vec![(MAC, a("fd77::67"), Refusal::OtherMac)]);
    }

    #[test]
    fn ended_sessions_lose_their_addresses() {
        let before = HashMap::from([(1, vec![a("fd77::10")])]);
        let out = decide(&[], &before, &Evidence::default(), T0, BIND_WINDOW_SECS);
        assert!(out.bound.is_empty());
    }
}
