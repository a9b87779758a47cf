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
    /// Idle-Timeout of a RADIUS Access-Accept: the session ends once its device has moved no
    /// traffic for this many seconds (`App::read_usage`). Absent from packages and from
    /// records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_secs: Option<u32>,
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
            idle_secs: None,
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
    /// No traffic for the Idle-Timeout of its RADIUS Access-Accept (`Terms::idle_secs`).
    Idle,
}

impl EndReason {
    /// Why a session ended, in the owner's words (events, the guests page).
    pub(crate) fn words(self) -> &'static str {
        match self {
            EndReason::Time => "time used up",
            EndReason::Quota => "data used up",
            EndReason::Revoked => "ended by the owner or moved",
            EndReason::Idle => "no traffic for its idle timeout",
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
            EndReason::Time | EndReason::Quota | EndReason::Idle => SessionState::Expired,
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
mod tests;
