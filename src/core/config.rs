//! The owner's configuration: `/etc/config/lango` (UCI text) to a validated, typed `Config`.
//! `parse` is pure and reports every problem at once, each with file name and line number;
//! `load` only reads the file. Never shells out to `uci`. Defaults live next to each option's
//! parse arm, not in an `impl Default`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::core::model::{parse_bytes, parse_duration, parse_rate, Lang, Money};
use crate::core::uci::{self, Section, UciFile, Value};

/// One problem in a config file, for the owner: `/etc/config/lango:12: unknown option 'prise'`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: u32,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub gateway: Gateway,
    pub brand: Brand,
    /// In the owner's order (`order` option, then file order). Includes inactive packages.
    pub packages: Vec<Package>,
    pub mpesa: Option<Mpesa>,
}

/// `config gateway 'main'`: where lango listens and how it behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct Gateway {
    /// `option enabled` (default 1).
    pub enabled: bool,
    /// `option interface` (default `lan`): the OpenWrt network the guests are on.
    pub interface: String,
    /// `option portal_addr` (default 192.168.1.1) and `option portal_port` (default 8080).
    pub portal_addr: IpAddr,
    pub portal_port: u16,
    /// `option admin_addr` (default 127.0.0.1) and `option admin_port` (default 8081).
    pub admin_addr: IpAddr,
    pub admin_port: u16,
    /// `list admin_allow` (default 127.0.0.0/8 and ::1/128): who may open the owner page.
    pub admin_allow: Vec<Cidr>,
    /// `option currency` (default KES): three upper-case letters.
    pub currency: String,
    /// `option language` (default en): en or sw.
    pub language: Lang,
    /// `option store` (default /etc/lango/lango.redb): the redb file on flash.
    pub store: PathBuf,
    /// `option reconcile_interval` (default 60s): how often the firewall is checked against the
    /// store even when nothing changed.
    pub reconcile_interval_secs: u64,
    /// `option checkpoint_interval` (default 5m): how often usage counters reach flash.
    pub checkpoint_interval_secs: u64,
    /// `option device` (default br-lan): the Linux device the guests are on, for nftables.
    pub device: String,
    /// `option firewall` (default nft): `nft` gates guests in the kernel; `none` only records
    /// what it would allow (for trying lango on a machine that is not a router).
    pub firewall: FirewallKind,
    /// `option portal_addr6` (optional): the portal's IPv6 address on the guest network; the
    /// portal and the DNS responder listen there too.
    pub portal_addr6: Option<Ipv6Addr>,
    /// `option dns_port` (default 8053): lango's DNS responder for devices that have not paid.
    pub dns_port: u16,
    /// `option leases` (default /tmp/dhcp.leases): dnsmasq's lease file.
    pub leases: PathBuf,
    /// `option dnsmasq_confdir` (optional): where to put the DHCP option 114 snippet; found
    /// automatically on OpenWrt.
    pub dnsmasq_confdir: Option<PathBuf>,
    /// `option move_interval` (default 1h): how often a guest may move a purchase to a new MAC.
    pub move_interval_secs: u64,
    /// `option tls_cert` and `option tls_key` (optional, together): PEM files; with them the
    /// portal and its captive-portal API also answer over HTTPS on `tls_port`.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `option tls_port` (default 8443).
    pub tls_port: u16,
    /// `option portal_host` (optional): the name the certificate is for (`portal.lan`); with
    /// HTTPS configured, the captive-portal API and DHCP option 114 announce
    /// `https://<portal_host>:<tls_port>/`.
    pub portal_host: Option<String>,
    /// `option utc_offset` (default +03:00, East Africa Time): the owner's local time, for
    /// business days on the owner page (revenue per day, payments of a day). Seconds east of UTC.
    pub utc_offset_secs: i64,
    /// `option api_token_file` (default /var/run/lango/api-token, in RAM): where lango writes the
    /// token that scripts on the router send as `Authorization: Bearer` to the owner page's JSON
    /// API. Readable by root only.
    pub api_token_file: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirewallKind {
    Nft,
    None,
}

/// `config brand 'brand'` (optional): what the guest sees.
#[derive(Clone, Debug, PartialEq)]
pub struct Brand {
    /// `option name` (default "Wi-Fi").
    pub name: String,
    /// `option logo`: path of an image file on the router, inlined into the page. Optional.
    pub logo: Option<PathBuf>,
    /// `option colour` (default #0b6e4f): a #rrggbb colour.
    pub colour: String,
    /// `option phone`, `option email`: the owner's contact, shown to guests. Optional.
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// `config package '<id>'`: something a guest can buy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    /// The section name; for an anonymous section, derived from `name` (lower case, `_` for
    /// anything not alphanumeric).
    pub id: String,
    /// `option name` (required, unique).
    pub name: String,
    /// `option price` (required): `50` or `49.50`, in `currency`.
    pub price: Money,
    /// `option duration` (required): `30m`, `1h`, `1d`, `7d`.
    pub duration_secs: u64,
    /// `option data` (optional): `500MB`, `1GB`; none means unlimited.
    pub quota_bytes: Option<u64>,
    /// `option rate_down`, `option rate_up` (optional): `5M`, `512k`; kbit/s.
    pub rate_down_kbit: Option<u32>,
    pub rate_up_kbit: Option<u32>,
    /// `option active` (default 1).
    pub active: bool,
    /// `option order` (default 0): lower first.
    pub order: i32,
}

