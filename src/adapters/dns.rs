//! The DNS responder for devices that have not paid. Every name resolves to the portal (A to
//! its IPv4, AAAA to its IPv6 or nothing), with TTL 0 and no recursion, so a pre-paid device
//! cannot tunnel through DNS (iodine and friends need answers from their own server) and every
//! captive-portal probe lands on the portal. `answer` is pure; `serve` is the UDP socket loop.
//! Paid devices use the router's normal resolver (nft only redirects unpaid ones here).
//!
//! The walled garden is the one exception: an A or AAAA question for a `walled_garden` name
//! (or a subdomain) is asked of the real resolver (`garden_dns`, on a thread of its own, at
//! most `MAX_FORWARDS` at once, each waiting at most `UPSTREAM_WAIT`), and its answer records
//! are relayed (`relay`, pure: only the answer section, TTLs capped) after their addresses
//! were opened in the firewall for their TTL (`Firewall::open_garden`). Guests choose only
//! the name, from the owner's list; the addresses come from the resolver's answer.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::core::config::Config;
use crate::core::firewall::Firewall;

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
const RCODE_FORMERR: u8 = 1;
const RCODE_SERVFAIL: u8 = 2;
const RCODE_NOTIMP: u8 = 4;
const RCODE_REFUSED: u8 = 5;

/// Longest query name answered. Tunnels pack data into long names; real names rarely pass 100.
const MAX_NAME: usize = 128;

/// Garden questions being asked of the real resolver at once; more are answered SERVFAIL.
const MAX_FORWARDS: usize = 16;
/// How long a garden question waits for the real resolver.
const UPSTREAM_WAIT: Duration = Duration::from_secs(2);
/// A garden address stays open this long at least and at most (seconds), whatever its TTL;
/// the TTL relayed to the guest is capped at the most, so its cache never outlives the set.
const GARDEN_MIN_SECS: u32 = 60;
const GARDEN_MAX_SECS: u32 = 3600;
/// Addresses taken from one answer, at most.
const MAX_GARDEN_ADDRESSES: usize = 16;

/// The walled garden's part of the responder: the running config (its `walled_garden` and
/// `garden_dns`, read at each query, so a reload applies at once) and the firewall the
/// answers' addresses are opened in.
pub struct Garden {
    pub config: Arc<dyn Fn() -> Arc<Config> + Send + Sync>,
    pub firewall: Arc<dyn Firewall>,
}

/// Pure: whether `name` (lower case, no trailing dot) is a garden domain or under one.
pub(crate) fn in_garden(name: &str, garden: &[String]) -> bool {
    garden.iter().any(|domain| {
        name.strip_suffix(domain.as_str())
            .is_some_and(|head| head.is_empty() || head.ends_with('.'))
    })
}

/// Pure: the question of a standard query for an A or AAAA record of a garden name (its
/// bytes: name, type and class), or `None` for every other query (answered by `answer`).
pub(crate) fn garden_question<'a>(query: &'a [u8], garden: &[String]) -> Option<&'a [u8]> {
    if garden.is_empty() || query.len() < 12 || query[2] & 0xf8 != 0 || query[4..6] != [0, 1] {
        return None;
    }
    let mut name = String::new();
    let mut at = 12;
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        let label = query.get(at..at + len).filter(|_| len < 64)?;
        if !label
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        {
            return None;
        }
        if !name.is_empty() {
            name.push('.');
        }
        name.extend(label.iter().map(|b| char::from(b.to_ascii_lowercase())));
        at += len;
        if name.len() > MAX_NAME {
            return None;
        }
    }
    let tail = query.get(at..at + 4)?;
    let qtype = u16::from_be_bytes([tail[0], tail[1]]);
    let class = u16::from_be_bytes([tail[2], tail[3]]);
    let wanted = matches!(qtype, TYPE_A | TYPE_AAAA) && class == CLASS_IN;
    (wanted && in_garden(&name, garden)).then(|| &query[12..at + 4])
}

/// Pure: the query lango sends the real resolver for a garden question: its own id, recursion
/// desired, the question and nothing else (no option the guest added).
pub(crate) fn forward_query(id: u16, question: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + question.len());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(question);
    out
}

/// Where the name at `at` ends (labels, then a zero or a compression pointer), if whole.
fn skip_name(msg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *msg.get(at)?;
        match len {
            0 => return Some(at + 1),
            0xc0.. => return msg.get(at + 1).map(|_| at + 2),
            0x40.. => return None,
            _ => at += 1 + usize::from(len),
        }
    }
}

/// An address of an answer and its TTL (seconds).
pub(crate) type Ttl = (IpAddr, u32);

