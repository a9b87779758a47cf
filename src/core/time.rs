//! Time as data. `Clock` is the only way lango reads the OS clock (`SystemClock`); the core takes
//! `now` (Unix seconds, wall clock) as an argument. Also owns the wall-clock trust policy: routers
//! boot with a wrong clock until NTP syncs, so a clock behind what lango has already seen is not
//! believed (see `ClockGuard`).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use portable_atomic::{AtomicI64, Ordering};

/// Unix seconds, wall clock. Deadlines are stored in this form so that they survive a reboot.
pub(crate) type Timestamp = i64;

/// 2026-01-01T00:00:00Z. A wall clock before this is certainly unsynced (a router that booted at
/// 1970 or at its firmware build date), so lango neither sells nor expires until NTP fixes it.
pub(crate) const PLAUSIBLE_FLOOR: Timestamp = 1_767_225_600;

pub trait Clock: Send + Sync {
    /// Wall-clock Unix seconds.
    fn now(&self) -> Timestamp;
    /// Wall-clock Unix milliseconds, for firewall timeouts that must end within a second.
    fn now_ms(&self) -> i64 {
        self.now().saturating_mul(1000)
    }
    /// A monotonic instant, for measuring waits; never goes backwards.
    fn mono(&self) -> Instant;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as Timestamp,
            // A clock before 1970 is as implausible as 1970 itself.
            Err(_) => 0,
        }
    }
    fn now_ms(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_millis() as i64,
            Err(_) => 0,
        }
    }
    fn mono(&self) -> Instant {
        Instant::now()
    }
}

/// What lango believes about the wall clock right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeView {
    /// The time to compute with: the wall clock, but never earlier than the highest plausible
    /// time already seen (the floor), so a backwards jump cannot resurrect or lengthen sessions.
    pub now: Timestamp,
    /// The same instant in milliseconds (never earlier than the floor).
    pub now_ms: i64,
    /// False while the wall clock is behind the floor: no new sales, no expiries from the store
    /// (the kernel's element timeouts keep running on their own).
    pub trusted: bool,
}

impl TimeView {
    /// The current second rounded up: a grant starts here, so that a guest never gets a
    /// fraction of a second less than paid for (expiry uses `now`, rounded down).
    pub fn start(&self) -> Timestamp {
        (self.now_ms + 999).div_euclid(1000)
    }
}

/// Pure: combines a raw wall-clock reading with the floor.
pub(crate) fn assess(wall: Timestamp, floor: Timestamp) -> TimeView {
    let floor = floor.max(PLAUSIBLE_FLOOR);
    let (now, trusted) = if wall >= floor {
        (wall, true)
    } else {
        (floor, false)
    };
    TimeView {
        now,
        now_ms: now.saturating_mul(1000),
        trusted,
    }
}

/// Keeps the floor: the highest trusted wall-clock time seen, persisted with each checkpoint so
/// that it survives a reboot.
pub(crate) struct ClockGuard {
    floor: AtomicI64,
}

/// How far the wall clock may step back (NTP slewing, a small manual correction) before lango
/// stops trusting it. Ten minutes keeps a routine correction from halting sales.
pub(crate) const BACKWARD_TOLERANCE: Timestamp = 600;

impl ClockGuard {
    pub fn new(persisted_floor: Timestamp) -> ClockGuard {
        ClockGuard {
            floor: AtomicI64::new(persisted_floor),
        }
    }

    /// Reads the clock and raises the floor when the reading is trusted.
    pub(crate) fn view(&self, clock: &dyn Clock) -> TimeView {
        let wall_ms = clock.now_ms();
        let wall = wall_ms.div_euclid(1000);
        let floor = self.floor.load(Ordering::Relaxed);
        let view = assess(wall + BACKWARD_TOLERANCE, floor);
        if !view.trusted {
            return view;
        }
        self.floor.fetch_max(wall, Ordering::Relaxed);
        let now_ms = wall_ms.max(floor.saturating_mul(1000));
        TimeView {
            now: now_ms.div_euclid(1000),
            now_ms,
            trusted: true,
        }
    }

