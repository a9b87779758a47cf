//! Mixx by Yas and HaloPesa through ClickPesa end to end (issue 18; docs/tz-aggregator.md):
//! lango's ClickPesa client, built from `config clickpesa` with a checksum key and a CA bundle
//! written at run time, over HTTPS (rustls) against the ClickPesa simulator on 127.0.0.1 served
//! by the Daraja simulator's server; its signed webhooks POSTed to the real portal listener;
//! purchases through `App::start_purchase` and the worker's jobs (`run_due`); one manual clock
//! for both sides. Each test checks the payment's state and the grants.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use lango::adapters::clickpesa::ClickPesaClient;
use lango::adapters::clickpesa_sim::{ClickPesaSim, Fate};
use lango::adapters::simulator::SimServer;
use lango::adapters::testing::ManualClock;
use lango::app::mpesa::CALLBACK_PREFIX;
use lango::app::PurchaseError;
use lango::core::clickpesa::sim::ClickPesaSimSettings;
use lango::core::config::{ClickPesa, MpesaEnvironment};
use lango::core::payments::{
    Decline, GatewayError, PaymentGateway, PaymentState, StkOutcome, StkPush,
};
use lango::core::provider::Provider;

use crate::payments::{serve_over_tls, test_ca};
use crate::support::{demo_config, eventually, guest, http, TempDir, T0};
use crate::wallet::Lango;

/// A Mixx by Yas number that pays; `…0006` has no money, `…0005` cancels, `…0009` never
/// answers (`core::clickpesa::sim::fate_of`).
const PHONE: &str = "0654 123 456";
const HALOPESA: &str = "0621 234 567";
const CLIENT_ID: &str = "IDclickpesa-client";
const API_KEY: &str = "SKclickpesa-api-key-never-shown";
const CHECKSUM_KEY: &str = "CHKclickpesa-checksum-key";

struct ClickPesaEnv {
    lango: Lango,
    sim: Arc<ClickPesaSim>,
    _server: SimServer,
    portal: SocketAddr,
    root: rustls::pki_types::CertificateDer<'static>,
}

impl std::ops::Deref for ClickPesaEnv {
    type Target = Lango;
    fn deref(&self) -> &Lango {
        &self.lango
    }
}

impl ClickPesaEnv {
    /// The simulated customer answers after 2 s.
    fn new() -> ClickPesaEnv {
        ClickPesaEnv::with(2)
    }

    fn with(answer_secs: i64) -> ClickPesaEnv {
        let ca = test_ca("lango clickpesa test CA");
        let dir = TempDir::new("clickpesa");
        let ca_bundle = Lango::ca_bundle(&dir, &ca);
        let settings = ClickPesaSimSettings {
            client_id: CLIENT_ID.into(),
            api_key: API_KEY.into(),
            checksum_key: Some(CHECKSUM_KEY.into()),
            token_secs: 3600,
            answer_secs,
            prompt_secs: 60,
            callback_url: None,
        };
        let clock = Arc::new(ManualClock::new(T0));
        let sim = Arc::new(ClickPesaSim::new(clock.clone(), settings));
        let (server, slot, portal) = serve_over_tls(sim.clone(), &ca);
        let mut config = demo_config();
        config.mpesa = None;
        config.gateway.currency = "TZS".into();
        config.clickpesa = Some(ClickPesa {
            enabled: true,
            client_id: CLIENT_ID.into(),
            api_key: API_KEY.into(),
            checksum_key: Some(CHECKSUM_KEY.into()),
            environment: MpesaEnvironment::Production,
            base_url: Some(server.url(true)),
            ca_bundle: Some(ca_bundle),
        });
        let env = ClickPesaEnv {
            lango: Lango::new(clock, slot, config, dir),
            sim,
            _server: server,
            portal,
            root: ca.root.clone(),
        };
        env.start();
        env
    }

    /// Starts lango on the store file (kept across a kill); ClickPesa's webhooks go to it.
    fn start(&self) {
        self.lango.start();
        let secret = self.app().callback_secret().unwrap();
        let url = format!("http://{}{CALLBACK_PREFIX}{secret}", self.portal);
        self.sim.set_callback_url(Some(url));
    }

    fn post_webhook(&self, body: &str) -> u16 {
        let path = format!("{CALLBACK_PREFIX}{}", self.app().callback_secret().unwrap());
        let headers = [("Content-Type", "application/json")];
        http(self.portal, "POST", &path, &headers, body).status
    }

