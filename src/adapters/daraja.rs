//! The Daraja client (M-Pesa Express / STK Push) over `https`: the OAuth token cache, STK Push
//! for PayBill and Buy Goods, STK Push Query, Pull Transactions, Dynamic QR, and the owner's
//! connection check. The protocol itself (request builders, response classifiers, the
//! callback's parser) is the pure `core::daraja`. Never logs or returns a secret; never retries
//! a push whose answer was lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::adapters::https::{self, HttpError};
use crate::adapters::token_cache::Api;
use crate::core::config::{Mpesa, MpesaKind};
use crate::core::daraja::pull::{self, PullTxn};
#[cfg(feature = "mpesa-qr")]
use crate::core::daraja::qr::{self, QrRequest};
use crate::core::daraja::{
    environment_name, error_envelope, hidden, interpret, mask, parse_push_ack, parse_query_result,
    parse_token, party_b, push_body, query_body, Answer, Failure, Who, OAUTH_PATH, PUSH_PATH,
    QUERY_PATH,
};
use crate::core::payments::{
    CheckStep, GatewayError, PaymentGateway, StkAccepted, StkOutcome, StkPush,
};
use crate::core::time::{daraja_timestamp, Clock};

/// Each Daraja call must finish within this (connect, TLS, request, answer). A push can take a
/// few seconds at Safaricom's end; a query is quick.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// A token is renewed this long before Daraja says it expires (docs/daraja.md, Access token: 3599 s).
const TOKEN_RENEW_EARLY_SECS: u64 = 300;

/// The Daraja client. One per M-Pesa account; shared by every worker thread.
pub struct Daraja {
    account: Mpesa,
    /// Its address, client and clock, and one shared token: Daraja may invalidate the previous
    /// token when it issues a new one (docs/daraja.md, Access token), so concurrent workers must
    /// not each fetch their own. Held while a token is fetched (bounded by the call timeout),
    /// never while a push or query is in flight.
    api: Api,
}

impl Daraja {
    pub fn new(
        account: Mpesa,
        base_url: &str,
        http: https::Client,
        clock: Arc<dyn Clock>,
    ) -> Daraja {
        Daraja {
            account,
            api: Api::new(base_url, http, clock, TOKEN_RENEW_EARLY_SECS),
        }
    }

    fn who(&self) -> Who<'_> {
        Who {
            shortcode: &self.account.shortcode,
            till: self.account.kind == MpesaKind::Till,
        }
    }

    /// A valid token: the cached one, or a fresh one. `rejected` is a token Daraja just refused;
    /// a fresh one is fetched unless another thread already replaced it.
    fn token(&self, rejected: Option<&str>) -> Result<String, GatewayError> {
        self.api.token(rejected, || self.fetch_token())
    }

    fn fetch_token(&self) -> Result<(String, u64), GatewayError> {
        let credentials = crate::core::base64::encode(
            format!(
                "{}:{}",
                self.account.consumer_key, self.account.consumer_secret
            )
            .as_bytes(),
        );
        let auth = format!("Basic {credentials}");
        let url = format!("{}{OAUTH_PATH}", self.api.base_url);
        let response = self
            .api
            .http
            .send("GET", &url, &[("Authorization", &auth)], b"")
            // Asking for a token twice is harmless: an unanswered token request is retryable.
            .map_err(|e| GatewayError::Transport(e.to_string()))?;
        if response.status == 200 {
            return parse_token(&response.body).map_err(GatewayError::Unavailable);
        }
        match error_envelope(&response.body) {
            Some((code, message)) if response.status < 500 => Err(GatewayError::Merchant(format!(
                "Daraja refused the consumer key and secret ({code} {message}): check \
                     consumer_key and consumer_secret, and that they belong to the {} app",
                environment_name(self.account.environment)
            ))),
            _ if response.status < 500 => Err(GatewayError::Merchant(format!(
                "Daraja refused the consumer key and secret (HTTP {}): check consumer_key and \
                 consumer_secret",
                response.status
            ))),
            _ => Err(GatewayError::Unavailable(format!(
                "token: HTTP {}",
                response.status
            ))),
        }
    }

    /// POSTs a JSON body with the bearer token; a refused token is renewed and the call made
    /// once more (docs/daraja.md, Access token).
    fn post(&self, path: &str, body: &Value) -> Result<Answer, GatewayError> {
        let url = format!("{}{path}", self.api.base_url);
        let bytes = body.to_string().into_bytes();
        let mut rejected: Option<String> = None;
        for _ in 0..2 {
            let token = self.token(rejected.as_deref())?;
            let auth = format!("Bearer {token}");
            let headers = [
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/json"),
                ("Accept", "application/json"),
            ];
            let response =
                self.api
                    .http
                    .send("POST", &url, &headers, &bytes)
                    .map_err(|e| match e {
                        HttpError::NotSent(m) => GatewayError::Transport(m),
                        HttpError::NoAnswer(m) => GatewayError::Unanswered(m),
                    })?;
            match interpret(response.status, &response.body, self.who()) {
                Answer::Failure(Failure::TokenRejected(message)) if rejected.is_none() => {
                    log::info!("Daraja refused the access token ({message}); renewing it");
                    rejected = Some(token);
                }
                Answer::Failure(Failure::TokenRejected(message)) => {
                    return Err(GatewayError::Merchant(format!(
                        "Daraja refused a fresh access token ({message}): check that the app \
                         has the M-Pesa Express product and that the keys are for the {} \
                         environment",
                        environment_name(self.account.environment)
                    )))
                }
                answer => return Ok(answer),
            }
        }
        Err(GatewayError::Unavailable("token refused twice".into()))
    }

    fn query_answer(&self, checkout_id: &str) -> Result<Answer, GatewayError> {
        let timestamp = daraja_timestamp(self.api.clock.now());
        let body = query_body(&self.account, checkout_id, &timestamp);
        self.post(QUERY_PATH, &body)
    }
}

