//! Sessions and payments over time, driven by a manual clock: expiry exactly at the deadline,
//! wall-clock jumps both ways, restarts in the middle of a payment, firewall failures, quotas,
//! and an idle daemon that writes nothing.

use lango::app::{Denied, PurchaseError, RedeemError};
use lango::core::payments::PaymentState;
use lango::core::sessions::{EndReason, Lifecycle, SessionState};
use lango::store::Store;

use crate::support::{demo_config, guest, TempDir, TestEnv, T0};

fn voucher(env: &TestEnv, package: &str) -> String {
    env.app
        .generate_vouchers(package, 1, "", None)
        .unwrap()
        .unwrap()
        .remove(0)
        .code
}

#[test]
fn a_session_ends_exactly_at_its_deadline() {
    let env = TestEnv::new();
    let (ip, mac) = guest(1);
    let session = env.app.redeem(ip, &voucher(&env, "hour")).unwrap();
    assert_eq!(session.deadline, T0 + 3600);
    env.app.run_due();
    assert!(env.firewall.allows(mac));
    let client = env.firewall.last().unwrap().clients[0].clone();
    assert_eq!(
        (client.timeout_ms, client.quota_left),
        (3_600_000, Some(1_000_000_000))
    );

    env.advance(3599);
    assert!(
        env.firewall.allows(mac),
        "one second before the deadline the guest is still in"
    );
    env.advance(1);
    assert!(
        !env.firewall.allows(mac),
        "at the deadline the guest is out"
    );
    let ended = env
        .app
        .store
        .read(|r| r.session(session.id))
        .unwrap()
        .unwrap();
    assert_eq!(
        (ended.state, ended.ended_at, ended.end_reason),
        (
            SessionState::Expired,
            Some(T0 + 3600),
            Some(EndReason::Time)
        )
    );
    assert!(matches!(
        env.app.device(ip).unwrap().unwrap().lifecycle,
        Lifecycle::Ended(_)
    ));
}

#[test]
fn the_worker_wakes_at_the_next_deadline_not_on_a_fixed_poll() {
    let env = TestEnv::new();
    let (ip, _) = guest(1);
    env.app.redeem(ip, &voucher(&env, "min30")).unwrap();
    env.app.run_due();
    // The reconcile interval of the demo config is 30 s; the session ends in 30 min.
    assert_eq!(env.app.next_wake(), T0 + 30);
    env.advance(1790);
    assert_eq!(
        env.app.next_wake(),
        T0 + 1800,
        "the deadline comes before the next reconcile"
    );
}

#[test]
fn a_clock_jumping_backwards_neither_lengthens_sessions_nor_sells() {
    let env = TestEnv::new();
    let (ip, mac) = guest(1);
    env.app.redeem(ip, &voucher(&env, "hour")).unwrap();
    env.advance(600);
    // The router's clock falls back to 2020 (a reboot without NTP, a dead RTC battery).
    env.clock.set(1_580_000_000);
    let time = env.app.time();
    assert!(!time.trusted);
    assert_eq!(
        time.now,
        T0 + 600,
        "lango computes from the highest time it has seen"
    );
    assert!(matches!(
        env.app.start_purchase(ip, "hour", "0712345678"),
        Err(PurchaseError::Denied(Denied::ClockUnsynced))
    ));
    assert!(matches!(
        env.app.redeem(guest(2).0, "ANYCODE234"),
        Err(RedeemError::Denied(Denied::ClockUnsynced))
    ));
    env.app.run_due();
    let client = env
        .firewall
        .last()
        .unwrap()
        .clients
        .into_iter()
        .find(|c| c.mac == mac)
        .unwrap();
    assert_eq!(
        client.timeout_ms, 3_000_000,
        "remaining time is counted from the floor, not from 2020"
    );
    // NTP fixes the clock: sales resume, the session keeps its deadline.
    env.clock.set(T0 + 700);
    assert!(env.app.time().trusted);
    env.advance(2900);
    assert!(!env.firewall.allows(mac));
}

#[test]
fn a_clock_jumping_forwards_expires_what_is_over() {
    let env = TestEnv::new();
    let (ip, mac) = guest(1);
    env.app.redeem(ip, &voucher(&env, "hour")).unwrap();
    env.app.run_due();
    env.clock.set(T0 + 2 * 3600);
    env.app.run_due();
    assert!(!env.firewall.allows(mac));
    let state = env
        .app
        .store
        .read(|r| r.latest_session(mac))
        .unwrap()
        .unwrap()
        .state;
    assert_eq!(state, SessionState::Expired);
}

