//! RADIUS accounting (RFC 2866) as a NAS speaks it, pure: `Record`, what one Accounting-Request
//! says (kept as it is in the queue on flash, `codec.rs`, so a resend is the same record); `request`, its
//! packet (Request Authenticator = MD5 over the packet with a zero authenticator and the
//! secret, §3); `check_response`, an Accounting-Response verified against it; the queue's
//! rules (`make_room`: the bound, oldest Interim-Update dropped first, never a Start or Stop)
//! and the interim interval (`interim_secs`). No sockets, no clock: `adapters::radius_acct`
//! sends, `app::accounting` decides when.
//!
//! The idempotency key: a record is named by (Acct-Session-Id, Acct-Status-Type,
//! Event-Timestamp). Two records of one session and one kind are at least `MIN_INTERIM_SECS`
//! apart, so the key is unique per record, and a record sent again (a retransmission, or a
//! resend after lango was killed between the send and the delete) carries the same key with a
//! larger Acct-Delay-Time: a server with a unique key on these three keeps one row.

use md5::{Digest, Md5};

use super::{attr, put, Packet, PacketError, HEADER, MAX_LEN};
use crate::core::model::Mac;
use crate::core::sessions::{EndReason, Session};
use crate::core::token;

pub const ACCOUNTING_REQUEST: u8 = 4;
pub const ACCOUNTING_RESPONSE: u8 = 5;

/// Accounting attribute types (RFC 2866 §5, RFC 2869 §5.1-5.3).
pub mod acct_attr {
    pub const STATUS_TYPE: u8 = 40;
    pub const DELAY_TIME: u8 = 41;
    pub const INPUT_OCTETS: u8 = 42;
    pub const OUTPUT_OCTETS: u8 = 43;
    pub const SESSION_ID: u8 = 44;
    pub const AUTHENTIC: u8 = 45;
    pub const SESSION_TIME: u8 = 46;
    pub const TERMINATE_CAUSE: u8 = 49;
    pub const INPUT_GIGAWORDS: u8 = 52;
    pub const OUTPUT_GIGAWORDS: u8 = 53;
    pub const EVENT_TIMESTAMP: u8 = 55;
}

/// Interim-Updates are never closer than this (seconds), whatever the server asks.
pub const MIN_INTERIM_SECS: u32 = 60;
/// The queue's bound: past it the oldest Interim-Update makes room (`make_room`).
pub const QUEUE_BOUND: usize = 10_000;

/// Acct-Status-Type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Start,
    Stop,
    Interim,
    On,
    Off,
}

impl Status {
    pub fn code(self) -> u32 {
        match self {
            Status::Start => 1,
            Status::Stop => 2,
            Status::Interim => 3,
            Status::On => 7,
            Status::Off => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Status::Start => "Start",
            Status::Stop => "Stop",
            Status::Interim => "Interim-Update",
            Status::On => "Accounting-On",
            Status::Off => "Accounting-Off",
        }
    }
}

/// Acct-Terminate-Cause (RFC 2866 §5.10) of a Stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The guest logged out.
    UserRequest,
    IdleTimeout,
    /// The time or the data quota is used up (CoovaChilli reports a quota this way too).
    SessionTimeout,
    /// The owner kicked the device, or the purchase moved to another MAC.
    AdminReset,
}

impl Cause {
    pub fn code(self) -> u32 {
        match self {
            Cause::UserRequest => 1,
            Cause::IdleTimeout => 4,
            Cause::SessionTimeout => 5,
            Cause::AdminReset => 6,
        }
    }
}

/// One accounting record, as queued on flash and sent (again) from there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub status: Status,
    /// Acct-Session-Id: stable for the session (`session_id`).
    pub session_id: String,
    /// User-Name: the voucher's code or the account's name; none for On and Off.
    pub user: Option<String>,
    /// Calling-Station-Id (the guest's MAC) and Framed-IP-Address.
    pub mac: Option<Mac>,
    pub ip: Option<[u8; 4]>,
    /// Acct-Input-Octets (from the guest: upload) and Acct-Output-Octets (to the guest), with
    /// their gigawords. Zero in Start, On and Off.
    pub input: u64,
    pub output: u64,
    /// Acct-Session-Time, seconds (Interim and Stop).
    pub session_time: Option<u32>,
    pub cause: Option<Cause>,
    /// Class attributes of the Access-Accept, echoed (RFC 2865 §5.25); for a sale made on the
    /// router, one Class carrying the sale (`sale_class`).
    pub class: Vec<Vec<u8>>,
    /// Acct-Authentic: true when the server authenticated the session (RADIUS, 1), false for
    /// a sale or voucher of the router's own (Local, 2).
    pub radius: bool,
    /// Event-Timestamp: when the record was made (Unix seconds). Acct-Delay-Time is counted
    /// from it at each send.
    pub at: i64,
}

/// The NAS's own attributes, the same in every packet.
#[derive(Clone, Copy, Debug)]
pub struct Nas<'a> {
    pub id: &'a str,
    pub ip: Option<[u8; 4]>,
    pub called_station: Option<&'a str>,
}

