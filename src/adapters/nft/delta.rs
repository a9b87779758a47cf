//! One small transaction per change (pure): which devices differ between the last applied
//! state and the new one (`delta`), the kernel operations that delete the elements and objects
//! of those that go and add those of those that come (`ops`), touching nothing else, and the
//! same operations as an nft script (`render_delta`; `netlink.rs` encodes them as messages);
//! an allow-list change as a flush of its set and its adds (`allow_ops`); a restore into an
//! empty table as every device's adds (`restore_groups`).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::IpAddr;

use super::render::{limit_body, limit_params, limits_of, nft_duration, quota_params, timeout_ms};
use crate::core::firewall::{pair_up, AllowedClient, Desired};
use crate::core::model::Mac;

/// Whether two states grant a device the same thing (addresses, deadline, quota, caps): an
/// unchanged device keeps its kernel elements, their timeouts and counters.
fn same_grant(a: &AllowedClient, b: &AllowedClient) -> bool {
    a.mac == b.mac
        && a.ipv4 == b.ipv4
        && a.ipv6 == b.ipv6
        && a.deadline_ms == b.deadline_ms
        && a.quota_total == b.quota_total
        && a.rate_up_kbit == b.rate_up_kbit
        && a.rate_down_kbit == b.rate_down_kbit
        && a.fair_kbit == b.fair_kbit
}

/// Pure: whether two states grant the same devices the same thing (only the time left and the
/// quota left differ): then the kernel already has it, and nothing is sent.
pub(crate) fn unchanged(old: &Desired, new: &Desired) -> bool {
    old.allowed == new.allowed
        && old.clients.len() == new.clients.len()
        && old
            .clients
            .iter()
            .zip(&new.clients)
            .all(|(a, b)| a.session_id == b.session_id && same_grant(a, b))
}

/// What changed between two states: devices whose kernel state goes, and devices whose state
/// comes (a changed device is in both).
pub(crate) struct Delta<'a> {
    pub removed: Vec<&'a AllowedClient>,
    pub added: Vec<&'a AllowedClient>,
    /// Purchases of devices that go or come with a device that stays as it is: their shared
    /// quota object stays (and is not made again).
    pub kept: HashSet<u64>,
}

/// Pure: the devices that differ between `old` and `new`, matched by device and session
/// (`firewall::pair_up`, a merge without hashing).
pub(crate) fn delta<'a>(old: &'a Desired, new: &'a Desired) -> Delta<'a> {
    let (mut removed, mut added, mut unchanged) = (Vec::new(), Vec::new(), Vec::new());
    pair_up(old, new, |a, b| match (a, b) {
        (Some(a), Some(b)) if same_grant(a, b) => unchanged.push(b.group),
        (a, b) => {
            removed.extend(a);
            added.extend(b);
        }
    });
    // Only the purchases of devices that go or come matter: few, so a sorted list, not a hash.
    let mut gone: Vec<u64> = removed.iter().chain(&added).map(|c| c.group).collect();
    gone.sort_unstable();
    let kept = match gone.is_empty() {
        true => HashSet::new(),
        false => unchanged
            .into_iter()
            .filter(|g| gone.binary_search(g).is_ok())
            .collect(),
    };
    Delta {
        removed,
        added,
        kept,
    }
}

/// A set or map key: `ether_addr`, `ether_addr . ipv4_addr` / `ipv6_addr`, or an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    Mac(Mac),
    MacIp(Mac, IpAddr),
    Ip(IpAddr),
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Mac(mac) => write!(f, "{mac}"),
            Key::MacIp(mac, ip) => write!(f, "{mac} . {ip}"),
            Key::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// One element of one of lango's sets or maps; `object` is the quota or limit a map element
/// points to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Element {
    pub set: &'static str,
    pub key: Key,
    pub object: Option<String>,
}

