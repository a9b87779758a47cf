//! Unit tests of the store: records, indexes, space and recovery.

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
