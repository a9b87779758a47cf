//! The guest portal: package list, purchase, payment status, voucher redemption and session
//! status, as server-rendered pages that work without JavaScript, plus a small JSON API. A
//! handler identifies the device from the socket address (through the neighbour table), calls
//! the app, and renders; it never waits on a gateway or the firewall, and never shows internal
//! error text to a guest.

pub(crate) mod api;
mod frame;
mod json_status;
pub(crate) mod login;
mod probes;
#[cfg(feature = "mpesa-qr")]
mod qr;
mod sms;
mod text;
mod view;

use probes::{captive_api, is_portal_host, probe_answer};
pub(crate) use probes::{portal_url, secure_portal_url};
pub(crate) use text::tr;

use std::net::IpAddr;
use std::sync::Arc;

use rouille::{Request, Response};
use serde_json::json;

use crate::app::mpesa::{SmsError, SmsOutcome, CALLBACK_PREFIX};
use crate::app::{App, Denied, MoveError, PurchaseError, RedeemError, TrialError};
use crate::core::captive;
use crate::core::model::Lang;
use crate::core::payments::{Decline, LimitRefusal, Payment, PaymentState};
use crate::core::sessions::{Lifecycle, Session};
use crate::core::vouchers::Refusal;
use crate::web::http::{esc, fill, json, read_form, see_other};

const TEMPLATE: &str = include_str!("../../../www/portal.html");

/// What the portal's handlers reach: the app, and nothing of the owner's side, plus the parts
/// of its pages rendered once per config (`frame.rs`).
pub struct Ctx {
    pub app: Arc<App>,
    pages: frame::Pages,
}

impl Ctx {
    pub fn new(app: Arc<App>) -> Ctx {
        Ctx {
            app,
            pages: frame::Pages::new(),
        }
    }
}

pub fn handle(ctx: &Ctx, request: &Request) -> Response {
    let response = route(ctx, request);
    match chosen_language(request) {
        // The choice is kept for the pages that follow (a year; the portal's own cookie).
        Some(lang) => response.with_additional_header(
            "Set-Cookie",
            format!(
                "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
                lang.code()
            ),
        ),
        None => response,
    }
}

fn route(ctx: &Ctx, request: &Request) -> Response {
    let ip = request.remote_addr().ip().to_canonical();
    let lang = language(ctx, request);
    let url = request.url();
    let host = request.header("Host").unwrap_or("");
    let portal = portal_url(ctx, ip);
    // The OS's "is this network open?" probe, whatever host it was sent to.
    if let Some(probe) = captive::probe(host, &url) {
        return probe_answer(ctx, ip, probe, &portal);
    }
    if request.method() == "POST" && !url.starts_with(CALLBACK_PREFIX) {
        // Before the body is read and before the app is asked: a refusal costs no flash write.
        if let Err(secs) = post_allowed(ctx, ip, &url) {
            let r = if url.starts_with("/api/") {
                Response::json(&json!({
                    "success": false,
                    "error": "too many requests; wait a little",
                }))
            } else {
                Response::text(tr(lang, "slow_down"))
            };
            return r
                .with_status_code(429)
                .with_unique_header("Retry-After", secs.to_string());
        }
    }
    let on_portal = is_portal_host(ctx, host);
    match (request.method(), url.as_str()) {
        ("GET", "/api/captive") => captive_api(ctx, ip, &secure_portal_url(ctx).unwrap_or(portal)),
        (_, path) if path.starts_with("/api/portal/") => {
            crate::web::portal::api::handle(ctx, request, &path["/api/portal/".len()..])
        }
        ("GET", "/") if on_portal => {
            // A voucher's QR code opens the portal with `?code=`: the form comes first, filled in.
            let code = request.get_param("code").unwrap_or_default();
            home_with(ctx, ip, lang, None, &code, None)
        }
        ("POST", "/login") => crate::web::portal::login::form(ctx, request, ip, lang),
        ("POST", "/buy") => buy(ctx, request, ip, lang),
        ("POST", "/voucher") => voucher(ctx, request, ip, lang),
        ("POST", "/trial") => trial(ctx, ip, lang),
        ("POST", "/move") => move_form(ctx, request, ip, lang),
        ("POST", "/sms") => sms::sms_claim(ctx, request, ip, lang),
        #[cfg(feature = "mpesa-qr")]
        ("POST", "/qr") => qr::qr_post(ctx, request, ip, lang),
        #[cfg(feature = "mpesa-qr")]
        ("POST", "/qr/receipt") => qr::qr_receipt(ctx, request, ip, lang),
        #[cfg(feature = "mpesa-qr")]
        ("GET", "/qr") if on_portal => qr::qr_get(ctx, ip, lang),
        ("POST", path) if path.starts_with(CALLBACK_PREFIX) => {
            stk_callback(ctx, request, &path[CALLBACK_PREFIX.len()..])
        }
        ("GET", "/api/packages") => json_status::api_packages(ctx),
        ("GET", "/api/status") => json_status::api_status(ctx, ip),
        ("GET", path) if path.starts_with("/pay/") && on_portal => pay_page(ctx, &path[5..], lang),
        ("GET", path) if path.starts_with("/api/payment/") => {
            json_status::api_payment(ctx, &path[13..])
        }
        // Anything else a browser asks for (a captive device's first request, to whatever site)
        // goes to the portal, by its own address.
        ("GET", _) | ("HEAD", _) => Response::redirect_302(portal),
        _ => Response::text("not found").with_status_code(404),
    }
}