    /// A client of lango's own, with a deadline of `timeout` for every call.
    fn client(&self, timeout: Duration) -> ClickPesaClient {
        let tls = lango::adapters::https::tls_config(vec![self.root.clone()]).unwrap();
        let http = lango::adapters::https::Client::new(Some(tls), timeout);
        let account = self.config.clickpesa.clone().unwrap();
        let url = account.base_url.clone().unwrap();
        ClickPesaClient::new(account, &url, http, self.clock.clone())
    }
}

/// A `PAYMENT RECEIVED` webhook for `reference`, signed with `key` (none: unsigned).
fn received(reference: &str, key: Option<&str>) -> String {
    let mut body = serde_json::json!({"event": "PAYMENT RECEIVED", "data": {
        "paymentId": "CPFORGED", "orderReference": reference, "amount": "20.00",
        "currency": "TZS", "status": "SUCCESS"}});
    if let Some(key) = key {
        body["checksum"] = lango::core::clickpesa::checksum(key, &body).into();
    }
    body.to_string()
}

#[test]
fn clickpesa_success_grants_once_with_the_wallets_reference() {
    let env = ClickPesaEnv::new();
    let pending = env.buy(1, PHONE);
    assert_eq!(pending.state, PaymentState::Pending, "{pending:?}");
    assert_eq!(pending.provider(), Provider::ClickPesa);
    assert_eq!(pending.phone.to_string(), "255654123456");
    let txns = env.sim.txns();
    assert_eq!(txns.len(), 1);
    // Whole shillings, the price of the hour package; Mixx by Yas is ClickPesa's TIGO-PESA.
    let sent = (txns[0].phone.as_str(), txns[0].amount, txns[0].channel);
    assert_eq!(sent, ("255654123456", 20, "TIGO-PESA"));
    assert_eq!(
        pending.checkout_id.as_deref(),
        Some(txns[0].order_reference.as_str())
    );
    let paid = env.settle(pending.id);
    assert_eq!(paid.state, PaymentState::Paid, "{paid:?}");
    assert_eq!(
        paid.receipt.as_deref(),
        Some(txns[0].payment_reference.as_str())
    );
    assert_eq!(env.sessions(), 1);
    assert_eq!(env.sim.refused_tokens(), 0);
    assert_eq!(env.sim.tokens_issued(), 1);
    // A HaloPesa number goes through the same application.
    let halo = env.settle(env.buy(2, HALOPESA).id);
    assert_eq!(halo.state, PaymentState::Paid, "{halo:?}");
    assert_eq!(env.sim.txns()[1].channel, "HALOPESA");
    assert_eq!(env.sessions(), 2);
    assert_eq!(env.sim.tokens_issued(), 1, "the token is kept for its hour");
}

#[test]
fn clickpesa_decline_and_insufficient_funds() {
    let env = ClickPesaEnv::new();
    let broke = env.settle(env.buy(1, "0654 120 006").id);
    let want = (PaymentState::Failed, Some(Decline::InsufficientFunds));
    assert_eq!((broke.state, broke.decline), want, "{broke:?}");
    let cancelled = env.settle(env.buy(2, "0654 120 005").id);
    let want = (PaymentState::Cancelled, Some(Decline::Cancelled));
    assert_eq!((cancelled.state, cancelled.decline), want, "{cancelled:?}");
    env.sim
        .faults(|f| f.next = Some(Fate::Fail("Transaction failed")));
    let failed = env.settle(env.buy(3, PHONE).id);
    let want = (PaymentState::Failed, Some(Decline::Other));
    assert_eq!((failed.state, failed.decline), want, "{failed:?}");
    assert_eq!(env.sessions(), 0);
}

#[test]
fn clickpesa_timeout_expires() {
    let env = ClickPesaEnv::new();
    let p = env.buy(1, "0654 120 009");
    assert_eq!(p.state, PaymentState::Pending, "{p:?}");
    let expired = env.settle(p.id);
    let want = (PaymentState::Expired, Some(Decline::TimedOut));
    assert_eq!((expired.state, expired.decline), want, "{expired:?}");
    assert_eq!(env.sessions(), 0);
}

#[test]
fn clickpesa_server_error_then_pending_then_success_pushes_once() {
    let env = ClickPesaEnv::new();
    env.sim.faults(|f| {
        f.internal_error = true;
        f.pending = 3;
    });
    // HTTP 500 on the push: the customer may be paying; never pushed again, asked instead.
    let p = env.buy(1, PHONE);
    assert_eq!(p.state, PaymentState::Pending, "{p:?}");
    let paid = env.settle(p.id);
    assert_eq!(paid.state, PaymentState::Paid, "{paid:?}");
    assert_eq!(env.sim.txns().len(), 1, "one prompt");
    assert_eq!(env.sessions(), 1);
}

