//! Issue 16, devices per package: a voucher or a paid purchase of a package with `option devices
//! 'N'` is used on up to N devices. In process (the app, the portal handler, the fake firewall):
//! the Nth device joins, the (N+1)th is refused in both languages, the same device counts once,
//! the devices share one quota and end together (kick, expiry, quota), an extension reaches
//! them all, a paid purchase shows its share code. In the lab (real kernel): two guests on one
//! code, a third refused, one shared quota spent by both, a kick that takes both offline.

use std::net::IpAddr;

use lango::app::RedeemError;
use lango::core::config;
use lango::core::payments::StkOutcome;
use lango::core::sessions::{EndReason, Lifecycle, Session};
use lango::store::Store;
use lango::web::portal::Ctx;

use crate::lab::{Lab, WAN4};
use crate::support::{call_handler, guest, Reply, TestEnv, T0};

/// The demo's packages plus one for two devices with 1 MB of data, and one for three.
const FAMILY: &str = "config package 'family'\n\toption name 'Family'\n\toption price '100'\n\
     \toption duration '1h'\n\toption data '1MB'\n\toption devices '2'\n\
     config package 'three'\n\toption name 'Three'\n\toption price '150'\n\
     \toption duration '1d'\n\toption devices '3'\n";

fn env() -> TestEnv {
    let text = format!("{}\n{FAMILY}", lango::daemon::DEMO_CONFIG);
    let config = config::parse(&text, "demo.conf").expect("the config parses");
    TestEnv::with(Store::in_memory().unwrap(), config, T0)
}

fn voucher(env: &TestEnv, package: &str) -> String {
    let batch = env.app.generate_vouchers(package, 1, "", None).unwrap();
    batch.unwrap()[0].code.clone()
}

fn session(env: &TestEnv, ip: IpAddr) -> Session {
    match env.app.device(ip).unwrap().unwrap().lifecycle {
        Lifecycle::Active(s) => s,
        other => panic!("not online: {other:?}"),
    }
}

fn latest(env: &TestEnv, n: u8) -> Session {
    let mac = guest(n).1;
    let latest = env.app.store.read(|r| r.latest_session(mac)).unwrap();
    latest.expect("a session")
}

