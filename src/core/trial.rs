//! The free trial's rules (issue 16): which marks of a device the router can see (its MAC,
//! and from its DHCP lease the host name, the client identifier and the IPv4 address), the
//! store keys a trial leaves for the local day, and whether a device may take one now. Pure:
//! the caller gives `now`, the day's taken marks and the day's count.

use std::net::Ipv4Addr;

use crate::core::model::Mac;
use crate::core::time::{date_of_day, day_start, local_day, Timestamp};

/// What the network tells of a device. A device that changes its MAC, host name and client
/// identifier at once, and takes a new address, is a new device as far as the router can tell.
#[derive(Clone, Copy)]
pub struct Marks<'a> {
    pub mac: Mac,
    pub ip: Option<Ipv4Addr>,
    /// The host name the device sent in its DHCP request (dnsmasq's lease file).
    pub hostname: Option<&'a str>,
    /// The DHCP client identifier (option 61) as dnsmasq writes it (`01:aa:bb:...`, or a DUID).
    pub client_id: Option<&'a str>,
}

/// Host names that many devices send as they are (`iPhone`, `android`): shared by strangers,
/// they tell nothing about one device and would refuse the next guest with the same phone.
const COMMON_NAMES: [&str; 6] = ["iphone", "ipad", "android", "localhost", "unknown", "*"];

/// The first key of a local day; every key of the day starts with it (`2026-12-03 `). Days
/// sort as text, so the keys of earlier days come before it.
pub fn day_prefix(day: i64) -> String {
    date_of_day(day) + " "
}

/// The key that counts a day's trials on the whole router: the MAC's, one per trial.
pub fn count_prefix(day: i64) -> String {
    day_prefix(day) + "m "
}

/// The keys under which a trial taken on `day` by a device with these marks is remembered, and
/// looked up: the MAC always, then the client identifier, a host name that is not a common
/// one, and the IPv4 address, each when known.
pub fn keys(day: i64, marks: &Marks) -> Vec<String> {
    let day = day_prefix(day);
    let mut keys = vec![format!("{day}m {}", marks.mac)];
    if let Some(id) = marks.client_id.filter(|id| !id.is_empty() && *id != "*") {
        keys.push(format!("{day}c {}", id.to_ascii_lowercase()));
    }
    let name = marks.hostname.map(str::to_ascii_lowercase);
    if let Some(name) = name.filter(|n| !n.is_empty() && !COMMON_NAMES.contains(&n.as_str())) {
        keys.push(format!("{day}h {name}"));
    }
    if let Some(ip) = marks.ip {
        keys.push(format!("{day}i {ip}"));
    }
    keys
}

/// Whether a device may take the trial now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Granted,
    /// One of its marks took today's trial already (`'m'` MAC, `'c'` client identifier, `'h'`
    /// host name, `'i'` address), or another device's trial left this mark.
    UsedToday(char),
    /// The router gave `trials_per_day` trials today.
    RouterCap,
}

/// The rule: one trial per device (as far as its marks tell) per local day, and at most
/// `per_day` on the router. `taken` is the first of the device's `keys` already in the store;
/// `granted_today` how many trials the day has seen.
pub fn decide(taken: Option<&str>, granted_today: u64, per_day: u32) -> Verdict {
    if let Some(key) = taken {
        // `2026-12-03 m aa:...`: the kind is the letter after the date.
        let kind = key.split(' ').nth(1).and_then(|k| k.chars().next());
        return Verdict::UsedToday(kind.unwrap_or('m'));
    }
    if granted_today >= u64::from(per_day) {
        return Verdict::RouterCap;
    }
    Verdict::Granted
}

/// The local day of `now` and when the next one starts (the trial comes back then).
pub fn today(now: Timestamp, utc_offset: i64) -> (i64, Timestamp) {
    let day = local_day(now, utc_offset);
    (day, day_start(day + 1, utc_offset))
}

