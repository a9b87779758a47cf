//! Tests of `core::sessions`: grants, extensions, fair use and windows, joins, ends, bindings.

use super::*;

fn terms(duration_secs: u64, quota: Option<u64>) -> Terms {
    Terms {
        package_id: "hour".into(),
        package_name: "1 Hour".into(),
        price: Money(2000),
        duration_secs,
        quota_bytes: quota,
        rate_down_kbit: Some(5000),
        rate_up_kbit: None,
        fair_kbit: None,
        window: None,
        devices: 1,
        idle_secs: None,
    }
}

const MAC: Mac = Mac([2, 0, 0, 0, 0, 1]);
const T0: Timestamp = 1_800_000_000;

#[test]
fn new_session_ends_exactly_at_deadline() {
    let g = grant(None, 7, MAC, None, &terms(3600, None), Source::Owner, T0);
    let Grant::New(s) = g else {
        panic!("expected a new session")
    };
    assert_eq!(s.deadline, T0 + 3600);
    assert_eq!(must_end(&s, T0 + 3599), None);
    assert_eq!(must_end(&s, T0 + 3600), Some(EndReason::Time));
    assert_eq!(s.seconds_left(T0 + 3000), 600);
}

#[test]
fn buying_more_extends_without_a_new_session() {
    let Grant::New(s) = grant(
        None,
        1,
        MAC,
        None,
        &terms(3600, Some(100)),
        Source::Owner,
        T0,
    ) else {
        panic!("expected new")
    };
    let g = grant(
        Some(&s),
        2,
        MAC,
        None,
        &terms(1800, Some(50)),
        Source::Payment(9),
        T0 + 60,
    );
    let Grant::Extended(e) = g else {
        panic!("expected extension")
    };
    assert_eq!((e.id, e.deadline, e.quota_bytes), (1, T0 + 5400, Some(150)));
    assert_eq!(e.sources, vec![Source::Owner, Source::Payment(9)]);
    // Unlimited plus limited stays unlimited.
    let g = grant(
        Some(&e),
        3,
        MAC,
        None,
        &terms(60, None),
        Source::Owner,
        T0 + 61,
    );
    assert_eq!(g.session().quota_bytes, None);
}

#[test]
fn a_fair_use_session_goes_on_past_its_quota_and_buys_more_from_what_it_used() {
    let fair = Terms {
        fair_kbit: Some(256),
        ..terms(3600, Some(100))
    };
    let Grant::New(mut s) = grant(None, 1, MAC, None, &fair, Source::Owner, T0) else {
        panic!("expected new")
    };
    s.bytes_down = 150;
    assert!(s.fair_use());
    assert_eq!(must_end(&s, T0 + 1), None);
    assert_eq!(must_end(&s, T0 + 3600), Some(EndReason::Time));
    let firewall = crate::core::firewall::desired(
        [&crate::core::active::Live::from(&s)],
        (T0 + 1) * 1000,
        &Default::default(),
        &Default::default(),
        &Default::default(),
    );
    let client = &firewall.clients[0];
    assert_eq!((client.quota_left, client.fair_kbit), (Some(0), Some(256)));
    // Buying more of a package without fair use: 100 more from the 150 used.
    let g = grant(
        Some(&s),
        2,
        MAC,
        None,
        &terms(60, Some(100)),
        Source::Owner,
        T0 + 2,
    );
    let Grant::Extended(e) = g else {
        panic!("expected extension")
    };
    assert_eq!((e.quota_bytes, e.bytes_left()), (Some(250), Some(100)));
    assert_eq!(e.terms.fair_kbit, Some(256));
    // Without fair use the same session is over.
    s.terms.fair_kbit = None;
    assert_eq!(must_end(&s, T0 + 1), Some(EndReason::Quota));
    assert!(crate::core::firewall::desired(
        [&crate::core::active::Live::from(&s)],
        (T0 + 1) * 1000,
        &Default::default(),
        &Default::default(),
        &Default::default(),
    )
    .clients
    .is_empty());
}

