//! Tests of Dynamic Authorization (`das`): the checks of a request, what it asks, the session
//! it names, the change and the answer.

use md5::{Digest, Md5};

use super::acct::{acct_attr, session_id};
use super::das::*;
use super::*;
use crate::core::model::Mac;
use crate::core::sessions::{self, Session};

const SECRET: &[u8] = b"coa-secret";
const NOW: i64 = 1_800_000_000;

/// A request as a DAS client signs it: Message-Authenticator (when `signed`) over the packet
/// with a zero authenticator, then the Request Authenticator over the whole.
fn request(code: u8, id: u8, attrs: &[(u8, Vec<u8>)], signed: bool, secret: &[u8]) -> Vec<u8> {
    let mut out = vec![code, id, 0, 0];
    out.extend_from_slice(&[0; 16]);
    for (kind, value) in attrs {
        put(&mut out, *kind, value).unwrap();
    }
    if signed {
        put(&mut out, attr::MESSAGE_AUTHENTICATOR, &[0; 16]).unwrap();
    }
    let len = out.len();
    out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    if signed {
        let mac = hmac_md5(secret, &out);
        out[len - 16..].copy_from_slice(&mac);
    }
    let mut md5 = Md5::new();
    md5.update(&out);
    md5.update(secret);
    out[4..20].copy_from_slice(&md5.finalize());
    out
}

fn stamp(at: i64) -> (u8, Vec<u8>) {
    (
        acct_attr::EVENT_TIMESTAMP,
        (at as u32).to_be_bytes().to_vec(),
    )
}

fn session() -> Session {
    let reply = Reply {
        accept: true,
        session_timeout: Some(3600),
        down_kbit: Some(2000),
        ..Reply::default()
    };
    let terms = reply.terms();
    let mac = Mac([0xaa, 0, 0, 0, 0, 1]);
    let ip = Some([192, 168, 1, 101].into());
    let grant = sessions::grant(None, 42, mac, ip, &terms, sessions::Source::Owner, NOW);
    grant.session().clone()
}

#[test]
fn a_disconnect_by_acct_session_id_names_its_session_only() {
    let s = session();
    let id = session_id(s.started_at, s.id);
    let bytes = request(
        DISCONNECT_REQUEST,
        7,
        &[(acct_attr::SESSION_ID, id.into_bytes()), stamp(NOW - 10)],
        true,
        SECRET,
    );
    let asked = check(&bytes, SECRET, NOW).unwrap();
    let (target, change) = asked.asks.clone().unwrap();
    assert_eq!(change, Change::default());
    assert!(target.matches(&s, None));
    let mut other = s.clone();
    other.id = 43;
    assert!(!target.matches(&other, None));
    // User-Name with Calling-Station-Id: both must match.
    let by_user = Target {
        user: Some("HOUR2345AB".into()),
        mac: Some(s.mac),
        ..Target::default()
    };
    assert!(by_user.matches(&s, Some("HOUR2345AB")));
    assert!(!by_user.matches(&s, Some("OTHER")));
    let by_ip = Target {
        ip: Some([192, 168, 1, 101]),
        ..Target::default()
    };
    assert!(by_ip.matches(&s, None));
    // The ACK: code 41, the Response Authenticator over it with the Request Authenticator.
    let ack = answer(&asked, None, SECRET);
    assert_eq!((ack[0], ack[1], ack.len()), (DISCONNECT_ACK, 7, 20));
    let mut copy = ack.clone();
    copy[4..20].copy_from_slice(&asked.authenticator);
    let mut md5 = Md5::new();
    md5.update(&copy);
    md5.update(SECRET);
    assert_eq!(ack[4..20], md5.finalize()[..]);
    let nak = answer(&asked, Some(Cause::SessionNotFound), SECRET);
    assert_eq!(nak[0], DISCONNECT_NAK);
    assert_eq!(nak[20..], [101, 6, 0, 0, 0x01, 0xf7]);
}

