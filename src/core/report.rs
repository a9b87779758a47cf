//! The owner's numbers, from the records themselves so that they reconcile with the M-Pesa
//! statement: money in per local day, split by how it was confirmed (paid prompts, till
//! payments and Dynamic QR payments confirmed by Pull, pasted SMS the owner approved), and how
//! many prompts ended paid. Pure: records and `utc_offset` in, totals out. Vouchers and guest
//! accounts bring no money through lango (the owner sells them by hand), so they are not here.

use crate::core::model::Money;
use crate::core::payments::{Payment, PaymentState};
use crate::core::provider::Provider;
use crate::core::sms::{ClaimState, ClaimVia, SmsClaim};
use crate::core::time::{local_day, Timestamp};

/// How many ways money comes in (`DayTotal::split`): Airtel Money only in builds with it.
pub(crate) const METHODS: usize = 4
    + cfg!(feature = "airtel") as usize
    + cfg!(feature = "vodacom") as usize
    + cfg!(feature = "clickpesa") as usize;

/// One local day's takings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DayTotal {
    /// Days since the epoch in local time (`time::local_day`).
    pub day: i64,
    /// STK prompts paid that day, and what M-Pesa took for them.
    pub paid: u32,
    pub paid_amount: Money,
    /// Pasted SMS the owner approved that day, and their amounts.
    pub sms: u32,
    pub sms_amount: Money,
    /// Till or PayBill payments confirmed by Pull Transactions that day.
    pub pull: u32,
    pub pull_amount: Money,
    /// Dynamic QR payments confirmed by Pull Transactions that day.
    pub qr: u32,
    pub qr_amount: Money,
    /// Airtel Money prompts paid that day (`Provider::Airtel`).
    pub airtel: u32,
    pub airtel_amount: Money,
    /// Vodacom M-Pesa Tanzania prompts paid that day (`Provider::Vodacom`).
    pub vodacom: u32,
    pub vodacom_amount: Money,
    /// Mixx by Yas and HaloPesa prompts through ClickPesa paid that day
    /// (`Provider::ClickPesa`).
    pub clickpesa: u32,
    pub clickpesa_amount: Money,
}

impl DayTotal {
    pub(crate) fn total(&self) -> Money {
        let prompts = self.paid_amount.0
            + self.airtel_amount.0
            + self.vodacom_amount.0
            + self.clickpesa_amount.0;
        Money(prompts + self.sms_amount.0 + self.pull_amount.0 + self.qr_amount.0)
    }

    /// Per method: (CSV name, words, count, amount), in the owner's order; Airtel Money last,
    /// and only in builds with it (`METHODS`).
    pub(crate) fn split(&self) -> [(&'static str, &'static str, u32, Money); METHODS] {
        [
            (
                "stk",
                "M-Pesa prompt (STK push)",
                self.paid,
                self.paid_amount,
            ),
            (
                "pull",
                "Till, confirmed by Pull",
                self.pull,
                self.pull_amount,
            ),
            ("qr", "M-Pesa QR", self.qr, self.qr_amount),
            ("sms", "SMS approved by you", self.sms, self.sms_amount),
            #[cfg(feature = "airtel")]
            (
                "airtel",
                "Airtel Money prompt",
                self.airtel,
                self.airtel_amount,
            ),
            #[cfg(feature = "vodacom")]
            (
                "vodacom",
                "Vodacom M-Pesa prompt",
                self.vodacom,
                self.vodacom_amount,
            ),
            #[cfg(feature = "clickpesa")]
            (
                "clickpesa",
                "Mixx by Yas or HaloPesa prompt (ClickPesa)",
                self.clickpesa,
                self.clickpesa_amount,
            ),
        ]
    }

    /// The sum of several days (the dashboard's 30).
    pub(crate) fn sum(days: &[DayTotal]) -> DayTotal {
        let mut all = DayTotal::default();
        for d in days {
            all.paid += d.paid;
            all.paid_amount.0 += d.paid_amount.0;
            all.sms += d.sms;
            all.sms_amount.0 += d.sms_amount.0;
            all.pull += d.pull;
            all.pull_amount.0 += d.pull_amount.0;
            all.qr += d.qr;
            all.qr_amount.0 += d.qr_amount.0;
            all.airtel += d.airtel;
            all.airtel_amount.0 += d.airtel_amount.0;
            all.vodacom += d.vodacom;
            all.vodacom_amount.0 += d.vodacom_amount.0;
            all.clickpesa += d.clickpesa;
            all.clickpesa_amount.0 += d.clickpesa_amount.0;
        }
        all
    }
}

/// The CSV name of how a claim's money was confirmed.
pub(crate) fn claim_method(claim: &SmsClaim) -> &'static str {
    match claim.via() {
        ClaimVia::Owner => "sms",
        ClaimVia::Pull => "pull",
        ClaimVia::Qr => "qr",
    }
}

