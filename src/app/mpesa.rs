//! The app's M-Pesa evidence besides its own polling, and the owner's connection test.
//!
//! - Daraja callbacks arrive on the portal listener at a long secret path. A callback is
//!   parsed, matched to a CheckoutRequestID lango issued, its amount and phone are checked,
//!   and it is kept in RAM as a hint that makes lango query at once. It never grants: only the
//!   query's ResultCode 0 does, through `App::settle`. Its receipt is never evidence (a forged
//!   callback could name any): it is kept on the payment for the owner to read, never as the
//!   payment's receipt, so neither `move` nor a pasted SMS can lean on it.
//! - A pasted SMS never grants by itself: a receipt enters the store only with a query's
//!   confirmation or the owner's approval. An SMS for a prompt still open makes lango ask
//!   M-Pesa again; everything else is kept for the owner to approve or reject; an approval
//!   grants through one write transaction that also claims the receipt, so a receipt is
//!   credited once.
//! - The connection test runs the gateway's `check` on a thread of its own, never on an HTTP
//!   thread; the owner page shows the last report.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::app::admission::{AdmitError, Admitted, Denied};
use crate::app::App;
use crate::core::daraja;
use crate::core::locks::lock;
use crate::core::model::{Mac, Money};
use crate::core::payments::{CallbackHint, CheckStep, Decline, Payment, PaymentState, StkOutcome};
use crate::core::sessions::{Session, Source, Terms};
use crate::core::sms::{self, ClaimState, ClaimVia, NotPayment, SmsClaim};
use crate::core::time::Timestamp;
use crate::core::token;
use crate::store::{Durability, Event, StoreError};

/// Where Daraja posts STK results on the portal listener, followed by the secret. The path
/// avoids the words M-PESA and Safaricom, which Safaricom refuses in callback URLs
/// (docs/daraja.md, Callback URL).
pub const CALLBACK_PREFIX: &str = "/api/stk-callback/";

/// The CallBackURL sent when the owner exposes no public address: a valid https URL that
/// never resolves (`.invalid` is reserved, RFC 2606). Daraja's delivery fails; the query
/// confirms the payment.
pub(crate) const NO_CALLBACK_URL: &str = "https://lango.invalid/api/stk-callback/none";

/// A device may paste this many SMS per window (forgeries cost a flash write each).
const SMS_ATTEMPTS: usize = 5;
const SMS_WINDOW_SECS: i64 = 600;
/// Claims waiting for the owner beyond this are refused until the owner decides some.
const MAX_PENDING_CLAIMS: usize = 100;
/// Hints are forgotten this long after their callback (a late query has had its chances).
const HINT_TTL_SECS: i64 = 3600;
/// Queries for a payment that already expired, after a late callback.
pub(crate) const LATE_QUERIES: u32 = 5;

/// The app's M-Pesa bookkeeping, in RAM. Its locks are never held across I/O.
#[derive(Default)]
pub(crate) struct MpesaState {
    /// Payment id → what its callback said.
    hints: Mutex<HashMap<u64, CallbackHint>>,
    /// The callback secret, once read or made.
    secret: Mutex<Option<String>>,
    /// Device → when it pasted an SMS recently.
    sms_attempts: Mutex<HashMap<Mac, Vec<Timestamp>>>,
    check: Arc<Mutex<CheckStatus>>,
}

/// The owner's last "Test M-Pesa connection".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CheckStatus {
    #[default]
    Never,
    Running {
        since: Timestamp,
    },
    Done {
        at: Timestamp,
        steps: Vec<CheckStep>,
    },
}

/// What lango made of a callback (it answers Daraja 200 whatever this is).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallbackVerdict {
    /// Matched an open (or expired) payment: kept as a hint, a query is due now.
    Hint {
        payment_id: u64,
    },
    /// Said paid, for a payment the query had already confirmed: what it said is kept on the
    /// payment for the owner (its receipt unverified, never the payment's receipt).
    EvidenceKept {
        payment_id: u64,
    },
    /// Not a CheckoutRequestID lango issued.
    UnknownCheckout,
    /// Ours, but the money or the phone does not match, or the receipt is taken: ignored.
    Mismatch(String),
    /// A duplicate, or for a payment that is already final.
    Ignored(String),
    Malformed(String),
}

