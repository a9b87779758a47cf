//! A minimal `log` backend: one line per record on stderr, which procd forwards to syslog
//! (`logread`). Write errors are ignored: a closed stderr must never panic the daemon
//! (`eprintln!` would).

use std::io::Write;

struct StderrLogger {
    level: log::LevelFilter,
}

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // Dependencies log too; only lango's own info lines are meant for the owner.
        if !record.target().starts_with("lango") && record.level() > log::Level::Warn {
            return;
        }
        let level = match record.level() {
            log::Level::Error => "error",
            log::Level::Warn => "warning",
            log::Level::Info => "info",
            log::Level::Debug => "debug",
            log::Level::Trace => "trace",
        };
        let _ = writeln!(std::io::stderr().lock(), "lango {level}: {}", record.args());
    }

    fn flush(&self) {}
}

/// Installs the logger. The level comes from `LANGO_LOG` (error, warn, info, debug), default
/// info.
pub fn init() {
    let level = match std::env::var("LANGO_LOG").ok().as_deref() {
        Some("error") => log::LevelFilter::Error,
        Some("warn") => log::LevelFilter::Warn,
        Some("debug") => log::LevelFilter::Debug,
        Some("trace") => log::LevelFilter::Trace,
        Some("off") => log::LevelFilter::Off,
        _ => log::LevelFilter::Info,
    };
    if log::set_boxed_logger(Box::new(StderrLogger { level })).is_ok() {
        log::set_max_level(level);
    }
}
