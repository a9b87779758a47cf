//! What a guest does besides buying: redeem a voucher, move a purchase to a new MAC, read its
//! payment and usage.

use super::admission::{AdmitError, Admitted, Denied};
use super::*;
use crate::core::sessions::JoinRefusal;
use crate::core::vouchers::VoucherState;

/// Why a voucher was not redeemed.
#[derive(Debug)]
pub enum RedeemError {
    /// The device may not act (`App::admit`).
    Denied(Denied),
    Refused(Refusal),
    /// A code for several devices is already used on this many, its package's `devices`.
    Full(u8),
    Store(StoreError),
    /// The RADIUS server rejected the code, or could not be asked (`app::radius`).
    #[cfg(feature = "radius")]
    Radius(crate::adapters::radius::RadiusError),
}

/// Why a purchase could not be moved to the requesting device.
#[derive(Debug)]
pub enum MoveError {
    /// The device may not act (`App::admit`).
    Denied(Denied),
    /// No paid purchase with this receipt and phone, or its time is over.
    NotFound,
    /// Moved too recently; try again after this many seconds.
    TooSoon(u64),
    /// The device already has time of its own running.
    AlreadyOnline,
    Store(StoreError),
}

impl From<StoreError> for RedeemError {
    fn from(e: StoreError) -> Self {
        RedeemError::Store(e)
    }
}

impl From<StoreError> for MoveError {
    fn from(e: StoreError) -> Self {
        MoveError::Store(e)
    }
}

impl From<AdmitError> for RedeemError {
    fn from(e: AdmitError) -> Self {
        match e {
            AdmitError::Denied(d) => RedeemError::Denied(d),
            AdmitError::Store(e) => RedeemError::Store(e),
        }
    }
}

impl From<AdmitError> for MoveError {
    fn from(e: AdmitError) -> Self {
        match e {
            AdmitError::Denied(d) => MoveError::Denied(d),
            AdmitError::Store(e) => MoveError::Store(e),
        }
    }
}

impl App {
    /// Redeems a voucher code for the device at `ip`, granting its terms at once.
    pub fn redeem(&self, ip: IpAddr, typed_code: &str) -> Result<Session, RedeemError> {
        let admitted = self.admit(ip)?;
        let code = vouchers::normalise(typed_code);
        // A code this router did not make goes to the RADIUS server, whose answer is final
        // (the order is explained in `app::radius`).
        #[cfg(feature = "radius")]
        if let Some(client) = self.radius_for_voucher(&code)? {
            let typed = typed_code.trim();
            let source = Source::Voucher(typed.to_string());
            let granted = self.grant_radius(client.as_ref(), admitted, typed, typed, source)?;
            return granted.map_err(RedeemError::Radius);
        }
        let Admitted { mac, ip, time } = admitted;
        let now = time.now;
        let session = self.store.write(Durability::Durable, |w| {
            let voucher = w.voucher(&code)?;
            let source = Source::Voucher(code.clone());
            let session = match vouchers::check(voucher.as_ref(), now) {
                Ok(v) => {
                    let session = grant_in(w, mac, Some(ip), &v.terms, source, time.start())?;
                    #[cfg(feature = "radius")]
                    self.acct_sale_in(w, &session, &code, &format!("voucher-{code}"), now)?;
                    w.put_voucher(&vouchers::redeemed(v, mac, session.id, now))?;
                    session
                }
                // A code for several devices: this device joins the purchase it started (the
                // event names the session it shares: `Session::joined`).
                Err(Refusal::Used) => {
                    let first = match voucher.as_ref().map(|v| (&v.state, v.terms.devices)) {
                        Some((VoucherState::Used { session_id, .. }, n)) if n > 1 => *session_id,
                        _ => return Ok(Err(RedeemError::Refused(Refusal::Used))),
                    };
                    match join_in(w, first, mac, Some(ip), source, now)? {
                        Ok(session) => session,
                        Err(JoinRefusal::Full(n)) => return Ok(Err(RedeemError::Full(n))),
                        Err(JoinRefusal::Over) => {
                            return Ok(Err(RedeemError::Refused(Refusal::Used)))
                        }
                    }
                }
                Err(refusal) => return Ok(Err(RedeemError::Refused(refusal))),
            };
            touch_device(w, mac, Some(ip), now)?;
            w.push_event(&Event::new(
                now,
                "voucher_redeemed",
                Some(mac),
                format!(
                    "voucher {} ({}) redeemed, session {} until {}{}",
                    code,
                    voucher
                        .as_ref()
                        .map_or("", |v| v.terms.package_name.as_str()),
                    session.id,
                    self.owner_time(session.deadline),
                    match session.joined {
                        Some(first) => format!(", sharing session {first}"),
                        None => String::new(),
                    }
                ),
            ))?;
            Ok(Ok(session))
        })?;
        match session {
            Ok(session) => {
                self.mark_dirty();
                self.emit_session(session.id, true);
                Ok(session)
            }
            Err(refused) => {
                if let RedeemError::Refused(refusal) = &refused {
                    log::info!("voucher refused for {mac}: {refusal:?}");
                }
                Err(refused)
            }
        }
    }