/// The owner's logo, inlined as a data URI (no request leaves the page), if it can be read and
/// is a reasonable size for a captive mini-browser.
pub(crate) fn logo_data_uri(config: &crate::core::config::Config) -> Option<String> {
    let path = config.brand.logo.as_ref()?;
    let bytes = std::fs::read(path).ok().filter(|b| b.len() <= 12 * 1024)?;
    let mime = match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("webp") => "image/webp",
        _ => return None,
    };
    Some(format!(
        "data:{mime};base64,{}",
        crate::core::base64::encode(&bytes)
    ))
}

/// `?lang=sw` wins, then the language chosen before (the `lang` cookie that `?lang=` sets,
/// so that the payment and result pages keep it), then Accept-Language, then the owner's
/// default.
fn language(ctx: &Ctx, request: &Request) -> Lang {
    if let Some(lang) = chosen_language(request) {
        return lang;
    }
    let cookie = rouille::input::cookies(request).find(|(name, _)| *name == "lang");
    if let Some(lang) = cookie.and_then(|(_, value)| Lang::parse(value)) {
        return lang;
    }
    if let Some(accept) = request.header("Accept-Language") {
        for part in accept.split(',') {
            let tag = part.split(';').next().unwrap_or("").trim();
            let primary = tag.split('-').next().unwrap_or("");
            if let Some(lang) = Lang::parse(primary) {
                return lang;
            }
        }
    }
    ctx.app.config().gateway.language
}

/// The language a `?lang=` link asks for.
fn chosen_language(request: &Request) -> Option<Lang> {
    request.get_param("lang").and_then(|l| Lang::parse(&l))
}

/// The page a guest sees when the store fails: a plain 500 with the portal's words.
fn error_page(ctx: &Ctx, lang: Lang) -> Response {
    let text = format!("<div class=\"card err\">{}</div>", tr(lang, "error"));
    page(ctx, lang, 500, &text, None, "")
}

fn page(
    ctx: &Ctx,
    lang: Lang,
    status: u16,
    body: &str,
    refresh_secs: Option<u32>,
    script: &str,
) -> Response {
    let config = ctx.app.config();
    let frame = ctx
        .pages
        .frames
        .get(&config, lang, || render_frame(&config, lang));
    // With a script on the page the script keeps it current; the refresh is for browsers
    // without JavaScript.
    let refresh = refresh_secs
        .map(|s| {
            let meta = format!("<meta http-equiv=\"refresh\" content=\"{s}\">");
            if script.is_empty() {
                format!("{meta}\n")
            } else {
                format!("<noscript>{meta}</noscript>\n")
            }
        })
        .unwrap_or_default();
    Response::html(frame.render(&refresh, body, script)).with_status_code(status)
}

