//! Guest accounts: user names and passwords the owner gives to regulars and staff. The rules
//! are pure (`check_login`, `terms_for`, `cap_deadline`); `App::login_account` checks the
//! password outside any transaction (it is slow on purpose) and then grants in one durable
//! write, like a voucher. A password is hashed at once and never stored, logged or shown.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::core::config::Package;
use crate::core::model::Money;
use crate::core::sessions::{self, Session, Source, Terms};
use crate::core::time::Timestamp;
use crate::store::{Durability, StoreError};

/// How long a sign-in lasts for an account without a package (staff): a day, then sign in again.
pub const DEFAULT_ACCOUNT_SECS: u64 = 86_400;
/// Devices at once, at most (the owner picks 1 to this).
pub const MAX_DEVICES: u32 = 20;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Lower case, see `normalise_username`.
    pub username: String,
    /// `auth::hash_password`'s output.
    pub password_hash: String,
    /// The package each sign-in grants (its time, data and speed); none means unlimited data and
    /// speed for `DEFAULT_ACCOUNT_SECS`. A package that is not on sale still works here.
    pub package_id: Option<String>,
    /// After this the account no longer signs in, and its sessions end by then.
    pub expires_at: Option<Timestamp>,
    /// Devices online at once.
    pub max_devices: u32,
    /// The owner's words ("Mary, kitchen").
    pub note: String,
    pub created_at: Timestamp,
    pub disabled: bool,
    #[serde(default)]
    pub last_login: Option<Timestamp>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("username", &self.username)
            .field("package_id", &self.package_id)
            .field("expires_at", &self.expires_at)
            .field("max_devices", &self.max_devices)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// Why a sign-in was refused. Guests see one message for the first two, so that trying names
/// teaches nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginRefusal {
    BadCredentials,
    Disabled,
    Expired,
    TooManyDevices {
        max: u32,
    },
    /// The account's package was deleted.
    NoPackage,
}

/// Why `App::login_account` did not grant.
#[derive(Debug)]
pub enum LoginError {
    UnknownDevice,
    Refused(LoginRefusal),
    /// The device already has time of its own running.
    AlreadyOnline,
    ClockUnsynced,
    Blocked,
    Store(StoreError),
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        LoginError::Store(e)
    }
}

