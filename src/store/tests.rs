//! Unit tests of the store: records, indexes, space and recovery.

use super::schema::OLD_META;
use super::*;

#[test]
fn the_headroom_is_256_kib_or_3_percent() {
    let mib = 1024 * 1024;
    let small = Space {
        free: 300 * 1024,
        total: 4 * mib,
    };
    assert_eq!(small.reserve(), 256 * 1024);
    assert!(small.enough());
    assert!(!Space {
        free: 255 * 1024,
        ..small
    }
    .enough());
    // A 64 MiB overlay keeps 3 %: about 1.9 MiB.
    let big = Space {
        free: 2 * mib,
        total: 64 * mib,
    };
    assert_eq!(big.reserve(), 64 * mib / 100 * 3);
    assert!(big.enough());
}

#[test]
fn a_store_in_ram_has_no_space_figure_and_a_discarded_write_commits_nothing() {
    let store = Store::in_memory().unwrap();
    assert_eq!(store.space(), None);
    let before = store.write_stats();
    store
        .write(Durability::Durable, |w| {
            w.set_meta("x", 1)?;
            w.discard();
            Ok(())
        })
        .unwrap();
    assert_eq!(store.write_stats(), before);
    assert_eq!(store.read(|r| r.meta("x")).unwrap(), None);
}

#[test]
fn numbers_are_8_bytes_and_a_damaged_one_is_an_error_not_a_panic() {
    assert_eq!(
        from_le(&le(0x0102_0304_0506_0708)).unwrap(),
        0x0102_0304_0506_0708
    );
    assert!(matches!(from_le(b"abc"), Err(StoreError::Record(_))));
    let store = Store::in_memory().unwrap();
    let mac = Mac([2, 0, 0, 0, 0, 9]);
    store
        .write(Durability::Durable, |w| {
            w.txn
                .open_table(ACTIVE)?
                .insert(mac.to_string().as_str(), b"abc".as_slice())?;
            w.txn.open_table(COUNTERS)?.insert("c", b"".as_slice())?;
            Ok(())
        })
        .unwrap();
    assert!(matches!(
        store.read(|r| r.active_session(mac)),
        Err(StoreError::Record(_))
    ));
    assert!(matches!(
        store.read(|r| r.counters()),
        Err(StoreError::Record(_))
    ));
}

#[test]
fn a_schema_6_meta_claiming_a_newer_schema_is_refused() {
    let db = Database::builder()
        .create_with_backend(redb::backends::InMemoryBackend::new())
        .unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(OLD_META)
        .unwrap()
        .insert("schema_version", 99)
        .unwrap();
    txn.commit().unwrap();
    assert!(matches!(
        Store::init(db, &|_| {}),
        Err(StoreError::TooNew { found: 99, .. })
    ));
}
