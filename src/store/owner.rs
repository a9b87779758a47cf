//! The owner's tables and views: `accounts` (schema 3), guest accounts the owner makes for
//! regulars and staff, by user name (records hold a password hash, never a password), and the
//! blocked devices.

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition};

use super::{decode, encode, Reader, StoreError, Writer, DEVICES};
use crate::core::accounts::Account;
use crate::store::Device;

/// User name (lower case) → account.
const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");

pub(super) fn create_tables(w: &mut Writer) -> Result<(), StoreError> {
    w.txn.open_table(ACCOUNTS)?;
    Ok(())
}

macro_rules! account_getters {
    ($ty:ty) => {
        impl $ty {
            pub fn account(&self, username: &str) -> Result<Option<Account>, StoreError> {
                match self.txn.open_table(ACCOUNTS)?.get(username)? {
                    Some(v) => decode("account", v.value()).map(Some),
                    None => Ok(None),
                }
            }

            /// Every account, by user name.
            pub fn accounts(&self) -> Result<Vec<Account>, StoreError> {
                let table = self.txn.open_table(ACCOUNTS)?;
                let mut out = Vec::new();
                for row in table.iter()? {
                    out.push(decode("account", row?.1.value())?);
                }
                Ok(out)
            }

            /// Whether there is at least one account (without reading any).
            pub fn any_account(&self) -> Result<bool, StoreError> {
                Ok(!self.txn.open_table(ACCOUNTS)?.is_empty()?)
            }

            /// Every device the owner blocked.
            pub fn blocked_devices(&self) -> Result<Vec<Device>, StoreError> {
                let table = self.txn.open_table(DEVICES)?;
                let mut out = Vec::new();
                for row in table.iter()? {
                    let device: Device = decode("device", row?.1.value())?;
                    if device.blocked {
                        out.push(device);
                    }
                }
                Ok(out)
            }
        }
    };
}

account_getters!(Reader);
account_getters!(Writer);

impl Writer {
    pub fn put_account(&mut self, account: &Account) -> Result<(), StoreError> {
        self.txn
            .open_table(ACCOUNTS)?
            .insert(account.username.as_str(), encode(account)?.as_slice())?;
        Ok(())
    }

    /// Removes an account; false if there was none.
    pub(crate) fn delete_account(&mut self, username: &str) -> Result<bool, StoreError> {
        Ok(self.txn.open_table(ACCOUNTS)?.remove(username)?.is_some())
    }
}
