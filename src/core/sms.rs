//! M-Pesa confirmation SMS (docs/daraja.md, Confirmation SMS) pasted by a guest, parsed exactly: the receipt
//! code, the amount, who was paid (Buy Goods till, PayBill with account, or a person), the date
//! and time, and the balance and cost lines when present. Messages that are not a payment by
//! the guest (reversals, Fuliza notices, airtime, money received, withdrawals) are recognised
//! and refused as claims. Pure; never panics on any input. A parsed SMS proves nothing by
//! itself: anyone can type one (see `app::mpesa` for what lango does with it).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::core::model::{Mac, Money};
use crate::core::sessions::Terms;
use crate::core::time::Timestamp;

/// The longest paste considered (a real message is about 300 characters).
const MAX_TEXT: usize = 1000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsPayment {
    /// The transaction code, which is the M-Pesa receipt number.
    pub receipt: String,
    pub amount: Money,
    pub recipient: Recipient,
    /// As written in the message (East Africa Time): day, month, full year, 24-hour time.
    pub day: u8,
    pub month: u8,
    pub year: u16,
    pub hour: u8,
    pub minute: u8,
    pub balance: Option<Money>,
    pub cost: Option<Money>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// `paid to <MERCHANT>.`: a Buy Goods till.
    BuyGoods { merchant: String },
    /// `sent to <BUSINESS> for account <ACCOUNT>`: a PayBill.
    PayBill { business: String, account: String },
    /// `sent to <NAME> [07XXXXXXXX]`: send money, or Pochi la Biashara without a number.
    Person { name: String, phone: Option<String> },
}

/// Why a text is not a payment claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotPayment {
    Empty,
    TooLong,
    /// No `<CODE> Confirmed.` at the start.
    NoConfirmation,
    /// A reversal: money went back to the customer.
    Reversal,
    /// A Fuliza loan or repayment notice (the payment itself is in the other SMS).
    Fuliza,
    Airtime,
    /// Money received by the customer (or the merchant's own notification).
    Received,
    Withdrawal,
    /// Looks like M-Pesa, but not a format lango knows.
    Unrecognised,
}

impl SmsPayment {
    /// A receipt typed without its message (the payer of a Dynamic QR may be on another
    /// phone): `amount` is what lango asked for, and the date is `now` in East Africa Time.
    /// `None` if `text` is not a receipt code.
    #[cfg(feature = "mpesa-qr")]
    pub(crate) fn typed(text: &str, amount: Money, paid_to: String, now: i64) -> Option<Self> {
        let receipt = text.trim().to_ascii_uppercase();
        if !is_code(&receipt) {
            return None;
        }
        let t = crate::core::time::daraja_timestamp(now);
        let num = |from: usize, len: usize| -> u16 {
            t.get(from..from + len)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0)
        };
        Some(SmsPayment {
            receipt,
            amount,
            recipient: Recipient::BuyGoods { merchant: paid_to },
            day: num(6, 2) as u8,
            month: num(4, 2) as u8,
            year: num(0, 4),
            hour: num(8, 2) as u8,
            minute: num(10, 2) as u8,
            balance: None,
            cost: None,
        })
    }

    /// Soft plausibility: does the date encoded in the receipt code (docs/daraja.md, Identifiers: year letter, month
    /// letter, day symbol) match the message's date? `None` for codes without the encoding
    /// (before 2017). Never a reason to refuse on its own.
    pub(crate) fn code_matches_date(&self) -> Option<bool> {
        let bytes = self.receipt.as_bytes();
        if bytes.len() != 10 || self.year < 2017 {
            return None;
        }
        let year = 2017 + u16::from(bytes[0].checked_sub(b'L')?);
        let month = 1 + bytes[1].checked_sub(b'A')?;
        let day = match bytes[2] {
            d @ b'1'..=b'9' => d - b'0',
            d @ b'A'..=b'V' => d - b'A' + 10,
            _ => return Some(false),
        };
        Some(year == self.year && month == self.month && day == self.day)
    }
}

