//! Issue 17, accounting (RFC 2866) against the real FreeRADIUS 3.2 of `radius.rs`, which
//! writes each Accounting-Request it answers as one line of its `acct.log` (linelog). The
//! counters come from the fake firewall (what the kernel's counters would say); the clock is
//! the manual one, so intervals and delays are exact.

use lango::core::config;
use lango::store::Store;

use crate::radius::{post, FreeRadius, SECRET};
use crate::support::{guest, TempDir, TestEnv, T0};

/// The demo config with a radius section at `server` (accounting on by default).
pub(crate) fn acct_env(server: &FreeRadius, store: Store, hosts: &str, extra: &str) -> TestEnv {
    let text = format!(
        "{}\nconfig radius 'radius'\n{hosts}\toption auth_port '{}'\n\toption acct_port '{}'\n\t\
         option secret '{SECRET}'\n\toption nas_id 'test-router'\n\toption timeout '1'\n\t\
         option retries '0'\n{extra}",
        lango::daemon::DEMO_CONFIG,
        server.port,
        server.acct_port
    );
    let config = config::parse(&text, "lango").expect("the config parses");
    TestEnv::with(store, config, T0)
}

pub(crate) const LOCAL: &str = "\toption server '127.0.0.1'\n";

/// Fields of a logged request (`radius::ACCT_FORMAT`).
const STATUS: usize = 0;
const SESSION: usize = 1;
const USER: usize = 2;
const IN: usize = 3;
const OUT: usize = 4;
const IN_GIGA: usize = 5;
const OUT_GIGA: usize = 6;
const TIME: usize = 7;
const CAUSE: usize = 8;
const CLASS: usize = 9;
const EVENT: usize = 10;
const DELAY: usize = 11;

fn statuses(lines: &[Vec<String>]) -> Vec<&str> {
    lines.iter().map(|l| l[STATUS].as_str()).collect()
}

#[test]
fn start_interim_and_stop_reach_freeradius_with_the_counters() {
    let Some(server) = FreeRadius::start("radius accounting") else {
        return;
    };
    let env = acct_env(&server, Store::in_memory().unwrap(), LOCAL, "");
    env.firewall
        .read_one
        .store(true, std::sync::atomic::Ordering::SeqCst);
    env.app.accounting_on().unwrap();
    let (ip, mac) = guest(1);
    assert_eq!(post(&env, ip, "/voucher", "code=HOUR2345AB").status, 303);
    assert_eq!(env.app.deliver_accounting(), 2);
    let lines = server.accounting();
    assert_eq!(statuses(&lines), ["Accounting-On", "Start"]);
    let start = &lines[1];
    assert_eq!(start[USER], "HOUR2345AB");
    // Class "plan-hour" from the Access-Accept, echoed.
    assert_eq!(start[CLASS], "0x706c616e2d686f7572");
    assert_eq!(
        &start[12..],
        [
            "test-router",
            "AA-00-00-00-00-01",
            "192.168.1.101",
            "",
            "RADIUS"
        ]
    );
    assert_eq!(start[EVENT], T0.to_string());

    // Past 4 GiB uploaded (gigawords), within the voucher's quota of 4 GiB + 1000 bytes.
    env.firewall.set_usage(mac, (1 << 32) + 10, 500);
    // The Access-Accept asks for 30 s; lango never goes under 60.
    env.clock.advance(31);
    assert_eq!(env.app.account_interims().unwrap(), 0);
    env.clock.advance(30);
    assert_eq!(env.app.account_interims().unwrap(), 1);
    assert_eq!(env.app.deliver_accounting(), 1);
    let lines = server.accounting();
    let interim = &lines[2];
    assert_eq!(interim[STATUS], "Interim-Update");
    assert_eq!(interim[SESSION], start[SESSION]);
    assert_eq!(
        [
            &interim[IN],
            &interim[IN_GIGA],
            &interim[OUT],
            &interim[OUT_GIGA]
        ],
        ["10", "1", "500", "0"]
    );
    assert_eq!(
        (interim[TIME].as_str(), interim[DELAY].as_str()),
        ("61", "0")
    );
    assert_eq!(interim[CLASS], start[CLASS]);

    // The session's time runs out: the Stop carries the counters read at the end.
    env.firewall.set_usage(mac, (1 << 32) + 20, 900);
    env.advance(3600 - 61);
    assert!(!env.firewall.allows(mac));
    assert_eq!(env.app.deliver_accounting(), 1);
    let lines = server.accounting();
    let stop = &lines[3];
    assert_eq!(
        [&stop[STATUS], &stop[SESSION], &stop[CAUSE], &stop[TIME]],
        ["Stop", &start[SESSION], "Session-Timeout", "3600"]
    );
    assert_eq!([&stop[IN], &stop[IN_GIGA], &stop[OUT]], ["20", "1", "900"]);
    // Nothing more is due for an ended session, and nothing is sent twice.
    env.clock.advance(600);
    assert_eq!(env.app.account_interims().unwrap(), 0);
    assert_eq!(env.app.deliver_accounting(), 0);
    env.app.accounting_off().unwrap();
    let lines = server.accounting();
    assert_eq!(
        statuses(&lines),
        [
            "Accounting-On",
            "Start",
            "Interim-Update",
            "Stop",
            "Accounting-Off"
        ]
    );
    assert_eq!(env.app.accounting_queued(), 0);
}

