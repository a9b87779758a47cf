//! Session and payment changes sent out as plain data (the ubus object turns them into
//! notifications). Events are dropped, never waited for, when the receiver is full.

use super::*;

impl App {
    /// Sends session and payment events to `sink` from now on (ubus notifications). Events are
    /// dropped, never waited for, when the sink is full.
    pub fn set_event_sink(&self, sink: std::sync::mpsc::SyncSender<crate::adapters::ubusd::Event>) {
        if let Ok(mut events) = self.events.lock() {
            *events = Some(sink);
        }
    }

    pub(crate) fn emit(&self, event: crate::adapters::ubusd::Event) {
        if let Ok(events) = self.events.lock() {
            if let Some(sink) = events.as_ref() {
                let _ = sink.try_send(event);
            }
        }
    }

    /// Emits a payment's current state (after its write committed).
    pub(crate) fn emit_payment(&self, id: u64) {
        if let Ok(Some(p)) = self.store.read(|r| r.payment(id)) {
            self.emit(crate::ubus::payment_state(&p));
        }
    }

    /// Emits a session's start or stop (after its write committed).
    pub(crate) fn emit_session(&self, id: u64, start: bool) {
        if let Ok(Some(s)) = self.store.read(|r| r.session(id)) {
            let event = if start {
                crate::ubus::session_start(&s)
            } else {
                crate::ubus::session_stop(&s)
            };
            self.emit(event);
        }
    }
}
