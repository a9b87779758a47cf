//! ClickPesa (Mixx by Yas, HaloPesa) in the app (docs/tz-aggregator.md): the gateway a config
//! asks for (`gateway_for`: the client at ClickPesa's address, or `base_url`, trusting
//! `ca_bundle`; a `NoGateway` saying why when there is none) and ClickPesa's webhook, a hint
//! that makes the query due now (`App::on_clickpesa_callback`), never a grant. Which numbers go
//! to ClickPesa is `App::wallet_for` (app/airtel.rs). Feature `clickpesa`.

use std::sync::Arc;

use crate::app::mpesa::CallbackVerdict;
use crate::app::App;
use crate::core::config::Config;
use crate::core::payments::{CallbackHint, NoGateway, PaymentGateway, PaymentState};
use crate::core::provider::Provider;

/// The ClickPesa gateway for `config`.
pub(crate) fn gateway_for(
    config: &Config,
    clock: Arc<dyn crate::core::time::Clock>,
) -> Arc<dyn PaymentGateway> {
    let none = |reason: String| -> Arc<dyn PaymentGateway> { Arc::new(NoGateway { reason }) };
    let Some(account) = config.clickpesa.as_ref().filter(|c| c.enabled) else {
        return none("ClickPesa is not enabled".into());
    };
    let base = account
        .base_url
        .clone()
        .or_else(|| crate::core::clickpesa::base_url(account.environment).map(str::to_string));
    let Some(base) = base else {
        return none("environment 'simulator' needs option base_url (a simulator)".into());
    };
    let http = match crate::app::airtel::client_for(&base, account.ca_bundle.clone()) {
        Ok(http) => http,
        Err(reason) => {
            log::error!("ClickPesa: {reason}");
            return none(reason);
        }
    };
    let client =
        crate::adapters::clickpesa::ClickPesaClient::new(account.clone(), &base, http, clock);
    Arc::new(client)
}

impl App {
    /// ClickPesa's webhook (docs/tz-aggregator.md, Webhook): a hint for one of lango's order
    /// references, never a grant and never a receipt; `None` if ClickPesa is not configured or
    /// the body is not ClickPesa's. With a checksum key, a webhook without the right checksum
    /// is not even a hint.
    pub(crate) fn on_clickpesa_callback(&self, body: &[u8]) -> Option<CallbackVerdict> {
        let config = self.config();
        let account = config.clickpesa.as_ref()?;
        let callback =
            match crate::core::clickpesa::parse_callback(body, account.checksum_key.as_deref())? {
                Ok(callback) => callback,
                Err(_) => {
                    return Some(CallbackVerdict::Mismatch(
                        "the checksum is not ClickPesa's: ignored".into(),
                    ))
                }
            };
        let reference = &callback.order_reference;
        let payment = match self.store.read(|r| r.payment_by_checkout(reference)) {
            Ok(Some(p)) if p.provider() == Provider::ClickPesa => p,
            Ok(_) => return Some(CallbackVerdict::UnknownCheckout),
            Err(e) => return Some(CallbackVerdict::Ignored(e.to_string())),
        };
        if !matches!(payment.state, PaymentState::Pending | PaymentState::Expired) {
            return Some(CallbackVerdict::Ignored(format!(
                "payment {} is {}",
                payment.id,
                payment.state.name()
            )));
        }
        // No receipt and no amount: the query brings its own, and a forged webhook must not
        // name a receipt that would then count as taken.
        let hint = CallbackHint {
            result_code: if callback.paid { 0 } else { -1 },
            receipt: None,
            amount: None,
            at: self.time().now,
        };
        Some(self.keep_hint(payment.id, hint, self.time().now))
    }
}
