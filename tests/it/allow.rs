//! Issue 16, what owners sell, in the network lab: the allow-list (`list allow_mac`: a device
//! that never pays gets the router's DNS and the internet both ways, changed with one small
//! transaction that keeps the table and the paid guests' counters) and the walled garden
//! (`list walled_garden`: an unpaid guest resolves a garden name for real and reaches its
//! addresses until their time runs out; every other name and address stays closed).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::lab::{guest_mac, Lab, ROUTER4, WAN4};
use crate::support::{TempDir, TestEnv};

/// The table's handle and guest `n`'s upload counter (bytes), from the router.
fn handle_and_counter(lab: &Lab, n: usize) -> (u64, u64) {
    let out = lab.exec(
        &lab.ns_router,
        &["nft", "-j", "-a", "list", "table", "inet", "lango"],
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let items = json["nftables"].as_array().cloned().unwrap_or_default();
    let handle = items
        .iter()
        .find_map(|i| i["table"]["handle"].as_u64())
        .unwrap_or(0);
    let counter = items
        .iter()
        .filter(|i| i["set"]["name"] == "paid4")
        .flat_map(|i| i["set"]["elem"].as_array().cloned().unwrap_or_default())
        .filter(|e| e.to_string().contains(&guest_mac(n)))
        .filter_map(|e| e["elem"]["counter"]["bytes"].as_u64())
        .sum();
    (handle, counter)
}

fn router_nft(lab: &Lab, args: &[&str]) -> String {
    let mut full = vec!["nft"];
    full.extend_from_slice(args);
    String::from_utf8_lossy(&lab.exec(&lab.ns_router, &full).stdout).into_owned()
}

#[test]
fn lab_an_allowed_mac_goes_through_without_paying_until_it_is_taken_off() {
    let Some(lab) = Lab::start(3, "") else {
        return;
    };
    for n in 1..=3 {
        lab.dhcp(n);
    }
    // Guest 3 pays; its counters and the table's handle must survive every list change.
    lab.redeem(3, &lab.voucher("hour"));
    lab.wait_for("guest 3 online", || lab.online(3, false));
    let (handle, counted) = handle_and_counter(&lab, 3);
    assert!(handle > 0 && counted > 0, "{handle} {counted}");
    assert!(!lab.online(1, false), "guest 1 has not paid");
    assert_eq!(lab.dns(1, ROUTER4, "real.example"), ROUTER4, "lango's DNS");

    let reply = lab.admin("POST", "/api/allow", &format!("mac={}", guest_mac(1)));
    assert_eq!(reply["allowed"], true, "{reply}");
    let config = std::fs::read_to_string(lab.dir.path("lango.conf")).unwrap();
    assert!(
        config.contains(&format!("list allow_mac '{}'", guest_mac(1))),
        "{config}"
    );
    lab.wait_for("guest 1 through without paying", || lab.online(1, false));
    assert!(lab.online(1, true), "and over IPv6");
    assert_eq!(
        lab.dns(1, ROUTER4, "real.example"),
        "10.78.0.9",
        "the allowed device uses the router's resolver"
    );
    assert!(!lab.online(2, false), "guest 2 still has not paid");
    assert_eq!(lab.dns(2, ROUTER4, "real.example"), ROUTER4);
    assert!(lab.online(3, false));

    let reply = lab.admin(
        "POST",
        "/api/allow",
        &format!("mac={}&allowed=0", guest_mac(1)),
    );
    assert_eq!(reply["allowed"], false, "{reply}");
    lab.wait_for("guest 1 back behind the portal", || !lab.online(1, false));
    assert!(!lab.online(1, true));
    assert_eq!(lab.dns(1, ROUTER4, "real.example"), ROUTER4);
    assert!(lab.online(3, false), "the paying guest stays online");

    // The UCI path: the list in the file and a reload (SIGHUP, as procd sends it).
    let path = lab.dir.path("lango.conf");
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "config gateway 'main'\n",
        &format!(
            "config gateway 'main'\n\tlist allow_mac '{}'\n",
            guest_mac(2)
        ),
        1,
    );
    std::fs::write(&path, text).unwrap();
    lab.hup();
    lab.wait_for("guest 2 through after the reload", || lab.online(2, false));
    assert!(!lab.online(1, false));

    let (after, counted_after) = handle_and_counter(&lab, 3);
    assert_eq!(after, handle, "the table was rewritten");
    assert!(
        counted_after >= counted,
        "guest 3's counter went back: {counted} → {counted_after}"
    );
    let log = std::fs::read_to_string(lab.dir.path("lango.log")).unwrap_or_default();
    assert!(!log.contains("rewriting the table"), "{log}");
}

