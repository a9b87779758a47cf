//! The kernel side of the firewall: `table inet lango`. `render` is pure and turns a desired
//! state into one nft script that replaces the whole table atomically; `parse_usage` reads the
//! per-element byte counters back from `nft -j`. `NftFirewall` applies through `sys::Runner`
//! (one `nft -f -` per change, never one process per rule) and skips the apply when the table
//! is present and already says the same.
//!
//! Paid devices are set elements, not rules: `ether saddr . ip saddr` pairs (and the IPv6
//! addresses of the same MAC) with the session's remaining time as element timeout, so access
//! ends on time even if lango is dead, and per-packet cost is a hash lookup whatever the number
//! of clients. Quotas and speed caps are named `quota`/`limit` objects reached through maps.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use crate::adapters::sys::Runner;
use crate::core::firewall::{AllowedClient, Desired, Firewall, FirewallError, Usage};
use crate::core::model::Mac;

/// What the rendered table needs to know besides the clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftOptions {
    /// The Linux device the guests are on (`br-lan`). Validated by the config parser.
    pub device: String,
    /// Port 80 from unpaid devices is redirected here.
    pub portal_port: u16,
    /// The portal's HTTPS port, when TLS is configured.
    pub tls_port: Option<u16>,
    /// DNS from unpaid devices is redirected here (lango's own responder, no recursion).
    pub dns_port: u16,
    /// Forwarded packets leave for guests with TTL / hop limit 1, so that a phone cannot share
    /// its paid access through a hotspot of its own (`option block_tethering`).
    pub block_tethering: bool,
    /// Where fw4 loads the gate table from (a `ruleset-post` include), if anywhere.
    pub gate_file: Option<std::path::PathBuf>,
    /// The owner's devices on the guests' network: they reach the router without paying.
    pub owner_macs: Vec<Mac>,
}

/// The firewall options from the gateway config.
pub fn options_for(gw: &crate::core::config::Gateway) -> NftOptions {
    NftOptions {
        device: gw.device.clone(),
        portal_port: gw.portal_port,
        tls_port: gw.tls_cert.as_ref().map(|_| gw.tls_port),
        dns_port: gw.dns_port,
        block_tethering: gw.block_tethering,
        gate_file: Some(gw.gate_file.clone()),
        owner_macs: gw.owner_macs.clone(),
    }
}

/// Element timeouts are capped: very long timeouts overflow on some kernels, and lango
/// refreshes them at every reconcile anyway. A dead lango leaves at most this much access.
const MAX_TIMEOUT_MS: u64 = 20 * 86_400 * 1000;

/// Burst of a speed cap, in milliseconds of traffic at the capped rate. Policing with a short
/// bucket makes TCP collapse well below the cap; a quarter second keeps it close to the cap.
const BURST_MS: u64 = 250;

fn timeout(client: &AllowedClient) -> String {
    format!(
        "timeout {}",
        nft_duration(client.timeout_ms.clamp(1, MAX_TIMEOUT_MS))
    )
}

/// Pure: milliseconds as nft writes a duration (`1d3h46m40s`, `250ms`). nft's parser takes at
/// most 8 digits per number, so `172800000ms` (two days) is refused with "value too large" and
/// the whole table with it; split into units, no number is ever that long.
fn nft_duration(ms: u64) -> String {
    let parts = [
        (ms / 86_400_000, "d"),
        (ms / 3_600_000 % 24, "h"),
        (ms / 60_000 % 60, "m"),
        (ms / 1000 % 60, "s"),
        (ms % 1000, "ms"),
    ];
    let text: String = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if text.is_empty() {
        "0ms".into()
    } else {
        text
    }
}

/// kbit/s (1000 bits) to bytes per second, at least 1.
fn bytes_per_sec(kbit: u32) -> u64 {
    (u64::from(kbit) * 1000 / 8).max(1)
}

/// One speed cap object. nft's token bucket holds one second of traffic plus the burst, so a
/// transfer starts fast for about a second and then runs at the cap.
fn limit_object(name: &str, kbit: u32) -> String {
    let rate = bytes_per_sec(kbit);
    let burst = (rate * BURST_MS / 1000).max(16_384);
    format!("\tlimit {name} {{ rate over {rate} bytes/second burst {burst} bytes }}\n")
}

/// The packet mark bit lango's table sets on every packet of a paid device. The gate table
/// (`render_gate`) drops guest packets without it, so the deny does not depend on lango's
/// table: removed, flushed or never created, guests stay out. (mwan3 uses 0x3F00, fw4 none.)
pub(crate) const PAID_MARK: u32 = 0x2000_0000;

/// New connections per second one source may open to the portal ports (burst twice that).
const PORTAL_NEW_PER_SEC: u32 = 20;

