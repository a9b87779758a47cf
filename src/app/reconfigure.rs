//! Changing a running lango: applying a new config live (SIGHUP, ubus `reload`, the owner
//! page), editing the config file (`edit_file`: the owner page's `edit_config` and ubus
//! `allow`/`disallow`), and building the payment gateway a config asks for (Daraja, or the
//! simulator).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::adapters::sim_gateway::SimGateway;
use crate::app::App;
use crate::core::config::{self, Config};
use crate::core::payments::{NoGateway, SwitchGateway};
use crate::core::time::Clock;
use crate::core::uci::UciFile;

/// Gateway options that need a restart: the listeners, the firewall and the files are set up
/// once at start.
fn keep_restart_only(running: &Config, new: &mut Config) -> Vec<&'static str> {
    let (old, gw) = (&running.gateway, &mut new.gateway);
    let mut changed = Vec::new();
    macro_rules! keep {
        ($($field:ident => $name:literal),*) => {$(
            if gw.$field != old.$field {
                changed.push($name);
                gw.$field = old.$field.clone();
            }
        )*};
    }
    keep!(
        enabled => "enabled", interface => "interface", portal_addr => "portal_addr",
        portal_port => "portal_port", portal_addr6 => "portal_addr6", admin_addr => "admin_addr",
        admin_port => "admin_port", dns_port => "dns_port", device => "device",
        firewall => "firewall", store => "store", leases => "leases",
        dnsmasq_confdir => "dnsmasq_confdir", api_token_file => "api_token_file"
    );
    changed
}

/// Applies a validated config to the running lango (SIGHUP, ubus `reload`, the owner page):
/// everything that can change live does (packages, prices, brand, `admin_allow`, language,
/// intervals; the M-Pesa account when `gateway` can be switched); options that need a restart
/// keep their running values and are named in the returned notes. Paid guests are untouched:
/// sessions keep the terms they were bought with and the firewall is reconciled.
pub(crate) fn apply_config(
    app: &App,
    gateway: Option<&SwitchGateway>,
    mut new: Config,
) -> Vec<String> {
    let running = app.config();
    let mut notes = Vec::new();
    let restart = keep_restart_only(&running, &mut new);
    if !restart.is_empty() {
        let text = format!(
            "{} take effect when lango restarts (/etc/init.d/lango restart).",
            restart.join(", ")
        );
        log::warn!("{text}");
        notes.push(text);
    }
    // The Daraja client keeps its account; the callback address and the account reference are
    // read per push and change at once.
    let account = |m: &Option<crate::core::config::Mpesa>| {
        m.clone().map(|mut m| {
            m.callback_url = None;
            m.account_reference.clear();
            m
        })
    };
    if account(&running.mpesa) != account(&new.mpesa) {
        match gateway {
            Some(switch) => {
                let (next, _sim, server) = gateway_for(&new, app.env.clock.clone());
                let keep = server.map(|s| Box::new(s) as Box<dyn std::any::Any + Send + Sync>);
                switch.set(next, keep);
                log::info!("M-Pesa: now using the new account settings");
            }
            None => {
                let text = "The M-Pesa account takes effect when lango restarts                             (/etc/init.d/lango restart)."
                    .to_string();
                log::warn!("{text}");
                notes.push(text);
            }
        }
    }
    #[cfg(feature = "airtel")]
    if running.airtel != new.airtel {
        let next = crate::app::airtel::gateway_for(&new, app.env.clock.clone());
        app.airtel.set(next, None);
        log::info!("Airtel Money: now using the new account settings");
    }
    #[cfg(feature = "vodacom")]
    if running.vodacom != new.vodacom {
        let next = crate::app::vodacom::gateway_for(&new, app.env.clock.clone());
        app.vodacom.set(next, None);
        log::info!("Vodacom M-Pesa: now using the new account settings");
    }
    #[cfg(feature = "clickpesa")]
    if running.clickpesa != new.clickpesa {
        let next = crate::app::clickpesa::gateway_for(&new, app.env.clock.clone());
        app.clickpesa.set(next, None);
        log::info!("ClickPesa: now using the new application settings");
    }
    app.set_config(new);
    notes
}

