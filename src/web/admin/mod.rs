//! The owner page's front door: who may reach it (never the guests' networks, `guest_net`;
//! then the `admin_allow` addresses, with a Host that is an address or a local name, against
//! DNS rebinding), sign-in (the owner password, set on first run with the one-time setup code
//! or with `lango passwd`; lock-out per address with back-off), sessions (an HttpOnly,
//! SameSite=Strict cookie), CSRF (a per-session token in every form plus a same-origin check),
//! sign-out, and the routing of every page. The pages live in `pages` (dashboard,
//! guests, events), `payments` (payments, SMS claims, the JSON API), `shop`
//! (packages, vouchers), `accounts`, `settings` and `wallets` (the wallets beside M-Pesa,
//! feature `airtel`); their look in `ui`; `/metrics` (Prometheus
//! text) in `metrics`.
//!
//! The JSON API (`/api/overview`, `/api/vouchers`) also accepts `Authorization: Bearer` with
//! the token lango writes to `api_token_file` (root-only, in RAM) for scripts on the router.
//! Loopback is not trusted by itself: an SSH tunnel or a reverse proxy would make every remote
//! browser look local.

pub mod accounts;
pub(crate) mod metrics;
pub(crate) mod pages;
pub mod payments;
pub(crate) mod settings;
pub(crate) mod shop;
pub(crate) mod ui;
#[cfg(feature = "airtel")]
pub(crate) mod wallets;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rouille::{Request, Response};

use crate::adapters::simulator::Simulator;
use crate::app::App;
use crate::core::auth::{self, Notice, OwnerSessions, COOKIE};
use crate::core::payments::SwitchGateway;
use crate::core::token;
use crate::web::http::{read_form, see_other};

/// Sign-in state shared by the owner page's threads.
#[derive(Default)]
pub struct OwnerState {
    pub sessions: OwnerSessions,
    /// The token scripts send as `Authorization: Bearer` (written by `lango serve`).
    pub api_token: Option<String>,
}

/// What the owner page's handlers reach.
pub struct Ctx {
    pub app: Arc<App>,
    /// Set in `lango demo`: the owner page shows the simulator's switches.
    pub simulator: Option<Arc<Simulator>>,
    /// The owner page's sign-ins, lock-out and API token.
    pub owner: OwnerState,
    /// The config file lango runs from: the owner page writes package and settings edits there
    /// (none in tests that start from a `Config` value: those pages then say so).
    pub config_path: Option<PathBuf>,
    /// The WAN and Daraja checks for the dashboard (`lango serve` only: tests and the demo
    /// never reach the internet).
    pub probes: Option<crate::adapters::health::Probes>,
    /// The payment gateway behind a switch, when the M-Pesa account can be replaced while
    /// running (`lango serve`); otherwise account changes wait for a restart.
    pub gateway: Option<Arc<SwitchGateway>>,
}

impl Ctx {
    /// A context with no config file, no probes and no API token (tests, benchmarks).
    pub fn new(app: Arc<App>, simulator: Option<Arc<Simulator>>) -> Ctx {
        Ctx {
            app,
            simulator,
            owner: OwnerState::default(),
            config_path: None,
            probes: None,
            gateway: None,
        }
    }
}

/// One signed-in request, as the pages see it.
pub(crate) struct Call<'a> {
    pub ctx: &'a Ctx,
    pub request: &'a Request,
    pub ip: IpAddr,
    /// The session id (from the cookie) and its CSRF token.
    pub sid: String,
    pub csrf: String,
    /// The posted form (empty for GET).
    pub form: HashMap<String, String>,
}