#[test]
fn clickpesa_rate_limit_backs_off_and_still_pays() {
    let env = ClickPesaEnv::new();
    let p = env.buy(1, PHONE);
    env.sim.faults(|f| f.rate_limit = 3);
    let paid = env.settle(p.id);
    assert_eq!(paid.state, PaymentState::Paid, "{paid:?}");
    assert_eq!(env.sim.throttled(), 3);
    assert_eq!(env.sim.txns().len(), 1);
    // ClickPesa's own lane backed off 2, 4 and 8 s after its 429s (queried on the poll
    // schedule alone, it would have been paid at 15 s).
    let waited = paid.updated_at - p.created_at;
    assert!(waited > 16, "paid after {waited} s");
}

#[test]
fn clickpesa_amount_below_price_is_refused() {
    let env = ClickPesaEnv::new();
    env.sim.faults(|f| f.next = Some(Fate::PayShort(10)));
    let p = env.settle(env.buy(1, PHONE).id);
    assert_eq!(p.state, PaymentState::Failed, "{p:?}");
    assert!(p.receipt.is_none(), "{p:?}");
    assert_eq!(env.sessions(), 0);
}

#[test]
fn clickpesa_forged_duplicate_and_late_webhooks_grant_once() {
    // The customer answers after 200 s, when lango has called the prompt expired.
    let env = ClickPesaEnv::with(200);
    let p = env.buy(1, PHONE);
    let reference = p.checkout_id.clone().unwrap();
    // Forged: unsigned, and signed with another key. Not even a hint: no query is made for it.
    let before = env.sim.queries();
    assert_eq!(env.post_webhook(&received(&reference, None)), 200);
    assert_eq!(
        env.post_webhook(&received(&reference, Some("not-the-key"))),
        200
    );
    env.app().run_due();
    assert_eq!(env.payment(p.id).state, PaymentState::Pending);
    assert_eq!(env.sim.queries(), before, "no query for a forged webhook");
    // Rightly signed but untrue (ClickPesa says processing): a hint, never a grant.
    assert_eq!(
        env.post_webhook(&received(&reference, Some(CHECKSUM_KEY))),
        200
    );
    env.app().run_due();
    assert_eq!(env.payment(p.id).state, PaymentState::Pending);
    // For an order lango never started: nothing.
    let other = received("LGNOTOURS", Some(CHECKSUM_KEY));
    assert_eq!(env.post_webhook(&other), 200);
    assert_eq!(env.sessions(), 0);
    let expired = env.settle(p.id);
    assert_eq!(expired.state, PaymentState::Expired, "{expired:?}");
    // The customer pays late; ClickPesa's signed webhook makes lango ask again.
    env.clock.advance(30);
    eventually("the late webhook", || {
        env.app().run_due();
        env.payment(p.id).state == PaymentState::Paid
    });
    let paid = env.payment(p.id);
    assert_eq!(
        paid.receipt.as_deref(),
        Some(env.sim.txns()[0].payment_reference.as_str())
    );
    // The same webhook again: nothing more.
    assert_eq!(
        env.post_webhook(&received(&reference, Some(CHECKSUM_KEY))),
        200
    );
    env.advance(5);
    assert_eq!(env.payment(p.id).state, PaymentState::Paid);
    assert_eq!(env.sessions(), 1);
}

#[test]
fn clickpesa_kill_between_push_and_confirmation_grants_once() {
    let env = ClickPesaEnv::with(30);
    // No webhook: only the restarted lango's own queries can settle it.
    env.sim.set_callback_url(None);
    let p = env.buy(1, PHONE);
    assert_eq!(p.state, PaymentState::Pending);
    env.kill();
    env.clock.advance(40);
    env.lango.start();
    let paid = env.settle(p.id);
    assert_eq!(paid.state, PaymentState::Paid, "{paid:?}");
    assert_eq!(paid.provider(), Provider::ClickPesa);
    assert_eq!(env.sim.txns().len(), 1, "the push was not sent again");
    assert_eq!(env.sessions(), 1);
    // The restarted lango asked for a token of its own (the cache is in RAM).
    assert_eq!(env.sim.tokens_issued(), 2);
}