/// Pure: the real resolver's reply to `forward_query(id, question)` made into the guest's
/// answer (`guest_id`; the header, the question and the answer records, TTLs capped at
/// `GARDEN_MAX_SECS`; no authority or additional records), with every A and AAAA address of
/// the answer and its TTL. `None` for anything that is not that reply, whole.
pub(crate) fn relay(
    reply: &[u8],
    id: u16,
    question: &[u8],
    guest_id: [u8; 2],
) -> Option<(Vec<u8>, Vec<Ttl>)> {
    let header = reply.get(..12)?;
    let fits = header[..2] == id.to_be_bytes() && header[2] & 0xf8 == 0x80;
    let end = 12 + question.len();
    let same = reply.get(12..end)?.eq_ignore_ascii_case(question);
    if !fits || !same || header[4..6] != [0, 1] {
        return None;
    }
    let count = u16::from_be_bytes([header[6], header[7]]);
    let mut out = reply[..end].to_vec();
    out[..2].copy_from_slice(&guest_id);
    out[8..12].fill(0);
    let mut addresses = Vec::new();
    let mut at = end;
    for _ in 0..count {
        let fixed_at = skip_name(reply, at)?;
        let fixed = reply.get(fixed_at..fixed_at + 10)?;
        let (rtype, class) = (
            u16::from_be_bytes([fixed[0], fixed[1]]),
            u16::from_be_bytes([fixed[2], fixed[3]]),
        );
        let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let data_at = fixed_at + 10;
        let len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let data = reply.get(data_at..data_at + len)?;
        let address = match (rtype, class, data.len()) {
            (TYPE_A, CLASS_IN, 4) => <[u8; 4]>::try_from(data).ok().map(IpAddr::from),
            (TYPE_AAAA, CLASS_IN, 16) => <[u8; 16]>::try_from(data).ok().map(IpAddr::from),
            _ => None,
        };
        if addresses.len() < MAX_GARDEN_ADDRESSES {
            addresses.extend(address.map(|a| (a, ttl)));
        }
        let ttl_at = out.len() + (fixed_at - at) + 4;
        out.extend_from_slice(&reply[at..data_at + len]);
        out[ttl_at..ttl_at + 4].copy_from_slice(&ttl.min(GARDEN_MAX_SECS).to_be_bytes());
        at = data_at + len;
    }
    Some((out, addresses))
}

/// Pure: SERVFAIL for a garden question the real resolver did not answer.
fn servfail(query: &[u8], question: &[u8]) -> Vec<u8> {
    let mut out = query[..4].to_vec();
    out[2] = 0x80 | (query[2] & 0x01);
    out[3] = RCODE_SERVFAIL;
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(question);
    out
}

