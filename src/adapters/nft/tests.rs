//! Tests of the nft adapter's pure parts: the scripts, the deltas and the parsers.

use super::delta::*;
use super::parse::*;
use super::render::*;
use super::*;

fn client(id: u64, quota: Option<u64>, rate: Option<u32>) -> AllowedClient {
    AllowedClient {
        session_id: id,
        mac: Mac([0xaa, 0, 0, 0, 0, id as u8]),
        ipv4: Some(format!("10.77.0.{}", 10 + id).parse().unwrap()),
        ipv6: vec![format!("fd77::{id}").parse().unwrap()],
        timeout_ms: 3_600_000,
        deadline_ms: 0,
        quota_left: quota,
        quota_total: quota,
        rate_down_kbit: rate,
        rate_up_kbit: rate,
    }
}

fn options() -> NftOptions {
    NftOptions {
        device: "br-lan".into(),
        portal_port: 8080,
        tls_port: None,
        dns_port: 5353,
        block_tethering: false,
        gate_file: None,
        owner_macs: Vec::new(),
    }
}

#[test]
fn an_empty_state_still_gates_everyone() {
    let script = render(&Desired::default(), &options());
    assert!(script.starts_with("table inet lango\ndelete table inet lango\ntable inet lango {\n"));
    assert!(script.contains("tcp dport 80 redirect to :8080"));
    assert!(script.contains("udp dport 53 redirect to :5353"));
    assert!(script.contains("meta l4proto tcp reject with tcp reset\n\t\tdrop"));
    assert!(!script.contains("elements"));
}

#[test]
fn durations_are_written_in_units_nft_accepts() {
    assert_eq!(nft_duration(1), "1ms");
    assert_eq!(nft_duration(3_600_000), "1h");
    assert_eq!(nft_duration(172_800_000), "2d");
    assert_eq!(nft_duration(100_000_001), "1d3h46m40s1ms");
    assert_eq!(nft_duration(MAX_TIMEOUT_MS), "20d");
    // No number is longer than nft's 8 digits, up to the cap lango writes.
    for ms in [
        1,
        999,
        99_999_999,
        100_000_000,
        MAX_TIMEOUT_MS - 1,
        MAX_TIMEOUT_MS,
    ] {
        let text = nft_duration(ms);
        let longest = text
            .split(|c: char| c.is_ascii_alphabetic())
            .map(str::len)
            .max();
        assert!(longest.is_some_and(|n| n <= 8), "{ms}: {text}");
    }
}

#[test]
fn clients_are_elements_with_timeouts_and_objects() {
    let desired = Desired {
        clients: vec![
            client(1, Some(5_000_000), Some(8000)),
            client(2, None, None),
        ],
        at_ms: 0,
    };
    let script = render(&desired, &options());
    assert!(script.contains("aa:00:00:00:00:01 . 10.77.0.11 timeout 1h"));
    assert!(script.contains("aa:00:00:00:00:02 . fd77::2 timeout 1h"));
    assert!(script.contains("quota q1 { over 5000000 bytes used 0 bytes }"));
    assert!(script.contains("limit ld1 { rate over 1000000 bytes/second burst 250000 bytes }"));
    assert!(script.contains("10.77.0.11 timeout 1h : \"q1\""));
    assert!(
        !script.contains("q2"),
        "no quota object for an unlimited client"
    );
    // The rules are the same whatever the number of clients.
    let rules = |s: &str| s.lines().filter(|l| l.contains(" @")).count();
    assert_eq!(
        rules(&script),
        rules(&render(&Desired::default(), &options()))
    );
}

