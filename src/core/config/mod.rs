//! The owner's configuration: `/etc/config/lango` (UCI text) to a validated, typed `Config`.
//! `parse` is pure and reports every problem at once, each with file name and line number;
//! `load` only reads the file. Never shells out to `uci`. Defaults live next to each option's
//! parse arm, not in an `impl Default`.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::core::model::{Lang, Money};
use crate::core::time::Timestamp;
use crate::core::uci;
use crate::core::window::Window;

#[cfg(feature = "radius")]
mod radius;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_airtel;
#[cfg(test)]
mod tests_clickpesa;
#[cfg(test)]
mod tests_kinds;
#[cfg(test)]
mod tests_radius;
#[cfg(test)]
mod tests_vodacom;
mod validate;
mod values;

#[cfg(feature = "radius")]
pub use radius::{RadSecFiles, Radius, RadiusAuth, RADSEC_SECRET};
pub use validate::airtel::{Airtel, Country};
pub use validate::clickpesa::ClickPesa;
pub use validate::vodacom::Vodacom;
use validate::{Check, RawConfig};
pub use values::{package_id, parse_utc_offset};

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
    /// `config mpesa 'mpesa'`, when enabled (`option enabled`, default 1): the Daraja account
    /// guests pay into.
    pub mpesa: Option<Mpesa>,
    /// The same section with `option enabled '0'`: kept for the owner page's form, never sold
    /// through.
    pub mpesa_off: Option<Mpesa>,
    /// `config airtel 'airtel'`: Airtel Money (docs/airtel.md), a second wallet beside M-Pesa.
    pub airtel: Option<Airtel>,
    /// `config vodacom 'vodacom'`: Vodacom M-Pesa Tanzania (docs/vodacom.md).
    pub vodacom: Option<Vodacom>,
    /// `config clickpesa 'clickpesa'`: Mixx by Yas and HaloPesa through ClickPesa
    /// (docs/tz-aggregator.md).
    pub clickpesa: Option<ClickPesa>,
    /// The free trial: a `package` section with `option trial '1'` (at most one). Kept apart
    /// from `packages`, so that it can never be bought, put on a voucher or listed for sale.
    pub trial: Option<Trial>,
    /// `config radius 'radius'` (optional): vouchers and guest accounts checked against a
    /// RADIUS server (`core::config::radius`). Feature `radius` only.
    #[cfg(feature = "radius")]
    pub radius: Option<Radius>,
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
    /// `list guest_net` (default: the portal address's /24, and `portal_addr6`'s /64): the
    /// guests' networks. The owner page refuses them even inside `admin_allow` (`guest_side`).
    pub guest_nets: Vec<Cidr>,
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
    /// `option block_tethering` (default 0): forwarded packets reach guests with TTL / hop
    /// limit 1, so a paid phone cannot share its access through a hotspot of its own.
    pub block_tethering: bool,
    /// `list owner_mac`: the owner's own devices on the guests' network. They reach the router
    /// (SSH, LuCI, the owner page through an SSH tunnel) without paying; the internet still
    /// needs a voucher. A MAC can be copied: keep the router's passwords strong.
    pub owner_macs: Vec<crate::core::model::Mac>,
    /// `list allow_mac`: devices always let through without paying (a POS terminal, a TV, the
    /// owner's phone), each once: the router's DNS and the internet both ways. A MAC can be
    /// copied, like any MAC list.
    pub allow_macs: Vec<crate::core::model::Mac>,
    /// `list walled_garden`: domains (and their subdomains) unpaid guests may reach: lango's
    /// DNS responder asks `garden_dns` for them and opens the addresses of the answer for
    /// their TTL (60 s to 1 h). Lower-cased, each once.
    pub walled_garden: Vec<String>,
    /// `option garden_dns` (default 127.0.0.1:53, dnsmasq): the resolver asked for garden names.
    pub garden_dns: std::net::SocketAddr,
    /// `option ipv6_window` (default 1m): how long after a purchase (or a move) a device may
    /// add IPv6 addresses; a new one later is refused as a clone (`core::ipv6`).
    pub ipv6_window_secs: u64,
    /// `option keep_payments` (default 366d, the most): how long payments stay in the owner's
    /// books (as archived rows after their first days: `store::archive`).
    pub keep_payments_secs: u64,
    /// `option keep_sessions` (default 7d): how long an ended session, a device that only it
    /// remembered, and the owner's events stay in the store. A blocked device is always kept.
    pub keep_sessions_secs: u64,
    /// `option metrics_token` (optional, 16-128 characters): a Prometheus server elsewhere on
    /// the owner's network sends it as `Authorization: Bearer` to scrape `/metrics` on the owner
    /// page's port. Without it only the API token (scripts on the router) and a signed-in owner
    /// reach `/metrics`. Never shown back.
    pub metrics_token: Option<String>,
    /// `option alert_url` (optional): a webhook (ntfy, a Telegram bot's sendMessage, a
    /// Slack-style receiver) that gets one message when a problem starts and one when it ends
    /// (`core::alerts`). Never shown back: it may hold a token.
    pub alert_url: Option<String>,
    /// `option alert_format` (default json): `json` posts `{"text": ...}`, `text` the line.
    pub alert_format: crate::core::alerts::Format,
    /// `option gate_file` (default /usr/share/nftables.d/ruleset-post/lango.nft): where lango
    /// writes the gate table (`table inet lango_gate`) for fw4 to load with its own ruleset, so
    /// that guests stay out while lango is stopped, broken or reloading.
    pub gate_file: PathBuf,
}

