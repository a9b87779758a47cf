//! `lango demo`: lango on 127.0.0.1 with simulated wallets and a recording firewall, from the
//! embedded config (`www/demo.conf`, a shop in Kenya selling through a simulated Daraja) written
//! to a temporary file that the owner page edits. `--country tz` makes it a shop in Tanzania
//! (prices in TZS, M-Pesa Kenya turned off) that sells through Mixx by Yas and HaloPesa, with
//! the ClickPesa simulator served on 127.0.0.1 beside the Daraja one (features `clickpesa` and
//! `simulator`) and its webhooks sent to the portal.

use std::path::Path;
use std::sync::Arc;

use crate::adapters::neighbours::LoopbackNeighbours;
use crate::adapters::sim_gateway::local_simulator;
use crate::app::reconfigure::reload;
use crate::app::Env;
use crate::core::config::{self, Config};
use crate::core::firewall::RecordingFirewall;
use crate::core::time::{Clock, SystemClock};
use crate::core::uci_write::set_section_option;

use super::{
    block_signals, open_store, start, wait_for_signals, Options, EXIT_CONFIG, EXIT_RUNTIME,
};

/// The demo's configuration: two listeners on loopback, the simulator, four packages.
pub const DEMO_CONFIG: &str = include_str!("../../www/demo.conf");

/// Options of `lango demo`.
pub struct DemoOptions {
    pub port: u16,
    pub approve_after_secs: i64,
    /// `--country tz`: a shop in Tanzania selling through Mixx by Yas and HaloPesa (ClickPesa).
    pub tanzania: bool,
}

/// `lango demo`: everything on 127.0.0.1 with simulated wallets and a recording firewall.
pub fn demo(options: DemoOptions) -> i32 {
    let signals = block_signals();
    let dir = std::env::temp_dir().join(format!("lango-demo-{}", std::process::id()));
    // The demo's config is a real file, so that the owner page can edit it and a HUP reloads it.
    let config_path = dir.join("lango.conf");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    #[cfg(all(feature = "clickpesa", feature = "simulator"))]
    let tz = match options.tanzania {
        true => match tz::Sims::start(clock.clone(), options.approve_after_secs) {
            Ok(sims) => Some(sims),
            Err(e) => {
                log::error!("{e}");
                return EXIT_RUNTIME;
            }
        },
        false => None,
    };
    // Nothing of Tanzania in a build without ClickPesa (`Sims` has no value there).
    #[cfg(not(all(feature = "clickpesa", feature = "simulator")))]
    let tz: Option<tz::Sims> = None;
    let config = match demo_config_file(&config_path, &options, tz.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            log::error!("{e}");
            return EXIT_CONFIG;
        }
    };
    let store_path = dir.join("lango.redb");
    let store = match open_store(&store_path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // In Tanzania the Daraja account is off but kept: its simulator still backs the owner
    // page's switches.
    let Some(account) = config.mpesa.as_ref().or(config.mpesa_off.as_ref()).cloned() else {
        log::error!("the demo config has no mpesa section");
        return EXIT_CONFIG;
    };
    let local = match local_simulator(&account, clock.clone(), options.approve_after_secs) {
        Ok(s) => s,
        Err(e) => {
            log::error!("{e}");
            return EXIT_RUNTIME;
        }
    };
    let (gateway, sim, _daraja_simulator) = (local.gateway, local.sim, local.server);
    let env = Env {
        clock,
        firewall: Arc::new(RecordingFirewall::default()),
        neighbours: Arc::new(LoopbackNeighbours),
        gateway,
    };
    let options_start = Options {
        simulator: Some(sim),
        config_path: Some(config_path.clone()),
        ..Options::default()
    };
    let running = match start(config, store, env, options_start) {
        Ok(r) => r,
        Err(e) => {
            log::error!("{e}");
            return EXIT_RUNTIME;
        }
    };
    if let Some(sims) = &tz {
        sims.connect(&running.app, running.portal);
        sims.banner(
            running.portal,
            running.admin,
            &dir,
            options.approve_after_secs,
        );
    } else {
        println!(
            "lango demo is running.\n\n  Guest portal: http://{portal}/\n  Owner page:   http://{admin}/\n\n\
             Simulated here: M-Pesa (lango's Daraja simulator on 127.0.0.1, spoken to by the real\n\
             Daraja client over plain HTTP; the customer approves {secs} s after the prompt and the\n\
             callback comes to the portal; numbers ending in 1032 cancel, 2001 type a wrong PIN, 0001\n\
             lack funds, 1037 never answer), and the firewall (it only logs what it would allow; no\n\
             root needed).\n\
             Your browser is the guest device 02:00:7f:00:00:01. On the owner page, choose a\n\
             password first. State and config: {dir}\n\
             Stop with Ctrl-C.",
            portal = running.portal,
            admin = running.admin,
            secs = options.approve_after_secs,
            dir = dir.display(),
        );
    }
    let code = wait_for_signals(&signals, running, |app| {
        let _ = reload(app, &config_path, None);
    });
    let _ = std::fs::remove_dir_all(&dir);
    code
}

