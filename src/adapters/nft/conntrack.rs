//! Connection tracking: `forget`, over the `Netlink` seam (the `conntrack` CLI where that
//! fails), and pure below it: the dump request of every tracked connection
//! (`IPCTNL_MSG_CT_GET`, ctnetlink), the matching of one dumped connection against the
//! addresses that lost access, and the delete of the connections found (`IPCTNL_MSG_CT_DELETE`
//! with the connection's original tuple and id, copied as the kernel sent them). One dump
//! serves every address that lost access at once, instead of two `conntrack -D` processes per
//! address, each of which walks the kernel's whole connection table.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::netlink::{attributes, find, Batch};
use super::socket::{Netlink, NetlinkError};
use crate::adapters::sys::Runner;
use crate::core::firewall::FirewallError;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLA_F_NESTED: u16 = 0x8000;
/// `NFNL_SUBSYS_CTNETLINK`, and `enum cntl_msg_types`.
const SUBSYS_CTNETLINK: u16 = 1;
const MSG_CT_NEW: u16 = 0;
const MSG_CT_GET: u16 = 1;
const MSG_CT_DELETE: u16 = 2;
/// `enum ctattr_type`, `ctattr_tuple` and `ctattr_ip`.
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_ID: u16 = 12;
const CTA_ZONE: u16 = 18;
const CTA_TUPLE_IP: u16 = 1;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_IP_V6_SRC: u16 = 3;
const CTA_IP_V6_DST: u16 = 4;

/// Deletes the tracked connections of `addresses`: over netlink (`over_netlink`), or where
/// that fails with two `conntrack -D` processes per address.
pub(crate) fn forget(
    kernel: &dyn Netlink,
    runner: &dyn Runner,
    addresses: &[IpAddr],
) -> Result<(), FirewallError> {
    if addresses.is_empty() {
        return Ok(());
    }
    match over_netlink(kernel, addresses) {
        Ok(deleted) => {
            let n = addresses.len();
            log::debug!("firewall: {deleted} tracked connections of {n} addresses deleted");
            return Ok(());
        }
        Err(e) => log::debug!("firewall: conntrack over netlink: {e}; conntrack -D instead"),
    }
    for addr in addresses {
        let addr = addr.to_string();
        for side in ["-s", "-d"] {
            // conntrack exits 1 when nothing matched; only a missing tool is an error.
            let out = runner
                .run("conntrack", &["-D", side, &addr], None)
                .map_err(|e| FirewallError::Unavailable(format!("cannot run conntrack: {e}")))?;
            log::debug!("conntrack -D {side} {addr}: {}", out.stderr.trim());
        }
    }
    Ok(())
}

/// One dump of the connection table (the kernel walks it once, whatever the number of
/// addresses) and one send of deletes per 256; returns how many were deleted. A connection
/// that comes meanwhile is a flow of an address without access: the gate drops its packets.
fn over_netlink(kernel: &dyn Netlink, addresses: &[IpAddr]) -> Result<usize, NetlinkError> {
    let wanted: HashSet<IpAddr> = addresses.iter().copied().collect();
    let mut flows = Vec::new();
    kernel.dump(&dump_request(), &mut |message| {
        flows.extend(matching(message, &wanted));
    })?;
    // Each delete is answered; 256 at a time keep the answers within the socket's buffer.
    for chunk in flows.chunks(256) {
        kernel.exchange(&deletes(chunk))?;
    }
    Ok(flows.len())
}

/// Pure: the request for every tracked connection of both families (`AF_UNSPEC`), read with
/// `Netlink::dump`.
pub(crate) fn dump_request() -> Batch {
    let mut buf = Vec::with_capacity(20);
    header(&mut buf, MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, 0, 1);
    finish(&mut buf, 0);
    Batch {
        bytes: buf,
        messages: 1,
        quiet: false,
    }
}

