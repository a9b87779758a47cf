//! Issue 13, the owner's side of the door: the owner page refuses the guests' network even
//! inside `admin_allow` (and the shipped config hands it to no guest), a fresh install is
//! claimed only with the one-time setup code, and the lock-out is per address with a way back
//! in for the owner (`ubus call lango unlock`).

use std::net::IpAddr;

use lango::adapters::ubusd::UbusHandler;
use lango::core::config::{self, Cidr, Config};
use lango::store::Store;
use lango::ubus::LangoUbus;
use lango::web::admin::Ctx;
use serde_json::json;

use crate::support::{
    call_handler, demo_config, guest, Reply, TempDir, TestEnv, ADMIN_HOST, ADMIN_ORIGIN,
    OWNER_PASSWORD, T0,
};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// An anonymous request to the owner page from `from`.
fn owner_page(ctx: &Ctx, from: IpAddr, method: &str, path: &str, body: &str) -> Reply {
    call_handler(
        |r| lango::web::admin::handle(ctx, r),
        from,
        method,
        path,
        &[
            ("Host", ADMIN_HOST),
            ("Origin", ADMIN_ORIGIN),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body,
    )
}

fn ubus(env: &TestEnv) -> LangoUbus {
    LangoUbus {
        app: env.app.clone(),
        config_path: None,
        gateway: None,
    }
}

/// The demo's config with the owner page open to `allow` too, and guests on 192.168.1.0/24.
fn config_allowing(allow: &str) -> Config {
    let mut config = demo_config();
    config.gateway.admin_allow.push(Cidr::parse(allow).unwrap());
    config.gateway.guest_nets = vec![Cidr::parse("192.168.1.0/24").unwrap()];
    config
}

#[test]
fn the_owner_page_refuses_the_guest_network_even_inside_admin_allow() {
    // Guests and owner share one LAN, all of it in admin_allow (the old shipped default).
    let env = TestEnv::with(
        Store::in_memory().unwrap(),
        config_allowing("192.168.1.0/24"),
        T0,
    );
    let mut ctx = Ctx::new(env.app.clone(), None);
    ctx.owner.api_token = Some("t0k3n".into());
    let code = env.app.setup_code().unwrap().unwrap();
    let (guest_ip, _) = guest(1);
    let mut reachable = 0;
    for (method, path, body) in [
        ("GET", "/signin", String::new()),
        ("GET", "/", String::new()),
        (
            "POST",
            "/setup",
            format!("code={code}&password=taken+over+1&again=taken+over+1"),
        ),
        ("POST", "/signin", "password=guess".into()),
        ("GET", "/api/overview", String::new()),
    ] {
        let reply = owner_page(&ctx, guest_ip, method, path, &body);
        if reply.status != 403 {
            reachable += 1;
        }
        assert!(
            reply.body.contains("guest network"),
            "{path}: {}",
            reply.body
        );
    }
    eprintln!("owner pages reachable from the guest network: {reachable}");
    assert_eq!(reachable, 0);
    assert_eq!(env.app.owner_password_hash().unwrap(), None);
    // The owner, on the router itself, reaches it.
    let page = owner_page(&ctx, ip("127.0.0.1"), "GET", "/signin", "");
    assert_eq!(page.status, 200);
}

#[test]
fn the_shipped_config_hands_the_owner_page_to_no_guest() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/files/etc/config/lango");
    let config = config::load(std::path::Path::new(shipped)).unwrap();
    let gateway = config.gateway.clone();
    // Every address of the guests' default network is refused by the handler.
    let env = TestEnv::with(Store::in_memory().unwrap(), config, T0);
    let ctx = Ctx::new(env.app.clone(), None);
    for last in [1u8, 2, 100, 254] {
        let guest_ip = IpAddr::from([192, 168, 1, last]);
        let reply = owner_page(&ctx, guest_ip, "GET", "/signin", "");
        assert_eq!(reply.status, 403, "{guest_ip}");
    }
    assert!(
        gateway.admin_addr.is_loopback(),
        "it listens on the router only"
    );
    assert!(gateway.admin_allow.iter().all(|net| net.addr.is_loopback()));
}

