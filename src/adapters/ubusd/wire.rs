//! The ubus wire format, pure: the message header, blob attributes (the message's own
//! attributes) and blobmsg attributes (named, typed values: method arguments and replies), and
//! the conversion between blobmsg and JSON. Bytes in, values out: never opens a socket (the
//! server in `ubus.rs` does) and never panics on malformed input; every problem is a
//! `WireError`. Layout from openwrt/ubus `ubusmsg.h`, `libubus-io.c` and openwrt/libubox
//! `blob.h`, `blobmsg.h`, `blobmsg_json.c` (see docs/openwrt.md §5).

use std::fmt;
use std::io::{self, Read};

use serde_json::{Map, Number, Value};

/// `UBUS_MAX_MSGLEN` (`ubusmsg.h`): the largest root attribute libubus and ubusd accept. A
/// bigger message makes ubusd drop the connection, so we refuse to send one.
pub const MAX_MSGLEN: usize = 1_048_576;

/// The fixed message header: `u8 version | u8 type | u16 seq | u32 peer`, big-endian.
pub const HEADER_LEN: usize = 8;

/// A blob attribute header: one big-endian `u32` (extended bit, 7-bit id, 24-bit length).
const ATTR_HEADER_LEN: usize = 4;
const ATTR_EXTENDED: u32 = 0x8000_0000;
const ATTR_ID_SHIFT: u32 = 24;
const ATTR_ID_MASK: u32 = 0x7f;
const ATTR_LEN_MASK: u32 = 0x00ff_ffff;

/// Nesting limit for tables and arrays, in both directions. json-c's parser stops at 32 too;
/// without a limit, a 1 MiB message of nested empty tables would exhaust the stack.
pub const MAX_DEPTH: usize = 32;

/// `enum ubus_msg_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsgType {
    Hello,
    Status,
    Data,
    Ping,
    Lookup,
    Invoke,
    AddObject,
    RemoveObject,
    Subscribe,
    Unsubscribe,
    Notify,
    Monitor,
    /// A type this code does not know (a newer ubusd); skipped by the server.
    Other(u8),
}

impl MsgType {
    pub fn code(self) -> u8 {
        match self {
            MsgType::Hello => 0,
            MsgType::Status => 1,
            MsgType::Data => 2,
            MsgType::Ping => 3,
            MsgType::Lookup => 4,
            MsgType::Invoke => 5,
            MsgType::AddObject => 6,
            MsgType::RemoveObject => 7,
            MsgType::Subscribe => 8,
            MsgType::Unsubscribe => 9,
            MsgType::Notify => 10,
            MsgType::Monitor => 11,
            MsgType::Other(code) => code,
        }
    }

    pub fn from_code(code: u8) -> MsgType {
        match code {
            0 => MsgType::Hello,
            1 => MsgType::Status,
            2 => MsgType::Data,
            3 => MsgType::Ping,
            4 => MsgType::Lookup,
            5 => MsgType::Invoke,
            6 => MsgType::AddObject,
            7 => MsgType::RemoveObject,
            8 => MsgType::Subscribe,
            9 => MsgType::Unsubscribe,
            10 => MsgType::Notify,
            11 => MsgType::Monitor,
            other => MsgType::Other(other),
        }
    }
}

/// `enum ubus_msg_status`: the result of a request, carried in a STATUS message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    InvalidCommand,
    InvalidArgument,
    MethodNotFound,
    NotFound,
    NoData,
    PermissionDenied,
    Timeout,
    NotSupported,
    UnknownError,
    ConnectionFailed,
    NoMemory,
    ParseError,
    SystemError,
    /// A code this code does not know.
    Other(i32),
}

impl Status {
    pub fn code(self) -> i32 {
        match self {
            Status::Ok => 0,
            Status::InvalidCommand => 1,
            Status::InvalidArgument => 2,
            Status::MethodNotFound => 3,
            Status::NotFound => 4,
            Status::NoData => 5,
            Status::PermissionDenied => 6,
            Status::Timeout => 7,
            Status::NotSupported => 8,
            Status::UnknownError => 9,
            Status::ConnectionFailed => 10,
            Status::NoMemory => 11,
            Status::ParseError => 12,
            Status::SystemError => 13,
            Status::Other(code) => code,
        }
    }

    pub fn from_code(code: i32) -> Status {
        match code {
            0 => Status::Ok,
            1 => Status::InvalidCommand,
            2 => Status::InvalidArgument,
            3 => Status::MethodNotFound,
            4 => Status::NotFound,
            5 => Status::NoData,
            6 => Status::PermissionDenied,
            7 => Status::Timeout,
            8 => Status::NotSupported,
            9 => Status::UnknownError,
            10 => Status::ConnectionFailed,
            11 => Status::NoMemory,
            12 => Status::ParseError,
            13 => Status::SystemError,
            other => Status::Other(other),
        }
    }
}

impl fmt::Display for Status {
    /// The words `ubus call` prints (`ubus_strerror`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Status::Ok => "Success",
            Status::InvalidCommand => "Invalid command",
            Status::InvalidArgument => "Invalid argument",
            Status::MethodNotFound => "Method not found",
            Status::NotFound => "Not found",
            Status::NoData => "No response",
            Status::PermissionDenied => "Permission denied",
            Status::Timeout => "Request timed out",
            Status::NotSupported => "Operation not supported",
            Status::UnknownError => "Unknown error",
            Status::ConnectionFailed => "Connection failed",
            Status::NoMemory => "Out of memory",
            Status::ParseError => "Parsing message data failed",
            Status::SystemError => "System error",
            Status::Other(code) => return write!(f, "status {code}"),
        };
        f.write_str(text)
    }
}

/// `enum blobmsg_type`: the type of a blobmsg value, and of a method argument in a signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobmsgType {
    Unspec = 0,
    Array = 1,
    Table = 2,
    String = 3,
    Int64 = 4,
    Int32 = 5,
    Int16 = 6,
    /// Also `BLOBMSG_TYPE_BOOL`.
    Int8 = 7,
    Double = 8,
}

impl BlobmsgType {
    pub const BOOL: BlobmsgType = BlobmsgType::Int8;

    pub fn from_code(code: u8) -> Option<BlobmsgType> {
        Some(match code {
            0 => BlobmsgType::Unspec,
            1 => BlobmsgType::Array,
            2 => BlobmsgType::Table,
            3 => BlobmsgType::String,
            4 => BlobmsgType::Int64,
            5 => BlobmsgType::Int32,
            6 => BlobmsgType::Int16,
            7 => BlobmsgType::Int8,
            8 => BlobmsgType::Double,
            _ => return None,
        })
    }
}

