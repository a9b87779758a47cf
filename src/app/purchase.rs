//! Buying a package: the purchase request, the STK push and its queries, settling, and
//! resuming open payments after a start.

use super::admission::{AdmitError, Admitted, Denied};
use super::*;

/// Why a purchase could not start.
#[derive(Debug)]
pub enum PurchaseError {
    /// The device may not act (`App::admit`).
    Denied(Denied),
    UnknownPackage,
    /// The package is sold only inside its window (`Package::window`), and that is closed.
    Closed(crate::core::window::Window),
    BadPhone(String),
    /// This device already has a prompt open; here is its token.
    AlreadyPending(String),
    /// Abuse limits (`payments::check_limits`): one open prompt per phone, not the same amount
    /// to the same phone within two minutes, a few purchases per device per ten minutes.
    Limited(payments::LimitRefusal),
    /// The router's flash is (nearly) full: new sales are refused so that what is already paid
    /// still has room (`store::Space`). Not the guest's fault; the owner is told.
    NoRoom,
    Store(StoreError),
}

impl From<StoreError> for PurchaseError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Full => PurchaseError::NoRoom,
            e => PurchaseError::Store(e),
        }
    }
}

/// Why a purchase may not start, from the store's open and recent payments: this device has a
/// prompt open already, or an abuse limit (`payments::check_limits`) says no.
fn refusal(
    open_for_device: Option<Payment>,
    open: &[Payment],
    recent: &[Payment],
    (mac, phone, price, now): (Mac, &Phone, crate::core::model::Money, Timestamp),
) -> Option<PurchaseError> {
    if let Some(open) = open_for_device {
        return Some(PurchaseError::AlreadyPending(open.token));
    }
    payments::check_limits(open, recent, mac, phone, price, now)
        .err()
        .map(PurchaseError::Limited)
}

impl From<AdmitError> for PurchaseError {
    fn from(e: AdmitError) -> Self {
        match e {
            AdmitError::Denied(d) => PurchaseError::Denied(d),
            AdmitError::Store(e) => PurchaseError::Store(e),
        }
    }
}

impl App {
    /// Whether the store's flash has room for a new sale (`store::Space::enough`). Below the
    /// headroom new purchases and voucher batches are refused; what is under way (prompts being
    /// paid, grants, expiries, checkpoints) keeps the reserve. Unknown space (a store in RAM,
    /// `statvfs` failing) does not stop sales.
    pub fn room_for_sales(&self) -> bool {
        let Some(space) = self.store.space() else {
            return true;
        };
        let low = !space.enough();
        let was = self
            .flash_low
            .swap(low, std::sync::atomic::Ordering::Relaxed);
        if low && !was {
            log::error!(
                "store: {} KiB free on the flash, below the {} KiB kept for what is already paid; \
                 new sales are refused until space is freed",
                space.free / 1024,
                space.reserve() / 1024
            );
        } else if was && !low {
            log::info!(
                "store: {} KiB free on the flash; sales resume",
                space.free / 1024
            );
        }
        !low
    }

    /// After a start: schedule every open payment. A payment still Initiating was interrupted
    /// before its push was acknowledged; pushing again could double-charge, so it is closed and
    /// logged for the owner.
    pub(crate) fn resume(&self) -> Result<(), StoreError> {
        let now = self.time().now;
        let mut open = self.store.read(|r| r.open_payments())?;
        // Oldest first, each in a query slot of its own: a restart with many open payments
        // does not ask about all of them in the same second (spike arrest).
        open.sort_by_key(|p| (p.created_at, p.id));
        let mut work = self.work();
        for payment in open {
            match payment.state {
                PaymentState::Pending => {
                    let at = work.pacing.slot(payment.provider(), now, now);
                    work.due.insert(payment.id, (at, 0));
                }
                _ => {
                    let mut closed = payment.clone();
                    closed.state = PaymentState::Expired;
                    closed.decline = Some(payments::Decline::Unavailable);
                    closed.updated_at = now;
                    self.store.write(Durability::Durable, |w| {
                        w.put_payment(&closed)?;
                        w.push_event(&Event::new(
                            now,
                            "payment_interrupted",
                            Some(closed.mac),
                            format!(
                            "payment {} was interrupted by a restart before M-Pesa acknowledged it",
                            closed.id
                        ),
                        ))
                    })?;
                }
            }
        }
        Ok(())
    }