/// Acct-Session-Id of lango session `id` started at `started_at`: stable for the session's
/// life and across restarts, unique on the server for this NAS even after a store is reset.
pub fn session_id(started_at: i64, id: u64) -> String {
    format!("{:08X}-{id:X}", started_at.max(0))
}

/// A local sale as the Class of its Start record (docs/radius.md): `lango-sale package=ID
/// amount=MINOR currency=KES receipt=R`, at most 253 octets (the receipt is cut first).
pub fn sale_class(package: &str, amount_minor: u64, currency: &str, receipt: &str) -> Vec<u8> {
    let mut text =
        format!("lango-sale package={package} amount={amount_minor} currency={currency} receipt=");
    text.truncate(240);
    let room = 253usize.saturating_sub(text.len());
    text.extend(receipt.chars().filter(|c| c.is_ascii_graphic()).take(room));
    text.into_bytes()
}

/// Whether `record` carries a sale (`sale_class`): never dropped by the queue's bound.
pub fn is_sale(record: &Record) -> bool {
    record.class.iter().any(|c| c.starts_with(b"lango-sale "))
}

/// The interim interval for a session: the Access-Accept's Acct-Interim-Interval, else the
/// configured default, never under `MIN_INTERIM_SECS`.
pub fn interim_secs(reply: Option<u32>, default: u32) -> u32 {
    reply
        .filter(|s| *s > 0)
        .unwrap_or(default)
        .max(MIN_INTERIM_SECS)
}

/// What a new record does to a queue of `len` records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Room {
    /// It fits.
    Fits,
    /// The queue is full: this queued Interim-Update (its key) is dropped to make room.
    Drop(u64),
    /// The queue is full of Starts and Stops and the new record is an Interim-Update: it is
    /// not queued (the next one carries the same counters, larger).
    Skip,
    /// The queue is full of Starts and Stops and the new record is one too: queued past the
    /// bound, since losing a Start or Stop loses a session on the server.
    Over,
}

/// The queue's rule: `oldest_interim` is the key of the oldest queued Interim-Update.
pub fn make_room(len: usize, bound: usize, new: Status, oldest_interim: Option<u64>) -> Room {
    if len < bound {
        return Room::Fits;
    }
    match (oldest_interim, new) {
        (Some(key), _) => Room::Drop(key),
        (None, Status::Interim) => Room::Skip,
        (None, _) => Room::Over,
    }
}

/// The Accounting-Request for `record`, Identifier `id`, sent at `now` (Acct-Delay-Time is
/// `now - record.at`). Returns the packet; its Request Authenticator is `packet[4..20]`.
pub fn request(
    record: &Record,
    id: u8,
    now: i64,
    nas: &Nas,
    secret: &[u8],
) -> Result<Vec<u8>, PacketError> {
    let mut out = vec![ACCOUNTING_REQUEST, id, 0, 0];
    out.extend_from_slice(&[0; 16]);
    let int = |out: &mut Vec<u8>, kind: u8, value: u32| put(out, kind, &value.to_be_bytes());
    int(&mut out, acct_attr::STATUS_TYPE, record.status.code())?;
    put(
        &mut out,
        acct_attr::SESSION_ID,
        record.session_id.as_bytes(),
    )?;
    if let Some(user) = &record.user {
        put(&mut out, attr::USER_NAME, user.as_bytes())?;
    }
    put(&mut out, attr::NAS_IDENTIFIER, nas.id.as_bytes())?;
    if let Some(ip) = nas.ip {
        put(&mut out, attr::NAS_IP_ADDRESS, &ip)?;
    }
    if let Some(called) = nas.called_station {
        put(&mut out, attr::CALLED_STATION_ID, called.as_bytes())?;
    }
    if let Some(mac) = record.mac {
        put(&mut out, attr::CALLING_STATION_ID, ietf(mac).as_bytes())?;
    }
    if let Some(ip) = record.ip {
        put(&mut out, attr::FRAMED_IP_ADDRESS, &ip)?;
    }
    if matches!(
        record.status,
        Status::Start | Status::Stop | Status::Interim
    ) {
        int(&mut out, attr::NAS_PORT_TYPE, attr::WIRELESS_802_11)?;
        int(
            &mut out,
            acct_attr::AUTHENTIC,
            if record.radius { 1 } else { 2 },
        )?;
    }
    if matches!(record.status, Status::Stop | Status::Interim) {
        let low = |n: u64| (n & 0xffff_ffff) as u32;
        let high = |n: u64| u32::try_from(n >> 32).unwrap_or(u32::MAX);
        int(&mut out, acct_attr::INPUT_OCTETS, low(record.input))?;
        int(&mut out, acct_attr::OUTPUT_OCTETS, low(record.output))?;
        int(&mut out, acct_attr::INPUT_GIGAWORDS, high(record.input))?;
        int(&mut out, acct_attr::OUTPUT_GIGAWORDS, high(record.output))?;
        int(
            &mut out,
            acct_attr::SESSION_TIME,
            record.session_time.unwrap_or(0),
        )?;
    }
    if let Some(cause) = record.cause {
        int(&mut out, acct_attr::TERMINATE_CAUSE, cause.code())?;
    }
    for class in &record.class {
        put(&mut out, attr::CLASS, class)?;
    }
    let at = u32::try_from(record.at.max(0)).unwrap_or(u32::MAX);
    int(&mut out, acct_attr::EVENT_TIMESTAMP, at)?;
    let delay = u32::try_from(now.saturating_sub(record.at).max(0)).unwrap_or(u32::MAX);
    int(&mut out, acct_attr::DELAY_TIME, delay)?;
    let length = u16::try_from(out.len())
        .ok()
        .filter(|n| usize::from(*n) <= MAX_LEN)
        .ok_or(PacketError::TooBig)?;
    out[2..4].copy_from_slice(&length.to_be_bytes());
    let mut md5 = Md5::new();
    md5.update(&out);
    md5.update(secret);
    out[4..HEADER].copy_from_slice(&md5.finalize());
    Ok(out)
}

