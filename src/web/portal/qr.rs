//! The portal's M-Pesa Dynamic QR (`option qr`): "Pay from another phone" on the buy form asks
//! for a code (`App::qr_offer`), this page shows it with the price, the till and the words in
//! both languages, and takes the receipt the payer reads out (`App::claim_qr`, confirmed by
//! Pull Transactions). A Daraja failure is said plainly, never with Daraja's codes.

use super::*;
use crate::app::qr::{QrError, QrOffer};

pub(super) fn qr_post(ctx: &Ctx, request: &Request, ip: IpAddr, lang: Lang) -> Response {
    if !ctx.app.qr_on() {
        return Response::text("not found").with_status_code(404);
    }
    let form = match read_form(request) {
        Ok(f) => f,
        Err(response) => return response,
    };
    let package = form.get("package").map(String::as_str).unwrap_or("");
    let (status, key) = match ctx.app.qr_offer(ip, package) {
        // Shown by GET /qr, so that a reload does not ask Daraja for another code.
        Ok(_) => return see_other("/qr"),
        Err(QrError::Off) => (404, "no_package"),
        Err(QrError::Denied(d)) => denied(d),
        Err(QrError::UnknownPackage) if package.is_empty() => (400, "pick"),
        Err(QrError::UnknownPackage) => (404, "no_package"),
        Err(QrError::TooMany) => (429, "too_many"),
        Err(QrError::Busy) => (503, "sms_busy"),
        Err(QrError::Gateway(_)) => (503, "qr_failed"),
        Err(QrError::Store(e)) => {
            log::error!("qr: {e}");
            (500, "error")
        }
    };
    let mut r = home(ctx, ip, lang, Some(("err", tr(lang, key))));
    r.status_code = status;
    r
}

pub(super) fn qr_get(ctx: &Ctx, ip: IpAddr, lang: Lang) -> Response {
    match ctx.app.qr_offer_for(ip) {
        Some(offer) => qr_page(ctx, lang, &offer, None, 200),
        None => see_other("/"),
    }
}

pub(super) fn qr_receipt(ctx: &Ctx, request: &Request, ip: IpAddr, lang: Lang) -> Response {
    let form = match read_form(request) {
        Ok(f) => f,
        Err(response) => return response,
    };
    let text = form.get("receipt").map(String::as_str).unwrap_or("");
    let result = ctx.app.claim_qr(ip, text);
    let Some((status, class, key)) = sms::words(result) else {
        return see_other("/");
    };
    match ctx.app.qr_offer_for(ip) {
        Some(offer) => qr_page(ctx, lang, &offer, Some((class, tr(lang, key))), status),
        None => {
            let mut r = home(ctx, ip, lang, Some((class, tr(lang, key))));
            r.status_code = status;
            r
        }
    }
}

fn qr_page(
    ctx: &Ctx,
    lang: Lang,
    offer: &QrOffer,
    notice: Option<(&str, &str)>,
    status: u16,
) -> Response {
    let config = ctx.app.config();
    let to = match config.mpesa.as_ref().map(|m| m.kind) {
        Some(crate::core::config::MpesaKind::PayBill) => "paybill",
        _ => "till",
    };
    let notice = notice
        .map(|(class, text)| format!("<div class=\"card {class}\">{text}</div>"))
        .unwrap_or_default();
    let body = format!(
        "{notice}<div class=\"card\" id=\"qr\"><h2>{title}</h2><img src=\"{image}\" alt=\"QR\" \
         width=\"240\" height=\"240\"><p>{you_pay} <b>{currency} {amount}</b> &middot; {to} \
         <b>{pay_to}</b> &middot; {reference} <b>{ref_no}</b></p><p>{steps}</p>\
         <form method=\"post\" action=\"/qr/receipt\"><label>{label}<input name=\"receipt\" \
         required maxlength=\"1000\" autocomplete=\"off\" placeholder=\"UAF1234567\"></label>\
         <button>{confirm}</button></form></div>",
        title = tr(lang, "qr_title"),
        image = esc(&offer.image),
        you_pay = tr(lang, "you_pay"),
        currency = esc(&config.gateway.currency),
        amount = offer.amount,
        to = tr(lang, to),
        pay_to = esc(&offer.pay_to),
        reference = tr(lang, "reference"),
        ref_no = esc(&offer.ref_no),
        steps = tr(lang, "qr_steps"),
        label = tr(lang, "qr_receipt"),
        confirm = tr(lang, "qr_confirm"),
    );
    page(ctx, lang, status, &body, None, "")
}
