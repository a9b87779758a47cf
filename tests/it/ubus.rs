//! The ubus object server against a fake ubusd: a `UnixListener` that speaks ubusd's side of
//! the protocol (HELLO with a client id, ADD_OBJECT answered with DATA(OBJID, OBJTYPE) and
//! STATUS 0, INVOKE forwarded from a "test caller" with the DATA and STATUS collected, NOTIFY
//! received). Then the `lango` object itself on a TestEnv, through the same socket.

use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lango::adapters::ubusd::wire::{self, Attr, Message, MsgType};
use lango::adapters::ubusd::{
    self as ubusd, BlobmsgType, Event, Method, Options, Server, Status, UbusHandler,
};
use lango::ubus::LangoUbus;
use serde_json::{json, Value};

use crate::support::{guest, TempDir, TestEnv};

/// The ids the fake hands out: lango's client id, its object and type, and the caller's id.
const CLIENT_ID: u32 = 0x2a00_0001;
const OBJECT_ID: u32 = 0x1234_5678;
const TYPE_ID: u32 = 0x0bad_cafe;
const CALLER_ID: u32 = 0x77;

/// A minimal ubusd on a socket path: one client at a time.
struct FakeUbusd {
    listener: UnixListener,
}

impl FakeUbusd {
    fn bind(path: &Path) -> FakeUbusd {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).expect("bind the fake ubusd");
        listener.set_nonblocking(true).unwrap();
        FakeUbusd { listener }
    }

    /// Waits (bounded) for lango to connect and sends HELLO with `client_id`.
    fn greet(&self, client_id: u32) -> Peer {
        let deadline = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match self.listener.accept() {
                Ok((stream, _)) => break stream,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => panic!("lango did not connect: {e}"),
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut peer = Peer { stream, seq: 100 };
        peer.send(&Message::new(MsgType::Hello, 0, client_id, vec![]));
        peer
    }

    /// Greets lango and accepts its ADD_OBJECT; returns the peer and the ADD_OBJECT's bytes.
    fn register(&self) -> (Peer, Vec<u8>) {
        let mut peer = self.greet(CLIENT_ID);
        let bytes = wire::read_frame(&mut peer.stream).expect("ADD_OBJECT");
        let add = Message::decode(&bytes).unwrap();
        assert_eq!(add.header.kind, MsgType::AddObject);
        assert_eq!(add.header.peer, 0);
        assert_eq!(add.objpath(), Some("lango"));
        let seq = add.header.seq;
        peer.send(&Message::new(
            MsgType::Data,
            seq,
            0,
            vec![Attr::ObjId(OBJECT_ID), Attr::ObjType(TYPE_ID)],
        ));
        peer.send(&Message::new(
            MsgType::Status,
            seq,
            0,
            vec![Attr::Status(0)],
        ));
        (peer, bytes)
    }
}

/// lango's connection, seen from the fake ubusd.
pub(crate) struct Peer {
    stream: UnixStream,
    seq: u16,
}

/// What a call got back: the DATA (if any) and the STATUS code.
#[derive(Debug, PartialEq)]
pub(crate) struct Reply {
    pub(crate) data: Option<Value>,
    pub(crate) status: i32,
}

impl Peer {
    fn send(&mut self, message: &Message) {
        use std::io::Write;
        self.stream.write_all(&message.encode().unwrap()).unwrap();
    }

    fn recv(&mut self) -> Message {
        let bytes = wire::read_frame(&mut self.stream).expect("a message from lango");
        Message::decode(&bytes).expect("lango sends valid messages")
    }

    /// What ubusd forwards for `ubus call lango <method> <args>`.
    fn invoke(&mut self, method: &str, args: Value, no_reply: bool) -> u16 {
        let mut attrs = vec![
            Attr::ObjId(OBJECT_ID),
            Attr::Method(method.into()),
            Attr::User("root".into()),
            Attr::Group("root".into()),
            Attr::Data(wire::table_from_json(&args).unwrap()),
        ];
        if no_reply {
            attrs.insert(0, Attr::NoReply(true));
        }
        self.invoke_raw(attrs)
    }

