//! Tests of the RADIUS codec against packets captured from FreeRADIUS 3.2.1 (Debian 12), the
//! `users` entry of tests/it/radius.rs, secret `testing123`, Request Authenticator 00..0f.

use super::*;

const SECRET: &[u8] = b"testing123";
const REQUEST_AUTH: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// The Access-Request (Identifier 7) whose replies are below: User-Name and User-Password
/// `HOUR2345AB`.
const REQUEST: &str =
    "01070044000102030405060708090a0b0c0d0e0f50122a52531c9a2f98089db37f23bd9c6a4d\
    010c484f55523233343541420212dea15c9846ce4e2f510407240014828b";
/// Access-Accept: Session-Timeout 3600, Idle-Timeout 600, Acct-Interim-Interval 300, Class
/// `plan-hour`, WISPr-Bandwidth-Max-Down 2000000, -Up 512000, ChilliSpot-Max-Total-Octets 1000,
/// ChilliSpot-Max-Total-Gigawords 1, Message-Authenticator.
const ACCEPT: &str = "02070073e01b4257df8c90e5aec6991f76d163561b0600000e101c060000025855060000012c\
    190b706c616e2d686f75721a0c0000372a0806001e84801a0c0000372a07060007d0001a0c000038df0306000003e8\
    1a0c000038df1706000000015012164ce452cda750449ce9df8cb37e33d4";
/// Access-Reject (to a wrong password, Request Authenticator 00..0f, Identifier 7) with
/// Reply-Message `Voucher not valid`.
const REJECT: &str = "03070086715a5e5736b25b48f99e9aaa0ef028a41b0600000e101c060000025855060000012c\
    190b706c616e2d686f75721a0c0000372a0806001e84801a0c0000372a07060007d0001a0c000038df0306000003e8\
    1a0c000038df1706000000011213566f7563686572206e6f742076616c6964501210681df00f66c0762bec5426a8b7\
    1f56";

