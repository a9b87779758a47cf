//! The guest portal through its handler: the captive-probe matrix of every OS, the RFC 8908
//! API, the EasyISP-compatible JSON API and its errors, rate limits, moving a purchase to a new
//! MAC, page weight, and a scan of every response for secrets.

use std::net::IpAddr;

use lango::core::payments::StkOutcome;
use lango::store::Store;
use lango::web::portal::Ctx;
use serde_json::Value;

use crate::support::{call_handler, demo_config, guest, Reply, TestEnv, T0};

/// The JSON body of a reply.
fn json_of(reply: &Reply) -> Value {
    serde_json::from_str(&reply.body).unwrap_or_else(|_| panic!("not JSON: {}", reply.body))
}

fn call(
    env: &TestEnv,
    ip: IpAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let ctx = Ctx::new(env.app.clone());
    call_handler(
        |r| lango::web::portal::handle(&ctx, r),
        ip,
        method,
        path,
        headers,
        body,
    )
}

fn get(env: &TestEnv, ip: IpAddr, host: &str, path: &str) -> Reply {
    call(env, ip, "GET", path, &[("Host", host)], "")
}

fn post_json(env: &TestEnv, ip: IpAddr, path: &str, body: &str) -> Reply {
    call(
        env,
        ip,
        "POST",
        path,
        &[
            ("Host", "127.0.0.1:8080"),
            ("Content-Type", "application/json"),
        ],
        body,
    )
}

const PORTAL: &str = "http://127.0.0.1:8080/";

fn pay_with_voucher(env: &TestEnv, ip: IpAddr, package: &str) {
    let code = env
        .app
        .generate_vouchers(package, 1, "", None)
        .unwrap()
        .unwrap()
        .remove(0)
        .code;
    env.app.redeem(ip, &code).unwrap();
}

/// Every detector: (host, path, user agent, paid status, paid body).
const PROBES: &[(&str, &str, &str, u16, &str)] = &[
    ("connectivitycheck.gstatic.com", "/generate_204", "Dalvik/2.1.0 (Linux; U; Android 14)", 204, ""),
    ("clients3.google.com", "/generate_204", "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0)", 204, ""),
    ("www.google.com", "/gen_204", "Dalvik/2.1.0 (Linux; U; Android 10)", 204, ""),
    ("captive.apple.com", "/hotspot-detect.html", "CaptiveNetworkSupport-443.0.1 wispr", 200, "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"),
    ("www.apple.com", "/library/test/success.html", "CaptiveNetworkSupport wispr", 200, "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"),
    ("www.msftconnecttest.com", "/connecttest.txt", "Microsoft NCSI", 200, "Microsoft Connect Test"),
    ("www.msftncsi.com", "/ncsi.txt", "Microsoft NCSI", 200, "Microsoft NCSI"),
    ("detectportal.firefox.com", "/success.txt", "Mozilla/5.0 (Windows NT 10.0; rv:120.0) Firefox/120.0", 200, "success\n"),
    ("detectportal.firefox.com", "/canonical.html", "Mozilla/5.0 Firefox/120.0", 200, "<meta http-equiv=\"refresh\" content=\"0;url=https://support.mozilla.org/kb/captive-portal\"/>"),
    ("nmcheck.gnome.org", "/check_network_status.txt", "NetworkManager/1.42", 200, "NetworkManager is online\n"),
    ("connectivity-check.ubuntu.com", "/", "NetworkManager/1.36", 204, ""),
    ("fedoraproject.org", "/static/hotspot.txt", "NetworkManager/1.44", 200, "OK"),
];

#[test]
fn every_os_probe_prompts_an_unpaid_device_and_not_a_paid_one() {
    let env = TestEnv::new();
    let (ip, _) = guest(1);
    for (host, path, ua, _, _) in PROBES {
        let got = call(
            &env,
            ip,
            "GET",
            path,
            &[("Host", host), ("User-Agent", ua)],
            "",
        );
        assert_eq!(
            (got.status, got.header("Location")),
            (302, Some(PORTAL)),
            "{host}{path} unpaid"
        );
    }
    pay_with_voucher(&env, ip, "hour");
    for (host, path, ua, status, body) in PROBES {
        let got = call(
            &env,
            ip,
            "GET",
            path,
            &[("Host", host), ("User-Agent", ua)],
            "",
        );
        assert_eq!(
            (got.status, got.body.as_str()),
            (*status, *body),
            "{host}{path} paid"
        );
        assert_eq!(got.header("Location"), None);
    }
}

