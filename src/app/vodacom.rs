//! Vodacom M-Pesa Tanzania in the app (docs/vodacom.md): the gateway a config asks for
//! (`gateway_for`: the client at Vodacom's address for the environment, or `base_url`, trusting
//! `ca_bundle`; a `NoGateway` saying why when there is none). Which numbers go to Vodacom is
//! `App::wallet_for` (app/airtel.rs). Vodacom's single-stage push posts no callback: nothing to
//! receive here. Feature `vodacom`.

use std::sync::Arc;

use crate::core::config::Config;
use crate::core::payments::{NoGateway, PaymentGateway};

/// The Vodacom gateway for `config`.
pub(crate) fn gateway_for(
    config: &Config,
    clock: Arc<dyn crate::core::time::Clock>,
) -> Arc<dyn PaymentGateway> {
    let none = |reason: String| -> Arc<dyn PaymentGateway> { Arc::new(NoGateway { reason }) };
    let Some(account) = config.vodacom.as_ref().filter(|v| v.enabled) else {
        return none("Vodacom M-Pesa is not enabled".into());
    };
    let base = account
        .base_url
        .clone()
        .or_else(|| crate::core::vodacom::base_url(account.environment).map(str::to_string));
    let Some(base) = base else {
        return none("environment 'simulator' needs option base_url (a simulator)".into());
    };
    let http = match crate::app::airtel::client_for(&base, account.ca_bundle.clone()) {
        Ok(http) => http,
        Err(reason) => {
            log::error!("Vodacom M-Pesa: {reason}");
            return none(reason);
        }
    };
    let client = crate::adapters::vodacom::VodacomMpesa::new(account.clone(), &base, http, clock);
    Arc::new(client)
}