    fn invoke_raw(&mut self, attrs: Vec<Attr>) -> u16 {
        self.seq += 1;
        let seq = self.seq;
        self.send(&Message::new(MsgType::Invoke, seq, CALLER_ID, attrs));
        seq
    }

    /// The DATA and STATUS answering call `seq`, addressed back to the caller.
    fn reply(&mut self, seq: u16) -> Reply {
        let mut data = None;
        loop {
            let m = self.recv();
            assert_eq!(m.header.seq, seq, "a reply to another call: {m:?}");
            assert_eq!(m.header.peer, CALLER_ID);
            assert_eq!(m.objid(), Some(OBJECT_ID));
            match m.header.kind {
                MsgType::Data => {
                    assert!(data.is_none(), "one DATA per call");
                    data = Some(wire::table_to_json(m.data().expect("DATA carries DATA")));
                }
                MsgType::Status => {
                    return Reply {
                        data,
                        status: m.status().unwrap(),
                    }
                }
                other => panic!("unexpected {other:?} in a reply"),
            }
        }
    }

    pub(crate) fn call(&mut self, method: &str, args: Value) -> Reply {
        let seq = self.invoke(method, args, false);
        self.reply(seq)
    }

    /// ubusd telling the object owner that it now has (or no longer has) subscribers.
    fn set_subscribed(&mut self, active: bool) {
        self.send(&Message::new(
            MsgType::Notify,
            1,
            0,
            vec![Attr::ObjId(OBJECT_ID), Attr::Active(active)],
        ));
    }

    /// The next message is the broadcast of `event`; answers it as ubusd does (STATUS 0).
    #[track_caller]
    fn expect_broadcast(&mut self, event: &str, data: &Value) {
        let m = self.recv();
        assert_eq!(m.header.kind, MsgType::Invoke);
        assert_eq!(m.header.peer, ubusd::EVENT_OBJECT_ID);
        assert_eq!(m.objid(), Some(ubusd::EVENT_OBJECT_ID));
        assert_eq!(m.method(), Some("send"));
        assert_eq!(
            wire::table_to_json(m.data().unwrap()),
            json!({"id": event, "data": data})
        );
        self.send(&Message::new(
            MsgType::Status,
            m.header.seq,
            m.header.peer,
            vec![Attr::Status(0)],
        ));
    }
}

/// A handler with a few methods, counting the calls that reach it.
#[derive(Default)]
struct TestHandler {
    calls: AtomicUsize,
}

impl UbusHandler for TestHandler {
    fn methods(&self) -> Vec<Method> {
        vec![
            Method::new("status", &[]),
            Method::new(
                "echo",
                &[("text", BlobmsgType::String), ("n", BlobmsgType::Int32)],
            ),
            Method::new("fail", &[]),
            Method::new("quiet", &[]),
            Method::new("huge", &[]),
        ]
    }

    fn call(&self, method: &str, args: &Value) -> Result<Value, Status> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        match method {
            "status" => Ok(json!({"ok": true, "calls": n})),
            "echo" => Ok(args.clone()),
            "fail" => Err(Status::NotFound),
            "quiet" => Ok(Value::Null),
            "huge" => Ok(json!({"s": "x".repeat(wire::MAX_MSGLEN)})),
            _ => Err(Status::MethodNotFound),
        }
    }
}

struct Setup {
    _dir: TempDir,
    path: PathBuf,
    ubusd: FakeUbusd,
    handler: Arc<TestHandler>,
    events: Sender<Event>,
    server: Server,
}

fn options(path: &Path) -> Options {
    let mut options = Options::new(path);
    options.backoff_min = Duration::from_millis(10);
    options.backoff_max = Duration::from_millis(50);
    options
}

fn start_with(
    handler: Arc<dyn UbusHandler>,
) -> (TempDir, PathBuf, FakeUbusd, Sender<Event>, Server) {
    let dir = TempDir::new("ubus");
    let path = dir.path("ubus.sock");
    let ubusd = FakeUbusd::bind(&path);
    let (events, receiver) = mpsc::channel();
    let server = ubusd::serve(options(&path), handler, receiver).unwrap();
    (dir, path, ubusd, events, server)
}

