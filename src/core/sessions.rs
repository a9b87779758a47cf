//! Guest sessions: what a device is entitled to and when that ends. Pure: every function takes
//! `now` and data and returns data; the store persists the results and the firewall is
//! reconciled from them. Never reads a clock, never touches the store or the kernel.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::core::config::Package;
use crate::core::model::{Mac, Money};
use crate::core::time::Timestamp;
use crate::core::window::Window;

/// The terms of a package at the moment it was bought: a session keeps them even if the owner
/// later edits or deletes the package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    pub package_id: String,
    pub package_name: String,
    pub price: Money,
    pub duration_secs: u64,
    pub quota_bytes: Option<u64>,
    pub rate_down_kbit: Option<u32>,
    pub rate_up_kbit: Option<u32>,
    /// Fair use: the download and upload speed (kbit/s) once the quota is used, instead of
    /// the end of the session. Absent from records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fair_kbit: Option<u32>,
    /// The package's sale window: a session of it ends when the window closes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::core::window::packed"
    )]
    pub window: Option<Window>,
    /// How many devices may share the purchase (`option devices`): 1 locks it to the first
    /// device. Records written before issue 16 have none: 1.
    #[serde(default = "one_device", skip_serializing_if = "is_one")]
    pub devices: u8,
}

fn one_device() -> u8 {
    1
}

fn is_one(n: &u8) -> bool {
    *n == 1
}

