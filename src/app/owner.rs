//! What the owner does to the running shop: the owner's password and the one-time setup code
//! that proves ownership before there is one, blocking a device, revoking a voucher, generating
//! vouchers, kicking and extending sessions. Each change is one durable write with an event,
//! and the firewall follows through `mark_dirty`.

use crate::app::App;
use crate::core::model::Mac;
use crate::core::report::{self, DayTotal};
use crate::core::sessions::{self, EndReason, Session, Terms};
use crate::core::time::{day_start, local_day};
use crate::core::vouchers::{self, Voucher, VoucherState};
use crate::store::{Device, Durability, Event, StoreError};

/// Payments read at most for one of the owner's views (a busy hotspot sells a few hundred a
/// day).
pub(crate) const MAX_PAYMENTS: usize = 50_000;

/// Where the owner's password hash lives in the store's `secrets` table.
const OWNER_PASSWORD: &str = "owner_password";
/// Where the one-time setup code lives until an owner password is set (issue 13: claiming a
/// fresh install needs proof of ownership). In the store, so that it survives a restart.
const SETUP_CODE: &str = "setup_code";

/// How a first-run claim of the owner page came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstRun {
    /// The password is set and the setup code is spent.
    Set,
    /// An owner password exists already.
    AlreadySet,
    /// The setup code does not match (or none was ever made).
    WrongCode,
}

/// A fresh setup code: the voucher alphabet (no 0/O, 1/I/L), 10 symbols, about 49 bits.
fn new_setup_code() -> Result<String, StoreError> {
    loop {
        let random = crate::core::token::random_bytes::<32>().map_err(StoreError::from)?;
        if let Some(code) = vouchers::code_from_random(&random) {
            return Ok(code);
        }
    }
}

/// Stores an owner password hash straight into a store (`lango passwd`, with lango stopped).
pub(crate) fn store_owner_password(
    store: &crate::store::Store,
    hash: &str,
    now: i64,
    why: &str,
) -> Result<(), StoreError> {
    store.write(Durability::Durable, |w| {
        w.set_secret(OWNER_PASSWORD, hash)?;
        w.remove_secret(SETUP_CODE)?;
        w.push_event(&Event::new(now, "owner_password", None, why.to_string()))
    })
}

/// The setup code of a store with no owner password, made if missing (`lango passwd --code`,
/// with lango stopped). `None` once a password is set.
pub(crate) fn store_setup_code(store: &crate::store::Store) -> Result<Option<String>, StoreError> {
    let (hash, code) = store.read(|r| Ok((r.secret(OWNER_PASSWORD)?, r.secret(SETUP_CODE)?)))?;
    if hash.is_some() {
        return Ok(None);
    }
    if code.is_some() {
        return Ok(code);
    }
    let fresh = new_setup_code()?;
    store.write(Durability::Durable, |w| {
        if w.secret(OWNER_PASSWORD)?.is_some() {
            return Ok(None);
        }
        match w.secret(SETUP_CODE)? {
            Some(code) => Ok(Some(code)),
            None => {
                w.set_secret(SETUP_CODE, &fresh)?;
                Ok(Some(fresh))
            }
        }
    })
}

impl App {
    /// The owner's password hash; `None` until one is set (first run, or `lango passwd`).
    pub fn owner_password_hash(&self) -> Result<Option<String>, StoreError> {
        self.store.read(|r| r.secret(OWNER_PASSWORD))
    }

    /// Stores a new owner password hash (made by `auth::hash_password`).
    pub fn set_owner_password_hash(&self, hash: &str, why: &str) -> Result<(), StoreError> {
        store_owner_password(&self.store, hash, self.time().now, why)
    }

    /// The one-time setup code the first-run form asks for, made (one durable write) the first
    /// time it is asked for; `None` once an owner password is set. Shown by `logread` (lango
    /// logs it at start), `ubus call lango setup_code` and `lango passwd --code`.
    pub fn setup_code(&self) -> Result<Option<String>, StoreError> {
        store_setup_code(&self.store)
    }

