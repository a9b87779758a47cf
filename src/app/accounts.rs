//! Guest accounts in the app: signing a device in with a username and password (through the
//! one admission path), and the owner's account edits. The rules live in `core::accounts`.

use std::net::IpAddr;

use super::admission::{AdmitError, Admitted, Denied};
use crate::app::App;
use crate::core::accounts::*;
use crate::core::sessions::{self, Session, Source};
use crate::store::{Durability, StoreError};

/// Why `App::login_account` did not grant.
#[derive(Debug)]
pub enum LoginError {
    /// The device may not act (`App::admit`).
    Denied(Denied),
    Refused(LoginRefusal),
    /// The device already has time of its own running.
    AlreadyOnline,
    Store(StoreError),
    /// The RADIUS server rejected the sign-in, or could not be asked (`app::radius`).
    #[cfg(feature = "radius")]
    Radius(crate::adapters::radius::RadiusError),
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        LoginError::Store(e)
    }
}

impl From<AdmitError> for LoginError {
    fn from(e: AdmitError) -> Self {
        match e {
            AdmitError::Denied(d) => LoginError::Denied(d),
            AdmitError::Store(e) => LoginError::Store(e),
        }
    }
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
        let admitted = self.admit(ip)?;
        let username = normalise_username(typed_username);
        // A user name this router does not know goes to the RADIUS server (`app::radius`).
        #[cfg(feature = "radius")]
        if let Some(client) = self.radius_for_account(username.as_deref())? {
            let user = typed_username.trim();
            let source = Source::Account(user.to_string());
            let granted = self.grant_radius(client.as_ref(), admitted, user, password, source)?;
            return granted.map_err(LoginError::Radius);
        }
        let Admitted { mac, ip, time } = admitted;
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
        let now = time.now;
        let config = self.config();
        let package = account
            .package_id
            .as_deref()
            .and_then(|id| config.package(id));
        let terms = terms_for(&account, package).map_err(LoginError::Refused)?;
        if terms.window.is_some_and(|w| w.open_until(now).is_none()) {
            return Err(LoginError::Refused(LoginRefusal::Closed));
        }
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
            w.push_event(&crate::store::Event::new(
                now,
                "account_login",
                Some(mac),
                format!(
                    "account {} signed in, session {} until {}",
                    current.username,
                    session.id,
                    self.owner_time(session.deadline)
                ),
            ))?;
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
            w.push_event(&crate::store::Event::new(
                now,
                "account_saved",
                None,
                format!(
                    "account {} {} by the owner",
                    account.username,
                    if existed { "changed" } else { "created" }
                ),
            ))
        })?;
        if account.disabled {
            self.end_account_sessions(&account.username)?;
        }
        Ok(())
    }

    /// Owner: deletes an account and ends its sessions. False if there was none.
    pub(crate) fn delete_account(&self, username: &str) -> Result<bool, StoreError> {
        let now = self.time().now;
        let deleted = self.store.write(Durability::Durable, |w| {
            let deleted = w.delete_account(username)?;
            if deleted {
                w.push_event(&crate::store::Event::new(
                    now,
                    "account_deleted",
                    None,
                    format!("account {username} deleted by the owner"),
                ))?;
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
