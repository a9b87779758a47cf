//! Airtel Money end to end (issue 18): lango's Airtel client, built from `config airtel` with
//! a CA bundle written at run time, over HTTPS (rustls) against the Airtel simulator on
//! 127.0.0.1 served by the Daraja simulator's server; callbacks POSTed to the real portal
//! listener; purchases through `App::start_purchase` and the worker's jobs (`run_due`); one
//! manual clock for both sides. Each test checks the payment's state and the grants.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use lango::adapters::airtel::AirtelMoney;
use lango::adapters::airtel_sim::{AirtelSim, Fate};
use lango::adapters::simulator::SimServer;
use lango::adapters::testing::ManualClock;
use lango::app::mpesa::CALLBACK_PREFIX;
use lango::app::PurchaseError;
use lango::core::airtel::sim::AirtelSimSettings;
use lango::core::config::{Airtel, Country, MpesaEnvironment};
use lango::core::model::Phone;
use lango::core::payments::{Decline, GatewayError, PaymentGateway, PaymentState, StkPush};
use lango::core::provider::Provider;

use crate::payments::{serve_over_tls, test_ca};
use crate::support::{demo_config, eventually, guest, http, TempDir, T0};
use crate::wallet::Lango;

/// An Airtel Kenya number that pays; `…0002` types a wrong PIN, `…0007` has no money,
/// `…0024` never answers (`core::airtel::sim::fate_of`).
const PHONE: &str = "0733 123 456";

struct AirtelEnv {
    lango: Lango,
    sim: Arc<AirtelSim>,
    _server: SimServer,
    portal: SocketAddr,
    /// The test CA's root, for a client made here.
    root: rustls::pki_types::CertificateDer<'static>,
}

impl std::ops::Deref for AirtelEnv {
    type Target = Lango;
    fn deref(&self) -> &Lango {
        &self.lango
    }
}

impl AirtelEnv {
    fn new() -> AirtelEnv {
        AirtelEnv::with(2)
    }

    /// The simulated customer answers after `answer_secs`.
    fn with(answer_secs: i64) -> AirtelEnv {
        AirtelEnv::build(answer_secs, false)
    }

    /// With M-Pesa too (the demo's account, served by the in-process Daraja simulator).
    fn build(answer_secs: i64, mpesa: bool) -> AirtelEnv {
        AirtelEnv::build_with(answer_secs, mpesa, None)
    }

    /// `signing`: lango signs its pushes (v2) with this public key.
    fn build_with(
        answer_secs: i64,
        mpesa: bool,
        signing: Option<lango::core::rsa::PublicKey>,
    ) -> AirtelEnv {
        let ca = test_ca("lango airtel test CA");
        let dir = TempDir::new("airtel");
        let ca_bundle = Lango::ca_bundle(&dir, &ca);
        let mut config = demo_config();
        if !mpesa {
            config.mpesa = None;
        }
        let settings = AirtelSimSettings {
            client_id: "airtel-client-id".into(),
            client_secret: "airtel-secret-never-shown".into(),
            country: Country::Kenya,
            token_secs: 180,
            answer_secs,
            prompt_secs: 60,
            callback_url: None,
        };
        let clock = Arc::new(ManualClock::new(T0));
        let sim = Arc::new(AirtelSim::new(clock.clone(), settings));
        let (server, slot, portal) = serve_over_tls(sim.clone(), &ca);
        config.airtel = Some(Airtel {
            enabled: true,
            client_id: "airtel-client-id".into(),
            client_secret: "airtel-secret-never-shown".into(),
            country: Country::Kenya,
            environment: MpesaEnvironment::Sandbox,
            base_url: Some(server.url(true)),
            ca_bundle: Some(ca_bundle),
            signing,
        });
        let env = AirtelEnv {
            lango: Lango::new(clock, slot, config, dir),
            sim,
            _server: server,
            portal,
            root: ca.root.clone(),
        };
        env.start();
        env
    }

