//! The Daraja simulator as lango runs it: `lango sim` (the simulator in its own process, so
//! that a prompt outlives a lango that dies while the customer types the PIN), the gateway for
//! `environment 'simulator'` (a `lango sim` at `option simulator_url`, or one started inside
//! lango), and `lango selftest-tls`. Without the `simulator` feature (router builds) only a
//! `simulator_url` works, and `selftest-tls` talks to a minimal Daraja-shaped TLS peer.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;

use crate::adapters::daraja::Daraja;
use crate::adapters::https;
#[cfg(feature = "simulator")]
use crate::adapters::simulator::{SimServer, Simulator};
use crate::core::config::{self, Mpesa};
use crate::core::payments::PaymentGateway;
use crate::core::time::{Clock, SystemClock};
use crate::daemon::{DEMO_CONFIG, EXIT_OK, EXIT_RUNTIME};

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

/// `lango selftest-tls --cert F --key F --ca F`: proves rustls and ring work on this CPU. Serves
/// Daraja on 127.0.0.1 over HTTPS with the given certificate (the simulator, or without the
/// `simulator` feature a peer with fixed answers), then lango's own Daraja client (trusting
/// only `ca`) fetches a token and sends an STK push through it.
pub fn selftest_tls(cert: &Path, key: &Path, ca: &Path) -> i32 {
    let run = || -> Result<String, String> {
        let server_config = crate::web::tls::server_config(cert, key)?;
        let ca_pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
        let roots = https::tls_config_from_pem(&ca_pem)?;
        let config =
            config::parse(DEMO_CONFIG, "<demo config>").map_err(|_| "demo config".to_string())?;
        let account = config
            .mpesa
            .clone()
            .ok_or("demo config has no M-Pesa account")?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let (url, _server) = tls_peer(&account, listener, server_config, clock.clone())?;
        let http = https::Client::new(Some(roots), std::time::Duration::from_secs(30));
        let daraja = Daraja::new(account, &url, http, clock);
        let push = crate::core::payments::StkPush {
            phone: crate::core::model::Phone::parse("0712345678")?,
            amount_major: 1,
            account_reference: "selftest".into(),
            description: "selftest".into(),
            callback_url: "https://lango.invalid/selftest".into(),
        };
        let accepted = daraja.stk_push(&push).map_err(|e| e.to_string())?;
        Ok(format!(
            "TLS to the Daraja {} at {url}: token and STK push ok ({})",
            if cfg!(feature = "simulator") {
                "simulator"
            } else {
                "test peer"
            },
            accepted.checkout_id
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

/// The simulator over TLS; returns its URL and the handle that keeps it serving.
#[cfg(feature = "simulator")]
fn tls_peer(
    account: &Mpesa,
    listener: TcpListener,
    server_config: Arc<rustls::ServerConfig>,
    clock: Arc<dyn Clock>,
) -> Result<(String, SimServer), String> {
    use crate::adapters::simulator::{self, Conn, Wrap};
    let settings = simulator::settings_for(account, 1);
    let sim = Arc::new(Simulator::with_settings(clock, settings));
    let wrap: Wrap = Arc::new(move |tcp| {
        let conn =
            rustls::ServerConnection::new(server_config.clone()).map_err(std::io::Error::other)?;
        Ok(Box::new(rustls::StreamOwned::new(conn, tcp)) as Box<dyn Conn>)
    });
    let callbacks = https::Client::new(None, std::time::Duration::from_secs(5));
    let server = simulator::serve(sim, listener, wrap, callbacks).map_err(|e| e.to_string())?;
    Ok((server.url(true), server))
}

/// Without the simulator: a TLS peer that answers the token request and one STK push with
/// Daraja's documented shapes (docs/daraja.md: Access token, Answers and errors), then stops. It checks nothing: the point is
/// the handshake and lango's client on this CPU.
#[cfg(not(feature = "simulator"))]
fn tls_peer(
    _account: &Mpesa,
    listener: TcpListener,
    server_config: Arc<rustls::ServerConfig>,
    _clock: Arc<dyn Clock>,
) -> Result<(String, ()), String> {
    use crate::core::daraja::{OAUTH_PATH, PUSH_PATH};
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let answer = |path: &str| -> (u16, &'static str) {
        if path == OAUTH_PATH {
            (200, r#"{"access_token":"selftest","expires_in":"3599"}"#)
        } else if path == PUSH_PATH {
            (
                200,
                r#"{"MerchantRequestID":"selftest-1","CheckoutRequestID":"ws_CO_selftest","ResponseCode":"0","ResponseDescription":"Success. Request accepted for processing","CustomerMessage":"Success. Request accepted for processing"}"#,
            )
        } else {
            (
                404,
                r#"{"errorCode":"404.001.01","errorMessage":"Resource not found"}"#,
            )
        }
    };
    std::thread::Builder::new()
        .name("selftest-peer".into())
        .spawn(move || {
            // The token, then the push.
            for _ in 0..2 {
                let Ok((tcp, _)) = listener.accept() else {
                    return;
                };
                let served = rustls::ServerConnection::new(server_config.clone())
                    .map_err(std::io::Error::other)
                    .and_then(|conn| {
                        let mut tls = rustls::StreamOwned::new(conn, tcp);
                        let request =
                            https::read_message(&mut tls, https::Body::Empty, https::MAX_BODY)?;
                        let path = request.start_line.split(' ').nth(1).unwrap_or("");
                        let (status, body) = answer(path);
                        https::write_response(&mut tls, status, "application/json", body.as_bytes())
                    });
                if let Err(e) = served {
                    log::warn!("selftest peer: {e}");
                }
            }
        })
        .map_err(|e| e.to_string())?;
    Ok((format!("https://{addr}"), ()))
}
