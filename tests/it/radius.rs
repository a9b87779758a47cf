//! Issue 17, first slice: lango as a RADIUS NAS against the real FreeRADIUS 3.2 (Debian's
//! `freeradius`), started by each test with a generated raddb (`files` users, the vendor
//! dictionaries, one client). Vouchers go through the portal's `/voucher` form; the grant is
//! read from the store and from what the firewall was asked to enforce.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lango::core::config;
use lango::store::Store;
use lango::web::portal::Ctx;

use crate::support::{call_handler, guest, skip, Reply, TempDir, TestEnv, T0};

pub(crate) const SECRET: &str = "testing123";

/// A FreeRADIUS of its own, on free ports of 127.0.0.1 (or `address`): authentication on
/// `port`, accounting on `acct_port`, each accounting request written as one line to
/// `acct.log` (`ACCT_FORMAT`); stopped when dropped.
pub(crate) struct FreeRadius {
    child: Option<Child>,
    binary: &'static str,
    /// The network namespace it runs in (the lab's wan), if not this one.
    ns: Option<String>,
    pub(crate) port: u16,
    pub(crate) acct_port: u16,
    pub(crate) dir: TempDir,
}

impl FreeRadius {
    pub(crate) fn start(what: &str) -> Option<FreeRadius> {
        let ports = [free_port(), free_port()];
        FreeRadius::start_at(what, None, "127.0.0.1", ports)
    }

    /// On `address` with these ports, in namespace `ns` (`ip netns exec`) if given.
    pub(crate) fn start_at(
        what: &str,
        ns: Option<&str>,
        address: &str,
        ports: [u16; 2],
    ) -> Option<FreeRadius> {
        let [port, acct_port] = ports;
        let conf = |root: &str| raddb(root, address, port, acct_port);
        FreeRadius::start_with(what, ns, ports, conf)
    }

    /// With the `radiusd.conf` that `conf` makes for the server's directory (its `root`):
    /// the dictionary and the `files` users are written there too.
    pub(crate) fn start_with(
        what: &str,
        ns: Option<&str>,
        ports: [u16; 2],
        conf: impl FnOnce(&str) -> String,
    ) -> Option<FreeRadius> {
        let binary = ["/usr/sbin/freeradius", "/usr/sbin/radiusd"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let Some(binary) = binary else {
            return skip(
                what,
                "FreeRADIUS is not installed (apt-get install freeradius)",
            );
        };
        let dir = TempDir::new("radius");
        let [port, acct_port] = ports;
        let root = dir.0.display().to_string();
        std::fs::write(dir.path("radiusd.conf"), conf(&root)).unwrap();
        std::fs::write(dir.path("dictionary"), DICTIONARY).unwrap();
        std::fs::write(dir.path("users"), USERS).unwrap();
        let mut server = FreeRadius {
            child: None,
            binary,
            ns: ns.map(str::to_string),
            port,
            acct_port,
            dir,
        };
        server.run();
        Some(server)
    }

    /// Starts the server (again, after `stop`: same ports, same log).
    pub(crate) fn run(&mut self) {
        let root = self.dir.0.display().to_string();
        let mut command = match &self.ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, self.binary]);
                c
            }
            None => Command::new(self.binary),
        };
        let mut child = command
            .args(["-f", "-l", "stdout", "-d", &root])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (ready, wait) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("Ready to process requests") {
                    let _ = ready.send(Ok(()));
                }
                lines.push(line);
            }
            let _ = ready.send(Err(lines.join("\n")));
        });
        match wait.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(())) => {}
            Ok(Err(log)) => panic!("FreeRADIUS did not start:\n{log}"),
            Err(_) => panic!("FreeRADIUS did not start within 30 s"),
        }
        self.child = Some(child);
    }

    /// The accounting requests received so far, one line each (`ACCT_FORMAT`'s fields).
    pub(crate) fn accounting(&self) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(self.dir.path("acct.log")).unwrap_or_default();
        let fields = |line: &str| line.split('|').map(str::to_string).collect();
        text.lines().map(fields).collect()
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for FreeRadius {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free UDP port of 127.0.0.1 (also free on the other loopback addresses in practice).
pub(crate) fn free_port() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().port()
}

