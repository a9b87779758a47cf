//! The second step of `parse`: UCI sections sorted by type and their option names checked
//! against one table per type (`RawConfig`, `Raw`), then each section validated into its typed
//! part of `Config`, every problem collected in `Check`.

pub(super) mod airtel;
pub(super) mod clickpesa;
pub(super) mod vodacom;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::core::model::{parse_bytes, parse_duration, parse_rate, Lang, Mac, Money};
use crate::core::uci::{Section, UciFile, Value};
use crate::core::window::{parse_days, parse_window, Window, ALL_DAYS};

use super::values::{
    parse_alert_format, parse_alert_url, parse_bool, parse_callback_url, parse_colour,
    parse_currency, parse_device, parse_devices, parse_domain, parse_environment, parse_firewall,
    parse_host, parse_interval, parse_ip, parse_ipv6, parse_kind, parse_language, parse_mac,
    parse_network, parse_order, parse_path, parse_port, parse_price, parse_pull_phone,
    parse_reference, parse_shortcode, parse_simulator_url, parse_terms_url, parse_text,
    parse_token, parse_upstream, parse_utc_offset, suggest,
};
use super::{
    Brand, Cidr, Config, Diagnostic, FirewallKind, Gateway, Mpesa, MpesaEnvironment, MpesaKind,
    Package, Trial,
};

// The option tables, one per section type (odhcpd's blobmsg policy tables): every option a
// section may have. Anything else is reported as unknown, with the nearest name as a hint.
pub(super) const GATEWAY: &[&str] = &[
    "enabled",
    "interface",
    "portal_addr",
    "portal_port",
    "admin_addr",
    "admin_port",
    "admin_allow",
    "guest_net",
    "owner_mac",
    "allow_mac",
    "walled_garden",
    "garden_dns",
    "currency",
    "language",
    "store",
    "reconcile_interval",
    "checkpoint_interval",
    "device",
    "firewall",
    "portal_addr6",
    "dns_port",
    "leases",
    "dnsmasq_confdir",
    "move_interval",
    "tls_cert",
    "tls_key",
    "tls_port",
    "portal_host",
    "utc_offset",
    "api_token_file",
    "block_tethering",
    "gate_file",
    "ipv6_window",
    "keep_payments",
    "keep_sessions",
    "metrics_token",
    "alert_url",
    "alert_format",
];
pub(super) const BRAND: &[&str] = &["name", "logo", "colour", "phone", "email", "terms_url"];
pub(super) const PACKAGE: &[&str] = &[
    "name",
    "name_sw",
    "description",
    "description_sw",
    "price",
    "duration",
    "data",
    "rate_down",
    "rate_up",
    "fair_rate",
    "window",
    "days",
    "devices",
    "active",
    "order",
    "trial",
    "trials_per_day",
];
pub(super) const MPESA: &[&str] = &[
    "enabled",
    "environment",
    "consumer_key",
    "consumer_secret",
    "type",
    "shortcode",
    "till",
    "passkey",
    "account_reference",
    "callback_url",
    "ca_bundle",
    "simulator_url",
    "pull",
    "pull_phone",
    "qr",
];
/// The options written with `list`; every other option takes one value.
pub(super) const LISTS: &[&str] = &[
    "admin_allow",
    "guest_net",
    "owner_mac",
    "allow_mac",
    "walled_garden",
    "das_client",
];

/// The file's sections sorted by type, before any value is checked (ripgrep's LowArgs, with
/// `Config` as HiArgs).
#[derive(Default)]
pub(super) struct RawConfig {
    gateway: Vec<Raw>,
    brand: Vec<Raw>,
    packages: Vec<Raw>,
    mpesa: Vec<Raw>,
    airtel: Vec<Raw>,
    vodacom: Vec<Raw>,
    clickpesa: Vec<Raw>,
    #[cfg(feature = "radius")]
    radius: Vec<Raw>,
}

