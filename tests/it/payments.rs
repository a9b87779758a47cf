//! M-Pesa end to end (issue 5): the real Daraja client over HTTPS (rustls, a CA made at run
//! time, nothing on disk) against lango's Daraja simulator on 127.0.0.1, callbacks delivered by
//! the simulator to the portal listener, and a manual clock that both sides read. One test per
//! scenario; each checks the payment's state, the grants (exactly one session, or none) and
//! what the store holds.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lango::adapters::daraja::Daraja;
use lango::adapters::https::{self, Client};
use lango::adapters::simulator::{self, Conn, SimServer, Simulator, Wrap};
use lango::adapters::testing::{FakeFirewall, FakeNeighbours, ManualClock};
use lango::app::mpesa::{CallbackVerdict, ClaimDecision, SmsError, SmsOutcome, CALLBACK_PREFIX};
use lango::app::{App, Env, MoveError, PurchaseError};
use lango::core::config::{Config, Mpesa, MpesaKind};
use lango::core::daraja_sim::{Faults, Merchant};
use lango::core::payments::{Decline, LimitRefusal, Payment, PaymentGateway, PaymentState};
use lango::core::sessions::Session;
use lango::core::sms::ClaimState;
use lango::store::Store;
use lango::web::admin::Ctx;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::support::{demo_config, eventually, guest, http, Reply, TempDir, T0};

/// Safaricom's public sandbox passkey (docs/daraja.md, Hosts).
const PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";
const SECRET: &str = "consumer-secret-never-shown";
/// The phone every guest pays with unless a test says otherwise.
pub(crate) const PHONE: &str = "0712345678";

// ---- a CA and a server certificate, made at run time ----

pub(crate) struct TestCa {
    pub(crate) root: CertificateDer<'static>,
    pub(crate) server: Arc<rustls::ServerConfig>,
}

pub(crate) fn test_ca(name: &str) -> TestCa {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
        .unwrap();
    TestCa {
        root: ca.der().clone(),
        server: Arc::new(server),
    }
}

/// Every accepted connection speaks TLS with the test certificate.
pub(crate) fn tls(server: Arc<rustls::ServerConfig>) -> Wrap {
    Arc::new(move |tcp| {
        let conn = rustls::ServerConnection::new(server.clone()).map_err(io::Error::other)?;
        Ok(Box::new(rustls::StreamOwned::new(conn, tcp)) as Box<dyn Conn>)
    })
}

// ---- the environment ----

/// The app a portal listener serves; emptied when lango is "killed".
pub(crate) type Slot = Arc<Mutex<Option<Arc<App>>>>;

/// A portal listener on 127.0.0.1 serving whichever app `slot` holds (503 while it is empty).
pub(crate) fn portal_for(slot: &Slot) -> SocketAddr {
    let slot = slot.clone();
    lango::web::http::serve("127.0.0.1:0".parse().unwrap(), move |request| {
        let app = slot.lock().unwrap().clone();
        match app {
            Some(app) => lango::web::portal::handle(&lango::web::portal::Ctx::new(app), request),
            None => rouille::Response::text("lango is down").with_status_code(503),
        }
    })
    .unwrap()
    .addr
}

/// `sim` served on 127.0.0.1 over TLS with the test CA's certificate (its callbacks sent
/// over plain HTTP), and a portal listener with its empty slot.
pub(crate) fn serve_over_tls<S: simulator::Served>(
    sim: Arc<S>,
    ca: &TestCa,
) -> (SimServer, Slot, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let callbacks = Client::new(None, Duration::from_secs(5));
    let server = simulator::serve(sim, listener, tls(ca.server.clone()), callbacks).unwrap();
    let slot: Slot = Arc::new(Mutex::new(None));
    let portal = portal_for(&slot);
    (server, slot, portal)
}

/// Guest `n` buys the hour package with `phone` and the worker sends the push: its id.
pub(crate) fn buy_hour(app: &App, n: u8, phone: &str) -> u64 {
    let payment = app.start_purchase(guest(n).0, "hour", phone).unwrap();
    app.run_due();
    payment.id
}

/// Guests 1 to 6 in the neighbour table.
pub(crate) fn seat_guests(neighbours: &FakeNeighbours) {
    for n in 1..=6 {
        let (ip, mac) = guest(n);
        neighbours.insert(ip, mac);
    }
}

#[derive(Clone)]
pub(crate) struct Setup {
    pub(crate) kind: MpesaKind,
    pub(crate) till: Option<String>,
    /// Tills the simulated merchant has (the till scenarios).
    pub(crate) sim_tills: Vec<String>,
    pub(crate) approve_after_secs: i64,
    /// Give Daraja the portal's callback URL.
    pub(crate) callbacks: bool,
    /// Trust a CA other than the simulator's.
    pub(crate) wrong_ca: bool,
    pub(crate) timeout: Duration,
    pub(crate) store: Option<PathBuf>,
    /// `option pull`, `option pull_phone`.
    pub(crate) pull: bool,
    pub(crate) pull_phone: Option<String>,
    /// `option qr`.
    pub(crate) qr: bool,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            kind: MpesaKind::PayBill,
            till: None,
            sim_tills: Vec::new(),
            approve_after_secs: 2,
            callbacks: true,
            wrong_ca: false,
            timeout: Duration::from_secs(5),
            store: None,
            pull: false,
            pull_phone: None,
            qr: false,
        }
    }
}

pub(crate) struct PayEnv {
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) firewall: Arc<FakeFirewall>,
    pub(crate) neighbours: Arc<FakeNeighbours>,
    pub(crate) sim: Arc<Simulator>,
    server: SimServer,
    ca: TestCa,
    pub(crate) portal: SocketAddr,
    /// The app the portal listener serves; emptied when lango is "killed".
    slot: Slot,
    config: Config,
    setup: Setup,
}

fn account(setup: &Setup) -> Mpesa {
    Mpesa {
        environment: lango::core::config::MpesaEnvironment::Sandbox,
        consumer_key: "consumer-key-0123".into(),
        consumer_secret: SECRET.into(),
        kind: setup.kind,
        shortcode: "174379".into(),
        till: setup.till.clone(),
        passkey: PASSKEY.into(),
        account_reference: "WiFi".into(),
        callback_url: None,
        ca_bundle: None,
        simulator_url: None,
        pull: setup.pull,
        pull_phone: setup.pull_phone.clone(),
        qr: setup.qr,
    }
}

impl PayEnv {
    fn new() -> PayEnv {
        PayEnv::with(Setup::default())
    }

