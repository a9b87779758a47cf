//! When a package is on sale: its daily window (`option window '22:00-06:00'`, which may cross
//! midnight) and its weekdays (`option days 'mon-fri'`), in the owner's local time
//! (`utc_offset`). Pure: `open_until` takes `now` and says when the window that is open now
//! ends; the parsers turn the options' text into a `Window`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::core::time::Timestamp;

/// A package's sale window. A window that crosses midnight belongs to the day it opens on:
/// `22:00-06:00` on `fri` runs from Friday 22:00 to Saturday 06:00. Stored (in `Terms`) as
/// one number (`packed`): a derived serde struct costs kilobytes of router binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Minutes after local midnight: opens at `start`, closes at `end` (1..=1440; `end` at or
    /// before `start` means the next day).
    pub start: u16,
    pub end: u16,
    /// The weekdays it opens on: bit 0 Monday ... bit 6 Sunday.
    pub days: u8,
    /// The owner's offset from UTC in seconds (`utc_offset`), fixed when the config is read.
    pub utc_offset: i64,
}

/// Every day of the week.
pub const ALL_DAYS: u8 = 0x7f;

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Window {
    /// Pure: the end of the window open at `now`, or `None` when it is closed.
    pub fn open_until(&self, now: Timestamp) -> Option<Timestamp> {
        let local = now.saturating_add(self.utc_offset);
        let day = local.div_euclid(86_400);
        let second = local.rem_euclid(86_400);
        let (start, end) = (i64::from(self.start) * 60, i64::from(self.end) * 60);
        let on = |day: i64| self.days & (1 << (day + 3).rem_euclid(7)) != 0;
        let at = |day: i64, second: i64| day * 86_400 + second - self.utc_offset;
        if start < end {
            return (on(day) && (start..end).contains(&second)).then(|| at(day, end));
        }
        if on(day) && second >= start {
            return Some(at(day + 1, end));
        }
        (on(day - 1) && second < end).then(|| at(day, end))
    }

    /// `22:00-06:00`: the hours, for the guest.
    pub fn span(&self) -> String {
        format!("{}-{}", hhmm(self.start), hhmm(self.end))
    }

    /// `22:00-06:00 mon,tue`, for the owner and the refusal (the days only when not every day).
    pub fn words(&self) -> String {
        let mut out = self.span();
        let mut sep = ' ';
        for (d, name) in DAY_NAMES.iter().enumerate() {
            if self.days != ALL_DAYS && self.days & (1 << d) != 0 {
                out.push(sep);
                out.push_str(name);
                sep = ',';
            }
        }
        out
    }

    /// The window as one number: start, end (11 bits each), days (7), offset + 2^17 seconds.
    fn pack(self) -> u64 {
        let offset = u64::try_from(self.utc_offset + (1 << 17)).unwrap_or(0);
        u64::from(self.start)
            | u64::from(self.end) << 11
            | u64::from(self.days) << 22
            | offset << 29
    }

    fn unpack(n: u64) -> Window {
        Window {
            start: (n & 0x7ff) as u16,
            end: (n >> 11 & 0x7ff) as u16,
            days: (n >> 22 & 0x7f) as u8,
            utc_offset: (n >> 29) as i64 - (1 << 17),
        }
    }
}

/// `#[serde(with)]` for `Option<Window>`: one number in the record.
pub mod packed {
    use super::*;

    pub fn serialize<S: Serializer>(w: &Option<Window>, s: S) -> Result<S::Ok, S::Error> {
        w.map(Window::pack).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Window>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Window::unpack))
    }
}

fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60 % 24, minutes % 60)
}

/// `22:00` (or `24:00` for an end) to minutes after midnight.
fn parse_clock(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    let two = |t: &str| {
        let digits = t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit());
        digits.then(|| t.parse::<u16>().ok()).flatten()
    };
    let (h, m) = (two(h)?, two(m)?);
    (m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
}

/// `22:00-06:00` to `start | end << 16` in minutes (a `u32`, as the config's other numbers:
/// one less parser instance in the binary): it may cross midnight; start and end differ.
pub(crate) fn parse_window(text: &str) -> Result<u32, String> {
    let bad = || format!("'{text}' is not a time window (write it like 22:00-06:00)");
    let (start, end) = text.split_once('-').ok_or_else(bad)?;
    let (start, end) = (
        parse_clock(start).ok_or_else(bad)?,
        parse_clock(end).ok_or_else(bad)?,
    );
    let end = if end == 0 { 1440 } else { end };
    if start == 1440 || start == end {
        return Err(bad());
    }
    Ok(u32::from(start) | u32::from(end) << 16)
}