/// One section's options as written, each name checked against its type's table.
#[derive(Default)]
pub(super) struct Raw {
    /// The line of the `config` statement.
    pub(super) line: u32,
    /// The section name; `None` for an anonymous section.
    name: Option<String>,
    /// How messages name the section: `package 'hour'`, or `this package` when anonymous.
    pub(super) label: String,
    /// An anonymous package's id (`anonymous_package_ids`).
    derived_id: Option<String>,
    options: BTreeMap<&'static str, Vec<Value>>,
}

impl Raw {
    /// The value of a single option. `''` counts as unset, as in libuci.
    pub(super) fn one(&self, name: &str) -> Option<&Value> {
        let value = self.options.get(name)?.last();
        value.filter(|value| !value.text.is_empty())
    }

    pub(super) fn list(&self, name: &str) -> impl Iterator<Item = &Value> {
        let values = self.options.get(name).into_iter().flatten();
        values.filter(|value| !value.text.is_empty())
    }
}

impl RawConfig {
    pub(super) fn sort(file: &UciFile, check: &mut Check) -> RawConfig {
        let mut raw = RawConfig::default();
        let ids = super::anonymous_package_ids(file);
        for (idx, section) in file.sections.iter().enumerate() {
            let (sections, table) = match section.kind.as_str() {
                "gateway" => (&mut raw.gateway, GATEWAY),
                "brand" => (&mut raw.brand, BRAND),
                "package" => (&mut raw.packages, PACKAGE),
                "mpesa" => (&mut raw.mpesa, MPESA),
                "airtel" => (&mut raw.airtel, airtel::AIRTEL),
                "vodacom" => (&mut raw.vodacom, vodacom::VODACOM),
                "clickpesa" => (&mut raw.clickpesa, clickpesa::CLICKPESA),
                #[cfg(feature = "radius")]
                "radius" => (&mut raw.radius, super::radius::RADIUS),
                // The MIPS builds have no RADIUS: the section is refused, not ignored.
                #[cfg(not(feature = "radius"))]
                "radius" => {
                    check.error(
                        section.line,
                        "this lango is built without RADIUS (docs/size.md)",
                    );
                    continue;
                }
                kind => {
                    let kinds = [
                        "gateway",
                        "brand",
                        "package",
                        "mpesa",
                        "airtel",
                        "vodacom",
                        "clickpesa",
                    ];
                    let hint =
                        suggest(kind, &kinds).map(|near| format!("; did you mean '{near}'?"));
                    let known = "gateway, brand, package, mpesa, airtel, vodacom or clickpesa";
                    let hint = format!("(expected {known}{})", hint.unwrap_or_default());
                    check.error(
                        section.line,
                        format!("unknown section type '{kind}' {hint}"),
                    );
                    continue;
                }
            };
            let mut filled = fill(section, table, check);
            filled.derived_id = ids
                .iter()
                .find(|(i, _)| *i == idx)
                .map(|(_, id)| id.clone());
            sections.push(filled);
        }
        let single = [
            ("gateway", &raw.gateway),
            ("brand", &raw.brand),
            ("mpesa", &raw.mpesa),
            ("airtel", &raw.airtel),
            ("vodacom", &raw.vodacom),
            ("clickpesa", &raw.clickpesa),
            #[cfg(feature = "radius")]
            ("radius", &raw.radius),
        ];
        for (kind, sections) in single {
            for extra in sections.iter().skip(1) {
                let first = sections[0].line;
                let message =
                    format!("more than one {kind} section (the first is on line {first})");
                check.error(extra.line, message);
            }
        }
        raw
    }

