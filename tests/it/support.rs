//! Test environment: an app built from fakes (manual clock, fake firewall and neighbours, the
//! in-process simulator) and a tiny HTTP/1.1 client for socket tests on 127.0.0.1.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use lango::app::{App, Env};
use lango::config::{self, Config};
use lango::model::Mac;
use lango::simulator::Simulator;
use lango::store::Store;
use lango::testing::{FakeFirewall, FakeNeighbours, ManualClock};

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
