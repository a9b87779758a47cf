//! `config vodacom 'vodacom'`: the Vodacom M-Pesa Tanzania account (Vodacom OpenAPI;
//! docs/vodacom.md), validated into `Vodacom`: the API key, the published public key (parsed
//! here, so a bad paste is reported at its line), the service provider code. Builds without the
//! cargo feature `vodacom` (the two MIPS packages) refuse an enabled section with its line.

#[cfg(feature = "vodacom")]
use std::fmt;
#[cfg(feature = "vodacom")]
use std::path::PathBuf;

use super::super::values::parse_bool;
#[cfg(feature = "vodacom")]
use super::super::values::{parse_environment, parse_path, parse_simulator_url, parse_text};
#[cfg(feature = "vodacom")]
use super::super::MpesaEnvironment;
use super::{Check, Raw};

pub(super) const VODACOM: &[&str] = &[
    "enabled",
    "api_key",
    "public_key",
    "service_provider_code",
    "environment",
    "base_url",
    "ca_bundle",
];

/// A build without the feature keeps nothing of the section (an enabled one is refused).
#[cfg(not(feature = "vodacom"))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vodacom;

/// `config vodacom 'vodacom'` (optional): the Vodacom M-Pesa Tanzania account.
#[cfg(feature = "vodacom")]
#[derive(Clone, PartialEq, Eq)]
pub struct Vodacom {
    /// `option enabled` (default 1): offered on the portal for Vodacom numbers.
    pub enabled: bool,
    /// `option api_key` (required): the application's API key on Vodacom's portal. Never
    /// shown back.
    pub api_key: String,
    /// `option public_key` (required): the public key Vodacom's portal publishes for the
    /// environment (base64 of the DER SubjectPublicKeyInfo, as shown there).
    pub public_key: crate::core::rsa::PublicKey,
    /// `option service_provider_code` (required): the shortcode payments go to (5 or 6 digits).
    pub service_provider_code: String,
    /// `option environment` (required): sandbox, production or simulator.
    pub environment: MpesaEnvironment,
    /// `option base_url` (optional): another address (a simulator, a test).
    pub base_url: Option<String>,
    /// `option ca_bundle` (default the system bundle): the CAs trusted for Vodacom's HTTPS.
    pub ca_bundle: Option<PathBuf>,
}

/// Hides the secrets: a `Config` may be logged with `{:?}`.
#[cfg(feature = "vodacom")]
impl fmt::Debug for Vodacom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vodacom")
            .field("enabled", &self.enabled)
            .field("api_key", &"***")
            .field("service_provider_code", &self.service_provider_code)
            .field("environment", &self.environment)
            .field("base_url", &self.base_url)
            .finish()
    }
}

#[cfg(feature = "vodacom")]
fn parse_public_key(text: &str) -> Result<crate::core::rsa::PublicKey, String> {
    crate::core::rsa::PublicKey::parse(text).map_err(|e| e.to_string())
}

#[cfg(feature = "vodacom")]
fn parse_provider_code(text: &str) -> Result<String, String> {
    if (5..=6).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "'{text}' is not a service provider code (5 or 6 digits, from Vodacom)"
        ))
    }
}

/// The section, checked; `currency` is the shop's (`option currency`), which must be TZS.
pub(super) fn validate_vodacom(raw: &Raw, currency: &str, check: &mut Check) -> Option<Vodacom> {
    let enabled = check.get(raw, "enabled", parse_bool, true);
    #[cfg(not(feature = "vodacom"))]
    {
        if enabled {
            let line = raw.one("enabled").map_or(raw.line, |v| v.line);
            check.error(
                line,
                "this lango is built without Vodacom M-Pesa (the x86_64, aarch64 and ARMv7 \
                 packages have it; docs/size.md): set option enabled '0' or remove the section",
            );
        }
        let _ = currency;
        None
    }
    #[cfg(feature = "vodacom")]
    {
        let api_key = check.required(raw, "api_key", parse_text);
        let public_key = check.required(raw, "public_key", parse_public_key);
        let code = check.required(raw, "service_provider_code", parse_provider_code);
        let environment = check.required(raw, "environment", parse_environment);
        let base_url = check.optional(raw, "base_url", parse_simulator_url);
        let ca_bundle = check.optional(raw, "ca_bundle", parse_path);
        if currency != "TZS" && enabled {
            check.error(
                raw.line,
                format!(
                    "Vodacom M-Pesa Tanzania takes TZS, but the shop's option currency is \
                     {currency}"
                ),
            );
        }
        Some(Vodacom {
            enabled,
            api_key: api_key?,
            public_key: public_key?,
            service_provider_code: code?,
            environment: environment?,
            base_url,
            ca_bundle,
        })
    }
}