/// `config mpesa 'mpesa'` (optional): the Daraja account.
#[derive(Clone, PartialEq, Eq)]
pub struct Mpesa {
    /// `option environment`: sandbox, production or simulator (required).
    pub environment: MpesaEnvironment,
    /// `option consumer_key`, `option consumer_secret` (required).
    pub consumer_key: String,
    pub consumer_secret: String,
    /// `option type`: paybill or till (default paybill).
    pub kind: MpesaKind,
    /// `option shortcode` (required): BusinessShortCode, 5 to 7 digits. For a till this is the
    /// store number (head office) the passkey belongs to.
    pub shortcode: String,
    /// `option till` (required when type is till): PartyB, the till number.
    pub till: Option<String>,
    /// `option passkey` (required).
    pub passkey: String,
    /// `option account_reference` (default `WiFi`): at most 12 characters.
    pub account_reference: String,
    /// `option callback_url` (optional): the public http(s) address, without a path, at which
    /// the owner exposes lango's portal listener to Safaricom. lango appends its secret
    /// callback path. Without it lango confirms every payment by querying Daraja.
    pub callback_url: Option<String>,
    /// `option ca_bundle` (default /etc/ssl/certs/ca-certificates.crt, from the ca-bundle
    /// package): the certificate authorities trusted for Daraja's HTTPS.
    pub ca_bundle: Option<PathBuf>,
    /// `option simulator_url` (only with environment 'simulator'): the address of a Daraja
    /// simulator in its own process (`lango sim --listen ADDR`), such as
    /// `http://127.0.0.1:8088`. Without it lango starts the simulator inside itself (builds
    /// with the `simulator` feature), whose prompts die with lango.
    pub simulator_url: Option<String>,
}

/// Hides the secrets: a `Config` may be logged with `{:?}`.
impl fmt::Debug for Mpesa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mpesa")
            .field("environment", &self.environment)
            .field("consumer_key", &"***")
            .field("consumer_secret", &"***")
            .field("kind", &self.kind)
            .field("shortcode", &self.shortcode)
            .field("till", &self.till)
            .field("passkey", &"***")
            .field("account_reference", &self.account_reference)
            .field("callback_url", &self.callback_url)
            .field("ca_bundle", &self.ca_bundle)
            .field("simulator_url", &self.simulator_url)
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MpesaEnvironment {
    Sandbox,
    Production,
    /// lango's own Daraja simulator (the demo, tests).
    Simulator,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MpesaKind {
    PayBill,
    Till,
}

/// An IPv4 or IPv6 network, `192.168.1.0/24` or `fd00::/8`; a bare address is a /32 or /128.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let bad = || format!("'{text}' is not an address or network (like 192.168.1.0/24)");
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client may arrive as an IPv4-mapped IPv6 address on a dual-stack socket.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Config {
    /// Active packages in the owner's order.
    pub fn active_packages(&self) -> impl Iterator<Item = &Package> {
        self.packages.iter().filter(|p| p.active)
    }

    pub fn package(&self, id: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.id == id)
    }
}

/// Why a config could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read at all.
    Io { file: String, error: std::io::Error },
    /// The file was read; these are all of its problems.
    Invalid(Vec<Diagnostic>),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io { file, error } => write!(f, "{file}: cannot read: {error}"),
            LoadError::Invalid(diags) => {
                for (idx, diag) in diags.iter().enumerate() {
                    if idx > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{diag}")?;
                }
                Ok(())
            }
        }
    }
}

/// Reads and parses a config file.
pub fn load(path: &Path) -> Result<Config, LoadError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|error| LoadError::Io {
        file: file.clone(),
        error,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    parse(&text, &file).map_err(LoadError::Invalid)
}

/// Parses UCI text into a validated config, or returns every problem found, in line order.
pub fn parse(text: &str, file: &str) -> Result<Config, Vec<Diagnostic>> {
    let (uci_file, syntax_errors) = uci::parse(text);
    let mut check = Check {
        file,
        diagnostics: Vec::new(),
    };
    for error in syntax_errors {
        check.error(error.line, error.message);
    }
    let config = RawConfig::sort(&uci_file, &mut check).validate(&mut check);
    let mut diagnostics = check.diagnostics;
    // Stable, so that problems on one line keep the order in which they were found.
    diagnostics.sort_by_key(|diagnostic| diagnostic.line);
    match diagnostics.is_empty() {
        true => Ok(config),
        false => Err(diagnostics),
    }
}

// The option tables, one per section type (odhcpd's blobmsg policy tables): every option a
// section may have. Anything else is reported as unknown, with the nearest name as a hint.
const GATEWAY: &[&str] = &[
    "enabled",
    "interface",
    "portal_addr",
    "portal_port",
    "admin_addr",
    "admin_port",
    "admin_allow",
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
];
const BRAND: &[&str] = &["name", "logo", "colour", "phone", "email"];
const PACKAGE: &[&str] = &[
    "name",
    "price",
    "duration",
    "data",
    "rate_down",
    "rate_up",
    "active",
    "order",
];
const MPESA: &[&str] = &[
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
];
/// The options written with `list`; every other option takes one value.
const LISTS: &[&str] = &["admin_allow"];

/// The file's sections sorted by type, before any value is checked (ripgrep's LowArgs, with
/// `Config` as HiArgs).
#[derive(Default)]
struct RawConfig {
    gateway: Vec<Raw>,
    brand: Vec<Raw>,
    packages: Vec<Raw>,
    mpesa: Vec<Raw>,
}

/// One section's options as written, each name checked against its type's table.
#[derive(Default)]
struct Raw {
    /// The line of the `config` statement.
    line: u32,
    /// The section name; `None` for an anonymous section.
    name: Option<String>,
    /// How messages name the section: `package 'hour'`, or `this package` when anonymous.
    label: String,
    options: BTreeMap<&'static str, Vec<Value>>,
}

impl Raw {
    /// The value of a single option. `''` counts as unset, as in libuci.
    fn one(&self, name: &str) -> Option<&Value> {
        let value = self.options.get(name)?.last();
        value.filter(|value| !value.text.is_empty())
    }