    /// Whether `typed` is the setup code (any case, spaces and dashes ignored; constant time).
    /// Reads only: a wrong guess writes nothing.
    pub(crate) fn setup_code_matches(&self, typed: &str) -> Result<bool, StoreError> {
        let known = self.store.read(|r| r.secret(SETUP_CODE))?;
        let typed = vouchers::normalise(typed);
        Ok(known.is_some_and(|code| crate::core::token::same(typed.as_bytes(), code.as_bytes())))
    }

    /// First run: sets the owner password if none is set and `typed` is the setup code, and
    /// spends the code, in one durable write.
    pub fn claim_owner(&self, typed: &str, hash: &str, why: &str) -> Result<FirstRun, StoreError> {
        let now = self.time().now;
        let typed = vouchers::normalise(typed);
        self.store.write(Durability::Durable, |w| {
            if w.secret(OWNER_PASSWORD)?.is_some() {
                return Ok(FirstRun::AlreadySet);
            }
            let known = w.secret(SETUP_CODE)?;
            if !known.is_some_and(|c| crate::core::token::same(typed.as_bytes(), c.as_bytes())) {
                return Ok(FirstRun::WrongCode);
            }
            w.set_secret(OWNER_PASSWORD, hash)?;
            w.remove_secret(SETUP_CODE)?;
            w.push_event(&Event::new(now, "owner_password", None, why.to_string()))?;
            Ok(FirstRun::Set)
        })
    }

    /// A time as the owner reads it everywhere (events, pages): in their time zone
    /// (`utc_offset`), to the minute, never UTC.
    pub(crate) fn owner_time(&self, ts: crate::core::time::Timestamp) -> String {
        crate::core::time::local_minute(ts, self.config().gateway.utc_offset_secs)
    }

    /// An amount with the shop's currency (`KES 20`), as the owner reads it.
    pub(crate) fn owner_money(&self, amount: crate::core::model::Money) -> String {
        format!("{} {amount}", self.config().gateway.currency)
    }

    /// Records a sign-in or a lock-out in the event log. Lazy: losing one in a power cut is
    /// harmless, and a guesser must not be able to make lango write flash at will (lock-outs
    /// are rare by construction; failed attempts go to syslog only).
    pub(crate) fn owner_event(&self, kind: &str, detail: String) {
        let now = self.time().now;
        if let Err(e) = self.store.write(Durability::Lazy, |w| {
            w.push_event(&Event::new(now, kind, None, detail))
        }) {
            log::error!("event log: {e}");
        }
    }

    /// Owner: blocks a device (it can no longer buy, redeem or sign in; its running session is
    /// ended) or unblocks it.
    pub fn set_blocked(&self, mac: Mac, blocked: bool) -> Result<(), StoreError> {
        let now = self.time().now;
        let active = self.store.write(Durability::Durable, |w| {
            let device = match w.device(mac)? {
                Some(mut d) => {
                    d.blocked = blocked;
                    d
                }
                None => Device {
                    mac,
                    first_seen: now,
                    last_ip: None,
                    blocked,
                },
            };
            w.put_device(&device)?;
            let kind = if blocked {
                "device_blocked"
            } else {
                "device_unblocked"
            };
            w.push_event(&Event::new(
                now,
                kind,
                Some(mac),
                format!("{kind} by the owner"),
            ))?;
            Ok(w.active_session(mac)?.map(|s| s.id))
        })?;
        if let (true, Some(id)) = (blocked, active) {
            // This device only: the other devices of its purchase keep their time.
            self.end_purchase(id, false, "the owner")?;
        }
        self.mark_dirty();
        Ok(())
    }

    /// Owner: money in per local day for the last `n_days` days, today last, counted as the
    /// dashboard counts it (paid prompts and approved SMS; `report::daily_totals`).
    pub(crate) fn daily_takings(&self, n_days: i64) -> Result<Vec<DayTotal>, StoreError> {
        let offset = self.config().gateway.utc_offset_secs;
        let today = local_day(self.time().now, offset);
        let first = today - (n_days - 1);
        // A day earlier: payments_since goes by creation, and one made before midnight may be
        // paid after it.
        let since = day_start(first, offset) - 86_400;
        let (payments, claims) = self
            .store
            .read(|r| Ok((r.payments_since(since, MAX_PAYMENTS)?, r.sms_claims(500)?)))?;
        Ok(report::daily_totals(
            &payments, &claims, offset, first, today,
        ))
    }