/// Parses a pasted confirmation SMS.
pub fn parse(text: &str) -> Result<SmsPayment, NotPayment> {
    if text.chars().count() > MAX_TEXT {
        return Err(NotPayment::TooLong);
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return Err(NotPayment::Empty);
    }
    let (code, rest) = text.split_once(' ').ok_or(NotPayment::NoConfirmation)?;
    if !is_code(code) {
        return Err(NotPayment::NoConfirmation);
    }
    let (capital, rest) = if let Some(rest) = rest.strip_prefix("Confirmed") {
        (true, rest)
    } else if let Some(rest) = rest.strip_prefix("confirmed") {
        (false, rest)
    } else {
        return Err(NotPayment::NoConfirmation);
    };
    let rest = rest.strip_prefix('.').unwrap_or(rest).trim_start();
    if rest.starts_with("Reversal") || rest.contains("has been successfully reversed") {
        return Err(NotPayment::Reversal);
    }
    if rest.starts_with("You bought") || rest.contains(" of airtime") {
        return Err(NotPayment::Airtime);
    }
    if rest.starts_with("Fuliza") || rest.contains("to fully pay your outstanding Fuliza") {
        return Err(NotPayment::Fuliza);
    }
    if rest.starts_with("You have received") || rest.contains(" received from ") {
        return Err(NotPayment::Received);
    }
    if rest.contains("Withdraw Ksh") {
        return Err(NotPayment::Withdrawal);
    }
    if !capital {
        return Err(NotPayment::Unrecognised);
    }
    let (amount, rest) = parse_amount(rest).ok_or(NotPayment::Unrecognised)?;
    let (recipient, when, tail) = if let Some(rest) = rest.strip_prefix(" paid to ") {
        // The merchant name may contain dots: the lazy match ends at the first ". on <date>".
        let (name, when, tail) = split_at_date(rest, ". on ").ok_or(NotPayment::Unrecognised)?;
        let merchant = name.trim().to_string();
        (Recipient::BuyGoods { merchant }, when, tail)
    } else if let Some(rest) = rest.strip_prefix(" sent to ") {
        let (who, when, tail) = split_at_date(rest, " on ").ok_or(NotPayment::Unrecognised)?;
        let recipient = match who.find("for account") {
            Some(idx) => {
                let business = who[..idx].trim();
                let account = who[idx + "for account".len()..].trim();
                if business.is_empty() || account.is_empty() {
                    return Err(NotPayment::Unrecognised);
                }
                Recipient::PayBill {
                    business: business.to_string(),
                    account: account.to_string(),
                }
            }
            None => person(who),
        };
        (recipient, when, tail)
    } else {
        return Err(NotPayment::Unrecognised);
    };
    if matches!(&recipient, Recipient::BuyGoods { merchant } if merchant.is_empty())
        || matches!(&recipient, Recipient::Person { name, .. } if name.is_empty())
    {
        return Err(NotPayment::Unrecognised);
    }
    // Nothing past the daily-headroom sentence is parsed (promotions rotate).
    let tail = tail.split("Amount you can transact").next().unwrap_or(tail);
    let balance =
        after(tail, "New M-PESA balance is ").and_then(|t| parse_amount(t).map(|(a, _)| a));
    let cost = after(tail, "Transaction cost, ").and_then(|t| parse_amount(t).map(|(a, _)| a));
    Ok(SmsPayment {
        receipt: code.to_string(),
        amount,
        recipient,
        day: when.0,
        month: when.1,
        year: when.2,
        hour: when.3,
        minute: when.4,
        balance,
        cost,
    })
}

/// Transaction codes: upper-case letters and digits, 10 since about 2015, 8-9 before (docs/daraja.md, Identifiers).
fn is_code(text: &str) -> bool {
    (8..=10).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && text.bytes().any(|b| b.is_ascii_uppercase())
}

