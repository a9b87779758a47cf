//! The DNS responder for devices that have not paid. Every name resolves to the portal (A to
//! its IPv4, AAAA to its IPv6 or nothing), with TTL 0 and no recursion, so a pre-paid device
//! cannot tunnel through DNS (iodine and friends need answers from their own server) and every
//! captive-portal probe lands on the portal. `answer` is pure; `serve` is the UDP socket loop.
//! Paid devices use the router's normal resolver (nft only redirects unpaid ones here).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
const RCODE_FORMERR: u8 = 1;
const RCODE_NOTIMP: u8 = 4;
const RCODE_REFUSED: u8 = 5;

/// Longest query name answered. Tunnels pack data into long names; real names rarely pass 100.
const MAX_NAME: usize = 128;

/// Pure: the reply to one query packet, or `None` for packets not worth an answer (too short to
/// carry an id, or themselves responses).
pub(crate) fn answer(
    query: &[u8],
    portal4: Ipv4Addr,
    portal6: Option<Ipv6Addr>,
) -> Option<Vec<u8>> {
    if query.len() < 12 || query[2] & 0x80 != 0 {
        return None;
    }
    let opcode = (query[2] >> 3) & 0x0f;
    let rd = query[2] & 0x01;
    let qdcount = u16::from_be_bytes([query[4], query[5]]);
    let reply = |rcode: u8, question: &[u8], answers: &[Vec<u8>]| -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + question.len() + answers.len() * 28);
        out.extend_from_slice(&query[0..2]);
        out.push(0x80 | (opcode << 3) | 0x04 | rd); // QR, opcode, AA, RD as asked
        out.push(rcode); // RA = 0: no recursion here
        out.extend_from_slice(&[0, u8::from(!question.is_empty())]);
        out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(question);
        for a in answers {
            out.extend_from_slice(a);
        }
        out
    };
    if opcode != 0 {
        return Some(reply(RCODE_NOTIMP, &[], &[]));
    }
    if qdcount != 1 {
        return Some(reply(RCODE_FORMERR, &[], &[]));
    }
    // The question: labels, then type and class. No compression pointers in a question.
    let mut idx = 12;
    let mut name_len = 0;
    loop {
        let len = usize::from(*query.get(idx)?);
        if len == 0 {
            idx += 1;
            break;
        }
        if len & 0xc0 != 0 {
            return Some(reply(RCODE_FORMERR, &[], &[]));
        }
        name_len += len + 1;
        idx += 1 + len;
        if idx > query.len() || name_len > 255 {
            return Some(reply(RCODE_FORMERR, &[], &[]));
        }
    }
    if idx + 4 > query.len() {
        return Some(reply(RCODE_FORMERR, &[], &[]));
    }
    let qtype = u16::from_be_bytes([query[idx], query[idx + 1]]);
    let qclass = u16::from_be_bytes([query[idx + 2], query[idx + 3]]);
    let question = &query[12..idx + 4];
    if name_len > MAX_NAME || qclass != CLASS_IN {
        return Some(reply(RCODE_REFUSED, question, &[]));
    }
    // One answer record: a pointer to the question's name (offset 12), type, class, TTL 0.
    let record = |rtype: u16, data: &[u8]| -> Vec<u8> {
        let mut r = vec![0xc0, 0x0c];
        r.extend_from_slice(&rtype.to_be_bytes());
        r.extend_from_slice(&CLASS_IN.to_be_bytes());
        r.extend_from_slice(&0u32.to_be_bytes());
        r.extend_from_slice(&(data.len() as u16).to_be_bytes());
        r.extend_from_slice(data);
        r
    };
    let answers = match qtype {
        TYPE_A => vec![record(TYPE_A, &portal4.octets())],
        TYPE_AAAA => portal6
            .map(|a| vec![record(TYPE_AAAA, &a.octets())])
            .unwrap_or_default(),
        // Everything else (TXT, NULL, MX, ...) is what tunnels use; nothing for them.
        _ => return Some(reply(RCODE_REFUSED, question, &[])),
    };
    Some(reply(0, question, &answers))
}

/// Answers queries on `addr` until the process ends. Returns once the socket is bound.
pub fn serve(
    addr: SocketAddr,
    portal4: Ipv4Addr,
    portal6: Option<Ipv6Addr>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let socket = UdpSocket::bind(addr)?;
    std::thread::Builder::new()
        .name(format!("lango-dns-{}", addr.port()))
        .spawn(move || {
            let mut buf = [0u8; 512];
            loop {
                let (len, peer) = match socket.recv_from(&mut buf) {
                    Ok(r) => r,
                    Err(e) => {
                        log::warn!("dns: {e}");
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        continue;
                    }
                };
                if let Some(reply) = answer(&buf[..len], portal4, portal6) {
                    let _ = socket.send_to(&reply, peer);
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&CLASS_IN.to_be_bytes());
        q
    }

    const PORTAL: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);

    #[test]
    fn every_name_is_the_portal() {
        let r = answer(
            &query("connectivitycheck.gstatic.com", TYPE_A),
            PORTAL,
            None,
        )
        .unwrap();
        assert_eq!(&r[0..2], &[0x12, 0x34]);
        assert_eq!(r[2] & 0x80, 0x80, "a response");
        assert_eq!(r[3] & 0x0f, 0, "NOERROR");
        assert_eq!(r[3] & 0x80, 0, "no recursion available");
        assert_eq!(u16::from_be_bytes([r[6], r[7]]), 1, "one answer");
        assert_eq!(&r[r.len() - 4..], &[10, 77, 0, 1]);
        let ttl = &r[r.len() - 10..r.len() - 6];
        assert_eq!(ttl, &[0, 0, 0, 0]);
    }

    #[test]
    fn tunnels_get_nothing() {
        let txt = answer(&query("t.example.org", 16), PORTAL, None).unwrap();
        assert_eq!(txt[3] & 0x0f, RCODE_REFUSED);
        let long = "a".repeat(60) + "." + &"b".repeat(60) + ".tunnel.example";
        let r = answer(&query(&long, TYPE_A), PORTAL, None).unwrap();
        assert_eq!((r[3] & 0x0f, r[7]), (RCODE_REFUSED, 0));
        let aaaa = answer(&query("x.org", TYPE_AAAA), PORTAL, None).unwrap();
        assert_eq!(
            (aaaa[3] & 0x0f, aaaa[7]),
            (0, 0),
            "no IPv6 portal: empty answer"
        );
    }

    #[test]
    fn junk_never_panics() {
        assert_eq!(answer(&[1, 2, 3], PORTAL, None), None);
        let mut state = 0x9e37_79b9_u32;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    state as u8
                })
                .collect();
            let _ = answer(&bytes, PORTAL, Some(Ipv6Addr::LOCALHOST));
        }
        let q = query("example.org", TYPE_A);
        for cut in 0..q.len() {
            let _ = answer(&q[..cut], PORTAL, None);
        }
    }
}
