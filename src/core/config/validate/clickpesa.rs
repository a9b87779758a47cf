//! `config clickpesa 'clickpesa'`: the ClickPesa application through which lango takes Mixx by
//! Yas (Tigo Pesa) and HaloPesa in Tanzania (docs/tz-aggregator.md), validated into
//! `ClickPesa`: the client id, the API key and the optional checksum key (never shown back),
//! the environment (ClickPesa has no sandbox). Builds without the cargo feature `clickpesa` (the
//! two MIPS packages) refuse an enabled section with its line.

#[cfg(feature = "clickpesa")]
use std::fmt;
#[cfg(feature = "clickpesa")]
use std::path::PathBuf;

use super::super::values::parse_bool;
#[cfg(feature = "clickpesa")]
use super::super::values::{parse_path, parse_simulator_url, parse_text};
#[cfg(feature = "clickpesa")]
use super::super::MpesaEnvironment;
use super::{Check, Raw};

pub(super) const CLICKPESA: &[&str] = &[
    "enabled",
    "client_id",
    "api_key",
    "checksum_key",
    "environment",
    "base_url",
    "ca_bundle",
];

/// A build without the feature keeps nothing of the section (an enabled one is refused).
#[cfg(not(feature = "clickpesa"))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClickPesa;

/// `config clickpesa 'clickpesa'` (optional): the ClickPesa application.
#[cfg(feature = "clickpesa")]
#[derive(Clone, PartialEq, Eq)]
pub struct ClickPesa {
    /// `option enabled` (default 1): offered on the portal for Mixx by Yas and HaloPesa numbers.
    pub enabled: bool,
    /// `option client_id` (required): the application's Client ID on ClickPesa's dashboard.
    pub client_id: String,
    /// `option api_key` (required): the application's API key. Never shown back.
    pub api_key: String,
    /// `option checksum_key` (optional): set when checksums are on for the application: pushes
    /// carry a checksum and webhooks without the right one are ignored. Never shown back.
    pub checksum_key: Option<String>,
    /// `option environment` (required): production or simulator.
    pub environment: MpesaEnvironment,
    /// `option base_url` (optional): another address (a simulator, a test).
    pub base_url: Option<String>,
    /// `option ca_bundle` (default the system bundle): the CAs trusted for ClickPesa's HTTPS.
    pub ca_bundle: Option<PathBuf>,
}

/// Hides the secrets: a `Config` may be logged with `{:?}`.
#[cfg(feature = "clickpesa")]
impl fmt::Debug for ClickPesa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClickPesa")
            .field("enabled", &self.enabled)
            .field("client_id", &self.client_id)
            .field("api_key", &"***")
            .field("checksum_key", &self.checksum_key.as_ref().map(|_| "***"))
            .field("environment", &self.environment)
            .field("base_url", &self.base_url)
            .finish()
    }
}

#[cfg(feature = "clickpesa")]
fn parse_environment(text: &str) -> Result<MpesaEnvironment, String> {
    match text {
        "production" => Ok(MpesaEnvironment::Production),
        "simulator" => Ok(MpesaEnvironment::Simulator),
        "sandbox" => Err(
            "ClickPesa has no sandbox: write production (and test with small \
                          amounts) or simulator"
                .into(),
        ),
        _ => Err(format!("'{text}' is not production or simulator")),
    }
}

#[cfg(feature = "clickpesa")]
fn parse_secret(text: &str) -> Result<String, String> {
    if text.chars().any(char::is_whitespace) {
        // Said without the value: it is a secret.
        return Err("has a space in it: paste the key as the dashboard shows it".into());
    }
    Ok(text.to_string())
}

/// The section, checked; `currency` is the shop's (`option currency`), which must be TZS.
pub(super) fn validate_clickpesa(
    raw: &Raw,
    currency: &str,
    check: &mut Check,
) -> Option<ClickPesa> {
    let enabled = check.get(raw, "enabled", parse_bool, true);
    #[cfg(not(feature = "clickpesa"))]
    {
        if enabled {
            let line = raw.one("enabled").map_or(raw.line, |v| v.line);
            check.error(
                line,
                "this lango is built without ClickPesa (docs/size.md): set option enabled '0' \
                 or remove the section",
            );
        }
        let _ = currency;
        None
    }
    #[cfg(feature = "clickpesa")]
    {
        let client_id = check.required(raw, "client_id", parse_text);
        let api_key = check.required(raw, "api_key", parse_secret);
        let checksum_key = check.optional(raw, "checksum_key", parse_secret);
        let environment = check.required(raw, "environment", parse_environment);
        let base_url = check.optional(raw, "base_url", parse_simulator_url);
        let ca_bundle = check.optional(raw, "ca_bundle", parse_path);
        if currency != "TZS" && enabled {
            check.error(
                raw.line,
                format!(
                    "ClickPesa (Mixx by Yas, HaloPesa) takes TZS, but the shop's option \
                     currency is {currency}"
                ),
            );
        }
        if environment == Some(MpesaEnvironment::Simulator) && base_url.is_none() && enabled {
            let line = raw.one("environment").map_or(raw.line, |v| v.line);
            check.error(
                line,
                "environment 'simulator' needs option base_url (a simulator's address)",
            );
        }
        Some(ClickPesa {
            enabled,
            client_id: client_id?,
            api_key: api_key?,
            checksum_key,
            environment: environment?,
            base_url,
            ca_bundle,
        })
    }
}