#[test]
fn a_fresh_install_is_claimed_only_with_the_setup_code() {
    let dir = TempDir::new("setup-code");
    let path = dir.path("lango.redb");
    let code = {
        let env = TestEnv::with(Store::open(&path).unwrap(), demo_config(), T0);
        env.app.setup_code().unwrap().unwrap()
    };
    // It survives a restart until it is used, and ubus shows it.
    let env = TestEnv::with(Store::open(&path).unwrap(), demo_config(), T0);
    assert_eq!(
        env.app.setup_code().unwrap().as_deref(),
        Some(code.as_str())
    );
    assert_eq!(
        ubus(&env).call("setup_code", &json!({})).unwrap(),
        json!({"owner_password_set": false, "setup_code": code})
    );
    let ctx = Ctx::new(env.app.clone(), None);
    let form = "password=long+enough+1&again=long+enough+1";
    let claimer = ip("127.0.0.5");
    // Without the code, or with a wrong one: refused, nothing stored.
    let none = owner_page(&ctx, claimer, "POST", "/setup", form);
    assert_eq!(none.status, 403, "{}", none.body);
    assert!(none.body.contains("setup code"));
    let wrong = owner_page(
        &ctx,
        claimer,
        "POST",
        "/setup",
        &format!("code=ABCDEFGH23&{form}"),
    );
    assert_eq!(wrong.status, 403);
    assert_eq!(env.app.owner_password_hash().unwrap(), None);
    // Guessing the code counts against the lock-out like a password.
    for _ in 0..3 {
        owner_page(
            &ctx,
            claimer,
            "POST",
            "/setup",
            &format!("code=ABCDEFGH23&{form}"),
        );
    }
    let locked = owner_page(
        &ctx,
        claimer,
        "POST",
        "/setup",
        &format!("code={code}&{form}"),
    );
    assert_eq!(locked.status, 429, "{}", locked.body);
    // The owner, with the code (any case, with a dash), from another address.
    let typed = format!("{}-{}", &code[..5], &code[5..]).to_lowercase();
    let done = owner_page(
        &ctx,
        ip("127.0.0.1"),
        "POST",
        "/setup",
        &format!("code={typed}&{form}"),
    );
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(env.app.owner_password_hash().unwrap().is_some());
    // Spent: gone from the store, from ubus, and useless a second time.
    assert_eq!(env.app.setup_code().unwrap(), None);
    assert_eq!(
        ubus(&env).call("setup_code", &json!({})).unwrap(),
        json!({"owner_password_set": true})
    );
    let again = owner_page(
        &ctx,
        ip("127.0.0.2"),
        "POST",
        "/setup",
        &format!("code={code}&{form}"),
    );
    assert_eq!(again.status, 409);
}

#[test]
fn guessers_on_other_addresses_do_not_lock_the_owner_out() {
    let env = TestEnv::with(
        Store::in_memory().unwrap(),
        config_allowing("10.0.0.0/24"),
        T0,
    );
    let hash = lango::core::auth::hash_password(OWNER_PASSWORD).unwrap();
    env.app.set_owner_password_hash(&hash, "test").unwrap();
    let ctx = Ctx::new(env.app.clone(), None);
    // Twelve addresses, five wrong passwords each: sixty failures, which used to lock
    // everyone out for an hour.
    for n in 0..12u8 {
        let guesser = IpAddr::from([10, 0, 0, 10 + n]);
        for _ in 0..lango::core::auth::FREE_FAILURES {
            let reply = owner_page(&ctx, guesser, "POST", "/signin", "password=guess");
            assert_eq!(reply.status, 401);
        }
        let reply = owner_page(&ctx, guesser, "POST", "/signin", "password=guess");
        assert_eq!(reply.status, 429, "the guesser waits");
    }
    let owner = owner_page(
        &ctx,
        ip("127.0.0.1"),
        "POST",
        "/signin",
        &format!("password={}", OWNER_PASSWORD.replace(' ', "+")),
    );
    assert_eq!(owner.status, 303, "{}", owner.body);
    // The owner's way back in whatever happened: ubus unlock lifts every wait.
    let reply = ubus(&env).call("unlock", &json!({})).unwrap();
    assert_eq!(reply["unlocked"], true);
    let freed = owner_page(&ctx, ip("10.0.0.10"), "POST", "/signin", "password=guess");
    assert_eq!(freed.status, 401, "checked again after unlock");
}
