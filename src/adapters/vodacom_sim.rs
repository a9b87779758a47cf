//! The Vodacom M-Pesa Tanzania simulator's shell around the pure `core::vodacom::sim`: a handle
//! on one simulated Vodacom OpenAPI (its clock, its state, the switches a test turns), served
//! over HTTP(S) by the Daraja simulator's server (`simulator::serve`, through `Served`).
//! Features `simulator` and `vodacom`.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::adapters::simulator::Served;
use crate::core::daraja_sim::{SimRequest, SimResponse};
use crate::core::time::Clock;
use crate::core::vodacom::sim::{Txn, VodacomFaults, VodacomSimCore, VodacomSimSettings};

pub use crate::core::vodacom::sim::Fate;

pub struct VodacomSim {
    clock: Arc<dyn Clock>,
    core: Mutex<VodacomSimCore>,
}

impl VodacomSim {
    pub fn new(clock: Arc<dyn Clock>, settings: VodacomSimSettings) -> VodacomSim {
        VodacomSim {
            clock,
            core: Mutex::new(VodacomSimCore::new(settings)),
        }
    }

    fn core(&self) -> MutexGuard<'_, VodacomSimCore> {
        crate::core::locks::lock(&self.core)
    }

    /// Changes the fault switches.
    pub fn faults(&self, change: impl FnOnce(&mut VodacomFaults)) {
        change(self.core().faults_mut());
    }

    /// Every session issued so far stops working.
    pub fn expire_sessions(&self) {
        self.core().expire_sessions();
    }

    /// The pushes taken so far.
    pub fn txns(&self) -> Vec<Txn> {
        self.core().txns().to_vec()
    }

    /// Answers refused for the rate limit.
    pub fn throttled(&self) -> u32 {
        self.core().throttled
    }

    /// Bearers that did not decrypt to the API key or a live session.
    pub fn refused_bearers(&self) -> u32 {
        self.core().refused_bearers
    }

    /// Sessions issued.
    pub fn sessions_issued(&self) -> u32 {
        self.core().sessions_issued
    }
}

impl Served for VodacomSim {
    fn name(&self) -> &'static str {
        "vodacom"
    }
    fn handle(&self, request: &SimRequest) -> SimResponse {
        self.core().handle(request, self.clock.now())
    }
    /// Vodacom's single-stage push posts no callback.
    fn due_deliveries(&self) -> Vec<(u64, String, String)> {
        Vec::new()
    }
    fn delivered(&self, _id: u64, _status: Option<u16>) {}
}
