//! M-Pesa Dynamic QR on the portal (issue 18): lango asks Daraja's QR generate API (the real
//! client over TLS to the simulator) for a code with the package's price and the till, shows the
//! PNG, and the receipt the payer types is confirmed through Pull Transactions, as a till
//! payment is. The simulator's control hook "pays" a QR: the money shows up in Pull's list with
//! the QR's till and amount. Also the owner's revenue split by method, on the dashboard and in
//! the CSV.

use lango::app::mpesa::{SmsError, SmsOutcome};
use lango::app::qr::QrError;
use lango::core::config::MpesaKind;
use lango::core::daraja_sim::Faults;
use lango::core::model::Money;
use lango::web::admin::Ctx;

use crate::payments::{sms, PayEnv, Setup};
use crate::support::{guest, http, Owner};

use crate::pull::{till_setup, TILL};

/// A Buy Goods till with Pull and the QR on.
fn qr_env() -> PayEnv {
    PayEnv::with(Setup {
        qr: true,
        ..till_setup()
    })
}

/// The portal as the device 127.0.0.1 (a MAC of its own).
fn portal_guest(env: &PayEnv) -> lango::core::model::Mac {
    let mac = lango::core::model::Mac([0xaa, 0, 0, 0, 0, 0x7e]);
    env.neighbours.insert("127.0.0.1".parse().unwrap(), mac);
    mac
}

fn post(env: &PayEnv, path: &str, body: &str, lang: &str) -> crate::support::Reply {
    http(
        env.portal,
        "POST",
        path,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Accept-Language", lang),
        ],
        body,
    )
}

#[test]
fn a_qr_paid_from_another_phone_grants_once_over_https() {
    let env = qr_env();
    let mac = portal_guest(&env);
    // The buy page offers the QR.
    let home = http(env.portal, "GET", "/", &[("Accept-Language", "en")], "");
    assert!(home.body.contains("formaction=\"/qr\""), "{}", home.body);
    // The guest asks for one: a PNG inline, with the price, the till and the words.
    let asked = post(&env, "/qr", "package=hour&phone=", "en");
    assert_eq!(
        (asked.status, asked.header("Location")),
        (303, Some("/qr")),
        "{}",
        asked.body
    );
    let page = http(env.portal, "GET", "/qr", &[("Accept-Language", "en")], "");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("src=\"data:image/png;base64,iVBORw0KGgo"),
        "{}",
        page.body
    );
    assert!(page.body.contains(TILL) && page.body.contains("KES 20"));
    assert!(page.body.contains("Scan this code"), "{}", page.body);
    let sw = http(env.portal, "GET", "/qr", &[("Accept-Language", "sw")], "");
    assert!(sw.body.contains("Changanua msimbo huu"), "{}", sw.body);
    // What Daraja was asked: the till as Buy Goods, the price, a reference for this purchase.
    let issued = env.sim.qr_codes();
    assert_eq!(issued.len(), 1);
    let qr = &issued[0];
    assert_eq!(
        (qr.trx_code.as_str(), qr.cpi.as_str(), qr.amount),
        ("BG", TILL, 20)
    );
    assert!(page.body.contains(&qr.ref_no), "the reference is shown");
    // Someone pays it from another phone; the guest types the receipt.
    let receipt = env.sim.pay_qr(&qr.ref_no, "254798765432", None).unwrap();
    let done = post(&env, "/qr/receipt", &format!("receipt={receipt}"), "en");
    assert_eq!(done.status, 303, "{}", done.body);
    let sessions = env.sessions();
    assert_eq!((sessions.len(), sessions[0].mac), (1, mac));
    assert_eq!(env.events("qr_paid"), 1);
    let claim = env
        .app()
        .store
        .read(|r| r.sms_claim_by_receipt(&receipt))
        .unwrap()
        .unwrap();
    assert_eq!(claim.amount, Money(2000));
    // The same receipt from another device with a QR of its own: used.
    env.app().qr_offer(guest(1).0, "hour").unwrap();
    assert!(matches!(
        env.app().claim_qr(guest(1).0, &receipt),
        Err(SmsError::AlreadyUsed)
    ));
    assert_eq!(env.sessions().len(), 1);
    assert_eq!(env.events("qr_paid"), 1);
}

#[test]
fn a_qr_paid_below_the_price_is_refused() {
    let env = qr_env();
    let app = env.app();
    let (ip, _) = guest(1);
    let offer = app.qr_offer(ip, "hour").unwrap();
    assert_eq!(offer.amount, Money(2000));
    // The payer changed the amount to KES 10.
    let receipt = env
        .sim
        .pay_qr(&offer.ref_no, "254798765432", Some(10))
        .unwrap();
    assert!(matches!(
        app.claim_qr(ip, &receipt),
        Err(SmsError::AmountBelowPrice {
            paid: Money(1000),
            price: Money(2000)
        })
    ));
    assert!(env.sessions().is_empty());
}

#[test]
fn a_qr_receipt_is_credited_once_and_a_made_up_one_never() {
    let env = qr_env();
    let app = env.app();
    let (ip1, _) = guest(1);
    let (ip2, _) = guest(2);
    let offer = app.qr_offer(ip1, "hour").unwrap();
    let receipt = env.sim.pay_qr(&offer.ref_no, "254798765432", None).unwrap();
    assert!(matches!(
        app.claim_qr(ip1, &receipt),
        Ok(SmsOutcome::Granted(_))
    ));
    assert!(matches!(
        app.claim_qr(ip1, &receipt),
        Ok(SmsOutcome::AlreadyYours)
    ));
    // Another device with a QR of its own types the same receipt.
    app.qr_offer(ip2, "hour").unwrap();
    assert!(matches!(
        app.claim_qr(ip2, &receipt),
        Err(SmsError::AlreadyUsed)
    ));
    // Or pastes it as an SMS.
    assert!(matches!(
        app.claim_sms(ip2, &sms(&receipt, "20.00"), "hour"),
        Err(SmsError::AlreadyUsed)
    ));
    assert!(matches!(
        app.claim_qr(ip2, "UAFX000009"),
        Err(SmsError::NotPaidHere)
    ));
    // A device without a QR has nothing to confirm.
    assert!(matches!(
        app.claim_qr(guest(3).0, &receipt),
        Err(SmsError::UnknownPackage)
    ));
    assert_eq!(env.sessions().len(), 1);
    assert_eq!(env.events("qr_paid"), 1);
}

