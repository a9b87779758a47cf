//! The owner page through its handler: sign-in and first run, sessions on every route, CSRF on
//! every state change, lock-out, 403 from a guest address and from foreign host names, secrets
//! masked in every response, escaping, page weight; and what the pages do: packages written to
//! the config file (and applied live), vouchers with their print sheet and CSV, guest accounts
//! and the portal's sign-in, kick, extend, block, payments per day, reload without losing paid
//! guests, the API token.

use std::net::IpAddr;

use lango::core::payments::StkOutcome;
use lango::web::admin::Ctx;

use crate::support::{
    call_handler, guest, Owner, TempDir, TestEnv, ADMIN_HOST, ADMIN_ORIGIN, OWNER_PASSWORD,
};

/// Every signed-in route, with a form that would be valid (ids that may not exist).
const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/", ""),
    ("GET", "/guests", ""),
    ("GET", "/payments", ""),
    ("GET", "/payments?day=2027-01-15", ""),
    ("GET", "/payments.csv", ""),
    ("GET", "/events", ""),
    ("GET", "/events?show=security", ""),
    ("GET", "/packages", ""),
    ("GET", "/packages?edit=hour", ""),
    ("GET", "/vouchers", ""),
    ("GET", "/accounts", ""),
    ("GET", "/settings", ""),
    (
        "POST",
        "/packages",
        "name=Night&price=30&duration=8h&active=1",
    ),
    ("POST", "/packages/order", "id=hour&dir=up"),
    ("POST", "/packages/active", "id=hour&active=0"),
    ("POST", "/vouchers", "package=hour&count=2&days=1&prefix="),
    ("POST", "/vouchers/revoke", "code=ABCDEFGH23"),
    (
        "POST",
        "/accounts",
        "username=mary&password=secret1&package=&max_devices=1&expires=",
    ),
    ("POST", "/accounts/delete", "username=mary"),
    ("POST", "/sessions/revoke", "id=1"),
    ("POST", "/sessions/extend", "id=1&minutes=30"),
    ("POST", "/devices/block", "mac=aa:00:00:00:00:01"),
    ("POST", "/devices/unblock", "mac=aa:00:00:00:00:01"),
    ("POST", "/mpesa/check", ""),
    (
        "POST",
        "/settings/mpesa",
        "environment=sandbox&type=paybill&shortcode=174379",
    ),
    (
        "POST",
        "/settings/wallet",
        "wallet=airtel&airtel.enabled=0&airtel.country=KE&airtel.environment=sandbox",
    ),
    (
        "POST",
        "/settings/brand",
        "name=Cafe&colour=%23112233&language=en&utc_offset=%2B03%3A00",
    ),
    (
        "POST",
        "/settings/network",
        "admin_allow=127.0.0.0%2F8&interface=lan&device=br-lan&portal_addr=127.0.0.1",
    ),
    (
        "POST",
        "/settings/password",
        "current=x&password=yyyyyyyyy&again=yyyyyyyyy",
    ),
    ("POST", "/settings/guest-network", "undo=1"),
    ("POST", "/sms/1/approve", ""),
    ("POST", "/signout", ""),
];

fn owner_ip() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

/// A test env whose lango runs from a config file (the demo's), with the owner signed in.
pub(crate) fn shop() -> (TestEnv, TempDir, Owner) {
    let env = TestEnv::new();
    let dir = TempDir::new("admin");
    let path = dir.path("lango.conf");
    std::fs::write(&path, lango::daemon::DEMO_CONFIG).unwrap();
    let mut ctx = Ctx::new(env.app.clone(), None);
    ctx.config_path = Some(path);
    let owner = Owner::sign_in(ctx);
    (env, dir, owner)
}

