//! Issue 14, a store that stays small: settled payments move to the compact archive after
//! their first days, ended sessions and their devices are forgotten after `keep_sessions`,
//! archived days after `keep_payments`; the owner's books (payments of a day, totals) read the
//! same. An archived receipt still cannot be credited twice: tests/it/payments.rs.

use lango::core::payments::PaymentState;
use lango::store::Store;

use crate::support::{demo_config, guest, TestEnv, T0};

const DAY: i64 = 86_400;

/// `days` days of `per_day` purchases of the hour package by five guests, through the App.
/// Returns (purchases paid, money paid in minor units).
fn sell(env: &TestEnv, days: i64, per_day: i64) -> (usize, i64) {
    let (mut paid, mut money) = (0, 0);
    let gap = DAY / per_day;
    for n in 0..days * per_day {
        let (ip, _) = guest(1 + (n % 5) as u8);
        let p = env.app.start_purchase(ip, "hour", "0712345678").unwrap();
        env.app.run_due();
        env.advance(4);
        let p = env.app.store.read(|r| r.payment(p.id)).unwrap().unwrap();
        if p.state == PaymentState::Paid {
            paid += 1;
            money += p.amount.0;
        }
        env.advance(gap - 4);
    }
    (paid, money)
}

fn full_records(env: &TestEnv) -> usize {
    env.app
        .store
        .read(|r| r.recent_payments(1_000_000))
        .unwrap()
        .len()
}

#[test]
fn settled_payments_move_to_the_archive_and_the_books_still_add_up() {
    let env = TestEnv::new();
    let (paid, money) = sell(&env, 40, 12);
    assert_eq!(paid, 480);
    // Only the last few days are full records; everything else is archived rows.
    let full = full_records(&env);
    assert!(full <= 5 * 12, "{full} full payment records after 40 days");
    let (days, bytes) = env.app.store.read(|r| r.archive_size()).unwrap();
    assert!((35..=38).contains(&days), "{days} archived days");
    assert!(
        bytes < (480 - full) * 45,
        "{bytes} bytes for {} archived payments",
        480 - full
    );
    // The books: every payment, and the money, as before.
    let all = env
        .app
        .store
        .read(|r| r.payments_since(T0 - DAY, 100_000))
        .unwrap();
    assert_eq!(all.len(), 480);
    assert!(all.windows(2).all(|w| w[0].created_at >= w[1].created_at));
    let in_books: i64 = all
        .iter()
        .filter(|p| p.state == PaymentState::Paid)
        .map(|p| p.amount.0)
        .sum();
    assert_eq!(in_books, money);
    // Ended sessions older than keep_sessions (7 days) are gone, with their devices' indexes
    // and the events of those days; the recent ones stay.
    let sessions = env.app.store.read(|r| r.recent_sessions(100_000)).unwrap();
    assert!(
        sessions
            .iter()
            .all(|s| s.started_at > env.clock_now() - 8 * DAY),
        "a session older than keep_sessions is still stored"
    );
    assert!(sessions.len() >= 5, "{} sessions", sessions.len());
    let events = env.app.store.read(|r| r.recent_events(100_000)).unwrap();
    assert!(events.iter().all(|e| e.at > env.clock_now() - 8 * DAY));
    assert!(events.len() >= 10, "{} events", events.len());
}

#[test]
fn archived_days_go_after_keep_payments() {
    let mut config = demo_config();
    config.gateway.keep_payments_secs = 10 * DAY as u64;
    let env = TestEnv::with(Store::in_memory().unwrap(), config, T0);
    sell(&env, 20, 4);
    let since_start = env
        .app
        .store
        .read(|r| r.payments_since(T0 - DAY, 100_000))
        .unwrap();
    let oldest = since_start.last().unwrap().created_at;
    assert!(
        oldest >= env.clock_now() - 11 * DAY,
        "a payment of day {} is kept",
        (oldest - T0) / DAY
    );
    let (days, _) = env.app.store.read(|r| r.archive_size()).unwrap();
    assert!(days <= 10, "{days} archived days");
}

fn copy_exists(path: &std::path::Path) -> bool {
    let mut copy = path.as_os_str().to_owned();
    copy.push(".compact");
    std::path::Path::new(&copy).exists()
}

#[test]
fn a_copy_left_by_a_compaction_cut_short_is_deleted_at_open() {
    let dir = crate::support::TempDir::new("stray");
    let path = dir.path("lango.redb");
    drop(Store::open(&path).unwrap());
    std::fs::write(dir.path("lango.redb.compact"), b"half a copy").unwrap();
    let store = Store::open(&path).unwrap();
    assert!(!copy_exists(&path));
    drop(store);
}

trait Now {
    fn clock_now(&self) -> i64;
}

impl Now for TestEnv {
    fn clock_now(&self) -> i64 {
        use lango::core::time::Clock;
        self.clock.now()
    }
}

#[test]
fn the_file_shrinks_once_retention_has_freed_enough_of_it() {
    // A store on a file: freed pages were reused but never given back, so the file stayed at
    // its peak for ever (issue 14). tmpfs when there is one: the fsyncs are then free.
    let shm = std::path::Path::new("/dev/shm");
    let dir = crate::support::TempDir::new("compact");
    let path = if shm.is_dir() {
        shm.join(format!("lango-compact-{}.redb", std::process::id()))
    } else {
        dir.path("lango.redb")
    };
    let _ = std::fs::remove_file(&path);
    let mut config = demo_config();
    // Ended sessions and events go after a day, so that most of what the sales wrote is freed.
    config.gateway.keep_sessions_secs = DAY as u64;
    let env = TestEnv::with(Store::open(&path).unwrap(), config, T0);
    let size = || std::fs::metadata(&path).unwrap().len();
    let mut peak = 0;
    for _ in 0..8 {
        sell(&env, 1, 100);
        peak = peak.max(size());
    }
    let books = |env: &TestEnv| {
        let all = env.app.store.read(|r| r.payments_since(T0 - DAY, 100_000));
        let all = all.unwrap();
        let money: i64 = all.iter().map(|p| p.amount.0).sum();
        (all.len(), money)
    };
    let before = books(&env);
    // Three quiet days: retention archives and forgets what the week wrote. Its transactions
    // are lazy, and redb gives their pages back at the next durable commit: the next sale's.
    for _ in 0..24 {
        env.advance(3 * 3600);
    }
    let (paid, _) = sell(&env, 1, 1);
    assert_eq!(paid, 1);
    let after = size();
    // Nothing lost, and the store (its handle swapped under the app) still sells.
    let (count, money) = books(&env);
    assert_eq!(
        (count - 1, money - 2_000),
        before,
        "one sale of 20 shillings more"
    );
    assert!(!copy_exists(&path));
    let (paid, _) = sell(&env, 1, 1);
    assert_eq!(paid, 1);
    eprintln!(
        "store file: peak {peak} bytes, {after} after retention and compaction ({} in use)",
        env.app.store.bytes_in_use().unwrap()
    );
    let _ = std::fs::remove_file(&path);
    assert!(
        after * 10 < peak * 7,
        "the file is {after} bytes after retention, its peak was {peak}"
    );
}