#[test]
fn buying_more_extends_the_running_session() {
    let env = TestEnv::new();
    let (ip, _) = guest(1);
    let first = env.app.redeem(ip, &voucher(&env, "hour")).unwrap();
    env.advance(1200);
    let second = env.app.redeem(ip, &voucher(&env, "min30")).unwrap();
    assert_eq!(second.id, first.id, "same session, no disconnect");
    assert_eq!(second.deadline, T0 + 3600 + 1800);
    assert_eq!(
        second.quota_bytes, None,
        "an unlimited package lifts the quota"
    );
}

#[test]
fn a_voucher_works_once() {
    let env = TestEnv::new();
    let code = voucher(&env, "day");
    env.app.redeem(guest(1).0, &code.to_lowercase()).unwrap();
    let again = env.app.redeem(guest(2).0, &code);
    assert!(matches!(
        again,
        Err(RedeemError::Refused(lango::core::vouchers::Refusal::Used))
    ));
    assert!(matches!(
        env.app.redeem(guest(2).0, "NOPE"),
        Err(RedeemError::Refused(
            lango::core::vouchers::Refusal::Unknown
        ))
    ));
}

#[test]
fn a_device_outside_the_neighbour_table_cannot_buy() {
    let env = TestEnv::new();
    let stranger = "10.9.9.9".parse().unwrap();
    assert!(matches!(
        env.app.start_purchase(stranger, "hour", "0712345678"),
        Err(PurchaseError::Denied(Denied::UnknownDevice))
    ));
}

#[test]
fn a_payment_interrupted_by_a_restart_completes_once() {
    let dir = TempDir::new("restart");
    let path = dir.path("lango.redb");
    let (ip, mac) = guest(1);
    let payment_id = {
        let env = TestEnv::with(Store::open(&path).unwrap(), demo_config(), T0);
        let payment = env.app.start_purchase(ip, "hour", "0712345678").unwrap();
        env.app.run_due(); // the push is acknowledged: Pending
        let p = env
            .app
            .store
            .read(|r| r.payment(payment.id))
            .unwrap()
            .unwrap();
        assert_eq!(p.state, PaymentState::Pending);
        payment.id
        // lango dies here, before any poll.
    };
    // A new lango on the same file. The simulated Daraja keeps its state in a new simulator, so
    // give this one the prompt back: the customer typed the PIN meanwhile.
    let env = TestEnv::with(Store::open(&path).unwrap(), demo_config(), T0 + 10);
    let checkout = env
        .app
        .store
        .read(|r| r.payment(payment_id))
        .unwrap()
        .unwrap()
        .checkout_id
        .unwrap();
    let outcome = lango::core::payments::StkOutcome::Paid {
        receipt: None,
        amount: None,
    };
    assert!(env.app.settle(payment_id, &outcome).unwrap());
    assert!(
        env.app.settle(payment_id, &outcome).unwrap(),
        "a second confirmation is a no-op"
    );
    let (p, active, all) = env
        .app
        .store
        .read(|r| {
            Ok((
                r.payment(payment_id)?,
                r.active_session(mac)?,
                r.recent_sessions(10)?,
            ))
        })
        .unwrap();
    assert_eq!(p.unwrap().state, PaymentState::Paid);
    assert_eq!(all.len(), 1, "exactly one grant");
    assert_eq!(active.unwrap().deadline, T0 + 10 + 3600);
    assert!(checkout.starts_with("ws_CO_"));
}

#[test]
fn resumed_pending_payments_are_polled_after_a_restart() {
    let dir = TempDir::new("resume");
    let path = dir.path("lango.redb");
    let (ip, _) = guest(3);
    {
        let env = TestEnv::with(Store::open(&path).unwrap(), demo_config(), T0);
        env.app.start_purchase(ip, "hour", "0712345678").unwrap();
        env.app.run_due();
    }
    let env = TestEnv::with(Store::open(&path).unwrap(), demo_config(), T0 + 5);
    // The new simulator does not know the checkout: the query is refused, lango keeps trying
    // until the prompt window is over, then calls the payment expired. Nothing is granted.
    for _ in 0..60 {
        env.advance(5);
    }
    let p = env
        .app
        .store
        .read(|r| r.recent_payments(1))
        .unwrap()
        .remove(0);
    assert_eq!(p.state, PaymentState::Expired);
    assert!(env
        .app
        .store
        .read(|r| r.active_sessions())
        .unwrap()
        .is_empty());
}

#[test]
fn a_failing_firewall_is_retried_and_loses_nothing() {
    let env = TestEnv::new();
    let (ip, mac) = guest(1);
    env.firewall.fail_next(2);
    env.app.redeem(ip, &voucher(&env, "hour")).unwrap();
    env.app.run_due();
    assert!(!env.firewall.allows(mac));
    env.advance(5);
    assert!(!env.firewall.allows(mac));
    env.advance(5);
    assert!(env.firewall.allows(mac), "the third apply succeeds");
}