/// One line per accounting request in `acct.log`, `|` between the fields: status, session id,
/// user, input octets, output octets, input gigawords, output gigawords, session time,
/// terminate cause, class, event timestamp, delay time, NAS-Identifier, Calling-Station-Id,
/// Framed-IP-Address, Called-Station-Id, Acct-Authentic.
pub(crate) const ACCT_FORMAT: &str = "%{Acct-Status-Type}|%{Acct-Session-Id}|%{User-Name}|\
%{Acct-Input-Octets}|%{Acct-Output-Octets}|%{Acct-Input-Gigawords}|%{Acct-Output-Gigawords}|\
%{Acct-Session-Time}|%{Acct-Terminate-Cause}|%{Class}|%{integer:Event-Timestamp}|\
%{Acct-Delay-Time}|%{NAS-Identifier}|%{Calling-Station-Id}|%{Framed-IP-Address}|\
%{Called-Station-Id}|%{Acct-Authentic}";

/// The whole server: clients on 127/8, the `files` module, PAP and CHAP, accounting to
/// `acct.log` through `linelog`, and each Access-Accept's user and time (Unix seconds and
/// microseconds) to `auth.log`. FreeRADIUS before 3.2.5 signs a reply with a
/// Message-Authenticator only when told to: post-auth adds one to every Accept and Reject.
pub(crate) fn raddb(root: &str, address: &str, port: u16, acct_port: u16) -> String {
    format!(
        r#"prefix = /usr
raddbdir = {root}
confdir = {root}
logdir = {root}
run_dir = {root}
radacctdir = {root}
libdir = /usr/lib/freeradius
pidfile = {root}/radiusd.pid
max_request_time = 5
cleanup_delay = 0
log {{
  destination = stdout
}}
security {{
  allow_vulnerable_openssl = yes
  status_server = yes
}}
client lango {{
  ipaddr = 0.0.0.0/0
  secret = {SECRET}
  require_message_authenticator = yes
}}
modules {{
  files {{
    filename = {root}/users
  }}
  pap {{
  }}
  chap {{
  }}
  linelog acctlog {{
    filename = {root}/acct.log
    format = "{ACCT_FORMAT}"
  }}
  linelog authlog {{
    filename = {root}/auth.log
    format = "%{{User-Name}}|%c|%C"
  }}
}}
server default {{
  listen {{
    type = auth
    ipaddr = {address}
    port = {port}
  }}
  listen {{
    type = acct
    ipaddr = {address}
    port = {acct_port}
  }}
  accounting {{
    acctlog
  }}
  authorize {{
    files
    chap
    pap
  }}
  authenticate {{
    Auth-Type PAP {{
      pap
    }}
    Auth-Type CHAP {{
      chap
    }}
  }}
  post-auth {{
    authlog
    update reply {{
      Message-Authenticator := 0x00
    }}
    Post-Auth-Type REJECT {{
      update reply {{
        Reply-Message := "Voucher not valid"
        Message-Authenticator := 0x00
      }}
    }}
  }}
}}
"#
    )
}

/// FreeRADIUS's dictionaries, plus CoovaChilli's gigawords (not in 3.2's chillispot file).
const DICTIONARY: &str = "$INCLUDE /usr/share/freeradius/dictionary
BEGIN-VENDOR ChilliSpot
ATTRIBUTE ChilliSpot-Max-Input-Gigawords 21 integer
ATTRIBUTE ChilliSpot-Max-Output-Gigawords 22 integer
ATTRIBUTE ChilliSpot-Max-Total-Gigawords 23 integer
END-VENDOR ChilliSpot
";

/// A one-hour voucher at 2 Mbit/s down, 512 kbit/s up, 1 GiB + 1000 bytes; one without caps
/// (the lab's octet count); one ended after 8 s without traffic (the lab's Idle-Timeout); a
/// guest account; a voucher only for guest 1 on this NAS (what lango says of the device and
/// itself).
const USERS: &str = r#""HOUR2345AB" Cleartext-Password := "HOUR2345AB"
	Session-Timeout = 3600,
	Idle-Timeout = 600,
	Class = "plan-hour",
	Acct-Interim-Interval = 30,
	WISPr-Bandwidth-Max-Down = 2000000,
	WISPr-Bandwidth-Max-Up = 512000,
	ChilliSpot-Max-Total-Octets = 1000,
	ChilliSpot-Max-Total-Gigawords = 1
"OPEN234567" Cleartext-Password := "OPEN234567"
	Session-Timeout = 3600
"IDLE234567" Cleartext-Password := "IDLE234567"
	Session-Timeout = 3600,
	Idle-Timeout = 8
"amina" Cleartext-Password := "Amina-Pass-7"
	Session-Timeout = 7200
