//! What the owner does to the running shop besides kicking and extending sessions (`app.rs`):
//! the owner's password, blocking a device, revoking a voucher. Each change is one durable
//! write with an event, and the firewall follows through `mark_dirty`.

use crate::app::App;
use crate::core::model::Mac;
use crate::core::vouchers::VoucherState;
use crate::store::{Device, Durability, Event, StoreError};

/// Where the owner's password hash lives in the store's `secrets` table.
const OWNER_PASSWORD: &str = "owner_password";

/// Stores an owner password hash straight into a store (`lango passwd`, with lango stopped).
pub fn store_owner_password(
    store: &crate::store::Store,
    hash: &str,
    now: i64,
    why: &str,
) -> Result<(), StoreError> {
    store.write(Durability::Durable, |w| {
        w.set_secret(OWNER_PASSWORD, hash)?;
        w.push_event(&owner_event(now, "owner_password", None, why.to_string()))
    })
}

impl App {
    /// The owner's password hash; `None` until one is set (first run, or `lango passwd`).
    pub fn owner_password_hash(&self) -> Result<Option<String>, StoreError> {
        self.store.read(|r| r.secret(OWNER_PASSWORD))
    }

    /// Stores a new owner password hash (made by `auth::hash_password`).
    pub fn set_owner_password_hash(&self, hash: &str, why: &str) -> Result<(), StoreError> {
        let now = self.time().now;
        self.store.write(Durability::Durable, |w| {
            w.set_secret(OWNER_PASSWORD, hash)?;
            w.push_event(&owner_event(now, "owner_password", None, why.to_string()))
        })
    }

    /// Records a sign-in or a lock-out in the event log. Lazy: losing one in a power cut is
    /// harmless, and a guesser must not be able to make lango write flash at will (lock-outs
    /// are rare by construction; failed attempts go to syslog only).
    pub fn owner_event(&self, kind: &str, detail: String) {
        let now = self.time().now;
        if let Err(e) = self.store.write(Durability::Lazy, |w| {
            w.push_event(&owner_event(now, kind, None, detail))
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
            w.push_event(&owner_event(
                now,
                kind,
                Some(mac),
                format!("{kind} by the owner"),
            ))?;
            Ok(w.active_session(mac)?.map(|s| s.id))
        })?;
        if let (true, Some(id)) = (blocked, active) {
            self.revoke_session(id)?;
        }
        self.mark_dirty();
        Ok(())
    }

    /// Owner: every blocked device.
    pub fn blocked_devices(&self) -> Result<Vec<Device>, StoreError> {
        self.store.read(|r| r.blocked_devices())
    }

    /// Owner: an unused voucher can no longer be redeemed. False if it is unknown or was
    /// already used or revoked.
    pub fn revoke_voucher(&self, code: &str) -> Result<bool, StoreError> {
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
            w.push_event(&owner_event(
                now,
                "voucher_revoked",
                None,
                format!("voucher {code} revoked by the owner"),
            ))?;
            Ok(true)
        })
    }
}

fn owner_event(at: i64, kind: &str, mac: Option<Mac>, detail: String) -> Event {
    Event {
        at,
        kind: kind.to_string(),
        mac,
        detail,
    }
}