    /// Owner: every blocked device.
    pub(crate) fn blocked_devices(&self) -> Result<Vec<Device>, StoreError> {
        self.store.read(|r| r.blocked_devices())
    }

    /// Owner: an unused voucher can no longer be redeemed. False if it is unknown or was
    /// already used or revoked.
    pub(crate) fn revoke_voucher(&self, code: &str) -> Result<bool, StoreError> {
        let now = self.time().now;
        self.store.write(Durability::Durable, |w| {
            let Some(mut voucher) = w.voucher(code)? else {
                return Ok(false);
            };
            if voucher.state != VoucherState::Unused {
                return Ok(false);
            }
            voucher.state = VoucherState::Revoked { at: now };
            w.put_voucher(&voucher)?;
            w.push_event(&Event::new(
                now,
                "voucher_revoked",
                None,
                format!("voucher {code} revoked by the owner"),
            ))?;
            Ok(true)
        })
    }
}

/// Why an owner operation was refused. The app owns the limits (`vouchers::MAX_BATCH`,
/// `vouchers::MAX_VALID_DAYS`, `sessions::MAX_EXTEND_MINUTES`): front ends pass the owner's
/// numbers through and show this text.
#[derive(Debug)]
pub enum OwnerError {
    /// A number outside what lango allows; the text says the range.
    OutOfRange(String),
    Store(StoreError),
}

impl std::fmt::Display for OwnerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OwnerError::OutOfRange(text) => f.write_str(text),
            OwnerError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl From<StoreError> for OwnerError {
    fn from(e: StoreError) -> Self {
        OwnerError::Store(e)
    }
}

impl App {
    /// Owner: makes `count` vouchers for a package, each code `prefix` (checked by
    /// `vouchers::normalise_prefix`; may be empty) followed by the random part. `count` is 1 to
    /// `vouchers::MAX_BATCH`, `valid_days` (None: no expiry) 1 to `vouchers::MAX_VALID_DAYS`.
    /// None if there is no such package.
    pub fn generate_vouchers(
        &self,
        package_id: &str,
        count: usize,
        prefix: &str,
        valid_days: Option<u64>,
    ) -> Result<Option<Vec<Voucher>>, OwnerError> {
        if !(1..=vouchers::MAX_BATCH).contains(&count) {
            return Err(OwnerError::OutOfRange(format!(
                "give a count from 1 to {}",
                vouchers::MAX_BATCH
            )));
        }
        if valid_days.is_some_and(|d| !(1..=vouchers::MAX_VALID_DAYS).contains(&d)) {
            return Err(OwnerError::OutOfRange(format!(
                "give a validity from 1 to {} days (or none)",
                vouchers::MAX_VALID_DAYS
            )));
        }
        let config = self.config();
        let Some(package) = config.package(package_id) else {
            return Ok(None);
        };
        // New vouchers are new sales: refused below the flash's headroom (`room_for_sales`).
        if !self.room_for_sales() {
            return Err(OwnerError::Store(StoreError::Full));
        }
        let now = self.time().now;
        let batch = crate::core::token::random_token().map_err(StoreError::from)?[..8].to_string();
        let terms = Terms::of(package);
        let vouchers = self.store.write(Durability::Durable, |w| {
            let mut out = Vec::with_capacity(count);
            while out.len() < count {
                let random = crate::core::token::random_bytes::<32>()?;
                let Some(code) = vouchers::code_from_random(&random) else {
                    continue;
                };
                let code = format!("{prefix}{code}");
                if w.voucher(&code)?.is_some() {
                    continue;
                }
                let voucher = Voucher {
                    code,
                    terms: terms.clone(),
                    created_at: now,
                    valid_until: valid_days.map(|d| now + d as i64 * 86_400),
                    batch: batch.clone(),
                    state: VoucherState::Unused,
                };
                w.put_voucher(&voucher)?;
                out.push(voucher);
            }
            w.push_event(&Event::new(
                now,
                "vouchers_generated",
                None,
                format!(
                    "{count} vouchers for {} (batch {batch})",
                    terms.package_name
                ),
            ))?;
            Ok(out)
        })?;
        Ok(Some(vouchers))
    }