/// `Ksh1,000.00`, `Ksh 139.46`, `KSH75.00`, `Ksh1031.68`, `Ksh 1000` at the start of `text`;
/// returns the amount and what follows.
fn parse_amount(text: &str) -> Option<(Money, &str)> {
    let rest = text
        .strip_prefix("Ksh")
        .or_else(|| text.strip_prefix("KSH"))?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
        .unwrap_or(rest.len());
    let mut number = &rest[..end];
    // A sentence may end right after the amount: `Ksh54.00.`
    if number.ends_with('.') {
        number = &number[..number.len() - 1];
    }
    let (whole, frac) = match number.split_once('.') {
        Some((w, f)) if f.len() == 2 => (w, Some(f)),
        Some(_) => return None,
        None => (number, None),
    };
    let groups: Vec<&str> = whole.split(',').collect();
    let grouped_ok = groups.len() == 1
        || (!groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3));
    if whole.is_empty() || !grouped_ok {
        return None;
    }
    let plain: String = whole.chars().filter(|c| *c != ',').collect();
    let text = match frac {
        Some(f) => format!("{plain}.{f}"),
        None => plain,
    };
    let money = Money::parse(&text).ok()?;
    let consumed = number.len();
    Some((money, &rest[consumed..]))
}

/// Day, month, year, hour (0-23), minute.
type When = (u8, u8, u16, u8, u8);

/// Splits `text` at the first `<marker>D/M/YY at H:MM AM|PM` whose date and time are valid:
/// (before, (day, month, year, hour, minute), after).
fn split_at_date<'a>(text: &'a str, marker: &str) -> Option<(&'a str, When, &'a str)> {
    let mut from = 0;
    while let Some(found) = text.get(from..)?.find(marker) {
        let idx = from + found;
        let after = &text[idx + marker.len()..];
        if let Some((when, tail)) = date_time(after) {
            return Some((&text[..idx], when, tail));
        }
        from = idx + marker.len();
    }
    None
}

/// `4/6/26 at 7:43 PM` at the start of `text`.
fn date_time(text: &str) -> Option<(When, &str)> {
    let (date, rest) = text.split_once(" at ")?;
    let mut parts = date.split('/');
    let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !(small_number(d, 2) && small_number(m, 2)) || y.len() != 2 {
        return None;
    }
    let (day, month): (u8, u8) = (d.parse().ok()?, m.parse().ok()?);
    let year: u16 = 2000 + y.parse::<u16>().ok().filter(|_| small_number(y, 2))?;
    if !(1..=31).contains(&day) || !(1..=12).contains(&month) {
        return None;
    }
    let (clock, rest) = rest.split_once(':')?;
    if !small_number(clock, 2) {
        return None;
    }
    let minutes = rest.get(..2).filter(|m| small_number(m, 2))?;
    let rest = rest.get(2..)?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let (pm, rest) = if let Some(r) = rest.strip_prefix("PM") {
        (true, r)
    } else if let Some(r) = rest.strip_prefix("AM") {
        (false, r)
    } else {
        return None;
    };
    let hour12: u8 = clock.parse().ok()?;
    let minute: u8 = minutes.parse().ok()?;
    if !(1..=12).contains(&hour12) || minute > 59 {
        return None;
    }
    let hour = match (hour12, pm) {
        (12, false) => 0,
        (12, true) => 12,
        (h, true) => h + 12,
        (h, false) => h,
    };
    Some(((day, month, year, hour, minute), rest))
}

fn small_number(text: &str, max_digits: usize) -> bool {
    !text.is_empty() && text.len() <= max_digits && text.bytes().all(|b| b.is_ascii_digit())
}

/// `JOHN DOE 0712345678` or `MAMA MBOGA` (Pochi).
fn person(who: &str) -> Recipient {
    let who = who.trim();
    match who.rsplit_once(' ') {
        Some((name, number))
            if number.len() >= 10 && number.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Recipient::Person {
                name: name.trim().to_string(),
                phone: Some(number.to_string()),
            }
        }
        _ => Recipient::Person {
            name: who.to_string(),
            phone: None,
        },
    }
}

fn after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.find(marker).map(|idx| &text[idx + marker.len()..])
}