#[test]
fn terms_stored_before_fair_use_and_windows_still_decode() {
    let old = r#"{"package_id":"hour","package_name":"1 Hour","price":2000,"duration_secs":3600,"quota_bytes":null,"rate_down_kbit":5000,"rate_up_kbit":null}"#;
    let decoded: Terms = serde_json::from_str(old).expect("an old record");
    assert_eq!(decoded, terms(3600, None));
    // Written without the new fields when unset: the same bytes as before.
    assert_eq!(serde_json::to_string(&decoded).unwrap(), old);
    // With them: the window as one number, and back.
    let night = Terms {
        fair_kbit: Some(256),
        window: Some(Window {
            start: 1320,
            end: 360,
            days: 0x1f,
            utc_offset: -19_800,
        }),
        ..decoded
    };
    let text = serde_json::to_string(&night).unwrap();
    assert!(
        text.ends_with(r#""fair_kbit":256,"window":59738830882088}"#),
        "{text}"
    );
    assert_eq!(serde_json::from_str::<Terms>(&text).unwrap(), night);
}

#[test]
fn a_windowed_package_ends_when_its_window_closes() {
    // Open every day 00:00-(T0's local minute + 10) in UTC: T0 is inside.
    let local = T0.rem_euclid(86_400) / 60;
    let window = Window {
        start: 0,
        end: u16::try_from(local + 10).unwrap(),
        days: crate::core::window::ALL_DAYS,
        utc_offset: 0,
    };
    let night = Terms {
        window: Some(window),
        ..terms(3600, None)
    };
    let closes = T0 - T0.rem_euclid(60) + 600;
    let g = grant(None, 1, MAC, None, &night, Source::Owner, T0);
    assert_eq!(g.session().deadline, closes);
    // An extension is capped too; a package without a window is not.
    let g = grant(
        Some(g.session()),
        2,
        MAC,
        None,
        &night,
        Source::Owner,
        T0 + 1,
    );
    assert_eq!(g.session().deadline, closes);
    let g = grant(
        Some(g.session()),
        3,
        MAC,
        None,
        &terms(60, None),
        Source::Owner,
        T0 + 2,
    );
    assert_eq!(g.session().deadline, closes + 60);
    // Granted while closed (a payment settled late): over at once.
    let late = closes + 5;
    assert_eq!(
        grant(None, 4, MAC, None, &night, Source::Owner, late)
            .session()
            .deadline,
        late
    );
}

#[test]
fn an_ended_or_exhausted_session_is_not_extended() {
    let Grant::New(mut s) = grant(None, 1, MAC, None, &terms(60, Some(10)), Source::Owner, T0)
    else {
        panic!("expected new")
    };
    assert!(matches!(
        grant(
            Some(&s),
            2,
            MAC,
            None,
            &terms(60, None),
            Source::Owner,
            T0 + 60
        ),
        Grant::New(_)
    ));
    s.bytes_down = 10;
    assert_eq!(must_end(&s, T0 + 1), Some(EndReason::Quota));
    assert!(matches!(
        grant(
            Some(&s),
            2,
            MAC,
            None,
            &terms(60, None),
            Source::Owner,
            T0 + 1
        ),
        Grant::New(_)
    ));
}

#[test]
fn a_second_address_for_a_paid_mac_is_a_clone_unless_the_first_is_gone() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let Grant::New(s) = grant(
        None,
        1,
        MAC,
        Some(ip("10.0.0.10")),
        &terms(60, None),
        Source::Owner,
        T0,
    ) else {
        panic!("expected new")
    };
    let arp = |ips: &[&str]| MoveEvidence {
        mac_ips: ips.iter().map(|i| ip(i)).collect(),
        ..MoveEvidence::default()
    };
    assert_eq!(
        binding(&s, ip("10.0.0.10"), &arp(&["10.0.0.10"])),
        Binding::Same
    );
    assert_eq!(
        binding(&s, ip("::ffff:10.0.0.10"), &arp(&[])),
        Binding::Same
    );
    assert_eq!(
        binding(&s, ip("10.0.0.20"), &arp(&["10.0.0.10", "10.0.0.20"])),
        Binding::Clone
    );
    // A40: ARP alone (the old address poisoned away) is not evidence of a move.
    assert_eq!(
        binding(&s, ip("10.0.0.20"), &arp(&["10.0.0.20"])),
        Binding::Unsure
    );
    let mut moved = arp(&["10.0.0.20"]);
    moved.leased = true;
    moved.idle_secs = Some(MOVE_IDLE_SECS - 1);
    assert_eq!(
        binding(&s, ip("10.0.0.20"), &moved),
        Binding::Unsure,
        "still in use"
    );
    moved.idle_secs = Some(MOVE_IDLE_SECS);
    assert_eq!(binding(&s, ip("10.0.0.20"), &moved), Binding::Moved);
    moved.leased = false;
    assert_eq!(
        binding(&s, ip("10.0.0.20"), &moved),
        Binding::Unsure,
        "no lease"
    );
    // IPv6: only addresses bound to the session are the same device.
    assert_eq!(binding(&s, ip("fd00::5"), &arp(&[])), Binding::Clone);
    let v6 = MoveEvidence {
        ipv6_bound: true,
        ..MoveEvidence::default()
    };
    assert_eq!(binding(&s, ip("fd00::5"), &v6), Binding::Same);
}