    pub(crate) fn with(setup: Setup) -> PayEnv {
        let clock = Arc::new(ManualClock::new(T0));
        let mut settings = simulator::settings_for(&account(&setup), setup.approve_after_secs);
        if !setup.sim_tills.is_empty() {
            settings.merchants = vec![Merchant {
                shortcode: "174379".into(),
                passkey: PASSKEY.into(),
                tills: setup.sim_tills.clone(),
            }];
        }
        let sim = Arc::new(Simulator::with_settings(clock.clone(), settings));
        let ca = test_ca("lango test CA");
        let (server, slot, portal) = serve_over_tls(sim.clone(), &ca);
        let mut config = demo_config();
        let mut mpesa = account(&setup);
        if setup.callbacks {
            mpesa.callback_url = Some(format!("http://{portal}"));
        }
        config.mpesa = Some(mpesa);
        let env = PayEnv {
            clock,
            firewall: Arc::new(FakeFirewall::default()),
            neighbours: Arc::new(FakeNeighbours::default()),
            sim,
            server,
            ca,
            portal,
            slot,
            config,
            setup,
        };
        seat_guests(&env.neighbours);
        env.start();
        env
    }

    /// The real Daraja client for `account`, trusting the test CA (or another one).
    fn client(&self, account: Mpesa) -> Daraja {
        let root = if self.setup.wrong_ca {
            test_ca("some other CA").root
        } else {
            self.ca.root.clone()
        };
        let tls = https::tls_config(vec![root]).unwrap();
        Daraja::new(
            account,
            &self.server.url(true),
            Client::new(Some(tls), self.setup.timeout),
            self.clock.clone(),
        )
    }

    /// Starts lango on the store (a fresh one in RAM, or the file of `setup.store`).
    pub(crate) fn start(&self) {
        let store = match &self.setup.store {
            Some(path) => Store::open(path).unwrap(),
            None => Store::in_memory().unwrap(),
        };
        let gateway = Arc::new(self.client(account(&self.setup)));
        let env = Env {
            clock: self.clock.clone(),
            firewall: self.firewall.clone(),
            neighbours: self.neighbours.clone(),
            gateway,
        };
        let (app, _woken) = App::new(self.config.clone(), store, env).unwrap();
        let app = Arc::new(app);
        // Made once in a store's life; made here so that the counts below are per purchase.
        app.callback_secret().unwrap();
        *self.slot.lock().unwrap() = Some(app);
    }

    /// lango dies (no clean stop, no final checkpoint) and its store is closed.
    pub(crate) fn kill(&self) {
        let app = self.slot.lock().unwrap().take().unwrap();
        assert_eq!(Arc::strong_count(&app), 1, "nothing else holds the app");
        drop(app);
    }

    pub(crate) fn app(&self) -> Arc<App> {
        self.slot.lock().unwrap().clone().expect("lango is running")
    }

    /// Time passes; lango runs whatever became due.
    pub(crate) fn advance(&self, secs: i64) {
        self.clock.advance(secs);
        self.app().run_due();
    }

    /// Guest `n` buys the hour package (KES 20) with `phone`; the push is sent at once.
    pub(crate) fn buy(&self, n: u8, phone: &str) -> Payment {
        self.payment(buy_hour(&self.app(), n, phone))
    }

    pub(crate) fn payment(&self, id: u64) -> Payment {
        self.app()
            .store
            .read(|r| r.payment(id))
            .unwrap()
            .expect("payment")
    }

    pub(crate) fn sessions(&self) -> Vec<Session> {
        self.app().store.read(|r| r.recent_sessions(100)).unwrap()
    }

    pub(crate) fn events(&self, kind: &str) -> usize {
        let events = self.app().store.read(|r| r.recent_events(1000)).unwrap();
        events.iter().filter(|e| e.kind == kind).count()
    }

    fn durable_commits(&self) -> u64 {
        self.app().store.write_stats().durable_commits
    }

    /// Waits (bounded) until `n` callbacks were delivered and answered, then lets lango run
    /// what they made due.
    pub(crate) fn delivered(&self, n: usize) {
        eventually(&format!("{n} callbacks delivered"), || {
            self.sim
                .deliveries()
                .iter()
                .filter(|d| d.status.is_some())
                .count()
                >= n
        });
        self.app().run_due();
    }

    fn callback_path(&self) -> String {
        format!("{CALLBACK_PREFIX}{}", self.app().callback_secret().unwrap())
    }

    fn post_callback(&self, body: &str) -> Reply {
        http(
            self.portal,
            "POST",
            &self.callback_path(),
            &[("Content-Type", "application/json")],
            body,
        )
    }

    fn checkout_of(&self, payment: &Payment) -> String {
        payment.checkout_id.clone().expect("acknowledged")
    }
}

/// A callback body as Daraja writes it (docs/daraja.md, Callback).
fn callback(checkout: &str, code: i64, paid: Option<(&str, i64, &str)>) -> String {
    let meta = match paid {
        Some((receipt, amount, phone)) => format!(
            r#","CallbackMetadata":{{"Item":[{{"Name":"Amount","Value":{amount}.00}},{{"Name":"MpesaReceiptNumber","Value":"{receipt}"}},{{"Name":"Balance"}},{{"Name":"TransactionDate","Value":20270115110001}},{{"Name":"PhoneNumber","Value":{phone}}}]}}"#
        ),
        None => String::new(),
    };
    format!(
        r#"{{"Body":{{"stkCallback":{{"MerchantRequestID":"1-2-3","CheckoutRequestID":"{checkout}","ResultCode":{code},"ResultDesc":"x"{meta}}}}}}}"#
    )
}

/// A Buy Goods confirmation SMS in the current format (docs/daraja.md, Confirmation SMS).
pub(crate) fn sms(receipt: &str, amount: &str) -> String {
    format!(
        "{receipt} Confirmed. Ksh{amount} paid to MAMA MBOGA CAFE WIFI. on 15/1/27 at 11:05 AM.\
         New M-PESA balance is Ksh1,180.50. Transaction cost, Ksh0.00. Amount you can transact \
         within the day is 499,980.00. Download My OneApp on https://saf.cx/xxxxx"
    )
}

#[track_caller]
fn check_paid_once(env: &PayEnv, payment_id: u64) -> Payment {
    let p = env.payment(payment_id);
    assert_eq!(p.state, PaymentState::Paid, "{p:?}");
    let sessions = env.sessions();
    assert_eq!(sessions.len(), 1, "exactly one grant: {sessions:?}");
    assert_eq!(p.session_id, Some(sessions[0].id));
    assert_eq!(env.events("payment_paid"), 1);
    assert!(env.firewall.allows(p.mac));
    p
}

