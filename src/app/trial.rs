//! The free trial (issue 16): `App::take_trial` grants the owner's trial package to the device
//! behind a request, in one tap and without a phone number, once per local day per device as
//! far as the network can tell (`core::trial`: MAC, DHCP client identifier, host name, IPv4
//! address), and at most `trials_per_day` times a day on the router. Through the one admission
//! path (`App::admit`) and the one grant path (`grant_in`); a sale of 0 with no payment record,
//! so the owner's money figures do not move.

use super::admission::{AdmitError, Admitted, Denied};
use super::*;
use crate::core::trial::{self, Marks, Verdict};

/// Why a trial was not granted.
#[derive(Debug)]
pub enum TrialError {
    /// The device may not act (`App::admit`).
    Denied(Denied),
    /// The owner offers no trial.
    NoTrial,
    /// The device has time running already.
    AlreadyOnline,
    /// A mark of this device (`core::trial::Verdict::UsedToday`) took today's trial; the trial
    /// comes back at `back_at` (the next local midnight).
    UsedToday {
        mark: char,
        back_at: Timestamp,
    },
    /// The router gave all of today's trials.
    RouterCap {
        back_at: Timestamp,
    },
    Store(StoreError),
}

impl From<StoreError> for TrialError {
    fn from(e: StoreError) -> Self {
        TrialError::Store(e)
    }
}

impl From<AdmitError> for TrialError {
    fn from(e: AdmitError) -> Self {
        match e {
            AdmitError::Denied(d) => TrialError::Denied(d),
            AdmitError::Store(e) => TrialError::Store(e),
        }
    }
}

impl App {
    /// Grants today's free trial to the device at `ip`, or says why not. The check and the
    /// grant are one durable write transaction, so two taps at once grant once.
    pub fn take_trial(&self, ip: IpAddr) -> Result<Session, TrialError> {
        let config = self.config();
        let Some(offer) = config.trial.as_ref() else {
            return Err(TrialError::NoTrial);
        };
        let Admitted { mac, ip, time } = self.admit(ip)?;
        if !self.room_for_sales() {
            return Err(TrialError::Store(StoreError::Full));
        }
        let lease = self.env.neighbours.lease_of(mac);
        let lease = lease.as_ref();
        let ipv4 = |ip: IpAddr| match ip.to_canonical() {
            IpAddr::V4(v4) if !v4.is_unspecified() => Some(v4),
            _ => None,
        };
        let marks = Marks {
            mac,
            ip: ipv4(ip).or(lease.and_then(|l| ipv4(l.ip))),
            hostname: lease.and_then(|l| l.hostname.as_deref()),
            client_id: lease.and_then(|l| l.client_id.as_deref()),
        };
        let now = time.now;
        let (day, back_at) = trial::today(now, config.gateway.utc_offset_secs);
        let keys = trial::keys(day, &marks);
        let terms = Terms::of(&offer.package);
        let outcome = self.store.write(Durability::Durable, |w| {
            // As the portal sees it (`sessions::lifecycle`): a session past its end is over,
            // though the store may end it a few seconds later (expiries come in batches).
            let running = w.active_session(mac)?;
            if running.is_some_and(|s| sessions::must_end(&s, now).is_none()) {
                w.discard();
                return Ok(Err(TrialError::AlreadyOnline));
            }
            let (taken, today) = w.trial_marks(&keys, &trial::count_prefix(day))?;
            match trial::decide(taken.as_deref(), today, offer.per_day) {
                Verdict::Granted => {}
                Verdict::UsedToday(mark) => {
                    w.discard();
                    return Ok(Err(TrialError::UsedToday { mark, back_at }));
                }
                Verdict::RouterCap => {
                    w.discard();
                    return Ok(Err(TrialError::RouterCap { back_at }));
                }
            }
            let session = grant_in(w, mac, Some(ip), &terms, Source::Trial, time.start())?;
            w.put_trial_marks(&keys, session.id)?;
            touch_device(w, mac, Some(ip), now)?;
            // A sale of 0 in the owner's log: the package, and how many of the day's trials.
            let detail = format!(
                "free trial {} ({} of {} today), session {} until {}",
                terms.package_name,
                today + 1,
                offer.per_day,
                session.id,
                self.owner_time(session.deadline)
            );
            w.push_event(&Event::new(now, "trial_granted", Some(mac), detail))?;
            Ok(Ok(session))
        })?;
        let session = outcome?;
        self.mark_dirty();
        self.emit_session(session.id, true);
        Ok(session)
    }
}
