//! Tests of the package kinds issue 16 added, in the table and in a change: fair use (a limit
//! past the quota), devices sharing one quota object, the allow-list and the walled garden.

use super::delta::*;
use super::render::*;
use super::tests::*;
use super::*;
use crate::adapters::testing::{nft_options as options, paid_device as client};
use std::net::IpAddr;

/// Devices 1 and 2 of one purchase (group 1), sharing its quota; each with its own caps.
fn family(at_ms: i64) -> Desired {
    let mut clients = vec![
        client(1, Some(1_000_000), Some(8000)),
        client(2, Some(1_000_000), Some(8000)),
    ];
    for c in &mut clients {
        c.group = 1;
        c.deadline_ms = 3_600_000;
    }
    Desired {
        clients,
        at_ms,
        ..Default::default()
    }
}

/// Fair use: past its quota a device goes on through its own limit objects (`fu`, `fd`: they
/// match what is within the fair rate), in the table and in a change alike; a device without
/// fair use has no such elements and is dropped when its quota is over.
#[test]
fn a_fair_use_device_goes_on_at_its_fair_rate_past_its_quota() {
    let mut fair = client(3, Some(2_000_000), None);
    fair.quota_left = Some(0);
    fair.fair_kbit = Some(1000);
    let plain = client(4, Some(2_000_000), None);
    let desired = Desired {
        clients: vec![fair.clone(), plain.clone()],
        at_ms: 0,
        ..Default::default()
    };
    let script = render(&desired, &options());
    assert!(script.contains("quota q3 { over 2000000 bytes used 2000000 bytes }"));
    assert!(script.contains("limit fu3 { rate 125000 bytes/second burst 31250 bytes }"));
    assert!(script.contains("limit fd3 { rate 125000 bytes/second burst 31250 bytes }"));
    assert!(script.contains("aa:00:00:00:00:03 . 10.77.0.13 timeout 1h : \"fu3\""));
    assert!(script.contains("10.77.0.13 timeout 1h : \"fd3\""));
    assert!(!script.contains("fu4") && !script.contains("fd4"));
    assert!(script.contains("quota name ip daddr map @quota_dn4 goto over_dn4\n"));
    assert!(script.contains("\tchain over_dn4 {\n\t\tlimit name ip daddr map @fair_dn4 meta mark"));
    assert!(script.contains("\tchain over_up6 {\n\t\tlimit name ether saddr . ip6 saddr map @fair_up6 meta mark set meta mark | 0x20000000 accept\n\t\tdrop\n"));
    // The same device as a change: its objects and elements, the fair limits not inverted.
    let none = Desired::default();
    let change = ops(&delta(&none, &desired), 0);
    let script = render_delta(&change);
    assert!(script
        .contains("add limit inet lango fu3 { rate 125000 bytes/second burst 31250 bytes }\n"));
    assert!(script.contains(
        "add element inet lango fair_up6 { aa:00:00:00:00:03 . fd77::3 timeout 1h : \"fu3\" }"
    ));
    assert!(script.contains("add element inet lango fair_dn4 { 10.77.0.13 timeout 1h : \"fd3\" }"));
    assert!(!script.contains("fair_up4 { aa:00:00:00:00:04"));
    assert_eq!(
        render_delta(&objects_of(&fair, true)),
        "delete quota inet lango q3\ndelete limit inet lango fu3\ndelete limit inet lango fd3\n"
    );
    // In the netlink batch the only difference from a cap is NFTA_LIMIT_FLAGS: 0, not 1.
    let limit = |over| Op::AddLimit {
        name: "fu3".into(),
        rate: 125_000,
        burst: 31_250,
        over,
    };
    let (fair_bytes, cap_bytes) = (
        netlink::batch(&[limit(false)]),
        netlink::batch(&[limit(true)]),
    );
    let differ: Vec<usize> = (0..fair_bytes.bytes.len())
        .filter(|i| fair_bytes.bytes[*i] != cap_bytes.bytes[*i])
        .collect();
    assert_eq!(differ.len(), 1);
    assert_eq!(fair_bytes.bytes[differ[0]], 0);
    // A fair rate that changes is a changed grant.
    let mut slower = desired.clone();
    slower.clients[0].fair_kbit = Some(500);
    assert!(!delta::unchanged(&desired, &slower));
}

