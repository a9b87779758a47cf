//! Parsers for single option values (ports, addresses, prices, colours, paths, the M-Pesa
//! fields), each returning the value or the owner-facing message for what is wrong, and the
//! "did you mean" hint for misspelt names.

use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;

use crate::core::model::{parse_duration, Lang, Money};

use super::{FirewallKind, MpesaEnvironment, MpesaKind};

/// An anonymous package's id: its name in lower case, `_` for anything not a letter or digit,
/// which is always a valid UCI section name.
pub fn package_id(name: &str) -> String {
    let safe = |c: char| Some(c.to_ascii_lowercase()).filter(char::is_ascii_alphanumeric);
    name.chars().map(|c| safe(c).unwrap_or('_')).collect()
}

/// `text` itself if it passed the test, or the message saying what it should have been.
pub(super) fn want(ok: bool, text: &str, what: &str) -> Result<String, String> {
    ok.then(|| text.to_string()).ok_or_else(|| not(text, what))
}

pub(super) fn not(text: &str, what: &str) -> String {
    format!("'{text}' is not {what}")
}

pub(super) fn parse_text(text: &str) -> Result<String, String> {
    Ok(text.to_string())
}

/// Exactly the words OpenWrt's `config_get_bool` accepts (it is case-sensitive), so that the
/// init script and the daemon never disagree.
pub(super) fn parse_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "on" | "true" | "yes" | "enabled" => Ok(true),
        "0" | "off" | "false" | "no" | "disabled" => Ok(false),
        _ => Err(not(text, "a yes/no value (write 1 or 0)")),
    }
}

pub(super) fn parse_port(text: &str) -> Result<u16, String> {
    let digits = text.bytes().all(|b| b.is_ascii_digit());
    let port = text.parse().ok().filter(|port| *port > 0 && digits);
    port.ok_or_else(|| not(text, "a port number (1 to 65535)"))
}

pub(super) fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.parse()
        .map_err(|_| not(text, "an IP address (like 192.168.1.1)"))
}

/// A DNS name for the portal: letters, digits, dots and dashes.
/// A bearer token the owner chooses (`option metrics_token`): 16 to 128 characters that need no
/// quoting in a header. The error never repeats the value: it is a secret.
pub(super) fn parse_token(text: &str) -> Result<String, String> {
    let ok = (16..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b));
    ok.then(|| text.to_string()).ok_or_else(|| {
        format!(
            "the token ({} characters) must be 16 to 128 letters, digits or -._~+/=",
            text.len()
        )
    })
}

/// Where alerts go (`option alert_url`): an http(s) URL. It may hold a secret (a Telegram bot
/// token, an ntfy topic): the error never repeats it.
pub(super) fn parse_alert_url(text: &str) -> Result<String, String> {
    crate::core::http::Url::parse(text)
        .map(|_| text.to_string())
        .map_err(|_| "alert_url must be an http:// or https:// address".to_string())
}

/// `option alert_format`: `json` (`{"text": ...}`) or `text` (the bare line, for ntfy).
pub(super) fn parse_alert_format(text: &str) -> Result<crate::core::alerts::Format, String> {
    match text {
        "json" => Ok(crate::core::alerts::Format::Json),
        "text" => Ok(crate::core::alerts::Format::Text),
        _ => Err(not(text, "json or text")),
    }
}

pub(super) fn parse_host(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 253
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'));
    want(ok, text, "a host name (like portal.lan)")
}

pub(super) fn parse_mac(text: &str) -> Result<crate::core::model::Mac, String> {
    text.parse()
        .map_err(|_| not(text, "a MAC address (aa:bb:cc:dd:ee:ff)"))
}

/// A walled-garden domain (`shop.example`, which also covers its subdomains): at least two
/// labels of letters, digits and dashes, lower-cased, no trailing dot. A bare top-level name
/// (`com`) would open a whole registry to unpaid guests, so it is refused.
pub(crate) fn parse_domain(text: &str) -> Result<String, String> {
    let name = text.trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let ok = name.len() <= 253 && name.contains('.') && name.split('.').all(label_ok);
    want(ok, &name, "a domain name (like shop.example)")
}