    /// Owner: ends a session now, on every device of its purchase (a package for several
    /// devices: `Session::joined`, `Session::members`).
    pub fn revoke_session(&self, id: u64) -> Result<bool, StoreError> {
        self.end_purchase(id, true, "the owner")
    }

    /// Ends session `id` (with `whole`, every running session of its purchase too); `by` says
    /// who in the event.
    pub(crate) fn end_purchase(&self, id: u64, whole: bool, by: &str) -> Result<bool, StoreError> {
        let now = self.time().now;
        // An accounted session's Stop carries its counters read from the kernel now.
        #[cfg(feature = "radius")]
        let usage = {
            let mut usage = self.work().usage.clone();
            if self.is_accounted(id) {
                if let Some(session) = self.store.read(|r| r.session(id))? {
                    let fresh = self.with_fresh_usage(session);
                    usage.insert(id, (fresh.bytes_up, fresh.bytes_down));
                }
            }
            usage
        };
        let ended = self.store.write(Durability::Durable, |w| {
            let Some(session) = w.session(id)? else {
                return Ok(Vec::new());
            };
            let mut all = vec![session];
            if whole {
                all = purchase_of(w, all.remove(0))?;
            }
            let mut ended = Vec::new();
            for session in all.iter().filter(|s| s.is_active()) {
                let gone = sessions::end(session, EndReason::Revoked, now);
                w.put_session(&gone)?;
                #[cfg(feature = "radius")]
                {
                    let mut counted = gone;
                    if let Some((up, down)) = usage.get(&counted.id) {
                        counted.bytes_up = counted.bytes_up.max(*up);
                        counted.bytes_down = counted.bytes_down.max(*down);
                    }
                    self.acct_stop_in(w, &counted, EndReason::Revoked, now)?;
                }
                w.push_event(&Event::new(
                    now,
                    "session_revoked",
                    Some(session.mac),
                    format!("session {} revoked by {by}", session.id),
                ))?;
                ended.push(session.id);
            }
            Ok(ended)
        })?;
        if !ended.is_empty() {
            self.mark_dirty();
        }
        for id in &ended {
            self.emit_session(*id, false);
        }
        Ok(!ended.is_empty())
    }

    /// Owner: lengthens a running session by `minutes` (1 to `sessions::MAX_EXTEND_MINUTES`;
    /// the firewall is reconciled with the new deadline). None if there is no active session
    /// with this id.
    pub fn extend_session(&self, id: u64, minutes: u64) -> Result<Option<Session>, OwnerError> {
        if !(1..=sessions::MAX_EXTEND_MINUTES).contains(&minutes) {
            return Err(OwnerError::OutOfRange(format!(
                "extend by 1 to {} minutes (a year)",
                sessions::MAX_EXTEND_MINUTES
            )));
        }
        let secs = minutes * 60;
        let now = self.time().now;
        let extended = self.store.write(Durability::Durable, |w| {
            let Some(session) = w.session(id)? else {
                return Ok(None);
            };
            if !session.is_active() {
                return Ok(None);
            }
            // The purchase's first session is extended; the other devices follow it.
            let first = purchase_of(w, session.clone())?.remove(0);
            let extended = sessions::extend(&first, secs);
            w.put_session(&extended)?;
            for member in crate::app::group_members(w, &extended)? {
                w.put_session(&sessions::follow(&member, &extended))?;
            }
            let extended = match extended.id == id {
                true => extended,
                false => sessions::follow(&session, &extended),
            };
            w.push_event(&Event::new(
                now,
                "session_extended",
                Some(session.mac),
                format!("session {id} extended by {secs} s by the owner"),
            ))?;
            Ok(Some(extended))
        })?;
        if extended.is_some() {
            self.mark_dirty();
        }
        Ok(extended)
    }

    // ---- background work ----
}

/// The sessions of `session`'s purchase: its first session, then the devices that joined it.
pub(crate) fn purchase_of(
    w: &crate::store::Writer,
    session: Session,
) -> Result<Vec<Session>, StoreError> {
    let first = match session.joined {
        Some(first) => w.session(first)?.unwrap_or(session),
        None => session,
    };
    let members = crate::app::group_members(w, &first)?;
    Ok(std::iter::once(first).chain(members).collect())
}
