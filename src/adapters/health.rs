//! Router health for the owner's dashboard: uptime, load, free memory and free flash, and
//! whether the internet (WAN) and Daraja answer. The parsers of `/proc/uptime`,
//! `/proc/loadavg` and `/proc/meminfo` are pure; `read` gathers them (and the free space of the
//! store's filesystem) without ever failing: a missing source is reported as unknown. The
//! reachability checks (`Probes`) run on a thread of their own, never on an HTTP thread; the
//! page shows the last result.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::core::locks::lock;
use crate::core::time::Timestamp;

/// Results older than this are refreshed when the dashboard is opened.
pub(crate) const PROBE_MAX_AGE_SECS: i64 = 60;
/// One probe's deadline (name lookup and TCP connect).
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(4);

/// What a reachability check tries: one of these `host:port`s must accept a TCP connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub endpoints: Vec<(String, u16)>,
}

/// The last answer of one target: Ok(milliseconds) or why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reach {
    pub name: String,
    pub result: Result<u64, String>,
}

/// When the last check started, its results, and whether one is running.
type Last = Arc<Mutex<(Timestamp, Option<Vec<Reach>>, bool)>>;

/// The WAN and Daraja checks with their last results.
pub struct Probes {
    pub targets: Vec<Target>,
    last: Last,
}

impl Probes {
    /// The router's checks: the WAN answers if a public DNS server accepts a TCP connection
    /// (Cloudflare's or Google's, on port 53), Daraja if its API host does on 443 (name lookup
    /// included; the owner's "Test M-Pesa connection" does the full TLS and API check).
    pub(crate) fn for_router(daraja: Option<crate::core::http::Url>) -> Probes {
        let mut targets = vec![Target {
            name: "WAN".into(),
            endpoints: vec![("1.1.1.1".into(), 53), ("8.8.8.8".into(), 53)],
        }];
        if let Some(url) = daraja {
            targets.push(Target {
                name: "Daraja".into(),
                endpoints: vec![(url.host, url.port)],
            });
        }
        Probes::new(targets)
    }

    pub fn new(targets: Vec<Target>) -> Probes {
        Probes {
            targets,
            last: Arc::new(Mutex::new((i64::MIN / 2, None, false))),
        }
    }

    /// The last results (none before the first check finished), starting a new check in the
    /// background when they are older than `PROBE_MAX_AGE_SECS`.
    pub(crate) fn results(&self, now: Timestamp) -> Option<Vec<Reach>> {
        let (stale, results) = {
            let mut last = lock(&self.last);
            let stale = now - last.0 >= PROBE_MAX_AGE_SECS && !last.2;
            if stale {
                last.0 = now;
                last.2 = true;
            }
            (stale, last.1.clone())
        };
        if stale {
            let targets = self.targets.clone();
            let last = self.last.clone();
            let spawned = std::thread::Builder::new()
                .name("lango-probe".into())
                .spawn(move || {
                    let results = targets.iter().map(check).collect();
                    let mut last = lock(&last);
                    last.1 = Some(results);
                    last.2 = false;
                });
            if let Err(e) = spawned {
                log::warn!("cannot start the reachability check: {e}");
                lock(&self.last).2 = false;
            }
        }
        results
    }
}

