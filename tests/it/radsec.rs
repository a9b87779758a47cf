//! Issue 17, RadSec (RFC 6614): lango's authentication, accounting and Status-Server over TLS
//! to the real FreeRADIUS 3.2's TLS listener (`proto = tcp`, `type = auth+acct`, a client
//! with `proto = tls` and the secret `radsec`). The certificates are made at run time by
//! `openssl`: a CA, the server's and lango's certificates from it, and a second CA whose
//! server certificate lango must refuse.

use std::process::Command;
use std::time::{Duration, Instant};

use lango::adapters::radius::{Login, RadiusClient, RadiusError, UdpRadius};
use lango::core::config;
use lango::store::Store;

use crate::radius::{free_port, post, raddb, FreeRadius};
use crate::support::{guest, skip, TempDir, TestEnv, T0};

/// The files `openssl` made: the CA lango trusts, lango's certificate and key, and a server
/// certificate and key from that CA and from another one.
struct Certs {
    dir: TempDir,
}

impl Certs {
    fn path(&self, name: &str) -> String {
        self.dir.path(name).display().to_string()
    }
}

/// Runs `openssl` with `args` in `dir`.
fn openssl(dir: &TempDir, args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(&dir.0)
        .output()
        .is_ok_and(|out| {
            if !out.status.success() {
                eprintln!("openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            }
            out.status.success()
        })
}

/// A P-256 key in `name.key` and a certificate in `name.crt` signed by `ca` (self-signed when
/// `ca` is `None`), with the extensions of `ext` (openssl's `-extfile` syntax).
fn issue(dir: &TempDir, name: &str, ca: Option<&str>, subject: &str, ext: &str) -> bool {
    let key = format!("{name}.key");
    let (crt, csr, extfile) = (
        format!("{name}.crt"),
        format!("{name}.csr"),
        format!("{name}.ext"),
    );
    std::fs::write(dir.path(&extfile), ext).unwrap();
    let made = openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &key,
        ],
    ) && openssl(
        dir,
        &["req", "-new", "-key", &key, "-subj", subject, "-out", &csr],
    );
    let mut sign = vec![
        "x509", "-req", "-in", &csr, "-days", "2", "-sha256", "-extfile", &extfile, "-out", &crt,
    ];
    let (ca_crt, ca_key) = ca.map_or((String::new(), String::new()), |ca| {
        (format!("{ca}.crt"), format!("{ca}.key"))
    });
    match ca {
        Some(_) => sign.extend(["-CA", &ca_crt, "-CAkey", &ca_key, "-CAcreateserial"]),
        None => sign.extend(["-signkey", &key]),
    }
    made && openssl(dir, &sign)
}

const CA_EXT: &str = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";
const SERVER_EXT: &str = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
    extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n";
const CLIENT_EXT: &str = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
    extendedKeyUsage=clientAuth\n";

/// The certificates, or `None` (the test skipped) without `openssl`.
fn certs(what: &str) -> Option<Certs> {
    let dir = TempDir::new("radsec-certs");
    let made = issue(&dir, "ca", None, "/CN=lango test CA", CA_EXT)
        && issue(&dir, "server", Some("ca"), "/CN=radius.test", SERVER_EXT)
        && issue(&dir, "lango", Some("ca"), "/CN=router-1", CLIENT_EXT)
        && issue(&dir, "other-ca", None, "/CN=another CA", CA_EXT)
        && issue(
            &dir,
            "other",
            Some("other-ca"),
            "/CN=radius.test",
            SERVER_EXT,
        );
    if !made {
        return skip(what, "openssl could not make the test certificates");
    }
    Some(Certs { dir })
}

/// FreeRADIUS of `radius.rs` with a TLS listener on `tls_port` besides its UDP ones: its
/// certificate `server` (`server` or `other`), lango's CA to check lango's certificate, and
/// the client entry RadSec needs (`proto = tls`, secret `radsec`).
fn start_radsec(what: &str, certs: &Certs, server: &str, tls_port: u16) -> Option<FreeRadius> {
    start_radsec_idle(what, certs, server, tls_port, 0)
}

