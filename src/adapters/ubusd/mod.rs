//! lango on ubus, in pure Rust over ubusd's unix socket: registers one object (`lango`), answers
//! its method calls through a `UbusHandler`, and publishes events both as NOTIFY to the object's
//! subscribers (`ubus subscribe lango`) and as broadcasts (`ubus listen lango.*`). Reconnects
//! with backoff when ubusd restarts. The wire format is `wire` (pure); the lango
//! methods are the `ubus` layer (`crate::ubus`). Never touches the store or the firewall itself.
//!
//! Threads: `serve` starts two. `ubus` owns the connection: it connects, registers, then
//! blocks reading and calls the handler for each INVOKE in turn (a slow method delays the
//! next call, not the daemon; `ubus call` waits 30 s). `ubus-events` blocks on the event
//! channel and writes each event out. Both write through one mutex around the socket (a
//! message is never interleaved with another), with a write timeout so a wedged ubusd cannot
//! hold it for long; nothing else is done under that lock. Events that arrive while ubusd is
//! away are dropped: ubus events are not durable on ubusd either.

pub mod wire;

use std::io::{self, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use wire::{Attr, Blobmsg, Field, Header, Message, MsgType};

use crate::core::locks::lock;
pub use wire::{BlobmsgType, Status};

/// ubusd's socket on OpenWrt 21.02 and later (it was `/var/run/ubus.sock` before Oct 2020).
pub(crate) const DEFAULT_SOCKET: &str = "/var/run/ubus/ubus.sock";

/// ubusd's built-in event object (`UBUS_SYSTEM_OBJECT_EVENT`, `ubusmsg.h`): `ubus send` is an
/// INVOKE of its method `send` with `{ "id": <event>, "data": {…} }`.
pub const EVENT_OBJECT_ID: u32 = 1;

/// A method of our object and its arguments, as announced in the ADD_OBJECT signature (`ubus
/// -v list lango` shows them) and checked before the handler is called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Method {
    pub name: String,
    pub args: Vec<(String, BlobmsgType)>,
}

impl Method {
    pub fn new(name: &str, args: &[(&str, BlobmsgType)]) -> Method {
        Method {
            name: name.to_string(),
            args: args.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
        }
    }
}

/// What answers the object's methods. `call` gets the arguments as a JSON object (blobmsg
/// decoded with `wire::to_json`: every integer width is a number, INT8 a boolean) that has
/// already been checked against the method's argument types; arguments may be missing. Its
/// result is sent as the DATA reply (a JSON object; null sends no DATA; anything else is sent
/// as `{"value": …}`), an error as the STATUS code.
pub trait UbusHandler: Send + Sync {
    fn methods(&self) -> Vec<Method>;
    fn call(&self, method: &str, args: &Value) -> Result<Value, Status>;
}

/// Something to publish: `name` is the NOTIFY type (`session.start`); the broadcast goes out as
/// `<object>.<name>` (`lango.session.start`). `data` should be a JSON object.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub name: String,
    pub data: Value,
}