fn start() -> Setup {
    let handler = Arc::new(TestHandler::default());
    let (dir, path, ubusd, events, server) = start_with(handler.clone());
    Setup {
        _dir: dir,
        path,
        ubusd,
        handler,
        events,
        server,
    }
}

#[test]
fn registers_lango_with_its_method_table() {
    let env = TestEnv::new();
    let (_dir, _path, ubusd, _events, server) = start_with(Arc::new(LangoUbus {
        app: env.app.clone(),
        config_path: None,
        gateway: None,
    }));
    let (_peer, bytes) = ubusd.register();
    let add = Message::decode(&bytes).unwrap();
    assert_eq!(
        wire::table_to_json(add.signature().unwrap()),
        json!({
            "status": {}, "sessions": {"mac": 3}, "packages": {}, "reload": {},
            "setup_code": {}, "unlock": {},
            "kick": {"id": 5, "mac": 3},
            "extend": {"id": 5, "minutes": 5},
            "block": {"mac": 3, "blocked": 7},
            "voucher_generate": {"package": 3, "count": 5, "days": 5},
            "payments": {"limit": 5},
            "allow": {"mac": 3},
            "disallow": {"mac": 3},
        })
    );
    crate::support::eventually("registered", || server.object_id() == Some(OBJECT_ID));
}

/// The bytes on the socket for one arg-less method, as worked out in wire.rs's unit test.
#[test]
fn add_object_bytes_on_the_socket() {
    struct OnlyStatus;
    impl UbusHandler for OnlyStatus {
        fn methods(&self) -> Vec<Method> {
            vec![Method::new("status", &[])]
        }
        fn call(&self, _: &str, _: &Value) -> Result<Value, Status> {
            Ok(json!({}))
        }
    }
    let (_dir, _path, ubusd, _events, _server) = start_with(Arc::new(OnlyStatus));
    let (_peer, bytes) = ubusd.register();
    assert_eq!(
        bytes,
        [
            &[0x00, 0x06, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00][..],
            &[0x00, 0x00, 0x00, 0x24],
            &[0x02, 0x00, 0x00, 0x0a, b'l', b'a', b'n', b'g', b'o', 0, 0, 0],
            &[0x06, 0x00, 0x00, 0x14],
            &[0x82, 0x00, 0x00, 0x10, 0x00, 0x06],
            b"status",
            &[0, 0, 0, 0],
        ]
        .concat()
    );
}

#[test]
fn a_call_round_trips_as_data_and_status() {
    let s = start();
    let (mut peer, _) = s.ubusd.register();
    assert_eq!(
        peer.call("status", json!({})),
        Reply {
            data: Some(json!({"ok": true, "calls": 1})),
            status: 0
        }
    );
    let args = json!({"text": "habari", "n": -7, "extra": [1, {"x": null}]});
    assert_eq!(
        peer.call("echo", args.clone()),
        Reply {
            data: Some(args),
            status: 0
        }
    );
    // A null result is a STATUS alone.
    assert_eq!(
        peer.call("quiet", json!({})),
        Reply {
            data: None,
            status: 0
        }
    );
    assert_eq!(
        peer.call("fail", json!({})),
        Reply {
            data: None,
            status: Status::NotFound.code()
        }
    );
    // A reply over 1 MiB is not sent; the caller gets UNKNOWN_ERROR and the link lives on.
    assert_eq!(peer.call("huge", json!({})).status, 9);
    assert_eq!(peer.call("status", json!({})).status, 0);
}

#[test]
fn an_unknown_method_is_status_3_even_without_reply() {
    let s = start();
    let (mut peer, _) = s.ubusd.register();
    assert_eq!(
        peer.call("nonsense", json!({})),
        Reply {
            data: None,
            status: 3
        }
    );
    // libubus answers METHOD_NOT_FOUND before it looks at NO_REPLY; so do we.
    let seq = peer.invoke("nonsense", json!({}), true);
    assert_eq!(peer.reply(seq).status, 3);
    assert_eq!(s.handler.calls.load(Ordering::SeqCst), 0);
}

