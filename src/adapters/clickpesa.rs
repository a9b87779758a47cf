//! The ClickPesa client for Mixx by Yas and HaloPesa (docs/tz-aggregator.md) over `https`: the
//! token (from the client id and API key, cached for every thread for its hour, asked for again
//! once when ClickPesa refuses it), the USSD push under lango's own order reference, the payment
//! query by that reference and the owner's connection check, as a `PaymentGateway`. The
//! protocol is the pure `core::clickpesa`. Never logs or returns the API key or the checksum
//! key; a push that was sent and got no clear answer is never sent again: it is pending and the
//! query settles it. Feature `clickpesa`.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use crate::adapters::https::{self, HttpError};
use crate::adapters::token_cache::Api;
use crate::core::clickpesa::{self, Answer};
use crate::core::config::ClickPesa as Account;
use crate::core::payments::{
    CheckStep, GatewayError, PaymentGateway, StkAccepted, StkOutcome, StkPush,
};
use crate::core::time::Clock;

/// ClickPesa's tokens are valid for an hour (docs.clickpesa.com, sandbox and testing); lango
/// renews 5 minutes early, or at once when ClickPesa refuses one (401).
const TOKEN_SECS: u64 = 3600;
const TOKEN_RENEW_EARLY_SECS: u64 = 300;

/// The ClickPesa client. One per application; shared by every worker thread.
pub struct ClickPesaClient {
    account: Account,
    /// Its address, client and clock, and the one cached token.
    api: Api,
}

/// What a call brought back: ClickPesa's status and body, or why there is none to read.
enum Reply {
    Said(u16, Value),
    Failed(GatewayError),
}

/// lango's order reference for a push: `LG` and 16 random hex digits (ClickPesa takes letters
/// and digits only), kept as the payment's `checkout_id` and named by the query.
fn order_reference() -> Result<String, GatewayError> {
    let bytes = crate::core::token::random_bytes::<8>()
        .map_err(|e| GatewayError::Transport(format!("no random id: {e}")))?;
    Ok(format!(
        "LG{}",
        crate::core::token::hex(&bytes).to_ascii_uppercase()
    ))
}

impl ClickPesaClient {
    pub fn new(
        account: Account,
        base_url: &str,
        http: https::Client,
        clock: Arc<dyn Clock>,
    ) -> ClickPesaClient {
        ClickPesaClient {
            account,
            api: Api::new(base_url, http, clock, TOKEN_RENEW_EARLY_SECS),
        }
    }

    fn fetch_token(&self) -> Result<(String, u64), GatewayError> {
        let url = format!("{}{}", self.api.base_url, clickpesa::TOKEN_PATH);
        let headers = [
            ("client-id", self.account.client_id.as_str()),
            ("api-key", self.account.api_key.as_str()),
            ("Accept", "application/json"),
        ];
        let response = self
            .api
            .http
            .send("POST", &url, &headers, b"")
            // Asking for a token twice is harmless.
            .map_err(|e| GatewayError::Transport(e.to_string()))?;
        let said = || {
            let value: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
            let text = value["message"].as_str().unwrap_or("").to_string();
            text.chars().take(120).collect::<String>()
        };
        match response.status {
            200 => clickpesa::parse_token(&response.body)
                .map(|token| (token, TOKEN_SECS))
                .map_err(GatewayError::Unavailable),
            429 => Err(GatewayError::Throttled("token: HTTP 429".into())),
            400..=499 => Err(GatewayError::Merchant(format!(
                "ClickPesa refused the client id and API key (HTTP {}: {}): check client_id and \
                 api_key, and that the application has the collection API",
                response.status,
                said()
            ))),
            status => Err(GatewayError::Unavailable(format!("token: HTTP {status}"))),
        }
    }