    fn list(&self, name: &str) -> impl Iterator<Item = &Value> {
        let values = self.options.get(name).into_iter().flatten();
        values.filter(|value| !value.text.is_empty())
    }
}

impl RawConfig {
    fn sort(file: &UciFile, check: &mut Check) -> RawConfig {
        let mut raw = RawConfig::default();
        for section in &file.sections {
            let (sections, table) = match section.kind.as_str() {
                "gateway" => (&mut raw.gateway, GATEWAY),
                "brand" => (&mut raw.brand, BRAND),
                "package" => (&mut raw.packages, PACKAGE),
                "mpesa" => (&mut raw.mpesa, MPESA),
                kind => {
                    let near = suggest(kind, &["gateway", "brand", "package", "mpesa"]);
                    let hint = near.map(|near| format!("; did you mean '{near}'?"));
                    let known = "gateway, brand, package or mpesa";
                    let hint = format!("(expected {known}{})", hint.unwrap_or_default());
                    check.error(
                        section.line,
                        format!("unknown section type '{kind}' {hint}"),
                    );
                    continue;
                }
            };
            sections.push(fill(section, table, check));
        }
        let single = [
            ("gateway", &raw.gateway),
            ("brand", &raw.brand),
            ("mpesa", &raw.mpesa),
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

    fn validate(&self, check: &mut Check) -> Config {
        // A missing gateway or brand section is fine: every one of their options has a default.
        let (none, mpesa) = (Raw::default(), self.mpesa.first());
        Config {
            gateway: validate_gateway(self.gateway.first().unwrap_or(&none), check),
            brand: validate_brand(self.brand.first().unwrap_or(&none), check),
            packages: validate_packages(&self.packages, check),
            mpesa: mpesa.and_then(|raw| validate_mpesa(raw, check)),
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
    let gateway = Gateway {
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
    };
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

fn validate_brand(raw: &Raw, check: &mut Check) -> Brand {
    Brand {
        name: check.get(raw, "name", parse_text, "Wi-Fi".into()),
        logo: check.optional(raw, "logo", parse_path),
        colour: check.get(raw, "colour", parse_colour, "#0b6e4f".into()),
        phone: check.optional(raw, "phone", parse_text),
        email: check.optional(raw, "email", parse_text),
    }
}

/// Validates every package, checks that names and ids are unique, and puts the packages in
/// the owner's order.
fn validate_packages(raws: &[Raw], check: &mut Check) -> Vec<Package> {
    // A lower-case name or an id, and the line where it was first used.
    let mut names: Vec<(String, u32)> = Vec::new();
    let mut ids: Vec<(String, u32)> = Vec::new();
    let mut packages = Vec::new();
    for raw in raws {
        let name = raw.one("name");
        let derived_id = name.map(|value| package_id(&value.text));
        let id = raw.name.clone().or(derived_id);
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
        packages.extend(validate_package(raw, id, check));
    }
    // Stable: packages with the same order stay in file order.
    packages.sort_by_key(|package| package.order);
    packages
}

fn validate_package(raw: &Raw, id: Option<String>, check: &mut Check) -> Option<Package> {
    // Every value is checked before the first `?`, so that all problems are reported.
    let name = check.required(raw, "name", parse_text);
    let price = check.required(raw, "price", parse_price);
    let duration_secs = check.required(raw, "duration", parse_duration);
    let package = Package {
        quota_bytes: check.optional(raw, "data", parse_bytes),
        rate_down_kbit: check.optional(raw, "rate_down", parse_rate),
        rate_up_kbit: check.optional(raw, "rate_up", parse_rate),
        active: check.get(raw, "active", parse_bool, true),
        order: check.get(raw, "order", parse_order, 0),
        id: id?,
        name: name?,
        price: price?,
        duration_secs: duration_secs?,
    };
    Some(package)
}

fn validate_mpesa(raw: &Raw, check: &mut Check) -> Option<Mpesa> {
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
    Some(Mpesa {
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
    })
}

/// Turns an option's text into a value, or says what is wrong with it.
type Parser<T> = fn(&str) -> Result<T, String>;

/// Collects diagnostics while the whole file is checked.
struct Check<'a> {
    file: &'a str,
    diagnostics: Vec<Diagnostic>,
}

impl Check<'_> {
    fn error(&mut self, line: u32, message: impl Into<String>) {
        let (file, message) = (self.file.to_string(), message.into());
        self.diagnostics.push(Diagnostic {
            file,
            line,
            message,
        });
    }

    /// A single option's value, or `default` if it is unset or wrong (which is reported).
    fn get<T>(&mut self, raw: &Raw, name: &str, parse: Parser<T>, default: T) -> T {
        self.optional(raw, name, parse).unwrap_or(default)
    }

    /// A single option's value: `None` if it is unset or wrong (which is reported).
    fn optional<T>(&mut self, raw: &Raw, name: &str, parse: Parser<T>) -> Option<T> {
        self.item(raw.one(name)?, parse)
    }

    /// Like `optional`, but the section cannot do without it. Its absence is reported at the
    /// section's `config` line.
    fn required<T>(&mut self, raw: &Raw, name: &str, parse: Parser<T>) -> Option<T> {
        if raw.one(name).is_none() {
            self.error(
                raw.line,
                format!("{} is missing option '{name}'", raw.label),
            );
        }
        self.optional(raw, name, parse)
    }

    fn item<T>(&mut self, value: &Value, parse: Parser<T>) -> Option<T> {
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

/// An anonymous package's id: its name in lower case, `_` for anything not a letter or digit,
/// which is always a valid UCI section name.
pub fn package_id(name: &str) -> String {
    let safe = |c: char| Some(c.to_ascii_lowercase()).filter(char::is_ascii_alphanumeric);
    name.chars().map(|c| safe(c).unwrap_or('_')).collect()
}

/// `text` itself if it passed the test, or the message saying what it should have been.
fn want(ok: bool, text: &str, what: &str) -> Result<String, String> {
    ok.then(|| text.to_string()).ok_or_else(|| not(text, what))
}

fn not(text: &str, what: &str) -> String {
    format!("'{text}' is not {what}")
}

fn parse_text(text: &str) -> Result<String, String> {
    Ok(text.to_string())
}

/// Exactly the words OpenWrt's `config_get_bool` accepts (it is case-sensitive), so that the
/// init script and the daemon never disagree.
fn parse_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "on" | "true" | "yes" | "enabled" => Ok(true),
        "0" | "off" | "false" | "no" | "disabled" => Ok(false),
        _ => Err(not(text, "a yes/no value (write 1 or 0)")),
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    let digits = text.bytes().all(|b| b.is_ascii_digit());
    let port = text.parse().ok().filter(|port| *port > 0 && digits);
    port.ok_or_else(|| not(text, "a port number (1 to 65535)"))
}

fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.parse()
        .map_err(|_| not(text, "an IP address (like 192.168.1.1)"))
}

/// A DNS name for the portal: letters, digits, dots and dashes.
fn parse_host(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 253
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'));
    want(ok, text, "a host name (like portal.lan)")
}

fn parse_ipv6(text: &str) -> Result<Ipv6Addr, String> {
    text.parse()
        .map_err(|_| not(text, "an IPv6 address (like fd00::1)"))
}

/// A Linux network device name: it goes into nft rules, so only the characters the kernel
/// allows, at most 15 of them.
fn parse_device(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 15
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    want(ok, text, "a network device name (like br-lan)")
}

fn parse_firewall(text: &str) -> Result<FirewallKind, String> {
    match text {
        "nft" => Ok(FirewallKind::Nft),
        "none" => Ok(FirewallKind::None),
        _ => Err(not(text, "a firewall backend (nft or none)")),
    }
}

/// A UCI section name in /etc/config/network.
fn parse_network(text: &str) -> Result<String, String> {
    let ok = text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    want(ok, text, "an OpenWrt network name (like lan)")
}

fn parse_currency(text: &str) -> Result<String, String> {
    let ok = text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase());
    want(ok, text, "a currency code (like KES)")
}

fn parse_language(text: &str) -> Result<Lang, String> {
    Lang::parse(text).ok_or_else(|| not(text, "a language lango speaks (en or sw)"))
}

fn parse_path(text: &str) -> Result<PathBuf, String> {
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
fn parse_interval(text: &str) -> Result<u64, String> {
    parse_duration(text).map_err(|_| not(text, "a time (write it like 60s or 5m)"))
}

fn parse_colour(text: &str) -> Result<String, String> {
    let hex = text.strip_prefix('#').filter(|hex| hex.len() == 6);
    let ok = hex.is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()));
    want(ok, text, "a colour (write it like #0b6e4f)")
}

fn parse_price(text: &str) -> Result<Money, String> {
    match Money::parse(text)? {
        Money(0) => Err("price must be more than 0".into()),
        price => Ok(price),
    }
}

fn parse_order(text: &str) -> Result<i32, String> {
    text.parse().map_err(|_| not(text, "a whole number"))
}

fn parse_environment(text: &str) -> Result<MpesaEnvironment, String> {
    match text {
        "sandbox" => Ok(MpesaEnvironment::Sandbox),
        "production" => Ok(MpesaEnvironment::Production),
        "simulator" => Ok(MpesaEnvironment::Simulator),
        _ => Err(not(text, "sandbox, production or simulator")),
    }
}

fn parse_kind(text: &str) -> Result<MpesaKind, String> {
    match text {
        "paybill" => Ok(MpesaKind::PayBill),
        "till" => Ok(MpesaKind::Till),
        _ => Err(not(text, "paybill or till")),
    }
}

/// Daraja's BusinessShortCode and till numbers (PartyB) are 5 to 7 digits.
fn parse_shortcode(text: &str) -> Result<String, String> {
    let ok = (5..=7).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    want(ok, text, "a number of 5 to 7 digits")
}

/// Daraja refuses an AccountReference longer than 12 characters.
fn parse_reference(text: &str) -> Result<String, String> {
    let ok = text.chars().count() <= 12;
    ok.then(|| text.to_string())
        .ok_or_else(|| format!("'{text}' is longer than 12 characters"))
}

/// The base of the public address Daraja posts results to: `https://host[:port]`, optionally
/// with a path prefix; no query, no fragment. lango adds its secret path.
fn parse_callback_url(text: &str) -> Result<String, String> {
    let what = "a web address like https://wifi.example.com (no ? or #)";
    let url = crate::core::http::Url::parse(text).map_err(|_| not(text, what))?;
    if text.contains('?') || url.host.is_empty() {
        return Err(not(text, what));
    }
    Ok(text.trim_end_matches('/').to_string())
}

/// The address of a `lango sim`: `http(s)://host:port`, no path, query or fragment.
fn parse_simulator_url(text: &str) -> Result<String, String> {
    let what = "a simulator address like http://127.0.0.1:8088";
    let url = crate::core::http::Url::parse(text).map_err(|_| not(text, what))?;
    if url.path != "/" {
        return Err(not(text, what));
    }
    Ok(text.trim_end_matches('/').to_string())
}

/// The closest known word, if it is close enough to be a likely typo.
fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let distances = known
        .iter()
        .map(|known| (edit_distance(word, known), *known));
    let close = distances.filter(|&(distance, _)| distance <= 2 && distance * 3 <= word.len());
    close
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, known)| known)
}