    pub(super) fn validate(&self, check: &mut Check) -> Config {
        // A missing gateway or brand section is fine: every one of their options has a default.
        let (none, mpesa) = (Raw::default(), self.mpesa.first());
        let gateway = validate_gateway(self.gateway.first().unwrap_or(&none), check);
        let brand = validate_brand(self.brand.first().unwrap_or(&none), check);
        let (mut packages, mut trial) = validate_packages(&self.packages, check);
        // A window is in the owner's local time.
        for window in packages.iter_mut().filter_map(|p| p.window.as_mut()) {
            window.utc_offset = gateway.utc_offset_secs;
        }
        if let Some(w) = trial.as_mut().and_then(|t| t.package.window.as_mut()) {
            w.utc_offset = gateway.utc_offset_secs;
        }
        // `option enabled '0'`: kept aside for the owner page, never used to sell.
        let (mpesa, mpesa_off) = match mpesa.and_then(|raw| validate_mpesa(raw, check)) {
            Some((m, false)) => (None, Some(m)),
            m => (m.map(|(m, _)| m), None),
        };
        Config {
            brand,
            packages,
            #[cfg(feature = "radius")]
            radius: self
                .radius
                .first()
                .and_then(|raw| super::radius::validate_radius(raw, gateway.portal_addr, check)),
            mpesa,
            mpesa_off,
            airtel: (self.airtel.first())
                .and_then(|raw| airtel::validate_airtel(raw, &gateway.currency, check)),
            vodacom: (self.vodacom.first())
                .and_then(|raw| vodacom::validate_vodacom(raw, &gateway.currency, check)),
            clickpesa: (self.clickpesa.first())
                .and_then(|raw| clickpesa::validate_clickpesa(raw, &gateway.currency, check)),
            gateway,
            trial,
        }
    }
}