/// The template with everything filled in but the refresh, the body and the script.
fn render_frame(config: &crate::core::config::Config, lang: Lang) -> frame::Frame {
    let brand = &config.brand;
    let mut contact = Vec::new();
    if let Some(phone) = &brand.phone {
        contact.push(format!(
            "<a href=\"tel:{}\">{}</a>",
            esc(&phone.replace(' ', "")),
            esc(phone)
        ));
    }
    if let Some(email) = &brand.email {
        contact.push(esc(email));
    }
    if let Some(url) = &brand.terms_url {
        contact.push(format!(
            "<a href=\"{}\">{}</a>",
            esc(url),
            tr(lang, "terms")
        ));
    }
    let other = match lang {
        Lang::En => "sw",
        Lang::Sw => "en",
    };
    // A query alone: the link keeps the guest on the page they are on (the payment too).
    contact.push(format!(
        "<a href=\"?lang={other}\" id=\"lang\">{}</a>",
        tr(lang, "switch")
    ));
    let contact = contact.join(" &middot; ");
    let logo = logo_data_uri(config)
        .map(|uri| format!("<img src=\"{uri}\" alt=\"\">"))
        .unwrap_or_default();
    let name = esc(&brand.name);
    let values = [
        ("lang", lang.code()),
        ("title", &name),
        ("brand", &name),
        ("tagline", view::tagline(config, lang)),
        ("colour", &brand.colour),
        ("contact", &contact),
        ("logo", &logo),
    ];
    frame::Frame::new(TEMPLATE, |piece| fill(piece, &values))
}

/// Polls the payment's status and reloads the page when it changes from what the page shows
/// (`{{state}}` is the state it was rendered with).
const PAYMENT_POLL: &str = "<script>(function(){var t=location.pathname.split('/').pop(),s='{{state}}';\
setInterval(function(){fetch('/api/payment/'+t).then(function(r){return r.json()}).then(function(j){\
if(j.state!==s)location.reload()}).catch(function(){})},1500)})();</script>";

pub(crate) fn home(ctx: &Ctx, ip: IpAddr, lang: Lang, notice: Option<(&str, &str)>) -> Response {
    home_with(ctx, ip, lang, notice, "", None)
}

