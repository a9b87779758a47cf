//! What the kernel must allow, and the seam to it. `desired` is pure: it derives the allowed
//! clients from the active sessions and `now`. The `Firewall` trait applies a whole desired state
//! at once (reconcile, never patch rule by rule); `RecordingFirewall` is the backend of `lango
//! demo`, which needs no root and only records what it would allow.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use crate::core::active::Live;
use crate::core::model::Mac;

/// One paid device as the kernel sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedClient {
    pub session_id: u64,
    /// The purchase (`Session::group`): the devices of one purchase share one quota object,
    /// `q<group>`. The session id for a purchase used on one device.
    pub group: u64,
    pub mac: Mac,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Vec<Ipv6Addr>,
    /// Element timeout in milliseconds: the session's remaining time at apply time, so that
    /// access ends on time even if lango is dead.
    pub timeout_ms: u64,
    /// The session's deadline (wall clock, Unix milliseconds), to tell a changed grant from
    /// the same one seen later.
    pub deadline_ms: i64,
    /// Bytes the device (with the other devices of its purchase) may still use; none =
    /// unlimited.
    pub quota_left: Option<u64>,
    /// The session's whole quota, to tell "bought more" from "used some".
    pub quota_total: Option<u64>,
    pub rate_down_kbit: Option<u32>,
    pub rate_up_kbit: Option<u32>,
    /// Fair use: the speed (kbit/s, both ways) once the quota is used, instead of no access.
    pub fair_kbit: Option<u32>,
}

/// The complete state the firewall must have.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Desired {
    /// Sorted by MAC and session (`AllowedClient::order`), so that equal states compare equal
    /// and two states pair up in one merge (`pair_up`).
    pub clients: Vec<AllowedClient>,
    /// When the state was computed (Unix milliseconds): element timeouts count from here.
    pub at_ms: i64,
    /// Devices always let through (`list allow_mac`), in the config's order.
    pub allowed: Vec<Mac>,
}

/// Pure: the clients to allow, from the active sessions, at `now_ms` (Unix milliseconds), with
/// `usage` the bytes (up, down) counted per session since the last checkpoint. Sessions already
/// over (deadline passed, quota used without fair use) are left out even before the store records their end. `ipv6` holds the IPv6 addresses bound to each session (`core::ipv6`).
/// A device in `blocked` is never allowed, even while its session runs: a block takes effect
/// at once, and the session keeps its time for when the owner lifts it.
pub(crate) fn desired<'a>(
    active: impl IntoIterator<Item = &'a Live>,
    now_ms: i64,
    ipv6: &HashMap<u64, Vec<Ipv6Addr>>,
    blocked: &HashSet<Mac>,
    usage: &HashMap<u64, (u64, u64)>,
) -> Desired {
    let now = now_ms.div_euclid(1000);
    // The bytes counted since the last checkpoint, if more than the record says.
    let used = |s: &Live| {
        let (up, down) = usage
            .get(&s.id)
            .map_or((s.bytes_up, s.bytes_down), |(u, d)| {
                (s.bytes_up.max(*u), s.bytes_down.max(*d))
            });
        up.saturating_add(down)
    };
    // In (MAC, session) order, the order the state keeps (`pair_up`): the keys sorted as
    // numbers, beside the sessions, so no comparison reaches into a session.
    let mut keyed: Vec<(u64, u64, &Live)> = active
        .into_iter()
        .map(|s| (s.mac.number(), s.id, s))
        .collect();
    keyed.sort_unstable_by_key(|(mac, id, _)| (*mac, *id));
    let active: Vec<&Live> = keyed.into_iter().map(|(_, _, s)| s).collect();
    // A purchase's quota is shared by its devices: what they used together (blocked devices
    // too: their bytes were spent).
    let mut group_used: HashMap<u64, u64> = HashMap::new();
    for s in active.iter().filter(|s| s.shared()) {
        let sum = group_used.entry(s.group()).or_default();
        *sum = sum.saturating_add(used(s));
    }
    let mut clients: Vec<AllowedClient> = active
        .into_iter()
        .filter(|s| !blocked.contains(&s.mac))
        .filter_map(|s| {
            let used = group_used
                .get(&s.group())
                .copied()
                .unwrap_or_else(|| used(s));
            let quota_left = s.quota_bytes.map(|q| q.saturating_sub(used));
            // A fair-use device goes on, slower, past its quota.
            let used_up = quota_left == Some(0) && !s.fair_use();
            let over = now >= s.deadline || used_up;
            (!over).then_some((s, quota_left))
        })
        .map(|(s, quota_left)| {
            let (ipv4, mut v6) = match s.ip {
                Some(IpAddr::V4(v4)) => (Some(v4), Vec::new()),
                Some(IpAddr::V6(v6)) => (v6.to_ipv4_mapped(), vec![v6]),
                None => (None, Vec::new()),
            };
            v6.retain(|a| a.to_ipv4_mapped().is_none());
            v6.extend(ipv6.get(&s.id).into_iter().flatten().copied());
            v6.sort();
            v6.dedup();
            let deadline_ms = s.deadline.saturating_mul(1000);
            AllowedClient {
                session_id: s.id,
                group: s.group(),
                mac: s.mac,
                ipv4,
                ipv6: v6,
                timeout_ms: u64::try_from(deadline_ms - now_ms).unwrap_or(0).max(1),
                deadline_ms,
                quota_left,
                quota_total: s.quota_bytes,
                rate_down_kbit: s.rate_down_kbit,
                rate_up_kbit: s.rate_up_kbit,
                fair_kbit: s.fair_kbit.filter(|_| s.fair_use()),
            }
        })
        .collect();
    // Kept as the applied state until the next change: without the doubling's spare room
    // (0.8 MB at 10,000 devices).
    clients.shrink_to_fit();
    Desired {
        clients,
        at_ms: now_ms,
        ..Default::default()
    }
}

