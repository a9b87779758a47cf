//! Issue 16, the free trial, through the portal's handler: one tap grants it with its own speed
//! cap; a device gets one per local day, also under a new MAC with the same host name, client
//! identifier or address; the router's daily cap; refusals in English and Kiswahili; not for
//! sale; its records survive a restart and go after two days; no money moves. The real kernel:
//! tests/it/gate.rs (`lab_trial_…`).

use std::net::IpAddr;

use lango::core::config::{self, Config};
use lango::core::model::Mac;
use lango::store::Store;
use lango::web::portal::Ctx;

use crate::support::{call_handler, guest, Reply, TempDir, TestEnv, T0};

/// The demo's packages and a trial of 15 minutes at 2 Mbit/s, at most `per_day` a day.
fn trial_config(per_day: u32) -> Config {
    let text = format!(
        "{}\nconfig package 'free'\n\toption name 'Free trial'\n\toption trial '1'\n\
         \toption duration '15m'\n\toption rate_down '2M'\n\toption rate_up '1M'\n\
         \toption trials_per_day '{per_day}'\n",
        lango::daemon::DEMO_CONFIG
    );
    config::parse(&text, "demo.conf").expect("the trial config parses")
}

fn env_with(per_day: u32) -> TestEnv {
    TestEnv::with(Store::in_memory().unwrap(), trial_config(per_day), T0)
}

