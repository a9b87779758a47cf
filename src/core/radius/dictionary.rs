//! The RADIUS dictionary as data: which reply attributes lango reads (standard ones, WISPr
//! vendor 14122, ChilliSpot vendor 14559), and `Reply`, a checked reply turned into the terms
//! a session is granted with. Any attribute not in the table is ignored, never a failure.

use super::{attr, vendor_attributes, Packet, PacketError, ACCESS_ACCEPT};
use crate::core::model::Money;
use crate::core::sessions::Terms;

/// WISPr (`dictionary.wispr` in FreeRADIUS).
pub const WISPR: u32 = 14122;
/// ChilliSpot, also CoovaChilli's (`dictionary.chillispot` in FreeRADIUS 3.2 has the octets
/// and speeds; the gigawords, 21-23, are CoovaChilli's `radius.h`).
pub const CHILLISPOT: u32 = 14559;

/// The session length granted when an Access-Accept has no Session-Timeout: one day. A grant
/// without an end does not exist in lango; a server that means longer says so.
pub const DEFAULT_SESSION_SECS: u64 = 86_400;

/// Where a reply attribute goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    SessionTimeout,
    IdleTimeout,
    InterimInterval,
    Class,
    ReplyMessage,
    /// Bits per second (WISPr).
    UpBits,
    DownBits,
    /// kbit/s (ChilliSpot-Bandwidth-Max-Up/Down).
    UpKbit,
    DownKbit,
    Octets(Quota),
    Gigawords(Quota),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quota {
    Input,
    Output,
    Total,
}

/// (vendor, type, field); vendor 0 is the standard space. Numbers as in FreeRADIUS 3.2's
/// `dictionary.rfc2865`, `dictionary.rfc2869`, `dictionary.wispr`, `dictionary.chillispot`.
const DICTIONARY: &[(u32, u8, Field)] = &[
    (0, attr::REPLY_MESSAGE, Field::ReplyMessage),
    (0, attr::CLASS, Field::Class),
    (0, attr::SESSION_TIMEOUT, Field::SessionTimeout),
    (0, attr::IDLE_TIMEOUT, Field::IdleTimeout),
    (0, attr::ACCT_INTERIM_INTERVAL, Field::InterimInterval),
    (WISPR, 7, Field::UpBits),
    (WISPR, 8, Field::DownBits),
    (CHILLISPOT, 1, Field::Octets(Quota::Input)),
    (CHILLISPOT, 2, Field::Octets(Quota::Output)),
    (CHILLISPOT, 3, Field::Octets(Quota::Total)),
    (CHILLISPOT, 4, Field::UpKbit),
    (CHILLISPOT, 5, Field::DownKbit),
    (CHILLISPOT, 21, Field::Gigawords(Quota::Input)),
    (CHILLISPOT, 22, Field::Gigawords(Quota::Output)),
    (CHILLISPOT, 23, Field::Gigawords(Quota::Total)),
];

/// What a checked reply says, in lango's terms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// Access-Accept (otherwise Reject or Challenge, which lango treats as a refusal).
    pub accept: bool,
    /// Reply-Message, joined (a guest reads it on a refusal).
    pub message: Option<String>,
    pub session_timeout: Option<u32>,
    pub idle_timeout: Option<u32>,
    pub interim_interval: Option<u32>,
    /// Class attributes, kept as sent, for accounting to echo (RFC 2865 §5.25).
    pub class: Vec<Vec<u8>>,
    pub up_kbit: Option<u32>,
    pub down_kbit: Option<u32>,
    /// Octet limits with their gigawords (gigawords << 32 + octets).
    pub input_bytes: Option<u64>,
    pub output_bytes: Option<u64>,
    pub total_bytes: Option<u64>,
}

