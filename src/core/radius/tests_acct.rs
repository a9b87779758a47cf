//! Tests of the accounting codec and the queue's rules (`acct`).

use md5::{Digest, Md5};

use super::acct::*;
use super::*;
use crate::core::model::Mac;

const SECRET: &[u8] = b"testing123";

fn record(status: Status) -> Record {
    Record {
        status,
        session_id: session_id(1_800_000_000, 42),
        user: Some("HOUR2345AB".into()),
        mac: Some(Mac([0xaa, 0, 0, 0, 0, 1])),
        ip: Some([192, 168, 1, 101]),
        input: (3 << 32) + 7,
        output: 500,
        session_time: Some(61),
        cause: None,
        class: vec![b"plan-hour".to_vec()],
        radius: true,
        at: 1_800_000_000,
    }
}

const NAS: Nas = Nas {
    id: "test-router",
    ip: Some([127, 0, 0, 1]),
    called_station: Some("02-00-00-00-00-01:Cafe"),
};

/// The value of the first attribute `kind`.
fn value(packet: &Packet, kind: u8) -> Option<Vec<u8>> {
    let mut found = packet.attributes().filter(|(k, _, _)| *k == kind);
    found.next().map(|(_, v, _)| v.to_vec())
}

fn int(packet: &Packet, kind: u8) -> Option<u32> {
    value(packet, kind).map(|v| u32::from_be_bytes(v.try_into().unwrap()))
}

#[test]
fn an_interim_update_carries_counters_with_gigawords_and_its_delay() {
    let bytes = request(&record(Status::Interim), 9, 1_800_000_100, &NAS, SECRET).unwrap();
    let packet = Packet::decode(&bytes).unwrap();
    assert_eq!((packet.code, packet.id), (ACCOUNTING_REQUEST, 9));
    // RFC 2866 §3: MD5 over the packet with 16 zero octets for the authenticator, then the
    // secret.
    let mut zeroed = bytes.clone();
    zeroed[4..20].fill(0);
    let mut md5 = Md5::new();
    md5.update(&zeroed);
    md5.update(SECRET);
    assert_eq!(packet.authenticator, <[u8; 16]>::from(md5.finalize()));
    assert_eq!(int(&packet, acct_attr::STATUS_TYPE), Some(3));
    assert_eq!(int(&packet, acct_attr::INPUT_OCTETS), Some(7));
    assert_eq!(int(&packet, acct_attr::INPUT_GIGAWORDS), Some(3));
    assert_eq!(int(&packet, acct_attr::OUTPUT_OCTETS), Some(500));
    assert_eq!(int(&packet, acct_attr::OUTPUT_GIGAWORDS), Some(0));
    assert_eq!(int(&packet, acct_attr::SESSION_TIME), Some(61));
    assert_eq!(int(&packet, acct_attr::DELAY_TIME), Some(100));
    assert_eq!(
        int(&packet, acct_attr::EVENT_TIMESTAMP),
        Some(1_800_000_000)
    );
    assert_eq!(int(&packet, acct_attr::AUTHENTIC), Some(1));
    assert_eq!(value(&packet, attr::CLASS), Some(b"plan-hour".to_vec()));
    assert_eq!(
        value(&packet, acct_attr::SESSION_ID),
        Some(b"6B49D200-2A".to_vec())
    );
    assert_eq!(
        value(&packet, attr::CALLING_STATION_ID),
        Some(b"AA-00-00-00-00-01".to_vec())
    );
    // A Start has no counters; On carries neither user nor station.
    let start = request(&record(Status::Start), 1, 1_800_000_000, &NAS, SECRET).unwrap();
    let start = Packet::decode(&start).unwrap();
    assert_eq!(int(&start, acct_attr::INPUT_OCTETS), None);
    let on = nas_record(Status::On, 1_800_000_000);
    let on = request(&on, 1, 1_800_000_000, &NAS, SECRET).unwrap();
    let on = Packet::decode(&on).unwrap();
    assert_eq!(int(&on, acct_attr::STATUS_TYPE), Some(7));
    assert_eq!(value(&on, attr::USER_NAME), None);
    assert_eq!(value(&on, attr::CALLING_STATION_ID), None);
}

