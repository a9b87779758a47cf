//! The compact form of a settled payment (pure). A payment whose prompt is over and whose
//! session has ended is kept for the owner's books as one row of about 40 bytes in a block per
//! local day, instead of its ~1 KB JSON record and four index entries: what the payments page,
//! its CSV and the dashboard's totals show, and the receipt, so that a pasted SMS cannot credit
//! it twice. Dropped: the status token, the checkout and merchant ids, the session link, the
//! IP address, the callback evidence and the package's limits.
//!
//! A block is `VERSION`, the package names it uses (a count, then each as length and bytes), and
//! the rows. A row: created (u32 seconds), confirmed after created (u32), amount (u32 minor units),
//! state (low 4 bits; bits 4-5 the phone's country, 0 Kenya `254`, 1 Uganda `256`, 2 Tanzania
//! `255`; bit 7 set for Airtel Money, clear in every older row: M-Pesa), decline, the MAC, the
//! phone's national number (u32, the country's code implied), the package name's
//! index (u8), and the receipt (length and bytes). All integers little-endian. A block that does
//! not decode is an error, never a panic.

use crate::core::model::{Mac, Money, Phone};
use crate::core::payments::{Decline, Payment, PaymentState};
#[cfg(feature = "airtel")]
use crate::core::provider::Provider;
use crate::core::sessions::Terms;
use crate::core::time::Timestamp;

const VERSION: u8 = 1;
/// The phone's country code per the row's country bits.
const DIALS: [&str; 3] = ["254", "256", "255"];
/// Package names in one block (a day); more are written as the last one's name.
const MAX_NAMES: usize = 255;

pub(crate) const STATES: [PaymentState; 6] = [
    PaymentState::Initiating,
    PaymentState::Pending,
    PaymentState::Paid,
    PaymentState::Failed,
    PaymentState::Cancelled,
    PaymentState::Expired,
];
pub(crate) const DECLINES: [Decline; 9] = [
    Decline::Cancelled,
    Decline::TimedOut,
    Decline::WrongPin,
    Decline::InsufficientFunds,
    Decline::Busy,
    Decline::Limit,
    Decline::Merchant,
    Decline::Unavailable,
    Decline::Other,
];

/// A block that does not decode: damage or a newer lango.
#[derive(Debug, PartialEq, Eq)]
pub struct BadBlock(pub &'static str);

impl std::fmt::Display for BadBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "archived day: {}", self.0)
    }
}

/// The days of payments kept in full after they end: the payment page's "Today", "Yesterday"
/// and a little more answer from full records. Also longer than the M-Pesa prompt's and
/// callback's lifetimes, so that no late answer meets an archived payment.
pub const FULL_DAYS: i64 = 3;

/// Whether `payment` may go to the archive at `now`: final, not touched for `FULL_DAYS`, and
/// not feeding a session that is still running (`session_running`), which a move by receipt
/// and phone may still need.
pub fn archivable(payment: &Payment, session_running: bool, now: Timestamp) -> bool {
    !payment.state.is_open() && !session_running && payment.updated_at < now - FULL_DAYS * 86_400
}

/// The receipt a row keeps: the one M-Pesa confirmed, or for a paid payment the one its
/// callback named (what `App::claim_sms` treats as credited to the paying device).
fn receipt_of(p: &Payment) -> Option<&str> {
    let from_callback = p
        .callback
        .as_ref()
        .filter(|h| h.result_code == 0 && p.state == PaymentState::Paid)
        .and_then(|h| h.receipt.as_deref());
    p.receipt.as_deref().or(from_callback)
}