/// One device's set and map elements.
pub(super) fn elements_of(c: &AllowedClient) -> Vec<Element> {
    let id = c.session_id;
    let element = |set, key: &Key, object: Option<String>| Element {
        set,
        key: key.clone(),
        object,
    };
    let mut out = vec![element("paid_mac", &Key::Mac(c.mac), None)];
    let addresses = c.ipv4.map(IpAddr::V4).into_iter();
    for ip in addresses.chain(c.ipv6.iter().copied().map(IpAddr::V6)) {
        let is4 = ip.is_ipv4();
        let pick = |v4: &'static str, v6: &'static str| if is4 { v4 } else { v6 };
        let (up, down) = (Key::MacIp(c.mac, ip), Key::Ip(ip));
        out.push(element(pick("paid4", "paid6"), &up, None));
        out.push(element(pick("paid_ip4", "paid_ip6"), &down, None));
        if c.quota_left.is_some() {
            let q = Some(format!("q{}", c.group));
            out.push(element(pick("quota_up4", "quota_up6"), &up, q.clone()));
            out.push(element(pick("quota_dn4", "quota_dn6"), &down, q));
        }
        if c.rate_up_kbit.is_some() {
            let lu = Some(format!("lu{id}"));
            out.push(element(pick("limit_up4", "limit_up6"), &up, lu));
        }
        if c.rate_down_kbit.is_some() {
            let ld = Some(format!("ld{id}"));
            out.push(element(pick("limit_dn4", "limit_dn6"), &down, ld));
        }
        if c.fair_kbit.is_some() && c.quota_left.is_some() {
            let (fu, fd) = (Some(format!("fu{id}")), Some(format!("fd{id}")));
            out.push(element(pick("fair_up4", "fair_up6"), &up, fu));
            out.push(element(pick("fair_dn4", "fair_dn6"), &down, fd));
        }
    }
    out
}

/// The deletes of one device's limit objects, and of its purchase's quota object with
/// `quota` (when no other device of the purchase keeps it).
pub(super) fn objects_of(c: &AllowedClient, quota: bool) -> Vec<Op> {
    let mut out = Vec::new();
    if c.quota_left.is_some() && quota {
        out.push(Op::DelQuota(format!("q{}", c.group)));
    }
    out.extend(
        limits_of(c)
            .into_iter()
            .map(|(name, ..)| Op::DelLimit(name)),
    );
    out
}

/// One kernel operation on `table inet lango`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    AddQuota {
        name: String,
        total: u64,
        used: u64,
    },
    /// A speed cap (`over`: matches what exceeds it) or a fair-use speed (matches what is
    /// within it).
    AddLimit {
        name: String,
        rate: u64,
        burst: u64,
        over: bool,
    },
    AddElement {
        element: Element,
        timeout_ms: u64,
    },
    DelElement(Element),
    DelQuota(String),
    DelLimit(String),
    /// Empties a set (a netlink delete of its elements that names none).
    FlushSet(&'static str),
}

/// Pure: the allow-list's change as one flush of `allow_mac` and an add of every MAC on the
/// list (no timeout: the set has none), or nothing when the list is the same. Its cost is the
/// list's length, never the number of paid devices, and no other element is touched.
pub(crate) fn allow_ops(old: &Desired, new: &Desired) -> Vec<Op> {
    if old.allowed == new.allowed {
        return Vec::new();
    }
    let add = |mac: &Mac| Op::AddElement {
        element: Element {
            set: "allow_mac",
            key: Key::Mac(*mac),
            object: None,
        },
        timeout_ms: 0,
    };
    let mut out = vec![Op::FlushSet("allow_mac")];
    out.extend(new.allowed.iter().map(add));
    out
}