/// Checks one section's option names against its table, and `option` against `list`.
fn fill(section: &Section, table: &[&'static str], check: &mut Check) -> Raw {
    let label = match &section.name {
        Some(name) => format!("{} '{name}'", section.kind),
        None => format!("this {}", section.kind),
    };
    let mut options = BTreeMap::new();
    for option in &section.options {
        let Some(name) = table.iter().find(|name| **name == option.name) else {
            let hint = match suggest(&option.name, table) {
                Some(near) => format!("did you mean '{near}'?"),
                None => format!("expected one of: {}", table.join(", ")),
            };
            let (name, line) = (&option.name, option.values.first().map_or(0, |v| v.line));
            check.error(line, format!("unknown option '{name}' in {label} ({hint})"));
            continue;
        };
        // No lango option can hold a line break, so such a value almost always means a closing
        // quote is missing and the value swallowed the lines after it.
        if let Some(value) = option.values.iter().find(|value| value.text.contains('\n')) {
            let message = format!("the value of '{name}' runs over several lines");
            check.error(value.line, message + "; is a quote missing?");
            continue;
        }
        let is_list = LISTS.contains(name);
        for value in option.values.iter().filter(|value| value.list != is_list) {
            let message = match is_list {
                true => format!("'{name}' is a list: write list {name} '...' for each value"),
                false => format!("'{name}' takes one value: write option, not list"),
            };
            check.error(value.line, message);
        }
        options.insert(*name, option.values.clone());
    }
    Raw {
        line: section.line,
        name: section.name.clone(),
        label,
        options,
        derived_id: None,
    }
}

fn validate_gateway(raw: &Raw, check: &mut Check) -> Gateway {
    let given = raw
        .list("admin_allow")
        .filter_map(|value| check.item(value, Cidr::parse));
    let mut admin_allow: Vec<Cidr> = given.collect();
    if admin_allow.is_empty() {
        // Unless the owner lists others, only the router itself may open the owner page.
        admin_allow = ["127.0.0.0/8", "::1/128"]
            .into_iter()
            .flat_map(Cidr::parse)
            .collect();
    }
    let guest_nets: Vec<Cidr> = raw
        .list("guest_net")
        .filter_map(|value| check.item(value, Cidr::parse))
        .collect();
    let mut macs = |name: &str| -> Vec<Mac> {
        raw.list(name)
            .filter_map(|value| check.item(value, parse_mac))
            .collect()
    };
    let owner_macs = macs("owner_mac");
    // In the file's order, each once (no sort: its code would cost flash for lists this short).
    let mut allow_macs: Vec<Mac> = Vec::new();
    for mac in macs("allow_mac") {
        if !allow_macs.contains(&mac) {
            allow_macs.push(mac);
        }
    }
    let mut walled_garden: Vec<String> = Vec::new();
    for value in raw.list("walled_garden") {
        match check.item(value, parse_domain) {
            Some(name) if !walled_garden.contains(&name) => walled_garden.push(name),
            _ => {}
        }
    }
    let mut gateway = Gateway {
        guest_nets,
        owner_macs,
        allow_macs,
        walled_garden,
        garden_dns: check.get(
            raw,
            "garden_dns",
            parse_upstream,
            ([127, 0, 0, 1], 53).into(),
        ),
        enabled: check.get(raw, "enabled", parse_bool, true),
        interface: check.get(raw, "interface", parse_network, "lan".into()),
        portal_addr: check.get(raw, "portal_addr", parse_ip, [192, 168, 1, 1].into()),
        portal_port: check.get(raw, "portal_port", parse_port, 8080),
        admin_addr: check.get(raw, "admin_addr", parse_ip, Ipv4Addr::LOCALHOST.into()),
        admin_port: check.get(raw, "admin_port", parse_port, 8081),
        admin_allow,
        currency: check.get(raw, "currency", parse_currency, "KES".into()),
        language: check.get(raw, "language", parse_language, Lang::En),
        store: check.get(raw, "store", parse_path, "/etc/lango/lango.redb".into()),
        reconcile_interval_secs: check.get(raw, "reconcile_interval", parse_interval, 60),
        checkpoint_interval_secs: check.get(raw, "checkpoint_interval", parse_interval, 300),
        device: check.get(raw, "device", parse_device, "br-lan".into()),
        firewall: check.get(raw, "firewall", parse_firewall, FirewallKind::Nft),
        portal_addr6: check.optional(raw, "portal_addr6", parse_ipv6),
        dns_port: check.get(raw, "dns_port", parse_port, 8053),
        leases: check.get(raw, "leases", parse_path, "/tmp/dhcp.leases".into()),
        dnsmasq_confdir: check.optional(raw, "dnsmasq_confdir", parse_path),
        move_interval_secs: check.get(raw, "move_interval", parse_interval, 3600),
        tls_cert: check.optional(raw, "tls_cert", parse_path),
        tls_key: check.optional(raw, "tls_key", parse_path),
        tls_port: check.get(raw, "tls_port", parse_port, 8443),
        portal_host: check.optional(raw, "portal_host", parse_host),
        utc_offset_secs: check.get(raw, "utc_offset", parse_utc_offset, 3 * 3600),
        api_token_file: check.get(
            raw,
            "api_token_file",
            parse_path,
            "/var/run/lango/api-token".into(),
        ),
        block_tethering: check.get(raw, "block_tethering", parse_bool, false),
        ipv6_window_secs: check.get(
            raw,
            "ipv6_window",
            parse_interval,
            crate::core::ipv6::BIND_WINDOW_SECS as u64,
        ),
        keep_payments_secs: check.get(raw, "keep_payments", parse_interval, 366 * 86_400),
        keep_sessions_secs: check.get(raw, "keep_sessions", parse_interval, 7 * 86_400),
        metrics_token: check.optional(raw, "metrics_token", parse_token),
        alert_url: check.optional(raw, "alert_url", parse_alert_url),
        alert_format: check.get(
            raw,
            "alert_format",
            parse_alert_format,
            crate::core::alerts::Format::Json,
        ),
        gate_file: check.get(
            raw,
            "gate_file",
            parse_path,
            "/usr/share/nftables.d/ruleset-post/lango.nft".into(),
        ),
    };
    if gateway.guest_nets.is_empty() {
        // Unless the owner lists the guest networks, the portal address's /24 (IPv4) and /64
        // (IPv6) are taken to be the guests' (OpenWrt's default LAN is a /24).
        gateway.guest_nets = default_guest_nets(gateway.portal_addr, gateway.portal_addr6);
    }
    if gateway.tls_cert.is_some() != gateway.tls_key.is_some() {
        let line = raw
            .one("tls_cert")
            .or(raw.one("tls_key"))
            .map_or(raw.line, |v| v.line);
        check.error(
            line,
            "tls_cert and tls_key go together: set both, or neither",
        );
    }
    if !cfg!(feature = "tls-portal") {
        if let Some(v) = raw.one("tls_cert") {
            check.error(
                v.line,
                "this lango is built without the HTTPS portal (the x86_64 package has it; \
                 docs/size.md): remove tls_cert and tls_key",
            );
        }
    }
    // Both listeners on one address and port would make the daemon fail at startup instead.
    let (portal, admin) = (gateway.portal_addr, gateway.admin_addr);
    let same_host = portal == admin || portal.is_unspecified() || admin.is_unspecified();
    if same_host && gateway.portal_port == gateway.admin_port {
        let port = raw.one("admin_port").or(raw.one("portal_port"));
        let message = "admin_port is the same as portal_port; the owner page needs its own port";
        check.error(port.map_or(raw.line, |value| value.line), message);
    }
    gateway
}

/// The guest networks assumed when `guest_net` is not given: the portal's /24 and /64.
fn default_guest_nets(portal: std::net::IpAddr, portal6: Option<std::net::Ipv6Addr>) -> Vec<Cidr> {
    let mut nets = Vec::new();
    if !portal.is_unspecified() {
        let prefix = if portal.is_ipv4() { 24 } else { 64 };
        nets.push(Cidr {
            addr: portal,
            prefix,
        });
    }
    if let Some(v6) = portal6.filter(|a| !a.is_unspecified()) {
        nets.push(Cidr {
            addr: v6.into(),
            prefix: 64,
        });
    }
    nets
}

fn validate_brand(raw: &Raw, check: &mut Check) -> Brand {
    Brand {
        name: check.get(raw, "name", parse_text, "Wi-Fi".into()),
        logo: check.optional(raw, "logo", parse_path),
        colour: check.get(raw, "colour", parse_colour, "#0b6e4f".into()),
        phone: check.optional(raw, "phone", parse_text),
        email: check.optional(raw, "email", parse_text),
        terms_url: check.optional(raw, "terms_url", parse_terms_url),
    }
}

/// Validates every package, checks that names and ids are unique, and puts the packages in
/// the owner's order; the trial (`option trial '1'`, at most one) comes back apart.
fn validate_packages(raws: &[Raw], check: &mut Check) -> (Vec<Package>, Option<Trial>) {
    // A lower-case name or an id, and the line where it was first used.
    let mut names: Vec<(String, u32)> = Vec::new();
    let mut ids: Vec<(String, u32)> = Vec::new();
    let mut packages = Vec::new();
    let mut trial: Option<(u32, Option<Trial>)> = None;
    for raw in raws {
        let name = raw.one("name");
        let id = raw.name.clone().or(raw.derived_id.clone());
        let name_used = match name {
            Some(value) => seen(&mut names, &value.text.to_lowercase(), value.line),
            None => None,
        };
        if let (Some(first), Some(Value { text, line, .. })) = (name_used, name) {
            let message = format!("package name '{text}' is already used on line {first}");
            check.error(*line, message);
        } else if let Some(id) = &id {
            // Only checked when the names differ: names that differ only in case share an id too,
            // and one message is enough.
            if let Some(first) = seen(&mut ids, id, raw.line) {
                let how = match raw.name {
                    Some(_) => "",
                    None => " (made from its name)",
                };
                let message = format!("package id '{id}'{how} is already used on line {first}");
                check.error(raw.line, message);
            }
        }
        let is_trial = check.get(raw, "trial", parse_bool, false);
        if !is_trial {
            if let Some(value) = raw.one("trials_per_day") {
                check.error(
                    value.line,
                    "trials_per_day is only used with option trial '1'",
                );
            }
            packages.extend(validate_package(raw, id, check));
        } else if let Some((first, _)) = trial {
            let message = format!("more than one trial package (the first is on line {first})");
            check.error(raw.line, message);
        } else {
            let package = validate_package(raw, id, check);
            let per_day = check.get(raw, "trials_per_day", parse_per_day, 50);
            // `option active '0'` keeps the section but offers no trial.
            let package = package.filter(|package| package.active);
            trial = Some((raw.line, package.map(|package| Trial { package, per_day })));
        }
    }
    // Stable: packages with the same order stay in file order.
    packages.sort_by_key(|package| package.order);
    (packages, trial.and_then(|(_, trial)| trial))
}

fn parse_per_day(text: &str) -> Result<u32, String> {
    let n = text
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=10_000).contains(n));
    n.ok_or_else(|| format!("'{text}' is not a number of trials from 1 to 10000"))
}

