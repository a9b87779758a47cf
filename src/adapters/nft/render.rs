//! The scripts lango loads (pure): `render`, the whole `table inet lango` for a desired state, in
//! one transaction that replaces it; `render_gate`, the static `table inet lango_gate` that
//! keeps guests out whatever happens to the first; durations, speed caps and timeouts as nft
//! writes them. Besides the paid devices, the table holds the allow-list (`allow_mac`) and the
//! walled garden's addresses (`garden4`, `garden6`), which go through its `free` chain.

use std::fmt::Write as _;

use super::NftOptions;
use crate::core::firewall::{AllowedClient, Desired};
use crate::core::model::Mac;

/// Element timeouts are capped: very long timeouts overflow on some kernels, and lango
/// refreshes them at every reconcile anyway. A dead lango leaves at most this much access.
pub(super) const MAX_TIMEOUT_MS: u64 = 20 * 86_400 * 1000;

/// Burst of a speed cap, in milliseconds of traffic at the capped rate. Policing with a short
/// bucket makes TCP collapse well below the cap; a quarter second keeps it close to the cap.
pub(super) const BURST_MS: u64 = 250;

fn timeout(client: &AllowedClient) -> String {
    format!("timeout {}", nft_duration(timeout_ms(client)))
}

/// Pure: milliseconds as nft writes a duration (`1d3h46m40s`, `250ms`). nft's parser takes at
/// most 8 digits per number, so `172800000ms` (two days) is refused with "value too large" and
/// the whole table with it; split into units, no number is ever that long.
pub(super) fn nft_duration(ms: u64) -> String {
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

/// A speed cap's rate and burst, in bytes per second and bytes. nft's token bucket holds one
/// second of traffic plus the burst, so a transfer starts fast for about a second and then runs
/// at the cap.
pub(super) fn limit_params(kbit: u32) -> (u64, u64) {
    let rate = bytes_per_sec(kbit);
    (rate, (rate * BURST_MS / 1000).max(16_384))
}

/// One speed cap object, as the body of `limit NAME { ... }`: a cap matches traffic over its
/// rate (`over`, which is dropped); a fair-use limit matches traffic within it (accepted).
pub(super) fn limit_body(rate: u64, burst: u64, over: bool) -> String {
    let over = if over { "over " } else { "" };
    format!("rate {over}{rate} bytes/second burst {burst} bytes")
}

/// A device's limit objects: `(name, kbit/s, over)`: its speed caps (`lu`, `ld`) and, with
/// fair use, the speeds once its quota is used (`fu`, `fd`).
pub(super) fn limits_of(c: &AllowedClient) -> Vec<(String, u32, bool)> {
    let fair = c.fair_kbit.filter(|_| c.quota_left.is_some());
    let mut out = Vec::new();
    for (name, kbit, over) in [
        ("lu", c.rate_up_kbit, true),
        ("ld", c.rate_down_kbit, true),
        ("fu", fair, false),
        ("fd", fair, false),
    ] {
        if let Some(kbit) = kbit {
            out.push((format!("{name}{}", c.session_id), kbit, over));
        }
    }
    out
}

/// A device's quota object, `(total, used)`, if it has one: the whole quota and what is used of
/// it, so that a rebuilt table carries the use over instead of handing out a fresh quota.
pub(super) fn quota_params(client: &AllowedClient) -> Option<(u64, u64)> {
    let left = client.quota_left?;
    let total = client.quota_total.unwrap_or(left).max(left).max(1);
    Some((total, total - left))
}

/// An element's timeout in milliseconds: the session's remaining time, capped.
pub(super) fn timeout_ms(client: &AllowedClient) -> u64 {
    client.timeout_ms.clamp(1, MAX_TIMEOUT_MS)
}

/// The packet mark bit lango's table sets on every packet of a paid device. The gate table
/// (`render_gate`) drops guest packets without it, so the deny does not depend on lango's
/// table: removed, flushed or never created, guests stay out. (mwan3 uses 0x3F00, fw4 none.)
pub(crate) const PAID_MARK: u32 = 0x2000_0000;

/// The connection mark bit lango's table sets on connections that unpaid devices may use (an
/// allow-listed MAC, a walled-garden address): their replies carry no MAC to match, so they
/// are let back to the guest by this mark.
pub(crate) const FREE_CT_MARK: u32 = 0x2000_0000;

/// Walled-garden addresses open at once, per family (`garden4`, `garden6`).
pub(crate) const GARDEN_SIZE: u32 = 4096;

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

/// The fewest elements a set or map of paid devices is created for.
pub(super) const MIN_SET_SIZE: usize = 512;

/// Pure: how many elements each set and map of paid devices is created for, by name: what
/// `sized_for` puts in it and half again for growth, rounded up to a power of two, at least
/// `MIN_SET_SIZE`. The kernel sizes the set's hash table from it at once; without a size it
/// starts at 4 buckets and doubles a dozen times on the way to 10,000 devices, every insert
/// slowed while it does (a sixth of a restore's kernel time). The kernel also refuses elements
/// beyond the size: a change so refused rewrites the table (`apply_state`), sized again.
pub(super) fn set_sizes(sized_for: &Desired) -> Vec<(&'static str, usize)> {
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for element in sized_for.clients.iter().flat_map(super::delta::elements_of) {
        match counts.iter_mut().find(|(set, _)| *set == element.set) {
            Some((_, n)) => *n += 1,
            None => counts.push((element.set, 1)),
        }
    }
    for (_, n) in &mut counts {
        *n = (*n + *n / 2).max(MIN_SET_SIZE).next_power_of_two();
    }
    counts
}

/// Pure: sizes for a skeleton loaded before its devices are known, only their number: every
/// set and map of IPv4 devices as `set_sizes` would size it if each device had an element there
/// (IPv6 ones at the least; a restore that needs more loads the skeleton again, `fits`).
#[cfg(not(target_arch = "mips"))]
pub(super) fn sizes_for_devices(devices: usize) -> Vec<(&'static str, usize)> {
    let size = (devices + devices / 2)
        .max(MIN_SET_SIZE)
        .next_power_of_two();
    [
        "paid_mac",
        "paid4",
        "paid_ip4",
        "quota_up4",
        "quota_dn4",
        "limit_up4",
        "limit_dn4",
        "fair_up4",
        "fair_dn4",
    ]
    .into_iter()
    .map(|set| (set, size))
    .collect()
}

/// Pure: whether sets sized `have` take what `need` asks (`set_sizes`).
pub(super) fn fits(have: &[(&'static str, usize)], need: &[(&'static str, usize)]) -> bool {
    need.iter().all(|(set, n)| {
        let size = have
            .iter()
            .find(|(s, _)| s == set)
            .map_or(MIN_SET_SIZE, |(_, size)| *size);
        size >= *n
    })
}

/// Pure: the complete nft script for a desired state.
pub fn render(desired: &Desired, options: &NftOptions) -> String {
    render_sized(desired, &set_sizes(desired), options)
}

/// Pure: the script for `desired`, its sets and maps of paid devices sized by `sizes`
/// (`set_sizes`; a restore's skeleton is sized for the devices that follow it).
pub(super) fn render_sized(
    desired: &Desired,
    sizes: &[(&'static str, usize)],
    options: &NftOptions,
) -> String {
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
    let mut fair = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    // One quota object per purchase, shared by its devices' map elements.
    let mut quotas = std::collections::HashSet::new();
    for c in &desired.clients {
        let fair_use = c.fair_kbit.is_some() && c.quota_left.is_some();
        let t = timeout(c);
        let id = c.session_id;
        let g = c.group;
        if let Some((total, used)) = quota_params(c).filter(|_| quotas.insert(g)) {
            let _ = writeln!(
                objects,
                "\tquota q{g} {{ over {total} bytes used {used} bytes }}"
            );
        }
        for (name, kbit, over) in limits_of(c) {
            let (rate, burst) = limit_params(kbit);
            let body = limit_body(rate, burst, over);
            let _ = writeln!(objects, "\tlimit {name} {{ {body} }}");
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
                list.push(format!("{key} {t} : \"q{g}\""));
            }
            if c.rate_up_kbit.is_some() {
                let list = if *is4 { &mut limit_up4 } else { &mut limit_up6 };
                list.push(format!("{key} {t} : \"lu{id}\""));
            }
            if fair_use {
                fair[usize::from(!*is4)].push(format!("{key} {t} : \"fu{id}\""));
            }
        }
        for (is4, key) in &down_keys {
            if c.quota_left.is_some() {
                let list = if *is4 { &mut quota_dn4 } else { &mut quota_dn6 };
                list.push(format!("{key} {t} : \"q{g}\""));
            }
            if c.rate_down_kbit.is_some() {
                let list = if *is4 { &mut limit_dn4 } else { &mut limit_dn6 };
                list.push(format!("{key} {t} : \"ld{id}\""));
            }
            if fair_use {
                fair[2 + usize::from(!*is4)].push(format!("{key} {t} : \"fd{id}\""));
            }
        }
    }
    let set = |name: &str, ty: &str, extra: &str, elements: &[String]| -> String {
        let size = name.split(' ').nth(1).map_or(MIN_SET_SIZE, |short| {
            sizes
                .iter()
                .find(|(set, _)| *set == short)
                .map_or(MIN_SET_SIZE, |(_, n)| *n)
        });
        let mut out = format!("\t{name} {{\n\t\ttype {ty}; size {size}; flags timeout;{extra}\n");
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
        ("ip ttl set 1 ", "ip6 hoplimit set 1 ")
    } else {
        ("", "")
    };
    let mut out = String::new();
    // Create-then-delete makes the first line succeed whether or not the table exists; the
    // whole file is one transaction, so traffic never sees a half-built table (and the gate
    // table keeps guests out even while this one is missing).
    out.push_str("table inet lango\ndelete table inet lango\ntable inet lango {\n");
    out.push_str(&objects);
    let allowed: Vec<String> = desired.allowed.iter().map(Mac::to_string).collect();
    let allow = set("set allow_mac", "ether_addr", "", &allowed);
    let sized = format!(" size {MIN_SET_SIZE}; flags timeout;");
    out.push_str(&allow.replace(&sized, ""));
    for (name, ty) in [("garden4", "ipv4_addr"), ("garden6", "ipv6_addr")] {
        let _ = writeln!(
            out,
            "\tset {name} {{\n\t\ttype {ty}; size {GARDEN_SIZE}; flags timeout;\n\t}}"
        );
    }
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
    // Fair use: the speed of a device whose quota is used (the limit matches what is within).
    let [fair_up4, fair_up6, fair_dn4, fair_dn6] = &fair;
    let up4 = format!("{mac4} : limit");
    let up6 = format!("{mac6} : limit");
    out.push_str(&set("map fair_up4", &up4, "", fair_up4));
    out.push_str(&set("map fair_up6", &up6, "", fair_up6));
    out.push_str(&set("map fair_dn4", "ipv4_addr : limit", "", fair_dn4));
    out.push_str(&set("map fair_dn6", "ipv6_addr : limit", "", fair_dn6));
    let _ = write!(
        out,
        "\tchain prerouting {{
\t\ttype nat hook prerouting priority dstnat - 5; policy accept;
\t\tiifname != \"{dev}\" return
\t\tether saddr . ip saddr @paid4 return
\t\tether saddr . ip6 saddr @paid6 return
\t\tether saddr @allow_mac return
\t\tudp dport 53 redirect to :{dns}
\t\tip daddr @garden4 return
\t\tip6 daddr @garden6 return
\t\ttcp dport 80 redirect to :{portal}
\t}}
\tchain input {{
\t\ttype filter hook input priority filter - 5; policy accept;
\t\tiifname != \"{dev}\" return
\t\tether saddr . ip saddr @paid4 {mark} return
\t\tether saddr . ip6 saddr @paid6 {mark} return
\t\tether saddr @allow_mac {mark} return
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
\t\tether saddr @allow_mac goto free
\t\tip daddr @garden4 goto free
\t\tip6 daddr @garden6 goto free
\t\tether saddr @paid_mac ip6 saddr != fe80::/10 add @seen6 {{ ether saddr . ip6 saddr }}
\t\tmeta l4proto tcp reject with tcp reset
\t\tdrop
\t}}
\tchain up4 {{
\t\tquota name ether saddr . ip saddr map @quota_up4 goto over_up4
\t\tlimit name ether saddr . ip saddr map @limit_up4 drop
\t\t{mark} accept
\t}}
\tchain over_up4 {{
\t\tlimit name ether saddr . ip saddr map @fair_up4 {mark} accept
\t\tdrop
\t}}
\tchain up6 {{
\t\tquota name ether saddr . ip6 saddr map @quota_up6 goto over_up6
\t\tlimit name ether saddr . ip6 saddr map @limit_up6 drop
\t\t{mark} accept
\t}}
\tchain over_up6 {{
\t\tlimit name ether saddr . ip6 saddr map @fair_up6 {mark} accept
\t\tdrop
\t}}
\tchain to_guest {{
\t\tip daddr @paid_ip4 goto down4
\t\tip6 daddr @paid_ip6 goto down6
\t\tct direction reply ct mark & {free} == {free} {mark} accept
\t\tdrop
\t}}
\tchain free {{
\t\tct mark set ct mark | {free}
\t\t{mark} accept
\t}}
\tchain down4 {{
\t\tquota name ip daddr map @quota_dn4 goto over_dn4
\t\tlimit name ip daddr map @limit_dn4 drop
\t\t{ttl4}{mark} accept
\t}}
\tchain over_dn4 {{
\t\tlimit name ip daddr map @fair_dn4 {ttl4}{mark} accept
\t\tdrop
\t}}
\tchain down6 {{
\t\tquota name ip6 daddr map @quota_dn6 goto over_dn6
\t\tlimit name ip6 daddr map @limit_dn6 drop
\t\t{ttl6}{mark} accept
\t}}
\tchain over_dn6 {{
\t\tlimit name ip6 daddr map @fair_dn6 {ttl6}{mark} accept
\t\tdrop
\t}}
}}
",
        dns = options.dns_port,
        portal = options.portal_port,
        free = format_args!("0x{FREE_CT_MARK:08x}"),
    );
    out
}