fn anonymous(
    ctx: &Ctx,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> crate::support::Reply {
    let mut all = vec![("Host", ADMIN_HOST)];
    all.extend_from_slice(headers);
    call_handler(
        |r| lango::web::admin::handle(ctx, r),
        owner_ip(),
        method,
        path,
        &all,
        body,
    )
}

#[test]
fn every_route_needs_a_signed_in_owner() {
    let env = TestEnv::new();
    let ctx = Ctx::new(env.app.clone(), None);
    for (method, path, form) in ROUTES {
        let reply = anonymous(&ctx, method, path, &[("Origin", ADMIN_ORIGIN)], form);
        match *method {
            "GET" => assert_eq!(
                (reply.status, reply.header("Location")),
                (303, Some("/signin")),
                "{path}"
            ),
            _ => assert_eq!(reply.status, 401, "{method} {path}: {}", reply.body),
        }
    }
    // A cookie that is not a live session is no better.
    let forged = anonymous(
        &ctx,
        "GET",
        "/guests",
        &[("Cookie", "lango_owner=0123abcd")],
        "",
    );
    assert_eq!(forged.status, 303);
    // The JSON API answers 401 without the token or a session.
    for (method, path) in [("GET", "/api/overview"), ("POST", "/api/vouchers")] {
        let reply = anonymous(&ctx, method, path, &[], "package=hour&count=1");
        assert_eq!(reply.status, 401, "{path}");
    }
    assert!(env.app.store.read(|r| r.vouchers()).unwrap().is_empty());
}

#[test]
fn every_state_change_needs_the_csrf_token_and_the_same_origin() {
    let (env, _dir, owner) = shop();
    let vouchers = || env.app.store.read(|r| r.vouchers()).unwrap().len();
    let config_before = env.app.config();
    for (method, path, form) in ROUTES.iter().filter(|(m, ..)| *m == "POST") {
        let cookie = [("Cookie", owner.cookie.as_str()), ("Origin", ADMIN_ORIGIN)];
        let without = owner.raw(method, path, &cookie, form);
        assert_eq!(
            without.status, 403,
            "{path} without a token: {}",
            without.body
        );
        let wrong = owner.raw(method, path, &cookie, &format!("{form}&csrf=0000"));
        assert_eq!(wrong.status, 403, "{path} with a wrong token");
        let other_site = owner.raw(
            method,
            path,
            &[
                ("Cookie", owner.cookie.as_str()),
                ("Origin", "http://evil.example"),
            ],
            &format!("{form}&csrf={}", owner.csrf),
        );
        assert_eq!(other_site.status, 403, "{path} from another site");
        let no_origin = owner.raw(
            method,
            path,
            &[("Cookie", owner.cookie.as_str())],
            &format!("{form}&csrf={}", owner.csrf),
        );
        assert_eq!(no_origin.status, 403, "{path} without Origin or Referer");
    }
    assert_eq!(vouchers(), 0);
    assert_eq!(env.app.config(), config_before);
    assert!(owner.get("/guests").status == 200, "still signed in");
    // With the token and the page's origin the same form works.
    let made = owner.post("/vouchers", "package=hour&count=2&days=1&prefix=");
    assert_eq!(made.status, 303);
    assert_eq!(vouchers(), 2);
    // A GET never changes anything, whatever it carries.
    let get = owner.get("/vouchers?package=hour&count=5");
    assert_eq!((get.status, vouchers()), (200, 2));
}

#[test]
fn wrong_passwords_lock_the_address_out_with_back_off() {
    let env = TestEnv::new();
    let ctx = Ctx::new(env.app.clone(), None);
    let hash = lango::core::auth::hash_password(OWNER_PASSWORD).unwrap();
    env.app.set_owner_password_hash(&hash, "test").unwrap();
    let signin = |password: &str| {
        anonymous(
            &ctx,
            "POST",
            "/signin",
            &[("Origin", ADMIN_ORIGIN)],
            &format!("password={}", password.replace(' ', "+")),
        )
    };
    for _ in 0..lango::core::auth::FREE_FAILURES - 1 {
        let reply = signin("guess");
        assert_eq!(reply.status, 401);
        assert!(reply.body.contains("Wrong password."));
    }
    let locked = signin("guess");
    assert_eq!(locked.status, 401);
    assert!(locked.body.contains("wait 0m 30s"), "{}", locked.body);
    // Even the right password waits: nothing is hashed while locked out.
    let waiting = signin(OWNER_PASSWORD);
    assert_eq!(waiting.status, 429);
    assert_eq!(waiting.header("Retry-After"), Some("30"));
    assert!(waiting.header("Set-Cookie").is_none());
    env.clock.advance(30);
    assert_eq!(signin("guess").status, 401, "one more wrong try");
    assert_eq!(signin(OWNER_PASSWORD).status, 429, "now 60 s");
    env.clock.advance(60);
    let ok = signin(OWNER_PASSWORD);
    assert_eq!(ok.status, 303);
    let cookie = ok.header("Set-Cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Max-Age"), "a browser-session cookie");
    let events = env.app.store.read(|r| r.recent_events(20)).unwrap();
    assert!(events.iter().any(|e| e.kind == "owner_lockout"));
    assert!(events.iter().any(|e| e.kind == "owner_signin"));
}

#[test]
fn the_first_visit_sets_the_password_once() {
    let env = TestEnv::new();
    let ctx = Ctx::new(env.app.clone(), None);
    let page = anonymous(&ctx, "GET", "/signin", &[], "");
    assert!(
        page.body.contains("Choose the owner password"),
        "{}",
        page.body
    );
    assert!(page.body.contains("name=\"code\""), "the setup code field");
    let code = env
        .app
        .setup_code()
        .unwrap()
        .expect("a setup code before any password");
    let setup = |form: &str| {
        let form = format!("code={code}&{form}");
        anonymous(&ctx, "POST", "/setup", &[("Origin", ADMIN_ORIGIN)], &form)
    };
    assert_eq!(setup("password=short&again=short").status, 400);
    assert_eq!(
        setup("password=long+enough+1&again=long+enough+2").status,
        400
    );
    let cross = anonymous(
        &ctx,
        "POST",
        "/setup",
        &[("Origin", "http://evil.example")],
        &format!("code={code}&password=long+enough+1&again=long+enough+1"),
    );
    assert_eq!(cross.status, 403, "not from another site");
    let done = setup("password=long+enough+1&again=long+enough+1");
    assert_eq!(done.status, 303);
    assert!(done.header("Set-Cookie").is_some());
    let stored = env.app.owner_password_hash().unwrap().unwrap();
    assert!(stored.starts_with("pbkdf2-sha256$") && !stored.contains("long"));
    assert_eq!(
        setup("password=taken+over+1&again=taken+over+1").status,
        409
    );
    assert!(lango::core::auth::verify_password(
        &env.app.owner_password_hash().unwrap().unwrap(),
        "long enough 1"
    ));
    assert_eq!(env.app.setup_code().unwrap(), None, "the code is spent");
}

#[test]
fn a_guest_address_or_a_foreign_host_name_gets_403() {
    let (env, _dir, mut owner) = shop();
    let (guest_ip, _) = guest(1);
    let token = "t0k3n".to_string();
    owner.ctx.owner.api_token = Some(token.clone());
    let guest_call = |method: &str, path: &str, headers: &[(&str, &str)]| {
        call_handler(
            |r| lango::web::admin::handle(&owner.ctx, r),
            guest_ip,
            method,
            path,
            headers,
            "",
        )
    };
    let bearer = format!("Bearer {token}");
    for (method, path, _) in ROUTES
        .iter()
        .chain(&[("GET", "/signin", ""), ("POST", "/signin", "")])
    {
        let reply = guest_call(
            method,
            path,
            &[("Host", ADMIN_HOST), ("Cookie", &owner.cookie)],
        );
        assert_eq!(reply.status, 403, "{method} {path}");
    }
    let api = guest_call("GET", "/api/overview", &[("Authorization", &bearer)]);
    assert_eq!(api.status, 403, "the token does not widen admin_allow");
    // DNS rebinding: the owner's own browser, sent to the router under someone else's name.
    owner.ip = "127.0.0.1".parse().unwrap();
    let rebound = owner.raw(
        "GET",
        "/",
        &[("Host", "evil.example"), ("Cookie", &owner.cookie)],
        "",
    );
    assert_eq!(rebound.status, 403);
    let named = owner.raw(
        "GET",
        "/",
        &[("Host", "router.lan:8081"), ("Cookie", &owner.cookie)],
        "",
    );
    assert_eq!(named.status, 200);
    // The API token works from an allowed address; a wrong one does not.
    let ok = owner.raw("GET", "/api/overview", &[("Authorization", &bearer)], "");
    assert_eq!(ok.status, 200);
    let wrong = owner.raw(
        "GET",
        "/api/overview",
        &[("Authorization", "Bearer nope")],
        "",
    );
    assert_eq!(wrong.status, 401);
    let made = owner.raw(
        "POST",
        "/api/vouchers",
        &[("Authorization", &bearer)],
        "package=hour&count=1&days=1",
    );
    assert_eq!(made.status, 200, "{}", made.body);
    assert_eq!(env.app.store.read(|r| r.vouchers()).unwrap().len(), 1);
    // A signed-in browser may read the API; its POSTs need the CSRF header.
    let cookie = [("Cookie", owner.cookie.as_str())];
    assert_eq!(owner.raw("GET", "/api/overview", &cookie, "").status, 200);
    let no_header = owner.raw("POST", "/api/vouchers", &cookie, "package=hour&count=1");
    assert_eq!(no_header.status, 401);
    let with_header = owner.raw(
        "POST",
        "/api/vouchers",
        &[
            ("Cookie", owner.cookie.as_str()),
            ("X-CSRF-Token", owner.csrf.as_str()),
        ],
        "package=hour&count=1",
    );
    assert_eq!(with_header.status, 200);
}

