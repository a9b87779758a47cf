//! Which wallet a payment goes through (`Provider`: M-Pesa, Airtel Money, Vodacom M-Pesa
//! Tanzania, or ClickPesa for Mixx by Yas and HaloPesa), remembered on the payment record so
//! that the worker asks the right gateway after a restart, and `NoGateway`, the gateway of a
//! wallet that is not configured.

use crate::core::payments::{
    CheckStep, GatewayError, Payment, PaymentGateway, StkAccepted, StkOutcome, StkPush,
};

/// The wallet that prompts the guest. A record without the field (every record before Airtel)
/// is M-Pesa.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "airtel", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "airtel", serde(rename_all = "lowercase"))]
pub enum Provider {
    #[default]
    Mpesa,
    Airtel,
    /// Vodacom M-Pesa Tanzania (feature `vodacom`; the variant exists in every build so that a
    /// record written by one reads in another, its gateway then saying it is not built in).
    Vodacom,
    /// Mixx by Yas and HaloPesa through ClickPesa (feature `clickpesa`; in every build, as
    /// `Vodacom`).
    ClickPesa,
}

impl Provider {
    /// For `skip_serializing_if`: an M-Pesa record is written as before.
    pub fn is_mpesa(&self) -> bool {
        *self == Provider::Mpesa
    }

    /// The wallet's name, as the guest and the owner read it.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Mpesa => "M-Pesa",
            Provider::Airtel => "Airtel Money",
            Provider::Vodacom => "Vodacom M-Pesa",
            Provider::ClickPesa => "Mixx by Yas or HaloPesa",
        }
    }
}

impl Payment {
    /// The wallet that prompted for this payment; always M-Pesa in a build without Airtel.
    pub fn provider(&self) -> Provider {
        #[cfg(feature = "airtel")]
        return self.provider;
        #[cfg(not(feature = "airtel"))]
        Provider::Mpesa
    }
}

/// The gateway when no usable account is configured: every push is refused with a plain
/// reason, so vouchers keep working and the owner sees why the wallet does not.
pub(crate) struct NoGateway {
    pub reason: String,
}

impl PaymentGateway for NoGateway {
    fn stk_push(&self, _push: &StkPush) -> Result<StkAccepted, GatewayError> {
        Err(GatewayError::Merchant(self.reason.clone()))
    }
    fn stk_query(&self, _checkout_id: &str) -> Result<StkOutcome, GatewayError> {
        Err(GatewayError::Merchant(self.reason.clone()))
    }
    fn check(&self) -> Vec<CheckStep> {
        vec![CheckStep {
            what: "M-Pesa".into(),
            ok: false,
            detail: self.reason.clone(),
        }]
    }
}