/// The server stopped: records wait on flash, in order; lango is then killed (its store
/// dropped without a clean stop: every record was written durably before), started again on
/// the same file, and the server comes back: each record arrives once, with its delay.
#[test]
fn records_wait_on_flash_through_a_kill_and_arrive_once() {
    let Some(mut server) = FreeRadius::start("radius accounting queue") else {
        return;
    };
    let dir = TempDir::new("acct-queue");
    let path = dir.path("lango.redb");
    let env = acct_env(&server, Store::open(&path).unwrap(), LOCAL, "");
    env.app.accounting_on().unwrap();
    let (ip, mac) = guest(1);
    assert_eq!(post(&env, ip, "/voucher", "code=HOUR2345AB").status, 303);
    server.stop();
    assert_eq!(env.app.deliver_accounting(), 0);
    // Backing off: no new attempt before the back-off has passed.
    assert_eq!(env.app.deliver_accounting(), 0);
    env.firewall.set_usage(mac, 3000, 4000);
    env.clock.advance(60);
    assert_eq!(env.app.account_interims().unwrap(), 1);
    env.clock.advance(5);
    let session = env.app.store.read(|r| r.active_session(mac)).unwrap();
    assert!(env.app.revoke_session(session.unwrap().id).unwrap());
    assert_eq!(env.app.deliver_accounting(), 0);
    assert_eq!(env.app.accounting_queued(), 4);
    assert!(server.accounting().is_empty());
    drop(env);

    server.run();
    let env = acct_env(&server, Store::open(&path).unwrap(), LOCAL, "");
    env.clock.advance(100);
    assert_eq!(env.app.accounting_queued(), 4);
    assert_eq!(env.app.deliver_accounting(), 4);
    assert_eq!(env.app.deliver_accounting(), 0);
    let lines = server.accounting();
    assert_eq!(
        statuses(&lines),
        ["Accounting-On", "Start", "Interim-Update", "Stop"]
    );
    // The delay is counted from each record's own time.
    let delays: Vec<&str> = lines.iter().map(|l| l[DELAY].as_str()).collect();
    assert_eq!(delays, ["100", "100", "40", "35"]);
    assert_eq!([&lines[3][CAUSE], &lines[3][IN]], ["Admin-Reset", "3000"]);
}

/// The primary does not answer (nothing listens on 127.0.0.2): the backup gets the records.
#[test]
fn the_backup_server_gets_the_records_when_the_primary_is_down() {
    let Some(server) = FreeRadius::start("radius accounting backup") else {
        return;
    };
    let hosts = "\toption server '127.0.0.2'\n\toption backup_server '127.0.0.1'\n";
    let env = acct_env(&server, Store::in_memory().unwrap(), hosts, "");
    env.app.accounting_on().unwrap();
    assert_eq!(env.app.deliver_accounting(), 1);
    assert_eq!(statuses(&server.accounting()), ["Accounting-On"]);
}

/// A Class value as FreeRADIUS logs it (`0x` and hex) back to text.
fn class_text(logged: &str) -> String {
    let hex = logged.strip_prefix("0x").unwrap_or_default();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    String::from_utf8(bytes).unwrap()
}