impl Terms {
    pub(crate) fn of(package: &Package) -> Terms {
        Terms {
            package_id: package.id.clone(),
            package_name: package.name.clone(),
            price: package.price,
            duration_secs: package.duration_secs,
            quota_bytes: package.quota_bytes,
            rate_down_kbit: package.rate_down_kbit,
            rate_up_kbit: package.rate_up_kbit,
            fair_kbit: package.fair_kbit,
            window: package.window,
            devices: package.devices,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionState {
    Active,
    Expired,
    Revoked,
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndReason {
    /// The deadline passed.
    Time,
    /// The data quota was used up.
    Quota,
    /// The owner kicked the device, or the purchase was moved to another MAC.
    Revoked,
}

impl EndReason {
    /// Why a session ended, in the owner's words (events, the guests page).
    pub(crate) fn words(self) -> &'static str {
        match self {
            EndReason::Time => "time used up",
            EndReason::Quota => "data used up",
            EndReason::Revoked => "ended by the owner or moved",
        }
    }
}

/// What paid for a session (or for an extension of it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    Payment(u64),
    Voucher(String),
    Owner,
    /// A guest account's sign-in (its user name). Since schema 3.
    Account(String),
    /// The free trial (`core::trial`). Since schema 6.
    Trial,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: u64,
    pub mac: Mac,
    /// The IPv4 (or IPv6) address the device had when it was last seen by the portal.
    pub ip: Option<IpAddr>,
    pub terms: Terms,
    pub started_at: Timestamp,
    /// Wall-clock end of the session. Extended by "buy more".
    pub deadline: Timestamp,
    /// Total data allowed, summed over every purchase that fed this session; none = unlimited.
    pub quota_bytes: Option<u64>,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub state: SessionState,
    pub ended_at: Option<Timestamp>,
    pub end_reason: Option<EndReason>,
    pub sources: Vec<Source>,
    /// A long random token naming the session to the guest's device (the portal API's
    /// `sessionId`); never derived from time or ids.
    #[serde(default)]
    pub token: String,
    /// When the session was last moved to another MAC (a phone that randomised its address).
    #[serde(default)]
    pub moved_at: Option<Timestamp>,
    /// A device that joined another device's purchase (a package for several devices): the
    /// id of the first device's session, whose end time and data it shares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined: Option<u64>,
    /// On the first device's session: the sessions of the devices that joined it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<u64>,
}

impl Session {
    pub fn bytes_used(&self) -> u64 {
        self.bytes_up.saturating_add(self.bytes_down)
    }

    pub(crate) fn bytes_left(&self) -> Option<u64> {
        self.quota_bytes
            .map(|q| q.saturating_sub(self.bytes_used()))
    }

    pub(crate) fn seconds_left(&self, now: Timestamp) -> u64 {
        if self.state != SessionState::Active {
            return 0;
        }
        u64::try_from(self.deadline - now).unwrap_or(0)
    }

    pub(crate) fn is_active(&self) -> bool {
        self.state == SessionState::Active
    }

    /// Whether the session keeps going, at its fair-use speed, once its quota is used.
    pub(crate) fn fair_use(&self) -> bool {
        self.terms.fair_kbit.is_some() && self.quota_bytes.is_some()
    }

    /// The purchase the session belongs to: the first device's session id. The devices of one
    /// purchase share its data quota (one kernel quota object, `q<group>`).
    pub fn group(&self) -> u64 {
        self.joined.unwrap_or(self.id)
    }
}

/// The result of granting a package to a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Grant {
    /// A new session (the device had none running).
    New(Session),
    /// The running session, lengthened: "buy more" never disconnects.
    Extended(Session),
}

impl Grant {
    pub fn session(&self) -> &Session {
        match self {
            Grant::New(s) | Grant::Extended(s) => s,
        }
    }
}

/// Grants `terms` to `mac`. If the device has an active session that has not yet run out, the
/// purchase extends it: the time is added to its deadline, the data to its quota (an unlimited
/// side keeps it unlimited), and the faster rate wins. A package with a sale window ends the
/// session when its window closes (`Window::open_until`; at `now` if it is closed).
pub(crate) fn grant(
    existing: Option<&Session>,
    new_id: u64,
    mac: Mac,
    ip: Option<IpAddr>,
    terms: &Terms,
    source: Source,
    now: Timestamp,
) -> Grant {
    let duration = i64::try_from(terms.duration_secs).unwrap_or(i64::MAX);
    let running = existing.filter(|s| s.is_active() && s.mac == mac && s.deadline > now);
    // A device that joined someone's purchase gets a purchase of its own (`grant_in` ends the
    // shared one on this device).
    if let Some(running) = running.filter(|s| s.joined.is_none()) {
        if running.bytes_left() != Some(0) || running.fair_use() {
            let mut session = running.clone();
            session.deadline = cap(session.deadline.saturating_add(duration), terms, now);
            // A fair-use session may have used more than its quota: what it buys counts from
            // what it used.
            let used = session.bytes_used();
            session.quota_bytes = match (session.quota_bytes, terms.quota_bytes) {
                (Some(old), Some(new)) => Some(old.max(used).saturating_add(new)),
                _ => None,
            };
            session.terms.fair_kbit = match (session.terms.fair_kbit, terms.fair_kbit) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            session.terms.rate_down_kbit =
                faster(session.terms.rate_down_kbit, terms.rate_down_kbit);
            session.terms.rate_up_kbit = faster(session.terms.rate_up_kbit, terms.rate_up_kbit);
            if ip.is_some() {
                session.ip = ip;
            }
            session.sources.push(source);
            return Grant::Extended(session);
        }
    }
    Grant::New(Session {
        id: new_id,
        mac,
        ip,
        terms: terms.clone(),
        started_at: now,
        deadline: cap(now.saturating_add(duration), terms, now),
        quota_bytes: terms.quota_bytes,
        bytes_up: 0,
        bytes_down: 0,
        state: SessionState::Active,
        ended_at: None,
        end_reason: None,
        sources: vec![source],
        token: String::new(),
        moved_at: None,
        joined: None,
        members: Vec::new(),
    })
}

/// A deadline cut at the end of the terms' window, if they have one.
fn cap(deadline: Timestamp, terms: &Terms, now: Timestamp) -> Timestamp {
    match terms.window {
        Some(window) => deadline.min(window.open_until(now).unwrap_or(now)),
        None => deadline,
    }
}

/// Why a device may not join a purchase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinRefusal {
    /// The purchase's time (or data) is over, or the owner ended it.
    Over,
    /// The purchase is already used on this many devices, its package's `devices`.
    Full(u8),
}