"STATION234" Cleartext-Password := "STATION234", Calling-Station-Id == "AA-00-00-00-00-01", NAS-Identifier == "test-router", NAS-IP-Address == 127.0.0.1, Framed-IP-Address == 192.168.1.101, NAS-Port-Type == Wireless-802.11, Service-Type == Login-User
	Session-Timeout = 60
"#;

/// The demo config with a radius section (`timeout 1`, `retries 0`: failures are quick).
fn env_for(port: u16, secret: &str, auth: &str) -> TestEnv {
    let text = format!(
        "{}\nconfig radius 'radius'\n\toption server '127.0.0.1'\n\toption auth_port '{port}'\n\t\
         option secret '{secret}'\n\toption auth '{auth}'\n\toption nas_id 'test-router'\n\t\
         option timeout '1'\n\toption retries '0'\n",
        lango::daemon::DEMO_CONFIG
    );
    let config = config::parse(&text, "lango").expect("the config parses");
    TestEnv::with(Store::in_memory().unwrap(), config, T0)
}

/// Whether the store holds no active session for the device.
fn no_session(env: &TestEnv, mac: lango::core::model::Mac) -> bool {
    env.app
        .store
        .read(|r| r.active_session(mac))
        .unwrap()
        .is_none()
}

pub(crate) fn post(env: &TestEnv, ip: IpAddr, path: &str, body: &str) -> Reply {
    let ctx = Ctx::new(env.app.clone());
    let headers = [
        ("Host", "192.168.1.1:8080"),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    call_handler(
        |r| lango::web::portal::handle(&ctx, r),
        ip,
        "POST",
        path,
        &headers,
        body,
    )
}

#[test]
fn an_accepted_voucher_grants_the_replys_terms_and_a_rejected_one_nothing() {
    let Some(server) = FreeRadius::start("radius accept/reject") else {
        return;
    };
    for auth in ["pap", "chap"] {
        let env = env_for(server.port, SECRET, auth);
        let (ip, mac) = guest(1);
        let started = Instant::now();
        let reply = post(&env, ip, "/voucher", "code=HOUR2345AB");
        let took = started.elapsed();
        assert_eq!(reply.status, 303, "{auth}: {}", reply.body);
        let session = env.app.store.read(|r| r.active_session(mac)).unwrap();
        let session = session.expect("a session");
        assert_eq!(session.deadline - session.started_at, 3600);
        assert_eq!(session.quota_bytes, Some((1 << 32) + 1000));
        env.app.run_due();
        let client = env.firewall.last().unwrap().clients;
        let client = client.iter().find(|c| c.mac == mac).expect("allowed");
        assert_eq!(
            (client.rate_down_kbit, client.rate_up_kbit),
            (Some(2000), Some(512))
        );
        assert_eq!(client.quota_left, Some((1 << 32) + 1000));
        eprintln!("{auth}: Access-Request to granted session in {took:?}");
        // Typed again on the same device: the session stands, not lengthened.
        assert_eq!(post(&env, ip, "/voucher", "code=HOUR2345AB").status, 303);
        let again = env
            .app
            .store
            .read(|r| r.active_session(mac))
            .unwrap()
            .unwrap();
        assert_eq!((again.id, again.deadline), (session.id, session.deadline));

        let (ip, mac) = guest(2);
        let refused = post(&env, ip, "/voucher", "code=GUESSED234");
        assert_eq!(refused.status, 403);
        assert!(
            refused.body.contains("Voucher not valid"),
            "{}",
            refused.body
        );
        assert!(no_session(&env, mac));
        assert!(!env.firewall.allows(mac));
    }
    // The NAS and station attributes as FreeRADIUS reads them: only guest 1 matches.
    let env = env_for(server.port, SECRET, "pap");
    assert_eq!(
        post(&env, guest(2).0, "/voucher", "code=STATION234").status,
        403
    );
    assert_eq!(
        post(&env, guest(1).0, "/voucher", "code=STATION234").status,
        303
    );
    // A guest account the server knows, through the sign-in form.
    let env = env_for(server.port, SECRET, "pap");
    let (ip, mac) = guest(3);
    let signed_in = post(&env, ip, "/login", "username=amina&password=Amina-Pass-7");
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let session = env.app.store.read(|r| r.active_session(mac)).unwrap();
    assert_eq!(session.map(|s| s.deadline - s.started_at), Some(7200));
    let wrong = post(&env, guest(4).0, "/login", "username=amina&password=nope");
    assert_eq!(wrong.status, 403);
}

/// A reply lango cannot verify grants nothing: FreeRADIUS drops a request signed with another
/// secret, and a reply changed on the way (a relay flips one octet) fails its authenticators.
#[test]
fn a_reply_that_fails_its_checks_grants_nothing() {
    let Some(server) = FreeRadius::start("radius wrong secret") else {
        return;
    };
    let env = env_for(server.port, "not-the-secret", "pap");
    let (ip, mac) = guest(1);
    let reply = post(&env, ip, "/voucher", "code=HOUR2345AB");
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.body.contains("cannot be checked"), "{}", reply.body);
    assert!(no_session(&env, mac));

    let relay = UdpSocket::bind("127.0.0.1:0").unwrap();
    let relay_port = relay.local_addr().unwrap().port();
    let upstream = server.port;
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let upstream_socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        upstream_socket.connect(("127.0.0.1", upstream)).unwrap();
        while let Ok((n, from)) = relay.recv_from(&mut buf) {
            upstream_socket.send(&buf[..n]).unwrap();
            let n = upstream_socket.recv(&mut buf).unwrap();
            // Session-Timeout's value, the first attribute FreeRADIUS writes: 3600 → 3601.
            buf[25] ^= 1;
            relay.send_to(&buf[..n], from).unwrap();
        }
    });
    let env = env_for(relay_port, SECRET, "pap");
    let reply = post(&env, ip, "/voucher", "code=HOUR2345AB");
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(no_session(&env, mac));
    env.app.run_due();
    assert!(!env.firewall.allows(mac));
}

