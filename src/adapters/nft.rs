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
use std::net::IpAddr;
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
    /// DNS from unpaid devices is redirected here (lango's own responder, no recursion).
    pub dns_port: u16,
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

/// Pure: the complete nft script for a desired state.
pub fn render(desired: &Desired, options: &NftOptions) -> String {
    let dev = &options.device;
    let mut objects = String::new();
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
            let _ = writeln!(objects, "\tquota q{id} {{ over {} bytes }}", left.max(1));
        }
        if let Some(kbit) = c.rate_up_kbit {
            objects.push_str(&limit_object(&format!("lu{id}"), kbit));
        }
        if let Some(kbit) = c.rate_down_kbit {
            objects.push_str(&limit_object(&format!("ld{id}"), kbit));
        }
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
    let mut out = String::new();
    // Create-then-delete makes the first line succeed whether or not the table exists; the
    // whole file is one transaction, so traffic never sees a half-built table.
    out.push_str("table inet lango\ndelete table inet lango\ntable inet lango {\n");
    out.push_str(&objects);
    out.push_str(&set("set paid4", mac4, " counter;", &paid4));
    out.push_str(&set("set paid6", mac6, " counter;", &paid6));
    out.push_str(&set("set paid_ip4", "ipv4_addr", " counter;", &paid_ip4));
    out.push_str(&set("set paid_ip6", "ipv6_addr", " counter;", &paid_ip6));
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
\t\tether saddr . ip saddr @paid4 return
\t\tether saddr . ip6 saddr @paid6 return
\t\ttcp dport {{ 53, 853 }} reject with tcp reset
\t\tudp dport {{ 53, 853 }} drop
\t}}
\tchain forward {{
\t\ttype filter hook forward priority filter - 5; policy accept;
\t\tiifname \"{dev}\" jump from_guest
\t\toifname \"{dev}\" jump to_guest
\t}}
\tchain from_guest {{
\t\tether saddr . ip saddr @paid4 goto up4
\t\tether saddr . ip6 saddr @paid6 goto up6
\t\tmeta l4proto tcp reject with tcp reset
\t\tdrop
\t}}
\tchain up4 {{
\t\tquota name ether saddr . ip saddr map @quota_up4 drop
\t\tlimit name ether saddr . ip saddr map @limit_up4 drop
\t\taccept
\t}}
\tchain up6 {{
\t\tquota name ether saddr . ip6 saddr map @quota_up6 drop
\t\tlimit name ether saddr . ip6 saddr map @limit_up6 drop
\t\taccept
\t}}
\tchain to_guest {{
\t\tip daddr @paid_ip4 goto down4
\t\tip6 daddr @paid_ip6 goto down6
\t\tdrop
\t}}
\tchain down4 {{
\t\tquota name ip daddr map @quota_dn4 drop
\t\tlimit name ip daddr map @limit_dn4 drop
\t\taccept
\t}}
\tchain down6 {{
\t\tquota name ip6 daddr map @quota_dn6 drop
\t\tlimit name ip6 daddr map @limit_dn6 drop
\t\taccept
\t}}
}}
",
        dns = options.dns_port,
        portal = options.portal_port,
    );
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
}

/// Pure: reads the element counters of the paid sets out of nft's JSON. Unknown shapes are
/// skipped, never fatal.
pub(crate) fn parse_usage(json: &str) -> Counters {
    let mut counters = Counters::default();
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(json) else {
        return counters;
    };
    let items = doc
        .get("nftables")
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    for item in items {
        let Some(set) = item.get("set") else { continue };
        let name = set.get("name").and_then(|n| n.as_str()).unwrap_or("");
        let elems = set
            .get("elem")
            .and_then(|e| e.as_array())
            .cloned()
            .unwrap_or_default();
        for elem in elems {
            let Some(inner) = elem.get("elem") else {
                continue;
            };
            let bytes = inner
                .pointer("/counter/bytes")
                .and_then(|b| b.as_u64())
                .unwrap_or(0);
            let val = inner.get("val");
            match name {
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

    fn lock(&self) -> std::sync::MutexGuard<'_, NftState> {
        crate::core::locks::lock(&self.state)
    }

    /// Removes lango's table (at a clean stop of the firewall backend, or from tests).
    pub(crate) fn remove(&self) -> Result<(), FirewallError> {
        self.nft(
            &["-f", "-"],
            Some("table inet lango\ndelete table inet lango\n"),
        )
        .map(|_| ())
    }
}

impl Firewall for NftFirewall {
    fn apply(&self, desired: &Desired) -> Result<(), FirewallError> {
        let key = desired.key();
        // Terse listing (no set elements): cheap even with thousands of devices.
        let exists = self
            .nft(&["-t", "list", "table", "inet", "lango"], None)
            .is_ok();
        let unchanged = self.lock().applied.as_ref().is_some_and(|(k, _)| *k == key);
        if exists && unchanged {
            return Ok(());
        }
        let had_state = self.lock().applied.is_some();
        let live = if exists && had_state {
            self.read_counters()
        } else {
            None
        };
        let mut state = self.lock();
        // The table is about to be replaced and its counters reset: keep what they counted.
        if let (Some(counters), Some((_, old))) = (&live, &state.applied) {
            for (session, (up, down)) in usage_of(old, counters) {
                let entry = state.carry.entry(session).or_default();
                entry.0 += up;
                entry.1 += down;
            }
        }
        let script = render(desired, &self.options);
        drop(state);
        self.nft(&["-f", "-"], Some(&script))?;
        let mut state = self.lock();
        let ids: Vec<u64> = desired.clients.iter().map(|c| c.session_id).collect();
        state.carry.retain(|id, _| ids.contains(id));
        state.applied = Some((key, desired.clone()));
        if !exists {
            log::info!(
                "firewall: table inet lango created with {} paid devices",
                desired.clients.len()
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
            dns_port: 5353,
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
        };
        let script = render(&desired, &options());
        assert!(script.contains("aa:00:00:00:00:01 . 10.77.0.11 timeout 1h"));
        assert!(script.contains("aa:00:00:00:00:02 . fd77::2 timeout 1h"));
        assert!(script.contains("quota q1 { over 5000000 bytes }"));
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
        };
        assert_eq!(usage_of(&desired, &counters).get(&1), Some(&(320, 9000)));
        assert_eq!(parse_usage("not json"), Counters::default());
    }
}