fn u32_of(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// Appends `payments` (as rows) to the block `old` (empty for a new day).
pub fn append(old: &[u8], payments: &[Payment]) -> Result<Vec<u8>, BadBlock> {
    let (mut names, rows) = if old.is_empty() {
        (Vec::new(), &[][..])
    } else {
        split(old)?
    };
    let mut out_rows = rows.to_vec();
    for p in payments {
        let name = p.terms.package_name.as_str();
        let index = match names.iter().position(|n| *n == name) {
            Some(i) => i,
            None if names.len() < MAX_NAMES => {
                names.push(name);
                names.len() - 1
            }
            None => MAX_NAMES - 1,
        };
        out_rows.extend_from_slice(&u32_of(p.created_at).to_le_bytes());
        out_rows.extend_from_slice(&u32_of(p.updated_at - p.created_at).to_le_bytes());
        out_rows.extend_from_slice(&u32_of(p.amount.0).to_le_bytes());
        let state = STATES.iter().position(|s| *s == p.state).unwrap_or(0);
        let decline = p
            .decline
            .and_then(|d| DECLINES.iter().position(|x| *x == d))
            .map_or(0, |i| i + 1);
        let country = match cfg!(feature = "airtel") {
            true => DIALS.iter().position(|d| p.phone.as_str().starts_with(d)),
            false => None,
        };
        // Bit 7 Airtel, bit 6 Vodacom, both ClickPesa; neither M-Pesa (Safaricom).
        let airtel = match p.provider() {
            crate::core::provider::Provider::Mpesa => 0,
            crate::core::provider::Provider::Airtel => 0x80,
            crate::core::provider::Provider::Vodacom => 0x40,
            crate::core::provider::Provider::ClickPesa => 0xc0,
        };
        out_rows.push(state as u8 | (country.unwrap_or(0) as u8) << 4 | airtel);
        out_rows.push(decline as u8);
        out_rows.extend_from_slice(&p.mac.0);
        let national: u32 = p
            .phone
            .as_str()
            .get(3..)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        out_rows.extend_from_slice(&national.to_le_bytes());
        out_rows.push(index as u8);
        let receipt = receipt_of(p).unwrap_or("").as_bytes();
        let receipt = &receipt[..receipt.len().min(255)];
        out_rows.push(receipt.len() as u8);
        out_rows.extend_from_slice(receipt);
    }
    let mut out = vec![VERSION, names.len() as u8];
    for name in &names {
        let bytes = &name.as_bytes()[..name.len().min(255)];
        out.push(bytes.len() as u8);
        out.extend_from_slice(bytes);
    }
    out.extend_from_slice(&out_rows);
    Ok(out)
}

/// A cursor over a block's bytes that fails instead of panicking.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], BadBlock> {
        if self.0.len() < n {
            return Err(BadBlock("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, BadBlock> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, BadBlock> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn text(&mut self) -> Result<&'a str, BadBlock> {
        let n = usize::from(self.byte()?);
        std::str::from_utf8(self.take(n)?).map_err(|_| BadBlock("text is not UTF-8"))
    }
}

/// The block's package names and the bytes of its rows.
fn split(block: &[u8]) -> Result<(Vec<&str>, &[u8]), BadBlock> {
    let mut c = Cursor(block);
    if c.byte()? != VERSION {
        return Err(BadBlock("unknown version"));
    }
    let n = c.byte()?;
    let mut names = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        names.push(c.text()?);
    }
    Ok((names, c.0))
}

/// The payments of a block, as far as the archive keeps them (ids are 0, tokens empty).
pub fn payments(block: &[u8]) -> Result<Vec<Payment>, BadBlock> {
    let (names, rows) = split(block)?;
    let mut c = Cursor(rows);
    let mut out = Vec::new();
    while !c.0.is_empty() {
        let created = i64::from(c.u32()?);
        let updated = created + i64::from(c.u32()?);
        let amount = Money(i64::from(c.u32()?));
        let flags = c.byte()?;
        // Without Airtel, every row is an M-Pesa one in Kenya: the byte is the state, as before.
        let (state, country) = match cfg!(feature = "airtel") {
            true => (flags & 0x0f, flags >> 4 & 3),
            false => (flags, 0),
        };
        let state = *STATES
            .get(usize::from(state))
            .ok_or(BadBlock("unknown state"))?;
        let dial = DIALS
            .get(usize::from(country))
            .ok_or(BadBlock("unknown country"))?;
        let decline = match c.byte()? {
            0 => None,
            i => Some(
                *DECLINES
                    .get(usize::from(i) - 1)
                    .ok_or(BadBlock("unknown decline"))?,
            ),
        };
        let mac = c.take(6)?;
        let mac = Mac([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]]);
        let national = c.u32()?;
        let phone = match *dial {
            "254" => Phone::parse(&format!("254{national:09}"))
                .or_else(|_| Phone::parse("254700000000"))
                .map_err(|_| BadBlock("phone"))?,
            _ => Phone::international(format!("{dial}{national:09}")),
        };
        #[cfg(feature = "airtel")]
        let provider = match flags & 0xc0 {
            0 => Provider::Mpesa,
            0x40 => Provider::Vodacom,
            0x80 => Provider::Airtel,
            _ => Provider::ClickPesa,
        };
        let name = names
            .get(usize::from(c.byte()?))
            .copied()
            .ok_or(BadBlock("unknown package"))?;
        let receipt = c.text()?;
        out.push(Payment {
            id: 0,
            token: String::new(),
            terms: Terms {
                package_id: String::new(),
                package_name: name.to_string(),
                price: amount,
                duration_secs: 0,
                quota_bytes: None,
                rate_down_kbit: None,
                rate_up_kbit: None,
                fair_kbit: None,
                window: None,
                devices: 1,
                idle_secs: None,
            },
            amount,
            phone,
            mac,
            ip: None,
            state,
            checkout_id: None,
            merchant_request_id: None,
            receipt: (!receipt.is_empty()).then(|| receipt.to_string()),
            result_code: None,
            decline,
            created_at: created,
            updated_at: updated,
            session_id: None,
            callback: None,
            #[cfg(feature = "airtel")]
            provider,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment(i: u32, state: PaymentState, receipt: Option<&str>) -> Payment {
        Payment {
            id: u64::from(i) + 7,
            token: "t".repeat(32),
            terms: Terms {
                package_id: "p".into(),
                package_name: if i.is_multiple_of(2) {
                    "1 hour"
                } else {
                    "Siku moja"
                }
                .into(),
                price: Money(2000),
                duration_secs: 3600,
                quota_bytes: Some(5),
                rate_down_kbit: None,
                rate_up_kbit: None,
                fair_kbit: None,
                window: None,
                devices: 1,
                idle_secs: None,
            },
            amount: Money(2000 + i64::from(i)),
            phone: Phone::parse(&format!("07{:08}", i)).unwrap(),
            mac: Mac([2, 0, 0, 0, 0, i as u8]),
            ip: None,
            state,
            checkout_id: Some("ws_CO_1".into()),
            merchant_request_id: None,
            receipt: receipt.map(String::from),
            result_code: Some(0),
            decline: (state == PaymentState::Failed).then_some(Decline::WrongPin),
            created_at: 1_780_000_000 + i64::from(i) * 300,
            updated_at: 1_780_000_040 + i64::from(i) * 300,
            session_id: Some(3),
            callback: None,
            #[cfg(feature = "airtel")]
            provider: Default::default(),
        }
    }

    /// What the archive keeps of a payment.
    fn kept(p: &Payment) -> (i64, i64, Money, PaymentState, Option<Decline>, Mac, String) {
        (
            p.created_at,
            p.updated_at,
            p.amount,
            p.state,
            p.decline,
            p.mac,
            format!(
                "{} {} {:?}",
                p.phone.as_str(),
                p.terms.package_name,
                p.receipt
            ),
        )
    }

    #[test]
    fn rows_keep_what_the_owner_sees_in_about_forty_bytes() {
        let day: Vec<Payment> = (0..100)
            .map(|i| match i % 3 {
                0 => payment(i, PaymentState::Paid, Some("SLK4H7RT9Q")),
                1 => payment(i, PaymentState::Failed, None),
                _ => payment(i, PaymentState::Expired, None),
            })
            .collect();
        let block = append(&[], &day[..40]).unwrap();
        let block = append(&block, &day[40..]).unwrap();
        let back = payments(&block).unwrap();
        assert_eq!(
            back.iter().map(kept).collect::<Vec<_>>(),
            day.iter().map(kept).collect::<Vec<_>>()
        );
        // Two names, 100 rows.
        assert!(block.len() < 100 * 42, "{} bytes", block.len());
    }

    #[test]
    #[cfg(feature = "airtel")]
    fn airtel_rows_keep_their_wallet_and_country() {
        let mut p = payment(1, PaymentState::Paid, Some("MP1.2.A3"));
        p.provider = Provider::Airtel;
        p.phone = Phone::international("256701234567".into());
        let mpesa = payment(2, PaymentState::Paid, None);
        let mut vodacom = payment(3, PaymentState::Paid, Some("9ABC"));
        vodacom.provider = Provider::Vodacom;
        vodacom.phone = Phone::international("255754123456".into());
        let back = payments(&append(&[], &[p, mpesa, vodacom]).unwrap()).unwrap();
        let airtel = (back[0].provider(), back[0].phone.as_str());
        assert_eq!(airtel, (Provider::Airtel, "256701234567"));
        assert_eq!(back[1].provider(), Provider::Mpesa);
        let vodacom = (back[2].provider(), back[2].phone.as_str());
        assert_eq!(vodacom, (Provider::Vodacom, "255754123456"));
    }

    #[test]
    fn damaged_blocks_are_errors_not_panics() {
        let block = append(&[], &[payment(1, PaymentState::Paid, Some("SLK4H7RT9Q"))]).unwrap();
        for cut in 0..block.len() {
            let _ = payments(&block[..cut]);
        }
        assert_eq!(payments(&[]), Err(BadBlock("truncated")));
        assert_eq!(payments(&[9, 0]), Err(BadBlock("unknown version")));
        let mut bad = block.clone();
        let state_at = bad.len() - 1 - 10 - 1 - 4 - 6 - 2;
        bad[state_at] = 200;
        assert_eq!(payments(&bad), Err(BadBlock("unknown state")));
        assert!(append(&[7], &[]).is_err());
    }

    #[test]
    fn only_settled_payments_of_ended_sessions_days_old_are_archived() {
        let p = payment(1, PaymentState::Paid, None);
        let later = p.updated_at + FULL_DAYS * 86_400 + 1;
        assert!(archivable(&p, false, later));
        assert!(!archivable(&p, true, later));
        assert!(!archivable(&p, false, later - 2));
        let open = payment(1, PaymentState::Pending, None);
        assert!(!archivable(&open, false, later));
    }
}