#[test]
fn a_used_up_quota_ends_the_session() {
    let env = TestEnv::new();
    let (ip, mac) = guest(1);
    env.app.redeem(ip, &voucher(&env, "hour")).unwrap();
    env.app.run_due();
    env.firewall.set_usage(mac, 100_000_000, 400_000_000);
    env.advance(30);
    let view = env.app.device(ip).unwrap().unwrap();
    let Lifecycle::Active(s) = view.lifecycle else {
        panic!("still active")
    };
    assert_eq!(s.bytes_used(), 500_000_000);
    env.firewall.set_usage(mac, 100_000_000, 900_000_000);
    env.advance(30);
    assert!(!env.firewall.allows(mac));
    let ended = env
        .app
        .store
        .read(|r| r.latest_session(mac))
        .unwrap()
        .unwrap();
    assert_eq!(ended.end_reason, Some(EndReason::Quota));
    assert_eq!(ended.bytes_used(), 1_000_000_000);
}

/// Fair use (issue 16): the same quota with `fair_rate` keeps the session, and the device,
/// past it, at the fair rate.
#[test]
fn a_fair_use_session_outlives_its_quota() {
    let text = lango::daemon::DEMO_CONFIG.replace(
        "\toption data '1GB'\n",
        "\toption data '1GB'\n\toption fair_rate '512k'\n",
    );
    let config = lango::core::config::parse(&text, "demo.conf").unwrap();
    let env = TestEnv::with(Store::in_memory().unwrap(), config, T0);
    let (ip, mac) = guest(1);
    env.app.redeem(ip, &voucher(&env, "hour")).unwrap();
    env.app.run_due();
    env.firewall.set_usage(mac, 100_000_000, 1_400_000_000);
    env.advance(30);
    env.advance(30);
    assert!(env.firewall.allows(mac));
    let view = env.app.device(ip).unwrap().unwrap();
    let Lifecycle::Active(s) = view.lifecycle else {
        panic!("still active past its quota")
    };
    assert_eq!(
        (s.bytes_used(), s.terms.fair_kbit),
        (1_500_000_000, Some(512))
    );
    // It ends with its time, as any other.
    env.advance(3600);
    assert!(!env.firewall.allows(mac));
    let ended = env
        .app
        .store
        .read(|r| r.latest_session(mac))
        .unwrap()
        .unwrap();
    assert_eq!(ended.end_reason, Some(EndReason::Time));
}

#[test]
fn an_idle_lango_writes_nothing() {
    let env = TestEnv::new();
    let (ip, _) = guest(1);
    env.app.redeem(ip, &voucher(&env, "week")).unwrap();
    env.advance(400); // the first checkpoint (funnel counters of the redemption) is behind us
    let before = env.app.store.write_stats();
    for _ in 0..120 {
        env.advance(30); // an hour of reconciles with nothing changing
    }
    assert_eq!(env.app.store.write_stats(), before);
}

/// One paid purchase, with `pending_queries` queries answered "still processing" before the one
/// that finds it paid: its state and the (durable, lazy) commits it cost.
fn commits_of_a_purchase(pending_queries: usize) -> (PaymentState, (u64, u64)) {
    let env = TestEnv::new();
    let (ip, mac) = guest(1);
    let before = env.app.store.write_stats();
    let payment = env.app.start_purchase(ip, "hour", "0712345678").unwrap();
    env.app.run_due(); // push acknowledged
    for _ in 0..pending_queries {
        let final_state = env
            .app
            .settle(payment.id, &lango::core::payments::StkOutcome::Pending)
            .unwrap();
        assert!(!final_state);
    }
    env.advance(4); // first poll: the simulated customer paid after 3 s
    assert!(env.firewall.allows(mac));
    let after = env.app.store.write_stats();
    let p = env
        .app
        .store
        .read(|r| r.payment(payment.id))
        .unwrap()
        .unwrap();
    let commits = (
        after.durable_commits - before.durable_commits,
        after.lazy_commits - before.lazy_commits,
    );
    (p.state, commits)
}

#[test]
fn a_purchase_costs_three_durable_commits() {
    assert_eq!(
        commits_of_a_purchase(0),
        (PaymentState::Paid, (3, 0)),
        "record, acknowledged, paid+grant"
    );
}

#[test]
fn a_guest_slow_to_type_the_pin_still_costs_three_durable_commits() {
    // Queries answered "still processing" change nothing: they cost no commit (each was a
    // durable commit, the 4th of a purchase measured in issue 14).
    assert_eq!(
        commits_of_a_purchase(3),
        (PaymentState::Paid, (3, 0)),
        "record, acknowledged, paid+grant"
    );
}