/// One tracked connection to delete: its family and the attributes that name it, as the
/// kernel sent them (the original tuple, the id, the zone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flow {
    family: u8,
    attrs: Vec<u8>,
}

/// Pure: the connection one dumped message describes, if any of the addresses of its two
/// tuples (original and reply, source and destination) is in `addresses`.
pub(crate) fn matching(message: &[u8], addresses: &HashSet<IpAddr>) -> Option<Flow> {
    let kind = u16::from_ne_bytes([*message.get(4)?, *message.get(5)?]);
    if kind != SUBSYS_CTNETLINK << 8 | MSG_CT_NEW {
        return None;
    }
    let family = *message.get(16)?;
    let attrs = message.get(20..)?;
    let orig = find(attrs, CTA_TUPLE_ORIG)?;
    let hit = [Some(orig), find(attrs, CTA_TUPLE_REPLY)]
        .into_iter()
        .flatten()
        .filter_map(|tuple| find(tuple, CTA_TUPLE_IP))
        .flat_map(addresses_of)
        .any(|a| addresses.contains(&a));
    if !hit {
        return None;
    }
    let mut kept = Vec::with_capacity(orig.len() + 24);
    attribute(&mut kept, CTA_TUPLE_ORIG | NLA_F_NESTED, orig);
    for kind in [CTA_ID, CTA_ZONE] {
        if let Some(value) = find(attrs, kind) {
            attribute(&mut kept, kind, value);
        }
    }
    Some(Flow {
        family,
        attrs: kept,
    })
}

/// The addresses in one `CTA_TUPLE_IP`.
fn addresses_of(ip: &[u8]) -> impl Iterator<Item = IpAddr> + '_ {
    attributes(ip).filter_map(|(kind, value)| match kind {
        CTA_IP_V4_SRC | CTA_IP_V4_DST => <[u8; 4]>::try_from(value)
            .ok()
            .map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        CTA_IP_V6_SRC | CTA_IP_V6_DST => <[u8; 16]>::try_from(value)
            .ok()
            .map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        _ => None,
    })
}

/// Pure: one delete per flow, each asking for an ack, sequence numbers 1 to `flows.len()`, in
/// one buffer (the kernel takes the messages of one send one after the other; ctnetlink has no
/// transactions). A flow already gone answers ENOENT, which is what was wanted.
pub(crate) fn deletes(flows: &[Flow]) -> Batch {
    let mut buf = Vec::with_capacity(flows.iter().map(|f| f.attrs.len() + 20).sum());
    for (seq, flow) in (1u32..).zip(flows) {
        let start = buf.len();
        header(
            &mut buf,
            MSG_CT_DELETE,
            NLM_F_REQUEST | NLM_F_ACK,
            flow.family,
            seq,
        );
        buf.extend_from_slice(&flow.attrs);
        finish(&mut buf, start);
    }
    Batch {
        bytes: buf,
        messages: u32::try_from(flows.len()).unwrap_or(u32::MAX),
        quiet: false,
    }
}

/// A message's `nlmsghdr` (its length filled in by `finish`) and `nfgenmsg`.
fn header(buf: &mut Vec<u8>, kind: u16, flags: u16, family: u8, seq: u32) {
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&(SUBSYS_CTNETLINK << 8 | kind).to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&[family, 0, 0, 0]);
}

