//! Payments made from the M-Pesa menu (the till, no prompt) confirmed by the router itself
//! through Daraja's Pull Transactions API (issue 18): through the real Daraja client over TLS to
//! the simulator, whose control hook records what a customer paid from the menu. A receipt a
//! guest pastes is only a question; Pull's answer decides.

use lango::app::mpesa::{SmsError, SmsOutcome};
use lango::core::config::MpesaKind;
use lango::core::daraja_sim::Faults;
use lango::core::model::Money;
use lango::core::payments::PaymentState;
use lango::core::sms::ClaimState;

use crate::payments::{sms, PayEnv, Setup, PHONE};
use crate::support::{guest, http};

pub(crate) const TILL: &str = "5123456";

/// A Buy Goods till under store 174379, with Pull on (registered by lango at its start).
pub(crate) fn till_setup() -> Setup {
    Setup {
        kind: MpesaKind::Till,
        till: Some(TILL.into()),
        sim_tills: vec![TILL.into()],
        pull: true,
        pull_phone: Some("0722000000".into()),
        ..Setup::default()
    }
}

fn till_env() -> PayEnv {
    PayEnv::with(till_setup())
}

fn claims(env: &PayEnv) -> usize {
    env.app().store.read(|r| r.sms_claims(100)).unwrap().len()
}

