//! The Airtel Money client (Africa Open API, collections; docs/airtel.md) over `https`: the
//! OAuth token cache (renewed before it expires and once on a 401), the USSD push, the status
//! enquiry and the owner's connection check, as a `PaymentGateway`. The protocol is the pure
//! `core::airtel`. Never logs or returns a secret; never sends a push again whose answer was
//! lost (`GatewayError::Unanswered`). Feature `airtel`.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use crate::adapters::https::{self, HttpError};
use crate::adapters::token_cache::Api;
use crate::core::airtel::{self, signing, Answer};
use crate::core::config::Airtel;
use crate::core::payments::{
    CheckStep, GatewayError, PaymentGateway, StkAccepted, StkOutcome, StkPush,
};
use crate::core::time::Clock;

/// A token is renewed this long before Airtel says it expires (its example: 180 s tokens);
/// a shorter token is renewed at half its life.
const TOKEN_RENEW_EARLY_SECS: u64 = 30;

/// The Airtel Money client. One per account; shared by every worker thread.
pub struct AirtelMoney {
    account: Airtel,
    /// Its address, client and clock, and one shared token: held while a token is fetched
    /// (bounded by the call timeout), never while a push or query is in flight.
    api: Api,
}

fn sent(e: HttpError) -> GatewayError {
    match e {
        HttpError::NotSent(m) => GatewayError::Transport(m),
        HttpError::NoAnswer(m) => GatewayError::Unanswered(m),
    }
}

impl AirtelMoney {
    pub fn new(
        account: Airtel,
        base_url: &str,
        http: https::Client,
        clock: Arc<dyn Clock>,
    ) -> AirtelMoney {
        AirtelMoney {
            account,
            api: Api::new(base_url, http, clock, TOKEN_RENEW_EARLY_SECS),
        }
    }

    /// A valid token: the cached one, or a fresh one when it is due or `rejected` (a token
    /// Airtel just refused) is still the cached one.
    fn token(&self, rejected: Option<&str>) -> Result<String, GatewayError> {
        self.api.token(rejected, || self.fetch_token())
    }

    fn fetch_token(&self) -> Result<(String, u64), GatewayError> {
        let body = airtel::token_body(&self.account.client_id, &self.account.client_secret);
        let url = format!("{}{}", self.api.base_url, airtel::TOKEN_PATH);
        let headers = [("Content-Type", "application/json"), ("Accept", "*/*")];
        let response = self
            .api
            .http
            .send("POST", &url, &headers, body.to_string().as_bytes())
            // Asking for a token twice is harmless.
            .map_err(|e| GatewayError::Transport(e.to_string()))?;
        match response.status {
            200 => airtel::parse_token(&response.body).map_err(GatewayError::Unavailable),
            429 => Err(GatewayError::Throttled("token: HTTP 429".into())),
            400..=499 => Err(GatewayError::Merchant(format!(
                "Airtel refused the client id and secret (HTTP {}): check client_id and \
                 client_secret, and that they belong to the {} app",
                response.status,
                if self.account.environment == crate::core::config::MpesaEnvironment::Production {
                    "production"
                } else {
                    "sandbox (UAT)"
                }
            ))),
            status => Err(GatewayError::Unavailable(format!("token: HTTP {status}"))),
        }
    }

    /// One call with the bearer token and `extra` headers; a refused token is renewed and the
    /// call made once more (Airtel answered 401: it did not act on the request).
    fn call(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        extra: &[(&str, &str)],
    ) -> Result<Value, GatewayError> {
        let url = format!("{}{path}", self.api.base_url);
        let mut rejected: Option<String> = None;
        for _ in 0..2 {
            let token = self.token(rejected.as_deref())?;
            let auth = format!("Bearer {token}");
            let mut headers = airtel::headers(self.account.country).to_vec();
            headers.push(("Authorization", auth.as_str()));
            headers.extend_from_slice(extra);
            let response = self
                .api
                .http
                .send(method, &url, &headers, body)
                .map_err(sent)?;
            match airtel::interpret(response.status, &response.body) {
                Answer::Ok(value) => return Ok(value),
                Answer::Failed(e) => return Err(e),
                Answer::TokenRejected if rejected.is_none() => {
                    log::info!("Airtel refused the access token; renewing it");
                    rejected = Some(token);
                }
                Answer::TokenRejected => {
                    return Err(GatewayError::Merchant(
                        "Airtel refused a fresh access token: check that the app has the \
                         Collection API"
                            .into(),
                    ))
                }
            }
        }
        Err(GatewayError::Unavailable("token refused twice".into()))
    }
}

/// lango's transaction id for a push: `LG` and 16 random hex digits, the id the enquiry names.
fn transaction_id() -> Result<String, GatewayError> {
    let bytes = crate::core::token::random_bytes::<8>()
        .map_err(|e| GatewayError::Transport(format!("no random id: {e}")))?;
    Ok(format!(
        "LG{}",
        crate::core::token::hex(&bytes).to_ascii_uppercase()
    ))
}

impl PaymentGateway for AirtelMoney {
    fn stk_push(&self, push: &StkPush) -> Result<StkAccepted, GatewayError> {
        let id = transaction_id()?;
        let body = airtel::push_body(
            self.account.country,
            &push.phone,
            push.amount_major,
            &push.account_reference,
            &id,
        );
        let body = body.to_string();
        // An account that requires message signing: the v2 path, the body signed.
        let value = match &self.account.signing {
            Some(key) => {
                let mut random = |b: &mut [u8]| crate::core::token::fill(b).is_ok();
                let (signature, x_key) = signing::sign(key, body.as_bytes(), &mut random)
                    .map_err(|e| GatewayError::Transport(format!("message signing: {e}")))?;
                let extra = [
                    ("x-signature", signature.as_str()),
                    ("x-key", x_key.as_str()),
                ];
                self.call("POST", signing::PUSH_PATH_V2, body.as_bytes(), &extra)?
            }
            None => self.call("POST", airtel::PUSH_PATH, body.as_bytes(), &[])?,
        };
        airtel::parse_push(&value)?;
        Ok(StkAccepted {
            merchant_request_id: id.clone(),
            checkout_id: id,
        })
    }

    fn stk_query(&self, checkout_id: &str) -> Result<StkOutcome, GatewayError> {
        let path = format!("{}{checkout_id}", airtel::STATUS_PATH);
        let value = self.call("GET", &path, b"", &[])?;
        Ok(airtel::parse_status(&value))
    }

    /// The settings (secrets hidden) and a token: nobody is prompted.
    fn check(&self) -> Vec<CheckStep> {
        let a = &self.account;
        let mut steps = vec![CheckStep {
            what: "Airtel Money settings".into(),
            ok: true,
            detail: format!(
                "{} at {}, country {} ({}); client id {}, client secret hidden",
                if a.environment == crate::core::config::MpesaEnvironment::Production {
                    "production"
                } else {
                    "sandbox or simulator"
                },
                self.api.base_url,
                a.country.code(),
                a.country.currency(),
                crate::core::daraja::mask(&a.client_id),
            ) + if a.signing.is_some() {
                "; pushes signed (v2)"
            } else {
                ""
            },
        }];
        let started = Instant::now();
        let (ok, detail) = match self.fetch_token() {
            Ok((_, expires_in)) => (
                true,
                format!(
                    "Airtel issued a token valid for {expires_in} s ({} ms)",
                    started.elapsed().as_millis()
                ),
            ),
            Err(e) => (false, e.to_string()),
        };
        steps.push(CheckStep {
            what: "Airtel Money access token".into(),
            ok,
            detail,
        });
        steps
    }
}