    /// One call with the token; a refused token is renewed and the call made once more
    /// (ClickPesa answered 401: it did not act on the request).
    fn call(&self, method: &str, path: &str, body: &[u8]) -> Result<Reply, HttpError> {
        let url = format!("{}{path}", self.api.base_url);
        let mut rejected: Option<String> = None;
        for _ in 0..2 {
            let token = match self.api.token(rejected.as_deref(), || self.fetch_token()) {
                Ok(token) => token,
                Err(e) => return Ok(Reply::Failed(e)),
            };
            let mut headers = clickpesa::HEADERS.to_vec();
            headers.push(("Authorization", token.as_str()));
            let response = self.api.http.send(method, &url, &headers, body)?;
            match clickpesa::interpret(response.status, &response.body) {
                Answer::Said(status, value) => return Ok(Reply::Said(status, value)),
                Answer::Throttled(m) => return Ok(Reply::Failed(GatewayError::Throttled(m))),
                Answer::TokenRejected if rejected.is_none() => {
                    log::info!("ClickPesa refused the token; asking for a new one");
                    rejected = Some(token);
                }
                Answer::TokenRejected => {
                    return Ok(Reply::Failed(GatewayError::Merchant(
                        "ClickPesa refused a fresh token: check that checksums are set the same \
                         on the dashboard and in lango"
                            .into(),
                    )))
                }
            }
        }
        Ok(Reply::Failed(GatewayError::Unavailable(
            "token refused twice".into(),
        )))
    }

    fn accepted(reference: String) -> StkAccepted {
        StkAccepted {
            merchant_request_id: reference.clone(),
            checkout_id: reference,
        }
    }
}

impl PaymentGateway for ClickPesaClient {
    fn stk_push(&self, push: &StkPush) -> Result<StkAccepted, GatewayError> {
        let reference = order_reference()?;
        let body = clickpesa::push_body(
            &push.phone,
            push.amount_major,
            &reference,
            self.account.checksum_key.as_deref(),
        );
        match self.call("POST", clickpesa::PUSH_PATH, body.to_string().as_bytes()) {
            Ok(Reply::Said(status, value)) => {
                if status >= 500 {
                    log::warn!("ClickPesa push {reference}: HTTP {status}; asking by query");
                }
                clickpesa::parse_push(status, &value)?;
                Ok(ClickPesaClient::accepted(reference))
            }
            // Not sent (or refused before anything was done: token, rate limit): safe later.
            Ok(Reply::Failed(e)) => Err(e),
            Err(HttpError::NotSent(m)) => Err(GatewayError::Transport(m)),
            // Sent, and no answer: the customer may be paying. Never sent again; the query by
            // lango's order reference settles it.
            Err(HttpError::NoAnswer(m)) => {
                log::warn!("ClickPesa push {reference}: no answer ({m}); asking by query");
                Ok(ClickPesaClient::accepted(reference))
            }
        }
    }

    fn stk_query(&self, checkout_id: &str) -> Result<StkOutcome, GatewayError> {
        if checkout_id.is_empty() || !checkout_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(GatewayError::Merchant(
                "not a ClickPesa order reference".into(),
            ));
        }
        let path = format!("{}{checkout_id}", clickpesa::QUERY_PATH);
        match self.call("GET", &path, b"") {
            Ok(Reply::Said(status @ (200..=299 | 404), value)) => {
                Ok(clickpesa::parse_status(status, &value, checkout_id))
            }
            Ok(Reply::Said(status @ 500..=599, _)) => {
                Err(GatewayError::Unavailable(format!("HTTP {status}")))
            }
            Ok(Reply::Said(status, value)) => Err(GatewayError::Merchant(format!(
                "ClickPesa refused the query (HTTP {status}): {}",
                value["message"].as_str().unwrap_or("")
            ))),
            Ok(Reply::Failed(e)) => Err(e),
            Err(HttpError::NotSent(m)) => Err(GatewayError::Transport(m)),
            Err(HttpError::NoAnswer(m)) => Err(GatewayError::Unanswered(m)),
        }
    }

    /// The settings (keys hidden) and a token: nobody is prompted.
    fn check(&self) -> Vec<CheckStep> {
        let a = &self.account;
        let mut steps = vec![CheckStep {
            what: "ClickPesa settings".into(),
            ok: true,
            detail: format!(
                "{} at {}; client id {}, API key hidden, checksum key {}",
                if a.base_url.is_some() {
                    "another address"
                } else {
                    "production"
                },
                self.api.base_url,
                crate::core::daraja::mask(&a.client_id),
                if a.checksum_key.is_some() {
                    "set (hidden)"
                } else {
                    "not set"
                },
            ),
        }];
        let started = Instant::now();
        let (ok, detail) = match self.fetch_token() {
            Ok(_) => (
                true,
                format!(
                    "ClickPesa issued a token ({} ms)",
                    started.elapsed().as_millis()
                ),
            ),
            Err(e) => (false, e.to_string()),
        };
        steps.push(CheckStep {
            what: "ClickPesa token".into(),
            ok,
            detail,
        });
        steps
    }
}
