//! The typed reads (`Reader`) and writes (`Writer`) over one redb transaction: every record
//! kind and index of the store, encoded as JSON.

use std::cell::Cell;

use super::*;

pub struct Reader {
    pub(super) txn: ReadTransaction,
    /// Sessions decoded in this transaction (`Store::sessions_decoded`).
    pub(super) decoded: Cell<u64>,
}

pub struct Writer {
    pub(super) txn: WriteTransaction,
    pub(super) decoded: Cell<u64>,
    /// What this transaction did to the active sessions and blocked devices, for the store's
    /// in-memory `Active` once it commits.
    pub(super) changes: Vec<Change>,
    /// Set by `discard`: the transaction is aborted instead of committed.
    pub(super) discard: bool,
}

/// From this many active sessions on, the read at open decodes on two threads.
const DECODE_TWO_FROM: usize = 512;

impl Reader {
    /// Every active session, for the in-memory index at open (`Store::init`). Decoding their
    /// JSON is most of a start's time before the firewall is restored (about 0.1 s for 10,000
    /// on x86_64), so where there are two cores the second half is decoded on another
    /// thread; on MIPS, whose 24Kc routers have one core, one after the other.
    pub(super) fn active_sessions_at_open(
        &self,
        hint: &dyn Fn(usize),
    ) -> Result<Vec<Session>, StoreError> {
        let mut ids = Vec::new();
        for row in self.txn.open_table(ACTIVE)?.iter()? {
            ids.push(from_le(row?.1.value())?);
        }
        hint(ids.len());
        let sessions = self.txn.open_table(SESSIONS)?;
        let read = |ids: &[u64]| -> Result<Vec<Session>, StoreError> {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(v) = sessions.get(*id)? {
                    out.push(decode("session", v.value())?);
                }
            }
            Ok(out)
        };
        let out = if ids.len() >= DECODE_TWO_FROM && cfg!(not(target_arch = "mips")) {
            let (first, second) = ids.split_at(ids.len() / 2);
            let (a, b) = std::thread::scope(|s| {
                let other = std::thread::Builder::new()
                    .name("store-open".into())
                    .spawn_scoped(s, || read(second));
                let a = read(first);
                let b = match other {
                    Ok(handle) => handle.join().unwrap_or_else(|_| {
                        Err(StoreError::Record(
                            "decoding the active sessions failed".into(),
                        ))
                    }),
                    Err(_) => read(second),
                };
                (a, b)
            });
            let (mut out, b) = (a?, b?);
            out.reserve_exact(b.len());
            out.extend(b);
            out
        } else {
            read(&ids)?
        };
        self.decoded.set(self.decoded.get() + out.len() as u64);
        Ok(out)
    }
}

/// One change the in-memory `Active` follows after a commit.
pub(super) enum Change {
    Session(Box<Session>),
    Blocked(Mac, bool),
}

impl Writer {
    pub(super) fn new(txn: WriteTransaction) -> Writer {
        Writer {
            txn,
            decoded: Cell::new(0),
            changes: Vec::new(),
            discard: false,
        }
    }
}

