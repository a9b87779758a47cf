//! The accounting queue's records on flash as compact bytes (`store::accounting`), written and
//! read by hand: serde's JSON code for these two types cost about as much binary as the rest
//! of accounting. Every read is bounded: a short or damaged value is `None`, never a panic.
//!
//! `Record`: version 1, status, flags (user, mac, ip, session time, cause, RADIUS), Event-
//! Timestamp (i64), input and output octets (u64), the session id, then the flagged fields and
//! the Class values; `Accounted`: version 1, flags (user, RADIUS), interval (u32), next interim
//! (i64), user, Class values. Numbers little-endian; strings and Class values length-prefixed
//! (one octet: a RADIUS value is at most 253 octets).

use super::acct::{Accounted, Cause, Record, Status};
use crate::core::model::Mac;

const VERSION: u8 = 1;
const USER: u8 = 1;
const MAC: u8 = 2;
const IP: u8 = 4;
const TIME: u8 = 8;
const CAUSE: u8 = 16;
const RADIUS: u8 = 32;

const STATUSES: [Status; 5] = [
    Status::Start,
    Status::Stop,
    Status::Interim,
    Status::On,
    Status::Off,
];
const CAUSES: [Cause; 4] = [
    Cause::UserRequest,
    Cause::IdleTimeout,
    Cause::SessionTimeout,
    Cause::AdminReset,
];

/// Appends a length-prefixed value, cut to 255 octets.
fn text(out: &mut Vec<u8>, value: &[u8]) {
    let value = value.get(..value.len().min(255)).unwrap_or_default();
    out.push(value.len() as u8);
    out.extend_from_slice(value);
}

fn classes(out: &mut Vec<u8>, class: &[Vec<u8>]) {
    let class = class.get(..class.len().min(255)).unwrap_or_default();
    out.push(class.len() as u8);
    for value in class {
        text(out, value);
    }
}

pub fn encode_record(r: &Record) -> Vec<u8> {
    let flag = |on: bool, bit: u8| if on { bit } else { 0 };
    let flags = flag(r.user.is_some(), USER)
        | flag(r.mac.is_some(), MAC)
        | flag(r.ip.is_some(), IP)
        | flag(r.session_time.is_some(), TIME)
        | flag(r.cause.is_some(), CAUSE)
        | flag(r.radius, RADIUS);
    let status = STATUSES.iter().position(|s| *s == r.status).unwrap_or(0) as u8;
    let mut out = vec![VERSION, status, flags];
    out.extend_from_slice(&r.at.to_le_bytes());
    out.extend_from_slice(&r.input.to_le_bytes());
    out.extend_from_slice(&r.output.to_le_bytes());
    text(&mut out, r.session_id.as_bytes());
    if let Some(user) = &r.user {
        text(&mut out, user.as_bytes());
    }
    if let Some(mac) = r.mac {
        out.extend_from_slice(&mac.0);
    }
    if let Some(ip) = r.ip {
        out.extend_from_slice(&ip);
    }
    if let Some(time) = r.session_time {
        out.extend_from_slice(&time.to_le_bytes());
    }
    if let Some(cause) = r.cause {
        out.push(CAUSES.iter().position(|c| *c == cause).unwrap_or(0) as u8);
    }
    classes(&mut out, &r.class);
    out
}

/// A cursor over a stored value.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn text(&mut self) -> Option<&'a [u8]> {
        let n = self.byte()?;
        self.take(usize::from(n))
    }

    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.text()?.to_vec()).ok()
    }

    fn classes(&mut self) -> Option<Vec<Vec<u8>>> {
        let n = self.byte()?;
        (0..n).map(|_| self.text().map(<[u8]>::to_vec)).collect()
    }
}

pub fn decode_record(bytes: &[u8]) -> Option<Record> {
    let mut r = Reader(bytes);
    if r.byte()? != VERSION {
        return None;
    }
    let status = *STATUSES.get(usize::from(r.byte()?))?;
    let flags = r.byte()?;
    let on = |bit: u8| flags & bit != 0;
    let at = i64::from_le_bytes(r.array()?);
    let input = u64::from_le_bytes(r.array()?);
    let output = u64::from_le_bytes(r.array()?);
    let session_id = r.string()?;
    let user = if on(USER) { Some(r.string()?) } else { None };
    let mac = if on(MAC) { Some(Mac(r.array()?)) } else { None };
    let ip = if on(IP) { Some(r.array()?) } else { None };
    let session_time = match on(TIME) {
        true => Some(u32::from_le_bytes(r.array()?)),
        false => None,
    };
    let cause = match on(CAUSE) {
        true => Some(*CAUSES.get(usize::from(r.byte()?))?),
        false => None,
    };
    let class = r.classes()?;
    Some(Record {
        status,
        session_id,
        user,
        mac,
        ip,
        input,
        output,
        session_time,
        cause,
        class,
        radius: on(RADIUS),
        at,
    })
}

pub fn encode_accounted(a: &Accounted) -> Vec<u8> {
    let flags = if a.user.is_some() { USER } else { 0 } | if a.radius { RADIUS } else { 0 };
    let mut out = vec![VERSION, flags];
    out.extend_from_slice(&a.interim_secs.to_le_bytes());
    out.extend_from_slice(&a.next_interim.to_le_bytes());
    if let Some(user) = &a.user {
        text(&mut out, user.as_bytes());
    }
    classes(&mut out, &a.class);
    out
}

pub fn decode_accounted(bytes: &[u8]) -> Option<Accounted> {
    let mut r = Reader(bytes);
    if r.byte()? != VERSION {
        return None;
    }
    let flags = r.byte()?;
    let interim_secs = u32::from_le_bytes(r.array()?);
    let next_interim = i64::from_le_bytes(r.array()?);
    let user = if flags & USER != 0 {
        Some(r.string()?)
    } else {
        None
    };
    Some(Accounted {
        user,
        class: r.classes()?,
        interim_secs,
        next_interim,
        radius: flags & RADIUS != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Record {
        Record {
            status: Status::Stop,
            session_id: "6B49D200-2A".into(),
            user: Some("HOUR2345AB".into()),
            mac: Some(Mac([0xaa, 0, 0, 0, 0, 1])),
            ip: Some([192, 168, 1, 101]),
            input: (3 << 32) + 7,
            output: 500,
            session_time: Some(61),
            cause: Some(Cause::AdminReset),
            class: vec![b"plan-hour".to_vec(), Vec::new()],
            radius: true,
            at: 1_800_000_000,
        }
    }

    #[test]
    fn records_come_back_as_they_were_and_damage_is_none() {
        let on = super::super::acct::nas_record(Status::On, 5);
        for record in [full(), on] {
            let bytes = encode_record(&record);
            assert_eq!(decode_record(&bytes), Some(record));
            // Every truncation is refused, none panics.
            for n in 0..bytes.len() {
                assert_eq!(decode_record(&bytes[..n]), None, "{n}");
            }
        }
        let mut bad = encode_record(&full());
        bad[1] = 9;
        assert_eq!(decode_record(&bad), None);
        let accounted = Accounted {
            user: Some("amina".into()),
            class: vec![b"gold".to_vec()],
            interim_secs: 300,
            next_interim: 1_800_000_300,
            radius: true,
        };
        let bytes = encode_accounted(&accounted);
        assert_eq!(decode_accounted(&bytes), Some(accounted));
        for n in 0..bytes.len() {
            assert_eq!(decode_accounted(&bytes[..n]), None, "{n}");
        }
    }
}