/// Sales made on the router reach the server as accounting: an M-Pesa purchase and a local
/// voucher, each a Start whose Class names the package, amount, currency and receipt; buying
/// more on the same device is an Interim-Update carrying the second sale.
#[test]
fn sales_made_on_the_router_arrive_as_accounting() {
    let Some(server) = FreeRadius::start("radius accounting sales") else {
        return;
    };
    let env = acct_env(&server, Store::in_memory().unwrap(), LOCAL, "");
    let (ip, mac) = guest(2);
    let pay = |env: &TestEnv| -> u64 {
        let id = env.app.start_purchase(ip, "hour", "0712345678").unwrap().id;
        for _ in 0..10 {
            env.advance(2);
            let paid = env.app.store.read(|r| r.payment(id)).unwrap();
            if paid.is_some_and(|p| p.session_id.is_some()) {
                break;
            }
        }
        id
    };
    let first = pay(&env);
    assert!(env.firewall.allows(mac));
    let code = env.hour_voucher();
    let reply = post(&env, guest(3).0, "/voucher", &format!("code={code}"));
    assert_eq!(reply.status, 303);
    assert_eq!(env.app.deliver_accounting(), 2);
    let lines = server.accounting();
    assert_eq!(statuses(&lines), ["Start", "Start"]);
    let payment = env.app.store.read(|r| r.payment(first)).unwrap().unwrap();
    // The receipt when the query gave one, else the payment's number.
    let receipt = payment.receipt.unwrap_or(format!("payment-{first}"));
    let price = payment.amount.0;
    let sale = format!("lango-sale package=hour amount={price} currency=KES receipt={receipt}");
    assert_eq!(class_text(&lines[0][CLASS]), sale);
    assert_eq!(lines[0][USER], "AA-00-00-00-00-02");
    assert_eq!(lines[0][16], "Local");
    assert_eq!(lines[1][USER], code);
    assert_eq!(
        class_text(&lines[1][CLASS]),
        format!("lango-sale package=hour amount={price} currency=KES receipt=voucher-{code}")
    );
    // Buy more on the same device: the same session, an Interim-Update with the new sale.
    env.clock.advance(120);
    let second = pay(&env);
    assert_eq!(env.app.deliver_accounting(), 1);
    let lines = server.accounting();
    assert_eq!(lines[2][STATUS], "Interim-Update");
    assert_eq!(lines[2][SESSION], lines[0][SESSION]);
    let second = env.app.store.read(|r| r.payment(second)).unwrap().unwrap();
    let receipt2 = second.receipt.unwrap_or(format!("payment-{}", second.id));
    assert_ne!(receipt2, receipt);
    assert!(class_text(&lines[2][CLASS]).ends_with(&format!("receipt={receipt2}")));
}

/// FreeRADIUS checks the Request Authenticator: signed with another secret, a record gets no
/// response and stays queued.
#[test]
fn a_record_signed_with_another_secret_stays_queued() {
    let Some(server) = FreeRadius::start("radius accounting secret") else {
        return;
    };
    let extra = "\toption acct_secret 'not-the-secret'\n";
    let env = acct_env(&server, Store::in_memory().unwrap(), LOCAL, extra);
    env.app.accounting_on().unwrap();
    assert_eq!(env.app.deliver_accounting(), 0);
    assert_eq!(env.app.accounting_queued(), 1);
    assert!(server.accounting().is_empty());
}