#[test]
fn a_wrong_secret_a_forged_signature_or_an_old_timestamp_is_dropped() {
    let attrs = [
        (attr::CALLING_STATION_ID, b"AA-00-00-00-00-01".to_vec()),
        stamp(NOW),
    ];
    let wrong = request(DISCONNECT_REQUEST, 1, &attrs, false, b"other");
    assert_eq!(check(&wrong, SECRET, NOW), Err(Dropped::Authenticator));
    // The Request Authenticator right, the Message-Authenticator not.
    let mut forged = request(DISCONNECT_REQUEST, 1, &attrs, true, SECRET);
    let len = forged.len();
    forged[len - 1] ^= 1;
    forged[4..20].fill(0);
    let mut md5 = Md5::new();
    md5.update(&forged);
    md5.update(SECRET);
    forged[4..20].copy_from_slice(&md5.finalize());
    assert_eq!(check(&forged, SECRET, NOW), Err(Dropped::Authenticator));
    let old = [attrs[0].clone(), stamp(NOW - WINDOW_SECS - 1)];
    let replayed = request(COA_REQUEST, 1, &old, false, SECRET);
    assert_eq!(
        check(&replayed, SECRET, NOW),
        Err(Dropped::Stale(NOW - WINDOW_SECS - 1))
    );
    let ahead = request(
        COA_REQUEST,
        1,
        &[attrs[0].clone(), stamp(NOW + 301)],
        false,
        SECRET,
    );
    assert!(matches!(check(&ahead, SECRET, NOW), Err(Dropped::Stale(_))));
    let access = request(ACCESS_REQUEST, 1, &attrs, false, SECRET);
    assert_eq!(check(&access, SECRET, NOW), Err(Dropped::Code(1)));
    assert!(matches!(
        check(&access[..19], SECRET, NOW),
        Err(Dropped::Malformed(_))
    ));
}

#[test]
fn naks_say_what_is_missing_or_not_supported() {
    let mac = (attr::CALLING_STATION_ID, b"AA-00-00-00-00-01".to_vec());
    let cause = |code: u8, attrs: &[(u8, Vec<u8>)]| {
        let bytes = request(code, 3, attrs, false, SECRET);
        check(&bytes, SECRET, NOW).unwrap().asks.err()
    };
    // No Event-Timestamp.
    assert_eq!(
        cause(DISCONNECT_REQUEST, std::slice::from_ref(&mac)),
        Some(Cause::MissingAttribute)
    );
    // No session identification.
    let user = (attr::USER_NAME, b"amina".to_vec());
    assert_eq!(
        cause(DISCONNECT_REQUEST, &[user, stamp(NOW)]),
        Some(Cause::MissingAttribute)
    );
    // A CoA that changes nothing.
    assert_eq!(
        cause(COA_REQUEST, &[mac.clone(), stamp(NOW)]),
        Some(Cause::MissingAttribute)
    );
    // An Idle-Timeout in a Disconnect is not acted on; a Session-Timeout neither.
    let idle = (attr::IDLE_TIMEOUT, 60u32.to_be_bytes().to_vec());
    assert_eq!(
        cause(DISCONNECT_REQUEST, &[mac.clone(), stamp(NOW), idle]),
        Some(Cause::UnsupportedAttribute)
    );
    let timeout = (attr::SESSION_TIMEOUT, 60u32.to_be_bytes().to_vec());
    assert_eq!(
        cause(DISCONNECT_REQUEST, &[mac.clone(), stamp(NOW), timeout]),
        Some(Cause::UnsupportedAttribute)
    );
    let service = (attr::SERVICE_TYPE, 17u32.to_be_bytes().to_vec());
    assert_eq!(
        cause(COA_REQUEST, &[mac.clone(), stamp(NOW), service]),
        Some(Cause::UnsupportedService)
    );
    let bad_mac = (attr::CALLING_STATION_ID, b"not-a-mac".to_vec());
    assert_eq!(
        cause(DISCONNECT_REQUEST, &[bad_mac, stamp(NOW)]),
        Some(Cause::InvalidRequest)
    );
}