/// Pure: the gate, `table inet lango_gate`: static (it depends on the config, never on the
/// guests), created before lango's table and never deleted by lango while it gates (only when
/// the owner switches lango off). On a router fw4 loads it too, from its `ruleset-post`
/// include, so a fw4 restart or `nft flush ruleset` followed by fw4's reload restores it in
/// the same transaction. It lets guests reach on the router only DHCP, lango's DNS responder,
/// the portal ports (rate-limited per source) and the ICMP they need, plus DNS to dnsmasq for
/// paid devices; and it drops every forwarded guest packet that lango's table did not mark.
pub fn render_gate(options: &NftOptions) -> String {
    let dev = &options.device;
    let mark = format!("0x{PAID_MARK:08x}");
    let mut ports = vec![options.portal_port.to_string()];
    if let Some(tls) = options.tls_port {
        ports.push(tls.to_string());
    }
    let ports = ports.join(", ");
    let rate = PORTAL_NEW_PER_SEC;
    let burst = PORTAL_NEW_PER_SEC * 2;
    let owners = if options.owner_macs.is_empty() {
        String::new()
    } else {
        let macs: Vec<String> = options.owner_macs.iter().map(Mac::to_string).collect();
        format!("\t\tether saddr {{ {} }} accept\n", macs.join(", "))
    };
    format!(
        "table inet lango_gate
delete table inet lango_gate
table inet lango_gate {{
\tset portal_rate4 {{
\t\ttype ipv4_addr; size 4096; flags dynamic,timeout; timeout 1m;
\t}}
\tset portal_rate6 {{
\t\ttype ipv6_addr; size 4096; flags dynamic,timeout; timeout 1m;
\t}}
\tchain input {{
\t\ttype filter hook input priority filter - 4; policy accept;
\t\tiifname != \"{dev}\" return
{owners}\t\tudp dport {{ 67, 547 }} accept
\t\ticmp type {{ echo-request, destination-unreachable, time-exceeded, parameter-problem }} accept
\t\ticmpv6 type {{ destination-unreachable, packet-too-big, time-exceeded, parameter-problem, echo-request, nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-report, mld2-listener-report }} accept
\t\ttcp dport {{ {ports} }} ct state new add @portal_rate4 {{ ip saddr limit rate over {rate}/second burst {burst} packets }} drop
\t\ttcp dport {{ {ports} }} ct state new add @portal_rate6 {{ ip6 saddr limit rate over {rate}/second burst {burst} packets }} drop
\t\ttcp dport {{ {ports} }} accept
\t\tudp dport {dns} accept
\t\tmeta mark & {mark} == {mark} meta l4proto {{ tcp, udp }} th dport 53 accept
\t\tmeta l4proto tcp reject with tcp reset
\t\tdrop
\t}}
\tchain forward {{
\t\ttype filter hook forward priority filter - 4; policy accept;
\t\tiifname \"{dev}\" meta mark & {mark} != {mark} drop
\t\toifname \"{dev}\" meta mark & {mark} != {mark} drop
\t}}
}}
",
        dns = options.dns_port,
    )
}

