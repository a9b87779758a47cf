//! Process wiring: builds the app from a config, a store and an environment, starts the worker
//! and the two listeners, and runs the signal loop (SIGHUP reloads the config, SIGTERM and
//! SIGINT stop cleanly after a final checkpoint). Used by `lango serve`, `lango demo` and the
//! tests, so that all three start lango the same way.

pub mod alerts;
pub mod crash;
mod demo;
pub mod logger;
pub mod sim;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::sys::signal::{SigSet, Signal};

use crate::adapters::neighbours::SystemNeighbours;
use crate::adapters::nft::{NetlinkSocket, NftFirewall};
use crate::adapters::simulator::Simulator;
use crate::adapters::sys::{Runner, SystemRunner};
use crate::app::reconfigure::{gateway_for, reload};
use crate::app::{App, Env};
use crate::core::config::{self, Config, FirewallKind};
use crate::core::firewall::{Firewall, RecordingFirewall};
use crate::core::payments::{PaymentGateway, SwitchGateway};
use crate::core::time::{Clock, SystemClock};
use crate::store::Store;
use crate::web::http;
use crate::web::{admin, portal};

/// Opens the store for a command; a failure is logged with the file's path.
fn open_store(path: &Path) -> Result<Store, i32> {
    Store::open(path).map_err(|e| {
        log::error!("{}: {e}", path.display());
        EXIT_STORE
    })
}

pub use demo::{demo, DemoOptions, DEMO_CONFIG};
pub use sim::selftest_tls;

/// Exit codes, for scripts and procd.
pub(crate) const EXIT_OK: i32 = 0;
pub(crate) const EXIT_RUNTIME: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub(crate) const EXIT_CONFIG: i32 = 3;
pub(crate) const EXIT_STORE: i32 = 4;

/// A started lango.
pub struct Running {
    pub app: Arc<App>,
    pub portal: SocketAddr,
    pub admin: SocketAddr,
    shutdown: smol::channel::Sender<()>,
    worker: std::thread::JoinHandle<()>,
}

impl Running {
    /// Stops the worker after its final checkpoint, then closes the store so that redb marks
    /// the file clean: the next start needs no repair. The listeners die with the process (a
    /// request that arrives meanwhile gets a store error, not a repair at the next start).
    pub fn stop(self) {
        #[cfg(feature = "radius")]
        if let Err(e) = self.app.accounting_off() {
            log::error!("accounting: {e}");
        }
        let _ = self.shutdown.try_send(());
        let _ = self.worker.join();
        self.app.store.close();
    }
}

/// What `start` wires in besides the config, the store and the adapters.
#[derive(Default)]
pub struct Options {
    /// The demo's simulator (the owner page shows its switches).
    pub simulator: Option<Arc<Simulator>>,
    /// The config file (the owner page writes its edits there).
    pub config_path: Option<PathBuf>,
    /// The gateway switch behind `env.gateway`, when the M-Pesa account may change live.
    pub gateway: Option<Arc<SwitchGateway>>,
    /// The dashboard's WAN and Daraja checks.
    pub probes: Option<crate::adapters::health::Probes>,
    /// The owner API's bearer token.
    pub api_token: Option<String>,
}