#[test]
fn malformed_arguments_are_status_2_and_never_reach_the_handler() {
    let s = start();
    let (mut peer, _) = s.ubusd.register();
    assert_eq!(peer.call("echo", json!({"text": 5})).status, 2);
    assert_eq!(peer.call("echo", json!({"n": "five"})).status, 2);
    assert_eq!(peer.call("echo", json!({"n": 1_i64 << 40})).status, 2);
    // DATA holding a plain blob attribute instead of blobmsg.
    let mut bad = Message::new(
        MsgType::Invoke,
        0,
        CALLER_ID,
        vec![Attr::ObjId(OBJECT_ID), Attr::Method("echo".into())],
    )
    .encode()
    .unwrap();
    bad.extend_from_slice(&[0x07, 0x00, 0x00, 0x0c, 0x05, 0x00, 0x00, 0x08, 0, 0, 0, 1]);
    let root_len = (bad.len() - 8) as u32;
    bad[8..12].copy_from_slice(&root_len.to_be_bytes());
    bad[2..4].copy_from_slice(&500u16.to_be_bytes());
    {
        use std::io::Write;
        peer.stream.write_all(&bad).unwrap();
    }
    assert_eq!(peer.reply(500).status, 2);
    // INVOKE without METHOD.
    let seq = peer.invoke_raw(vec![Attr::ObjId(OBJECT_ID)]);
    assert_eq!(peer.reply(seq).status, 2);
    assert_eq!(s.handler.calls.load(Ordering::SeqCst), 0);
    // Well-formed again: served.
    assert_eq!(peer.call("echo", json!({"n": 1})).status, 0);
}

#[test]
fn no_reply_calls_run_and_answer_nothing() {
    let s = start();
    let (mut peer, _) = s.ubusd.register();
    peer.invoke("status", json!({}), true);
    peer.invoke("fail", json!({}), true);
    // The next thing on the wire answers the next call: the two above sent nothing.
    assert_eq!(
        peer.call("status", json!({})).data,
        Some(json!({"ok": true, "calls": 3}))
    );
}

#[test]
fn events_are_broadcast_and_notified_to_subscribers() {
    let s = start();
    let (mut peer, _) = s.ubusd.register();
    crate::support::eventually("registered", || s.server.object_id().is_some());
    // No subscribers yet: only the broadcast (what `ubus listen` sees).
    let data = json!({"id": 1, "mac": "aa:00:00:00:00:01"});
    s.events
        .send(Event::new("session.start", data.clone()))
        .unwrap();
    peer.expect_broadcast("lango.session.start", &data);
    // ubusd reports a subscriber; a call after it proves lango has read that.
    peer.set_subscribed(true);
    assert_eq!(peer.call("status", json!({})).status, 0);
    let paid = json!({"id": 9, "state": "paid"});
    s.events
        .send(Event::new("payment.state", paid.clone()))
        .unwrap();
    let notify = peer.recv();
    assert_eq!(notify.header.kind, MsgType::Notify);
    assert_eq!(notify.header.peer, OBJECT_ID);
    assert_eq!(notify.objid(), Some(OBJECT_ID));
    assert_eq!(notify.method(), Some("payment.state"));
    assert!(notify.no_reply());
    assert_eq!(wire::table_to_json(notify.data().unwrap()), paid);
    peer.expect_broadcast("lango.payment.state", &paid);
    // The last subscriber leaves: broadcasts only again.
    peer.set_subscribed(false);
    assert_eq!(peer.call("status", json!({})).status, 0);
    s.events
        .send(Event::new("session.stop", json!({"id": 1})))
        .unwrap();
    peer.expect_broadcast("lango.session.stop", &json!({"id": 1}));
}

#[test]
fn reconnects_and_registers_again_when_ubusd_restarts() {
    let s = start();
    let (mut peer, _) = s.ubusd.register();
    assert_eq!(peer.call("status", json!({})).status, 0);
    // ubusd dies: the socket closes and its file goes away.
    drop(peer);
    drop(s.ubusd);
    let _ = std::fs::remove_file(&s.path);
    crate::support::eventually("object gone", || s.server.object_id().is_none());
    // procd starts a new ubusd: lango says hello and registers again, ids are new.
    let ubusd = FakeUbusd::bind(&s.path);
    let (mut peer, bytes) = ubusd.register();
    assert_eq!(Message::decode(&bytes).unwrap().objpath(), Some("lango"));
    assert_eq!(
        peer.call("status", json!({})).data,
        Some(json!({"ok": true, "calls": 2}))
    );
    // Events flow on the new connection.
    crate::support::eventually("registered", || s.server.object_id().is_some());
    s.events.send(Event::new("x", json!({}))).unwrap();
    peer.expect_broadcast("lango.x", &json!({}));
}