impl Event {
    pub fn new(name: &str, data: Value) -> Event {
        Event {
            name: name.to_string(),
            data,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    pub socket: PathBuf,
    /// The object's path on ubus.
    pub object: String,
    /// Also send every event as a ubus broadcast, which `ubus listen` sees (NOTIFY only reaches
    /// subscribers of the object).
    pub broadcast: bool,
    /// First wait before reconnecting; doubled after each failure up to `backoff_max`, reset
    /// once registered.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// How long a write, or the wait for ubusd's HELLO and registration answer, may take before
    /// the connection is given up and made again.
    pub io_timeout: Duration,
}

impl Options {
    pub fn new(socket: impl Into<PathBuf>) -> Options {
        Options {
            socket: socket.into(),
            object: "lango".to_string(),
            broadcast: true,
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            io_timeout: Duration::from_secs(5),
        }
    }
}

/// The running object server. Dropping it (or `stop`) closes the connection and joins the
/// connection thread; the event thread ends when every sender of its channel is dropped.
#[must_use = "dropping the Server unregisters the object"]
pub struct Server {
    shared: Arc<Shared>,
    connection: Option<JoinHandle<()>>,
}

/// Starts the object server on its own threads (see the module docs) and returns at once; the
/// first connection is made in the background, so a missing ubusd is not an error here.
pub fn serve(
    options: Options,
    handler: Arc<dyn UbusHandler>,
    events: Receiver<Event>,
) -> io::Result<Server> {
    let shared = Arc::new(Shared {
        options,
        handler,
        link: Mutex::new(None),
        stopping: Mutex::new(false),
        wake: Condvar::new(),
    });
    let for_events = shared.clone();
    std::thread::Builder::new()
        .name("ubus-events".into())
        .spawn(move || {
            for event in events.iter() {
                if for_events.stopping() {
                    break;
                }
                for_events.publish(&event);
            }
        })?;
    let for_connection = shared.clone();
    let connection = std::thread::Builder::new()
        .name("ubus".into())
        .spawn(move || run(&for_connection))?;
    Ok(Server {
        shared,
        connection: Some(connection),
    })
}

impl Server {
    /// The id ubusd gave our object, while registered.
    pub fn object_id(&self) -> Option<u32> {
        self.shared.link().as_ref().and_then(|l| l.object_id)
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        *lock(&self.shared.stopping) = true;
        self.shared.wake.notify_all();
        if let Some(link) = self.shared.link().as_ref() {
            let _ = link.stream.shutdown(Shutdown::Both);
        }
        if let Some(connection) = self.connection.take() {
            let _ = connection.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The argument types a method declares, checked against what a caller sent: a present
/// argument of the wrong type is refused with INVALID_ARGUMENT before the handler runs.
/// (libubus's `blobmsg_parse` would instead drop it silently, and most C handlers then answer
/// INVALID_ARGUMENT for a missing required argument.) Integers are checked by value, so an
/// INT64 or INT16 that fits is accepted for INT32; INT8 means a boolean, as in JSON.
pub(crate) fn check_args(method: &Method, args: &Value) -> Result<(), Status> {
    let Value::Object(map) = args else {
        return Err(Status::InvalidArgument);
    };
    for (name, kind) in &method.args {
        if let Some(value) = map.get(name) {
            if !fits(*kind, value) {
                return Err(Status::InvalidArgument);
            }
        }
    }
    Ok(())
}

fn fits(kind: BlobmsgType, value: &Value) -> bool {
    let int_fits = |lo: i64, hi: i64| value.as_i64().is_some_and(|v| (lo..=hi).contains(&v));
    match kind {
        BlobmsgType::Unspec => true,
        BlobmsgType::Array => value.is_array(),
        BlobmsgType::Table => value.is_object(),
        BlobmsgType::String => value.is_string(),
        BlobmsgType::Int64 => value.is_i64(),
        BlobmsgType::Int32 => int_fits(i32::MIN.into(), i32::MAX.into()),
        BlobmsgType::Int16 => int_fits(i16::MIN.into(), i16::MAX.into()),
        BlobmsgType::Int8 => value.is_boolean(),
        BlobmsgType::Double => value.is_number(),
    }
}

/// The SIGNATURE attribute of ADD_OBJECT: a table per method holding one INT32 per argument,
/// whose value is the argument's blobmsg type (libubus `ubus_push_method_data`).
pub fn signature(methods: &[Method]) -> Vec<Field> {
    methods
        .iter()
        .map(|m| {
            let args = m
                .args
                .iter()
                .map(|(name, kind)| Field::new(name.clone(), Blobmsg::Int32(*kind as i32)))
                .collect();
            Field::new(m.name.clone(), Blobmsg::Table(args))
        })
        .collect()
}

// ---- the connection ----

struct Shared {
    options: Options,
    handler: Arc<dyn UbusHandler>,
    /// The current connection's write side. Guards writes only; never held across a handler
    /// call or a read.
    link: Mutex<Option<Link>>,
    stopping: Mutex<bool>,
    wake: Condvar,
}

struct Link {
    stream: UnixStream,
    /// Set once ubusd has accepted ADD_OBJECT.
    object_id: Option<u32>,
    next_seq: u16,
    /// ubusd tells us (NOTIFY with ACTIVE) whether anyone subscribes to the object; without
    /// subscribers a NOTIFY would go nowhere, so it is not sent (libubus `has_subscribers`).
    has_subscribers: bool,
}

impl Link {
    /// Sends a request of ours (a new sequence number; libubus's `request_seq`).
    fn request(&mut self, kind: MsgType, peer: u32, attrs: Vec<Attr>) -> io::Result<u16> {
        self.next_seq = self.next_seq.wrapping_add(1);
        let seq = self.next_seq;
        self.send(&Message::new(kind, seq, peer, attrs))?;
        Ok(seq)
    }

    /// Sends a message. A message that cannot be encoded (over 1 MiB) is `InvalidInput`; any
    /// other error means the connection is broken.
    fn send(&mut self, message: &Message) -> io::Result<()> {
        let bytes = message
            .encode()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.stream.write_all(&bytes)
    }
}

impl Shared {
    fn link(&self) -> MutexGuard<'_, Option<Link>> {
        lock(&self.link)
    }

    fn stopping(&self) -> bool {
        *lock(&self.stopping)
    }

    /// Waits `how_long` unless asked to stop first; true if stopping.
    fn sleep(&self, how_long: Duration) -> bool {
        let guard = lock(&self.stopping);
        match self.wake.wait_timeout_while(guard, how_long, |stop| !*stop) {
            Ok((stop, _)) => *stop,
            Err(poisoned) => *poisoned.into_inner().0,
        }
    }

    /// Sends on the current connection, if there is one; encoded before taking the lock. A
    /// message that cannot be encoded is `InvalidInput`.
    fn send(&self, message: &Message) -> io::Result<()> {
        let bytes = message
            .encode()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        match self.link().as_mut() {
            Some(link) => link.stream.write_all(&bytes),
            None => Err(io::Error::new(io::ErrorKind::NotConnected, "no connection")),
        }
    }

    fn publish(&self, event: &Event) {
        let fields = match wire::table_from_json(&event.data) {
            Ok(f) => f,
            Err(e) => {
                log::warn!("ubus: event {} not sent: {e}", event.name);
                return;
            }
        };
        let mut guard = self.link();
        let Some(link) = guard.as_mut() else {
            log::debug!("ubus: not connected; event {} dropped", event.name);
            return;
        };
        let Some(object_id) = link.object_id else {
            log::debug!("ubus: not registered yet; event {} dropped", event.name);
            return;
        };
        let mut result = Ok(0);
        if link.has_subscribers {
            // libubus `ubus_notify` with a negative timeout: NO_REPLY, so ubusd answers nothing.
            result = link.request(
                MsgType::Notify,
                object_id,
                vec![
                    Attr::ObjId(object_id),
                    Attr::Method(event.name.clone()),
                    Attr::Data(fields.clone()),
                    Attr::NoReply(true),
                ],
            );
        }
        if result.is_ok() && self.options.broadcast {
            // libubus `ubus_send_event`; ubusd answers with a STATUS, read by the connection
            // thread.
            let id = format!("{}.{}", self.options.object, event.name);
            result = link.request(
                MsgType::Invoke,
                EVENT_OBJECT_ID,
                vec![
                    Attr::ObjId(EVENT_OBJECT_ID),
                    Attr::Method("send".into()),
                    Attr::Data(vec![
                        Field::new("id", Blobmsg::String(id)),
                        Field::new("data", Blobmsg::Table(fields)),
                    ]),
                ],
            );
        }
        match result {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                log::warn!("ubus: event {} not sent: {e}", event.name);
            }
            Err(e) => {
                // The connection thread sees the shutdown and reconnects.
                log::warn!("ubus: sending event {}: {e}; reconnecting", event.name);
                let _ = link.stream.shutdown(Shutdown::Both);
            }
        }
    }
}

/// The connection thread: connect, register, serve; on any failure wait and start over.
fn run(shared: &Shared) {
    let mut backoff = shared.options.backoff_min;
    let mut failures = 0u32;
    while !shared.stopping() {
        let mut registered = false;
        let result = session(shared, &mut registered);
        if let Some(link) = shared.link().take() {
            let _ = link.stream.shutdown(Shutdown::Both);
        }
        if shared.stopping() {
            break;
        }
        if registered {
            backoff = shared.options.backoff_min;
            failures = 0;
        }
        let why = match result {
            Ok(()) => "ubusd closed the connection".to_string(),
            Err(e) => e.to_string(),
        };
        failures += 1;
        // A router without ubusd (or a desktop demo) would log this every 30 s: say it once.
        if failures == 1 {
            log::warn!(
                "ubus: {}: {why}; retrying in {} ms",
                shared.options.socket.display(),
                backoff.as_millis()
            );
        } else {
            log::debug!("ubus: {why}; retrying in {} ms", backoff.as_millis());
        }
        if shared.sleep(backoff) {
            break;
        }
        backoff = (backoff * 2).min(shared.options.backoff_max);
    }
}

/// One connection's life. Returns when the connection ends (an error, or end of stream).
fn session(shared: &Shared, registered: &mut bool) -> io::Result<()> {
    let options = &shared.options;
    let stream = UnixStream::connect(&options.socket)?;
    stream.set_write_timeout(Some(options.io_timeout))?;
    stream.set_read_timeout(Some(options.io_timeout))?;
    let mut reader = stream.try_clone()?;
    *shared.link() = Some(Link {
        stream,
        object_id: None,
        next_seq: 0,
        has_subscribers: false,
    });
    // `stop` sets the flag before it shuts the published link down; checking after publishing
    // means one of the two always notices the other.
    if shared.stopping() {
        return Ok(());
    }
    let hello = next_message(&mut reader)?;
    if hello.header.kind != MsgType::Hello || hello.header.peer == 0 {
        return Err(protocol(format!(
            "expected HELLO from ubusd, got {:?}",
            hello.header
        )));
    }
    let client_id = hello.header.peer;
    let methods = shared.handler.methods();
    let object_id = register(shared, &mut reader, &methods)?;
    reader.set_read_timeout(None)?;
    if let Some(link) = shared.link().as_mut() {
        link.object_id = Some(object_id);
    }
    *registered = true;
    log::info!(
        "ubus: object {} registered (id {object_id:#x}, client {client_id:#x}, {} methods)",
        options.object,
        methods.len()
    );
    loop {
        let bytes = wire::read_frame(&mut reader)?;
        match Message::decode(&bytes) {
            Ok(message) => dispatch(shared, &methods, object_id, &message)?,
            Err(e) => {
                let Ok((header, _)) = Header::decode(&bytes) else {
                    continue;
                };
                log::warn!("ubus: undecodable {:?} from ubusd: {e}", header.kind);
                if header.kind == MsgType::Invoke {
                    reply_status(shared, header, object_id, Status::InvalidArgument)?;
                }
            }
        }
    }
}

/// ADD_OBJECT, then wait for its DATA (OBJID, OBJTYPE) and STATUS, matched on our sequence
/// number. Anything else that arrives meanwhile is skipped. A name already taken (a stale
/// lango) is answered with a non-zero STATUS only; that is an error, retried with backoff.
fn register(shared: &Shared, reader: &mut UnixStream, methods: &[Method]) -> io::Result<u32> {
    let seq = match shared.link().as_mut() {
        Some(link) => link.request(
            MsgType::AddObject,
            0,
            vec![
                Attr::ObjPath(shared.options.object.clone()),
                Attr::Signature(signature(methods)),
            ],
        )?,
        None => return Err(protocol("connection closed".into())),
    };
    let mut object_id = None;
    loop {
        let message = next_message(reader)?;
        if message.header.seq != seq {
            continue;
        }
        match message.header.kind {
            MsgType::Data => object_id = message.objid().or(object_id),
            MsgType::Status => {
                let status = Status::from_code(message.status().unwrap_or(9));
                if status != Status::Ok {
                    return Err(protocol(format!(
                        "ubusd refused to register {}: {status}",
                        shared.options.object
                    )));
                }
                return object_id.ok_or_else(|| protocol("no object id from ubusd".into()));
            }
            _ => {}
        }
    }
}

/// The next message that decodes; undecodable ones are skipped.
fn next_message(reader: &mut UnixStream) -> io::Result<Message> {
    loop {
        let bytes = wire::read_frame(reader)?;
        match Message::decode(&bytes) {
            Ok(message) => return Ok(message),
            Err(e) => log::warn!("ubus: undecodable message from ubusd: {e}"),
        }
    }
}

fn protocol(text: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, text)
}

fn dispatch(
    shared: &Shared,
    methods: &[Method],
    object_id: u32,
    message: &Message,
) -> io::Result<()> {
    match message.header.kind {
        MsgType::Invoke => invoke(shared, methods, object_id, message),
        MsgType::Notify => {
            if let (Some(id), Some(active)) = (message.objid(), message.active()) {
                if id == object_id {
                    if let Some(link) = shared.link().as_mut() {
                        link.has_subscribers = active;
                    }
                    log::debug!("ubus: subscribers present: {active}");
                }
            }
            Ok(())
        }
        MsgType::Status => {
            // Answers to our broadcasts. A failure is worth a line, not a reconnect.
            if let Some(code) = message.status().filter(|c| *c != 0) {
                log::warn!(
                    "ubus: request {} refused: {}",
                    message.header.seq,
                    Status::from_code(code)
                );
            }
            Ok(())
        }
        other => {
            log::debug!("ubus: ignoring {other:?}");
            Ok(())
        }
    }
}

/// One method call: check, call the handler, reply with DATA and STATUS to the caller's seq
/// and client id (ubusd routes it back by our OBJID). NO_REPLY suppresses the reply of a found
/// method; an unknown method or a call without METHOD is answered anyway, as libubus does.
fn invoke(
    shared: &Shared,
    methods: &[Method],
    object_id: u32,
    message: &Message,
) -> io::Result<()> {
    let header = message.header;
    if message.objid() != Some(object_id) {
        // ubusd only routes calls to our own object here; libubus would answer NOT_FOUND with a
        // header ubusd cannot route, so saying nothing is equivalent.
        log::debug!(
            "ubus: INVOKE for object {} ignored",
            message.objid().unwrap_or(0)
        );
        return Ok(());
    }
    let Some(name) = message.method() else {
        return reply_status(shared, header, object_id, Status::InvalidArgument);
    };
    let Some(method) = methods.iter().find(|m| m.name == name) else {
        return reply_status(shared, header, object_id, Status::MethodNotFound);
    };
    let args = message
        .data()
        .map(wire::table_to_json)
        .unwrap_or_else(|| Value::Object(Default::default()));
    let result = check_args(method, &args).and_then(|()| shared.handler.call(name, &args));
    if message.no_reply() {
        return Ok(());
    }
    let value = match result {
        Ok(value) => value,
        Err(status) => return reply_status(shared, header, object_id, status),
    };
    if !value.is_null() {
        let sent = wire::table_from_json(&value)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
            .and_then(|fields| {
                shared.send(&Message::new(
                    MsgType::Data,
                    header.seq,
                    header.peer,
                    vec![Attr::ObjId(object_id), Attr::Data(fields)],
                ))
            });
        match sent {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                log::error!("ubus: reply to {name} not sent: {e}");
                return reply_status(shared, header, object_id, Status::UnknownError);
            }
            Err(e) => return Err(e),
        }
    }
    reply_status(shared, header, object_id, Status::Ok)
}

/// STATUS then OBJID, as libubus's `ubus_complete_deferred_request` sends them.
fn reply_status(shared: &Shared, to: Header, object_id: u32, status: Status) -> io::Result<()> {
    shared.send(&Message::new(
        MsgType::Status,
        to.seq,
        to.peer,
        vec![Attr::Status(status.code()), Attr::ObjId(object_id)],
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn arguments_are_checked_by_declared_type() {
        let m = Method::new(
            "m",
            &[
                ("i", BlobmsgType::Int32),
                ("s", BlobmsgType::String),
                ("b", BlobmsgType::Int8),
                ("t", BlobmsgType::Table),
                ("l", BlobmsgType::Int64),
            ],
        );
        assert_eq!(check_args(&m, &json!({})), Ok(()));
        assert_eq!(
            check_args(
                &m,
                &json!({"i": 5, "s": "x", "b": true, "t": {}, "l": 1_i64 << 40})
            ),
            Ok(())
        );
        assert_eq!(check_args(&m, &json!({"other": "ignored"})), Ok(()));
        for bad in [
            json!({"i": "5"}),
            json!({"i": 1_i64 << 40}),
            json!({"i": 1.5}),
            json!({"s": 5}),
            json!({"b": 1}),
            json!({"t": []}),
            json!({"l": 0.5}),
            json!([1]),
        ] {
            assert_eq!(check_args(&m, &bad), Err(Status::InvalidArgument), "{bad}");
        }
    }

    #[test]
    fn the_signature_lists_argument_types_as_int32() {
        let sig = signature(&[
            Method::new("status", &[]),
            Method::new(
                "kick",
                &[("id", BlobmsgType::Int32), ("mac", BlobmsgType::String)],
            ),
        ]);
        assert_eq!(
            wire::table_to_json(&sig),
            json!({"status": {}, "kick": {"id": 5, "mac": 3}})
        );
    }
}
