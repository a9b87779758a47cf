//! The one admission path: whether the device behind a request may act (its MAC from the
//! network, a trusted clock, not blocked, not a clone), and what the portal knows of it.

use super::*;

/// Why the device behind a request may not act. Every guest surface (purchase, voucher, move,
/// account sign-in, SMS claim) refuses with one of these, decided in one place (`App::admit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// The request did not come from a device on the guest network.
    UnknownDevice,
    /// The router's clock is not synced yet: selling or granting time now would be unfair.
    ClockUnsynced,
    /// The owner blocked this device.
    Blocked,
    /// This MAC is paid for at another address that is still in use: a second device is
    /// imitating it. Logged as spoofing.
    Clone,
}

/// A device that may act: its MAC (from the network, never from the request), its address and
/// the time view the decision was made with.
#[derive(Clone, Copy, Debug)]
pub struct Admitted {
    pub mac: Mac,
    pub ip: IpAddr,
    pub time: TimeView,
}

/// `App::admit`'s answer: admitted, denied, or the store could not say.
#[derive(Debug)]
pub enum AdmitError {
    Denied(Denied),
    Store(StoreError),
}

impl From<StoreError> for AdmitError {
    fn from(e: StoreError) -> Self {
        AdmitError::Store(e)
    }
}

/// What the portal knows about the device behind a request.
#[derive(Clone, Debug)]
pub struct DeviceView {
    pub mac: Mac,
    pub lifecycle: Lifecycle,
    pub now: Timestamp,
}

impl App {
    /// The one admission check for every guest action: the device's MAC comes from the
    /// neighbour table for the socket's address; it is not a clone of a device paid for at
    /// another address (a device that merely changed address has its session moved); the
    /// clock is trusted; the owner has not blocked it.
    pub(crate) fn admit(&self, ip: IpAddr) -> Result<Admitted, AdmitError> {
        let ip = ip.to_canonical();
        let mac = self
            .identify(ip)
            .ok_or(AdmitError::Denied(Denied::UnknownDevice))?;
        if self.check_binding(ip, mac)? {
            return Err(AdmitError::Denied(Denied::Clone));
        }
        let time = self.time();
        if !time.trusted {
            return Err(AdmitError::Denied(Denied::ClockUnsynced));
        }
        if self.is_blocked(mac)? {
            return Err(AdmitError::Denied(Denied::Blocked));
        }
        Ok(Admitted { mac, ip, time })
    }

    /// The MAC behind a client address, from the network.
    pub(crate) fn identify(&self, ip: IpAddr) -> Option<Mac> {
        self.env.neighbours.mac_for(ip.to_canonical())
    }

    /// Checks that a request from `ip` may act for `mac`'s session. A device whose address
    /// changed gets its session moved (durably, then the firewall follows); a second device
    /// using a paid MAC from another address is a clone: logged as spoofing, and refused.
    /// Returns true for a clone.
    pub(crate) fn check_binding(&self, ip: IpAddr, mac: Mac) -> Result<bool, StoreError> {
        let ip = ip.to_canonical();
        let Some(session) = self.store.read(|r| r.active_session(mac))? else {
            return Ok(false);
        };
        let now = self.time().now;
        if session.ip.map(|b| b.to_canonical()) == Some(ip) {
            return Ok(false);
        }
        let evidence = self.move_evidence(&session, ip, now);
        match sessions::binding(&session, ip, &evidence) {
            sessions::Binding::Same => Ok(false),
            sessions::Binding::Unsure => {
                let detail = format!(
                    "{ip} is using MAC {mac} of session {} at {}: refused until the old address \
                     has been silent for {}s and {ip} holds a DHCP lease for the MAC, or the \
                     owner ends the session",
                    session.id,
                    session.ip.map(|o| o.to_string()).unwrap_or_default(),
                    sessions::MOVE_IDLE_SECS
                );
                self.log_refusal(mac, ip, now, "move_refused", detail)?;
                Ok(true)
            }
            sessions::Binding::Moved => {
                let old = session.ip;
                self.store.write(Durability::Durable, |w| {
                    let Some(mut current) = w.active_session(mac)? else {
                        return Ok(());
                    };
                    current.ip = Some(ip);
                    w.put_session(&current)?;
                    w.push_event(&Event::new(
                        now,
                        "session_moved",
                        Some(mac),
                        format!(
                            "session {} moved from {} to {ip}",
                            current.id,
                            old.map(|o| o.to_string()).unwrap_or_default()
                        ),
                    ))
                })?;
                self.mark_dirty();
                Ok(false)
            }
            sessions::Binding::Clone => {
                let detail = format!(
                    "{ip} is using MAC {mac}, which belongs to session {} at {}",
                    session.id,
                    session.ip.map(|o| o.to_string()).unwrap_or_default()
                );
                self.log_refusal(mac, ip, now, "spoofing", detail)?;
                Ok(true)
            }
        }
    }

