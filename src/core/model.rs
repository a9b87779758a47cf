//! Small value types with validating parsers: MAC addresses, money in minor units, phone numbers,
//! durations, byte counts and rates. Everything here is pure and total: a parser returns `Err`
//! with a plain message for the owner or the guest, never panics, and never uses floats for money.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A link-layer address. Always learned from the network (neighbour table, DHCP leases), never
/// taken from what a guest sends.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// The address as a number, ordered as the bytes are: a cheap sort key (comparing the
    /// arrays is a `memcmp` call in the size-optimised router builds).
    pub(crate) fn number(&self) -> u64 {
        let [a, b, c, d, e, f] = self.0;
        u64::from_be_bytes([0, 0, a, b, c, d, e, f])
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }
}

impl FromStr for Mac {
    type Err = String;
    fn from_str(text: &str) -> Result<Mac, String> {
        let text = text.trim();
        let parts: Vec<&str> = text.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(format!(
                "'{text}' is not a MAC address (want aa:bb:cc:dd:ee:ff)"
            ));
        }
        let mut out = [0u8; 6];
        for (idx, part) in parts.iter().enumerate() {
            if part.is_empty() || part.len() > 2 {
                return Err(format!(
                    "'{text}' is not a MAC address (want aa:bb:cc:dd:ee:ff)"
                ));
            }
            out[idx] = u8::from_str_radix(part, 16)
                .map_err(|_| format!("'{text}' is not a MAC address (want aa:bb:cc:dd:ee:ff)"))?;
        }
        Ok(Mac(out))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Mac, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An amount of money in integer minor units (cents for KES). The currency comes from the config;
/// every currency lango sells in has two decimal places.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(pub i64);

impl Money {
    pub(crate) const MINOR_PER_MAJOR: i64 = 100;

    /// Parses an amount as an owner writes it: `50`, `49.5`, `49.50`. Negative amounts, more than
    /// two decimals, exponents and anything that is not a plain number are refused.
    pub fn parse(text: &str) -> Result<Money, String> {
        let text = text.trim();
        let bad = || format!("'{text}' is not a price (write it like 50 or 49.50)");
        let (whole, frac) = match text.split_once('.') {
            Some((whole, frac)) => (whole, frac),
            None => (text, ""),
        };
        if whole.is_empty() || whole.len() > 12 || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if text.contains('.') && (frac.is_empty() || frac.len() > 2) {
            return Err(bad());
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let frac_minor: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().map_err(|_| bad())? * 10,
            _ => frac.parse().map_err(|_| bad())?,
        };
        Ok(Money(whole * Self::MINOR_PER_MAJOR + frac_minor))
    }

    /// Whole major units, rounded up: what an STK push asks for (Daraja takes integers only).
    pub(crate) fn major_ceil(self) -> i64 {
        (self.0 + Self::MINOR_PER_MAJOR - 1).div_euclid(Self::MINOR_PER_MAJOR)
    }

    pub(crate) fn from_major(major: i64) -> Money {
        Money(major * Self::MINOR_PER_MAJOR)
    }
}

impl fmt::Display for Money {
    /// `50` for whole amounts, `49.50` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let major = abs / 100;
        let minor = abs % 100;
        if minor == 0 {
            write!(f, "{sign}{major}")
        } else {
            write!(f, "{sign}{major}.{minor:02}")
        }
    }
}

/// A mobile number in international form without `+`: a Kenyan one as Daraja wants it
/// (`2547XXXXXXXX` or `2541XXXXXXXX`, `parse`), or an Airtel Money number of the account's
/// country (`254…`, `256…`, `255…`; `core::airtel::msisdn`).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Accepts what guests type: `0712345678`, `0112345678`, `+254712345678`, `254712345678`,
    /// `712345678`, with spaces or dashes anywhere.
    pub fn parse(text: &str) -> Result<Phone, String> {
        let digits: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
            .collect();
        let digits = digits.strip_prefix('+').unwrap_or(&digits);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("enter a Safaricom number like 0712 345 678".into());
        }
        let national = if let Some(rest) = digits.strip_prefix("254") {
            rest
        } else if let Some(rest) = digits.strip_prefix('0') {
            rest
        } else {
            digits
        };
        if national.len() != 9 || !(national.starts_with('7') || national.starts_with('1')) {
            return Err("enter a Safaricom number like 0712 345 678".into());
        }
        Ok(Phone(format!("254{national}")))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// A number another parser checked (`core::airtel::msisdn`, an archived row): digits with
    /// the country code.
    pub(crate) fn international(digits: String) -> Phone {
        Phone(digits)
    }

    /// As the guest writes it at home, for the portal: a trunk 0 and nine digits in threes for
    /// the countries lango sells in (Kenya 254, Tanzania 255, Uganda 256: `0712 345 678` for
    /// `254712345678`, `0754 123 456` for `255754123456`); any other number as stored.
    pub(crate) fn local(&self) -> String {
        let s = self.0.as_str();
        match s.as_bytes() {
            [b'2', b'5', b'4'..=b'6', n @ ..]
                if n.len() == 9 && n.iter().all(u8::is_ascii_digit) =>
            {
                format!("0{} {} {}", &s[3..6], &s[6..9], &s[9..])
            }
            _ => s.to_string(),
        }
    }

    /// For pages and logs: `2547****5678`.
    pub(crate) fn masked(&self) -> String {
        let s = &self.0;
        if s.len() < 8 {
            return "****".into();
        }
        format!("{}****{}", &s[..4], &s[s.len() - 4..])
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses a duration as an owner writes it: `90s`, `30m`, `1h`, `1d`, `7d`, `2w`. Returns seconds.
pub(crate) fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let bad = || format!("'{text}' is not a duration (write it like 30m, 1h, 1d or 7d)");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    match number.checked_mul(unit_secs) {
        Some(0) => Err(format!("'{text}' is zero; a package must last some time")),
        Some(secs) if secs <= 366 * 86_400 => Ok(secs),
        _ => Err(format!("'{text}' is longer than a year")),
    }
}

