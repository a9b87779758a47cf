//! The gate under attack, in the network lab (real kernel, nft, dnsmasq, conntrack; forged
//! packets from scapy). Each test is one attempt from issue 12 that got through before, named
//! after it (docs/SECURITY.md lists them with their results):
//! - A57/A58/A61: lango's table removed, the ruleset flushed and fw4 restarted, lango unable to
//!   start: the gate table keeps every guest out (0 datagrams reach the wan);
//! - A34/A36/A41: IPv6 addresses only from the paid device's own traffic, in its prefix and its
//!   binding window;
//! - A40: ARP poisoning does not turn a clone into a "move";
//! - A47-A49: a device's flows end with its session, and unpaid DNS never reaches dnsmasq;
//! - A52: a rebuilt table carries each quota's use;
//! - A55: with `block_tethering`, a phone cannot share its access through a NAT of its own.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::lab::{guest_mac, ok, secs, Lab, ROUTER4, WAN4, WAN6};

/// Sends forged packets from a guest with scapy (Debian's python3-scapy).
const FORGE: &str = r#"
import sys
from scapy.all import ARP, Ether, IPv6, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, sendp, conf
conf.verb = 0
kind = sys.argv[1]
if kind == "ns":
    # Neighbour solicitations to the router from addresses of our choosing, announcing
    # another device's MAC as ours (source link-layer option); the Ethernet source is our own.
    victim, count, prefix = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    pkts = [Ether(dst="33:33:ff:00:00:01") /
            IPv6(src="%s%x" % (prefix, 0x1000 + i), dst="ff02::1:ff00:1", hlim=255) /
            ICMPv6ND_NS(tgt="fd77::1") / ICMPv6NDOptSrcLLAddr(lladdr=victim)
            for i in range(count)]
    sendp(pkts, iface="eth0")
elif kind == "garp":
    # Gratuitous ARP: "address X is at MAC M" from a throwaway MAC, as requests and replies,
    # spread over the kernel's locktime (1 s), during which it ignores a second answer.
    ip, mac = sys.argv[2], sys.argv[3]
    for op in (1, 2):
        sendp(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") /
              ARP(op=op, hwsrc=mac, psrc=ip, hwdst="00:00:00:00:00:00", pdst=ip),
              iface="eth0", count=3, inter=0.6)
"#;