/// The resolver walled-garden names are asked of: an address, port 53 unless given
/// (`127.0.0.1`, `127.0.0.1:5353`, `[::1]:53`).
pub(super) fn parse_upstream(text: &str) -> Result<std::net::SocketAddr, String> {
    let bare = text.parse::<IpAddr>().map(|ip| (ip, 53).into());
    bare.or_else(|_| text.parse())
        .map_err(|_| not(text, "an address with an optional port (like 127.0.0.1:53)"))
}

pub(super) fn parse_ipv6(text: &str) -> Result<Ipv6Addr, String> {
    text.parse()
        .map_err(|_| not(text, "an IPv6 address (like fd00::1)"))
}

/// A Linux network device name: it goes into nft rules, so only the characters the kernel
/// allows, at most 15 of them.
pub(super) fn parse_device(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 15
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    want(ok, text, "a network device name (like br-lan)")
}

pub(super) fn parse_firewall(text: &str) -> Result<FirewallKind, String> {
    match text {
        "nft" => Ok(FirewallKind::Nft),
        "none" => Ok(FirewallKind::None),
        _ => Err(not(text, "a firewall backend (nft or none)")),
    }
}

/// A UCI section name in /etc/config/network.
pub(super) fn parse_network(text: &str) -> Result<String, String> {
    let ok = text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    want(ok, text, "an OpenWrt network name (like lan)")
}

pub(super) fn parse_currency(text: &str) -> Result<String, String> {
    let ok = text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase());
    want(ok, text, "a currency code (like KES)")
}

pub(super) fn parse_language(text: &str) -> Result<Lang, String> {
    Lang::parse(text).ok_or_else(|| not(text, "a language lango speaks (en or sw)"))
}

pub(super) fn parse_path(text: &str) -> Result<PathBuf, String> {
    let path = want(text.starts_with('/'), text, "a full path (starting with /)")?;
    Ok(PathBuf::from(path))
}

/// `+03:00`, `+3`, `-05:30`, `0`: an offset from UTC, within ±14 hours.
pub fn parse_utc_offset(text: &str) -> Result<i64, String> {
    let bad = || not(text, "an offset from UTC (write it like +03:00)");
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => (1, text),
    };
    let (hours, minutes) = rest.split_once(':').unwrap_or((rest, "0"));
    let all_digits =
        |t: &str| !t.is_empty() && t.len() <= 2 && t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(hours) || !all_digits(minutes) {
        return Err(bad());
    }
    let (hours, minutes): (i64, i64) = (
        hours.parse().map_err(|_| bad())?,
        minutes.parse().map_err(|_| bad())?,
    );
    if hours > 14 || minutes >= 60 || hours * 60 + minutes > 14 * 60 {
        return Err(bad());
    }
    Ok(sign * (hours * 3600 + minutes * 60))
}

/// `parse_duration`'s messages talk about packages; these intervals are the daemon's.
pub(super) fn parse_interval(text: &str) -> Result<u64, String> {
    parse_duration(text).map_err(|_| not(text, "a time (write it like 60s or 5m)"))
}

pub(super) fn parse_colour(text: &str) -> Result<String, String> {
    let hex = text.strip_prefix('#').filter(|hex| hex.len() == 6);
    let ok = hex.is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()));
    want(ok, text, "a colour (write it like #0b6e4f)")
}

pub(super) fn parse_price(text: &str) -> Result<Money, String> {
    match Money::parse(text)? {
        Money(0) => Err("price must be more than 0".into()),
        price => Ok(price),
    }
}

