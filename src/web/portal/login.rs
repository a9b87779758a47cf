//! Guest accounts on the portal: the "Have an account?" form (collapsed, like the move form)
//! and its handler. The JSON twin is `POST /api/portal/login` (`api`). Both are rate
//! limited per device (`ratelimit::ATTEMPT`) and overall (`ALL_LOGINS`, because each check
//! costs a deliberately slow hash); passwords are never echoed or logged.

use std::net::IpAddr;

use rouille::{Request, Response};

use super::Ctx;
use crate::app::LoginError;
use crate::core::accounts::LoginRefusal;
use crate::core::model::Lang;
use crate::core::ratelimit::Limit;
use crate::web::http::{read_form, see_other};
use crate::web::portal::{form_limited, home, tr};

/// Sign-ins from every device together: at most this many password checks a minute (about
/// 8 s of a MIPS core a minute at the worst; see ARCHITECTURE.md "The owner page").
pub(crate) const ALL_LOGINS: Limit = Limit {
    burst: 30,
    per_secs: 60,
};

/// The form's words (`text::WORDS`, keys `login_*`).
fn words(lang: Lang, key: &str) -> &'static str {
    tr(lang, &format!("login_{key}"))
}

/// Whether the owner has made at least one guest account (a store that cannot say is taken
/// as none: the form is then left out).
pub(crate) fn any_account(ctx: &Ctx) -> bool {
    ctx.app.store.read(|r| r.any_account()).unwrap_or(false)
}

/// The collapsed sign-in form, shown when the owner has made at least one account (`any`).
pub(crate) fn card(lang: Lang, any: bool) -> String {
    if !any {
        return String::new();
    }
    format!(
        "<details class=\"card\"><summary>{}</summary><form method=\"post\" action=\"/login\">\
         <label>{}<input name=\"username\" autocomplete=\"username\" autocapitalize=\"none\" \
         maxlength=\"32\" required></label><label>{}<input name=\"password\" type=\"password\" \
         autocomplete=\"current-password\" maxlength=\"256\" required></label><button>{}</button>\
         </form></details>",
        words(lang, "title"),
        words(lang, "username"),
        words(lang, "password"),
        words(lang, "button"),
    )
}

/// Whether the overall sign-in limit allows one more check now (`Err(secs)` to wait).
pub(crate) fn overall_limit(ctx: &Ctx) -> Result<(), u64> {
    let now_ms = ctx.app.time().now_ms;
    ctx.app.limiter.check("login:all", ALL_LOGINS, now_ms)
}

pub(crate) fn form(ctx: &Ctx, request: &Request, ip: IpAddr, lang: Lang) -> Response {
    if let Some(r) = form_limited(ctx, "login", ip, crate::core::ratelimit::ATTEMPT, lang) {
        return r;
    }
    if let Err(wait) = overall_limit(ctx) {
        let mut r = home(ctx, ip, lang, Some(("err", tr(lang, "slow_down"))));
        r.status_code = 429;
        return r.with_unique_header("Retry-After", wait.to_string());
    }
    let form = match read_form(request) {
        Ok(f) => f,
        Err(response) => return response,
    };
    let username = form.get("username").map(String::as_str).unwrap_or("");
    let password = form.get("password").map(String::as_str).unwrap_or("");
    let (status, text) = match ctx.app.login_account(ip, username, password) {
        Ok(_) => return see_other("/"),
        Err(e) => match e {
            LoginError::Refused(LoginRefusal::BadCredentials) => (401, words(lang, "bad")),
            LoginError::Refused(LoginRefusal::Disabled | LoginRefusal::NoPackage) => {
                (403, words(lang, "disabled"))
            }
            LoginError::Refused(LoginRefusal::Expired) => (403, words(lang, "expired")),
            LoginError::Refused(LoginRefusal::Closed) => (409, tr(lang, "closed_now")),
            LoginError::Refused(LoginRefusal::TooManyDevices { .. }) => {
                (409, words(lang, "devices"))
            }
            #[cfg(feature = "radius")]
            LoginError::Radius(e) => {
                let (status, words) = super::radius_refusal(lang, &e);
                let mut r = home(ctx, ip, lang, Some(("err", &words)));
                r.status_code = status;
                return r;
            }
            LoginError::AlreadyOnline => (409, tr(lang, "online")),
            LoginError::Denied(d) => {
                let (status, key) = super::denied(d);
                (status, tr(lang, key))
            }
            LoginError::Store(err) => {
                log::error!("account sign-in: {err}");
                (500, tr(lang, "error"))
            }
        },
    };
    let mut r = home(ctx, ip, lang, Some(("err", text)));
    r.status_code = status;
    r
}