    /// Starts buying `package_id` for the device at `ip`. Records the payment durably and leaves
    /// the STK push to the background; returns at once with the payment (and its token).
    pub fn start_purchase(
        &self,
        ip: IpAddr,
        package_id: &str,
        phone: &str,
    ) -> Result<Payment, PurchaseError> {
        let Admitted { mac, ip, time } = self.admit(ip)?;
        let config = self.config();
        let package = config
            .package(package_id)
            .filter(|p| p.active)
            .ok_or(PurchaseError::UnknownPackage)?;
        // Before anything is written or pushed: no prompt, no money, outside the window.
        if let Some(window) = package.window.filter(|_| !package.on_sale(time.now)) {
            return Err(PurchaseError::Closed(window));
        }
        let (provider, phone) = self
            .wallet_for(&config, phone)
            .map_err(PurchaseError::BadPhone)?;
        #[cfg(not(feature = "airtel"))]
        let _ = provider;
        let token = crate::core::token::random_token().map_err(StoreError::from)?;
        let now = time.now;
        let terms = Terms::of(package);
        if !self.room_for_sales() {
            return Err(PurchaseError::NoRoom);
        }
        // Checked first in a read transaction, so that a refused request writes nothing to
        // flash; checked again inside the write, where the decision is atomic.
        let refused = self.store.read(|r| {
            Ok(refusal(
                r.open_payment_for(mac)?,
                &r.open_payments()?,
                &r.payments_since(now - payments::DEVICE_WINDOW_SECS, 500)?,
                (mac, &phone, terms.price, now),
            ))
        })?;
        if let Some(refused) = refused {
            return Err(refused);
        }
        let payment = self.store.write(Durability::Durable, |w| {
            let refused = refusal(
                w.open_payment_for(mac)?,
                &w.open_payments()?,
                &w.payments_since(now - payments::DEVICE_WINDOW_SECS, 500)?,
                (mac, &phone, terms.price, now),
            );
            if let Some(refused) = refused {
                return Ok(Err(refused));
            }
            let payment = Payment {
                id: w.next_id()?,
                token,
                amount: terms.price,
                terms,
                phone,
                mac,
                ip: Some(ip),
                state: PaymentState::Initiating,
                checkout_id: None,
                merchant_request_id: None,
                receipt: None,
                result_code: None,
                decline: None,
                created_at: now,
                updated_at: now,
                session_id: None,
                callback: None,
                #[cfg(feature = "airtel")]
                provider,
            };
            w.put_payment(&payment)?;
            Ok(Ok(payment))
        })??;
        self.funnel
            .purchases_started
            .fetch_add(1, Ordering::Relaxed);
        self.work().due.insert(payment.id, (now, 0));
        self.notify();
        Ok(payment)
    }