#[track_caller]
fn check_nothing_granted(env: &PayEnv) {
    assert!(env.sessions().is_empty(), "{:?}", env.sessions());
    assert_eq!(env.events("payment_paid"), 0);
}

// ---- the happy paths ----

#[test]
fn paybill_happy_path_costs_three_flash_writes() {
    let env = PayEnv::new();
    let before = env.durable_commits();
    let p = env.buy(1, PHONE);
    assert_eq!(p.state, PaymentState::Pending);
    assert!(env.checkout_of(&p).starts_with("ws_CO_"));
    env.advance(3); // the customer types the PIN at +2; the callback leaves at +3
    env.delivered(1);
    let p = check_paid_once(&env, p.id);
    let receipt = env.sim.receipt_for(&env.checkout_of(&p)).unwrap();
    // The callback's receipt is kept for the owner, never as the payment's receipt: only the
    // query or the owner can put a receipt in the store (issue 13).
    assert_eq!(p.receipt, None);
    let said = p.callback.as_ref().and_then(|h| h.receipt.as_deref());
    assert_eq!(said, Some(receipt.as_str()));
    assert_eq!(
        env.app().store.read(|r| r.receipt_owner(&receipt)).unwrap(),
        None
    );
    assert_eq!(
        env.durable_commits() - before,
        3,
        "recorded, acknowledged, paid with the callback's word and grant"
    );
    assert_eq!(env.app().store.write_stats().lazy_commits, 0);
    assert_eq!(env.sim.prompts().len(), 1);
}

#[test]
fn till_happy_path_and_a_till_not_registered_under_the_store() {
    let env = PayEnv::with(Setup {
        kind: MpesaKind::Till,
        till: Some("5123456".into()),
        sim_tills: vec!["5123456".into()],
        ..Setup::default()
    });
    let p = env.buy(1, PHONE);
    env.advance(3);
    env.delivered(1);
    check_paid_once(&env, p.id);

    // A till number that is not registered under this store: M-Pesa refuses the product
    // (2028, TransactionType/PartyB mismatch) and the payment fails as a merchant problem.
    let env = PayEnv::with(Setup {
        kind: MpesaKind::Till,
        till: Some("7654321".into()),
        sim_tills: vec!["5123456".into()],
        ..Setup::default()
    });
    let p = env.buy(1, PHONE);
    env.advance(3);
    env.delivered(1);
    let p = env.payment(p.id);
    assert_eq!(
        (p.state, p.decline, p.result_code),
        (PaymentState::Failed, Some(Decline::Merchant), Some(2028))
    );
    check_nothing_granted(&env);
}

// ---- the customer says no ----

#[test]
fn cancelled_timed_out_wrong_pin_and_insufficient_funds_grant_nothing() {
    for (phone, state, decline, code) in [
        (
            "0700001032",
            PaymentState::Cancelled,
            Decline::Cancelled,
            1032,
        ),
        ("0700002001", PaymentState::Failed, Decline::WrongPin, 2001),
        (
            "0700000001",
            PaymentState::Failed,
            Decline::InsufficientFunds,
            1,
        ),
    ] {
        let env = PayEnv::new();
        let p = env.buy(1, phone);
        env.advance(3);
        env.delivered(1);
        let p = env.payment(p.id);
        assert_eq!(
            (p.state, p.decline, p.result_code),
            (state, Some(decline), Some(code)),
            "{phone}"
        );
        check_nothing_granted(&env);
    }
    // 1037: the phone never answers; Daraja gives up after 60 s and lango's query hears it.
    let env = PayEnv::new();
    let p = env.buy(1, "0700001037");
    for _ in 0..16 {
        env.advance(5);
    }
    let p = env.payment(p.id);
    assert_eq!(
        (p.state, p.decline, p.result_code),
        (PaymentState::Expired, Some(Decline::TimedOut), Some(1037))
    );
    check_nothing_granted(&env);
}

#[test]
fn pending_then_paid() {
    let env = PayEnv::with(Setup {
        approve_after_secs: 12,
        ..Setup::default()
    });
    let p = env.buy(1, PHONE);
    env.advance(4);
    env.advance(3);
    env.advance(3); // three queries so far, each "being processed"
    assert_eq!(env.payment(p.id).state, PaymentState::Pending);
    check_nothing_granted(&env);
    env.advance(3); // t+13: the callback arrives
    env.delivered(1);
    check_paid_once(&env, p.id);
}

// ---- callbacks: lost, duplicated, unknown, forged, contradicting ----

#[test]
fn a_lost_callback_is_covered_by_the_query() {
    let env = PayEnv::new();
    env.sim.set_faults(Faults {
        drop_callbacks: true,
        ..Faults::default()
    });
    let p = env.buy(1, PHONE);
    env.advance(4); // first query
    let p = check_paid_once(&env, p.id);
    assert_eq!(p.receipt, None, "the query never carries the receipt");
    assert!(env.sim.deliveries().iter().all(|d| d.dropped));
}

#[test]
fn a_duplicate_callback_grants_once() {
    let env = PayEnv::new();
    env.sim.set_faults(Faults {
        duplicate_callbacks: true,
        ..Faults::default()
    });
    let p = env.buy(1, PHONE);
    env.advance(3);
    env.delivered(1);
    check_paid_once(&env, p.id);
    let commits = env.durable_commits();
    env.advance(2);
    env.delivered(2);
    check_paid_once(&env, p.id);
    assert_eq!(
        env.durable_commits(),
        commits,
        "the duplicate wrote nothing"
    );
    // The same body once more, by hand, and many times over.
    let body = &env.sim.deliveries()[0].body;
    for _ in 0..20 {
        assert_eq!(env.post_callback(body).status, 200);
    }
    env.app().run_due();
    check_paid_once(&env, p.id);
}

#[test]
fn callbacks_for_unknown_checkouts_or_on_a_wrong_path_change_nothing() {
    let env = PayEnv::new();
    let p = env.buy(1, PHONE);
    let commits = env.durable_commits();
    let forged = callback(
        "ws_CO_15012027110000123712345678",
        0,
        Some(("UAF1234567", 20, "254712345678")),
    );
    let reply = env.post_callback(&forged);
    assert_eq!(reply.status, 200, "Daraja is always answered 200");
    assert!(reply.body.contains("\"ResultCode\":0"));
    assert_eq!(
        env.app().on_callback(forged.as_bytes()),
        CallbackVerdict::UnknownCheckout
    );
    let wrong = http(
        env.portal,
        "POST",
        &format!("{CALLBACK_PREFIX}0123456789abcdef"),
        &[],
        &forged,
    );
    assert_eq!(wrong.status, 404);
    assert_eq!(env.post_callback("{not json").status, 200);
    env.app().run_due();
    assert_eq!(env.durable_commits(), commits);
    assert_eq!(env.payment(p.id).state, PaymentState::Pending);
    check_nothing_granted(&env);
}