/// Writes the length of the message that starts at `start`.
fn finish(buf: &mut [u8], start: usize) {
    let len = u32::try_from(buf.len() - start).unwrap_or(u32::MAX);
    buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

/// One netlink attribute, padded to 4 bytes.
fn attribute(buf: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = u16::try_from(value.len() + 4).unwrap_or(u16::MAX);
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(value);
    buf.resize(buf.len().next_multiple_of(4), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dumped connection as the kernel lays it out: UDP from `src` to `dst`, answered from
    /// `reply_src` (a redirect), with an id.
    fn dumped(family: u8, src: IpAddr, dst: IpAddr, reply_src: IpAddr) -> Vec<u8> {
        let ip = |a: IpAddr, v4: u16, v6: u16, out: &mut Vec<u8>| match a {
            IpAddr::V4(a) => attribute(out, v4, &a.octets()),
            IpAddr::V6(a) => attribute(out, v6, &a.octets()),
        };
        let tuple = |s: IpAddr, d: IpAddr| {
            let mut ips = Vec::new();
            ip(s, CTA_IP_V4_SRC, CTA_IP_V6_SRC, &mut ips);
            ip(d, CTA_IP_V4_DST, CTA_IP_V6_DST, &mut ips);
            let mut proto = Vec::new();
            attribute(&mut proto, 1, &[17]);
            let mut t = Vec::new();
            attribute(&mut t, CTA_TUPLE_IP | NLA_F_NESTED, &ips);
            attribute(&mut t, 2 | NLA_F_NESTED, &proto);
            t
        };
        let mut buf = Vec::new();
        header(&mut buf, MSG_CT_NEW, 0x2, family, 1);
        attribute(&mut buf, CTA_TUPLE_ORIG | NLA_F_NESTED, &tuple(src, dst));
        attribute(
            &mut buf,
            CTA_TUPLE_REPLY | NLA_F_NESTED,
            &tuple(reply_src, src),
        );
        attribute(&mut buf, 3, &8u32.to_be_bytes());
        attribute(&mut buf, CTA_ID, &0xdead_beefu32.to_be_bytes());
        finish(&mut buf, 0);
        buf
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_flow_of_a_removed_address_is_found_in_either_tuple_and_deleted_by_its_tuple_and_id() {
        let guest = ip("10.77.0.5");
        let message = dumped(2, guest, ip("1.1.1.1"), ip("1.1.1.1"));
        let removed = HashSet::from([guest]);
        let flow = matching(&message, &removed).expect("the guest's flow");
        // Inbound, from the guest's point of view: the guest is the reply's source only.
        let inbound = dumped(2, ip("203.0.113.9"), ip("192.0.2.1"), guest);
        assert!(matching(&inbound, &removed).is_some());
        assert!(matching(&message, &HashSet::from([ip("10.77.0.6")])).is_none());

        let batch = deletes(&[flow.clone(), flow]);
        assert_eq!(batch.messages, 2);
        let first_len = u32::from_ne_bytes(batch.bytes[0..4].try_into().unwrap()) as usize;
        let first = &batch.bytes[..first_len];
        assert_eq!(u16::from_ne_bytes([first[4], first[5]]), 1 << 8 | 2);
        assert_eq!(first[16], 2, "the flow's family");
        let attrs = &first[20..];
        // The original tuple as it came, the id, and nothing of the reply or the status.
        assert_eq!(
            find(attrs, CTA_TUPLE_ORIG),
            find(&message[20..], CTA_TUPLE_ORIG)
        );
        assert_eq!(find(attrs, CTA_ID), Some(&0xdead_beefu32.to_be_bytes()[..]));
        assert!(find(attrs, CTA_TUPLE_REPLY).is_none() && find(attrs, 3).is_none());
        let second = &batch.bytes[first_len..];
        assert_eq!(u32::from_ne_bytes(second[8..12].try_into().unwrap()), 2);
    }

    #[test]
    fn ipv6_flows_match_and_junk_never_panics() {
        let guest = ip("2001:db8::5");
        let message = dumped(10, guest, ip("2001:db8:1::1"), ip("2001:db8:1::1"));
        assert!(matching(&message, &HashSet::from([guest])).is_some());
        for cut in 0..message.len() {
            let _ = matching(&message[..cut], &HashSet::from([guest]));
        }
        let request = dump_request();
        assert_eq!(request.bytes.len(), 20);
        assert_eq!(
            u16::from_ne_bytes([request.bytes[4], request.bytes[5]]),
            1 << 8 | 1
        );
    }
}