/// The server stopped: a guest with a central code is told, while M-Pesa sales and the
/// router's own vouchers keep granting.
#[test]
fn with_the_server_stopped_guests_are_told_and_local_sales_still_grant() {
    let Some(mut server) = FreeRadius::start("radius stopped") else {
        return;
    };
    let env = env_for(server.port, SECRET, "pap");
    server.stop();
    let (ip, mac) = guest(1);
    let started = Instant::now();
    let reply = post(&env, ip, "/voucher", "code=HOUR2345AB");
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(
        reply.body.contains("buy a package with M-Pesa"),
        "{}",
        reply.body
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(no_session(&env, mac));

    let local = env.hour_voucher();
    let reply = post(&env, ip, "/voucher", &format!("code={local}"));
    assert_eq!(reply.status, 303, "a local voucher: {}", reply.body);

    let (ip, mac) = guest(2);
    env.app.start_purchase(ip, "hour", "0712345678").unwrap();
    for _ in 0..10 {
        env.advance(2);
        if env.firewall.allows(mac) {
            break;
        }
    }
    assert!(
        env.firewall.allows(mac),
        "an M-Pesa sale grants without RADIUS"
    );
}

/// The order (`app::radius`): a code this router made never goes to the server; any other
/// code goes only to the server, whose rejection is final. Through the fake client.
#[test]
fn local_codes_stay_local_and_a_rejection_is_final() {
    use lango::adapters::radius::{FakeRadius, RadiusError};
    let env = env_for(9, SECRET, "pap");
    let fake = std::sync::Arc::new(FakeRadius::default());
    env.app.use_radius(fake.clone());
    let local = env.hour_voucher();
    let (ip, mac) = guest(1);
    assert_eq!(
        post(&env, ip, "/voucher", &format!("code={local}")).status,
        303
    );
    assert!(
        fake.asked.lock().unwrap().is_empty(),
        "a local code was sent out"
    );
    // Used once: refused locally, still not sent out.
    assert_eq!(
        post(&env, guest(2).0, "/voucher", &format!("code={local}")).status,
        409
    );
    assert!(fake.asked.lock().unwrap().is_empty());
    fake.answer(Err(RadiusError::Rejected(Some("<b>used up</b>".into()))));
    let refused = post(&env, guest(2).0, "/voucher", "code=CENTRAL234");
    assert_eq!(refused.status, 403);
    assert!(
        refused.body.contains("&lt;b&gt;used up&lt;/b&gt;"),
        "escaped: {}",
        refused.body
    );
    let asked = fake.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        (asked[0].user.as_str(), asked[0].mac),
        ("CENTRAL234", guest(2).1)
    );
    let session = |mac| env.app.store.read(|r| r.active_session(mac)).unwrap();
    assert!(session(mac).is_some());
    assert!(session(guest(2).1).is_none());
}
