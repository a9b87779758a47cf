//! `config airtel 'airtel'`: the Airtel Money account (Africa Open API, collections;
//! docs/airtel.md), validated into `Airtel`, and the countries lango sells in through it
//! (`Country`: its code, currency and dialling prefix). Builds without the cargo feature
//! `airtel` (the two MIPS packages) refuse an enabled section with its line.

#[cfg(feature = "airtel")]
use std::fmt;
#[cfg(feature = "airtel")]
use std::path::PathBuf;

use super::super::values::parse_bool;
#[cfg(feature = "airtel")]
use super::super::values::{parse_environment, parse_path, parse_simulator_url, parse_text};
#[cfg(feature = "airtel")]
use super::super::MpesaEnvironment;
use super::{Check, Raw};

pub(super) const AIRTEL: &[&str] = &[
    "enabled",
    "client_id",
    "client_secret",
    "country",
    "environment",
    "base_url",
    "ca_bundle",
    "signing",
    "public_key",
];

/// A country Airtel Money collects in, as lango supports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Country {
    Kenya,
    Uganda,
    Tanzania,
}

impl Country {
    /// ISO 3166 alpha-2, as Airtel's `X-Country` header and bodies want it.
    pub fn code(self) -> &'static str {
        match self {
            Country::Kenya => "KE",
            Country::Uganda => "UG",
            Country::Tanzania => "TZ",
        }
    }

    /// ISO 4217, as Airtel's `X-Currency` header and bodies want it; the shop's
    /// `option currency` must be the same.
    pub fn currency(self) -> &'static str {
        match self {
            Country::Kenya => "KES",
            Country::Uganda => "UGX",
            Country::Tanzania => "TZS",
        }
    }

    /// The international dialling prefix, without `+`.
    pub fn dial(self) -> &'static str {
        match self {
            Country::Kenya => "254",
            Country::Uganda => "256",
            Country::Tanzania => "255",
        }
    }

    #[cfg(feature = "airtel")]
    fn parse(text: &str) -> Result<Country, String> {
        match text {
            "KE" | "ke" => Ok(Country::Kenya),
            "UG" | "ug" => Ok(Country::Uganda),
            "TZ" | "tz" => Ok(Country::Tanzania),
            _ => Err(format!(
                "'{text}' is not a country lango takes Airtel Money in (KE, UG or TZ)"
            )),
        }
    }
}

/// A build without the feature keeps nothing of the section (an enabled one is refused).
#[cfg(not(feature = "airtel"))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Airtel;

/// `config airtel 'airtel'` (optional): the Airtel Money account.
#[cfg(feature = "airtel")]
#[derive(Clone, PartialEq, Eq)]
pub struct Airtel {
    /// `option enabled` (default 1): offered on the portal.
    pub enabled: bool,
    /// `option client_id`, `option client_secret` (required): the app's keys on Airtel's
    /// developer portal. Never shown back.
    pub client_id: String,
    pub client_secret: String,
    /// `option country` (required): KE, UG or TZ. Decides the currency and the numbers taken.
    pub country: Country,
    /// `option environment` (required): sandbox (openapiuat), production or simulator.
    pub environment: MpesaEnvironment,
    /// `option base_url` (optional): another address for Airtel's API (a `lango sim`, a test's
    /// simulator); with environment simulator and no base_url, a simulator inside lango.
    pub base_url: Option<String>,
    /// `option ca_bundle` (default the system bundle): the CAs trusted for Airtel's HTTPS.
    pub ca_bundle: Option<PathBuf>,
    /// `option signing 'v2'` with `option public_key` (Airtel's published RSA key, base64 of
    /// the DER or PEM): pushes go to the v2 path with message signing (`x-signature`,
    /// `x-key`; docs/airtel.md). `None`: v1, unsigned (`option signing 'v1'`, the default).
    pub signing: Option<crate::core::rsa::PublicKey>,
}

/// Hides the secrets: a `Config` may be logged with `{:?}`.
#[cfg(feature = "airtel")]
impl fmt::Debug for Airtel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Airtel")
            .field("enabled", &self.enabled)
            .field("client_id", &"***")
            .field("client_secret", &"***")
            .field("country", &self.country)
            .field("environment", &self.environment)
            .field("base_url", &self.base_url)
            .field("signing", &self.signing.is_some())
            .finish()
    }
}

/// The section, checked; `currency` is the shop's (`option currency`), which must be the
/// country's. A build without the feature refuses an enabled section and checks nothing else.
pub(super) fn validate_airtel(raw: &Raw, currency: &str, check: &mut Check) -> Option<Airtel> {
    let enabled = check.get(raw, "enabled", parse_bool, true);
    #[cfg(not(feature = "airtel"))]
    {
        if enabled {
            let line = raw.one("enabled").map_or(raw.line, |v| v.line);
            check.error(
                line,
                "this lango is built without Airtel Money (the x86_64, aarch64 and ARMv7 \
                 packages have it; docs/size.md): set option enabled '0' or remove the section",
            );
        }
        let _ = currency;
        None
    }
    #[cfg(feature = "airtel")]
    {
        let client_id = check.required(raw, "client_id", parse_text);
        let client_secret = check.required(raw, "client_secret", parse_text);
        let country = check.required(raw, "country", Country::parse);
        let environment = check.required(raw, "environment", parse_environment);
        let base_url = check.optional(raw, "base_url", parse_simulator_url);
        let ca_bundle = check.optional(raw, "ca_bundle", parse_path);
        let signing = validate_signing(raw, check);
        if let (Some(country), Some(value)) = (country, raw.one("country")) {
            if country.currency() != currency {
                check.error(
                    value.line,
                    format!(
                        "Airtel Money in {} takes {}, but the shop's option currency is {currency}",
                        country.code(),
                        country.currency()
                    ),
                );
            }
        }
        Some(Airtel {
            enabled,
            client_id: client_id?,
            client_secret: client_secret?,
            country: country?,
            environment: environment?,
            base_url,
            ca_bundle,
            signing,
        })
    }
}

/// `option signing` (v1 or v2) and `option public_key`, which v2 needs (and v1 leaves unused).
#[cfg(feature = "airtel")]
fn validate_signing(raw: &Raw, check: &mut Check) -> Option<crate::core::rsa::PublicKey> {
    let parse_signing = |text: &str| match text {
        "v1" => Ok(false),
        "v2" => Ok(true),
        _ => Err(format!(
            "'{text}' is not v1 or v2 (Airtel's message signing)"
        )),
    };
    let parse_key = |text: &str| {
        crate::core::rsa::PublicKey::parse(text).map_err(|e| format!("public_key: {e}"))
    };
    let v2 = check.get(raw, "signing", parse_signing, false);
    let key = check.optional(raw, "public_key", parse_key);
    // A key kept with v1 is not used (the owner page switches between the two).
    if let (true, None) = (v2, raw.one("public_key")) {
        let line = raw.one("signing").map_or(raw.line, |v| v.line);
        check.error(
            line,
            "signing 'v2' needs option public_key (Airtel's RSA public key for message \
             signing, from its developer portal)",
        );
    }
    key.filter(|_| v2)
}