#[test]
fn waits_for_ubusd_that_is_not_there_yet() {
    let dir = TempDir::new("ubus-late");
    let path = dir.path("ubus.sock");
    let (_events, receiver) = mpsc::channel();
    let handler = Arc::new(TestHandler::default());
    let _server = ubusd::serve(options(&path), handler, receiver).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let ubusd = FakeUbusd::bind(&path);
    let (mut peer, _) = ubusd.register();
    assert_eq!(peer.call("status", json!({})).status, 0);
}

#[test]
fn a_refused_registration_is_retried() {
    let s = start();
    // A stale lango still holds the name: ubusd answers ADD_OBJECT with a bare STATUS 2.
    let mut peer = s.ubusd.greet(CLIENT_ID);
    let add = peer.recv();
    assert_eq!(add.header.kind, MsgType::AddObject);
    peer.send(&Message::new(
        MsgType::Status,
        add.header.seq,
        0,
        vec![Attr::Status(2)],
    ));
    // lango drops the connection and tries again.
    let (mut peer, _) = s.ubusd.register();
    assert_eq!(peer.call("status", json!({})).status, 0);
}

#[test]
fn junk_from_ubusd_is_skipped_or_ends_the_connection() {
    let s = start();
    let (mut peer, _) = s.ubusd.register();
    // A message that frames but does not decode (type unknown, METHOD without NUL): skipped.
    {
        use std::io::Write;
        peer.stream
            .write_all(&[
                0, 42, 0, 1, 0, 0, 0, 0, 0, 0, 0, 12, 4, 0, 0, 6, b'a', b'b', 0, 0,
            ])
            .unwrap();
    }
    assert_eq!(peer.call("status", json!({})).status, 0);
    // A header of version 7 breaks the framing: lango hangs up and registers again.
    {
        use std::io::Write;
        peer.stream
            .write_all(&[7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4])
            .unwrap();
    }
    let (mut peer, _) = s.ubusd.register();
    assert_eq!(peer.call("status", json!({})).status, 0);
}

#[test]
fn stop_closes_the_connection() {
    let s = start();
    let (mut peer, _) = s.ubusd.register();
    assert_eq!(peer.call("status", json!({})).status, 0);
    s.server.stop();
    let end = wire::read_frame(&mut peer.stream).unwrap_err();
    assert_eq!(end.kind(), std::io::ErrorKind::UnexpectedEof);
}

// ---- the lango object ----

/// What keeps a lango object registered on its fake ubusd.
pub(crate) struct Running {
    _dir: TempDir,
    _ubusd: FakeUbusd,
    _events: Sender<Event>,
    _server: Server,
}

pub(crate) fn lango_on_ubus(env: &TestEnv, config_path: Option<PathBuf>) -> (Peer, Running) {
    let (dir, _path, ubusd, events, server) = start_with(Arc::new(LangoUbus {
        app: env.app.clone(),
        config_path,
        gateway: None,
    }));
    let (peer, _) = ubusd.register();
    let running = Running {
        _dir: dir,
        _ubusd: ubusd,
        _events: events,
        _server: server,
    };
    (peer, running)
}

#[track_caller]
pub(crate) fn ok(reply: Reply) -> Value {
    assert_eq!(reply.status, 0, "{reply:?}");
    reply.data.expect("a DATA reply")
}