/// Status-Server probes (RFC 5997): the real server answers, an address where nothing
/// listens does not; `ubus call lango status`, the owner page and `/metrics` say so, and a
/// server that stops answering is seen at its next probe.
#[test]
fn status_server_probes_show_in_ubus_status_and_on_the_owner_page() {
    use lango::adapters::ubusd::UbusHandler;
    let Some(mut server) = FreeRadius::start("radius status-server") else {
        return;
    };
    let hosts = "\toption server '127.0.0.1'\n\toption backup_server '127.0.0.2'\n";
    let env = acct_env(&server, Store::in_memory().unwrap(), hosts, "");
    let ubus = lango::ubus::LangoUbus {
        app: env.app.clone(),
        config_path: None,
        gateway: None,
    };
    let states = || {
        let status = ubus.call("status", &serde_json::json!({})).unwrap();
        let radius = &status["radius"];
        assert_eq!(radius["accounting"], true);
        let servers = radius["servers"].as_array().unwrap().clone();
        servers
            .iter()
            .map(|s| format!("{} {}", s["server"].as_str().unwrap(), s["state"]))
            .collect::<Vec<_>>()
    };
    assert_eq!(states(), ["127.0.0.1 \"unknown\"", "127.0.0.2 \"unknown\""]);
    assert_eq!(env.app.probe_radius(), 2);
    assert_eq!(states(), ["127.0.0.1 \"up\"", "127.0.0.2 \"down\""]);
    // Not due again yet.
    assert_eq!(env.app.probe_radius(), 0);
    let owner = crate::support::Owner::sign_in(lango::web::admin::Ctx::new(env.app.clone(), None));
    let page = owner.get("/").body;
    assert!(
        page.contains("127.0.0.1 <span class=\"label success\">answering</span>"),
        "{page}"
    );
    assert!(page.contains("127.0.0.2 <span class=\"label important\">not answering</span>"));
    // And in /metrics, for a fleet's Prometheus.
    let metrics = owner.get("/metrics").body;
    for sample in [
        "lango_radius_up{server=\"127.0.0.1\"} 1",
        "lango_radius_up{server=\"127.0.0.2\"} 0",
        "lango_radius_accounting_queued 0",
    ] {
        assert!(metrics.contains(sample), "{sample} missing from {metrics}");
    }
    server.stop();
    env.clock.advance(30);
    assert_eq!(env.app.probe_radius(), 2);
    assert_eq!(states(), ["127.0.0.1 \"down\"", "127.0.0.2 \"down\""]);
}