#[test]
fn signing_out_ends_the_session() {
    let (_env, _dir, owner) = shop();
    let out = owner.post("/signout", "");
    assert_eq!(out.status, 303);
    assert!(out.header("Set-Cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(owner.get("/").header("Location"), Some("/signin"));
}

/// Every page and response an owner can see, with secrets set to recognisable values.
#[test]
fn secrets_never_appear_in_any_response() {
    let (env, dir, owner) = shop();
    let path = dir.path("lango.conf");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(
            "option consumer_key 'demo'",
            "option consumer_key 'KEY-7f3a9c1e'",
        )
        .replace(
            "option consumer_secret 'demo'",
            "option consumer_secret 'SECRET-51b2d8'",
        )
        .replace(
            "option passkey 'demo-passkey'",
            "option passkey 'PASSKEY-e4c0aa'",
        );
    // Issue 17: the RADIUS shared secret is never shown back either.
    let radius = "\nconfig radius 'radius'\n\toption server '192.0.2.10'\n\toption secret \
                  'RADIUS-9d2e41'\n";
    let text = if cfg!(feature = "radius") {
        text + radius
    } else {
        text
    };
    std::fs::write(&path, text).unwrap();
    lango::app::reconfigure::reload(&env.app, &path, None).unwrap();
    // A sale, a voucher, an account, a pending SMS: every kind of record.
    let (ip, _) = guest(1);
    let payment = env.app.start_purchase(ip, "hour", "0712345678").unwrap();
    env.advance(1);
    env.app
        .settle(
            payment.id,
            &StkOutcome::Paid {
                receipt: Some("UAB1234567".into()),
                amount: None,
            },
        )
        .unwrap();
    owner.post("/vouchers", "package=day&count=3&days=7&prefix=cafe");
    owner.post(
        "/accounts",
        "username=staff&password=Staff-Pass-99&package=&max_devices=2&expires=",
    );
    let account = env.app.store.read(|r| r.account("staff")).unwrap().unwrap();
    let batch = env.app.store.read(|r| r.vouchers()).unwrap()[0]
        .batch
        .clone();
    let secrets = [
        "KEY-7f3a9c1e",
        "SECRET-51b2d8",
        "PASSKEY-e4c0aa",
        "RADIUS-9d2e41",
        OWNER_PASSWORD,
        "Staff-Pass-99",
        account.password_hash.as_str(),
        payment.token.as_str(),
        "0712345678",
        "254712345678",
    ];
    let owner_hash = env.app.owner_password_hash().unwrap().unwrap();
    let mut pages: Vec<String> = ROUTES
        .iter()
        .filter(|(m, ..)| *m == "GET")
        .map(|(_, p, _)| p.to_string())
        .collect();
    pages.extend([
        format!("/vouchers?batch={batch}"),
        format!("/vouchers/print?batch={batch}"),
        format!("/vouchers.csv?batch={batch}"),
        "/accounts?edit=staff".into(),
        "/api/overview".into(),
        "/signin".into(),
    ]);
    for page in &pages {
        let reply = owner.get(page);
        assert_eq!(reply.status, 200, "{page}");
        for secret in secrets
            .iter()
            .chain([&owner_hash.as_str(), &owner.cookie[12..].as_ref()])
        {
            assert!(!reply.body.contains(secret), "{page} shows {secret}");
            for (_, v) in &reply.headers {
                assert!(
                    !v.contains(secret) || v.starts_with("lango_owner"),
                    "{page} header"
                );
            }
        }
    }
    let settings = owner.get("/settings").body;
    // Guests on lan: the owner is offered a network of their own (issue 15).
    assert!(
        settings.contains("Set up the guest network")
            && settings.contains("action=\"/settings/guest-network\""),
        "{settings}"
    );
    assert!(
        settings.contains("KEY-… (set)"),
        "the key's first characters: {settings}"
    );
    assert!(
        !settings.contains("SECR") && !settings.contains("PASS"),
        "{settings}"
    );
    // Saving M-Pesa settings with the secret fields blank keeps the stored secrets.
    let saved = owner.post_and_follow(
        "/settings/mpesa",
        "environment=simulator&type=paybill&shortcode=174379&till=&account_reference=Cafe&callback_url=&consumer_key=&consumer_secret=&passkey=",
    );
    assert!(
        saved.body.contains("M-Pesa settings saved"),
        "{}",
        saved.body
    );
    let m = env.app.config().mpesa.clone().unwrap();
    assert_eq!(
        (m.consumer_secret.as_str(), m.passkey.as_str()),
        ("SECRET-51b2d8", "PASSKEY-e4c0aa")
    );
    assert_eq!(m.account_reference, "Cafe");
}

#[test]
fn guest_supplied_and_owner_supplied_text_is_escaped() {
    let (env, _dir, owner) = shop();
    let (ip, mac) = guest(1);
    env.neighbours.name(mac, "<img src=x onerror=alert(1)>");
    env.app.start_purchase(ip, "hour", "0712345678").unwrap();
    env.advance(1);
    owner.post(
        "/packages",
        "name=%3Cscript%3Ex%3C%2Fscript%3E&price=5&duration=1h&active=1&id=evil",
    );
    for page in ["/guests", "/payments", "/packages", "/events", "/"] {
        let body = owner.get(page).body;
        assert!(
            !body.contains("<img src=x") && !body.contains("<script>x"),
            "{page}: {body}"
        );
    }
    assert!(owner.get("/payments").body.contains("&lt;img src=x"));
    assert!(owner.get("/packages").body.contains("&lt;script&gt;x"));
}

/// Issue 13, item 11: a hand-edited byte that is not UTF-8 (libuci takes it) and an unnamed
/// package called "Main" (whose id was the gateway's section name) each locked every edit on
/// the owner page. Both now save, and the file written back is valid.
#[test]
fn r13_a_latin1_byte_and_an_unnamed_main_package_do_not_lock_the_owner_page() {
    let (env, dir, owner) = shop();
    let path = dir.path("lango.conf");
    let mut text = lango::daemon::DEMO_CONFIG
        .replace("Mama Mboga Cafe Wi-Fi", "Caf\u{e9}")
        .into_bytes();
    // The é as Latin-1, as an editor on another machine might save it.
    let at = text
        .windows(2)
        .position(|w| w == "\u{e9}".as_bytes())
        .unwrap();
    text.splice(at..at + 2, [0xe9]);
    text.extend_from_slice(
        b"\nconfig package\n\toption name 'Main'\n\toption price 10\n\toption duration 1h\n",
    );
    std::fs::write(&path, &text).unwrap();
    assert!(lango::core::config::load(&path).is_ok());
    // "Brand" makes the id of the brand section: it gets another.
    for name in ["Late+Night", "Brand"] {
        let form = format!("id=&name={name}&price=30&duration=8h&active=1");
        let page = owner.post_and_follow("/packages", &form);
        assert!(page.body.contains("saved."), "{}", page.body);
    }
    let config = lango::core::config::load(&path).unwrap();
    let mut ids: Vec<&str> = config.packages.iter().map(|p| p.id.as_str()).collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "brand_2",
            "day",
            "hour",
            "late_night",
            "main_2",
            "min30",
            "week"
        ]
    );
    assert_eq!(config.brand.name, "Caf\u{fffd}");
    assert_eq!(env.app.config().packages.len(), 7);
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(written.matches("'main'").count(), 1, "{written}");
    assert_eq!(written.matches("'brand'").count(), 1, "{written}");
}