/// Starts lango: the worker and both listeners.
pub fn start(config: Config, store: Store, env: Env, options: Options) -> Result<Running, String> {
    let portal_addr = SocketAddr::new(config.gateway.portal_addr, config.gateway.portal_port);
    let admin_addr = SocketAddr::new(config.gateway.admin_addr, config.gateway.admin_port);
    let (app, woken) = App::new(config, store, env).map_err(|e| e.to_string())?;
    let app = Arc::new(app);
    // No owner password yet: the first-run form wants the setup code, which only someone on
    // the router can read (syslog, ubus, `lango passwd --code`). Logged until it is used.
    match app.setup_code() {
        Ok(Some(code)) => log::info!(
            "no owner password yet: the owner page's setup code is {code} (also: ubus call \
             lango setup_code)"
        ),
        Ok(None) => {}
        Err(e) => log::error!("setup code: {e}"),
    }
    let (shutdown, stop) = smol::channel::bounded(1);
    let worker =
        crate::app::worker::spawn(app.clone(), woken, stop).map_err(|e| format!("worker: {e}"))?;
    alerts::spawn(&app).map_err(|e| format!("alerts: {e}"))?;
    #[cfg(feature = "radius")]
    {
        if let Err(e) = app.accounting_on() {
            log::error!("accounting: {e}");
        }
        crate::app::accounting::spawn(&app).map_err(|e| format!("accounting: {e}"))?;
        if let Err(e) = crate::app::das::spawn(&app) {
            log::error!("RADIUS DAS: {e}");
        }
    }
    let mut ctx = admin::Ctx::new(app.clone(), options.simulator);
    ctx.config_path = options.config_path;
    ctx.gateway = options.gateway;
    ctx.probes = options.probes;
    ctx.owner.api_token = options.api_token;
    let portal_ctx = Arc::new(portal::Ctx::new(app.clone()));
    let portal = http::serve(portal_addr, {
        let ctx = portal_ctx.clone();
        move |r| crate::web::portal::handle(&ctx, r)
    })?;
    if portal_addr.port() == 0 {
        // Port 0 (tests): the portal must know the port it got, for the URLs it hands out.
        let mut config = (*app.config()).clone();
        config.gateway.portal_port = portal.addr.port();
        app.set_config(config);
    }
    let gw = &app.config().gateway;
    if let Some(v6) = gw.portal_addr6 {
        let addr = SocketAddr::new(v6.into(), portal.addr.port());
        let ctx = portal_ctx.clone();
        http::serve(addr, move |r| crate::web::portal::handle(&ctx, r))?;
    }
    if gw.firewall == FirewallKind::Nft {
        // Devices that have not paid are redirected here for DNS (see dns.rs).
        let portal4 = match gw.portal_addr {
            std::net::IpAddr::V4(v4) => v4,
            _ => std::net::Ipv4Addr::UNSPECIFIED,
        };
        let mut binds = vec![SocketAddr::new(gw.portal_addr, gw.dns_port)];
        if let Some(v6) = gw.portal_addr6 {
            binds.push(SocketAddr::new(v6.into(), gw.dns_port));
        }
        // Walled-garden names are asked of the real resolver (the list is read per query).
        let garden = Arc::new(crate::adapters::dns::Garden {
            config: Arc::new({
                let app = app.clone();
                move || app.config()
            }),
            firewall: app.env.firewall.clone(),
        });
        for bind in binds {
            crate::adapters::dns::serve(bind, portal4, gw.portal_addr6, Some(garden.clone()))
                .map_err(|e| format!("cannot answer DNS on {bind}: {e}"))?;
        }
    }
    #[cfg(feature = "tls-portal")]
    if let (Some(cert), Some(key)) = (&gw.tls_cert, &gw.tls_key) {
        let tls = crate::web::tls::server_config(cert, key)?;
        let mut binds = vec![SocketAddr::new(gw.portal_addr, gw.tls_port)];
        if let Some(v6) = gw.portal_addr6 {
            binds.push(SocketAddr::new(v6.into(), gw.tls_port));
        }
        for bind in binds {
            let ctx = portal_ctx.clone();
            let bound = crate::web::tls::serve(bind, tls.clone(), move |r| {
                crate::web::portal::handle(&ctx, r)
            })?;
            log::info!("serving guests over HTTPS on {bound}");
        }
    }
    let admin = http::serve(admin_addr, move |r| crate::web::admin::handle(&ctx, r))?;
    Ok(Running {
        app,
        portal: portal.addr,
        admin: admin.addr,
        shutdown,
        worker,
    })
}