#[test]
fn end_records_reason_and_time() {
    let Grant::New(s) = grant(None, 1, MAC, None, &terms(60, None), Source::Owner, T0) else {
        panic!("expected new")
    };
    let late = end(&s, EndReason::Time, T0 + 500);
    assert_eq!(
        (late.state, late.ended_at),
        (SessionState::Expired, Some(T0 + 60))
    );
    let kicked = end(&s, EndReason::Revoked, T0 + 10);
    assert_eq!(
        (kicked.state, kicked.ended_at),
        (SessionState::Revoked, Some(T0 + 10))
    );
    assert_eq!(end(&kicked, EndReason::Time, T0 + 99), kicked);
}

#[test]
fn a_purchase_for_two_devices_takes_a_second_and_refuses_a_third() {
    let mut family = terms(3600, Some(1000));
    family.devices = 2;
    let Grant::New(first) = grant(None, 1, MAC, None, &family, Source::Owner, T0) else {
        panic!("expected new")
    };
    let second_mac = Mac([2, 0, 0, 0, 0, 2]);
    let third_mac = Mac([2, 0, 0, 0, 0, 3]);
    let source = || Source::Voucher("ABCDEFGH23".into());
    // The Nth device joins: same end, same quota, its own session id, the purchase's group.
    let Ok(Join::New(second)) = join(&first, &[], 2, second_mac, None, source(), T0 + 10) else {
        panic!("the second device joins")
    };
    assert_eq!(
        (
            second.deadline,
            second.quota_bytes,
            second.joined,
            second.group()
        ),
        (first.deadline, Some(1000), Some(1), 1)
    );
    assert_eq!(first.group(), 1);
    let members = [second.clone()];
    // The same device twice counts once (the first device too).
    assert_eq!(
        join(&first, &members, 3, second_mac, None, source(), T0 + 20),
        Ok(Join::Already(second.clone()))
    );
    assert_eq!(
        join(&first, &members, 3, MAC, None, source(), T0 + 20),
        Ok(Join::Already(first.clone()))
    );
    // N+1 is refused.
    assert_eq!(
        join(&first, &members, 3, third_mac, None, source(), T0 + 20),
        Err(JoinRefusal::Full(2))
    );
    // A device that left (its session ended) frees its place.
    let left = [end(&second, EndReason::Revoked, T0 + 30)];
    assert!(matches!(
        join(&first, &left, 3, third_mac, None, source(), T0 + 40),
        Ok(Join::New(_))
    ));
    // An expired or ended purchase is refused.
    assert_eq!(
        join(&first, &[], 3, third_mac, None, source(), T0 + 3600),
        Err(JoinRefusal::Over)
    );
    let kicked = end(&first, EndReason::Revoked, T0 + 5);
    assert_eq!(
        join(&kicked, &[], 3, third_mac, None, source(), T0 + 6),
        Err(JoinRefusal::Over)
    );
    // A package for one device (today's rule): nobody joins.
    let Grant::New(single) = grant(None, 9, MAC, None, &terms(60, None), Source::Owner, T0) else {
        panic!("expected new")
    };
    assert_eq!(
        join(&single, &[], 10, second_mac, None, source(), T0 + 1),
        Err(JoinRefusal::Full(1))
    );
}

