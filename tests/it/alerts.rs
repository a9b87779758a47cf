//! Alerts to the owner's phone (issue 17): Daraja stops answering while a guest buys, and a
//! webhook receiver on loopback gets exactly one message when it starts and one when it ends,
//! whatever the number of looks in between; both are in the event log.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};

use lango::adapters::https::Client;
use lango::adapters::simulator::Simulator;
use lango::adapters::testing::{FakeFirewall, FakeNeighbours, ManualClock};
use lango::app::{App, Env};
use lango::core::alerts::{Condition, Notice};
use lango::core::payments::{GatewayError, PaymentGateway, StkAccepted, StkOutcome, StkPush};
use lango::daemon::alerts::Alerter;

use crate::support::{guest, T0};

/// The simulator behind a switch: while `down`, every request gets Daraja's 503 page, as the
/// real client reports it.
struct Flaky {
    inner: Arc<Simulator>,
    down: AtomicBool,
}

impl Flaky {
    fn check(&self) -> Result<(), GatewayError> {
        match self.down.load(Ordering::Relaxed) {
            true => Err(GatewayError::Unavailable(
                "HTTP 503 Service Unavailable".into(),
            )),
            false => Ok(()),
        }
    }
}

impl PaymentGateway for Flaky {
    fn stk_push(&self, push: &StkPush) -> Result<StkAccepted, GatewayError> {
        self.check()?;
        self.inner.stk_push(push)
    }

    fn stk_query(&self, checkout_id: &str) -> Result<StkOutcome, GatewayError> {
        self.check()?;
        self.inner.stk_query(checkout_id)
    }
}

/// What the receiver got: (content type, body) per request.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A webhook receiver on loopback: every request's (content type, body), answered 200.
fn sink() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut length, mut kind) = (0usize, String::new());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("content-type:") {
                    kind = line["content-type:".len()..].trim().to_string();
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            seen.lock()
                .unwrap()
                .push((kind, String::from_utf8_lossy(&body).into_owned()));
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, got)
}

#[test]
fn daraja_down_is_announced_once_when_it_starts_and_once_when_it_ends() {
    let (url, got) = sink();
    let text = lango::daemon::DEMO_CONFIG.replacen(
        "config gateway 'main'\n",
        &format!("config gateway 'main'\n\toption alert_url '{url}'\n"),
        1,
    );
    let config = lango::core::config::parse(&text, "alerts.conf").unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let neighbours = Arc::new(FakeNeighbours::default());
    for n in 1..=2 {
        neighbours.insert(guest(n).0, guest(n).1);
    }
    let gateway = Arc::new(Flaky {
        inner: Arc::new(Simulator::new(clock.clone(), 3)),
        down: AtomicBool::new(false),
    });
    let env = Env {
        clock: clock.clone(),
        firewall: Arc::new(FakeFirewall::default()),
        neighbours,
        gateway: gateway.clone(),
    };
    let store = lango::store::Store::in_memory().unwrap();
    let (app, _woken) = App::new(config, store, env).unwrap();
    let advance = |secs: i64| {
        clock.advance(secs);
        app.run_due();
    };
    let mut alerter = Alerter::with_client(Client::new(None, Duration::from_secs(5)));
    let mut look = || alerter.look(&app, app.time().now, Some(64 * 1024));
    assert!(look().is_empty(), "all is well");

    // Daraja answers every request with a 503 page while a guest tries to pay.
    gateway.down.store(true, Ordering::Relaxed);
    app.start_purchase(guest(1).0, "hour", "0712345678")
        .unwrap();
    let mut opened = Vec::new();
    for _ in 0..20 {
        advance(30); // the push is retried every 5 s: it keeps failing
        opened.extend(look());
    }
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert!(
        matches!(&opened[0], Notice::Opened { condition: Condition::Daraja, detail } if detail.contains("503")),
        "{opened:?}"
    );

    // Daraja is back, and the next guest's push goes through: after two quiet minutes, one
    // more message. (Without a request lango has no news of Daraja: the incident stays open
    // rather than claim it is over.)
    gateway.down.store(false, Ordering::Relaxed);
    for _ in 0..6 {
        advance(30);
        assert!(look().is_empty(), "no news is not good news");
    }
    app.start_purchase(guest(2).0, "hour", "0712345679")
        .unwrap();
    let mut closed = Vec::new();
    for _ in 0..10 {
        advance(30);
        closed.extend(look());
    }
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert!(matches!(
        closed[0],
        Notice::Closed {
            condition: Condition::Daraja,
            ..
        }
    ));

    // The receiver got exactly those two, as {"text": ...}.
    lango_wait(|| got.lock().unwrap().len() >= 2);
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got.iter().all(|(kind, _)| kind == "application/json"),
        "{got:?}"
    );
    let texts: Vec<String> = got
        .iter()
        .map(|(_, body)| {
            serde_json::from_str::<serde_json::Value>(body).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        texts[0].contains("M-Pesa (Daraja) is not answering"),
        "{texts:?}"
    );
    assert!(texts[1].contains("M-Pesa answers again"), "{texts:?}");
    // And the owner finds both in the event log.
    let events = app.store.read(|r| r.recent_events(50)).unwrap();
    let alerts: Vec<_> = events.iter().filter(|e| e.kind == "alert").collect();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert!(
        alerts.iter().all(|e| e.detail.ends_with("(sent)")),
        "{alerts:?}"
    );
}