/// Writes the owner API's token (256 random bits, hex) to `path`, readable by root only.
pub(crate) fn write_api_token(path: &Path) -> Result<String, String> {
    let token = crate::core::token::random_token()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    // 0600 from the moment the temporary file exists, so the token is never readable by others.
    crate::adapters::sys::write_secret(path, format!("{token}\n").as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(token)
}

/// Blocks the signals lango handles in this thread and every thread started after it, so that
/// only `wait_for_signals` receives them (sigwait: no handlers, no unsafe code).
pub(crate) fn block_signals() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set.add(Signal::SIGHUP);
    if let Err(e) = set.thread_block() {
        log::warn!("cannot block signals: {e}");
    }
    set
}

/// Waits for signals until asked to stop. `reload` is called on SIGHUP.
pub(crate) fn wait_for_signals(signals: &SigSet, running: Running, reload: impl Fn(&App)) -> i32 {
    loop {
        match signals.wait() {
            Ok(Signal::SIGHUP) => reload(&running.app),
            Ok(sig) => {
                log::info!("{sig}: stopping");
                running.stop();
                return EXIT_OK;
            }
            Err(e) => {
                log::error!("waiting for signals: {e}");
                running.stop();
                return EXIT_RUNTIME;
            }
        }
    }
}

fn load_config(path: &Path) -> Result<Config, i32> {
    config::load(path).map_err(|e| {
        log::error!("{e}");
        EXIT_CONFIG
    })
}