/// For the log: router builds print derived `Debug` shallowly (docs/size.md).
impl std::fmt::Display for CallbackVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallbackVerdict::Hint { payment_id } => {
                write!(f, "a hint for payment {payment_id}, query due")
            }
            CallbackVerdict::EvidenceKept { payment_id } => {
                write!(f, "kept as evidence on payment {payment_id}")
            }
            CallbackVerdict::UnknownCheckout => f.write_str("not a checkout lango issued"),
            CallbackVerdict::Mismatch(why) => write!(f, "mismatch: {why}"),
            CallbackVerdict::Ignored(why) => write!(f, "ignored: {why}"),
            CallbackVerdict::Malformed(why) => write!(f, "malformed: {why}"),
        }
    }
}

/// What a pasted SMS achieved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmsOutcome {
    /// It matched a payment lango confirmed itself: the package is granted.
    Granted(Box<Session>),
    /// The payment behind it is still open: lango is asking M-Pesa now.
    Checking,
    /// Its receipt is already credited to this device.
    AlreadyYours,
    /// Kept for the owner to approve or reject.
    SentToOwner,
}

#[derive(Debug)]
pub enum SmsError {
    /// The device may not act (`App::admit`).
    Denied(Denied),
    TooManyAttempts,
    NotAPayment(NotPayment),
    UnknownPackage,
    /// The SMS pays less than the package costs.
    AmountBelowPrice {
        paid: Money,
        price: Money,
    },
    /// The receipt is already credited (to another device, or by the owner).
    AlreadyUsed,
    /// The same receipt is already waiting for the owner.
    AlreadyWaiting,
    /// The owner rejected this receipt.
    Rejected,
    /// Too many claims are waiting; the owner must decide some first.
    OwnerBusy,
    /// Pull Transactions lists no such receipt for this till in the last 48 hours.
    NotPaidHere,
    /// Pull Transactions is rate-limited (by lango or by Daraja): try again in a minute.
    MpesaBusy,
    Store(StoreError),
}

impl From<StoreError> for SmsError {
    fn from(e: StoreError) -> Self {
        SmsError::Store(e)
    }
}

impl From<AdmitError> for SmsError {
    fn from(e: AdmitError) -> Self {
        match e {
            AdmitError::Denied(d) => SmsError::Denied(d),
            AdmitError::Store(e) => SmsError::Store(e),
        }
    }
}

/// The owner's decision on a claim, as it came out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimDecision {
    Approved(Box<Session>),
    Rejected,
    /// Nothing changed: the claim is unknown or already decided.
    NotPending,
    /// Not approved: the receipt was credited meanwhile (a payment confirmed it).
    ReceiptAlreadyCredited(u64),
}

impl App {
    // ---- callbacks ----

    /// The secret part of the callback path, made (one durable write in the store's life)
    /// on first use.
    pub fn callback_secret(&self) -> Result<String, StoreError> {
        let mut cached = lock(&self.mpesa.secret);
        if let Some(secret) = cached.as_ref() {
            return Ok(secret.clone());
        }
        let secret = match self.store.read(|r| r.secret("callback"))? {
            Some(s) => s,
            None => {
                let fresh = token::random_token()?;
                self.store.write(Durability::Durable, |w| {
                    // Another lango process cannot share the store; re-check anyway.
                    match w.secret("callback")? {
                        Some(existing) => Ok(existing),
                        None => {
                            w.set_secret("callback", &fresh)?;
                            Ok(fresh)
                        }
                    }
                })?
            }
        };
        *cached = Some(secret.clone());
        Ok(secret)
    }