/// `mon-fri`, `sat,sun`, `fri-mon sat`: weekdays (three letters, any case) and ranges, which
/// may wrap.
pub(crate) fn parse_days(text: &str) -> Result<u32, String> {
    let bad = || format!("'{text}' is not a list of weekdays (write it like mon-fri or sat,sun)");
    let day = |t: &str| DAY_NAMES.iter().position(|d| t.eq_ignore_ascii_case(d));
    let mut days = 0u32;
    for part in text.split([',', ' ']).filter(|p| !p.is_empty()) {
        let (from, to) = part.split_once('-').unwrap_or((part, part));
        let (from, to) = (day(from).ok_or_else(bad)?, day(to).ok_or_else(bad)?);
        let mut d = from;
        loop {
            days |= 1 << d;
            if d == to {
                break;
            }
            d = (d + 1) % 7;
        }
    }
    if days == 0 {
        return Err(bad());
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2027-01-15 is a Friday; midnight there in UTC+3.
    const FRI: Timestamp = 1_800_000_000 - 1_800_000_000 % 86_400 - 10_800;
    const EAT: i64 = 10_800;

    fn at(day: i64, h: i64, m: i64) -> Timestamp {
        FRI + day * 86_400 + h * 3600 + m * 60
    }

    fn window(text: &str, days: &str) -> Window {
        let span = parse_window(text).unwrap();
        Window {
            start: span as u16,
            end: (span >> 16) as u16,
            days: parse_days(days).unwrap() as u8,
            utc_offset: EAT,
        }
    }

    #[test]
    fn the_test_day_is_a_friday_at_local_midnight() {
        assert_eq!(
            crate::core::time::local_minute(FRI, EAT).get(11..),
            Some("00:00")
        );
        assert_eq!(
            (crate::core::time::local_day(FRI, EAT) + 3).rem_euclid(7),
            4
        );
    }

    #[test]
    fn a_window_inside_one_day() {
        let w = window("08:00-17:30", "mon-fri");
        assert_eq!(w.open_until(at(0, 7, 59)), None);
        assert_eq!(w.open_until(at(0, 8, 0)), Some(at(0, 17, 30)));
        assert_eq!(w.open_until(at(0, 17, 29)), Some(at(0, 17, 30)));
        assert_eq!(w.open_until(at(0, 17, 30)), None);
        // Saturday and Sunday closed, Monday open.
        assert_eq!(w.open_until(at(1, 9, 0)), None);
        assert_eq!(w.open_until(at(2, 9, 0)), None);
        assert_eq!(w.open_until(at(3, 9, 0)), Some(at(3, 17, 30)));
    }

    #[test]
    fn a_night_window_crosses_midnight_and_belongs_to_the_day_it_opens() {
        let w = window("22:00-06:00", "fri");
        assert_eq!(w.open_until(at(0, 21, 59)), None);
        assert_eq!(w.open_until(at(0, 22, 0)), Some(at(1, 6, 0)));
        // Saturday 03:00 is Friday's night.
        assert_eq!(w.open_until(at(1, 3, 0)), Some(at(1, 6, 0)));
        assert_eq!(w.open_until(at(1, 6, 0)), None);
        // Saturday 23:00 is not (Saturday is not on), and neither is Friday 03:00 (Thursday).
        assert_eq!(w.open_until(at(1, 23, 0)), None);
        assert_eq!(w.open_until(at(0, 3, 0)), None);
        assert_eq!(w.words(), "22:00-06:00 fri");
        // Stored as one number, and back.
        for w in [
            w,
            Window {
                utc_offset: -50_400,
                ..w
            },
            Window {
                utc_offset: 50_400,
                ..w
            },
        ] {
            assert_eq!(Window::unpack(w.pack()), w);
        }
    }

    #[test]
    fn days_alone_and_other_offsets() {
        let w = Window {
            start: 0,
            end: 1440,
            days: parse_days("sat,sun").unwrap() as u8,
            utc_offset: EAT,
        };
        assert_eq!(w.open_until(at(0, 23, 0)), None);
        assert_eq!(w.open_until(at(1, 0, 0)), Some(at(2, 0, 0)));
        assert_eq!(w.words(), "00:00-00:00 sat,sun");
        assert_eq!(parse_window("00:00-00:00"), Ok(1440 << 16));
        // The same instant is Thursday 21:00 in UTC: a UTC window 20:00-22:00 is open.
        let utc = Window {
            utc_offset: 0,
            ..window("20:00-22:00", "thu")
        };
        assert_eq!(utc.open_until(at(0, 0, 0)), Some(at(0, 1, 0)));
    }

    #[test]
    fn window_and_day_texts() {
        let span = |start: u32, end: u32| Ok(start | end << 16);
        assert_eq!(parse_window("22:00-06:00"), span(1320, 360));
        assert_eq!(parse_window("00:00-24:00"), span(0, 1440));
        assert_eq!(parse_window("18:00-00:00"), span(1080, 1440));
        for bad in [
            "",
            "22-06",
            "22:00",
            "25:00-01:00",
            "10:00-10:00",
            "9:00-10:00",
            "x",
        ] {
            assert!(parse_window(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_days("mon-fri"), Ok(0x1f));
        assert_eq!(parse_days("sat, sun"), Ok(0x60));
        assert_eq!(parse_days("fri-mon"), Ok(0x71));
        assert_eq!(parse_days("Mon"), Ok(1));
        for bad in ["", "xyz", "mon-", "m", "monday"] {
            assert!(parse_days(bad).is_err(), "{bad}");
        }
    }
}