#[test]
fn the_captive_api_reflects_the_real_session() {
    let env = TestEnv::new();
    let (ip, mac) = guest(1);
    let unpaid = get(&env, ip, "127.0.0.1:8080", "/api/captive");
    assert_eq!(
        unpaid.header("Content-Type"),
        Some("application/captive+json")
    );
    let doc = json_of(&unpaid);
    assert_eq!(doc["captive"], true);
    assert_eq!(doc["user-portal-url"], PORTAL);
    assert!(doc.get("seconds-remaining").is_none());
    pay_with_voucher(&env, ip, "hour");
    let doc = json_of(&get(&env, ip, "127.0.0.1:8080", "/api/captive"));
    assert_eq!(
        (doc["captive"].as_bool(), doc["seconds-remaining"].as_u64()),
        (Some(false), Some(3600))
    );
    assert_eq!(doc["bytes-remaining"], 1_000_000_000u64);
    assert_eq!(doc["can-extend-session"], true);
    // Nearly expired, and quota partly used.
    env.firewall.set_usage(mac, 100_000_000, 300_000_000);
    env.advance(3570);
    let doc = json_of(&get(&env, ip, "127.0.0.1:8080", "/api/captive"));
    assert_eq!(
        (
            doc["seconds-remaining"].as_u64(),
            doc["bytes-remaining"].as_u64()
        ),
        (Some(30), Some(600_000_000))
    );
    env.advance(30);
    assert_eq!(
        json_of(&get(&env, ip, "127.0.0.1:8080", "/api/captive"))["captive"],
        true
    );
    // An unlimited package has no bytes-remaining.
    pay_with_voucher(&env, ip, "day");
    let doc = json_of(&get(&env, ip, "127.0.0.1:8080", "/api/captive"));
    assert!(doc.get("bytes-remaining").is_none(), "{doc}");
}