/// Edits the config file at `path` with `edit`, checks the result (`config::parse`, then
/// `check`), writes it atomically and applies it live; `what` names the change in the log and
/// the owner's events. `Err` is a message for the owner, and nothing was written.
pub(crate) fn edit_file(
    app: &App,
    gateway: Option<&SwitchGateway>,
    path: &Path,
    what: &str,
    edit: &mut dyn FnMut(&mut UciFile) -> Result<(), String>,
    check: &dyn Fn(&Config) -> Result<(), String>,
) -> Result<Vec<String>, String> {
    // Bytes, as libuci reads them: a hand-edited byte that is not UTF-8 must not lock the
    // config (the value is read with U+FFFD in its place, and written back so).
    let bytes = std::fs::read(path).map_err(|e| format!("Cannot read {}: {e}", path.display()))?;
    let (mut file, errors) = crate::core::uci::parse_bytes(&bytes);
    if let Some(error) = errors.first() {
        return Err(format!(
            "{} has a mistake on line {} ({}); fix it first (lango check-config).",
            path.display(),
            error.line,
            error.message
        ));
    }
    crate::core::uci_write::name_packages(&mut file);
    edit(&mut file)?;
    if let Some((kind, option)) = crate::core::uci_write::control_character(&file) {
        return Err(format!(
            "Not saved: the {kind} {option} has a control character (a line break, NUL or \
             similar), which /etc/config/lango cannot hold."
        ));
    }
    let rendered = crate::core::uci_write::render(&file);
    let config = config::parse(&rendered, &path.display().to_string()).map_err(|d| {
        let messages: Vec<String> = d.iter().map(|d| d.message.clone()).collect();
        messages.join("; ")
    })?;
    check(&config)?;
    crate::adapters::sys::write_atomic(path, rendered.as_bytes())
        .map_err(|e| format!("Cannot write {}: {e}", path.display()))?;
    log::info!("{}: {what}", path.display());
    app.owner_event("config_changed", what.to_string());
    Ok(apply_config(app, gateway, config))
}

/// Reads the config file again and applies it; a bad file keeps the running config and every
/// problem is logged. For SIGHUP (procd's reload after `uci commit; reload_config`).
pub fn reload(app: &App, path: &Path, gateway: Option<&SwitchGateway>) -> Result<(), String> {
    let result = match config::load(path) {
        Ok(new) => {
            apply_config(app, gateway, new);
            log::info!("{}: reloaded", path.display());
            Ok(())
        }
        Err(e) => {
            log::error!("reload refused, keeping the running config:\n{e}");
            Err(e.to_string())
        }
    };
    // A HUP also comes from the fw4 hook after a firewall restart: rebuild the table now.
    app.reconcile_now();
    result
}

/// The payment gateway a config asks for. Sandbox and production get the Daraja client with
/// the router's CA bundle; `simulator` gets the same client talking to a simulated Daraja
/// (`adapters::sim_gateway`), with the server handle that keeps it running.
pub(crate) fn gateway_for(config: &Config, clock: Arc<dyn Clock>) -> SimGateway {
    let Some(account) = config.mpesa.as_ref() else {
        let none = NoGateway {
            reason: "M-Pesa is not configured".into(),
        };
        return (Arc::new(none), None, None);
    };
    let Some(base_url) = crate::core::daraja::base_url(account.environment) else {
        return crate::adapters::sim_gateway::gateway(account, clock);
    };
    let bundle = account
        .ca_bundle
        .clone()
        .unwrap_or_else(|| PathBuf::from(crate::adapters::https::DEFAULT_CA_BUNDLE));
    match crate::adapters::https::load_ca_bundle(&bundle) {
        Ok(tls) => {
            let http = crate::adapters::https::Client::new(
                Some(tls),
                crate::adapters::daraja::CALL_TIMEOUT,
            );
            let daraja =
                crate::adapters::daraja::Daraja::new(account.clone(), base_url, http, clock);
            (Arc::new(daraja), None, None)
        }
        Err(reason) => {
            log::error!("M-Pesa: {reason}");
            (Arc::new(NoGateway { reason }), None, None)
        }
    }
}
