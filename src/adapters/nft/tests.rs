//! Tests of the nft adapter's pure parts: the scripts, the deltas and the parsers.

use super::delta::*;
use super::parse::*;
use super::render::*;
use super::*;
use std::net::IpAddr;

use crate::adapters::testing::{nft_options as options, paid_device as client};

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
        ..Default::default()
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
            ..Default::default()
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
        ..Default::default()
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
        ..Default::default()
    };
    desired.clients[0].quota_left = Some(3_500_000);
    let live = Counters {
        quota_used: HashMap::from([(1, 3_000_000)]),
        ..Counters::default()
    };
    carry_quotas(&mut desired.clients, &live);
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
    carry_quotas(&mut desired.clients, &live);
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
        ..Default::default()
    };
    let mut new = Desired {
        clients: many,
        at_ms: 1000,
        ..Default::default()
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
    let script = render_delta(&ops(&d, new.at_ms));
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
        ..Default::default()
    };
    assert_eq!(ops(&delta(&expired, &gone), 1000), []);
    assert_eq!(
        render_delta(&objects_of(&expired.clients[0], true)),
        "delete quota inet lango q1\ndelete limit inet lango lu1\ndelete limit inet lango ld1\n"
    );
}

#[test]
fn stale_objects_go_in_one_batch_after_the_kernel_reaped_their_elements() {
    let mut stale = vec![
        (0, Op::DelQuota("q1".into())),
        (27_000, Op::DelLimit("lu2".into())),
    ];
    // The oldest has not waited a batch yet: nothing.
    assert_eq!(stale_due(&mut stale, 29_999), []);
    // Then those past the grace go together; the newest waits for the next batch.
    assert_eq!(stale_due(&mut stale, 30_000), [Op::DelQuota("q1".into())]);
    assert_eq!(stale, [(27_000, Op::DelLimit("lu2".into()))]);
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
        ..Default::default()
    };
    assert_eq!(usage_of(&desired, &counters).get(&1), Some(&(320, 9000)));
    assert_eq!(parse_usage("not json"), Counters::default());
}

/// What nft 1.0.6 sent for this script (`nft --debug=mnl -f`, recorded on x86_64, so with
/// little-endian headers; the flags, which that dump leaves out, as strace showed them):
///
/// ```text
/// add quota inet lango q7 { over 1000000 bytes used 100 bytes }
/// add limit inet lango lu7 { rate over 250000 bytes/second burst 62500 bytes }
/// add element inet lango paid4 { 02:aa:00:00:00:07 . 10.77.0.17 timeout 1h }
/// add element inet lango paid6 { 02:aa:00:00:00:07 . fd77::7 timeout 1h }
/// add element inet lango quota_up4 { 02:aa:00:00:00:07 . 10.77.0.17 timeout 1h : "q7" }
/// delete element inet lango quota_up4 { 02:aa:00:00:00:07 . 10.77.0.17 }
/// delete quota inet lango q7
/// ```
const NFT_SENDS: &str = "\
140000001000010000000000000000000000000a54000000120a01040100000000000000010000000a0001006c616e67\
6f00000007000200713700000800030000000002240004800c00010000000000000f42400c0004000000000000000064\
080002000000000164000000120a01040200000000000000010000000a0001006c616e676f000000080002006c753700\
0800030000000004340004800c000100000000000003d0900c0002000000000000000001080003000000f42408000400\
0000000108000500000000015c0000000c0a01040300000000000000010000000a0001006c616e676f0000000a000200\
7061696434000000080004000000000228000380240001800c000400000000000036ee80140001801000010002aa0000\
000700000a4d0011680000000c0a01040400000000000000010000000a0001006c616e676f0000000a00020070616964\
36000000080004000000000334000380300001800c000400000000000036ee80200001801c00010002aa000000070000\
fd770000000000000000000000000007680000000c0a01040500000000000000010000000a0001006c616e676f000000\
0e00020071756f74615f7570340000000800040000000006300003802c0001800c000400000000000036ee8014000180\
1000010002aa0000000700000a4d001107000900713700004c0000000e0a01000600000000000000010000000a000100\
6c616e676f0000000e00020071756f74615f7570340000001c00038018000180140001801000010002aa000000070000\
0a4d001134000000140a01000700000000000000010000000a0001006c616e676f000000070002007137000008000300\
0000000204000480140000001100010008000000000000000000000a";