#[test]
fn a_callback_on_the_public_path_is_never_evidence() {
    // The customer never types the PIN and Daraja's query never gives a final answer (a real
    // quirk). A guest forges a success callback on the EasyISP path, which needs no secret,
    // then pastes an SMS with the invented receipt: before, the two "agreed" and granted.
    let env = PayEnv::with(Setup {
        approve_after_secs: -1,
        callbacks: false,
        ..Setup::default()
    });
    env.sim.set_faults(Faults {
        query_stuck: true,
        ..Faults::default()
    });
    let p = env.buy(1, PHONE);
    let forged = callback(
        &env.checkout_of(&p),
        0,
        Some(("UAF9FORGED", 20, "254712345678")),
    );
    let reply = http(
        env.portal,
        "POST",
        "/api/portal/mpesa/callback",
        &[("Content-Type", "application/json")],
        &forged,
    );
    assert_eq!(
        reply.status, 200,
        "answered like Daraja expects, and only logged"
    );
    for _ in 0..40 {
        env.advance(5);
    }
    let p = env.payment(p.id);
    assert_eq!(p.state, PaymentState::Expired);
    assert!(
        p.callback.is_none(),
        "nothing from the public path is kept: {p:?}"
    );
    let outcome = env
        .app()
        .claim_sms(guest(1).0, &sms("UAF9FORGED", "20.00"), "hour");
    assert_eq!(outcome.unwrap(), SmsOutcome::SentToOwner);
    check_nothing_granted(&env);
}

#[test]
fn a_forged_success_callback_that_the_query_contradicts_grants_nothing() {
    let env = PayEnv::with(Setup {
        approve_after_secs: 20,
        ..Setup::default()
    });
    let p = env.buy(1, "0700001032"); // this customer will cancel at +20
    let forged = callback(
        &env.checkout_of(&p),
        0,
        Some(("UAF9FORGED", 20, "254700001032")),
    );
    assert_eq!(env.post_callback(&forged).status, 200);
    env.app().run_due(); // the forged callback made a query due now: "being processed"
    assert_eq!(env.payment(p.id).state, PaymentState::Pending);
    check_nothing_granted(&env);
    for _ in 0..5 {
        env.advance(5);
    }
    env.delivered(1);
    let p = env.payment(p.id);
    assert_eq!(p.state, PaymentState::Cancelled);
    let kept = p.callback.expect("the forged claim is kept as evidence");
    assert_eq!(kept.receipt.as_deref(), Some("UAF9FORGED"));
    check_nothing_granted(&env);
    // The forger pastes an SMS with the invented receipt: the query said no, so only the
    // owner can credit it.
    let outcome = env
        .app()
        .claim_sms(guest(1).0, &sms("UAF9FORGED", "20.00"), "hour");
    assert_eq!(outcome.unwrap(), SmsOutcome::SentToOwner);
    check_nothing_granted(&env);

    // The simulator's own contradicting callback: success with a receipt for a prompt the
    // customer cancelled.
    let env = PayEnv::new();
    env.sim.set_faults(Faults {
        callback_contradicts: true,
        ..Faults::default()
    });
    let p = env.buy(1, "0700001032");
    env.advance(3);
    env.delivered(1);
    assert_eq!(env.payment(p.id).state, PaymentState::Cancelled);
    check_nothing_granted(&env);
}

#[test]
fn a_callback_below_the_price_is_not_believed() {
    let env = PayEnv::with(Setup {
        approve_after_secs: 20,
        ..Setup::default()
    });
    let p = env.buy(1, PHONE);
    let checkout = env.checkout_of(&p);
    let low = callback(&checkout, 0, Some(("UAF1LOW123", 10, "254712345678")));
    assert!(matches!(
        env.app().on_callback(low.as_bytes()),
        CallbackVerdict::Mismatch(m) if m.contains("below the price")
    ));
    let other_phone = callback(&checkout, 0, Some(("UAF1LOW123", 20, "254799999999")));
    assert!(matches!(
        env.app().on_callback(other_phone.as_bytes()),
        CallbackVerdict::Mismatch(_)
    ));
    assert!(!env.app().has_hint(p.id));
    // A pasted SMS below the price is refused too.
    let err = env
        .app()
        .claim_sms(guest(2).0, &sms("UAF1LOW124", "10.00"), "hour")
        .unwrap_err();
    assert!(matches!(err, SmsError::AmountBelowPrice { .. }), "{err:?}");
    check_nothing_granted(&env);
}

/// Guest 1 buys and pays; the callback arrives: the env, the paid payment, the callback's
/// receipt.
fn paid_with_a_callback() -> (PayEnv, Payment, String) {
    let env = PayEnv::new();
    let a = env.buy(1, PHONE);
    env.advance(3);
    env.delivered(1);
    let a = check_paid_once(&env, a.id);
    let receipt = a.callback.clone().and_then(|h| h.receipt).unwrap();
    (env, a, receipt)
}

#[test]
fn a_receipt_replayed_on_another_checkout_is_credited_once() {
    let (env, a, receipt) = paid_with_a_callback();
    // Another guest's prompt, which that customer will cancel.
    let b = env.buy(2, "0700001032");
    let replay = env.sim.deliveries()[0]
        .body
        .replace(&env.checkout_of(&a), &env.checkout_of(&b))
        .replace("254712345678", "254700001032");
    assert!(matches!(
        env.app().on_callback(replay.as_bytes()),
        CallbackVerdict::Mismatch(m) if m.contains("already credited")
    ));
    env.advance(3);
    env.delivered(2);
    assert_eq!(env.payment(b.id).state, PaymentState::Cancelled);
    assert_eq!(env.sessions().len(), 1);
    // The receipt pasted as an SMS: yours on the device that paid, used on any other.
    credited_to_guest_1_only(&env, &receipt);
}

/// `receipt`, pasted as an SMS, is guest 1's (who paid) and used on guest 2; one session in all.
#[track_caller]
fn credited_to_guest_1_only(env: &PayEnv, receipt: &str) {
    let app = env.app();
    assert_eq!(
        app.claim_sms(guest(1).0, &sms(receipt, "20.00"), "hour")
            .unwrap(),
        SmsOutcome::AlreadyYours
    );
    assert!(matches!(
        app.claim_sms(guest(2).0, &sms(receipt, "20.00"), "hour"),
        Err(SmsError::AlreadyUsed)
    ));
    assert_eq!(env.sessions().len(), 1);
}