#[test]
fn lab_a_walled_garden_name_opens_its_real_addresses_for_their_ttl() {
    let Some(mut lab) = Lab::start(2, "") else {
        return;
    };
    // The wan host has another address (not in the garden), and the router a resolver that
    // knows the garden name (dnsmasq answers it with TTL 0: the set keeps it 60 s).
    let ns_wan = lab.ns_wan.clone();
    crate::lab::ok(&[
        "ip",
        "-n",
        &ns_wan,
        "addr",
        "add",
        "10.78.0.3/24",
        "dev",
        "eth0",
    ]);
    let ns = lab.ns_router.clone();
    let pid = lab.dir.path("garden-dns.pid");
    let pid = format!("--pid-file={}", pid.display());
    lab.spawn(
        &ns,
        &[
            "dnsmasq",
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--user=root",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--port=5353",
            "--no-resolv",
            "--no-hosts",
            "--address=/shop.example/10.78.0.2",
            "--address=/elsewhere.example/10.78.0.3",
            &pid,
        ],
    );
    lab.restart_with_gateway_option(
        "list walled_garden 'shop.example'\n\toption garden_dns '127.0.0.1:5353'",
    );
    lab.dhcp(1);
    lab.dhcp(2);
    assert!(!lab.online(1, false), "nothing resolved yet");
    assert_eq!(
        lab.dns(1, ROUTER4, "elsewhere.example"),
        ROUTER4,
        "a name off the list is the portal"
    );
    assert_eq!(
        lab.dns(1, ROUTER4, "www.shop.example"),
        WAN4,
        "the real answer"
    );
    assert!(lab.online(1, false), "the garden address is reachable");
    let set = router_nft(&lab, &["list", "set", "inet", "lango", "garden4"]);
    assert!(set.contains("10.78.0.2 timeout 1m"), "{set}");
    let (_, body) = lab.curl(1, &["--max-time", "1", "http://10.78.0.3/ok.txt"]);
    assert_ne!(
        body, "internet\n",
        "the wan host's other address stays closed"
    );
    assert!(!lab.online(1, true), "and its IPv6 address");
    assert_eq!(
        lab.dns(2, ROUTER4, "shop.example.evil"),
        ROUTER4,
        "a name that only contains the garden's is not in it"
    );
    // The element runs out after its minimum time (60 s) without another query.
    let start = Instant::now();
    while lab.online(1, false) {
        assert!(
            start.elapsed() < Duration::from_secs(75),
            "the garden address never closed"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    assert!(
        start.elapsed() > Duration::from_secs(30),
        "it closed too early"
    );
    let set = router_nft(&lab, &["list", "set", "inet", "lango", "garden4"]);
    assert!(!set.contains("10.78.0.2"), "{set}");
}

/// The allow-list from the owner page's Guests tab: added and removed through the config file,
/// applied at once (the firewall's desired state), a bad MAC refused with the file kept.
#[test]
fn the_guests_page_adds_and_removes_always_allowed_devices() {
    let (env, dir, owner) = crate::admin::shop();
    let path = dir.path("lango.conf");
    let mac = "02:aa:00:00:00:07";
    assert!(owner
        .get("/guests")
        .body
        .contains("No device is always allowed."));
    let page = owner.post_and_follow("/devices/allow", &format!("mac={}", mac.to_uppercase()));
    assert!(
        page.body.contains("is allowed without paying"),
        "{}",
        page.body
    );
    assert!(page.body.contains(mac) && page.body.contains("Remove"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(&format!("list allow_mac '{mac}'")), "{text}");
    env.app.run_due();
    let last = env.firewall.last().unwrap();
    assert_eq!(last.allowed, [mac.parse().unwrap()]);
    let bad = owner.post_and_follow("/devices/allow", "mac=02:aa:00");
    assert!(bad.body.contains("not a MAC address"), "{}", bad.body);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "the file kept"
    );
    let page = owner.post_and_follow("/devices/disallow", &format!("mac={mac}"));
    assert!(page.body.contains("is no longer allowed"), "{}", page.body);
    assert!(!std::fs::read_to_string(&path)
        .unwrap()
        .contains("allow_mac"));
    env.app.run_due();
    assert!(env.firewall.last().unwrap().allowed.is_empty());
}

/// `ubus call lango allow` / `disallow`: the same edit, answered as data.
#[test]
fn ubus_allow_and_disallow_edit_the_list() {
    let env = TestEnv::new();
    let dir = TempDir::new("ubus-allow");
    let path = dir.path("lango");
    std::fs::write(&path, lango::daemon::DEMO_CONFIG).unwrap();
    let (mut peer, _running) = crate::ubus::lango_on_ubus(&env, Some(path.clone()));
    let mac = "02:aa:00:00:00:08";
    let reply = crate::ubus::ok(peer.call("allow", json!({ "mac": mac })));
    assert_eq!(reply, json!({"mac": mac, "allowed": true, "changed": true}));
    assert_eq!(env.app.config().gateway.allow_macs, [mac.parse().unwrap()]);
    let again = crate::ubus::ok(peer.call("allow", json!({ "mac": mac })));
    assert_eq!(again["changed"], false);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(&format!("list allow_mac '{mac}'")), "{text}");
    let reply = crate::ubus::ok(peer.call("disallow", json!({ "mac": mac })));
    assert_eq!(
        reply,
        json!({"mac": mac, "allowed": false, "changed": true})
    );
    assert!(env.app.config().gateway.allow_macs.is_empty());
    assert_eq!(peer.call("allow", json!({"mac": "nope"})).status, 2);
    let (mut without, _running) = crate::ubus::lango_on_ubus(&env, None);
    assert_eq!(without.call("allow", json!({ "mac": mac })).status, 8);
}