/// Asks the real resolver one garden question, opens the answer's addresses, and answers the
/// guest (SERVFAIL if the resolver does not answer in time, or answers nonsense).
fn forward(socket: &UdpSocket, peer: SocketAddr, query: &[u8], question: &[u8], garden: &Garden) {
    let upstream = (garden.config)().gateway.garden_dns;
    let mut id = [0u8; 2];
    let _ = crate::core::token::fill(&mut id);
    let id = u16::from_be_bytes(id);
    let guest_id = [query[0], query[1]];
    let asked = || -> std::io::Result<Vec<u8>> {
        let any: IpAddr = match upstream {
            SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        };
        let up = UdpSocket::bind((any, 0))?;
        up.connect(upstream)?;
        up.set_read_timeout(Some(UPSTREAM_WAIT))?;
        up.send(&forward_query(id, question))?;
        let mut buf = [0u8; 512];
        let len = up.recv(&mut buf)?;
        Ok(buf[..len].to_vec())
    };
    let reply = match asked() {
        Ok(bytes) => relay(&bytes, id, question, guest_id),
        Err(e) => {
            log::debug!("dns: garden resolver {upstream}: {e}");
            None
        }
    };
    let Some((reply, addresses)) = reply else {
        let _ = socket.send_to(&servfail(query, question), peer);
        return;
    };
    let open: Vec<(IpAddr, u64)> = addresses
        .iter()
        .map(|(ip, ttl)| {
            let secs = (*ttl).clamp(GARDEN_MIN_SECS, GARDEN_MAX_SECS);
            (*ip, u64::from(secs) * 1000)
        })
        .collect();
    if !open.is_empty() {
        if let Err(e) = garden.firewall.open_garden(&open) {
            log::warn!("dns: cannot open walled-garden addresses: {e}");
        }
    }
    let _ = socket.send_to(&reply, peer);
}

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
    garden: Option<Arc<Garden>>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let socket = Arc::new(UdpSocket::bind(addr)?);
    let in_flight = Arc::new(AtomicUsize::new(0));
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
                let query = &buf[..len];
                if let Some(garden) = &garden {
                    let names = (garden.config)();
                    if let Some(question) = garden_question(query, &names.gateway.walled_garden) {
                        if in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_FORWARDS {
                            in_flight.fetch_sub(1, Ordering::SeqCst);
                            let _ = socket.send_to(&servfail(query, question), peer);
                            continue;
                        }
                        let (query, question) = (query.to_vec(), question.to_vec());
                        let (socket, garden, count) =
                            (socket.clone(), garden.clone(), in_flight.clone());
                        let spawned = std::thread::Builder::new()
                            .name("lango-dns-garden".into())
                            .stack_size(64 * 1024)
                            .spawn(move || {
                                forward(&socket, peer, &query, &question, &garden);
                                count.fetch_sub(1, Ordering::SeqCst);
                            });
                        if spawned.is_err() {
                            in_flight.fetch_sub(1, Ordering::SeqCst);
                        }
                        continue;
                    }
                }
                if let Some(reply) = answer(query, portal4, portal6) {
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

    fn garden() -> Vec<String> {
        vec!["shop.example".into()]
    }

    #[test]
    fn only_a_and_aaaa_of_garden_names_are_forwarded() {
        let q = query("WWW.Shop.Example", TYPE_A);
        assert_eq!(garden_question(&q, &garden()), Some(&q[12..]));
        assert!(garden_question(&query("shop.example", TYPE_AAAA), &garden()).is_some());
        for (name, qtype) in [
            ("shop.example", 16),
            ("evilshop.example", TYPE_A),
            ("shop.example.evil", TYPE_A),
            ("example", TYPE_A),
        ] {
            assert_eq!(
                garden_question(&query(name, qtype), &garden()),
                None,
                "{name}"
            );
        }
        assert_eq!(garden_question(&query("shop.example", TYPE_A), &[]), None);
        let mut response = query("shop.example", TYPE_A);
        response[2] |= 0x80;
        assert_eq!(garden_question(&response, &garden()), None);
        let sent = forward_query(0xbeef, &q[12..]);
        assert_eq!(&sent[..12], &[0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&sent[12..], &q[12..]);
    }

    /// A resolver's reply: a CNAME to another name, then A and AAAA records (compressed
    /// names), and an additional record that is not relayed.
    fn resolver_reply(id: u16, question: &[u8]) -> Vec<u8> {
        let mut r = id.to_be_bytes().to_vec();
        r.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 1]);
        r.extend_from_slice(question);
        // CNAME shop.example -> cdn.shop.example (the target as a label and a pointer).
        r.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 30, 0, 6, 3, b'c', b'd', b'n']);
        r.extend_from_slice(&[0xc0, 12]);
        let cname_target = 12 + question.len() + 12;
        let record = |rtype: u16, ttl: u32, data: &[u8]| {
            let mut out = vec![0xc0, cname_target as u8];
            out.extend_from_slice(&rtype.to_be_bytes());
            out.extend_from_slice(&CLASS_IN.to_be_bytes());
            out.extend_from_slice(&ttl.to_be_bytes());
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
            out
        };
        r.extend(record(TYPE_A, 86_400, &[10, 78, 0, 2]));
        r.extend(record(
            TYPE_AAAA,
            5,
            &"fd78::2".parse::<Ipv6Addr>().unwrap().octets(),
        ));
        r.extend(record(TYPE_A, 9, &[6, 6, 6, 6]));
        r
    }

    #[test]
    fn the_resolvers_answer_is_relayed_with_its_addresses() {
        let q = query("shop.example", TYPE_A);
        let question = &q[12..];
        let reply = resolver_reply(0x4242, question);
        let (relayed, addresses) = relay(&reply, 0x4242, question, [0x12, 0x34]).unwrap();
        assert_eq!(
            addresses,
            [
                ("10.78.0.2".parse().unwrap(), 86_400),
                ("fd78::2".parse().unwrap(), 5)
            ]
        );
        assert_eq!(&relayed[..2], &[0x12, 0x34], "the guest's id");
        assert_eq!(&relayed[6..12], &[0, 3, 0, 0, 0, 0], "answers only");
        assert_eq!(
            relayed.len(),
            reply.len() - 16,
            "without the additional record"
        );
        // The day-long TTL reaches the guest capped at an hour, the set's longest.
        let a = 12 + question.len() + 18;
        assert_eq!(&relayed[a + 6..a + 10], &3600u32.to_be_bytes());
        assert_eq!(&relayed[a + 12..a + 16], &[10, 78, 0, 2]);
        // Not the reply to this question: nothing.
        assert_eq!(relay(&reply, 0x4243, question, [0, 0]), None);
        let other = query("bank.example", TYPE_A);
        assert_eq!(relay(&reply, 0x4242, &other[12..], [0, 0]), None);
        // Cut anywhere before the answers end: nothing (the additional record is not read).
        for cut in 0..reply.len() - 16 {
            assert_eq!(
                relay(&reply[..cut], 0x4242, question, [0, 0]),
                None,
                "{cut}"
            );
        }
    }

    #[test]
    fn junk_replies_never_panic() {
        let q = query("shop.example", TYPE_A);
        let mut state = 0x1234_5678_u32;
        for len in 0..400 {
            let mut bytes = resolver_reply(7, &q[12..]);
            bytes.truncate(len.min(bytes.len()));
            for b in bytes.iter_mut().skip(2) {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                if state.is_multiple_of(7) {
                    *b = state as u8;
                }
            }
            let _ = relay(&bytes, 7, &q[12..], [0, 0]);
            let _ = garden_question(&bytes, &garden());
        }
    }
}