    pub(crate) fn push(&self, id: u64) -> Result<(), StoreError> {
        let Some(payment) = self.store.read(|r| r.payment(id))? else {
            return Ok(());
        };
        if payment.state != PaymentState::Initiating {
            return Ok(());
        }
        let now = self.time().now;
        if let Some(expired) = payments::expire_if_stale(&payment, now) {
            return self.close_payment(&expired, "M-Pesa never took the request");
        }
        let config = self.config();
        let account_reference = config
            .mpesa
            .as_ref()
            .map(|m| m.account_reference.clone())
            .unwrap_or_else(|| "WiFi".into());
        let push = payments::StkPush {
            phone: payment.phone.clone(),
            amount_major: payment.amount.major_ceil(),
            account_reference,
            description: "WiFi".into(),
            callback_url: self.push_callback_url(),
        };
        // A push already accepted whose Pending state was not stored: store it, never push
        // twice.
        let accepted = {
            let mut work = self.work();
            let at = work.accepted.iter().position(|(p, _)| *p == id);
            at.map(|at| work.accepted.swap_remove(at).1)
        };
        let answer = match accepted {
            Some(accepted) => Ok(accepted),
            None => self.gateway_of(payment.provider()).stk_push(&push),
        };
        self.counts.gateway(&answer);
        match answer {
            Ok(accepted) => {
                let mut next = payment.clone();
                next.state = PaymentState::Pending;
                next.checkout_id = Some(accepted.checkout_id.clone());
                next.merchant_request_id = Some(accepted.merchant_request_id.clone());
                next.updated_at = now;
                let written = self.store.write(Durability::Durable, |w| {
                    // Re-read inside the transaction: only an Initiating payment becomes Pending.
                    if w.payment(id)?
                        .is_some_and(|p| p.state == PaymentState::Initiating)
                    {
                        w.put_payment(&next)?;
                    }
                    Ok(())
                });
                if let Err(e) = written {
                    let mut work = self.work();
                    let attempt = work.due.get(&id).map_or(0, |(_, a)| *a);
                    work.due
                        .insert(id, (now + store_retry_delay(attempt), attempt + 1));
                    work.accepted.push((id, accepted));
                    return Err(e);
                }
                self.emit_payment(id, false);
                let mut work = self.work();
                work.pacing.clear(payment.provider());
                let at = work
                    .pacing
                    .slot(payment.provider(), now + payments::poll_delay(0), now);
                work.due.insert(id, (at, 0));
                Ok(())
            }
            Err(GatewayError::Refused { decline, message }) => {
                let mut next = payment.clone();
                next.state = PaymentState::Failed;
                next.decline = Some(decline);
                next.updated_at = now;
                let words = crate::app::mpesa::decline_words(next.decline);
                self.close_payment(&next, &format!("{words} (M-Pesa said: {message})"))
            }
            Err(GatewayError::Unanswered(message)) => {
                // The push may have reached the phone: sending it again could prompt twice.
                // If the guest pays anyway, their SMS can be approved on the owner page.
                let mut next = payment.clone();
                next.state = PaymentState::Expired;
                next.decline = Some(payments::Decline::Unavailable);
                next.updated_at = now;
                log::warn!("STK push for payment {id} got no answer: {message}");
                self.close_payment(
                    &next,
                    &format!("M-Pesa did not take the request ({message})"),
                )
            }
            Err(GatewayError::Merchant(message)) => {
                let mut next = payment.clone();
                next.state = PaymentState::Failed;
                next.decline = Some(payments::Decline::Merchant);
                next.updated_at = now;
                log::error!("M-Pesa account problem: {message}");
                let words = crate::app::mpesa::decline_words(next.decline);
                self.close_payment(&next, &format!("{words} (M-Pesa said: {message})"))
            }
            Err(e) => {
                log::warn!("STK push for payment {id} failed, will retry: {e}");
                let mut work = self.work();
                let mut at = now + PUSH_RETRY_SECS;
                if matches!(e, GatewayError::Throttled(_)) {
                    at = at.max(work.pacing.hit(payment.provider(), now));
                }
                work.due.insert(id, (at, 0));
                Ok(())
            }
        }
    }

    pub(crate) fn close_payment(&self, payment: &Payment, why: &str) -> Result<(), StoreError> {
        let now = self.time().now;
        self.store.write(Durability::Durable, |w| {
            let current = w.payment(payment.id)?;
            if current.is_some_and(|p| p.state.is_open()) {
                w.put_payment(payment)?;
                w.push_event(&Event::new(
                    now,
                    "payment_failed",
                    Some(payment.mac),
                    format!(
                        "payment {}: {} for {} {}: {why}",
                        payment.id,
                        self.owner_money(payment.amount),
                        payment.terms.package_name,
                        state_words(payment.state)
                    ),
                ))?;
            }
            Ok(())
        })?;
        self.emit_payment(payment.id, true);
        self.work().due.remove(&payment.id);
        Ok(())
    }