#[test]
fn the_devices_of_one_purchase_share_one_quota_object() {
    let script = render(&family(0), &options());
    assert_eq!(script.matches("quota q1 {").count(), 1, "{script}");
    assert!(!script.contains("quota q2"), "{script}");
    assert!(script.contains("aa:00:00:00:00:02 . 10.77.0.12 timeout 1h : \"q1\""));
    assert!(script.contains("10.77.0.12 timeout 1h : \"q1\""));
    // Speed caps stay per device.
    assert!(script.contains("limit lu2 {") && script.contains("limit lu1 {"));

    // The second device joins: its elements point at the existing object; no object is made.
    let mut first = family(0);
    first.clients.truncate(1);
    let both = family(1000);
    let joined = render_delta(&ops(&delta(&first, &both), 1000));
    assert!(!joined.contains("add quota"), "{joined}");
    assert!(joined.contains("add element inet lango quota_dn4 { 10.77.0.12 timeout 1h : \"q1\" }"));
    assert!(joined.contains("add limit inet lango lu2"));

    // One device leaves (blocked): its elements go, the shared quota stays.
    let left = render_delta(&ops(&delta(&both, &first), 2000));
    assert!(!left.contains("delete quota"), "{left}");
    assert!(left.contains("delete element inet lango quota_dn4 { 10.77.0.12 }"));

    // The purchase ends (a kick): every element first, then the quota once.
    let none = Desired {
        clients: Vec::new(),
        allowed: Vec::new(),
        at_ms: 2000,
    };
    let ended = render_delta(&ops(&delta(&both, &none), 2000));
    assert_eq!(
        ended.matches("delete quota inet lango q1").count(),
        1,
        "{ended}"
    );
    let last_element = ended.rfind("delete element").unwrap();
    assert!(
        last_element < ended.find("delete quota").unwrap(),
        "{ended}"
    );

    // An extension changes both devices: the object is made again once, with the use carried.
    let mut longer = family(3000);
    for c in &mut longer.clients {
        c.deadline_ms = 7_200_000;
        c.quota_total = Some(2_000_000);
        c.quota_left = Some(1_500_000);
    }
    let more = render_delta(&ops(&delta(&both, &longer), 3000));
    assert_eq!(
        more.matches("delete quota inet lango q1").count(),
        1,
        "{more}"
    );
    assert_eq!(
        more.matches("add quota inet lango q1 { over 2000000 bytes used 500000 bytes }")
            .count(),
        1,
        "{more}"
    );
    assert!(more.rfind("delete element").unwrap() < more.find("delete quota").unwrap());
}

#[test]
fn the_allow_list_and_the_garden_are_sets_the_rules_consult() {
    let desired = Desired {
        allowed: vec![Mac([2, 0xaa, 0, 0, 0, 5])],
        ..Default::default()
    };
    let script = render(&desired, &options());
    assert!(script.contains(
        "set allow_mac {\n\t\ttype ether_addr;\n\t\telements = {\n\t\t\t02:aa:00:00:00:05\n"
    ));
    assert!(script.contains("set garden4 {\n\t\ttype ipv4_addr; size 4096; flags timeout;\n"));
    assert!(script.contains("set garden6 {\n\t\ttype ipv6_addr; size 4096; flags timeout;\n"));
    // Allowed devices skip the portal and lango's DNS; garden addresses skip only the portal.
    let pre = script.split("chain prerouting").nth(1).unwrap_or_default();
    let at = |needle: &str| pre.find(needle).unwrap_or(usize::MAX);
    assert!(at("ether saddr @allow_mac return") < at("udp dport 53 redirect"));
    assert!(at("udp dport 53 redirect") < at("ip daddr @garden4 return"));
    assert!(at("ip6 daddr @garden6 return") < at("tcp dport 80 redirect"));
    assert!(script.contains("ether saddr @allow_mac meta mark set meta mark | 0x20000000 return"));
    assert!(
        script.contains("\t\tether saddr @allow_mac goto free\n\t\tip daddr @garden4 goto free\n")
    );
    assert!(script.contains(
        "ct direction reply ct mark & 0x20000000 == 0x20000000 meta mark set meta mark | 0x20000000 accept\n\t\tdrop"
    ));
    assert!(script.contains("chain free {\n\t\tct mark set ct mark | 0x20000000\n"));
}

