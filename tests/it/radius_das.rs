//! Issue 17, Dynamic Authorization (RFC 5176): FreeRADIUS's own client, `radclient`, sends
//! Disconnect-Request and CoA-Request packets over loopback to lango's DAS port
//! (`app::das::spawn`, the daemon's listener). The sessions come from vouchers the real
//! FreeRADIUS of `radius.rs` accepts; the clock is the manual one at `T0`, so the
//! Event-Timestamp is set in each request (radclient takes it as Unix seconds).

use std::process::Command;

use lango::core::model::Mac;
use lango::core::radius::acct::session_id;
use lango::core::sessions::EndReason;
use lango::store::Store;

use crate::radius::{free_port, post, FreeRadius};
use crate::radius_acct::{acct_env, LOCAL};
use crate::support::{guest, skip, with_stdin, TestEnv, T0};

const DAS_SECRET: &str = "coa-secret";

/// A FreeRADIUS, and lango answering DAS requests on a port of its own from `clients`.
fn das_env(what: &str, clients: &str) -> Option<(FreeRadius, TestEnv, u16)> {
    if !std::path::Path::new("/usr/bin/radclient").exists() {
        return skip(
            what,
            "radclient is not installed (apt-get install freeradius-utils)",
        );
    }
    let server = FreeRadius::start(what)?;
    let port = free_port();
    let extra =
        format!("\toption das_port '{port}'\n\toption das_secret '{DAS_SECRET}'\n{clients}");
    let env = acct_env(&server, Store::in_memory().unwrap(), LOCAL, &extra);
    lango::app::das::spawn(&env.app).unwrap();
    Some((server, env, port))
}

/// radclient sends `attrs` as a `kind` (`disconnect` or `coa`) signed with `secret`: the
/// answer as radclient prints it (from its `Received` line), or `None` when none came.
fn radclient(port: u16, kind: &str, secret: &str, attrs: &str) -> Option<String> {
    let mut command = Command::new("radclient");
    let server = format!("127.0.0.1:{port}");
    command.args(["-x", "-r", "1", "-t", "1", &server, kind, secret]);
    let out = with_stdin(&mut command, attrs);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.find("Received ").map(|at| text[at..].to_string())
}

/// A guest with the one-hour RADIUS voucher, its firewall rule applied.
fn guest_online(env: &TestEnv, n: u8) -> (lango::core::sessions::Session, Mac) {
    let (ip, mac) = guest(n);
    assert_eq!(post(env, ip, "/voucher", "code=HOUR2345AB").status, 303);
    env.app.run_due();
    assert!(env.firewall.allows(mac));
    let session = env.app.store.read(|r| r.active_session(mac)).unwrap();
    (session.expect("a session"), mac)
}

fn active(env: &TestEnv, mac: Mac) -> bool {
    let session = env.app.store.read(|r| r.active_session(mac)).unwrap();
    session.is_some()
}

#[test]
fn a_disconnect_by_acct_session_id_ends_the_session_and_its_stop_says_admin_reset() {
    let Some((server, env, port)) = das_env("radius disconnect", "") else {
        return;
    };
    env.app.accounting_on().unwrap();
    let (session, mac) = guest_online(&env, 1);
    let id = session_id(session.started_at, session.id);
    // Signed with a Message-Authenticator too (radclient computes it).
    let asked = format!(
        "Acct-Session-Id = \"{id}\", Event-Timestamp = {T0}, Message-Authenticator = 0x00\n"
    );
    let answer = radclient(port, "disconnect", DAS_SECRET, &asked).expect("an answer");
    assert!(answer.starts_with("Received Disconnect-ACK"), "{answer}");
    assert!(!active(&env, mac));
    env.app.run_due();
    assert!(!env.firewall.allows(mac));
    assert_eq!(env.app.deliver_accounting(), 3);
    let lines = server.accounting();
    let stop = lines.last().unwrap();
    assert_eq!([&stop[0], &stop[1], &stop[8]], ["Stop", &id, "Admin-Reset"]);

    // The session is gone, and no session has this id: NAK, Session-Context-Not-Found.
    for id in [id.as_str(), "6B49D200-FFFF"] {
        let asked = format!("Acct-Session-Id = \"{id}\", Event-Timestamp = {}\n", T0 + 1);
        let answer = radclient(port, "disconnect", DAS_SECRET, &asked).expect("an answer");
        assert!(answer.starts_with("Received Disconnect-NAK"), "{answer}");
        assert!(
            answer.contains("Error-Cause = Session-Context-Not-Found"),
            "{answer}"
        );
    }
}