/// Attributes recorded little-endian, re-emitted in host order; `drop` leaves out one
/// attribute type at this level.
fn host_order_attributes(mut le: &[u8], drop: Option<u16>) -> Vec<u8> {
    let mut out = Vec::new();
    while le.len() >= 4 {
        let len = usize::from(u16::from_le_bytes([le[0], le[1]]));
        let kind = u16::from_le_bytes([le[2], le[3]]);
        if Some(kind) != drop {
            let payload = if kind & 0x8000 != 0 {
                host_order_attributes(&le[4..len], None)
            } else {
                le[4..len].to_vec()
            };
            out.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
            out.extend_from_slice(&kind.to_ne_bytes());
            out.extend_from_slice(&payload);
            out.resize(out.len().next_multiple_of(4), 0);
        }
        le = &le[len.next_multiple_of(4).min(le.len())..];
    }
    out
}

/// nft's batch as lango sends it: headers in host order, `NLM_F_ACK` on each nf_tables
/// message (lango waits for every answer; nft only listens for errors), and without
/// `NFTA_SET_ELEM_LIST_SET_ID` (4), the id of the set in nft's cache, which the kernel reads
/// only for a set created in the same batch.
fn as_lango_sends(le: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = le;
    while rest.len() >= 20 {
        let word = |at: usize| u32::from_le_bytes(rest[at..at + 4].try_into().unwrap());
        let len = word(0) as usize;
        let kind = u16::from_le_bytes([rest[4], rest[5]]);
        let mut flags = u16::from_le_bytes([rest[6], rest[7]]);
        if kind >> 8 == 10 {
            flags |= 0x4;
        }
        let drop = (kind == 10 << 8 | 12).then_some(4);
        let body = host_order_attributes(&rest[20..len], drop);
        out.extend_from_slice(&((20 + body.len()) as u32).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&flags.to_ne_bytes());
        out.extend_from_slice(&word(8).to_ne_bytes());
        out.extend_from_slice(&word(12).to_ne_bytes());
        out.extend_from_slice(&rest[16..20]);
        out.extend_from_slice(&body);
        rest = &rest[len..];
    }
    out
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn the_netlink_batch_is_what_nft_sends_for_the_same_script() {
    let mac = Mac([2, 0xaa, 0, 0, 0, 7]);
    let v4: IpAddr = "10.77.0.17".parse().unwrap();
    let up4 = |set, object: Option<&str>| Element {
        set,
        key: Key::MacIp(mac, v4),
        object: object.map(String::from),
    };
    let ops = [
        Op::AddQuota {
            name: "q7".into(),
            total: 1_000_000,
            used: 100,
        },
        Op::AddLimit {
            name: "lu7".into(),
            rate: 250_000,
            burst: 62_500,
            over: true,
        },
        Op::AddElement {
            element: up4("paid4", None),
            timeout_ms: 3_600_000,
        },
        Op::AddElement {
            element: Element {
                set: "paid6",
                key: Key::MacIp(mac, "fd77::7".parse().unwrap()),
                object: None,
            },
            timeout_ms: 3_600_000,
        },
        Op::AddElement {
            element: up4("quota_up4", Some("q7")),
            timeout_ms: 3_600_000,
        },
        Op::DelElement(up4("quota_up4", None)),
        Op::DelQuota("q7".into()),
    ];
    let batch = netlink::batch(&ops);
    assert_eq!(batch.messages, 7);
    assert_eq!(batch.bytes, as_lango_sends(&unhex(NFT_SENDS)));
    // The same operations as a script are the lines nft was given.
    let script = render_delta(&ops);
    assert!(script.starts_with(
        "add quota inet lango q7 { over 1000000 bytes used 100 bytes }\n\
         add limit inet lango lu7 { rate over 250000 bytes/second burst 62500 bytes }\n\
         add element inet lango paid4 { 02:aa:00:00:00:07 . 10.77.0.17 timeout 1h }\n"
    ));
    assert!(script.ends_with(
        "add element inet lango quota_up4 { 02:aa:00:00:00:07 . 10.77.0.17 timeout 1h : \"q7\" }\n\
         delete element inet lango quota_up4 { 02:aa:00:00:00:07 . 10.77.0.17 }\n\
         delete quota inet lango q7\n"
    ));
}

/// An answer from the kernel: `NLMSG_ERROR` with `errno` for message `seq`.
fn answer(seq: u32, errno: i32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&36u32.to_ne_bytes());
    out.extend_from_slice(&2u16.to_ne_bytes());
    out.extend_from_slice(&0u16.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&7u32.to_ne_bytes());
    out.extend_from_slice(&(-errno).to_ne_bytes());
    out.extend_from_slice(&[0; 16]);
    out
}

