//! The `lango` binary as an owner or procd meets it: exit codes and messages.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::{http, TempDir};

fn lango() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lango"));
    cmd.env("LANGO_LOG", "info");
    cmd
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = lango().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_and_help() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(
        (code, out.trim()),
        (0, format!("lango {}", env!("CARGO_PKG_VERSION")).as_str())
    );
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("lango serve") && out.contains("lango demo"));
    let (code, _, err) = run(&["frobnicate"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown command 'frobnicate'"));
    let (code, _, err) = run(&["serve", "--config"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn sim_refuses_bad_arguments() {
    for args in [
        &["sim", "--listen", "nowhere"][..],
        &["sim", "--approve-after", "999"],
        &["sim", "--frobnicate", "x"],
        &["sim", "--listen"],
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("sim: "), "{err}");
    }
}

#[test]
fn check_config_accepts_the_shipped_default() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/files/etc/config/lango");
    let (code, out, err) = run(&["check-config", path]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(": OK ("), "{out}");
}

#[test]
fn check_config_lists_every_mistake_with_file_and_line() {
    let dir = TempDir::new("badconf");
    let path = dir.path("lango");
    std::fs::write(
        &path,
        "config gateway 'main'\n\toption portal_port '99999'\n\nconfig package 'hour'\n\toption name '1 Hour'\n\toption prise '20'\n\toption duration '1h'\n",
    )
    .unwrap();
    let (code, _, err) = run(&["check-config", path.to_str().unwrap()]);
    assert_eq!(code, 3);
    let file = path.display().to_string();
    assert!(err.contains(&format!("{file}:2:")), "{err}");
    assert!(err.contains(&format!("{file}:6:")), "{err}");
    assert!(err.contains("prise"), "{err}");
    let (code, _, err) = run(&["check-config", "/nonexistent/lango"]);
    assert_eq!(code, 3);
    assert!(err.contains("/nonexistent/lango: cannot read"), "{err}");
}

/// Issue 13, item 11: check-config agrees with `uci` (tests/it/uci.rs) on the two syntax cases
/// it used to accept, and a byte that is not UTF-8, which libuci takes, is OK with a note.
#[test]
fn r13_check_config_refuses_what_uci_refuses_and_notes_bytes_that_are_not_utf8() {
    let dir = TempDir::new("r13conf");
    let path = dir.path("lango");
    let file = path.display().to_string();
    let base = "config gateway 'main'\n\toption interface lan\n";
    for bad in [
        "\toption\x0bdevice br-lan\n",
        "\toption\x0cdevice br-lan\n",
        "\toption device br-\\\n\tlan\n",
    ] {
        std::fs::write(&path, format!("{base}{bad}")).unwrap();
        let (code, _, err) = run(&["check-config", &file]);
        assert_eq!(code, 3, "{bad:?}: {err}");
        assert!(err.contains(&format!("{file}:3:")), "{bad:?}: {err}");
    }
    let mut latin1 = format!("{base}config brand 'brand'\n\toption name 'Caf").into_bytes();
    latin1.extend_from_slice(b"\xe9'\n");
    std::fs::write(&path, latin1).unwrap();
    let (code, out, err) = run(&["check-config", &file]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(": OK ("), "{out}");
    assert!(
        err.contains(&format!("{file}:4: note: the value is not UTF-8")),
        "{err}"
    );
}

#[test]
fn serve_refuses_a_damaged_store_without_panicking() {
    let dir = TempDir::new("damaged-serve");
    let store = dir.path("lango.redb");
    std::fs::write(&store, vec![0x42u8; 4096]).unwrap();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/files/etc/config/lango");
    let (code, _, err) = run(&[
        "serve",
        "--config",
        config,
        "--store",
        store.to_str().unwrap(),
    ]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("damaged"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn serve_refuses_a_bad_config() {
    let dir = TempDir::new("badserve");
    let path = dir.path("lango");
    std::fs::write(&path, "config pakage 'x'\n").unwrap();
    let (code, _, err) = run(&["serve", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(err.contains(":1:"), "{err}");
}

/// `lango demo` with `args` on a free pair of ports (portal, owner page = portal + 1); another
/// test may take one between the probe and lango's bind, and lango then exits at once: try
/// another pair. The banner's first lines, and stdout, which must stay open to the end.
fn start_demo(args: &[&str]) -> (u16, std::process::Child, String, impl Sized) {
    (0..5)
        .find_map(|_| {
            let port = {
                let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                probe.local_addr().unwrap().port()
            };
            if port == u16::MAX || std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_err() {
                return None;
            }
            let mut child = lango()
                .args(["demo", "--port", &port.to_string()])
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut stdout = BufReader::new(child.stdout.take().unwrap());
            let mut banner = String::new();
            for _ in 0..6 {
                stdout.read_line(&mut banner).unwrap();
            }
            if banner.contains(&format!("http://127.0.0.1:{port}/")) {
                // The pipe stays open to the end: lango's output must not meet a closed pipe.
                Some((port, child, banner, stdout))
            } else {
                let _ = child.kill();
                let _ = child.wait();
                None
            }
        })
        .expect("lango demo starts on a free pair of ports within 5 tries")
}

#[test]
fn the_demo_serves_and_stops_on_sigterm() {
    let (port, mut child, banner, _stdout) = start_demo(&[]);
    assert!(banner.contains("Guest portal"), "{banner}");
    let home = http(
        format!("127.0.0.1:{port}").parse().unwrap(),
        "GET",
        "/",
        &[],
        "",
    );
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Mama Mboga"));
    // The owner page asks for a password first.
    let admin = format!("127.0.0.1:{}", port + 1).parse().unwrap();
    let owner = http(admin, "GET", "/signin", &[], "");
    assert!(
        owner.body.contains("Choose the owner password"),
        "{}",
        owner.body
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// Issue 18: `lango demo --country tz` sells in TZS through Mixx by Yas and HaloPesa, with the
/// ClickPesa simulator inside: the portal offers those wallets (not M-Pesa Kenya), and a
/// purchase with a Mixx by Yas number is paid and the device goes online.
#[test]
fn the_tanzanian_demo_sells_through_mixx_by_yas() {
    let (port, mut child, _banner, _stdout) =
        start_demo(&["--country", "tz", "--approve-after", "1"]);
    let portal: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let home = http(portal, "GET", "/?lang=en", &[], "").body;
    assert!(
        home.contains("Mixx by Yas or HaloPesa phone number") && home.contains("TZS 1000"),
        "{home}"
    );
    assert!(!home.contains("Pay with M-Pesa</button>"), "{home}");
    assert!(
        home.contains("Pay from your phone's wallet.") && !home.contains("Pay with M-Pesa."),
        "{home}"
    );
    let bought = crate::support::form_post(portal, "/buy", "package=hour&phone=0654+123+456");
    assert_eq!(bought.status, 303, "{}", bought.body);
    let waiting = bought.header("Location").unwrap().to_string();
    let page = http(portal, "GET", &waiting, &[], "").body;
    assert!(page.contains("0654 123 456 · Mixx by Yas"), "{page}");
    // The simulated customer approves after 1 s; lango's queries follow its schedule (4 s,
    // then 3 s...) and the webhook makes one due at once.
    let mut online = false;
    for _ in 0..120 {
        let page = http(portal, "GET", &waiting, &[], "").body;
        if page.contains("Umeunganishwa") || page.contains("You are online") {
            online = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert!(
        online,
        "never paid: {}",
        http(portal, "GET", &waiting, &[], "").body
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn check_mpesa_tests_the_account_and_hides_the_secrets() {
    let dir = TempDir::new("check-mpesa");
    // The demo's account, served by the simulator `lango` starts on 127.0.0.1.
    let path = dir.path("simulated");
    std::fs::write(&path, lango::daemon::DEMO_CONFIG).unwrap();
    let (code, out, err) = run(&["check-mpesa", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    for step in ["settings", "access token", "shortcode and passkey"] {
        assert!(out.contains(&format!("ok      {step}: ")), "{out}");
    }
    assert!(!out.contains("demo-passkey"), "{out}");
    // Sandbox without a CA bundle: refused before any connection, with the reason.
    let path = dir.path("sandbox");
    let config = lango::daemon::DEMO_CONFIG
        .replace("'simulator'", "'sandbox'")
        .replace(
            "option account_reference 'WiFi'",
            "option account_reference 'WiFi'\n\toption ca_bundle '/nonexistent/ca.pem'",
        );
    std::fs::write(&path, config).unwrap();
    let (code, out, _) = run(&["check-mpesa", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("PROBLEM M-Pesa: cannot read the CA bundle /nonexistent/ca.pem"),
        "{out}"
    );
    let (code, _, err) = run(&["check-mpesa", "--config", "/nonexistent"]);
    assert_eq!(code, 3, "{err}");
}

fn passwd(store: &std::path::Path, stdin: &str) -> (i32, String, String) {
    let mut command = lango();
    command.args(["passwd", "--store", store.to_str().unwrap()]);
    let out = crate::support::with_stdin(&mut command, stdin);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn passwd_sets_the_owner_password_from_stdin() {
    let dir = TempDir::new("passwd");
    let path = dir.path("lango.redb");
    // Before any password: the first-run setup code (issue 13), the same at every call.
    let show = || run(&["passwd", "--store", path.to_str().unwrap(), "--code"]);
    let (code, setup_code, err) = show();
    assert_eq!(code, 0, "{err}");
    assert_eq!(setup_code.trim().len(), 10, "{setup_code}");
    assert_eq!(show().1, setup_code);
    let (code, _, err) = passwd(&path, "short\n");
    assert_eq!(code, 2);
    assert!(err.contains("at least 8 characters"), "{err}");
    let (code, out, err) = passwd(&path, "mama mboga 2027\n");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("20000 iterations"), "{out}");
    assert!(!out.contains("mama mboga") && !err.contains("mama mboga"));
    eprintln!("lango passwd (release? {}): {out}", !cfg!(debug_assertions));
    let store = lango::store::Store::open(&path).unwrap();
    let hash = store.read(|r| r.secret("owner_password")).unwrap().unwrap();
    assert!(lango::core::auth::verify_password(&hash, "mama mboga 2027"));
    assert_eq!(
        store.read(|r| r.secret("setup_code")).unwrap(),
        None,
        "spent"
    );
    // While lango holds the store, passwd says what to do instead.
    let (code, _, err) = passwd(&path, "another password\n");
    assert_eq!(code, 4);
    assert!(err.contains("lango is running"), "{err}");
}

/// Starts `lango sim` on a free loopback port; returns it and its address.
fn start_sim(state: &std::path::Path) -> (std::process::Child, std::net::SocketAddr) {
    let mut child = lango()
        .args(["sim", "--listen", "127.0.0.1:0", "--state"])
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (child, addr)
}

#[test]
fn sim_keeps_its_state_across_a_kill() {
    let dir = TempDir::new("simstate");
    let state = dir.path("sim.json");
    let (mut sim, addr) = start_sim(&state);
    let set = http(
        addr,
        "POST",
        "/__sim/faults",
        &[("Content-Type", "application/json")],
        r#"{"retry_deliveries":4,"drop_callbacks":true}"#,
    );
    assert_eq!(set.status, 200, "{}", set.body);
    sim.kill().unwrap();
    sim.wait().unwrap();

    let (mut sim, addr) = start_sim(&state);
    let got = http(addr, "GET", "/__sim/state", &[], "");
    sim.kill().unwrap();
    sim.wait().unwrap();
    let v: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(v["faults"]["retry_deliveries"], 4, "{}", got.body);
    assert_eq!(v["faults"]["drop_callbacks"], true, "{}", got.body);
}

/// Starts `lango serve` on `config`, waits until it serves, stops it with SIGTERM and returns
/// its exit code and log.
fn serve_and_stop(config: &std::path::Path, store: &std::path::Path) -> (Option<i32>, String) {
    let mut child = lango()
        .args(["serve", "--config"])
        .arg(config)
        .arg("--store")
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    while !log.contains("serving guests on") {
        if stderr.read_line(&mut log).unwrap() == 0 {
            break;
        }
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
    log.push_str(&rest);
    (child.wait().unwrap().code(), log)
}

#[test]
fn a_clean_stop_leaves_a_store_that_needs_no_repair() {
    let dir = TempDir::new("clean-stop");
    let token = dir.path("api-token");
    let free_port = || {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let config = lango::daemon::DEMO_CONFIG
        .replace(
            "option portal_port '8080'",
            &format!("option portal_port '{}'", free_port()),
        )
        .replace(
            "option admin_port '8081'",
            &format!(
                "option admin_port '{}'\n\toption api_token_file '{}'",
                free_port(),
                token.display()
            ),
        );
    let config_path = dir.path("lango.conf");
    std::fs::write(&config_path, config).unwrap();
    let store = dir.path("lango.redb");
    let (first, log) = serve_and_stop(&config_path, &store);
    assert_eq!(first, Some(0), "{log}");
    assert!(log.contains("serving guests on"), "{log}");
    let (second, log) = serve_and_stop(&config_path, &store);
    assert_eq!(second, Some(0), "{log}");
    assert!(log.contains("serving guests on"), "{log}");
    assert!(
        !log.contains("repair"),
        "a start after a clean stop repaired the store:\n{log}"
    );
}