/// `lango serve --config FILE`: the router's mode.
pub fn serve(config_path: &Path, store_override: Option<PathBuf>) -> i32 {
    let signals = block_signals();
    let config = match load_config(config_path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if !config.gateway.enabled {
        log::info!(
            "{}: gateway disabled (option enabled '0'); nothing to do",
            config_path.display()
        );
        // A table left by an earlier run would keep redirecting guests to a portal that is
        // not there: switching lango off opens the network.
        if config.gateway.firewall == FirewallKind::Nft {
            let gw = &config.gateway;
            let nft = NftFirewall::new(
                Arc::new(SystemRunner),
                Arc::new(NetlinkSocket),
                crate::adapters::nft::options_for(gw),
            );
            match nft.remove() {
                Ok(()) => log::info!("firewall: table inet lango removed"),
                Err(e) => log::warn!("firewall: could not remove table inet lango: {e}"),
            }
        }
        return EXIT_OK;
    }
    let runner: Arc<dyn Runner> = Arc::new(SystemRunner);
    let gw = &config.gateway;
    let firewall: Arc<dyn Firewall> = match gw.firewall {
        FirewallKind::Nft => {
            announce_portal(gw, runner.as_ref());
            let fw4 = std::fs::read_to_string("/etc/config/firewall").unwrap_or_default();
            if crate::adapters::nft::flow_offloading_enabled(&fw4) {
                log::warn!(
                    "firewall: flow offloading is on in /etc/config/firewall; offloaded flows skip \
                     lango's quotas, speed caps and expiry. Turn it off for the guest network."
                );
            }
            Arc::new(NftFirewall::new(
                runner.clone(),
                Arc::new(NetlinkSocket),
                crate::adapters::nft::options_for(gw),
            ))
        }
        FirewallKind::None => {
            log::warn!(
                "firewall: option firewall 'none': guests are not gated, lango only records"
            );
            Arc::new(RecordingFirewall::default())
        }
    };
    let store_path = store_override.unwrap_or_else(|| config.gateway.store.clone());
    // The firewall's skeleton loads while the store reads the paid devices (`prepare`).
    let hint = |devices: usize| firewall.prepare(devices, &config.gateway.allow_macs);
    let store = match Store::open_hinting(&store_path, &hint) {
        Ok(s) => s,
        Err(e) => {
            log::error!("{}: {e}", store_path.display());
            return EXIT_STORE;
        }
    };
    let gw = &config.gateway;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (first, simulator, daraja_simulator) = gateway_for(&config, clock.clone());
    let switch = Arc::new(SwitchGateway::new(first.clone()));
    if let Some(server) = daraja_simulator {
        // The local simulator lives as long as its gateway is the current one.
        switch.set(first, Some(Box::new(server)));
    }
    let gateway: Arc<dyn PaymentGateway> = switch.clone();
    let daraja_url = config
        .mpesa
        .as_ref()
        .and_then(|m| crate::core::daraja::base_url(m.environment))
        .and_then(|u| crate::core::http::Url::parse(u).ok());
    let api_token = match write_api_token(&config.gateway.api_token_file) {
        Ok(t) => Some(t),
        Err(e) => {
            log::warn!("owner API token: {e}; the JSON API answers signed-in browsers only");
            None
        }
    };
    let env = Env {
        clock,
        firewall,
        neighbours: Arc::new(SystemNeighbours {
            arp_path: "/proc/net/arp".into(),
            leases_path: gw.leases.clone(),
            device: gw.device.clone(),
            runner,
        }),
        gateway,
    };
    let options = Options {
        simulator,
        config_path: Some(config_path.to_path_buf()),
        gateway: Some(switch.clone()),
        probes: Some(crate::adapters::health::Probes::for_router(daraja_url)),
        api_token,
    };
    let running = match start(config, store, env, options) {
        Ok(r) => r,
        Err(e) => {
            log::error!("{e}");
            return EXIT_RUNTIME;
        }
    };
    log::info!(
        "serving guests on http://{} and the owner on http://{}",
        running.portal,
        running.admin
    );
    // The ubus object `lango` (LuCI, `ubus call lango ...`). A missing ubusd is not fatal: the
    // server keeps retrying in the background.
    let (events_tx, events_rx) = std::sync::mpsc::sync_channel(256);
    running
        .app
        .set_change_sink(crate::ubus::change_sink(events_tx));
    let handler = crate::ubus::LangoUbus {
        app: running.app.clone(),
        config_path: Some(config_path.to_path_buf()),
        gateway: Some(switch.clone()),
    };
    let _ubus = crate::adapters::ubusd::serve(
        crate::adapters::ubusd::Options::new(crate::adapters::ubusd::DEFAULT_SOCKET),
        Arc::new(handler),
        events_rx,
    )
    .map_err(|e| log::warn!("ubus: {e}"))
    .ok();
    let path = config_path.to_path_buf();
    wait_for_signals(&signals, running, move |app| {
        let _ = reload(app, &path, Some(&switch));
    })
}

/// `lango passwd --code`: prints the owner page's one-time setup code (made if missing), or
/// says that a password is set. Needs lango stopped, like `lango passwd`; while it runs, the
/// code is in syslog and in `ubus call lango setup_code`.
fn setup_code(store_path: &Path) -> i32 {
    let store = match Store::open(store_path) {
        Ok(s) => s,
        Err(crate::store::StoreError::InUse) => {
            eprintln!(
                "lango passwd: lango is running and holds {}. Its setup code is in the log \
                 (logread -e lango) and in: ubus call lango setup_code",
                store_path.display()
            );
            return EXIT_STORE;
        }
        Err(e) => {
            eprintln!("lango passwd: {}: {e}", store_path.display());
            return EXIT_STORE;
        }
    };
    match crate::app::owner::store_setup_code(&store) {
        Ok(Some(code)) => {
            println!("{code}");
            EXIT_OK
        }
        Ok(None) => {
            println!("the owner password is set; no setup code is needed");
            EXIT_OK
        }
        Err(e) => {
            eprintln!("lango passwd: {}: {e}", store_path.display());
            EXIT_STORE
        }
    }
}

/// Writes the dnsmasq snippet that announces the portal API (DHCP option 114).
fn announce_portal(gw: &crate::core::config::Gateway, runner: &dyn Runner) {
    let host = match gw.portal_addr {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    let uri = match (&gw.tls_cert, &gw.portal_host) {
        // RFC 8910 wants an HTTPS URI whose host matches the certificate.
        (Some(_), Some(name)) => format!("https://{name}:{}/api/captive", gw.tls_port),
        _ => format!("http://{host}:{}/api/captive", gw.portal_port),
    };
    match crate::adapters::dnsmasq::find_confdir(gw.dnsmasq_confdir.as_deref()) {
        Some(dir) => {
            match crate::adapters::dnsmasq::ensure(
                &dir,
                &crate::adapters::dnsmasq::render(&gw.interface, &uri),
                runner,
            ) {
                Ok(true) => log::info!(
                    "dnsmasq: announcing {uri} (DHCP option 114) from {}",
                    dir.display()
                ),
                Ok(false) => {}
                Err(e) => log::warn!("dnsmasq: cannot write {}: {e}", dir.display()),
            }
        }
        None => log::warn!(
            "dnsmasq: no conf-dir found; set option dnsmasq_confdir to announce the portal"
        ),
    }
}

/// `lango passwd [--config FILE] [--store FILE]`: sets the owner password from one line on
/// stdin (so it works from scripts and never appears in the process list), with lango stopped
/// (the store is single-process). Prints how long one password check takes on this machine.
pub fn passwd(config_path: &Path, store_override: Option<PathBuf>, show_code: bool) -> i32 {
    let store_path = match store_override {
        Some(p) => p,
        None => match load_config(config_path) {
            Ok(c) => c.gateway.store,
            Err(code) => return code,
        },
    };
    if show_code {
        return setup_code(&store_path);
    }
    let mut line = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut line) {
        eprintln!("lango passwd: cannot read the password from stdin: {e}");
        return EXIT_USAGE;
    }
    let password = line.trim_end_matches(['\n', '\r']);
    if let Some(problem) =
        crate::core::auth::password_problem(password, crate::core::auth::OWNER_MIN_LEN)
    {
        eprintln!("lango passwd: {problem}");
        return EXIT_USAGE;
    }
    let started = std::time::Instant::now();
    let hash = match crate::core::auth::hash_password(password) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("lango passwd: {e}");
            return EXIT_RUNTIME;
        }
    };
    let took = started.elapsed();
    let store = match Store::open(&store_path) {
        Ok(s) => s,
        Err(crate::store::StoreError::InUse) => {
            eprintln!(
                "lango passwd: lango is running and holds {}. Change the password on the owner \
                 page (Settings), or stop lango first: /etc/init.d/lango stop; lango passwd; \
                 /etc/init.d/lango start (paid guests stay online meanwhile).",
                store_path.display()
            );
            return EXIT_STORE;
        }
        Err(e) => {
            eprintln!("lango passwd: {}: {e}", store_path.display());
            return EXIT_STORE;
        }
    };
    let now = SystemClock.now();
    match crate::app::owner::store_owner_password(
        &store,
        &hash,
        now,
        "owner password set with lango passwd",
    ) {
        Ok(()) => {
            println!(
                "owner password saved in {} (PBKDF2-HMAC-SHA256, {} iterations: {} ms per check here)",
                store_path.display(),
                crate::core::auth::ITERATIONS,
                took.as_millis()
            );
            EXIT_OK
        }
        Err(e) => {
            eprintln!("lango passwd: {}: {e}", store_path.display());
            EXIT_STORE
        }
    }
}