#[test]
fn packages_are_written_to_the_config_file_and_apply_at_once() {
    let (env, dir, owner) = shop();
    let path = dir.path("lango.conf");
    let page = owner.post_and_follow(
        "/packages",
        "id=&name=Late+Night&price=30&duration=8h&data=2GB&rate_down=4M&rate_up=&active=1",
    );
    assert!(
        page.body.contains("Package Late Night saved."),
        "{}",
        page.body
    );
    let config = env.app.config();
    let night = config.package("late_night").expect("live at once");
    assert_eq!(
        (night.price.0, night.duration_secs, night.order),
        (3000, 28_800, 5)
    );
    let on_disk = lango::core::config::load(&path).unwrap();
    assert_eq!(
        on_disk.package("late_night"),
        Some(night),
        "uci sees the same"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("config package 'late_night'\n\toption name 'Late Night'"),
        "{text}"
    );
    // The portal sells it at once.
    let (ip, _) = guest(2);
    assert!(env
        .app
        .start_purchase(ip, "late_night", "0712345679")
        .is_ok());
    // Edit, deactivate, reorder.
    owner.post(
        "/packages",
        "edit=late_night&name=Night&price=35&duration=10h&active=1",
    );
    assert_eq!(
        env.app.config().package("late_night").unwrap().price.0,
        3500
    );
    owner.post("/packages/active", "id=late_night&active=0");
    assert!(!env.app.config().package("late_night").unwrap().active);
    assert!(env
        .app
        .config()
        .active_packages()
        .all(|p| p.id != "late_night"));
    owner.post("/packages/order", "id=hour&dir=up");
    let order: Vec<String> = env
        .app
        .config()
        .packages
        .iter()
        .map(|p| p.id.clone())
        .collect();
    assert_eq!(order[..2], ["hour".to_string(), "min30".to_string()]);
    // A bad edit writes nothing and says why, as an error (not the green banner), with the
    // form shown again as typed (issue 16).
    let before = std::fs::read_to_string(&path).unwrap();
    let bad = owner.post(
        "/packages",
        "edit=hour&name=Hourly+Plus&price=abc&duration=90m&active=1",
    );
    assert_eq!(bad.status, 400);
    assert!(
        bad.body
            .contains("<div class=\"alert-message error\">Not saved")
            && bad.body.contains("&#39;abc&#39; is not a price")
            && !bad.body.contains("alert-message success"),
        "{}",
        bad.body
    );
    for kept in [
        "value=\"Hourly Plus\"",
        "value=\"abc\"",
        "value=\"90m\"",
        "name=\"edit\" value=\"hour\"",
    ] {
        assert!(bad.body.contains(kept), "{kept}: {}", bad.body);
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    assert_eq!(env.app.config().package("hour").unwrap().price.0, 2000);
    let dup = owner.post("/packages", "id=hour&name=Other&price=1&duration=1h");
    assert_eq!(dup.status, 400);
    assert!(
        dup.body.contains("already a package") && dup.body.contains("value=\"Other\""),
        "{}",
        dup.body
    );
    // Done is green; nothing to do is a warning.
    let done = owner.post_and_follow("/packages/order", "id=hour&dir=down");
    assert!(done.body.contains("alert-message success\">Order saved."));
    let first = &env.app.config().packages[0].id.clone();
    let noop = owner.post_and_follow("/packages/order", &format!("id={first}&dir=up"));
    assert!(
        noop.body.contains("alert-message warning\">Already there."),
        "{}",
        noop.body
    );
}

#[test]
fn vouchers_batch_print_sheet_csv_and_revoke() {
    let (env, _dir, owner) = shop();
    let page = owner.post_and_follow("/vouchers", "package=day&count=12&days=7&prefix=cafe");
    assert!(page.body.contains("Made 12 vouchers"), "{}", page.body);
    let list = env.app.store.read(|r| r.vouchers()).unwrap();
    assert_eq!(list.len(), 12);
    assert!(list
        .iter()
        .all(|v| v.code.starts_with("CAFE") && v.code.len() == 14));
    let batch = list[0].batch.clone();
    let sheet = owner.get(&format!("/vouchers/print?batch={batch}"));
    assert_eq!(
        sheet.body.matches("<svg").count(),
        12,
        "a QR code per voucher"
    );
    assert!(sheet
        .body
        .contains(&lango::core::vouchers::display(&list[0].code)));
    assert!(!sheet.body.contains("<script src") && !sheet.body.contains("http://fonts"));
    // Each card: the Wi-Fi's name, the price, how long it lasts and until when it can be used,
    // in English and in Kiswahili (issue 16).
    for words in [
        "Wi-Fi: <b>Mama Mboga Cafe Wi-Fi</b>",
        "1 Day · KES 50 · 1 day",
        "Muda: siku 1.",
        "Use by ",
        "Tumia kabla ya ",
        "nambari ya vocha",
    ] {
        assert_eq!(
            sheet.body.matches(words).count(),
            12,
            "{words}: {}",
            sheet.body
        );
    }
    let csv = owner.get(&format!("/vouchers.csv?batch={batch}"));
    assert_eq!(csv.header("Content-Type"), Some("text/csv; charset=utf-8"));
    assert_eq!(csv.body.lines().count(), 13);
    // A guest redeems one (typed the way it is printed); the owner sees by whom.
    let (ip, mac) = guest(1);
    env.neighbours.name(mac, "Amina-phone");
    env.app
        .redeem(ip, &lango::core::vouchers::display(&list[0].code))
        .unwrap();
    let shown = owner.get(&format!("/vouchers?batch={batch}")).body;
    assert!(
        shown.contains("Amina-phone") && shown.contains(&mac.to_string()),
        "{shown}"
    );
    // Revoke an unused one: it can no longer be redeemed, and drops off the print sheet.
    let revoked = owner.post_and_follow(
        "/vouchers/revoke",
        &format!("code={}&batch={batch}", list[1].code),
    );
    assert!(revoked.body.contains("revoked"), "{}", revoked.body);
    assert!(env.app.redeem(guest(2).0, &list[1].code).is_err());
    assert_eq!(
        owner
            .get(&format!("/vouchers/print?batch={batch}"))
            .body
            .matches("<svg")
            .count(),
        10
    );
    let again = owner.post_and_follow("/vouchers/revoke", &format!("code={}", list[0].code));
    assert!(again.body.contains("already used or revoked"));
    // The QR code's URL fills the voucher field on the portal.
    let portal = call_handler(
        |r| lango::web::portal::handle(&lango::web::portal::Ctx::new(owner.ctx.app.clone()), r),
        guest(3).0,
        "GET",
        &format!("/?code={}", list[2].code),
        &[("Host", "127.0.0.1:8080")],
        "",
    );
    assert!(
        portal.body.contains(&format!("value=\"{}\"", list[2].code)),
        "{}",
        portal.body
    );
    let hostile = call_handler(
        |r| lango::web::portal::handle(&lango::web::portal::Ctx::new(owner.ctx.app.clone()), r),
        guest(3).0,
        "GET",
        "/?code=%22%3E%3Cscript%3E",
        &[("Host", "127.0.0.1:8080")],
        "",
    );
    assert!(
        !hostile.body.contains("\"><script>") && hostile.body.contains("&quot;&gt;&lt;script&gt;")
    );
    let bad = owner.post("/vouchers", "package=day&count=2&days=7&prefix=%3Cb%3E");
    assert_eq!(bad.status, 400);
    for shown in [
        "alert-message error\">Not made: the prefix",
        "value=\"&lt;b&gt;\"",
        "name=\"days\" value=\"7\"",
        "<option value=\"day\" selected>",
    ] {
        assert!(bad.body.contains(shown), "{shown}: {}", bad.body);
    }
}

#[test]
fn accounts_sign_guests_in_on_the_portal() {
    let (env, _dir, owner) = shop();
    let page = owner.post_and_follow(
        "/accounts",
        "username=Mary&password=kitchen42&package=day&max_devices=1&expires=&note=Mary%2C+kitchen",
    );
    assert!(page.body.contains("Account mary saved."), "{}", page.body);
    assert!(!page.body.contains("kitchen42"));
    // A refused account comes back red, as typed, but without its password.
    let bad = owner.post(
        "/accounts",
        "username=juma&password=counter77&package=day&max_devices=99&expires=&note=Juma+at+the+till",
    );
    assert_eq!(bad.status, 400);
    for shown in [
        "alert-message error\">Not saved: devices at once is 1 to 20.",
        "value=\"juma\"",
        "value=\"99\"",
        "value=\"Juma at the till\"",
        "<option value=\"day\" selected>",
    ] {
        assert!(bad.body.contains(shown), "{shown}: {}", bad.body);
    }
    assert!(!bad.body.contains("counter77"));
    let stored = env.app.store.read(|r| r.account("mary")).unwrap().unwrap();
    assert!(stored.password_hash.starts_with("pbkdf2-sha256$"));
    let login = |n: u8, user: &str, pass: &str| {
        call_handler(
            |r| lango::web::portal::handle(&lango::web::portal::Ctx::new(owner.ctx.app.clone()), r),
            guest(n).0,
            "POST",
            "/api/portal/login",
            &[
                ("Host", "127.0.0.1:8080"),
                ("Content-Type", "application/json"),
            ],
            &serde_json::json!({"username": user, "password": pass}).to_string(),
        )
    };
    let wrong = login(1, "mary", "kitchen43");
    assert_eq!(wrong.status, 401);
    assert!(!wrong.body.contains("kitchen"));
    assert_eq!(
        login(1, "nobody", "kitchen42").status,
        401,
        "the same answer"
    );
    let ok = login(1, "MARY", "kitchen42");
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(!ok.body.contains("kitchen42") && !ok.body.contains("pbkdf2"));
    let session = env
        .app
        .store
        .read(|r| r.active_session(guest(1).1))
        .unwrap()
        .unwrap();
    assert_eq!(session.terms.package_id, "day");
    assert_eq!(
        login(1, "mary", "kitchen42").status,
        200,
        "the same device again"
    );
    assert_eq!(
        login(2, "mary", "kitchen42").status,
        409,
        "one device at once"
    );
    // The portal's form does the same; the login card shows once an account exists.
    let home = call_handler(
        |r| lango::web::portal::handle(&lango::web::portal::Ctx::new(owner.ctx.app.clone()), r),
        guest(2).0,
        "GET",
        "/",
        &[("Host", "127.0.0.1:8080")],
        "",
    );
    assert!(home.body.contains("Have an account?"));
    // Two devices, an expiry: the second device signs in, the session ends with the account.
    let tomorrow = lango::core::time::date_of_day(lango::core::time::local_day(
        lango::core::time::Clock::now(env.clock.as_ref()) + 86_400,
        10_800,
    ));
    owner.post(
        "/accounts",
        &format!("edit=mary&password=&package=day&max_devices=2&expires={tomorrow}"),
    );
    let form = call_handler(
        |r| lango::web::portal::handle(&lango::web::portal::Ctx::new(owner.ctx.app.clone()), r),
        guest(2).0,
        "POST",
        "/login",
        &[("Host", "127.0.0.1:8080")],
        "username=mary&password=kitchen42",
    );
    assert_eq!(form.status, 303, "{}", form.body);
    let second = env
        .app
        .store
        .read(|r| r.active_session(guest(2).1))
        .unwrap()
        .unwrap();
    let account = env.app.store.read(|r| r.account("mary")).unwrap().unwrap();
    assert!(second.deadline <= account.expires_at.unwrap());
    assert_eq!(
        account.password_hash, stored.password_hash,
        "a blank password keeps it"
    );
    // Disabling ends its sessions; deleting too.
    owner.post(
        "/accounts",
        "edit=mary&password=&package=day&max_devices=2&expires=&disabled=1",
    );
    assert!(env
        .app
        .store
        .read(|r| r.active_session(guest(1).1))
        .unwrap()
        .is_none());
    assert_eq!(login(3, "mary", "kitchen42").status, 403);
    owner.post("/accounts/delete", "username=mary");
    assert!(env.app.store.read(|r| r.account("mary")).unwrap().is_none());
}

#[test]
fn guests_kick_extend_block() {
    let (env, _dir, owner) = shop();
    let (ip, mac) = guest(1);
    let codes = env
        .app
        .generate_vouchers("hour", 2, "", None)
        .unwrap()
        .unwrap();
    let session = env.app.redeem(ip, &codes[0].code).unwrap();
    env.app.run_due();
    assert!(env.firewall.allows(mac));
    let page = owner.get("/guests").body;
    assert!(
        page.contains(&mac.to_string()) && page.contains("Kick"),
        "{page}"
    );
    let extended =
        owner.post_and_follow("/sessions/extend", &format!("id={}&minutes=60", session.id));
    assert!(extended.body.contains("now ends at"), "{}", extended.body);
    let now = env
        .app
        .store
        .read(|r| r.session(session.id))
        .unwrap()
        .unwrap();
    assert_eq!(now.deadline, session.deadline + 3600);
    let kicked = owner.post_and_follow("/sessions/revoke", &format!("id={}", session.id));
    assert!(kicked.body.contains("ended"), "{}", kicked.body);
    env.app.run_due();
    assert!(!env.firewall.allows(mac));
    owner.post("/devices/block", &format!("mac={mac}"));
    assert!(
        env.app.redeem(ip, &codes[1].code).is_err(),
        "a blocked device cannot redeem"
    );
    assert!(owner.get("/guests").body.contains("Unblock"));
    owner.post("/devices/unblock", &format!("mac={mac}"));
    assert!(env.app.redeem(ip, &codes[1].code).is_ok());
}

/// Two purchases: the 1 Hour package (KES 20) paid, with the receipt a callback would bring,
/// and the 1 Day one ended by a wrong PIN (the simulator). Returns the receipt.
fn sell_one_and_decline_one(env: &TestEnv) -> String {
    let paid = env
        .app
        .start_purchase(guest(1).0, "hour", "0712345678")
        .unwrap();
    env.app
        .start_purchase(guest(2).0, "day", "0712342001")
        .unwrap();
    env.advance(1);
    let receipt = "UAB7654321".to_string();
    let outcome = StkOutcome::Paid {
        receipt: Some(receipt.clone()),
        amount: None,
    };
    assert!(env.app.settle(paid.id, &outcome).unwrap());
    env.advance(4);
    receipt
}

#[test]
fn payments_per_day_with_totals_and_csv() {
    let (env, _dir, owner) = shop();
    let receipt = sell_one_and_decline_one(&env);
    let page = owner.get("/payments").body;
    assert!(
        page.contains(&receipt) && page.contains("2547****5678"),
        "{page}"
    );
    assert!(page.contains("1 paid prompt, KES 20 "), "{page}");
    assert!(
        page.contains("wrong PIN") || page.contains(">failed<"),
        "{page}"
    );
    let today = lango::core::time::date_of_day(lango::core::time::local_day(
        lango::core::time::Clock::now(env.clock.as_ref()),
        10_800,
    ));
    let csv = owner.get(&format!("/payments.csv?day={today}")).body;
    assert!(
        csv.contains(&format!(
            "\"{receipt}\",\"2547****5678\",\"1 Hour\",\"20\",\"paid\""
        )),
        "{csv}"
    );
    let empty = owner.get("/payments?day=2026-01-02").body;
    assert!(empty.contains("No payment that day."));
    let dashboard = owner.get("/").body;
    assert!(dashboard.contains("KES 20<"), "{dashboard}");
    assert!(
        dashboard.contains("50%"),
        "1 of 2 prompts paid: {dashboard}"
    );
}

/// A busy shop: 100 guests online, 100 payments today, 500 vouchers in one batch, 60 accounts,
/// hundreds of events. Every page stays under 60 KB (long lists come in pages of 50) and loads
/// nothing from elsewhere; the print sheet is the exception in size.
#[test]
fn every_page_is_small_and_self_contained() {
    let (env, _dir, owner) = shop();
    let codes = env
        .app
        .generate_vouchers("hour", 100, "", None)
        .unwrap()
        .unwrap();
    for n in 0..100u8 {
        let ip = IpAddr::from([192, 168, 2, n]);
        let mac = lango::core::model::Mac([0xbb, 0, 0, 0, 1, n]);
        env.neighbours.insert(ip, mac);
        env.neighbours
            .name(mac, &format!("phone-of-guest-number-{n}"));
        env.app.redeem(ip, &codes[usize::from(n)].code).unwrap();
        env.app
            .start_purchase(ip, "day", &format!("07123456{n:02}"))
            .unwrap();
    }
    env.advance(1);
    owner.post("/vouchers", "package=day&count=500&days=7&prefix=cafe");
    let hash = lango::core::auth::hash_password("kitchen42").unwrap();
    for n in 0..60 {
        let account = lango::core::accounts::Account {
            username: format!("regular{n}"),
            password_hash: hash.clone(),
            package_id: Some("day".into()),
            expires_at: None,
            max_devices: 2,
            note: "a regular at the counter".into(),
            created_at: 0,
            disabled: false,
            last_login: None,
        };
        env.app.put_account(account).unwrap();
    }
    let batch = env
        .app
        .store
        .read(|r| r.vouchers())
        .unwrap()
        .into_iter()
        .find(|v| v.code.starts_with("CAFE"))
        .unwrap()
        .batch;
    let mut paths: Vec<String> = ROUTES
        .iter()
        .filter(|(m, ..)| *m == "GET")
        .map(|(_, p, _)| p.to_string())
        .collect();
    paths.extend([
        format!("/vouchers?batch={batch}"),
        format!("/vouchers?batch={batch}&page=10"),
        "/guests?page=2".into(),
        "/events?page=3".into(),
    ]);
    let mut sizes = Vec::new();
    for path in &paths {
        let reply = owner.get(path);
        assert_eq!(reply.status, 200, "{path}");
        assert!(
            reply.body.len() < 60_000,
            "{path} is {} bytes",
            reply.body.len()
        );
        for external in ["src=\"http", "href=\"http", "@import", "url(http"] {
            assert!(!reply.body.contains(external), "{path} loads {external}");
        }
        sizes.push(format!("{path} {} B", reply.body.len()));
    }
    assert!(
        owner.get("/guests").body.contains("Next"),
        "100 guests are 2 pages"
    );
    let sheet = owner.get(&format!("/vouchers/print?batch={batch}"));
    assert_eq!(sheet.body.matches("<svg").count(), 500);
    sizes.push(format!(
        "print sheet of 500 vouchers {} B",
        sheet.body.len()
    ));
    eprintln!("owner page sizes: {}", sizes.join(", "));
}

#[test]
fn a_bad_reload_keeps_the_running_config_and_paid_guests() {
    let (env, dir, _owner) = shop();
    let path = dir.path("lango.conf");
    let (ip, mac) = guest(1);
    let code = env.hour_voucher();
    env.app.redeem(ip, &code).unwrap();
    env.app.run_due();
    assert!(env.firewall.allows(mac));
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        good.replace("option price '20'", "option prise '25'"),
    )
    .unwrap();
    let refused = lango::app::reconfigure::reload(&env.app, &path, None).unwrap_err();
    assert!(refused.contains("prise"), "{refused}");
    assert_eq!(env.app.config().package("hour").unwrap().price.0, 2000);
    std::fs::write(
        &path,
        good.replace("option price '20'", "option price '25'"),
    )
    .unwrap();
    lango::app::reconfigure::reload(&env.app, &path, None).unwrap();
    assert_eq!(env.app.config().package("hour").unwrap().price.0, 2500);
    env.app.run_due();
    assert!(env.firewall.allows(mac), "the paid guest stays online");
    let session = env
        .app
        .store
        .read(|r| r.active_session(mac))
        .unwrap()
        .unwrap();
    assert_eq!(
        session.terms.price.0, 2000,
        "sessions keep the terms they were bought with"
    );
}