#[test]
fn the_gate_drops_unmarked_guest_traffic_and_opens_only_what_guests_need() {
    let mut opts = options();
    opts.tls_port = Some(8443);
    let gate = render_gate(&opts);
    assert!(gate.starts_with(
        "table inet lango_gate\ndelete table inet lango_gate\ntable inet lango_gate {\n"
    ));
    assert!(gate.contains("iifname \"br-lan\" meta mark & 0x20000000 != 0x20000000 drop"));
    assert!(gate.contains("oifname \"br-lan\" meta mark & 0x20000000 != 0x20000000 drop"));
    assert!(gate.contains("tcp dport { 8080, 8443 } accept"));
    assert!(gate.contains("udp dport 5353 accept"));
    assert!(gate.contains("udp dport { 67, 547 } accept"));
    assert!(!gate.contains("ether saddr {"));
    opts.owner_macs = vec![Mac([2, 0xaa, 0, 0, 0, 9])];
    let gate = render_gate(&opts);
    assert!(gate.contains("\t\tether saddr { 02:aa:00:00:00:09 } accept\n"));
    // DNS to dnsmasq only with the paid mark; everything else on the router is closed.
    assert!(gate.contains(
        "meta mark & 0x20000000 == 0x20000000 meta l4proto { tcp, udp } th dport 53 accept"
    ));
    assert!(
        gate.trim_end().ends_with("drop\n\t}\n}")
            || gate.contains("\t\tdrop\n\t}\n\tchain forward")
    );
    // The gate never depends on the guests.
    let script = render(
        &Desired {
            clients: vec![client(1, None, None)],
            at_ms: 0,
        },
        &opts,
    );
    assert!(!gate.contains("aa:00:00:00:00:01"));
    assert!(script
        .contains("ether saddr . ip saddr @paid4 meta mark set meta mark | 0x20000000 return"));
    assert!(script.contains("meta mark set meta mark | 0x20000000 accept"));
}

#[test]
fn tethering_is_blocked_only_when_asked() {
    let desired = Desired {
        clients: vec![client(1, None, None)],
        at_ms: 0,
    };
    let mut opts = options();
    assert!(!render(&desired, &opts).contains("ttl set"));
    opts.block_tethering = true;
    let script = render(&desired, &opts);
    assert!(script.contains("ip ttl set 1") && script.contains("ip6 hoplimit set 1"));
}

#[test]
fn a_rebuilt_table_carries_the_quota_used() {
    let mut desired = Desired {
        clients: vec![client(1, Some(4_000_000), None)],
        at_ms: 0,
    };
    desired.clients[0].quota_left = Some(3_500_000);
    let live = Counters {
        quota_used: HashMap::from([(1, 3_000_000)]),
        ..Counters::default()
    };
    carry_quotas(&mut desired, &live);
    assert_eq!(desired.clients[0].quota_left, Some(1_000_000));
    let script = render(&desired, &options());
    assert!(
        script.contains("quota q1 { over 4000000 bytes used 3000000 bytes }"),
        "{script}"
    );
    // The store knowing more than the kernel (a restart) wins too.
    let live = Counters {
        quota_used: HashMap::from([(1, 10)]),
        ..Counters::default()
    };
    carry_quotas(&mut desired, &live);
    assert_eq!(desired.clients[0].quota_left, Some(1_000_000));
}

#[test]
fn table_listing_and_seen6_and_quota_objects_are_read() {
    assert_eq!(
        tables_present("table inet fw4\ntable inet lango\ntable inet lango_gate\n"),
        (true, true)
    );
    assert_eq!(tables_present("table inet lango_gate\n"), (false, true));
    let json = r#"{"nftables":[{"quota":{"family":"inet","name":"q7","table":"lango","bytes":4000000,"used":1234,"inv":true}},
      {"set":{"name":"seen6","elem":[{"elem":{"val":{"concat":["aa:00:00:00:00:01","fd77::66"]},"timeout":120,"expires":119}},
        {"concat":["aa:00:00:00:00:02","fd77::67"]}]}}]}"#;
    let counters = parse_usage(json);
    assert_eq!(counters.quota_used.get(&7), Some(&1234));
    assert_eq!(counters.seen6.len(), 2);
    assert_eq!(counters.seen6[0].1, "fd77::66".parse::<Ipv6Addr>().unwrap());
}

