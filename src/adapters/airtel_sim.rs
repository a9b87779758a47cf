//! The Airtel Money simulator's shell around the pure `core::airtel::sim`: a handle on one
//! simulated Airtel (its clock, its state, the switches a test turns), served over HTTP(S) by
//! the Daraja simulator's server (`simulator::serve`, through `Served`), which also POSTs its
//! callbacks. Features `simulator` and `airtel`.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::adapters::simulator::Served;
use crate::core::airtel::sim::{AirtelFaults, AirtelSimCore, AirtelSimSettings, Txn};
use crate::core::daraja_sim::{SimRequest, SimResponse};
use crate::core::time::Clock;

pub use crate::core::airtel::sim::Fate;

pub struct AirtelSim {
    clock: Arc<dyn Clock>,
    core: Mutex<AirtelSimCore>,
}

impl AirtelSim {
    pub fn new(clock: Arc<dyn Clock>, settings: AirtelSimSettings) -> AirtelSim {
        AirtelSim {
            clock,
            core: Mutex::new(AirtelSimCore::new(settings)),
        }
    }

    fn core(&self) -> MutexGuard<'_, AirtelSimCore> {
        crate::core::locks::lock(&self.core)
    }

    /// Changes the fault switches.
    pub fn faults(&self, change: impl FnOnce(&mut AirtelFaults)) {
        change(self.core().faults_mut());
    }

    /// Where final transactions are POSTed (the app's callback URL on Airtel's portal).
    pub fn set_callback_url(&self, url: Option<String>) {
        self.core().set_callback_url(url);
    }

    /// Every token issued so far stops working.
    pub fn expire_tokens(&self) {
        self.core().expire_tokens();
    }

    /// The prompts pushed so far.
    pub fn txns(&self) -> Vec<Txn> {
        self.core().txns().to_vec()
    }

    /// From now on every push must be signed (v2) for `key`'s public half.
    pub fn require_signing(&self, key: crate::core::rsa::private::PrivateKey) {
        self.core().require_signing(key);
    }

    /// Pushes refused for a missing or wrong signature.
    pub fn unsigned(&self) -> u32 {
        self.core().unsigned
    }

    /// Answers refused for the rate limit.
    pub fn throttled(&self) -> u32 {
        self.core().throttled
    }
}

impl Served for AirtelSim {
    fn name(&self) -> &'static str {
        "airtel"
    }
    fn handle(&self, request: &SimRequest) -> SimResponse {
        self.core().handle(request, self.clock.now())
    }
    fn due_deliveries(&self) -> Vec<(u64, String, String)> {
        self.core().due(self.clock.now())
    }
    fn delivered(&self, id: u64, status: Option<u16>) {
        log::debug!("airtel simulator: callback {id}: {status:?}");
    }
}