/// The oldest day whose marks are kept: the trial's rule needs only today's, and yesterday's
/// are kept for a time zone change or a clock step.
pub fn keep_from(now: Timestamp, utc_offset: i64) -> i64 {
    local_day(now, utc_offset) - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::{parse, Diagnostic};

    const EAT: i64 = 3 * 3600;

    fn marks<'a>(mac: &str, host: Option<&'a str>, id: Option<&'a str>, ip: &str) -> Marks<'a> {
        Marks {
            mac: mac.parse().unwrap(),
            ip: ip.parse().ok(),
            hostname: host,
            client_id: id,
        }
    }

    /// A store of taken keys, as the app looks them up.
    fn taken<'a>(store: &'a [String], keys: &[String]) -> Option<&'a str> {
        keys.iter()
            .find_map(|k| store.iter().find(|s| *s == k).map(String::as_str))
    }

    #[test]
    fn keys_name_every_mark_the_network_gives() {
        let m = marks(
            "02:aa:00:00:00:01",
            Some("Amina-PC"),
            Some("01:02:AA"),
            "10.0.0.5",
        );
        let day = local_day(1_796_000_000, EAT);
        let date = date_of_day(day);
        assert_eq!(
            keys(day, &m),
            [
                format!("{date} m 02:aa:00:00:00:01"),
                format!("{date} c 01:02:aa"),
                format!("{date} h amina-pc"),
                format!("{date} i 10.0.0.5"),
            ]
        );
        // Common names and dnsmasq's `*` are no mark: strangers share them.
        let m = marks("02:aa:00:00:00:01", Some("iPhone"), Some("*"), "x");
        assert_eq!(keys(day, &m).len(), 1);
        assert!(keys(day, &m)[0].starts_with(&count_prefix(day)));
    }

    #[test]
    fn a_new_mac_with_the_same_name_client_id_or_address_is_the_same_device() {
        let day = 20_000;
        let first = marks(
            "02:aa:00:00:00:01",
            Some("laptop"),
            Some("ff:12"),
            "10.0.0.5",
        );
        let store = keys(day, &first);
        let by_name = marks("02:bb:00:00:00:09", Some("LAPTOP"), None, "10.0.0.9");
        let by_id = marks("02:bb:00:00:00:09", None, Some("FF:12"), "10.0.0.9");
        let by_ip = marks("02:bb:00:00:00:09", None, None, "10.0.0.5");
        let stranger = marks(
            "02:bb:00:00:00:09",
            Some("other"),
            Some("01:bb"),
            "10.0.0.9",
        );
        let verdict = |m: &Marks| decide(taken(&store, &keys(day, m)), 1, 50);
        assert_eq!(verdict(&first), Verdict::UsedToday('m'));
        assert_eq!(verdict(&by_name), Verdict::UsedToday('h'));
        assert_eq!(verdict(&by_id), Verdict::UsedToday('c'));
        assert_eq!(verdict(&by_ip), Verdict::UsedToday('i'));
        assert_eq!(verdict(&stranger), Verdict::Granted);
        // The router's cap holds for a device it has never seen.
        assert_eq!(decide(None, 50, 50), Verdict::RouterCap);
    }

    #[test]
    fn the_trial_comes_back_at_local_midnight() {
        // 2026-12-03 23:59:30 in Nairobi (UTC+3) is 20:59:30 UTC.
        let before = 1_796_331_570;
        let (day, next) = today(before, EAT);
        assert_eq!(date_of_day(day), "2026-12-03");
        assert_eq!(
            crate::core::time::local_minute(next, EAT),
            "2026-12-04 00:00"
        );
        let m = marks("02:aa:00:00:00:01", None, None, "10.0.0.5");
        let store = keys(day, &m);
        // 29 s before midnight: used; one second after midnight: a new day, a new trial.
        let (same_day, _) = today(before + 29, EAT);
        assert_eq!(
            decide(taken(&store, &keys(same_day, &m)), 1, 5),
            Verdict::UsedToday('m')
        );
        let (new_day, _) = today(next + 1, EAT);
        assert_eq!(new_day, day + 1);
        assert_eq!(
            decide(taken(&store, &keys(new_day, &m)), 0, 5),
            Verdict::Granted
        );
        // The same instant is another day in another time zone: midnight is the owner's.
        assert_eq!(today(before, 0).0, day);
        assert_eq!(today(before, 4 * 3600).0, day + 1);
        // Yesterday's keys sort before today's prefix: the retention pass drops them.
        assert!(store[0].as_str() < day_prefix(keep_from(next + 86_400, EAT)).as_str());
        assert!(store[0].as_str() >= day_prefix(keep_from(next + 1, EAT)).as_str());
    }

    fn problems(text: &str) -> Vec<String> {
        match parse(text, "lango") {
            Ok(_) => Vec::new(),
            Err(d) => d.iter().map(Diagnostic::to_string).collect(),
        }
    }

    const HOUR: &str = "config package 'hour'\n\toption name 'Hour'\n\toption price '20'\n\toption duration '1h'\n";

    #[test]
    fn a_trial_package_is_free_and_kept_apart_from_what_is_sold() {
        let text = format!(
            "{HOUR}config package 'free'\n\toption name 'Free'\n\toption trial '1'\n\
             \toption duration '15m'\n\toption rate_down '2M'\n\toption trials_per_day '30'\n"
        );
        let config = parse(&text, "lango").unwrap();
        let trial = config.trial.unwrap();
        assert_eq!(trial.package.duration_secs, 900);
        assert_eq!(trial.package.price.0, 0);
        assert_eq!(trial.package.rate_down_kbit, Some(2000));
        assert_eq!(trial.per_day, 30);
        assert_eq!(config.packages.len(), 1, "the trial is not for sale");
        // Price 0 is accepted, the default cap is 50.
        let text = "config package 't'\n\toption name 'T'\n\toption trial '1'\n\
                    \toption price '0'\n\toption duration '30s'\n";
        assert_eq!(parse(text, "lango").unwrap().trial.unwrap().per_day, 50);
        // A trial the owner switched off is not offered.
        let off = format!("{text}\toption active '0'\n");
        assert_eq!(parse(&off, "lango").unwrap().trial, None);
    }

    #[test]
    fn a_trial_with_a_price_or_a_second_trial_is_refused_with_its_line() {
        let text = "config package 't'\n\toption name 'T'\n\toption trial '1'\n\
                    \toption price '10'\n\toption duration '15m'\n\
                    config package 'u'\n\toption name 'U'\n\toption trial '1'\n\
                    \toption duration '15m'\n\
                    config package 'v'\n\toption name 'V'\n\toption price '5'\n\
                    \toption duration '1h'\n\toption trials_per_day '3'\n\
                    config package 'w'\n\toption name 'W'\n\toption trial 'maybe'\n\
                    \toption duration '1h'\n\toption trials_per_day '0'\n";
        assert_eq!(
            problems(text),
            [
                "lango:4: a trial is free: its price must be 0 or unset, not '10'",
                "lango:6: more than one trial package (the first is on line 1)",
                "lango:14: trials_per_day is only used with option trial '1'",
                "lango:15: package 'w' is missing option 'price'",
                "lango:17: 'maybe' is not a yes/no value (write 1 or 0)",
                "lango:19: trials_per_day is only used with option trial '1'",
            ]
        );
    }
}