/// A trial's price: none, or 0.
fn parse_free(text: &str) -> Result<Money, String> {
    match Money::parse(text)? {
        Money(0) => Ok(Money(0)),
        _ => Err(format!(
            "a trial is free: its price must be 0 or unset, not '{text}'"
        )),
    }
}

fn validate_package(raw: &Raw, id: Option<String>, check: &mut Check) -> Option<Package> {
    // Every value is checked before the first `?`, so that all problems are reported.
    let name = check.required(raw, "name", parse_text);
    let price = match raw
        .one("trial")
        .is_some_and(|v| parse_bool(&v.text) == Ok(true))
    {
        true => Some(check.get(raw, "price", parse_free, Money(0))),
        false => check.required(raw, "price", parse_price),
    };
    let duration_secs = check.required(raw, "duration", parse_duration);
    let quota_bytes = check.optional(raw, "data", parse_bytes);
    let fair_kbit = check.optional(raw, "fair_rate", parse_rate);
    if let (None, Some(value)) = (raw.one("data"), raw.one("fair_rate")) {
        let message = "fair_rate is the speed after the data is used: it needs option 'data'";
        check.error(value.line, message);
    }
    let span = check.optional(raw, "window", parse_window);
    let days = check.optional(raw, "days", parse_days);
    let window = (span.is_some() || days.is_some()).then(|| {
        let span = span.unwrap_or(1440 << 16);
        // The offset is the gateway's, set once the whole file is read.
        Window {
            start: span as u16,
            end: (span >> 16) as u16,
            days: days.map_or(ALL_DAYS, |d| d as u8),
            utc_offset: 0,
        }
    });
    let package = Package {
        name_sw: check.optional(raw, "name_sw", parse_text),
        description: check.optional(raw, "description", parse_text),
        description_sw: check.optional(raw, "description_sw", parse_text),
        quota_bytes,
        fair_kbit: fair_kbit.filter(|_| quota_bytes.is_some()),
        window,
        rate_down_kbit: check.optional(raw, "rate_down", parse_rate),
        rate_up_kbit: check.optional(raw, "rate_up", parse_rate),
        devices: check.get(raw, "devices", parse_devices, 1),
        active: check.get(raw, "active", parse_bool, true),
        order: check.get(raw, "order", parse_order, 0),
        id: id?,
        name: name?,
        price: price?,
        duration_secs: duration_secs?,
    };
    Some(package)
}