/// Pure: the complete nft script for a desired state.
pub fn render(desired: &Desired, options: &NftOptions) -> String {
    let dev = &options.device;
    let mut objects = String::new();
    let mut paid_mac = Vec::new();
    let mut paid4 = Vec::new();
    let mut paid6 = Vec::new();
    let mut paid_ip4 = Vec::new();
    let mut paid_ip6 = Vec::new();
    let mut quota_up4 = Vec::new();
    let mut quota_up6 = Vec::new();
    let mut quota_dn4 = Vec::new();
    let mut quota_dn6 = Vec::new();
    let mut limit_up4 = Vec::new();
    let mut limit_up6 = Vec::new();
    let mut limit_dn4 = Vec::new();
    let mut limit_dn6 = Vec::new();
    for c in &desired.clients {
        let t = timeout(c);
        let id = c.session_id;
        if let Some(left) = c.quota_left {
            // The whole quota and what is used of it: a rebuilt table carries the use over
            // instead of handing the guest a fresh quota.
            let total = c.quota_total.unwrap_or(left).max(left).max(1);
            let used = total - left;
            let _ = writeln!(
                objects,
                "\tquota q{id} {{ over {total} bytes used {used} bytes }}"
            );
        }
        if let Some(kbit) = c.rate_up_kbit {
            objects.push_str(&limit_object(&format!("lu{id}"), kbit));
        }
        if let Some(kbit) = c.rate_down_kbit {
            objects.push_str(&limit_object(&format!("ld{id}"), kbit));
        }
        paid_mac.push(format!("{} {t}", c.mac));
        let mut up_keys = Vec::new();
        let mut down_keys = Vec::new();
        if let Some(v4) = c.ipv4 {
            paid4.push(format!("{} . {v4} {t}", c.mac));
            paid_ip4.push(format!("{v4} {t}"));
            up_keys.push((true, format!("{} . {v4}", c.mac)));
            down_keys.push((true, v4.to_string()));
        }
        for v6 in &c.ipv6 {
            paid6.push(format!("{} . {v6} {t}", c.mac));
            paid_ip6.push(format!("{v6} {t}"));
            up_keys.push((false, format!("{} . {v6}", c.mac)));
            down_keys.push((false, v6.to_string()));
        }
        for (is4, key) in &up_keys {
            if c.quota_left.is_some() {
                let list = if *is4 { &mut quota_up4 } else { &mut quota_up6 };
                list.push(format!("{key} {t} : \"q{id}\""));
            }
            if c.rate_up_kbit.is_some() {
                let list = if *is4 { &mut limit_up4 } else { &mut limit_up6 };
                list.push(format!("{key} {t} : \"lu{id}\""));
            }
        }
        for (is4, key) in &down_keys {
            if c.quota_left.is_some() {
                let list = if *is4 { &mut quota_dn4 } else { &mut quota_dn6 };
                list.push(format!("{key} {t} : \"q{id}\""));
            }
            if c.rate_down_kbit.is_some() {
                let list = if *is4 { &mut limit_dn4 } else { &mut limit_dn6 };
                list.push(format!("{key} {t} : \"ld{id}\""));
            }
        }
    }
    let set = |name: &str, ty: &str, extra: &str, elements: &[String]| -> String {
        let mut out = format!("\t{name} {{\n\t\ttype {ty}; flags timeout;{extra}\n");
        if !elements.is_empty() {
            let _ = writeln!(
                out,
                "\t\telements = {{\n\t\t\t{}\n\t\t}}",
                elements.join(",\n\t\t\t")
            );
        }
        out.push_str("\t}\n");
        out
    };
    let mac4 = "ether_addr . ipv4_addr";
    let mac6 = "ether_addr . ipv6_addr";
    let mark = format!("meta mark set meta mark | 0x{PAID_MARK:08x}");
    let (ttl4, ttl6) = if options.block_tethering {
        ("\t\tip ttl set 1\n", "\t\tip6 hoplimit set 1\n")
    } else {
        ("", "")
    };
    let mut out = String::new();
    // Create-then-delete makes the first line succeed whether or not the table exists; the
    // whole file is one transaction, so traffic never sees a half-built table (and the gate
    // table keeps guests out even while this one is missing).
    out.push_str("table inet lango\ndelete table inet lango\ntable inet lango {\n");
    out.push_str(&objects);
    out.push_str(&set("set paid_mac", "ether_addr", "", &paid_mac));
    out.push_str(&set("set paid4", mac4, " counter;", &paid4));
    out.push_str(&set("set paid6", mac6, " counter;", &paid6));
    out.push_str(&set("set paid_ip4", "ipv4_addr", " counter;", &paid_ip4));
    out.push_str(&set("set paid_ip6", "ipv6_addr", " counter;", &paid_ip6));
    // IPv6 sources of paid MACs that are not allowed yet: evidence for `core::ipv6`. Only a
    // packet sent as a paid MAC lands here, and the set is bounded.
    let _ = writeln!(
        out,
        "\tset seen6 {{\n\t\ttype {mac6}; size 1024; flags dynamic,timeout; timeout 2m;\n\t}}"
    );
    out.push_str(&set(
        "map quota_up4",
        &format!("{mac4} : quota"),
        "",
        &quota_up4,
    ));
    out.push_str(&set(
        "map quota_up6",
        &format!("{mac6} : quota"),
        "",
        &quota_up6,
    ));
    out.push_str(&set("map quota_dn4", "ipv4_addr : quota", "", &quota_dn4));
    out.push_str(&set("map quota_dn6", "ipv6_addr : quota", "", &quota_dn6));
    out.push_str(&set(
        "map limit_up4",
        &format!("{mac4} : limit"),
        "",
        &limit_up4,
    ));
    out.push_str(&set(
        "map limit_up6",
        &format!("{mac6} : limit"),
        "",
        &limit_up6,
    ));
    out.push_str(&set("map limit_dn4", "ipv4_addr : limit", "", &limit_dn4));
    out.push_str(&set("map limit_dn6", "ipv6_addr : limit", "", &limit_dn6));
    let _ = write!(
        out,
        "\tchain prerouting {{
\t\ttype nat hook prerouting priority dstnat - 5; policy accept;
\t\tiifname != \"{dev}\" return
\t\tether saddr . ip saddr @paid4 return
\t\tether saddr . ip6 saddr @paid6 return
\t\tudp dport 53 redirect to :{dns}
\t\ttcp dport 80 redirect to :{portal}
\t}}
\tchain input {{
\t\ttype filter hook input priority filter - 5; policy accept;
\t\tiifname != \"{dev}\" return
\t\tether saddr . ip saddr @paid4 {mark} return
\t\tether saddr . ip6 saddr @paid6 {mark} return
\t\tether saddr @paid_mac ip6 saddr != fe80::/10 add @seen6 {{ ether saddr . ip6 saddr }}
\t}}
\tchain forward {{
\t\ttype filter hook forward priority filter - 5; policy accept;
\t\tiifname \"{dev}\" jump from_guest
\t\toifname \"{dev}\" jump to_guest
\t}}
\tchain from_guest {{
\t\tether saddr . ip saddr @paid4 goto up4
\t\tether saddr . ip6 saddr @paid6 goto up6
\t\tether saddr @paid_mac ip6 saddr != fe80::/10 add @seen6 {{ ether saddr . ip6 saddr }}
\t\tmeta l4proto tcp reject with tcp reset
\t\tdrop
\t}}
\tchain up4 {{
\t\tquota name ether saddr . ip saddr map @quota_up4 drop
\t\tlimit name ether saddr . ip saddr map @limit_up4 drop
\t\t{mark} accept
\t}}
\tchain up6 {{
\t\tquota name ether saddr . ip6 saddr map @quota_up6 drop
\t\tlimit name ether saddr . ip6 saddr map @limit_up6 drop
\t\t{mark} accept
\t}}
\tchain to_guest {{
\t\tip daddr @paid_ip4 goto down4
\t\tip6 daddr @paid_ip6 goto down6
\t\tdrop
\t}}
\tchain down4 {{
\t\tquota name ip daddr map @quota_dn4 drop
\t\tlimit name ip daddr map @limit_dn4 drop
{ttl4}\t\t{mark} accept
\t}}
\tchain down6 {{
\t\tquota name ip6 daddr map @quota_dn6 drop
\t\tlimit name ip6 daddr map @limit_dn6 drop
{ttl6}\t\t{mark} accept
\t}}
}}
",
        dns = options.dns_port,
        portal = options.portal_port,
    );
    out
}

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