impl AllowedClient {
    /// Where the device sorts in a state: by MAC, then session.
    pub(crate) fn order(&self) -> (u64, u64) {
        (self.mac.number(), self.session_id)
    }

    /// The addresses the device is let through with.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.ipv4
            .map(IpAddr::V4)
            .into_iter()
            .chain(self.ipv6.iter().copied().map(IpAddr::V6))
    }
}

/// Pure: the devices of `old` and `new` paired by (MAC, session), in that order: `each` gets
/// both for a device in the two states, one for a device in one only. `desired` keeps both
/// lists in that order, so the sorts here only check it. No hashing: this runs at every
/// change, over every paid device.
pub(crate) fn pair_up<'a>(
    old: &'a Desired,
    new: &'a Desired,
    mut each: impl FnMut(Option<&'a AllowedClient>, Option<&'a AllowedClient>),
) {
    // Already in order (what `desired` makes): walked as it is, nothing allocated.
    let refs = |d: &'a Desired| {
        let mut v: Vec<&'a AllowedClient> = Vec::new();
        if !d.clients.is_sorted_by_key(AllowedClient::order) {
            v.extend(&d.clients);
            v.sort_unstable_by_key(|c| c.order());
        }
        v
    };
    let (old_refs, new_refs) = (refs(old), refs(new));
    let (mut o, mut n) = (walk(old, &old_refs), walk(new, &new_refs));
    loop {
        let order = match (o.peek(), n.peek()) {
            (Some((a, _)), Some((b, _))) => a.cmp(b),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => return,
        };
        each(
            o.next_if(|_| order.is_le()).map(|(_, c)| c),
            n.next_if(|_| order.is_ge()).map(|(_, c)| c),
        );
    }
}

/// Devices with their keys (`AllowedClient::order`), in order.
type Keyed<'a, 'b> = Box<dyn Iterator<Item = ((u64, u64), &'a AllowedClient)> + 'b>;

/// A state's devices with their keys, in order: its own list, or `refs` when that is sorted
/// instead.
fn walk<'a: 'b, 'b>(
    d: &'a Desired,
    refs: &'b [&'a AllowedClient],
) -> std::iter::Peekable<Keyed<'a, 'b>> {
    let keyed = |c: &'a AllowedClient| (c.order(), c);
    let it: Keyed<'a, 'b> = match refs.is_empty() {
        true => Box::new(d.clients.iter().map(keyed)),
        false => Box::new(refs.iter().map(move |c| keyed(c))),
    };
    it.peekable()
}

/// Pure: the addresses `old` let through that `new` does not (a device gone, blocked or
/// moved, an address changed): the flows to forget after `new` is applied.
pub fn lost_addresses(old: &Desired, new: &Desired) -> Vec<IpAddr> {
    let mut lost = Vec::new();
    pair_up(old, new, |o, n| {
        if let Some(o) = o {
            if n.is_none_or(|n| n.ipv4 != o.ipv4 || n.ipv6 != o.ipv6) {
                lost.extend(o.addresses());
            }
        }
    });
    // An address may have gone to another device (a lease handed on): still let through.
    not_allowed_in(new, lost)
}