impl Call<'_> {
    /// A query parameter.
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        self.request.get_param(name)
    }

    /// A form field, trimmed ("" when absent).
    pub(crate) fn field(&self, name: &str) -> &str {
        self.form.get(name).map(|v| v.trim()).unwrap_or("")
    }

    /// A form field exactly as sent (passwords).
    pub(crate) fn raw_field(&self, name: &str) -> &str {
        self.form.get(name).map(String::as_str).unwrap_or("")
    }

    /// After a change: back to `path`, with a notice shown there once (post/redirect/get).
    pub(crate) fn back(&self, path: &str, notice: impl Into<String>) -> Response {
        self.back_with(path, Notice::Success, notice.into())
    }

    /// Back to `path` with a warning: nothing to do, or done with something to look at.
    pub(crate) fn warn(&self, path: &str, notice: impl Into<String>) -> Response {
        self.back_with(path, Notice::Warning, notice.into())
    }

    /// Back to `path` with an error: the change was refused and nothing changed.
    pub(crate) fn fail(&self, path: &str, notice: impl Into<String>) -> Response {
        self.back_with(path, Notice::Error, notice.into())
    }

    fn back_with(&self, path: &str, kind: Notice, notice: String) -> Response {
        self.ctx.owner.sessions.set_flash(&self.sid, kind, notice);
        see_other(path)
    }

    /// A refused form shown again as typed, under the error (400, no redirect): `page` renders
    /// with this POST's fields (`kept`), so nothing the owner typed is lost.
    pub(crate) fn fail_here(&self, notice: String, page: fn(&Call) -> Response) -> Response {
        self.ctx
            .owner
            .sessions
            .set_flash(&self.sid, Notice::Error, notice);
        let mut r = page(self);
        r.status_code = 400;
        r
    }

    /// A form field's value to show: as posted when a refused form is shown again, else
    /// `stored`. (The forms on one page have no field name in common.)
    pub(crate) fn kept(&self, name: &str, stored: &str) -> String {
        self.form
            .get(name)
            .cloned()
            .unwrap_or_else(|| stored.to_string())
    }

    /// The notice left by the last change, if any.
    pub(crate) fn take_flash(&self) -> Option<(Notice, String)> {
        self.ctx.owner.sessions.take_flash(&self.sid)
    }
}

pub fn handle(ctx: &Ctx, request: &Request) -> Response {
    let ip = request.remote_addr().ip().to_canonical();
    let config = ctx.app.config();
    if config.gateway.guest_side(ip) {
        // Issue 13: a guest's address may fall inside admin_allow (guests and owner on one
        // LAN); the guests' side never reaches a sign-in form, a first-run form or the API.
        log::warn!("owner page: refused {ip} (on the guests' network, guest_net)");
        return refuse(
            403,
            "the owner page is not open to the guest network; open it from the router or \
             from the owner's own network",
        );
    }
    if !config
        .gateway
        .admin_allow
        .iter()
        .any(|net| net.contains(ip))
    {
        log::warn!("owner page: refused {ip} (not in admin_allow)");
        return refuse(403, "forbidden");
    }
    if !request.header("Host").is_none_or(host_allowed) {
        // DNS rebinding: a page on someone else's name must not reach the router's.
        return refuse(
            403,
            "unknown host name; open the owner page by the router's address",
        );
    }
    let url = request.url();
    let method = request.method();
    if url.starts_with("/api/") {
        return crate::web::admin::payments::api(ctx, request, ip, &url);
    }
    if url == "/metrics" {
        return metrics::handle(ctx, request, ip);
    }
    if method == "POST" && !same_origin(request) {
        return refuse(403, "cross-site form refused");
    }
    match (method, url.as_str()) {
        ("GET", "/signin") => return signin_page(ctx, None, 200),
        ("POST", "/signin") => return signin(ctx, request, ip),
        ("POST", "/setup") => return setup(ctx, request, ip),
        _ => {}
    }
    let now = ctx.app.time().now;
    let session = request
        .header("Cookie")
        .and_then(|h| auth::cookie(h, COOKIE))
        .and_then(|sid| Some((sid.to_string(), ctx.owner.sessions.get(sid, now)?)));
    let Some((sid, session)) = session else {
        return match method {
            "GET" | "HEAD" => see_other("/signin"),
            _ => refuse(401, "sign in first"),
        };
    };
    let form = match method {
        "POST" => match read_form(request) {
            Ok(f) => f,
            Err(r) => return r,
        },
        _ => HashMap::new(),
    };
    if method == "POST" {
        let sent = form.get("csrf").map(String::as_str).unwrap_or("");
        if !token::same(sent.as_bytes(), session.csrf.as_bytes()) {
            log::warn!("owner page: {method} {url} from {ip} without a valid CSRF token");
            return refuse(403, "this form has expired; reload the page and try again");
        }
    }
    let call = Call {
        ctx,
        request,
        ip,
        sid,
        csrf: session.csrf,
        form,
    };
    route(&call, method, &url)
}