/// Checks an Accounting-Response to the request with `id` and `request_authenticator`
/// (`check_signed`).
pub fn check_response(
    bytes: &[u8],
    id: u8,
    request_authenticator: &[u8; 16],
    secret: &[u8],
) -> Result<(), PacketError> {
    check_signed(
        bytes,
        id,
        request_authenticator,
        secret,
        ACCOUNTING_RESPONSE,
    )
}

/// Checks a reply of `code` to the request with `id` and `request_authenticator`: code,
/// Identifier and Response Authenticator (MD5 over the reply with the Request Authenticator
/// in its place, then the secret); a Message-Authenticator, if any, is checked too (RFC 3579
/// §3.2). Also the answer to a Status-Server probe: FreeRADIUS before 3.2.5 answers one
/// without a Message-Authenticator, and a probe grants nothing, so the Response
/// Authenticator (which needs the secret) is enough there.
pub fn check_signed(
    bytes: &[u8],
    id: u8,
    request_authenticator: &[u8; 16],
    secret: &[u8],
    code: u8,
) -> Result<(), PacketError> {
    let packet = Packet::decode(bytes)?;
    if packet.code != code {
        return Err(PacketError::Code(packet.code));
    }
    let mut copy = super::verify_response(&packet, id, request_authenticator, secret)?;
    for (kind, value, at) in packet.attributes() {
        if kind == attr::MESSAGE_AUTHENTICATOR {
            copy[at..at + value.len()].fill(0);
            if value.len() != 16 || !token::same(value, &super::hmac_md5(secret, &copy)) {
                return Err(PacketError::MessageAuthenticator);
            }
        }
    }
    Ok(())
}

/// A MAC as RADIUS writes it (RFC 3580 §3.21): `AA-BB-CC-DD-EE-FF`.
pub fn ietf(mac: Mac) -> String {
    let b = mac.0;
    format!(
        "{:02X}-{:02X}-{:02X}-{:02X}-{:02X}-{:02X}",
        b[0], b[1], b[2], b[3], b[4], b[5]
    )
}

/// What lango keeps of an accounted session until its Stop is queued (store table
/// `acct_sessions`, by session id): what the Access-Accept said for accounting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accounted {
    pub user: Option<String>,
    pub class: Vec<Vec<u8>>,
    /// Seconds between Interim-Updates (`interim_secs`).
    pub interim_secs: u32,
    /// When the next Interim-Update is due.
    pub next_interim: i64,
    /// Authenticated by the server (Acct-Authentic RADIUS) or a local sale.
    pub radius: bool,
}

/// The Start, Interim-Update or Stop record of `session` at `now`, with its counters.
pub fn record(
    session: &Session,
    accounted: &Accounted,
    status: Status,
    cause: Option<Cause>,
    now: i64,
) -> Record {
    let ip = match session.ip {
        Some(std::net::IpAddr::V4(v4)) => Some(v4.octets()),
        _ => None,
    };
    let counted = status != Status::Start;
    let time = now.saturating_sub(session.started_at).max(0);
    Record {
        status,
        session_id: session_id(session.started_at, session.id),
        user: accounted.user.clone(),
        mac: Some(session.mac),
        ip,
        input: if counted { session.bytes_up } else { 0 },
        output: if counted { session.bytes_down } else { 0 },
        session_time: counted.then(|| u32::try_from(time).unwrap_or(u32::MAX)),
        cause,
        class: accounted.class.clone(),
        radius: accounted.radius,
        at: now,
    }
}

/// Accounting-On (at start) or -Off (at a clean stop) of this NAS at `now`.
pub fn nas_record(status: Status, now: i64) -> Record {
    Record {
        status,
        session_id: format!("{:08X}-nas", now.max(0)),
        user: None,
        mac: None,
        ip: None,
        input: 0,
        output: 0,
        session_time: None,
        cause: None,
        class: Vec::new(),
        radius: false,
        at: now,
    }
}

/// Why a session ended, as Acct-Terminate-Cause.
pub fn cause_of(reason: EndReason) -> Cause {
    match reason {
        EndReason::Time | EndReason::Quota => Cause::SessionTimeout,
        EndReason::Revoked => Cause::AdminReset,
        EndReason::Idle => Cause::IdleTimeout,
    }
}
