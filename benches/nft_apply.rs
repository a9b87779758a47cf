//! How long one atomic apply of `table inet lango` takes for 1, 100 and 10,000 paid devices,
//! in a throwaway network namespace (root needed). Also the pure render time and the counter
//! read-back. Run: `cargo bench --bench nft_apply`. Reports medians of several runs; these are
//! wall-clock figures from a shared machine, for orders of magnitude, not for assertions.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use lango::adapters::nft::{render, NftFirewall, NftOptions};
use lango::adapters::sys::{Runner, SystemRunner};
use lango::core::firewall::{AllowedClient, Desired, Firewall};
use lango::core::model::Mac;

/// Runs nft inside the bench's namespace.
struct NetnsRunner(String);

impl Runner for NetnsRunner {
    fn run(
        &self,
        program: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> std::io::Result<lango::adapters::sys::Output> {
        let mut full = vec!["netns", "exec", self.0.as_str(), program];
        full.extend_from_slice(args);
        SystemRunner.run("ip", &full, stdin)
    }
}

fn clients(n: u32) -> Desired {
    let clients = (0..n)
        .map(|i| {
            let b = i.to_be_bytes();
            AllowedClient {
                session_id: u64::from(i) + 1,
                mac: Mac([2, 0, b[0], b[1], b[2], b[3]]),
                ipv4: Some(Ipv4Addr::new(10, b[1], b[2], b[3])),
                ipv6: vec![Ipv6Addr::new(
                    0xfd77,
                    0,
                    0,
                    0,
                    0,
                    0,
                    u16::from(b[2]),
                    u16::from(b[3]),
                )],
                timeout_ms: 3_600_000,
                deadline_ms: 3_600_000,
                quota_left: (i % 2 == 0).then_some(1_000_000_000),
                quota_total: (i % 2 == 0).then_some(1_000_000_000),
                rate_down_kbit: (i % 3 == 0).then_some(8000),
                rate_up_kbit: (i % 3 == 0).then_some(2000),
            }
        })
        .collect();
    Desired { clients, at_ms: 0 }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
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
    let ns = format!("lango-bench-{}", std::process::id());
    let _ = Command::new("ip").args(["netns", "add", &ns]).status();
    let options = NftOptions {
        device: "br-lan".into(),
        portal_port: 8080,
        tls_port: None,
        dns_port: 8053,
        block_tethering: false,
        gate_file: None,
        owner_macs: Vec::new(),
    };
    println!("clients | render ms | script KB | apply ms (nft -f -) | counters read ms | one grant ms (update) | one element ms (nft CLI, the limit) | ratio");
    for n in [1u32, 100, 10_000] {
        let desired = clients(n);
        let runs = if n >= 10_000 { 5 } else { 15 };
        let mut render_ms = Vec::new();
        let mut apply_ms = Vec::new();
        let mut read_ms = Vec::new();
        let mut grant_ms = Vec::new();
        let mut element_ms = Vec::new();
        let mut size = 0;
        for run in 0..runs {
            let start = Instant::now();
            let script = render(&desired, &options);
            render_ms.push(start.elapsed().as_secs_f64() * 1000.0);
            size = script.len();
            // A fresh adapter each time, so that every run really applies.
            let firewall = NftFirewall::new(Arc::new(NetnsRunner(ns.clone())), options.clone());
            let mut changed = desired.clone();
            if let Some(first) = changed.clients.first_mut() {
                first.deadline_ms = i64::from(run as u32);
            }
            let start = Instant::now();
            firewall.apply(&changed).expect("nft apply");
            apply_ms.push(start.elapsed().as_secs_f64() * 1000.0);
            let start = Instant::now();
            let usage = firewall.usage().expect("usage");
            read_ms.push(start.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(usage.len(), n as usize);
            // One more device on the live table: the update path, against the limit of adding
            // one element with the nft CLI (which loads its cache of the table either way).
            let mut grown = changed.clone();
            let extra = clients(n + 1 + run as u32).clients.pop().expect("a client");
            grown.clients.push(extra.clone());
            let start = Instant::now();
            firewall.apply(&grown).expect("one grant");
            grant_ms.push(start.elapsed().as_secs_f64() * 1000.0);
            let element = format!(
                "add element inet lango paid_mac {{ 02:ff:00:00:{:02x}:{:02x} timeout 1h }}\n",
                run / 256,
                run % 256
            );
            let runner = NetnsRunner(ns.clone());
            let start = Instant::now();
            let out = runner
                .run("nft", &["-f", "-"], Some(&element))
                .expect("nft");
            element_ms.push(start.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(out.status, 0, "{}", out.stderr);
        }
        let (grant, element) = (median(grant_ms), median(element_ms));
        println!(
            "{n:>7} | {:>9.2} | {:>9.0} | {:>19.1} | {:>16.1} | {:>21.1} | {:>35.1} | {:>5.2}",
            median(render_ms),
            size as f64 / 1024.0,
            median(apply_ms),
            median(read_ms),
            grant,
            element,
            grant / element
        );
    }
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
}