/// A blobmsg value. Table children are named, array children are not.
#[derive(Clone, Debug, PartialEq)]
pub enum Blobmsg {
    /// JSON null. Any payload is accepted when decoding and dropped.
    Unspec,
    Array(Vec<Blobmsg>),
    Table(Vec<Field>),
    String(String),
    Int64(i64),
    Int32(i32),
    Int16(i16),
    /// Also a boolean (0 or 1).
    Int8(u8),
    Double(f64),
}

impl Blobmsg {
    pub fn kind(&self) -> BlobmsgType {
        match self {
            Blobmsg::Unspec => BlobmsgType::Unspec,
            Blobmsg::Array(_) => BlobmsgType::Array,
            Blobmsg::Table(_) => BlobmsgType::Table,
            Blobmsg::String(_) => BlobmsgType::String,
            Blobmsg::Int64(_) => BlobmsgType::Int64,
            Blobmsg::Int32(_) => BlobmsgType::Int32,
            Blobmsg::Int16(_) => BlobmsgType::Int16,
            Blobmsg::Int8(_) => BlobmsgType::Int8,
            Blobmsg::Double(_) => BlobmsgType::Double,
        }
    }
}

/// A named blobmsg value: a table entry, an argument, a signature's method.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: String,
    pub value: Blobmsg,
}

impl Field {
    pub fn new(name: impl Into<String>, value: Blobmsg) -> Field {
        Field {
            name: name.into(),
            value,
        }
    }
}

/// `enum ubus_msg_attr`: the plain (not blobmsg) attributes of a message, in wire order.
#[derive(Clone, Debug, PartialEq)]
pub enum Attr {
    Status(i32),
    ObjPath(String),
    ObjId(u32),
    Method(String),
    ObjType(u32),
    /// Method name → table of argument name → blobmsg type (as INT32).
    Signature(Vec<Field>),
    /// Arguments of an INVOKE, the body of a DATA reply or of a NOTIFY.
    Data(Vec<Field>),
    Target(u32),
    Active(bool),
    NoReply(bool),
    Subscribers(Vec<u32>),
    User(String),
    Group(String),
    /// An attribute id this code does not know, kept as raw payload.
    Other {
        id: u8,
        payload: Vec<u8>,
    },
}

mod attr_id {
    pub const STATUS: u8 = 1;
    pub const OBJPATH: u8 = 2;
    pub const OBJID: u8 = 3;
    pub const METHOD: u8 = 4;
    pub const OBJTYPE: u8 = 5;
    pub const SIGNATURE: u8 = 6;
    pub const DATA: u8 = 7;
    pub const TARGET: u8 = 8;
    pub const ACTIVE: u8 = 9;
    pub const NO_REPLY: u8 = 10;
    pub const SUBSCRIBERS: u8 = 11;
    pub const USER: u8 = 12;
    pub const GROUP: u8 = 13;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: MsgType,
    pub seq: u16,
    /// Our client id in HELLO; the caller's client id in an INVOKE we receive; the target
    /// object id in an INVOKE or NOTIFY we send.
    pub peer: u32,
}

impl Header {
    pub fn new(kind: MsgType, seq: u16, peer: u32) -> Header {
        Header { kind, seq, peer }
    }

    /// The header and the total message length (header included) from the first 12 bytes of a
    /// message: the header and the root attribute's header. Checks what libubus checks
    /// (`ubus_validate_hdr`): version 0, a root at least 4 bytes long, at most `MAX_MSGLEN`.
    pub fn decode(bytes: &[u8]) -> Result<(Header, usize), WireError> {
        let head = bytes
            .get(..HEADER_LEN + ATTR_HEADER_LEN)
            .ok_or(WireError::Truncated)?;
        let version = head.first().copied().unwrap_or(0);
        if version != 0 {
            return Err(WireError::BadVersion(version));
        }
        let kind = MsgType::from_code(head.get(1).copied().unwrap_or(0));
        let seq = u16::from_be_bytes([byte(head, 2), byte(head, 3)]);
        let peer = u32::from_be_bytes([byte(head, 4), byte(head, 5), byte(head, 6), byte(head, 7)]);
        let root =
            u32::from_be_bytes([byte(head, 8), byte(head, 9), byte(head, 10), byte(head, 11)]);
        let root_len = (root & ATTR_LEN_MASK) as usize;
        if root_len < ATTR_HEADER_LEN {
            return Err(WireError::BadLength(root_len));
        }
        if align4(root_len) > MAX_MSGLEN {
            return Err(WireError::TooLarge(root_len));
        }
        Ok((Header { kind, seq, peer }, HEADER_LEN + root_len))
    }
}

fn byte(bytes: &[u8], idx: usize) -> u8 {
    bytes.get(idx).copied().unwrap_or(0)
}

/// One message: the header and the root attribute's children.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub header: Header,
    pub attrs: Vec<Attr>,
}

impl Message {
    pub fn new(kind: MsgType, seq: u16, peer: u32, attrs: Vec<Attr>) -> Message {
        Message {
            header: Header::new(kind, seq, peer),
            attrs,
        }
    }