    pub(crate) fn poll(&self, id: u64) -> Result<(), StoreError> {
        let Some(payment) = self.store.read(|r| r.payment(id))? else {
            return Ok(());
        };
        let late = payment.state == PaymentState::Expired && self.has_hint(id);
        let Some(checkout) = payment
            .checkout_id
            .clone()
            .filter(|_| payment.state == PaymentState::Pending || late)
        else {
            self.work().due.remove(&id);
            return Ok(());
        };
        let attempt = self.work().due.get(&id).map(|(_, a)| *a).unwrap_or(0);
        let outcome = self.gateway_of(payment.provider()).stk_query(&checkout);
        self.counts.gateway(&outcome);
        let now = self.time().now;
        // Daraja answered (a state, or a refusal of the request), as opposed to not being
        // reachable, overloaded or rate-limiting lango.
        let answered = !matches!(
            outcome,
            Err(GatewayError::Throttled(_)
                | GatewayError::Unavailable(_)
                | GatewayError::Transport(_)
                | GatewayError::Unanswered(_))
        );
        match outcome {
            Ok(outcome) => {
                self.work().pacing.clear(payment.provider());
                let settled = match self.settle(id, &outcome) {
                    Ok(settled) => settled,
                    Err(e) => {
                        // Not stored (a full flash): the payment stays open, and the query is
                        // asked again later, after a growing wait, never closed as expired
                        // for want of a write.
                        self.work()
                            .due
                            .insert(id, (now + store_retry_delay(attempt), attempt + 1));
                        return Err(e);
                    }
                };
                if settled {
                    self.work().due.remove(&id);
                    return Ok(());
                }
            }
            Err(GatewayError::Throttled(e)) => {
                let until = self.work().pacing.hit(payment.provider(), now);
                log::warn!(
                    "STK query for payment {id}: {e}; no query for {} s",
                    until - now
                );
            }
            Err(e) => log::warn!("STK query for payment {id} failed, will retry: {e}"),
        }
        if late && attempt + 1 >= crate::app::mpesa::LATE_QUERIES {
            self.work().due.remove(&id);
            self.forget_hint(id);
            return Ok(());
        }
        // The window closes on an answer: a payment is not called expired because lango could
        // not ask (rate limits, Daraja down), unless no answer came for a while longer still.
        let window_end = payment.created_at + payments::PROMPT_WINDOW_SECS;
        let may_expire = answered || now >= window_end + UNANSWERED_GRACE_SECS;
        if let Some(mut expired) = payments::expire_if_stale(&payment, now).filter(|_| may_expire) {
            // A callback that the query never confirmed stays on record (an SMS may match it).
            expired.callback = self.hint(id);
            return self.close_payment(&expired, "no final answer from M-Pesa in time");
        }
        // The last query is at the end of the window, not up to 20 s after it.
        let mut next = now + payments::poll_delay(attempt + 1);
        if answered {
            next = next.min(window_end.max(now + 1));
        }
        let mut work = self.work();
        let at = work.pacing.slot(payment.provider(), next, now);
        work.due.insert(id, (at, attempt + 1));
        Ok(())
    }