    /// Starts lango on the store file (kept across a kill); Airtel's callbacks go to it.
    fn start(&self) {
        self.lango.start();
        let secret = self.app().callback_secret().unwrap();
        let url = format!("http://{}{CALLBACK_PREFIX}{secret}", self.portal);
        self.sim.set_callback_url(Some(url));
    }

    fn post_callback(&self, body: &str) -> u16 {
        let path = format!("{CALLBACK_PREFIX}{}", self.app().callback_secret().unwrap());
        let headers = [("Content-Type", "application/json")];
        http(self.portal, "POST", &path, &headers, body).status
    }
}

fn callback(id: &str, status: &str, money_id: &str) -> String {
    format!(
        r#"{{"transaction":{{"id":"{id}","message":"m","status_code":"{status}","airtel_money_id":"{money_id}"}}}}"#
    )
}

#[test]
fn airtel_success_grants_once_with_the_airtel_money_id() {
    let env = AirtelEnv::new();
    let pending = env.buy(1, PHONE);
    assert_eq!(pending.state, PaymentState::Pending, "{pending:?}");
    assert_eq!(pending.provider(), Provider::Airtel);
    assert_eq!(pending.phone.to_string(), "254733123456");
    let txns = env.sim.txns();
    assert_eq!(txns.len(), 1);
    assert_eq!((txns[0].msisdn.as_str(), txns[0].amount), ("733123456", 20));
    assert_eq!(pending.checkout_id.as_deref(), Some(txns[0].id.as_str()));
    let paid = env.settle(pending.id);
    assert_eq!(paid.state, PaymentState::Paid, "{paid:?}");
    assert_eq!(
        paid.receipt.as_deref(),
        Some(txns[0].airtel_money_id.as_str())
    );
    assert_eq!(env.sessions(), 1);
}

#[test]
fn airtel_wrong_pin_and_insufficient_funds_decline() {
    let env = AirtelEnv::new();
    let wrong = env.buy(1, "0733 120 002");
    let wrong = env.settle(wrong.id);
    assert_eq!(
        (wrong.state, wrong.decline),
        (PaymentState::Failed, Some(Decline::WrongPin))
    );
    let broke = env.buy(2, "0733 120 007");
    let broke = env.settle(broke.id);
    let want = (PaymentState::Failed, Some(Decline::InsufficientFunds));
    assert_eq!((broke.state, broke.decline), want);
    assert_eq!(broke.result_code, Some(800_001_007));
    assert_eq!(env.sessions(), 0);
}

#[test]
fn airtel_declined_by_switch_and_timeout() {
    let env = AirtelEnv::new();
    env.sim
        .faults(|f| f.next = Some(Fate::Fail("DP00800001008")));
    let refused = env.settle(env.buy(1, PHONE).id);
    assert_eq!(refused.state, PaymentState::Failed);
    let silent = env.settle(env.buy(2, "0733 120 024").id);
    let want = (PaymentState::Expired, Some(Decline::TimedOut));
    assert_eq!((silent.state, silent.decline), want, "{silent:?}");
    assert_eq!(env.sessions(), 0);
}

#[test]
fn airtel_ambiguous_then_success_and_rate_limit() {
    let env = AirtelEnv::new();
    env.sim.faults(|f| {
        f.ambiguous = 2;
        f.rate_limit = 1;
    });
    // The push meets the rate limit: Airtel did nothing, so it is sent again a little later.
    let p = env.buy(1, PHONE);
    assert_eq!(p.state, PaymentState::Initiating);
    assert!(env.sim.txns().is_empty());
    let paid = env.settle(p.id);
    assert_eq!(paid.state, PaymentState::Paid, "{paid:?}");
    assert_eq!(env.sim.throttled(), 1, "the rate limit was met once");
    assert_eq!(env.sim.txns().len(), 1, "one prompt");
    assert_eq!(env.sessions(), 1);
}