fn forge(lab: &Lab, n: usize, args: &[&str]) {
    let script = lab.dir.path("forge.py");
    std::fs::write(&script, FORGE).unwrap();
    let mut full = vec!["/usr/bin/python3", script.to_str().unwrap()];
    full.extend_from_slice(args);
    let out = lab.exec(&lab.ns_guests[n - 1], &full);
    assert!(
        out.status.success(),
        "scapy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A UDP flood from guest `n` to the wan's sink until the returned child is killed: any
/// datagram that gets through is counted by the sink.
fn flood(lab: &Lab, n: usize) -> std::process::Child {
    let cmd = format!(
        "while :; do echo x > /dev/udp/{WAN4}/9999; echo x > /dev/udp/{WAN6}/9999; sleep 0.005; done"
    );
    Command::new("ip")
        .args(["netns", "exec", &lab.ns_guests[n - 1], "bash", "-c", &cmd])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("flood")
}

fn stop(mut child: std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The control for the floods: the same flood from paid guest `n` does reach the wan's sink,
/// so a count that stays put means the gate held, not that nothing was sent.
fn flood_reaches_the_wan(lab: &Lab, n: usize) {
    let before = lab.wan_udp_count();
    let sender = flood(lab, n);
    lab.wait_for("the paid guest's datagrams at the wan", || {
        lab.wan_udp_count() > before + 10
    });
    stop(sender);
    std::thread::sleep(Duration::from_millis(200));
}

fn router_nft(lab: &Lab, args: &[&str]) -> String {
    let mut full = vec!["nft"];
    full.extend_from_slice(args);
    String::from_utf8_lossy(&lab.exec(&lab.ns_router, &full).stdout).into_owned()
}

fn events(lab: &Lab) -> Vec<serde_json::Value> {
    lab.admin("GET", "/api/overview", "")["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A57, A57b, A58: lango's table deleted, the whole ruleset flushed and fw4 reloaded, fw4
/// restarted ten times, and lango rebuilding its table on HUP meanwhile: an unpaid guest
/// flooding the wan gets 0 datagrams through, and the paid guest is back once lango is.
#[test]
fn lab_a57_a58_the_gate_stays_closed_when_lango_s_table_goes() {
    let Some(lab) = Lab::start(2, "") else { return };
    lab.dhcp(1);
    lab.dhcp(2);
    lab.redeem(1, &lab.voucher("hour"));
    lab.wait_for("paid guest online", || lab.online(1, false));
    lab.fw4_start();
    flood_reaches_the_wan(&lab, 1);
    let before = lab.wan_udp_count();
    let attacker = flood(&lab, 2);
    std::thread::sleep(Duration::from_millis(200));
    // A57: the table deleted.
    lab.nft_delete_table();
    assert!(
        !lab.online(2, false),
        "an unpaid guest without lango's table"
    );
    let deleted = Instant::now();
    lab.wait_for("the table to come back", || lab.online(1, false));
    eprintln!(
        "lab: A57 paid guest back {:.2}s after the table was deleted",
        secs(deleted)
    );
    // A58: fw4 restarted (its own table deleted and reloaded with its includes), with lango's
    // rebuild on the hook's HUP in between.
    for _ in 0..10 {
        lab.fw4_stop();
        lab.fw4_start();
        lab.hup();
        std::thread::sleep(Duration::from_millis(30));
    }
    std::thread::sleep(Duration::from_millis(300));
    let leaked = lab.wan_udp_count() - before;
    // A57b: `nft flush ruleset`, then fw4 loads its ruleset again. Between the two commands
    // the kernel has no rule at all (fw4's own zones are gone too): that gap is the flusher's.
    // What lango controls is that fw4's reload closes it without lango.
    let before_flush = lab.wan_udp_count();
    lab.nft_flush_ruleset();
    lab.fw4_start();
    std::thread::sleep(Duration::from_millis(100));
    let reloaded = lab.wan_udp_count();
    std::thread::sleep(Duration::from_millis(300));
    let after_reload = lab.wan_udp_count() - reloaded;
    assert!(!lab.online(2, false) && !lab.online(2, true));
    stop(attacker);
    let flushed = Instant::now();
    lab.hup();
    lab.wait_for("the paid guest after the flush and HUP", || {
        lab.online(1, false)
    });
    eprintln!(
        "lab: A57b paid guest back {:.2}s after HUP; unpaid datagrams through: {leaked} during \
         a table deletion and 10 fw4 restarts with HUPs, {} between flush and fw4's reload, \
         {after_reload} after the reload",
        secs(flushed),
        reloaded - before_flush
    );
    assert_eq!(leaked, 0, "datagrams from the unpaid guest reached the wan");
    assert_eq!(after_reload, 0, "datagrams after fw4's reload");
}

/// A61: lango cannot start (a config broken by an upgrade) after a reboot: fw4 loads the gate
/// from its include, and no guest is online, paid or not, until lango is back.
#[test]
fn lab_a61_lango_unable_to_start_keeps_guests_out() {
    let Some(mut lab) = Lab::start(2, "") else {
        return;
    };
    lab.dhcp(1);
    lab.dhcp(2);
    lab.redeem(1, &lab.voucher("hour"));
    lab.wait_for("paid guest online", || lab.online(1, false));
    flood_reaches_the_wan(&lab, 1);
    // A reboot: the kernel's tables are gone, fw4 loads its ruleset and includes.
    lab.kill_lango();
    lab.nft_flush_ruleset();
    lab.fw4_start();
    let path = lab.dir.path("lango.conf");
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        good.replace("option price '20'", "option prise '20'"),
    )
    .unwrap();
    let out = lab.exec(
        &lab.ns_router,
        &[
            env!("CARGO_BIN_EXE_lango"),
            "serve",
            "--config",
            path.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success(), "lango refuses the broken config");
    let before = lab.wan_udp_count();
    let attacker = flood(&lab, 2);
    std::thread::sleep(Duration::from_millis(500));
    stop(attacker);
    assert_eq!(
        lab.wan_udp_count(),
        before,
        "no datagram from the unpaid guest"
    );
    assert!(
        !lab.online(2, false) && !lab.online(2, true),
        "unpaid guest out"
    );
    assert!(
        !lab.online(1, false),
        "paid guests wait for lango too (docs/SECURITY.md)"
    );
    // Fixed and started again: the paid guest is restored from the store.
    std::fs::write(&path, good).unwrap();
    lab.start_lango();
    lab.wait_for("the paid guest restored", || lab.online(1, false));
    assert!(!lab.online(2, false));
}

/// A34/A36/A41: IPv6. The paid device's own address is learned from its traffic; an unpaid
/// guest's forged neighbour solicitations (300 on-link addresses and one off-link, announcing
/// the paid MAC) put nothing in the paid set; a clone of the paid MAC on a new address after
/// the binding window is refused and logged, over IPv6 as over IPv4.
#[test]
fn lab_a34_a36_a41_ipv6_is_bound_to_the_paid_device() {
    let Some(lab) = Lab::start(2, "") else { return };
    lab.dhcp(1);
    lab.dhcp(2);
    lab.redeem(1, &lab.voucher("hour"));
    let granted = Instant::now();
    lab.wait_for("paid guest online over IPv6", || lab.online(1, true));
    // A41 and A36, from guest 2 with its own MAC.
    forge(&lab, 2, &["ns", &guest_mac(1), "300", "fd77::"]);
    forge(&lab, 2, &["ns", &guest_mac(1), "1", "2001:db8::"]);
    std::thread::sleep(Duration::from_millis(2500));
    let neigh = String::from_utf8_lossy(&lab.exec(&lab.ns_router, &["ip", "-6", "neigh"]).stdout)
        .into_owned();
    assert!(
        neigh.contains("fd77::1000") && neigh.contains(&guest_mac(1)),
        "the forged solicitations reached the router's neighbour table: {neigh}"
    );
    let paid6 = router_nft(&lab, &["list", "set", "inet", "lango", "paid6"]);
    assert!(
        paid6.contains("fd77::10 "),
        "the paid device's own address: {paid6}"
    );
    assert!(
        !paid6.contains("fd77::1000") && !paid6.contains("2001:db8"),
        "forged addresses in the paid set: {paid6}"
    );
    // A34: guest 2 clones guest 1's MAC and uses a new IPv6 address, after the window (4 s in
    // the lab's config), while guest 1 stays online.
    std::thread::sleep(Duration::from_secs(5).saturating_sub(granted.elapsed()));
    let g2 = &lab.ns_guests[1];
    ok(&[
        "ip",
        "-n",
        g2,
        "link",
        "set",
        "eth0",
        "address",
        &guest_mac(1),
    ]);
    let _ = lab.exec(g2, &["ip", "addr", "flush", "dev", "eth0"]);
    ok(&[
        "ip",
        "-n",
        g2,
        "addr",
        "add",
        "fd77::66/64",
        "dev",
        "eth0",
        "nodad",
    ]);
    let _ = lab.exec(
        g2,
        &["ip", "-6", "route", "replace", "default", "via", "fd77::1"],
    );
    let ping = lab.exec(g2, &["ping", "-6", "-c", "1", "-W", "1", "fd77::1"]);
    assert!(
        ping.status.success(),
        "the clone reaches the router over IPv6"
    );
    for _ in 0..6 {
        assert!(!lab.online(2, true), "the clone is online over IPv6");
        std::thread::sleep(Duration::from_millis(300));
    }
    let paid6 = router_nft(&lab, &["list", "set", "inet", "lango", "paid6"]);
    assert!(!paid6.contains("fd77::66"), "{paid6}");
    // Logged at the next reading of `seen6`: after the binding window that is the next
    // reconcile (2 s in the lab), which may come after the tries above (about 1.9 s from the
    // clone's first packet: the reconcile and the clone both start about 5 s after the grant,
    // and which comes first is a matter of milliseconds).
    lab.wait_for("the clone is logged", || {
        events(&lab).iter().any(|e| {
            e["kind"] == "spoofing" && e["detail"].as_str().unwrap_or("").contains("fd77::66")
        })
    });
    let paid6 = router_nft(&lab, &["list", "set", "inet", "lango", "paid6"]);
    assert!(!paid6.contains("fd77::66"), "refused once seen: {paid6}");
    assert!(lab.online(1, true), "the real guest keeps IPv6");
}

/// A40: the clone poisons the victim's old IPv4 address to a throwaway MAC, so that the old
/// address vanishes from the ARP table under the paid MAC; that alone must not "move" the
/// session to the clone's address.
#[test]
fn lab_a40_arp_poisoning_does_not_move_a_session_to_a_clone() {
    let Some(lab) = Lab::start(2, "") else { return };
    let env = lab.dhcp(1);
    let victim_ip = env
        .lines()
        .find_map(|l| l.strip_prefix("ip="))
        .expect("a lease")
        .to_string();
    lab.redeem(1, &lab.voucher("hour"));
    lab.wait_for("paid guest online", || lab.online(1, false));
    let g2 = &lab.ns_guests[1];
    ok(&[
        "ip",
        "-n",
        g2,
        "link",
        "set",
        "eth0",
        "address",
        &guest_mac(1),
    ]);
    lab.static_ip(2, "10.77.0.66");
    forge(&lab, 2, &["garp", &victim_ip, "02:de:ad:00:00:01"]);
    let arp = std::fs::read_to_string(format!("/proc/{}/net/arp", lab.lango_pid().unwrap()))
        .unwrap_or_default();
    assert!(
        arp.contains("02:de:ad:00:00:01"),
        "the poisoning worked: {arp}"
    );
    // The clone opens the portal from its own address.
    let (_, body) = lab.curl(2, &["-L", &format!("http://{WAN4}/")]);
    assert!(
        body.contains("Lab Cafe") && !body.contains("You are online"),
        "{body}"
    );
    assert!(!lab.online(2, false), "the clone is not online");
    let list = router_nft(&lab, &["list", "set", "inet", "lango", "paid4"]);
    assert!(
        !list.contains("10.77.0.66"),
        "the session moved to the clone: {list}"
    );
    assert!(
        events(&lab).iter().any(|e| e["kind"] == "move_refused"),
        "the refusal is logged for the owner"
    );
}

/// A47-A49: connection tracking. A paid guest's flows (a pinned DNS port to dnsmasq, a UDP
/// flow to the wan standing for a tunnel) are deleted when the session ends, and also when it
/// ended while lango was down (at the next start); while lango's table is missing, an unpaid
/// guest's DNS never reaches dnsmasq, so no real answer is pinned for later.
#[test]
fn lab_a47_a49_flows_end_with_the_session() {
    let packages = "config package 'short'\n\toption name 'Short'\n\toption price '5'\n\toption duration '4s'\n\
                    config package 'longer'\n\toption name 'Longer'\n\toption price '5'\n\toption duration '9s'\n";
    let Some(mut lab) = Lab::start(2, packages) else {
        return;
    };
    let lease = |env: String| {
        env.lines()
            .find_map(|l| l.strip_prefix("ip="))
            .unwrap()
            .to_string()
    };
    let ip1 = lease(lab.dhcp(1));
    let ip2 = lease(lab.dhcp(2));
    // The flows under test only: UDP to the wan's sink and to the router's DNS.
    let flows = |lab: &Lab, ip: &str| -> usize {
        let out = lab.exec(&lab.ns_router, &["conntrack", "-L", "-s", ip, "-p", "udp"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("dport=9999") || l.contains("dport=53 "))
            .count()
    };
    // A49: the table missing, an unpaid guest pins a UDP port to the router's DNS.
    lab.nft_delete_table();
    assert_ne!(lab.dns_from(2, ROUTER4, "real.example", 40060), "10.78.0.9");
    lab.wait_for("the table back", || {
        lab.exec(
            &lab.ns_router,
            &["nft", "-t", "list", "table", "inet", "lango"],
        )
        .status
        .success()
    });
    assert_ne!(
        lab.dns_from(2, ROUTER4, "real.example", 40060),
        "10.78.0.9",
        "a real answer on the port pinned while the table was missing"
    );
    // A47/A48: flows set up while paid.
    lab.redeem(1, &lab.voucher("short"));
    lab.redeem(2, &lab.voucher("longer"));
    lab.wait_for("online", || lab.online(1, false) && lab.online(2, false));
    let send = format!("exec 3<>/dev/udp/{WAN4}/9999; echo x >&3");
    for n in [1, 2] {
        assert_eq!(lab.dns_from(n, ROUTER4, "real.example", 40061), "10.78.0.9");
        let _ = lab.exec(&lab.ns_guests[n - 1], &["bash", "-c", &send]);
    }
    assert!(
        flows(&lab, &ip1) >= 2 && flows(&lab, &ip2) >= 2,
        "{} {}",
        flows(&lab, &ip1),
        flows(&lab, &ip2)
    );
    // Guest 1's session ends with lango running.
    lab.wait_for("guest 1's flows forgotten at its end", || {
        flows(&lab, &ip1) == 0
    });
    // Guest 2's session ends while lango is down.
    lab.kill_lango();
    lab.wait_for("guest 2's end (element timeout)", || !lab.online(2, false));
    assert!(
        flows(&lab, &ip2) >= 2,
        "nothing deletes them while lango is down"
    );
    lab.start_lango();
    lab.wait_for("guest 2's flows forgotten after the restart", || {
        flows(&lab, &ip2) == 0
    });
    assert_ne!(lab.dns_from(1, ROUTER4, "real.example", 40061), "10.78.0.9");
}

/// A52: the table is rebuilt (another guest's purchase) while a guest is using its quota; the
/// rebuilt quota object starts from the bytes used, not from zero.
#[test]
fn lab_a52_a_rebuild_never_resets_a_quota() {
    let packages = "config package 'mb'\n\toption name '3 MB'\n\toption price '5'\n\toption duration '1h'\n\toption data '3MB'\n";
    let Some(lab) = Lab::start(2, packages) else {
        return;
    };
    lab.dhcp(1);
    lab.dhcp(2);
    lab.redeem(1, &lab.voucher("mb"));
    lab.wait_for("online", || lab.online(1, false));
    let fetch = |file: &str| -> u64 {
        let (_, size) = lab.curl(
            1,
            &[
                "--max-time",
                "5",
                "-o",
                "/dev/null",
                "-w",
                "%{size_download}",
                &format!("http://{WAN4}/{file}"),
            ],
        );
        size.trim().parse().unwrap_or(0)
    };
    let mut got = fetch("1mb.bin") + fetch("1mb.bin");
    // Two rebuilds of the whole table right after the downloads, before any usage reading.
    lab.redeem(2, &lab.voucher("hour"));
    lab.wait_for("guest 2 online", || lab.online(2, false));
    lab.hup();
    std::thread::sleep(Duration::from_millis(500));
    got += fetch("4mb.bin");
    eprintln!("lab: A52 3 MB quota, {got} bytes downloaded across two table rebuilds");
    assert!(got < 3_300_000, "{got} bytes on a 3 MB quota");
    assert!(!lab.online(1, false), "the quota is used up");
}

/// A55: a paid phone sharing its access through its own hotspot (a NAT behind guest 1). With
/// `block_tethering`, packets reach guests with TTL 1 and die at the phone's NAT.
#[test]
fn lab_a55_block_tethering_stops_a_nat_behind_a_guest() {
    let Some(mut lab) = Lab::start(1, "") else {
        return;
    };
    lab.dhcp(1);
    lab.redeem(1, &lab.voucher("hour"));
    lab.wait_for("online", || lab.online(1, false));
    // The hotspot: a namespace behind guest 1, masqueraded by it.
    let g1 = lab.ns_guests[0].clone();
    let tether = format!("{g1}t");
    ok(&["ip", "netns", "add", &tether]);
    ok(&[
        "ip", "link", "add", "hs0", "netns", &g1, "type", "veth", "peer", "name", "eth0", "netns",
        &tether,
    ]);
    ok(&[
        "ip",
        "-n",
        &g1,
        "addr",
        "add",
        "192.168.99.1/24",
        "dev",
        "hs0",
    ]);
    ok(&["ip", "-n", &g1, "link", "set", "hs0", "up"]);
    ok(&[
        "ip",
        "-n",
        &tether,
        "addr",
        "add",
        "192.168.99.2/24",
        "dev",
        "eth0",
    ]);
    ok(&["ip", "-n", &tether, "link", "set", "eth0", "up"]);
    ok(&["ip", "-n", &tether, "link", "set", "lo", "up"]);
    ok(&[
        "ip",
        "-n",
        &tether,
        "route",
        "add",
        "default",
        "via",
        "192.168.99.1",
    ]);
    ok(&[
        "ip",
        "netns",
        "exec",
        &g1,
        "sysctl",
        "-q",
        "-w",
        "net.ipv4.ip_forward=1",
    ]);
    let nat = "table ip hotspot {\n\tchain post {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\toifname \"eth0\" masquerade\n\t}\n}\n";
    std::fs::write(lab.dir.path("hotspot.nft"), nat).unwrap();
    ok(&[
        "ip",
        "netns",
        "exec",
        &g1,
        "nft",
        "-f",
        lab.dir.path("hotspot.nft").to_str().unwrap(),
    ]);
    let tethered_online = |lab: &Lab| {
        let out = lab.exec(
            &tether,
            &[
                "curl",
                "-s",
                "--max-time",
                "2",
                &format!("http://{WAN4}/ok.txt"),
            ],
        );
        String::from_utf8_lossy(&out.stdout) == "internet\n"
    };
    assert!(
        tethered_online(&lab),
        "without the option the hotspot shares the access"
    );
    lab.restart_with_gateway_option("option block_tethering '1'");
    lab.wait_for("the option in the table", || {
        router_nft(&lab, &["list", "table", "inet", "lango"]).contains("ip ttl set 1")
    });
    let shared = tethered_online(&lab);
    let own = lab.online(1, false);
    let _ = Command::new("ip").args(["netns", "del", &tether]).status();
    assert!(!shared, "the hotspot still shares the access");
    assert!(own, "the phone itself stays online");
}

/// Issue 13 at the kernel: guests, paid or not, reach on the router only DHCP, DNS, the portal
/// and ICMP; a service like SSH or LuCI (here a web server on port 2222) is closed to them,
/// and open to a device listed as the owner's (`list owner_mac`).
#[test]
fn lab_guests_reach_only_dhcp_dns_the_portal_and_icmp_on_the_router() {
    let Some(mut lab) = Lab::start(2, "") else {
        return;
    };
    lab.dhcp(1);
    lab.dhcp(2);
    let ns = lab.ns_router.clone();
    lab.spawn(
        &ns,
        &["python3", "-m", "http.server", "2222", "--bind", "0.0.0.0"],
    );
    lab.wait_for("the router's service", || {
        lab.exec(
            &ns,
            &["curl", "-s", "-o", "/dev/null", "http://127.0.0.1:2222/"],
        )
        .status
        .success()
    });
    let service = |lab: &Lab, n: usize| {
        lab.curl(n, &["-o", "/dev/null", "http://10.77.0.1:2222/"])
            .0
    };
    lab.redeem(1, &lab.voucher("hour"));
    lab.wait_for("paid guest online", || lab.online(1, false));
    assert_eq!(
        service(&lab, 1),
        7,
        "a paid guest reaches the router's service"
    );
    assert_eq!(
        service(&lab, 2),
        7,
        "an unpaid guest reaches the router's service"
    );
    let (code, body) = lab.curl(2, &["http://10.77.0.1:8080/"]);
    assert!(
        code == 0 && body.contains("Lab Cafe"),
        "the portal stays open"
    );
    let ping = lab.exec(&lab.ns_guests[1], &["ping", "-c", "1", "-W", "1", ROUTER4]);
    assert!(ping.status.success(), "ping stays open");
    lab.restart_with_gateway_option(&format!("list owner_mac '{}'", guest_mac(2)));
    lab.wait_for("the owner's MAC in the gate", || {
        router_nft(&lab, &["list", "table", "inet", "lango_gate"]).contains(&guest_mac(2))
    });
    assert_eq!(service(&lab, 2), 0, "the owner's device reaches the router");
    assert!(!lab.online(2, false), "but not the internet without paying");
    assert_eq!(service(&lab, 1), 7);
}