/// Issue 14: days later the paid payment is an archived row without its receipt index entry;
/// the receipt pasted as an SMS is still the paying device's and nobody else's.
#[test]
fn an_archived_receipt_is_still_credited_once() {
    let (env, a, receipt) = paid_with_a_callback();
    for _ in 0..5 {
        env.advance(86_400);
    }
    let app = env.app();
    assert!(
        app.store.read(|r| r.payment(a.id)).unwrap().is_none(),
        "archived"
    );
    let books = app.store.read(|r| r.payments_since(0, 10)).unwrap();
    assert_eq!(books.len(), 1);
    assert_eq!(books[0].receipt.as_deref(), Some(receipt.as_str()));
    credited_to_guest_1_only(&env, &receipt);
}

#[test]
fn a_late_callback_after_the_window_still_counts_once_the_query_agrees() {
    let env = PayEnv::new();
    // The customer pays at +2, but Daraja's query says "being processed" all through the
    // window and the callback comes 200 s late.
    env.sim.set_faults(Faults {
        query_stuck: true,
        late_callback_secs: 200,
        ..Faults::default()
    });
    let p = env.buy(1, PHONE);
    for _ in 0..37 {
        env.advance(5);
    }
    let expired = env.payment(p.id);
    assert_eq!(
        (expired.state, expired.decline),
        (PaymentState::Expired, Some(Decline::TimedOut))
    );
    check_nothing_granted(&env);
    env.sim.set_faults(Faults::default()); // the query recovers
    env.advance(18); // t+203: the late callback arrives and makes lango ask again
    env.delivered(1);
    let p = check_paid_once(&env, p.id);
    assert!(p.callback.and_then(|h| h.receipt).is_some());
}

// ---- lango dies in the middle ----

#[test]
fn killed_between_push_and_confirmation_completes_once_after_restart() {
    let dir = TempDir::new("pay-restart");
    let mut setup = Setup {
        store: Some(dir.path("lango.redb")),
        approve_after_secs: 6,
        ..Setup::default()
    };
    setup.callbacks = false;
    let env = PayEnv::with(setup);
    let p = env.buy(1, PHONE);
    assert_eq!(p.state, PaymentState::Pending);
    env.kill();
    env.clock.advance(10); // the customer pays while lango is down
    env.start(); // resume() makes the pending payment's query due at once
    env.app().run_due();
    check_paid_once(&env, p.id);
    // And again: a second restart finds nothing to do.
    env.kill();
    env.start();
    env.advance(30);
    check_paid_once(&env, p.id);
    assert_eq!(
        env.sim.prompts().len(),
        1,
        "one prompt, never a second push"
    );

    // Killed after the callback came but before the query: the hint was in RAM only. The
    // restarted lango's query still grants; the receipt is what is lost (the guest's SMS
    // shows it; ARCHITECTURE.md "Callbacks").
    let dir = TempDir::new("pay-restart-hint");
    let env = PayEnv::with(Setup {
        store: Some(dir.path("lango.redb")),
        ..Setup::default()
    });
    let p = env.buy(1, PHONE);
    env.clock.advance(3);
    eventually("the callback is delivered", || {
        env.sim.deliveries().iter().any(|d| d.status == Some(200))
    });
    assert!(env.app().has_hint(p.id));
    env.kill();
    env.start();
    env.app().run_due();
    let p = check_paid_once(&env, p.id);
    assert_eq!(p.receipt, None);
}

// ---- Daraja misbehaves ----

#[test]
fn daraja_5xx_is_retried_and_nothing_is_lost() {
    let env = PayEnv::new();
    env.sim.set_faults(Faults {
        fail_next: 1,
        unavailable_next: 1,
        drop_callbacks: true,
        ..Faults::default()
    });
    let p = env.buy(1, PHONE);
    assert_eq!(
        p.state,
        PaymentState::Initiating,
        "500, then the push waits 5 s"
    );
    env.advance(5);
    assert_eq!(
        env.payment(p.id).state,
        PaymentState::Initiating,
        "503 page, again"
    );
    env.advance(5);
    let p = env.payment(p.id);
    assert_eq!(p.state, PaymentState::Pending);
    // Queries fail too, then recover.
    env.sim.set_faults(Faults {
        fail_next: 2,
        spike_next: 1,
        drop_callbacks: true,
        ..Faults::default()
    });
    env.advance(4);
    env.advance(3);
    env.advance(3);
    assert_eq!(env.payment(p.id).state, PaymentState::Pending);
    env.advance(5);
    check_paid_once(&env, p.id);
    assert_eq!(env.sim.prompts().len(), 1, "a refused push is not a prompt");
}

#[test]
fn a_stalled_push_is_not_sent_twice_and_the_guest_is_not_lost() {
    let env = PayEnv::with(Setup {
        timeout: Duration::from_millis(800),
        ..Setup::default()
    });
    // lango has been running: it holds a token, so the stall hits the push itself.
    env.app().env.gateway.check();
    env.sim.set_faults(Faults {
        stall_next: 1,
        stall_secs: 2,
        ..Faults::default()
    });
    let p = env.buy(1, PHONE);
    let p = env.payment(p.id);
    assert_eq!(
        (p.state, p.decline, p.checkout_id.as_deref()),
        (PaymentState::Expired, Some(Decline::Unavailable), None),
        "no answer: the push may have reached the phone, so it is not sent again"
    );
    // It did reach the phone, and the customer paid. Its callback names a checkout lango
    // never heard of: ignored.
    eventually("the stalled push was processed", || {
        env.sim.prompts().len() == 1
    });
    env.advance(3);
    env.delivered(1);
    check_nothing_granted(&env);
    // The guest pastes the SMS; the owner checks the statement and approves.
    let checkout = env.sim.prompts()[0].0.clone();
    let receipt = env.sim.receipt_for(&checkout).unwrap();
    let app = env.app();
    assert_eq!(
        app.claim_sms(guest(1).0, &sms(&receipt, "20.00"), "hour")
            .unwrap(),
        SmsOutcome::SentToOwner
    );
    let claim = app
        .store
        .read(|r| r.sms_claim_by_receipt(&receipt))
        .unwrap()
        .unwrap();
    assert!(matches!(
        app.decide_sms_claim(claim.id, true).unwrap(),
        ClaimDecision::Approved(_)
    ));
    assert_eq!(env.sessions().len(), 1);
    assert_eq!(
        env.sessions()[0].token.len(),
        lango::core::token::TOKEN_LEN,
        "an approved claim's session has a token too"
    );
    app.run_due();
    assert!(env.firewall.allows(guest(1).1));

    // A stalled query is simply asked again.
    let env = PayEnv::with(Setup {
        timeout: Duration::from_millis(800),
        ..Setup::default()
    });
    let p = env.buy(1, PHONE);
    env.sim.set_faults(Faults {
        stall_next: 1,
        stall_secs: 2,
        drop_callbacks: true,
        ..Faults::default()
    });
    env.advance(4);
    assert_eq!(env.payment(p.id).state, PaymentState::Pending);
    env.advance(3);
    check_paid_once(&env, p.id);
}

