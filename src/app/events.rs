//! Session and payment changes sent out as plain data. The app knows no receiver: whoever
//! listens (the ubus object, which turns them into notifications) installs a sink. A sink must
//! not block; it drops a change rather than wait.

use super::*;

/// A change that already committed to the store.
#[derive(Clone, Debug)]
pub enum Change {
    SessionStarted(Session),
    SessionStopped(Session),
    /// A payment's new state.
    Payment(Payment),
}

/// Where changes go.
pub type ChangeSink = Box<dyn Fn(Change) + Send + Sync>;

impl App {
    /// Sends session and payment changes to `sink` from now on.
    pub fn set_change_sink(&self, sink: ChangeSink) {
        if let Ok(mut events) = self.events.write() {
            *events = Some(sink);
        }
    }

    fn emit(&self, change: Change) {
        if let Ok(events) = self.events.read() {
            if let Some(sink) = events.as_ref() {
                sink(change);
            }
        }
    }

    /// Emits a payment's current state (after its write committed).
    /// `count`: this change moved the payment to its final state (counted once for
    /// `/metrics`).
    pub(crate) fn emit_payment(&self, id: u64, count: bool) {
        if let Ok(Some(p)) = self.store.read(|r| r.payment(id)) {
            if count {
                self.counts.payment_final(&p);
            }
            self.emit(Change::Payment(p));
        }
    }

    /// Emits a session's start or stop (after its write committed).
    pub(crate) fn emit_session(&self, id: u64, start: bool) {
        if let Ok(Some(s)) = self.store.read(|r| r.session(id)) {
            self.emit(match start {
                true => Change::SessionStarted(s),
                false => Change::SessionStopped(s),
            });
        }
    }
}