/// Pure: `addresses` without those `state` lets through, sorted, each once. A scan of the
/// state per address when they are few, one set of its addresses when many.
pub fn not_allowed_in(state: &Desired, mut addresses: Vec<IpAddr>) -> Vec<IpAddr> {
    if addresses.len() > 16 {
        let kept: HashSet<IpAddr> = state.clients.iter().flat_map(|c| c.addresses()).collect();
        addresses.retain(|a| !kept.contains(a));
    } else if !addresses.is_empty() {
        // One pass over the state for all of them.
        let mut kept = [false; 16];
        for c in &state.clients {
            for (i, a) in addresses.iter().enumerate() {
                kept[i] |= match a {
                    IpAddr::V4(v4) => c.ipv4 == Some(*v4),
                    IpAddr::V6(v6) => c.ipv6.contains(v6),
                };
            }
        }
        let mut flags = kept.iter();
        addresses.retain(|_| !flags.next().copied().unwrap_or(false));
    }
    addresses.sort_unstable();
    addresses.dedup();
    addresses
}

/// Bytes a device has moved since its element was created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub mac: Mac,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FirewallError {
    /// The backend could not apply the state (nft refused the batch, missing kernel support).
    Apply(String),
    /// The backend could not be reached at all (nft missing, permission denied).
    Unavailable(String),
}

impl fmt::Display for FirewallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FirewallError::Apply(m) => write!(f, "firewall refused the change: {m}"),
            FirewallError::Unavailable(m) => write!(f, "firewall unavailable: {m}"),
        }
    }
}

/// The seam to the kernel. `apply` replaces the whole state atomically and is idempotent; it
/// returns the addresses that lost access since the last state applied (`lost_addresses`).
pub trait Firewall: Send + Sync {
    fn apply(&self, desired: &Desired) -> Result<Vec<IpAddr>, FirewallError>;
    /// `apply`, for a state the firewall may keep as it is (no copy of every device).
    fn apply_shared(&self, desired: Arc<Desired>) -> Result<Vec<IpAddr>, FirewallError> {
        self.apply(&desired)
    }
    /// Per-device byte counts, for data quotas and the owner's view.
    fn usage(&self) -> Result<Vec<Usage>, FirewallError>;
    /// One device's byte counts now, read for it alone (its status page, RFC 8908, ubus);
    /// `None` when the backend cannot read one device or does not hold it.
    fn usage_one(&self, _mac: Mac) -> Result<Option<Usage>, FirewallError> {
        Ok(None)
    }
    /// IPv6 sources the kernel saw from paid MACs that are not allowed yet (`core::ipv6`).
    fn ipv6_seen(&self) -> Result<Vec<(Mac, Ipv6Addr)>, FirewallError>;
    /// The IPv6 addresses the kernel allows now (bindings survive a restart of lango).
    fn ipv6_allowed(&self) -> Result<Vec<(Mac, Ipv6Addr)>, FirewallError>;
    /// Deletes the kernel's connection tracking for addresses that just lost access, so that
    /// no flow set up while paid (a pinned DNS port, a tunnel) outlives the grant.
    fn forget(&self, addresses: &[IpAddr]) -> Result<(), FirewallError>;
    /// Lets unpaid devices reach walled-garden addresses for a while, `(address, ms)`: the
    /// addresses the real resolver gave for a garden name, for their TTL.
    fn open_garden(&self, _addresses: &[(IpAddr, u64)]) -> Result<(), FirewallError> {
        Ok(())
    }
    /// At a start, once the store knows how many paid devices it holds and before it has read
    /// them: a backend that builds its table from nothing may start on the parts that need no
    /// device (`devices` sizes them; `allowed` is `list allow_mac`), so that the first `apply`
    /// only adds the devices. A hint: `apply` must be right without it, and with a hint
    /// that turns out wrong.
    fn prepare(&self, _devices: usize, _allowed: &[Mac]) {}
}

/// The demo's firewall: remembers the last state and logs what changed, touches nothing.
#[derive(Default)]
pub struct RecordingFirewall {
    last: Mutex<Desired>,
}

impl RecordingFirewall {
    pub fn last(&self) -> Desired {
        crate::core::locks::lock(&self.last).clone()
    }
}