#[test]
fn a_wrong_pin_grants_nothing_and_the_guest_can_try_again() {
    let env = TestEnv::new();
    let (ip, mac) = guest(1);
    env.sim.decline_next(2001);
    let first = env.app.start_purchase(ip, "hour", "0712345678").unwrap();
    env.app.run_due();
    env.advance(4);
    let p = env
        .app
        .store
        .read(|r| r.payment(first.id))
        .unwrap()
        .unwrap();
    assert_eq!(
        (p.state, p.decline),
        (
            PaymentState::Failed,
            Some(lango::core::payments::Decline::WrongPin)
        )
    );
    assert!(!env.firewall.allows(mac));
    // The same phone may not be pushed the same amount again within two minutes (Daraja's
    // rule 17): lango refuses before pushing, then tries again once the two minutes are over.
    assert!(matches!(
        env.app.start_purchase(ip, "hour", "0712345678"),
        Err(PurchaseError::Limited(
            lango::core::payments::LimitRefusal::SameAmountTooSoon { .. }
        ))
    ));
    env.advance(120);
    let retry = env.app.start_purchase(ip, "hour", "0712345678").unwrap();
    env.app.run_due();
    env.advance(4);
    let p = env
        .app
        .store
        .read(|r| r.payment(retry.id))
        .unwrap()
        .unwrap();
    assert_eq!((p.state, p.result_code), (PaymentState::Paid, Some(0)));
    // A device that joins later is identified by its own MAC.
    let newcomer_ip: std::net::IpAddr = "192.168.1.200".parse().unwrap();
    let newcomer = lango::core::model::Mac([0xaa, 0xbb, 0, 0, 0, 1]);
    env.neighbours.insert(newcomer_ip, newcomer);
    let payment = env
        .app
        .start_purchase(newcomer_ip, "day", "0722000000")
        .unwrap();
    assert_eq!(payment.mac, newcomer);
}

#[test]
fn session_and_payment_events_reach_the_ubus_sink() {
    let env = TestEnv::new();
    let (tx, rx) = std::sync::mpsc::sync_channel(64);
    env.app.set_change_sink(lango::ubus::change_sink(tx));
    let (ip, _) = guest(1);
    let payment = env.app.start_purchase(ip, "min30", "0712345678").unwrap();
    env.app.run_due();
    env.advance(4);
    env.advance(1800);
    let names: Vec<String> = rx
        .try_iter()
        .map(|e| format!("{} {}", e.name, e.data["state"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        names,
        [
            "payment.state pending",
            "session.start ",
            "payment.state paid",
            "session.stop "
        ],
        "{names:?}"
    );
    assert!(payment.id > 0);
}

#[test]
fn a_refused_purchase_writes_nothing_to_flash() {
    let env = TestEnv::new();
    let (ip, _) = guest(1);
    env.app.start_purchase(ip, "hour", "0712345678").unwrap();
    env.app.run_due();
    let before = env.app.store.write_stats();
    // 300 refused requests: the same device with a prompt open, and other devices for the
    // same busy phone.
    for n in 0..300 {
        let from = guest(1 + (n % 3) as u8).0;
        assert!(env.app.start_purchase(from, "day", "0712345678").is_err());
    }
    assert_eq!(
        env.app.store.write_stats(),
        before,
        "no commit, no byte, for a refused request"
    );
}

/// A store holding `n` active sessions, the first ending a minute after T0 and one more each
/// second after that.
fn store_with_sessions(n: u64) -> Store {
    let store = Store::in_memory().unwrap();
    let env = TestEnv::new();
    let (ip, _) = guest(1);
    let template = env.app.redeem(ip, &voucher(&env, "hour")).unwrap();
    store
        .write(lango::store::Durability::Durable, |w| {
            for i in 0..n {
                let b = i.to_be_bytes();
                let mut s = template.clone();
                s.id = i + 1;
                s.mac = lango::core::model::Mac([2, 0xbb, b[4], b[5], b[6], b[7]]);
                s.deadline = T0 + 60 + i as i64;
                w.put_session(&s)?;
            }
            w.set_meta("next_id", n + 1)
        })
        .unwrap();
    store
}

/// Issue 14: a wake does work in proportion to what is due, not to what is active. With 1,000
/// paid devices, the wakes for ten expiries (and the periodic reconcile among them) decode the
/// sessions that end, not the thousand that do not.
#[test]
fn a_wake_decodes_only_the_sessions_that_are_due() {
    let env = TestEnv::with(store_with_sessions(1000), demo_config(), T0);
    env.app.run_due();
    assert_eq!(env.firewall.last().unwrap().clients.len(), 1000);
    env.advance(59);
    let before = env.app.store.sessions_decoded();
    for _ in 0..10 {
        env.advance(1);
    }
    let decoded = env.app.store.sessions_decoded() - before;
    assert_eq!(env.firewall.last().unwrap().clients.len(), 990);
    // Each session that ends is read to end it and once more for its event.
    assert!(
        decoded <= 2 * 10,
        "ten expiries among 1,000 active sessions decoded {decoded} sessions"
    );
}
