//! What the wallet tests (`airtel.rs`, `vodacom.rs`) share: a lango on a store file that
//! survives a kill, a manual clock, the seated guests, and the steps every scenario takes (buy,
//! read the payment, run the queries to the end, count the grants); the test CA's root as a
//! PEM bundle on disk for `option ca_bundle`.

use std::path::PathBuf;
use std::sync::Arc;

use lango::adapters::simulator::Simulator;
use lango::adapters::testing::{FakeFirewall, FakeNeighbours, ManualClock};
use lango::app::{App, Env};
use lango::core::config::Config;
use lango::core::payments::{Payment, PaymentState};
use lango::store::Store;

use crate::payments::{buy_hour, seat_guests, Slot, TestCa};
use crate::support::TempDir;

pub(crate) struct Lango {
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) neighbours: Arc<FakeNeighbours>,
    pub(crate) slot: Slot,
    pub(crate) config: Config,
    pub(crate) dir: TempDir,
}

impl Lango {
    /// Not started yet; `clock` is the one the simulator reads too.
    pub(crate) fn new(clock: Arc<ManualClock>, slot: Slot, config: Config, dir: TempDir) -> Lango {
        let lango = Lango {
            clock,
            neighbours: Arc::new(FakeNeighbours::default()),
            slot,
            config,
            dir,
        };
        seat_guests(&lango.neighbours);
        lango
    }

    /// The test CA's root as a PEM file in the test's directory.
    pub(crate) fn ca_bundle(dir: &TempDir, ca: &TestCa) -> PathBuf {
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lango::core::base64::encode(&ca.root)
        );
        std::fs::write(dir.path("ca.pem"), pem).unwrap();
        dir.path("ca.pem")
    }

    /// Starts lango on the store file (kept across a kill).
    pub(crate) fn start(&self) {
        let store = Store::open(&self.dir.path("lango.redb")).unwrap();
        let env = Env {
            clock: self.clock.clone(),
            firewall: Arc::new(FakeFirewall::default()),
            neighbours: self.neighbours.clone(),
            // Safaricom's gateway, asked only when the config has M-Pesa.
            gateway: Arc::new(Simulator::new(self.clock.clone(), 2)),
        };
        let (app, _woken) = App::new(self.config.clone(), store, env).unwrap();
        *self.slot.lock().unwrap() = Some(Arc::new(app));
    }

    pub(crate) fn kill(&self) {
        let app = self.slot.lock().unwrap().take().unwrap();
        assert_eq!(Arc::strong_count(&app), 1, "nothing else holds the app");
    }

    pub(crate) fn app(&self) -> Arc<App> {
        self.slot.lock().unwrap().clone().expect("lango is running")
    }

    pub(crate) fn advance(&self, secs: i64) {
        self.clock.advance(secs);
        self.app().run_due();
    }

    /// Guest `n` buys the hour package (20); the push is sent at once.
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

    pub(crate) fn sessions(&self) -> usize {
        self.app()
            .store
            .read(|r| r.recent_sessions(100))
            .unwrap()
            .len()
    }

    /// Runs the queries every second until the payment is final (bounded).
    pub(crate) fn settle(&self, id: u64) -> Payment {
        for _ in 0..400 {
            let state = self.payment(id).state;
            if !matches!(state, PaymentState::Initiating | PaymentState::Pending) {
                break;
            }
            self.advance(1);
        }
        self.payment(id)
    }
}