#[test]
fn a_coa_changes_the_caps_time_and_quota_of_a_running_session() {
    let Some((_server, env, port)) = das_env("radius coa", "") else {
        return;
    };
    let (_, mac) = guest_online(&env, 1);
    let (other_session, other) = guest_online(&env, 2);
    env.clock.advance(30);
    // By User-Name and Calling-Station-Id, as accounting named them.
    let asked = format!(
        "User-Name = \"HOUR2345AB\", Calling-Station-Id = \"AA-00-00-00-00-01\", \
         Event-Timestamp = {}, WISPr-Bandwidth-Max-Down = 8000000, \
         WISPr-Bandwidth-Max-Up = 1000000, Session-Timeout = 120, \
         ChilliSpot-Max-Total-Octets = 5000\n",
        T0 + 30
    );
    let answer = radclient(port, "coa", DAS_SECRET, &asked).expect("an answer");
    assert!(answer.starts_with("Received CoA-ACK"), "{answer}");
    env.app.run_due();
    let desired = env.firewall.last().unwrap();
    let client = desired.clients.iter().find(|c| c.mac == mac).unwrap();
    assert_eq!(
        (
            client.rate_down_kbit,
            client.rate_up_kbit,
            client.quota_left
        ),
        (Some(8000), Some(1000), Some(5000))
    );
    let session = env.app.store.read(|r| r.active_session(mac)).unwrap();
    assert_eq!(session.unwrap().deadline, T0 + 30 + 120);
    // The other guest keeps the Access-Accept's terms.
    let untouched = desired.clients.iter().find(|c| c.mac == other).unwrap();
    assert_eq!(
        (untouched.rate_down_kbit, untouched.rate_up_kbit),
        (Some(2000), Some(512))
    );
    // By Framed-IP-Address: guest 2's Idle-Timeout, 600 s from its Access-Accept, becomes 60 s.
    let asked = format!(
        "Framed-IP-Address = 192.168.1.102, Idle-Timeout = 60, Event-Timestamp = {}\n",
        T0 + 30
    );
    let answer = radclient(port, "coa", DAS_SECRET, &asked).expect("an answer");
    assert!(answer.starts_with("Received CoA-ACK"), "{answer}");
    let session = env.app.store.read(|r| r.active_session(other)).unwrap();
    assert_eq!(session.unwrap().terms.idle_secs, Some(60));
    // Guest 1 keeps moving traffic (within its 5000 bytes); guest 2 moves none: it ends within two readings (30 s
    // apart) past 60 s, long before its old 600 s.
    let mut ended_at = None;
    env.firewall.set_usage(other, 500, 500);
    for step in 1..=10u64 {
        env.firewall.set_usage(mac, step * 10, step * 10);
        env.advance(30);
        if !active(&env, other) {
            ended_at = Some(env.app.time().now);
            break;
        }
    }
    let ended_at = ended_at.expect("guest 2 ended for its new idle timeout");
    assert!(
        ended_at - (T0 + 30) <= 60 + 60,
        "ended at T0 + {}",
        ended_at - T0
    );
    let ended = env.app.store.read(|r| r.session(other_session.id)).unwrap();
    assert_eq!(ended.unwrap().end_reason, Some(EndReason::Idle));
    assert!(active(&env, mac), "guest 1 moved traffic and stays");
    assert!(!env.firewall.allows(other));
}

#[test]
fn a_wrong_secret_a_replay_and_a_stranger_get_no_answer_and_change_nothing() {
    let Some((_server, env, port)) = das_env("radius das refusals", "") else {
        return;
    };
    let (session, mac) = guest_online(&env, 1);
    let id = session_id(session.started_at, session.id);
    let fresh = format!("Acct-Session-Id = \"{id}\", Event-Timestamp = {T0}\n");
    assert_eq!(radclient(port, "disconnect", "testing123", &fresh), None);
    // An old request replayed: its Event-Timestamp is out of the 300 s window.
    let old = format!(
        "Acct-Session-Id = \"{id}\", Event-Timestamp = {}\n",
        T0 - 301
    );
    assert_eq!(radclient(port, "disconnect", DAS_SECRET, &old), None);
    // Without an Event-Timestamp: refused, with what is missing.
    let bare = format!("Acct-Session-Id = \"{id}\"\n");
    let answer = radclient(port, "disconnect", DAS_SECRET, &bare).expect("an answer");
    assert!(
        answer.contains("Error-Cause = Missing-Attribute"),
        "{answer}"
    );
    env.app.run_due();
    assert!(active(&env, mac) && env.firewall.allows(mac));
    drop(env);

    // Only 127.0.0.2 may ask: 127.0.0.1, with the right secret, is not answered.
    let Some((_server, env, port)) =
        das_env("radius das allow-list", "\tlist das_client '127.0.0.2'\n")
    else {
        return;
    };
    let (session, mac) = guest_online(&env, 1);
    let id = session_id(session.started_at, session.id);
    let fresh = format!("Acct-Session-Id = \"{id}\", Event-Timestamp = {T0}\n");
    assert_eq!(radclient(port, "disconnect", DAS_SECRET, &fresh), None);
    assert!(active(&env, mac));
}
