//! Vodacom M-Pesa Tanzania (issue 18; docs/vodacom.md): lango's RSA encryption checked by
//! OpenSSL with a key made at run time (`openssl genrsa`), then lango's Vodacom client, built
//! from `config vodacom` with that key's public half and a CA bundle written at run time, over
//! HTTPS (rustls) against the Vodacom simulator on 127.0.0.1, which decrypts every bearer with
//! the private half; purchases through `App::start_purchase` and the worker's jobs (`run_due`);
//! one manual clock for both sides. Vodacom's single-stage push posts no callback, so there are
//! no callback tests here (docs/vodacom.md).

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use lango::adapters::simulator::SimServer;
use lango::adapters::testing::ManualClock;
use lango::adapters::vodacom::VodacomMpesa;
use lango::adapters::vodacom_sim::{Fate, VodacomSim};
use lango::app::PurchaseError;
use lango::core::config::{MpesaEnvironment, Vodacom};
use lango::core::payments::{Decline, PaymentGateway, PaymentState, StkPush};
use lango::core::provider::Provider;
use lango::core::rsa::private::PrivateKey;
use lango::core::rsa::PublicKey;
use lango::core::vodacom::sim::VodacomSimSettings;

use crate::payments::{serve_over_tls, test_ca};
use crate::support::{demo_config, guest, http, skip, TempDir, T0};
use crate::wallet::Lango;

/// A Vodacom Tanzania number that pays; `…0006` has no money, `…0005` cancels, `…0009` never
/// answers (`core::vodacom::sim::fate_of`).
const PHONE: &str = "0754 123 456";
const API_KEY: &str = "vodacom-api-key-never-shown";
const CODE: &str = "000000";

