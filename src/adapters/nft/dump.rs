//! The bulk usage read over netlink (issue 14): every element of the paid sets and `seen6`
//! with its byte counter, and every quota object's use, as `NFT_MSG_GETSETELEM` and
//! `NFT_MSG_GETOBJ` dumps of lango's table, taken into `Counters` one message at a time as
//! the kernel sends them (`take`, pure): no copy of the answer and no JSON is ever held whole.
//! Also the read of one device's counters when someone asks (`NftFirewall::read_one`): its
//! elements and its quota, one exchange, whatever the number of devices.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::netlink::{self, attributes, be64, counted, find, Dump};
use super::parse::Counters;
use super::socket::{Netlink, NetlinkError};
use crate::core::model::Mac;

/// What the periodic usage read dumps: the sets whose elements count bytes, `seen6`, and the
/// quota objects.
pub(crate) const USAGE: [Dump<'static>; 6] = [
    Dump::Set("paid4"),
    Dump::Set("paid6"),
    Dump::Set("paid_ip4"),
    Dump::Set("paid_ip6"),
    Dump::Set("seen6"),
    Dump::Quotas,
];

/// Reads `what` from the kernel, each dump once more if the kernel says its set changed during
/// it (an element added meanwhile may have been skipped; what was read is read again, not
/// added twice).
pub(crate) fn read(kernel: &dyn Netlink, what: &[Dump<'_>]) -> Result<Counters, NetlinkError> {
    let mut counters = Counters::default();
    for dump in what {
        let request = netlink::dump_request(*dump);
        let mut each = |message: &[u8]| take(message, &mut counters);
        if kernel.dump(&request, &mut each)? {
            kernel.dump(&request, &mut each)?;
        }
    }
    Ok(counters)
}

impl super::NftFirewall {
    /// One device's counters now: its elements' counters (the applied state says which, found
    /// by MAC in O(log n)) plus what earlier tables counted (`carry`). `None` when the device
    /// is not in the applied state; an error where netlink is unavailable.
    pub(super) fn read_one(
        &self,
        mac: Mac,
    ) -> Result<Option<crate::core::firewall::Usage>, crate::core::firewall::FirewallError> {
        let client = {
            let state = self.lock();
            let clients = state.applied.as_ref().map(|d| &d.clients[..]);
            let clients = clients.unwrap_or_default();
            let at = clients.binary_search_by_key(&mac, |c| c.mac);
            at.ok().map(|at| clients[at].clone())
        };
        let Some(client) = client else {
            return Ok(None);
        };
        let counters = self.read_before_change(std::slice::from_ref(&client))?;
        let id = client.session_id;
        let one = crate::core::firewall::Desired {
            clients: vec![client],
            ..Default::default()
        };
        let (up, down) = super::parse::usage_of(&one, &counters)
            .get(&id)
            .copied()
            .unwrap_or_default();
        let (carry_up, carry_down) = self.lock().carry.get(&id).copied().unwrap_or_default();
        Ok(Some(crate::core::firewall::Usage {
            mac,
            bytes_up: up + carry_up,
            bytes_down: down + carry_down,
        }))
    }
}

/// Pure: what one message of a dump says, into `counters`: the elements of `paid4`, `paid6`
/// (MAC and address, upload bytes), `paid_ip4`, `paid_ip6` (address, download bytes) and
/// `seen6` (MAC and address), or a quota object's use (`q<purchase>`). An element without a
/// counter counts 0. Other sets, objects and messages, and anything cut short, are skipped.
pub(crate) fn take(message: &[u8], counters: &mut Counters) {
    let Some(attrs) = message.get(20..) else {
        return;
    };
    let kind = u16::from_ne_bytes([message[4], message[5]]);
    match kind & 0xff {
        netlink::MSG_NEWSETELEM => {
            let set = find(attrs, netlink::LIST_SET).and_then(name);
            let Some(list) = find(attrs, netlink::LIST_ELEMENTS) else {
                return;
            };
            for (_, elem) in attributes(list).filter(|(k, _)| *k == netlink::LIST_ELEM) {
                let Some(key) =
                    find(elem, netlink::ELEM_KEY).and_then(|k| find(k, netlink::DATA_VALUE))
                else {
                    continue;
                };
                let bytes = counted(elem).unwrap_or(0);
                match (set, key.len()) {
                    (Some("paid4"), 12) | (Some("paid6"), 24) => {
                        if let Some(at) = mac_and_address(key) {
                            counters.up.insert(at, bytes);
                        }
                    }
                    (Some("paid_ip4" | "paid_ip6"), 4 | 16) => {
                        if let Some(addr) = address(key) {
                            counters.down.insert(addr, bytes);
                        }
                    }
                    (Some("seen6"), 24) => {
                        if let Some((mac, IpAddr::V6(addr))) = mac_and_address(key) {
                            counters.seen6.push((mac, addr));
                        }
                    }
                    _ => {}
                }
            }
        }
        netlink::MSG_NEWOBJ => {
            let quota = netlink::OBJECT_QUOTA.to_be_bytes();
            if find(attrs, netlink::OBJ_TYPE) != Some(&quota[..]) {
                return;
            }
            let id = find(attrs, netlink::OBJ_NAME)
                .and_then(name)
                .and_then(|n| n.strip_prefix('q')?.parse::<u64>().ok());
            let used = find(attrs, netlink::OBJ_DATA)
                .and_then(|data| be64(find(data, netlink::QUOTA_CONSUMED)));
            if let (Some(id), Some(used)) = (id, used) {
                counters.quota_used.insert(id, used);
            }
        }
        _ => {}
    }
}

/// A string attribute's text (NUL-terminated), if it is UTF-8.
fn name(payload: &[u8]) -> Option<&str> {
    let text = payload.split(|b| *b == 0).next().unwrap_or_default();
    std::str::from_utf8(text).ok()
}

/// An address key: 4 bytes (IPv4) or 16 (IPv6).
fn address(key: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(key) {
        return Some(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    <[u8; 16]>::try_from(key)
        .ok()
        .map(|v6| IpAddr::V6(Ipv6Addr::from(v6)))
}

/// A concatenated key `ether_addr . ipv4_addr` or `. ipv6_addr`: the MAC in its 6 bytes padded
/// to 8 (a whole number of 32-bit registers), then the address.
fn mac_and_address(key: &[u8]) -> Option<(Mac, IpAddr)> {
    let mac: [u8; 6] = key.get(..6)?.try_into().ok()?;
    Some((Mac(mac), address(key.get(8..)?)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One message of each dump, as the kernel (6.18, x86_64: little-endian headers) sent them
    /// to `read` for a table loaded with `nft -f` (counters and quota use given in the script):
    /// `paid4` with 02:aa::01 . 10.77.0.11 (336 bytes) and 02:aa::02 . 10.77.0.12 (70,000,000,000
    /// bytes: past 32 bits), `paid6` with 02:aa::01 . fd77::11 (4,242), `paid_ip4` 10.77.0.11
    /// (1,234), `paid_ip6` fd77::11 (5,678), `seen6` 02:aa::03 . fd77::33 (no counter), quota
    /// `q8` (4,242 used) and `q9` (77). Each set's dump also ends with a message whose element
    /// list is empty (`EMPTY`).
    const KERNEL_DUMPS: [&str; 7] = [
        "e80000000c0a0200010000008e1f0000010000020a0001006c616e676f0000000a0002007061696434000000\
         bc0003005c000100140001001000010002aa0000000200000a4d000c2c0007000c000100636f756e74657200\
         1c0002000c000100000000104c533c000c00020000000000000000010c000400000000000036ee800c000500\
         00000000003661845c000100140001001000010002aa0000000100000a4d000b2c0007000c000100636f756e\
         746572001c0002000c00010000000000000001500c00020000000000000000030c000400000000000036ee80\
         0c0005000000000000366184",
        "980000000c0a0200010000008e1f0000010000020a0001006c616e676f0000000a0002007061696436000000\
         6c00030068000100200001001c00010002aa000000010000fd7700000000000000000000000000112c000700\
         0c000100636f756e746572001c0002000c00010000000000000010920c00020000000000000000030c000400\
         000000000036ee800c0005000000000000366180",
        "880000000c0a0200010000008e1f0000010000020a0001006c616e676f0000000d000200706169645f697034\
         0000000058000300540001000c000100080001000a4d000b2c0007000c000100636f756e746572001c000200\
         0c00010000000000000004d20c00020000000000000000020c000400000000000036ee800c00050000000000\
         00366180",
        "940000000c0a0200010000008e1f0000010000020a0001006c616e676f0000000d000200706169645f697036\
         0000000064000300600001001800010014000100fd7700000000000000000000000000112c0007000c000100\
         636f756e746572001c0002000c000100000000000000162e0c00020000000000000000020c00040000000000\
         0036ee800c0005000000000000366180",
        "600000000c0a0200010000008e1f0000010000020a0001006c616e676f0000000a0002007365656e36000000\
         3400030030000100200001001c00010002aa000000030000fd7700000000000000000000000000330c000500\
         00000000000147c0",
        "68000000120a0208010000008e1f0000010000020a0001006c616e676f000000070002007138000008000300\
         000000020c00060000000000000000010800050000000000240004000c00010000000000000f42400c000400\
         00000000000010920800020000000001",
        "68000000120a0208010000008e1f0000010000020a0001006c616e676f000000070002007139000008000300\
         000000020c00060000000000000000020800050000000000240004000c00010000000000001e84800c000400\
         000000000000004d0800020000000001",
    ];
    const EMPTY: &str =
        "300000000c0a0200010000008e1f0000010000020a0001006c616e676f0000000a0002007061696434000000\
         04000300";

    fn unhex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    fn expected() -> Counters {
        let mac = |n: u8| Mac([2, 0xaa, 0, 0, 0, n]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut c = Counters::default();
        c.up.insert((mac(1), ip("10.77.0.11")), 336);
        c.up.insert((mac(2), ip("10.77.0.12")), 70_000_000_000);
        c.up.insert((mac(1), ip("fd77::11")), 4242);
        c.down.insert(ip("10.77.0.11"), 1234);
        c.down.insert(ip("fd77::11"), 5678);
        c.seen6.push((mac(3), "fd77::33".parse().unwrap()));
        c.quota_used.insert(8, 4242);
        c.quota_used.insert(9, 77);
        c
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn the_kernels_dumps_are_read_into_counters() {
        let mut counters = Counters::default();
        for message in KERNEL_DUMPS.iter().chain([&EMPTY]) {
            take(&unhex(message), &mut counters);
        }
        assert_eq!(counters, expected());
    }

    /// Kernel replies are outside input: cut anywhere, a message makes up nothing and never
    /// panics; what it yields is in the whole message's reading.
    #[test]
    #[cfg(target_endian = "little")]
    fn a_message_cut_short_makes_nothing_up() {
        let whole = expected();
        for message in KERNEL_DUMPS {
            let bytes = unhex(message);
            for cut in 0..bytes.len() {
                let mut counters = Counters::default();
                take(&bytes[..cut], &mut counters);
                assert!(counters.up.iter().all(|(k, v)| whole.up.get(k) == Some(v)));
                assert!(counters
                    .down
                    .iter()
                    .all(|(k, v)| whole.down.get(k) == Some(v)));
                let quotas = &counters.quota_used;
                assert!(quotas
                    .iter()
                    .all(|(k, v)| whole.quota_used.get(k) == Some(v)));
                assert!(counters.seen6.iter().all(|s| whole.seen6.contains(s)));
            }
        }
    }

    #[cfg(target_endian = "little")]
    fn header(kind: u16, flags: u16, payload: &[u8]) -> Vec<u8> {
        let mut out = ((16 + payload.len()) as u32).to_ne_bytes().to_vec();
        out.extend(kind.to_ne_bytes());
        out.extend(flags.to_ne_bytes());
        out.extend([0; 8]);
        out.extend(payload);
        out
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn a_datagram_hands_over_its_messages_until_done_or_refused() {
        let mut datagram = unhex(KERNEL_DUMPS[0]);
        datagram.extend(unhex(EMPTY));
        let (mut seen, mut interrupted) = (Vec::new(), false);
        let mut each = |m: &[u8]| seen.push(m.len());
        let step = netlink::dump_datagram(&datagram, &mut interrupted, &mut each);
        assert_eq!((step, interrupted), (netlink::DumpStep::More, false));
        // NLMSG_DONE, flagged NLM_F_DUMP_INTR: done, and the set changed meanwhile.
        let step = netlink::dump_datagram(&header(3, 0x12, &[0; 4]), &mut interrupted, &mut each);
        assert_eq!((step, interrupted), (netlink::DumpStep::Done, true));
        assert_eq!(seen, vec![232, 48]);
        // NLMSG_ERROR with -ENOENT: the set is not there.
        let refused = header(2, 0, &(-2i32).to_ne_bytes());
        let step = netlink::dump_datagram(&refused, &mut interrupted, &mut |_| {});
        assert_eq!(step, netlink::DumpStep::Refused(2));
        // Garbage and nothing: more to come, nothing handed over.
        for junk in [&[0xff; 40][..], &[], &datagram[..17]] {
            let step = netlink::dump_datagram(junk, &mut false, &mut |_| panic!("a message"));
            assert_eq!(step, netlink::DumpStep::More);
        }
    }

    #[test]
    fn a_dump_asks_for_every_element_or_quota_of_lango_and_resets_nothing() {
        for (what, kind) in [
            (Dump::Set("paid4"), 10 << 8 | 13),
            (Dump::Quotas, 10 << 8 | 19),
        ] {
            let request = netlink::dump_request(what);
            let bytes = &request.bytes;
            assert_eq!(
                u32::from_ne_bytes(bytes[..4].try_into().unwrap()) as usize,
                bytes.len()
            );
            // NFT_MSG_GETSETELEM or NFT_MSG_GETOBJ (not their _RESET kinds), NLM_F_REQUEST |
            // NLM_F_DUMP, family inet.
            assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), kind);
            assert_eq!(u16::from_ne_bytes([bytes[6], bytes[7]]), 0x301);
            assert_eq!(bytes[16], 1);
            assert!(bytes.windows(6).any(|w| w == b"lango\0"));
        }
    }
}
