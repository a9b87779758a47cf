//! The restore of a table created from nothing (issue 14): its skeleton through one `nft -f`
//! (with the gate), every device's objects and elements over netlink in quiet batches split
//! only between devices; the full script where netlink does not answer.

use std::sync::{Arc, Mutex};

use super::delta::{restore_groups, Op};
use super::netlink::{bulk, Batch};
use super::tests::FakeNft;
use super::*;
use crate::adapters::testing::{nft_options as options, paid_device as client};

/// A kernel without lango's tables: the probe answers ENOENT for both, every batch is taken
/// whole (or refused as too large above `max_bytes`), and the batches' sizes are kept.
struct EmptyKernel {
    max_bytes: usize,
    sent: Mutex<Vec<(u32, bool)>>,
    /// The tables are there once this nft has loaded a script (a skeleton loaded ahead).
    loaded_by: Option<Arc<FakeNft>>,
}

impl EmptyKernel {
    fn new(max_bytes: usize) -> EmptyKernel {
        EmptyKernel {
            max_bytes,
            sent: Mutex::default(),
            loaded_by: None,
        }
    }
}

impl Netlink for EmptyKernel {
    fn exchange(&self, batch: &Batch) -> Result<Answers, NetlinkError> {
        let kind = u16::from_ne_bytes([batch.bytes[4], batch.bytes[5]]);
        if kind != 0x10 {
            let loaded = self
                .loaded_by
                .as_ref()
                .is_some_and(|nft| !nft.0.lock().unwrap().is_empty());
            let errno = if loaded {
                0
            } else {
                nix::errno::Errno::ENOENT as i32
            };
            return Ok(Answers {
                errnos: vec![errno; batch.messages as usize],
                replies: Vec::new(),
            });
        }
        if batch.bytes.len() > self.max_bytes {
            return Err(NetlinkError::TooLarge(nix::errno::Errno::EMSGSIZE));
        }
        self.sent
            .lock()
            .unwrap()
            .push((batch.messages, batch.quiet));
        Ok(Answers {
            errnos: vec![0; batch.messages as usize],
            replies: Vec::new(),
        })
    }
}

/// `n` devices: quotas, caps, and two purchases for two devices.
fn many(n: u64) -> Desired {
    let mut clients: Vec<AllowedClient> = (1..=n)
        .map(|id| {
            client(
                id,
                (id % 2 == 0).then_some(1_000_000),
                (id % 3 == 0).then_some(8000),
            )
        })
        .collect();
    for (c, group) in clients.iter_mut().zip([1, 1, 3, 3]) {
        c.group = group;
        c.quota_left = Some(1_000_000);
    }
    Desired {
        clients,
        at_ms: 0,
        ..Default::default()
    }
}

fn restored(n: u64, max_bytes: usize) -> (Arc<FakeNft>, Vec<(u32, bool)>) {
    let nft = Arc::new(FakeNft::default());
    let kernel = Arc::new(EmptyKernel::new(max_bytes));
    let firewall = NftFirewall::new(nft.clone(), kernel.clone(), options());
    firewall.apply(&many(n)).expect("the restore");
    let sent = kernel.sent.lock().unwrap().clone();
    (nft, sent)
}

#[test]
fn a_restore_loads_the_skeleton_with_nft_and_the_devices_in_one_netlink_batch() {
    let (nft, sent) = restored(40, usize::MAX);
    let runs = nft.0.lock().unwrap();
    // One nft process: the gate and the skeleton, in one script without a device.
    assert_eq!(runs.len(), 1, "{runs:?}");
    let script = runs[0].1.as_deref().unwrap_or_default();
    assert!(script.contains("table inet lango_gate {"), "{script}");
    assert!(script.contains("table inet lango {"), "{script}");
    assert!(!script.contains("elements ="), "{script}");
    assert!(!script.contains("quota q"), "{script}");
    let batches = bulk(restore_groups(&many(40)), usize::MAX);
    assert_eq!(sent, vec![(batches[0].messages, true)]);
    // Every object and element, the elements grouped by set.
    let ops: usize = restore_groups(&many(40)).map(|g| g.len()).sum();
    assert_eq!(contents(&batches[0]), ops);
    assert!(
        (batches[0].messages as usize) < ops / 2,
        "{}",
        batches[0].messages
    );
}

#[test]
fn a_restore_the_socket_cannot_take_at_once_goes_in_smaller_batches() {
    // About 0.2 MB of messages; batches are halved from 8 MiB until they fit 100 KB.
    let (nft, sent) = restored(400, 100_000);
    assert!(sent.len() > 2, "{sent:?}");
    assert!(sent.iter().all(|(_, quiet)| *quiet));
    // Still the skeleton alone through nft.
    assert_eq!(nft.0.lock().unwrap().len(), 1);
}