fn call(env: &TestEnv, ip: IpAddr, method: &str, path: &str, lang: &str, body: &str) -> Reply {
    let ctx = Ctx::new(env.app.clone());
    let headers = [
        ("Host", "127.0.0.1:8080"),
        ("Accept-Language", lang),
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

/// One tap on the trial button.
fn tap(env: &TestEnv, ip: IpAddr, lang: &str) -> Reply {
    call(env, ip, "POST", "/trial", lang, "")
}

fn allowed(env: &TestEnv, mac: Mac) -> Option<lango::core::firewall::AllowedClient> {
    env.app.run_due();
    let desired = env.firewall.last()?;
    desired.clients.into_iter().find(|c| c.mac == mac)
}

/// A fourth guest on the network: a new MAC at a new address.
fn newcomer(env: &TestEnv, n: u8) -> (IpAddr, Mac) {
    let (ip, mac) = (
        IpAddr::from([192, 168, 1, 200 + n]),
        Mac([0xbb, 0, 0, 0, 0, n]),
    );
    env.neighbours.insert(ip, mac);
    (ip, mac)
}

#[test]
fn the_portal_offers_the_trial_and_one_tap_opens_the_internet_at_its_speed() {
    let env = env_with(50);
    let (ip, mac) = guest(1);
    let home = call(&env, ip, "GET", "/", "en", "");
    assert!(home.body.contains("action=\"/trial\""), "{}", home.body);
    assert!(home.body.contains("Free 15 minutes"));
    assert!(home.body.contains("No phone number needed"));
    let home_sw = call(&env, ip, "GET", "/", "sw", "");
    assert!(home_sw.body.contains("Dakika 15 bure"), "{}", home_sw.body);

    let reply = tap(&env, ip, "en");
    assert_eq!(reply.status, 303, "{}", reply.body);
    let client = allowed(&env, mac).expect("the trial device is allowed");
    assert_eq!(client.rate_down_kbit, Some(2000));
    assert_eq!(client.rate_up_kbit, Some(1000));
    assert_eq!(client.timeout_ms, 15 * 60 * 1000);
    let home = call(&env, ip, "GET", "/", "en", "");
    assert!(home.body.contains("You are online"));
    assert!(
        !home.body.contains("action=\"/trial\""),
        "no trial offer while online"
    );

    // A sale of 0: the event log has it, the books have no payment and no money.
    let events = env.app.store.read(|r| r.recent_events(10)).unwrap();
    let event = events.iter().find(|e| e.kind == "trial_granted").unwrap();
    assert_eq!(event.mac, Some(mac));
    let detail = "free trial Free trial (1 of 50 today)";
    assert!(event.detail.contains(detail), "{}", event.detail);
    let payments = env.app.store.read(|r| r.recent_payments(10)).unwrap();
    assert!(payments.is_empty());

    // The trial ends after its minutes.
    env.advance(15 * 60 + 6);
    assert!(allowed(&env, mac).is_none(), "the trial is over");
}

#[test]
fn a_device_gets_one_trial_a_local_day_and_the_next_after_midnight() {
    let env = env_with(50);
    let (ip, mac) = guest(1);
    assert_eq!(tap(&env, ip, "en").status, 303);
    // Online: the button is refused rather than stacking time.
    let again = tap(&env, ip, "en");
    assert_eq!(again.status, 409);
    env.advance(16 * 60);
    assert!(allowed(&env, mac).is_none());
    let again = tap(&env, ip, "en");
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again
        .body
        .contains("You have used today's free trial on this device. It comes back at 00:00."));
    let sw = tap(&env, ip, "sw");
    assert!(
        sw.body.contains("Umeshatumia majaribio ya bure ya leo"),
        "{}",
        sw.body
    );
    assert!(allowed(&env, mac).is_none(), "a refusal grants nothing");
    // T0 is 11:00 in Nairobi; a second before local midnight it is still refused, after it
    // the trial comes back.
    let midnight = T0 - T0.rem_euclid(86_400) + 86_400 - 3 * 3600;
    let now = env.app.time().now;
    env.advance(midnight - 1 - now);
    assert_eq!(tap(&env, ip, "en").status, 409);
    env.advance(2);
    assert_eq!(tap(&env, ip, "en").status, 303);
    assert!(allowed(&env, mac).is_some());
}

#[test]
fn a_new_mac_with_the_same_host_name_client_id_or_address_is_the_same_device() {
    let env = env_with(50);
    let (ip, mac) = guest(1);
    env.neighbours.name(mac, "Amina-Laptop");
    env.neighbours.client_id(mac, "ff:00:11:22:33");
    assert_eq!(tap(&env, ip, "en").status, 303);
    env.advance(16 * 60);

    // The same laptop under a new MAC, with its host name: refused.
    let (ip2, mac2) = newcomer(&env, 1);
    env.neighbours.name(mac2, "amina-laptop");
    assert_eq!(tap(&env, ip2, "en").status, 409);
    // With its DHCP client identifier (a DUID survives a MAC change): refused.
    let (ip3, mac3) = newcomer(&env, 2);
    env.neighbours.client_id(mac3, "FF:00:11:22:33");
    assert_eq!(tap(&env, ip3, "en").status, 409);
    // With the address it kept (dnsmasq gives a known client its lease back): refused.
    let mac4 = Mac([0xbb, 0, 0, 0, 0, 4]);
    env.neighbours.insert(ip, mac4);
    assert_eq!(tap(&env, ip, "en").status, 409);
    // A stranger with a common host name is another device.
    let (ip5, mac5) = newcomer(&env, 5);
    env.neighbours.name(mac5, "iPhone");
    assert_eq!(tap(&env, ip5, "en").status, 303);
    for m in [mac2, mac3, mac4] {
        assert!(allowed(&env, m).is_none());
    }
}

#[test]
fn the_router_gives_at_most_trials_per_day() {
    let env = env_with(2);
    for n in 1..=2 {
        assert_eq!(tap(&env, guest(n).0, "en").status, 303);
    }
    let (ip, mac) = guest(3);
    let refused = tap(&env, ip, "en");
    assert_eq!(refused.status, 429);
    assert!(refused
        .body
        .contains("Today's free trials are all taken. They come back at 00:00."));
    let sw = tap(&env, guest(4).0, "sw");
    assert!(
        sw.body.contains("Majaribio ya bure ya leo yameisha"),
        "{}",
        sw.body
    );
    assert!(allowed(&env, mac).is_none());
    // The next local day has two again.
    env.advance(86_400);
    assert_eq!(tap(&env, ip, "en").status, 303);
}

#[test]
fn a_trial_is_not_for_sale_nor_for_blocked_devices() {
    let env = env_with(50);
    let (ip, mac) = guest(1);
    let buy = call(
        &env,
        ip,
        "POST",
        "/buy",
        "en",
        "package=free&phone=0712345678",
    );
    assert_ne!(buy.status, 303, "{}", buy.body);
    assert!(env
        .app
        .store
        .read(|r| r.recent_payments(10))
        .unwrap()
        .is_empty());
    for path in ["/api/packages", "/api/portal/packages"] {
        let list = call(&env, ip, "GET", path, "en", "");
        assert!(!list.body.contains("Free trial"), "{path}: {}", list.body);
    }
    env.app.set_blocked(mac, true).unwrap();
    assert_eq!(tap(&env, ip, "en").status, 403);
    assert!(allowed(&env, mac).is_none());
}

#[test]
fn the_marks_survive_a_restart_and_are_forgotten_after_two_days() {
    let dir = TempDir::new("trial-restart");
    let path = dir.path("lango.redb");
    let (ip, mac) = guest(1);
    {
        let env = TestEnv::with(Store::open(&path).unwrap(), trial_config(50), T0);
        assert_eq!(tap(&env, ip, "en").status, 303);
    }
    let env = TestEnv::with(Store::open(&path).unwrap(), trial_config(50), T0 + 20 * 60);
    let again = tap(&env, ip, "en");
    assert_eq!(
        again.status, 409,
        "the trial was remembered across the restart"
    );
    let today = |env: &TestEnv| {
        let day = lango::core::time::local_day(env.app.time().now, 3 * 3600);
        let prefix = format!("{} m ", lango::core::time::date_of_day(day));
        env.app
            .store
            .read(|r| r.trial_marks(&[format!("{prefix}{mac}")], &prefix))
            .unwrap()
    };
    assert_eq!(today(&env).1, 1);
    // Three days on (the retention pass runs every few hours), the first day's marks are gone.
    for _ in 0..3 * 8 {
        env.advance(3 * 3600);
    }
    let first_day = lango::core::time::date_of_day(lango::core::time::local_day(T0, 3 * 3600));
    let key = format!("{first_day} m {mac}");
    let (taken, n) = env
        .app
        .store
        .read(|r| r.trial_marks(std::slice::from_ref(&key), &format!("{first_day} ")))
        .unwrap();
    assert_eq!((taken, n), (None, 0), "the old marks were forgotten");
}

/// Guest `n` taps the trial button: the HTTP status and the page.
fn lab_tap(lab: &crate::lab::Lab, n: usize) -> (String, String) {
    let out = lab.exec(
        &lab.ns_guests[n - 1],
        &[
            "curl",
            "-s",
            "--max-time",
            "3",
            "-w",
            "\n%{http_code}",
            "-X",
            "POST",
            "http://10.77.0.1:8080/trial",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", ""));
    (status.to_string(), body.to_string())
}

/// The real kernel: a guest takes the trial in one request and reaches the WAN at the trial's
/// speed; the trial ends after its time; the same guest is refused the same day, also after
/// changing its MAC (same host name and client id, a new lease); the router's cap holds.
#[test]
fn lab_trial_one_tap_capped_once_a_day_also_under_a_new_mac() {
    use crate::lab::{Lab, WAN4};
    use std::time::{Duration, Instant};
    let trial = "config package 'free'\n\toption name 'Free'\n\toption trial '1'\n\
                 \toption duration '30s'\n\toption rate_down '4M'\n\toption rate_up '2M'\n\
                 \toption trials_per_day '2'\n";
    let Some(mut lab) = Lab::start(3, trial) else {
        return;
    };
    let who = [
        "-x",
        "hostname:amina-laptop",
        "-C",
        "-x",
        "0x3d:ff00112233445566",
    ];
    lab.dhcp_with(1, &who);
    assert!(!lab.online(1, false));
    let (status, _) = lab_tap(&lab, 1);
    let granted = Instant::now();
    assert_eq!(status, "303", "one request grants the trial");
    lab.wait_for("the trial guest online", || lab.online(1, false));

    // Its own speed cap, measured with iperf3 from the wan host (the first second left out).
    let ns = lab.ns_wan.clone();
    lab.spawn(&ns, &["iperf3", "-s", "-B", WAN4]);
    std::thread::sleep(Duration::from_millis(300));
    let out = lab.exec(
        &lab.ns_guests[0],
        &["iperf3", "-c", WAN4, "-R", "-t", "4", "-O", "1", "-J"],
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let down = json
        .pointer("/end/sum_received/bits_per_second")
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    eprintln!(
        "lab: trial speed cap 4 Mbit/s down; measured {:.2} Mbit/s ({:.0}%)",
        down / 1e6,
        down / 4e6 * 100.0
    );
    assert!((4e6 * 0.7..4e6 * 1.25).contains(&down), "down {down}");

    // A second tap while online is refused; the trial ends after its 30 s.
    assert_eq!(lab_tap(&lab, 1).0, "409");
    while lab.online(1, false) {
        assert!(
            granted.elapsed() < Duration::from_secs(45),
            "the trial did not end"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let ended = granted.elapsed().as_secs_f64();
    eprintln!("lab: a 30 s trial ended after {ended:.1} s");
    assert!(ended >= 29.0, "{ended}");
    // The kernel ends access to the second; lango's record follows within its expiry batch.
    lab.wait_for("the trial's session ended in the store", || {
        let (_, page) = lab.curl(1, &["http://10.77.0.1:8080/"]);
        page.contains("action=\"/trial\"")
    });
    let (status, body) = lab_tap(&lab, 1);
    assert_eq!(status, "409");
    assert!(body.contains("used today's free trial"), "{body}");

    // The same laptop with a new MAC, the same host name and client id, and a new lease.
    let g = lab.ns_guests[0].clone();
    crate::lab::ok(&[
        "ip",
        "-n",
        &g,
        "link",
        "set",
        "eth0",
        "address",
        "02:aa:00:00:00:99",
    ]);
    let router = lab.ns_router.clone();
    crate::lab::ok(&["ip", "-n", &router, "neigh", "flush", "dev", "br-guest"]);
    lab.dhcp_with(1, &who);
    let leases = std::fs::read_to_string(lab.dir.path("leases")).unwrap();
    assert!(leases.contains("02:aa:00:00:00:99"), "{leases}");
    let (status, body) = lab_tap(&lab, 1);
    assert_eq!(status, "409", "{body}");
    assert!(body.contains("used today's free trial"), "{body}");
    let arp = crate::lab::ok(&["ip", "-n", &router, "neigh", "show", "dev", "br-guest"]);
    assert!(
        arp.contains("02:aa:00:00:00:99"),
        "lango saw the new MAC: {arp}"
    );
    assert!(!lab.online(1, false));

    // Two trials a day on this router: the second guest gets one, the third is refused.
    lab.dhcp(2);
    lab.dhcp(3);
    assert_eq!(lab_tap(&lab, 2).0, "303");
    lab.wait_for("the second guest online", || lab.online(2, false));
    let (status, body) = lab_tap(&lab, 3);
    assert_eq!(status, "429");
    assert!(body.contains("free trials are all taken"), "{body}");
    assert!(!lab.online(3, false));
}