#[test]
fn the_app_owns_the_owner_limits() {
    use lango::app::OwnerError;
    use lango::core::{sessions, vouchers};
    let env = TestEnv::new();
    let too_many = env
        .app
        .generate_vouchers("hour", vouchers::MAX_BATCH + 1, "", None);
    assert!(
        matches!(too_many, Err(OwnerError::OutOfRange(_))),
        "{too_many:?}"
    );
    assert!(matches!(
        env.app.generate_vouchers("hour", 0, "", None),
        Err(OwnerError::OutOfRange(_))
    ));
    assert!(matches!(
        env.app
            .generate_vouchers("hour", 1, "", Some(vouchers::MAX_VALID_DAYS + 1)),
        Err(OwnerError::OutOfRange(_))
    ));
    let list = env
        .app
        .generate_vouchers("hour", 1, "", Some(vouchers::MAX_VALID_DAYS))
        .unwrap()
        .unwrap();
    let session = env
        .app
        .redeem(crate::support::guest(1).0, &list[0].code)
        .unwrap();
    assert!(matches!(
        env.app
            .extend_session(session.id, sessions::MAX_EXTEND_MINUTES + 1),
        Err(OwnerError::OutOfRange(_))
    ));
    assert!(matches!(
        env.app.extend_session(session.id, 0),
        Err(OwnerError::OutOfRange(_))
    ));
    let longer = env
        .app
        .extend_session(session.id, sessions::MAX_EXTEND_MINUTES)
        .unwrap()
        .unwrap();
    assert_eq!(
        longer.deadline,
        session.deadline + sessions::MAX_EXTEND_MINUTES as i64 * 60
    );
}