/// The CSV name of how a payment's money came: an M-Pesa or an Airtel Money prompt.
pub(crate) fn payment_method(payment: &Payment) -> &'static str {
    match payment.provider() {
        Provider::Mpesa => "stk",
        Provider::Airtel => "airtel",
        Provider::Vodacom => "vodacom",
        Provider::ClickPesa => "clickpesa",
    }
}

/// What the wallet charged for a payment: Daraja and Airtel take whole units, rounded up from
/// the price.
pub(crate) fn charged(payment: &Payment) -> Money {
    Money::from_major(payment.amount.major_ceil())
}

/// When a payment counts as money in: its last update, which for a Paid payment is when it was
/// confirmed (Paid is final).
pub(crate) fn paid_day(payment: &Payment, utc_offset: i64) -> Option<i64> {
    (payment.state == PaymentState::Paid).then(|| local_day(payment.updated_at, utc_offset))
}

/// Totals for every day from `first_day` to `last_day` (inclusive, oldest first; days without
/// sales are zero).
pub(crate) fn daily_totals(
    payments: &[Payment],
    claims: &[SmsClaim],
    utc_offset: i64,
    first_day: i64,
    last_day: i64,
) -> Vec<DayTotal> {
    let n_days = usize::try_from(last_day - first_day + 1)
        .unwrap_or(0)
        .min(3660);
    let mut out: Vec<DayTotal> = (0..n_days)
        .map(|i| DayTotal {
            day: first_day + i as i64,
            ..DayTotal::default()
        })
        .collect();
    let slot = |day: i64| {
        usize::try_from(day - first_day)
            .ok()
            .filter(|i| *i < n_days)
    };
    for p in payments {
        if let Some(idx) = paid_day(p, utc_offset).and_then(slot) {
            let d = &mut out[idx];
            let (n, amount) = match p.provider() {
                Provider::Mpesa => (&mut d.paid, &mut d.paid_amount),
                Provider::Airtel => (&mut d.airtel, &mut d.airtel_amount),
                Provider::Vodacom => (&mut d.vodacom, &mut d.vodacom_amount),
                Provider::ClickPesa => (&mut d.clickpesa, &mut d.clickpesa_amount),
            };
            *n += 1;
            amount.0 += charged(p).0;
        }
    }
    for c in claims.iter().filter(|c| c.state == ClaimState::Approved) {
        let day = local_day(c.decided_at.unwrap_or(c.created_at), utc_offset);
        if let Some(d) = slot(day).and_then(|idx| out.get_mut(idx)) {
            let (n, amount) = match c.via() {
                ClaimVia::Owner => (&mut d.sms, &mut d.sms_amount),
                ClaimVia::Pull => (&mut d.pull, &mut d.pull_amount),
                ClaimVia::Qr => (&mut d.qr, &mut d.qr_amount),
            };
            *n += 1;
            amount.0 += c.amount.0;
        }
    }
    out
}

/// Prompts that ended (paid, failed, cancelled, expired) since `since`, and how many were paid.
pub(crate) fn success(payments: &[Payment], since: Timestamp) -> (u32, u32) {
    let ended = payments
        .iter()
        .filter(|p| p.created_at >= since && !p.state.is_open());
    let (mut paid, mut total) = (0, 0);
    for p in ended {
        total += 1;
        paid += u32::from(p.state == PaymentState::Paid);
    }
    (paid, total)
}