#[test]
fn lango_status_sessions_kick_and_extend() {
    let env = TestEnv::new();
    let (mut peer, _running) = lango_on_ubus(&env, None);
    let status = ok(peer.call("status", json!({})));
    assert_eq!(status["sessions_active"], 0);
    assert_eq!(status["packages"], 4);
    assert_eq!(status["clock_trusted"], true);
    // Two guests online with vouchers.
    let codes = ok(peer.call(
        "voucher_generate",
        json!({"package": "hour", "count": 2, "days": 30}),
    ));
    let codes: Vec<String> = serde_json::from_value(codes["codes"].clone()).unwrap();
    assert_eq!(codes.len(), 2);
    let first = env.app.redeem(guest(1).0, &codes[0]).unwrap();
    env.app.redeem(guest(2).0, &codes[1]).unwrap();
    let sessions = ok(peer.call("sessions", json!({})));
    assert_eq!(sessions["total"], 2);
    assert_eq!(sessions["sessions"][0]["package"], "hour");
    assert_eq!(sessions["sessions"][0]["seconds_left"], 3600);
    // Extend the first by 30 minutes.
    let extended = ok(peer.call("extend", json!({"id": first.id, "minutes": 30})));
    assert_eq!(extended["deadline"], first.deadline + 1800);
    assert_eq!(peer.call("extend", json!({"id": first.id})).status, 2);
    assert_eq!(
        peer.call("extend", json!({"id": first.id, "minutes": 525_601}))
            .status,
        2,
        "the app's limit: at most a year"
    );
    assert_eq!(
        peer.call("extend", json!({"id": first.id, "minutes": 0}))
            .status,
        2
    );
    assert_eq!(
        peer.call("extend", json!({"id": 999, "minutes": 5})).status,
        4
    );
    // Kick one by id, the other by MAC.
    assert_eq!(
        ok(peer.call("kick", json!({"id": first.id}))),
        json!({"kicked": first.id})
    );
    assert_eq!(peer.call("kick", json!({"id": first.id})).status, 4);
    let mac = guest(2).1.to_string();
    let second = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["mac"] == mac)
        .unwrap()["id"]
        .clone();
    assert_eq!(ok(peer.call("kick", json!({"mac": mac})))["kicked"], second);
    assert_eq!(peer.call("kick", json!({"mac": "not a mac"})).status, 2);
    assert_eq!(peer.call("kick", json!({})).status, 2);
    assert_eq!(ok(peer.call("status", json!({})))["sessions_active"], 0);
}

#[test]
fn lango_block_unblock_and_the_blocked_list() {
    let env = TestEnv::new();
    let (mut peer, _running) = lango_on_ubus(&env, None);
    let code = env.hour_voucher();
    env.app.redeem(guest(1).0, &code).unwrap();
    let mac = guest(1).1.to_string();
    // Blocking ends the device's session and lists it.
    assert_eq!(
        ok(peer.call("block", json!({"mac": mac}))),
        json!({"mac": mac, "blocked": true})
    );
    let sessions = ok(peer.call("sessions", json!({})));
    assert_eq!(sessions["total"], 0);
    assert_eq!(sessions["blocked"], json!([mac]));
    assert_eq!(ok(peer.call("status", json!({})))["sessions_active"], 0);
    // Unblocked: gone from the list.
    assert_eq!(
        ok(peer.call("block", json!({"mac": mac, "blocked": false}))),
        json!({"mac": mac, "blocked": false})
    );
    assert_eq!(ok(peer.call("sessions", json!({})))["blocked"], json!([]));
    assert_eq!(peer.call("block", json!({"mac": "nope"})).status, 2);
    assert_eq!(peer.call("block", json!({})).status, 2);
    assert_eq!(
        peer.call("block", json!({"mac": mac, "blocked": "yes"}))
            .status,
        2
    );
}

#[test]
fn lango_status_counts_revenue_as_the_dashboard_does() {
    let env = TestEnv::new();
    let (mut peer, _running) = lango_on_ubus(&env, None);
    let status = ok(peer.call("status", json!({})));
    assert_eq!(
        (
            &status["revenue_today"],
            &status["revenue_7d"],
            &status["revenue_30d"]
        ),
        (&json!("0"), &json!("0"), &json!("0"))
    );
    let paid = env
        .app
        .start_purchase(guest(1).0, "day", "0712345678")
        .unwrap();
    // As in admin.rs: the prompt goes out (pending) before it can be settled.
    env.advance(1);
    let outcome = lango::core::payments::StkOutcome::Paid {
        receipt: Some("UAB7654321".into()),
        amount: None,
    };
    assert!(env.app.settle(paid.id, &outcome).unwrap());
    let status = ok(peer.call("status", json!({})));
    assert_eq!(status["revenue_today"], "50");
    assert_eq!(status["revenue_7d"], "50");
    assert_eq!(status["revenue_30d"], "50");
}