/// `lango check-config [FILE]`.
pub fn check_config(path: &Path) -> i32 {
    match config::load(path) {
        Ok(config) => {
            println!(
                "{}: OK ({} packages, {} on sale; M-Pesa {})",
                path.display(),
                config.packages.len(),
                config.active_packages().count(),
                match &config.mpesa {
                    Some(m) =>
                        format!("{} {} {}", m.environment.name(), m.kind.name(), m.shortcode),
                    None => "not configured".into(),
                }
            );
            // libuci takes any bytes in a value; say where lango had to replace some.
            let bytes = std::fs::read(path).unwrap_or_default();
            for line in crate::core::uci::parse_bytes(&bytes).0.not_utf8 {
                eprintln!(
                    "{}:{line}: note: the value is not UTF-8; lango reads it with U+FFFD in \
                     place of the bad bytes",
                    path.display()
                );
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("{e}");
            EXIT_CONFIG
        }
    }
}

/// `lango setup-guest-network [--ssid NAME] [--key PASS] [--undo]`: see
/// `adapters::guest_network`. The
/// script edits `/etc/config` with `uci` (`LANGO_UCI_CONFDIR` in tests); the SSID defaults to
/// the brand name from lango's config there.
pub fn setup_guest_network(args: &[String]) -> i32 {
    use crate::adapters::guest_network;
    use crate::core::guest_network::{parse, ssid_ok};
    let dir = std::env::var_os("LANGO_UCI_CONFDIR").unwrap_or_else(|| "/etc/config".into());
    let brand = config::load(&Path::new(&dir).join("lango")).map(|c| c.brand.name);
    // A brand name too long for an SSID is no reason to refuse: the plain default is used.
    let default = brand.ok().filter(|b| ssid_ok(b));
    let request = match parse(args, default.as_deref().unwrap_or("Guest Wi-Fi")) {
        Ok(request) => request,
        Err(e) => {
            eprintln!("lango: {}", e.message());
            return EXIT_USAGE;
        }
    };
    let script = std::env::var("LANGO_GUEST_NETWORK_SCRIPT")
        .unwrap_or_else(|_| guest_network::SCRIPT.to_string());
    let out = guest_network::run(&SystemRunner, &script, &request, false);
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    out.status
}

/// `lango check-mpesa [--config FILE]`: tests the M-Pesa account, and each other enabled wallet
/// (Airtel Money, Vodacom M-Pesa, ClickPesa), without prompting anyone, and says which part is
/// wrong. Never prints a secret.
pub fn check_mpesa(path: &Path) -> i32 {
    let config = match load_config(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    #[cfg(feature = "airtel")]
    let airtel = config.airtel.as_ref().is_some_and(|a| a.enabled);
    #[cfg(not(feature = "airtel"))]
    let airtel = false;
    #[cfg(feature = "vodacom")]
    let vodacom = config.vodacom.as_ref().is_some_and(|v| v.enabled);
    #[cfg(not(feature = "vodacom"))]
    let vodacom = false;
    #[cfg(feature = "clickpesa")]
    let clickpesa = config.clickpesa.as_ref().is_some_and(|c| c.enabled);
    #[cfg(not(feature = "clickpesa"))]
    let clickpesa = false;
    if config.mpesa.is_none() && !airtel && !vodacom && !clickpesa {
        eprintln!("{}: no mpesa section; nothing to test", path.display());
        return EXIT_CONFIG;
    }
    let mut steps = Vec::new();
    if config.mpesa.is_some() {
        let (gateway, _sim, _server) = gateway_for(&config, Arc::new(SystemClock));
        steps = gateway.check();
    }
    #[cfg(feature = "airtel")]
    if airtel {
        let gateway = crate::app::airtel::gateway_for(&config, Arc::new(SystemClock));
        steps.extend(gateway.check());
    }
    #[cfg(feature = "vodacom")]
    if vodacom {
        let gateway = crate::app::vodacom::gateway_for(&config, Arc::new(SystemClock));
        steps.extend(gateway.check());
    }
    #[cfg(feature = "clickpesa")]
    if clickpesa {
        let gateway = crate::app::clickpesa::gateway_for(&config, Arc::new(SystemClock));
        steps.extend(gateway.check());
    }
    for step in &steps {
        println!(
            "{:7} {}: {}",
            if step.ok { "ok" } else { "PROBLEM" },
            step.what,
            step.detail
        );
    }
    if steps.iter().all(|s| s.ok) {
        EXIT_OK
    } else {
        EXIT_RUNTIME
    }
}