#[test]
fn a_certificate_from_an_unknown_ca_is_refused_with_a_clear_error() {
    let env = PayEnv::with(Setup {
        wrong_ca: true,
        ..Setup::default()
    });
    let p = env.buy(1, PHONE);
    assert_eq!(env.payment(p.id).state, PaymentState::Initiating);
    for _ in 0..37 {
        env.advance(5);
    }
    let p = env.payment(p.id);
    assert_eq!(
        (p.state, p.decline),
        (PaymentState::Expired, Some(Decline::Unavailable))
    );
    assert!(
        env.sim.prompts().is_empty(),
        "no request got past the handshake"
    );
    check_nothing_granted(&env);
    let steps = env.client(account(&env.setup)).check();
    let token = steps.iter().find(|s| s.what == "access token").unwrap();
    assert!(!token.ok);
    assert!(token.detail.contains("unknown issuer"), "{}", token.detail);
}

#[test]
fn a_token_that_dies_mid_flow_is_renewed_once() {
    let env = PayEnv::new();
    env.sim.set_faults(Faults {
        drop_callbacks: true,
        ..Faults::default()
    });
    let p = env.buy(1, PHONE);
    env.sim.expire_tokens(); // Daraja forgets every token (404.001.03)
    env.advance(4);
    check_paid_once(&env, p.id);
    // An hour later the cached token is too old and is renewed before use.
    env.clock.advance(3600);
    let q = env.buy(2, "0722000000");
    assert_eq!(q.state, PaymentState::Pending);
}

// ---- pasted SMS ----

#[test]
fn an_sms_matching_a_callback_the_query_never_answered_waits_for_the_owner() {
    // Issue 13: the callback (even on the secret path) and the SMS are both words, not proof.
    // Before, the two "agreed" and granted whenever the query never gave a final answer.
    let env = PayEnv::new();
    env.sim.set_faults(Faults {
        query_stuck: true,
        ..Faults::default()
    });
    let p = env.buy(1, PHONE);
    env.advance(3);
    env.delivered(1); // the callback says paid; the query keeps saying "being processed"
    for _ in 0..36 {
        env.advance(5);
    }
    let expired = env.payment(p.id);
    assert_eq!(expired.state, PaymentState::Expired);
    let receipt = expired.callback.and_then(|h| h.receipt).unwrap();
    check_nothing_granted(&env);
    let outcome = env
        .app()
        .claim_sms(guest(1).0, &sms(&receipt, "20.00"), "hour")
        .unwrap();
    assert_eq!(outcome, SmsOutcome::SentToOwner);
    env.app().run_due();
    check_nothing_granted(&env);
    assert_eq!(env.payment(p.id).receipt, None);
    // The owner approves: one grant, and the receipt is credited.
    let app = env.app();
    let claim = app
        .store
        .read(|r| r.sms_claim_by_receipt(&receipt))
        .unwrap()
        .unwrap();
    assert!(matches!(
        app.decide_sms_claim(claim.id, true).unwrap(),
        ClaimDecision::Approved(_)
    ));
    assert_eq!(env.sessions().len(), 1);
    assert_eq!(
        app.claim_sms(guest(1).0, &sms(&receipt, "20.00"), "hour")
            .unwrap(),
        SmsOutcome::AlreadyYours
    );
    assert_eq!(env.sessions().len(), 1);
}

#[test]
fn a_forged_callback_with_the_secret_and_an_sms_never_grant() {
    // Issue 13: the forger knows the callback secret (the worst case) and the checkout of a
    // prompt nobody pays; the query never gives a final answer. Callback plus pasted SMS: 0
    // grants; the SMS waits for the owner.
    let env = PayEnv::with(Setup {
        approve_after_secs: -1,
        callbacks: false,
        ..Setup::default()
    });
    env.sim.set_faults(Faults {
        query_stuck: true,
        ..Faults::default()
    });
    let p = env.buy(1, PHONE);
    let forged = callback(
        &env.checkout_of(&p),
        0,
        Some(("UAF9FORGED", 20, "254712345678")),
    );
    assert_eq!(env.post_callback(&forged).status, 200);
    let mut grants = 0;
    for _ in 0..40 {
        env.advance(5);
        let outcome = env
            .app()
            .claim_sms(guest(1).0, &sms("UAF9FORGED", "20.00"), "hour");
        if matches!(outcome, Ok(SmsOutcome::Granted(_))) {
            grants += 1;
        }
    }
    eprintln!("forged callback (secret path) + SMS: {grants} grants");
    assert_eq!(grants, 0);
    assert_eq!(env.payment(p.id).state, PaymentState::Expired);
    check_nothing_granted(&env);
}

#[test]
fn a_receipt_planted_by_a_forged_callback_moves_nothing() {
    // Issue 13: the victim pays; before the query confirms it, a forger with the callback
    // secret posts a success callback for the victim's checkout naming a receipt of its own.
    // Before, that receipt became the payment's and `move` handed the session to the forger.
    let env = PayEnv::with(Setup {
        approve_after_secs: 20,
        callbacks: false,
        ..Setup::default()
    });
    let victim = env.buy(1, PHONE);
    let forged = callback(
        &env.checkout_of(&victim),
        0,
        Some(("UAF9PLANTD", 20, "254712345678")),
    );
    assert_eq!(env.post_callback(&forged).status, 200);
    for _ in 0..6 {
        env.advance(5);
    }
    let paid = check_paid_once(&env, victim.id);
    assert_eq!(paid.receipt, None, "a callback's receipt is never recorded");
    let (thief_ip, thief_mac) = guest(2);
    let stolen = env.app().move_session(thief_ip, "UAF9PLANTD", PHONE);
    assert!(matches!(stolen, Err(MoveError::NotFound)), "{stolen:?}");
    env.app().run_due();
    assert!(env.firewall.allows(paid.mac) && !env.firewall.allows(thief_mac));
    // The paying device's move code (only its payment page shows it) does move it.
    let (new_ip, new_mac) = guest(3);
    let code = lango::core::payments::move_code(&paid.token);
    let wrong_phone = env.app().move_session(new_ip, &code, "0700000000");
    assert!(matches!(wrong_phone, Err(MoveError::NotFound)));
    let moved = env.app().move_session(new_ip, &code.to_lowercase(), PHONE);
    assert!(moved.is_ok(), "{moved:?}");
    env.app().run_due();
    assert!(env.firewall.allows(new_mac) && !env.firewall.allows(paid.mac));
}