/// The same, closing a connection idle for `idle` seconds (0: never).
fn start_radsec_idle(
    what: &str,
    certs: &Certs,
    server: &str,
    tls_port: u16,
    idle: u32,
) -> Option<FreeRadius> {
    let ports = [free_port(), free_port()];
    let (cert, key, ca) = (
        certs.path(&format!("{server}.crt")),
        certs.path(&format!("{server}.key")),
        certs.path("ca.crt"),
    );
    let conf = |root: &str| {
        let udp = raddb(root, "127.0.0.1", ports[0], ports[1]);
        let listen = format!(
            r#"server default {{
  listen {{
    ipaddr = 127.0.0.1
    port = {tls_port}
    type = auth+acct
    proto = tcp
    clients = radsec
    limit {{
      max_connections = 16
      lifetime = 0
      idle_timeout = {idle}
    }}
    tls {{
      certificate_file = {cert}
      private_key_file = {key}
      ca_file = {ca}
      require_client_cert = yes
      tls_min_version = "1.2"
      tls_max_version = "1.3"
      cipher_list = "DEFAULT"
      fragment_size = 8192
      cache {{
        enable = no
      }}
      verify {{
      }}
    }}
  }}
"#
        );
        let clients = "clients radsec {\n  client lango {\n    ipaddr = 127.0.0.1\n    \
                       proto = tls\n    secret = radsec\n    \
                       require_message_authenticator = yes\n  }\n}\n";
        // TLS sockets need FreeRADIUS's threads (the UDP tests run without a pool); the
        // requests it tracks at once, as Debian's radiusd.conf (the default, 256, is a
        // second of the queue's delivery).
        let pool =
            "max_requests = 16384\nthread pool {\n  start_servers = 2\n  max_servers = 4\n  \
                    min_spare_servers = 1\n  max_spare_servers = 4\n  \
                    max_requests_per_server = 0\n}\n";
        format!(
            "{pool}{clients}{}",
            udp.replacen("server default {\n", &listen, 1)
        )
    };
    FreeRadius::start_with(what, None, ports, conf)
}

/// The demo config with RadSec to 127.0.0.1 on `tls_port`.
fn radsec_config(certs: &Certs, tls_port: u16) -> config::Config {
    let text = format!(
        "{}\nconfig radius 'radius'\n\toption server '127.0.0.1'\n\toption transport 'tls'\n\t\
         option auth_port '{tls_port}'\n\toption ca '{}'\n\toption cert '{}'\n\t\
         option key '{}'\n\toption nas_id 'test-router'\n\toption timeout '1'\n\t\
         option retries '0'\n",
        lango::daemon::DEMO_CONFIG,
        certs.path("ca.crt"),
        certs.path("lango.crt"),
        certs.path("lango.key"),
    );
    config::parse(&text, "lango").expect("the config parses")
}

fn statuses(server: &FreeRadius) -> Vec<String> {
    let lines = server.accounting();
    lines.iter().map(|l| l[0].clone()).collect()
}

/// A TCP port nobody listens on now.
fn free_tcp_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Certificates, FreeRADIUS's TLS listener and a lango pointed at it, Accounting-On sent and
/// guest 1 signed in with voucher HOUR2345AB; none where the test cannot run here.
fn signed_in(what: &str) -> Option<(Certs, FreeRadius, TestEnv)> {
    let certs = certs(what)?;
    let tls_port = free_tcp_port();
    let server = start_radsec(what, &certs, "server", tls_port)?;
    let env = TestEnv::with(
        Store::in_memory().unwrap(),
        radsec_config(&certs, tls_port),
        T0,
    );
    env.app.accounting_on().unwrap();
    let (ip, _) = guest(1);
    assert_eq!(post(&env, ip, "/voucher", "code=HOUR2345AB").status, 303);
    Some((certs, server, env))
}

#[test]
fn a_voucher_authenticates_and_its_accounting_arrives_over_radsec() {
    let Some((_certs, server, env)) = signed_in("radsec voucher") else {
        return;
    };
    let (_, mac) = guest(1);
    let session = env.app.store.read(|r| r.active_session(mac)).unwrap();
    let session = session.expect("the Access-Accept over TLS granted a session");
    assert_eq!(session.deadline, T0 + 3600);
    assert_eq!(session.terms.rate_down_kbit, Some(2000));
    // A rejected code is rejected over TLS too, with the server's words.
    let (ip2, mac2) = guest(2);
    let refused = post(&env, ip2, "/voucher", "code=WRONG23456");
    assert_eq!(refused.status, 403);
    assert!(
        refused.body.contains("Voucher not valid"),
        "{}",
        refused.body
    );
    assert!(env
        .app
        .store
        .read(|r| r.active_session(mac2))
        .unwrap()
        .is_none());
    // Accounting-On and the Start, on the same connection.
    assert_eq!(env.app.deliver_accounting(), 2);
    assert_eq!(statuses(&server), ["Accounting-On", "Start"]);
    assert_eq!(server.accounting()[1][2], "HOUR2345AB");
    // Status-Server, the connection's watchdog, answered over it.
    assert_eq!(env.app.probe_radius(), 1);
    let status = env.app.radius_status().unwrap();
    assert_eq!(
        status.servers[0].reach,
        lango::core::radius::health::Reach::Up
    );
}