impl Gateway {
    /// Whether a client at `ip` is on the guests' side: in a `guest_net`. Loopback never is
    /// (no packet from a guest arrives with a loopback source: the kernel drops it as a
    /// martian). A TCP peer's address is one the guest cannot choose freely: the handshake needs
    /// the router's answer to reach it, so it is routed back toward the guest network.
    pub fn guest_side(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        !ip.is_loopback() && self.guest_nets.iter().any(|net| net.contains(ip))
    }
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
    /// `option terms_url` (optional): an http(s) address of the owner's terms and privacy
    /// notice, linked from every portal page.
    pub terms_url: Option<String>,
}

/// `config package '<id>'`: something a guest can buy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    /// The section name; for an anonymous section, derived from `name` (lower case, `_` for
    /// anything not alphanumeric).
    pub id: String,
    /// `option name` (required, unique).
    pub name: String,
    /// `option name_sw` (optional): the name on the Kiswahili page; `name` when unset.
    pub name_sw: Option<String>,
    /// `option description`, `option description_sw` (optional): a line under the name on the
    /// portal, in English and in Kiswahili (the English one stands in for a missing Kiswahili).
    pub description: Option<String>,
    pub description_sw: Option<String>,
    /// `option price` (required): `50` or `49.50`, in `currency`.
    pub price: Money,
    /// `option duration` (required): `30m`, `1h`, `1d`, `7d`.
    pub duration_secs: u64,
    /// `option data` (optional): `500MB`, `1GB`; none means unlimited.
    pub quota_bytes: Option<u64>,
    /// `option rate_down`, `option rate_up` (optional): `5M`, `512k`; kbit/s.
    pub rate_down_kbit: Option<u32>,
    pub rate_up_kbit: Option<u32>,
    /// `option fair_rate` (optional, needs `data`): `256k`; the speed, in kbit/s, once the data
    /// is used, instead of cutting the device off (fair use).
    pub fair_kbit: Option<u32>,
    /// `option window` (`22:00-06:00`, may cross midnight) and `option days` (`mon-fri`,
    /// `sat,sun`), optional: when the package is on sale and used, in local time; a session
    /// of it ends when the window closes.
    pub window: Option<Window>,
    /// `option devices` (default 1, at most `MAX_DEVICES`): how many devices one purchase or
    /// voucher may be used on; 1 locks it to the first device.
    pub devices: u8,
    /// `option active` (default 1).
    pub active: bool,
    /// `option order` (default 0): lower first.
    pub order: i32,
}

impl Package {
    /// Whether the package may be bought at `now` (its window is open, or it has none).
    pub fn on_sale(&self, now: Timestamp) -> bool {
        self.window.is_none_or(|w| w.open_until(now).is_some())
    }
}

