//! The ClickPesa simulator's shell around the pure `core::clickpesa::sim`: a handle on one
//! simulated ClickPesa application (its clock, its state, the switches a test turns), served
//! over HTTP(S) by the Daraja simulator's server (`simulator::serve`, through `Served`), which
//! also POSTs its webhooks. Features `simulator` and `clickpesa`.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::adapters::simulator::Served;
use crate::core::clickpesa::sim::{ClickPesaFaults, ClickPesaSimCore, ClickPesaSimSettings, Txn};
use crate::core::daraja_sim::{SimRequest, SimResponse};
use crate::core::time::Clock;

pub use crate::core::clickpesa::sim::Fate;

pub struct ClickPesaSim {
    clock: Arc<dyn Clock>,
    core: Mutex<ClickPesaSimCore>,
}

impl ClickPesaSim {
    pub fn new(clock: Arc<dyn Clock>, settings: ClickPesaSimSettings) -> ClickPesaSim {
        ClickPesaSim {
            clock,
            core: Mutex::new(ClickPesaSimCore::new(settings)),
        }
    }

    fn core(&self) -> MutexGuard<'_, ClickPesaSimCore> {
        crate::core::locks::lock(&self.core)
    }

    /// Changes the fault switches.
    pub fn faults(&self, change: impl FnOnce(&mut ClickPesaFaults)) {
        change(self.core().faults_mut());
    }

    /// Where final payments are POSTed (the webhook URL on ClickPesa's dashboard).
    pub fn set_callback_url(&self, url: Option<String>) {
        self.core().set_callback_url(url);
    }

    /// Every token issued so far stops working.
    pub fn expire_tokens(&self) {
        self.core().expire_tokens();
    }

    /// The pushes taken so far.
    pub fn txns(&self) -> Vec<Txn> {
        self.core().txns().to_vec()
    }

    /// Answers refused for the rate limit.
    pub fn throttled(&self) -> u32 {
        self.core().throttled
    }

    /// Calls refused for a missing, unknown or expired token.
    pub fn refused_tokens(&self) -> u32 {
        self.core().refused_tokens
    }

    /// Tokens issued.
    pub fn tokens_issued(&self) -> u32 {
        self.core().tokens_issued
    }

    /// Payment queries answered.
    pub fn queries(&self) -> u32 {
        self.core().queries
    }
}

impl Served for ClickPesaSim {
    fn name(&self) -> &'static str {
        "clickpesa"
    }
    fn handle(&self, request: &SimRequest) -> SimResponse {
        self.core().handle(request, self.clock.now())
    }
    fn due_deliveries(&self) -> Vec<(u64, String, String)> {
        self.core().due(self.clock.now())
    }
    fn delivered(&self, id: u64, status: Option<u16>) {
        log::debug!("clickpesa simulator: webhook {id}: {status:?}");
    }
}