#[test]
fn a_control_character_in_a_form_field_is_refused_and_the_file_kept() {
    let (env, dir, owner) = shop();
    let path = dir.path("lango.conf");
    let before = std::fs::read_to_string(&path).unwrap();
    for bad in [
        "Night%00Bar",
        "Night%0Aoption%20price%20'1'",
        "Night%0DBar",
        "Night%1BBar",
    ] {
        let reply = owner.post(
            "/packages",
            &format!("edit=&id=evil&name={bad}&price=35&duration=10h&active=1"),
        );
        assert!(
            reply.status == 400 && reply.body.contains("control character"),
            "{bad}: {}",
            reply.body
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before, "{bad}");
    }
    assert!(env.app.config().package("evil").is_none());
    // A tab is allowed (libuci's rule), and the page still saves good input.
    owner.post(
        "/packages",
        "edit=&id=tabbed&name=Night%09Owl&price=35&duration=10h&active=1",
    );
    assert_eq!(
        env.app.config().package("tabbed").map(|p| p.name.clone()),
        Some("Night\tOwl".to_string())
    );
}

/// Issue 16: events and payments in the owner's words and time zone. A failed payment is not
/// green and a routine sign-in not red; setting the password on first run is not a sign-in;
/// amounts carry the currency; times are the owner's (`utc_offset`), never UTC; no ResultCode,
/// "callback" or plural slip reaches the page.
#[test]
fn r16_events_and_payments_read_in_words_and_local_time() {
    let env = TestEnv::new();
    let ctx = Ctx::new(env.app.clone(), None);
    let code = env.app.setup_code().unwrap().unwrap();
    let password = OWNER_PASSWORD.replace(' ', "+");
    let first = anonymous(
        &ctx,
        "POST",
        "/setup",
        &[("Origin", ADMIN_ORIGIN)],
        &format!("code={code}&password={password}&again={password}"),
    );
    assert_eq!(first.status, 303, "{}", first.body);
    let events = env.app.store.read(|r| r.recent_events(20)).unwrap();
    assert!(
        !events.iter().any(|e| e.kind == "owner_signin"),
        "first run sets a password, it is not a sign-in: {events:?}"
    );
    let owner = crate::support::Owner::sign_in(ctx);
    sell_one_and_decline_one(&env);
    let page = owner.get("/events").body;
    let detail = |kind: &str| {
        let events = env.app.store.read(|r| r.recent_events(50)).unwrap();
        events
            .into_iter()
            .find(|e| e.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} event"))
            .detail
    };
    let paid_detail = detail("payment_paid");
    assert!(paid_detail.contains("KES 20 "), "{paid_detail}");
    let session = env.app.store.read(|r| r.active_sessions()).unwrap()[0].clone();
    let local = lango::core::time::local_minute(session.deadline, 10_800);
    assert!(
        paid_detail.contains(&format!("until {local}")),
        "{local}: {paid_detail}"
    );
    let failed = detail("payment_failed");
    assert!(
        failed.contains("wrong PIN") && !failed.contains("ResultCode"),
        "{failed}"
    );
    for (words, not) in [
        ("payment failed", "label success"),
        ("payment paid", "label important"),
        ("signed in", "label important"),
    ] {
        assert!(
            page.contains(&format!(">{words}</span>")),
            "{words}: {page}"
        );
        assert!(
            !page.contains(&format!("{not}\">{words}<")),
            "{words}: {page}"
        );
    }
    let payments = owner.get("/payments").body;
    assert!(payments.contains("1 paid prompt, KES 20"), "{payments}");
    for page in [&page, &payments] {
        for raw in ["ResultCode", "callback said", ":00Z", "party B"] {
            assert!(!page.contains(raw), "{raw}: {page}");
        }
    }
    assert!(payments.contains("wrong PIN"), "{payments}");
    // Why a session ended, in words.
    owner.post("/sessions/revoke", &format!("id={}", session.id));
    let guests = owner.get("/guests").body;
    assert!(guests.contains(">ended by the owner or moved<"), "{guests}");
}