    /// Applies a gateway answer in one durable transaction: the payment's new state, the receipt
    /// claim and the session grant together. Returns whether the payment is now final.
    pub fn settle(&self, id: u64, outcome: &payments::StkOutcome) -> Result<bool, StoreError> {
        let time = self.time();
        let now = time.now;
        let outcome = &self.with_hint(id, outcome);
        let hint = self.hint(id);
        let (final_state, granted, moved) = self.store.write(Durability::Durable, |w| {
            let Some(payment) = w.payment(id)? else {
                return Ok((true, false, false));
            };
            let receipt = match outcome {
                payments::StkOutcome::Paid { receipt, .. } => receipt.clone(),
                _ => None,
            };
            // The callback's receipt is never recorded (it may be forged), but money the owner
            // already credited under it (an approved SMS) is not granted a second time.
            let callback_receipt = hint
                .as_ref()
                .filter(|h| h.result_code == 0)
                .and_then(|h| h.receipt.clone());
            let mut used_elsewhere = false;
            for r in receipt.iter().chain(callback_receipt.iter()) {
                used_elsewhere |= w.receipt_owner(r)?.is_some_and(|owner| owner != id);
            }
            match payments::settle(&payment, outcome, used_elsewhere, now) {
                Settlement::NoChange => {
                    // Still waiting for the PIN: nothing to keep, no flash write (a commit per
                    // query was the 4th durable commit of a purchase).
                    w.discard();
                    Ok((!payment.state.is_open(), false, false))
                }
                Settlement::Paid { mut payment } => {
                    if let Some(r) = &payment.receipt {
                        w.claim_receipt(r, id)?;
                    }
                    let (mac, ip, source) = (payment.mac, payment.ip, Source::Payment(id));
                    let session = &grant_in(w, mac, ip, &payment.terms, source, time.start())?;
                    payment.session_id = Some(session.id);
                    #[cfg(feature = "radius")]
                    {
                        let user = crate::core::radius::acct::ietf(mac);
                        let receipt = payment.receipt.clone().unwrap_or(format!("payment-{id}"));
                        self.acct_sale_in(w, session, &user, &receipt, now)?;
                    }
                    if payment.terms.devices > 1 {
                        share_purchase(w, &payment, session.id, now)?;
                    }
                    payment.callback = hint.clone().or(payment.callback);
                    w.put_payment(&payment)?;
                    touch_device(w, payment.mac, payment.ip, now)?;
                    w.push_event(&Event::new(
                        now,
                        "payment_paid",
                        Some(payment.mac),
                        format!(
                            "payment {}: {} for {} by {} paid (receipt {}), session {} until {}",
                            id,
                            self.owner_money(payment.amount),
                            payment.terms.package_name,
                            payment.phone.masked(),
                            payment.receipt.as_deref().unwrap_or("not yet known"),
                            session.id,
                            self.owner_time(session.deadline)
                        ),
                    ))?;
                    Ok((true, true, true))
                }
                Settlement::Closed { mut payment } => {
                    payment.callback = hint.clone().or(payment.callback);
                    // A callback that said paid, contradicted by the query: not granted, and
                    // the owner is told what the callback claimed.
                    let contradicted = match &hint {
                        Some(h) if h.result_code == 0 => format!(
                            "; M-Pesa's notice said paid (receipt {}), its check did not: \
                             not granted",
                            h.receipt.as_deref().unwrap_or("none")
                        ),
                        _ => String::new(),
                    };
                    w.put_payment(&payment)?;
                    w.push_event(&Event::new(
                        now,
                        "payment_failed",
                        Some(payment.mac),
                        format!(
                            "payment {id}: {} for {} {}: {}{contradicted}",
                            self.owner_money(payment.amount),
                            payment.terms.package_name,
                            state_words(payment.state),
                            crate::app::mpesa::decline_words(payment.decline)
                        ),
                    ))?;
                    Ok((true, false, true))
                }
                Settlement::Rejected {
                    mut payment,
                    reason,
                } => {
                    payment.callback = hint.clone().or(payment.callback);
                    w.put_payment(&payment)?;
                    w.push_event(&Event::new(
                        now,
                        "payment_rejected",
                        Some(payment.mac),
                        format!("payment {id} not granted: {reason}"),
                    ))?;
                    Ok((true, false, true))
                }
            }
        })?;
        if granted {
            self.funnel.paid.fetch_add(1, Ordering::Relaxed);
            self.mark_dirty();
            if let Ok(Some(session_id)) = self
                .store
                .read(|r| Ok(r.payment(id)?.and_then(|p| p.session_id)))
            {
                self.emit_session(session_id, true);
            }
        }
        if final_state {
            self.forget_hint(id);
            // Counted for /metrics once: when this settle moved it to its final state.
            self.emit_payment(id, moved);
        }
        Ok(final_state)
    }
}

/// A closed payment's state in the owner's words, for the event log.
fn state_words(state: PaymentState) -> &'static str {
    match state {
        PaymentState::Cancelled => "cancelled",
        PaymentState::Expired => "expired",
        _ => "failed",
    }
}

/// A paid purchase for several devices: its share code (`payments::share_code`) is recorded as
/// a used voucher of the purchase, so that another device enters it in the voucher box and
/// joins exactly as with a printed voucher (`App::redeem`).
fn share_purchase(
    w: &mut crate::store::Writer,
    payment: &Payment,
    session_id: u64,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some(code) = payments::share_code(&payment.token) else {
        return Ok(());
    };
    if w.voucher(&code)?.is_some() {
        return Ok(());
    }
    w.put_voucher(&crate::core::vouchers::Voucher {
        code,
        terms: payment.terms.clone(),
        created_at: now,
        valid_until: None,
        batch: "M-Pesa".into(),
        state: crate::core::vouchers::VoucherState::Used {
            mac: payment.mac,
            at: now,
            session_id,
        },
    })
}