    /// Whether `candidate` is the callback secret. Never makes one.
    pub(crate) fn callback_secret_matches(&self, candidate: &str) -> bool {
        let known = lock(&self.mpesa.secret).clone();
        let known = match known {
            Some(s) => Some(s),
            None => self.store.read(|r| r.secret("callback")).ok().flatten(),
        };
        known.is_some_and(|s| token::same(candidate.as_bytes(), s.as_bytes()))
    }

    /// The CallBackURL for a push: the owner's public address with the secret path, or a
    /// placeholder that goes nowhere.
    pub(crate) fn push_callback_url(&self) -> String {
        let config = self.config();
        let Some(base) = config.mpesa.as_ref().and_then(|m| m.callback_url.clone()) else {
            return NO_CALLBACK_URL.into();
        };
        match self.callback_secret() {
            Ok(secret) => format!("{base}{CALLBACK_PREFIX}{secret}"),
            Err(e) => {
                log::error!("callback secret: {e}; this push carries no callback");
                NO_CALLBACK_URL.into()
            }
        }
    }

    /// Handles a callback body that came in on the secret path. Quick: a parse, a store read
    /// and a note in RAM; the query it triggers runs on the worker.
    pub fn on_callback(&self, body: &[u8]) -> CallbackVerdict {
        let callback = match daraja::parse_callback(body) {
            Ok(c) => c,
            Err(e) => return CallbackVerdict::Malformed(e),
        };
        let now = self.time().now;
        // Whether the callback's receipt is already credited to another *payment* (a replay).
        // A receipt the owner credited through an SMS claim is kept: `settle` then refuses
        // to grant the same money twice.
        let found = self.store.read(|r| {
            let payment = r.payment_by_checkout(&callback.checkout_id)?;
            let other_payment = match &callback.receipt {
                Some(receipt) => match r.receipt_owner(receipt)? {
                    Some(owner) => r.payment(owner)?.map(|p| p.id),
                    None => None,
                },
                None => None,
            };
            Ok((payment, other_payment))
        });
        let found = found.and_then(|(payment, paid_by)| {
            // A receipt another payment's callback already named counts as taken too.
            let paid_by = match (paid_by, &callback.receipt) {
                (None, Some(receipt)) if callback.result_code == 0 => self
                    .payment_with_callback_receipt(receipt)?
                    .filter(|p| Some(p.id) != payment.as_ref().map(|p| p.id))
                    .map(|p| p.id),
                (paid_by, _) => paid_by,
            };
            Ok((payment, paid_by))
        });
        let (payment, paid_by) = match found {
            Ok(f) => f,
            Err(e) => {
                log::error!("callback: {e}");
                return CallbackVerdict::Ignored(e.to_string());
            }
        };
        let Some(payment) = payment else {
            log::warn!(
                "callback for unknown checkout {} (ResultCode {}) ignored",
                callback.checkout_id,
                callback.result_code
            );
            return CallbackVerdict::UnknownCheckout;
        };
        let mut hint = CallbackHint {
            result_code: callback.result_code,
            receipt: None,
            amount: callback.amount,
            at: now,
        };
        if callback.result_code == 0 {
            let problem = if callback.amount.is_none_or(|a| a < payment.amount) {
                Some(format!(
                    "amount {} is below the price {}",
                    callback
                        .amount
                        .map(|a| a.to_string())
                        .unwrap_or_else(|| "(none)".into()),
                    payment.amount
                ))
            } else if callback.phone.as_deref() != Some(payment.phone.as_str()) {
                Some("the phone number is not the one prompted".to_string())
            } else if callback.receipt.is_none() {
                Some("no receipt".to_string())
            } else if paid_by.is_some_and(|owner| owner != payment.id) {
                Some("its receipt is already credited to another payment".to_string())
            } else {
                None
            };
            if let Some(problem) = problem {
                log::warn!(
                    "callback claiming success for payment {} ignored: {problem}",
                    payment.id
                );
                return CallbackVerdict::Mismatch(problem);
            }
            hint.receipt = callback.receipt.clone();
        }
        match payment.state {
            PaymentState::Pending | PaymentState::Expired => self.keep_hint(payment.id, hint, now),
            PaymentState::Paid if payment.callback.is_none() && hint.receipt.is_some() => {
                // The query confirmed it before the callback came: keep what the callback said
                // for the owner (once), but not as the payment's receipt.
                let id = payment.id;
                let written = self.store.write(Durability::Durable, |w| {
                    let Some(mut current) = w.payment(id)? else {
                        return Ok(false);
                    };
                    if current.callback.is_some() {
                        return Ok(false);
                    }
                    current.callback = Some(hint.clone());
                    w.put_payment(&current)?;
                    Ok(true)
                });
                match written {
                    Ok(true) => CallbackVerdict::EvidenceKept { payment_id: id },
                    Ok(false) => CallbackVerdict::Ignored("already kept".into()),
                    Err(e) => {
                        log::error!("callback receipt: {e}");
                        CallbackVerdict::Ignored(e.to_string())
                    }
                }
            }
            state => {
                CallbackVerdict::Ignored(format!("payment {} is {}", payment.id, state.name()))
            }
        }
    }