#[test]
fn a_server_with_a_certificate_from_another_ca_is_refused() {
    let Some(certs) = certs("radsec other CA") else {
        return;
    };
    let tls_port = free_tcp_port();
    let Some(_server) = start_radsec("radsec other CA", &certs, "other", tls_port) else {
        return;
    };
    let config = radsec_config(&certs, tls_port);
    let client = UdpRadius::new(config.radius.as_ref().unwrap(), None);
    let (ip, mac) = guest(1);
    let login = Login {
        user: "HOUR2345AB".into(),
        password: "HOUR2345AB".into(),
        mac,
        ip: Some(ip),
    };
    let Err(RadiusError::Tls(why)) = client.authenticate(&login) else {
        panic!("a server certificate from another CA must be refused");
    };
    assert!(why.contains("not from the CA in option ca"), "{why}");
    assert!(!client.probe(0));
    // Through the portal: nothing granted, the guest told the check is down.
    let env = TestEnv::with(Store::in_memory().unwrap(), config, T0);
    assert_eq!(post(&env, ip, "/voucher", "code=HOUR2345AB").status, 503);
    assert!(env
        .app
        .store
        .read(|r| r.active_session(mac))
        .unwrap()
        .is_none());
}

#[test]
fn queued_accounting_arrives_once_after_the_server_restarts() {
    let Some((_certs, mut server, env)) = signed_in("radsec queue") else {
        return;
    };
    let (_, mac) = guest(1);
    assert_eq!(env.app.deliver_accounting(), 2);
    // The server goes; its connection with it.
    server.stop();
    env.firewall.set_usage(mac, 3000, 4000);
    env.clock.advance(60);
    assert_eq!(env.app.account_interims().unwrap(), 1);
    assert_eq!(env.app.deliver_accounting(), 0);
    env.clock.advance(5);
    let session = env.app.store.read(|r| r.active_session(mac)).unwrap();
    assert!(env.app.revoke_session(session.unwrap().id).unwrap());
    env.clock.advance(10);
    assert_eq!(env.app.deliver_accounting(), 0);
    assert_eq!(env.app.accounting_queued(), 2);

    server.run();
    // A new connection, once its back-off has passed (seconds of real time).
    let started = Instant::now();
    while env.app.accounting_queued() > 0 {
        assert!(started.elapsed() < Duration::from_secs(20), "still queued");
        env.clock.advance(300);
        env.app.deliver_accounting();
        std::thread::sleep(Duration::from_millis(200));
    }
    env.clock.advance(300);
    assert_eq!(env.app.deliver_accounting(), 0);
    assert_eq!(
        statuses(&server),
        ["Accounting-On", "Start", "Interim-Update", "Stop"]
    );
    let lines = server.accounting();
    assert_eq!([&lines[3][8], &lines[3][3]], ["Admin-Reset", "3000"]);
}

/// FreeRADIUS closes a connection idle for 5 s (its shortest): the next login finds it closed, makes a new
/// one and is answered on it, the guest none the wiser.
#[test]
fn a_connection_the_server_closed_while_idle_is_made_again() {
    let Some(certs) = certs("radsec idle") else {
        return;
    };
    let tls_port = free_tcp_port();
    let Some(_server) = start_radsec_idle("radsec idle", &certs, "server", tls_port, 5) else {
        return;
    };
    let config = radsec_config(&certs, tls_port);
    let client = UdpRadius::new(config.radius.as_ref().unwrap(), None);
    let (ip, mac) = guest(1);
    let login = Login {
        user: "OPEN234567".into(),
        password: "OPEN234567".into(),
        mac,
        ip: Some(ip),
    };
    assert_eq!(client.authenticate(&login).map(|r| r.accept), Ok(true));
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(client.authenticate(&login).map(|r| r.accept), Ok(true));
    assert!(client.probe(0));
}

