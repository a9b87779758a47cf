//! The guest's "Paid but not online?" card: an M-Pesa confirmation SMS pasted on the portal,
//! matched to a payment or queued for the owner (`App::claim_sms`).

use super::*;

/// "Paid but not online?": paste the M-Pesa SMS (collapsed unless `open`).
pub(super) fn sms_card(ctx: &Ctx, lang: Lang, open: bool) -> String {
    let config = ctx.app.config();
    if config.mpesa.is_none() {
        return String::new();
    }
    let options: String = config
        .active_packages()
        .map(|p| {
            format!(
                "<option value=\"{}\">{} ({} {})</option>",
                esc(&p.id),
                esc(view::package_name(p, lang)),
                esc(&config.gateway.currency),
                p.price
            )
        })
        .collect();
    format!(
        "<details class=\"card\" id=\"sms\"{open}><summary>{title}</summary>\
         <form method=\"post\" action=\"/sms\"><label>{label}<textarea name=\"sms\" \
         rows=\"4\" maxlength=\"1000\" required></textarea></label><label>{package}\
         <select name=\"package\">{options}</select></label><button>{send}</button></form>\
         </details>",
        open = if open { " open" } else { "" },
        title = tr(lang, "sms_title"),
        label = tr(lang, "sms_label"),
        package = tr(lang, "package"),
        send = tr(lang, "sms_send"),
    )
}

pub(super) fn sms_claim(ctx: &Ctx, request: &Request, ip: IpAddr, lang: Lang) -> Response {
    let form = match read_form(request) {
        Ok(f) => f,
        Err(response) => return response,
    };
    let text = form.get("sms").map(String::as_str).unwrap_or("");
    let package = form.get("package").map(String::as_str).unwrap_or("");
    match words(ctx.app.claim_sms(ip, text, package)) {
        None => see_other("/"),
        Some((status, class, key)) => {
            let mut r = home(ctx, ip, lang, Some((class, tr(lang, key))));
            r.status_code = status;
            r
        }
    }
}

/// What a guest is told of a pasted SMS or a typed receipt: `None` when it is theirs (go
/// home), else the status, the notice's class and its words' key.
pub(super) fn words(
    result: Result<SmsOutcome, SmsError>,
) -> Option<(u16, &'static str, &'static str)> {
    let (status, class, key) = match result {
        Ok(SmsOutcome::Granted(_)) | Ok(SmsOutcome::AlreadyYours) => return None,
        Ok(SmsOutcome::Checking) => (200, "warn", "sms_checking"),
        Ok(SmsOutcome::SentToOwner) => (202, "warn", "sms_sent"),
        Err(e) => {
            let (status, key) = match e {
                SmsError::Denied(d) => denied(d),
                SmsError::TooManyAttempts => (429, "too_many"),
                SmsError::NotAPayment(_) => (400, "sms_not_payment"),
                SmsError::UnknownPackage => (404, "no_package"),
                SmsError::AmountBelowPrice { .. } => (400, "sms_low"),
                SmsError::AlreadyUsed => (409, "sms_used"),
                SmsError::AlreadyWaiting => (409, "sms_waiting"),
                SmsError::Rejected => (409, "sms_rejected"),
                SmsError::OwnerBusy => (503, "owner_busy"),
                SmsError::NotPaidHere => (404, "sms_not_here"),
                SmsError::MpesaBusy => (503, "sms_busy"),
                SmsError::Store(err) => {
                    log::error!("sms claim: {err}");
                    (500, "error")
                }
            };
            (status, "err", key)
        }
    };
    Some((status, class, key))
}