#[test]
fn lango_packages_payments_and_vouchers() {
    let env = TestEnv::new();
    let (mut peer, _running) = lango_on_ubus(&env, None);
    let packages = ok(peer.call("packages", json!({})));
    assert_eq!(packages["currency"], "KES");
    assert_eq!(packages["packages"][1]["id"], "hour");
    assert_eq!(packages["packages"][1]["price"], "20");
    assert!(packages["packages"][1]["quota_bytes"].is_u64());
    assert!(packages["packages"][0]["quota_bytes"].is_null());
    // A purchase: the payment shows with a masked phone and no token.
    env.app
        .start_purchase(guest(1).0, "hour", "0712345678")
        .unwrap();
    let payments = ok(peer.call("payments", json!({"limit": 5})));
    let p = &payments["payments"][0];
    assert_eq!(p["package"], "hour");
    assert_eq!(p["state"], "initiating");
    assert!(!p["phone"].as_str().unwrap().contains("12345"), "{p}");
    assert!(p.get("token").is_none());
    assert_eq!(peer.call("payments", json!({"limit": 0})).status, 2);
    assert_eq!(
        peer.call("voucher_generate", json!({"package": "nope"}))
            .status,
        4
    );
    assert_eq!(
        peer.call("voucher_generate", json!({"package": "day", "count": 501}))
            .status,
        2
    );
    assert_eq!(peer.call("voucher_generate", json!({})).status, 2);
}

#[test]
fn lango_reload_reads_the_config_file() {
    let env = TestEnv::new();
    let (mut peer, _running) = lango_on_ubus(&env, None);
    assert_eq!(peer.call("reload", json!({})).status, 8);
    let dir = TempDir::new("ubus-reload");
    let path = dir.path("lango");
    let config = lango::daemon::DEMO_CONFIG.replace("option name '1 Hour'", "option name 'Saa 1'");
    std::fs::write(&path, config).unwrap();
    let (mut peer, _running) = lango_on_ubus(&env, Some(path.clone()));
    assert_eq!(
        ok(peer.call("reload", json!({}))),
        json!({"reloaded": true})
    );
    assert_eq!(env.app.config().package("hour").unwrap().name, "Saa 1");
    std::fs::write(&path, "config package 'x'\n\toption price 'ten'\n").unwrap();
    let refused = ok(peer.call("reload", json!({})));
    assert_eq!(refused["reloaded"], false);
    assert!(
        refused["error"].as_str().unwrap().contains("price"),
        "{refused}"
    );
    assert_eq!(env.app.config().package("hour").unwrap().name, "Saa 1");
}

#[test]
fn lango_event_payloads() {
    let env = TestEnv::new();
    let code = env.hour_voucher();
    let session = env.app.redeem(guest(3).0, &code).unwrap();
    let start = lango::ubus::session_start(&session);
    assert_eq!(start.name, "session.start");
    assert_eq!(start.data["mac"], guest(3).1.to_string());
    assert_eq!(start.data["deadline"], session.deadline);
    env.app.revoke_session(session.id).unwrap();
    let ended = env
        .app
        .store
        .read(|r| r.session(session.id))
        .unwrap()
        .unwrap();
    assert_eq!(lango::ubus::session_stop(&ended).data["reason"], "revoked");
    let payment = env
        .app
        .start_purchase(guest(4).0, "day", "0712345678")
        .unwrap();
    let event = lango::ubus::payment_state(&payment);
    assert_eq!(event.name, "payment.state");
    assert_eq!(event.data["state"], "initiating");
    assert_eq!(event.data["package"], "day");
    // Every event fits in a DATA attribute.
    for e in [start, lango::ubus::session_stop(&ended), event] {
        wire::table_from_json(&e.data).unwrap();
    }
}