/// What joining a purchase gives a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Join {
    /// The device is already one of the purchase's devices: this is its session.
    Already(Session),
    /// A new session for the device, sharing the purchase's end time and data.
    New(Session),
}

/// Pure: lets the device `mac` join the purchase whose first session is `first`; `members` are
/// the sessions of the devices that joined it so far (ended ones do not count). A device counts
/// once however often it enters the code; the first device counts too. The new session ends
/// with the purchase and shares its quota; its speed caps are its own (per device).
pub(crate) fn join(
    first: &Session,
    members: &[Session],
    new_id: u64,
    mac: Mac,
    ip: Option<IpAddr>,
    source: Source,
    now: Timestamp,
) -> Result<Join, JoinRefusal> {
    if must_end(first, now).is_some() || !first.is_active() {
        return Err(JoinRefusal::Over);
    }
    let live: Vec<&Session> = members.iter().filter(|s| s.is_active()).collect();
    if let Some(same) = std::iter::once(first)
        .chain(live.iter().copied())
        .find(|s| s.mac == mac)
    {
        return Ok(Join::Already(same.clone()));
    }
    let devices = first.terms.devices.max(1);
    if live.len() + 1 >= usize::from(devices) {
        return Err(JoinRefusal::Full(devices));
    }
    Ok(Join::New(Session {
        id: new_id,
        mac,
        ip,
        terms: first.terms.clone(),
        started_at: now,
        deadline: first.deadline,
        quota_bytes: first.quota_bytes,
        bytes_up: 0,
        bytes_down: 0,
        state: SessionState::Active,
        ended_at: None,
        end_reason: None,
        sources: vec![source],
        token: String::new(),
        moved_at: None,
        joined: Some(first.id),
        members: Vec::new(),
    }))
}

/// A joined device's session after its purchase's first session changed (an extension): the
/// same end time, quota and caps.
pub(crate) fn follow(member: &Session, first: &Session) -> Session {
    let mut out = member.clone();
    out.deadline = first.deadline;
    out.quota_bytes = first.quota_bytes;
    out.terms.rate_down_kbit = first.terms.rate_down_kbit;
    out.terms.rate_up_kbit = first.terms.rate_up_kbit;
    out
}

/// `None` means unlimited, which is the fastest.
fn faster(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    }
}

/// Whether an active session must end now, and why. The deadline is exclusive: a session with
/// deadline T is over at T.
pub(crate) fn must_end(session: &Session, now: Timestamp) -> Option<EndReason> {
    if !session.is_active() {
        return None;
    }
    if now >= session.deadline {
        return Some(EndReason::Time);
    }
    if session.bytes_left() == Some(0) && !session.fair_use() {
        return Some(EndReason::Quota);
    }
    None
}

/// Ends a session. Idempotent on sessions that are already over.
pub(crate) fn end(session: &Session, reason: EndReason, now: Timestamp) -> Session {
    let mut ended = session.clone();
    if ended.is_active() {
        ended.state = match reason {
            EndReason::Revoked => SessionState::Revoked,
            EndReason::Time | EndReason::Quota => SessionState::Expired,
        };
        ended.ended_at = Some(now.min(session.deadline).max(session.started_at));
        if reason == EndReason::Revoked {
            ended.ended_at = Some(now);
        }
        ended.end_reason = Some(reason);
    }
    ended
}

/// The sessions among `active` that must end at `now`.
pub(crate) fn due(active: &[Session], now: Timestamp) -> Vec<(&Session, EndReason)> {
    active
        .iter()
        .filter_map(|s| must_end(s, now).map(|r| (s, r)))
        .collect()
}

/// The owner extends a session by at most this many minutes at once (a year).
pub const MAX_EXTEND_MINUTES: u64 = 525_600;