    /// Moves a running purchase to the device at `ip`, for a phone that randomised its MAC. The
    /// guest proves the purchase with the phone number that paid and either the payment's move
    /// code (shown only on the paying device's payment page, `payments::move_code`) or a receipt
    /// M-Pesa's query confirmed for that checkout. A receipt that only a callback named is no
    /// proof: a forged callback could have planted it (issue 13). A session moves at most once
    /// per `move_interval`. The old MAC loses access at the next
    /// reconcile (at once: the move marks the firewall dirty).
    pub fn move_session(
        &self,
        ip: IpAddr,
        receipt: &str,
        phone: &str,
    ) -> Result<Session, MoveError> {
        let Admitted { mac, ip, time } = self.admit(ip)?;
        let phone = Phone::parse(phone).map_err(|_| MoveError::NotFound)?;
        let code = payments::parse_move_code(receipt);
        let receipt = receipt.trim().to_ascii_uppercase();
        let interval = self.config().gateway.move_interval_secs as i64;
        let now = time.now;
        let moved = self.store.write(Durability::Durable, |w| {
            let by_code = match &code {
                Some(code) => w.payment_by_token_prefix(code)?,
                None => None,
            };
            let by_receipt = match w.receipt_owner(&receipt)? {
                Some(id) => w
                    .payment(id)?
                    .filter(|p| p.receipt.as_deref() == Some(receipt.as_str())),
                None => None,
            };
            let Some(payment) = [by_code, by_receipt]
                .into_iter()
                .flatten()
                .find(|p| p.phone == phone && p.state == PaymentState::Paid)
            else {
                return Ok(Err(MoveError::NotFound));
            };
            let session = match payment.session_id {
                Some(id) => w.session(id)?,
                None => None,
            };
            let Some(mut session) =
                session.filter(|s| sessions::must_end(s, now).is_none() && s.is_active())
            else {
                return Ok(Err(MoveError::NotFound));
            };
            if session.mac == mac {
                return Ok(Ok(session));
            }
            if let Some(at) = session.moved_at.filter(|at| now - at < interval) {
                return Ok(Err(MoveError::TooSoon(
                    u64::try_from(at + interval - now).unwrap_or(1),
                )));
            }
            if w.active_session(mac)?.is_some() {
                return Ok(Err(MoveError::AlreadyOnline));
            }
            let old_mac = session.mac;
            session.mac = mac;
            session.ip = Some(ip);
            session.moved_at = Some(now);
            w.move_session(&session, old_mac)?;
            touch_device(w, mac, Some(ip), now)?;
            w.push_event(&Event::new(
                now,
                "session_moved_mac",
                Some(mac),
                format!(
                    "session {} moved from {old_mac} to {mac} (payment {})",
                    session.id, payment.id
                ),
            ))?;
            Ok(Ok(session))
        })??;
        self.mark_dirty();
        Ok(moved)
    }

    pub(crate) fn payment_by_token(&self, token: &str) -> Result<Option<Payment>, StoreError> {
        self.store.read(|r| r.payment_by_token(token))
    }

    /// A session with the usage read from the firewall since the last checkpoint.
    pub(crate) fn with_usage(&self, mut session: Session) -> Session {
        if let Some((up, down)) = self.work().usage.get(&session.id) {
            session.bytes_up = session.bytes_up.max(*up);
            session.bytes_down = session.bytes_down.max(*down);
        }
        session
    }

    /// `with_usage`, with the device's counters read from the firewall for it alone first
    /// (one small kernel read, whatever the number of devices): what its status page, RFC 8908
    /// and `ubus call lango sessions '{"mac":...}'` show is not a usage read old.
    pub(crate) fn with_fresh_usage(&self, session: Session) -> Session {
        if session.is_active() {
            match self.env.firewall.usage_one(session.mac) {
                Ok(Some(u)) if u.mac == session.mac => {
                    let stored = (session.bytes_up, session.bytes_down);
                    fold_usage(
                        &mut self.work(),
                        session.id,
                        stored,
                        (u.bytes_up, u.bytes_down),
                    );
                }
                Ok(_) => {}
                Err(e) => log::debug!("firewall: usage of {}: {e}", session.mac),
            }
        }
        self.with_usage(session)
    }

    /// For the guest's page: a session with the bytes every device of its purchase used (a
    /// shared purchase's data is shared), its own read now (`with_fresh_usage`).
    pub(crate) fn with_purchase_usage(&self, session: Session) -> Session {
        let mut session = self.with_fresh_usage(session);
        if session.joined.is_none() && session.members.is_empty() {
            return session;
        }
        let group = session.group();
        let (mut up, mut down) = (session.bytes_up, session.bytes_down);
        let index = self.store.active();
        let work = self.work();
        for other in index
            .sessions()
            .filter(|s| s.group() == group && s.id != session.id)
        {
            let (u, d) = work.usage.get(&other.id).copied().unwrap_or_default();
            up = up.saturating_add(other.bytes_up.max(u));
            down = down.saturating_add(other.bytes_down.max(d));
        }
        session.bytes_up = up;
        session.bytes_down = down;
        session
    }

    /// Bytes per second (up, down) a session moved between the last two firewall readings.
    pub(crate) fn speed(&self, session_id: u64) -> Option<(u64, u64)> {
        self.work().speeds.get(&session_id).copied()
    }
}
