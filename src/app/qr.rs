//! M-Pesa Dynamic QR on the portal (`option qr '1'`, only with `option pull`; docs/daraja.md,
//! Dynamic QR): a guest paying from another phone asks for a code; lango asks Daraja for one
//! with the package's price, the till (or PayBill) and a reference for this device's purchase,
//! and keeps the offer in RAM (no flash write). The payer scans and pays; the guest types the
//! receipt, which Pull Transactions confirms as it confirms a till payment (`claim_by_pull`):
//! at least the price, this till, a receipt never credited; granted once, recorded as a QR
//! payment for the owner's revenue split. Like Pull, the Daraja call runs on the asking HTTP
//! thread, one at a time, within per-device and per-router limits.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::app::admission::AdmitError;
use crate::app::mpesa::{SmsError, SmsOutcome};
use crate::app::{Admitted, App, Denied};
use crate::core::config::MpesaKind;
use crate::core::daraja::qr::QrRequest;
use crate::core::locks::lock;
use crate::core::model::{Mac, Money};
use crate::core::payments::GatewayError;
use crate::core::ratelimit::Limit;
use crate::core::sms::{ClaimVia, SmsPayment};
use crate::core::time::Timestamp;

/// QR codes per device: 3 per 10 minutes (each costs a Daraja call).
const PER_DEVICE: Limit = Limit {
    burst: 3,
    per_secs: 600,
};
/// QR codes for the whole router: 20 a minute.
const PER_ROUTER: Limit = Limit {
    burst: 20,
    per_secs: 60,
};
/// Offers kept at most (one per device; the oldest goes first), and for how long.
const MAX_OFFERS: usize = 32;
const OFFER_SECS: i64 = 3600;

/// A QR code shown to a device.
#[derive(Clone, Debug)]
pub struct QrOffer {
    pub mac: Mac,
    pub package_id: String,
    /// The `RefNo` Daraja was given (and the payer's app shows).
    pub ref_no: String,
    pub amount: Money,
    /// The till or PayBill number the code pays.
    pub pay_to: String,
    /// The PNG as a `data:` URI (checked: base64 of a PNG, at most 64 KB).
    pub image: String,
    pub created_at: Timestamp,
}

#[derive(Debug)]
pub enum QrError {
    /// The owner has not enabled the QR (or Pull, which confirms it).
    Off,
    Denied(Denied),
    UnknownPackage,
    /// This device asked for too many codes; wait a few minutes.
    TooMany,
    /// Another code is being made, or the router's limit is reached: try again shortly.
    Busy,
    /// Daraja refused or did not answer (the owner reads why in the log).
    Gateway(GatewayError),
    Store(crate::store::StoreError),
}

impl From<AdmitError> for QrError {
    fn from(e: AdmitError) -> Self {
        match e {
            AdmitError::Denied(d) => QrError::Denied(d),
            AdmitError::Store(e) => QrError::Store(e),
        }
    }
}

/// The offers, in RAM.
#[derive(Default)]
pub(crate) struct QrState {
    offers: Mutex<Vec<QrOffer>>,
    busy: AtomicBool,
}

impl App {
    /// Whether the portal offers the QR: the owner enabled it, and Pull, which confirms it.
    pub(crate) fn qr_on(&self) -> bool {
        self.config().mpesa.as_ref().is_some_and(|m| m.qr && m.pull)
    }

    /// Makes a QR code for `package_id` for the device at `ip`, replacing its previous one.
    pub fn qr_offer(&self, ip: IpAddr, package_id: &str) -> Result<QrOffer, QrError> {
        let config = self.config();
        let mpesa = config
            .mpesa
            .as_ref()
            .filter(|m| m.qr && m.pull)
            .ok_or(QrError::Off)?;
        let Admitted { mac, time, .. } = self.admit(ip)?;
        let package = config
            .package(package_id)
            .filter(|p| p.active && p.price.0 > 0 && p.on_sale(time.now))
            .ok_or(QrError::UnknownPackage)?;
        self.limiter
            .check(&format!("qr-{mac}"), PER_DEVICE, time.now_ms)
            .map_err(|_| QrError::TooMany)?;
        self.limiter
            .check("qr:all", PER_ROUTER, time.now_ms)
            .map_err(|_| QrError::Busy)?;
        if self.qr.busy.swap(true, Ordering::AcqRel) {
            return Err(QrError::Busy);
        }
        let result = self.make_qr(mpesa, package, mac, time.now);
        self.qr.busy.store(false, Ordering::Release);
        let offer = result?;
        let mut offers = lock(&self.qr.offers);
        offers.retain(|o| o.mac != mac && time.now - o.created_at < OFFER_SECS);
        if offers.len() >= MAX_OFFERS {
            offers.remove(0);
        }
        offers.push(offer.clone());
        Ok(offer)
    }

    fn make_qr(
        &self,
        mpesa: &crate::core::config::Mpesa,
        package: &crate::core::config::Package,
        mac: Mac,
        now: Timestamp,
    ) -> Result<QrOffer, QrError> {
        let random =
            crate::core::token::random_bytes::<5>().map_err(|e| QrError::Store(e.into()))?;
        let ref_no = format!("Q{}", crate::core::token::hex(&random).to_ascii_uppercase());
        let pay_to = crate::core::daraja::party_b(mpesa).to_string();
        let amount = Money::from_major(package.price.major_ceil());
        let request = QrRequest {
            merchant_name: self.config().brand.name.clone(),
            ref_no: ref_no.clone(),
            amount_major: package.price.major_ceil(),
            trx_code: match mpesa.kind {
                MpesaKind::Till => "BG",
                MpesaKind::PayBill => "PB",
            },
            cpi: pay_to.clone(),
        };
        let image = self.env.gateway.qr_generate(&request).map_err(|e| {
            log::warn!("Dynamic QR for {mac}: {e}");
            QrError::Gateway(e)
        })?;
        log::info!(
            "Dynamic QR {ref_no} for {mac}: {} to {pay_to}",
            self.owner_money(amount)
        );
        Ok(QrOffer {
            mac,
            package_id: package.id.clone(),
            ref_no,
            amount,
            pay_to,
            image,
            created_at: now,
        })
    }

    /// The QR code shown to the device at `ip`, if it has one.
    pub fn qr_offer_for(&self, ip: IpAddr) -> Option<QrOffer> {
        let mac = self.identify(ip)?;
        let now = self.time().now;
        lock(&self.qr.offers)
            .iter()
            .find(|o| o.mac == mac && now - o.created_at < OFFER_SECS)
            .cloned()
    }

    /// The receipt of a QR payment, typed (or its SMS pasted) by the device the code was
    /// shown to; confirmed through Pull Transactions. A device without a code gets
    /// `UnknownPackage`.
    pub fn claim_qr(&self, ip: IpAddr, text: &str) -> Result<SmsOutcome, SmsError> {
        let Admitted { mac, time, .. } = self.admit(ip)?;
        let offer = self
            .qr_offer_for(ip)
            .filter(|o| o.mac == mac)
            .ok_or(SmsError::UnknownPackage)?;
        self.sms_attempt(mac, time.now)?;
        let paid_to = format!("M-Pesa QR {}, {}", offer.ref_no, offer.pay_to);
        let sms = match SmsPayment::typed(text, offer.amount, paid_to, time.now) {
            Some(sms) => sms,
            None => crate::core::sms::parse(text).map_err(SmsError::NotAPayment)?,
        };
        self.claim_payment(&sms, mac, ip, &offer.package_id, time, ClaimVia::Qr)
    }
}