/// Waits up to 5 s for `done` (the receiver's thread records what it read).
fn lango_wait(mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Issue 17, "RADIUS down": the real FreeRADIUS (the primary) answers its Status-Server
/// probes while the backup (127.0.0.2, where nothing listens) does not, which is no incident;
/// the primary is stopped, and once neither has answered for two minutes the receiver gets
/// one message; the primary is started again, and once it has answered for two minutes, one
/// more. Probes and looks every 30 s of the manual clock, as the daemon's threads do them.
#[cfg(feature = "radius")]
#[test]
fn radius_down_is_announced_once_when_it_starts_and_once_when_it_ends() {
    use crate::radius::{FreeRadius, SECRET};
    let Some(mut server) = FreeRadius::start("radius down alert") else {
        return;
    };
    let (url, got) = sink();
    let text = format!(
        "{}\nconfig radius 'radius'\n\toption server '127.0.0.1'\n\t\
         option backup_server '127.0.0.2'\n\toption auth_port '{}'\n\toption acct_port '{}'\n\t\
         option secret '{SECRET}'\n\toption timeout '1'\n\toption retries '0'\n",
        lango::daemon::DEMO_CONFIG.replacen(
            "config gateway 'main'\n",
            &format!("config gateway 'main'\n\toption alert_url '{url}'\n"),
            1,
        ),
        server.port,
        server.acct_port
    );
    let config = lango::core::config::parse(&text, "alerts.conf").unwrap();
    let env = crate::support::TestEnv::with(lango::store::Store::in_memory().unwrap(), config, T0);
    let mut alerter = Alerter::with_client(Client::new(None, Duration::from_secs(5)));
    let mut step = |looks: usize| {
        let mut notices = Vec::new();
        for _ in 0..looks {
            env.clock.advance(30);
            env.app.probe_radius();
            notices.extend(alerter.look(&env.app, env.app.time().now, Some(64 * 1024)));
        }
        notices
    };
    // The backup is silent, the primary answers: no incident, however long.
    assert!(step(10).is_empty());

    server.stop();
    let opened = step(20);
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert!(
        matches!(&opened[0], Notice::Opened { condition: Condition::Radius, detail }
            if detail.contains("127.0.0.1, 127.0.0.2")),
        "{opened:?}"
    );

    // Back: seen at the primary's next probe (at most 5 min on), announced two minutes later.
    server.run();
    let closed = step(20);
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert!(matches!(
        closed[0],
        Notice::Closed {
            condition: Condition::Radius,
            ..
        }
    ));

    lango_wait(|| got.lock().unwrap().len() >= 2);
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    let texts: Vec<String> = got
        .iter()
        .map(|(_, body)| {
            serde_json::from_str::<serde_json::Value>(body).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        texts[0].contains("the RADIUS server is not answering"),
        "{texts:?}"
    );
    assert!(
        texts[1].contains("the RADIUS server answers again"),
        "{texts:?}"
    );
    let events = env.app.store.read(|r| r.recent_events(50)).unwrap();
    let alerts: Vec<_> = events.iter().filter(|e| e.kind == "alert").collect();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert!(
        alerts.iter().all(|e| e.detail.ends_with("(sent)")),
        "{alerts:?}"
    );
}