    /// The bytes libubus would send: header, root, attributes in order, each padded to 4
    /// bytes, no padding after the root.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::with_capacity(64);
        out.push(0);
        out.push(self.header.kind.code());
        out.extend_from_slice(&self.header.seq.to_be_bytes());
        out.extend_from_slice(&self.header.peer.to_be_bytes());
        let root = open_attr(&mut out);
        for attr in &self.attrs {
            put_attr(&mut out, attr)?;
        }
        let root_len = out.len() - root;
        if root_len > MAX_MSGLEN {
            return Err(WireError::TooLarge(root_len));
        }
        close_attr(&mut out, root, 0, false)?;
        Ok(out)
    }

    /// A whole message, as `read_frame` returns it. Trailing bytes after the root are refused.
    pub fn decode(bytes: &[u8]) -> Result<Message, WireError> {
        let (header, total) = Header::decode(bytes)?;
        let root = bytes.get(HEADER_LEN..total).ok_or(WireError::Truncated)?;
        if bytes.len() != total {
            return Err(WireError::BadLength(bytes.len()));
        }
        let payload = root.get(ATTR_HEADER_LEN..).unwrap_or(&[]);
        let mut attrs = Vec::new();
        for item in attrs_of(payload) {
            let attr = item?;
            attrs.push(decode_attr(attr.id, attr.payload)?);
        }
        Ok(Message { header, attrs })
    }

    pub fn status(&self) -> Option<i32> {
        self.attrs.iter().find_map(|a| match a {
            Attr::Status(s) => Some(*s),
            _ => None,
        })
    }

    pub fn objid(&self) -> Option<u32> {
        self.attrs.iter().find_map(|a| match a {
            Attr::ObjId(id) => Some(*id),
            _ => None,
        })
    }

    pub fn objtype(&self) -> Option<u32> {
        self.attrs.iter().find_map(|a| match a {
            Attr::ObjType(id) => Some(*id),
            _ => None,
        })
    }

    pub fn objpath(&self) -> Option<&str> {
        self.attrs.iter().find_map(|a| match a {
            Attr::ObjPath(p) => Some(p.as_str()),
            _ => None,
        })
    }

    pub fn method(&self) -> Option<&str> {
        self.attrs.iter().find_map(|a| match a {
            Attr::Method(m) => Some(m.as_str()),
            _ => None,
        })
    }

    pub fn data(&self) -> Option<&[Field]> {
        self.attrs.iter().find_map(|a| match a {
            Attr::Data(d) => Some(d.as_slice()),
            _ => None,
        })
    }

    pub fn signature(&self) -> Option<&[Field]> {
        self.attrs.iter().find_map(|a| match a {
            Attr::Signature(s) => Some(s.as_slice()),
            _ => None,
        })
    }

    pub fn no_reply(&self) -> bool {
        self.attrs.iter().any(|a| matches!(a, Attr::NoReply(true)))
    }

    pub fn active(&self) -> Option<bool> {
        self.attrs.iter().find_map(|a| match a {
            Attr::Active(on) => Some(*on),
            _ => None,
        })
    }
}

/// Reads one whole message (header included) from a stream, as libubus does: the header and
/// the root's header first, validated, then the rest. An error here loses the framing, so the
/// caller must drop the connection; a message that frames but does not decode is the caller's
/// to skip (`Message::decode` on the returned bytes). End of stream is `UnexpectedEof`.
pub fn read_frame(reader: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut head = [0u8; HEADER_LEN + ATTR_HEADER_LEN];
    reader.read_exact(&mut head)?;
    let (_, total) =
        Header::decode(&head).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let mut bytes = vec![0u8; total];
    let (first, rest) = bytes.split_at_mut(head.len());
    first.copy_from_slice(&head);
    reader.read_exact(rest)?;
    Ok(bytes)
}

/// Why bytes are not a valid message, or a value cannot be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// A length points past the end of its container, or the input ends early.
    Truncated,
    /// The header's version is not 0.
    BadVersion(u8),
    /// An attribute shorter than its own header, or a frame longer than its root says.
    BadLength(usize),
    /// Over `MAX_MSGLEN` (or a single attribute over the 24-bit length field).
    TooLarge(usize),
    /// A blobmsg type code above 8.
    BadType(u8),
    /// A value whose length does not fit its type (an INT32 of 3 bytes, a string without its
    /// terminating NUL).
    BadValue(&'static str),
    /// A blobmsg name that overruns its attribute or lacks its NUL.
    BadName,
    /// A string or name that is not UTF-8.
    NotUtf8,
    /// A child of DATA or SIGNATURE without the extended (blobmsg) bit.
    NotBlobmsg,
    /// Tables and arrays nested deeper than `MAX_DEPTH`.
    TooDeep,
    /// A name longer than the 16-bit length field.
    NameTooLong(usize),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated => f.write_str("truncated message"),
            WireError::BadVersion(v) => write!(f, "unknown message version {v}"),
            WireError::BadLength(n) => write!(f, "impossible length {n}"),
            WireError::TooLarge(n) => write!(f, "message of {n} bytes is over {MAX_MSGLEN}"),
            WireError::BadType(t) => write!(f, "unknown blobmsg type {t}"),
            WireError::BadValue(what) => write!(f, "malformed value: {what}"),
            WireError::BadName => f.write_str("malformed blobmsg name"),
            WireError::NotUtf8 => f.write_str("string is not UTF-8"),
            WireError::NotBlobmsg => f.write_str("plain blob attribute where blobmsg expected"),
            WireError::TooDeep => write!(f, "nested deeper than {MAX_DEPTH}"),
            WireError::NameTooLong(n) => write!(f, "name of {n} bytes is too long"),
        }
    }
}

impl std::error::Error for WireError {}

// ---- encoding ----

fn align4(len: usize) -> usize {
    len.saturating_add(3) & !3
}

/// Starts an attribute: a placeholder header, patched by `close_attr`.
fn open_attr(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; ATTR_HEADER_LEN]);
    start
}

/// Writes the header of the attribute started at `start` (its raw length is what follows
/// it so far) and pads to 4 bytes with zeros.
fn close_attr(out: &mut Vec<u8>, start: usize, id: u8, extended: bool) -> Result<(), WireError> {
    let raw_len = out.len() - start;
    let len = u32::try_from(raw_len)
        .ok()
        .filter(|l| *l <= ATTR_LEN_MASK)
        .ok_or(WireError::TooLarge(raw_len))?;
    let mut word = (u32::from(id) & ATTR_ID_MASK) << ATTR_ID_SHIFT | len;
    if extended {
        word |= ATTR_EXTENDED;
    }
    if let Some(slot) = out.get_mut(start..start + ATTR_HEADER_LEN) {
        slot.copy_from_slice(&word.to_be_bytes());
    }
    out.resize(start + align4(raw_len), 0);
    Ok(())
}

fn put_plain(out: &mut Vec<u8>, id: u8, payload: &[u8]) -> Result<(), WireError> {
    let start = open_attr(out);
    out.extend_from_slice(payload);
    close_attr(out, start, id, false)
}

fn put_plain_string(out: &mut Vec<u8>, id: u8, text: &str) -> Result<(), WireError> {
    let start = open_attr(out);
    out.extend_from_slice(text.as_bytes());
    out.push(0);
    close_attr(out, start, id, false)
}