#[test]
fn the_kernels_answers_are_read_per_message() {
    let mut datagram = answer(1, 0);
    datagram.extend(answer(2, 2));
    let mut replies = Vec::new();
    assert_eq!(
        netlink::answers(&datagram, &mut replies),
        vec![(1, 0), (2, 2)]
    );
    // Truncated or garbage: what was whole is read, the rest ignored.
    assert_eq!(
        netlink::answers(&datagram[..40], &mut replies),
        vec![(1, 0)]
    );
    assert_eq!(netlink::answers(&[0xff; 40], &mut replies), vec![]);
    assert_eq!(netlink::answers(&[], &mut replies), vec![]);
    assert!(replies.is_empty());
    let probe = netlink::tables_probe();
    assert_eq!(probe.messages, 2);
    assert_eq!(probe.bytes.len(), 32 + 36);
}

/// A kernel that answers every message with 0, with `errno` at `refuse`, or not at all.
pub(super) struct FakeNetlink {
    pub(super) available: bool,
    pub(super) refuse: Option<(usize, i32)>,
    pub(super) sent: Mutex<Vec<u32>>,
}

impl Netlink for FakeNetlink {
    fn exchange(&self, batch: &netlink::Batch) -> Result<Answers, NetlinkError> {
        if !self.available {
            return Err(NetlinkError::Unavailable("EPROTONOSUPPORT".into()));
        }
        self.sent.lock().unwrap().push(batch.messages);
        let mut errnos = vec![0; batch.messages as usize];
        // The table probe (two messages) always finds both tables.
        if let Some((at, errno)) = self.refuse.filter(|_| batch.messages > 2) {
            errnos[at] = errno;
        }
        Ok(Answers {
            errnos,
            replies: Vec::new(),
        })
    }

    /// A dump finds nothing counted.
    fn dump(&self, _: &netlink::Batch, _: &mut dyn FnMut(&[u8])) -> Result<bool, NetlinkError> {
        match self.available {
            true => Ok(false),
            false => Err(NetlinkError::Unavailable("EPROTONOSUPPORT".into())),
        }
    }
}

/// nft, recorded: `list tables` shows both tables, everything else succeeds silently.
#[derive(Default)]
pub(super) struct FakeNft(pub(super) Mutex<Vec<(String, Option<String>)>>);

