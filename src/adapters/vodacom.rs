//! The Vodacom M-Pesa Tanzania client (Vodacom OpenAPI; docs/vodacom.md) over `https`: the
//! session (asked for with the API key RSA-encrypted with the published key, cached for every
//! thread, asked for again once when Vodacom refuses it), the C2B single-stage push, the
//! transaction status query and the owner's connection check, as a `PaymentGateway`. The
//! protocol is the pure `core::vodacom`. Never logs or returns the API key; a push that was
//! sent and got no clear answer is never sent again: it is pending and the query settles it.
//! Feature `vodacom`.

use std::sync::Arc;
use std::time::Instant;

use crate::adapters::https::{self, HttpError};
use crate::adapters::token_cache::Api;
use crate::core::config::{MpesaEnvironment, Vodacom};
use crate::core::payments::{
    CheckStep, GatewayError, PaymentGateway, StkAccepted, StkOutcome, StkPush,
};
use crate::core::time::Clock;
use crate::core::vodacom::{self, Answer};

/// Vodacom's answer does not say how long a session lasts [UNCERTAIN]; lango takes an hour and
/// renews it 5 minutes early, or at once when Vodacom refuses it (401).
const SESSION_SECS: u64 = 3600;
const SESSION_RENEW_EARLY_SECS: u64 = 300;

/// The single-stage push answers when the customer has entered the PIN, declined or let the
/// prompt time out: it gets this many times the other calls' deadline (20 s: 2 minutes).
const PUSH_TIMEOUT_FACTOR: u32 = 6;

/// The Vodacom client. One per account; shared by every worker thread.
pub struct VodacomMpesa {
    account: Vodacom,
    /// Its address (with the market's path), client, clock and the one cached session id.
    api: Api,
    /// The client for the push, with `PUSH_TIMEOUT_FACTOR` times the deadline.
    push_http: https::Client,
}

/// Random bytes for the RSA padding; `false` when the source fails (no bearer is made).
fn random(buf: &mut [u8]) -> bool {
    crate::core::token::fill(buf).is_ok()
}

/// A fresh id for a request (`input_ThirdPartyConversationID`): 32 hex digits.
fn conversation_id() -> Result<String, GatewayError> {
    let bytes = crate::core::token::random_bytes::<16>()
        .map_err(|e| GatewayError::Transport(format!("no random id: {e}")))?;
    Ok(crate::core::token::hex(&bytes))
}

impl VodacomMpesa {
    pub fn new(
        account: Vodacom,
        base_url: &str,
        http: https::Client,
        clock: Arc<dyn Clock>,
    ) -> VodacomMpesa {
        let base = format!(
            "{}{}",
            base_url.trim_end_matches('/'),
            vodacom::market_path(account.environment)
        );
        VodacomMpesa {
            push_http: http.with_timeout(http.timeout() * PUSH_TIMEOUT_FACTOR),
            api: Api::new(&base, http, clock, SESSION_RENEW_EARLY_SECS),
            account,
        }
    }

    /// Another deadline for the push alone (a test's short one).
    pub fn with_push_timeout(mut self, timeout: std::time::Duration) -> VodacomMpesa {
        self.push_http = self.push_http.with_timeout(timeout);
        self
    }

    fn bearer(&self, secret: &str) -> Result<String, GatewayError> {
        vodacom::bearer(&self.account.public_key, secret, &mut random)
            .map_err(|e| GatewayError::Merchant(format!("Vodacom public_key: {e}")))
    }

    fn fetch_session(&self) -> Result<(String, u64), GatewayError> {
        let auth = self.bearer(&self.account.api_key)?;
        let url = format!("{}{}", self.api.base_url, vodacom::SESSION_PATH);
        let mut headers = vodacom::HEADERS.to_vec();
        headers.push(("Authorization", auth.as_str()));
        let response = self
            .api
            .http
            .send("GET", &url, &headers, b"")
            // Asking for a session twice is harmless.
            .map_err(|e| GatewayError::Transport(e.to_string()))?;
        match vodacom::interpret(response.status, &response.body) {
            Answer::Ok(value) => Ok((vodacom::parse_session(&value)?, SESSION_SECS)),
            Answer::SessionRejected => Err(GatewayError::Merchant(
                "Vodacom refused the API key (401): check api_key, and that public_key is the \
                 one published for this environment"
                    .into(),
            )),
            Answer::Failed(e) => Err(e),
        }
    }

