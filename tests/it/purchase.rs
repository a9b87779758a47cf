//! A purchase through the real HTTP listeners, the worker thread, the simulated Daraja and the
//! demo's recording firewall: package list, STK push, payment page, active session, expiry.
//! Also the portal's and owner page's answers to bad input.

use std::net::SocketAddr;
use std::sync::Arc;

use lango::adapters::neighbours::LoopbackNeighbours;
use lango::adapters::simulator::Simulator;
use lango::adapters::testing::ManualClock;
use lango::app::Env;
use lango::core::firewall::RecordingFirewall;
use lango::daemon::{self, Running};
use lango::store::Store;

use crate::support::{demo_config, eventually, form_post, http, T0};

struct Live {
    running: Option<Running>,
    portal: SocketAddr,
    admin: SocketAddr,
    clock: Arc<ManualClock>,
    firewall: Arc<RecordingFirewall>,
}

impl Live {
    fn start() -> Live {
        let mut config = demo_config();
        config.gateway.portal_port = 0;
        config.gateway.admin_port = 0;
        let clock = Arc::new(ManualClock::new(T0));
        let firewall = Arc::new(RecordingFirewall::default());
        let sim = Arc::new(Simulator::new(clock.clone(), 3));
        let env = Env {
            clock: clock.clone(),
            firewall: firewall.clone(),
            neighbours: Arc::new(LoopbackNeighbours),
            gateway: sim.clone(),
        };
        let options = daemon::Options {
            simulator: Some(sim),
            ..daemon::Options::default()
        };
        let running = daemon::start(config, Store::in_memory().unwrap(), env, options).unwrap();
        Live {
            portal: running.portal,
            admin: running.admin,
            running: Some(running),
            clock,
            firewall,
        }
    }

    /// Signs in to the owner page over HTTP: the session cookie and its CSRF token.
    fn owner(&self) -> (String, String) {
        let app = self.app();
        if app.owner_password_hash().unwrap().is_none() {
            let hash = lango::core::auth::hash_password(crate::support::OWNER_PASSWORD).unwrap();
            app.set_owner_password_hash(&hash, "test").unwrap();
        }
        let origin = format!("http://{}", self.admin);
        let signed = http(
            self.admin,
            "POST",
            "/signin",
            &[
                ("Origin", origin.as_str()),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            &format!(
                "password={}",
                crate::support::OWNER_PASSWORD.replace(' ', "+")
            ),
        );
        assert_eq!(signed.status, 303, "{}", signed.body);
        let cookie = signed.header("Set-Cookie").unwrap();
        let cookie = cookie.split(';').next().unwrap().to_string();
        let page = http(self.admin, "GET", "/", &[("Cookie", cookie.as_str())], "");
        (cookie, crate::support::csrf_in(&page.body))
    }

    /// Lets time pass and wakes the worker.
    fn advance(&self, secs: i64) {
        self.clock.advance(secs);
        if let Some(r) = &self.running {
            r.app.due_jobs_wake();
        }
    }

    fn app(&self) -> &lango::app::App {
        &self.running.as_ref().unwrap().app
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop();
        }
    }
}