/// The home page: with a voucher `code` (a QR link) the voucher form comes first, filled in;
/// with `form` (a refused purchase) the buy form keeps the package and number and says what
/// was wrong next to the field.
fn home_with(
    ctx: &Ctx,
    ip: IpAddr,
    lang: Lang,
    notice: Option<(&str, &str)>,
    code: &str,
    form: Option<view::BuyForm>,
) -> Response {
    ctx.app
        .funnel
        .portal_views
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (config, now) = (ctx.app.config(), ctx.app.time().now);
    let mut body = String::new();
    if !code.is_empty() {
        body.push_str(&view::voucher_form(lang, code));
    }
    if let Some((class, text)) = notice {
        body.push_str(&format!("<div class=\"card {class}\">{text}</div>"));
    }
    let view = match ctx.app.device(ip) {
        Ok(view) => view,
        Err(e) => {
            log::error!("portal: {e}");
            return error_page(ctx, lang);
        }
    };
    let mut refresh = None;
    let mut script = "";
    let mut online = false;
    match view.as_ref().map(|v| (&v.lifecycle, v.now, v.mac)) {
        Some((Lifecycle::Active(session), now, _)) => {
            let receipt = receipt_of(ctx, session);
            body.push_str(&view::session_card(
                &config,
                session,
                now,
                lang,
                receipt.as_deref(),
            ));
            if let Some(code) = share_code_of(ctx, session) {
                body.push_str(&format!(
                    "<div class=\"card\"><p>{}</p><p class=\"big\" id=\"share-code\">{}</p></div>",
                    tr(lang, "share").replace("{n}", &session.terms.devices.to_string()),
                    esc(&crate::core::vouchers::display(&code))
                ));
            }
            body.push_str(&format!("<h2>{}</h2>", tr(lang, "more")));
            refresh = Some(60);
            script = view::TIMERS;
            online = true;
        }
        Some((Lifecycle::Pending { .. }, _, mac)) => {
            if let Ok(Some(payment)) = ctx.app.store.read(|r| r.open_payment_for(mac)) {
                body.push_str(&format!(
                    "<div class=\"card warn\">{} <a href=\"/pay/{}\">{}</a></div>",
                    tr(lang, "pending"),
                    esc(&payment.token),
                    tr(lang, "see_payment")
                ));
            }
        }
        Some((Lifecycle::Ended(_), ..)) => {
            body.push_str(&format!(
                "<div class=\"card warn\">{}</div>",
                tr(lang, "ended")
            ));
            body.push_str(&format!("<h2>{}</h2>", tr(lang, "choose")));
        }
        Some((Lifecycle::Idle, ..)) | None => {
            body.push_str(&format!("<h2>{}</h2>", tr(lang, "choose")))
        }
    }
    if !online {
        body.push_str(&view::trial_card(&config, lang));
    }
    let accounts = crate::web::portal::login::any_account(ctx);
    match form {
        Some(form) => {
            body.push_str(&view::buy_form(&config, lang, &form, now));
            body.push_str(&offer_rest(ctx, lang, code.is_empty(), accounts, online));
        }
        // The same for every device (with the config, the language, whether any guest account
        // exists and whether the guest is online): rendered once, unless what is on sale
        // changes with the time of day.
        None if code.is_empty() && !config.has_windows() => {
            let offer = ctx.pages.offers.get(&config, (lang, accounts, online), || {
                view::buy_form(&config, lang, &view::BuyForm::default(), now)
                    + &offer_rest(ctx, lang, true, accounts, online)
            });
            body.push_str(&offer);
        }
        None => {
            let form = view::BuyForm::default();
            body.push_str(&view::buy_form(&config, lang, &form, now));
            body.push_str(&offer_rest(ctx, lang, code.is_empty(), accounts, online));
        }
    }
    page(ctx, lang, 200, &body, refresh, script)
}

/// What follows the packages: the voucher line (unless a QR link put it first), the account
/// sign-in, and, for a guest who is not online, moving a purchase and pasting an M-Pesa SMS.
fn offer_rest(ctx: &Ctx, lang: Lang, voucher: bool, accounts: bool, online: bool) -> String {
    let mut body = String::new();
    if voucher {
        body.push_str(&view::voucher_form(lang, ""));
    }
    body.push_str(&crate::web::portal::login::card(lang, accounts));
    if online {
        return body;
    }
    body.push_str(&format!(
        "<details class=\"card\"><summary>{}</summary><p class=\"meta\">{}</p>\
         <form method=\"post\" action=\"/move\"><label>{}<input name=\"receipt\" \
         autocapitalize=\"characters\" maxlength=\"12\" required></label><label>{}<input \
         name=\"phone\" type=\"tel\" maxlength=\"20\" required></label><button>{}</button></form></details>",
        tr(lang, "move"),
        tr(lang, "move_help"),
        tr(lang, "receipt_code"),
        tr(lang, "phone"),
        tr(lang, "move_button")
    ));
    body.push_str(&sms::sms_card(ctx, lang, false));
    body
}