/// A fresh RSA key pair from OpenSSL: (private key file, public key PEM), or `skip`.
pub(crate) fn openssl_key(dir: &TempDir, bits: u32) -> Option<(std::path::PathBuf, String)> {
    let key = dir.path("key.pem");
    let made = Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&key)
        .arg(bits.to_string())
        .output();
    match made {
        Ok(out) if out.status.success() => {}
        _ => return skip("vodacom RSA", "openssl genrsa is not available"),
    }
    let public = Command::new("openssl")
        .args(["rsa", "-pubout", "-in"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(public.status.success());
    Some((key, String::from_utf8(public.stdout).unwrap()))
}

#[test]
fn vodacom_rsa_encryption_is_decrypted_by_openssl() {
    let dir = TempDir::new("vodacom-rsa");
    let Some((key, public)) = openssl_key(&dir, 4096) else {
        return;
    };
    let public = PublicKey::parse(&public).unwrap();
    assert_eq!(public.bits(), 4096);
    let mut random = |buf: &mut [u8]| getrandom::fill(buf).is_ok();
    let message = b"sandbox-api-key-0123456789abcdef";
    let sealed = public.encrypt(message, &mut random).unwrap();
    std::fs::write(dir.path("sealed.bin"), &sealed).unwrap();
    let opened = Command::new("openssl")
        .args([
            "pkeyutl",
            "-decrypt",
            "-pkeyopt",
            "rsa_padding_mode:pkcs1",
            "-inkey",
        ])
        .arg(&key)
        .arg("-in")
        .arg(dir.path("sealed.bin"))
        .output()
        .unwrap();
    assert!(
        opened.status.success(),
        "{}",
        String::from_utf8_lossy(&opened.stderr)
    );
    assert_eq!(opened.stdout, message);
    // And what OpenSSL encrypts, the simulator's side of lango decrypts.
    let private =
        lango::core::rsa::private::PrivateKey::parse(&std::fs::read_to_string(&key).unwrap())
            .unwrap();
    assert_eq!(private.decrypt(&sealed).unwrap(), message);
}

struct VodacomEnv {
    lango: Lango,
    sim: Arc<VodacomSim>,
    _server: SimServer,
    portal: SocketAddr,
    root: rustls::pki_types::CertificateDer<'static>,
}

impl std::ops::Deref for VodacomEnv {
    type Target = Lango;
    fn deref(&self) -> &Lango {
        &self.lango
    }
}

impl VodacomEnv {
    /// `None` (after `skip`) without openssl. The key is 2048 bits: the simulator decrypts every
    /// bearer, and a debug build's 4096-bit decryption is slow; 4096 is checked above.
    fn new() -> Option<VodacomEnv> {
        let dir = TempDir::new("vodacom");
        let (key, public) = openssl_key(&dir, 2048)?;
        let private = PrivateKey::parse(&std::fs::read_to_string(key).unwrap()).unwrap();
        let settings = VodacomSimSettings {
            api_key: API_KEY.into(),
            private_key: private,
            service_provider_code: CODE.into(),
            session_secs: 600,
        };
        let clock = Arc::new(ManualClock::new(T0));
        let sim = Arc::new(VodacomSim::new(clock.clone(), settings));
        let ca = test_ca("lango vodacom test CA");
        let ca_bundle = Lango::ca_bundle(&dir, &ca);
        let (server, slot, portal) = serve_over_tls(sim.clone(), &ca);
        let mut config = demo_config();
        config.mpesa = None;
        config.gateway.currency = "TZS".into();
        config.vodacom = Some(Vodacom {
            enabled: true,
            api_key: API_KEY.into(),
            public_key: PublicKey::parse(&public).unwrap(),
            service_provider_code: CODE.into(),
            environment: MpesaEnvironment::Sandbox,
            base_url: Some(server.url(true)),
            ca_bundle: Some(ca_bundle),
        });
        let env = VodacomEnv {
            lango: Lango::new(clock, slot, config, dir),
            sim,
            _server: server,
            portal,
            root: ca.root.clone(),
        };
        env.start();
        Some(env)
    }
}

#[test]
fn vodacom_success_grants_once_with_the_transaction_id() {
    let Some(env) = VodacomEnv::new() else {
        return;
    };
    let pending = env.buy(1, PHONE);
    assert_eq!(pending.state, PaymentState::Pending, "{pending:?}");
    assert_eq!(pending.provider(), Provider::Vodacom);
    assert_eq!(pending.phone.to_string(), "255754123456");
    let txns = env.sim.txns();
    assert_eq!(txns.len(), 1);
    // Whole shillings, the price of the hour package.
    assert_eq!(
        (txns[0].msisdn.as_str(), txns[0].amount),
        ("255754123456", 20)
    );
    assert!((1..=20).contains(&txns[0].reference.len()));
    assert_eq!(
        pending.checkout_id.as_deref(),
        Some(txns[0].conversation.as_str())
    );
    let paid = env.settle(pending.id);
    assert_eq!(paid.state, PaymentState::Paid, "{paid:?}");
    assert_eq!(
        paid.receipt.as_deref(),
        Some(txns[0].transaction_id.as_str())
    );
    assert_eq!(env.sessions(), 1);
    // Every bearer decrypted to the API key or a live session.
    assert_eq!(env.sim.refused_bearers(), 0);
    assert_eq!(env.sim.sessions_issued(), 1);
}

#[test]
fn vodacom_insufficient_funds_and_cancel_decline() {
    let Some(env) = VodacomEnv::new() else {
        return;
    };
    let broke = env.settle(env.buy(1, "0754 120 006").id);
    let want = (PaymentState::Failed, Some(Decline::InsufficientFunds));
    assert_eq!((broke.state, broke.decline), want, "{broke:?}");
    let cancelled = env.settle(env.buy(2, "0754 120 005").id);
    let want = (PaymentState::Failed, Some(Decline::Cancelled));
    assert_eq!((cancelled.state, cancelled.decline), want, "{cancelled:?}");
    env.sim.faults(|f| f.next = Some(Fate::Fail("INS-6")));
    let failed = env.settle(env.buy(3, PHONE).id);
    assert_eq!(failed.state, PaymentState::Failed, "{failed:?}");
    assert_eq!(env.sessions(), 0);
}

#[test]
fn vodacom_timeout_is_asked_then_expired() {
    let Some(env) = VodacomEnv::new() else {
        return;
    };
    // The push is answered INS-9 (request timeout): uncertain, so pending and queried.
    let p = env.buy(1, "0754 120 009");
    assert_eq!(p.state, PaymentState::Pending, "{p:?}");
    let expired = env.settle(p.id);
    let want = (PaymentState::Expired, Some(Decline::TimedOut));
    assert_eq!((expired.state, expired.decline), want, "{expired:?}");
    assert_eq!(env.sessions(), 0);
}

#[test]
fn vodacom_internal_error_then_pending_then_success_pushes_once() {
    let Some(env) = VodacomEnv::new() else {
        return;
    };
    env.sim.faults(|f| {
        f.internal_error = true;
        f.pending = 3;
    });
    // INS-1 on the push: the customer may be paying; never pushed again, asked instead.
    let p = env.buy(1, PHONE);
    assert_eq!(p.state, PaymentState::Pending, "{p:?}");
    let paid = env.settle(p.id);
    assert_eq!(paid.state, PaymentState::Paid, "{paid:?}");
    assert_eq!(env.sim.txns().len(), 1, "one prompt");
    assert_eq!(env.sessions(), 1);
}

#[test]
fn vodacom_rate_limit_backs_off_and_still_pays() {
    let Some(env) = VodacomEnv::new() else {
        return;
    };
    let p = env.buy(1, PHONE);
    env.sim.faults(|f| f.rate_limit = 3);
    let paid = env.settle(p.id);
    assert_eq!(paid.state, PaymentState::Paid, "{paid:?}");
    assert_eq!(env.sim.throttled(), 3);
    assert_eq!(env.sim.txns().len(), 1);
}

#[test]
fn vodacom_restart_between_push_and_confirmation_grants_once() {
    let Some(env) = VodacomEnv::new() else {
        return;
    };
    let p = env.buy(1, PHONE);
    assert_eq!(p.state, PaymentState::Pending);
    env.kill();
    env.clock.advance(40);
    env.start();
    let paid = env.settle(p.id);
    assert_eq!(paid.state, PaymentState::Paid, "{paid:?}");
    assert_eq!(paid.provider(), Provider::Vodacom);
    assert_eq!(env.sim.txns().len(), 1, "the push was not sent again");
    assert_eq!(env.sessions(), 1);
    // The restarted lango asked for a session of its own (the cache is in RAM).
    assert_eq!(env.sim.sessions_issued(), 2);
}

#[test]
fn vodacom_session_expiry_mid_flow_is_renewed_once() {
    let Some(env) = VodacomEnv::new() else {
        return;
    };
    let p = env.buy(1, PHONE);
    env.sim.expire_sessions();
    let paid = env.settle(p.id);
    assert_eq!(paid.state, PaymentState::Paid, "{paid:?}");
    // The refused session (one 401), then a new one, at the first query.
    assert_eq!(env.sim.refused_bearers(), 1);
    assert_eq!(env.sim.sessions_issued(), 2);
    assert!(paid.updated_at - p.created_at < 10);
}

#[test]
fn vodacom_another_public_key_is_refused_and_nobody_prompted() {
    let Some(env) = VodacomEnv::new() else {
        return;
    };
    // The owner pasted another environment's key: the simulator cannot decrypt the API key.
    let other = TempDir::new("vodacom-other");
    let Some((_, public)) = openssl_key(&other, 2048) else {
        return;
    };
    let mut account = env.config.vodacom.clone().unwrap();
    account.public_key = PublicKey::parse(&public).unwrap();
    let tls = lango::adapters::https::tls_config(vec![env.root.clone()]).unwrap();
    let http = lango::adapters::https::Client::new(Some(tls), Duration::from_secs(60));
    let url = account.base_url.clone().unwrap();
    let client = VodacomMpesa::new(account, &url, http, env.clock.clone());
    let answer = client.stk_push(&push(PHONE));
    assert!(
        matches!(
            answer,
            Err(lango::core::payments::GatewayError::Merchant(_))
        ),
        "{answer:?}"
    );
    assert_eq!(env.sim.refused_bearers(), 1);
    assert!(env.sim.txns().is_empty(), "nobody was prompted");
    let steps = client.check();
    assert!(!steps[1].ok, "{}", steps[1].detail);
    assert!(!steps.iter().any(|s| s.detail.contains(API_KEY)));
}

fn push(phone: &str) -> StkPush {
    StkPush {
        phone: lango::core::vodacom::msisdn(phone).unwrap(),
        amount_major: 20,
        account_reference: "WiFi".into(),
        description: "WiFi 1 hour".into(),
        callback_url: String::new(),
    }
}

#[test]
fn vodacom_push_without_an_answer_is_queried_never_sent_again() {
    let Some(env) = VodacomEnv::new() else {
        return;
    };
    let tls = lango::adapters::https::tls_config(vec![env.root.clone()]).unwrap();
    // 1 s for the push, which the simulator answers after 3 s; the session and the query get
    // 20 s.
    let http = lango::adapters::https::Client::new(Some(tls), Duration::from_secs(20));
    let account = env.config.vodacom.clone().unwrap();
    let url = account.base_url.clone().unwrap();
    let client = VodacomMpesa::new(account, &url, http, env.clock.clone())
        .with_push_timeout(Duration::from_secs(1));
    env.sim.faults(|f| f.stall_push_secs = 3);
    let accepted = client.stk_push(&push(PHONE)).expect("pending, not lost");
    let txns = env.sim.txns();
    assert_eq!(txns.len(), 1);
    assert_eq!(accepted.checkout_id, txns[0].conversation);
    // The query by lango's own conversation id finds it.
    let outcome = client.stk_query(&accepted.checkout_id).unwrap();
    assert!(
        matches!(outcome, lango::core::payments::StkOutcome::Paid { .. }),
        "{outcome:?}"
    );
}

#[test]
fn vodacom_portal_names_the_wallet_and_refuses_other_networks() {
    let Some(env) = VodacomEnv::new() else {
        return;
    };
    env.neighbours
        .insert("127.0.0.1".parse().unwrap(), guest(6).1);
    let page = http(env.portal, "GET", "/", &[], "");
    assert!(
        page.body.contains("Vodacom M-Pesa phone number"),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("<button>Pay with Vodacom M-Pesa</button>"));
    let p = env.buy(1, PHONE);
    let waiting = http(env.portal, "GET", &format!("/pay/{}", p.token), &[], "");
    assert!(waiting.body.contains("Vodacom M-Pesa"), "{}", waiting.body);
    // An Airtel Tanzania number (068…) is not Vodacom's.
    match env.app().start_purchase(guest(2).0, "hour", "0688 123 456") {
        Err(PurchaseError::BadPhone(why)) => assert!(why.contains("not a Vodacom"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(env.sim.txns().len(), 1);
}
