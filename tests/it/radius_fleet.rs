//! Issue 17, "Run many routers": two routers, each a network lab of its own running
//! `lango serve`, share one FreeRADIUS 3.2 with its SQL module on SQLite, configured with the
//! blocks docs/radius.md ("Many routers, one voucher database") gives, read from that file.
//! A voucher made on the server (rows in its database) works on either router, and only
//! once: the router that asks second is refused, whatever the order.

use std::time::Duration;

use crate::lab::Lab;
use crate::radius::{free_port, FreeRadius, SECRET};
use crate::support::skip;

/// docs/radius.md, whose fleet section the server runs.
const DOC: &str = include_str!("../../docs/radius.md");

/// The fenced blocks of the fleet section, in order: the module, the policy, the claims'
/// table, a plan and a voucher.
fn doc_blocks() -> Vec<String> {
    let section = DOC
        .split("## Many routers, one voucher database")
        .nth(1)
        .expect("docs/radius.md has the fleet section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .split("```")
        .skip(1)
        .step_by(2)
        .map(|b| b.trim_start_matches('\n').to_string())
        .collect()
}

/// The server's whole configuration: the skeleton of `radius.rs` (paths, one client, both
/// listeners on every address; `expr`, `reject` and `ok` as Debian enables them) around the
/// documented module and policy.
fn fleet_raddb(root: &str, database: &str, ports: [u16; 2]) -> String {
    let blocks = doc_blocks();
    let module = blocks[0].replace("/var/lib/freeradius/fleet.sqlite", database);
    let policy = &blocks[1];
    format!(
        r#"prefix = /usr
raddbdir = {root}
confdir = {root}
modconfdir = /etc/freeradius/3.0/mods-config
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
client routers {{
  ipaddr = 0.0.0.0/0
  secret = {SECRET}
  require_message_authenticator = yes
}}
modules {{
  pap {{
  }}
  chap {{
  }}
  expr {{
  }}
  always reject {{
    rcode = reject
  }}
  always ok {{
    rcode = ok
  }}
  linelog acctlog {{
    filename = {root}/acct.log
    format = "{format}"
  }}
{module}
}}
server default {{
  listen {{
    type = auth
    ipaddr = *
    port = {auth}
  }}
  listen {{
    type = acct
    ipaddr = *
    port = {acct}
  }}
{policy}
}}
"#,
        format = crate::radius::ACCT_FORMAT,
        auth = ports[0],
        acct = ports[1],
    )
}

/// Runs SQL on the server's database with the sqlite3 shell.
fn sql(database: &str, script: &str) -> String {
    let mut command = std::process::Command::new("sqlite3");
    command.arg(database);
    let out = crate::support::with_stdin(&mut command, script);
    assert!(
        out.status.success(),
        "sqlite3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The lab config's radius section for router `nas` (its address as the server sees it:
/// `nas_ip`) at `server`.
fn radius_section(server: &str, nas: &str, nas_ip: &str, ports: [u16; 2]) -> String {
    format!(
        "config radius 'radius'\n\toption server '{server}'\n\toption auth_port '{}'\n\t\
         option acct_port '{}'\n\toption secret '{SECRET}'\n\toption nas_id '{nas}'\n\t\
         option nas_ip '{nas_ip}'\n\toption timeout '1'\n\toption retries '0'\n",
        ports[0], ports[1]
    )
}

/// Guest `n` of `lab` types `code` into the portal: the page it gets back.
fn redeem(lab: &Lab, n: usize, code: &str) -> String {
    let form = format!("code={code}");
    let (exit, body) = lab.curl(n, &["-L", "--data", &form, "http://10.77.0.1:8080/voucher"]);
    assert_eq!(exit, 0, "{body}");
    body
}

#[test]
fn lab_two_routers_share_one_freeradius_and_a_voucher_works_once_on_either() {
    if !std::path::Path::new("/usr/bin/sqlite3").exists() {
        skip::<()>(
            "radius fleet",
            "sqlite3 is not installed (apt-get install sqlite3)",
        );
        return;
    }
    let ports = [free_port(), free_port()];
    // Router A reaches the server in its wan (10.78.0.2); router B over a link of its own
    // into the same namespace (10.79.0.1), as a second shop reaches the office.
    let Some(mut a) = Lab::start(
        2,
        &radius_section("10.78.0.2", "router-a", "10.78.0.1", ports),
    ) else {
        return;
    };
    let Some(mut b) = Lab::start(
        1,
        &radius_section("10.79.0.1", "router-b", "10.79.0.2", ports),
    ) else {
        return;
    };
    crate::lab::ok(&[
        "ip",
        "link",
        "add",
        "fleet0",
        "netns",
        &b.ns_router,
        "type",
        "veth",
        "peer",
        "name",
        "fleet1",
        "netns",
        &a.ns_wan,
    ]);
    crate::lab::ok(&[
        "ip",
        "-n",
        &b.ns_router,
        "addr",
        "add",
        "10.79.0.2/24",
        "dev",
        "fleet0",
    ]);
    crate::lab::ok(&[
        "ip",
        "-n",
        &a.ns_wan,
        "addr",
        "add",
        "10.79.0.1/24",
        "dev",
        "fleet1",
    ]);
    crate::lab::ok(&["ip", "-n", &b.ns_router, "link", "set", "fleet0", "up"]);
    crate::lab::ok(&["ip", "-n", &a.ns_wan, "link", "set", "fleet1", "up"]);

    // The server's database: Debian's schema, the claims' table, the documented plan and
    // voucher, and a second voucher made the same way.
    let blocks = doc_blocks();
    let dir = crate::support::TempDir::new("fleet-db");
    let database = dir.path("fleet.sqlite").display().to_string();
    let schema =
        std::fs::read_to_string("/etc/freeradius/3.0/mods-config/sql/main/sqlite/schema.sql")
            .expect("Debian's SQLite schema for FreeRADIUS");
    sql(&database, &schema);
    sql(&database, &blocks[2]);
    sql(&database, &blocks[3]);
    let voucher = blocks[3]
        .split_once("INSERT INTO radcheck")
        .map(|(_, rows)| format!("INSERT INTO radcheck{rows}"))
        .expect("the voucher's rows");
    sql(&database, &voucher.replace("K7PX2QMA9R", "W4TN8HZC3E"));
    let wan = a.ns_wan.clone();
    let conf = |root: &str| fleet_raddb(root, &database, ports);
    let Some(server) = FreeRadius::start_with("radius fleet", Some(&wan), ports, conf) else {
        return;
    };

    // The first voucher on router A: online, with the plan's hour.
    a.dhcp(1);
    redeem(&a, 1, "K7PX2QMA9R");
    a.wait_for("A's guest online", || a.online(1, false));
    // The same code on router B: refused, with the server's words.
    b.dhcp(1);
    let refused = redeem(&b, 1, "K7PX2QMA9R");
    assert!(
        refused.contains("This voucher was already used"),
        "{refused}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(!b.online(1, false), "a used voucher opened router B");

    // The second voucher, first on router B this time: works there, refused on A.
    redeem(&b, 1, "W4TN8HZC3E");
    b.wait_for("B's guest online", || b.online(1, false));
    a.dhcp(2);
    let refused = redeem(&a, 2, "W4TN8HZC3E");
    assert!(
        refused.contains("This voucher was already used"),
        "{refused}"
    );
    assert!(!a.online(2, false), "a used voucher opened router A");
    // And the first guest's code again on its own router, from another device: refused too.
    let refused = redeem(&a, 2, "K7PX2QMA9R");
    assert!(
        refused.contains("This voucher was already used"),
        "{refused}"
    );

    // On the server: each voucher claimed once, by the router that used it; the routers'
    // Starts in radacct under their own names.
    let claims = sql(
        &database,
        "SELECT username || ' ' || nas FROM voucher_use ORDER BY username;",
    );
    assert_eq!(claims, "K7PX2QMA9R router-a\nW4TN8HZC3E router-b");
    for _ in 0..40 {
        let starts = sql(&database, "SELECT COUNT(*) FROM radacct;");
        if starts == "2" {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let sessions = sql(
        &database,
        "SELECT username || ' ' || nasipaddress FROM radacct ORDER BY username;",
    );
    assert_eq!(sessions, "K7PX2QMA9R 10.78.0.1\nW4TN8HZC3E 10.79.0.2");
    drop(server);
    a.kill_lango();
    b.kill_lango();
}