/// Canonical user name: trimmed, lower case; `None` unless 1-32 of `a-z 0-9 . _ - @`.
pub fn normalise_username(typed: &str) -> Option<String> {
    let name = typed.trim().to_lowercase();
    let ok = (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-@".contains(&b));
    ok.then_some(name)
}

/// Pure: may this account sign in a device now? `devices_elsewhere` counts the account's active
/// sessions on other devices.
pub fn check_login(
    account: &Account,
    now: Timestamp,
    devices_elsewhere: u32,
) -> Result<(), LoginRefusal> {
    if account.disabled {
        return Err(LoginRefusal::Disabled);
    }
    if account.expires_at.is_some_and(|at| now >= at) {
        return Err(LoginRefusal::Expired);
    }
    if devices_elsewhere >= account.max_devices.max(1) {
        return Err(LoginRefusal::TooManyDevices {
            max: account.max_devices.max(1),
        });
    }
    Ok(())
}

/// Pure: the terms a sign-in grants, from the account's package (looked up by the caller).
pub fn terms_for(account: &Account, package: Option<&Package>) -> Result<Terms, LoginRefusal> {
    match (&account.package_id, package) {
        (Some(_), Some(p)) => Ok(Terms::of(p)),
        (Some(_), None) => Err(LoginRefusal::NoPackage),
        (None, _) => Ok(Terms {
            package_id: String::new(),
            package_name: format!("Account {}", account.username),
            price: Money(0),
            duration_secs: DEFAULT_ACCOUNT_SECS,
            quota_bytes: None,
            rate_down_kbit: None,
            rate_up_kbit: None,
        }),
    }
}

/// Pure: a session granted by an account never outlives the account.
pub fn cap_deadline(mut session: Session, account: &Account) -> Session {
    if let Some(at) = account.expires_at {
        session.deadline = session.deadline.min(at);
    }
    session
}

/// Whether a session was granted by this account.
pub fn granted_by(session: &Session, username: &str) -> bool {
    session
        .sources
        .iter()
        .any(|s| matches!(s, Source::Account(name) if name == username))
}

impl App {
    /// Signs the device at `ip` in with a guest account and grants its terms at once. The
    /// password is checked before the write transaction (a deliberately slow hash must not hold
    /// the store's writer); the transaction re-reads the account and refuses if it changed.
    pub fn login_account(
        &self,
        ip: IpAddr,
        typed_username: &str,
        password: &str,
    ) -> Result<Session, LoginError> {
        let ip = ip.to_canonical();
        let mac = self.identify(ip).ok_or(LoginError::UnknownDevice)?;
        let username = normalise_username(typed_username);
        let account = match &username {
            Some(name) => self.store.read(|r| r.account(name))?,
            None => None,
        };
        let Some(account) = account else {
            crate::core::auth::verify_nobody(password);
            return Err(LoginError::Refused(LoginRefusal::BadCredentials));
        };
        if !crate::core::auth::verify_password(&account.password_hash, password) {
            log::info!("account {}: wrong password from {mac}", account.username);
            return Err(LoginError::Refused(LoginRefusal::BadCredentials));
        }
        let time = self.time();
        if !time.trusted {
            return Err(LoginError::ClockUnsynced);
        }
        if self
            .store
            .read(|r| r.device(mac))?
            .is_some_and(|d| d.blocked)
        {
            return Err(LoginError::Blocked);
        }
        let now = time.now;
        let config = self.config();
        let package = account
            .package_id
            .as_deref()
            .and_then(|id| config.package(id));
        let terms = terms_for(&account, package).map_err(LoginError::Refused)?;
        let outcome = self.store.write(Durability::Durable, |w| {
            let Some(mut current) = w.account(&account.username)? else {
                return Ok(Err(LoginError::Refused(LoginRefusal::BadCredentials)));
            };
            if current.password_hash != account.password_hash {
                return Ok(Err(LoginError::Refused(LoginRefusal::BadCredentials)));
            }
            let existing = w.active_session(mac)?;
            if let Some(session) = existing.filter(|s| s.is_active()) {
                return Ok(match granted_by(&session, &current.username) {
                    true => Ok(session),
                    false => Err(LoginError::AlreadyOnline),
                });
            }
            let elsewhere = w
                .active_sessions()?
                .iter()
                .filter(|s| s.mac != mac && granted_by(s, &current.username))
                .count();
            let elsewhere = u32::try_from(elsewhere).unwrap_or(u32::MAX);
            if let Err(refusal) = check_login(&current, now, elsewhere) {
                return Ok(Err(LoginError::Refused(refusal)));
            }
            let grant = sessions::grant(
                None,
                w.next_id()?,
                mac,
                Some(ip),
                &terms,
                Source::Account(current.username.clone()),
                time.start(),
            );
            let mut session = cap_deadline(grant.session().clone(), &current);
            session.token = crate::core::token::random_token()?;
            w.put_session(&session)?;
            current.last_login = Some(now);
            w.put_account(&current)?;
            w.push_event(&crate::store::Event {
                at: now,
                kind: "account_login".into(),
                mac: Some(mac),
                detail: format!(
                    "account {} signed in, session {} until {}",
                    current.username,
                    session.id,
                    crate::core::time::iso8601(session.deadline)
                ),
            })?;
            Ok(Ok(session))
        })??;
        self.mark_dirty();
        Ok(outcome)
    }

    /// Owner: creates or replaces an account. A new password (if given) is hashed here.
    pub fn put_account(&self, account: Account) -> Result<(), StoreError> {
        let now = self.time().now;
        self.store.write(Durability::Durable, |w| {
            let existed = w.account(&account.username)?.is_some();
            w.put_account(&account)?;
            w.push_event(&crate::store::Event {
                at: now,
                kind: "account_saved".into(),
                mac: None,
                detail: format!(
                    "account {} {} by the owner",
                    account.username,
                    if existed { "changed" } else { "created" }
                ),
            })
        })?;
        if account.disabled {
            self.end_account_sessions(&account.username)?;
        }
        Ok(())
    }

    /// Owner: deletes an account and ends its sessions. False if there was none.
    pub fn delete_account(&self, username: &str) -> Result<bool, StoreError> {
        let now = self.time().now;
        let deleted = self.store.write(Durability::Durable, |w| {
            let deleted = w.delete_account(username)?;
            if deleted {
                w.push_event(&crate::store::Event {
                    at: now,
                    kind: "account_deleted".into(),
                    mac: None,
                    detail: format!("account {username} deleted by the owner"),
                })?;
            }
            Ok(deleted)
        })?;
        if deleted {
            self.end_account_sessions(username)?;
        }
        Ok(deleted)
    }

    /// Ends every active session an account granted.
    fn end_account_sessions(&self, username: &str) -> Result<(), StoreError> {
        let ids: Vec<u64> = self
            .store
            .read(|r| r.active_sessions())?
            .iter()
            .filter(|s| granted_by(s, username))
            .map(|s| s.id)
            .collect();
        for id in ids {
            self.revoke_session(id)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account {
            username: "mary".into(),
            password_hash: "x".into(),
            package_id: None,
            expires_at: Some(1000),
            max_devices: 2,
            note: String::new(),
            created_at: 0,
            disabled: false,
            last_login: None,
        }
    }

    #[test]
    fn usernames() {
        assert_eq!(
            normalise_username(" Mary.K@Cafe ").as_deref(),
            Some("mary.k@cafe")
        );
        for bad in ["", " ", "a b", "<script>", &"x".repeat(33), "ümlaut"] {
            assert_eq!(normalise_username(bad), None, "{bad}");
        }
    }

    #[test]
    fn login_rules() {
        let a = account();
        assert_eq!(check_login(&a, 10, 1), Ok(()));
        assert_eq!(
            check_login(&a, 10, 2),
            Err(LoginRefusal::TooManyDevices { max: 2 })
        );
        assert_eq!(check_login(&a, 1000, 0), Err(LoginRefusal::Expired));
        let disabled = Account {
            disabled: true,
            ..account()
        };
        assert_eq!(check_login(&disabled, 10, 0), Err(LoginRefusal::Disabled));
        let terms = terms_for(&a, None).unwrap();
        assert_eq!(
            (terms.duration_secs, terms.quota_bytes),
            (DEFAULT_ACCOUNT_SECS, None)
        );
        let gone = Account {
            package_id: Some("deleted".into()),
            ..account()
        };
        assert_eq!(terms_for(&gone, None), Err(LoginRefusal::NoPackage));
        assert!(!format!("{a:?}").contains("password_hash"));
    }
}