/// A package's `devices`: 1 to `MAX_DEVICES`, digits only.
pub(super) fn parse_devices(text: &str) -> Result<u8, String> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let n = text
        .parse::<u8>()
        .ok()
        .filter(|n| digits && (1..=MAX_DEVICES).contains(n));
    n.ok_or_else(|| not(text, "a number of devices (1 to 10)"))
}

/// At most this many devices share one purchase (a family's phones and a laptop).
pub const MAX_DEVICES: u8 = 10;

pub(super) fn parse_order(text: &str) -> Result<i32, String> {
    text.parse().map_err(|_| not(text, "a whole number"))
}

pub(super) fn parse_environment(text: &str) -> Result<MpesaEnvironment, String> {
    match text {
        "sandbox" => Ok(MpesaEnvironment::Sandbox),
        "production" => Ok(MpesaEnvironment::Production),
        "simulator" => Ok(MpesaEnvironment::Simulator),
        _ => Err(not(text, "sandbox, production or simulator")),
    }
}

pub(super) fn parse_kind(text: &str) -> Result<MpesaKind, String> {
    match text {
        "paybill" => Ok(MpesaKind::PayBill),
        "till" => Ok(MpesaKind::Till),
        _ => Err(not(text, "paybill or till")),
    }
}

/// Daraja's BusinessShortCode and till numbers (PartyB) are 5 to 7 digits.
pub(super) fn parse_shortcode(text: &str) -> Result<String, String> {
    let ok = (5..=7).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    want(ok, text, "a number of 5 to 7 digits")
}

/// The Pull registration's NominatedNumber: a Safaricom number, `07…`/`01…` or `2547…`/`2541…`.
pub(super) fn parse_pull_phone(text: &str) -> Result<String, String> {
    let ok = crate::core::model::Phone::parse(text).is_ok();
    want(ok, text, "a Safaricom phone number such as 0712345678")
}

/// Daraja refuses an AccountReference longer than 12 characters.
pub(super) fn parse_reference(text: &str) -> Result<String, String> {
    let ok = text.chars().count() <= 12;
    ok.then(|| text.to_string())
        .ok_or_else(|| format!("'{text}' is longer than 12 characters"))
}

/// The base of the public address Daraja posts results to: `https://host[:port]`, optionally
/// with a path prefix; no query, no fragment. lango adds its secret path.
pub(super) fn parse_callback_url(text: &str) -> Result<String, String> {
    let what = "a web address like https://wifi.example.com (no ? or #)";
    let url = crate::core::http::Url::parse(text).map_err(|_| not(text, what))?;
    if text.contains('?') || url.host.is_empty() {
        return Err(not(text, what));
    }
    Ok(text.trim_end_matches('/').to_string())
}

/// The owner's terms and privacy page: an `http(s)://` address with a host.
pub(super) fn parse_terms_url(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("https://")
        .or(text.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !text.contains(['"', '<', '>', ' ']) => {
            Ok(text.to_string())
        }
        _ => Err(not(text, "a web address like https://example.com/terms")),
    }
}

/// The address of a `lango sim`: `http(s)://host:port`, no path, query or fragment.
pub(super) fn parse_simulator_url(text: &str) -> Result<String, String> {
    let what = "a simulator address like http://127.0.0.1:8088";
    let url = crate::core::http::Url::parse(text).map_err(|_| not(text, what))?;
    if url.path != "/" {
        return Err(not(text, what));
    }
    Ok(text.trim_end_matches('/').to_string())
}

/// The closest known word, if it is close enough to be a likely typo.
pub(super) fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let distances = known
        .iter()
        .map(|known| (edit_distance(word, known), *known));
    let close = distances.filter(|&(distance, _)| distance <= 2 && distance * 3 <= word.len());
    close
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, known)| known)
}

/// Levenshtein distance, one row at a time.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut diagonal = i;
        row[0] = i + 1;
        for (j, b_char) in b.iter().enumerate() {
            let above = row[j + 1];
            let replace = diagonal + usize::from(a_char != *b_char);
            row[j + 1] = replace.min(above + 1).min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}
