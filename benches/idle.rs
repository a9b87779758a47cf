//! What an idle `lango serve` costs while it holds many paid devices (issue 14): CPU of one
//! core, RSS (start, end, peak), flash bytes written, nft processes started, and the restore
//! time (start to table applied, start to portal answering), for 1,000 and 10,000 active
//! sessions whose deadlines are spread over an hour. Churn during the window: the expiries
//! themselves (about 0.3/s at 1,000 and 2.8/s at 10,000) and one kick per second through the
//! owner API. Root needed: lango runs with real nft in a throwaway network namespace.
//!
//! Run: `cargo bench --bench idle` (60 s per size); `LANGO_IDLE_SECS=600` for the flat-RSS
//! claim; `LANGO_IDLE_SIZES=10000` for one size; `LANGO_IDLE_BIN` for another binary of lango
//! (a router build from `scripts/build x86_64`). Each figure is printed beside its goal.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lango::adapters::testing::active_session;
use lango::store::{Durability, Store};

/// Goals for 10,000 devices (issue 14).
const GOAL_CPU_PCT: f64 = 1.0;
const GOAL_RSS_MB: f64 = 12.0;
const GOAL_RESTORE_MS: f64 = 300.0;

fn main() {
    if std::env::var_os("LANGO_IDLE_INNER").is_some() {
        inner();
        return;
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n");
    if !is_root {
        eprintln!("idle: needs root (network namespaces, nftables); skipped");
        return;
    }
    let ns = format!("lango-idle-{}", std::process::id());
    let ok = |args: &[&str]| {
        let status = Command::new("ip").args(args).status();
        assert!(status.is_ok_and(|s| s.success()), "ip {args:?}");
    };
    ok(&["netns", "add", &ns]);
    ok(&["-n", &ns, "link", "set", "lo", "up"]);
    ok(&["-n", &ns, "link", "add", "br-guest", "type", "bridge"]);
    ok(&["-n", &ns, "addr", "add", "10.77.0.1/16", "dev", "br-guest"]);
    ok(&["-n", &ns, "link", "set", "br-guest", "up"]);
    // This same binary, inside the namespace: its polls and connections see lango's.
    let exe = std::env::current_exe().expect("own path");
    let status = Command::new("ip")
        .args(["netns", "exec", &ns])
        .arg(exe)
        .env("LANGO_IDLE_INNER", "1")
        .status();
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    assert!(status.is_ok_and(|s| s.success()), "idle bench failed");
}

fn inner() {
    let secs: u64 = env_or("LANGO_IDLE_SECS", 60);
    let sizes: Vec<u32> = std::env::var("LANGO_IDLE_SIZES")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    println!(
        "devices | window s | CPU % own (goal {GOAL_CPU_PCT}) | with nft children | RSS MB start | \
         end (goal {GOAL_RSS_MB}) | peak (VmHWM) | table applied ms (goal {GOAL_RESTORE_MS}) | \
         portal answering ms | store KB written | nft spawns | sessions ended | table rewrites"
    );
    for n in sizes {
        run_one(n, secs);
    }
}

/// A temporary directory removed at the end.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn write_config(dir: &Path) -> PathBuf {
    let p = |name: &str| dir.join(name).display().to_string();
    let text = format!(
        "config gateway 'main'\n\toption interface 'lan'\n\toption device 'br-guest'\n\
         \toption portal_addr '10.77.0.1'\n\toption portal_port '8080'\n\
         \toption admin_addr '127.0.0.1'\n\toption admin_port '8081'\n\toption dns_port '8053'\n\
         \toption leases '{}'\n\toption dnsmasq_confdir '{}'\n\toption store '{}'\n\
         \toption api_token_file '{}'\n\toption gate_file '{}'\n\
         config brand\n\toption name 'Idle Cafe'\n\
         config mpesa\n\toption environment 'simulator'\n\toption consumer_key 'k'\n\
         \toption consumer_secret 's'\n\toption shortcode '174379'\n\toption passkey 'p'\n\
         config package 'hour'\n\toption name 'Hour'\n\toption price '20'\n\
         \toption duration '1h'\n",
        p("leases"),
        p("dnsmasq.d"),
        p("lango.redb"),
        p("api-token"),
        p("gate.nft"),
    );
    let path = dir.join("lango.conf");
    std::fs::write(&path, text).expect("config");
    std::fs::write(dir.join("leases"), "").expect("leases");
    path
}

/// An `nft` first on lango's PATH that counts its starts, then runs the real one.
fn nft_shim(dir: &Path) -> PathBuf {
    let real = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nft installed");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("shim dir");
    let script = format!(
        "#!/bin/sh\necho >> {}\nexec {real} \"$@\"\n",
        dir.join("nft-spawns").display()
    );
    let shim = bin.join("nft");
    std::fs::write(&shim, script).expect("shim");
    let _ = Command::new("chmod").arg("+x").arg(&shim).status();
    bin
}

