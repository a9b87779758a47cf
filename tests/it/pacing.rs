//! Status queries that respect Daraja's rate limits (issue 18): after a restart with many open
//! payments, lango spreads its queries over seconds instead of asking about all of them at
//! once, backs off when Daraja answers `500.003.02 Spike Arrest`, and does not call a payment
//! expired because it could not ask. Through the real Daraja client over TLS to the simulator,
//! whose spike limit is 10 requests a second per API.

use lango::core::daraja_sim::Faults;
use lango::core::payments::PaymentState;

use crate::payments::{PayEnv, Setup};
use crate::support::{guest, TempDir};

/// Open payments when lango restarts.
const OPEN: u8 = 40;

/// `OPEN` guests each start a purchase (the push paced to stay under the spike limit), and no
/// customer answers for 30 s.
fn open_payments(name: &str) -> (PayEnv, TempDir, Vec<u64>) {
    let dir = TempDir::new(name);
    let env = PayEnv::with(Setup {
        store: Some(dir.path("lango.redb")),
        approve_after_secs: 30,
        callbacks: false,
        ..Setup::default()
    });
    let mut ids = Vec::new();
    for n in 1..=OPEN {
        let (ip, mac) = guest(n);
        env.neighbours.insert(ip, mac);
        let phone = format!("07123456{n:02}");
        let payment = env.app().start_purchase(ip, "hour", &phone).unwrap();
        env.app().run_due();
        assert_eq!(env.payment(payment.id).state, PaymentState::Pending);
        ids.push(payment.id);
        if n % 5 == 0 {
            env.clock.advance(1);
        }
    }
    (env, dir, ids)
}

#[test]
fn a_restart_with_40_open_payments_does_not_trip_the_spike_arrest() {
    let (env, _dir, ids) = open_payments("pacing-restart");
    let refused_before = env.sim.spike_refused("query");
    env.kill();
    env.clock.advance(2);
    env.start();
    // Every open payment is due again; the worker runs what is due each second.
    for _ in 0..120 {
        env.advance(1);
    }
    let refused = env.sim.spike_refused("query") - refused_before;
    let paid = ids
        .iter()
        .filter(|id| env.payment(**id).state == PaymentState::Paid)
        .count();
    println!(
        "{OPEN} open payments after a restart: {refused} spike-arrest answers to queries \
         ({:.2} per payment), {paid} paid",
        f64::from(refused) / f64::from(OPEN)
    );
    assert_eq!(refused, 0, "spike-arrest answers after the restart");
    assert_eq!(
        paid,
        usize::from(OPEN),
        "every customer approved and was granted"
    );
    assert_eq!(env.sessions().len(), usize::from(OPEN), "one session each");
}

#[test]
fn spike_arrest_backs_off_and_the_window_stays_honest() {
    let (env, _dir, ids) = open_payments("pacing-spike");
    // Daraja refuses the next 10 requests for its spike limit, whatever their rate.
    env.sim.set_faults(Faults {
        spike_next: 10,
        ..Faults::default()
    });
    let mut asked = Vec::new();
    for _ in 0..600 {
        env.advance(1);
        asked.push(env.sim.faults().spike_next);
        if env.sim.faults().spike_next == 0 {
            break;
        }
    }
    // Backing off (2, 4, 8 … s): the 10 refusals are spread over a minute or more, not spent
    // in the first five seconds at 2 queries a second.
    let seconds = asked.len();
    println!("10 spike-arrest answers took {seconds} s to be used up");
    assert!((60..600).contains(&seconds), "{seconds} s");
    // Then the queries go through; the customers approved meanwhile, and nobody's payment was
    // closed as expired while lango could not ask.
    for _ in 0..200 {
        env.advance(1);
    }
    for id in &ids {
        assert_eq!(env.payment(*id).state, PaymentState::Paid, "payment {id}");
    }
}
