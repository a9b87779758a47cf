//! The ubus wire format, pure: the message header, blob attributes (the message's own
//! attributes) and blobmsg attributes (named, typed values: method arguments and replies), and
//! the conversion between blobmsg and JSON. Bytes in, values out: never opens a socket (the
//! server in `ubus.rs` does) and never panics on malformed input; every problem is a
//! `WireError`. Layout from openwrt/ubus `ubusmsg.h`, `libubus-io.c` and openwrt/libubox
//! `blob.h`, `blobmsg.h`, `blobmsg_json.c`; docs/ubus-wire.md has the rules in short.

use std::fmt;
use std::io::{self, Read};

mod codec;
mod json;
#[cfg(test)]
mod tests;

use codec::{align4, attrs_of, close_attr, decode_attr, open_attr, put_attr};
pub use json::{from_json, table_from_json, table_to_json, to_json};

/// `UBUS_MAX_MSGLEN` (`ubusmsg.h`): the largest root attribute libubus and ubusd accept. A
/// bigger message makes ubusd drop the connection, so we refuse to send one.
pub const MAX_MSGLEN: usize = 1_048_576;

/// The fixed message header: `u8 version | u8 type | u16 seq | u32 peer`, big-endian.
pub(crate) const HEADER_LEN: usize = 8;

/// A blob attribute header: one big-endian `u32` (extended bit, 7-bit id, 24-bit length).
const ATTR_HEADER_LEN: usize = 4;
const ATTR_EXTENDED: u32 = 0x8000_0000;
const ATTR_ID_SHIFT: u32 = 24;
const ATTR_ID_MASK: u32 = 0x7f;
const ATTR_LEN_MASK: u32 = 0x00ff_ffff;

/// Nesting limit for tables and arrays, in both directions. json-c's parser stops at 32 too;
/// without a limit, a 1 MiB message of nested empty tables would exhaust the stack.
pub(crate) const MAX_DEPTH: usize = 32;

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

    pub(crate) fn from_code(code: u8) -> MsgType {
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

    pub(crate) fn from_code(code: i32) -> Status {
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
    pub(crate) fn from_code(code: u8) -> Option<BlobmsgType> {
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
    pub(crate) fn kind(&self) -> BlobmsgType {
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
    pub(crate) const STATUS: u8 = 1;
    pub(crate) const OBJPATH: u8 = 2;
    pub(crate) const OBJID: u8 = 3;
    pub(crate) const METHOD: u8 = 4;
    pub(crate) const OBJTYPE: u8 = 5;
    pub(crate) const SIGNATURE: u8 = 6;
    pub(crate) const DATA: u8 = 7;
    pub(crate) const TARGET: u8 = 8;
    pub(crate) const ACTIVE: u8 = 9;
    pub(crate) const NO_REPLY: u8 = 10;
    pub(crate) const SUBSCRIBERS: u8 = 11;
    pub(crate) const USER: u8 = 12;
    pub(crate) const GROUP: u8 = 13;
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

pub(super) fn byte(bytes: &[u8], idx: usize) -> u8 {
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

    pub(crate) fn active(&self) -> Option<bool> {
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