#[test]
fn without_netlink_a_restore_is_the_full_script() {
    let nft = Arc::new(FakeNft::default());
    let kernel = Arc::new(super::tests::FakeNetlink {
        available: false,
        refuse: None,
        sent: Mutex::default(),
    });
    let firewall = NftFirewall::new(nft.clone(), kernel, options());
    firewall.apply(&many(40)).expect("the rewrite");
    let runs = nft.0.lock().unwrap();
    let last = runs.last().and_then(|r| r.1.as_deref()).unwrap_or_default();
    assert!(last.contains("elements ="), "{runs:?}");
}

/// The objects and elements a batch carries.
fn contents(batch: &Batch) -> usize {
    let u16_at = |b: &[u8], at: usize| usize::from(u16::from_ne_bytes([b[at], b[at + 1]]));
    let mut count = 0;
    let mut at = 0;
    while at + 20 <= batch.bytes.len() {
        let len = u32::from_ne_bytes(batch.bytes[at..at + 4].try_into().unwrap()) as usize;
        let message = &batch.bytes[at..at + len];
        match u16_at(message, 4) & 0xff {
            18 => count += 1,
            12 => {
                // The attributes: the list of elements (3) holds one nest per element.
                let mut a = 20;
                while a + 4 <= message.len() {
                    let alen = u16_at(message, a);
                    if u16_at(message, a + 2) & 0x3fff == 3 {
                        let mut e = a + 4;
                        while e + 4 <= a + alen {
                            count += 1;
                            e += u16_at(message, e).next_multiple_of(4);
                        }
                    }
                    a += alen.next_multiple_of(4);
                }
            }
            _ => {}
        }
        at += len.next_multiple_of(4);
    }
    count
}

/// The flags of each message of a batch, in order (begin and end left out).
fn flags(batch: &Batch) -> Vec<u16> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= batch.bytes.len() {
        let len = u32::from_ne_bytes(batch.bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push(u16::from_ne_bytes([
            batch.bytes[at + 6],
            batch.bytes[at + 7],
        ]));
        at += len.next_multiple_of(4);
    }
    out[1..out.len() - 1].to_vec()
}

#[test]
fn bulk_batches_keep_each_device_whole_and_ask_one_ack_each() {
    let groups: Vec<Vec<Op>> = restore_groups(&many(40)).collect();
    for max in [1, 2000, 8000, 1 << 20] {
        let batches = bulk(groups.clone(), max);
        let mut sizes = groups.iter().map(Vec::len);
        for batch in &batches {
            assert!(batch.quiet);
            // Whole devices only; over `max` only a device alone.
            let (mut left, mut devices) = (contents(batch), 0);
            while left > 0 {
                left = left
                    .checked_sub(sizes.next().unwrap())
                    .expect("a device split");
                devices += 1;
            }
            assert!(batch.bytes.len() <= max || devices == 1, "{max}");
            // Only the last message asks for an ack.
            let acks: Vec<bool> = flags(batch).iter().map(|f| f & 0x4 != 0).collect();
            assert_eq!(acks.len(), batch.messages as usize);
            assert!(acks.last().copied().unwrap_or(false));
            assert!(acks.iter().rev().skip(1).all(|a| !a), "{max}");
        }
        assert!(sizes.next().is_none(), "{max}: devices left out");
    }
    assert_eq!(bulk(groups.clone(), usize::MAX).len(), 1);
    // A set's elements past 60 KB take more than one message, none of them lost.
    let big: Vec<Vec<Op>> = restore_groups(&many(3000)).collect();
    let batch = bulk(big.clone(), usize::MAX).remove(0);
    assert_eq!(contents(&batch), big.iter().map(Vec::len).sum::<usize>());
    assert_eq!(bulk(groups.clone(), 1).len(), groups.len());
}

#[test]
fn before_the_table_exists_nothing_is_read_with_nft() {
    let nft = Arc::new(FakeNft::default());
    let kernel = Arc::new(EmptyKernel::new(usize::MAX));
    let firewall = NftFirewall::new(nft.clone(), kernel, options());
    assert!(firewall.usage().unwrap().is_empty());
    assert!(firewall.ipv6_seen().unwrap().is_empty());
    assert!(firewall.ipv6_allowed().unwrap().is_empty());
    assert!(nft.0.lock().unwrap().is_empty(), "{:?}", nft.0.lock());
}

/// The line after `head` in `script` (a set's `type ...; size ...;` line).
fn line_after<'a>(script: &'a str, head: &str) -> &'a str {
    let at = script
        .find(&format!("\t{head} {{\n"))
        .unwrap_or_else(|| panic!("no {head} in {script}"));
    script[at..].lines().nth(1).unwrap_or_default()
}

