//! The network lab: real kernel, real nft, real dnsmasq. Each test builds its own network
//! namespaces (`router` running lango with the nft backend and dnsmasq; `guest` devices using
//! busybox udhcpc and curl; `wan` with an HTTP server, a UDP sink and a DNS server standing for
//! the internet) joined by veth pairs, over IPv4 and IPv6, using only addresses inside them.
//! Needs root; without it the tests skip with a message, unless LANGO_REQUIRE_ALL_TESTS is set
//! (CI sets it), which turns a skip into a failure.

use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::support::TempDir;

pub const ROUTER4: &str = "10.77.0.1";
pub const WAN4: &str = "10.78.0.2";
pub const WAN6: &str = "fd78::2";

/// A Python HTTP server for the wan: serves files from a directory over IPv4 and IPv6.
const HTTP_SERVER: &str = r#"
import http.server, socket, sys, os
os.chdir(sys.argv[1])
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
S(("::", 80), H).serve_forever()
"#;

/// A stand-in for an internet resolver and a UDP service: counts every datagram it receives
/// (in a file) and answers DNS queries with 10.78.0.99.
const UDP_SINK: &str = r#"
import socket, sys, select
count_file = sys.argv[1]
socks = []
for port in (53, 9999):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port)); socks.append(s)
n = 0
open(count_file, "w").write("0")
while True:
    r, _, _ = select.select(socks, [], [])
    for s in r:
        data, peer = s.recvfrom(2048)
        n += 1
        open(count_file, "w").write(str(n))
        if s.getsockname()[1] == 53 and len(data) > 12:
            q = data[12:]
            end = q.index(0) + 5
            ans = data[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + q[:end] + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([10,78,0,99])
            s.sendto(ans, peer)
"#;

/// A DNS query from a guest: prints the first A answer, or "none".
const DNS_QUERY: &str = r#"
import socket, sys, random
server, name = sys.argv[1], sys.argv[2]
port = int(sys.argv[3]) if len(sys.argv) > 3 else 0
q = bytes([random.randrange(256), random.randrange(256), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])
for label in name.split("."):
    q += bytes([len(label)]) + label.encode()
q += b"\x00\x00\x01\x00\x01"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", port))
try:
    s.sendto(q, (server, 53)); r = s.recv(512)
    print("%d.%d.%d.%d" % tuple(r[-4:]) if r[7] > 0 else "none")
except Exception:
    print("timeout")
"#;

/// busybox udhcpc's script: configures the lease and keeps the environment (option 114).
const UDHCPC_SCRIPT: &str = "#!/bin/sh\n\
case \"$1\" in bound|renew)\n\
  ip -4 addr flush dev \"$interface\" scope global\n\
  ip addr add \"$ip/24\" dev \"$interface\"\n\
  ip route replace default via \"$router\"\n\
  env > \"$LANGO_LAB_ENV\" ;;\n\
esac\n";

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Whether the lab can run here; prints why not, or fails in CI.
pub fn lab_available() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n");
    let tools = [
        "nft",
        "dnsmasq",
        "ip",
        "curl",
        "busybox",
        "python3",
        "ping",
        "bash",
        "iperf3",
        "conntrack",
    ]
    .iter()
    .all(|t| {
        Command::new("sh")
            .args(["-c", &format!("command -v {t}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    // The gate tests forge packets with Debian's python3-scapy.
    let scapy = Command::new("/usr/bin/python3")
        .args(["-c", "import scapy.all"])
        .output()
        .is_ok_and(|o| o.status.success());
    let tools = tools && scapy;
    if root && tools {
        return true;
    }
    let why = if root {
        "nft, dnsmasq, ip, curl, busybox, python3, ping, bash, iperf3, conntrack or \
         python3-scapy is missing"
    } else {
        "not running as root"
    };
    if std::env::var_os("LANGO_REQUIRE_ALL_TESTS").is_some() {
        panic!("lab test cannot run ({why}) but LANGO_REQUIRE_ALL_TESTS is set");
    }
    eprintln!("skipping lab test: {why} (network namespaces and nftables need root)");
    false
}

pub struct Lab {
    pub ns_router: String,
    pub ns_wan: String,
    pub ns_guests: Vec<String>,
    pub dir: TempDir,
    lango: Option<Child>,
    others: Vec<Child>,
}

/// Guest `n`'s MAC.
pub fn guest_mac(n: usize) -> String {
    format!("02:aa:00:00:00:{:02x}", n)
}

pub fn run(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

#[track_caller]
pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Lab {
    /// Builds the namespaces, starts the wan services, dnsmasq and lango. `packages` is UCI
    /// text appended to the lab's config.
    pub fn start(guests: usize, packages: &str) -> Option<Lab> {
        if !lab_available() {
            return None;
        }
        let id = format!(
            "{}{}",
            std::process::id() % 100_000,
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let dir = TempDir::new(&format!("lab{id}"));
        let mut lab = Lab {
            ns_router: format!("lr{id}"),
            ns_wan: format!("lw{id}"),
            ns_guests: (1..=guests).map(|n| format!("lg{id}x{n}")).collect(),
            dir,
            lango: None,
            others: Vec::new(),
        };
        lab.build_network();
        lab.start_wan();
        lab.write_config(packages);
        lab.start_lango();
        lab.start_dnsmasq();
        Some(lab)
    }

    fn build_network(&self) {
        let r = self.ns_router.as_str();
        let w = self.ns_wan.as_str();
        for ns in [r, w]
            .into_iter()
            .chain(self.ns_guests.iter().map(String::as_str))
        {
            ok(&["ip", "netns", "add", ns]);
            ok(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        ok(&["ip", "-n", r, "link", "add", "br-guest", "type", "bridge"]);
        ok(&["ip", "-n", r, "link", "set", "br-guest", "up"]);
        ok(&[
            "ip",
            "-n",
            r,
            "addr",
            "add",
            "10.77.0.1/24",
            "dev",
            "br-guest",
        ]);
        ok(&[
            "ip",
            "-n",
            r,
            "addr",
            "add",
            "fd77::1/64",
            "dev",
            "br-guest",
            "nodad",
        ]);
        for (idx, g) in self.ns_guests.iter().enumerate() {
            let port = format!("p{}", idx + 1);
            ok(&[
                "ip", "link", "add", "eth0", "netns", g, "type", "veth", "peer", "name", &port,
                "netns", r,
            ]);
            ok(&[
                "ip",
                "-n",
                g,
                "link",
                "set",
                "eth0",
                "address",
                &guest_mac(idx + 1),
            ]);
            ok(&["ip", "-n", g, "link", "set", "eth0", "up"]);
            ok(&["ip", "-n", r, "link", "set", &port, "master", "br-guest"]);
            ok(&["ip", "-n", r, "link", "set", &port, "up"]);
            let v6 = format!("fd77::{}/64", 10 + idx);
            ok(&["ip", "-n", g, "addr", "add", &v6, "dev", "eth0", "nodad"]);
            ok(&[
                "ip", "-n", g, "-6", "route", "add", "default", "via", "fd77::1",
            ]);
        }
        ok(&[
            "ip", "link", "add", "wan0", "netns", r, "type", "veth", "peer", "name", "eth0",
            "netns", w,
        ]);
        ok(&["ip", "-n", r, "addr", "add", "10.78.0.1/24", "dev", "wan0"]);
        ok(&[
            "ip",
            "-n",
            r,
            "addr",
            "add",
            "fd78::1/64",
            "dev",
            "wan0",
            "nodad",
        ]);
        ok(&["ip", "-n", r, "link", "set", "wan0", "up"]);
        ok(&["ip", "-n", w, "addr", "add", "10.78.0.2/24", "dev", "eth0"]);
        ok(&[
            "ip",
            "-n",
            w,
            "addr",
            "add",
            "fd78::2/64",
            "dev",
            "eth0",
            "nodad",
        ]);
        ok(&["ip", "-n", w, "link", "set", "eth0", "up"]);
        ok(&[
            "ip",
            "-n",
            w,
            "route",
            "add",
            "10.77.0.0/24",
            "via",
            "10.78.0.1",
        ]);
        ok(&[
            "ip",
            "-n",
            w,
            "-6",
            "route",
            "add",
            "fd77::/64",
            "via",
            "fd78::1",
        ]);
        ok(&[
            "ip",
            "netns",
            "exec",
            r,
            "sysctl",
            "-q",
            "-w",
            "net.ipv4.ip_forward=1",
        ]);
        ok(&[
            "ip",
            "netns",
            "exec",
            r,
            "sysctl",
            "-q",
            "-w",
            "net.ipv6.conf.all.forwarding=1",
        ]);
    }

    pub fn spawn(&mut self, ns: &str, args: &[&str]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path("services.log"))
            .unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn in namespace");
        self.others.push(child);
    }

    fn start_wan(&mut self) {
        let www = self.dir.path("www");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::write(www.join("ok.txt"), "internet\n").unwrap();
        // Incompressible files for the quota and speed tests.
        let mut state = 0x1234_5678_u32;
        let big: Vec<u8> = (0..4_000_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        std::fs::write(www.join("4mb.bin"), &big).unwrap();
        std::fs::write(www.join("1mb.bin"), &big[..1_000_000]).unwrap();
        let http = self.dir.path("wan_http.py");
        std::fs::write(&http, HTTP_SERVER).unwrap();
        let sink = self.dir.path("sink.py");
        std::fs::write(&sink, UDP_SINK).unwrap();
        std::fs::write(self.dir.path("query.py"), DNS_QUERY).unwrap();
        let ns = self.ns_wan.clone();
        self.spawn(
            &ns,
            &["python3", http.to_str().unwrap(), www.to_str().unwrap()],
        );
        let count = self.dir.path("wan-udp-count");
        self.spawn(
            &ns,
            &["python3", sink.to_str().unwrap(), count.to_str().unwrap()],
        );
        self.wait_for("the wan HTTP server", || {
            self.exec(
                &self.ns_wan,
                &["curl", "-s", "-o", "/dev/null", "http://127.0.0.1/ok.txt"],
            )
            .status
            .success()
                && std::fs::metadata(&count).is_ok()
        });
    }

    fn write_config(&self, packages: &str) {
        let text = format!(
            "config gateway 'main'\n\
             \toption interface 'lan'\n\
             \toption device 'br-guest'\n\
             \toption portal_addr '10.77.0.1'\n\
             \toption portal_addr6 'fd77::1'\n\
             \toption portal_port '8080'\n\
             \toption admin_addr '127.0.0.1'\n\
             \toption admin_port '8081'\n\
             \toption dns_port '8053'\n\
             \toption reconcile_interval '2s'\n\
             \toption leases '{leases}'\n\
             \toption dnsmasq_confdir '{confdir}'\n\
             \toption store '{store}'\n\
             \toption api_token_file '{token}'\n\
             \toption gate_file '{gate}'\n\
             \toption ipv6_window '4s'\n\
             config brand\n\
             \toption name 'Lab Cafe'\n\
             config mpesa\n\
             \toption environment 'simulator'\n\
             \toption consumer_key 'k'\n\
             \toption consumer_secret 's'\n\
             \toption shortcode '174379'\n\
             \toption passkey 'p'\n\
             config package 'hour'\n\
             \toption name 'Hour'\n\
             \toption price '20'\n\
             \toption duration '1h'\n\
             {packages}",
            leases = self.dir.path("leases").display(),
            confdir = self.dir.path("dnsmasq.d").display(),
            store = self.dir.path("lango.redb").display(),
            token = self.dir.path("api-token").display(),
            gate = self.dir.path("gate.nft").display(),
        );
        std::fs::write(self.dir.path("lango.conf"), text).unwrap();
    }

    pub fn start_lango(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path("lango.log"))
            .unwrap();
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns_router,
                // LANGO_LAB_BIN: another build of lango (a release build, for its memory).
                &std::env::var("LANGO_LAB_BIN")
                    .unwrap_or_else(|_| env!("CARGO_BIN_EXE_lango").to_string()),
                "serve",
                "--config",
            ])
            .arg(self.dir.path("lango.conf"))
            .env("LANGO_SIMULATOR_APPROVE_SECS", "2")
            .env("LANGO_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start lango");
        self.lango = Some(child);
        self.wait_for("lango's portal", || {
            self.portal_up()
                && self
                    .exec(&self.ns_router, &["nft", "list", "table", "inet", "lango"])
                    .status
                    .success()
        });
    }

    /// Whether lango's portal answers on the router.
    pub fn portal_up(&self) -> bool {
        let url = "http://10.77.0.1:8080/api/packages";
        let curl = ["curl", "-s", "-o", "/dev/null", url];
        self.exec(&self.ns_router, &curl).status.success()
    }

    /// Adds an option to the gateway section and restarts lango with it.
    pub fn restart_with_gateway_option(&mut self, line: &str) {
        let path = self.dir.path("lango.conf");
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.replacen(
            "config gateway 'main'\n",
            &format!("config gateway 'main'\n\t{line}\n"),
            1,
        );
        std::fs::write(&path, text).unwrap();
        self.kill_lango();
        self.start_lango();
    }

    /// Runs `nft` in the router with a script on stdin.
    pub fn nft_script(&self, script: &str) -> Output {
        use std::io::Write;
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.ns_router, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nft");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// What fw4 does at `fw4 start`/`reload` (and the second half of `restart`): one nft
    /// transaction with its own table and the `ruleset-post` includes, lango's gate among them.
    pub fn fw4_start(&self) {
        let gate = std::fs::read_to_string(self.dir.path("gate.nft"))
            .expect("lango wrote the gate include");
        let script = format!(
            "table inet fw4\nflush table inet fw4\ntable inet fw4 {{\n\tchain forward {{\n\t\ttype filter hook forward priority filter; policy accept;\n\t}}\n}}\n{gate}"
        );
        let out = self.nft_script(&script);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Deletes lango's table, as an attacker with root or a careless script would.
    pub fn nft_delete_table(&self) {
        ok(&[
            "ip",
            "netns",
            "exec",
            &self.ns_router,
            "nft",
            "delete",
            "table",
            "inet",
            "lango",
        ]);
    }

    /// `nft flush ruleset`: every table goes, the gate's and fw4's too.
    pub fn nft_flush_ruleset(&self) {
        ok(&[
            "ip",
            "netns",
            "exec",
            &self.ns_router,
            "nft",
            "flush",
            "ruleset",
        ]);
    }

    /// `fw4 stop`: deletes fw4's own table only.
    pub fn fw4_stop(&self) {
        let _ = self.exec(&self.ns_router, &["nft", "delete", "table", "inet", "fw4"]);
    }

    /// Sends SIGHUP to lango, as fw4's include hook does.
    pub fn hup(&self) {
        let pid = self.lango_pid().expect("lango runs");
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGHUP,
        );
    }

    pub fn lango_pid(&self) -> Option<i32> {
        self.lango.as_ref().map(|c| c.id() as i32)
    }

    /// SIGKILL: no checkpoint, no cleanup, as a crash or the OOM killer would.
    pub fn kill_lango(&mut self) {
        if let Some(mut child) = self.lango.take() {
            // `ip netns exec` execs lango, so the child's pid is lango's.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = child.wait();
        }
    }

    fn start_dnsmasq(&mut self) {
        let ns = self.ns_router.clone();
        let leases = self.dir.path("leases");
        let confdir = self.dir.path("dnsmasq.d");
        let args = [
            "dnsmasq".to_string(),
            "--keep-in-foreground".into(),
            "--conf-file=/dev/null".into(),
            "--user=root".into(),
            "--interface=br-guest".into(),
            "--bind-interfaces".into(),
            "--dhcp-range=set:lan,10.77.0.100,10.77.0.150,255.255.255.0,1h".into(),
            format!("--dhcp-leasefile={}", leases.display()),
            format!("--conf-dir={}", confdir.display()),
            "--server=10.78.0.2".into(),
            // A name dnsmasq answers itself, so that a real answer can be told from lango's.
            "--address=/real.example/10.78.0.9".into(),
            "--no-resolv".into(),
            "--no-hosts".into(),
            format!("--pid-file={}", self.dir.path("dnsmasq.pid").display()),
        ];
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.spawn(&ns, &refs);
        std::thread::sleep(Duration::from_millis(300));
    }

    /// Runs a command inside a namespace.
    pub fn exec(&self, ns: &str, args: &[&str]) -> Output {
        let mut full = vec!["ip", "netns", "exec", ns];
        full.extend_from_slice(args);
        run(&full)
    }

    /// Gets a DHCP lease for guest `n` (1-based); returns the environment udhcpc saw.
    pub fn dhcp(&self, n: usize) -> String {
        self.dhcp_with(n, &[])
    }

    /// `dhcp` with more udhcpc arguments (`-x hostname:NAME`, `-x 0x3d:HEX` a client id).
    pub fn dhcp_with(&self, n: usize, extra: &[&str]) -> String {
        let script = self.dir.path("udhcpc.sh");
        std::fs::write(&script, UDHCPC_SCRIPT).unwrap();
        let _ = run(&["chmod", "+x", script.to_str().unwrap()]);
        let env_file = self.dir.path(&format!("dhcp-env-{n}"));
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns_guests[n - 1],
                "busybox",
                "udhcpc",
                "-i",
                "eth0",
                "-n",
                "-q",
                "-f",
                "-t",
                "5",
                "-T",
                "1",
                "-O",
                "114",
                "-s",
            ])
            .arg(&script)
            .args(extra)
            .env("LANGO_LAB_ENV", &env_file)
            .output()
            .unwrap();
        let services = std::fs::read_to_string(self.dir.path("services.log")).unwrap_or_default();
        let ss = String::from_utf8_lossy(&self.exec(&self.ns_router, &["ss", "-lntup"]).stdout)
            .into_owned();
        assert!(
            out.status.success(),
            "udhcpc: {}\nservices:\n{services}\n{ss}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(&env_file).unwrap_or_default()
    }

    /// Gives guest `n` a fixed IPv4 address instead of a lease.
    pub fn static_ip(&self, n: usize, ip: &str) {
        let g = &self.ns_guests[n - 1];
        ok(&[
            "ip",
            "-n",
            g,
            "addr",
            "add",
            &format!("{ip}/24"),
            "dev",
            "eth0",
        ]);
        ok(&["ip", "-n", g, "route", "replace", "default", "via", ROUTER4]);
    }

    /// curl from guest `n`: (exit code, body).
    pub fn curl(&self, n: usize, args: &[&str]) -> (i32, String) {
        let mut full = vec!["curl", "-s", "--max-time", "3"];
        full.extend_from_slice(args);
        let out = self.exec(&self.ns_guests[n - 1], &full);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// Whether guest `n` reaches the wan's HTTP server (IPv4, or IPv6 with `v6`).
    pub fn online(&self, n: usize, v6: bool) -> bool {
        let url = if v6 {
            format!("http://[{WAN6}]/ok.txt")
        } else {
            format!("http://{WAN4}/ok.txt")
        };
        let (code, body) = self.curl(n, &["--max-time", "1", &url]);
        code == 0 && body == "internet\n"
    }

    /// Datagrams the wan's UDP services received so far.
    pub fn wan_udp_count(&self) -> u64 {
        std::fs::read_to_string(self.dir.path("wan-udp-count"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The first A answer guest `n` gets from `server` for `name`.
    pub fn dns(&self, n: usize, server: &str, name: &str) -> String {
        let query = self.dir.path("query.py");
        let out = self.exec(
            &self.ns_guests[n - 1],
            &["python3", query.to_str().unwrap(), server, name],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Guest `n` buys `package` through the portal form; returns the payment's token (from the
    /// redirect to /pay/<token>).
    pub fn buy(&self, n: usize, package: &str, phone: &str) -> String {
        let form = format!("package={package}&phone={phone}");
        let out = self.exec(
            &self.ns_guests[n - 1],
            &[
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{redirect_url}",
                "--data",
                &form,
                "http://10.77.0.1:8080/buy",
            ],
        );
        let location = String::from_utf8_lossy(&out.stdout).to_string();
        let token = location.rsplit('/').next().unwrap_or("").to_string();
        assert_eq!(token.len(), lango::core::token::TOKEN_LEN, "{location}");
        token
    }

    /// Like `dns`, from a fixed UDP source port (one conntrack flow across queries).
    pub fn dns_from(&self, n: usize, server: &str, name: &str, port: u16) -> String {
        let query = self.dir.path("query.py");
        let port = port.to_string();
        let out = self.exec(
            &self.ns_guests[n - 1],
            &["python3", query.to_str().unwrap(), server, name, &port],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Calls the owner API from inside the router (127.0.0.1 is in admin_allow) with the API
    /// token lango wrote at start (root-only), as a script on the router would.
    pub fn admin(&self, method: &str, path: &str, form: &str) -> serde_json::Value {
        let url = format!("http://127.0.0.1:8081{path}");
        let token = std::fs::read_to_string(self.dir.path("api-token")).expect("the API token");
        let auth = format!("Authorization: Bearer {}", token.trim());
        let mut args = vec![
            "curl",
            "-s",
            "--max-time",
            "5",
            "-H",
            auth.as_str(),
            "-X",
            method,
        ];
        if !form.is_empty() {
            args.extend_from_slice(&["--data", form]);
        }
        args.push(&url);
        let out = self.exec(&self.ns_router, &args);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{path}: {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// A fresh voucher for a package.
    pub fn voucher(&self, package: &str) -> String {
        let reply = self.admin(
            "POST",
            "/api/vouchers",
            &format!("package={package}&count=1&days=1"),
        );
        reply["codes"][0].as_str().expect("a code").to_string()
    }

    /// Guest `n` redeems a voucher through the portal.
    pub fn redeem(&self, n: usize, code: &str) {
        let (code_exit, _) = self.curl(
            n,
            &[
                "-o",
                "/dev/null",
                "--data",
                &format!("code={code}"),
                "http://10.77.0.1:8080/voucher",
            ],
        );
        assert_eq!(code_exit, 0);
    }

    #[track_caller]
    pub fn wait_for(&self, what: &str, mut check: impl FnMut() -> bool) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if check() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(self.dir.path("lango.log")).unwrap_or_default();
        let services = std::fs::read_to_string(self.dir.path("services.log")).unwrap_or_default();
        let neigh =
            String::from_utf8_lossy(&self.exec(&self.ns_router, &["ip", "-6", "neigh"]).stdout)
                .into_owned();
        let table = String::from_utf8_lossy(
            &self
                .exec(&self.ns_router, &["nft", "list", "table", "inet", "lango"])
                .stdout,
        )
        .into_owned();
        panic!("timed out waiting for {what}; lango log:\n{log}\nservices:\n{services}\nneighbours:\n{neigh}\n{table}");
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.kill_lango();
        for child in &mut self.others {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in [&self.ns_router, &self.ns_wan]
            .into_iter()
            .chain(self.ns_guests.iter())
        {
            let pids =
                String::from_utf8_lossy(&run(&["ip", "netns", "pids", ns]).stdout).into_owned();
            for pid in pids.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
                let pid = nix::unistd::Pid::from_raw(pid);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
            let _ = run(&["ip", "netns", "del", ns]);
        }
    }
}

/// Seconds since an instant, with milliseconds.
pub fn secs(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}

#[test]
fn lab_unpaid_guest_is_gated() {
    let Some(lab) = Lab::start(1, "") else { return };
    let env = lab.dhcp(1);
    assert!(env.contains("ip=10.77.0."), "{env}");
    // DHCP option 114 (RFC 8910) announces the portal API; busybox shows it as hex.
    let uri = "http://10.77.0.1:8080/api/captive";
    let hex: String = uri.bytes().map(|b| format!("{b:02x}")).collect();
    assert!(
        env.contains(&format!("opt114={hex}")) || env.contains(uri),
        "{env}"
    );
    // HTTP to any address lands on the portal.
    let (code, body) = lab.curl(1, &["-L", &format!("http://{WAN4}/ok.txt")]);
    assert_eq!(code, 0);
    assert!(
        body.contains("Lab Cafe") && !body.contains("internet"),
        "{body}"
    );
    let (code, body) = lab.curl(1, &["-L", &format!("http://[{WAN6}]/ok.txt")]);
    assert_eq!(code, 0, "IPv6 HTTP lands on the portal too");
    assert!(body.contains("Lab Cafe"), "{body}");
    // HTTPS is reset at once (no timeout), over both families.
    let start = Instant::now();
    let (code, _) = lab.curl(1, &[&format!("https://{WAN4}/")]);
    assert_eq!(code, 7, "connection refused by a reset");
    assert!(secs(start) < 1.0, "reset, not a timeout");
    let (code, _) = lab.curl(1, &[&format!("https://[{WAN6}]/")]);
    assert_eq!(code, 7);
    // Other TCP, UDP and ICMP to the wan fail, IPv4 and IPv6.
    assert_eq!(lab.curl(1, &[&format!("http://{WAN4}:8080/")]).0, 7);
    let before = lab.wan_udp_count();
    for target in [WAN4, WAN6] {
        let send = format!("echo hi > /dev/udp/{target}/9999");
        let _ = lab.exec(&lab.ns_guests[0], &["bash", "-c", &send]);
        assert!(!lab
            .exec(&lab.ns_guests[0], &["ping", "-c", "1", "-W", "1", target])
            .status
            .success());
    }
    // DNS to an outside resolver never gets there; the answer is the portal's.
    assert_eq!(lab.dns(1, WAN4, "example.org"), ROUTER4);
    // A random name through the router is answered by lango, not recursed to the wan.
    assert_eq!(lab.dns(1, ROUTER4, "x7q2k9.tunnel.example"), ROUTER4);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        lab.wan_udp_count(),
        before,
        "no datagram from the unpaid guest reached the wan"
    );
    // TCP DNS to the router (dnsmasq recursion) is refused too.
    assert_eq!(lab.curl(1, &["telnet://10.77.0.1:53"]).0, 7);
}

#[test]
fn lab_payment_opens_ipv4_and_ipv6_within_a_second() {
    let Some(lab) = Lab::start(1, "") else { return };
    lab.dhcp(1);
    // The guest's IPv6 address reaches the router's neighbour table, as any real traffic would.
    let ping = lab.exec(
        &lab.ns_guests[0],
        &["ping", "-6", "-c", "1", "-W", "1", "fd77::1"],
    );
    assert!(
        ping.status.success(),
        "the router answers ICMPv6 from unpaid guests"
    );
    assert!(!lab.online(1, false) && !lab.online(1, true));
    let token = lab.buy(1, "hour", "0712345678");
    let status_url = format!("http://10.77.0.1:8080/api/payment/{token}");
    let mut paid_at = None;
    lab.wait_for("the simulated customer to pay", || {
        let (_, body) = lab.curl(1, &[&status_url]);
        if body.contains("\"state\":\"paid\"") {
            paid_at = Some(Instant::now());
            return true;
        }
        false
    });
    let paid_at = paid_at.unwrap();
    lab.wait_for("IPv4 access", || lab.online(1, false));
    let v4 = secs(paid_at);
    lab.wait_for("IPv6 access", || lab.online(1, true));
    let v6 = secs(paid_at);
    eprintln!("lab: time from payment confirmed to access: IPv4 {v4:.3}s, IPv6 {v6:.3}s");
    // The figure is for docs (18 ms unloaded); the bound only says "at once, not at the next
    // reconcile", with room for a loaded CI machine. IPv6 addresses are learned from the
    // device's own traffic after the grant (polled every second in its binding window).
    assert!(v4 < 2.0 && v6 < 3.5, "IPv4 {v4:.3}s, IPv6 {v6:.3}s");
}

#[test]
fn lab_expiry_ends_access_on_time_even_if_lango_is_dead() {
    let packages = "config package 'short'\n\toption name 'Short'\n\toption price '5'\n\toption duration '8s'\n";
    let Some(mut lab) = Lab::start(2, packages) else {
        return;
    };
    lab.dhcp(1);
    lab.dhcp(2);
    // Guest 1: lango stays alive. Guest 2: lango is killed before the deadline.
    lab.redeem(1, &lab.voucher("short"));
    let granted = Instant::now();
    lab.wait_for("guest 1 online", || lab.online(1, false));
    lab.redeem(2, &lab.voucher("short"));
    let granted2 = Instant::now();
    lab.wait_for("guest 2 online", || lab.online(2, false));
    let mut ended1 = None;
    while secs(granted) < 12.0 {
        // The time the failing request started: a refused request takes up to its timeout.
        let tried = secs(granted);
        if ended1.is_none() && !lab.online(1, false) {
            ended1 = Some(tried);
        }
        if ended1.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    lab.kill_lango();
    let mut ended2 = None;
    while secs(granted2) < 12.0 {
        let tried = secs(granted2);
        if !lab.online(2, false) {
            ended2 = Some(tried);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (e1, e2) = (
        ended1.expect("guest 1 cut"),
        ended2.expect("guest 2 cut by the element timeout"),
    );
    // Measured from the redeem request: the session starts at the next whole second (a guest is
    // never shortchanged), so the deadline is 8-9 s after it; the bounds allow half a second more.
    eprintln!("lab: 8 s package ended after {e1:.2}s (lango alive) and {e2:.2}s (lango killed)");
    assert!((7.5..9.5).contains(&e1), "{e1}");
    assert!((7.5..9.5).contains(&e2), "{e2}");
}

#[test]
fn lab_data_quota_cuts_the_guest() {
    let packages = "config package 'mb'\n\toption name '2 MB'\n\toption price '5'\n\toption duration '1h'\n\toption data '2MB'\n";
    let Some(lab) = Lab::start(1, packages) else {
        return;
    };
    lab.dhcp(1);
    lab.redeem(1, &lab.voucher("mb"));
    lab.wait_for("online", || lab.online(1, false));
    // 1 MB fits in the quota.
    let (code, size) = lab.curl(
        1,
        &[
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
            &format!("http://{WAN4}/1mb.bin"),
        ],
    );
    assert_eq!((code, size.as_str()), (0, "1000000"));
    // 4 MB does not: the transfer stops when the 2 MB are used up.
    let out = lab.exec(
        &lab.ns_guests[0],
        &[
            "curl",
            "-s",
            "--max-time",
            "4",
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
            &format!("http://{WAN4}/4mb.bin"),
        ],
    );
    let got: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    eprintln!("lab: quota 2 MB, downloaded 1,000,000 + {got} bytes before the cut");
    assert!(!out.status.success(), "the big download must not complete");
    assert!((500_000..1_200_000).contains(&got), "{got}");
    assert!(!lab.online(1, false), "no more traffic after the quota");
}

#[test]
fn lab_speed_cap_is_enforced() {
    let packages = "config package 'slow'\n\toption name 'Slow'\n\toption price '5'\n\toption duration '1h'\n\toption rate_down '8M'\n\toption rate_up '4M'\n";
    let Some(mut lab) = Lab::start(1, packages) else {
        return;
    };
    lab.dhcp(1);
    lab.redeem(1, &lab.voucher("slow"));
    lab.wait_for("online", || lab.online(1, false));
    let ns = lab.ns_wan.clone();
    lab.spawn(&ns, &["iperf3", "-s", "-B", WAN4]);
    std::thread::sleep(Duration::from_millis(500));
    // iperf3 over TCP; the first 2 s are left out (nft's bucket starts with a second of credit).
    let measure = |reverse: bool| -> f64 {
        let mut args = vec!["iperf3", "-c", WAN4, "-t", "5", "-O", "2", "-J"];
        if reverse {
            args.push("-R");
        }
        let out = lab.exec(&lab.ns_guests[0], &args);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        json.pointer("/end/sum_received/bits_per_second")
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0)
    };
    let down = measure(true);
    let up = measure(false);
    eprintln!(
        "lab: speed caps 8 Mbit/s down, 4 Mbit/s up; measured {:.2} down ({:.0}%), {:.2} up ({:.0}%)",
        down / 1e6,
        down / 8e6 * 100.0,
        up / 1e6,
        up / 4e6 * 100.0
    );
    assert!((8e6 * 0.8..8e6 * 1.2).contains(&down), "down {down}");
    assert!((4e6 * 0.8..4e6 * 1.2).contains(&up), "up {up}");
}

#[test]
fn lab_restart_keeps_paid_guests_online_and_unpaid_out() {
    let Some(mut lab) = Lab::start(2, "") else {
        return;
    };
    lab.dhcp(1);
    lab.dhcp(2);
    lab.redeem(1, &lab.voucher("hour"));
    lab.wait_for("paid guest online", || lab.online(1, false));
    lab.kill_lango();
    let mut failures = 0;
    for _ in 0..5 {
        if !lab.online(1, false) {
            failures += 1;
        }
    }
    lab.start_lango();
    for _ in 0..10 {
        if !lab.online(1, false) {
            failures += 1;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(failures, 0, "the paid guest lost access around the restart");
    assert!(!lab.online(2, false), "the unpaid guest is still out");
}

#[test]
fn lab_a_deleted_table_heals_within_the_reconcile_interval() {
    let Some(lab) = Lab::start(2, "") else { return };
    lab.dhcp(1);
    lab.dhcp(2);
    lab.redeem(1, &lab.voucher("hour"));
    lab.wait_for("paid guest online", || lab.online(1, false));
    lab.nft_delete_table();
    let deleted = Instant::now();
    assert!(
        !lab.online(2, false),
        "without lango's table the gate table still keeps the unpaid guest out"
    );
    lab.wait_for("the table to come back", || {
        lab.exec(&lab.ns_router, &["nft", "list", "table", "inet", "lango"])
            .status
            .success()
    });
    let healed = secs(deleted);
    eprintln!("lab: deleted table restored after {healed:.2}s (reconcile interval 2s)");
    assert!(healed < 3.0, "{healed}");
    assert!(!lab.online(2, false));
    assert!(lab.online(1, false));
    // `service firewall restart` deletes the table too; fw4's include hook sends a HUP, which
    // rebuilds it at once instead of at the next reconcile.
    lab.nft_delete_table();
    let pid = lab.lango_pid().expect("lango runs");
    let hup = Instant::now();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGHUP,
    );
    lab.wait_for("the table after SIGHUP", || {
        lab.exec(
            &lab.ns_router,
            &["nft", "-t", "list", "table", "inet", "lango"],
        )
        .status
        .success()
    });
    let after_hup = secs(hup);
    eprintln!("lab: table restored {after_hup:.3}s after SIGHUP (the fw4 hook)");
    assert!(after_hup < 1.0, "{after_hup}");
    assert!(lab.online(1, false) && !lab.online(2, false));
}

#[test]
fn lab_a_cloned_mac_from_another_address_is_blocked_and_logged() {
    let Some(lab) = Lab::start(2, "") else { return };
    lab.dhcp(1);
    lab.redeem(1, &lab.voucher("hour"));
    lab.wait_for("paid guest online", || lab.online(1, false));
    // After the session's IPv6 binding window (4 s in the lab's config; core::ipv6).
    std::thread::sleep(Duration::from_secs(5));
    // Guest 2 takes guest 1's MAC and another address.
    let g2 = &lab.ns_guests[1];
    ok(&["ip", "-n", g2, "link", "set", "eth0", "down"]);
    ok(&[
        "ip",
        "-n",
        g2,
        "link",
        "set",
        "eth0",
        "address",
        &guest_mac(1),
    ]);
    ok(&["ip", "-n", g2, "link", "set", "eth0", "up"]);
    lab.static_ip(2, "10.77.0.66");
    // Taking the link down removed guest 2's IPv6 address and route: put them back, and check
    // that IPv6 to the router works, so that "not online over IPv6" below means something.
    let _ = lab.exec(
        g2,
        &["ip", "addr", "add", "fd77::11/64", "dev", "eth0", "nodad"],
    );
    ok(&[
        "ip", "-n", g2, "-6", "route", "replace", "default", "via", "fd77::1",
    ]);
    // Neighbour discovery on the link just brought up can take more than one ping's second.
    lab.wait_for("the clone has IPv6", || {
        let ping = lab.exec(g2, &["ping", "-6", "-c", "1", "-W", "1", "fd77::1"]);
        ping.status.success()
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!lab.online(2, false), "the clone is blocked");
    assert!(!lab.online(2, true), "over IPv6 too");
    // Its browser lands on the portal, which recognises the clone.
    let (_, body) = lab.curl(2, &["-L", &format!("http://{WAN4}/")]);
    assert!(
        body.contains("Lab Cafe") && !body.contains("You are online"),
        "{body}"
    );
    let overview = lab.admin("GET", "/api/overview", "");
    let events = overview["events"].as_array().unwrap();
    assert!(
        events.iter().any(
            |e| e["kind"] == "spoofing" && e["detail"].as_str().unwrap().contains("10.77.0.66")
        ),
        "{overview}"
    );
    assert!(lab.online(1, false), "the real guest keeps access");
}

/// `uci set ...; uci commit lango; reload_config` ends in procd sending lango a HUP (the init
/// script's `procd_set_param file` and `reload_signal HUP`): an edit applies live and paid
/// guests stay online; a bad edit keeps the running config and logs every problem.
#[test]
fn lab_a_config_edit_and_hup_apply_live_without_dropping_paid_guests() {
    let Some(lab) = Lab::start(1, "") else { return };
    lab.dhcp(1);
    lab.redeem(1, &lab.voucher("hour"));
    lab.wait_for("paid guest online", || lab.online(1, false));
    let pid = nix::unistd::Pid::from_raw(lab.lango_pid().expect("lango runs"));
    let hup = || nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    let prices = || {
        let out = lab.exec(
            &lab.ns_router,
            &["curl", "-s", "http://10.77.0.1:8080/api/packages"],
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let path = lab.dir.path("lango.conf");
    let good = std::fs::read_to_string(&path).unwrap();
    assert!(prices().contains("\"price_minor\":2000"));
    std::fs::write(
        &path,
        good.replace("option price '20'", "option price '25'"),
    )
    .unwrap();
    hup();
    lab.wait_for("the new price", || {
        prices().contains("\"price_minor\":2500")
    });
    std::fs::write(
        &path,
        good.replace("option price '20'", "option prise '30'"),
    )
    .unwrap();
    hup();
    lab.wait_for("the refusal in the log", || {
        std::fs::read_to_string(lab.dir.path("lango.log"))
            .unwrap_or_default()
            .contains("reload refused")
    });
    let log = std::fs::read_to_string(lab.dir.path("lango.log")).unwrap();
    assert!(log.contains("unknown option 'prise'"), "{log}");
    assert!(
        prices().contains("\"price_minor\":2500"),
        "the old config stays"
    );
    for _ in 0..5 {
        assert!(lab.online(1, false), "the paid guest stays online");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn lab_switching_lango_off_removes_its_table() {
    if !lab_available() {
        return;
    }
    let ns = format!("loff{}", std::process::id() % 100_000);
    let dir = TempDir::new("off");
    let conf = dir.path("lango");
    std::fs::write(&conf, "config gateway 'main'\n\toption enabled '0'\n").unwrap();
    ok(&["ip", "netns", "add", &ns]);
    let left_over = Command::new("ip")
        .args(["netns", "exec", &ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"table inet lango {\n}\n")?;
            child.wait()
        });
    assert!(left_over.is_ok_and(|s| s.success()));
    let out = run(&[
        "ip",
        "netns",
        "exec",
        &ns,
        env!("CARGO_BIN_EXE_lango"),
        "serve",
        "--config",
        conf.to_str().unwrap(),
    ]);
    let tables = run(&["ip", "netns", "exec", &ns, "nft", "list", "tables"]);
    let _ = run(&["ip", "netns", "del", &ns]);
    assert!(out.status.success());
    assert!(
        !String::from_utf8_lossy(&tables.stdout).contains("lango"),
        "guests would stay redirected to a dead portal"
    );
}

/// A session longer than 27.8 hours: its element timeout has more than 8 digits in
/// milliseconds, which nft refuses ("value too large") together with the whole table. Written
/// in units, the longest package the config allows (366 days; the element is capped at 20
/// days and refreshed) is accepted and the guest is online.
#[test]
fn lab_the_longest_package_is_accepted_by_nft() {
    let packages =
        "config package 'year'\n\toption name 'Year'\n\toption price '5000'\n\toption duration '366d'\n";
    let Some(lab) = Lab::start(1, packages) else {
        return;
    };
    lab.dhcp(1);
    lab.redeem(1, &lab.voucher("year"));
    lab.wait_for("online with a 366-day session", || lab.online(1, false));
    let set = lab.exec(
        &lab.ns_router,
        &["nft", "list", "set", "inet", "lango", "paid4"],
    );
    let text = String::from_utf8_lossy(&set.stdout);
    assert!(text.contains("timeout 20d"), "{text}");
}

/// A47: a paid guest that keeps one UDP source port to the router's DNS keeps its conntrack
/// flow, which the NAT redirect (first packet only) never sees again. After expiry that flow
/// must not reach dnsmasq: the input chain drops unpaid UDP 53, so real answers stop at once.
#[test]
fn lab_a47_dns_on_a_pinned_port_stops_at_expiry() {
    let packages =
        "config package 'short'\n\toption name 'Short'\n\toption price '5'\n\toption duration '6s'\n";
    let Some(lab) = Lab::start(1, packages) else {
        return;
    };
    lab.dhcp(1);
    assert_eq!(
        lab.dns_from(1, ROUTER4, "real.example", 40053),
        ROUTER4,
        "unpaid: lango answers"
    );
    // A different port while paid: the unpaid flow above would stay redirected.
    lab.redeem(1, &lab.voucher("short"));
    lab.wait_for("online", || lab.online(1, false));
    assert_eq!(lab.dns_from(1, ROUTER4, "real.example", 40054), "10.78.0.9");
    lab.wait_for("the session's end", || !lab.online(1, false));
    let after = lab.dns_from(1, ROUTER4, "real.example", 40054);
    assert_ne!(after, "10.78.0.9", "a real answer after expiry");
}
