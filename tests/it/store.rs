//! The store across close and reopen, its unique indexes, schema versions and damaged files.

use lango::adapters::testing::active_session;
use lango::store::{Durability, Store, StoreError};

use crate::support::{demo_config, guest, TempDir, TestEnv, T0};

#[test]
fn sessions_vouchers_and_events_survive_reopen() {
    let dir = TempDir::new("reopen");
    let path = dir.path("lango.redb");
    let (ip, mac) = guest(1);
    let (code, session_id) = {
        let env = TestEnv::with(Store::open(&path).unwrap(), demo_config(), T0);
        let vouchers = env
            .app
            .generate_vouchers("hour", 3, "", Some(30))
            .unwrap()
            .unwrap();
        let session = env.app.redeem(ip, &vouchers[0].code).unwrap();
        (vouchers[0].code.clone(), session.id)
    };
    let store = Store::open(&path).unwrap();
    let (active, voucher, events, all) = store
        .read(|r| {
            Ok((
                r.active_session(mac)?,
                r.voucher(&code)?,
                r.recent_events(10)?,
                r.vouchers()?,
            ))
        })
        .unwrap();
    let active = active.expect("the session is still there");
    assert_eq!((active.id, active.deadline), (session_id, T0 + 3600));
    assert!(matches!(
        voucher.unwrap().state,
        lango::core::vouchers::VoucherState::Used { .. }
    ));
    assert_eq!(all.len(), 3);
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["voucher_redeemed", "vouchers_generated"]);
    assert_eq!(
        store.read(|r| r.meta("schema_version")).unwrap(),
        Some(lango::store::SCHEMA_VERSION)
    );
}

#[test]
fn receipts_and_checkouts_are_unique() {
    let store = Store::in_memory().unwrap();
    let first = store
        .write(Durability::Durable, |w| w.claim_receipt("UEULA5XW6C", 1))
        .unwrap();
    let again = store
        .write(Durability::Durable, |w| w.claim_receipt("UEULA5XW6C", 1))
        .unwrap();
    let other = store
        .write(Durability::Durable, |w| w.claim_receipt("UEULA5XW6C", 2))
        .unwrap();
    assert_eq!((first, again, other), (true, true, false));
    assert_eq!(
        store.read(|r| r.receipt_owner("UEULA5XW6C")).unwrap(),
        Some(1)
    );
}

#[test]
fn a_failed_write_changes_nothing() {
    let store = Store::in_memory().unwrap();
    let before = store.read(|r| r.meta("next_id")).unwrap();
    let result: Result<(), StoreError> = store.write(Durability::Durable, |w| {
        w.next_id()?;
        Err(StoreError::Record("caller gave up".into()))
    });
    assert!(result.is_err());
    assert_eq!(store.read(|r| r.meta("next_id")).unwrap(), before);
}