#[test]
fn airtel_amount_below_price_is_refused() {
    let env = AirtelEnv::new();
    env.sim.faults(|f| f.next = Some(Fate::PayShort(10)));
    let p = env.settle(env.buy(1, PHONE).id);
    assert_eq!(p.state, PaymentState::Failed, "{p:?}");
    assert_eq!(env.sessions(), 0);
}

#[test]
fn airtel_forged_duplicate_and_late_callbacks_grant_once() {
    // The customer answers after 200 s, when lango has called the prompt expired.
    let env = AirtelEnv::with(200);
    let p = env.buy(1, PHONE);
    let id = p.checkout_id.clone().unwrap();
    // Forged: says paid while Airtel says in progress. A hint, never a grant.
    assert_eq!(env.post_callback(&callback(&id, "TS", "MPFORGED")), 200);
    env.app().run_due();
    assert_eq!(env.payment(p.id).state, PaymentState::Pending);
    // For a transaction lango never started: nothing.
    assert_eq!(env.post_callback(&callback("LGNOTOURS", "TS", "MPX")), 200);
    assert_eq!(env.sessions(), 0);
    let expired = env.settle(p.id);
    assert_eq!(expired.state, PaymentState::Expired, "{expired:?}");
    // The customer pays late; Airtel's callback makes lango ask again.
    env.clock.advance(30);
    eventually("the late callback", || {
        env.app().run_due();
        env.payment(p.id).state == PaymentState::Paid
    });
    let paid = env.payment(p.id);
    assert_eq!(
        paid.receipt.as_deref(),
        Some(env.sim.txns()[0].airtel_money_id.as_str())
    );
    // The same callback again, and once more forged: nothing more.
    let receipt = paid.receipt.clone().unwrap();
    assert_eq!(env.post_callback(&callback(&id, "TS", &receipt)), 200);
    assert_eq!(env.post_callback(&callback(&id, "TF", "")), 200);
    env.advance(5);
    assert_eq!(env.payment(p.id).state, PaymentState::Paid);
    assert_eq!(env.sessions(), 1);
}

#[test]
fn airtel_restart_between_push_and_confirmation_grants_once() {
    let env = AirtelEnv::with(30);
    let p = env.buy(1, PHONE);
    assert_eq!(p.state, PaymentState::Pending);
    env.kill();
    env.clock.advance(40);
    env.start();
    let paid = env.settle(p.id);
    assert_eq!(paid.state, PaymentState::Paid, "{paid:?}");
    assert_eq!(paid.provider(), Provider::Airtel);
    assert_eq!(env.sim.txns().len(), 1, "the push was not sent again");
    assert_eq!(env.sessions(), 1);
}

#[test]
fn airtel_token_expiry_mid_flow() {
    let env = AirtelEnv::with(20);
    let p = env.buy(1, PHONE);
    env.sim.expire_tokens();
    let paid = env.settle(p.id);
    assert_eq!(paid.state, PaymentState::Paid, "{paid:?}");
    // At the first queries after the answer, not when the old token would have been renewed.
    assert!(
        paid.updated_at - p.created_at < 40,
        "{}",
        paid.updated_at - p.created_at
    );
}