/// `config package` with `option trial '1'`: N free minutes per device per local day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trial {
    /// What a trial grants: `duration` (the N minutes), `data`, `rate_down`, `rate_up`; its
    /// price is always 0 (`option price`, if given, must be 0).
    pub package: Package,
    /// `option trials_per_day` (default 50): trials granted per local day on the whole router,
    /// so that a device changing its identity cannot draw free time without end.
    pub per_day: u32,
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
    /// `option pull` (default 0): the account has Daraja's Pull Transactions API, so a
    /// payment made from the M-Pesa menu and pasted as an SMS is confirmed by lango itself
    /// (docs/daraja.md, Pull Transactions); without it such a payment waits for the owner.
    pub pull: bool,
    /// `option pull_phone` (optional, with `pull`): the owner's M-Pesa number, the
    /// NominatedNumber lango registers the shortcode with once at start. Unset: the owner
    /// registered it some other way.
    pub pull_phone: Option<String>,
    /// `option qr` (default 0, only with `pull`): the portal offers an M-Pesa Dynamic QR code
    /// for the package's price, to pay from another phone; the receipt is confirmed through
    /// Pull Transactions (docs/daraja.md, Dynamic QR).
    pub qr: bool,
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
            .field("pull", &self.pull)
            .field("qr", &self.qr)
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

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
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

    /// Active packages that are on sale at `now` (inside their window, if they have one).
    pub fn on_sale(&self, now: Timestamp) -> impl Iterator<Item = &Package> {
        self.active_packages().filter(move |p| p.on_sale(now))
    }

    /// Whether a package has a window: then what is on sale changes with the time of day.
    pub fn has_windows(&self) -> bool {
        self.packages.iter().any(|p| p.window.is_some())
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

/// The id of every anonymous package section, by its index in `file.sections`: the id made
/// from its name (`package_id`), with `_2`, `_3`... added when a named section of any type
/// (section names share one namespace in a UCI file: an unnamed package "Main" must not become
/// the gateway's `main`) or an earlier anonymous package already has it. Both the validation
/// and the owner page, which writes these ids into the file (`uci_write::name_packages`), use
/// this, so they always agree and the owner page never writes two sections with one name.
pub(crate) fn anonymous_package_ids(file: &uci::UciFile) -> Vec<(usize, String)> {
    let taken: Vec<&str> = file
        .sections
        .iter()
        .filter_map(|s| s.name.as_deref())
        .collect();
    let mut ids = Vec::new();
    for (idx, section) in file.sections.iter().enumerate() {
        if section.kind != "package" || section.name.is_some() {
            continue;
        }
        let name = section.options.iter().find(|o| o.name == "name");
        let Some(name) = name
            .and_then(|o| o.values.last())
            .filter(|v| !v.text.is_empty())
        else {
            continue;
        };
        let base = package_id(&name.text);
        let mut id = base.clone();
        let mut n = 2;
        while taken.iter().any(|t| *t == id) || ids.iter().any(|(_, i): &(usize, String)| *i == id)
        {
            id = format!("{base}_{n}");
            n += 1;
        }
        ids.push((idx, id));
    }
    ids
}

/// Reads and parses a config file.
pub fn load(path: &Path) -> Result<Config, LoadError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|error| LoadError::Io {
        file: file.clone(),
        error,
    })?;
    parse_bytes(&bytes, &file).map_err(LoadError::Invalid)
}

/// Parses UCI text into a validated config, or returns every problem found, in line order.
pub fn parse(text: &str, file: &str) -> Result<Config, Vec<Diagnostic>> {
    parse_bytes(text.as_bytes(), file)
}

/// `parse` for the bytes of a file, which libuci takes as they are: a value that is not UTF-8
/// is read with U+FFFD in place of the bad bytes (`uci::parse_bytes`).
pub fn parse_bytes(bytes: &[u8], file: &str) -> Result<Config, Vec<Diagnostic>> {
    let (uci_file, syntax_errors) = uci::parse_bytes(bytes);
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