/// Renders seconds the way the owner wrote them where possible (`30m`, `1h`, `7d`).
pub(crate) fn format_duration(secs: u64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Human text for a remaining time: `2h 05m`, `4m 10s`, `3d 2h`.
pub(crate) fn human_duration(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else {
        format!("{m}m {s:02}s")
    }
}

/// Parses a data amount: `500MB`, `1GB`, `1.5GB`, `750k`. Decimal units (1 MB = 1,000,000
/// bytes), as phones count them.
pub(crate) fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let bad = || format!("'{text}' is not a data amount (write it like 500MB or 1GB)");
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let multiplier: u64 = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" => 1_000,
        "M" | "MB" => 1_000_000,
        "G" | "GB" => 1_000_000_000,
        "T" | "TB" => 1_000_000_000_000,
        _ => return Err(bad()),
    };
    let value = scaled_decimal(number, multiplier).ok_or_else(bad)?;
    if value == 0 {
        return Err(format!(
            "'{text}' is zero; leave the option out for unlimited data"
        ));
    }
    Ok(value)
}

/// `1.5GB`, `500MB`, `750kB`.
pub(crate) fn format_bytes(bytes: u64) -> String {
    let units = [
        (1_000_000_000_000, "TB"),
        (1_000_000_000, "GB"),
        (1_000_000, "MB"),
        (1_000, "kB"),
    ];
    for (size, name) in units {
        if bytes >= size {
            let tenths = bytes * 10 / size;
            return if tenths.is_multiple_of(10) {
                format!("{}{name}", tenths / 10)
            } else {
                format!("{}.{}{name}", tenths / 10, tenths % 10)
            };
        }
    }
    format!("{bytes}B")
}

/// Parses a rate in bits per second: `5M`, `512k`, `1.5Mbit`, `10mbps`. Returns kbit/s.
pub(crate) fn parse_rate(text: &str) -> Result<u32, String> {
    let text = text.trim();
    let bad = || format!("'{text}' is not a speed (write it like 5M for 5 Mbit/s or 512k)");
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.to_ascii_lowercase();
    let unit = unit
        .trim_end_matches("bit/s")
        .trim_end_matches("bps")
        .trim_end_matches("bit");
    let multiplier = match unit {
        "k" => 1,
        "m" => 1_000,
        "g" => 1_000_000,
        _ => return Err(bad()),
    };
    let kbit = scaled_decimal(number, multiplier).ok_or_else(bad)?;
    match u32::try_from(kbit) {
        Ok(0) => Err(format!(
            "'{text}' is zero; leave the option out for no limit"
        )),
        Ok(kbit) => Ok(kbit),
        Err(_) => Err(bad()),
    }
}

/// `5 Mbit/s`, `512 kbit/s`.
pub(crate) fn format_rate(kbit: u32) -> String {
    if kbit >= 1000 && kbit.is_multiple_of(100) {
        let tenths = kbit / 100;
        if tenths.is_multiple_of(10) {
            format!("{} Mbit/s", tenths / 10)
        } else {
            format!("{}.{} Mbit/s", tenths / 10, tenths % 10)
        }
    } else {
        format!("{kbit} kbit/s")
    }
}

/// `"1.5"` times 1000 = 1500, exactly, without floats. At most three decimals.
fn scaled_decimal(number: &str, multiplier: u64) -> Option<u64> {
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || frac.len() > 3 || (number.contains('.') && frac.is_empty()) {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let mut value = whole.checked_mul(multiplier)?;
    if !frac.is_empty() {
        let frac_value: u64 = frac.parse().ok()?;
        let scale = 10u64.pow(frac.len() as u32);
        value = value.checked_add(frac_value.checked_mul(multiplier)? / scale)?;
    }
    Some(value)
}

/// The portal's languages.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Lang {
    En,
    Sw,
}