/// In the network lab, against the real kernel and a real SIGKILL: `lango serve` accounts a
/// local voucher's session to FreeRADIUS in the wan namespace; the guest downloads 4 MB; with
/// the server stopped the owner ends the session (its Stop queued on flash with the counters
/// nftables kept), lango is killed with SIGKILL and started again, the server comes back, and
/// every record arrives once, the Stop's octets those of the download.
#[test]
fn lab_accounting_counts_real_traffic_and_arrives_once_through_a_kill() {
    use crate::lab::Lab;
    let ports = [crate::radius::free_port(), crate::radius::free_port()];
    let radius = format!(
        "config radius 'radius'\n\toption server '10.78.0.2'\n\toption auth_port '{}'\n\t\
         option acct_port '{}'\n\toption secret '{SECRET}'\n\toption nas_id 'lab-router'\n\t\
         option timeout '1'\n\toption retries '0'\n",
        ports[0], ports[1]
    );
    let Some(mut lab) = Lab::start(1, &radius) else {
        return;
    };
    let wan = lab.ns_wan.clone();
    let Some(mut server) =
        FreeRadius::start_at("radius accounting lab", Some(&wan), "10.78.0.2", ports)
    else {
        return;
    };
    let seen = |server: &FreeRadius, status: &str| {
        let lines = server.accounting();
        lines.iter().filter(|l| l[STATUS] == status).count()
    };
    lab.dhcp(1);
    let code = lab.voucher("hour");
    lab.redeem(1, &code);
    lab.wait_for("online", || lab.online(1, false));
    // Accounting-On and the Start, once the back-off since the server was down has passed.
    for _ in 0..20 {
        if seen(&server, "Start") == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert_eq!(seen(&server, "Start"), 1, "{:?}", server.accounting());
    let (exit, _) = lab.curl(1, &["-o", "/dev/null", "http://10.78.0.2/4mb.bin"]);
    assert_eq!(exit, 0);
    server.stop();
    let overview = lab.admin("GET", "/api/overview", "");
    let id = overview["sessions"][0]["id"].as_u64().expect("a session");
    lab.admin("POST", "/api/sessions/revoke", &format!("id={id}"));
    lab.wait_for("offline", || !lab.online(1, false));
    lab.kill_lango();
    server.run();
    lab.start_lango();
    for _ in 0..40 {
        if seen(&server, "Stop") >= 1 && seen(&server, "Accounting-On") >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let lines = server.accounting();
    let statuses: Vec<&str> = statuses(&lines);
    assert_eq!(
        statuses,
        ["Accounting-On", "Start", "Stop", "Accounting-On"],
        "{lines:?}"
    );
    let stop = &lines[2];
    assert_eq!(
        (stop[SESSION].as_str(), stop[CAUSE].as_str()),
        (lines[1][SESSION].as_str(), "Admin-Reset")
    );
    // To the guest: the 4,000,000 bytes and their TCP/IP headers, within 1 %.
    let output: u64 = stop[OUT].parse().unwrap();
    assert!((4_000_000..4_040_000).contains(&output), "{lines:?}");
    let input: u64 = stop[IN].parse().unwrap();
    assert!((1_000..400_000).contains(&input), "{stop:?}");
    eprintln!("lab: Stop with {input} bytes in, {output} bytes out after a 4 MB download");
}

/// With accounting on, a sale's record rides in the settlement's own write: an M-Pesa
/// purchase still costs three durable commits (`lifecycle::a_purchase_costs_three_durable_
/// commits`, issue 14), and its Start waits in the queue.
#[test]
fn a_sale_costs_no_extra_commit_with_accounting_on() {
    let text = format!(
        "{}\nconfig radius 'radius'\n\toption server '127.0.0.1'\n\toption secret '{SECRET}'\n",
        lango::daemon::DEMO_CONFIG
    );
    let config = config::parse(&text, "lango").expect("the config parses");
    let env = TestEnv::with(Store::in_memory().unwrap(), config, T0);
    let (ip, mac) = guest(1);
    let before = env.app.store.write_stats();
    env.app.start_purchase(ip, "hour", "0712345678").unwrap();
    env.app.run_due();
    env.advance(4);
    assert!(env.firewall.allows(mac));
    let after = env.app.store.write_stats();
    assert_eq!(
        (
            after.durable_commits - before.durable_commits,
            after.lazy_commits - before.lazy_commits
        ),
        (3, 0)
    );
    assert_eq!(env.app.accounting_queued(), 1);
}

/// Idle-Timeout from the Access-Accept (600 s for HOUR2345AB): a guest that moves traffic
/// every minute for ten minutes keeps the session; once the counters (read every 30 s, the
/// demo's reconcile interval) stop moving, the session ends at the first reading 600 s after
/// the one that last saw them change, its rule leaves the firewall, and the Stop says
/// Idle-Timeout with the last counters.
#[test]
fn a_session_silent_for_its_idle_timeout_ends_with_idle_timeout() {
    let Some(server) = FreeRadius::start("radius idle-timeout") else {
        return;
    };
    let env = acct_env(&server, Store::in_memory().unwrap(), LOCAL, "");
    let (ip, mac) = guest(1);
    assert_eq!(post(&env, ip, "/voucher", "code=HOUR2345AB").status, 303);
    let active = |env: &TestEnv| env.app.store.read(|r| r.active_session(mac)).unwrap();
    for minute in 1..=10u64 {
        env.firewall.set_usage(mac, minute * 1000, minute * 5000);
        env.advance(30);
        env.advance(30);
    }
    assert!(
        active(&env).is_some(),
        "ten minutes of traffic, no idle end"
    );
    assert!(env.firewall.allows(mac));
    // The last change was seen at the reading 30 s after it was made.
    let changed_seen = T0 + 570;
    let mut ended_at = None;
    for _ in 0..40 {
        env.advance(30);
        if active(&env).is_none() {
            ended_at = Some(env.app.time().now);
            break;
        }
    }
    let ended_at = ended_at.expect("the idle session ended");
    assert!(
        (changed_seen + 600..=changed_seen + 630).contains(&ended_at),
        "ended at T0 + {}",
        ended_at - T0
    );
    assert!(!env.firewall.allows(mac));
    env.app.deliver_accounting();
    let lines = server.accounting();
    let stop = lines.iter().find(|l| l[STATUS] == "Stop").expect("a Stop");
    assert_eq!(
        [&stop[CAUSE], &stop[IN], &stop[OUT]],
        ["Idle-Timeout", "10000", "50000"]
    );
    assert_eq!(stop[TIME], (ended_at - T0).to_string());
}
