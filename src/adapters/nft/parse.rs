//! What lango reads back (pure): per-element byte counters, quota use and the `seen6` set from
//! `nft -j`, and whether fw4's config turns on flow offloading.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

use crate::core::firewall::Desired;
use crate::core::model::Mac;

/// Pure: whether an OpenWrt firewall config turns on flow offloading. Offloaded flows skip the
/// forward hook, so lango's counters, quotas, speed caps and expiry would not see them.
pub(crate) fn flow_offloading_enabled(firewall_config: &str) -> bool {
    let (file, _) = crate::core::uci::parse(firewall_config);
    file.sections
        .iter()
        .filter(|s| s.kind == "defaults")
        .any(|s| {
            s.options.iter().any(|o| {
                matches!(o.name.as_str(), "flow_offloading" | "flow_offloading_hw")
                    && o.values.last().is_some_and(|v| {
                        matches!(v.text.as_str(), "1" | "on" | "true" | "yes" | "enabled")
                    })
            })
        })
}

/// Byte counts per set element and quota use, as the kernel's dumps (`dump.rs`) or `nft -j list
/// table inet lango` show them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Uploads: (MAC, source address) pairs.
    pub up: HashMap<(Mac, IpAddr), u64>,
    /// Downloads: destination addresses.
    pub down: HashMap<IpAddr, u64>,
    /// Bytes used per quota object, by purchase (`q<group>`, `AllowedClient::group`).
    pub quota_used: HashMap<u64, u64>,
    /// The `seen6` set: IPv6 sources of paid MACs not allowed yet.
    pub seen6: Vec<(Mac, Ipv6Addr)>,
}

/// Pure: reads the element counters of the paid sets out of nft's JSON. Unknown shapes are
/// skipped, never fatal.
pub(crate) fn parse_usage(json: &str) -> Counters {
    let mut counters = Counters::default();
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(json) else {
        return counters;
    };
    let Some(items) = doc.get("nftables").and_then(|v| v.as_array()) else {
        return counters;
    };
    for item in items {
        if let Some(quota) = item.get("quota") {
            let name = quota.get("name").and_then(|n| n.as_str()).unwrap_or("");
            let id = name.strip_prefix('q').and_then(|n| n.parse::<u64>().ok());
            let used = quota.get("used").and_then(|u| u.as_u64());
            if let (Some(id), Some(used)) = (id, used) {
                counters.quota_used.insert(id, used);
            }
            continue;
        }
        let Some(set) = item.get("set") else { continue };
        let name = set.get("name").and_then(|n| n.as_str()).unwrap_or("");
        let Some(elems) = set.get("elem").and_then(|e| e.as_array()) else {
            continue;
        };
        for elem in elems {
            // An element with a timeout or counter is wrapped in "elem"; a bare one is not.
            let (val, bytes) = match elem.get("elem") {
                Some(inner) => (
                    inner.get("val"),
                    inner
                        .pointer("/counter/bytes")
                        .and_then(|b| b.as_u64())
                        .unwrap_or(0),
                ),
                None => (Some(elem), 0),
            };
            match name {
                "seen6" => {
                    let concat = val.and_then(|v| v.get("concat")).and_then(|c| c.as_array());
                    let mac = concat.and_then(|c| c.first()).and_then(|m| m.as_str());
                    let addr = concat.and_then(|c| c.get(1)).and_then(|a| a.as_str());
                    if let (Some(Ok(mac)), Some(Ok(addr))) =
                        (mac.map(str::parse::<Mac>), addr.map(str::parse::<Ipv6Addr>))
                    {
                        counters.seen6.push((mac, addr));
                    }
                }
                "paid4" | "paid6" => {
                    let concat = val.and_then(|v| v.get("concat")).and_then(|c| c.as_array());
                    let parts = concat.map(|c| {
                        (
                            c.first().and_then(|m| m.as_str()),
                            c.get(1).and_then(|a| a.as_str()),
                        )
                    });
                    if let Some((Some(mac), Some(addr))) = parts {
                        if let (Ok(mac), Ok(addr)) = (mac.parse::<Mac>(), addr.parse::<IpAddr>()) {
                            *counters.up.entry((mac, addr)).or_default() += bytes;
                        }
                    }
                }
                "paid_ip4" | "paid_ip6" => {
                    if let Some(Ok(addr)) = val.and_then(|v| v.as_str()).map(str::parse::<IpAddr>) {
                        *counters.down.entry(addr).or_default() += bytes;
                    }
                }
                _ => {}
            }
        }
    }
    counters
}

/// Pure: sums counters per device of a desired state.
pub(crate) fn usage_of(desired: &Desired, counters: &Counters) -> HashMap<u64, (u64, u64)> {
    let mut out = HashMap::new();
    for c in &desired.clients {
        let addrs: Vec<IpAddr> = c
            .ipv4
            .map(IpAddr::V4)
            .into_iter()
            .chain(c.ipv6.iter().copied().map(IpAddr::V6))
            .collect();
        let up: u64 = addrs
            .iter()
            .filter_map(|a| counters.up.get(&(c.mac, *a)))
            .sum();
        let down: u64 = addrs.iter().filter_map(|a| counters.down.get(a)).sum();
        out.insert(c.session_id, (up, down));
    }
    out
}