    /// Keeps a callback's hint for an open (or expired) payment and makes its query due now;
    /// the same notice twice is a duplicate, and a success never gives way to a later failure.
    pub(crate) fn keep_hint(&self, id: u64, hint: CallbackHint, now: Timestamp) -> CallbackVerdict {
        let duplicate = {
            let mut hints = lock(&self.mpesa.hints);
            hints.retain(|_, h| now - h.at < HINT_TTL_SECS);
            let old = hints.get(&id);
            let same = |h: &CallbackHint| {
                (h.result_code, &h.receipt, h.amount)
                    == (hint.result_code, &hint.receipt, hint.amount)
            };
            let duplicate = old.is_some_and(same);
            if !old.is_some_and(|h| h.result_code == 0 && hint.result_code != 0) {
                hints.insert(id, hint);
            }
            duplicate
        };
        self.poll_soon(id);
        if duplicate {
            return CallbackVerdict::Ignored("duplicate".into());
        }
        CallbackVerdict::Hint { payment_id: id }
    }

    pub fn has_hint(&self, payment_id: u64) -> bool {
        lock(&self.mpesa.hints).contains_key(&payment_id)
    }

    pub(crate) fn hint(&self, payment_id: u64) -> Option<CallbackHint> {
        lock(&self.mpesa.hints).get(&payment_id).cloned()
    }

    pub(crate) fn forget_hint(&self, payment_id: u64) {
        lock(&self.mpesa.hints).remove(&payment_id);
    }

    /// A query's answer with what the callback told: the query decides paid or not; a
    /// success callback supplies the amount the query never carries (never below the price:
    /// `on_callback` drops such a callback). Its receipt stays out: a receipt enters the store
    /// only from the query itself or the owner's approval (issue 13).
    pub(crate) fn with_hint(&self, id: u64, outcome: &StkOutcome) -> StkOutcome {
        match (outcome, self.hint(id)) {
            (
                StkOutcome::Paid {
                    receipt,
                    amount: None,
                },
                Some(hint),
            ) if hint.result_code == 0 => StkOutcome::Paid {
                receipt: receipt.clone(),
                amount: hint.amount,
            },
            _ => outcome.clone(),
        }
    }

    // ---- pasted SMS ----

    /// A guest pasted an M-Pesa SMS, asking for `package_id`.
    pub fn claim_sms(
        &self,
        ip: IpAddr,
        text: &str,
        package_id: &str,
    ) -> Result<SmsOutcome, SmsError> {
        let Admitted { mac, time, .. } = self.admit(ip)?;
        self.sms_attempt(mac, time.now)?;
        let sms = sms::parse(text).map_err(SmsError::NotAPayment)?;
        self.claim_payment(&sms, mac, ip, package_id, time, ClaimVia::Pull)
    }

