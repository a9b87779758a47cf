//! Router health for the owner's dashboard: uptime, load, free memory and free flash. The
//! parsers of `/proc/uptime`, `/proc/loadavg` and `/proc/meminfo` are pure; `read` gathers
//! them (and the free space of the store's filesystem) without ever failing: a missing source
//! is reported as unknown.

use std::path::Path;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Health {
    pub uptime_secs: Option<u64>,
    /// One-minute load average.
    pub load1: Option<f64>,
    pub mem_total_kb: Option<u64>,
    pub mem_available_kb: Option<u64>,
    /// Free bytes on the filesystem that holds the store (the flash overlay on a router).
    pub flash_free_bytes: Option<u64>,
    pub flash_total_bytes: Option<u64>,
}

pub fn parse_uptime(text: &str) -> Option<u64> {
    let secs: f64 = text.split_whitespace().next()?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then_some(secs as u64)
}

pub fn parse_loadavg(text: &str) -> Option<f64> {
    text.split_whitespace()
        .next()?
        .parse()
        .ok()
        .filter(|l: &f64| l.is_finite())
}

/// `(MemTotal, MemAvailable)` in kB; older kernels without MemAvailable use MemFree + Cached.
pub fn parse_meminfo(text: &str) -> (Option<u64>, Option<u64>) {
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(':'))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
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
    fn read_never_fails() {
        let h = read(Path::new("/nonexistent/dir/lango.redb"));
        assert!(h.flash_total_bytes.is_some(), "falls back to /");
    }
}