#[test]
fn airtel_portal_offers_only_the_enabled_wallet_and_names_it() {
    let env = AirtelEnv::new();
    env.neighbours
        .insert("127.0.0.1".parse().unwrap(), guest(6).1);
    let page = http(env.portal, "GET", "/", &[], "");
    assert!(
        page.body.contains("Airtel Money phone number"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<button>Pay with Airtel Money</button>"));
    assert!(!page.body.contains("<button>Pay with M-Pesa</button>"));
    let p = env.buy(1, PHONE);
    let waiting = http(env.portal, "GET", &format!("/pay/{}", p.token), &[], "");
    assert!(
        waiting.body.contains("0733 123 456 · Airtel Money"),
        "{}",
        waiting.body
    );
    assert!(waiting.body.contains("enter your Airtel Money PIN"));
    assert!(!waiting.body.contains("PayBill"));
}

#[test]
fn airtel_check_fetches_a_token_and_prompts_nobody() {
    let env = AirtelEnv::new();
    let airtel = env.config.airtel.clone().unwrap();
    let file = |secret: &str| {
        let text = format!(
            "config airtel 'airtel'\n\toption client_id '{}'\n\toption client_secret '{secret}'\n\
             \toption country KE\n\toption environment sandbox\n\toption base_url '{}'\n\
             \toption ca_bundle '{}'\n",
            airtel.client_id,
            airtel.base_url.clone().unwrap(),
            airtel.ca_bundle.clone().unwrap().display()
        );
        let path = env.dir.path(&format!("lango-{}", secret.len()));
        std::fs::write(&path, text).unwrap();
        path
    };
    assert_eq!(lango::daemon::check_mpesa(&file(&airtel.client_secret)), 0);
    assert_ne!(lango::daemon::check_mpesa(&file("wrong")), 0);
    assert!(env.sim.txns().is_empty(), "nobody was prompted");
}

#[test]
fn airtel_push_sent_without_an_answer_is_unanswered() {
    let env = AirtelEnv::new();
    let tls = lango::adapters::https::tls_config(vec![env.root.clone()]).unwrap();
    let http = lango::adapters::https::Client::new(Some(tls), Duration::from_millis(300));
    let account = env.config.airtel.clone().unwrap();
    let url = account.base_url.clone().unwrap();
    let client = AirtelMoney::new(account, &url, http, env.clock.clone());
    let push = StkPush {
        phone: Phone::parse("0733123456").unwrap(),
        amount_major: 20,
        account_reference: "WiFi".into(),
        description: "WiFi".into(),
        callback_url: String::new(),
    };
    env.sim.faults(|f| f.stall_push = true);
    // The prompt is on the phone, the answer lost: lango must not send it again
    // (`App::push` closes the payment on `Unanswered`; tests/it/purchase.rs).
    let answer = client.stk_push(&push);
    assert!(
        matches!(answer, Err(GatewayError::Unanswered(_))),
        "{answer:?}"
    );
    assert_eq!(env.sim.txns().len(), 1);
    assert!(client.stk_push(&push).is_ok(), "the next push is answered");
}

#[test]
fn airtel_beside_mpesa_the_number_decides_the_wallet() {
    let env = AirtelEnv::build(2, true);
    env.neighbours
        .insert("127.0.0.1".parse().unwrap(), guest(6).1);
    let page = http(env.portal, "GET", "/", &[], "");
    assert!(
        page.body.contains("M-Pesa or Airtel Money number"),
        "{}",
        page.body
    );
    let safaricom = env.buy(1, "0712 345 678");
    assert_eq!(safaricom.provider(), Provider::Mpesa);
    assert!(safaricom
        .checkout_id
        .is_some_and(|c| c.starts_with("ws_CO_")));
    let airtel = env.buy(2, PHONE);
    assert_eq!(airtel.provider(), Provider::Airtel);
    assert_eq!(
        env.sim.txns().len(),
        1,
        "only the Airtel number reached Airtel"
    );
    match env.app().start_purchase(guest(3).0, "hour", "0800 123 456") {
        Err(PurchaseError::BadPhone(why)) => assert!(why.contains("M-Pesa (Safaricom) or Airtel")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn airtel_refuses_other_networks_numbers() {
    let env = AirtelEnv::new();
    let app = env.app();
    match app.start_purchase(guest(1).0, "hour", "0712 345 678") {
        Err(PurchaseError::BadPhone(why)) => assert!(why.contains("not an Airtel"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(env.sim.txns().is_empty());
}

#[test]
fn airtel_rate_limit_holds_back_only_airtel_and_the_window_stays_honest() {
    let env = AirtelEnv::build(2, true);
    let airtel = env.buy(2, PHONE);
    assert_eq!(airtel.state, PaymentState::Pending);
    // Airtel answers its next 8 queries with 429: 2, 4 … 60 s of back-off, past the 180 s
    // prompt window.
    env.sim.faults(|f| f.rate_limit = 8);
    for _ in 0..60 {
        if env.sim.throttled() >= 4 {
            break;
        }
        env.advance(1);
    }
    assert_eq!(env.sim.throttled(), 4, "Airtel is backing off 16 s now");
    // A Safaricom number bought now is asked at its own pace: paid at its first query (4 s),
    // not after Airtel's back-off.
    let mpesa = env.buy(1, "0712 345 678");
    assert_eq!(mpesa.provider(), Provider::Mpesa);
    let paid = env.settle(mpesa.id);
    assert_eq!(paid.state, PaymentState::Paid, "{paid:?}");
    assert!(
        paid.updated_at - mpesa.created_at <= 5,
        "M-Pesa waited {} s",
        paid.updated_at - mpesa.created_at
    );
    assert_eq!(
        env.sim.throttled(),
        4,
        "Airtel was not asked during its back-off"
    );
    assert_eq!(env.payment(airtel.id).state, PaymentState::Pending);
    // Airtel was never able to answer inside the window: the payment is not called expired
    // for that, and the first answer after the back-off pays it.
    let airtel_paid = env.settle(airtel.id);
    assert_eq!(airtel_paid.state, PaymentState::Paid, "{airtel_paid:?}");
    assert_eq!(env.sim.throttled(), 8);
    assert!(airtel_paid.updated_at - airtel.created_at > 180);
    assert_eq!(env.sim.txns().len(), 1, "one prompt");
    assert_eq!(env.sessions(), 2);
}

/// Issue 18, Airtel's message signing (v2): an account that requires it takes a push signed
/// with its public key (AES-256-CBC body in `x-signature`, the RSA-sealed key and IV in
/// `x-key`), and refuses an unsigned one or one signed for another key with `DP00800001026`.
#[cfg(feature = "vodacom")]
mod signed {
    use super::*;
    use lango::core::rsa::private::PrivateKey;
    use lango::core::rsa::PublicKey;

    /// A key pair made by `openssl genrsa` in `dir`: the private key (read again for each
    /// simulator) and the public one, or `None` (skipped) without openssl.
    fn key_pair(dir: &TempDir) -> Option<(impl Fn() -> PrivateKey, PublicKey)> {
        let (key, public) = crate::vodacom::openssl_key(dir, 2048)?;
        let private = move || PrivateKey::parse(&std::fs::read_to_string(&key).unwrap()).unwrap();
        Some((private, PublicKey::parse(&public).unwrap()))
    }

    #[test]
    fn airtel_v2_signed_push_is_accepted_and_paid() {
        let dir = TempDir::new("airtel-keys");
        let Some((private, public)) = key_pair(&dir) else {
            return;
        };
        let env = AirtelEnv::build_with(2, false, Some(public));
        env.sim.require_signing(private());
        let pending = env.buy(1, PHONE);
        assert_eq!(pending.state, PaymentState::Pending, "{pending:?}");
        assert_eq!(env.sim.unsigned(), 0);
        let paid = env.settle(pending.id);
        assert_eq!(paid.state, PaymentState::Paid, "{paid:?}");
        assert_eq!(env.sessions(), 1);
    }

    #[test]
    fn airtel_unsigned_or_wrongly_signed_push_is_refused() {
        let (mine, theirs) = (TempDir::new("airtel-keys"), TempDir::new("airtel-other"));
        let (Some((private, _)), Some((_, other))) = (key_pair(&mine), key_pair(&theirs)) else {
            return;
        };
        for (signing, what) in [(None, "unsigned"), (Some(other), "signed for another key")] {
            let env = AirtelEnv::build_with(2, false, signing);
            env.sim.require_signing(private());
            let refused = env.buy(1, PHONE);
            assert_eq!(refused.state, PaymentState::Failed, "{what}: {refused:?}");
            assert_eq!(env.sim.unsigned(), 1, "{what}");
            assert!(env.sim.txns().is_empty(), "{what}: nobody prompted");
            assert_eq!(env.sessions(), 0);
        }
    }
}