/// The typed getters, written once for both transaction kinds: redb's read-only and writable
/// tables share the `ReadableTable` trait but not a type.
macro_rules! getters {
    ($ty:ty) => {
        impl $ty {
            pub fn meta(&self, key: &str) -> Result<Option<u64>, StoreError> {
                self.txn
                    .open_table(META)?
                    .get(key)?
                    .map(|v| from_le(v.value()))
                    .transpose()
            }

            pub fn session(&self, id: u64) -> Result<Option<Session>, StoreError> {
                match self.txn.open_table(SESSIONS)?.get(id)? {
                    Some(v) => {
                        self.decoded.set(self.decoded.get() + 1);
                        decode("session", v.value()).map(Some)
                    }
                    None => Ok(None),
                }
            }

            pub fn active_session(&self, mac: Mac) -> Result<Option<Session>, StoreError> {
                let id = self
                    .txn
                    .open_table(ACTIVE)?
                    .get(mac.to_string().as_str())?
                    .map(|v| from_le(v.value()))
                    .transpose()?;
                match id {
                    Some(id) => self.session(id),
                    None => Ok(None),
                }
            }

            pub fn latest_session(&self, mac: Mac) -> Result<Option<Session>, StoreError> {
                let id = self
                    .txn
                    .open_table(LATEST)?
                    .get(mac.to_string().as_str())?
                    .map(|v| from_le(v.value()))
                    .transpose()?;
                // A session moved to another MAC stays in this index under the old one: it is
                // no longer this MAC's.
                match id {
                    Some(id) => Ok(self.session(id)?.filter(|s| s.mac == mac)),
                    None => Ok(None),
                }
            }

            /// Every active session.
            pub fn active_sessions(&self) -> Result<Vec<Session>, StoreError> {
                let mut ids = Vec::new();
                for row in self.txn.open_table(ACTIVE)?.iter()? {
                    ids.push(from_le(row?.1.value())?);
                }
                // The sessions table opened once for all of them, not once per session.
                let sessions = self.txn.open_table(SESSIONS)?;
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(v) = sessions.get(id)? {
                        self.decoded.set(self.decoded.get() + 1);
                        out.push(decode("session", v.value())?);
                    }
                }
                Ok(out)
            }

            /// The most recent sessions, newest first.
            pub fn recent_sessions(&self, limit: usize) -> Result<Vec<Session>, StoreError> {
                let table = self.txn.open_table(SESSIONS)?;
                let mut out = Vec::new();
                for row in table.iter()?.rev().take(limit) {
                    out.push(decode("session", row?.1.value())?);
                }
                Ok(out)
            }

            pub fn payment(&self, id: u64) -> Result<Option<Payment>, StoreError> {
                match self.txn.open_table(PAYMENTS)?.get(id)? {
                    Some(v) => decode("payment", v.value()).map(Some),
                    None => Ok(None),
                }
            }

            pub fn payment_by_token(&self, token: &str) -> Result<Option<Payment>, StoreError> {
                match self
                    .txn
                    .open_table(PAYMENT_TOKENS)?
                    .get(token)?
                    .map(|v| from_le(v.value()))
                    .transpose()?
                {
                    Some(id) => self.payment(id),
                    None => Ok(None),
                }
            }

            /// The payment whose token starts with `prefix` (a move code; the caller checks its
            /// length, an empty prefix would name the first payment).
            pub fn payment_by_token_prefix(
                &self,
                prefix: &str,
            ) -> Result<Option<Payment>, StoreError> {
                let table = self.txn.open_table(PAYMENT_TOKENS)?;
                let first = table.range(prefix..)?.next().transpose()?;
                match first {
                    Some((token, id)) if token.value().starts_with(prefix) => {
                        self.payment(from_le(id.value())?)
                    }
                    _ => Ok(None),
                }
            }

            pub fn payment_by_checkout(
                &self,
                checkout: &str,
            ) -> Result<Option<Payment>, StoreError> {
                match self
                    .txn
                    .open_table(CHECKOUTS)?
                    .get(checkout)?
                    .map(|v| from_le(v.value()))
                    .transpose()?
                {
                    Some(id) => self.payment(id),
                    None => Ok(None),
                }
            }

            /// The payment a receipt was credited to, if any.
            pub fn receipt_owner(&self, receipt: &str) -> Result<Option<u64>, StoreError> {
                self.txn
                    .open_table(RECEIPTS)?
                    .get(receipt)?
                    .map(|v| from_le(v.value()))
                    .transpose()
            }

            /// Payments still Initiating or Pending.
            pub fn open_payments(&self) -> Result<Vec<Payment>, StoreError> {
                let ids: Vec<u64> = self
                    .txn
                    .open_table(OPEN_PAYMENTS)?
                    .iter()?
                    .map(|r| r.map(|(k, _)| k.value()))
                    .collect::<Result<_, _>>()?;
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(p) = self.payment(id)? {
                        out.push(p);
                    }
                }
                Ok(out)
            }

            /// The open payment of a device, if it has one.
            pub fn open_payment_for(&self, mac: Mac) -> Result<Option<Payment>, StoreError> {
                let key = mac.to_string();
                let table = self.txn.open_table(OPEN_PAYMENTS)?;
                for row in table.iter()? {
                    let (id, owner) = row?;
                    if owner.value() == key.as_bytes() {
                        return self.payment(id.value());
                    }
                }
                Ok(None)
            }

            /// The most recent payments, newest first.
            pub fn recent_payments(&self, limit: usize) -> Result<Vec<Payment>, StoreError> {
                let table = self.txn.open_table(PAYMENTS)?;
                let mut out = Vec::new();
                for row in table.iter()?.rev().take(limit) {
                    out.push(decode("payment", row?.1.value())?);
                }
                Ok(out)
            }

            pub fn voucher(&self, code: &str) -> Result<Option<Voucher>, StoreError> {
                match self.txn.open_table(VOUCHERS)?.get(code)? {
                    Some(v) => decode("voucher", v.value()).map(Some),
                    None => Ok(None),
                }
            }

            pub fn vouchers(&self) -> Result<Vec<Voucher>, StoreError> {
                let table = self.txn.open_table(VOUCHERS)?;
                let mut out = Vec::new();
                for row in table.iter()? {
                    out.push(decode("voucher", row?.1.value())?);
                }
                Ok(out)
            }

            pub fn device(&self, mac: Mac) -> Result<Option<Device>, StoreError> {
                match self
                    .txn
                    .open_table(DEVICES)?
                    .get(mac.to_string().as_str())?
                {
                    Some(v) => decode("device", v.value()).map(Some),
                    None => Ok(None),
                }
            }

            /// The most recent events, newest first.
            pub fn recent_events(&self, limit: usize) -> Result<Vec<Event>, StoreError> {
                let table = self.txn.open_table(EVENTS)?;
                let mut out = Vec::new();
                for row in table.iter()?.rev().take(limit) {
                    out.push(decode("event", row?.1.value())?);
                }
                Ok(out)
            }

            /// Payments created at or after `since`, newest first, at most `limit` of them: full
            /// records and archived ones (`store::archive`) alike.
            pub fn payments_since(
                &self,
                since: Timestamp,
                limit: usize,
            ) -> Result<Vec<Payment>, StoreError> {
                let table = self.txn.open_table(PAYMENTS)?;
                let mut out = Vec::new();
                for row in table.iter()?.rev().take(limit) {
                    let payment: Payment = decode("payment", row?.1.value())?;
                    if payment.created_at < since {
                        break;
                    }
                    out.push(payment);
                }
                out.extend(self.archived_since(since)?);
                out.sort_by_key(|p| std::cmp::Reverse(p.created_at));
                out.truncate(limit);
                Ok(out)
            }

            pub fn sms_claim(&self, id: u64) -> Result<Option<SmsClaim>, StoreError> {
                match self.txn.open_table(SMS_CLAIMS)?.get(id)? {
                    Some(v) => decode("sms claim", v.value()).map(Some),
                    None => Ok(None),
                }
            }

            pub fn sms_claim_by_receipt(
                &self,
                receipt: &str,
            ) -> Result<Option<SmsClaim>, StoreError> {
                let id = self
                    .txn
                    .open_table(CLAIM_BY_RECEIPT)?
                    .get(receipt)?
                    .map(|v| from_le(v.value()))
                    .transpose()?;
                match id {
                    Some(id) => self.sms_claim(id),
                    None => Ok(None),
                }
            }

            /// The most recent SMS claims, newest first.
            pub fn sms_claims(&self, limit: usize) -> Result<Vec<SmsClaim>, StoreError> {
                let table = self.txn.open_table(SMS_CLAIMS)?;
                let mut out = Vec::new();
                for row in table.iter()?.rev().take(limit) {
                    out.push(decode("sms claim", row?.1.value())?);
                }
                Ok(out)
            }

            pub fn secret(&self, name: &str) -> Result<Option<String>, StoreError> {
                Ok(self
                    .txn
                    .open_table(SECRETS)?
                    .get(name)?
                    .map(|v| String::from_utf8_lossy(v.value()).into_owned()))
            }

            /// The first of `keys` a trial already left (`core::trial::keys`), and how many
            /// keys start with `count_prefix` (the day's trials).
            pub fn trial_marks(
                &self,
                keys: &[String],
                count_prefix: &str,
            ) -> Result<(Option<String>, u64), StoreError> {
                let table = self.txn.open_table(TRIALS)?;
                let mut taken = None;
                for key in keys {
                    if taken.is_none() && table.get(key.as_str())?.is_some() {
                        taken = Some(key.clone());
                    }
                }
                let mut n = 0;
                for row in table.range(count_prefix..)? {
                    if !row?.0.value().starts_with(count_prefix) {
                        break;
                    }
                    n += 1;
                }
                Ok((taken, n))
            }

            pub fn counters(&self) -> Result<Vec<(String, u64)>, StoreError> {
                let table = self.txn.open_table(COUNTERS)?;
                let mut out = Vec::new();
                for row in table.iter()? {
                    let (k, v) = row?;
                    out.push((k.value().to_string(), from_le(v.value())?));
                }
                Ok(out)
            }
        }
    };
}