fn check(target: &Target) -> Reach {
    let mut result = Err("nothing to try".to_string());
    for (host, port) in &target.endpoints {
        result = crate::adapters::https::tcp_probe(host, *port, PROBE_TIMEOUT);
        if result.is_ok() {
            break;
        }
    }
    Reach {
        name: target.name.clone(),
        result,
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Health {
    pub uptime_secs: Option<u64>,
    /// One-minute load average.
    pub load1: Option<f64>,
    pub mem_total_kb: Option<u64>,
    pub mem_available_kb: Option<u64>,
    /// Free bytes on the filesystem that holds the store (the flash overlay on a router).
    pub flash_free_bytes: Option<u64>,
    pub flash_total_bytes: Option<u64>,
    /// lango's own resident memory (`VmRSS` of `/proc/self/status`).
    pub rss_kb: Option<u64>,
}

/// `/proc/uptime`'s first field, whole seconds (`12345.67` is 12345).
pub(crate) fn parse_uptime(text: &str) -> Option<u64> {
    decimal(text.split_whitespace().next()?).map(|(whole, _)| whole)
}

/// `/proc/loadavg`'s first field (`0.42`), read to hundredths.
pub(crate) fn parse_loadavg(text: &str) -> Option<f64> {
    let (whole, hundredths) = decimal(text.split_whitespace().next()?)?;
    Some(whole as f64 + f64::from(hundredths) / 100.0)
}

/// A plain decimal `123` or `123.4567` as its whole part and hundredths (truncated). Integer
/// parsing only: std's float parser costs 16 KB of binary.
fn decimal(text: &str) -> Option<(u64, u32)> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = frac.bytes().chain(std::iter::repeat(b'0')).take(2);
    let hundredths = digits.fold(0, |n, d| n * 10 + u32::from(d - b'0'));
    Some((whole.parse().ok()?, hundredths))
}

/// A `Name:  123 kB` line's number, of `/proc/meminfo` or `/proc/self/status`.
fn kb_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// `(MemTotal, MemAvailable)` in kB; older kernels without MemAvailable use MemFree + Cached.
pub(crate) fn parse_meminfo(text: &str) -> (Option<u64>, Option<u64>) {
    let field = |name: &str| kb_field(text, name);
    let available =
        field("MemAvailable").or_else(|| Some(field("MemFree")? + field("Cached").unwrap_or(0)));
    (field("MemTotal"), available)
}

/// Reads everything it can.
// statvfs counts are `c_ulong`: 64 bits here, 32 on the routers' MIPS and ARM cores.
#[allow(clippy::unnecessary_cast)]
pub fn read(store_path: &Path) -> Health {
    let file = |p: &str| std::fs::read_to_string(p).ok();
    let (mem_total_kb, mem_available_kb) = file("/proc/meminfo")
        .map(|t| parse_meminfo(&t))
        .unwrap_or_default();
    let dir = store_path
        .parent()
        .filter(|d| d.exists())
        .unwrap_or(Path::new("/"));
    let fs = nix::sys::statvfs::statvfs(dir).ok();
    Health {
        uptime_secs: file("/proc/uptime").and_then(|t| parse_uptime(&t)),
        load1: file("/proc/loadavg").and_then(|t| parse_loadavg(&t)),
        mem_total_kb,
        mem_available_kb,
        flash_free_bytes: fs
            .as_ref()
            .map(|s| s.blocks_available() as u64 * s.fragment_size() as u64),
        flash_total_bytes: fs
            .as_ref()
            .map(|s| s.blocks() as u64 * s.fragment_size() as u64),
        rss_kb: file("/proc/self/status").and_then(|t| kb_field(&t, "VmRSS")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files() {
        assert_eq!(parse_uptime("12345.67 2345.00\n"), Some(12345));
        assert_eq!(parse_uptime("junk"), None);
        assert_eq!(parse_loadavg("0.42 0.30 0.25 1/123 4567\n"), Some(0.42));
        let meminfo = "MemTotal:         124000 kB\nMemFree:           20000 kB\nMemAvailable:      61000 kB\nCached: 30000 kB\n";
        assert_eq!(parse_meminfo(meminfo), (Some(124_000), Some(61_000)));
        let old = "MemTotal: 60000 kB\nMemFree: 10000 kB\nCached: 5000 kB\n";
        assert_eq!(parse_meminfo(old), (Some(60_000), Some(15_000)));
    }

    #[test]
    fn probes_run_in_the_background() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let probes = Probes::new(vec![
            Target {
                name: "up".into(),
                endpoints: vec![("127.0.0.1".into(), port)],
            },
            Target {
                name: "down".into(),
                endpoints: vec![("127.0.0.1".into(), 1)],
            },
        ]);
        assert_eq!(
            probes.results(1000),
            None,
            "the first call starts the check"
        );
        let mut results = None;
        for _ in 0..200 {
            results = probes.results(1001);
            if results.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let results = results.expect("the check finished");
        assert!(results[0].result.is_ok(), "{results:?}");
        assert!(results[1].result.is_err(), "{results:?}");
    }

    #[test]
    fn read_never_fails() {
        let h = read(Path::new("/nonexistent/dir/lango.redb"));
        assert!(h.flash_total_bytes.is_some(), "falls back to /");
    }
}