/// `part` of `whole` in whole percent (0 when there is no whole).
pub(crate) fn percent(part: u64, whole: u64) -> u64 {
    (part.saturating_mul(100)).checked_div(whole).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{Mac, Phone};
    use crate::core::sessions::Terms;

    fn payment(state: PaymentState, price: i64, at: Timestamp) -> Payment {
        Payment {
            id: 1,
            token: "t".into(),
            terms: Terms {
                package_id: "hour".into(),
                package_name: "Hour".into(),
                price: Money(price),
                duration_secs: 3600,
                quota_bytes: None,
                rate_down_kbit: None,
                rate_up_kbit: None,
                fair_kbit: None,
                window: None,
                devices: 1,
                idle_secs: None,
            },
            amount: Money(price),
            phone: Phone::parse("0712345678").unwrap(),
            mac: Mac([2, 0, 0, 0, 0, 1]),
            ip: None,
            state,
            checkout_id: None,
            merchant_request_id: None,
            receipt: None,
            result_code: None,
            decline: None,
            created_at: at,
            updated_at: at,
            session_id: None,
            callback: None,
            #[cfg(feature = "airtel")]
            provider: Default::default(),
        }
    }

    #[test]
    fn totals_per_local_day() {
        // 2027-01-15T22:30Z is the 16th in Nairobi.
        let late = 1_800_052_200;
        let day16 = local_day(late, 10_800);
        let payments = vec![
            payment(PaymentState::Paid, 2000, late),
            payment(PaymentState::Paid, 4950, late - 86_400),
            payment(PaymentState::Failed, 2000, late),
            payment(PaymentState::Pending, 2000, late),
        ];
        let totals = daily_totals(&payments, &[], 10_800, day16 - 1, day16);
        assert_eq!(totals.len(), 2);
        assert_eq!((totals[1].paid, totals[1].paid_amount), (1, Money(2000)));
        assert_eq!(
            (totals[0].paid, totals[0].paid_amount),
            (1, Money(5000)),
            "49.50 is charged as 50"
        );
        assert_eq!(
            success(&payments, 0),
            (2, 3),
            "the pending one has not ended"
        );
        assert_eq!(percent(2, 3), 66);
        assert_eq!(percent(1, 0), 0);
        assert!(daily_totals(&payments, &[], 0, 10, 5).is_empty());
    }

    #[test]
    fn claims_count_by_how_they_were_confirmed() {
        let at = 1_800_052_200;
        let day = local_day(at, 10_800);
        let claim = |via: ClaimVia, paid_to: &str, amount: i64, state: ClaimState| SmsClaim {
            id: 9,
            receipt: "UAFP000001".into(),
            amount: Money(amount),
            paid_to: paid_to.into(),
            paid_at: String::new(),
            code_date_ok: None,
            mac: Mac([2, 0, 0, 0, 0, 1]),
            ip: None,
            terms: payment(PaymentState::Paid, amount, at).terms,
            state,
            created_at: at,
            decided_at: Some(at),
            session_id: None,
            via,
        };
        let claims = vec![
            claim(ClaimVia::Owner, "MAMA MBOGA", 5000, ClaimState::Approved),
            claim(ClaimVia::Owner, "MAMA MBOGA", 5000, ClaimState::Pending),
            claim(
                ClaimVia::Pull,
                "M-Pesa Pull, shortcode 1",
                1000,
                ClaimState::Approved,
            ),
            // Recorded before `via`: its words say Pull.
            claim(
                ClaimVia::Owner,
                "M-Pesa Pull, shortcode 1",
                1000,
                ClaimState::Approved,
            ),
            claim(
                ClaimVia::Qr,
                "M-Pesa Pull, shortcode 1",
                2000,
                ClaimState::Approved,
            ),
        ];
        #[allow(unused_mut)]
        let mut payments = vec![payment(PaymentState::Paid, 2000, at)];
        #[cfg(feature = "airtel")]
        {
            let mut airtel = payment(PaymentState::Paid, 3000, at);
            airtel.provider = Provider::Airtel;
            payments.push(airtel);
        }
        #[cfg(feature = "vodacom")]
        {
            let mut vodacom = payment(PaymentState::Paid, 4000, at);
            vodacom.provider = Provider::Vodacom;
            payments.push(vodacom);
        }
        #[cfg(feature = "clickpesa")]
        {
            let mut clickpesa = payment(PaymentState::Paid, 5000, at);
            clickpesa.provider = Provider::ClickPesa;
            payments.push(clickpesa);
        }
        let airtel = if cfg!(feature = "airtel") {
            (1, 3000)
        } else {
            (0, 0)
        };
        let vodacom = if cfg!(feature = "vodacom") {
            (1, 4000)
        } else {
            (0, 0)
        };
        let clickpesa = if cfg!(feature = "clickpesa") {
            (1, 5000)
        } else {
            (0, 0)
        };
        let totals = daily_totals(&payments, &claims, 10_800, day, day);
        let d = &totals[0];
        let wallets = [
            ("airtel", airtel.0, airtel.1, cfg!(feature = "airtel")),
            ("vodacom", vodacom.0, vodacom.1, cfg!(feature = "vodacom")),
            (
                "clickpesa",
                clickpesa.0,
                clickpesa.1,
                cfg!(feature = "clickpesa"),
            ),
        ];
        let mut expected = vec![
            ("stk", 1, 2000),
            ("pull", 2, 2000),
            ("qr", 1, 2000),
            ("sms", 1, 5000),
        ];
        expected.extend(wallets.iter().filter(|w| w.3).map(|w| (w.0, w.1, w.2)));
        let split = d
            .split()
            .map(|(method, _, n, amount)| (method, n, amount.0));
        assert_eq!(split.as_slice(), &expected[..]);
        let wallet_money = airtel.1 + vodacom.1 + clickpesa.1;
        assert_eq!(d.total(), Money(11_000 + wallet_money));
        assert_eq!(
            DayTotal::sum(&[d.clone(), d.clone()]).total(),
            Money(2 * (11_000 + wallet_money))
        );
        assert_eq!(claim_method(&claims[3]), "pull");
    }
}