impl Runner for FakeNft {
    fn run(
        &self,
        program: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> std::io::Result<crate::adapters::sys::Output> {
        let line = format!("{program} {}", args.join(" "));
        let stdout = if line == "nft list tables" {
            "table inet lango\ntable inet lango_gate\n".into()
        } else {
            String::new()
        };
        self.0.lock().unwrap().push((line, stdin.map(String::from)));
        Ok(crate::adapters::sys::Output {
            status: 0,
            stdout,
            stderr: String::new(),
        })
    }
}

/// A firewall on fakes that has applied one device; then device 2 is granted.
fn grant(
    kernel: FakeNetlink,
) -> (
    Arc<FakeNft>,
    Arc<FakeNetlink>,
    NftFirewall,
    Result<Vec<std::net::IpAddr>, FirewallError>,
) {
    let nft = Arc::new(FakeNft::default());
    let kernel = Arc::new(kernel);
    let firewall = NftFirewall::new(nft.clone(), kernel.clone(), options());
    let mut desired = Desired {
        clients: vec![client(1, None, None)],
        at_ms: 0,
        ..Default::default()
    };
    firewall.apply(&desired).unwrap();
    nft.0.lock().unwrap().clear();
    kernel.sent.lock().unwrap().clear();
    desired.clients.push(client(2, Some(1000), Some(8000)));
    let result = firewall.apply(&desired);
    (nft, kernel, firewall, result)
}

#[test]
fn a_grant_is_one_netlink_batch_and_no_nft_process() {
    let (nft, kernel, _, result) = grant(FakeNetlink {
        available: true,
        refuse: None,
        sent: Mutex::default(),
    });
    result.unwrap();
    assert!(nft.0.lock().unwrap().is_empty(), "{:?}", nft.0.lock());
    // The table probe, then one batch: the quota, two limits and 13 elements.
    assert_eq!(*kernel.sent.lock().unwrap(), vec![2, 16]);
}

#[test]
fn without_netlink_the_change_is_the_same_script_through_nft() {
    let (nft, _, firewall, result) = grant(FakeNetlink {
        available: false,
        refuse: None,
        sent: Mutex::default(),
    });
    result.unwrap();
    let calls = nft.0.lock().unwrap().clone();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].0, "nft list tables");
    assert_eq!(calls[1].0, "nft -f -");
    let script = calls[1].1.clone().unwrap_or_default();
    assert!(script.starts_with("add quota inet lango q2 { over 1000 bytes used 0 bytes }\n"));
    assert!(script.contains("add element inet lango paid_mac { aa:00:00:00:00:02 timeout 1h }\n"));
    assert!(!script.contains("delete table"));
    assert!(firewall.lock().netlink_down);
}

#[test]
fn a_refused_batch_names_the_message_and_the_table_is_rewritten() {
    let (nft, kernel, firewall, result) = grant(FakeNetlink {
        available: true,
        refuse: Some((3, 2)),
        sent: Mutex::default(),
    });
    result.unwrap();
    // The batch was refused; the whole table was rewritten through nft.
    assert_eq!(*kernel.sent.lock().unwrap(), vec![2, 16]);
    let calls = nft.0.lock().unwrap().clone();
    let rewrite = calls.iter().find(|(line, _)| line == "nft -f -");
    let script = rewrite
        .and_then(|(_, stdin)| stdin.clone())
        .unwrap_or_default();
    assert!(
        script.starts_with("table inet lango\ndelete table inet lango\n"),
        "{calls:?}"
    );
    assert!(!firewall.lock().netlink_down);
    let ops = ops(
        &delta(
            &Desired {
                clients: vec![client(1, None, None)],
                at_ms: 0,
                ..Default::default()
            },
            &Desired {
                clients: vec![client(1, None, None), client(2, Some(1000), Some(8000))],
                at_ms: 0,
                ..Default::default()
            },
        ),
        0,
    );
    assert_eq!(ops.len(), 16);
    let refused = firewall.send(&ops).unwrap_err().to_string();
    assert_eq!(
        refused,
        "firewall refused the change: the kernel refused message 4 of 16 \
         (add element inet lango paid_mac { aa:00:00:00:00:02 timeout 1h }): \
         No such file or directory (errno 2)"
    );
}

