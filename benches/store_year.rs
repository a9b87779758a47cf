//! A simulated year of sales through `App` on a real store file: the file's size and bytes per
//! purchase, durable commits per purchase, and the owner's 30-day read (what the dashboard and
//! the payments page load), at 100 and 300 purchases a day, against issue 14's goals (a year
//! at 100 a day in ≤ 4 MB of store, the dashboard in ≤ 20 ms). Each purchase is a real one:
//! start, STK push to the in-process Daraja simulator, poll, paid, session granted; sessions
//! end after their hour; the retention pass runs as lango runs it. Run:
//! `cargo bench --bench store_year` (`LANGO_BENCH_DAYS=365`, `LANGO_BENCH_RATES=100,300`,
//! `LANGO_BENCH_KEEP_SESSIONS=<days>` instead of the default `keep_sessions`).
//! The store lives in /dev/shm when it exists, so that fsyncs cost nothing here; the bytes are
//! what a router's flash would hold.

use std::sync::Arc;
use std::time::Instant;

use lango::adapters::simulator::Simulator;
use lango::adapters::testing::{FakeFirewall, FakeNeighbours, ManualClock};
use lango::app::{App, Env};
use lango::core::config;
use lango::core::model::Mac;
use lango::store::Store;

const T0: i64 = 1_800_000_000;
const DAY: i64 = 86_400;
const GOAL_BYTES: u64 = 4 * 1024 * 1024;
const GOAL_DASHBOARD_MS: f64 = 20.0;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let days: i64 = env_or("LANGO_BENCH_DAYS", 365);
    let rates: Vec<i64> = std::env::var("LANGO_BENCH_RATES")
        .unwrap_or_else(|_| "100,300".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    println!(
        "| purchases a day | days | purchases | store file | on flash (allocated) | bytes per purchase | goal (4 MiB at 100 a day) | durable commits per purchase | 30-day read (dashboard) | goal | wall time |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for per_day in rates {
        year(days, per_day);
    }
}

fn year(days: i64, per_day: i64) {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("lango-bench-year-{}-{per_day}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("lango.db");
    let mut config = config::parse(lango::daemon::DEMO_CONFIG, "demo.conf").unwrap();
    if let Some(days) = std::env::var("LANGO_BENCH_KEEP_SESSIONS")
        .ok()
        .and_then(|d| d.parse::<u64>().ok())
    {
        config.gateway.keep_sessions_secs = days * DAY as u64;
    }
    let clock = Arc::new(ManualClock::new(T0));
    let neighbours = Arc::new(FakeNeighbours::default());
    // Fifty devices, as a café sees the same regulars.
    let guests: Vec<(std::net::IpAddr, Mac)> = (0..50u8)
        .map(|n| {
            let ip = std::net::IpAddr::from([192, 168, 1, 10 + n]);
            let mac = Mac([0xaa, 0, 0, 0, 1, n]);
            neighbours.insert(ip, mac);
            (ip, mac)
        })
        .collect();
    let sim = Arc::new(Simulator::new(clock.clone(), 3));
    let env = Env {
        clock: clock.clone(),
        firewall: Arc::new(FakeFirewall::default()),
        neighbours,
        gateway: sim,
    };
    let store = Store::open(&path).unwrap();
    let (app, _woken) = App::new(config, store, env).unwrap();
    let started = Instant::now();
    let gap = DAY / per_day;
    let total = days * per_day;
    for n in 0..total {
        let (ip, _) = guests[(n % 50) as usize];
        if app.start_purchase(ip, "hour", "0712345678").is_ok() {
            app.run_due();
        }
        clock.advance(4);
        app.run_due();
        clock.advance(gap - 4);
        app.run_due();
    }
    let wall = started.elapsed();
    let commits = app.store.write_stats().durable_commits;
    let now = T0 + total * gap;
    let mut samples: Vec<f64> = (0..20)
        .map(|_| {
            let t = Instant::now();
            let list = app
                .store
                .read(|r| r.payments_since(now - 31 * DAY, 100_000))
                .unwrap();
            std::hint::black_box(list);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    let read_ms = samples[samples.len() / 2];
    drop(app);
    let meta = std::fs::metadata(&path).unwrap();
    let bytes = meta.len();
    // What the filesystem holds: redb grows a small file by doubling its length, and the part
    // it has not written yet is a hole (tmpfs, UBIFS and ext4 alike).
    let allocated = std::os::unix::fs::MetadataExt::blocks(&meta) * 512;
    println!(
        "| {per_day} | {days} | {total} | {:.2} MiB | {:.2} MiB | {} | {:.2}× | {:.2} | {read_ms:.2} ms | {:.2}× | {:.0} s |",
        bytes as f64 / 1048576.0,
        allocated as f64 / 1048576.0,
        bytes / total.max(1) as u64,
        bytes as f64 / GOAL_BYTES as f64,
        commits as f64 / total.max(1) as f64,
        read_ms / GOAL_DASHBOARD_MS,
        wall.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
