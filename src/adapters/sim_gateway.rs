//! The payment gateway for `environment 'simulator'`: lango's own Daraja client pointed at a
//! `lango sim` in another process (`option simulator_url`), or at a simulator started inside
//! lango (builds with the `simulator` feature: the demo and the tests).

use std::sync::Arc;

use crate::adapters::daraja::{Daraja, CALL_TIMEOUT};
use crate::adapters::https;
use crate::adapters::simulator::{SimServer, Simulator};
use crate::core::config::Mpesa;
use crate::core::http::Url;
use crate::core::payments::{NoGateway, PaymentGateway};
use crate::core::time::Clock;

/// What `gateway` hands back: the gateway, the in-process simulator (the owner page's switch)
/// and the server that must live as long as the gateway.
pub(crate) type SimGateway = (
    Arc<dyn PaymentGateway>,
    Option<Arc<Simulator>>,
    Option<SimServer>,
);

/// The gateway for `environment 'simulator'`: the real Daraja client pointed at
/// `simulator_url`, or at a simulator started inside lango when there is none.
pub(crate) fn gateway(account: &Mpesa, clock: Arc<dyn Clock>) -> SimGateway {
    let none = |reason: String| -> SimGateway { (Arc::new(NoGateway { reason }), None, None) };
    if let Some(url) = &account.simulator_url {
        return match external(account, url, clock) {
            Ok(daraja) => (Arc::new(daraja), None, None),
            Err(reason) => {
                log::error!("M-Pesa: {reason}");
                none(reason)
            }
        };
    }
    #[cfg(feature = "simulator")]
    {
        // LANGO_SIMULATOR_APPROVE_SECS: how long the simulated customer takes (tests, demos).
        let approve_secs = std::env::var("LANGO_SIMULATOR_APPROVE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(8);
        match local_simulator(account, clock, approve_secs) {
            Ok(local) => (local.gateway, Some(local.sim), Some(local.server)),
            Err(reason) => none(reason),
        }
    }
    #[cfg(not(feature = "simulator"))]
    {
        let _ = clock;
        let reason = "this lango is built without the Daraja simulator: set option \
                      simulator_url to a `lango sim`, or environment to sandbox or production"
            .to_string();
        log::error!("M-Pesa: {reason}");
        none(reason)
    }
}

/// The Daraja client for a simulator in another process. https trusts `ca_bundle`.
fn external(account: &Mpesa, url: &str, clock: Arc<dyn Clock>) -> Result<Daraja, String> {
    let parsed = Url::parse(url)?;
    let tls = if parsed.tls {
        let bundle = account
            .ca_bundle
            .clone()
            .unwrap_or_else(|| https::DEFAULT_CA_BUNDLE.into());
        Some(https::load_ca_bundle(&bundle)?)
    } else {
        None
    };
    log::info!("M-Pesa: the Daraja simulator at {url}");
    let http = https::Client::new(tls, CALL_TIMEOUT);
    Ok(Daraja::new(account.clone(), url, http, clock))
}

/// A simulated Daraja and the real client pointed at it (none exists without the feature).
pub(crate) struct LocalSimulator {
    pub gateway: Arc<dyn PaymentGateway>,
    pub sim: Arc<Simulator>,
    /// Serves while it lives.
    pub server: SimServer,
}

/// A simulated Daraja on 127.0.0.1 over plain HTTP (so that no certificate has to be made at
/// run time in the release binary), and the real Daraja client pointed at it.
#[cfg(feature = "simulator")]
pub(crate) fn local_simulator(
    account: &Mpesa,
    clock: Arc<dyn Clock>,
    approve_after_secs: i64,
) -> Result<LocalSimulator, String> {
    use crate::adapters::simulator;
    let settings = simulator::settings_for(account, approve_after_secs);
    let sim = Arc::new(Simulator::with_settings(clock.clone(), settings));
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("cannot start the Daraja simulator: {e}"))?;
    let callbacks = https::Client::new(None, std::time::Duration::from_secs(10));
    let server = simulator::serve(sim.clone(), listener, simulator::plain(), callbacks)
        .map_err(|e| format!("cannot start the Daraja simulator: {e}"))?;
    let http = https::Client::new(None, CALL_TIMEOUT);
    let daraja = Daraja::new(account.clone(), &server.url(false), http, clock);
    log::info!("M-Pesa: simulated Daraja at {}", server.url(false));
    Ok(LocalSimulator {
        gateway: Arc::new(daraja),
        sim,
        server,
    })
}

#[cfg(not(feature = "simulator"))]
pub(crate) fn local_simulator(
    _account: &Mpesa,
    _clock: Arc<dyn Clock>,
    _approve_after_secs: i64,
) -> Result<LocalSimulator, String> {
    Err("this lango is built without the Daraja simulator (cargo feature 'simulator')".into())
}