#[test]
fn elements_capped_at_20_days_are_rewritten_halfway_and_not_before() {
    let nft = Arc::new(FakeNft::default());
    let kernel = Arc::new(FakeNetlink {
        available: true,
        refuse: None,
        sent: Mutex::default(),
    });
    let firewall = NftFirewall::new(nft.clone(), kernel, options());
    let day = 86_400_000;
    let mut long = client(1, None, None);
    long.deadline_ms = 60 * day;
    let at = |at_ms: i64| Desired {
        clients: vec![long.clone()],
        at_ms,
        ..Default::default()
    };
    firewall.apply(&at(0)).unwrap();
    let rewrites = || {
        nft.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, stdin)| {
                stdin
                    .as_deref()
                    .is_some_and(|s| s.contains("delete table inet lango\n"))
            })
            .count()
    };
    assert_eq!(rewrites(), 1);
    firewall.apply(&at(9 * day)).unwrap();
    assert_eq!(rewrites(), 1, "nothing changed, nothing half-way");
    firewall.apply(&at(11 * day)).unwrap();
    assert_eq!(rewrites(), 2, "20-day elements are rewritten after 10 days");
    firewall.apply(&at(12 * day)).unwrap();
    assert_eq!(rewrites(), 2);
}

/// What the kernel (6.18) sent back, recorded with strace on x86_64 (little-endian headers):
/// for `nft get element inet lango paid_ip4 { 127.0.0.1 }` (sequence 1) after 4 pings counted
/// 336 bytes, and for quota q8 `{ over 1000000 bytes used 4242 bytes }` (from a listing,
/// sequence 0).
const KERNEL_REPLIES: &str = "\
880000000c0a000001000000ab5c0000010000060a0001006c616e676f0000000d000200706169645f6970340000000058\
000300540001000c000100080001007f0000012c0007000c000100636f756e746572001c0002000c000100000000000000\
01500c00020000000000000000040c000400000000000036ee800c000500000000000036ea48\
68000000120a020800000000af5c0000010000060a0001006c616e676f000000070002007138000008000300000000020c\
000600000000000000000b0800050000000000240004000c00010000000000000f42400c00040000000000000010920800\
020000000001";

#[test]
#[cfg(target_endian = "little")]
fn counters_and_quota_use_are_read_from_the_kernels_replies() {
    let replies = unhex(KERNEL_REPLIES);
    assert_eq!(netlink::read_values(&replies), vec![(1, 336), (0, 4242)]);
    // An ack in the same datagram is an answer, the element a reply.
    let mut datagram = replies[..136].to_vec();
    datagram.extend(answer(1, 0));
    let mut kept = Vec::new();
    assert_eq!(netlink::answers(&datagram, &mut kept), vec![(1, 0)]);
    assert_eq!(kept, replies[..136]);
    // Cut short or empty: nothing is made up.
    assert_eq!(netlink::read_values(&replies[..100]), vec![]);
    assert_eq!(netlink::read_values(&[]), vec![]);
}

#[test]
fn the_reads_before_an_extension_are_one_get_per_element_and_quota() {
    let key = Key::Ip("10.77.0.11".parse().unwrap());
    let reads = netlink::reads(&[
        netlink::Read::Counter("paid_ip4", &key),
        netlink::Read::QuotaUsed("q1"),
    ]);
    assert_eq!(reads.messages, 2);
    let second = u32::from_ne_bytes(reads.bytes[..4].try_into().unwrap()) as usize;
    let kinds: Vec<u16> = [0, second]
        .iter()
        .map(|at: &usize| u16::from_ne_bytes([reads.bytes[at + 4], reads.bytes[at + 5]]))
        .collect();
    // NFT_MSG_GETSETELEM and NFT_MSG_GETOBJ, each asking for an ack and never created.
    assert_eq!(kinds, vec![10 << 8 | 13, 10 << 8 | 19]);
    let flags = u16::from_ne_bytes([reads.bytes[6], reads.bytes[7]]);
    assert_eq!(flags, 0x1 | 0x4);
}