fn hex(text: &str) -> Vec<u8> {
    let text: String = text.split_whitespace().collect();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn reply(bytes: &[u8]) -> Result<Reply, PacketError> {
    Reply::of(&check_reply(bytes, 7, &REQUEST_AUTH, SECRET)?)
}

#[test]
fn hmac_md5_matches_rfc_2202() {
    let mac = hmac_md5(&[0x0b; 16], b"Hi There");
    assert_eq!(mac.to_vec(), hex("9294727a3638bb1c13f48ef8158bfc9d"));
    let long_key = hmac_md5(
        &[0xaa; 80],
        b"Test Using Larger Than Block-Size Key - Hash Key First",
    );
    assert_eq!(long_key.to_vec(), hex("6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"));
}

#[test]
fn a_captured_accept_becomes_terms() {
    let reply = reply(&hex(ACCEPT)).unwrap();
    assert!(reply.accept);
    assert_eq!(reply.session_timeout, Some(3600));
    assert_eq!(reply.idle_timeout, Some(600));
    assert_eq!(reply.interim_interval, Some(300));
    assert_eq!(reply.class, vec![b"plan-hour".to_vec()]);
    assert_eq!(reply.total_bytes, Some((1 << 32) + 1000));
    let terms = reply.terms();
    assert_eq!(terms.duration_secs, 3600);
    assert_eq!(terms.rate_down_kbit, Some(2000));
    assert_eq!(terms.rate_up_kbit, Some(512));
    assert_eq!(terms.quota_bytes, Some((1 << 32) + 1000));
    assert_eq!(terms.package_id, "radius");
}

#[test]
fn a_captured_reject_carries_its_message() {
    let reply = reply(&hex(REJECT)).unwrap();
    assert!(!reply.accept);
    assert_eq!(reply.message.as_deref(), Some("Voucher not valid"));
}

#[test]
fn pap_hiding_matches_what_freeradius_read() {
    let bytes = hex(REQUEST);
    let request = Packet::decode(&bytes).unwrap();
    let sent = request.attributes().find(|a| a.0 == attr::USER_PASSWORD);
    let hidden = hide_password(b"HOUR2345AB", SECRET, &REQUEST_AUTH).unwrap();
    assert_eq!(sent.unwrap().1, &hidden[..]);
    // Longer than one block: the second block is chained on the first.
    assert_eq!(
        hide_password(&[b'x'; 17], SECRET, &REQUEST_AUTH)
            .unwrap()
            .len(),
        32
    );
    assert_eq!(hide_password(b"", SECRET, &REQUEST_AUTH).unwrap().len(), 16);
    assert!(hide_password(&[b'x'; 129], SECRET, &REQUEST_AUTH).is_err());
}

#[test]
fn a_wrong_secret_or_a_changed_byte_is_refused() {
    let accept = hex(ACCEPT);
    let wrong = check_reply(&accept, 7, &REQUEST_AUTH, b"testing124");
    assert_eq!(wrong, Err(PacketError::ResponseAuthenticator));
    assert_eq!(
        check_reply(&accept, 8, &REQUEST_AUTH, SECRET),
        Err(PacketError::Identifier)
    );
    for at in 0..accept.len() {
        let mut changed = accept.clone();
        changed[at] ^= 0x01;
        assert!(reply(&changed).is_err(), "octet {at} changed and accepted");
    }
}

#[test]
fn a_truncated_packet_is_an_error_at_every_length() {
    for bytes in [hex(ACCEPT), hex(REJECT), hex(REQUEST)] {
        for len in 0..bytes.len() {
            assert!(reply(&bytes[..len]).is_err(), "truncated at {len}");
            // The Length field made to agree: the attribute walk must still stop cleanly.
            let mut short = bytes[..len].to_vec();
            if len >= 4 {
                short[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                let _ = Packet::decode(&short).map(|p| p.attributes().count());
            }
        }
    }
    assert_eq!(Packet::decode(&[0; 4097]), Err(PacketError::Length(4097)));
}

/// Signs `attributes` as the server would, with or without a Message-Authenticator.
fn signed(code: u8, attributes: &[u8], with_mac: bool) -> Vec<u8> {
    let mut out = vec![code, 7, 0, 0];
    out.extend_from_slice(&REQUEST_AUTH);
    out.extend_from_slice(attributes);
    if with_mac {
        out.extend_from_slice(&[attr::MESSAGE_AUTHENTICATOR, 18]);
        out.extend_from_slice(&[0; 16]);
    }
    let len = out.len() as u16;
    out[2..4].copy_from_slice(&len.to_be_bytes());
    if with_mac {
        let mac = hmac_md5(SECRET, &out);
        let at = out.len() - 16;
        out[at..].copy_from_slice(&mac);
    }
    let mut md5 = Md5::new();
    md5.update(&out);
    md5.update(SECRET);
    out[4..20].copy_from_slice(&md5.finalize());
    out
}

#[test]
fn a_reply_without_message_authenticator_is_refused() {
    let timeout = [attr::SESSION_TIMEOUT, 6, 0, 0, 0, 60];
    let without = signed(ACCESS_ACCEPT, &timeout, false);
    assert_eq!(reply(&without), Err(PacketError::MessageAuthenticator));
    assert_eq!(
        reply(&signed(ACCESS_ACCEPT, &timeout, true))
            .unwrap()
            .session_timeout,
        Some(60)
    );
    let twice = [&timeout[..], &[80, 18], &[0; 16]].concat();
    assert!(reply(&signed(ACCESS_ACCEPT, &twice, true)).is_err());
    assert_eq!(reply(&signed(4, &timeout, true)), Err(PacketError::Code(4)));
}

#[test]
fn unknown_attributes_are_ignored_and_bad_known_ones_refused() {
    // Attribute 99, a vendor lango does not know, and an unknown WISPr attribute.
    let unknown = [
        &[99, 4, 1, 2][..],
        &[26, 12, 0, 0, 0, 9, 1, 6, 0, 0, 0, 1],
        &[26, 12, 0, 0, 0x37, 0x2a, 1, 6, 0, 0, 0, 1],
        &[attr::IDLE_TIMEOUT, 6, 0, 0, 0, 5],
    ]
    .concat();
    let read = reply(&signed(ACCESS_ACCEPT, &unknown, true)).unwrap();
    assert_eq!(read.idle_timeout, Some(5));
    assert_eq!(read.terms().duration_secs, DEFAULT_SESSION_SECS);
    // Session-Timeout of 3 octets; a vendor sub-attribute running past its attribute.
    let short = [attr::SESSION_TIMEOUT, 5, 0, 0, 60];
    assert!(reply(&signed(ACCESS_ACCEPT, &short, true)).is_err());
    let vsa = [26, 10, 0, 0, 0x38, 0xdf, 3, 6, 0, 0];
    assert!(reply(&signed(ACCESS_ACCEPT, &vsa, true)).is_err());
}

#[test]
fn input_or_output_limits_become_the_smallest_total() {
    let limits = [
        &[26, 12, 0, 0, 0x38, 0xdf, 1, 6, 0, 0, 0x03, 0xe8][..],
        &[26, 12, 0, 0, 0x38, 0xdf, 2, 6, 0, 0, 0x07, 0xd0],
        &[26, 12, 0, 0, 0x38, 0xdf, 22, 6, 0, 0, 0, 2],
    ]
    .concat();
    let read = reply(&signed(ACCESS_ACCEPT, &limits, true)).unwrap();
    assert_eq!(read.input_bytes, Some(1000));
    assert_eq!(read.output_bytes, Some((2 << 32) + 2000));
    assert_eq!(read.terms().quota_bytes, Some(1000));
}

fn request(auth: Auth) -> Vec<u8> {
    let nonce = Nonce {
        authenticator: REQUEST_AUTH,
        challenge: [7; 16],
        chap_id: 9,
    };
    let request = Request {
        user: "HOUR2345AB",
        password: "HOUR2345AB",
        auth,
        nas_id: Some("lango"),
        nas_ip: Some([10, 0, 0, 1]),
        called_station: Some("AA-BB-CC-DD-EE-FF:cafe"),
        calling_station: Some("02-00-00-00-00-01"),
        framed_ip: Some([192, 168, 1, 20]),
    };
    access_request(7, &nonce, &request, SECRET).unwrap()
}

#[test]
fn a_request_is_signed_with_message_authenticator_first() {
    for auth in [Auth::Pap, Auth::Chap] {
        let bytes = request(auth);
        let packet = Packet::decode(&bytes).unwrap();
        let first = packet.attributes().next().unwrap();
        assert_eq!((first.0, first.2), (attr::MESSAGE_AUTHENTICATOR, 22));
        let mut zeroed = bytes.clone();
        zeroed[22..38].fill(0);
        assert_eq!(first.1, &hmac_md5(SECRET, &zeroed)[..]);
        let kinds: Vec<u8> = packet.attributes().map(|a| a.0).collect();
        for kind in [1, 4, 6, 8, 30, 31, 32, 61] {
            assert!(kinds.contains(&kind), "{kind} missing");
        }
        if auth == Auth::Chap {
            let chap = packet
                .attributes()
                .find(|a| a.0 == attr::CHAP_PASSWORD)
                .unwrap();
            let mut md5 = Md5::new();
            md5.update([9]);
            md5.update(b"HOUR2345AB");
            md5.update([7; 16]);
            assert_eq!(chap.1, &[&[9][..], &md5.finalize()].concat()[..]);
        }
    }
    let nonce = Nonce {
        authenticator: REQUEST_AUTH,
        challenge: [0; 16],
        chap_id: 0,
    };
    let long = "x".repeat(300);
    let too_long = Request {
        user: &long,
        password: "",
        auth: Auth::Pap,
        nas_id: None,
        nas_ip: None,
        called_station: None,
        calling_station: None,
        framed_ip: None,
    };
    assert_eq!(
        access_request(1, &nonce, &too_long, SECRET),
        Err(PacketError::TooBig)
    );
}

/// Random octets changed in the captured packets, then read without the authenticator gate:
/// the decoder and the dictionary never panic, whatever the lengths say.
#[test]
fn mutated_packets_never_panic() {
    let mut seed: u64 = 0x5eed;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    for bytes in [hex(ACCEPT), hex(REJECT), hex(REQUEST)] {
        for _ in 0..3000 {
            let mut changed = bytes.clone();
            for _ in 0..1 + next() % 4 {
                let at = next() % changed.len();
                changed[at] = next() as u8;
            }
            let cut = changed.len() - next() % 8;
            if let Ok(packet) = Packet::decode(&changed[..cut]) {
                let _ = Reply::of(&packet);
            }
            let _ = reply(&changed[..cut]);
        }
    }
}