#[test]
fn a_guest_buys_a_package_and_it_runs_out() {
    let live = Live::start();
    let packages = http(live.portal, "GET", "/api/packages", &[], "");
    assert_eq!(packages.status, 200);
    let json: serde_json::Value = serde_json::from_str(&packages.body).unwrap();
    let names: Vec<&str> = json["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["30 Minutes", "1 Hour", "1 Day", "7 Days"]);

    let home = http(live.portal, "GET", "/", &[], "");
    assert_eq!(home.status, 200);
    assert!(
        home.body.contains("1 Hour") && home.body.contains("KES 20"),
        "{}",
        home.body
    );

    let bought = form_post(live.portal, "/buy", "package=hour&phone=0712+345+678");
    assert_eq!(bought.status, 303);
    let location = bought.header("Location").unwrap().to_string();
    assert!(
        location.starts_with("/pay/") && location.len() == 5 + lango::core::token::TOKEN_LEN,
        "{location}"
    );

    // The worker pushes at once; the page tells the guest to look at the phone.
    eventually("the STK push is acknowledged", || {
        http(live.portal, "GET", &location, &[], "")
            .body
            .contains("Check your phone")
    });
    // The simulated customer types the PIN after 3 s; lango's first query is 4 s after the push.
    live.advance(4);
    eventually("the payment is confirmed", || {
        http(live.portal, "GET", &location, &[], "")
            .body
            .contains("You are online")
    });
    let mac = "02:00:7f:00:00:01".parse().unwrap();
    eventually("the firewall allows the device", || {
        live.firewall.last().clients.iter().any(|c| c.mac == mac)
    });
    let client = live.firewall.last().clients[0].clone();
    assert_eq!(client.ipv4, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(client.quota_left, Some(1_000_000_000));

    let status: serde_json::Value =
        serde_json::from_str(&http(live.portal, "GET", "/api/status", &[], "").body).unwrap();
    assert_eq!(status["state"], "active");
    assert_eq!(
        status["seconds_remaining"], 3600,
        "paid 4 s after the push, at the first query"
    );
    let home = http(live.portal, "GET", "/", &[], "");
    assert!(
        home.body.contains("You are online") && home.body.contains("1:00:00"),
        "{}",
        home.body
    );

    // The owner page lists the guest and the payment (after signing in).
    assert_eq!(
        http(live.admin, "GET", "/", &[], "").header("Location"),
        Some("/signin")
    );
    let owner = live.owner();
    let guests = http(live.admin, "GET", "/guests", &[("Cookie", &owner.0)], "");
    assert_eq!(guests.status, 200);
    assert!(guests.body.contains("02:00:7f:00:00:01"), "{}", guests.body);
    let payments = http(live.admin, "GET", "/payments", &[("Cookie", &owner.0)], "");
    assert!(payments.body.contains(">paid<"), "{}", payments.body);

    live.advance(3600);
    eventually("the session expires", || {
        live.firewall.last().clients.is_empty()
    });
    let status: serde_json::Value =
        serde_json::from_str(&http(live.portal, "GET", "/api/status", &[], "").body).unwrap();
    assert_eq!(status["state"], "ended");
    assert!(live.app().store.write_stats().durable_commits >= 3);
}

#[test]
fn a_cancelled_prompt_is_explained_and_grants_nothing() {
    let live = Live::start();
    let bought = form_post(live.portal, "/buy", "package=day&phone=0700001032");
    let location = bought.header("Location").unwrap().to_string();
    eventually("the push is acknowledged", || {
        http(live.portal, "GET", &location, &[], "")
            .body
            .contains("Check your phone")
    });
    live.advance(4);
    eventually("the cancellation is shown", || {
        http(live.portal, "GET", &location, &[], "")
            .body
            .contains("You cancelled the payment")
    });
    assert!(live.firewall.last().clients.is_empty());
    // The guest may try again at once.
    let again = form_post(live.portal, "/buy", "package=day&phone=0712345678");
    assert_eq!(again.status, 303);
    assert_ne!(again.header("Location").unwrap(), location);
}

#[test]
fn bad_requests_get_clear_answers() {
    let live = Live::start();
    let bad_phone = form_post(live.portal, "/buy", "package=hour&phone=12345");
    assert_eq!(bad_phone.status, 400);
    // Capitalised, next to the field (`#fe`, right after it), with the package and the
    // number kept.
    assert!(
        bad_phone
            .body
            .contains("value=\"12345\"></label><p class=\"fe\" id=\"fe\">Enter a Safaricom number"),
        "{}",
        bad_phone.body
    );
    assert!(bad_phone.body.contains("value=\"hour\" required checked>"));
    let no_package = form_post(live.portal, "/buy", "package=nope&phone=0712345678");
    assert_eq!(no_package.status, 404);
    let huge = "x=".to_string() + &"a".repeat(20_000);
    assert_eq!(form_post(live.portal, "/buy", &huge).status, 413);
    let bad_voucher = form_post(live.portal, "/voucher", "code=ABCD-EFGH");
    assert_eq!(bad_voucher.status, 404);
    assert!(bad_voucher.body.contains("not valid"));
    // A pending purchase sends the guest back to its payment page rather than a second prompt.
    let first = form_post(live.portal, "/buy", "package=hour&phone=0712345678");
    assert_eq!(first.status, 303);
    let second = form_post(live.portal, "/buy", "package=day&phone=0712345678");
    assert_eq!(first.header("Location"), second.header("Location"));
    // Owner-page state changes need a same-origin form with the session's CSRF token.
    let (cookie, csrf) = live.owner();
    let forged = http(
        live.admin,
        "POST",
        "/vouchers",
        &[
            ("Cookie", cookie.as_str()),
            ("Origin", "http://evil.example"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &format!("package=hour&count=5&days=7&csrf={csrf}"),
    );
    assert_eq!(forged.status, 403);
    let origin = format!("http://{}", live.admin);
    let made = http(
        live.admin,
        "POST",
        "/vouchers",
        &[
            ("Cookie", cookie.as_str()),
            ("Origin", origin.as_str()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &format!("package=hour&count=2&days=7&csrf={csrf}"),
    );
    assert_eq!(made.status, 303);
    let batch = http(
        live.admin,
        "GET",
        made.header("Location").unwrap(),
        &[("Cookie", cookie.as_str())],
        "",
    );
    assert!(batch.body.contains("Made 2 vouchers"), "{}", batch.body);
    // Unknown paths on the portal lead to the portal.
    let portal = format!("http://{}/", live.portal);
    let elsewhere = http(
        live.portal,
        "GET",
        "/some/page",
        &[("Host", "example.org")],
        "",
    );
    assert_eq!(elsewhere.header("Location"), Some(portal.as_str()));
}

#[test]
fn the_owner_page_refuses_addresses_outside_admin_allow() {
    let live = Live::start();
    let ctx = lango::web::admin::Ctx::new(live.running.as_ref().unwrap().app.clone(), None);
    let guest: SocketAddr = "192.168.1.77:50000".parse().unwrap();
    let request = rouille::Request::fake_http_from(guest, "GET", "/", vec![], vec![]);
    assert_eq!(lango::web::admin::handle(&ctx, &request).status_code, 403);
    let owner: SocketAddr = "127.0.0.1:50000".parse().unwrap();
    let request = rouille::Request::fake_http_from(owner, "GET", "/", vec![], vec![]);
    assert_eq!(
        lango::web::admin::handle(&ctx, &request).status_code,
        303,
        "to sign in"
    );
}

#[test]
fn branding_text_is_escaped() {
    let mut config = demo_config();
    config.brand.name = "<script>alert(1)</script>".into();
    config.packages[0].name = "Hour \"<b>".into();
    let env = crate::support::TestEnv::with(Store::in_memory().unwrap(), config, T0);
    let ctx = lango::web::portal::Ctx::new(env.app.clone());
    let request = rouille::Request::fake_http_from(
        "192.168.1.101:4000".parse().unwrap(),
        "GET",
        "/",
        vec![],
        vec![],
    );
    let response = lango::web::portal::handle(&ctx, &request);
    let (mut reader, _) = response.data.into_reader_and_size();
    let mut body = String::new();
    std::io::Read::read_to_string(&mut reader, &mut body).unwrap();
    assert!(!body.contains("<script>alert(1)"), "{body}");
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(body.contains("Hour &quot;&lt;b&gt;"));
}