/// A config error for each missing file, on the transport's line; and the path checked.
#[test]
fn radsec_options_are_checked_with_their_lines() {
    let text = "config gateway 'main'\n\toption device 'br-lan'\n\
        config radius 'radius'\n\toption server '127.0.0.1'\n\toption transport 'tls'\n\t\
        option cert 'lango.crt'\n";
    let errors = errors_of(text);
    assert!(
        errors.contains("lango:5: option transport 'tls' needs option ca"),
        "{errors}"
    );
    assert!(
        errors.contains("lango:5: option transport 'tls' needs option key"),
        "{errors}"
    );
    assert!(
        errors.contains("lango:6: 'lango.crt' is not a full path"),
        "{errors}"
    );
    let text = "config radius 'radius'\n\toption server '127.0.0.1'\n\toption transport 'tls'\n\t\
        option ca '/etc/lango/ca.pem'\n\toption cert '/etc/lango/c.pem'\n\t\
        option key '/etc/lango/k.pem'\n\toption acct_port '1813'\n";
    let errors = errors_of(text);
    assert!(
        errors.contains("lango:7: option acct_port is not used with option transport 'tls'"),
        "{errors}"
    );
    let text = "config radius 'radius'\n\toption server '127.0.0.1'\n\toption secret 's'\n\t\
        option transport 'quic'\n\toption ca '/etc/lango/ca.pem'\n";
    let errors = errors_of(text);
    assert!(
        errors.contains("lango:4: 'quic' is not udp or tls"),
        "{errors}"
    );
    assert!(
        errors.contains("lango:5: option ca is for option transport 'tls'"),
        "{errors}"
    );
}

fn errors_of(text: &str) -> String {
    let errors = config::parse(text, "lango").expect_err("the config is refused");
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// Issue 17's closing figure (printed: `--nocapture`): accounting records per minute at 1,000
/// guests, delivered by the queue to the real FreeRADIUS (its `linelog` writes each one), over
/// UDP and over RadSec. 1,000 local-voucher sales (each with its Start, in a store on disk),
/// their Starts delivered, then one round of 1,000 Interim-Updates made and delivered. Bound:
/// each round within two minutes.
#[test]
fn accounting_per_minute_at_1000_guests_to_freeradius_over_udp_and_radsec() {
    const GUESTS: usize = 1000;
    let Some(certs) = certs("radsec figures") else {
        return;
    };
    let tls_port = free_tcp_port();
    let Some(server) = start_radsec("radsec figures", &certs, "server", tls_port) else {
        return;
    };
    for transport in ["udp", "tls"] {
        let config = match transport {
            "udp" => {
                let text = format!(
                    "{}\nconfig radius 'radius'\n\toption server '127.0.0.1'\n\t\
                     option auth_port '{}'\n\toption acct_port '{}'\n\toption secret '{}'\n\t\
                     option timeout '1'\n\toption retries '0'\n",
                    lango::daemon::DEMO_CONFIG,
                    server.port,
                    server.acct_port,
                    crate::radius::SECRET
                );
                config::parse(&text, "lango").expect("the config parses")
            }
            _ => radsec_config(&certs, tls_port),
        };
        let dir = TempDir::new("acct-figures");
        let env = TestEnv::with(Store::open(&dir.path("lango.redb")).unwrap(), config, T0);
        let ips: Vec<std::net::IpAddr> = (0..GUESTS)
            .map(|i| std::net::IpAddr::from([10, 1, (i / 250) as u8, (i % 250 + 2) as u8]))
            .collect();
        for (i, ip) in ips.iter().enumerate() {
            let b = (i as u32).to_be_bytes();
            let mac = lango::core::model::Mac([0x02, 0, b[0], b[1], b[2], b[3]]);
            env.neighbours.insert(*ip, mac);
        }
        let mut codes = Vec::new();
        while codes.len() < GUESTS {
            let batch = (GUESTS - codes.len()).min(500);
            let made = env.app.generate_vouchers("hour", batch, "", None).unwrap();
            codes.extend(made.expect("the hour package"));
        }
        for (ip, voucher) in ips.iter().zip(&codes) {
            env.app.redeem(*ip, &voucher.code).expect("redeemed");
        }
        let before = server.accounting().len();
        let started = Instant::now();
        assert_eq!(env.app.deliver_accounting(), GUESTS);
        let starts = started.elapsed();
        env.clock.advance(600);
        assert_eq!(env.app.account_interims().unwrap(), GUESTS);
        let started = Instant::now();
        assert_eq!(env.app.deliver_accounting(), GUESTS);
        let interims = started.elapsed();
        let lines = server.accounting();
        let new = lines.get(before..).unwrap_or_default();
        let count = |status: &str| new.iter().filter(|l| l[0] == status).count();
        assert_eq!((count("Start"), count("Interim-Update")), (GUESTS, GUESTS));
        let per_minute = |d: Duration| GUESTS as f64 * 60.0 / d.as_secs_f64();
        eprintln!(
            "figure, {transport}: {GUESTS} Starts delivered to FreeRADIUS in {:.2} s ({:.0}/min), \
             {GUESTS} Interim-Updates in {:.2} s ({:.0}/min)",
            starts.as_secs_f64(),
            per_minute(starts),
            interims.as_secs_f64(),
            per_minute(interims),
        );
        assert!(starts.max(interims) < Duration::from_secs(120));
    }
}