/// The M-Pesa receipt of the latest purchase that fed a session, if it has one.
/// The code that adds another device to a purchase for several devices: the voucher's, or
/// the paid purchase's share code (`payments::share_code`).
fn share_code_of(ctx: &Ctx, session: &Session) -> Option<String> {
    use crate::core::sessions::Source;
    if session.terms.devices < 2 {
        return None;
    }
    session.sources.iter().find_map(|s| match s {
        Source::Voucher(code) => Some(code.clone()),
        Source::Payment(id) => {
            let payment = ctx.app.store.read(|r| r.payment(*id)).ok()??;
            crate::core::payments::share_code(&payment.token)
        }
        _ => None,
    })
}

fn receipt_of(ctx: &Ctx, session: &Session) -> Option<String> {
    let id = session.sources.iter().rev().find_map(|s| match s {
        crate::core::sessions::Source::Payment(id) => Some(*id),
        _ => None,
    })?;
    let payment = ctx.app.store.read(|r| r.payment(id)).ok()??;
    view::receipt(&payment).map(str::to_string)
}

fn buy(ctx: &Ctx, request: &Request, ip: IpAddr, lang: Lang) -> Response {
    let form = match read_form(request) {
        Ok(f) => f,
        Err(response) => return response,
    };
    let package = form.get("package").map(String::as_str).unwrap_or("");
    let phone = form.get("phone").map(String::as_str).unwrap_or("");
    match ctx.app.start_purchase(ip, package, phone) {
        Ok(payment) => see_other(&format!("/pay/{}", payment.token)),
        Err(PurchaseError::AlreadyPending(token)) => see_other(&format!("/pay/{token}")),
        Err(e) => {
            let (status, key) = match &e {
                PurchaseError::Denied(d) => denied(*d),
                PurchaseError::UnknownPackage if package.is_empty() => (400, "pick"),
                PurchaseError::UnknownPackage => (404, "no_package"),
                PurchaseError::Closed(_) => (409, "closed"),
                PurchaseError::BadPhone(_) => (400, "bad_phone"),
                PurchaseError::Limited(LimitRefusal::PhoneBusy) => (409, "busy"),
                PurchaseError::Limited(LimitRefusal::SameAmountTooSoon { .. }) => (429, "too_soon"),
                PurchaseError::Limited(LimitRefusal::TooManyAttempts { .. }) => (429, "too_many"),
                PurchaseError::Limited(LimitRefusal::PhoneTooManyPrompts { .. }) => {
                    (429, "phone_prompted")
                }
                PurchaseError::AlreadyPending(_) => (409, "pending"),
                PurchaseError::NoRoom => (503, "no_room"),
                PurchaseError::Store(err) => {
                    log::error!("purchase: {err}");
                    (500, "error")
                }
            };
            let text = match &e {
                PurchaseError::Limited(
                    LimitRefusal::SameAmountTooSoon { wait_secs }
                    | LimitRefusal::TooManyAttempts { wait_secs }
                    | LimitRefusal::PhoneTooManyPrompts { wait_secs },
                ) => view::with_wait(tr(lang, key), *wait_secs, lang),
                PurchaseError::Closed(window) => format!("{} {}.", tr(lang, key), window.words()),
                _ => tr(lang, key).to_string(),
            };
            // The package stays ticked (unless it is the amount M-Pesa will refuse for now)
            // and the number stays typed; the reason sits by the field.
            let same_amount = matches!(
                e,
                PurchaseError::Limited(LimitRefusal::SameAmountTooSoon { .. })
            );
            let form = view::BuyForm {
                selected: if same_amount { "" } else { package },
                phone,
                error: Some(text),
                ..Default::default()
            };
            let mut r = home_with(ctx, ip, lang, None, "", Some(form));
            r.status_code = status;
            r
        }
    }
}

/// The one place a refused admission (`App::admit`) becomes a portal answer: the status and
/// the message key (`tr`).
pub(crate) fn denied(d: Denied) -> (u16, &'static str) {
    match d {
        Denied::UnknownDevice => (403, "unknown_device"),
        Denied::ClockUnsynced => (503, "clock"),
        Denied::Blocked => (403, "blocked"),
        Denied::Clone => (403, "clone"),
    }
}