#[test]
fn forged_and_unknown_sms_wait_for_the_owner() {
    let env = PayEnv::new();
    let app = env.app();
    let (ip, mac) = guest(3);
    let commits = env.durable_commits();
    // Malformed and non-payment messages are refused without writing anything.
    for text in [
        "",
        "hello, I paid",
        "UF4KQ81ZTD Confirmed. Fuliza M-PESA amount is Ksh 19.40. Access Fee charged Ksh 0.20.",
    ] {
        assert!(
            matches!(
                app.claim_sms(ip, text, "hour"),
                Err(SmsError::NotAPayment(_))
            ),
            "{text}"
        );
    }
    assert_eq!(env.durable_commits(), commits);
    // A well-formed message with a receipt lango never saw: the owner decides.
    assert_eq!(
        app.claim_sms(ip, &sms("UAFA000001", "20.00"), "hour")
            .unwrap(),
        SmsOutcome::SentToOwner
    );
    assert!(matches!(
        app.claim_sms(ip, &sms("UAFA000001", "20.00"), "hour"),
        Err(SmsError::AlreadyWaiting)
    ));
    assert!(
        matches!(
            app.claim_sms(ip, &sms("UAFA000009", "20.00"), "hour"),
            Err(SmsError::TooManyAttempts)
        ),
        "five pastes per device per ten minutes"
    );
    check_nothing_granted(&env);
    let claims = app.store.read(|r| r.sms_claims(10)).unwrap();
    assert_eq!(
        (claims.len(), claims[0].state, claims[0].mac),
        (1, ClaimState::Pending, mac)
    );
    // The owner page lists it; the owner approves it from there.
    let owner = crate::support::Owner::sign_in(Ctx::new(app.clone(), None));
    let page = owner.get("/payments").body;
    assert!(
        page.contains("UAFA000001") && page.contains("Approve"),
        "{page}"
    );
    let done = owner.post_and_follow(&format!("/sms/{}/approve", claims[0].id), "");
    assert!(done.body.contains("Approved: "), "{}", done.body);
    let sessions = env.sessions();
    assert_eq!((sessions.len(), sessions[0].mac), (1, mac));
    assert_eq!(
        app.decide_sms_claim(claims[0].id, true).unwrap(),
        ClaimDecision::NotPending,
        "decided once"
    );
    // The same receipt from another device is used; another forgery is rejected.
    assert!(matches!(
        app.claim_sms(guest(4).0, &sms("UAFA000001", "20.00"), "hour"),
        Err(SmsError::AlreadyUsed)
    ));
    app.claim_sms(guest(4).0, &sms("UAFA000002", "50.00"), "day")
        .unwrap();
    let second = app
        .store
        .read(|r| r.sms_claim_by_receipt("UAFA000002"))
        .unwrap()
        .unwrap();
    assert_eq!(
        app.decide_sms_claim(second.id, false).unwrap(),
        ClaimDecision::Rejected
    );
    assert!(matches!(
        app.claim_sms(guest(4).0, &sms("UAFA000002", "50.00"), "day"),
        Err(SmsError::Rejected)
    ));
    assert_eq!(env.sessions().len(), 1);
}

#[test]
fn an_owner_approval_and_a_late_confirmation_do_not_grant_twice() {
    let env = PayEnv::with(Setup {
        approve_after_secs: 30,
        ..Setup::default()
    });
    // Only the callback written below arrives.
    env.sim.set_faults(Faults {
        drop_callbacks: true,
        ..Faults::default()
    });
    let p = env.buy(1, PHONE);
    // Another device of the guest pastes the SMS of this very payment before lango knows;
    // the owner approves it.
    let receipt = "UAFB000001";
    let app = env.app();
    assert_eq!(
        app.claim_sms(guest(2).0, &sms(receipt, "20.00"), "hour")
            .unwrap(),
        SmsOutcome::SentToOwner
    );
    let claim = app
        .store
        .read(|r| r.sms_claim_by_receipt(receipt))
        .unwrap()
        .unwrap();
    assert!(matches!(
        app.decide_sms_claim(claim.id, true).unwrap(),
        ClaimDecision::Approved(_)
    ));
    // Then M-Pesa's callback for the prompt carries that receipt, and the query says paid.
    let cb = callback(&env.checkout_of(&p), 0, Some((receipt, 20, "254712345678")));
    env.clock.advance(31);
    assert!(matches!(
        app.on_callback(cb.as_bytes()),
        CallbackVerdict::Hint { .. }
    ));
    app.run_due();
    let p = env.payment(p.id);
    assert_eq!(
        p.state,
        PaymentState::Failed,
        "the same money is not granted twice"
    );
    assert_eq!(env.sessions().len(), 1);
    assert_eq!(env.events("payment_rejected"), 1);
}

// ---- abuse limits ----

#[test]
fn one_prompt_per_phone_two_minutes_per_amount_five_starts_per_device() {
    let env = PayEnv::with(Setup {
        approve_after_secs: 30,
        ..Setup::default()
    });
    let app = env.app();
    env.buy(1, PHONE);
    assert!(matches!(
        app.start_purchase(guest(2).0, "day", "+254 712 345 678"),
        Err(PurchaseError::Limited(LimitRefusal::PhoneBusy))
    ));
    // Five starts from one device within ten minutes, each cancelled; the sixth waits.
    let env = PayEnv::new();
    let app = env.app();
    for n in 0..5 {
        let p = env.buy(1, &format!("07{n}{n}{n}{n}1032"));
        env.advance(3);
        env.delivered(n + 1);
        assert_eq!(env.payment(p.id).state, PaymentState::Cancelled);
    }
    assert!(matches!(
        app.start_purchase(guest(1).0, "hour", "0799999999"),
        Err(PurchaseError::Limited(LimitRefusal::TooManyAttempts { .. }))
    ));
    assert!(matches!(
        app.start_purchase(guest(2).0, "hour", "0700001032"),
        Err(PurchaseError::Limited(
            LimitRefusal::SameAmountTooSoon { .. }
        ))
    ));
    env.advance(600);
    assert!(app.start_purchase(guest(1).0, "hour", "0799999999").is_ok());
}

