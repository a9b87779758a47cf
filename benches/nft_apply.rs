//! What a grant costs on the live `table inet lango` with 10 to 10,000 paid devices, beside the
//! floor of one element added over netlink and one added with the nft CLI, measured in the same
//! run in a throwaway network namespace (root needed); and the full render-and-replace of the
//! table (start, HUP), the counter read-back, and a grant when netlink is unavailable (the
//! `nft -f` fallback). Run: `cargo bench --bench nft_apply`. Wall-clock figures from a shared
//! machine, for orders of magnitude and ratios, not for assertions.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use lango::adapters::nft::{
    mac_element_batch, render, Answers, Batch, Netlink, NetlinkError, NetlinkSocket, NftFirewall,
};
use lango::adapters::sys::{Runner, SystemRunner};
use lango::adapters::testing::nft_options;
use lango::core::firewall::{AllowedClient, Desired, Firewall};
use lango::core::model::Mac;

/// Grants timed per size (p99 is the 3rd slowest of 300).
const GRANTS: u32 = 300;
/// Grants through the `nft -f` fallback and elements through the nft CLI, per size.
const CLI_RUNS: u32 = 15;

/// No netlink: the adapter falls back to `nft -f` scripts.
struct NoNetlink;

impl Netlink for NoNetlink {
    fn exchange(&self, _: &Batch) -> Result<Answers, NetlinkError> {
        Err(NetlinkError::Unavailable("bench".into()))
    }
}

fn device(i: u32) -> AllowedClient {
    let b = i.to_be_bytes();
    AllowedClient {
        session_id: u64::from(i) + 1,
        group: u64::from(i) + 1,
        mac: Mac([2, 0, b[0], b[1], b[2], b[3]]),
        ipv4: Some(Ipv4Addr::new(10, b[1], b[2], b[3])),
        ipv6: vec![Ipv6Addr::new(
            0xfd77,
            0,
            0,
            0,
            0,
            u16::from(b[1]),
            u16::from(b[2]),
            u16::from(b[3]),
        )],
        timeout_ms: 3_600_000,
        deadline_ms: 3_600_000,
        quota_left: i.is_multiple_of(2).then_some(1_000_000_000),
        quota_total: i.is_multiple_of(2).then_some(1_000_000_000),
        rate_down_kbit: i.is_multiple_of(3).then_some(8000),
        rate_up_kbit: i.is_multiple_of(3).then_some(2000),
        fair_kbit: None,
    }
}