/// The limits every public POST passes first (`ratelimit::POST`, and `ratelimit::BUY` for a
/// purchase), per source address and per device, so that neither a new address nor a new MAC
/// buys a fresh allowance. Daraja's callback path is not limited here: its secret is the gate.
fn post_allowed(ctx: &Ctx, ip: IpAddr, url: &str) -> Result<(), u64> {
    use crate::core::ratelimit::{source_key, BUY, POST};
    let now_ms = ctx.app.time().now_ms;
    let buying = matches!(url, "/buy" | "/qr" | "/api/portal/mpesa/initiate");
    let mut keys = vec![format!("src:{}", source_key(ip))];
    if let Some(mac) = ctx.app.identify(ip) {
        keys.push(format!("dev:{mac}"));
    }
    for key in keys {
        ctx.app
            .limiter
            .check(&format!("post-{key}"), POST, now_ms)?;
        if buying {
            ctx.app.limiter.check(&format!("buy-{key}"), BUY, now_ms)?;
        }
    }
    Ok(())
}

/// Applies a rate limit to a form post from the device at `ip`; the refusal is a page.
pub(crate) fn form_limited(
    ctx: &Ctx,
    what: &str,
    ip: IpAddr,
    limit: crate::core::ratelimit::Limit,
    lang: Lang,
) -> Option<Response> {
    let key = ctx
        .app
        .identify(ip)
        .map(|m| m.to_string())
        .unwrap_or_else(|| ip.to_string());
    let now_ms = ctx.app.time().now_ms;
    let wait = ctx
        .app
        .limiter
        .check(&format!("{what}:{key}"), limit, now_ms)
        .err()?;
    let mut r = home(ctx, ip, lang, Some(("err", tr(lang, "slow_down"))));
    r.status_code = 429;
    Some(r.with_unique_header("Retry-After", wait.to_string()))
}

fn move_form(ctx: &Ctx, request: &Request, ip: IpAddr, lang: Lang) -> Response {
    if let Some(r) = form_limited(ctx, "move", ip, crate::core::ratelimit::MOVE, lang) {
        return r;
    }
    let form = match read_form(request) {
        Ok(f) => f,
        Err(response) => return response,
    };
    let receipt = form.get("receipt").map(String::as_str).unwrap_or("");
    let phone = form.get("phone").map(String::as_str).unwrap_or("");
    match ctx.app.move_session(ip, receipt, phone) {
        Ok(_) => see_other("/"),
        Err(e) => {
            let (status, key) = match e {
                MoveError::NotFound => (404, "move_not_found"),
                MoveError::TooSoon(_) => (429, "move_too_soon"),
                MoveError::AlreadyOnline => (409, "online"),
                MoveError::Denied(d) => denied(d),
                MoveError::Store(err) => {
                    log::error!("move: {err}");
                    (500, "error")
                }
            };
            let mut r = home(ctx, ip, lang, Some(("err", tr(lang, key))));
            r.status_code = status;
            r
        }
    }
}

fn voucher(ctx: &Ctx, request: &Request, ip: IpAddr, lang: Lang) -> Response {
    if let Some(r) = form_limited(ctx, "voucher", ip, crate::core::ratelimit::ATTEMPT, lang) {
        return r;
    }
    let form = match read_form(request) {
        Ok(f) => f,
        Err(response) => return response,
    };
    let code = form.get("code").map(String::as_str).unwrap_or("");
    match ctx.app.redeem(ip, code) {
        Ok(_) => see_other("/"),
        Err(RedeemError::Full(n)) => {
            let words = tr(lang, "full_voucher").replace("{n}", &n.to_string());
            let mut r = home(ctx, ip, lang, Some(("err", &words)));
            r.status_code = 409;
            r
        }
        #[cfg(feature = "radius")]
        Err(RedeemError::Radius(e)) => {
            let (status, words) = radius_refusal(lang, &e);
            let mut r = home(ctx, ip, lang, Some(("err", &words)));
            r.status_code = status;
            r
        }
        Err(e) => {
            let (status, key) = match e {
                #[cfg(feature = "radius")]
                RedeemError::Radius(_) => (503, "radius_down"),
                RedeemError::Denied(d) => denied(d),
                RedeemError::Full(_) => (409, "full_voucher"),
                RedeemError::Refused(Refusal::Used) => (409, "used_voucher"),
                RedeemError::Refused(Refusal::Closed) => (409, "closed_now"),
                RedeemError::Refused(_) => (404, "bad_voucher"),
                RedeemError::Store(crate::store::StoreError::Full) => (503, "no_room"),
                RedeemError::Store(err) => {
                    log::error!("voucher: {err}");
                    (500, "error")
                }
            };
            let mut r = home(ctx, ip, lang, Some(("err", tr(lang, key))));
            r.status_code = status;
            r
        }
    }
}