/// One device's set and map elements, as `(set, element)` pairs without timeouts.
fn elements_of(c: &AllowedClient) -> Vec<(&'static str, String)> {
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
/// the kernel's timeouts removed them; only its objects go.
pub(crate) fn render_delta(delta: &Delta<'_>, at_ms: i64) -> String {
    let mut out = String::new();
    for c in &delta.removed {
        // Map elements first: an object still referenced cannot be deleted.
        if c.deadline_ms > at_ms {
            for (set, element) in elements_of(c) {
                let key = element.split(" : ").next().unwrap_or(&element);
                let _ = writeln!(out, "delete element inet lango {set} {{ {key} }}");
            }
        }
        let id = c.session_id;
        if c.quota_left.is_some() {
            let _ = writeln!(out, "delete quota inet lango q{id}");
        }
        if c.rate_up_kbit.is_some() {
            let _ = writeln!(out, "delete limit inet lango lu{id}");
        }
        if c.rate_down_kbit.is_some() {
            let _ = writeln!(out, "delete limit inet lango ld{id}");
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

/// Byte counts per set element, as `nft -j list table inet lango` shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    /// Uploads: (MAC, source address) pairs.
    pub up: HashMap<(Mac, IpAddr), u64>,
    /// Downloads: destination addresses.
    pub down: HashMap<IpAddr, u64>,
    /// Bytes used per quota object, by session id (`q<id>`).
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

struct NftState {
    /// The key of the last state applied, and the state itself (for mapping counters).
    applied: Option<(Vec<AllowedClient>, Desired)>,
    /// Bytes counted by tables that have since been replaced, per session.
    carry: HashMap<u64, (u64, u64)>,
    /// The gate script last loaded.
    gate: Option<String>,
    /// Session id → when its elements were last written (Unix ms): elements capped at
    /// `MAX_TIMEOUT_MS` are rewritten before they run out.
    written_at: HashMap<u64, i64>,
}

/// The real firewall: `nft` through the runner.
pub struct NftFirewall {
    runner: Arc<dyn Runner>,
    options: NftOptions,
    state: Mutex<NftState>,
}

impl NftFirewall {
    pub fn new(runner: Arc<dyn Runner>, options: NftOptions) -> NftFirewall {
        NftFirewall {
            runner,
            options,
            state: Mutex::new(NftState {
                applied: None,
                carry: HashMap::new(),
                gate: None,
                written_at: HashMap::new(),
            }),
        }
    }

    fn nft(&self, args: &[&str], stdin: Option<&str>) -> Result<String, FirewallError> {
        let out = self
            .runner
            .run("nft", args, stdin)
            .map_err(|e| FirewallError::Unavailable(format!("cannot run nft: {e}")))?;
        if out.success() {
            Ok(out.stdout)
        } else {
            Err(FirewallError::Apply(
                out.stderr.trim().chars().take(600).collect(),
            ))
        }
    }

    /// The counters of the live table, or none if it is missing.
    fn read_counters(&self) -> Option<Counters> {
        self.nft(&["-j", "list", "table", "inet", "lango"], None)
            .ok()
            .map(|json| parse_usage(&json))
    }

    /// One set of the live table, parsed like the whole table.
    fn read_set(&self, name: &str) -> Result<Counters, FirewallError> {
        self.nft(&["-j", "list", "set", "inet", "lango", name], None)
            .map(|json| parse_usage(&json))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, NftState> {
        crate::core::locks::lock(&self.state)
    }

    /// Loads the gate table when it is missing or the config changed it, and writes it where
    /// fw4 includes it (only when the file differs: no flash write at every start).
    fn ensure_gate(&self, present: bool) -> Result<(), FirewallError> {
        let text = render_gate(&self.options);
        if present && self.lock().gate.as_deref() == Some(text.as_str()) {
            return Ok(());
        }
        if let Some(path) = &self.options.gate_file {
            let same = std::fs::read(path).is_ok_and(|old| old == text.as_bytes());
            if !same {
                let written = path
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|()| crate::adapters::sys::write_atomic(path, text.as_bytes()));
                if let Err(e) = written {
                    log::warn!(
                        "firewall: cannot write fw4's gate include {}: {e}",
                        path.display()
                    );
                }
            }
        }
        self.nft(&["-f", "-"], Some(&text))?;
        if !present {
            log::info!("firewall: gate table inet lango_gate loaded");
        }
        self.lock().gate = Some(text);
        Ok(())
    }

    /// Removes lango's tables and fw4's gate include: only when the owner switches lango off,
    /// since without the gate guests are no longer held back.
    pub(crate) fn remove(&self) -> Result<(), FirewallError> {
        if let Some(path) = &self.options.gate_file {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => log::warn!("firewall: cannot remove {}: {e}", path.display()),
            }
        }
        self.nft(
            &["-f", "-"],
            Some(
                "table inet lango\ndelete table inet lango\n\
                 table inet lango_gate\ndelete table inet lango_gate\n",
            ),
        )
        .map(|_| ())
    }
}

/// Pure: which of lango's tables `nft list tables` shows: (lango, lango_gate).
fn tables_present(listing: &str) -> (bool, bool) {
    let mut present = (false, false);
    for line in listing.lines() {
        match line.trim() {
            "table inet lango" => present.0 = true,
            "table inet lango_gate" => present.1 = true,
            _ => {}
        }
    }
    present
}

impl NftFirewall {
    /// Whether a device's elements, capped at `MAX_TIMEOUT_MS`, are halfway to running out
    /// before its session does: then the whole table is rewritten (about once in ten days).
    fn needs_refresh(&self, desired: &Desired) -> bool {
        let state = self.lock();
        let cap = MAX_TIMEOUT_MS as i64;
        desired.clients.iter().any(|c| {
            state.written_at.get(&c.session_id).is_some_and(|at| {
                c.deadline_ms > at.saturating_add(cap) && desired.at_ms > at.saturating_add(cap / 2)
            })
        })
    }

    /// The change from the last applied state in one small transaction. Devices that change
    /// (an extension, a new address) get their counters carried and their quota's use read
    /// first, each with one small nft call; devices that come or go cost nothing else.
    fn apply_delta(&self, old: &Desired, desired: &Desired) -> Result<(), FirewallError> {
        let mut desired = desired.clone();
        let changing: Vec<AllowedClient> = {
            let d = delta(old, &desired);
            let ids: std::collections::HashSet<u64> =
                d.added.iter().map(|c| c.session_id).collect();
            d.removed
                .iter()
                .filter(|c| ids.contains(&c.session_id) && c.deadline_ms > desired.at_ms)
                .map(|c| (*c).clone())
                .collect()
        };
        let mut counted = Counters::default();
        for c in &changing {
            let id = c.session_id.to_string();
            if c.quota_left.is_some() {
                if let Ok(json) = self.nft(
                    &["-j", "list", "quota", "inet", "lango", &format!("q{id}")],
                    None,
                ) {
                    counted.quota_used.extend(parse_usage(&json).quota_used);
                }
            }
            for (set, key) in elements_of(c) {
                if matches!(set, "paid4" | "paid6" | "paid_ip4" | "paid_ip6") {
                    let key = format!("{{ {key} }}");
                    if let Ok(json) =
                        self.nft(&["-j", "get", "element", "inet", "lango", set, &key], None)
                    {
                        let found = parse_usage(&json);
                        counted.up.extend(found.up);
                        counted.down.extend(found.down);
                    }
                }
            }
        }
        carry_quotas(&mut desired, &counted);
        let script = {
            let d = delta(old, &desired);
            if d.removed.is_empty() && d.added.is_empty() {
                String::new()
            } else {
                render_delta(&d, desired.at_ms)
            }
        };
        if !script.is_empty() {
            self.nft(&["-f", "-"], Some(&script))?;
        }
        let mut state = self.lock();
        let old_state = Desired {
            clients: changing,
            at_ms: desired.at_ms,
        };
        for (session, (up, down)) in usage_of(&old_state, &counted) {
            let entry = state.carry.entry(session).or_default();
            entry.0 += up;
            entry.1 += down;
        }
        let ids: std::collections::HashSet<u64> =
            desired.clients.iter().map(|c| c.session_id).collect();
        state.carry.retain(|id, _| ids.contains(id));
        state.written_at.retain(|id, _| ids.contains(id));
        for c in delta(old, &desired).added {
            state.written_at.insert(c.session_id, desired.at_ms);
        }
        state.applied = Some((desired.key(), desired));
        Ok(())
    }
}

impl Firewall for NftFirewall {
    fn apply(&self, desired: &Desired) -> Result<(), FirewallError> {
        // Table names only: cheap even with thousands of devices.
        let (exists, gate) = tables_present(&self.nft(&["list", "tables"], None)?);
        // The gate first: while it stands, a missing or half-built lango table keeps guests
        // out instead of letting them in.
        self.ensure_gate(gate)?;
        let key = desired.key();
        let previous = self.lock().applied.clone();
        let refresh = self.needs_refresh(desired);
        if exists && !refresh {
            if let Some((old_key, old)) = previous {
                if old_key == key {
                    return Ok(());
                }
                // One small transaction for the change; the whole table only if the kernel
                // refuses it (an element gone behind lango's back, say).
                match self.apply_delta(&old, desired) {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        log::info!("firewall: small update refused ({e}); rewriting the table")
                    }
                }
            }
        }
        // Read before replacing, also at the first apply after a restart: what the kernel
        // counted against each quota is carried into the new objects, never reset.
        let live = if exists { self.read_counters() } else { None };
        let mut state = self.lock();
        // The table is about to be replaced and its counters reset: keep what they counted.
        if let (Some(counters), Some((_, old))) = (&live, &state.applied) {
            for (session, (up, down)) in usage_of(old, counters) {
                let entry = state.carry.entry(session).or_default();
                entry.0 += up;
                entry.1 += down;
            }
        }
        drop(state);
        let mut desired = desired.clone();
        if let Some(counters) = &live {
            carry_quotas(&mut desired, counters);
        }
        let script = render(&desired, &self.options);
        self.nft(&["-f", "-"], Some(&script))?;
        let mut state = self.lock();
        let ids: std::collections::HashSet<u64> =
            desired.clients.iter().map(|c| c.session_id).collect();
        state.carry.retain(|id, _| ids.contains(id));
        state.written_at = desired
            .clients
            .iter()
            .map(|c| (c.session_id, desired.at_ms))
            .collect();
        state.applied = Some((key, desired));
        if !exists {
            log::info!(
                "firewall: table inet lango created with {} paid devices",
                ids.len()
            );
        }
        Ok(())
    }

    fn usage(&self) -> Result<Vec<Usage>, FirewallError> {
        let counters = self.read_counters().unwrap_or_default();
        let state = self.lock();
        let Some((_, desired)) = &state.applied else {
            return Ok(Vec::new());
        };
        let live = usage_of(desired, &counters);
        Ok(desired
            .clients
            .iter()
            .map(|c| {
                let (up, down) = live.get(&c.session_id).copied().unwrap_or_default();
                let (carry_up, carry_down) =
                    state.carry.get(&c.session_id).copied().unwrap_or_default();
                Usage {
                    mac: c.mac,
                    bytes_up: up + carry_up,
                    bytes_down: down + carry_down,
                }
            })
            .collect())
    }

    fn ipv6_seen(&self) -> Result<Vec<(Mac, Ipv6Addr)>, FirewallError> {
        Ok(self.read_set("seen6")?.seen6)
    }

    fn ipv6_allowed(&self) -> Result<Vec<(Mac, Ipv6Addr)>, FirewallError> {
        Ok(self
            .read_set("paid6")?
            .up
            .into_keys()
            .filter_map(|(mac, addr)| match addr {
                IpAddr::V6(v6) => Some((mac, v6)),
                IpAddr::V4(_) => None,
            })
            .collect())
    }

    fn forget(&self, addresses: &[IpAddr]) -> Result<(), FirewallError> {
        for addr in addresses {
            let addr = addr.to_string();
            for side in ["-s", "-d"] {
                // conntrack exits 1 when nothing matched; only a missing tool is an error.
                let out = self
                    .runner
                    .run("conntrack", &["-D", side, &addr], None)
                    .map_err(|e| {
                        FirewallError::Unavailable(format!("cannot run conntrack: {e}"))
                    })?;
                log::debug!("conntrack -D {side} {addr}: {}", out.stderr.trim());
            }
        }
        Ok(())
    }
}

/// Pure: lowers each quota left to what the live kernel object says is left, so that a rebuilt
/// table starts from the bytes really used (the store only knows them as of the last reading).
fn carry_quotas(desired: &mut Desired, live: &Counters) {
    for client in &mut desired.clients {
        if let (Some(left), Some(total), Some(used)) = (
            client.quota_left,
            client.quota_total,
            live.quota_used.get(&client.session_id),
        ) {
            client.quota_left = Some(left.min(total.saturating_sub(*used)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: u64, quota: Option<u64>, rate: Option<u32>) -> AllowedClient {
        AllowedClient {
            session_id: id,
            mac: Mac([0xaa, 0, 0, 0, 0, id as u8]),
            ipv4: Some(format!("10.77.0.{}", 10 + id).parse().unwrap()),
            ipv6: vec![format!("fd77::{id}").parse().unwrap()],
            timeout_ms: 3_600_000,
            deadline_ms: 0,
            quota_left: quota,
            quota_total: quota,
            rate_down_kbit: rate,
            rate_up_kbit: rate,
        }
    }

    fn options() -> NftOptions {
        NftOptions {
            device: "br-lan".into(),
            portal_port: 8080,
            tls_port: None,
            dns_port: 5353,
            block_tethering: false,
            gate_file: None,
            owner_macs: Vec::new(),
        }
    }

    #[test]
    fn an_empty_state_still_gates_everyone() {
        let script = render(&Desired::default(), &options());
        assert!(
            script.starts_with("table inet lango\ndelete table inet lango\ntable inet lango {\n")
        );
        assert!(script.contains("tcp dport 80 redirect to :8080"));
        assert!(script.contains("udp dport 53 redirect to :5353"));
        assert!(script.contains("meta l4proto tcp reject with tcp reset\n\t\tdrop"));
        assert!(!script.contains("elements"));
    }

    #[test]
    fn durations_are_written_in_units_nft_accepts() {
        assert_eq!(nft_duration(1), "1ms");
        assert_eq!(nft_duration(3_600_000), "1h");
        assert_eq!(nft_duration(172_800_000), "2d");
        assert_eq!(nft_duration(100_000_001), "1d3h46m40s1ms");
        assert_eq!(nft_duration(MAX_TIMEOUT_MS), "20d");
        // No number is longer than nft's 8 digits, up to the cap lango writes.
        for ms in [
            1,
            999,
            99_999_999,
            100_000_000,
            MAX_TIMEOUT_MS - 1,
            MAX_TIMEOUT_MS,
        ] {
            let text = nft_duration(ms);
            let longest = text
                .split(|c: char| c.is_ascii_alphabetic())
                .map(str::len)
                .max();
            assert!(longest.is_some_and(|n| n <= 8), "{ms}: {text}");
        }
    }

    #[test]
    fn clients_are_elements_with_timeouts_and_objects() {
        let desired = Desired {
            clients: vec![
                client(1, Some(5_000_000), Some(8000)),
                client(2, None, None),
            ],
            at_ms: 0,
        };
        let script = render(&desired, &options());
        assert!(script.contains("aa:00:00:00:00:01 . 10.77.0.11 timeout 1h"));
        assert!(script.contains("aa:00:00:00:00:02 . fd77::2 timeout 1h"));
        assert!(script.contains("quota q1 { over 5000000 bytes used 0 bytes }"));
        assert!(script.contains("limit ld1 { rate over 1000000 bytes/second burst 250000 bytes }"));
        assert!(script.contains("10.77.0.11 timeout 1h : \"q1\""));
        assert!(
            !script.contains("q2"),
            "no quota object for an unlimited client"
        );
        // The rules are the same whatever the number of clients.
        let rules = |s: &str| s.lines().filter(|l| l.contains(" @")).count();
        assert_eq!(
            rules(&script),
            rules(&render(&Desired::default(), &options()))
        );
    }

    #[test]
    fn the_gate_drops_unmarked_guest_traffic_and_opens_only_what_guests_need() {
        let mut opts = options();
        opts.tls_port = Some(8443);
        let gate = render_gate(&opts);
        assert!(gate.starts_with(
            "table inet lango_gate\ndelete table inet lango_gate\ntable inet lango_gate {\n"
        ));
        assert!(gate.contains("iifname \"br-lan\" meta mark & 0x20000000 != 0x20000000 drop"));
        assert!(gate.contains("oifname \"br-lan\" meta mark & 0x20000000 != 0x20000000 drop"));
        assert!(gate.contains("tcp dport { 8080, 8443 } accept"));
        assert!(gate.contains("udp dport 5353 accept"));
        assert!(gate.contains("udp dport { 67, 547 } accept"));
        assert!(!gate.contains("ether saddr {"));
        opts.owner_macs = vec![Mac([2, 0xaa, 0, 0, 0, 9])];
        let gate = render_gate(&opts);
        assert!(gate.contains("\t\tether saddr { 02:aa:00:00:00:09 } accept\n"));
        // DNS to dnsmasq only with the paid mark; everything else on the router is closed.
        assert!(gate.contains(
            "meta mark & 0x20000000 == 0x20000000 meta l4proto { tcp, udp } th dport 53 accept"
        ));
        assert!(
            gate.trim_end().ends_with("drop\n\t}\n}")
                || gate.contains("\t\tdrop\n\t}\n\tchain forward")
        );
        // The gate never depends on the guests.
        let script = render(
            &Desired {
                clients: vec![client(1, None, None)],
                at_ms: 0,
            },
            &opts,
        );
        assert!(!gate.contains("aa:00:00:00:00:01"));
        assert!(script
            .contains("ether saddr . ip saddr @paid4 meta mark set meta mark | 0x20000000 return"));
        assert!(script.contains("meta mark set meta mark | 0x20000000 accept"));
    }

    #[test]
    fn tethering_is_blocked_only_when_asked() {
        let desired = Desired {
            clients: vec![client(1, None, None)],
            at_ms: 0,
        };
        let mut opts = options();
        assert!(!render(&desired, &opts).contains("ttl set"));
        opts.block_tethering = true;
        let script = render(&desired, &opts);
        assert!(script.contains("ip ttl set 1") && script.contains("ip6 hoplimit set 1"));
    }

    #[test]
    fn a_rebuilt_table_carries_the_quota_used() {
        let mut desired = Desired {
            clients: vec![client(1, Some(4_000_000), None)],
            at_ms: 0,
        };
        desired.clients[0].quota_left = Some(3_500_000);
        let live = Counters {
            quota_used: HashMap::from([(1, 3_000_000)]),
            ..Counters::default()
        };
        carry_quotas(&mut desired, &live);
        assert_eq!(desired.clients[0].quota_left, Some(1_000_000));
        let script = render(&desired, &options());
        assert!(
            script.contains("quota q1 { over 4000000 bytes used 3000000 bytes }"),
            "{script}"
        );
        // The store knowing more than the kernel (a restart) wins too.
        let live = Counters {
            quota_used: HashMap::from([(1, 10)]),
            ..Counters::default()
        };
        carry_quotas(&mut desired, &live);
        assert_eq!(desired.clients[0].quota_left, Some(1_000_000));
    }

    #[test]
    fn table_listing_and_seen6_and_quota_objects_are_read() {
        assert_eq!(
            tables_present("table inet fw4\ntable inet lango\ntable inet lango_gate\n"),
            (true, true)
        );
        assert_eq!(tables_present("table inet lango_gate\n"), (false, true));
        let json = r#"{"nftables":[{"quota":{"family":"inet","name":"q7","table":"lango","bytes":4000000,"used":1234,"inv":true}},
          {"set":{"name":"seen6","elem":[{"elem":{"val":{"concat":["aa:00:00:00:00:01","fd77::66"]},"timeout":120,"expires":119}},
            {"concat":["aa:00:00:00:00:02","fd77::67"]}]}}]}"#;
        let counters = parse_usage(json);
        assert_eq!(counters.quota_used.get(&7), Some(&1234));
        assert_eq!(counters.seen6.len(), 2);
        assert_eq!(counters.seen6[0].1, "fd77::66".parse::<Ipv6Addr>().unwrap());
    }

    #[test]
    fn a_change_is_one_small_transaction_whatever_the_number_of_devices() {
        let mut many: Vec<AllowedClient> = (1..=100)
            .map(|id| client(id, Some(1_000_000), Some(8000)))
            .collect();
        for c in &mut many {
            c.deadline_ms = 3_600_000;
        }
        let old = Desired {
            clients: many.clone(),
            at_ms: 0,
        };
        let mut new = Desired {
            clients: many,
            at_ms: 1000,
        };
        // Device 7 leaves early (a kick), device 9 is extended, device 200 arrives.
        new.clients.retain(|c| c.session_id != 7);
        new.clients
            .iter_mut()
            .find(|c| c.session_id == 9)
            .unwrap()
            .deadline_ms = 99;
        new.clients.push(client(200, None, None));
        let d = delta(&old, &new);
        let removed: Vec<u64> = d.removed.iter().map(|c| c.session_id).collect();
        let added: Vec<u64> = d.added.iter().map(|c| c.session_id).collect();
        assert_eq!((removed, added), (vec![7, 9], vec![9, 200]));
        let script = render_delta(&d, new.at_ms);
        assert!(
            script.contains("delete element inet lango paid4 { aa:00:00:00:00:07 . 10.77.0.17 }")
        );
        assert!(script
            .contains("delete element inet lango quota_up4 { aa:00:00:00:00:07 . 10.77.0.17 }"));
        assert!(script.contains("delete quota inet lango q7"));
        assert!(script.contains("delete limit inet lango ld7"));
        assert!(script.contains("add quota inet lango q9 { over 1000000 bytes used 0 bytes }"));
        assert!(script.contains(
            "add limit inet lango lu9 { rate over 1000000 bytes/second burst 250000 bytes }"
        ));
        assert!(
            script.contains(
                "add element inet lango paid4 { aa:00:00:00:00:f4 . 10.77.0.254 timeout 1h }"
            ) || script.contains("add element inet lango paid_mac {")
        );
        assert!(
            script.contains("add element inet lango quota_dn4 { 10.77.0.19 timeout 1h : \"q9\" }")
        );
        // Object deletes come after the map elements that use them.
        let element = script
            .find("delete element inet lango quota_dn4 { 10.77.0.17 }")
            .unwrap();
        assert!(element < script.find("delete quota inet lango q7").unwrap());
        // Small: the lines of three devices, not a hundred.
        assert!(script.lines().count() < 60, "{script}");
        // A session whose time ran out has no elements left in the kernel: only objects go.
        let mut expired = old.clone();
        expired.clients[0].deadline_ms = 1000;
        let gone = Desired {
            clients: expired.clients[1..].to_vec(),
            at_ms: 1000,
        };
        let script = render_delta(&delta(&expired, &gone), 1000);
        assert_eq!(script, "delete quota inet lango q1\ndelete limit inet lango lu1\ndelete limit inet lango ld1\n");
    }

    #[test]
    fn flow_offloading_is_noticed() {
        let on = "config defaults\n\toption input 'REJECT'\n\toption flow_offloading '1'\n";
        let off = "config defaults\n\toption flow_offloading '0'\nconfig zone\n\toption flow_offloading '1'\n";
        assert!(flow_offloading_enabled(on));
        assert!(!flow_offloading_enabled(off));
    }

    #[test]
    fn usage_is_read_from_element_counters() {
        let json = r#"{"nftables":[{"metainfo":{}},
          {"set":{"name":"paid4","elem":[{"elem":{"val":{"concat":["aa:00:00:00:00:01","10.77.0.11"]},"timeout":3600,"counter":{"packets":3,"bytes":300}}}]}},
          {"set":{"name":"paid6","elem":[{"elem":{"val":{"concat":["aa:00:00:00:00:01","fd77::1"]},"counter":{"packets":1,"bytes":20}}}]}},
          {"set":{"name":"paid_ip4","elem":[{"elem":{"val":"10.77.0.11","counter":{"packets":9,"bytes":9000}}}, "junk", {"elem":{"val":"nope"}}]}},
          {"set":{"name":"paid_ip6","elem":[]}}]}"#;
        let counters = parse_usage(json);
        let desired = Desired {
            clients: vec![client(1, None, None)],
            at_ms: 0,
        };
        assert_eq!(usage_of(&desired, &counters).get(&1), Some(&(320, 9000)));
        assert_eq!(parse_usage("not json"), Counters::default());
    }
}