/// Issue 14: the sets and maps of paid devices are created sized for what they will hold, so
/// the kernel's hash tables never grow while a restore fills them; a restore's skeleton, which
/// holds no device, is sized for the devices that follow it, as a rewrite of the same state
/// is. The allow-list has no size (no limit on it).
#[test]
fn a_restores_skeleton_is_sized_for_the_devices_that_follow() {
    let (nft, _) = restored(1000, usize::MAX);
    let runs = nft.0.lock().unwrap();
    let skeleton = runs[0].1.as_deref().unwrap_or_default();
    let rewrite = render(&many(1000), &options());
    // 1,000 devices (an IPv6 address each), half again: 2,048; 502 with a quota: 1,024; 333
    // capped, or none with fair use: 512 (the least).
    for (set, size) in [
        ("set paid_mac", 2048),
        ("set paid4", 2048),
        ("set paid_ip4", 2048),
        ("map quota_up4", 1024),
        ("map quota_dn4", 1024),
        ("map limit_up4", 512),
        ("set paid6", 2048),
        ("map fair_dn6", 512),
    ] {
        for script in [skeleton, rewrite.as_str()] {
            let line = line_after(script, set);
            assert!(line.contains(&format!(" size {size};")), "{set}: {line}");
        }
    }
    assert!(
        !line_after(skeleton, "set allow_mac").contains("size"),
        "{skeleton}"
    );
}

/// A firewall on fakes whose tables appear once its nft has loaded a script; `prepare`d for
/// `devices` (without allowed MACs), and the skeleton seen loaded before any apply.
// Not on MIPS: its routers have one core, and nothing loads ahead there (`restore.rs`).
#[cfg(not(target_arch = "mips"))]
fn prepared(devices: usize) -> (Arc<FakeNft>, Arc<EmptyKernel>, NftFirewall) {
    let nft = Arc::new(FakeNft::default());
    let kernel = Arc::new(EmptyKernel {
        loaded_by: Some(nft.clone()),
        ..EmptyKernel::new(usize::MAX)
    });
    let firewall = NftFirewall::new(nft.clone(), kernel.clone(), options());
    firewall.prepare(devices, &[]);
    // The skeleton loads in a thread of its own, before any apply.
    let started = std::time::Instant::now();
    while nft.0.lock().unwrap().is_empty() && started.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(nft.0.lock().unwrap().len(), 1, "no skeleton loaded ahead");
    (nft, kernel, firewall)
}

/// Issue 14: at a start the skeleton (with the gate) loads while the store still reads the
/// devices, sized for their number; the first apply then only sends the devices.
#[test]
#[cfg(not(target_arch = "mips"))]
fn a_skeleton_loaded_ahead_is_kept_and_the_restore_only_adds_the_devices() {
    let without_ipv6 = |n| {
        let mut d = many(n);
        for c in &mut d.clients {
            c.ipv6.clear();
        }
        d
    };
    let (nft, kernel, firewall) = prepared(1000);
    firewall.apply(&without_ipv6(1000)).expect("the restore");
    let runs = nft.0.lock().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let skeleton = runs[0].1.as_deref().unwrap_or_default();
    assert!(skeleton.contains("table inet lango_gate {"), "{skeleton}");
    assert!(!skeleton.contains("elements ="), "{skeleton}");
    assert!(line_after(skeleton, "set paid_mac").contains(" size 2048;"));
    assert!(line_after(skeleton, "map quota_up4").contains(" size 2048;"));
    let batches = bulk(restore_groups(&without_ipv6(1000)), usize::MAX);
    assert_eq!(
        *kernel.sent.lock().unwrap(),
        vec![(batches[0].messages, true)]
    );
    // Applied: the next apply of the same state changes nothing.
    drop(runs);
    firewall.apply(&without_ipv6(1000)).expect("no change");
    assert_eq!(kernel.sent.lock().unwrap().len(), 1);
    assert_eq!(nft.0.lock().unwrap().len(), 1);
}

/// A skeleton loaded ahead that cannot take the devices (more than it was sized for, IPv6
/// addresses, another allow-list) is loaded again, sized for them, before they are sent.
#[test]
#[cfg(not(target_arch = "mips"))]
fn a_skeleton_loaded_ahead_that_does_not_fit_is_loaded_again() {
    let (nft, kernel, firewall) = prepared(10);
    firewall.apply(&many(1000)).expect("the restore");
    let runs = nft.0.lock().unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let again = runs[1].1.as_deref().unwrap_or_default();
    assert!(line_after(again, "set paid_mac").contains(" size 2048;"));
    assert!(line_after(again, "set paid6").contains(" size 2048;"));
    assert_eq!(kernel.sent.lock().unwrap().len(), 1);
    drop(runs);
    let (nft, _, firewall) = prepared(10);
    let mut allowed = many(2);
    allowed.allowed = vec!["02:aa:00:00:00:08".parse().unwrap()];
    firewall.apply(&allowed).expect("the restore");
    let runs = nft.0.lock().unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs[1]
        .1
        .as_deref()
        .unwrap_or_default()
        .contains("02:aa:00:00:00:08"));
}