getters!(Reader);
getters!(Writer);

impl Writer {
    /// Nothing in this transaction needs keeping: it is aborted, not committed (no flash write).
    pub fn discard(&mut self) {
        self.discard = true;
    }

    pub fn set_meta(&mut self, key: &str, value: u64) -> Result<(), StoreError> {
        self.txn
            .open_table(META)?
            .insert(key, le(value).as_slice())?;
        Ok(())
    }

    /// A fresh id, unique across sessions, payments and events of this store.
    pub fn next_id(&mut self) -> Result<u64, StoreError> {
        let id = self.meta("next_id")?.unwrap_or(1);
        self.set_meta("next_id", id + 1)?;
        Ok(id)
    }

    /// Inserts or replaces a session and keeps the MAC indexes exact.
    pub fn put_session(&mut self, session: &Session) -> Result<(), StoreError> {
        let key = session.mac.to_string();
        self.txn
            .open_table(SESSIONS)?
            .insert(session.id, encode(session)?.as_slice())?;
        let mut active = self.txn.open_table(ACTIVE)?;
        if session.is_active() {
            active.insert(key.as_str(), le(session.id).as_slice())?;
        } else if active
            .get(key.as_str())?
            .map(|v| from_le(v.value()))
            .transpose()?
            == Some(session.id)
        {
            active.remove(key.as_str())?;
        }
        drop(active);
        let mut latest = self.txn.open_table(LATEST)?;
        let newer = latest
            .get(key.as_str())?
            .map(|v| from_le(v.value()))
            .transpose()?
            .is_none_or(|id| id <= session.id);
        if newer {
            latest.insert(key.as_str(), le(session.id).as_slice())?;
        }
        self.changes
            .push(Change::Session(Box::new(session.clone())));
        Ok(())
    }