impl Lang {
    pub fn parse(text: &str) -> Option<Lang> {
        match text.trim().to_ascii_lowercase().as_str() {
            "en" | "english" => Some(Lang::En),
            "sw" | "swahili" | "kiswahili" => Some(Lang::Sw),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Sw => "sw",
        }
    }
}

/// A length of time in words (voucher cards, the owner's packages table), in English and in Kiswahili ("1 day", "siku 1"): the
/// largest whole unit, for a card a guest reads.
pub(crate) fn duration_words(secs: u64) -> (String, String) {
    let (n, en, sw) = match secs {
        s if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "day", "siku"),
        s if s >= 3600 && s % 3600 == 0 => (s / 3600, "hour", "saa"),
        s => (s.div_ceil(60), "minute", "dakika"),
    };
    let plural = if n == 1 { "" } else { "s" };
    (format!("{n} {en}{plural}"), format!("{sw} {n}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_parses_owner_prices() {
        assert_eq!(Money::parse("50"), Ok(Money(5000)));
        assert_eq!(Money::parse("49.50"), Ok(Money(4950)));
        assert_eq!(Money::parse("49.5"), Ok(Money(4950)));
        assert_eq!(Money::parse("0.05"), Ok(Money(5)));
        for bad in [
            "", "-5", "49.505", "4e2", "49.", ".5", "fifty", "1,000", "50 KES",
        ] {
            assert!(Money::parse(bad).is_err(), "{bad} should be refused");
        }
        assert_eq!(Money(4950).to_string(), "49.50");
        assert_eq!(Money(5000).to_string(), "50");
        assert_eq!(Money(4950).major_ceil(), 50);
        assert_eq!(Money(5000).major_ceil(), 50);
    }

    #[test]
    fn phone_accepts_kenyan_forms() {
        for ok in [
            "0712345678",
            "0712 345 678",
            "+254712345678",
            "254712345678",
            "712345678",
        ] {
            assert_eq!(Phone::parse(ok).unwrap().as_str(), "254712345678", "{ok}");
        }
        assert_eq!(Phone::parse("0112345678").unwrap().as_str(), "254112345678");
        for bad in [
            "",
            "0812345678",
            "07123",
            "2547123456789",
            "07a2345678",
            "+1 555 0100",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad} should be refused");
        }
        assert_eq!(Phone::parse("0712345678").unwrap().masked(), "2547****5678");
    }

    /// Issue 18: each country's numbers as its people write them (Kenya, Tanzania, Uganda: a
    /// trunk 0 and nine digits); anything else as stored.
    #[test]
    fn numbers_in_local_format() {
        for (stored, local) in [
            ("254712345678", "0712 345 678"),
            ("254112345678", "0112 345 678"),
            ("255754123456", "0754 123 456"),
            ("255654123456", "0654 123 456"),
            ("256772123456", "0772 123 456"),
            ("2557541234", "2557541234"),
            ("1555010099", "1555010099"),
        ] {
            assert_eq!(
                Phone::international(stored.into()).local(),
                local,
                "{stored}"
            );
        }
    }

    #[test]
    fn durations_bytes_rates() {
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("1h"), Ok(3600));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert!(parse_duration("0m").is_err());
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("30").is_err());
        assert_eq!(format_duration(1800), "30m");
        assert_eq!(format_duration(604_800), "7d");
        assert_eq!(parse_bytes("500MB"), Ok(500_000_000));
        assert_eq!(parse_bytes("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse_bytes("1gb"), Ok(1_000_000_000));
        assert!(parse_bytes("1XB").is_err());
        assert!(parse_bytes("0MB").is_err());
        assert_eq!(format_bytes(1_500_000_000), "1.5GB");
        assert_eq!(parse_rate("5M"), Ok(5000));
        assert_eq!(parse_rate("512k"), Ok(512));
        assert_eq!(parse_rate("1.5Mbit"), Ok(1500));
        assert_eq!(parse_rate("10mbps"), Ok(10_000));
        assert!(parse_rate("5").is_err());
        assert_eq!(format_rate(5000), "5 Mbit/s");
        assert_eq!(human_duration(3725), "1h 02m");
    }

    #[test]
    fn mac_round_trip() {
        let mac: Mac = "AA-bb-cc-01-02-03".parse().unwrap();
        assert_eq!(mac.to_string(), "aa:bb:cc:01:02:03");
        assert!("aa:bb:cc:01:02".parse::<Mac>().is_err());
        assert!("aa:bb:cc:01:02:zz".parse::<Mac>().is_err());
        assert!("aaa:bb:cc:01:02:03".parse::<Mac>().is_err());
    }

    #[test]
    fn cards_say_durations_in_both_languages() {
        assert_eq!(duration_words(86_400), ("1 day".into(), "siku 1".into()));
        assert_eq!(
            duration_words(7 * 86_400),
            ("7 days".into(), "siku 7".into())
        );
        assert_eq!(duration_words(3600), ("1 hour".into(), "saa 1".into()));
        assert_eq!(
            duration_words(5400),
            ("90 minutes".into(), "dakika 90".into())
        );
    }
}