#[test]
fn no_qr_without_the_option_or_without_pull() {
    for (pull, qr) in [(true, false), (false, false)] {
        let env = PayEnv::with(Setup {
            kind: MpesaKind::Till,
            till: Some(TILL.into()),
            sim_tills: vec![TILL.into()],
            pull,
            qr,
            ..Setup::default()
        });
        portal_guest(&env);
        let home = http(env.portal, "GET", "/", &[], "");
        assert!(!home.body.contains("/qr"), "pull {pull}: {}", home.body);
        assert!(matches!(
            env.app().qr_offer(guest(1).0, "hour"),
            Err(QrError::Off)
        ));
        assert_eq!(post(&env, "/qr", "package=hour", "en").status, 404);
        assert!(env.sim.qr_codes().is_empty());
    }
}

#[test]
fn a_daraja_qr_error_tells_the_guest_plainly() {
    let env = qr_env();
    portal_guest(&env);
    env.sim.set_faults(Faults {
        fail_next: 1,
        ..Faults::default()
    });
    let page = post(&env, "/qr", "package=hour", "en");
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(
        page.body
            .contains("M-Pesa could not make a QR code just now"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("500.003"),
        "no Daraja code for the guest"
    );
    let sw = post(&env, "/qr", "package=hour", "sw");
    assert_eq!(sw.status, 303, "the next one works: {}", sw.body);
    // A refusal (a till Daraja does not know) is said the same way.
    let env = PayEnv::with(Setup {
        kind: MpesaKind::Till,
        till: Some("5999999".into()),
        sim_tills: vec![TILL.into()],
        pull: true,
        qr: true,
        ..Setup::default()
    });
    assert!(matches!(
        env.app().qr_offer(guest(1).0, "hour"),
        Err(QrError::Gateway(_))
    ));
}

#[test]
fn qr_codes_are_limited_per_device() {
    let env = qr_env();
    let app = env.app();
    let (ip, _) = guest(1);
    for _ in 0..3 {
        app.qr_offer(ip, "hour").unwrap();
    }
    assert!(matches!(app.qr_offer(ip, "hour"), Err(QrError::TooMany)));
    assert_eq!(env.sim.qr_codes().len(), 3);
    // Another device is not held back.
    app.qr_offer(guest(2).0, "min30").unwrap();
}

#[test]
fn revenue_is_split_by_method_on_the_dashboard_and_in_the_csv() {
    let env = qr_env();
    let app = env.app();
    // An STK push paid.
    let p = env.buy(1, crate::payments::PHONE);
    for _ in 0..4 {
        env.advance(2);
    }
    assert_eq!(
        env.payment(p.id).state,
        lango::core::payments::PaymentState::Paid
    );
    // A till payment confirmed by Pull (KES 10 for the half hour).
    env.sim
        .pay_till(Some("UAFP000021"), "254712345678", 10, TILL);
    assert!(matches!(
        app.claim_sms(guest(2).0, &sms("UAFP000021", "10.00"), "min30"),
        Ok(SmsOutcome::Granted(_))
    ));
    // A QR paid (KES 20).
    let offer = app.qr_offer(guest(3).0, "hour").unwrap();
    let receipt = env.sim.pay_qr(&offer.ref_no, "254798765432", None).unwrap();
    assert!(matches!(
        app.claim_qr(guest(3).0, &receipt),
        Ok(SmsOutcome::Granted(_))
    ));
    let owner = Owner::sign_in(Ctx::new(app.clone(), None));
    let dashboard = owner.get("/").body;
    for (method, n, amount) in [
        ("M-Pesa prompt (STK push)", 1, "KES 20"),
        ("Till, confirmed by Pull", 1, "KES 10"),
        ("M-Pesa QR", 1, "KES 20"),
        ("SMS approved by you", 0, "KES 0"),
    ] {
        let row = format!(
            "<td data-title=\"Method\">{method}</td><td class=\"num\" data-title=\"Payments\">\
             {n}</td><td class=\"num\" data-title=\"Amount\">{amount}</td>"
        );
        assert!(dashboard.contains(&row), "{row}: {dashboard}");
    }
    let today = lango::core::time::date_of_day(lango::core::time::local_day(
        lango::core::time::Clock::now(env.clock.as_ref()),
        10_800,
    ));
    let csv = owner.get(&format!("/payments.csv?day={today}")).body;
    assert!(
        csv.starts_with("time,receipt,phone,package,amount,state,method\r\n"),
        "{csv}"
    );
    assert!(csv.contains("\"20\",\"paid\",\"stk\""), "{csv}");
    assert!(csv.contains("\"UAFP000021\""), "{csv}");
    assert!(csv.contains("\"10\",\"paid\",\"pull\""), "{csv}");
    assert!(
        csv.contains(&format!("\"{receipt}\"")) && csv.contains("\"20\",\"paid\",\"qr\""),
        "{csv}"
    );
    let payments = owner.get("/payments").body;
    assert!(payments.contains("Pull: 1, KES 10"), "{payments}");
    assert!(payments.contains("QR: 1, KES 20"), "{payments}");
}