/// Writes the demo's config (the embedded one, with the chosen ports and the simulator's
/// callbacks sent to the portal, like Safaricom would to an owner's public address; in
/// Tanzania, TZS prices, M-Pesa Kenya off and ClickPesa at its simulator) to `path` and returns
/// it parsed.
fn demo_config_file(
    path: &Path,
    options: &DemoOptions,
    tz: Option<&tz::Sims>,
) -> Result<Config, String> {
    let (mut file, _) = crate::core::uci::parse(DEMO_CONFIG);
    let (portal, admin) = (options.port, options.port.saturating_add(1));
    set_section_option(
        &mut file,
        "gateway",
        "portal_port",
        Some(&portal.to_string()),
    );
    set_section_option(&mut file, "gateway", "admin_port", Some(&admin.to_string()));
    let callback = format!("http://127.0.0.1:{portal}");
    set_section_option(&mut file, "mpesa", "callback_url", Some(&callback));
    if let Some(sims) = tz {
        sims.configure(&mut file);
    }
    let text = crate::core::uci_write::render(&file);
    let config = config::parse(&text, &path.display().to_string()).map_err(|d| {
        let lines: Vec<String> = d.iter().map(|d| d.to_string()).collect();
        lines.join("\n")
    })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    crate::adapters::sys::write_atomic(path, text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(config)
}

#[cfg(all(feature = "clickpesa", feature = "simulator"))]
mod tz {
    use std::net::SocketAddr;
    use std::path::Path;
    use std::sync::Arc;

    use crate::adapters::clickpesa_sim::ClickPesaSim;
    use crate::adapters::simulator::{self, SimServer};
    use crate::app::App;
    use crate::core::clickpesa::sim::ClickPesaSimSettings;
    use crate::core::time::Clock;
    use crate::core::uci::UciFile;
    use crate::core::uci_write::{set_package_option, set_section_option};

    /// The Tanzanian shop's prices, in TZS, for the demo's packages.
    const TZS_PRICES: &[(&str, &str)] = &[
        ("min30", "500"),
        ("hour", "1000"),
        ("day", "2500"),
        ("week", "10000"),
    ];

    const CLIENT_ID: &str = "demo-client";
    const API_KEY: &str = "demo-api-key";

    /// The Tanzanian wallets' simulators, served while this lives.
    pub(super) struct Sims {
        clickpesa: Arc<ClickPesaSim>,
        server: SimServer,
    }

    impl Sims {
        pub(super) fn start(clock: Arc<dyn Clock>, answer_secs: i64) -> Result<Sims, String> {
            let settings = ClickPesaSimSettings {
                client_id: CLIENT_ID.into(),
                api_key: API_KEY.into(),
                checksum_key: None,
                token_secs: 3600,
                answer_secs,
                prompt_secs: 60.max(answer_secs + 30),
                callback_url: None,
            };
            let clickpesa = Arc::new(ClickPesaSim::new(clock, settings));
            let fail = |e: std::io::Error| format!("cannot start the ClickPesa simulator: {e}");
            let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(fail)?;
            let callbacks =
                crate::adapters::https::Client::new(None, std::time::Duration::from_secs(10));
            let server =
                simulator::serve(clickpesa.clone(), listener, simulator::plain(), callbacks)
                    .map_err(fail)?;
            log::info!("ClickPesa: simulated at {}", server.url(false));
            Ok(Sims { clickpesa, server })
        }

        /// The shop in Tanzania: TZS and its prices, Kiswahili first, M-Pesa Kenya off, and
        /// `config clickpesa` pointing at the simulator.
        pub(super) fn configure(&self, file: &mut UciFile) {
            set_section_option(file, "gateway", "currency", Some("TZS"));
            set_section_option(file, "gateway", "language", Some("sw"));
            set_section_option(file, "brand", "phone", Some("0754 000 000"));
            for (id, price) in TZS_PRICES {
                set_package_option(file, id, "price", price);
            }
            set_section_option(file, "mpesa", "enabled", Some("0"));
            let url = self.server.url(false);
            for (option, value) in [
                ("enabled", "1"),
                ("client_id", CLIENT_ID),
                ("api_key", API_KEY),
                ("environment", "simulator"),
                ("base_url", url.as_str()),
            ] {
                set_section_option(file, "clickpesa", option, Some(value));
            }
        }

        /// What `lango demo --country tz` prints when it runs.
        pub(super) fn banner(&self, portal: SocketAddr, admin: SocketAddr, dir: &Path, secs: i64) {
            println!(
                "lango demo is running, as a shop in Tanzania.\n\n  Guest portal: \
                 http://{portal}/\n  Owner page:   http://{admin}/\n\nSimulated here: Mixx by \
                 Yas and HaloPesa (lango's ClickPesa simulator on {url}, spoken to\nby the real \
                 ClickPesa client over plain HTTP; the customer approves {secs} s after the\n\
                 prompt and the webhook comes to the portal; try 0654 123 456 (Mixx by Yas) or\n\
                 0621 234 567 (HaloPesa); numbers ending in 0005 cancel, 0006 lack funds, 0009\n\
                 never answer), and the firewall (it only logs what it would allow).\n\
                 Your browser is the guest device 02:00:7f:00:00:01. On the owner page, choose a\n\
                 password first. State and config: {dir}\nStop with Ctrl-C.",
                url = self.server.url(false),
                dir = dir.display(),
            );
        }

        /// The webhooks go to the running portal's callback path, as the owner would set it on
        /// ClickPesa's dashboard.
        pub(super) fn connect(&self, app: &App, portal: SocketAddr) {
            match app.callback_secret() {
                Ok(secret) => {
                    let path = crate::app::mpesa::CALLBACK_PREFIX;
                    let url = format!("http://{portal}{path}{secret}");
                    self.clickpesa.set_callback_url(Some(url));
                }
                Err(e) => log::warn!("ClickPesa simulator: no webhooks ({e})"),
            }
        }
    }
}

/// A build without ClickPesa or the simulators: no Tanzanian demo (`Sims` has no value).
#[cfg(not(all(feature = "clickpesa", feature = "simulator")))]
mod tz {
    use std::net::SocketAddr;
    use std::path::Path;

    use crate::app::App;
    use crate::core::uci::UciFile;

    pub(super) enum Sims {}

    impl Sims {
        pub(super) fn configure(&self, _file: &mut UciFile) {
            match *self {}
        }
        pub(super) fn connect(&self, _app: &App, _portal: SocketAddr) {
            match *self {}
        }
        pub(super) fn banner(&self, _: SocketAddr, _: SocketAddr, _: &Path, _: i64) {
            match *self {}
        }
    }
}