/// Lengthens a running session by `secs` (the owner's "extend").
pub(crate) fn extend(session: &Session, secs: u64) -> Session {
    let mut out = session.clone();
    out.deadline = out
        .deadline
        .saturating_add(i64::try_from(secs).unwrap_or(i64::MAX));
    out.sources.push(Source::Owner);
    out
}

/// How a request's source address relates to the address a MAC's session is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Binding {
    /// The address the session is bound to (or one of its bound IPv6 addresses).
    Same,
    /// The device got a new IPv4 address, with evidence a guest cannot forge with ARP alone:
    /// the old address is gone from the neighbour table, the DHCP server leased the new one to
    /// this MAC, and the session has passed no traffic for `MOVE_IDLE_SECS`. Move the session.
    Moved,
    /// The old address is still in use by the same MAC, or a new IPv6 address appeared after
    /// the binding window: a second device cloned the MAC.
    Clone,
    /// Another address, without the evidence of a move: refused until the evidence is there
    /// (the old address idle) or the owner ends the session.
    Unsure,
}

/// A session must have passed no traffic for this long before it may move to a new address:
/// a device has one IPv4 address, so a real move leaves the old one silent, while a clone's
/// victim keeps using it.
pub(crate) const MOVE_IDLE_SECS: i64 = 60;

/// What the router knows when a request comes from an address the session is not bound to.
#[derive(Clone, Debug, Default)]
pub(crate) struct MoveEvidence {
    /// Every IPv4 address the neighbour table shows for the MAC.
    pub mac_ips: Vec<IpAddr>,
    /// The request's IPv6 address is bound to the session (or may still be, in its window).
    pub ipv6_bound: bool,
    /// The DHCP server leased the request's address to this MAC.
    pub leased: bool,
    /// Seconds since the session's traffic counters last moved; none when unknown.
    pub idle_secs: Option<i64>,
}

/// Pure: compares a request's address with the session's.
pub(crate) fn binding(session: &Session, request_ip: IpAddr, evidence: &MoveEvidence) -> Binding {
    let request_ip = request_ip.to_canonical();
    match session.ip.map(|ip| ip.to_canonical()) {
        None => Binding::Same,
        Some(bound) if bound == request_ip => Binding::Same,
        Some(_) if request_ip.is_ipv6() => {
            if evidence.ipv6_bound {
                Binding::Same
            } else {
                Binding::Clone
            }
        }
        // Bound by an IPv6 request: the device's IPv4 is not known yet.
        Some(bound) if bound.is_ipv6() => Binding::Same,
        Some(bound) if evidence.mac_ips.contains(&bound) => Binding::Clone,
        Some(_) if evidence.leased && evidence.idle_secs.is_some_and(|s| s >= MOVE_IDLE_SECS) => {
            Binding::Moved
        }
        Some(_) => Binding::Unsure,
    }
}

/// A device's place in the purchase lifecycle, as the portal shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Nothing bought, nothing waiting.
    Idle,
    /// A payment is waiting for the guest to confirm on their phone.
    Pending { payment_id: u64 },
    /// Online.
    Active(Session),
    /// The last session ended.
    Ended(Session),
}

/// Pure: combines a device's latest session and its open payment (if any) into one state.
pub(crate) fn lifecycle(
    latest: Option<&Session>,
    open_payment: Option<u64>,
    now: Timestamp,
) -> Lifecycle {
    match latest {
        Some(s) if s.is_active() && must_end(s, now).is_none() => Lifecycle::Active(s.clone()),
        _ if open_payment.is_some() => Lifecycle::Pending {
            payment_id: open_payment.unwrap_or(0),
        },
        Some(s) => Lifecycle::Ended(end(s, must_end(s, now).unwrap_or(EndReason::Time), now)),
        None => Lifecycle::Idle,
    }
}

#[cfg(test)]
mod tests {
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
            [&s],
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
            [&s],
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
        let Ok(Join::New(second)) = join(&first, &[], 2, second_mac, None, source(), T0 + 10)
        else {
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
        let Grant::New(single) = grant(None, 9, MAC, None, &terms(60, None), Source::Owner, T0)
        else {
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
}