    /// One call with the session; a refused session is renewed and the call made once more
    /// (Vodacom answered 401: it did not act on the request).
    fn call(
        &self,
        http: &https::Client,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Answer, HttpError> {
        let url = format!("{}{path}", self.api.base_url);
        let mut rejected: Option<String> = None;
        for _ in 0..2 {
            let session = match self.api.token(rejected.as_deref(), || self.fetch_session()) {
                Ok(session) => session,
                Err(e) => return Ok(Answer::Failed(e)),
            };
            let auth = match self.bearer(&session) {
                Ok(auth) => auth,
                Err(e) => return Ok(Answer::Failed(e)),
            };
            let mut headers = vodacom::HEADERS.to_vec();
            headers.push(("Authorization", auth.as_str()));
            let response = http.send(method, &url, &headers, body)?;
            match vodacom::interpret(response.status, &response.body) {
                Answer::SessionRejected if rejected.is_none() => {
                    log::info!("Vodacom refused the session; asking for a new one");
                    rejected = Some(session);
                }
                Answer::SessionRejected => {
                    return Ok(Answer::Failed(GatewayError::Merchant(
                        "Vodacom refused a fresh session".into(),
                    )))
                }
                answer => return Ok(answer),
            }
        }
        Ok(Answer::Failed(GatewayError::Unavailable(
            "session refused twice".into(),
        )))
    }

    fn accepted(conversation: String, reference: String) -> StkAccepted {
        StkAccepted {
            checkout_id: conversation,
            merchant_request_id: reference,
        }
    }
}

impl PaymentGateway for VodacomMpesa {
    fn stk_push(&self, push: &StkPush) -> Result<StkAccepted, GatewayError> {
        let conversation = conversation_id()?;
        // Unique per attempt, at most 20 characters: `LG` and 18 of the conversation id.
        let reference = format!("LG{}", &conversation[..18]).to_ascii_uppercase();
        let description: String = push.description.chars().take(60).collect();
        let body = vodacom::push_body(
            &push.phone,
            push.amount_major,
            &self.account.service_provider_code,
            &conversation,
            &reference,
            &description,
        );
        let answer = self.call(
            &self.push_http,
            "POST",
            vodacom::PUSH_PATH,
            body.to_string().as_bytes(),
        );
        match answer {
            Ok(Answer::Ok(value)) => {
                vodacom::parse_push(&value)?;
                Ok(VodacomMpesa::accepted(conversation, reference))
            }
            // Nothing was sent: safe to send again later.
            Err(HttpError::NotSent(m)) => Err(GatewayError::Transport(m)),
            // Sent, and no clear answer (lost, 5xx): the customer may be paying. Never sent
            // again; the query by lango's conversation id settles it.
            Err(HttpError::NoAnswer(m)) => {
                log::warn!("Vodacom push {conversation}: no answer ({m}); asking by query");
                Ok(VodacomMpesa::accepted(conversation, reference))
            }
            Ok(Answer::Failed(GatewayError::Unavailable(m))) => {
                log::warn!("Vodacom push {conversation}: {m}; asking by query");
                Ok(VodacomMpesa::accepted(conversation, reference))
            }
            Ok(Answer::Failed(e)) => Err(e),
            Ok(Answer::SessionRejected) => {
                Err(GatewayError::Merchant("Vodacom refused the session".into()))
            }
        }
    }

    fn stk_query(&self, checkout_id: &str) -> Result<StkOutcome, GatewayError> {
        let path = vodacom::query_path(
            checkout_id,
            &self.account.service_provider_code,
            &conversation_id()?,
        );
        match self.call(&self.api.http, "GET", &path, b"") {
            Ok(Answer::Ok(value)) => Ok(vodacom::parse_status(&value)),
            Ok(Answer::Failed(e)) => Err(e),
            Ok(Answer::SessionRejected) => {
                Err(GatewayError::Merchant("Vodacom refused the session".into()))
            }
            Err(HttpError::NotSent(m)) => Err(GatewayError::Transport(m)),
            Err(HttpError::NoAnswer(m)) => Err(GatewayError::Unanswered(m)),
        }
    }

    /// The settings (API key hidden) and a session: nobody is prompted.
    fn check(&self) -> Vec<CheckStep> {
        let a = &self.account;
        let mut steps = vec![CheckStep {
            what: "Vodacom M-Pesa settings".into(),
            ok: true,
            detail: format!(
                "{} at {}, service provider code {}, public key of {} bits; API key hidden",
                if a.environment == MpesaEnvironment::Production {
                    "production"
                } else {
                    "sandbox or simulator"
                },
                self.api.base_url,
                a.service_provider_code,
                a.public_key.bits(),
            ),
        }];
        let started = Instant::now();
        let (ok, detail) = match self.fetch_session() {
            Ok(_) => (
                true,
                format!(
                    "Vodacom issued a session ({} ms)",
                    started.elapsed().as_millis()
                ),
            ),
            Err(e) => (false, e.to_string()),
        };
        steps.push(CheckStep {
            what: "Vodacom M-Pesa session".into(),
            ok,
            detail,
        });
        steps
    }
}
