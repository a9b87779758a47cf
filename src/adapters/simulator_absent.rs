//! The Daraja simulator in a build without the `simulator` feature (router builds): the two
//! types the rest of lango names, with no values. `Option<Arc<Simulator>>` is then always
//! `None`, so the owner page shows no simulator switch and no simulator code is linked. A
//! router can still use `environment 'simulator'` with `option simulator_url` pointing at a
//! `lango sim` running elsewhere (daemon::sim).

/// No simulator: this type has no values.
pub enum Simulator {}

impl Simulator {
    /// Never called: there is no `Simulator` to call it on.
    pub fn decline_next(&self, _result_code: i64) {
        match *self {}
    }
}

/// No simulator server: this type has no values.
pub enum SimServer {}