fn devices(n: u32) -> Desired {
    Desired {
        clients: (0..n).map(device).collect(),
        at_ms: 0,
        ..Default::default()
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Grants device `i` on top of `grown`; returns how long the apply took (ms).
fn grant(firewall: &NftFirewall, grown: &mut Desired, i: u32) -> f64 {
    grown.clients.push(device(i));
    let start = Instant::now();
    firewall.apply(grown).expect("one grant");
    ms(start)
}

/// The `p`th percentile (0-100) of `v`, nearest rank.
fn percentile(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

fn main() {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n");
    if !is_root {
        eprintln!("nft_apply: needs root (network namespaces, nftables); skipped");
        return;
    }
    // This thread (and the nft processes it starts, and its netlink sockets) in a namespace of
    // its own.
    let ns = format!("lango-bench-{}", std::process::id());
    let _ = Command::new("ip").args(["netns", "add", &ns]).status();
    let file = std::fs::File::open(format!("/run/netns/{ns}")).expect("netns");
    nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
    let options = nft_options();
    println!(
        "paid devices | render ms | script KB | replace ms (nft -f) | counters read ms | \
         grant p50 / p99 ms (netlink) | one element p50 / p99 ms (netlink) | \
         one element p50 ms (nft CLI) | grant p50 ms (nft -f fallback) | \
         grant p99 / element p99 (netlink) | grant p50 / CLI element p50 | \
         kick p50 ms | extension p50 ms"
    );
    for n in [10u32, 100, 1_000, 10_000] {
        let desired = devices(n);
        let start = Instant::now();
        let script = render(&desired, &options);
        let render_ms = ms(start);
        let firewall = NftFirewall::new(
            Arc::new(SystemRunner),
            Arc::new(NetlinkSocket),
            options.clone(),
        );
        let start = Instant::now();
        firewall.apply(&desired).expect("nft apply");
        let replace_ms = ms(start);
        let start = Instant::now();
        let usage = firewall.usage().expect("usage");
        let read_ms = ms(start);
        assert_eq!(usage.len(), n as usize);
        // Grants on the live table, each followed by one bare element over netlink: the same
        // moment, the same machine noise.
        let mut grown = desired.clone();
        let mut grant_ms = Vec::new();
        let mut element_ms = Vec::new();
        for g in 0..GRANTS {
            grant_ms.push(grant(&firewall, &mut grown, 100_000 + g));
            let batch = mac_element_batch(Mac([2, 0xfe, 0, 0, (g >> 8) as u8, g as u8]), 3_600_000);
            let start = Instant::now();
            let answers = NetlinkSocket.exchange(&batch).expect("netlink");
            element_ms.push(ms(start));
            assert_eq!(answers.errnos, vec![0]);
        }
        // Extensions (an hour more and a gigabyte more of device 0's quota: its counters and
        // quota use are read first, over netlink) and kicks (one batch of deletes).
        let mut extend_ms = Vec::new();
        let mut kick_ms = Vec::new();
        for _ in 0..CLI_RUNS {
            let extended = &mut grown.clients[0];
            extended.deadline_ms += 3_600_000;
            extended.timeout_ms += 3_600_000;
            extended.quota_total = extended.quota_total.map(|q| q + 1_000_000_000);
            let start = Instant::now();
            firewall.apply(&grown).expect("an extension");
            extend_ms.push(ms(start));
            grown.clients.pop();
            let start = Instant::now();
            firewall.apply(&grown).expect("a kick");
            kick_ms.push(ms(start));
        }
        let mut cli_ms = Vec::new();
        for r in 0..CLI_RUNS {
            let element = format!(
                "add element inet lango paid_mac {{ 02:ff:00:00:00:{r:02x} timeout 1h }}\n"
            );
            let start = Instant::now();
            let out = SystemRunner
                .run("nft", &["-f", "-"], Some(&element))
                .expect("nft");
            cli_ms.push(ms(start));
            assert_eq!(out.status, 0, "{}", out.stderr);
        }
        // The same grants when netlink is unavailable: the change as an `nft -f` script.
        let fallback =
            NftFirewall::new(Arc::new(SystemRunner), Arc::new(NoNetlink), options.clone());
        fallback.apply(&grown).expect("nft apply");
        let fallback_ms: Vec<f64> = (0..CLI_RUNS)
            .map(|g| grant(&fallback, &mut grown, 200_000 + g))
            .collect();
        let (grant50, grant99) = (percentile(&grant_ms, 50.0), percentile(&grant_ms, 99.0));
        let (el50, el99) = (percentile(&element_ms, 50.0), percentile(&element_ms, 99.0));
        let cli50 = percentile(&cli_ms, 50.0);
        println!(
            "{n:>12} | {render_ms:>9.2} | {:>9.0} | {replace_ms:>19.1} | {read_ms:>16.1} | \
             {grant50:>12.3} / {grant99:>6.3} | {el50:>12.3} / {el99:>6.3} | {cli50:>12.1} | \
             {:>12.1} | {:>6.2} | {:>6.3} | {:>6.3} | {:>6.1}",
            script.len() as f64 / 1024.0,
            percentile(&fallback_ms, 50.0),
            grant99 / el99,
            grant50 / cli50,
            percentile(&kick_ms, 50.0),
            percentile(&extend_ms, 50.0),
        );
    }
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
}