#[test]
fn a_change_is_one_small_transaction_whatever_the_number_of_devices() {
    let mut many: Vec<AllowedClient> = (1..=100)
        .map(|id| client(id, Some(1_000_000), Some(8000)))
        .collect();
    for c in &mut many {
        c.deadline_ms = 3_600_000;
    }
    let old = Desired {
        clients: many.clone(),
        at_ms: 0,
    };
    let mut new = Desired {
        clients: many,
        at_ms: 1000,
    };
    // Device 7 leaves early (a kick), device 9 is extended, device 200 arrives.
    new.clients.retain(|c| c.session_id != 7);
    new.clients
        .iter_mut()
        .find(|c| c.session_id == 9)
        .unwrap()
        .deadline_ms = 99;
    new.clients.push(client(200, None, None));
    let d = delta(&old, &new);
    let removed: Vec<u64> = d.removed.iter().map(|c| c.session_id).collect();
    let added: Vec<u64> = d.added.iter().map(|c| c.session_id).collect();
    assert_eq!((removed, added), (vec![7, 9], vec![9, 200]));
    let script = render_delta(&d, new.at_ms);
    assert!(script.contains("delete element inet lango paid4 { aa:00:00:00:00:07 . 10.77.0.17 }"));
    assert!(
        script.contains("delete element inet lango quota_up4 { aa:00:00:00:00:07 . 10.77.0.17 }")
    );
    assert!(script.contains("delete quota inet lango q7"));
    assert!(script.contains("delete limit inet lango ld7"));
    assert!(script.contains("add quota inet lango q9 { over 1000000 bytes used 0 bytes }"));
    assert!(script.contains(
        "add limit inet lango lu9 { rate over 1000000 bytes/second burst 250000 bytes }"
    ));
    assert!(
        script.contains(
            "add element inet lango paid4 { aa:00:00:00:00:f4 . 10.77.0.254 timeout 1h }"
        ) || script.contains("add element inet lango paid_mac {")
    );
    assert!(script.contains("add element inet lango quota_dn4 { 10.77.0.19 timeout 1h : \"q9\" }"));
    // Object deletes come after the map elements that use them.
    let element = script
        .find("delete element inet lango quota_dn4 { 10.77.0.17 }")
        .unwrap();
    assert!(element < script.find("delete quota inet lango q7").unwrap());
    // Small: the lines of three devices, not a hundred.
    assert!(script.lines().count() < 60, "{script}");
    // A session whose time ran out has no elements left in the kernel, and its objects are
    // still referenced by expired elements until the kernel reaps them: nothing goes now.
    let mut expired = old.clone();
    expired.clients[0].deadline_ms = 1000;
    let gone = Desired {
        clients: expired.clients[1..].to_vec(),
        at_ms: 1000,
    };
    let script = render_delta(&delta(&expired, &gone), 1000);
    assert_eq!(script, "");
    assert_eq!(
        objects_of(&expired.clients[0]),
        [
            "quota inet lango q1",
            "limit inet lango lu1",
            "limit inet lango ld1"
        ]
    );
}

#[test]
fn flow_offloading_is_noticed() {
    let on = "config defaults\n\toption input 'REJECT'\n\toption flow_offloading '1'\n";
    let off = "config defaults\n\toption flow_offloading '0'\nconfig zone\n\toption flow_offloading '1'\n";
    assert!(flow_offloading_enabled(on));
    assert!(!flow_offloading_enabled(off));
}

#[test]
fn usage_is_read_from_element_counters() {
    let json = r#"{"nftables":[{"metainfo":{}},
      {"set":{"name":"paid4","elem":[{"elem":{"val":{"concat":["aa:00:00:00:00:01","10.77.0.11"]},"timeout":3600,"counter":{"packets":3,"bytes":300}}}]}},
      {"set":{"name":"paid6","elem":[{"elem":{"val":{"concat":["aa:00:00:00:00:01","fd77::1"]},"counter":{"packets":1,"bytes":20}}}]}},
      {"set":{"name":"paid_ip4","elem":[{"elem":{"val":"10.77.0.11","counter":{"packets":9,"bytes":9000}}}, "junk", {"elem":{"val":"nope"}}]}},
      {"set":{"name":"paid_ip6","elem":[]}}]}"#;
    let counters = parse_usage(json);
    let desired = Desired {
        clients: vec![client(1, None, None)],
        at_ms: 0,
    };
    assert_eq!(usage_of(&desired, &counters).get(&1), Some(&(320, 9000)));
    assert_eq!(parse_usage("not json"), Counters::default());
}

#[test]
fn stale_objects_go_in_one_batch_after_the_kernel_reaped_their_elements() {
    let mut stale = vec![
        (0, "quota inet lango q1".to_string()),
        (27_000, "limit inet lango lu2".to_string()),
    ];
    // The oldest has not waited a batch yet: nothing.
    assert_eq!(stale_due(&mut stale, 29_999), "");
    // Then those past the grace go together; the newest waits for the next batch.
    assert_eq!(
        stale_due(&mut stale, 30_000),
        "delete quota inet lango q1\n"
    );
    assert_eq!(stale, [(27_000, "limit inet lango lu2".to_string())]);
}
