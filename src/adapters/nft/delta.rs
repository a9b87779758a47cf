//! One small transaction per change (pure): which devices differ between the last applied
//! state and the new one (`delta`), and the script that deletes the elements and objects of
//! those that go and adds those of those that come (`render_delta`), touching nothing else.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::render::{limit_object, timeout};
use crate::core::firewall::{AllowedClient, Desired};

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
}

/// What changed between two states: devices whose kernel state goes, and devices whose state
/// comes (a changed device is in both).
pub(crate) struct Delta<'a> {
    pub removed: Vec<&'a AllowedClient>,
    pub added: Vec<&'a AllowedClient>,
}

/// Pure: the devices that differ between `old` and `new`, matched by session.
pub(crate) fn delta<'a>(old: &'a Desired, new: &'a Desired) -> Delta<'a> {
    let old_by_id: HashMap<u64, &AllowedClient> =
        old.clients.iter().map(|c| (c.session_id, c)).collect();
    let new_by_id: HashMap<u64, &AllowedClient> =
        new.clients.iter().map(|c| (c.session_id, c)).collect();
    let removed = old
        .clients
        .iter()
        .filter(|c| {
            new_by_id
                .get(&c.session_id)
                .is_none_or(|n| !same_grant(c, n))
        })
        .collect();
    let added = new
        .clients
        .iter()
        .filter(|c| {
            old_by_id
                .get(&c.session_id)
                .is_none_or(|o| !same_grant(c, o))
        })
        .collect();
    Delta { removed, added }
}

/// One device's quota and limit objects, as `quota inet lango q7`.
pub(super) fn objects_of(c: &AllowedClient) -> Vec<String> {
    let id = c.session_id;
    let mut out = Vec::new();
    if c.quota_left.is_some() {
        out.push(format!("quota inet lango q{id}"));
    }
    if c.rate_up_kbit.is_some() {
        out.push(format!("limit inet lango lu{id}"));
    }
    if c.rate_down_kbit.is_some() {
        out.push(format!("limit inet lango ld{id}"));
    }
    out
}

/// One device's set and map elements, as `(set, element)` pairs without timeouts.
pub(super) fn elements_of(c: &AllowedClient) -> Vec<(&'static str, String)> {
    let id = c.session_id;
    let mut out = vec![("paid_mac", c.mac.to_string())];
    let mut add = |is4: bool, up: String, down: String| {
        let (paid, paid_ip) = if is4 {
            ("paid4", "paid_ip4")
        } else {
            ("paid6", "paid_ip6")
        };
        out.push((paid, up.clone()));
        out.push((paid_ip, down.clone()));
        if c.quota_left.is_some() {
            let (qu, qd) = if is4 {
                ("quota_up4", "quota_dn4")
            } else {
                ("quota_up6", "quota_dn6")
            };
            out.push((qu, format!("{up} : \"q{id}\"")));
            out.push((qd, format!("{down} : \"q{id}\"")));
        }
        if c.rate_up_kbit.is_some() {
            out.push((
                if is4 { "limit_up4" } else { "limit_up6" },
                format!("{up} : \"lu{id}\""),
            ));
        }
        if c.rate_down_kbit.is_some() {
            out.push((
                if is4 { "limit_dn4" } else { "limit_dn6" },
                format!("{down} : \"ld{id}\""),
            ));
        }
    };
    if let Some(v4) = c.ipv4 {
        add(true, format!("{} . {v4}", c.mac), v4.to_string());
    }
    for v6 in &c.ipv6 {
        add(false, format!("{} . {v6}", c.mac), v6.to_string());
    }
    out
}

/// Pure: one small transaction for a change: the elements and objects of the devices that go
/// are deleted, those of the devices that come are added, and nothing else is touched, so its
/// cost does not grow with the number of paid devices (the nft CLI still loads its cache). A
/// device whose time ran out (`deadline_ms` at or before `at_ms`) has no elements left to delete:
/// the kernel's timeouts removed them. Its objects are not deleted here either: expired map
/// elements keep referencing them until the kernel's garbage collection reaps them, and a
/// delete before that fails the whole transaction (EBUSY). They go later (`stale_objects`).
pub(crate) fn render_delta(delta: &Delta<'_>, at_ms: i64) -> String {
    let mut out = String::new();
    for c in delta.removed.iter().filter(|c| c.deadline_ms > at_ms) {
        // Map elements first: an object still referenced cannot be deleted.
        for (set, element) in elements_of(c) {
            let key = element.split(" : ").next().unwrap_or(&element);
            let _ = writeln!(out, "delete element inet lango {set} {{ {key} }}");
        }
        for object in objects_of(c) {
            let _ = writeln!(out, "delete {object}");
        }
    }
    for c in &delta.added {
        let id = c.session_id;
        if let Some(left) = c.quota_left {
            let total = c.quota_total.unwrap_or(left).max(left).max(1);
            let _ = writeln!(
                out,
                "add quota inet lango q{id} {{ over {total} bytes used {} bytes }}",
                total - left
            );
        }
        for (name, kbit) in [("lu", c.rate_up_kbit), ("ld", c.rate_down_kbit)] {
            if let Some(kbit) = kbit {
                let object = limit_object(&format!("{name}{id}"), kbit);
                let object = object.trim().trim_start_matches("limit ");
                let _ = writeln!(out, "add limit inet lango {object}");
            }
        }
        let t = timeout(c);
        for (set, element) in elements_of(c) {
            let element = match element.split_once(" : ") {
                Some((key, value)) => format!("{key} {t} : {value}"),
                None => format!("{element} {t}"),
            };
            let _ = writeln!(out, "add element inet lango {set} {{ {element} }}");
        }
    }
    out
}