/// Levenshtein distance, one row at a time.
fn edit_distance(a: &str, b: &str) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every diagnostic as `line: message`, or nothing when the text is valid.
    fn problems(text: &str) -> Vec<String> {
        match parse(text, "/etc/config/lango") {
            Ok(_) => Vec::new(),
            Err(diagnostics) => diagnostics
                .iter()
                .map(|d| format!("{}: {}", d.line, d.message))
                .collect(),
        }
    }

    #[track_caller]
    fn valid(text: &str) -> Config {
        match parse(text, "lango") {
            Ok(config) => config,
            Err(diagnostics) => panic!("{}", LoadError::Invalid(diagnostics)),
        }
    }

    #[track_caller]
    fn check_problems(text: &str, expected: &[&str]) {
        assert_eq!(problems(text), expected, "for:\n{text}");
    }

    const SHIPPED: &str = include_str!("../../files/etc/config/lango");

    #[test]
    fn shipped_default_config_is_valid() {
        let config = valid(SHIPPED);
        let gateway = &config.gateway;
        assert!(gateway.enabled);
        assert_eq!(gateway.interface, "lan");
        assert_eq!(
            (gateway.portal_addr.to_string(), gateway.portal_port),
            ("192.168.1.1".into(), 8080)
        );
        assert_eq!(
            (gateway.admin_addr.to_string(), gateway.admin_port),
            ("192.168.1.1".into(), 8081)
        );
        let allow: Vec<String> = gateway.admin_allow.iter().map(Cidr::to_string).collect();
        assert_eq!(allow, ["192.168.1.0/24", "127.0.0.1/32"]);
        assert_eq!(
            (gateway.currency.as_str(), gateway.language),
            ("KES", Lang::En)
        );
        assert_eq!(gateway.store, PathBuf::from("/etc/lango/lango.redb"));
        assert_eq!(config.brand.colour, "#0b6e4f");
        let packages: Vec<_> = (config.packages.iter())
            .map(|p| {
                (
                    p.id.as_str(),
                    p.name.as_str(),
                    p.price,
                    p.duration_secs,
                    p.quota_bytes,
                )
            })
            .collect();
        assert_eq!(
            packages,
            [
                ("half_hour", "30 Minutes", Money(1000), 1800, None),
                ("hour", "1 Hour", Money(2000), 3600, Some(1_000_000_000)),
                ("day", "1 Day", Money(5000), 86_400, None),
                (
                    "week",
                    "7 Days",
                    Money(25_000),
                    604_800,
                    Some(10_000_000_000)
                ),
            ]
        );
        let day = config
            .package("day")
            .map(|p| (p.rate_down_kbit, p.rate_up_kbit));
        assert_eq!(day, Some((Some(5000), Some(2000))));
        let mpesa = config
            .mpesa
            .as_ref()
            .map(|m| (m.environment, m.kind, m.shortcode.as_str()));
        assert_eq!(
            mpesa,
            Some((MpesaEnvironment::Sandbox, MpesaKind::PayBill, "174379"))
        );
        // Secrets never reach logs through `{:?}`.
        assert!(!format!("{config:?}").contains("bfb279f9"));
    }

    #[test]
    fn empty_file_gives_every_default() {
        let config = valid("# nothing here\n");
        let gateway = Gateway {
            enabled: true,
            interface: "lan".into(),
            portal_addr: "192.168.1.1".parse().unwrap(),
            portal_port: 8080,
            admin_addr: "127.0.0.1".parse().unwrap(),
            admin_port: 8081,
            admin_allow: vec![
                Cidr::parse("127.0.0.0/8").unwrap(),
                Cidr::parse("::1").unwrap(),
            ],
            currency: "KES".into(),
            language: Lang::En,
            store: "/etc/lango/lango.redb".into(),
            reconcile_interval_secs: 60,
            checkpoint_interval_secs: 300,
            device: "br-lan".into(),
            firewall: FirewallKind::Nft,
            portal_addr6: None,
            dns_port: 8053,
            leases: "/tmp/dhcp.leases".into(),
            dnsmasq_confdir: None,
            move_interval_secs: 3600,
            tls_cert: None,
            tls_key: None,
            tls_port: 8443,
            portal_host: None,
            utc_offset_secs: 10_800,
            api_token_file: "/var/run/lango/api-token".into(),
        };
        let brand = Brand {
            name: "Wi-Fi".into(),
            logo: None,
            colour: "#0b6e4f".into(),
            phone: None,
            email: None,
        };
        assert_eq!(
            config,
            Config {
                gateway,
                brand,
                packages: Vec::new(),
                mpesa: None
            }
        );
    }

    #[test]
    fn every_option_of_every_section() {
        let text = "config gateway\n\
            \toption enabled off\n\
            \toption interface guest\n\
            \toption portal_addr 10.0.0.1\n\
            \toption portal_port 80\n\
            \toption admin_addr ::\n\
            \toption admin_port 81\n\
            \tlist admin_allow fd00::/8\n\
            \toption currency TZS\n\
            \toption language Kiswahili\n\
            \toption store /overlay/lango.redb\n\
            \toption reconcile_interval 2m\n\
            \toption checkpoint_interval 1h\n\
            \toption device br-guest\n\
            \toption firewall none\n\
            \toption portal_addr6 fd00::1\n\
            \toption dns_port 5300\n\
            \toption leases /var/dhcp.leases\n\
            \toption dnsmasq_confdir /tmp/dnsmasq.guest.d\n\
            \toption move_interval 2h\n\
            \toption tls_cert /etc/lango/portal.crt\n\
            \toption tls_key /etc/lango/portal.key\n\
            \toption tls_port 9443\n\
            \toption portal_host portal.lan\n\
            \toption utc_offset -01:30\n\
            \toption api_token_file /tmp/lango.token\n\
            config brand\n\
            \toption name 'Mama Wanjiku Cafe'\n\
            \toption logo /www/logo.png\n\
            \toption colour '#A1b2C3'\n\
            \toption phone '0712 345 678'\n\
            \toption email ''\n\
            config package\n\
            \toption name 'Late Night!'\n\
            \toption price 49.5\n\
            \toption duration 8h\n\
            \toption data 1.5GB\n\
            \toption rate_down 1.5Mbit\n\
            \toption rate_up 512k\n\
            \toption active no\n\
            \toption order -1\n\
            config mpesa\n\
            \toption environment production\n\
            \toption consumer_key key\n\
            \toption consumer_secret secret\n\
            \toption type till\n\
            \toption shortcode 12345\n\
            \toption till 7654321\n\
            \toption passkey pass\n\
            \toption account_reference 'Cafe WiFi 12'\n\
            \toption callback_url 'https://wifi.example.com:8443/lango/'\n\
            \toption ca_bundle /etc/ssl/cert.pem\n";
        // Every option in the tables is set here, each to something other than its default;
        // simulator_url needs environment 'simulator' (simulator_url_only_with_the_simulator).
        for name in [GATEWAY, BRAND, PACKAGE, MPESA].concat() {
            if name == "simulator_url" {
                continue;
            }
            assert!(text.contains(&format!(" {name} ")), "{name} is not tested");
        }
        let config = valid(text);
        let gateway = &config.gateway;
        assert!(!gateway.enabled);
        assert_eq!(
            (
                gateway.interface.as_str(),
                gateway.portal_port,
                gateway.admin_port
            ),
            ("guest", 80, 81)
        );
        assert_eq!(
            (
                gateway.portal_addr.to_string(),
                gateway.admin_addr.to_string()
            ),
            ("10.0.0.1".into(), "::".into())
        );
        assert_eq!(gateway.admin_allow, [Cidr::parse("fd00::/8").unwrap()]);
        assert_eq!(
            (gateway.currency.as_str(), gateway.language),
            ("TZS", Lang::Sw)
        );
        assert_eq!(gateway.store, PathBuf::from("/overlay/lango.redb"));
        assert_eq!(
            (
                gateway.reconcile_interval_secs,
                gateway.checkpoint_interval_secs
            ),
            (120, 3600)
        );
        assert_eq!(
            (gateway.device.as_str(), gateway.firewall),
            ("br-guest", FirewallKind::None)
        );
        assert_eq!(
            (gateway.portal_addr6, gateway.dns_port),
            (Some("fd00::1".parse().unwrap()), 5300)
        );
        assert_eq!(gateway.leases, PathBuf::from("/var/dhcp.leases"));
        assert_eq!(
            (gateway.utc_offset_secs, gateway.api_token_file.as_path()),
            (-5400, std::path::Path::new("/tmp/lango.token"))
        );
        assert_eq!(
            gateway.dnsmasq_confdir,
            Some(PathBuf::from("/tmp/dnsmasq.guest.d"))
        );
        let brand = Brand {
            name: "Mama Wanjiku Cafe".into(),
            logo: Some("/www/logo.png".into()),
            colour: "#A1b2C3".into(),
            phone: Some("0712 345 678".into()),
            email: None,
        };
        assert_eq!(config.brand, brand);
        let package = Package {
            id: "late_night_".into(),
            name: "Late Night!".into(),
            price: Money(4950),
            duration_secs: 8 * 3600,
            quota_bytes: Some(1_500_000_000),
            rate_down_kbit: Some(1500),
            rate_up_kbit: Some(512),
            active: false,
            order: -1,
        };
        assert_eq!(config.packages, [package]);
        assert_eq!(config.active_packages().count(), 0);
        let mpesa = Mpesa {
            environment: MpesaEnvironment::Production,
            consumer_key: "key".into(),
            consumer_secret: "secret".into(),
            kind: MpesaKind::Till,
            shortcode: "12345".into(),
            till: Some("7654321".into()),
            passkey: "pass".into(),
            account_reference: "Cafe WiFi 12".into(),
            callback_url: Some("https://wifi.example.com:8443/lango".into()),
            ca_bundle: Some("/etc/ssl/cert.pem".into()),
            simulator_url: None,
        };
        assert_eq!(config.mpesa, Some(mpesa));
    }

    #[test]
    fn packages_sorted_by_order_then_file_order() {
        let text = "config package 'c'\n option name C\n option price 1\n option duration 1h\n option order 2\n\
            config package\n option name 'B b'\n option price 1\n option duration 1h\n option order 1\n\
            config package 'a'\n option name A\n option price 1\n option duration 1h\n\
            config package 'd'\n option name D\n option price 1\n option duration 1h\n option order 1\n";
        let config = valid(text);
        let ids: Vec<&str> = config.packages.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["a", "b_b", "d", "c"]);
    }

    #[test]
    fn sections_and_options() {
        check_problems(
            "config pakage 'x'\nconfig gatway\nconfig hotspot\n",
            &[
                "1: unknown section type 'pakage' (expected gateway, brand, package or mpesa; did you mean 'package'?)",
                "2: unknown section type 'gatway' (expected gateway, brand, package or mpesa; did you mean 'gateway'?)",
                "3: unknown section type 'hotspot' (expected gateway, brand, package or mpesa)",
            ],
        );
        check_problems(
            "config package 'hour'\n option name H\n option prise 20\n option price 20\n option duration 1h\n\
             config brand\n option color '#000000'\n option motto 'Fast'\n",
            &[
                "3: unknown option 'prise' in package 'hour' (did you mean 'price'?)",
                "7: unknown option 'color' in this brand (did you mean 'colour'?)",
                "8: unknown option 'motto' in this brand (expected one of: name, logo, colour, phone, email)",
            ],
        );
        check_problems(
            "config gateway\nconfig brand\nconfig gateway two\nconfig brand b\nconfig mpesa\nconfig mpesa m2\n",
            &[
                "3: more than one gateway section (the first is on line 1)",
                "4: more than one brand section (the first is on line 2)",
                "5: this mpesa is missing option 'environment'",
                "5: this mpesa is missing option 'consumer_key'",
                "5: this mpesa is missing option 'consumer_secret'",
                "5: this mpesa is missing option 'shortcode'",
                "5: this mpesa is missing option 'passkey'",
                "6: more than one mpesa section (the first is on line 5)",
            ],
        );
        // A repeated named section is one section, as in libuci.
        check_problems(
            "config gateway main\nconfig gateway main\n option enabled 1\n",
            &[],
        );
    }

    #[test]
    fn option_and_list_mix_ups() {
        check_problems(
            "config gateway\n option admin_allow 10.0.0.0/8\n list currency KES\n list language en\n list language sw\n",
            &[
                "2: 'admin_allow' is a list: write list admin_allow '...' for each value",
                "3: 'currency' takes one value: write option, not list",
                "4: 'language' takes one value: write option, not list",
                "5: 'language' takes one value: write option, not list",
            ],
        );
        check_problems(
            "config gateway\n option interface lan\n option interface wan\n",
            &["3: option 'interface' is already set on line 2"],
        );
        check_problems(
            "config brand\n option name 'Cafe\n option colour '#000000'\n",
            &["2: the value of 'name' runs over several lines; is a quote missing?"],
        );
    }

    #[test]
    fn bad_gateway_and_brand_values() {
        check_problems(
            "config gateway\n\
             \toption enabled maybe\n\
             \toption enabled True\n\
             \toption interface 'lan 2'\n\
             \toption portal_addr 192.168.1.300\n\
             \toption portal_port 0\n\
             \toption admin_port 70000\n\
             \tlist admin_allow 10.0.0.0/33\n\
             \tlist admin_allow ''\n\
             \toption currency kes\n\
             \toption language fr\n\
             \toption store lango.redb\n\
             \toption reconcile_interval 0s\n\
             config brand\n\
             \toption colour green\n\
             \toption logo logo.png\n",
            &[
                "3: option 'enabled' is already set on line 2",
                "3: 'True' is not a yes/no value (write 1 or 0)",
                "4: 'lan 2' is not an OpenWrt network name (like lan)",
                "5: '192.168.1.300' is not an IP address (like 192.168.1.1)",
                "6: '0' is not a port number (1 to 65535)",
                "7: '70000' is not a port number (1 to 65535)",
                "8: '10.0.0.0/33' is not an address or network (like 192.168.1.0/24)",
                "10: 'kes' is not a currency code (like KES)",
                "11: 'fr' is not a language lango speaks (en or sw)",
                "12: 'lango.redb' is not a full path (starting with /)",
                "13: '0s' is not a time (write it like 60s or 5m)",
                "15: 'green' is not a colour (write it like #0b6e4f)",
                "16: 'logo.png' is not a full path (starting with /)",
            ],
        );
        check_problems(
            "config gateway\n option admin_addr 0.0.0.0\n option admin_port 8080\n",
            &["3: admin_port is the same as portal_port; the owner page needs its own port"],
        );
    }

    #[test]
    fn bad_packages() {
        check_problems(
            "config package 'hour'\n\
             \toption name '1 Hour'\n\
             \toption price fifty\n\
             \toption duration 60\n\
             \toption data 1XB\n\
             \toption rate_down 5\n\
             \toption rate_up 0k\n\
             \toption active sometimes\n\
             \toption order first\n\
             config package\n\
             \toption price 0\n\
             \toption name ''\n",
            &[
                "3: 'fifty' is not a price (write it like 50 or 49.50)",
                "4: '60' is not a duration (write it like 30m, 1h, 1d or 7d)",
                "5: '1XB' is not a data amount (write it like 500MB or 1GB)",
                "6: '5' is not a speed (write it like 5M for 5 Mbit/s or 512k)",
                "7: '0k' is zero; leave the option out for no limit",
                "8: 'sometimes' is not a yes/no value (write 1 or 0)",
                "9: 'first' is not a whole number",
                "10: this package is missing option 'name'",
                "10: this package is missing option 'duration'",
                "11: price must be more than 0",
            ],
        );
    }

    #[test]
    fn duplicate_package_names_and_ids() {
        let package = |head: &str, name: &str| {
            format!("{head}\n option name '{name}'\n option price 10\n option duration 1h\n")
        };
        let text = [
            package("config package 'hour'", "1 Hour"),
            package("config package", "1 HOUR"),
            package("config package", "Day Pass"),
            package("config package 'day_pass'", "Day pass (new)"),
            package("config package", "Day-Pass"),
        ]
        .concat();
        check_problems(
            &text,
            &[
                "6: package name '1 HOUR' is already used on line 2",
                "13: package id 'day_pass' is already used on line 9",
                "17: package id 'day_pass' (made from its name) is already used on line 9",
            ],
        );
    }

    #[test]
    fn bad_callback_url_and_ca_bundle() {
        let base = "config mpesa\n option environment sandbox\n option consumer_key k\n \
                    option consumer_secret s\n option passkey p\n option shortcode 174379\n";
        for bad in [
            "wifi.example.com",
            "ftp://x",
            "https://x/?a=1",
            "https://x/#f",
            "https://",
        ] {
            let first = format!(
                "7: '{bad}' is not a web address like https://wifi.example.com (no ? or #)"
            );
            check_problems(
                &format!("{base} option callback_url '{bad}'\n option ca_bundle certs.pem\n"),
                &[
                    first.as_str(),
                    "8: 'certs.pem' is not a full path (starting with /)",
                ],
            );
        }
        let ok = valid(&format!(
            "{base} option callback_url http://198.51.100.7:8080\n"
        ));
        let url = ok.mpesa.and_then(|m| m.callback_url);
        assert_eq!(url.as_deref(), Some("http://198.51.100.7:8080"));
    }

    #[test]
    fn simulator_url_only_with_the_simulator() {
        let base = "config mpesa\n option consumer_key k\n option consumer_secret s\n \
                    option passkey p\n option shortcode 174379\n";
        let ok = valid(&format!(
            "{base} option environment simulator\n option simulator_url http://127.0.0.1:8088/\n"
        ));
        let url = ok.mpesa.and_then(|m| m.simulator_url);
        assert_eq!(url.as_deref(), Some("http://127.0.0.1:8088"));
        check_problems(
            &format!("{base} option environment sandbox\n option simulator_url http://h:1\n"),
            &["7: simulator_url is only used when environment is 'simulator'"],
        );
        check_problems(
            &format!("{base} option environment simulator\n option simulator_url http://h:1/x\n"),
            &["7: 'http://h:1/x' is not a simulator address like http://127.0.0.1:8088"],
        );
    }

    #[test]
    fn bad_mpesa() {
        let base = "config mpesa\n option environment sandbox\n option consumer_key k\n \
                    option consumer_secret s\n option passkey p\n";
        check_problems(
            &format!(
                "{base} option shortcode 1234\n option account_reference 'Lango Wi-Fi Hotspot'\n"
            ),
            &[
                "6: '1234' is not a number of 5 to 7 digits",
                "7: 'Lango Wi-Fi Hotspot' is longer than 12 characters",
            ],
        );
        check_problems(
            &format!("{base} option shortcode 12345678\n option type till\n"),
            &[
                "1: this mpesa is missing option 'till' (needed when type is till)",
                "6: '12345678' is not a number of 5 to 7 digits",
            ],
        );
        check_problems(
            &format!(
                "{base} option shortcode 123456\n option till 12a45\n option environment live\n"
            ),
            &[
                "7: '12a45' is not a number of 5 to 7 digits",
                "7: till is only used when type is 'till'",
                "8: option 'environment' is already set on line 2",
                "8: 'live' is not sandbox, production or simulator",
            ],
        );
        // With an unreadable type, lango cannot tell whether a till is needed, so it does not say.
        check_problems(
            &format!("{base} option shortcode 123456\n option type buygoods\n"),
            &["7: 'buygoods' is not paybill or till"],
        );
    }

    #[test]
    fn many_mistakes_reported_together_in_line_order() {
        let text = "config gateway main\n\
             \toption portal_port 80a\n\
             \toption langauge en\n\
             config package 'hour'\n\
             \toption name 'Hour'\n\
             \toption price 0\n\
             config pakage day\n\
             \toption name Day\n\
             config brand\n\
             \toption name 'unterminated\n\
             config mpesa\n\
             \toption environment sandbox\n";
        check_problems(
            text,
            &[
                "2: '80a' is not a port number (1 to 65535)",
                "3: unknown option 'langauge' in gateway 'main' (did you mean 'language'?)",
                "4: package 'hour' is missing option 'duration'",
                "6: price must be more than 0",
                "7: unknown section type 'pakage' (expected gateway, brand, package or mpesa; did you mean 'package'?)",
                "10: unterminated quote: the ' on this line is never closed",
                "11: this mpesa is missing option 'consumer_key'",
                "11: this mpesa is missing option 'consumer_secret'",
                "11: this mpesa is missing option 'shortcode'",
                "11: this mpesa is missing option 'passkey'",
            ],
        );
        let Err(diagnostics) = parse(text, "/etc/config/lango") else {
            panic!("should fail")
        };
        assert_eq!(
            diagnostics[0].to_string(),
            "/etc/config/lango:2: '80a' is not a port number (1 to 65535)"
        );
    }

    #[test]
    fn utc_offsets() {
        assert_eq!(parse_utc_offset("+03:00"), Ok(10_800));
        assert_eq!(parse_utc_offset("3"), Ok(10_800));
        assert_eq!(parse_utc_offset("-05:30"), Ok(-19_800));
        assert_eq!(parse_utc_offset("0"), Ok(0));
        for bad in ["", "+", "15", "+3:60", "abc", "+03:00:00", "+1:2:3", "-"] {
            assert!(parse_utc_offset(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        assert_eq!(edit_distance("prise", "price"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("rate_dn", "rate_down"), 2);
        assert_eq!(suggest("rate_dn", PACKAGE), Some("rate_down"));
        assert_eq!(suggest("ordr", PACKAGE), Some("order"));
        assert_eq!(suggest("ip", GATEWAY), None);
        assert_eq!(suggest("speed", PACKAGE), None);
    }

    /// Truncated files and random junk must give diagnostics, never a panic, and every
    /// diagnostic must point at a line that exists.
    #[test]
    fn never_panics_on_any_input() {
        let check = |text: &str| {
            let n_lines = text.split('\n').count() as u32;
            if let Err(diagnostics) = parse(text, "fuzz") {
                assert!(!diagnostics.is_empty());
                for diagnostic in diagnostics {
                    assert!(
                        (1..=n_lines).contains(&diagnostic.line),
                        "{diagnostic} in {text:?}"
                    );
                }
            }
        };
        for end in 0..=SHIPPED.len() {
            check(SHIPPED.get(..end).unwrap_or_default());
        }
        // Xorshift: deterministic, and biased towards the characters the grammar cares about.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let alphabet = b"config option list package gateway mpesa price name 'a\"\\#;\n\t \r\xff0";
        for _ in 0..3000 {
            let mut bytes = Vec::new();
            for _ in 0..(state % 120) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let byte = if state.is_multiple_of(5) {
                    state as u8
                } else {
                    alphabet[(state >> 8) as usize % alphabet.len()]
                };
                bytes.push(byte);
            }
            check(&String::from_utf8_lossy(&bytes));
        }
    }
}