impl Reply {
    /// Reads a reply `check_reply` accepted. A known attribute of the wrong size is an error;
    /// an unknown one, standard or vendor, is skipped.
    pub fn of(packet: &Packet) -> Result<Reply, PacketError> {
        let mut reply = Reply {
            accept: packet.code == ACCESS_ACCEPT,
            ..Reply::default()
        };
        let (mut octets, mut gigawords) = ([None; 3], [None; 3]);
        for (kind, value, _) in packet.attributes() {
            if kind == attr::VENDOR_SPECIFIC {
                let (vendor, subs) = vendor_attributes(value)?;
                for (sub, value) in subs {
                    reply.take(vendor, sub, value, &mut octets, &mut gigawords)?;
                }
            } else {
                reply.take(0, kind, value, &mut octets, &mut gigawords)?;
            }
        }
        let limit = |i: usize| match (octets[i], gigawords[i]) {
            (None, None) => None,
            (o, g) => Some((u64::from(g.unwrap_or(0)) << 32) + u64::from(o.unwrap_or(0))),
        };
        (reply.input_bytes, reply.output_bytes) = (limit(0), limit(1));
        reply.total_bytes = limit(2);
        Ok(reply)
    }

    fn take(
        &mut self,
        vendor: u32,
        kind: u8,
        value: &[u8],
        octets: &mut [Option<u32>; 3],
        gigawords: &mut [Option<u32>; 3],
    ) -> Result<(), PacketError> {
        let Some(&(_, _, field)) = DICTIONARY
            .iter()
            .find(|(v, k, _)| *v == vendor && *k == kind)
        else {
            return Ok(());
        };
        let int = || {
            <[u8; 4]>::try_from(value)
                .map(u32::from_be_bytes)
                .map_err(|_| PacketError::Value(kind))
        };
        let slot = |q: Quota| q as usize;
        match field {
            Field::ReplyMessage => {
                let text = String::from_utf8_lossy(value);
                match &mut self.message {
                    Some(message) => message.push_str(&text),
                    None => self.message = Some(text.into_owned()),
                }
            }
            Field::Class => self.class.push(value.to_vec()),
            Field::SessionTimeout => self.session_timeout = Some(int()?),
            Field::IdleTimeout => self.idle_timeout = Some(int()?),
            Field::InterimInterval => self.interim_interval = Some(int()?),
            Field::UpBits => self.up_kbit = Some(kbit(int()?)),
            Field::DownBits => self.down_kbit = Some(kbit(int()?)),
            Field::UpKbit => self.up_kbit = self.up_kbit.or(Some(int()?.max(1))),
            Field::DownKbit => self.down_kbit = self.down_kbit.or(Some(int()?.max(1))),
            Field::Octets(q) => octets[slot(q)] = Some(int()?),
            Field::Gigawords(q) => gigawords[slot(q)] = Some(int()?),
        }
        Ok(())
    }

    /// The terms an Access-Accept grants, enforced by the same kernel objects as a package's:
    /// the session's deadline (Session-Timeout), its rate caps, its data quota. lango's quota
    /// counts both directions together, so an input or output limit alone becomes a total
    /// quota of that size, and with several the smallest wins (the stricter reading).
    /// Idle-Timeout ends the session after that many seconds without traffic (0: none).
    /// Acct-Interim-Interval and Class are read for accounting, not part of the terms.
    pub fn terms(&self) -> Terms {
        let quota = [self.total_bytes, self.input_bytes, self.output_bytes]
            .into_iter()
            .flatten()
            .min();
        let duration = self.session_timeout.map(u64::from);
        Terms {
            package_id: "radius".into(),
            package_name: "RADIUS".into(),
            price: Money(0),
            duration_secs: duration.filter(|s| *s > 0).unwrap_or(DEFAULT_SESSION_SECS),
            quota_bytes: quota,
            rate_down_kbit: self.down_kbit,
            rate_up_kbit: self.up_kbit,
            fair_kbit: None,
            window: None,
            devices: 1,
            idle_secs: self.idle_timeout.filter(|s| *s > 0),
        }
    }
}

/// WISPr speaks bits per second, lango kbit/s: rounded down, at least 1.
fn kbit(bits: u32) -> u32 {
    (bits / 1000).max(1)
}