fn put_attr(out: &mut Vec<u8>, attr: &Attr) -> Result<(), WireError> {
    use attr_id::*;
    match attr {
        Attr::Status(s) => put_plain(out, STATUS, &s.to_be_bytes()),
        Attr::ObjPath(p) => put_plain_string(out, OBJPATH, p),
        Attr::ObjId(id) => put_plain(out, OBJID, &id.to_be_bytes()),
        Attr::Method(m) => put_plain_string(out, METHOD, m),
        Attr::ObjType(t) => put_plain(out, OBJTYPE, &t.to_be_bytes()),
        Attr::Signature(fields) | Attr::Data(fields) => {
            let id = if matches!(attr, Attr::Signature(_)) {
                SIGNATURE
            } else {
                DATA
            };
            let start = open_attr(out);
            for field in fields {
                put_blobmsg(out, &field.name, &field.value, 1)?;
            }
            close_attr(out, start, id, false)
        }
        Attr::Target(t) => put_plain(out, TARGET, &t.to_be_bytes()),
        Attr::Active(on) => put_plain(out, ACTIVE, &[u8::from(*on)]),
        Attr::NoReply(on) => put_plain(out, NO_REPLY, &[u8::from(*on)]),
        Attr::Subscribers(ids) => {
            let start = open_attr(out);
            for id in ids {
                put_plain(out, 0, &id.to_be_bytes())?;
            }
            close_attr(out, start, SUBSCRIBERS, false)
        }
        Attr::User(u) => put_plain_string(out, USER, u),
        Attr::Group(g) => put_plain_string(out, GROUP, g),
        Attr::Other { id, payload } => put_plain(out, *id, payload),
    }
}

/// One blobmsg attribute: header, `u16 namelen | name | NUL | pad to 4`, value.
fn put_blobmsg(
    out: &mut Vec<u8>,
    name: &str,
    value: &Blobmsg,
    depth: usize,
) -> Result<(), WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError::TooDeep);
    }
    let name_len = u16::try_from(name.len()).map_err(|_| WireError::NameTooLong(name.len()))?;
    let start = open_attr(out);
    out.extend_from_slice(&name_len.to_be_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.resize(start + ATTR_HEADER_LEN + align4(2 + name.len() + 1), 0);
    match value {
        Blobmsg::Unspec => {}
        Blobmsg::Array(items) => {
            for item in items {
                put_blobmsg(out, "", item, depth + 1)?;
            }
        }
        Blobmsg::Table(fields) => {
            for field in fields {
                put_blobmsg(out, &field.name, &field.value, depth + 1)?;
            }
        }
        Blobmsg::String(s) => {
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        }
        Blobmsg::Int64(v) => out.extend_from_slice(&v.to_be_bytes()),
        Blobmsg::Int32(v) => out.extend_from_slice(&v.to_be_bytes()),
        Blobmsg::Int16(v) => out.extend_from_slice(&v.to_be_bytes()),
        Blobmsg::Int8(v) => out.push(*v),
        Blobmsg::Double(v) => out.extend_from_slice(&v.to_bits().to_be_bytes()),
    }
    close_attr(out, start, value.kind() as u8, true)
}

// ---- decoding ----

/// One attribute as found in a buffer, not yet interpreted.
struct RawAttr<'a> {
    id: u8,
    extended: bool,
    payload: &'a [u8],
}

/// Iterates over the attributes packed in `buf`.
fn attrs_of(buf: &[u8]) -> impl Iterator<Item = Result<RawAttr<'_>, WireError>> {
    let mut rest = buf;
    let mut failed = false;
    std::iter::from_fn(move || {
        if rest.is_empty() || failed {
            return None;
        }
        let item = split_attr(rest).map(|(attr, next)| {
            rest = next;
            attr
        });
        failed = item.is_err();
        Some(item)
    })
}

/// The first attribute of `buf` and what follows it (after its padding).
fn split_attr(buf: &[u8]) -> Result<(RawAttr<'_>, &[u8]), WireError> {
    let head = buf.get(..ATTR_HEADER_LEN).ok_or(WireError::Truncated)?;
    let word = u32::from_be_bytes([byte(head, 0), byte(head, 1), byte(head, 2), byte(head, 3)]);
    let raw_len = (word & ATTR_LEN_MASK) as usize;
    if raw_len < ATTR_HEADER_LEN {
        return Err(WireError::BadLength(raw_len));
    }
    let payload = buf
        .get(ATTR_HEADER_LEN..raw_len)
        .ok_or(WireError::Truncated)?;
    let next = buf.get(align4(raw_len)..).ok_or(WireError::Truncated)?;
    let attr = RawAttr {
        id: ((word >> ATTR_ID_SHIFT) & ATTR_ID_MASK) as u8,
        extended: word & ATTR_EXTENDED != 0,
        payload,
    };
    Ok((attr, next))
}

fn int32(payload: &[u8]) -> Result<u32, WireError> {
    let b: [u8; 4] = payload
        .try_into()
        .map_err(|_| WireError::BadValue("int32 not 4 bytes"))?;
    Ok(u32::from_be_bytes(b))
}

fn int8(payload: &[u8]) -> Result<u8, WireError> {
    match payload {
        [b] => Ok(*b),
        _ => Err(WireError::BadValue("int8 not 1 byte")),
    }
}

/// A NUL-terminated string, read as C reads it: up to the first NUL.
fn c_string(payload: &[u8]) -> Result<String, WireError> {
    if payload.last() != Some(&0) {
        return Err(WireError::BadValue("string without NUL"));
    }
    let end = payload.iter().position(|b| *b == 0).unwrap_or(0);
    let text = payload.get(..end).unwrap_or(&[]);
    String::from_utf8(text.to_vec()).map_err(|_| WireError::NotUtf8)
}

fn decode_attr(id: u8, payload: &[u8]) -> Result<Attr, WireError> {
    use attr_id::*;
    Ok(match id {
        STATUS => Attr::Status(int32(payload)? as i32),
        OBJPATH => Attr::ObjPath(c_string(payload)?),
        OBJID => Attr::ObjId(int32(payload)?),
        METHOD => Attr::Method(c_string(payload)?),
        OBJTYPE => Attr::ObjType(int32(payload)?),
        SIGNATURE => Attr::Signature(decode_fields(payload, 1)?),
        DATA => Attr::Data(decode_fields(payload, 1)?),
        TARGET => Attr::Target(int32(payload)?),
        ACTIVE => Attr::Active(int8(payload)? != 0),
        NO_REPLY => Attr::NoReply(int8(payload)? != 0),
        SUBSCRIBERS => {
            let mut ids = Vec::new();
            for item in attrs_of(payload) {
                ids.push(int32(item?.payload)?);
            }
            Attr::Subscribers(ids)
        }
        USER => Attr::User(c_string(payload)?),
        GROUP => Attr::Group(c_string(payload)?),
        _ => Attr::Other {
            id,
            payload: payload.to_vec(),
        },
    })
}

