//! How many accounting records lango makes and delivers per minute at 1,000 guests (issue 17):
//! 1,000 local-voucher sales (each a Start in its grant's write), then one round of 1,000
//! Interim-Updates (one durable write), each delivered to a local responder that answers
//! every Accounting-Request with a signed Accounting-Response, one record at a time as
//! `deliver_accounting` sends them (a verified response per record, a durable removal per
//! batch of 32). The store is a file in `LANGO_BENCH_DIR` (default: the system's temp dir;
//! point it at real flash for the router's figure). Figures printed, nothing asserted.
//!
//! Run: `cargo bench --bench radius_acct` (`LANGO_ACCT_GUESTS` for another size).

use std::net::{IpAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use md5::{Digest, Md5};

use lango::adapters::simulator::Simulator;
use lango::adapters::testing::{FakeFirewall, FakeNeighbours, ManualClock};
use lango::app::{App, Env};
use lango::core::config;
use lango::core::model::Mac;
use lango::store::Store;

const SECRET: &str = "bench-secret";
const T0: i64 = 1_800_000_000;

/// Answers every Accounting-Request with an Accounting-Response signed with `SECRET`.
fn responder(received: Arc<AtomicU64>) -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            if n < 20 || buf[0] != 4 {
                continue;
            }
            received.fetch_add(1, Ordering::Relaxed);
            let mut out = vec![5, buf[1], 0, 20];
            out.extend_from_slice(&buf[4..20]);
            let mut md5 = Md5::new();
            md5.update(&out);
            md5.update(SECRET);
            out[4..20].copy_from_slice(&md5.finalize());
            let _ = socket.send_to(&out, from);
        }
    });
    port
}

fn per_minute(n: usize, since: Instant) -> String {
    let secs = since.elapsed().as_secs_f64();
    format!(
        "{n} in {:.2} s = {:.0} records/min",
        secs,
        n as f64 * 60.0 / secs
    )
}

fn main() {
    let guests: usize = std::env::var("LANGO_ACCT_GUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let received = Arc::new(AtomicU64::new(0));
    let port = responder(received.clone());
    let text = format!(
        "{}\nconfig radius 'radius'\n\toption server '127.0.0.1'\n\toption acct_port '{port}'\n\t\
         option auth_port '9'\n\toption secret '{SECRET}'\n\toption timeout '1'\n\toption retries '0'\n",
        lango::daemon::DEMO_CONFIG
    );
    let config = config::parse(&text, "bench").expect("the config parses");
    let dir = std::env::var_os("LANGO_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("lango-acct-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open(&dir.join("lango.redb")).unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let neighbours = Arc::new(FakeNeighbours::default());
    let ips: Vec<IpAddr> = (0..guests)
        .map(|i| IpAddr::from([10, 1, (i / 250) as u8, (i % 250 + 2) as u8]))
        .collect();
    for (i, ip) in ips.iter().enumerate() {
        let b = (i as u32).to_be_bytes();
        neighbours.insert(*ip, Mac([0x02, 0, b[0], b[1], b[2], b[3]]));
    }
    let env = Env {
        clock: clock.clone(),
        firewall: Arc::new(FakeFirewall::default()),
        neighbours,
        gateway: Arc::new(Simulator::new(clock.clone(), 3)),
    };
    let (app, _woken) = App::new(config, store, env).unwrap();
    let app = Arc::new(app);
    let mut codes = Vec::new();
    while codes.len() < guests {
        let batch = (guests - codes.len()).min(500);
        let made = app.generate_vouchers("hour", batch, "", None).unwrap();
        codes.extend(made.expect("the hour package"));
    }
    let started = Instant::now();
    for (ip, voucher) in ips.iter().zip(&codes) {
        app.redeem(*ip, &voucher.code).expect("redeemed");
    }
    println!(
        "sales with their Start queued (a durable write each): {}",
        per_minute(guests, started)
    );
    let started = Instant::now();
    let sent = app.deliver_accounting();
    println!("Starts delivered: {}", per_minute(sent, started));
    clock.advance(600);
    let started = Instant::now();
    let made = app.account_interims().unwrap();
    println!(
        "Interim-Updates made (one durable write): {}",
        per_minute(made, started)
    );
    let started = Instant::now();
    let sent = app.deliver_accounting();
    println!("Interim-Updates delivered: {}", per_minute(sent, started));
    println!(
        "responder saw {} requests; queue left: {}; store {} KB",
        received.load(Ordering::Relaxed),
        app.accounting_queued(),
        std::fs::metadata(dir.join("lango.redb")).map_or(0, |m| m.len() / 1024)
    );
    // The whole process (app, store cache, responder): an upper bound for lango's part.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status.lines().find(|l| l.starts_with("VmHWM:"));
    println!("peak RSS of this process: {}", peak.unwrap_or("unknown"));
    let _ = std::fs::remove_dir_all(&dir);
}
