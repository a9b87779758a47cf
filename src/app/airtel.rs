//! The wallet of a purchase: which provider prompts for a number the guest typed
//! (`App::wallet_for`: Vodacom M-Pesa, then Mixx by Yas or HaloPesa through ClickPesa, then
//! Airtel Money, each when enabled and the number is that network's, else M-Pesa), the
//! gateway that asks about it (`App::gateway_of`, from the payment's `provider` so that a
//! restart asks the right one), the Airtel gateway a config asks for (`gateway_for`), and
//! Airtel's callback, a hint that makes the query due now (`App::on_airtel_callback`). Without
//! the cargo feature `airtel` every purchase is M-Pesa's.

use std::sync::Arc;

use crate::app::App;
use crate::core::config::Config;
use crate::core::model::Phone;
use crate::core::payments::{NoGateway, PaymentGateway};
use crate::core::provider::Provider;

impl App {
    /// The provider and the number for what the guest typed, or what to tell them.
    pub(crate) fn wallet_for(
        &self,
        config: &Config,
        typed: &str,
    ) -> Result<(Provider, Phone), String> {
        // A Vodacom Tanzania number, when Vodacom is on; else the other wallets decide, and
        // with Vodacom alone its refusal says why.
        #[cfg(feature = "vodacom")]
        if config.vodacom.as_ref().is_some_and(|v| v.enabled) {
            match crate::core::vodacom::msisdn(typed) {
                Ok(phone) => return Ok((Provider::Vodacom, phone)),
                Err(why)
                    if config.mpesa.is_none() && !airtel_on(config) && !clickpesa_on(config) =>
                {
                    return Err(why)
                }
                Err(_) => {}
            }
        }
        // A Mixx by Yas or HaloPesa number, when ClickPesa is on.
        #[cfg(feature = "clickpesa")]
        if clickpesa_on(config) {
            match crate::core::clickpesa::msisdn(typed) {
                Ok(phone) => return Ok((Provider::ClickPesa, phone)),
                Err(why) if config.mpesa.is_none() && !airtel_on(config) => {
                    #[cfg(feature = "vodacom")]
                    if config.vodacom.as_ref().is_some_and(|v| v.enabled) {
                        return Err(
                            "enter a Vodacom M-Pesa, Mixx by Yas or HaloPesa number like                              0754 123 456 or 0654 123 456"
                                .into(),
                        );
                    }
                    return Err(why);
                }
                Err(_) => {}
            }
        }
        #[cfg(feature = "airtel")]
        if let Some(airtel) = config.airtel.as_ref().filter(|a| a.enabled) {
            return match crate::core::airtel::msisdn(airtel.country, typed) {
                Ok(phone) => Ok((Provider::Airtel, phone)),
                Err(why) if config.mpesa.is_none() => Err(why),
                Err(_) => Phone::parse(typed)
                    .map(|p| (Provider::Mpesa, p))
                    .map_err(|_| {
                        "enter an M-Pesa (Safaricom) or Airtel Money number like 0712 345 678"
                            .into()
                    }),
            };
        }
        let _ = config;
        Phone::parse(typed).map(|phone| (Provider::Mpesa, phone))
    }

    /// The gateway that prompts and answers for `provider`.
    pub(crate) fn gateway_of(&self, provider: Provider) -> Arc<dyn PaymentGateway> {
        match provider {
            Provider::Mpesa => self.env.gateway.clone(),
            #[cfg(feature = "airtel")]
            Provider::Airtel => self.airtel.clone(),
            #[cfg(not(feature = "airtel"))]
            Provider::Airtel => Arc::new(NoGateway {
                reason: "this lango is built without Airtel Money".into(),
            }),
            #[cfg(feature = "vodacom")]
            Provider::Vodacom => self.vodacom.clone(),
            #[cfg(not(feature = "vodacom"))]
            Provider::Vodacom => Arc::new(NoGateway {
                reason: "this lango is built without Vodacom M-Pesa".into(),
            }),
            #[cfg(feature = "clickpesa")]
            Provider::ClickPesa => self.clickpesa.clone(),
            #[cfg(not(feature = "clickpesa"))]
            Provider::ClickPesa => Arc::new(NoGateway {
                reason: "this lango is built without ClickPesa".into(),
            }),
        }
    }