/// The blobmsg attributes packed in `buf`, as named fields.
fn decode_fields(buf: &[u8], depth: usize) -> Result<Vec<Field>, WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError::TooDeep);
    }
    let mut fields = Vec::new();
    for item in attrs_of(buf) {
        let attr = item?;
        if !attr.extended {
            return Err(WireError::NotBlobmsg);
        }
        let (name, value) = decode_blobmsg(attr.id, attr.payload, depth)?;
        fields.push(Field { name, value });
    }
    Ok(fields)
}

/// One blobmsg attribute's name and value, checked as libubox's `blobmsg_check_attr` does.
fn decode_blobmsg(id: u8, payload: &[u8], depth: usize) -> Result<(String, Blobmsg), WireError> {
    let name_len = match payload {
        [hi, lo, ..] => usize::from(u16::from_be_bytes([*hi, *lo])),
        _ => return Err(WireError::BadName),
    };
    let name = payload.get(2..2 + name_len).ok_or(WireError::BadName)?;
    if payload.get(2 + name_len) != Some(&0) {
        return Err(WireError::BadName);
    }
    let name = String::from_utf8(name.to_vec()).map_err(|_| WireError::NotUtf8)?;
    let data = payload
        .get(align4(2 + name_len + 1)..)
        .ok_or(WireError::BadName)?;
    let kind = BlobmsgType::from_code(id).ok_or(WireError::BadType(id))?;
    let value = match kind {
        BlobmsgType::Unspec => Blobmsg::Unspec,
        BlobmsgType::Array => Blobmsg::Array(
            decode_fields(data, depth + 1)?
                .into_iter()
                .map(|f| f.value)
                .collect(),
        ),
        BlobmsgType::Table => Blobmsg::Table(decode_fields(data, depth + 1)?),
        BlobmsgType::String => {
            if data.is_empty() {
                return Err(WireError::BadValue("empty string attribute"));
            }
            Blobmsg::String(c_string(data)?)
        }
        BlobmsgType::Int64 => Blobmsg::Int64(i64::from_be_bytes(
            data.try_into()
                .map_err(|_| WireError::BadValue("int64 not 8 bytes"))?,
        )),
        BlobmsgType::Int32 => Blobmsg::Int32(int32(data)? as i32),
        BlobmsgType::Int16 => Blobmsg::Int16(i16::from_be_bytes(
            data.try_into()
                .map_err(|_| WireError::BadValue("int16 not 2 bytes"))?,
        )),
        BlobmsgType::Int8 => Blobmsg::Int8(int8(data)?),
        BlobmsgType::Double => Blobmsg::Double(f64::from_bits(u64::from_be_bytes(
            data.try_into()
                .map_err(|_| WireError::BadValue("double not 8 bytes"))?,
        ))),
    };
    Ok((name, value))
}

// ---- JSON ----

/// Blobmsg to JSON as libubox's `blobmsg_format_json` prints it: INT8 is a boolean, every
/// integer width a number, UNSPEC null. A double that JSON cannot hold (NaN, infinity) is null.
pub fn to_json(value: &Blobmsg) -> Value {
    match value {
        Blobmsg::Unspec => Value::Null,
        Blobmsg::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Blobmsg::Table(fields) => table_to_json(fields),
        Blobmsg::String(s) => Value::String(s.clone()),
        Blobmsg::Int64(v) => Value::from(*v),
        Blobmsg::Int32(v) => Value::from(*v),
        Blobmsg::Int16(v) => Value::from(*v),
        Blobmsg::Int8(v) => Value::Bool(*v != 0),
        Blobmsg::Double(v) => Number::from_f64(*v).map_or(Value::Null, Value::Number),
    }
}

/// A table's fields as a JSON object. A repeated name keeps its first value, as
/// `blobmsg_parse` does.
pub fn table_to_json(fields: &[Field]) -> Value {
    let mut map = Map::new();
    for field in fields {
        if !map.contains_key(&field.name) {
            map.insert(field.name.clone(), to_json(&field.value));
        }
    }
    Value::Object(map)
}

/// JSON to blobmsg with the rules of `blobmsg_add_json_element` (what `ubus call` sends): object
/// → TABLE, array → ARRAY, string → STRING, bool → INT8, an integer → INT32 if it fits, else
/// INT64, any other number → DOUBLE, null → UNSPEC. An integer above `i64::MAX` becomes
/// `i64::MAX`, as json-c's `json_object_get_int64` does.
pub fn from_json(value: &Value) -> Result<Blobmsg, WireError> {
    from_json_at(value, 1)
}