/// Every signed-in route. State changes are POSTs (checked above); a GET never changes state.
fn route(call: &Call, method: &str, url: &str) -> Response {
    use crate::web::admin::accounts;
    use crate::web::admin::payments as money;
    let rest = |prefix: &str| url.strip_prefix(prefix).unwrap_or("");
    match (method, url) {
        ("GET", "/") => pages::dashboard(call),
        ("GET", "/guests") => pages::guests(call),
        ("GET", "/payments") => money::payments(call),
        ("GET", "/payments.csv") => money::payments_csv(call),
        ("GET", "/events") => pages::events(call),
        ("GET", "/packages") => shop::packages(call),
        ("GET", "/vouchers") => shop::vouchers(call),
        ("GET", "/vouchers/print") => shop::print_sheet(call),
        ("GET", "/vouchers.csv") => shop::vouchers_csv(call),
        ("GET", "/accounts") => accounts::accounts(call),
        ("GET", "/settings") => settings::settings(call),
        ("POST", "/signout") => signout(call),
        ("POST", "/packages") => shop::save_package(call),
        ("POST", "/packages/order") => shop::reorder_package(call),
        ("POST", "/packages/active") => shop::toggle_package(call),
        ("POST", "/vouchers") => shop::generate(call),
        ("POST", "/vouchers/revoke") => shop::revoke_voucher(call),
        ("POST", "/accounts") => accounts::save_account(call),
        ("POST", "/accounts/delete") => accounts::delete_account(call),
        ("POST", "/sessions/revoke") => pages::kick(call),
        ("POST", "/sessions/extend") => pages::extend(call),
        ("POST", "/devices/block") => pages::block(call, true),
        ("POST", "/devices/unblock") => pages::block(call, false),
        ("POST", "/devices/allow") => pages::allow(call, true),
        ("POST", "/devices/disallow") => pages::allow(call, false),
        #[cfg(feature = "simulator")]
        ("POST", "/simulator") => pages::simulator(call),
        ("POST", "/mpesa/check") => settings::mpesa_check(call),
        ("POST", "/settings/mpesa") => settings::save_mpesa(call),
        #[cfg(feature = "airtel")]
        ("POST", "/settings/wallet") => wallets::save(call),
        ("POST", "/settings/brand") => settings::save_brand(call),
        ("POST", "/settings/network") => settings::save_network(call),
        ("POST", "/settings/guest-network") => settings::guest_network(call),
        ("POST", "/settings/password") => settings::change_password(call),
        ("POST", path) if path.starts_with("/sms/") => money::sms_decision(call, rest("/sms/")),
        _ => refuse(404, "not found"),
    }
}

/// A plain refusal. Never says more than the status needs.
pub(crate) fn refuse(status: u16, text: &str) -> Response {
    Response::text(text).with_status_code(status)
}

