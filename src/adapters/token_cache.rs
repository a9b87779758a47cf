//! What the payment clients (Daraja's, Airtel's) share besides their accounts: `Api`, the
//! provider's address, the HTTPS client, the clock and the one OAuth token cache (`TokenCache`:
//! one token per account for every worker thread, renewed a margin before it expires, and
//! fetched again at once when the provider refuses it, unless another thread already did).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::adapters::https;
use crate::core::payments::GatewayError;
use crate::core::time::Clock;

/// A provider's API as a client reaches it.
pub(crate) struct Api {
    /// Without a trailing `/`.
    pub base_url: String,
    pub http: https::Client,
    pub clock: Arc<dyn Clock>,
    token: TokenCache,
}

impl Api {
    pub(crate) fn new(
        base_url: &str,
        http: https::Client,
        clock: Arc<dyn Clock>,
        renew_early_secs: u64,
    ) -> Api {
        Api {
            base_url: base_url.trim_end_matches('/').to_string(),
            http,
            clock,
            token: TokenCache::new(renew_early_secs),
        }
    }

    /// A valid token (`TokenCache::get`), fetched with `fetch` when needed.
    pub(crate) fn token(
        &self,
        rejected: Option<&str>,
        fetch: impl FnOnce() -> Result<(String, u64), GatewayError>,
    ) -> Result<String, GatewayError> {
        self.token.get(self.clock.mono(), rejected, fetch)
    }
}

struct Token {
    value: String,
    renew_at: Instant,
}

pub(crate) struct TokenCache {
    /// Renewed this long before the provider says it expires; a shorter-lived token at half
    /// its life.
    renew_early_secs: u64,
    /// Held while a token is fetched (bounded by the call timeout), never while a push or
    /// query is in flight.
    token: Mutex<Option<Token>>,
}

impl TokenCache {
    pub(crate) fn new(renew_early_secs: u64) -> TokenCache {
        TokenCache {
            renew_early_secs,
            token: Mutex::new(None),
        }
    }

    /// A valid token: the cached one, or a fresh one from `fetch` (the token and its lifetime
    /// in seconds). `rejected` is a token the provider just refused.
    pub(crate) fn get(
        &self,
        now: Instant,
        rejected: Option<&str>,
        fetch: impl FnOnce() -> Result<(String, u64), GatewayError>,
    ) -> Result<String, GatewayError> {
        let mut cache = crate::core::locks::lock(&self.token);
        if let Some(token) = cache.as_ref() {
            let fresh = match rejected {
                Some(old) => token.value != old,
                None => now < token.renew_at,
            };
            if fresh {
                return Ok(token.value.clone());
            }
        }
        *cache = None;
        let (value, expires_in) = fetch()?;
        let early = self.renew_early_secs;
        let lifetime = if expires_in > 2 * early {
            expires_in - early
        } else {
            expires_in / 2
        };
        *cache = Some(Token {
            value: value.clone(),
            renew_at: now + Duration::from_secs(lifetime),
        });
        Ok(value)
    }
}