    /// Moves an active session to another MAC: its record, and both MACs' indexes.
    pub fn move_session(&mut self, session: &Session, old_mac: Mac) -> Result<(), StoreError> {
        let old_key = old_mac.to_string();
        let mut active = self.txn.open_table(ACTIVE)?;
        if active
            .get(old_key.as_str())?
            .map(|v| from_le(v.value()))
            .transpose()?
            == Some(session.id)
        {
            active.remove(old_key.as_str())?;
        }
        drop(active);
        self.put_session(session)
    }

    /// Inserts or replaces a payment and keeps the token, checkout and open indexes exact.
    /// Refuses a checkout id that already names another payment.
    pub(crate) fn put_payment(&mut self, payment: &Payment) -> Result<(), StoreError> {
        self.txn
            .open_table(PAYMENTS)?
            .insert(payment.id, encode(payment)?.as_slice())?;
        self.txn
            .open_table(PAYMENT_TOKENS)?
            .insert(payment.token.as_str(), le(payment.id).as_slice())?;
        if let Some(checkout) = &payment.checkout_id {
            let mut checkouts = self.txn.open_table(CHECKOUTS)?;
            let owner = checkouts
                .get(checkout.as_str())?
                .map(|v| from_le(v.value()))
                .transpose()?;
            match owner {
                Some(id) if id != payment.id => {
                    return Err(StoreError::Record(format!(
                        "checkout {checkout} already belongs to payment {id}"
                    )))
                }
                Some(_) => {}
                None => {
                    checkouts.insert(checkout.as_str(), le(payment.id).as_slice())?;
                }
            }
        }
        let mut open = self.txn.open_table(OPEN_PAYMENTS)?;
        if payment.state.is_open() {
            open.insert(payment.id, payment.mac.to_string().as_bytes())?;
        } else {
            open.remove(payment.id)?;
        }
        Ok(())
    }