/// What a guest reads when RADIUS did not let them in (escaped: the Reply-Message is the
/// server's text): the server's own words on a rejection, a plain "try later" when it could
/// not be asked.
#[cfg(feature = "radius")]
pub(crate) fn radius_refusal(
    lang: Lang,
    e: &crate::adapters::radius::RadiusError,
) -> (u16, String) {
    use crate::adapters::radius::RadiusError;
    match e {
        RadiusError::Rejected(Some(message)) => (403, esc(message).to_string()),
        RadiusError::Rejected(None) => (403, tr(lang, "radius_rejected").to_string()),
        _ => (503, tr(lang, "radius_down").to_string()),
    }
}

/// The free trial: one tap, no phone number (`App::take_trial`). A refusal is the home page
/// with the reason on top.
fn trial(ctx: &Ctx, ip: IpAddr, lang: Lang) -> Response {
    if let Some(r) = form_limited(ctx, "trial", ip, crate::core::ratelimit::ATTEMPT, lang) {
        return r;
    }
    let (status, key) = match ctx.app.take_trial(ip) {
        Ok(_) => return see_other("/"),
        Err(TrialError::Denied(d)) => denied(d),
        Err(TrialError::NoTrial) => (404, "no_trial"),
        Err(TrialError::AlreadyOnline) => (409, "online"),
        Err(TrialError::UsedToday { .. }) => (409, "trial_used"),
        Err(TrialError::RouterCap { .. }) => (429, "trials_gone"),
        Err(TrialError::Store(crate::store::StoreError::Full)) => (503, "no_room"),
        Err(TrialError::Store(err)) => {
            log::error!("trial: {err}");
            (500, "error")
        }
    };
    let mut r = home(ctx, ip, lang, Some(("err", tr(lang, key))));
    r.status_code = status;
    r
}