/// A pasted SMS that lango could not match to a payment it confirmed itself, kept for the
/// owner to approve or reject on the owner page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsClaim {
    /// From the store's id sequence (never equal to a payment id).
    pub id: u64,
    pub receipt: String,
    pub amount: Money,
    /// Who the SMS says was paid, as written (`WAVENET WIFI LTD, account HS0421`).
    pub paid_to: String,
    /// When the SMS says it happened, as written (`4/6/26 7:43 PM`).
    pub paid_at: String,
    /// Whether the receipt code's encoded date matches (`SmsPayment::code_matches_date`).
    pub code_date_ok: Option<bool>,
    /// The device that pasted it, which the package goes to if the owner approves.
    pub mac: Mac,
    pub ip: Option<IpAddr>,
    pub terms: Terms,
    pub state: ClaimState,
    pub created_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    pub session_id: Option<u64>,
    /// How the money was confirmed (absent from older records: the owner).
    #[serde(default)]
    pub via: ClaimVia,
}

/// How a claim's money was confirmed: the owner's revenue split names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClaimVia {
    /// The owner approved the pasted SMS.
    #[default]
    Owner,
    /// Pull Transactions listed the till or PayBill payment.
    Pull,
    /// Pull Transactions listed the payment of a Dynamic QR the portal showed.
    Qr,
}