/// The owner gives a package's words in both languages and the terms address from the owner
/// page (issue 16): written to the config file, shown on the portal in the guest's language;
/// and the packages table says lengths in words, not `30m`.
#[test]
fn package_words_in_both_languages_and_the_terms_link_are_edited_from_the_owner_page() {
    let (env, dir, owner) = shop();
    let page = owner.post_and_follow(
        "/packages",
        "edit=hour&name=1+Hour&name_sw=Saa+Moja&description=Good+for+calls\
         &description_sw=Nzuri+kwa+simu&price=20&duration=1h&active=1",
    );
    assert!(page.body.contains("Package 1 Hour saved."), "{}", page.body);
    let hour = env.app.config().package("hour").cloned().unwrap();
    assert_eq!(
        (hour.name_sw.as_deref(), hour.description.as_deref()),
        (Some("Saa Moja"), Some("Good for calls"))
    );
    assert_eq!(hour.description_sw.as_deref(), Some("Nzuri kwa simu"));
    let text = std::fs::read_to_string(dir.path("lango.conf")).unwrap();
    assert!(text.contains("\toption name_sw 'Saa Moja'\n"), "{text}");
    // The form shows them back for editing.
    let form = owner.get("/packages?edit=hour").body;
    assert!(form.contains("value=\"Saa Moja\"") && form.contains("value=\"Nzuri kwa simu\""));
    // Emptied, the option leaves the file.
    owner.post_and_follow(
        "/packages",
        "edit=hour&name=1+Hour&name_sw=&description=&description_sw=&price=20&duration=1h&active=1",
    );
    let text = std::fs::read_to_string(dir.path("lango.conf")).unwrap();
    let hour_section = text.split("config package 'hour'").nth(1).unwrap();
    let hour_section = hour_section.split("config ").next().unwrap();
    assert!(
        !hour_section.contains("name_sw") && !hour_section.contains("description"),
        "{text}"
    );
    // Lengths in words in the table.
    let table = owner.get("/packages").body;
    assert!(
        table.contains("<td>30 minutes</td>") || table.contains(">30 minutes<"),
        "{table}"
    );
    assert!(!table.contains(">30m<"), "{table}");

    let settings = owner.post_and_follow(
        "/settings/brand",
        "name=Cafe&colour=%23336699&phone=&email=&terms_url=https%3A%2F%2Fcafe.example%2Fterms\
         &language=en&utc_offset=%2B03%3A00",
    );
    assert!(
        settings.body.contains("Branding saved."),
        "{}",
        settings.body
    );
    assert_eq!(
        env.app.config().brand.terms_url.as_deref(),
        Some("https://cafe.example/terms")
    );
    assert!(owner
        .get("/settings")
        .body
        .contains("value=\"https://cafe.example/terms\""));
    // A bad address is refused with the line, and nothing is written.
    let before = std::fs::read_to_string(dir.path("lango.conf")).unwrap();
    let bad = owner.post(
        "/settings/brand",
        "name=Cafe&colour=%23336699&phone=&email=&terms_url=javascript%3Aalert(1)\
         &language=en&utc_offset=%2B03%3A00",
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(
        std::fs::read_to_string(dir.path("lango.conf")).unwrap(),
        before
    );
}