fn pay_page(ctx: &Ctx, token: &str, lang: Lang) -> Response {
    let payment = match ctx.app.payment_by_token(token) {
        Ok(Some(p)) => p,
        Ok(None) => return Response::redirect_303("/"),
        Err(e) => {
            log::error!("payment page: {e}");
            return error_page(ctx, lang);
        }
    };
    let config = ctx.app.config();
    let now = ctx.app.time().now;
    if payment.state.is_open() {
        // Without JavaScript the page refreshes itself while the payment is open; with it, it
        // asks the status API and reloads when the state changes.
        let state = payment.state.name();
        let script = PAYMENT_POLL.replace("{{state}}", state) + view::TIMERS;
        let body = view::waiting_card(&config, &payment, now, lang);
        return page(ctx, lang, 200, &body, Some(2), &script);
    }
    if payment.state == PaymentState::Paid {
        return paid_page(ctx, &payment, now, lang);
    }
    let (class, words) = view::payment_words(&payment, lang);
    let mut body = format!(
        "<div class=\"card {class}\"><h2>{} · {} {}</h2><p id=\"state\">{words}</p>",
        esc(view::terms_name(&config, &payment.terms, lang)),
        esc(&config.gateway.currency),
        payment.amount
    );
    let funds = payment.decline == Some(Decline::InsufficientFunds);
    // Daraja refuses the same amount to the same number for two minutes after a prompt it
    // took: the guest is told how long, and may pick another package meanwhile.
    let wait = match payment.checkout_id {
        Some(_) => crate::core::payments::SAME_AMOUNT_WINDOW_SECS - (now - payment.created_at),
        None => 0,
    };
    if wait > 0 && !funds {
        body.push_str(&format!(
            "<p id=\"wait\">{}</p>",
            view::with_wait(tr(lang, "too_soon"), wait, lang)
        ));
    }
    body.push_str("</div>");
    let form = view::BuyForm {
        selected: if wait > 0 || funds {
            ""
        } else {
            &payment.terms.package_id
        },
        phone: &payment.phone.local(),
        cheaper_than: funds.then_some(payment.terms.price),
        button: Some("try_again"),
        ..Default::default()
    };
    body.push_str(&view::buy_form(&config, lang, &form, now));
    if payment.decline == Some(Decline::Unavailable) {
        body.push_str(&sms::sms_card(ctx, lang, true));
    }
    body.push_str(&view::help_line(&config, lang));
    page(ctx, lang, 200, &body, None, view::TIMERS)
}

/// A paid payment's page is the online view at once: time left, end time, data left and the
/// receipt, then the move code.
fn paid_page(ctx: &Ctx, payment: &Payment, now: i64, lang: Lang) -> Response {
    let config = ctx.app.config();
    let session = payment
        .session_id
        .and_then(|id| ctx.app.store.read(|r| r.session(id)).ok().flatten());
    let mut body = match &session {
        Some(session) if session.seconds_left(now) > 0 => {
            view::session_card(&config, session, now, lang, view::receipt(payment))
        }
        _ => format!(
            "<div class=\"card ok\"><p id=\"state\">{}</p><p class=\"meta\">{}: {}</p></div>",
            tr(lang, "paid"),
            tr(lang, "receipt"),
            esc(view::receipt(payment).unwrap_or(""))
        ),
    };
    // Only the paying device has this page (its URL is the payment's token): the code is the
    // proof `move` asks for, which no callback or SMS can plant.
    body.push_str(&format!(
        "<p class=\"meta\">{}: <b id=\"move-code\">{}</b></p><p><a href=\"/\">{}</a></p>",
        tr(lang, "move_code"),
        esc(&crate::core::payments::move_code(&payment.token)),
        tr(lang, "more")
    ));
    page(ctx, lang, 200, &body, Some(60), view::TIMERS)
}

/// Daraja's STK callback. A wrong secret is a plain 404; otherwise the answer is 200 at once
/// whatever the body says (Daraja neither retries nor learns anything), and the work is a
/// note in RAM plus a query due now.
fn stk_callback(ctx: &Ctx, request: &Request, secret: &str) -> Response {
    if !ctx.app.callback_secret_matches(secret) {
        return Response::text("not found").with_status_code(404);
    }
    let body = match crate::web::http::read_body(request) {
        Ok(b) => b,
        Err(response) => return response,
    };
    // ClickPesa's webhook and Airtel's callback come to the same secret path
    // (docs/tz-aggregator.md, docs/airtel.md).
    #[cfg(feature = "clickpesa")]
    if let Some(verdict) = ctx.app.on_clickpesa_callback(&body) {
        log::info!("ClickPesa webhook: {verdict}");
        return json(200, &json!({ "status": "accepted" }));
    }
    #[cfg(feature = "airtel")]
    if let Some(verdict) = ctx.app.on_airtel_callback(&body) {
        log::info!("Airtel Money callback: {verdict}");
        return json(200, &json!({ "status": "accepted" }));
    }
    let verdict = ctx.app.on_callback(&body);
    log::info!("M-Pesa callback: {verdict}");
    json(200, &json!({ "ResultCode": 0, "ResultDesc": "Accepted" }))
}
