//! Test environment: an app built from fakes (manual clock, fake firewall and neighbours, the
//! in-process simulator) and a tiny HTTP/1.1 client for socket tests on 127.0.0.1.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use lango::adapters::simulator::Simulator;
use lango::adapters::testing::{FakeFirewall, FakeNeighbours, ManualClock};
use lango::app::{App, Env};
use lango::core::config::{self, Config};
use lango::core::model::Mac;
use lango::store::Store;

/// 2027-01-15T08:00:00Z, a plausible wall clock.
pub const T0: i64 = 1_800_000_000;

pub fn demo_config() -> Config {
    config::parse(lango::daemon::DEMO_CONFIG, "demo.conf").expect("the demo config parses")
}

pub struct TestEnv {
    pub app: Arc<App>,
    pub clock: Arc<ManualClock>,
    pub firewall: Arc<FakeFirewall>,
    pub neighbours: Arc<FakeNeighbours>,
    pub sim: Arc<Simulator>,
}

/// Guest number `n`: an address on the guest LAN and its MAC, registered in the neighbours.
pub fn guest(n: u8) -> (IpAddr, Mac) {
    (
        IpAddr::from([192, 168, 1, 100 + n]),
        Mac([0xaa, 0, 0, 0, 0, n]),
    )
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv::with(
            Store::in_memory().expect("in-memory store"),
            demo_config(),
            T0,
        )
    }

    pub fn with(store: Store, config: Config, now: i64) -> TestEnv {
        let clock = Arc::new(ManualClock::new(now));
        let firewall = Arc::new(FakeFirewall::default());
        let neighbours = Arc::new(FakeNeighbours::default());
        for n in 1..=5 {
            let (ip, mac) = guest(n);
            neighbours.insert(ip, mac);
        }
        let sim = Arc::new(Simulator::new(clock.clone(), 3));
        let env = Env {
            clock: clock.clone(),
            firewall: firewall.clone(),
            neighbours: neighbours.clone(),
            gateway: sim.clone(),
        };
        let (app, _woken) = App::new(config, store, env).expect("app starts");
        TestEnv {
            app: Arc::new(app),
            clock,
            firewall,
            neighbours,
            sim,
        }
    }

    /// One fresh voucher code for the demo's "hour" package.
    pub fn hour_voucher(&self) -> String {
        let codes = self.app.generate_vouchers("hour", 1, "", None);
        codes.unwrap().expect("the hour package").remove(0).code
    }

    /// Lets `secs` pass and runs whatever became due.
    pub fn advance(&self, secs: i64) {
        self.clock.advance(secs);
        self.app.run_due();
    }
}

/// A response as the client saw it.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.0 exchange over a fresh connection (no keep-alive, so the reply ends at EOF).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    exchange(addr, method, path, headers, body, "1.0")
}

/// The same exchange as HTTP/1.1 with `Connection: close` (for servers that ignore 1.0).
pub fn http11(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut all = headers.to_vec();
    all.push(("Connection", "close"));
    exchange(addr, method, path, &all, body, "1.1")
}

fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    version: &str,
) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let mut request = format!(
        "{method} {path} HTTP/{version}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("Host")) {
        request.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("write");
    // Read the head, then exactly Content-Length bytes (some servers keep the connection
    // open), or to the end when there is no length.
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n");
        if let Some(end) = head_end {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_some_and(|len| raw.len() >= end + 4 + len) {
                break;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A signal (a child process exiting, say) interrupted the read: read again.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("read: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

pub fn form_post(addr: SocketAddr, path: &str, body: &str) -> Reply {
    http(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body,
    )
}

/// Waits (bounded) until `check` holds, for tests that cross the worker thread.
#[track_caller]
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("timed out waiting for: {what}");
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "lango-test-{}-{name}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A test that cannot run here: None after a message saying why, or a panic when
/// LANGO_REQUIRE_ALL_TESTS is set (CI, where everything must run).
pub fn skip<T>(what: &str, why: &str) -> Option<T> {
    if std::env::var_os("LANGO_REQUIRE_ALL_TESTS").is_some() {
        panic!("{what} cannot run: {why}, and LANGO_REQUIRE_ALL_TESTS is set");
    }
    eprintln!("skipping {what}: {why}");
    None
}

/// The OpenWrt kit's prefix if it holds every file of `needs` (e.g. `bin/uci`): built from
/// `../shared/openwrt-kit` into target/openwrt-kit by `scripts/openwrt-kit` (CI runs it), or
/// the build LANGO_OPENWRT_KIT names. Otherwise `skip`.
pub fn openwrt_kit(what: &str, needs: &[&str]) -> Option<std::path::PathBuf> {
    let kit = std::env::var_os("LANGO_OPENWRT_KIT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/openwrt-kit")
        });
    match needs.iter().map(|n| kit.join(n)).find(|p| !p.exists()) {
        None => Some(kit),
        Some(missing) => skip(
            what,
            &format!("{} is missing (run scripts/openwrt-kit)", missing.display()),
        ),
    }
}

/// The owner password the tests sign in with.
pub const OWNER_PASSWORD: &str = "correct horse battery";

/// Calls a handler directly with a request from `ip`, as rouille would.
pub fn call_handler(
    handler: impl Fn(&rouille::Request) -> rouille::Response,
    ip: IpAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let request = rouille::Request::fake_http_from(
        std::net::SocketAddr::new(ip, 40000),
        method,
        path,
        headers,
        body.as_bytes().to_vec(),
    );
    let response = handler(&request);
    let status = response.status_code;
    let headers = response
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (mut reader, _) = response.data.into_reader_and_size();
    let mut body = String::new();
    std::io::Read::read_to_string(&mut reader, &mut body).unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

/// The value of `name="csrf"` in a page.
pub fn csrf_in(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a CSRF field") + marker.len();
    page[start..].split('"').next().unwrap().to_string()
}

/// The owner page through its handler, signed in from `ip` (127.0.0.1 unless changed).
pub struct Owner {
    pub ctx: lango::web::admin::Ctx,
    pub ip: IpAddr,
    pub cookie: String,
    pub csrf: String,
}

pub const ADMIN_HOST: &str = "127.0.0.1:8081";
pub const ADMIN_ORIGIN: &str = "http://127.0.0.1:8081";

impl Owner {
    /// Sets the owner password if none is set, signs in and reads the CSRF token.
    pub fn sign_in(ctx: lango::web::admin::Ctx) -> Owner {
        if ctx.app.owner_password_hash().unwrap().is_none() {
            let hash = lango::core::auth::hash_password(OWNER_PASSWORD).unwrap();
            ctx.app.set_owner_password_hash(&hash, "test").unwrap();
        }
        let mut owner = Owner {
            ctx,
            ip: "127.0.0.1".parse().unwrap(),
            cookie: String::new(),
            csrf: String::new(),
        };
        let reply = owner.raw(
            "POST",
            "/signin",
            &[("Origin", ADMIN_ORIGIN)],
            &format!("password={}", OWNER_PASSWORD.replace(' ', "+")),
        );
        assert_eq!(reply.status, 303, "{}", reply.body);
        let cookie = reply.header("Set-Cookie").expect("a session cookie");
        owner.cookie = cookie.split(';').next().unwrap().to_string();
        owner.csrf = csrf_in(&owner.get("/").body);
        owner
    }

    /// A request with the given headers only (plus Host).
    pub fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut all = headers.to_vec();
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("Host")) {
            all.push(("Host", ADMIN_HOST));
        }
        call_handler(
            |r| lango::web::admin::handle(&self.ctx, r),
            self.ip,
            method,
            path,
            &all,
            body,
        )
    }

    pub fn get(&self, path: &str) -> Reply {
        self.raw("GET", path, &[("Cookie", &self.cookie)], "")
    }

    /// A form post from the owner page itself: cookie, Origin and CSRF token.
    pub fn post(&self, path: &str, form: &str) -> Reply {
        let body = if form.is_empty() {
            format!("csrf={}", self.csrf)
        } else {
            format!("{form}&csrf={}", self.csrf)
        };
        self.raw(
            "POST",
            path,
            &[
                ("Cookie", &self.cookie),
                ("Origin", ADMIN_ORIGIN),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            &body,
        )
    }

    /// Follows a post's redirect (post/redirect/get) and returns the page it lands on.
    #[track_caller]
    pub fn post_and_follow(&self, path: &str, form: &str) -> Reply {
        let reply = self.post(path, form);
        assert_eq!(reply.status, 303, "{path}: {}", reply.body);
        let location = reply.header("Location").unwrap().to_string();
        self.get(&location)
    }
}

/// Runs `command` with `stdin` written to its standard input; its output.
pub fn with_stdin(command: &mut std::process::Command, stdin: &str) -> std::process::Output {
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}