/// A Host header the owner page answers to: an IP literal, or a local name (one label such
/// as `openwrt`, or under `.lan`, `.local`, `.home.arpa`, `.internal`). Anything else is a
/// name someone else controls, pointed at the router: DNS rebinding, where a web page the owner
/// visits makes their browser talk to the router under the attacker's host name, is refused.
pub(crate) fn host_allowed(host: &str) -> bool {
    let host = host.trim();
    if let Some(v6) = host.strip_prefix('[') {
        return v6
            .split_once(']')
            .is_some_and(|(addr, _)| addr.parse::<std::net::Ipv6Addr>().is_ok());
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        Some(_) => return false,
        None => host,
    };
    if name.parse::<IpAddr>().is_ok() {
        return true;
    }
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let label_ok =
        |l: &str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if name.is_empty() || !name.split('.').all(label_ok) {
        return false;
    }
    !name.contains('.')
        || [".lan", ".local", ".home.arpa", ".internal", ".localdomain"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

/// A state change must come from a page of this origin: the Origin (or Referer) host must be
/// the Host the request was sent to. The owner page's Referrer-Policy (`same-origin`) makes
/// browsers send it.
fn same_origin(request: &Request) -> bool {
    let Some(host) = request.header("Host") else {
        return false;
    };
    let origin = request
        .header("Origin")
        .or_else(|| request.header("Referer"));
    match origin {
        Some(origin) => {
            let rest = origin.split("://").nth(1).unwrap_or("");
            rest.split('/').next() == Some(host)
        }
        None => false,
    }
}

fn session_cookie(sid: &str) -> String {
    format!("{COOKIE}={sid}; Path=/; HttpOnly; SameSite=Strict")
}

fn signin_page(ctx: &Ctx, notice: Option<&str>, status: u16) -> Response {
    let first_run = matches!(ctx.app.owner_password_hash(), Ok(None));
    let mut r = crate::web::admin::ui::signin(ctx, first_run, notice);
    r.status_code = status;
    r
}

/// Checks the lock-out before any hashing; `Err` is the "wait" page.
fn locked(ctx: &Ctx, ip: IpAddr) -> Result<(), Response> {
    let now = ctx.app.time().now;
    ctx.app.owner_lockout.check(ip, now).map_err(|secs| {
        signin_page(
            ctx,
            Some(&format!(
                "Too many wrong passwords. Try again in {}.",
                crate::core::model::human_duration(u64::try_from(secs).unwrap_or(1))
            )),
            429,
        )
        .with_unique_header("Retry-After", secs.to_string())
    })
}

fn signin(ctx: &Ctx, request: &Request, ip: IpAddr) -> Response {
    if let Err(wait) = locked(ctx, ip) {
        return wait;
    }
    let form = match read_form(request) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let password = form.get("password").map(String::as_str).unwrap_or("");
    let stored = match ctx.app.owner_password_hash() {
        Ok(Some(hash)) => hash,
        Ok(None) => return signin_page(ctx, Some("Set the owner password first."), 409),
        Err(e) => {
            log::error!("owner page: {e}");
            return refuse(500, "store error");
        }
    };
    let now = ctx.app.time().now;
    if !auth::verify_password(&stored, password) {
        let outcome = ctx.app.owner_lockout.failure(ip, now);
        log::warn!("owner page: wrong password from {ip} ({outcome})");
        let text = match outcome {
            auth::Failure::TryAgain { .. } => "Wrong password.".to_string(),
            auth::Failure::Locked { secs } => {
                ctx.app.owner_event(
                    "owner_lockout",
                    format!("{ip} locked out for {secs} s after wrong owner passwords"),
                );
                format!(
                    "Wrong password. Too many tries: wait {} before the next one.",
                    crate::core::model::human_duration(u64::try_from(secs).unwrap_or(1))
                )
            }
        };
        return signin_page(ctx, Some(&text), 401);
    }
    ctx.app.owner_lockout.success(ip);
    if auth::needs_rehash(&stored) {
        // A hash made with fewer iterations than today's is replaced while the password is known.
        if let Ok(hash) = auth::hash_password(password) {
            if let Err(e) = ctx
                .app
                .set_owner_password_hash(&hash, "owner password rehashed")
            {
                log::warn!("owner page: {e}");
            }
        }
    }
    start_session(ctx, ip, Some("owner signed in"))
}

/// A new owner session; `signin` is the event to log (none on first run, whose password event
/// the store wrote).
fn start_session(ctx: &Ctx, ip: IpAddr, signin: Option<&str>) -> Response {
    let now = ctx.app.time().now;
    match ctx.owner.sessions.create(now) {
        Ok(sid) => {
            log::info!("owner page: session started from {ip}");
            if let Some(what) = signin {
                ctx.app
                    .owner_event("owner_signin", format!("{what} from {ip}"));
            }
            see_other("/").with_additional_header("Set-Cookie", session_cookie(&sid))
        }
        Err(e) => {
            log::error!("owner page: {e}");
            refuse(500, "cannot start a session")
        }
    }
}

/// First run: the owner proves ownership with the one-time setup code (on the router:
/// `logread -e lango`, `ubus call lango setup_code`, `lango passwd --code`) and chooses the
/// password. A wrong code counts as a wrong password (the lock-out). Refused once a password
/// is set.
fn setup(ctx: &Ctx, request: &Request, ip: IpAddr) -> Response {
    if let Err(wait) = locked(ctx, ip) {
        return wait;
    }
    let form = match read_form(request) {
        Ok(f) => f,
        Err(r) => return r,
    };
    match ctx.app.owner_password_hash() {
        Ok(None) => {}
        Ok(Some(_)) => return signin_page(ctx, Some("The owner password is already set."), 409),
        Err(e) => {
            log::error!("owner page: {e}");
            return refuse(500, "store error");
        }
    }
    let code = form.get("code").map(String::as_str).unwrap_or("");
    match ctx.app.setup_code_matches(code) {
        Ok(true) => {}
        Ok(false) => {
            let outcome = ctx.app.owner_lockout.failure(ip, ctx.app.time().now);
            log::warn!("owner page: wrong setup code from {ip} ({outcome})");
            return signin_page(
                ctx,
                Some(
                    "Wrong setup code. It is shown on the router by: logread -e lango, \
                     ubus call lango setup_code, or lango passwd --code.",
                ),
                403,
            );
        }
        Err(e) => {
            log::error!("owner page: {e}");
            return refuse(500, "store error");
        }
    }
    let password = form.get("password").map(String::as_str).unwrap_or("");
    let again = form.get("again").map(String::as_str).unwrap_or("");
    if let Some(problem) = auth::password_problem(password, auth::OWNER_MIN_LEN) {
        return signin_page(ctx, Some(&problem), 400);
    }
    if password != again {
        return signin_page(ctx, Some("The two passwords differ."), 400);
    }
    let hash = match auth::hash_password(password) {
        Ok(h) => h,
        Err(e) => {
            log::error!("owner page: {e}");
            return refuse(500, "cannot hash the password");
        }
    };
    let why = format!("owner password set on first run from {ip}, with the setup code");
    match ctx.app.claim_owner(code, &hash, &why) {
        Ok(crate::app::FirstRun::Set) => {}
        Ok(crate::app::FirstRun::AlreadySet) => {
            return signin_page(ctx, Some("The owner password is already set."), 409)
        }
        Ok(crate::app::FirstRun::WrongCode) => {
            return signin_page(ctx, Some("Wrong setup code."), 403)
        }
        Err(e) => {
            log::error!("owner page: {e}");
            return refuse(500, "store error");
        }
    }
    ctx.app.owner_lockout.success(ip);
    // The store logged the password being set (owner_password); that is not a sign-in.
    start_session(ctx, ip, None)
}

fn signout(call: &Call) -> Response {
    call.ctx.owner.sessions.remove(&call.sid);
    log::info!("owner page: signed out from {}", call.ip);
    see_other("/signin").with_additional_header(
        "Set-Cookie",
        format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"),
    )
}

/// Whether a JSON API request carries the API token or a live session (and, for a POST from a
/// browser, the session's CSRF token in `X-CSRF-Token`).
pub(crate) fn api_allowed(ctx: &Ctx, request: &Request) -> bool {
    if let (Some(token), Some(header)) = (&ctx.owner.api_token, request.header("Authorization")) {
        if let Some(sent) = header.strip_prefix("Bearer ") {
            return token::same(sent.trim().as_bytes(), token.as_bytes());
        }
    }
    let now = ctx.app.time().now;
    let session = request
        .header("Cookie")
        .and_then(|h| auth::cookie(h, COOKIE))
        .and_then(|sid| ctx.owner.sessions.get(sid, now));
    match session {
        Some(_) if request.method() == "GET" => true,
        Some(s) => request
            .header("X-CSRF-Token")
            .is_some_and(|t| token::same(t.as_bytes(), s.csrf.as_bytes())),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        for ok in [
            "192.168.1.1",
            "192.168.1.1:8081",
            "[fd00::1]:8081",
            "[::1]",
            "openwrt",
            "openwrt:8081",
            "router.lan",
            "Router.LAN.",
            "cafe.home.arpa:8081",
            "localhost:8081",
        ] {
            assert!(host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8081",
            "192.168.1.1.nip.io",
            "lan.evil.com",
            "[not-v6]",
            "a b",
            "",
            "host:port",
        ] {
            assert!(!host_allowed(bad), "{bad}");
        }
    }
}