fn delete_table() {
    let _ = Command::new("nft")
        .args(["delete", "table", "inet", "lango"])
        .stderr(Stdio::null())
        .status();
    let _ = Command::new("nft")
        .args(["delete", "table", "inet", "lango_gate"])
        .stderr(Stdio::null())
        .status();
}

/// Whether the last device (the largest MAC: `Desired` is sorted by MAC, so it is in a
/// restore's last batch) is in `paid_mac`, asked of the kernel over netlink (one
/// NFT_MSG_GETSETELEM, answered 0 or ENOENT in microseconds). A restore loads the table's
/// skeleton first and its devices after, so the set's existence says nothing; and the nft CLI
/// is no probe at this size: `nft get element` loads its cache (11,668 objects) and took
/// 100-140 ms per poll while the restore ran, the `nft list set` the bench used before about
/// 50 (a full `nft -f` brings set and devices in one transaction).
fn table_applied(n: u32) -> bool {
    use nix::sys::socket::{bind, recv, send, socket, AddressFamily, MsgFlags, NetlinkAddr};
    use nix::sys::socket::{SockFlag, SockProtocol, SockType};
    use std::os::fd::AsRawFd;
    let attr = |out: &mut Vec<u8>, kind: u16, data: &[u8]| {
        out.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(4), 0);
    };
    const NESTED: u16 = 0x8000;
    let mut key = Vec::new();
    attr(&mut key, 1, &active_session(n - 1, n, 0).mac.0); // NFTA_DATA_VALUE
    let mut elem = Vec::new();
    attr(&mut elem, 1 | NESTED, &key); // NFTA_SET_ELEM_KEY
    let mut list = Vec::new();
    attr(&mut list, 1 | NESTED, &elem); // NFTA_LIST_ELEM
    let mut body = Vec::new();
    attr(&mut body, 1, b"lango\0"); // NFTA_SET_ELEM_LIST_TABLE
    attr(&mut body, 2, b"paid_mac\0"); // NFTA_SET_ELEM_LIST_SET
    attr(&mut body, 3 | NESTED, &list); // NFTA_SET_ELEM_LIST_ELEMENTS
    let mut msg = Vec::new();
    msg.extend_from_slice(&(20 + body.len() as u32).to_ne_bytes());
    msg.extend_from_slice(&(10u16 << 8 | 13).to_ne_bytes()); // NFT_MSG_GETSETELEM
    msg.extend_from_slice(&5u16.to_ne_bytes()); // NLM_F_REQUEST | NLM_F_ACK
    msg.extend_from_slice(&1u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&[1, 0, 0, 0]); // NFPROTO_INET
    msg.extend_from_slice(&body);
    let Ok(fd) = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkNetFilter,
    ) else {
        return false;
    };
    if bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).is_err()
        || send(fd.as_raw_fd(), &msg, MsgFlags::empty()).is_err()
    {
        return false;
    }
    // The element comes back first, then the ack; or only an error (ENOENT).
    let mut buf = vec![0u8; 8192];
    loop {
        let Ok(len) = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) else {
            return false;
        };
        let mut at = 0;
        while at + 20 <= len {
            let size = u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap_or_default()) as usize;
            let kind = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
            if kind == 2 {
                // NLMSG_ERROR: 0 is the ack after the element.
                return i32::from_ne_bytes(buf[at + 16..at + 20].try_into().unwrap_or_default())
                    == 0;
            }
            at += size.max(20).next_multiple_of(4);
        }
    }
}

/// One HTTP request to lango; the status line's code.
fn http(addr: &str, request: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split(' ').nth(1)?.parse().ok()
}

/// (utime + stime, cutime + cstime) in clock ticks.
fn cpu_ticks(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // After the command: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    let get = |n: usize| f.get(n - 3).copied().unwrap_or(0);
    (get(14) + get(15), get(16) + get(17))
}