    /// Counts a pasted SMS or typed receipt against the device's attempts.
    pub(crate) fn sms_attempt(&self, mac: Mac, now: Timestamp) -> Result<(), SmsError> {
        let mut attempts = lock(&self.mpesa.sms_attempts);
        let mine = attempts.entry(mac).or_default();
        mine.retain(|at| now - at < SMS_WINDOW_SECS);
        if mine.len() >= SMS_ATTEMPTS {
            return Err(SmsError::TooManyAttempts);
        }
        mine.push(now);
        Ok(())
    }

    /// A payment a guest names (by its SMS, or a receipt typed for a QR): already credited,
    /// a prompt's, confirmed through Pull (recorded as `via` when it grants), or for the owner.
    pub(crate) fn claim_payment(
        &self,
        sms: &sms::SmsPayment,
        mac: Mac,
        ip: IpAddr,
        package_id: &str,
        time: crate::core::time::TimeView,
        via: ClaimVia,
    ) -> Result<SmsOutcome, SmsError> {
        let now = time.now;
        let receipt = sms.receipt.clone();
        let (owner, claim) = self.store.read(|r| {
            let owner = match r.receipt_owner(&receipt)? {
                Some(id) => r.payment(id)?.map(|p| (id, p.mac)),
                None => None,
            };
            Ok((owner, r.sms_claim_by_receipt(&receipt)?))
        })?;
        // A receipt credited long ago is in the archive, under the day the SMS names.
        let archived = match sms.paid_on() {
            Some(day) if owner.is_none() => self
                .store
                .read(|r| r.archived_receipt(&receipt, day))?
                .map(|p| (0, p.mac)),
            _ => None,
        };
        if let Some((_, owner_mac)) = owner.or(archived) {
            return if owner_mac == mac {
                Ok(SmsOutcome::AlreadyYours)
            } else {
                Err(SmsError::AlreadyUsed)
            };
        }
        if let Some(claim) = claim {
            return Err(match claim.state {
                ClaimState::Pending => SmsError::AlreadyWaiting,
                ClaimState::Approved if claim.mac == mac => return Ok(SmsOutcome::AlreadyYours),
                ClaimState::Approved => SmsError::AlreadyUsed,
                ClaimState::Rejected => SmsError::Rejected,
            });
        }
        if let Some(payment) = self.payment_with_callback_receipt(&receipt)? {
            if let Some(outcome) = self.sms_for_callback(&payment, mac)? {
                return Ok(outcome);
            }
        }
        // With Pull Transactions, M-Pesa itself says whether this till was paid.
        if self.config().mpesa.as_ref().is_some_and(|m| m.pull) {
            return self.claim_by_pull(sms, mac, ip, package_id, time, via);
        }
        // A prompt still open on this device may be the payment the SMS is about: let the
        // query answer first rather than have the owner credit the same money twice.
        if let Some(open) = self.store.read(|r| r.open_payment_for(mac))? {
            if open.state == PaymentState::Pending {
                self.poll_soon(open.id);
            }
            return Ok(SmsOutcome::Checking);
        }
        self.record_claim(sms, mac, ip, package_id, now)
    }

    /// The payment whose callback carried `receipt`: an open one in RAM, or a closed one
    /// that kept its callback.
    fn payment_with_callback_receipt(&self, receipt: &str) -> Result<Option<Payment>, StoreError> {
        let in_ram = lock(&self.mpesa.hints)
            .iter()
            .find(|(_, h)| h.receipt.as_deref() == Some(receipt))
            .map(|(id, _)| *id);
        if let Some(id) = in_ram {
            return self.store.read(|r| r.payment(id));
        }
        let recent = self.store.read(|r| r.recent_payments(1000))?;
        Ok(recent.into_iter().find(|p| {
            p.callback
                .as_ref()
                .is_some_and(|h| h.result_code == 0 && h.receipt.as_deref() == Some(receipt))
        }))
    }

