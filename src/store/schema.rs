//! The store's schema: the upgrade path from every older version, one step per version, the
//! version's own lookup, and the tables of older schemas that a step reads once and deletes.

use redb::TableHandle;

use super::*;

/// The schema 1-4 tables of their own type pairs, read once by the step to 5 and deleted.
const OLD_OPEN_PAYMENTS: TableDefinition<u64, &str> = TableDefinition::new("open_payments");
const OLD_SECRETS: TableDefinition<&str, &str> = TableDefinition::new("secrets");
/// Every secret a schema 2-4 store can hold.
const OLD_SECRET_NAMES: [&str; 3] = ["callback", "owner_password", "setup_code"];
/// The schema 1-6 tables of `&str → u64`, read once by the step to 7 (`old_rows`: iteration
/// only, the least code of that pair) and deleted, each with the table its rows move to.
pub(super) const OLD_META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const OLD_ACTIVE: TableDefinition<&str, u64> = TableDefinition::new("active_by_mac");
const OLD_LATEST: TableDefinition<&str, u64> = TableDefinition::new("latest_by_mac");
const OLD_TOKENS: TableDefinition<&str, u64> = TableDefinition::new("payment_by_token");
const OLD_CHECKOUTS: TableDefinition<&str, u64> = TableDefinition::new("payment_by_checkout");
const OLD_RECEIPTS: TableDefinition<&str, u64> = TableDefinition::new("payment_by_receipt");
const OLD_COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
const OLD_CLAIMS: TableDefinition<&str, u64> = TableDefinition::new("sms_claim_by_receipt");
const OLD_TRIALS: TableDefinition<&str, u64> = TableDefinition::new("trials");
/// A schema 1-6 table of `&str → u64` and the table its rows move to.
struct Renamed {
    old: TableDefinition<'static, &'static str, u64>,
    new: TableDefinition<'static, &'static str, &'static [u8]>,
}
const OLD_TABLES: [Renamed; 9] = [
    Renamed {
        old: OLD_META,
        new: META,
    },
    Renamed {
        old: OLD_ACTIVE,
        new: ACTIVE,
    },
    Renamed {
        old: OLD_LATEST,
        new: LATEST,
    },
    Renamed {
        old: OLD_TOKENS,
        new: PAYMENT_TOKENS,
    },
    Renamed {
        old: OLD_CHECKOUTS,
        new: CHECKOUTS,
    },
    Renamed {
        old: OLD_RECEIPTS,
        new: RECEIPTS,
    },
    Renamed {
        old: OLD_COUNTERS,
        new: COUNTERS,
    },
    Renamed {
        old: OLD_CLAIMS,
        new: CLAIM_BY_RECEIPT,
    },
    Renamed {
        old: OLD_TRIALS,
        new: TRIALS,
    },
];

/// Schema upgrades, one step per version. Version 0 is a new, empty file.
pub(super) fn migrate(w: &mut Writer, from: u64) -> Result<(), StoreError> {
    if from == 0 {
        // Create every table so that readers never meet a missing one.
        w.txn.open_table(META)?;
        w.txn.open_table(SESSIONS)?;
        w.txn.open_table(ACTIVE)?;
        w.txn.open_table(LATEST)?;
        w.txn.open_table(PAYMENTS)?;
        w.txn.open_table(PAYMENT_TOKENS)?;
        w.txn.open_table(CHECKOUTS)?;
        w.txn.open_table(RECEIPTS)?;
        w.txn.open_table(VOUCHERS)?;
        w.txn.open_table(DEVICES)?;
        w.txn.open_table(EVENTS)?;
        w.txn.open_table(COUNTERS)?;
    }
    if from < 2 {
        w.txn.open_table(SMS_CLAIMS)?;
        w.txn.open_table(CLAIM_BY_RECEIPT)?;
    }
    if from < 3 {
        owner::create_tables(w)?;
    }
    if from < 4 {
        archive::create_tables(w)?;
    }
    if from < 5 {
        w.txn.open_table(OPEN_PAYMENTS)?;
        w.txn.open_table(SECRETS)?;
        if from >= 2 {
            let old = w.txn.open_table(OLD_SECRETS)?;
            let mut kept = Vec::new();
            for name in OLD_SECRET_NAMES {
                if let Some(v) = old.get(name)? {
                    kept.push((name, v.value().to_string()));
                }
            }
            drop(old);
            for (name, value) in kept {
                w.set_secret(name, &value)?;
            }
            w.txn.delete_table(OLD_SECRETS)?;
        }
        if from >= 1 {
            // The open payments, from the payments themselves.
            let open: Vec<Payment> = w
                .recent_payments(usize::MAX)?
                .into_iter()
                .filter(|p| p.state.is_open())
                .collect();
            let mut table = w.txn.open_table(OPEN_PAYMENTS)?;
            for p in open {
                table.insert(p.id, p.mac.to_string().as_bytes())?;
            }
            drop(table);
            w.txn.delete_table(OLD_OPEN_PAYMENTS)?;
        }
    }
    if from < 6 {
        w.txn.open_table(TRIALS)?;
    }
    if from < 7 {
        // Every row of the `&str → u64` tables moves to its byte-valued table, in this one
        // transaction: a kill mid-upgrade leaves the schema 6 store as it was.
        for Renamed { old, new } in OLD_TABLES {
            let rows = if has_table(&w.txn, old.name())? {
                old_rows(&w.txn, old)?
            } else {
                Vec::new()
            };
            let mut table = w.txn.open_table(new)?;
            for (key, value) in &rows {
                table.insert(key.as_str(), le(*value).as_slice())?;
            }
            drop(table);
            w.txn.delete_table(old)?;
        }
    }
    // Future steps go here: `if from < 8 { ... }`.
    w.set_meta("schema_version", SCHEMA_VERSION)
}

/// The schema version of an open store, `None` for a new file. Schema 7 keeps it in `META`;
/// schema 1-6 kept it in `OLD_META`. A newer lango keeps it where this one does.
pub(super) fn stored_version(txn: &WriteTransaction) -> Result<Option<u64>, StoreError> {
    let version = txn
        .open_table(META)?
        .get("schema_version")?
        .map(|v| from_le(v.value()))
        .transpose()?;
    if version.is_some() || !has_table(txn, OLD_META.name())? {
        return Ok(version);
    }
    let old = old_rows(txn, OLD_META)?
        .into_iter()
        .find(|(key, _)| key == "schema_version")
        .map(|(_, v)| v);
    match old {
        // No lango wrote schema 7 or later to the old table: it is damaged.
        Some(v) if v == SCHEMA_VERSION => Err(StoreError::Damaged(format!(
            "the old `meta` table claims schema {v}"
        ))),
        old => Ok(old),
    }
}

/// Whether the store has a table of that name (of whatever types).
fn has_table(txn: &WriteTransaction, name: &str) -> Result<bool, StoreError> {
    Ok(txn.list_tables()?.any(|t| t.name() == name))
}

/// The rows of a schema 1-6 table of `&str → u64` (`OLD_TABLES`). The one path that reads
/// that type pair, and only by iteration: every other use of the pair would cost redb code.
#[inline(never)]
fn old_rows(
    txn: &WriteTransaction,
    old: TableDefinition<&str, u64>,
) -> Result<Vec<(String, u64)>, StoreError> {
    let table = txn.open_table(old)?;
    let mut rows = Vec::new();
    for row in table.iter()? {
        let (key, value) = row?;
        rows.push((key.value().to_string(), value.value()));
    }
    Ok(rows)
}