    /// Records that `receipt` was credited to `payment_id`. Returns false (and writes nothing)
    /// if it already belongs to another payment.
    pub fn claim_receipt(&mut self, receipt: &str, payment_id: u64) -> Result<bool, StoreError> {
        let mut receipts = self.txn.open_table(RECEIPTS)?;
        let owner = receipts
            .get(receipt)?
            .map(|v| from_le(v.value()))
            .transpose()?;
        match owner {
            Some(id) => Ok(id == payment_id),
            None => {
                receipts.insert(receipt, le(payment_id).as_slice())?;
                Ok(true)
            }
        }
    }

    pub(crate) fn put_voucher(&mut self, voucher: &Voucher) -> Result<(), StoreError> {
        self.txn
            .open_table(VOUCHERS)?
            .insert(voucher.code.as_str(), encode(voucher)?.as_slice())?;
        Ok(())
    }

    pub fn put_device(&mut self, device: &Device) -> Result<(), StoreError> {
        let key = device.mac.to_string();
        self.txn
            .open_table(DEVICES)?
            .insert(key.as_str(), encode(device)?.as_slice())?;
        self.changes
            .push(Change::Blocked(device.mac, device.blocked));
        Ok(())
    }

    /// Appends to the event log, pruning the oldest entries beyond `MAX_EVENTS`.
    pub(crate) fn push_event(&mut self, event: &Event) -> Result<(), StoreError> {
        let seq = self.meta("event_seq")?.unwrap_or(0) + 1;
        self.set_meta("event_seq", seq)?;
        let mut events = self.txn.open_table(EVENTS)?;
        events.insert(seq, encode(event)?.as_slice())?;
        if seq > MAX_EVENTS {
            events.remove(seq - MAX_EVENTS)?;
        }
        Ok(())
    }

    /// Inserts or replaces an SMS claim. Refuses a receipt that another claim already has.
    pub(crate) fn put_sms_claim(&mut self, claim: &SmsClaim) -> Result<(), StoreError> {
        let mut index = self.txn.open_table(CLAIM_BY_RECEIPT)?;
        let owner = index
            .get(claim.receipt.as_str())?
            .map(|v| from_le(v.value()))
            .transpose()?;
        match owner {
            Some(id) if id != claim.id => {
                return Err(StoreError::Record(format!(
                    "receipt {} is already claimed by SMS claim {id}",
                    claim.receipt
                )))
            }
            Some(_) => {}
            None => {
                index.insert(claim.receipt.as_str(), le(claim.id).as_slice())?;
            }
        }
        drop(index);
        self.txn
            .open_table(SMS_CLAIMS)?
            .insert(claim.id, encode(claim)?.as_slice())?;
        Ok(())
    }

    pub(crate) fn set_secret(&mut self, name: &str, value: &str) -> Result<(), StoreError> {
        self.txn
            .open_table(SECRETS)?
            .insert(name, value.as_bytes())?;
        Ok(())
    }

    pub(crate) fn remove_secret(&mut self, name: &str) -> Result<(), StoreError> {
        self.txn.open_table(SECRETS)?.remove(name)?;
        Ok(())
    }

    /// Remembers a trial's marks for its day.
    pub(crate) fn put_trial_marks(
        &mut self,
        keys: &[String],
        session: u64,
    ) -> Result<(), StoreError> {
        let mut table = self.txn.open_table(TRIALS)?;
        for key in keys {
            table.insert(key.as_str(), le(session).as_slice())?;
        }
        Ok(())
    }

    /// Forgets the trial marks of the days before the one `keep_prefix` starts; how many went.
    pub fn forget_trials_before(&mut self, keep_prefix: &str) -> Result<usize, StoreError> {
        let mut table = self.txn.open_table(TRIALS)?;
        // A range from the start, the kind `trial_marks` and `payment_by_token_prefix` use:
        // another kind of range would be another copy of redb's range code.
        let mut old = Vec::new();
        for row in table.range(""..)? {
            let key = row?.0.value().to_string();
            if key.as_str() >= keep_prefix {
                break;
            }
            old.push(key);
        }
        for key in &old {
            table.remove(key.as_str())?;
        }
        Ok(old.len())
    }

    pub(crate) fn add_counter(&mut self, name: &str, delta: u64) -> Result<(), StoreError> {
        let mut table = self.txn.open_table(COUNTERS)?;
        let old = table
            .get(name)?
            .map(|v| from_le(v.value()))
            .transpose()?
            .unwrap_or(0);
        table.insert(name, le(old.saturating_add(delta)).as_slice())?;
        Ok(())
    }
}