#[test]
fn the_guest_api_speaks_easyisp() {
    let env = TestEnv::new();
    let (ip, mac) = guest(1);
    let packages = json_of(&get(&env, ip, "h", "/api/portal/packages"));
    let first = &packages["packages"][0];
    assert_eq!(
        (first["id"].as_str(), first["name"].as_str()),
        (Some("min30"), Some("30 Minutes"))
    );
    assert_eq!(
        (first["price"].as_f64(), first["duration"].as_str()),
        (Some(10.0), Some("30m"))
    );
    assert_eq!(packages["packages"][2]["speed"], "5 Mbit/s/2 Mbit/s");
    assert_eq!(
        json_of(&get(&env, ip, "h", "/api/portal/check-session")),
        serde_json::json!({"hasActiveSession": false})
    );
    assert_eq!(
        json_of(&get(&env, ip, "h", "/api/portal/status"))["active"],
        false
    );
    let tenant = json_of(&get(&env, ip, "h", "/api/portal/tenant"));
    assert_eq!(
        (tenant["name"].as_str(), tenant["primaryColor"].as_str()),
        (Some("Mama Mboga Cafe Wi-Fi"), Some("#0b6e4f"))
    );
    assert_eq!(
        json_of(&get(&env, ip, "h", "/api/portal/mpesa/check"))["configured"],
        true
    );
    let validate = json_of(&get(&env, ip, "h", "/api/portal/mpesa/validate"));
    assert_eq!(
        (
            validate["configType"].as_str(),
            validate["details"]["storeNumber"].as_str()
        ),
        (Some("PAYBILL"), Some("174***"))
    );
    // Buying: initiate, then poll the status with the returned id.
    let started = post_json(
        &env,
        ip,
        "/api/portal/mpesa/initiate",
        r#"{"phone":"0712345678","packageId":"hour"}"#,
    );
    assert_eq!(started.status, 200, "{}", started.body);
    let id = json_of(&started)["checkoutRequestId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), lango::core::token::TOKEN_LEN);
    let status_path = format!("/api/portal/mpesa/status?checkoutRequestId={id}");
    assert_eq!(
        json_of(&get(&env, ip, "h", &status_path))["status"],
        "pending"
    );
    env.app.run_due();
    env.advance(4);
    let done = json_of(&get(&env, ip, "h", &status_path));
    assert_eq!(
        (done["status"].as_str(), done["package"].as_str()),
        (Some("completed"), Some("1 Hour"))
    );
    let session = json_of(&get(&env, ip, "h", "/api/portal/check-session"));
    assert_eq!(session["hasActiveSession"], true);
    assert_eq!(session["customer"]["remainingMinutes"], 60);
    let status = json_of(&get(&env, ip, "h", "/api/portal/status"));
    assert_eq!(status["active"], true);
    assert_eq!(
        status["sessionId"].as_str().map(str::len),
        Some(lango::core::token::TOKEN_LEN),
        "a random token, not a timestamp"
    );
    // The device may name itself, but only correctly.
    let own = get(
        &env,
        ip,
        "h",
        &format!("/api/portal/check-session?mac={mac}"),
    );
    assert_eq!(own.status, 200);
    let other = get(
        &env,
        ip,
        "h",
        "/api/portal/check-session?mac=aa:00:00:00:00:09",
    );
    assert_eq!(other.status, 403);
    let forged = post_json(
        &env,
        ip,
        "/api/portal/voucher",
        r#"{"code":"X","macAddress":"AA:00:00:00:00:05"}"#,
    );
    assert_eq!(forged.status, 403);
    // Logout ends the session.
    assert_eq!(
        json_of(&post_json(&env, ip, "/api/portal/logout", "{}"))["success"],
        true
    );
    assert_eq!(
        json_of(&get(&env, ip, "h", "/api/portal/status"))["active"],
        false
    );
}

#[test]
fn the_guest_api_errors() {
    let env = TestEnv::new();
    let (ip, _) = guest(2);
    let unknown = post_json(
        &env,
        ip,
        "/api/portal/mpesa/initiate",
        r#"{"phone":"0712345678","packageId":"nope"}"#,
    );
    assert_eq!(unknown.status, 404);
    let bad_phone = post_json(
        &env,
        ip,
        "/api/portal/mpesa/initiate",
        r#"{"phone":"12345","packageId":"hour"}"#,
    );
    assert_eq!(bad_phone.status, 400);
    assert!(json_of(&bad_phone)["error"]
        .as_str()
        .unwrap()
        .contains("Safaricom number"));
    let not_json = post_json(&env, ip, "/api/portal/voucher", "code=ABC");
    assert_eq!(not_json.status, 400);
    let code = env.hour_voucher();
    let body = format!(r#"{{"code":"{code}"}}"#);
    let ok = post_json(&env, ip, "/api/portal/voucher", &body);
    assert_eq!(
        (ok.status, json_of(&ok)["package"]["name"].as_str()),
        (200, Some("1 Hour"))
    );
    let again = post_json(&env, guest(3).0, "/api/portal/voucher", &body);
    assert_eq!(again.status, 409, "a voucher works once");
    let invalid = post_json(&env, ip, "/api/portal/voucher", r#"{"code":"NOTACODE23"}"#);
    assert_eq!(invalid.status, 404);
    let stranger: IpAddr = "10.9.9.9".parse().unwrap();
    assert_eq!(get(&env, stranger, "h", "/api/portal/status").status, 403);
    assert_eq!(get(&env, ip, "h", "/api/portal/nothing").status, 404);
    assert_eq!(
        post_json(
            &env,
            ip,
            "/api/portal/login",
            r#"{"username":"a","password":"b"}"#
        )
        .status,
        401
    );
}

#[test]
fn rate_limits_answer_429_with_retry_after() {
    let env = TestEnv::new();
    let (ip, _) = guest(1);
    // Vouchers: ten tries a minute per device.
    for _ in 0..10 {
        assert_eq!(
            post_json(&env, ip, "/api/portal/voucher", r#"{"code":"WRONG23456"}"#).status,
            404
        );
    }
    let limited = post_json(&env, ip, "/api/portal/voucher", r#"{"code":"WRONG23456"}"#);
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("Retry-After"), Some("6"));
    env.clock.advance(6);
    assert_eq!(
        post_json(&env, ip, "/api/portal/voucher", r#"{"code":"WRONG23456"}"#).status,
        404
    );
    // STK pushes: one open prompt per phone, whichever device asks...
    let phone = r#"{"phone":"0799000111","packageId":"day"}"#;
    assert_eq!(
        post_json(&env, guest(2).0, "/api/portal/mpesa/initiate", phone).status,
        200
    );
    assert_eq!(
        post_json(&env, guest(3).0, "/api/portal/mpesa/initiate", phone).status,
        409
    );
    // ...and five starts per device in ten minutes.
    let (busy, _) = guest(4);
    for n in 0..5 {
        let body = format!(r#"{{"phone":"07990002{n:02}","packageId":"day"}}"#);
        let started = post_json(&env, busy, "/api/portal/mpesa/initiate", &body);
        assert_eq!(started.status, 200, "start {n}: {}", started.body);
        env.app.run_due();
        env.sim.decline_next(1032);
        env.advance(4);
    }
    let sixth = post_json(
        &env,
        busy,
        "/api/portal/mpesa/initiate",
        r#"{"phone":"0799000399","packageId":"day"}"#,
    );
    assert_eq!(sixth.status, 429, "{}", sixth.body);
    let wait: u64 = sixth.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=600).contains(&wait), "{wait}");
}

#[test]
fn a_paid_purchase_moves_to_a_new_mac_with_receipt_and_phone() {
    let env = TestEnv::new();
    let (old_ip, old_mac) = guest(1);
    let payment = env
        .app
        .start_purchase(old_ip, "hour", "0712345678")
        .unwrap();
    env.app.run_due();
    env.app
        .settle(
            payment.id,
            &StkOutcome::Paid {
                receipt: Some("UKN7RT61SV".into()),
                amount: None,
            },
        )
        .unwrap();
    env.app.run_due();
    assert!(env.firewall.allows(old_mac));
    // The phone comes back with a randomised MAC (and address).
    let (new_ip, new_mac) = guest(4);
    let wrong = post_json(
        &env,
        new_ip,
        "/api/portal/move",
        r#"{"receipt":"UKN7RT61SV","phone":"0700000000"}"#,
    );
    assert_eq!(wrong.status, 404, "the phone must be the one that paid");
    let moved = post_json(
        &env,
        new_ip,
        "/api/portal/move",
        r#"{"receipt":"ukn7rt61sv","phone":"+254712345678"}"#,
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    env.app.run_due();
    assert!(
        env.firewall.allows(new_mac) && !env.firewall.allows(old_mac),
        "the old MAC loses access"
    );
    let status = json_of(&get(&env, new_ip, "h", "/api/portal/status"));
    assert_eq!(status["active"], true);
    // The old MAC is captive again at once, in every answer (no stale "online" after a move).
    let old_status = json_of(&get(&env, old_ip, "h", "/api/portal/status"));
    assert_eq!(old_status["active"], false, "{old_status}");
    let doc = json_of(&get(&env, old_ip, "127.0.0.1:8080", "/api/captive"));
    assert_eq!(doc["captive"], true, "{doc}");
    let probe = call(
        &env,
        old_ip,
        "GET",
        "/generate_204",
        &[
            ("Host", "connectivitycheck.gstatic.com"),
            ("User-Agent", "Dalvik/2.1.0 (Linux; U; Android 14)"),
        ],
        "",
    );
    assert_ne!(probe.status, 204, "the old MAC's probe must not say online");
    // Moving again within the interval (1 h) is refused, with the wait.
    let (third_ip, _) = guest(5);
    let again = post_json(
        &env,
        third_ip,
        "/api/portal/move",
        r#"{"receipt":"UKN7RT61SV","phone":"0712345678"}"#,
    );
    assert_eq!(again.status, 429);
    assert_eq!(again.header("Retry-After"), Some("3600"));
}

#[test]
fn the_first_view_is_one_small_self_contained_page() {
    let mut config = demo_config();
    let logo = std::env::temp_dir().join(format!("lango-logo-{}.png", std::process::id()));
    std::fs::write(&logo, [0x89, b'P', b'N', b'G', 13, 10, 26, 10, 0, 0, 0, 0]).unwrap();
    config.brand.logo = Some(logo.clone());
    let env = TestEnv::with(Store::in_memory().unwrap(), config, T0);
    let page = get(&env, guest(1).0, "127.0.0.1:8080", "/");
    let _ = std::fs::remove_file(&logo);
    assert_eq!(page.status, 200);
    eprintln!("portal: first view {} bytes", page.body.len());
    assert!(page.body.len() < 30 * 1024, "{} bytes", page.body.len());
    assert!(
        page.body
            .contains("src=\"data:image/png;base64,iVBORw0KGgoAAAAA\""),
        "the logo is inlined"
    );
    for external in ["src=\"http", "href=\"http", "@import", "url(", "<link"] {
        assert!(
            !page.body.contains(external),
            "external reference: {external}"
        );
    }
    // Kiswahili from Accept-Language, English by default.
    let sw = call(
        &env,
        guest(1).0,
        "GET",
        "/",
        &[
            ("Host", "127.0.0.1:8080"),
            ("Accept-Language", "sw-KE,sw;q=0.9,en;q=0.5"),
        ],
        "",
    );
    assert!(sw.body.contains("Chagua kifurushi") && sw.body.contains("lang=\"sw\""));
    assert!(page.body.contains("Choose a package"));
    // A foreign site's address leads to the portal's own URL.
    let foreign = get(&env, guest(1).0, "example.org", "/");
    assert_eq!(
        (foreign.status, foreign.header("Location")),
        (302, Some(PORTAL))
    );
}

#[test]
fn no_response_carries_a_secret() {
    let mut config = demo_config();
    let mpesa = config.mpesa.as_mut().unwrap();
    mpesa.consumer_key = "KEY-zq8x7".into();
    mpesa.consumer_secret = "SECRET-p4ssw0rd-9f1c".into();
    mpesa.passkey = "PASSKEY-bfb279f9aa9b".into();
    let env = TestEnv::with(Store::in_memory().unwrap(), config, T0);
    let (ip, _) = guest(1);
    let gets = [
        "/",
        "/api/captive",
        "/api/packages",
        "/api/status",
        "/api/portal/packages",
        "/api/portal/check-session",
        "/api/portal/status",
        "/api/portal/tenant",
        "/api/portal/mpesa/check",
        "/api/portal/mpesa/validate",
        "/generate_204",
        "/hotspot-detect.html",
    ];
    let mut bodies = Vec::new();
    for path in gets {
        bodies.push(get(&env, ip, "127.0.0.1:8080", path).body);
    }
    let started = post_json(
        &env,
        ip,
        "/api/portal/mpesa/initiate",
        r#"{"phone":"0712345678","packageId":"hour"}"#,
    );
    let token = json_of(&started)["checkoutRequestId"]
        .as_str()
        .unwrap()
        .to_string();
    env.app.run_due();
    env.advance(4);
    bodies.push(started.body);
    for path in [
        format!("/api/portal/mpesa/status?checkoutRequestId={token}"),
        format!("/pay/{token}"),
        format!("/api/payment/{token}"),
    ] {
        bodies.push(get(&env, ip, "127.0.0.1:8080", &path).body);
    }
    for (path, body) in [
        ("/api/portal/voucher", r#"{"code":"NOPE"}"#),
        (
            "/api/portal/login",
            r#"{"username":"x","password":"SECRET-p4ssw0rd-9f1c"}"#,
        ),
        ("/api/portal/logout", "{}"),
        (
            "/api/portal/move",
            r#"{"receipt":"X","phone":"0712345678"}"#,
        ),
    ] {
        bodies.push(post_json(&env, ip, path, body).body);
    }
    assert!(bodies.len() > 15);
    for body in &bodies {
        for secret in [
            "KEY-zq8x7",
            "SECRET-p4ssw0rd",
            "PASSKEY-bfb279",
            "password\"",
        ] {
            assert!(!body.contains(secret), "{secret} leaked in {body}");
        }
    }
}

#[test]
fn pasted_sms_and_public_callbacks_never_grant_by_themselves() {
    let env = TestEnv::new();
    let (ip, mac) = guest(1);
    let text =
        "UKN7RT61SV Confirmed. Ksh50.00 paid to MAMA MBOGA CAFE WIFI. on 15/1/27 at 11:05 AM.\
                New M-PESA balance is Ksh1,180.50. Transaction cost, Ksh0.00.";
    let body = serde_json::json!({"smsText": text, "packageId": "day"}).to_string();
    let forged = post_json(&env, ip, "/api/portal/mpesa/verify-sms", &body);
    assert_eq!(
        (forged.status, json_of(&forged)["status"].as_str()),
        (202, Some("pending_approval")),
        "{}",
        forged.body
    );
    let junk = post_json(
        &env,
        ip,
        "/api/portal/mpesa/verify-sms",
        r#"{"smsText":"hello","packageId":"day"}"#,
    );
    assert_eq!(junk.status, 400);
    let callback = r#"{"Body":{"stkCallback":{"MerchantRequestID":"1","CheckoutRequestID":"ws_CO_forged","ResultCode":0,"ResultDesc":"ok"}}}"#;
    let answered = post_json(&env, ip, "/api/portal/mpesa/callback", callback);
    assert_eq!(
        (answered.status, json_of(&answered)["ResultCode"].as_i64()),
        (200, Some(0))
    );
    env.app.run_due();
    assert!(!env.firewall.allows(mac));
    assert!(env
        .app
        .store
        .read(|r| r.active_sessions())
        .unwrap()
        .is_empty());
}

pub(crate) use lango::adapters::testing::pem;

#[test]
fn the_portal_and_its_api_answer_over_https_with_the_owners_certificate() {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["portal.lan".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let dir = crate::support::TempDir::new("tls");
    let (cert_path, key_path) = (dir.path("portal.crt"), dir.path("portal.key"));
    std::fs::write(&cert_path, pem("CERTIFICATE", leaf.der())).unwrap();
    std::fs::write(&key_path, pem("PRIVATE KEY", &key.serialize_der())).unwrap();

    let mut config = demo_config();
    config.gateway.portal_port = 0;
    config.gateway.admin_port = 0;
    config.gateway.tls_port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    config.gateway.tls_cert = Some(cert_path);
    config.gateway.tls_key = Some(key_path);
    config.gateway.portal_host = Some("portal.lan".into());
    let tls_port = config.gateway.tls_port;
    let clock = std::sync::Arc::new(lango::adapters::testing::ManualClock::new(T0));
    let sim = std::sync::Arc::new(lango::adapters::simulator::Simulator::new(clock.clone(), 3));
    let env = lango::app::Env {
        clock,
        firewall: std::sync::Arc::new(lango::core::firewall::RecordingFirewall::default()),
        neighbours: std::sync::Arc::new(lango::adapters::neighbours::LoopbackNeighbours),
        gateway: sim.clone(),
    };
    let running = lango::daemon::start(
        config,
        Store::in_memory().unwrap(),
        env,
        lango::daemon::Options {
            simulator: Some(sim),
            ..Default::default()
        },
    )
    .unwrap();
    let roots =
        lango::adapters::https::tls_config_from_pem(pem("CERTIFICATE", ca.der()).as_bytes())
            .unwrap();
    let client =
        lango::adapters::https::Client::new(Some(roots), std::time::Duration::from_secs(10));
    let api = client
        .send(
            "GET",
            &format!("https://127.0.0.1:{tls_port}/api/captive"),
            &[],
            b"",
        )
        .unwrap();
    assert_eq!(api.status, 200);
    assert_eq!(api.header("Content-Type"), Some("application/captive+json"));
    let doc: Value = serde_json::from_slice(&api.body).unwrap();
    assert_eq!(
        doc["captive"], true,
        "the device is identified from the TLS connection's address"
    );
    assert_eq!(
        doc["user-portal-url"],
        format!("https://portal.lan:{tls_port}/")
    );
    let page = client
        .send("GET", &format!("https://127.0.0.1:{tls_port}/"), &[], b"")
        .unwrap();
    assert!(String::from_utf8_lossy(&page.body).contains("Choose a package"));
    // A client that does not trust the certificate gets nothing.
    let stranger = lango::adapters::https::Client::new(
        Some(
            lango::adapters::https::tls_config_from_pem(pem("CERTIFICATE", leaf.der()).as_bytes())
                .unwrap(),
        ),
        std::time::Duration::from_secs(5),
    );
    let refused = stranger.send(
        "GET",
        &format!("https://127.0.0.1:{tls_port}/api/captive"),
        &[],
        b"",
    );
    assert!(refused.is_err());
    running.stop();
}

/// Issue 13: `/buy` and every other public POST are rate-limited per source address and per
/// device before the app is asked; a refusal is a plain 429 with Retry-After and writes nothing
/// to flash. Before, `/buy` and `/sms` had no limit of their own, and a bad `/buy` could be
/// sent without end.
#[test]
fn every_public_post_is_limited_per_source_and_per_device() {
    let form = [
        ("Host", "127.0.0.1:8080"),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let json = [
        ("Host", "127.0.0.1:8080"),
        ("Content-Type", "application/json"),
    ];
    let posts: &[(&str, &str, bool)] = &[
        ("/buy", "package=day&phone=not-a-phone", false),
        ("/voucher", "code=WRONG23456", false),
        ("/login", "username=nobody&password=wrong", false),
        ("/move", "receipt=ABCDEF0123&phone=0712345678", false),
        ("/sms", "sms=hello&package=day", false),
        (
            "/api/portal/mpesa/initiate",
            r#"{"phone":"bad","packageId":"day"}"#,
            true,
        ),
        ("/api/portal/logout", "{}", true),
        ("/api/portal/mpesa/verify-sms", r#"{"sms":"hello"}"#, true),
    ];
    for (path, body, is_json) in posts {
        let env = TestEnv::new();
        let (ip, mac) = guest(1);
        let headers: &[(&str, &str)] = if *is_json { &json } else { &form };
        let mut first_429 = None;
        for n in 0..40 {
            let reply = call(&env, ip, "POST", path, headers, body);
            if reply.status == 429 {
                first_429 = Some((n, reply));
                break;
            }
        }
        let (n, reply) = first_429.unwrap_or_else(|| panic!("{path}: never limited"));
        assert!(n <= 30, "{path}: limited only after {n}");
        // The pasted-SMS use case has its own, stricter per-device count (5 per 10 minutes).
        if !path.ends_with("sms") {
            let wait: u64 = reply
                .header("Retry-After")
                .unwrap_or_else(|| panic!("{path}: {n} {}", reply.body))
                .parse()
                .unwrap();
            assert!(wait >= 1, "{path}");
        }
        // Refusals write nothing.
        let commits = env.app.store.write_stats().durable_commits;
        for _ in 0..20 {
            assert_eq!(
                call(&env, ip, "POST", path, headers, body).status,
                429,
                "{path}"
            );
        }
        assert_eq!(
            env.app.store.write_stats().durable_commits,
            commits,
            "{path}"
        );
        // The same device from a new address is still limited (per device)...
        let other_ip: IpAddr = "192.168.1.200".parse().unwrap();
        env.neighbours.insert(other_ip, mac);
        assert_eq!(
            call(&env, other_ip, "POST", path, headers, body).status,
            429,
            "{path}"
        );
        // ...and so is an address the neighbour table does not know (per source).
        let stranger: IpAddr = "192.168.1.201".parse().unwrap();
        let mut limited = false;
        for _ in 0..40 {
            limited |= call(&env, stranger, "POST", path, headers, body).status == 429;
        }
        assert!(limited, "{path}: an unknown address is limited too");
        // Another device is not affected.
        let other = call(&env, guest(2).0, "POST", path, headers, body);
        assert_ne!(other.status, 429, "{path}");
    }
}

/// The page frame and the offer are rendered once per config: a reload shows the new brand and
/// packages on the next view, through the same context.
#[test]
fn a_reload_renders_the_kept_page_parts_afresh() {
    let env = TestEnv::new();
    let ctx = Ctx::new(env.app.clone());
    let (ip, _) = guest(1);
    let view = || {
        call_handler(
            |r| lango::web::portal::handle(&ctx, r),
            ip,
            "GET",
            "/",
            &[("Host", "127.0.0.1:8080")],
            "",
        )
        .body
    };
    let before = view();
    assert!(before.contains("Mama Mboga Cafe Wi-Fi") && before.contains("1 Hour"));
    assert_eq!(view(), before);
    let dir = crate::support::TempDir::new("frame");
    let path = dir.path("lango.conf");
    let text = lango::daemon::DEMO_CONFIG
        .replace("Mama Mboga Cafe Wi-Fi", "Kibanda & <Co>")
        .replace("'1 Hour'", "'Saa Moja'");
    std::fs::write(&path, text).unwrap();
    lango::app::reconfigure::reload(&env.app, &path, None).unwrap();
    let after = view();
    assert!(after.contains("Kibanda &amp; &lt;Co&gt;"), "{after}");
    assert!(
        after.contains("Saa Moja") && !after.contains("1 Hour"),
        "{after}"
    );
}

/// Issue 16: the first view stays one small request; the chosen language is kept (a cookie)
/// through the purchase and the payment page, whose language link stays on the payment; the
/// owner's Kiswahili package names, the terms link and the tap-to-call number are shown; and
/// packages are described in words, not the owner's shorthand.
#[test]
fn r16_the_language_stays_through_the_payment_and_the_words_are_the_guests() {
    let mut config = demo_config();
    config.packages[1].name_sw = Some("Saa Moja".into());
    config.packages[1].description_sw = Some("Kwa kazi fupi".into());
    config.brand.terms_url = Some("https://mama.example/terms".into());
    let env = TestEnv::with(Store::in_memory().unwrap(), config, T0);
    let (ip, _) = guest(1);
    let first = get(&env, ip, "127.0.0.1:8080", "/");
    eprintln!("portal: first view {} bytes", first.body.len());
    assert!(first.body.len() <= 8 * 1024, "{} bytes", first.body.len());
    assert!(
        first.body.contains("1 hour · 1 GB of data"),
        "{}",
        first.body
    );
    assert!(first
        .body
        .contains("1 day · Unlimited data · up to 5 Mbit/s"));
    for shorthand in ["30m", "1d ", "0B", "1GB"] {
        assert!(!first.body.contains(shorthand), "{shorthand}");
    }
    assert!(first
        .body
        .contains("<a href=\"tel:0712000000\">0712 000 000</a>"));
    assert!(first
        .body
        .contains("<a href=\"https://mama.example/terms\">Terms and privacy</a>"));
    // One form, one phone field, one button for every package.
    assert_eq!(
        first.body.matches("name=\"phone\"").count(),
        2,
        "buy form and move form"
    );
    assert_eq!(first.body.matches("action=\"/buy\"").count(), 1);
    let sw = get(&env, ip, "127.0.0.1:8080", "/?lang=sw");
    assert_eq!(
        sw.header("Set-Cookie"),
        Some("lang=sw; Path=/; Max-Age=31536000; SameSite=Lax")
    );
    assert!(
        sw.body.contains("saa 1 · data ya 1 GB<br>Kwa kazi fupi"),
        "{}",
        sw.body
    );
    assert!(sw.body.contains("<b>Saa Moja</b>") && sw.body.contains("Masharti na faragha"));
    let cookie = [("Host", "127.0.0.1:8080"), ("Cookie", "lang=sw")];
    let form = [
        cookie[0],
        cookie[1],
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    // A wrong number: the reason by the field, in Kiswahili, the package and number kept.
    let bad = call(&env, ip, "POST", "/buy", &form, "package=hour&phone=0712");
    assert_eq!(bad.status, 400);
    assert!(bad
        .body
        .contains("value=\"0712\"></label><p class=\"fe\" id=\"fe\">Weka nambari"));
    let bought = call(
        &env,
        ip,
        "POST",
        "/buy",
        &form,
        "package=hour&phone=0712345678",
    );
    assert_eq!(bought.status, 303, "{}", bought.body);
    let pay = bought.header("Location").unwrap().to_string();
    let waiting = call(&env, ip, "GET", &pay, &cookie, "");
    let body = &waiting.body;
    assert!(
        body.contains("lang=\"sw\"") && body.contains("Saa Moja · KES 20"),
        "{body}"
    );
    assert!(
        body.contains("Ombi limetumwa kwa <b id=\"phone\">0712 345 678</b>"),
        "{body}"
    );
    assert!(body.contains("PayBill 174379 (akaunti WiFi)</b>, Mama Mboga Cafe Wi-Fi."));
    assert!(body.contains("Hukupata ombi?") && body.contains("data-up=\"1\""));
    // The language link is a query on the page itself: it stays on the payment.
    assert!(body.contains("<a href=\"?lang=en\" id=\"lang\">English</a>"));
    let en = call(&env, ip, "GET", &format!("{pay}?lang=en"), &cookie, "");
    assert!(en.body.contains("Prompt sent to") && en.body.contains("lang=\"en\""));
    assert_eq!(
        en.header("Set-Cookie"),
        Some("lang=en; Path=/; Max-Age=31536000; SameSite=Lax")
    );
}
