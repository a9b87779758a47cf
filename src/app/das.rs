//! Dynamic Authorization (RFC 5176, `option das_port`; docs/radius.md): a Disconnect-Request
//! or CoA-Request from an allowed client (`list das_client`), checked by
//! `core::radius::das`, acted on and answered. A Disconnect ends the session the way the
//! owner's kick does (`end_purchase`: the kernel's rule goes, a Stop with Admin-Reset is
//! queued); a CoA changes its time, caps or quota in one store write, as the owner's
//! extension does, and the firewall is reconciled. Feature `radius` only.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::owner::purchase_of;
use super::*;
use crate::adapters::radius_das::DasSocket;
use crate::core::radius::das::{self, Cause, Change, Seen, Target};

/// The answers given within the window, and when a dropped request was last logged.
#[derive(Default)]
pub(crate) struct DasState {
    seen: Mutex<Seen>,
    logged: Mutex<i64>,
}

impl App {
    /// The answer to datagram `bytes` from `from`, or `None`: dropped (not a client, a wrong
    /// secret, an Event-Timestamp out of the window), logged at most once a minute.
    pub fn answer_das(&self, bytes: &[u8], from: IpAddr) -> Option<Vec<u8>> {
        let config = self.config();
        let radius = config.radius.as_ref()?;
        let now = self.time().now;
        let dropped = |why: &str| {
            if das::log_due(&mut locks::lock(&self.radius.das.logged), now) {
                log::warn!("RADIUS DAS: request from {from} dropped: {why} (one line a minute)");
            }
            None
        };
        if !radius.das_clients.iter().any(|c| c.contains(from)) {
            return dropped("not a das_client");
        }
        let secret = radius.das_secret().as_bytes();
        let asked = match das::check(bytes, secret, now) {
            Ok(asked) => asked,
            Err(e) => return dropped(e.why()),
        };
        // A retransmission: the same answer, not a second act.
        let seen = locks::lock(&self.radius.das.seen);
        if let Some(again) = seen.answer(asked.id, &asked.authenticator) {
            return Some(again.to_vec());
        }
        drop(seen);
        let cause = match &asked.asks {
            Err(cause) => Some(*cause),
            Ok((target, change)) => self.das_act(asked.code, target, change).err(),
        };
        let answer = das::answer(&asked, cause, secret);
        let mut seen = locks::lock(&self.radius.das.seen);
        seen.remember(asked.id, asked.authenticator, answer.clone(), now);
        Some(answer)
    }

    /// Finds the running session `target` names and disconnects or changes it.
    fn das_act(&self, code: u8, target: &Target, change: &Change) -> Result<(), Cause> {
        let busy = |e: StoreError| {
            log::error!("RADIUS DAS: {e}");
            Cause::ResourcesUnavailable
        };
        let found = self.store.read(|r| {
            for session in r.active_sessions()? {
                let user = match target.user {
                    Some(_) => r.acct_session(session.id)?.and_then(|a| a.user),
                    None => None,
                };
                if target.matches(&session, user.as_deref()) {
                    return Ok(Some(session.id));
                }
            }
            Ok(None)
        });
        let id = found.map_err(busy)?.ok_or(Cause::SessionNotFound)?;
        let done = match code {
            das::DISCONNECT_REQUEST => self.end_purchase(id, false, "RADIUS (Disconnect)"),
            _ => self.change_session(id, change),
        };
        match done.map_err(busy)? {
            true => Ok(()),
            false => Err(Cause::SessionNotFound),
        }
    }

    /// Applies a CoA's `change` to session `id` and its purchase's other devices, in one
    /// durable write with its event; the firewall follows. False if it is not running.
    fn change_session(&self, id: u64, change: &Change) -> Result<bool, StoreError> {
        let now = self.time().now;
        let changed = self.store.write(Durability::Durable, |w| {
            let Some(session) = w.session(id)?.filter(|s| s.is_active()) else {
                return Ok(false);
            };
            let first = purchase_of(w, session.clone())?.remove(0);
            let changed = das::apply(&first, change, now);
            w.put_session(&changed)?;
            for member in crate::app::group_members(w, &changed)? {
                w.put_session(&sessions::follow(&member, &changed))?;
            }
            let some =
                |v: Option<u64>, what: &str| v.map_or(String::new(), |v| format!(" {what} {v}"));
            let text = format!(
                "session {id} changed by RADIUS (CoA):{}{}{}{}{}",
                some(change.session_secs.map(u64::from), "ends in s"),
                some(change.down_kbit.map(u64::from), "kbit/s down"),
                some(change.up_kbit.map(u64::from), "kbit/s up"),
                some(change.quota_bytes, "bytes in all"),
                some(change.idle_secs.map(u64::from), "s idle timeout"),
            );
            w.push_event(&Event::new(now, "session_changed", Some(session.mac), text))?;
            Ok(true)
        })?;
        if changed {
            self.mark_dirty();
        }
        Ok(changed)
    }
}

/// The DAS listener when `option das_port` is set: bound now (an error if the port is taken),
/// then one thread answers each datagram; it follows a reload to another port or to none.
pub fn spawn(app: &Arc<App>) -> std::io::Result<()> {
    const WAIT: Duration = Duration::from_secs(1);
    let port = |app: &App| app.config().radius.as_ref().and_then(|r| r.das_port);
    let mut socket = match port(app) {
        Some(p) => Some(DasSocket::bind(p, WAIT)?),
        None => None,
    };
    let app: Weak<App> = Arc::downgrade(app);
    std::thread::Builder::new()
        .name("radius-das".into())
        .spawn(move || loop {
            let Some(strong) = app.upgrade() else { return };
            let want = port(&strong);
            if socket.as_ref().map(|s| s.port) != want {
                socket = want.and_then(|p| match DasSocket::bind(p, WAIT) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        log::error!("RADIUS DAS: port {p}: {e}");
                        None
                    }
                });
            }
            let Some(listening) = &socket else {
                drop(strong);
                std::thread::sleep(Duration::from_secs(10));
                continue;
            };
            if let Some((bytes, from, local)) = listening.recv() {
                if let Some(answer) = strong.answer_das(&bytes, from.ip()) {
                    listening.send(&answer, from, local);
                }
            }
        })
        .map(|_| ())
}