    /// Airtel's callback (docs/airtel.md, Callback): a hint for one of lango's transaction ids,
    /// never a grant and never a receipt; `None` if the body is not Airtel's.
    #[cfg(feature = "airtel")]
    pub(crate) fn on_airtel_callback(
        &self,
        body: &[u8],
    ) -> Option<crate::app::mpesa::CallbackVerdict> {
        use crate::app::mpesa::CallbackVerdict;
        use crate::core::payments::{CallbackHint, PaymentState};
        let callback = crate::core::airtel::parse_callback(body)?;
        let payment = match self.store.read(|r| r.payment_by_checkout(&callback.id)) {
            Ok(Some(p)) if p.provider() == Provider::Airtel => p,
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
        // No receipt and no amount: the enquiry brings its own, and a forged callback must not
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

/// Whether Airtel Money is on offer.
#[cfg(any(feature = "vodacom", feature = "clickpesa"))]
fn airtel_on(config: &Config) -> bool {
    config.airtel.as_ref().is_some_and(|a| a.enabled)
}

/// Whether Mixx by Yas and HaloPesa are on offer (through ClickPesa).
#[cfg(feature = "clickpesa")]
fn clickpesa_on(config: &Config) -> bool {
    config.clickpesa.as_ref().is_some_and(|c| c.enabled)
}
#[cfg(all(feature = "vodacom", not(feature = "clickpesa")))]
fn clickpesa_on(_config: &Config) -> bool {
    false
}

/// The Airtel Money gateway a config asks for: the client at Airtel's address for the
/// environment (or `base_url`), trusting `ca_bundle`; a `NoGateway` saying why when there is
/// none.
#[cfg(feature = "airtel")]
pub(crate) fn gateway_for(
    config: &Config,
    clock: Arc<dyn crate::core::time::Clock>,
) -> Arc<dyn PaymentGateway> {
    let none = |reason: String| -> Arc<dyn PaymentGateway> { Arc::new(NoGateway { reason }) };
    {
        let Some(account) = config.airtel.as_ref().filter(|a| a.enabled) else {
            return none("Airtel Money is not enabled".into());
        };
        let base = account
            .base_url
            .clone()
            .or_else(|| crate::core::airtel::base_url(account.environment).map(str::to_string));
        let Some(base) = base else {
            return none("environment 'simulator' needs option base_url (a lango sim)".into());
        };
        let http = match client_for(&base, account.ca_bundle.clone()) {
            Ok(http) => http,
            Err(reason) => {
                log::error!("Airtel Money: {reason}");
                return none(reason);
            }
        };
        let client = crate::adapters::airtel::AirtelMoney::new(account.clone(), &base, http, clock);
        Arc::new(client)
    }
}

/// The HTTPS client for a wallet's address: TLS trusting `ca_bundle` (the system bundle when
/// unset) for an `https:` address, plain HTTP for a simulator's; the call deadline of Daraja's.
#[cfg(feature = "airtel")]
pub(crate) fn client_for(
    base: &str,
    ca_bundle: Option<std::path::PathBuf>,
) -> Result<crate::adapters::https::Client, String> {
    use crate::adapters::https;
    let tls = if base.starts_with("https:") {
        let bundle = ca_bundle.unwrap_or_else(|| https::DEFAULT_CA_BUNDLE.into());
        Some(https::load_ca_bundle(&bundle)?)
    } else {
        None
    };
    Ok(https::Client::new(
        tls,
        crate::adapters::daraja::CALL_TIMEOUT,
    ))
}