#[test]
fn clickpesa_token_expiry_mid_flow_is_renewed_once() {
    let env = ClickPesaEnv::with(20);
    let p = env.buy(1, PHONE);
    env.sim.expire_tokens();
    let paid = env.settle(p.id);
    assert_eq!(paid.state, PaymentState::Paid, "{paid:?}");
    // The refused token (one 401), then a new one, at the first query.
    assert_eq!(env.sim.refused_tokens(), 1);
    assert_eq!(env.sim.tokens_issued(), 2);
    assert!(
        paid.updated_at - p.created_at < 40,
        "{}",
        paid.updated_at - p.created_at
    );
}

fn push(phone: &str) -> StkPush {
    StkPush {
        phone: lango::core::clickpesa::msisdn(phone).unwrap(),
        amount_major: 20,
        account_reference: "WiFi".into(),
        description: "WiFi".into(),
        callback_url: String::new(),
    }
}

#[test]
fn clickpesa_push_without_an_answer_is_queried_never_sent_again() {
    let env = ClickPesaEnv::new();
    let client = env.client(Duration::from_secs(1));
    env.sim.faults(|f| f.stall_push_secs = 3);
    let accepted = client.stk_push(&push(PHONE)).expect("pending, not lost");
    let txns = env.sim.txns();
    assert_eq!(txns.len(), 1);
    assert_eq!(accepted.checkout_id, txns[0].order_reference);
    // The query by lango's own order reference finds it once the customer has answered.
    env.clock.advance(5);
    let outcome = client.stk_query(&accepted.checkout_id).unwrap();
    assert!(matches!(outcome, StkOutcome::Paid { .. }), "{outcome:?}");
    assert_eq!(env.sim.txns().len(), 1);
}

#[test]
fn clickpesa_wrong_api_key_is_refused_and_nobody_prompted() {
    let env = ClickPesaEnv::new();
    let mut account = env.config.clickpesa.clone().unwrap();
    account.api_key = "SKanother-key".into();
    let tls = lango::adapters::https::tls_config(vec![env.root.clone()]).unwrap();
    let http = lango::adapters::https::Client::new(Some(tls), Duration::from_secs(5));
    let url = account.base_url.clone().unwrap();
    let client = ClickPesaClient::new(account, &url, http, env.clock.clone());
    let answer = client.stk_push(&push(PHONE));
    assert!(
        matches!(answer, Err(GatewayError::Merchant(_))),
        "{answer:?}"
    );
    assert!(env.sim.txns().is_empty(), "nobody was prompted");
    let steps = client.check();
    assert!(!steps[1].ok, "{}", steps[1].detail);
    let words: String = steps.iter().map(|s| s.detail.clone()).collect();
    assert!(
        !words.contains("SKanother") && !words.contains(CHECKSUM_KEY),
        "{words}"
    );
    // The right key: a token, still nobody prompted.
    assert!(env.client(Duration::from_secs(5)).check()[1].ok);
    assert!(env.sim.txns().is_empty());
}

#[test]
fn clickpesa_portal_names_the_wallet_and_refuses_other_networks() {
    let env = ClickPesaEnv::new();
    env.neighbours
        .insert("127.0.0.1".parse().unwrap(), guest(6).1);
    let page = http(env.portal, "GET", "/", &[], "");
    assert!(
        page.body.contains("Mixx by Yas or HaloPesa phone number"),
        "{}",
        page.body
    );
    let p = env.buy(1, HALOPESA);
    let waiting = http(env.portal, "GET", &format!("/pay/{}", p.token), &[], "");
    assert!(
        waiting.body.contains("0621 234 567 · HaloPesa"),
        "{}",
        waiting.body
    );
    // A Vodacom number (075…) is not one ClickPesa takes for lango.
    match env.app().start_purchase(guest(2).0, "hour", "0754 123 456") {
        Err(PurchaseError::BadPhone(why)) => {
            assert!(why.contains("not a Mixx by Yas or HaloPesa"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(env.sim.txns().len(), 1);
}

/// Issue 18: the waiting page shows a Tanzanian number as the guest writes it, and names the
/// number's own wallet.
#[test]
fn clickpesa_waiting_page_shows_the_number_in_local_format() {
    let env = ClickPesaEnv::new();
    let p = env.buy(1, PHONE);
    let waiting = http(env.portal, "GET", &format!("/pay/{}", p.token), &[], "");
    assert!(
        waiting.body.contains("0654 123 456 · Mixx by Yas"),
        "{}",
        waiting.body
    );
    assert!(!waiting.body.contains("255654123456"), "{}", waiting.body);
}