/// Pure: one small transaction for a change: the elements and objects of the devices that go
/// are deleted, those of the devices that come are added, and nothing else is touched, so its
/// cost does not grow with the number of paid devices. A device whose time ran out
/// (`deadline_ms` at or before `at_ms`) has no elements left to delete: the kernel's timeouts
/// removed them. Its objects are not deleted here either: the expired map elements keep
/// referencing them until the kernel's garbage collection reaps them, and a delete before that
/// fails the whole batch (EBUSY) and with it every expiry's small update (`NftState::stale`).
pub(crate) fn ops(delta: &Delta<'_>, at_ms: i64) -> Vec<Op> {
    let mut out = Vec::new();
    let mut objects = Vec::new();
    // A purchase's quota object goes once, when none of its devices keeps it, and after every
    // element that references it (the kernel refuses to delete an object still in use).
    // Few: a list, not a set (code size on the router).
    let mut gone = Vec::new();
    for c in delta.removed.iter().filter(|c| c.deadline_ms > at_ms) {
        out.extend(elements_of(c).into_iter().map(Op::DelElement));
        let quota = !delta.kept.contains(&c.group) && !gone.contains(&c.group);
        gone.push(c.group);
        objects.extend(objects_of(c, quota));
    }
    out.append(&mut objects);
    let mut made = Vec::new();
    for c in &delta.added {
        let new_quota = !delta.kept.contains(&c.group) && !made.contains(&c.group);
        made.push(c.group);
        add_device(&mut out, c, new_quota);
    }
    out
}

/// One device's adds: its purchase's quota object (with `new_quota`), its limit objects, then
/// its elements, which reference them.
fn add_device(out: &mut Vec<Op>, c: &AllowedClient, new_quota: bool) {
    if let Some((total, used)) = quota_params(c).filter(|_| new_quota) {
        let name = format!("q{}", c.group);
        out.push(Op::AddQuota { name, total, used });
    }
    for (name, kbit, over) in limits_of(c) {
        let (rate, burst) = limit_params(kbit);
        out.push(Op::AddLimit {
            name,
            rate,
            burst,
            over,
        });
    }
    let timeout_ms = timeout_ms(c);
    out.extend(elements_of(c).into_iter().map(|element| Op::AddElement {
        element,
        timeout_ms,
    }));
}

/// Pure: a restore into an empty table, device by device (`netlink::bulk` keeps each device's
/// operations in one batch): its objects and elements, the quota of a purchase for several
/// devices made by its first device. Made as the batches are encoded, not all at once.
pub(crate) fn restore_groups(desired: &Desired) -> impl Iterator<Item = Vec<Op>> + '_ {
    let mut made = HashSet::new();
    desired.clients.iter().map(move |c| {
        let mut out = Vec::with_capacity(24);
        add_device(&mut out, c, made.insert(c.group));
        out
    })
}

/// Pure: the operations as an nft script, one line each (the path when netlink is missing).
pub(crate) fn render_delta(ops: &[Op]) -> String {
    let mut out = String::new();
    for op in ops {
        let _ = match op {
            Op::AddQuota { name, total, used } => writeln!(
                out,
                "add quota inet lango {name} {{ over {total} bytes used {used} bytes }}"
            ),
            Op::AddLimit {
                name,
                rate,
                burst,
                over,
            } => writeln!(
                out,
                "add limit inet lango {name} {{ {} }}",
                limit_body(*rate, *burst, *over)
            ),
            Op::AddElement {
                element,
                timeout_ms,
            } => {
                let Element { set, key, object } = element;
                let object = object
                    .as_ref()
                    .map(|o| format!(" : \"{o}\""))
                    .unwrap_or_default();
                let t = match timeout_ms {
                    0 => String::new(),
                    ms => format!(" timeout {}", nft_duration(*ms)),
                };
                writeln!(out, "add element inet lango {set} {{ {key}{t}{object} }}")
            }
            Op::DelElement(Element { set, key, .. }) => {
                writeln!(out, "delete element inet lango {set} {{ {key} }}")
            }
            Op::DelQuota(name) => writeln!(out, "delete quota inet lango {name}"),
            Op::DelLimit(name) => writeln!(out, "delete limit inet lango {name}"),
            Op::FlushSet(set) => writeln!(out, "flush set inet lango {set}"),
        };
    }
    out
}