impl Firewall for RecordingFirewall {
    fn apply(&self, desired: &Desired) -> Result<Vec<IpAddr>, FirewallError> {
        let mut last = crate::core::locks::lock(&self.last);
        pair_up(&last, desired, |old, new| match (old, new) {
            (None, Some(client)) => log::info!(
                "firewall (recording only): would allow {} ({}) for {}s",
                client.mac,
                client
                    .ipv4
                    .map(|ip| ip.to_string())
                    .unwrap_or_else(|| "no IPv4".into()),
                client.timeout_ms / 1000
            ),
            (Some(client), None) => log::info!(
                "firewall (recording only): would block {} again",
                client.mac
            ),
            _ => {}
        });
        let lost = lost_addresses(&last, desired);
        *last = desired.clone();
        Ok(lost)
    }

    fn usage(&self) -> Result<Vec<Usage>, FirewallError> {
        Ok(Vec::new())
    }

    fn ipv6_seen(&self) -> Result<Vec<(Mac, Ipv6Addr)>, FirewallError> {
        Ok(Vec::new())
    }

    fn ipv6_allowed(&self) -> Result<Vec<(Mac, Ipv6Addr)>, FirewallError> {
        Ok(Vec::new())
    }

    fn forget(&self, addresses: &[IpAddr]) -> Result<(), FirewallError> {
        for a in addresses {
            log::debug!("firewall (recording only): would forget the flows of {a}");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(session_id: u64, mac: u8, v4: Option<&str>, v6: &[&str]) -> AllowedClient {
        AllowedClient {
            session_id,
            group: session_id,
            mac: Mac([0xaa, 0, 0, 0, 0, mac]),
            ipv4: v4.map(|a| a.parse().unwrap()),
            ipv6: v6.iter().map(|a| a.parse().unwrap()).collect(),
            timeout_ms: 60_000,
            deadline_ms: 60_000,
            quota_left: None,
            quota_total: None,
            rate_down_kbit: None,
            rate_up_kbit: None,
            fair_kbit: None,
        }
    }

    fn state(clients: Vec<AllowedClient>) -> Desired {
        Desired {
            clients,
            ..Default::default()
        }
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = list.iter().map(|a| a.parse().unwrap()).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn the_addresses_lost_are_those_of_devices_gone_or_changed_and_not_handed_on() {
        let old = state(vec![
            device(1, 1, Some("10.0.0.1"), &["2001:db8::1"]),
            device(2, 2, Some("10.0.0.2"), &[]),
            device(3, 3, Some("10.0.0.3"), &[]),
            device(4, 4, Some("10.0.0.4"), &["2001:db8::4"]),
        ]);
        // 1 stays; 2 is kicked; 3 moved to another address; 4 lost its IPv6 address; 5 is new
        // with 2's old address (the lease handed on). Given out of order.
        let new = state(vec![
            device(5, 5, Some("10.0.0.2"), &[]),
            device(4, 4, Some("10.0.0.4"), &[]),
            device(3, 3, Some("10.0.0.33"), &[]),
            device(1, 1, Some("10.0.0.1"), &["2001:db8::1"]),
        ]);
        assert_eq!(
            lost_addresses(&old, &new),
            ips(&["10.0.0.3", "2001:db8::4"])
        );
        assert_eq!(lost_addresses(&old, &old), Vec::<IpAddr>::new());
        assert_eq!(
            lost_addresses(&old, &Desired::default()),
            ips(&[
                "10.0.0.1",
                "10.0.0.2",
                "10.0.0.3",
                "10.0.0.4",
                "2001:db8::1",
                "2001:db8::4"
            ])
        );
        // A new session on the same device and address is not a loss.
        let renewed = state(vec![device(9, 1, Some("10.0.0.1"), &["2001:db8::1"])]);
        let only_1 = state(vec![old.clients[0].clone()]);
        assert!(lost_addresses(&only_1, &renewed).is_empty());
    }

    #[test]
    fn addresses_still_allowed_are_left_out_few_or_many() {
        let now = state(
            (1..=40)
                .map(|i| device(i, i as u8, Some(&format!("10.0.1.{i}")), &[]))
                .collect(),
        );
        let few = ips(&["10.0.1.3", "10.0.2.1", "10.0.2.1"]);
        assert_eq!(not_allowed_in(&now, few), ips(&["10.0.2.1"]));
        let many: Vec<IpAddr> = (1..=30)
            .map(|i| format!("10.0.{}.{i}", 1 + i % 2).parse().unwrap())
            .collect();
        let left = not_allowed_in(&now, many);
        assert_eq!(left.len(), 15);
        assert!(left.iter().all(|a| a.to_string().starts_with("10.0.2.")));
    }
}
