//! A payment made from the M-Pesa menu (the till or PayBill, no prompt), confirmed by the
//! router itself through Daraja's Pull Transactions API (`option pull '1'`; docs/daraja.md,
//! Pull Transactions). The guest pastes the confirmation SMS (`App::claim_sms`); its receipt is
//! only a question: lango grants when Pull lists that receipt among this shortcode's
//! transactions of the last 48 hours for at least the package's price, and the receipt was
//! never credited, nor possibly a prompt's that lango confirms without learning its receipt
//! (same amount, a phone Pull's masked number may be: an open prompt is queried, a closed one
//! goes to the owner). The claim (as an approved `SmsClaim`), the receipt, the grant and the event
//! are one durable transaction. When Pull cannot answer, the claim waits for the owner, as
//! without Pull. Bounded: one lookup at a time (it runs on the asking HTTP thread), lookups per
//! minute per router and per device, a few pages per question, and Daraja's rate-limit answers
//! back off (`core::pacing::Throttle`).

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::app::mpesa::{SmsError, SmsOutcome, NO_CALLBACK_URL};
use crate::app::App;
use crate::core::daraja::pull::{msisdn_may_be, verdict, PullVerdict, MAX_PAGES, WINDOW_SECS};
use crate::core::locks::lock;
use crate::core::model::{Mac, Money};
use crate::core::pacing::Throttle;
use crate::core::payments::{GatewayError, PaymentState};
use crate::core::ratelimit::Limit;
use crate::core::sessions::{Source, Terms};
use crate::core::sms::{ClaimState, ClaimVia, SmsClaim, SmsPayment};
use crate::core::time::TimeView;
use crate::store::{Durability, Event};

/// Pull lookups per device: 3 a minute.
const PER_DEVICE: Limit = Limit {
    burst: 3,
    per_secs: 60,
};
/// Pull lookups for the whole router: 10 a minute (each may cost `MAX_PAGES` queries).
const PER_ROUTER: Limit = Limit {
    burst: 10,
    per_secs: 60,
};

/// The Pull bookkeeping, in RAM.
#[derive(Default)]
pub(crate) struct PullState {
    /// The shortcode was registered by this process (or Daraja said it already was).
    registered: AtomicBool,
    /// A lookup is in flight: it runs on the HTTP thread that asked, so one at a time keeps
    /// the portal's worker pool free (a slow Daraja holds one thread, never all).
    busy: AtomicBool,
    throttle: Mutex<Throttle>,
}

