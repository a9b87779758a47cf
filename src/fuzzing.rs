//! Entry points for the fuzz targets under `fuzz/` and for the tests that hold lango against
//! outside programs (`tests/it/uci.rs`): thin public wrappers around crate-private parsers, so
//! that none of them has to widen its own visibility, and the properties each target checks.
//! Not an API: the daemon never calls it. Every function here must be total on any input; a
//! panic in one is a bug in the parser it wraps (or a broken property, which panics on purpose).

use std::io::Cursor;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::core::{uci, uci_write};

/// What `uci export lango` prints for a file with these bytes, or every syntax error.
pub fn uci_export(bytes: &[u8]) -> Result<String, Vec<String>> {
    let (file, errors) = uci::parse_bytes(bytes);
    match errors.is_empty() {
        true => Ok(uci_write::export(&file, "lango")),
        false => Err(errors.iter().map(|e| e.to_string()).collect()),
    }
}

/// The UCI target: parsing never panics, and a file without errors, written back as the owner
/// page writes it (`uci_write::render`), parses again without errors into the same values.
pub fn uci(bytes: &[u8]) {
    let (file, errors) = uci::parse_bytes(bytes);
    if !errors.is_empty() {
        return;
    }
    let rendered = uci_write::render(&file);
    let (again, errors) = uci::parse(&rendered);
    assert!(
        errors.is_empty(),
        "{errors:?} in the rendered file:\n{rendered}"
    );
    assert_eq!(
        uci_write::export(&again, "lango"),
        uci_write::export(&file, "lango"),
        "rendered:\n{rendered}"
    );
}

/// The SMS target: a pasted message is a payment or not, never a panic.
pub fn sms(bytes: &[u8]) {
    let _ = crate::core::sms::parse(&String::from_utf8_lossy(bytes));
}

/// The RADIUS target: any datagram that reaches lango's RADIUS socket. Decoded, every
/// attribute and vendor attribute walked, made into terms; and checked as a reply, which a
/// random packet fails (its authenticators), never with a panic.
#[cfg(feature = "radius")]
pub fn radius(bytes: &[u8]) {
    use crate::core::radius::{check_reply, Packet, Reply};
    if let Ok(packet) = Packet::decode(bytes) {
        for (kind, value, _) in packet.attributes() {
            if kind == 26 {
                let _ = crate::core::radius::vendor_attributes(value);
            }
        }
        if let Ok(reply) = Reply::of(&packet) {
            let _ = reply.terms();
        }
    }
    let id = bytes.get(1).copied().unwrap_or(0);
    let _ = check_reply(bytes, id, &[0; 16], b"testing123");
}

/// The callback target: Daraja's callback JSON (anyone can post to the public path).
pub fn daraja_callback(bytes: &[u8]) {
    let _ = crate::core::daraja::parse_callback(bytes);
}

/// The DNS target: every packet a guest sends to port 53 while unpaid, with and without an
/// IPv6 portal address. An answer keeps the query's id.
pub fn dns(bytes: &[u8]) {
    let portal4 = Ipv4Addr::new(192, 168, 1, 1);
    let portal6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
    for v6 in [None, Some(portal6)] {
        if let Some(reply) = crate::adapters::dns::answer(bytes, portal4, v6) {
            assert!(reply.len() >= 12 && reply[..2] == bytes[..2]);
        }
    }
    // The walled garden: the question a guest's query asks, and any bytes as the resolver's
    // reply to it; a relayed answer carries at most the reply's bytes and the guest's id.
    let garden = ["example.org".to_string()];
    if let Some(question) = crate::adapters::dns::garden_question(bytes, &garden) {
        assert!(question.len() + 12 <= bytes.len());
    }
    let question = [
        7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'o', b'r', b'g', 0, 0, 1, 0, 1,
    ];
    let id = bytes.first().map_or(0, |b| u16::from(*b) << 8);
    if let Some((reply, addresses)) = crate::adapters::dns::relay(bytes, id, &question, [1, 2]) {
        assert!(reply.len() <= bytes.len() && reply[..2] == [1, 2]);
        assert!(addresses.len() <= 16);
    }
}

/// The blobmsg target: a ubus message from the socket, decoded, its data turned into JSON.
pub fn blobmsg(bytes: &[u8]) {
    use crate::adapters::ubusd::wire::{table_to_json, Message};
    if let Ok(message) = Message::decode(bytes) {
        if let Some(data) = message.data() {
            let _ = table_to_json(data);
        }
        let _ = message.encode();
    }
}

/// The HTTP target: the HTTP/1.1 message reader (`adapters::https::read_message`) as the
/// simulator's server and the HTTPS front use it on requests, and as the Daraja client uses it
/// on responses; then the form parser the owner page and the portal use on a body.
pub fn http(bytes: &[u8]) {
    use crate::adapters::https::{read_message, Body};
    for missing_length in [Body::Empty, Body::UntilClose] {
        if let Ok(message) = read_message(&mut Cursor::new(bytes), missing_length, 4096) {
            assert!(message.body.len() <= 4096);
        }
    }
    if let Ok(body) = crate::web::body::read_limited(Cursor::new(bytes), 2048) {
        let _ = crate::web::http::parse_form(&String::from_utf8_lossy(&body));
    }
}

/// The request target: what the portal's transport (`web::wire`, httparse) makes of the bytes
/// a guest sends: a head within its limits or a refusal, then a body never over the limit.
pub fn request(bytes: &[u8]) {
    use crate::web::wire::{max_wire_body, parse_head, take_body, MAX_HEAD};
    const MAX_BODY: usize = 2048;
    let Ok(Some(head)) = parse_head(bytes, MAX_BODY) else {
        return;
    };
    assert!(head.len <= MAX_HEAD && head.len <= bytes.len());
    let rest = &bytes[head.len..];
    if let Ok(Some((body, used))) = take_body(rest, head.body, MAX_BODY) {
        assert!(body.len() <= MAX_BODY.max(max_wire_body(head.body, MAX_BODY)));
        assert!(used <= rest.len());
    }
}