#[test]
fn a_store_from_a_newer_lango_is_refused() {
    let dir = TempDir::new("too-new");
    let path = dir.path("lango.redb");
    {
        let store = Store::open(&path).unwrap();
        store
            .write(Durability::Durable, |w| w.set_meta("schema_version", 99))
            .unwrap();
    }
    match Store::open(&path) {
        Err(StoreError::TooNew {
            found: 99,
            supported,
        }) => assert_eq!(supported, lango::store::SCHEMA_VERSION),
        other => panic!("expected TooNew, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn damaged_files_give_errors_not_panics() {
    let dir = TempDir::new("damaged");
    // Not a redb file at all.
    let junk = dir.path("junk.redb");
    std::fs::write(&junk, vec![0x5a; 8192]).unwrap();
    assert!(
        matches!(Store::open(&junk), Err(StoreError::Damaged(_))),
        "junk must be refused"
    );
    // Too short to be anything.
    let short = dir.path("short.redb");
    std::fs::write(&short, b"hello").unwrap();
    assert!(matches!(Store::open(&short), Err(StoreError::Damaged(_))));
    // A real store, truncated or with bytes flipped in many places: open may repair or refuse,
    // but it must return.
    let good = dir.path("good.redb");
    {
        let env = TestEnv::with(Store::open(&good).unwrap(), demo_config(), T0);
        env.app.generate_vouchers("day", 50, "", None).unwrap();
    }
    let bytes = std::fs::read(&good).unwrap();
    for cut in [bytes.len() / 2, bytes.len() / 4, 600] {
        let p = dir.path(&format!("cut{cut}.redb"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let _ = Store::open(&p).and_then(|s| s.read(|r| r.vouchers()));
    }
    let mut state = 0x2545_f491_u32;
    for round in 0..20 {
        let mut damaged = bytes.clone();
        for _ in 0..8 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let idx = state as usize % damaged.len();
            damaged[idx] ^= 0xff;
        }
        let p = dir.path(&format!("flip{round}.redb"));
        std::fs::write(&p, &damaged).unwrap();
        let _ = Store::open(&p).and_then(|s| s.read(|r| r.vouchers()));
    }
}

/// A store written by a schema-2 lango (no `accounts` table) opens, is upgraded in place to
/// schema 3, keeps its records, and takes accounts and account sessions.
#[test]
fn a_schema_2_store_is_upgraded_to_the_current_schema() {
    use redb::{Database, TableDefinition};
    let dir = TempDir::new("v2");
    let path = dir.path("lango.redb");
    // The voucher a schema-2 lango would have written, made here by a current one.
    let voucher = {
        let env = TestEnv::new();
        env.app
            .generate_vouchers("hour", 1, "", None)
            .unwrap()
            .unwrap()
            .remove(0)
    };
    {
        let db = Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        let bytes: TableDefinition<&str, &[u8]> = TableDefinition::new("vouchers");
        txn.open_table(TableDefinition::<&str, &[u8]>::new("devices"))
            .unwrap();
        for name in ["sessions", "payments", "events", "sms_claims"] {
            txn.open_table(TableDefinition::<u64, &[u8]>::new(name))
                .unwrap();
        }
        for name in [
            "active_by_mac",
            "latest_by_mac",
            "payment_by_token",
            "payment_by_checkout",
            "payment_by_receipt",
            "counters",
            "sms_claim_by_receipt",
        ] {
            txn.open_table(TableDefinition::<&str, u64>::new(name))
                .unwrap();
        }
        txn.open_table(TableDefinition::<u64, &str>::new("open_payments"))
            .unwrap();
        txn.open_table(TableDefinition::<&str, &str>::new("secrets"))
            .unwrap()
            .insert("callback", "kept-across-the-upgrade")
            .unwrap();
        let mut meta = txn
            .open_table(TableDefinition::<&str, u64>::new("meta"))
            .unwrap();
        meta.insert("schema_version", 2).unwrap();
        meta.insert("next_id", 100).unwrap();
        drop(meta);
        let json = serde_json::to_vec(&voucher).unwrap();
        txn.open_table(bytes)
            .unwrap()
            .insert(voucher.code.as_str(), json.as_slice())
            .unwrap();
        txn.commit().unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.read(|r| r.meta("schema_version")).unwrap(),
        Some(lango::store::SCHEMA_VERSION)
    );
    // Schema 5 moved the secrets to a table of byte values.
    assert_eq!(
        store.read(|r| r.secret("callback")).unwrap().as_deref(),
        Some("kept-across-the-upgrade")
    );
    // Schema 4's archive is there and empty.
    assert_eq!(store.read(|r| r.archive_size()).unwrap(), (0, 0));
    assert_eq!(
        store.read(|r| r.voucher(&voucher.code)).unwrap(),
        Some(voucher.clone())
    );
    assert!(store.read(|r| r.accounts()).unwrap().is_empty());
    // The upgraded store works for everything schema 3 adds.
    let env = TestEnv::with(store, demo_config(), T0);
    let account = lango::core::accounts::Account {
        username: "mary".into(),
        password_hash: lango::core::auth::hash_password("kitchen42").unwrap(),
        package_id: Some("hour".into()),
        expires_at: None,
        max_devices: 1,
        note: String::new(),
        created_at: T0,
        disabled: false,
        last_login: None,
    };
    env.app.put_account(account).unwrap();
    let session = env
        .app
        .login_account(guest(1).0, "mary", "kitchen42")
        .unwrap();
    assert!(session.id >= 100, "the id sequence carried over");
    assert!(env.app.redeem(guest(2).0, &voucher.code).is_ok());
    drop(env);
    let reopened = Store::open(&path).unwrap();
    let back = reopened.read(|r| r.session(session.id)).unwrap().unwrap();
    assert_eq!(
        back.sources,
        [lango::core::sessions::Source::Account("mary".into())]
    );
}

#[test]
fn a_closed_store_needs_no_recovery_and_a_dropped_handle_does() {
    let dir = TempDir::new("clean-close");
    let path = dir.path("lango.redb");
    let store = Store::open(&path).unwrap();
    store
        .write(Durability::Durable, |w| w.set_meta("x", 1))
        .unwrap();
    assert!(lango::store::needs_recovery(&path), "open: the bit is set");
    store.close();
    assert!(!lango::store::needs_recovery(&path), "closed cleanly");
    assert!(matches!(
        store.read(|r| r.meta("x")),
        Err(StoreError::Io(_))
    ));
    // What lango did before: the process exits with the database still open.
    let store = Store::open(&path).unwrap();
    store
        .write(Durability::Lazy, |w| w.set_meta("x", 2))
        .unwrap();
    std::mem::forget(store);
    assert!(lango::store::needs_recovery(&path));
}

/// A store written by a schema-6 lango (its indexes, counters, trial marks and meta in tables
/// of `&str → u64`) opens, is upgraded to schema 7 in place, keeps every row, and has none of
/// the old tables left.
#[test]
fn a_schema_6_store_is_upgraded_to_schema_7_with_every_row() {
    use lango::core::payments::PaymentState;
    use redb::{Database, ReadableDatabase, TableDefinition, TableHandle};
    let dir = TempDir::new("v6");
    let path = dir.path("lango.redb");
    let (ip1, mac1) = guest(1);
    // A session and a payment as a current lango makes them.
    let (session, payment) = {
        let env = TestEnv::new();
        let code = env.hour_voucher();
        let session = env.app.redeem(ip1, &code).unwrap();
        let mut payment = env
            .app
            .start_purchase(guest(2).0, "hour", "0712345678")
            .unwrap();
        payment.state = PaymentState::Paid;
        payment.checkout_id = Some("ws_CO_v6".into());
        payment.receipt = Some("UEV6RECEPT".into());
        (session, payment)
    };
    let trial_mark = "2027-01-15 m aa:00:00:00:00:01";
    let old_tables = [
        "meta",
        "active_by_mac",
        "latest_by_mac",
        "payment_by_token",
        "payment_by_checkout",
        "payment_by_receipt",
        "counters",
        "sms_claim_by_receipt",
        "trials",
    ];
    {
        let db = Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        for name in ["vouchers", "devices", "accounts", "secret_values"] {
            txn.open_table(TableDefinition::<&str, &[u8]>::new(name))
                .unwrap();
        }
        for name in [
            "events",
            "sms_claims",
            "archive_by_day",
            "open_payment_macs",
        ] {
            txn.open_table(TableDefinition::<u64, &[u8]>::new(name))
                .unwrap();
        }
        let json = serde_json::to_vec(&session).unwrap();
        txn.open_table(TableDefinition::<u64, &[u8]>::new("sessions"))
            .unwrap()
            .insert(session.id, json.as_slice())
            .unwrap();
        let json = serde_json::to_vec(&payment).unwrap();
        txn.open_table(TableDefinition::<u64, &[u8]>::new("payments"))
            .unwrap()
            .insert(payment.id, json.as_slice())
            .unwrap();
        let mac = mac1.to_string();
        let rows: [(&str, &str, u64); 11] = [
            ("meta", "schema_version", 6),
            ("meta", "next_id", 100),
            ("meta", "event_seq", 7),
            ("active_by_mac", &mac, session.id),
            ("latest_by_mac", &mac, session.id),
            ("payment_by_token", &payment.token, payment.id),
            ("payment_by_checkout", "ws_CO_v6", payment.id),
            ("payment_by_receipt", "UEV6RECEPT", payment.id),
            ("counters", "funnel_paid", 5),
            ("sms_claim_by_receipt", "UEV6CLAIMD", 42),
            ("trials", trial_mark, session.id),
        ];
        for name in old_tables {
            txn.open_table(TableDefinition::<&str, u64>::new(name))
                .unwrap();
        }
        for (table, key, value) in rows {
            txn.open_table(TableDefinition::<&str, u64>::new(table))
                .unwrap()
                .insert(key, value)
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let store = Store::open(&path).unwrap();
    let read = |f: &dyn Fn(&lango::store::Reader) -> Result<Option<u64>, StoreError>| {
        store.read(|r| f(r)).unwrap()
    };
    assert_eq!(read(&|r| r.meta("schema_version")), Some(7));
    assert_eq!(lango::store::SCHEMA_VERSION, 7);
    assert_eq!(read(&|r| r.meta("next_id")), Some(100));
    assert_eq!(read(&|r| r.meta("event_seq")), Some(7));
    let id = |s: Option<lango::core::sessions::Session>| s.map(|s| s.id);
    assert_eq!(read(&|r| Ok(id(r.active_session(mac1)?))), Some(session.id));
    assert_eq!(read(&|r| Ok(id(r.latest_session(mac1)?))), Some(session.id));
    let pid = |p: Option<lango::core::payments::Payment>| p.map(|p| p.id);
    assert_eq!(
        read(&|r| Ok(pid(r.payment_by_token(&payment.token)?))),
        Some(payment.id)
    );
    assert_eq!(
        read(&|r| Ok(pid(r.payment_by_token_prefix(&payment.token[..10])?))),
        Some(payment.id)
    );
    assert_eq!(
        read(&|r| Ok(pid(r.payment_by_checkout("ws_CO_v6")?))),
        Some(payment.id)
    );
    assert_eq!(read(&|r| r.receipt_owner("UEV6RECEPT")), Some(payment.id));
    assert_eq!(
        store.read(|r| r.counters()).unwrap(),
        [("funnel_paid".to_string(), 5)]
    );
    assert_eq!(
        store
            .read(|r| r.trial_marks(&[trial_mark.to_string()], "2027-01-15 m"))
            .unwrap(),
        (Some(trial_mark.to_string()), 1)
    );
    // The session is active in RAM too, loaded through the new index at open.
    assert!(store.active().sessions().any(|s| s.mac == mac1));
    store.close();
    drop(store);
    // On disk: the old tables are gone, the claim index (no reader names it alone) kept its row.
    let db = Database::open(&path).unwrap();
    let txn = db.begin_read().unwrap();
    let names: Vec<String> = txn
        .list_tables()
        .unwrap()
        .map(|t| t.name().to_string())
        .collect();
    for old in old_tables {
        assert!(!names.iter().any(|n| n == old), "{old} is still there");
    }
    let claims = txn
        .open_table(TableDefinition::<&str, &[u8]>::new(
            "sms_claim_id_by_receipt",
        ))
        .unwrap();
    assert_eq!(
        claims.get("UEV6CLAIMD").unwrap().unwrap().value(),
        42u64.to_le_bytes()
    );
}

/// The step to 7 is one write transaction: when it fails half-way (here a table of a new name
/// but of the old types is in the way of the last copy), the schema 6 store is left as it was.
#[test]
fn a_failed_upgrade_to_schema_7_leaves_the_schema_6_store_as_it_was() {
    use redb::{Database, ReadableDatabase, TableDefinition, TableHandle};
    let dir = TempDir::new("v6-failed");
    let path = dir.path("lango.redb");
    let old = |name| TableDefinition::<&str, u64>::new(name);
    {
        let db = Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        let mut meta = txn.open_table(old("meta")).unwrap();
        meta.insert("schema_version", 6).unwrap();
        meta.insert("next_id", 5).unwrap();
        drop(meta);
        txn.open_table(old("active_by_mac"))
            .unwrap()
            .insert("aa:00:00:00:00:01", 3)
            .unwrap();
        txn.open_table(old("trials")).unwrap();
        txn.open_table(old("trial_marks")).unwrap();
        txn.commit().unwrap();
    }
    assert!(Store::open(&path).is_err());
    let db = Database::open(&path).unwrap();
    let txn = db.begin_read().unwrap();
    let mut names: Vec<String> = txn
        .list_tables()
        .unwrap()
        .map(|t| t.name().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["active_by_mac", "meta", "trial_marks", "trials"]);
    let meta = txn.open_table(old("meta")).unwrap();
    assert_eq!(meta.get("schema_version").unwrap().unwrap().value(), 6);
    assert_eq!(meta.get("next_id").unwrap().unwrap().value(), 5);
    let active = txn.open_table(old("active_by_mac")).unwrap();
    assert_eq!(active.get("aa:00:00:00:00:01").unwrap().unwrap().value(), 3);
}

/// Issue 14: from 512 active sessions on, the read at open decodes them on two threads. A
/// store of 700 reopens with every one of them in the in-memory index, each as stored, decoded
/// once.
#[test]
fn many_active_sessions_are_all_in_the_index_after_reopening() {
    let dir = TempDir::new("many-active");
    let path = dir.path("lango.redb");
    let n = 700;
    {
        let store = Store::open(&path).unwrap();
        store
            .write(Durability::Durable, |w| {
                (0..n).try_for_each(|i| w.put_session(&active_session(i, n, T0)))
            })
            .unwrap();
        store.close();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.sessions_decoded(), u64::from(n));
    let active = store.active();
    assert_eq!(active.len(), n as usize);
    let mut ids: Vec<(u64, i64, [u8; 6])> = active
        .sessions()
        .map(|s| (s.id, s.deadline, s.mac.0))
        .collect();
    ids.sort_unstable();
    let stored: Vec<(u64, i64, [u8; 6])> = (0..n)
        .map(|i| active_session(i, n, T0))
        .map(|s| (s.id, s.deadline, s.mac.0))
        .collect();
    assert_eq!(ids, stored);
}
