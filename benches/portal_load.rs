//! Time to first byte of the portal's first view with 50 guests asking at once, on loopback.
//! Run: `cargo bench --bench portal_load`. Prints percentiles; wall-clock figures from a shared
//! machine, for orders of magnitude.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lango::adapters::neighbours::LoopbackNeighbours;
use lango::adapters::simulator::Simulator;
use lango::app::Env;
use lango::core::firewall::RecordingFirewall;
use lango::core::time::SystemClock;
use lango::store::Store;

const GUESTS: usize = 50;
const REQUESTS_EACH: usize = 20;

fn main() {
    let mut config =
        lango::core::config::parse(lango::daemon::DEMO_CONFIG, "demo").expect("demo config");
    config.gateway.portal_port = 0;
    config.gateway.admin_port = 0;
    let clock = Arc::new(SystemClock);
    let sim = Arc::new(Simulator::new(clock.clone(), 5));
    let env = Env {
        clock,
        firewall: Arc::new(RecordingFirewall::default()),
        neighbours: Arc::new(LoopbackNeighbours),
        gateway: sim.clone(),
    };
    let options = lango::daemon::Options {
        simulator: Some(sim),
        ..lango::daemon::Options::default()
    };
    let running = lango::daemon::start(config, Store::in_memory().unwrap(), env, options).unwrap();
    let addr = running.portal;
    let threads: Vec<_> = (0..GUESTS)
        .map(|_| {
            std::thread::spawn(move || {
                let mut ttfb = Vec::new();
                for _ in 0..REQUESTS_EACH {
                    let mut stream = TcpStream::connect(addr).expect("connect");
                    stream
                        .set_read_timeout(Some(Duration::from_secs(30)))
                        .unwrap();
                    let start = Instant::now();
                    stream
                        .write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                        .unwrap();
                    let mut first = [0u8; 1];
                    stream.read_exact(&mut first).unwrap();
                    ttfb.push(start.elapsed().as_secs_f64() * 1000.0);
                    let mut rest = Vec::new();
                    let _ = stream.read_to_end(&mut rest);
                }
                ttfb
            })
        })
        .collect();
    let mut all: Vec<f64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    println!(
        "portal first view, {GUESTS} concurrent guests x {REQUESTS_EACH} requests: TTFB p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.50),
        pct(0.95),
        pct(0.99),
        all[all.len() - 1]
    );
    running.stop();
}