    /// The SMS names a receipt a callback brought for `payment`. Never a grant: a callback and
    /// an SMS are both things a guest can make up (issue 13). A paid payment's receipt is the
    /// paying device's already (and nobody else's to claim again); an open one is queried now;
    /// anything else goes to the owner.
    fn sms_for_callback(
        &self,
        payment: &Payment,
        mac: Mac,
    ) -> Result<Option<SmsOutcome>, SmsError> {
        match payment.state {
            PaymentState::Paid if payment.mac == mac => Ok(Some(SmsOutcome::AlreadyYours)),
            PaymentState::Paid => Err(SmsError::AlreadyUsed),
            PaymentState::Pending if payment.mac == mac => {
                self.poll_soon(payment.id);
                Ok(Some(SmsOutcome::Checking))
            }
            _ => Ok(None),
        }
    }

    pub(crate) fn record_claim(
        &self,
        sms: &sms::SmsPayment,
        mac: Mac,
        ip: IpAddr,
        package_id: &str,
        now: Timestamp,
    ) -> Result<SmsOutcome, SmsError> {
        let config = self.config();
        let package = config
            .package(package_id)
            .filter(|p| p.active)
            .ok_or(SmsError::UnknownPackage)?;
        if sms.amount < package.price {
            return Err(SmsError::AmountBelowPrice {
                paid: sms.amount,
                price: package.price,
            });
        }
        let terms = Terms::of(package);
        let result = self.store.write(Durability::Durable, |w| {
            let pending = w
                .sms_claims(MAX_PENDING_CLAIMS * 2)?
                .iter()
                .filter(|c| c.state == ClaimState::Pending)
                .count();
            if pending >= MAX_PENDING_CLAIMS {
                return Ok(Err(SmsError::OwnerBusy));
            }
            if w.sms_claim_by_receipt(&sms.receipt)?.is_some() {
                return Ok(Err(SmsError::AlreadyWaiting));
            }
            if w.receipt_owner(&sms.receipt)?.is_some() {
                return Ok(Err(SmsError::AlreadyUsed));
            }
            let claim = SmsClaim {
                id: w.next_id()?,
                receipt: sms.receipt.clone(),
                amount: sms.amount,
                paid_to: sms.paid_to(),
                paid_at: sms.paid_at(),
                code_date_ok: sms.code_matches_date(),
                mac,
                ip: Some(ip),
                terms: terms.clone(),
                state: ClaimState::Pending,
                created_at: now,
                decided_at: None,
                session_id: None,
                via: ClaimVia::Owner,
            };
            w.put_sms_claim(&claim)?;
            w.push_event(&Event::new(
                now,
                "sms_claim",
                Some(mac),
                format!(
                    "SMS claim {}: receipt {} for {} paid to {} on {}, asking for {}; waiting \
                     for the owner",
                    claim.id,
                    claim.receipt,
                    self.owner_money(claim.amount),
                    claim.paid_to,
                    claim.paid_at,
                    terms.package_name
                ),
            ))?;
            Ok(Ok(()))
        })?;
        result.map(|()| SmsOutcome::SentToOwner)
    }