/// The section, checked, and whether it is enabled (`option enabled`, default 1).
fn validate_mpesa(raw: &Raw, check: &mut Check) -> Option<(Mpesa, bool)> {
    let enabled = check.get(raw, "enabled", parse_bool, true);
    let environment = check.required(raw, "environment", parse_environment);
    let consumer_key = check.required(raw, "consumer_key", parse_text);
    let consumer_secret = check.required(raw, "consumer_secret", parse_text);
    // Unset means paybill; `None` means the type was wrong, which has been reported.
    let kind = match raw.one("type") {
        Some(_) => check.optional(raw, "type", parse_kind),
        None => Some(MpesaKind::PayBill),
    };
    let shortcode = check.required(raw, "shortcode", parse_shortcode);
    let till = check.optional(raw, "till", parse_shortcode);
    match (kind, raw.one("till")) {
        (Some(MpesaKind::Till), None) => {
            let message = format!("{} is missing option 'till'", raw.label);
            check.error(raw.line, message + " (needed when type is till)");
        }
        (Some(MpesaKind::PayBill), Some(value)) => {
            check.error(value.line, "till is only used when type is 'till'");
        }
        _ => {}
    }
    let passkey = check.required(raw, "passkey", parse_text);
    let reference = check.get(raw, "account_reference", parse_reference, "WiFi".into());
    let callback_url = check.optional(raw, "callback_url", parse_callback_url);
    let ca_bundle = check.optional(raw, "ca_bundle", parse_path);
    let simulator_url = check.optional(raw, "simulator_url", parse_simulator_url);
    if let (Some(env), Some(value)) = (environment, raw.one("simulator_url")) {
        if env != MpesaEnvironment::Simulator {
            check.error(
                value.line,
                "simulator_url is only used when environment is 'simulator'",
            );
        }
    }
    let pull = check.get(raw, "pull", parse_bool, false);
    let pull_phone = check.optional(raw, "pull_phone", parse_pull_phone);
    if let (false, Some(value)) = (pull, raw.one("pull_phone")) {
        check.error(value.line, "pull_phone is only used with option pull '1'");
    }
    let qr = check.get(raw, "qr", parse_bool, false);
    if let (false, true, Some(value)) = (cfg!(feature = "mpesa-qr"), qr, raw.one("qr")) {
        check.error(
            value.line,
            "this lango is built without the M-Pesa QR (the x86_64, aarch64 and ARMv7 packages have it; \
             docs/size.md): remove option qr",
        );
    }
    if let (true, false, Some(value)) = (qr, pull, raw.one("qr")) {
        check.error(
            value.line,
            "qr needs option pull '1': a QR payment is confirmed through Pull Transactions",
        );
    }
    let mpesa = Mpesa {
        qr,
        pull,
        pull_phone,
        environment: environment?,
        consumer_key: consumer_key?,
        consumer_secret: consumer_secret?,
        kind: kind?,
        shortcode: shortcode?,
        till,
        passkey: passkey?,
        account_reference: reference,
        callback_url,
        ca_bundle,
        simulator_url,
    };
    Some((mpesa, enabled))
}