// ---- "Test M-Pesa connection" ----

#[test]
fn the_connection_check_says_which_part_is_wrong_without_showing_secrets() {
    let env = PayEnv::new();
    let good = account(&env.setup);
    let run = |account: Mpesa| env.client(account).check();
    let steps = run(good.clone());
    assert!(steps.iter().all(|s| s.ok), "{steps:?}");
    assert_eq!(steps.len(), 4);

    let mut bad_secret = good.clone();
    bad_secret.consumer_secret = "wrong-secret".into();
    let steps = run(bad_secret);
    let last = steps.last().unwrap();
    assert_eq!((last.what.as_str(), last.ok), ("access token", false));
    assert!(
        last.detail.contains("consumer key and secret"),
        "{}",
        last.detail
    );

    let mut bad_passkey = good.clone();
    bad_passkey.passkey = "not-the-passkey".into();
    let last = run(bad_passkey).pop().unwrap();
    assert_eq!(
        (last.what.as_str(), last.ok),
        ("shortcode and passkey", false)
    );
    assert!(
        last.detail.contains("passkey does not match"),
        "{}",
        last.detail
    );

    // A till owner who typed the till number as the shortcode.
    let mut till_as_shortcode = good.clone();
    till_as_shortcode.kind = MpesaKind::Till;
    till_as_shortcode.shortcode = "5123456".into();
    till_as_shortcode.till = Some("5123456".into());
    let last = run(till_as_shortcode.clone()).pop().unwrap();
    assert_eq!((last.what.as_str(), last.ok), ("till or PayBill", false));
    till_as_shortcode.till = Some("7654321".into());
    let last = run(till_as_shortcode).pop().unwrap();
    assert!(
        last.detail.contains("store (head office) number"),
        "{}",
        last.detail
    );

    // The report never carries a secret.
    for account in [good.clone()] {
        for step in run(account) {
            for secret in [SECRET, PASSKEY, "consumer-key-0123"] {
                assert!(!step.detail.contains(secret), "{step:?}");
            }
        }
    }
    // From the owner page: the test runs on a thread of its own.
    let app = env.app();
    assert!(app.start_mpesa_check());
    eventually("the check finishes", || {
        matches!(
            app.mpesa_check_status(),
            lango::app::mpesa::CheckStatus::Done { .. }
        )
    });
}

#[test]
fn junk_on_the_callback_path_never_breaks_anything() {
    let env = PayEnv::new();
    let p = env.buy(1, PHONE);
    let app = env.app();
    let checkout = env.checkout_of(&p);
    let mut seed = 11u64;
    let pieces = [
        "{",
        "}",
        "\"Body\":",
        "\"stkCallback\":",
        "\"CheckoutRequestID\":",
        "\"ResultCode\":",
        "0",
        "1032",
        ",",
        "[",
        "]",
        "\"Item\":",
        "\"Name\":\"Amount\"",
        "\"Value\":",
        "null",
        "1e309",
        "\"",
        &checkout,
    ];
    for _ in 0..3000 {
        let mut body = String::new();
        for _ in 0..(seed % 20) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            body.push_str(pieces[(seed % pieces.len() as u64) as usize]);
        }
        let _ = app.on_callback(body.as_bytes());
    }
    assert_eq!(env.post_callback(&"x".repeat(20_000)).status, 413);
    env.advance(3);
    env.delivered(1);
    check_paid_once(&env, p.id);
}

// ---- the simulator's control API and the portal's SMS form, over the wire ----

#[test]
fn the_simulator_is_steered_over_https_like_daraja_itself() {
    let env = PayEnv::new();
    let tls = https::tls_config(vec![env.ca.root.clone()]).unwrap();
    let client = Client::new(Some(tls), Duration::from_secs(5));
    let base = env.server.url(true);
    let json = [("Content-Type", "application/json")];
    let faults = client
        .send(
            "POST",
            &format!("{base}/__sim/faults"),
            &json,
            br#"{"drop_callbacks":true}"#,
        )
        .unwrap();
    assert_eq!(faults.status, 200);
    assert!(env.sim.faults().drop_callbacks);
    let p = env.buy(1, PHONE);
    let resolve = format!(
        r#"{{"checkout":"{}","action":"wrong_pin"}}"#,
        env.checkout_of(&p)
    );
    let answer = client
        .send(
            "POST",
            &format!("{base}/__sim/resolve"),
            &json,
            resolve.as_bytes(),
        )
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&answer.body),
        r#"{"resolved":true}"#
    );
    env.advance(4);
    assert_eq!(env.payment(p.id).decline, Some(Decline::WrongPin));
    eventually("the callback is scheduled (and dropped)", || {
        !env.sim.deliveries().is_empty()
    });
    let state = client
        .send("GET", &format!("{base}/__sim/state"), &[], b"")
        .unwrap();
    let state: serde_json::Value = serde_json::from_slice(&state.body).unwrap();
    assert_eq!(state["sessions"][0]["result"], 2001);
    assert_eq!(state["deliveries"][0]["dropped"], true);
    // Daraja's own endpoints refuse a caller without a token, in Daraja's words.
    let refused = client
        .send(
            "POST",
            &format!("{base}{}", lango::core::daraja::PUSH_PATH),
            &json,
            b"{}",
        )
        .unwrap();
    assert_eq!(refused.status, 404);
    assert!(String::from_utf8_lossy(&refused.body).contains("404.001.03"));
}

#[test]
fn the_portal_takes_a_pasted_sms() {
    let env = PayEnv::new();
    let mac = lango::core::model::Mac([0xaa, 0, 0, 0, 0, 0x7f]);
    env.neighbours.insert("127.0.0.1".parse().unwrap(), mac);
    let home = http(env.portal, "GET", "/", &[], "");
    assert!(home.body.contains("action=\"/sms\""), "{}", home.body);
    let text = sms("UAFC000001", "20.00").replace(' ', "+");
    let sent = crate::support::form_post(env.portal, "/sms", &format!("sms={text}&package=hour"));
    assert_eq!(sent.status, 202, "{}", sent.body);
    assert!(
        sent.body.contains("The owner will check it"),
        "{}",
        sent.body
    );
    let junk = crate::support::form_post(env.portal, "/sms", "sms=I+paid+yesterday&package=hour");
    assert_eq!(junk.status, 400);
    assert!(junk.body.contains("not an M-Pesa payment message"));
    let claim = env
        .app()
        .store
        .read(|r| r.sms_claim_by_receipt("UAFC000001"))
        .unwrap()
        .unwrap();
    assert_eq!((claim.mac, claim.state), (mac, ClaimState::Pending));
}