    /// The owner approves or rejects a claim. An approval claims the receipt and grants the
    /// package to the device that pasted it, in one durable transaction.
    pub fn decide_sms_claim(&self, id: u64, approve: bool) -> Result<ClaimDecision, StoreError> {
        let now = self.time().now;
        let decision = self.store.write(Durability::Durable, |w| {
            let Some(mut claim) = w.sms_claim(id)? else {
                return Ok(ClaimDecision::NotPending);
            };
            if claim.state != ClaimState::Pending {
                return Ok(ClaimDecision::NotPending);
            }
            claim.decided_at = Some(now);
            if !approve {
                claim.state = ClaimState::Rejected;
                w.put_sms_claim(&claim)?;
                w.push_event(&Event::new(
                    now,
                    "sms_claim_rejected",
                    Some(claim.mac),
                    format!(
                        "SMS claim {id} (receipt {}) rejected by the owner",
                        claim.receipt
                    ),
                ))?;
                return Ok(ClaimDecision::Rejected);
            }
            if let Some(owner) = w.receipt_owner(&claim.receipt)? {
                return Ok(ClaimDecision::ReceiptAlreadyCredited(owner));
            }
            w.claim_receipt(&claim.receipt, id)?;
            let start = now;
            let session =
                crate::app::grant_in(w, claim.mac, claim.ip, &claim.terms, Source::Owner, start)?;
            claim.state = ClaimState::Approved;
            claim.session_id = Some(session.id);
            w.put_sms_claim(&claim)?;
            w.push_event(&Event::new(
                now,
                "sms_claim_approved",
                Some(claim.mac),
                format!(
                    "SMS claim {id} (receipt {}, {}) approved by the owner: {} until {}",
                    claim.receipt,
                    claim.amount,
                    claim.terms.package_name,
                    self.owner_time(session.deadline)
                ),
            ))?;
            Ok(ClaimDecision::Approved(Box::new(session)))
        })?;
        if matches!(decision, ClaimDecision::Approved(_)) {
            self.mark_dirty();
        }
        Ok(decision)
    }

    // ---- the owner's connection test ----

    /// Starts "Test M-Pesa connection" on a thread of its own. False if one is running.
    pub fn start_mpesa_check(&self) -> bool {
        let now = self.time().now;
        {
            let mut status = lock(&self.mpesa.check);
            if matches!(*status, CheckStatus::Running { .. }) {
                return false;
            }
            *status = CheckStatus::Running { since: now };
        }
        let gateway = self.env.gateway.clone();
        let clock = self.env.clock.clone();
        let status = self.mpesa.check.clone();
        let spawned = std::thread::Builder::new()
            .name("lango-mpesa-check".into())
            .spawn(move || {
                let steps = gateway.check();
                *lock(&status) = CheckStatus::Done {
                    at: clock.now(),
                    steps,
                };
            });
        if let Err(e) = spawned {
            *lock(&self.mpesa.check) = CheckStatus::Done {
                at: now,
                steps: vec![CheckStep {
                    what: "M-Pesa".into(),
                    ok: false,
                    detail: format!("cannot start the test: {e}"),
                }],
            };
        }
        true
    }

    pub fn mpesa_check_status(&self) -> CheckStatus {
        lock(&self.mpesa.check).clone()
    }
}

/// What a payment's callback (M-Pesa's notice) said, for the owner page: in words, no codes.
pub(crate) fn describe_hint(hint: &CallbackHint) -> String {
    match (&hint.receipt, hint.result_code) {
        (Some(receipt), 0) => format!("M-Pesa's notice said paid, receipt {receipt}"),
        (_, code) => format!(
            "M-Pesa's notice said: {}",
            decline_words(Some(Decline::from_result_code(code)))
        ),
    }
}

/// Why a prompt ended unpaid, in the owner's words (docs/daraja.md, Result codes).
pub(crate) fn decline_words(decline: Option<Decline>) -> &'static str {
    match decline {
        Some(Decline::Cancelled) => "the customer cancelled",
        Some(Decline::TimedOut) => "no answer from the phone",
        Some(Decline::WrongPin) => "wrong PIN",
        Some(Decline::InsufficientFunds) => "not enough money in M-Pesa",
        Some(Decline::Busy) => "the phone was busy with another M-Pesa request",
        Some(Decline::Limit) => "a limit on the customer's M-Pesa account",
        Some(Decline::Merchant) => "your M-Pesa account refused it (check Settings)",
        Some(Decline::Unavailable) => "M-Pesa could not be reached",
        Some(Decline::Other) | None => "M-Pesa declined it",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_described_for_the_owner() {
        let hint = CallbackHint {
            result_code: 0,
            receipt: Some("UF4KQ81ZTD".into()),
            amount: Some(Money(2000)),
            at: 0,
        };
        assert_eq!(
            describe_hint(&hint),
            "M-Pesa's notice said paid, receipt UF4KQ81ZTD"
        );
    }
}