impl PaymentGateway for Daraja {
    fn stk_push(&self, push: &StkPush) -> Result<StkAccepted, GatewayError> {
        let timestamp = daraja_timestamp(self.api.clock.now());
        let body = push_body(&self.account, push, &timestamp);
        match self.post(PUSH_PATH, &body)? {
            Answer::Ok(value) => parse_push_ack(&value),
            Answer::Failure(failure) => Err(failure.into_gateway_error()),
        }
    }

    fn stk_query(&self, checkout_id: &str) -> Result<StkOutcome, GatewayError> {
        match self.query_answer(checkout_id)? {
            Answer::Ok(value) => parse_query_result(&value),
            Answer::Failure(Failure::BeingProcessed) => Ok(StkOutcome::Pending),
            Answer::Failure(failure) => Err(failure.into_gateway_error()),
        }
    }

    fn pull_register(&self, nominated: &str, callback_url: &str) -> Result<(), GatewayError> {
        let body = pull::register_body(&self.account.shortcode, nominated, callback_url);
        match self.post(pull::PULL_REGISTER_PATH, &body)? {
            Answer::Ok(value) => pull::parse_register(&value),
            Answer::Failure(failure) => Err(failure.into_gateway_error()),
        }
    }

    /// The query names the shortcode (for Buy Goods, the store number the till is under).
    fn pull_query(&self, offset: u32) -> Result<Vec<PullTxn>, GatewayError> {
        let body = pull::query_body(&self.account.shortcode, self.api.clock.now(), offset);
        match self.post(pull::PULL_QUERY_PATH, &body)? {
            Answer::Ok(value) => pull::parse_query(&value),
            Answer::Failure(failure) => Err(failure.into_gateway_error()),
        }
    }

    #[cfg(feature = "mpesa-qr")]
    fn qr_generate(&self, qr: &QrRequest) -> Result<String, GatewayError> {
        match self.post(qr::QR_PATH, &qr::generate_body(qr))? {
            Answer::Ok(value) => qr::parse_generate(&value),
            Answer::Failure(failure) => Err(failure.into_gateway_error()),
        }
    }

    fn check(&self) -> Vec<CheckStep> {
        check(self)
    }
}

/// The owner's "Test M-Pesa connection": what is configured (secrets masked), a token, then a
/// query for a made-up checkout, which makes Daraja check the shortcode and the password
/// (shortcode + passkey) without prompting anyone. Stops at the first failing step.
fn check(daraja: &Daraja) -> Vec<CheckStep> {
    let account = &daraja.account;
    let mut steps = Vec::new();
    let step = |steps: &mut Vec<CheckStep>, what: &str, ok: bool, detail: String| {
        steps.push(CheckStep {
            what: what.into(),
            ok,
            detail,
        });
    };
    step(
        &mut steps,
        "settings",
        true,
        format!(
            "{} at {}; {}, shortcode {}, money goes to {}; consumer key {}, consumer secret {}, \
             passkey {}",
            environment_name(account.environment),
            daraja.api.base_url,
            match account.kind {
                MpesaKind::PayBill => "PayBill",
                MpesaKind::Till => "Buy Goods (till)",
            },
            account.shortcode,
            party_b(account),
            mask(&account.consumer_key),
            hidden(&account.consumer_secret),
            hidden(&account.passkey),
        ),
    );
    if account.kind == MpesaKind::Till && account.till.as_deref() == Some(&account.shortcode) {
        step(
            &mut steps,
            "till or PayBill",
            false,
            "the till number is also set as the shortcode. For Buy Goods, shortcode is the \
             store (head office) number the passkey was issued for, and the till goes in \
             option till"
                .into(),
        );
        return steps;
    }
    let started = Instant::now();
    match daraja.fetch_token() {
        Ok((_, expires_in)) => step(
            &mut steps,
            "access token",
            true,
            format!(
                "Daraja issued a token valid for {expires_in} s ({} ms)",
                started.elapsed().as_millis()
            ),
        ),
        Err(e) => {
            step(&mut steps, "access token", false, e.to_string());
            return steps;
        }
    }
    let probe = format!(
        "ws_CO_{}000000000000",
        &daraja_timestamp(daraja.api.clock.now())
    );
    let (ok, detail) = match daraja.query_answer(&probe) {
        Ok(Answer::Ok(_))
        | Ok(Answer::Failure(Failure::BeingProcessed))
        | Ok(Answer::Failure(Failure::Gateway(GatewayError::Refused { .. }))) => (
            true,
            format!(
                "Daraja accepted shortcode {} with this passkey (a test query for a made-up \
                 checkout was answered as unknown, as expected)",
                account.shortcode
            ),
        ),
        Ok(Answer::Failure(failure)) => (false, failure.into_gateway_error().to_string()),
        Err(e) => (false, e.to_string()),
    };
    step(&mut steps, "shortcode and passkey", ok, detail);
    if ok && account.kind == MpesaKind::PayBill {
        step(
            &mut steps,
            "till or PayBill",
            true,
            "PayBill: money goes to the shortcode. If it is really a Buy Goods till, M-Pesa \
             will refuse every payment: choose Buy Goods till as the account type"
                .into(),
        );
    }
    steps
}