/// Clears `PullState::busy` when the lookup ends, however it ends.
struct InFlight<'a>(&'a AtomicBool);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl App {
    /// Asks Pull about `sms`'s receipt for `package_id` (the caller checked that the receipt
    /// is not credited nor claimed). Grants, refuses, or leaves the claim for the owner.
    pub(crate) fn claim_by_pull(
        &self,
        sms: &SmsPayment,
        mac: Mac,
        ip: IpAddr,
        package_id: &str,
        time: TimeView,
        via: ClaimVia,
    ) -> Result<SmsOutcome, SmsError> {
        let config = self.config();
        let package = config
            .package(package_id)
            .filter(|p| p.active)
            .ok_or(SmsError::UnknownPackage)?;
        let now = time.now;
        if now < lock(&self.pull.throttle).until() {
            return Err(SmsError::MpesaBusy);
        }
        if self.pull.busy.swap(true, Ordering::AcqRel) {
            return Err(SmsError::MpesaBusy);
        }
        let _in_flight = InFlight(&self.pull.busy);
        let device = format!("pull-{mac}");
        self.limiter
            .check(&device, PER_DEVICE, time.now_ms)
            .map_err(|_| SmsError::TooManyAttempts)?;
        self.limiter
            .check("pull:all", PER_ROUTER, time.now_ms)
            .map_err(|_| SmsError::MpesaBusy)?;
        self.register_for_pull();
        let mut offset = 0u32;
        let mut found = PullVerdict::NotFound;
        for _ in 0..MAX_PAGES {
            let page = match self.env.gateway.pull_query(offset) {
                Ok(page) => page,
                Err(GatewayError::Throttled(m)) => {
                    let until = lock(&self.pull.throttle).hit(now);
                    log::warn!("Pull Transactions: {m}; no query before {until}");
                    return Err(SmsError::MpesaBusy);
                }
                Err(e) => {
                    log::warn!(
                        "Pull Transactions cannot confirm receipt {}: {e}; the owner decides",
                        sms.receipt
                    );
                    return self.record_claim(sms, mac, ip, package_id, now);
                }
            };
            lock(&self.pull.throttle).clear();
            found = verdict(&page, &sms.receipt, package.price);
            if found != PullVerdict::NotFound || page.is_empty() {
                break;
            }
            offset = offset.saturating_add(u32::try_from(page.len()).unwrap_or(u32::MAX));
        }
        match found {
            PullVerdict::NotFound => Err(SmsError::NotPaidHere),
            PullVerdict::TooLow(paid) => Err(SmsError::AmountBelowPrice {
                paid,
                price: package.price,
            }),
            PullVerdict::Paid(txn) => {
                // A prompt lango confirmed (or will confirm) by its query has no receipt in the
                // store, and Pull lists that money too: one that may be it is never granted
                // here. An open one is asked about now; a closed one goes to the owner.
                let recent = self.store.read(|r| r.recent_payments(1000))?;
                let maybe_stk = recent.iter().find(|p| {
                    !matches!(p.state, PaymentState::Failed | PaymentState::Cancelled)
                        && p.receipt.is_none()
                        && now - p.created_at <= WINDOW_SECS + 3600
                        && Money::from_major(p.amount.major_ceil()) == txn.amount
                        && msisdn_may_be(&txn.msisdn, p.phone.as_str())
                });
                if let Some(p) = maybe_stk {
                    if p.state.is_open() {
                        self.poll_soon(p.id);
                        return Ok(SmsOutcome::Checking);
                    }
                    log::warn!(
                        "receipt {} may be payment {}'s, which lango confirmed without its \
                         receipt; the owner decides",
                        txn.receipt,
                        p.id
                    );
                    return self.record_claim(sms, mac, ip, package_id, now);
                }
                let terms = Terms::of(package);
                let session = self.store.write(Durability::Durable, |w| {
                    if w.receipt_owner(&txn.receipt)?.is_some()
                        || w.sms_claim_by_receipt(&txn.receipt)?.is_some()
                    {
                        return Ok(Err(SmsError::AlreadyUsed));
                    }
                    let id = w.next_id()?;
                    w.claim_receipt(&txn.receipt, id)?;
                    let session = crate::app::grant_in(
                        w,
                        mac,
                        Some(ip),
                        &terms,
                        Source::Owner,
                        time.start(),
                    )?;
                    #[cfg(feature = "radius")]
                    {
                        let user = crate::core::radius::acct::ietf(mac);
                        self.acct_sale_in(w, &session, &user, &txn.receipt, now)?;
                    }
                    w.put_sms_claim(&SmsClaim {
                        id,
                        receipt: txn.receipt.clone(),
                        amount: txn.amount,
                        paid_to: format!("M-Pesa Pull, shortcode {}", self.pull_shortcode()),
                        paid_at: txn.at.clone(),
                        code_date_ok: sms.code_matches_date(),
                        mac,
                        ip: Some(ip),
                        terms: terms.clone(),
                        state: ClaimState::Approved,
                        created_at: now,
                        decided_at: Some(now),
                        session_id: Some(session.id),
                        via,
                    })?;
                    let (kind, what) = match via {
                        ClaimVia::Qr => ("qr_paid", "M-Pesa QR"),
                        _ => ("pull_paid", "M-Pesa menu"),
                    };
                    w.push_event(&Event::new(
                        now,
                        kind,
                        Some(mac),
                        format!(
                            "receipt {} ({} from {}, {what}) confirmed by M-Pesa Pull: {} until \
                             {}",
                            txn.receipt,
                            self.owner_money(txn.amount),
                            txn.msisdn,
                            terms.package_name,
                            self.owner_time(session.deadline)
                        ),
                    ))?;
                    Ok(Ok(session))
                })??;
                self.mark_dirty();
                Ok(SmsOutcome::Granted(Box::new(session)))
            }
        }
    }

    fn pull_shortcode(&self) -> String {
        self.config()
            .mpesa
            .as_ref()
            .map(|m| m.shortcode.clone())
            .unwrap_or_default()
    }

    /// Registers the shortcode for Pull once per process, when the owner named the
    /// NominatedNumber (`option pull_phone`). A failure is logged; the query says the rest.
    fn register_for_pull(&self) {
        if self.pull.registered.load(Ordering::Relaxed) {
            return;
        }
        let phone = self
            .config()
            .mpesa
            .as_ref()
            .and_then(|m| m.pull_phone.clone());
        let Some(phone) = phone else {
            return;
        };
        match self.env.gateway.pull_register(&phone, NO_CALLBACK_URL) {
            Ok(()) => {
                self.pull.registered.store(true, Ordering::Relaxed);
                log::info!("shortcode registered for M-Pesa Pull Transactions");
            }
            Err(e) => log::warn!("Pull Transactions registration: {e}"),
        }
    }
}