#[test]
fn a_coa_changes_time_speed_and_quota_from_now() {
    let mut vsa = 14122u32.to_be_bytes().to_vec();
    vsa.extend_from_slice(&[8, 6]);
    vsa.extend_from_slice(&5_000_000u32.to_be_bytes());
    vsa.extend_from_slice(&[7, 6]);
    vsa.extend_from_slice(&1_000_000u32.to_be_bytes());
    let mut quota = 14559u32.to_be_bytes().to_vec();
    quota.extend_from_slice(&[3, 6]);
    quota.extend_from_slice(&1000u32.to_be_bytes());
    let attrs = [
        (attr::FRAMED_IP_ADDRESS, vec![192, 168, 1, 101]),
        (attr::NAS_IDENTIFIER, b"test-router".to_vec()),
        (attr::SESSION_TIMEOUT, 600u32.to_be_bytes().to_vec()),
        (attr::IDLE_TIMEOUT, 120u32.to_be_bytes().to_vec()),
        (attr::VENDOR_SPECIFIC, vsa),
        (attr::VENDOR_SPECIFIC, quota),
        stamp(NOW),
    ];
    let bytes = request(COA_REQUEST, 9, &attrs, true, SECRET);
    let asked = check(&bytes, SECRET, NOW).unwrap();
    let (target, change) = asked.asks.clone().unwrap();
    let s = session();
    assert!(target.matches(&s, None));
    let expected = Change {
        session_secs: Some(600),
        up_kbit: Some(1000),
        down_kbit: Some(5000),
        quota_bytes: Some(1000),
        idle_secs: Some(120),
    };
    assert_eq!(change, expected);
    let changed = apply(&s, &change, NOW + 100);
    assert_eq!(changed.deadline, NOW + 700);
    assert_eq!(
        (changed.terms.rate_down_kbit, changed.terms.rate_up_kbit),
        (Some(5000), Some(1000))
    );
    assert_eq!(changed.quota_bytes, Some(1000));
    assert_eq!(changed.terms.idle_secs, Some(120));
    // Idle-Timeout 0: no idle limit any more.
    let never = Change {
        idle_secs: Some(0),
        ..Change::default()
    };
    assert_eq!(apply(&changed, &never, NOW + 100).terms.idle_secs, None);
    // Only the caps: the rest stands.
    let caps = Change {
        down_kbit: Some(64),
        ..Change::default()
    };
    let capped = apply(&s, &caps, NOW + 100);
    assert_eq!(
        (capped.deadline, capped.quota_bytes, capped.terms.idle_secs),
        (s.deadline, s.quota_bytes, s.terms.idle_secs)
    );
    assert_eq!(answer(&asked, None, SECRET)[0], COA_ACK);
    assert_eq!(
        answer(&asked, Some(Cause::SessionNotFound), SECRET)[0],
        COA_NAK
    );
}

#[test]
fn a_retransmission_gets_the_same_answer_and_the_memory_is_bounded() {
    let mut seen = Seen::default();
    seen.remember(1, [1; 16], vec![41], NOW);
    assert_eq!(seen.answer(1, &[1; 16]), Some(&[41][..]));
    assert_eq!(seen.answer(1, &[2; 16]), None);
    assert_eq!(seen.answer(2, &[1; 16]), None);
    for n in 0..100u8 {
        seen.remember(n, [9; 16], vec![n], NOW + 1);
    }
    assert_eq!(seen.answer(1, &[1; 16]), None);
    assert_eq!(seen.answer(99, &[9; 16]), Some(&[99][..]));
    // Past the window, forgotten.
    seen.remember(0, [0; 16], vec![], NOW + WINDOW_SECS + 2);
    assert_eq!(seen.answer(99, &[9; 16]), None);
    let mut last = 0;
    assert!(log_due(&mut last, NOW));
    assert!(!log_due(&mut last, NOW + 59));
    assert!(log_due(&mut last, NOW + 60));
}