fn status_kb(pid: u32, key: &str) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn write_bytes(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("write_bytes: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn run_one(n: u32, secs: u64) {
    let dir = Dir(std::env::temp_dir().join(format!("lango-idle-{}-{n}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let config = write_config(&dir.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    {
        let store = Store::open(&dir.0.join("lango.redb")).expect("store");
        store
            .write(Durability::Durable, |w| {
                for i in 0..n {
                    w.put_session(&active_session(i, n, now))?;
                }
                w.set_meta("next_id", u64::from(n) + 1)
            })
            .expect("seed");
    }
    delete_table();
    let shim = nft_shim(&dir.0);
    let path = format!(
        "{}:{}",
        shim.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let log = std::fs::File::create(dir.0.join("lango.log")).expect("log");
    let start = Instant::now();
    // `LANGO_IDLE_WRAP="heaptrack -o /tmp/idle"` runs lango under a profiler (its figures
    // are then the profiler's, not lango's).
    let wrap = std::env::var("LANGO_IDLE_WRAP").unwrap_or_default();
    // `LANGO_IDLE_BIN=artifacts/x86_64/lango` measures a router build (static, musl's
    // allocator) instead of this host build (glibc's).
    let bin =
        std::env::var("LANGO_IDLE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_lango").into());
    let mut words = wrap.split_whitespace();
    let mut cmd = match words.next() {
        Some(tool) => {
            let mut c = Command::new(tool);
            c.args(words).arg(&bin);
            c
        }
        None => Command::new(&bin),
    };
    let mut child: Child = cmd
        .args(["serve", "--config"])
        .arg(&config)
        .env("PATH", path)
        .env("LANGO_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start lango");
    let pid = child.id();
    let (mut applied_ms, mut portal_ms) = (None, None);
    let get = "GET /api/packages HTTP/1.1\r\nHost: 10.77.0.1\r\nConnection: close\r\n\r\n";
    while (applied_ms.is_none() || portal_ms.is_none()) && start.elapsed().as_secs() < 30 {
        if applied_ms.is_none() && table_applied(n) {
            applied_ms = Some(start.elapsed().as_secs_f64() * 1000.0);
        }
        if portal_ms.is_none() && http("10.77.0.1:8080", get) == Some(200) {
            portal_ms = Some(start.elapsed().as_secs_f64() * 1000.0);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    // Let the first housekeeping settle, then measure the window.
    std::thread::sleep(Duration::from_secs(2));
    let token = std::fs::read_to_string(dir.0.join("api-token")).unwrap_or_default();
    let spawns = || {
        std::fs::read(dir.0.join("nft-spawns"))
            .map(|b| b.len())
            .unwrap_or(0)
    };
    let (cpu0, child0) = cpu_ticks(pid);
    let (io0, spawns0) = (write_bytes(pid), spawns());
    let rss_start = status_kb(pid, "VmRSS:") / 1024.0;
    let window = Instant::now();
    let mut kick = 0u32;
    // RSS once a minute, to tell a level from a climb (printed after the row).
    let mut minutes: Vec<f64> = Vec::new();
    while window.elapsed().as_secs() < secs {
        if window.elapsed().as_secs() >= 60 * (minutes.len() as u64 + 1) {
            minutes.push(status_kb(pid, "VmRSS:") / 1024.0);
        }
        // One kick a second, from the end of the hour (not a session about to expire anyway).
        kick += 1;
        let id = u64::from(n.saturating_sub(kick)) + 1;
        let body = format!("id={id}");
        let request = format!(
            "POST /api/sessions/revoke HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            token.trim(),
            body.len()
        );
        let _ = http("127.0.0.1:8081", &request);
        std::thread::sleep(Duration::from_secs(1));
    }
    let elapsed = window.elapsed().as_secs_f64();
    let (cpu1, child1) = cpu_ticks(pid);
    let (io1, spawns1) = (write_bytes(pid), spawns());
    let rss_end = status_kb(pid, "VmRSS:") / 1024.0;
    let hwm = status_kb(pid, "VmHWM:") / 1024.0;
    let tick = 100.0;
    let own = (cpu1 - cpu0) as f64 / tick / elapsed * 100.0;
    let with_children = (cpu1 + child1 - cpu0 - child0) as f64 / tick / elapsed * 100.0;
    let _ = stop(pid);
    let _ = child.wait();
    let ended = Store::open(&dir.0.join("lango.redb"))
        .and_then(|s| s.read(|r| r.active_sessions()))
        .map_or(0, |a| n as usize - a.len());
    let log = std::fs::read_to_string(dir.0.join("lango.log")).unwrap_or_default();
    let rewrites = log.matches("rewriting the table").count();
    if std::env::var_os("LANGO_IDLE_LOG").is_some() {
        eprintln!("{log}");
    }
    let ms = |v: Option<f64>| v.map_or("timeout".to_string(), |v| format!("{v:.0}"));
    println!(
        "{n:>7} | {elapsed:>8.0} | {own:>6.2} ({:.1}× goal) | {with_children:>6.2} | {rss_start:>5.1} | {rss_end:>5.1} ({:.1}× goal) | {hwm:>5.1} | {} ({}) | {} | \
         {:.0} | {} | {ended} | {rewrites}",
        own / GOAL_CPU_PCT,
        rss_end / GOAL_RSS_MB,
        ms(applied_ms),
        applied_ms.map_or("-".into(), |v| format!("{:.1}× goal", v / GOAL_RESTORE_MS)),
        ms(portal_ms),
        (io1 - io0) as f64 / 1024.0,
        spawns1 - spawns0,
    );
    if !minutes.is_empty() {
        let each: Vec<String> = minutes.iter().map(|m| format!("{m:.1}")).collect();
        println!("        RSS MB at each minute: {}", each.join(", "));
    }
    delete_table();
}

/// SIGTERM: lango writes its final checkpoint and stops.
fn stop(pid: u32) -> std::io::Result<std::process::ExitStatus> {
    Command::new("kill").arg(pid.to_string()).status()
}