    /// A refused (MAC, address): a warning and an event (`kind`, `detail`), once per interval
    /// for the pair, since the event log is on flash and a clone keeps knocking.
    pub(crate) fn log_refusal(
        &self,
        mac: Mac,
        ip: IpAddr,
        now: Timestamp,
        kind: &str,
        detail: String,
    ) -> Result<(), StoreError> {
        if !self.first_log(mac, ip, now) {
            return Ok(());
        }
        log::warn!("{kind}: {detail}");
        self.counts.spoofing_seen();
        self.store.write(Durability::Lazy, |w| {
            w.push_event(&Event::new(now, kind, Some(mac), detail.clone()))
        })
    }

    /// Whether a refusal for (MAC, address) should be logged now: once per interval, since the
    /// event log is on flash and a clone keeps knocking.
    fn first_log(&self, mac: Mac, ip: IpAddr, now: Timestamp) -> bool {
        let mut work = self.work();
        let last = work.spoof_logged.get(&(mac, ip)).copied();
        let due = last.is_none_or(|at| now - at >= SPOOF_LOG_INTERVAL_SECS);
        if due {
            work.spoof_logged.insert((mac, ip), now);
        }
        due
    }

    /// The evidence for `sessions::binding` when `ip` is not the session's address.
    fn move_evidence(
        &self,
        session: &Session,
        ip: IpAddr,
        now: Timestamp,
    ) -> sessions::MoveEvidence {
        let mac = session.mac;
        if let IpAddr::V6(v6) = ip {
            let window = self.config().gateway.ipv6_window_secs as i64;
            let in_window =
                crate::core::ipv6::window_open(session.started_at, session.moved_at, now, window);
            let bound = self
                .work()
                .ipv6
                .get(&session.id)
                .is_some_and(|a| a.contains(&v6));
            return sessions::MoveEvidence {
                ipv6_bound: bound || in_window,
                ..sessions::MoveEvidence::default()
            };
        }
        // A fresh reading, so that "silent" means silent now.
        self.read_usage();
        let idle_secs = self
            .work()
            .last_traffic
            .get(&session.id)
            .map(|(at, _)| now - at);
        sessions::MoveEvidence {
            mac_ips: self.env.neighbours.ipv4_of(mac),
            ipv6_bound: false,
            leased: self.env.neighbours.leased_to(ip) == Some(mac),
            idle_secs,
        }
    }

    pub(crate) fn is_blocked(&self, mac: Mac) -> Result<bool, StoreError> {
        Ok(self
            .store
            .read(|r| r.device(mac))?
            .is_some_and(|d| d.blocked))
    }

    /// The device behind `ip` and where it stands.
    pub fn device(&self, ip: IpAddr) -> Result<Option<DeviceView>, StoreError> {
        let Some(mac) = self.identify(ip) else {
            return Ok(None);
        };
        let now = self.time().now;
        if self.check_binding(ip, mac)? {
            // A clone sees nothing of the session it is imitating.
            return Ok(Some(DeviceView {
                mac,
                lifecycle: Lifecycle::Idle,
                now,
            }));
        }
        let (latest, open) = self
            .store
            .read(|r| Ok((r.latest_session(mac)?, r.open_payment_for(mac)?)))?;
        let latest = latest.map(|s| self.with_purchase_usage(s));
        let lifecycle = sessions::lifecycle(latest.as_ref(), open.map(|p| p.id), now);
        Ok(Some(DeviceView {
            mac,
            lifecycle,
            now,
        }))
    }
}