#[test]
fn a_till_payment_pulled_from_mpesa_grants_once() {
    let env = till_env();
    let app = env.app();
    let (ip, mac) = guest(1);
    // The customer paid KES 20 to the till from the M-Pesa menu.
    env.sim
        .pay_till(Some("UAFP000001"), "254712345678", 20, TILL);
    assert!(matches!(
        app.claim_sms(ip, &sms("UAFP000001", "20.00"), "hour")
            .unwrap(),
        SmsOutcome::Granted(_)
    ));
    let sessions = env.sessions();
    assert_eq!((sessions.len(), sessions[0].mac), (1, mac));
    assert_eq!(env.events("pull_paid"), 1);
    // Kept for the owner as an approved claim, with Pull's amount.
    let claim = app
        .store
        .read(|r| r.sms_claim_by_receipt("UAFP000001"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (claim.state, claim.mac, claim.amount),
        (ClaimState::Approved, mac, Money(2000))
    );
    // Pasted again: already this device's; from another device: used.
    assert_eq!(
        app.claim_sms(ip, &sms("UAFP000001", "20.00"), "hour")
            .unwrap(),
        SmsOutcome::AlreadyYours
    );
    assert!(matches!(
        app.claim_sms(guest(2).0, &sms("UAFP000001", "20.00"), "hour"),
        Err(SmsError::AlreadyUsed)
    ));
    assert_eq!(env.sessions().len(), 1);
    assert_eq!(env.events("pull_paid"), 1);
}

#[test]
fn another_tills_receipt_or_a_made_up_one_is_refused() {
    let env = till_env();
    let app = env.app();
    // Paid to a till of another store and to another business's PayBill.
    env.sim
        .pay_till(Some("UAFP000002"), "254712345678", 20, "5999999");
    env.sim
        .pay_till(Some("UAFP000003"), "254712345678", 20, "7777777");
    for receipt in ["UAFP000002", "UAFP000003", "UAFP000004"] {
        assert!(
            matches!(
                app.claim_sms(guest(1).0, &sms(receipt, "20.00"), "hour"),
                Err(SmsError::NotPaidHere)
            ),
            "{receipt}"
        );
    }
    assert!(env.sessions().is_empty());
    assert_eq!(claims(&env), 0, "nothing waits for the owner either");
}

#[test]
fn too_little_paid_is_refused_whatever_the_sms_says() {
    let env = till_env();
    let app = env.app();
    env.sim
        .pay_till(Some("UAFP000005"), "254712345678", 10, TILL);
    // The pasted text claims KES 20; M-Pesa says KES 10.
    assert!(matches!(
        app.claim_sms(guest(1).0, &sms("UAFP000005", "20.00"), "hour"),
        Err(SmsError::AmountBelowPrice {
            paid: Money(1000),
            price: Money(2000)
        })
    ));
    assert!(env.sessions().is_empty());
    // Enough for the cheaper package.
    assert!(matches!(
        app.claim_sms(guest(1).0, &sms("UAFP000005", "10.00"), "min30")
            .unwrap(),
        SmsOutcome::Granted(_)
    ));
}

#[test]
fn a_receipt_an_stk_payment_credited_is_not_credited_again() {
    for callbacks in [true, false] {
        let env = PayEnv::with(Setup {
            pull: true,
            pull_phone: Some("0722000000".into()),
            callbacks,
            ..Setup::default()
        });
        let p = env.buy(1, PHONE);
        if callbacks {
            // The customer pays; the callback with the receipt arrives before lango's query
            // (waited for: under emulation it can otherwise come after the query settled).
            env.clock.advance(3);
            env.delivered(1);
        }
        for _ in 0..4 {
            env.advance(2);
        }
        assert_eq!(env.payment(p.id).state, PaymentState::Paid);
        let receipt = env.sim.receipt_for(&env.sim.prompts()[0].0).unwrap();
        // Pull lists it (real money to this shortcode), but guest 1 was granted for it already.
        let other = env
            .app()
            .claim_sms(guest(2).0, &sms(&receipt, "20.00"), "hour");
        if callbacks {
            // The callback named the receipt: it is guest 1's.
            assert!(matches!(other, Err(SmsError::AlreadyUsed)), "{other:?}");
        } else {
            // Only the query confirmed it (no receipt): the owner decides, nobody is granted.
            assert_eq!(other.unwrap(), SmsOutcome::SentToOwner);
        }
        assert_eq!(env.sessions().len(), 1, "callbacks {callbacks}");
        assert_eq!(env.events("pull_paid"), 0);
    }
}

#[test]
fn a_prompt_paid_but_not_yet_confirmed_is_granted_once_by_its_query() {
    let env = PayEnv::with(Setup {
        pull: true,
        pull_phone: Some("0722000000".into()),
        callbacks: false,
        approve_after_secs: 4,
        ..Setup::default()
    });
    let p = env.buy(1, PHONE);
    // The customer typed the PIN; lango has not asked yet, and Pull already lists the money.
    env.clock.advance(5);
    let receipt = env.sim.receipt_for(&env.sim.prompts()[0].0).unwrap();
    for n in [1, 2] {
        assert_eq!(
            env.app()
                .claim_sms(guest(n).0, &sms(&receipt, "20.00"), "hour")
                .unwrap(),
            SmsOutcome::Checking,
            "guest {n}"
        );
    }
    for _ in 0..4 {
        env.advance(2);
    }
    assert_eq!(env.payment(p.id).state, PaymentState::Paid);
    let sessions = env.sessions();
    assert_eq!((sessions.len(), sessions[0].mac), (1, guest(1).1));
    assert_eq!(env.events("pull_paid"), 0);
}

#[test]
fn without_pull_or_when_pull_cannot_answer_the_owner_decides() {
    // No Pull access: the owner's queue, as before.
    let env = PayEnv::with(Setup {
        kind: MpesaKind::Till,
        till: Some(TILL.into()),
        sim_tills: vec![TILL.into()],
        ..Setup::default()
    });
    env.sim
        .pay_till(Some("UAFP000006"), "254712345678", 20, TILL);
    assert_eq!(
        env.app()
            .claim_sms(guest(1).0, &sms("UAFP000006", "20.00"), "hour")
            .unwrap(),
        SmsOutcome::SentToOwner
    );
    assert!(env.sessions().is_empty());
    // Pull on, but the shortcode was never registered (no pull_phone): Daraja refuses the
    // query, and the claim waits for the owner rather than being lost.
    let env = PayEnv::with(Setup {
        pull: true,
        ..Setup::default()
    });
    env.sim
        .pay_till(Some("UAFP000007"), "254712345678", 20, "174379");
    assert_eq!(
        env.app()
            .claim_sms(guest(1).0, &sms("UAFP000007", "20.00"), "hour")
            .unwrap(),
        SmsOutcome::SentToOwner
    );
    assert!(env.sessions().is_empty());
}

#[test]
fn pull_lookups_are_bounded_and_back_off_on_spike_arrest() {
    let env = till_env();
    let app = env.app();
    // Three lookups a minute per device.
    for n in 1..=3 {
        let receipt = format!("UAFQ00000{n}");
        assert!(matches!(
            app.claim_sms(guest(1).0, &sms(&receipt, "20.00"), "hour"),
            Err(SmsError::NotPaidHere)
        ));
    }
    assert!(matches!(
        app.claim_sms(guest(1).0, &sms("UAFQ000004", "20.00"), "hour"),
        Err(SmsError::TooManyAttempts)
    ));
    // Daraja's spike arrest: the guest is told to wait, and lango waits before asking again.
    env.sim
        .pay_till(Some("UAFQ000009"), "254712345678", 20, TILL);
    env.sim.set_faults(Faults {
        spike_next: 1,
        ..Faults::default()
    });
    assert!(matches!(
        app.claim_sms(guest(2).0, &sms("UAFQ000009", "20.00"), "hour"),
        Err(SmsError::MpesaBusy)
    ));
    assert!(matches!(
        app.claim_sms(guest(2).0, &sms("UAFQ000009", "20.00"), "hour"),
        Err(SmsError::MpesaBusy)
    ));
    assert_eq!(env.sim.faults().spike_next, 0);
    env.advance(3);
    assert!(matches!(
        app.claim_sms(guest(2).0, &sms("UAFQ000009", "20.00"), "hour")
            .unwrap(),
        SmsOutcome::Granted(_)
    ));
}

#[test]
fn the_portal_tells_the_guest_in_english_and_kiswahili() {
    let env = till_env();
    let mac = lango::core::model::Mac([0xaa, 0, 0, 0, 0, 0x7f]);
    env.neighbours.insert("127.0.0.1".parse().unwrap(), mac);
    let post = |text: &str, lang: &str| {
        let body = format!("sms={}&package=hour", text.replace(' ', "+"));
        http(
            env.portal,
            "POST",
            "/sms",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Accept-Language", lang),
            ],
            &body,
        )
    };
    let unknown = post(&sms("UAFR000001", "20.00"), "en");
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert!(unknown
        .body
        .contains("M-Pesa shows no payment with that code"));
    let unknown = post(&sms("UAFR000002", "20.00"), "sw");
    assert!(
        unknown.body.contains("M-Pesa haionyeshi malipo"),
        "{}",
        unknown.body
    );
    env.sim
        .pay_till(Some("UAFR000003"), "254712345678", 10, TILL);
    let low = post(&sms("UAFR000003", "20.00"), "sw");
    assert_eq!(low.status, 400);
    assert!(
        low.body.contains("Malipo hayo ni chini ya bei"),
        "{}",
        low.body
    );
    env.advance(60);
    env.sim
        .pay_till(Some("UAFR000004"), "254712345678", 20, TILL);
    let paid = post(&sms("UAFR000004", "20.00"), "sw");
    assert_eq!(paid.status, 303, "{}", paid.body);
    let home = http(env.portal, "GET", "/", &[("Accept-Language", "sw")], "");
    assert!(home.body.contains("Umeunganishwa"), "{}", home.body);
    let sessions = env.sessions();
    assert_eq!((sessions.len(), sessions[0].mac), (1, mac));
}

#[test]
fn one_lookup_at_a_time_so_a_slow_mpesa_holds_one_portal_thread() {
    let env = till_env();
    env.sim
        .pay_till(Some("UAFS000001"), "254712345678", 20, TILL);
    // Daraja holds its next answer for 2 s.
    env.sim.set_faults(Faults {
        stall_next: 1,
        stall_secs: 2,
        ..Faults::default()
    });
    let app = env.app();
    let slow =
        std::thread::spawn(move || app.claim_sms(guest(1).0, &sms("UAFS000001", "20.00"), "hour"));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(matches!(
        env.app()
            .claim_sms(guest(2).0, &sms("UAFS000002", "20.00"), "hour"),
        Err(SmsError::MpesaBusy)
    ));
    assert!(matches!(slow.join().unwrap(), Ok(SmsOutcome::Granted(_))));
    // Then the next one is asked.
    assert!(matches!(
        env.app()
            .claim_sms(guest(2).0, &sms("UAFS000002", "20.00"), "hour"),
        Err(SmsError::NotPaidHere)
    ));
}