impl SmsClaim {
    /// `via`, also for a Pull claim recorded before the field (its `paid_to` says so).
    pub(crate) fn via(&self) -> ClaimVia {
        match self.via {
            ClaimVia::Owner if self.paid_to.starts_with("M-Pesa Pull") => ClaimVia::Pull,
            via => via,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClaimState {
    Pending,
    Approved,
    Rejected,
}

impl SmsPayment {
    pub(crate) fn paid_to(&self) -> String {
        match &self.recipient {
            Recipient::BuyGoods { merchant } => merchant.clone(),
            Recipient::PayBill { business, account } => format!("{business}, account {account}"),
            Recipient::Person {
                name,
                phone: Some(phone),
            } => format!("{name} {phone}"),
            Recipient::Person { name, phone: None } => name.clone(),
        }
    }

    /// The message's date as Unix time (its midnight, UTC; the archive looks a day either
    /// side), if it is a real date.
    pub(crate) fn paid_on(&self) -> Option<crate::core::time::Timestamp> {
        crate::core::time::parse_date(&format!(
            "{:04}-{:02}-{:02}",
            self.year, self.month, self.day
        ))
        .map(|day| day * 86_400)
    }

    pub(crate) fn paid_at(&self) -> String {
        let (hour, pm) = match self.hour {
            0 => (12, false),
            h @ 1..=11 => (h, false),
            12 => (12, true),
            h => (h - 12, true),
        };
        format!(
            "{}/{}/{:02} {hour}:{:02} {}",
            self.day,
            self.month,
            self.year % 100,
            self.minute,
            if pm { "PM" } else { "AM" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> SmsPayment {
        parse(text).unwrap_or_else(|e| panic!("{e:?} for {text}"))
    }

    #[test]
    fn buy_goods_messages() {
        let p = ok("UF4KQ81ZTD Confirmed. Ksh20.00 paid to KIBERA NET HOTSPOT. on 4/6/26 at 7:43 PM.New M-PESA balance is Ksh1,180.50. Transaction cost, Ksh0.00. Amount you can transact within the day is 499,980.00. Download My OneApp on https://saf.cx/xxxxx");
        assert_eq!(p.receipt, "UF4KQ81ZTD");
        assert_eq!(p.amount, Money(2000));
        assert_eq!(
            p.recipient,
            Recipient::BuyGoods {
                merchant: "KIBERA NET HOTSPOT".into()
            }
        );
        assert_eq!(
            (p.day, p.month, p.year, p.hour, p.minute),
            (4, 6, 2026, 19, 43)
        );
        assert_eq!((p.balance, p.cost), (Some(Money(118_050)), Some(Money(0))));
        assert_eq!(p.code_matches_date(), Some(true));
        let p = ok("UF5A2MQ90K Confirmed. Ksh1,000.00 paid to WAVENET WIFI SOLUTIONS. on 5/6/26 at 10:02 AM.New M-PESA balance is Ksh3,412.00. Transaction cost, Ksh0.00. Amount you can transact within the day is 499,000.00. Download My OneApp on https://saf.cx/xxxxx");
        assert_eq!((p.amount, p.hour), (Money(100_000), 10));
        let p = ok("TLQ4ZP17WB Confirmed. Ksh50.00 paid to MAMA JANE CYBER. on 26/12/25 at 9:05 PM.New M-PESA balance is Ksh0.00. Transaction cost, Ksh0.00. Amount you can transact within the day is 499,950.00. Start Investing today with Ziidi MMF & earn daily. Dial *334#.");
        assert_eq!((p.day, p.month, p.year, p.hour), (26, 12, 2025, 21));
        assert_eq!(p.code_matches_date(), Some(true));
        // A merchant name with dots, and 12 AM / 12 PM.
        let p = ok("UF4KQ81ZTD Confirmed. Ksh20.00 paid to J.K. NET. LTD. on 4/6/26 at 12:05 AM.New M-PESA balance is Ksh1.00.");
        assert_eq!(
            (p.recipient, p.hour),
            (
                Recipient::BuyGoods {
                    merchant: "J.K. NET. LTD".into()
                },
                0
            )
        );
    }

    #[test]
    fn paybill_messages() {
        let p = ok("UF4KQ82B7M Confirmed. Ksh1,000.00 sent to WAVENET WIFI LTD for account HS0421 on 4/6/26 at 8:03 PM New M-PESA balance is Ksh180.50. Transaction cost, Ksh0.00.Amount you can transact within the day is 498,980.00. Save frequent paybills for quick payment on M-PESA app https://bit.ly/xxxxx");
        assert_eq!(
            p.recipient,
            Recipient::PayBill {
                business: "WAVENET WIFI LTD".into(),
                account: "HS0421".into()
            }
        );
        assert_eq!(
            (p.amount, p.balance, p.cost),
            (Money(100_000), Some(Money(18_050)), Some(Money(0)))
        );
        let p = ok("UEV3NC40TQ Confirmed. Ksh30.00 sent to HOTSPOT BILLING for account 0712345678 on 31/5/26 at 11:59 PM New M-PESA balance is Ksh412.75. Transaction cost, Ksh0.00.Amount you can transact within the day is 499,970.00. Download My OneApp on https://saf.cx/xxxxx");
        assert_eq!((p.day, p.month, p.hour, p.minute), (31, 5, 23, 59));
        let p = ok("UBB9R7DK2L Confirmed. Ksh10.00 sent to Daraja-Sandbox for account HS-7F3K2 on 11/2/26 at 4:12 PM New M-PESA balance is Ksh0.37. Transaction cost, Ksh0.00.Amount you can transact within the day is 499,980.00. ...");
        assert_eq!(
            p.recipient,
            Recipient::PayBill {
                business: "Daraja-Sandbox".into(),
                account: "HS-7F3K2".into()
            }
        );
        assert_eq!(p.code_matches_date(), Some(true));
        // 2011-2014: a 9-character code, a line break, no cost line.
        let p = ok("DY31QK207 Confirmed. Ksh500.00 sent to SAFARICOM POSTPAID for account 0722000000 on 9/9/13 at 11:31 PM\nNew M-PESA balance is Ksh22.00.");
        assert_eq!(
            (p.receipt.as_str(), p.year, p.balance, p.cost),
            ("DY31QK207", 2013, Some(Money(2200)), None)
        );
        assert_eq!(p.code_matches_date(), None);
        // The pocketbudget parser-test sample shape (S45).
        let p = ok("UBG6U6NN6A Confirmed. Ksh100.00 sent to SAFARICOM POSTPAID BUNDLES for account EasyTalk on 16/2/26 at 6:25 PM New M-PESA balance is Ksh2,095.51. Transaction cost, Ksh0.00.Amount you can transact within the day is 499,900.00.");
        assert_eq!(
            p.recipient,
            Recipient::PayBill {
                business: "SAFARICOM POSTPAID BUNDLES".into(),
                account: "EasyTalk".into()
            }
        );
    }

    #[test]
    fn send_money_and_pochi() {
        let p = ok("QC352PDIVL Confirmed. Ksh500.00 sent to JOHN  DOE 0712345678 on 3/3/22 at 1:05 PM. New M-PESA balance is Ksh1,000.00. Transaction cost, Ksh7.00.  Amount you can transact within the day is 299,500.00.");
        assert_eq!(
            p.recipient,
            Recipient::Person {
                name: "JOHN DOE".into(),
                phone: Some("0712345678".into())
            }
        );
        assert_eq!(
            (p.cost, p.code_matches_date()),
            (Some(Money(700)), Some(true))
        );
        let p = ok("UF4KQ81ZTE Confirmed. Ksh50.00 sent to MAMA  MBOGA on 4/6/26 at 7:00 AM. New M-PESA balance is Ksh10.00. Transaction cost, Ksh0.00.");
        assert_eq!(
            p.recipient,
            Recipient::Person {
                name: "MAMA MBOGA".into(),
                phone: None
            }
        );
    }

    #[test]
    fn messages_that_are_not_a_guest_payment() {
        let cases = [
            ("UF4KQ81ZTD Confirmed. Fuliza M-PESA amount is Ksh 19.40. Access Fee charged Ksh 0.20. Total Fuliza M-PESA outstanding amount is Ksh19.60 due on 04/07/26. To check daily charges, Dial *334#OK Select Query Charges", NotPayment::Fuliza),
            ("UF4KQ81ZTF Confirmed. Ksh 72.40 from your M-PESA has been used to fully pay your outstanding Fuliza M-PESA. Available Fuliza M-PESA limit is Ksh 1500.00. Your M-PESA balance is 227.60.", NotPayment::Fuliza),
            ("UBB9R8XX2M confirmed. Reversal of transaction UBB9R7DK2L has been successfully reversed on 11/2/26 at 5:00 PM and Ksh10.00 is credited to your M-PESA account. New M-PESA account balance is Ksh10.37.", NotPayment::Reversal),
            ("UF4KQ81ZTG confirmed.You bought Ksh30.00 of airtime on 4/6/26 at 7:43 PM.New M-PESA balance is Ksh1,150.50.", NotPayment::Airtime),
            ("DY28XV679 Confirmed. You have received Ksh 1000 from JOHN DOE 0712345678 on 21/1/11 at 12:12 PM New M-PESA balance is Ksh1,008", NotPayment::Received),
            ("DY28XV680 Confirmed.\non 28/9/13 at 1:14 PM\nKsh50.00 received from\n2547XXXXXXXX MORRIS M.\nNew Account balance is Ksh54.00", NotPayment::Received),
            ("UF4KQ81ZTH Confirmed.on 4/6/26 at 10:00 AMWithdraw Ksh1,000.00 from 123456 - AGENT SHOP New M-PESA balance is Ksh180.00.", NotPayment::Withdrawal),
        ];
        for (text, why) in cases {
            assert_eq!(parse(text), Err(why), "{text}");
        }
    }

    #[test]
    fn malformed_and_forged_texts() {
        let cases = [
            ("", NotPayment::Empty),
            ("   \n\t ", NotPayment::Empty),
            ("hello", NotPayment::NoConfirmation),
            (
                "uf4kq81ztd Confirmed. Ksh20.00 paid to X. on 4/6/26 at 7:43 PM.",
                NotPayment::NoConfirmation,
            ),
            (
                "UF4KQ81ZTD1 Confirmed. Ksh20.00 paid to X. on 4/6/26 at 7:43 PM.",
                NotPayment::NoConfirmation,
            ),
            (
                "1234567890 Confirmed. Ksh20.00 paid to X. on 4/6/26 at 7:43 PM.",
                NotPayment::NoConfirmation,
            ),
            (
                "UF4KQ81ZTD Confirmd. Ksh20.00 paid to X. on 4/6/26 at 7:43 PM.",
                NotPayment::NoConfirmation,
            ),
            (
                "UF4KQ81ZTD Confirmed. Ksh20.5 paid to X. on 4/6/26 at 7:43 PM.",
                NotPayment::Unrecognised,
            ),
            (
                "UF4KQ81ZTD Confirmed. Ksh2,00.00 paid to X. on 4/6/26 at 7:43 PM.",
                NotPayment::Unrecognised,
            ),
            (
                "UF4KQ81ZTD Confirmed. USD20.00 paid to X. on 4/6/26 at 7:43 PM.",
                NotPayment::Unrecognised,
            ),
            (
                "UF4KQ81ZTD Confirmed. Ksh20.00 paid to X. on 32/6/26 at 7:43 PM.",
                NotPayment::Unrecognised,
            ),
            (
                "UF4KQ81ZTD Confirmed. Ksh20.00 paid to X. on 4/13/26 at 7:43 PM.",
                NotPayment::Unrecognised,
            ),
            (
                "UF4KQ81ZTD Confirmed. Ksh20.00 paid to X. on 4/6/26 at 13:43 PM.",
                NotPayment::Unrecognised,
            ),
            (
                "UF4KQ81ZTD Confirmed. Ksh20.00 paid to X. on 4/6/26 at 7:63 PM.",
                NotPayment::Unrecognised,
            ),
            (
                "UF4KQ81ZTD Confirmed. Ksh20.00 paid to X. on 4/6/2026 at 7:43 PM.",
                NotPayment::Unrecognised,
            ),
            (
                "UF4KQ81ZTD Confirmed. Ksh20.00 paid to . on 4/6/26 at 7:43 PM.",
                NotPayment::Unrecognised,
            ),
            (
                "UF4KQ81ZTD Confirmed. Ksh20.00 sent to for account on 4/6/26 at 7:43 PM",
                NotPayment::Unrecognised,
            ),
            (
                "UF4KQ81ZTD Confirmed. Ksh20.00 given to X on 4/6/26 at 7:43 PM",
                NotPayment::Unrecognised,
            ),
            (
                "UF4KQ81ZTD confirmed. Ksh20.00 paid to X. on 4/6/26 at 7:43 PM.",
                NotPayment::Unrecognised,
            ),
        ];
        for (text, why) in cases {
            assert_eq!(parse(text), Err(why), "{text}");
        }
        assert_eq!(parse(&"A".repeat(2000)), Err(NotPayment::TooLong));
        // A well-formed forgery parses: only the router's own records can tell (app::mpesa).
        let forged = ok("ZZ9ZZZZZZZ Confirmed. Ksh20.00 paid to KIBERA NET HOTSPOT. on 4/6/26 at 7:43 PM.New M-PESA balance is Ksh1.00.");
        assert_eq!(forged.code_matches_date(), Some(false), "Z would be 2031");
        let wrong_day = ok("UF5KQ81ZTD Confirmed. Ksh20.00 paid to X. on 4/6/26 at 7:43 PM.");
        assert_eq!(wrong_day.code_matches_date(), Some(false));
    }

    #[test]
    fn junk_never_panics() {
        let pieces = [
            "UF4KQ81ZTD",
            " Confirmed.",
            " Ksh",
            "1,000",
            ".00",
            " paid to ",
            " sent to ",
            " for account ",
            ". on ",
            " on ",
            "4/6/26",
            " at ",
            "7:43",
            " PM",
            "é",
            "/",
            ":",
            "..",
            "Ksh ",
            "12:",
            "AM",
        ];
        let mut seed = 3u64;
        for _ in 0..5000 {
            let mut text = String::new();
            for _ in 0..(seed % 12) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push_str(pieces[(seed % pieces.len() as u64) as usize]);
            }
            let _ = parse(&text);
        }
    }
}