fn from_json_at(value: &Value, depth: usize) -> Result<Blobmsg, WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError::TooDeep);
    }
    Ok(match value {
        Value::Null => Blobmsg::Unspec,
        Value::Bool(b) => Blobmsg::Int8(u8::from(*b)),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                match i32::try_from(i) {
                    Ok(small) => Blobmsg::Int32(small),
                    Err(_) => Blobmsg::Int64(i),
                }
            } else if n.is_u64() {
                Blobmsg::Int64(i64::MAX)
            } else {
                Blobmsg::Double(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => Blobmsg::String(s.clone()),
        Value::Array(items) => Blobmsg::Array(
            items
                .iter()
                .map(|v| from_json_at(v, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Blobmsg::Table(fields_at(map, depth + 1)?),
    })
}

fn fields_at(map: &Map<String, Value>, depth: usize) -> Result<Vec<Field>, WireError> {
    map.iter()
        .map(|(name, v)| Ok(Field::new(name.clone(), from_json_at(v, depth)?)))
        .collect()
}

/// The fields of a DATA attribute from JSON. DATA is always a table: an object gives its
/// members, anything else becomes the single field `value`.
pub fn table_from_json(value: &Value) -> Result<Vec<Field>, WireError> {
    match value {
        Value::Object(map) => fields_at(map, 1),
        other => Ok(vec![Field::new("value", from_json_at(other, 1)?)]),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Hex to bytes, ignoring whitespace and `|` separators, for vectors written as in the doc.
    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text
            .bytes()
            .filter(|b| b.is_ascii_hexdigit())
            .map(|b| (b as char).to_digit(16).unwrap() as u8)
            .collect();
        assert_eq!(digits.len() % 2, 0, "odd number of hex digits");
        digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect()
    }

    fn field_bytes(name: &str, value: Blobmsg) -> Vec<u8> {
        let mut out = Vec::new();
        put_blobmsg(&mut out, name, &value, 1).unwrap();
        out
    }

    fn decode_field(bytes: &[u8]) -> Field {
        let fields = decode_fields(bytes, 1).unwrap();
        assert_eq!(fields.len(), 1);
        fields.into_iter().next().unwrap()
    }

    #[track_caller]
    fn check_field(name: &str, value: Blobmsg, expected_hex: &str) {
        let bytes = field_bytes(name, value.clone());
        assert_eq!(bytes, hex(expected_hex), "encoding of {name}: {value:?}");
        assert_eq!(decode_field(&bytes), Field::new(name, value));
    }

    fn add_object(name: &str, methods: Vec<Field>) -> Message {
        Message::new(
            MsgType::AddObject,
            1,
            0,
            vec![Attr::ObjPath(name.into()), Attr::Signature(methods)],
        )
    }

    /// docs/openwrt.md §5.3: the 48-byte ADD_OBJECT with one arg-less method `status`. The
    /// doc's bytes spell the path "capportal" (10 bytes with its NUL, length 14), which is what
    /// makes the total 48; its comment says "lango". The bytes are self-consistent for
    /// "capportal".
    #[test]
    fn the_doc_example_add_object_is_self_consistent_for_capportal() {
        let doc = hex("00 06 00 01  00 00 00 00
             00 00 00 28
             02 00 00 0e  63 61 70 70 6f 72 74 61 6c 00 00 00
             06 00 00 14
             82 00 00 10  00 06 73 74 61 74 75 73 00 00 00 00");
        assert_eq!(doc.len(), 48);
        let msg = add_object(
            "capportal",
            vec![Field::new("status", Blobmsg::Table(vec![]))],
        );
        assert_eq!(msg.encode().unwrap(), doc);
        assert_eq!(Message::decode(&doc).unwrap(), msg);
    }

    /// The same message for "lango", worked out from the rules: OBJPATH is 4 + 6 ("lango\0") =
    /// 10 bytes, padded to 12; the root is 4 + 12 + 20 = 36 (0x24); 44 bytes in all.
    #[test]
    fn add_object_lango_with_one_argless_method() {
        let expected = hex("00 06 00 01  00 00 00 00
             00 00 00 24
             02 00 00 0a  6c 61 6e 67 6f 00 00 00
             06 00 00 14
             82 00 00 10  00 06 73 74 61 74 75 73 00 00 00 00");
        let msg = add_object("lango", vec![Field::new("status", Blobmsg::Table(vec![]))]);
        assert_eq!(msg.encode().unwrap(), expected);
        assert_eq!(expected.len(), 44);
        assert_eq!(Message::decode(&expected).unwrap(), msg);
    }

    /// docs/openwrt.md §5.3: method `auth` with argument `mac: string` in a signature.
    #[test]
    fn signature_method_with_one_argument() {
        check_field(
            "auth",
            Blobmsg::Table(vec![Field::new("mac", Blobmsg::Int32(3))]),
            "82 00 00 1c 00 04 61 75 74 68 00 00 | 85 00 00 10 00 03 6d 61 63 00 00 00 00 00 00 03",
        );
    }

    #[test]
    fn each_blobmsg_type_against_hand_derived_bytes() {
        // UNSPEC "n": header 4 + name header align4(2+1+1)=4, no value: raw 8.
        check_field("n", Blobmsg::Unspec, "80 00 00 08 00 01 6e 00");
        // STRING "s" = "hi": raw 4 + 4 + 3 = 11 (0x0b), padded with one zero.
        check_field(
            "s",
            Blobmsg::String("hi".into()),
            "83 00 00 0b 00 01 73 00 68 69 00 00",
        );
        // INT64 "big" = -2: name header align4(2+3+1)=8, raw 4 + 8 + 8 = 20.
        check_field(
            "big",
            Blobmsg::Int64(-2),
            "84 00 00 14 00 03 62 69 67 00 00 00 ff ff ff ff ff ff ff fe",
        );
        // INT32 "i" = 0x01020304: raw 4 + 4 + 4 = 12.
        check_field(
            "i",
            Blobmsg::Int32(0x0102_0304),
            "85 00 00 0c 00 01 69 00 01 02 03 04",
        );
        // INT16 "h" = -1: raw 4 + 4 + 2 = 10, two bytes of padding.
        check_field(
            "h",
            Blobmsg::Int16(-1),
            "86 00 00 0a 00 01 68 00 ff ff 00 00",
        );
        // INT8 (bool) "b" = 1: raw 9, three bytes of padding.
        check_field("b", Blobmsg::Int8(1), "87 00 00 09 00 01 62 00 01 00 00 00");
        // DOUBLE "d" = 1.5 = 0x3ff8000000000000: raw 4 + 4 + 8 = 16.
        check_field(
            "d",
            Blobmsg::Double(1.5),
            "88 00 00 10 00 01 64 00 3f f8 00 00 00 00 00 00",
        );
        // ARRAY "a" = [7, "x"]: elements have empty names (4-byte name header "00 00 00 00").
        // INT32 element: 4 + 4 + 4 = 12; STRING "x": 4 + 4 + 2 = 10, padded to 12.
        // Array raw = 4 + 4 + 12 + 12 = 32 (0x20).
        check_field(
            "a",
            Blobmsg::Array(vec![Blobmsg::Int32(7), Blobmsg::String("x".into())]),
            "81 00 00 20 00 01 61 00 | 85 00 00 0c 00 00 00 00 00 00 00 07 \
             | 83 00 00 0a 00 00 00 00 78 00 00 00",
        );
        // TABLE "t" = {"k": true}: child 4 + 4 + 1 = 9 padded to 12; table 4 + 4 + 12 = 20.
        check_field(
            "t",
            Blobmsg::Table(vec![Field::new("k", Blobmsg::Int8(1))]),
            "82 00 00 14 00 01 74 00 | 87 00 00 09 00 01 6b 00 01 00 00 00",
        );
        // An empty name takes the 4-byte header; a 2-byte name needs 2+2+1=5 → 8.
        check_field("", Blobmsg::Int8(0), "87 00 00 09 00 00 00 00 00 00 00 00");
        check_field(
            "ab",
            Blobmsg::Int8(0),
            "87 00 00 0d 00 02 61 62 00 00 00 00 00 00 00 00",
        );
    }

    #[test]
    fn message_attributes_round_trip_in_order() {
        let msg = Message::new(
            MsgType::Invoke,
            0xbeef,
            0x0102_0304,
            vec![
                Attr::ObjId(7),
                Attr::Method("status".into()),
                Attr::User("root".into()),
                Attr::Group("root".into()),
                Attr::Data(vec![Field::new("x", Blobmsg::Int32(1))]),
                Attr::NoReply(true),
                Attr::Active(false),
                Attr::Target(9),
                Attr::ObjType(11),
                Attr::Status(-3),
                Attr::Subscribers(vec![1, 2]),
                Attr::Other {
                    id: 42,
                    payload: vec![1, 2, 3],
                },
            ],
        );
        let bytes = msg.encode().unwrap();
        assert_eq!(&bytes[..8], &hex("00 05 be ef 01 02 03 04")[..]);
        assert_eq!(Message::decode(&bytes).unwrap(), msg);
        assert_eq!(Header::decode(&bytes).unwrap(), (msg.header, bytes.len()));
    }

    /// STATUS as libubus sends it (`ubus_complete_deferred_request`): STATUS then OBJID.
    #[test]
    fn status_reply_bytes() {
        let msg = Message::new(
            MsgType::Status,
            5,
            0x77,
            vec![Attr::Status(3), Attr::ObjId(0x1234)],
        );
        assert_eq!(
            msg.encode().unwrap(),
            hex(
                "00 01 00 05 00 00 00 77 | 00 00 00 14 | 01 00 00 08 00 00 00 03 \
                 | 03 00 00 08 00 00 12 34"
            )
        );
    }

    /// HELLO from ubusd: seq 0, peer = our client id, empty root.
    #[test]
    fn hello_is_an_empty_root() {
        let hello = hex("00 00 00 00 8a 2b 3c 4d 00 00 00 04");
        let msg = Message::decode(&hello).unwrap();
        assert_eq!(msg.header, Header::new(MsgType::Hello, 0, 0x8a2b_3c4d));
        assert!(msg.attrs.is_empty());
        assert_eq!(msg.encode().unwrap(), hello);
    }

    #[test]
    fn json_to_blobmsg_follows_the_ubus_cli() {
        let value = json!({
            "small": 5, "neg": -2147483648_i64, "big": 2147483648_i64, "huge": u64::MAX,
            "f": 0.5, "t": true, "n": null, "s": "x", "a": [1, "y"], "o": {"k": {}}
        });
        let Blobmsg::Table(fields) = from_json(&value).unwrap() else {
            panic!("an object is a table")
        };
        let get = |n: &str| fields.iter().find(|f| f.name == n).unwrap().value.clone();
        assert_eq!(get("small"), Blobmsg::Int32(5));
        assert_eq!(get("neg"), Blobmsg::Int32(i32::MIN));
        assert_eq!(get("big"), Blobmsg::Int64(2_147_483_648));
        assert_eq!(get("huge"), Blobmsg::Int64(i64::MAX));
        assert_eq!(get("f"), Blobmsg::Double(0.5));
        assert_eq!(get("t"), Blobmsg::Int8(1));
        assert_eq!(get("n"), Blobmsg::Unspec);
        assert_eq!(get("s"), Blobmsg::String("x".into()));
        assert_eq!(
            get("a"),
            Blobmsg::Array(vec![Blobmsg::Int32(1), Blobmsg::String("y".into())])
        );
        assert_eq!(
            get("o"),
            Blobmsg::Table(vec![Field::new("k", Blobmsg::Table(vec![]))])
        );
    }

    #[test]
    fn blobmsg_to_json_accepts_every_integer_width() {
        let fields = vec![
            Field::new("a", Blobmsg::Int64(-5)),
            Field::new("b", Blobmsg::Int32(-5)),
            Field::new("c", Blobmsg::Int16(-5)),
            Field::new("d", Blobmsg::Int8(1)),
            Field::new("e", Blobmsg::Int8(0)),
            Field::new("f", Blobmsg::Double(f64::NAN)),
            Field::new("g", Blobmsg::Unspec),
            Field::new("a", Blobmsg::Int32(99)),
        ];
        assert_eq!(
            table_to_json(&fields),
            json!({"a": -5, "b": -5, "c": -5, "d": true, "e": false, "f": null, "g": null})
        );
    }

    #[test]
    fn json_round_trips_through_the_wire() {
        let value = json!({"id": 7, "mac": "aa:bb:cc:dd:ee:ff", "list": [{"x": 1.25}, [], null],
                           "on": false, "big": -9_000_000_000_i64, "empty": ""});
        let msg = Message::new(
            MsgType::Data,
            1,
            2,
            vec![Attr::Data(table_from_json(&value).unwrap())],
        );
        let back = Message::decode(&msg.encode().unwrap()).unwrap();
        assert_eq!(table_to_json(back.data().unwrap()), value);
        assert_eq!(
            table_from_json(&json!(3)).unwrap(),
            vec![Field::new("value", Blobmsg::Int32(3))]
        );
    }

    #[test]
    fn limits_are_enforced_when_encoding() {
        let long_name = "x".repeat(70_000);
        assert_eq!(
            from_json(&json!({ long_name.clone(): 1 })).and_then(|v| field_bytes_checked("t", v)),
            Err(WireError::NameTooLong(70_000))
        );
        let mut deep = json!(1);
        for _ in 0..MAX_DEPTH + 1 {
            deep = json!([deep]);
        }
        assert_eq!(from_json(&deep), Err(WireError::TooDeep));
        let big = json!({"s": "y".repeat(MAX_MSGLEN)});
        let msg = Message::new(
            MsgType::Data,
            1,
            2,
            vec![Attr::Data(table_from_json(&big).unwrap())],
        );
        assert!(matches!(msg.encode(), Err(WireError::TooLarge(_))));
    }

    fn field_bytes_checked(name: &str, value: Blobmsg) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::new();
        put_blobmsg(&mut out, name, &value, 1)?;
        Ok(out)
    }

    #[test]
    fn malformed_input_gives_typed_errors() {
        // Version 1.
        assert_eq!(
            Message::decode(&hex("01 00 00 00 00 00 00 01 00 00 00 04")),
            Err(WireError::BadVersion(1))
        );
        // Root shorter than its own header.
        assert_eq!(
            Message::decode(&hex("00 00 00 00 00 00 00 01 00 00 00 03")),
            Err(WireError::BadLength(3))
        );
        // Root over 1 MiB.
        assert_eq!(
            Header::decode(&hex("00 02 00 00 00 00 00 01 00 10 00 04")),
            Err(WireError::TooLarge(0x10_0004))
        );
        // Root says 8 bytes, only 4 present.
        assert_eq!(
            Message::decode(&hex("00 02 00 00 00 00 00 01 00 00 00 08")),
            Err(WireError::Truncated)
        );
        // OBJID of 3 bytes.
        assert_eq!(
            Message::decode(&hex(
                "00 02 00 00 00 00 00 01 00 00 00 0c 03 00 00 07 00 00 01 00"
            )),
            Err(WireError::BadValue("int32 not 4 bytes"))
        );
        // METHOD without its NUL.
        assert_eq!(
            Message::decode(&hex(
                "00 05 00 00 00 00 00 01 00 00 00 0c 04 00 00 06 61 62 00 00"
            )),
            Err(WireError::BadValue("string without NUL"))
        );
        // DATA holding a plain attribute.
        assert_eq!(
            Message::decode(&hex(
                "00 05 00 00 00 00 00 01 00 00 00 10 07 00 00 0c 05 00 00 08 00 00 00 01"
            )),
            Err(WireError::NotBlobmsg)
        );
        // A blobmsg whose name overruns it.
        assert_eq!(
            decode_fields(&hex("85 00 00 08 00 09 61 00"), 1),
            Err(WireError::BadName)
        );
        // Type 9.
        assert_eq!(
            decode_fields(&hex("89 00 00 08 00 01 61 00"), 1),
            Err(WireError::BadType(9))
        );
        // INT32 of 2 bytes.
        assert_eq!(
            decode_fields(&hex("85 00 00 0a 00 01 61 00 00 01 00 00"), 1),
            Err(WireError::BadValue("int32 not 4 bytes"))
        );
        // Name not UTF-8.
        assert_eq!(
            decode_fields(&hex("80 00 00 08 00 01 ff 00"), 1),
            Err(WireError::NotUtf8)
        );
        // Trailing bytes after the root.
        assert_eq!(
            Message::decode(&hex("00 00 00 00 00 00 00 01 00 00 00 04 00")),
            Err(WireError::BadLength(13))
        );
    }

    #[test]
    fn nesting_past_the_limit_is_refused_when_decoding() {
        // 40 nested empty-named tables, built inside out.
        let mut inner: Vec<u8> = Vec::new();
        for _ in 0..40 {
            let word = 0x8200_0000 | (8 + inner.len()) as u32;
            let mut outer = word.to_be_bytes().to_vec();
            outer.extend_from_slice(&[0, 0, 0, 0]);
            outer.extend_from_slice(&inner);
            inner = outer;
        }
        assert_eq!(decode_fields(&inner, 1), Err(WireError::TooDeep));
    }

    /// Deterministic xorshift64*, so that a failure reproduces without a rand crate.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    /// Junk, truncations and bit flips of valid messages never panic; every outcome is either
    /// a message or a `WireError`, and whatever decodes re-encodes and decodes the same.
    #[test]
    fn junk_truncations_and_bit_flips_never_panic() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let sample = Message::new(
            MsgType::Invoke,
            3,
            0x77,
            vec![
                Attr::ObjId(0x1234),
                Attr::Method("kick".into()),
                Attr::Data(
                    table_from_json(&json!({"id": 5, "mac": "aa:bb:cc:dd:ee:ff",
                                            "deep": {"a": [1, 2.5, null, true, {"z": "w"}]}}))
                    .unwrap(),
                ),
                Attr::NoReply(false),
            ],
        )
        .encode()
        .unwrap();
        let mut decoded = 0;
        for round in 0..20_000 {
            let mut bytes = sample.clone();
            match round % 4 {
                0 => bytes.truncate((rng.next() as usize) % sample.len()),
                1 => {
                    for _ in 0..1 + rng.next() % 4 {
                        let at = (rng.next() as usize) % bytes.len();
                        bytes[at] ^= 1 << (rng.next() % 8);
                    }
                }
                2 => {
                    let len = (rng.next() % 64) as usize;
                    bytes = (0..len).map(|_| rng.next() as u8).collect();
                    if bytes.len() >= 12 && round % 8 == 2 {
                        // A valid header so that the junk reaches the attribute parser.
                        bytes[0] = 0;
                        bytes[8..12].copy_from_slice(&((len - 8) as u32).to_be_bytes());
                    }
                }
                _ => {
                    let at = 12 + (rng.next() as usize) % (sample.len() - 12);
                    bytes[at] = rng.next() as u8;
                }
            }
            let _ = Header::decode(&bytes);
            if let Ok(msg) = Message::decode(&bytes) {
                decoded += 1;
                // Compared as bytes: a NaN double is not equal to itself.
                let again = msg.encode().unwrap();
                let twice = Message::decode(&again).unwrap().encode().unwrap();
                assert_eq!(twice, again, "round {round}");
            }
            for attr in attrs_of(&bytes).flatten() {
                let _ = decode_attr(attr.id, attr.payload);
                let _ = decode_blobmsg(attr.id, attr.payload, 1);
            }
        }
        assert!(decoded > 0, "some mutations must still decode");
    }

    #[test]
    fn read_frame_reads_exactly_one_message() {
        let first = Message::new(MsgType::Hello, 0, 9, vec![]).encode().unwrap();
        let second = Message::new(MsgType::Status, 1, 0, vec![Attr::Status(0)])
            .encode()
            .unwrap();
        let mut stream = io::Cursor::new([first.clone(), second.clone()].concat());
        assert_eq!(read_frame(&mut stream).unwrap(), first);
        assert_eq!(read_frame(&mut stream).unwrap(), second);
        assert_eq!(
            read_frame(&mut stream).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        let mut bad = io::Cursor::new(hex("02 00 00 00 00 00 00 01 00 00 00 04"));
        assert_eq!(
            read_frame(&mut bad).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