#[test]
fn a_joined_device_follows_an_extension_and_is_not_extended_itself() {
    let mut family = terms(3600, Some(1000));
    family.devices = 3;
    let Grant::New(first) = grant(None, 1, MAC, None, &family, Source::Owner, T0) else {
        panic!("expected new")
    };
    let other = Mac([2, 0, 0, 0, 0, 2]);
    let Ok(Join::New(second)) = join(&first, &[], 2, other, None, Source::Owner, T0) else {
        panic!("joins")
    };
    let Grant::Extended(more) = grant(
        Some(&first),
        3,
        MAC,
        None,
        &family,
        Source::Payment(4),
        T0 + 1,
    ) else {
        panic!("extended")
    };
    let followed = follow(&second, &more);
    assert_eq!(
        (followed.deadline, followed.quota_bytes, followed.id),
        (T0 + 7200, Some(2000), 2)
    );
    // A joined device that buys for itself gets a purchase of its own.
    let own = grant(
        Some(&second),
        5,
        other,
        None,
        &family,
        Source::Payment(6),
        T0 + 2,
    );
    assert!(matches!(own, Grant::New(s) if s.joined.is_none() && s.id == 5));
}

#[test]
fn old_records_without_devices_decode_as_one_device() {
    let Grant::New(s) = grant(None, 1, MAC, None, &terms(60, None), Source::Owner, T0) else {
        panic!("expected new")
    };
    let mut json = serde_json::to_value(&s).unwrap();
    // Written before issue 16: no `devices`, `joined` or `members`.
    json["terms"].as_object_mut().unwrap().remove("devices");
    assert!(json.get("joined").is_none() && json.get("members").is_none());
    let back: Session = serde_json::from_value(json).unwrap();
    assert_eq!(
        (back.terms.devices, back.joined, back.members.len()),
        (1, None, 0)
    );
}

#[test]
fn idle_timeouts_are_written_only_when_set_and_old_records_have_none() {
    let Grant::New(s) = grant(None, 1, MAC, None, &terms(60, None), Source::Owner, T0) else {
        panic!("expected new")
    };
    // A package's session: no `idle_secs` written, so an older lango reads it as before.
    let json = serde_json::to_value(&s).unwrap();
    assert!(json["terms"].get("idle_secs").is_none(), "{json}");
    let back: Session = serde_json::from_value(json).unwrap();
    assert_eq!(back.terms.idle_secs, None);
    let mut radius = s.clone();
    radius.terms.idle_secs = Some(600);
    let json = serde_json::to_value(&radius).unwrap();
    let back: Session = serde_json::from_value(json).unwrap();
    assert_eq!(back.terms.idle_secs, Some(600));
    let ended = end(&radius, EndReason::Idle, T0 + 700);
    assert_eq!(ended.state, SessionState::Expired);
    assert_eq!(EndReason::Idle.words(), "no traffic for its idle timeout");
}