/// Turns an option's text into a value, or says what is wrong with it.
type Parser<T> = fn(&str) -> Result<T, String>;

/// Collects diagnostics while the whole file is checked.
pub(super) struct Check<'a> {
    pub(super) file: &'a str,
    pub(super) diagnostics: Vec<Diagnostic>,
}

impl Check<'_> {
    pub(super) fn error(&mut self, line: u32, message: impl Into<String>) {
        let (file, message) = (self.file.to_string(), message.into());
        self.diagnostics.push(Diagnostic {
            file,
            line,
            message,
        });
    }

    /// A single option's value, or `default` if it is unset or wrong (which is reported).
    pub(super) fn get<T>(&mut self, raw: &Raw, name: &str, parse: Parser<T>, default: T) -> T {
        self.optional(raw, name, parse).unwrap_or(default)
    }

    /// A single option's value: `None` if it is unset or wrong (which is reported).
    pub(super) fn optional<T>(&mut self, raw: &Raw, name: &str, parse: Parser<T>) -> Option<T> {
        self.item(raw.one(name)?, parse)
    }

    /// Like `optional`, but the section cannot do without it. Its absence is reported at the
    /// section's `config` line.
    pub(super) fn required<T>(&mut self, raw: &Raw, name: &str, parse: Parser<T>) -> Option<T> {
        if raw.one(name).is_none() {
            self.error(
                raw.line,
                format!("{} is missing option '{name}'", raw.label),
            );
        }
        self.optional(raw, name, parse)
    }

    pub(super) fn item<T>(&mut self, value: &Value, parse: Parser<T>) -> Option<T> {
        parse(&value.text)
            .map_err(|message| self.error(value.line, message))
            .ok()
    }
}

/// The line where `key` was first used, or `None` if this is its first use, which is recorded.
fn seen(used: &mut Vec<(String, u32)>, key: &str, line: u32) -> Option<u32> {
    let first = used
        .iter()
        .find(|(used, _)| used == key)
        .map(|(_, first)| *first);
    if first.is_none() {
        used.push((key.to_string(), line));
    }
    first
}