/// An Accounting-Response signed as a server signs it.
fn response(id: u8, request_auth: &[u8; 16], secret: &[u8]) -> Vec<u8> {
    let mut out = vec![ACCOUNTING_RESPONSE, id, 0, 20];
    out.extend_from_slice(request_auth);
    let mut md5 = Md5::new();
    md5.update(&out);
    md5.update(secret);
    out[4..20].copy_from_slice(&md5.finalize());
    out
}

#[test]
fn only_a_response_signed_for_the_request_is_accepted() {
    let auth = [7u8; 16];
    let good = response(5, &auth, SECRET);
    assert_eq!(check_response(&good, 5, &auth, SECRET), Ok(()));
    assert_eq!(
        check_response(&good, 6, &auth, SECRET),
        Err(PacketError::Identifier)
    );
    assert_eq!(
        check_response(&response(5, &auth, b"other"), 5, &auth, SECRET),
        Err(PacketError::ResponseAuthenticator)
    );
    assert_eq!(
        check_response(&good, 5, &[8; 16], SECRET),
        Err(PacketError::ResponseAuthenticator)
    );
    let mut accept = good.clone();
    accept[0] = ACCESS_ACCEPT;
    assert_eq!(
        check_response(&accept, 5, &auth, SECRET),
        Err(PacketError::Code(ACCESS_ACCEPT))
    );
    assert_eq!(
        check_response(&good[..19], 5, &auth, SECRET),
        Err(PacketError::Length(19))
    );
}

#[test]
fn a_full_queue_drops_its_oldest_interim_never_a_start_or_stop() {
    assert_eq!(make_room(9, 10, Status::Interim, Some(3)), Room::Fits);
    assert_eq!(make_room(10, 10, Status::Stop, Some(3)), Room::Drop(3));
    assert_eq!(make_room(10, 10, Status::Interim, Some(3)), Room::Drop(3));
    assert_eq!(make_room(10, 10, Status::Interim, None), Room::Skip);
    assert_eq!(make_room(10, 10, Status::Start, None), Room::Over);
    assert_eq!(make_room(12, 10, Status::Stop, None), Room::Over);
}

#[test]
fn the_interim_interval_is_the_servers_but_never_under_a_minute() {
    assert_eq!(interim_secs(Some(300), 600), 300);
    assert_eq!(interim_secs(Some(30), 600), 60);
    assert_eq!(interim_secs(Some(0), 600), 600);
    assert_eq!(interim_secs(None, 600), 600);
    assert_eq!(interim_secs(None, 10), 60);
}

#[test]
fn a_sale_fits_one_class_attribute() {
    let class = sale_class("hour", 2000, "KES", "SBK12345XY");
    assert_eq!(
        class,
        b"lango-sale package=hour amount=2000 currency=KES receipt=SBK12345XY".to_vec()
    );
    let long = sale_class(&"p".repeat(300), 1, "KES", &"R".repeat(300));
    assert_eq!(long.len(), 253);
}

#[test]
fn a_status_server_probe_is_signed_and_its_accept_verified() {
    let auth = [3u8; 16];
    let probe = status_server(4, &auth, SECRET);
    let packet = Packet::decode(&probe).unwrap();
    assert_eq!(
        (packet.code, packet.id, probe.len()),
        (STATUS_SERVER, 4, 38)
    );
    let mut zeroed = probe.clone();
    zeroed[22..38].fill(0);
    assert_eq!(
        value(&packet, attr::MESSAGE_AUTHENTICATOR).unwrap(),
        hmac_md5(SECRET, &zeroed)
    );
    // FreeRADIUS 3.2.1's answer: an Access-Accept with no attributes.
    let mut accept = response(4, &auth, SECRET);
    accept[0] = ACCESS_ACCEPT;
    let mut md5 = Md5::new();
    md5.update([ACCESS_ACCEPT, 4, 0, 20]);
    md5.update(auth);
    md5.update(SECRET);
    accept[4..20].copy_from_slice(&md5.finalize());
    assert_eq!(
        check_signed(&accept, 4, &auth, SECRET, ACCESS_ACCEPT),
        Ok(())
    );
    assert_eq!(
        check_signed(&accept, 4, &auth, b"other", ACCESS_ACCEPT),
        Err(PacketError::ResponseAuthenticator)
    );
}
