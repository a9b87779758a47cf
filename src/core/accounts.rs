//! Guest accounts: user names and passwords the owner gives to regulars and staff. The rules
//! are pure (`check_login`, `terms_for`, `cap_deadline`); `App::login_account` checks the
//! password outside any transaction (it is slow on purpose) and then grants in one durable
//! write, like a voucher. A password is hashed at once and never stored, logged or shown.

use serde::{Deserialize, Serialize};

use crate::core::config::Package;
use crate::core::model::Money;
use crate::core::sessions::{Session, Source, Terms};
use crate::core::time::Timestamp;

/// How long a sign-in lasts for an account without a package (staff): a day, then sign in again.
pub(crate) const DEFAULT_ACCOUNT_SECS: u64 = 86_400;
/// Devices at once, at most (the owner picks 1 to this).
pub(crate) const MAX_DEVICES: u32 = 20;

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
    /// The account's package has a window (`Terms::window`), closed now.
    Closed,
}

/// Canonical user name: trimmed, lower case; `None` unless 1-32 of `a-z 0-9 . _ - @`.
pub(crate) fn normalise_username(typed: &str) -> Option<String> {
    let name = typed.trim().to_lowercase();
    let ok = (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-@".contains(&b));
    ok.then_some(name)
}

/// Pure: may this account sign in a device now? `devices_elsewhere` counts the account's active
/// sessions on other devices.
pub(crate) fn check_login(
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
pub(crate) fn terms_for(
    account: &Account,
    package: Option<&Package>,
) -> Result<Terms, LoginRefusal> {
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
            fair_kbit: None,
            window: None,
            devices: 1,
            idle_secs: None,
        }),
    }
}

/// Pure: a session granted by an account never outlives the account.
pub(crate) fn cap_deadline(mut session: Session, account: &Account) -> Session {
    if let Some(at) = account.expires_at {
        session.deadline = session.deadline.min(at);
    }
    session
}

/// Whether a session was granted by this account.
pub(crate) fn granted_by(session: &Session, username: &str) -> bool {
    session
        .sources
        .iter()
        .any(|s| matches!(s, Source::Account(name) if name == username))
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