fn portal(env: &TestEnv, ip: IpAddr, method: &str, path: &str, lang: &str, body: &str) -> Reply {
    let ctx = Ctx::new(env.app.clone());
    let cookie = format!("lang={lang}");
    let headers = [
        ("Host", "127.0.0.1:8080"),
        ("Cookie", cookie.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    call_handler(
        |r| lango::web::portal::handle(&ctx, r),
        ip,
        method,
        path,
        &headers,
        body,
    )
}

#[test]
fn a_voucher_for_two_devices_takes_two_and_refuses_a_third_in_both_languages() {
    let env = env();
    let code = voucher(&env, "family");
    let first = env.app.redeem(guest(1).0, &code).unwrap();
    let second = env.app.redeem(guest(2).0, &code).unwrap();
    assert_eq!(second.deadline, first.deadline, "the same end time");
    assert_eq!((second.joined, second.group()), (Some(first.id), first.id));
    // The same device again counts once (either device).
    assert_eq!(env.app.redeem(guest(2).0, &code).unwrap().id, second.id);
    assert_eq!(env.app.redeem(guest(1).0, &code).unwrap().id, first.id);
    // The third device is refused, with the number.
    assert!(matches!(
        env.app.redeem(guest(3).0, &code),
        Err(RedeemError::Full(2))
    ));
    let en = portal(
        &env,
        guest(3).0,
        "POST",
        "/voucher",
        "en",
        &format!("code={code}"),
    );
    assert_eq!(en.status, 409);
    assert!(
        en.body
            .contains("This code is already used on 2 devices, as many as it allows."),
        "{}",
        en.body
    );
    let sw = portal(
        &env,
        guest(3).0,
        "POST",
        "/voucher",
        "sw",
        &format!("code={code}"),
    );
    assert_eq!(sw.status, 409);
    assert!(
        sw.body
            .contains("Nambari hii tayari inatumika kwenye vifaa 2, vyote inavyoruhusu."),
        "{}",
        sw.body
    );
    env.app.run_due();
    assert!(env.firewall.allows(guest(1).1) && env.firewall.allows(guest(2).1));
    assert!(!env.firewall.allows(guest(3).1));
    // One purchase for the kernel: both devices point at the first session's quota.
    let last = env.firewall.last().unwrap();
    assert!(last.clients.iter().all(|c| c.group == first.id), "{last:?}");
    // The online page tells how to add a device, with the code.
    let home = portal(&env, guest(2).0, "GET", "/", "en", "");
    assert!(home.body.contains("This purchase is for up to 2 devices."));
    assert!(home.body.contains(&lango::core::vouchers::display(&code)));
}

#[test]
fn a_package_for_one_device_keeps_todays_rules() {
    let env = env();
    let code = voucher(&env, "hour");
    env.app.redeem(guest(1).0, &code).unwrap();
    assert!(matches!(
        env.app.redeem(guest(2).0, &code),
        Err(RedeemError::Refused(lango::core::vouchers::Refusal::Used))
    ));
    let page = portal(&env, guest(1).0, "GET", "/", "en", "");
    assert!(
        !page.body.contains("devices"),
        "no share card for one device"
    );
}

#[test]
fn the_devices_share_one_quota_and_end_together() {
    let env = env();
    let code = voucher(&env, "family");
    env.app.redeem(guest(1).0, &code).unwrap();
    env.app.redeem(guest(2).0, &code).unwrap();
    env.app.run_due();
    // 600 KB each: neither alone used the 1 MB, together they did.
    env.firewall.set_usage(guest(1).1, 100_000, 500_000);
    env.firewall.set_usage(guest(2).1, 100_000, 500_000);
    env.advance(30);
    env.advance(1);
    assert!(!env.firewall.allows(guest(1).1) && !env.firewall.allows(guest(2).1));
    for n in [1, 2] {
        assert_eq!(
            latest(&env, n).end_reason,
            Some(EndReason::Quota),
            "guest {n}"
        );
    }
    // An ended purchase takes nobody new.
    assert!(matches!(
        env.app.redeem(guest(3).0, &code),
        Err(RedeemError::Refused(_))
    ));
}

#[test]
fn kick_extension_and_expiry_apply_to_every_device_of_the_purchase() {
    let env = env();
    let code = voucher(&env, "three");
    let first = env.app.redeem(guest(1).0, &code).unwrap();
    let second = env.app.redeem(guest(2).0, &code).unwrap();
    // The owner extends the purchase from either device's row: both end later.
    let extended = env.app.extend_session(second.id, 60).unwrap().unwrap();
    assert_eq!(extended.deadline, first.deadline + 3600);
    assert_eq!(session(&env, guest(1).0).deadline, first.deadline + 3600);
    assert_eq!(session(&env, guest(2).0).deadline, first.deadline + 3600);
    // The first device buys more: the joined device follows.
    env.app.redeem(guest(1).0, &voucher(&env, "three")).unwrap();
    let later = first.deadline + 3600 + 86_400;
    assert_eq!(session(&env, guest(2).0).deadline, later);
    // A third device joins after the extension, with the new end.
    assert_eq!(env.app.redeem(guest(3).0, &code).unwrap().deadline, later);
    env.app.run_due();
    // A kick of one device's row ends the purchase on all three.
    assert!(env.app.revoke_session(second.id).unwrap());
    env.app.run_due();
    for n in 1..=3 {
        assert!(!env.firewall.allows(guest(n).1), "guest {n}");
        assert_eq!(latest(&env, n).end_reason, Some(EndReason::Revoked));
    }
    // Expiry: a new purchase, both devices end at its deadline.
    let code = voucher(&env, "family");
    env.app.redeem(guest(4).0, &code).unwrap();
    env.app.redeem(guest(5).0, &code).unwrap();
    env.app.run_due();
    assert!(env.firewall.allows(guest(4).1) && env.firewall.allows(guest(5).1));
    env.advance(3600);
    env.advance(6);
    assert!(!env.firewall.allows(guest(4).1) && !env.firewall.allows(guest(5).1));
    for n in [4, 5] {
        assert_eq!(latest(&env, n).end_reason, Some(EndReason::Time));
    }
}

#[test]
fn a_paid_purchase_for_two_devices_is_shared_with_its_code() {
    let env = env();
    let (ip, _) = guest(1);
    let payment = env.app.start_purchase(ip, "family", "0712345678").unwrap();
    env.app.run_due();
    let paid = StkOutcome::Paid {
        receipt: Some("UKN7RT61SX".into()),
        amount: None,
    };
    env.app.settle(payment.id, &paid).unwrap();
    env.app.run_due();
    let share = lango::core::payments::share_code(&payment.token).unwrap();
    let shown = lango::core::vouchers::display(&share);
    // The buyer's online page shows the code; it is not the move code.
    let home = portal(&env, ip, "GET", "/", "en", "");
    assert!(home.body.contains(&shown), "{}", home.body);
    assert!(!shown.contains(&lango::core::payments::move_code(&payment.token)));
    // Another device enters it in the voucher box and is online until the same end.
    let joined = portal(
        &env,
        guest(2).0,
        "POST",
        "/voucher",
        "en",
        &format!("code={shown}"),
    );
    assert_eq!(joined.status, 303, "{}", joined.body);
    assert_eq!(
        session(&env, guest(2).0).deadline,
        session(&env, ip).deadline
    );
    let refused = portal(
        &env,
        guest(3).0,
        "POST",
        "/voucher",
        "sw",
        &format!("code={shown}"),
    );
    assert_eq!(refused.status, 409);
    env.app.run_due();
    assert!(env.firewall.allows(guest(2).1) && !env.firewall.allows(guest(3).1));
    // Moving the purchase (the buyer's phone changed its MAC) keeps the joined device, and
    // the purchase still counts two devices.
    let first = session(&env, ip);
    assert_eq!(first.members.len(), 1);
    let (new_ip, new_mac) = guest(4);
    let moved = env
        .app
        .move_session(new_ip, "UKN7RT61SX", "0712345678")
        .unwrap();
    assert_eq!((moved.id, moved.mac), (first.id, new_mac));
    env.app.run_due();
    assert!(env.firewall.allows(new_mac) && env.firewall.allows(guest(2).1));
    assert!(!env.firewall.allows(guest(1).1), "the old MAC loses access");
    assert!(matches!(
        env.app.redeem(guest(3).0, &shown),
        Err(RedeemError::Full(2))
    ));
    // A joined device cannot take the purchase with the receipt: it has time already.
    assert!(env
        .app
        .move_session(guest(2).0, "UKN7RT61SX", "0712345678")
        .is_err());
}

// ---- the lab: the real kernel ----

/// A 3 MB purchase for two devices (the lab's WAN serves `1mb.bin` and `4mb.bin`).
const LAB_FAMILY: &str = "config package 'family'\n\toption name 'Family'\n\toption price '50'\n\
     \toption duration '1h'\n\toption data '3MB'\n\toption devices '2'\n";

/// Bytes guest `n` downloads of `file` from the lab's WAN host.
fn fetch(lab: &Lab, n: usize, file: &str) -> u64 {
    let url = format!("http://{WAN4}/{file}");
    let args = [
        "--max-time",
        "5",
        "-o",
        "/dev/null",
        "-w",
        "%{size_download}",
        url.as_str(),
    ];
    let (_, size) = lab.curl(n, &args);
    size.trim().parse().unwrap_or(0)
}

#[test]
fn lab_a_voucher_for_two_devices_shares_one_quota_in_the_kernel() {
    let Some(lab) = Lab::start(3, LAB_FAMILY) else {
        return;
    };
    for n in 1..=3 {
        lab.dhcp(n);
    }
    let code = lab.voucher("family");
    lab.redeem(1, &code);
    lab.redeem(2, &code);
    lab.wait_for("guests 1 and 2 online", || {
        lab.online(1, false) && lab.online(2, false)
    });
    lab.redeem(3, &code);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(!lab.online(3, false), "the third device stays out");
    let table = String::from_utf8_lossy(
        &lab.exec(&lab.ns_router, &["nft", "list", "table", "inet", "lango"])
            .stdout,
    )
    .into_owned();
    assert_eq!(
        table.matches("quota q").count(),
        1,
        "one quota object:\n{table}"
    );
    // Each downloads 1 MB, then each tries 4 MB more: the 3 MB are shared, and used up.
    let first = fetch(&lab, 1, "1mb.bin");
    let second = fetch(&lab, 2, "1mb.bin");
    let third = fetch(&lab, 1, "4mb.bin");
    let last = fetch(&lab, 2, "4mb.bin");
    let total = first + second + third + last;
    eprintln!(
        "lab: 3 MB shared by two devices: guest 1 1 MB file {first}, guest 2 1 MB file {second}, \
         guest 1 4 MB file {third}, guest 2 4 MB file {last}: {total} bytes of payload"
    );
    assert!(
        first >= 1_000_000 && second >= 1_000_000,
        "{first} {second}"
    );
    assert!(
        third < 1_000_000,
        "guest 1 had only what guest 2 left: {third}"
    );
    assert!(last < 100_000, "nothing left for guest 2: {last}");
    assert!(
        (2_700_000..3_300_000).contains(&total),
        "{total} bytes on a 3 MB shared quota"
    );
    lab.wait_for("both cut", || {
        !lab.online(1, false) && !lab.online(2, false)
    });
}

#[test]
fn lab_a_kick_or_the_end_of_a_purchase_for_two_devices_takes_both_offline() {
    let short = "config package 'short'\n\toption name 'Short'\n\toption price '5'\n\
         \toption duration '8s'\n\toption devices '2'\n";
    let Some(lab) = Lab::start(2, &format!("{LAB_FAMILY}{short}")) else {
        return;
    };
    lab.dhcp(1);
    lab.dhcp(2);
    let code = lab.voucher("family");
    lab.redeem(1, &code);
    lab.redeem(2, &code);
    lab.wait_for("both online", || {
        lab.online(1, false) && lab.online(2, false)
    });
    let overview = lab.admin("GET", "/api/overview", "");
    let sessions = overview["sessions"].as_array().cloned().unwrap_or_default();
    assert_eq!(sessions.len(), 2, "{overview}");
    // The owner kicks one row: the purchase ends on both devices.
    let id = sessions[1]["id"].as_u64().expect("a session id");
    lab.admin("POST", "/api/sessions/revoke", &format!("id={id}"));
    lab.wait_for("both offline", || {
        !lab.online(1, false) && !lab.online(2, false)
    });
    // An 8 s purchase for both: its end takes both offline at once.
    let code = lab.voucher("short");
    lab.redeem(1, &code);
    lab.redeem(2, &code);
    let granted = std::time::Instant::now();
    lab.wait_for("both online again", || {
        lab.online(1, false) && lab.online(2, false)
    });
    std::thread::sleep(std::time::Duration::from_secs(8).saturating_sub(granted.elapsed()));
    lab.wait_for("both offline at the end", || {
        !lab.online(1, false) && !lab.online(2, false)
    });
    let ended = crate::lab::secs(granted);
    eprintln!("lab: an 8 s purchase for two devices: both offline {ended:.2} s after the grant");
    assert!(ended < 10.0, "{ended}");
}