#[test]
fn an_allow_list_change_is_one_flush_and_its_adds() {
    let mac = |n| Mac([2, 0xaa, 0, 0, 0, n]);
    let old = Desired {
        clients: vec![client(1, None, None)],
        allowed: vec![mac(1)],
        ..Default::default()
    };
    let mut new = old.clone();
    assert!(allow_ops(&old, &new).is_empty() && unchanged(&old, &new));
    new.allowed = vec![mac(2), mac(3)];
    assert!(!unchanged(&old, &new));
    let ops = allow_ops(&old, &new);
    assert_eq!(
        render_delta(&ops),
        "flush set inet lango allow_mac\n\
         add element inet lango allow_mac { 02:aa:00:00:00:02 }\n\
         add element inet lango allow_mac { 02:aa:00:00:00:03 }\n"
    );
    assert_eq!(netlink::batch(&ops).messages, 3);
    // Over netlink: the probe, then that one batch; no nft process, no rewrite.
    let nft = Arc::new(FakeNft::default());
    let kernel = Arc::new(FakeNetlink {
        available: true,
        refuse: None,
        sent: Mutex::default(),
    });
    let firewall = NftFirewall::new(nft.clone(), kernel.clone(), options());
    firewall.apply(&old).unwrap();
    nft.0.lock().unwrap().clear();
    kernel.sent.lock().unwrap().clear();
    firewall.apply(&new).unwrap();
    assert!(nft.0.lock().unwrap().is_empty());
    assert_eq!(*kernel.sent.lock().unwrap(), vec![2, 3]);
}

#[test]
fn garden_addresses_are_refreshed_or_added_in_one_batch() {
    let v4: IpAddr = "10.78.0.2".parse().unwrap();
    let v6: IpAddr = "fd78::2".parse().unwrap();
    let kernel = |refuse| {
        Arc::new(FakeNetlink {
            available: true,
            refuse,
            sent: Mutex::default(),
        })
    };
    let nft = Arc::new(FakeNft::default());
    let ok = kernel(None);
    let firewall = NftFirewall::new(nft.clone(), ok.clone(), options());
    firewall
        .open_garden(&[(v4, 60_000), (v6, 3_600_000)])
        .unwrap();
    // Two deletes (the timeouts start over), then two adds.
    assert_eq!(*ok.sent.lock().unwrap(), vec![4]);
    // A new address: the delete is refused (ENOENT), the adds go alone.
    let refusing = kernel(Some((0, 2)));
    let firewall = NftFirewall::new(nft.clone(), refusing.clone(), options());
    firewall.open_garden(&[(v4, 60_000), (v6, 60_000)]).unwrap();
    assert_eq!(*refusing.sent.lock().unwrap(), vec![4, 2]);
    firewall.open_garden(&[]).unwrap();
    assert!(nft.0.lock().unwrap().is_empty());
    let adds = [Op::AddElement {
        element: Element {
            set: "garden4",
            key: Key::Ip(v4),
            object: None,
        },
        timeout_ms: 60_000,
    }];
    assert_eq!(
        render_delta(&adds),
        "add element inet lango garden4 { 10.78.0.2 timeout 1m }\n"
    );
}
