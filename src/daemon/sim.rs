//! The Daraja simulator as lango runs it: `lango sim` (the simulator in its own process, so
//! that a prompt outlives a lango that dies while the customer types the PIN), the gateway for
//! `environment 'simulator'` (a `lango sim` at `option simulator_url`, or one started inside
//! lango), and `lango selftest-tls` (lango's HTTPS client against a TLS server the caller runs).
//! Without the `simulator` feature (router builds) only a `simulator_url` works.

use std::net::SocketAddr;
#[cfg(feature = "simulator")]
use std::net::TcpListener;
use std::path::Path;
#[cfg(feature = "simulator")]
use std::sync::Arc;

use crate::adapters::https;
#[cfg(feature = "simulator")]
use crate::adapters::simulator::Simulator;
#[cfg(feature = "simulator")]
use crate::core::config;
#[cfg(feature = "simulator")]
use crate::core::time::SystemClock;
#[cfg(feature = "simulator")]
use crate::daemon::DEMO_CONFIG;
use crate::daemon::{EXIT_OK, EXIT_RUNTIME};

// ---- lango sim ----

/// Options of `lango sim`.
#[derive(Debug, PartialEq, Eq)]
pub struct SimOptions {
    pub listen: SocketAddr,
    /// lango's config: the simulator accepts exactly its M-Pesa account. Default: the demo's.
    pub config: Option<std::path::PathBuf>,
    /// Seconds the simulated customer takes to pay; negative: never (resolve it over
    /// `/__sim/resolve`, or it times out).
    pub approve_after_secs: i64,
    /// Where the simulator keeps its prompts, tokens and callbacks across its own restarts.
    pub state: Option<std::path::PathBuf>,
}

/// `lango sim --listen ADDR [--config FILE] [--approve-after SECS] [--state FILE]`.
pub fn parse_args(args: &[String]) -> Result<SimOptions, String> {
    let mut options = SimOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 8088)),
        config: None,
        approve_after_secs: 5,
        state: None,
    };
    let mut rest = args.iter();
    while let Some(name) = rest.next() {
        let value = rest
            .next()
            .ok_or_else(|| format!("sim: {name} takes a value"))?;
        match name.as_str() {
            "--listen" => {
                options.listen = value
                    .parse()
                    .map_err(|_| format!("sim: --listen takes ADDR:PORT, not '{value}'"))?;
            }
            "--config" => options.config = Some(value.into()),
            "--state" => options.state = Some(value.into()),
            "--approve-after" => {
                options.approve_after_secs =
                    value.parse().ok().filter(|s| *s <= 600).ok_or(
                        "sim: --approve-after takes seconds (at most 600; negative: never)",
                    )?;
            }
            other => return Err(format!("sim: unknown argument '{other}'")),
        }
    }
    Ok(options)
}

/// `lango sim`: serves the Daraja simulator over plain HTTP until SIGTERM or SIGINT, and
/// prints its address on stdout once it listens.
#[cfg(feature = "simulator")]
pub fn run(options: &SimOptions) -> i32 {
    use crate::adapters::simulator;
    let signals = crate::daemon::block_signals();
    let account = match &options.config {
        Some(path) => config::load(path)
            .map(|c| c.mpesa)
            .map_err(|e| e.to_string()),
        None => config::parse(DEMO_CONFIG, "<demo config>")
            .map(|c| c.mpesa)
            .map_err(|_| "the demo config".to_string()),
    };
    let account = match account {
        Ok(Some(account)) => account,
        Ok(None) => {
            log::error!("sim: the config has no mpesa section");
            return crate::daemon::EXIT_CONFIG;
        }
        Err(e) => {
            log::error!("{e}");
            return crate::daemon::EXIT_CONFIG;
        }
    };
    let settings = simulator::settings_for(&account, options.approve_after_secs);
    let clock = Arc::new(SystemClock);
    let sim = match &options.state {
        Some(path) => match Simulator::with_state_file(clock, settings, path) {
            Ok(sim) => sim,
            Err(e) => {
                log::error!("sim: {e}");
                return EXIT_RUNTIME;
            }
        },
        None => Simulator::with_settings(clock, settings),
    };
    let sim = Arc::new(sim);
    let listener = match TcpListener::bind(options.listen) {
        Ok(l) => l,
        Err(e) => {
            log::error!("sim: cannot listen on {}: {e}", options.listen);
            return EXIT_RUNTIME;
        }
    };
    // Callbacks go to lango's callback_url, http or https (trusting the system's CA bundle).
    let tls = https::load_ca_bundle(Path::new(https::DEFAULT_CA_BUNDLE)).ok();
    let callbacks = https::Client::new(tls, std::time::Duration::from_secs(10));
    let server = match simulator::serve(sim, listener, simulator::plain(), callbacks) {
        Ok(s) => s,
        Err(e) => {
            log::error!("sim: {e}");
            return EXIT_RUNTIME;
        }
    };
    println!("lango sim: Daraja simulator on {}", server.url(false));
    loop {
        match signals.wait() {
            Ok(nix::sys::signal::Signal::SIGHUP) => {}
            Ok(sig) => {
                log::info!("sim: {sig}: stopping");
                return EXIT_OK;
            }
            Err(e) => {
                log::error!("sim: waiting for signals: {e}");
                return EXIT_RUNTIME;
            }
        }
    }
}

#[cfg(not(feature = "simulator"))]
pub fn run(_options: &SimOptions) -> i32 {
    log::error!(
        "sim: this lango is built without the Daraja simulator (cargo feature 'simulator')"
    );
    crate::daemon::EXIT_USAGE
}

// ---- lango selftest-tls ----

/// `lango selftest-tls --connect HOST:PORT --ca F`: proves rustls and ring work on this CPU.
/// lango's HTTPS client (the one Daraja is reached with), trusting only `ca`, sends one GET to a
/// TLS server the caller runs (`scripts/qemu-smoke` uses `openssl s_server -www`); any HTTP
/// answer after a verified handshake passes.
pub fn selftest_tls(connect: &str, ca: &Path) -> i32 {
    let run = || -> Result<String, String> {
        let ca_pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
        let roots = https::tls_config_from_pem(&ca_pem)?;
        let http = https::Client::new(Some(roots), std::time::Duration::from_secs(30));
        let url = format!("https://{connect}/");
        let answer = http
            .send("GET", &url, &[], b"")
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "TLS to {url}: certificate verified, HTTP {}",
            answer.status
        ))
    };
    match run() {
        Ok(line) => {
            println!("{line}");
            EXIT_OK
        }
        Err(e) => {
            eprintln!("selftest-tls failed: {e}");
            EXIT_RUNTIME
        }
    }
}