    pub(crate) fn floor(&self) -> Timestamp {
        self.floor.load(Ordering::Relaxed)
    }
}

/// ISO-8601 UTC text for a timestamp, for pages and JSON (`2026-11-23T10:20:36Z`).
pub(crate) fn iso8601(ts: Timestamp) -> String {
    let (y, mo, d, h, mi, s) = civil(ts);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `YYYYMMDDHHMMSS` in East Africa Time (UTC+3), the form Daraja uses for timestamps.
pub(crate) fn daraja_timestamp(ts: Timestamp) -> String {
    let (y, mo, d, h, mi, s) = civil(ts + 3 * 3600);
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}")
}

/// `YYYY-MM-DD HH:MM:SS` in East Africa Time, the form of the Pull Transactions window.
pub(crate) fn daraja_datetime(ts: Timestamp) -> String {
    let (y, mo, d, h, mi, s) = civil(ts + 3 * 3600);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// The owner's calendar day of a timestamp (days since the epoch in local time), for revenue
/// per day and payments of a day. `utc_offset` is in seconds east of UTC.
pub fn local_day(ts: Timestamp, utc_offset: i64) -> i64 {
    ts.saturating_add(utc_offset).div_euclid(86_400)
}

/// The first second of a local day.
pub(crate) fn day_start(day: i64, utc_offset: i64) -> Timestamp {
    day.saturating_mul(86_400).saturating_sub(utc_offset)
}

/// `2027-01-15` for a day number (as `local_day` gives).
pub fn date_of_day(day: i64) -> String {
    let (y, mo, d, ..) = civil(day.saturating_mul(86_400));
    format!("{y:04}-{mo:02}-{d:02}")
}

/// `2027-01-15 11:05` in the owner's local time.
pub fn local_minute(ts: Timestamp, utc_offset: i64) -> String {
    let (y, mo, d, h, mi, _) = civil(ts.saturating_add(utc_offset));
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}")
}

/// Parses `YYYY-MM-DD` to a day number; `None` for anything else (or an impossible date).
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let day = era * 146_097 + doe - 719_468;
    // 2027-02-30 would land in March: refuse it rather than guess.
    (date_of_day(day) == text).then_some(day)
}

/// Calendar fields from Unix seconds (Howard Hinnant's civil_from_days).
fn civil(ts: Timestamp) -> (i64, i64, i64, i64, i64, i64) {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_and_daraja_formats() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_795_429_236), "2026-11-23T10:20:36Z");
        assert_eq!(daraja_timestamp(1_795_429_236), "20261123132036");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn local_days() {
        // 2027-01-15T22:00:00Z is already the 16th in Nairobi (UTC+3).
        let ts = 1_800_050_400;
        assert_eq!(iso8601(ts), "2027-01-15T22:00:00Z");
        assert_eq!(date_of_day(local_day(ts, 0)), "2027-01-15");
        assert_eq!(date_of_day(local_day(ts, 10_800)), "2027-01-16");
        assert_eq!(local_minute(ts, 10_800), "2027-01-16 01:00");
        let day = parse_date("2027-01-16").unwrap();
        assert_eq!(day, local_day(ts, 10_800));
        assert_eq!(day_start(day, 10_800), 1_800_046_800);
        assert_eq!(
            parse_date("2000-02-29").map(date_of_day).as_deref(),
            Some("2000-02-29")
        );
        for bad in [
            "2027-02-30",
            "2027-13-01",
            "27-01-01",
            "2027-1-1",
            "",
            "2027-01-01x",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn clock_before_floor_is_not_trusted() {
        let floor = PLAUSIBLE_FLOOR + 1000;
        let untrusted = assess(0, floor);
        assert_eq!(
            (untrusted.now, untrusted.now_ms, untrusted.trusted),
            (floor, floor * 1000, false)
        );
        let ok = assess(floor + 5, floor);
        assert_eq!((ok.now, ok.trusted), (floor + 5, true));
        assert!(!assess(PLAUSIBLE_FLOOR - 1, 0).trusted);
    }
}
