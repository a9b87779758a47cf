//! The nf_tables netlink encoding (pure): a change (`delta::Op`s) as one batch of netlink
//! messages, the probe that asks whether lango's two tables exist, the reads and dump requests
//! of counters, and the kernel's answers read back, one errno per message, or a dump's messages
//! datagram by datagram (`dump_datagram`; `dump.rs` reads them). Laid out as nft 1.0.6 lays out the same script (tests.rs
//! checks the bytes against what `nft --debug=mnl` sends). `socket.rs` carries the bytes.
//!
//! Every message of a change asks for an ack (`NLM_F_ACK`), so the kernel answers each one, with
//! 0 or an errno, and the batch is known to be done when all of them have answered. The batches
//! of a restore (`bulk`: every device of a table just created, split between devices by size)
//! are quiet: only their last message asks for an ack, the others answer only to refuse, and
//! the kernel delivers every answer of a batch in order once it is done, so the last one's
//! answer says the batch is done (and the answers fit the socket's default receive buffer). Netlink headers are
//! in host byte order; nf_tables' numbers (timeouts, quotas, rates) are big-endian.

use super::delta::{Key, Op};

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;
/// `NLM_F_ROOT | NLM_F_MATCH`: every object of the kind asked for.
const NLM_F_DUMP: u16 = 0x300;
/// Set on a dump's message when what it lists changed meanwhile (`NLM_F_DUMP_INTR`).
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// `NFNL_MSG_BATCH_BEGIN` and `_END` (`NLMSG_MIN_TYPE` and the next).
const BATCH_BEGIN: u16 = 0x10;
const BATCH_END: u16 = 0x11;
const SUBSYS_NFTABLES: u16 = 10;
const NFPROTO_INET: u8 = 1;
/// `enum nf_tables_msg_types` (linux/netfilter/nf_tables.h).
const MSG_GETTABLE: u16 = 1;
pub(super) const MSG_NEWSETELEM: u16 = 12;
const MSG_GETSETELEM: u16 = 13;
const MSG_DELSETELEM: u16 = 14;
pub(super) const MSG_NEWOBJ: u16 = 18;
const MSG_GETOBJ: u16 = 19;
const MSG_DELOBJ: u16 = 20;
const NLA_F_NESTED: u16 = 0x8000;
pub(super) const OBJECT_QUOTA: u32 = 2;
const OBJECT_LIMIT: u32 = 4;
/// `NFTA_*` attribute numbers used below, by the enum they belong to.
const TABLE_NAME: u16 = 1;
const LIST_TABLE: u16 = 1;
pub(super) const LIST_SET: u16 = 2;
pub(super) const LIST_ELEMENTS: u16 = 3;
pub(super) const LIST_ELEM: u16 = 1;
pub(super) const ELEM_KEY: u16 = 1;
const ELEM_TIMEOUT: u16 = 4;
const ELEM_EXPR: u16 = 7;
const ELEM_OBJREF: u16 = 9;
const ELEM_EXPRESSIONS: u16 = 11;
const EXPR_DATA: u16 = 2;
const COUNTER_BYTES: u16 = 1;
pub(super) const QUOTA_CONSUMED: u16 = 4;
pub(super) const DATA_VALUE: u16 = 1;
const OBJ_TABLE: u16 = 1;
pub(super) const OBJ_NAME: u16 = 2;
pub(super) const OBJ_TYPE: u16 = 3;
pub(super) const OBJ_DATA: u16 = 4;

/// The table every change goes to.
const TABLE: &str = "lango";

/// A batch's end (`nlmsghdr` and `nfgenmsg`), in bytes.
const END_LEN: usize = 20;

/// Netlink messages being written into one buffer.
struct Writer {
    buf: Vec<u8>,
    seq: u32,
    /// Only the last message asks for an ack (`bulk`).
    quiet: bool,
    /// Where the last message starts.
    last: usize,
}

impl Writer {
    /// Starts a message (`nlmsghdr` and `nfgenmsg`); returns where it starts, for `end`.
    fn begin(&mut self, kind: u16, flags: u16, family: u8, res_id: u16) -> usize {
        let start = self.buf.len();
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&self.seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self.buf.extend_from_slice(&[family, 0]);
        self.buf.extend_from_slice(&res_id.to_be_bytes());
        self.seq += 1;
        start
    }

    /// Writes the length of the message or nested attribute that starts at `start`.
    fn end(&mut self, start: usize) {
        let len = self.buf.len() - start;
        if let Some(at) = self.buf.get_mut(start..start + 4) {
            at.copy_from_slice(&(len as u32).to_ne_bytes());
        }
    }

    fn nest(&mut self, kind: u16) -> usize {
        let start = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        start
    }

    fn close(&mut self, start: usize) {
        let len = (self.buf.len() - start) as u16;
        if let Some(at) = self.buf.get_mut(start..start + 2) {
            at.copy_from_slice(&len.to_ne_bytes());
        }
    }

    /// One attribute, padded to 4 bytes.
    fn attr(&mut self, kind: u16, data: &[u8]) {
        self.buf
            .extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(self.buf.len().next_multiple_of(4), 0);
    }

    /// A NUL-terminated string attribute, written in place (a restore writes tens of
    /// thousands).
    fn text(&mut self, kind: u16, s: &str) {
        self.buf
            .extend_from_slice(&((5 + s.len()) as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        self.buf.resize(self.buf.len().next_multiple_of(4), 0);
    }

    fn int(&mut self, kind: u16, value: u32) {
        self.attr(kind, &value.to_be_bytes());
    }

    fn long(&mut self, kind: u16, value: u64) {
        self.attr(kind, &value.to_be_bytes());
    }

    /// One nf_tables message of lango's table: its header, the table's name, then `body`.
    /// (`create` with a get means nothing to the kernel: gets are never created.)
    fn message(&mut self, kind: u16, create: bool, table: u16, body: impl FnOnce(&mut Writer)) {
        let create = create && kind != MSG_GETSETELEM && kind != MSG_GETOBJ;
        let ack = if self.quiet { 0 } else { NLM_F_ACK };
        let flags = NLM_F_REQUEST | ack | if create { NLM_F_CREATE } else { 0 };
        let start = self.begin(SUBSYS_NFTABLES << 8 | kind, flags, NFPROTO_INET, 0);
        self.last = start;
        self.text(table, TABLE);
        body(self);
        self.end(start);
    }

    /// A set element list with one element: its key, and for an add its timeout and object.
    fn element(&mut self, set: &str, key: &Key, add: Option<(u64, Option<&str>)>) {
        self.text(LIST_SET, set);
        let list = self.nest(LIST_ELEMENTS);
        self.elem(key, add);
        self.close(list);
    }

    /// One element of a list: its key, and for an add its timeout and object.
    fn elem(&mut self, key: &Key, add: Option<(u64, Option<&str>)>) {
        let elem = self.nest(LIST_ELEM);
        if let Some((timeout_ms @ 1.., _)) = add {
            self.long(ELEM_TIMEOUT, timeout_ms);
        }
        let at = self.nest(ELEM_KEY);
        self.attr(DATA_VALUE, &key_bytes(key));
        self.close(at);
        if let Some((_, Some(object))) = add {
            self.text(ELEM_OBJREF, object);
        }
        self.close(elem);
    }

    /// An object's name and type, and its data (empty for a delete, as nft sends it).
    fn object(&mut self, name: &str, kind: u32, data: impl FnOnce(&mut Writer)) {
        self.text(OBJ_NAME, name);
        self.int(OBJ_TYPE, kind);
        let at = self.nest(OBJ_DATA);
        data(self);
        self.close(at);
    }
}

/// A key as the kernel stores it: each field of a concatenation (`ether_addr . ipv4_addr`)
/// takes a whole number of 32-bit registers, so a MAC is padded from 6 to 8 bytes.
fn key_bytes(key: &Key) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    let ip = |out: &mut Vec<u8>, ip: &std::net::IpAddr| match ip {
        std::net::IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
        std::net::IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
    };
    match key {
        Key::Mac(mac) => out.extend_from_slice(&mac.0),
        Key::MacIp(mac, addr) => {
            out.extend_from_slice(&mac.0);
            out.extend_from_slice(&[0, 0]);
            ip(&mut out, addr);
        }
        Key::Ip(addr) => ip(&mut out, addr),
    }
    out
}

/// A batch ready to send: its bytes and how many messages in it the kernel answers (sequence
/// numbers 1 to `messages`; the batch's begin is 0 and its end `messages + 1`).
pub struct Batch {
    pub bytes: Vec<u8>,
    pub messages: u32,
    /// Only the last message asks for an ack; the others answer only with an errno.
    pub quiet: bool,
}

/// Pure: one transaction with `ops`, in their order.
pub(crate) fn batch(ops: &[Op]) -> Batch {
    let mut w = Writer::batch(false, 128 * (ops.len() + 1));
    w.ops(ops);
    w.finish()
}

/// A restore's elements go to the kernel grouped by set, as nft sends them: one message
/// carries up to this many bytes of them (the element list is an attribute, its length 16 bits).
const ELEMENTS_PER_MESSAGE: usize = 60_000;

/// A batch's elements being gathered, per set: `LIST_ELEM` nests one after the other.
type Sets = Vec<(&'static str, Vec<u8>)>;

/// Pure: a restore's transactions: each group's operations (one device's objects and elements),
/// as few quiet batches as keep each under `max_bytes`. In a batch, the objects come first,
/// then the elements grouped by set (a message per set and 60 KB), which reference them. A
/// group is never split, so every device is in the kernel whole (with its quota and caps) or
/// not at all; a group larger than `max_bytes` goes alone.
pub(crate) fn bulk(groups: impl IntoIterator<Item = Vec<Op>>, max_bytes: usize) -> Vec<Batch> {
    let mut out = Vec::new();
    let capacity = max_bytes.min(1 << 20);
    let mut w = Writer::batch(true, capacity);
    let mut sets: Sets = Vec::new();
    let mut devices = 0;
    for group in groups {
        let (mark, seq, last) = (w.buf.len(), w.seq, w.last);
        let marks: Vec<usize> = sets.iter().map(|(_, b)| b.len()).collect();
        add_device(&mut w, &mut sets, &group);
        if devices > 0 && bulk_size(&w, &sets) > max_bytes {
            // This device opens the next batch.
            w.buf.truncate(mark);
            (w.seq, w.last) = (seq, last);
            sets.truncate(marks.len());
            for ((_, elements), mark) in sets.iter_mut().zip(marks) {
                elements.truncate(mark);
            }
            let full = std::mem::replace(&mut w, Writer::batch(true, capacity));
            out.push(finish_bulk(full, &std::mem::take(&mut sets)));
            add_device(&mut w, &mut sets, &group);
            devices = 0;
        }
        devices += 1;
    }
    if devices > 0 {
        out.push(finish_bulk(w, &sets));
    }
    out
}

/// One device into a restore's batch: its objects as messages, its elements to their sets.
fn add_device(w: &mut Writer, sets: &mut Sets, group: &[Op]) {
    for op in group {
        let Op::AddElement {
            element,
            timeout_ms,
        } = op
        else {
            w.ops(std::slice::from_ref(op));
            continue;
        };
        let at = match sets.iter().position(|(set, _)| *set == element.set) {
            Some(at) => at,
            None => {
                sets.push((element.set, Vec::new()));
                sets.len() - 1
            }
        };
        let mut list = Writer {
            buf: std::mem::take(&mut sets[at].1),
            seq: 0,
            quiet: true,
            last: 0,
        };
        list.elem(&element.key, Some((*timeout_ms, element.object.as_deref())));
        sets[at].1 = list.buf;
    }
}

/// A restore's batch's size once its elements are in messages (64 bytes of headers each).
fn bulk_size(w: &Writer, sets: &Sets) -> usize {
    let elements: usize = sets
        .iter()
        .map(|(_, b)| b.len() + 64 * (1 + b.len() / ELEMENTS_PER_MESSAGE))
        .sum();
    w.buf.len() + END_LEN + elements
}

/// The elements' messages after the objects, and the batch's end.
fn finish_bulk(mut w: Writer, sets: &Sets) -> Batch {
    for (set, elements) in sets {
        for chunk in chunks(elements) {
            w.message(MSG_NEWSETELEM, true, LIST_TABLE, |w| {
                w.text(LIST_SET, set);
                let list = w.nest(LIST_ELEMENTS);
                w.buf.extend_from_slice(chunk);
                w.close(list);
            });
        }
    }
    w.finish()
}

/// Pure: `LIST_ELEM` nests cut between nests into pieces of at most `ELEMENTS_PER_MESSAGE`
/// bytes (one nest larger than that alone).
fn chunks(elements: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let (mut start, mut at) = (0, 0);
    while at + 4 <= elements.len() {
        let len = usize::from(u16::from_ne_bytes([elements[at], elements[at + 1]]));
        let next = at + len.next_multiple_of(4).max(4);
        if next - start > ELEMENTS_PER_MESSAGE && at > start {
            out.push(&elements[start..at]);
            start = at;
        }
        at = next;
    }
    if start < elements.len() {
        out.push(elements.get(start..).unwrap_or_default());
    }
    out
}

impl Writer {
    /// A batch's begin.
    fn batch(quiet: bool, capacity: usize) -> Writer {
        let mut w = Writer {
            buf: Vec::with_capacity(capacity),
            seq: 0,
            quiet,
            last: 0,
        };
        let start = w.begin(BATCH_BEGIN, NLM_F_REQUEST, 0, SUBSYS_NFTABLES);
        w.end(start);
        w
    }

    /// A batch's end; in a quiet batch, the last message asks for the ack.
    fn finish(mut self) -> Batch {
        let messages = self.seq - 1;
        if self.quiet && messages > 0 {
            if let Some(flags) = self.buf.get_mut(self.last + 6..self.last + 8) {
                let asked = u16::from_ne_bytes([flags[0], flags[1]]) | NLM_F_ACK;
                flags.copy_from_slice(&asked.to_ne_bytes());
            }
        }
        let start = self.begin(BATCH_END, NLM_F_REQUEST, 0, SUBSYS_NFTABLES);
        self.end(start);
        Batch {
            bytes: self.buf,
            messages,
            quiet: self.quiet,
        }
    }

    fn ops(&mut self, ops: &[Op]) {
        let w = self;
        for op in ops {
            match op {
                Op::AddQuota { name, total, used } => {
                    w.message(MSG_NEWOBJ, true, OBJ_TABLE, |w| {
                        w.object(name, OBJECT_QUOTA, |w| {
                            w.long(1, *total); // NFTA_QUOTA_BYTES
                            w.long(4, *used); // NFTA_QUOTA_CONSUMED
                            w.int(2, 1); // NFTA_QUOTA_FLAGS: NFT_QUOTA_F_INV ("over")
                        })
                    });
                }
                Op::AddLimit {
                    name,
                    rate,
                    burst,
                    over,
                } => {
                    w.message(MSG_NEWOBJ, true, OBJ_TABLE, |w| {
                        w.object(name, OBJECT_LIMIT, |w| {
                            w.long(1, *rate); // NFTA_LIMIT_RATE, bytes
                            w.long(2, 1); // NFTA_LIMIT_UNIT: per second
                            w.int(3, u32::try_from(*burst).unwrap_or(u32::MAX)); // NFTA_LIMIT_BURST
                            w.int(4, 1); // NFTA_LIMIT_TYPE: NFT_LIMIT_PKT_BYTES
                            w.int(5, u32::from(*over)); // NFTA_LIMIT_FLAGS: NFT_LIMIT_F_INV ("over")
                        })
                    });
                }
                Op::AddElement {
                    element,
                    timeout_ms,
                } => {
                    w.message(MSG_NEWSETELEM, true, LIST_TABLE, |w| {
                        let add = Some((*timeout_ms, element.object.as_deref()));
                        w.element(element.set, &element.key, add);
                    });
                }
                Op::DelElement(element) => {
                    w.message(MSG_DELSETELEM, false, LIST_TABLE, |w| {
                        w.element(element.set, &element.key, None);
                    });
                }
                Op::FlushSet(set) => {
                    w.message(MSG_DELSETELEM, false, LIST_TABLE, |w| w.text(LIST_SET, set));
                }
                Op::DelQuota(name) => {
                    w.message(MSG_DELOBJ, false, OBJ_TABLE, |w| {
                        w.object(name, OBJECT_QUOTA, |_| {});
                    });
                }
                Op::DelLimit(name) => {
                    w.message(MSG_DELOBJ, false, OBJ_TABLE, |w| {
                        w.object(name, OBJECT_LIMIT, |_| {});
                    });
                }
            }
        }
    }
}

/// Pure: two requests (not a batch) asking for `table inet lango` and `table inet lango_gate`,
/// sequence numbers 1 and 2: each is answered with the table and an ack, or with ENOENT.
pub(crate) fn tables_probe() -> Batch {
    let mut w = Writer {
        buf: Vec::with_capacity(64),
        seq: 1,
        quiet: false,
        last: 0,
    };
    for name in ["lango", "lango_gate"] {
        let start = w.begin(
            SUBSYS_NFTABLES << 8 | MSG_GETTABLE,
            NLM_F_REQUEST | NLM_F_ACK,
            NFPROTO_INET,
            0,
        );
        w.text(TABLE_NAME, name);
        w.end(start);
    }
    Batch {
        bytes: w.buf,
        messages: 2,
        quiet: false,
    }
}

/// What `reads` asks for: the byte counter of one element of a set declared with `counter`, or
/// the bytes one quota object has used.
pub(crate) enum Read<'a> {
    Counter(&'a str, &'a Key),
    QuotaUsed(&'a str),
}

/// Pure: one request (not a batch) per read, sequence numbers 1 on; each is answered with the
/// element or object and an ack, or with an errno (ENOENT: gone).
pub(crate) fn reads(reads: &[Read<'_>]) -> Batch {
    let mut w = Writer {
        buf: Vec::with_capacity(96 * reads.len()),
        seq: 1,
        quiet: false,
        last: 0,
    };
    for read in reads {
        match read {
            Read::Counter(set, key) => w.message(MSG_GETSETELEM, false, LIST_TABLE, |w| {
                w.element(set, key, None);
            }),
            Read::QuotaUsed(name) => w.message(MSG_GETOBJ, false, OBJ_TABLE, |w| {
                w.text(OBJ_NAME, name);
                w.int(OBJ_TYPE, OBJECT_QUOTA);
            }),
        }
    }
    Batch {
        bytes: w.buf,
        messages: reads.len() as u32,
        quiet: false,
    }
}

/// What `dump_request` asks the kernel for: every element of one of lango's sets, or every
/// quota object of lango's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dump<'a> {
    Set(&'a str),
    Quotas,
}

/// Pure: one dump request (not a batch), sequence number 1: answered with as many messages as
/// it takes (`NFT_MSG_NEWSETELEM` with a list of elements, or one `NFT_MSG_NEWOBJ` per object),
/// then `NLMSG_DONE`; or with an errno (ENOENT: no such table or set). Nothing is reset.
pub(crate) fn dump_request(what: Dump<'_>) -> Batch {
    let mut w = Writer {
        buf: Vec::with_capacity(48),
        seq: 1,
        quiet: false,
        last: 0,
    };
    let kind = match what {
        Dump::Set(_) => MSG_GETSETELEM,
        Dump::Quotas => MSG_GETOBJ,
    };
    let flags = NLM_F_REQUEST | NLM_F_DUMP;
    let start = w.begin(SUBSYS_NFTABLES << 8 | kind, flags, NFPROTO_INET, 0);
    match what {
        Dump::Set(set) => {
            w.text(LIST_TABLE, TABLE);
            w.text(LIST_SET, set);
        }
        Dump::Quotas => {
            w.text(OBJ_TABLE, TABLE);
            w.int(OBJ_TYPE, OBJECT_QUOTA);
        }
    }
    w.end(start);
    Batch {
        bytes: w.buf,
        messages: 1,
        quiet: false,
    }
}

/// Where a dump is after one datagram of its answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DumpStep {
    /// More datagrams follow.
    More,
    /// `NLMSG_DONE`: the dump is complete.
    Done,
    /// The request was refused with this errno (ENOENT: no such table or set).
    Refused(i32),
}

/// Pure: one datagram of a dump's answer: each message that carries data is handed to `each`
/// (whole, header included), and whether the dump is done. `interrupted` is set when a
/// message says that what it lists changed during the dump. Stops at anything malformed.
pub(crate) fn dump_datagram(
    datagram: &[u8],
    interrupted: &mut bool,
    each: &mut dyn FnMut(&[u8]),
) -> DumpStep {
    let mut rest = datagram;
    while rest.len() >= 16 {
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let kind = u16::from_ne_bytes([rest[4], rest[5]]);
        let flags = u16::from_ne_bytes([rest[6], rest[7]]);
        let Some(message) = rest.get(..len).filter(|_| len >= 16) else {
            break;
        };
        *interrupted |= flags & NLM_F_DUMP_INTR != 0;
        match kind {
            NLMSG_DONE => return DumpStep::Done,
            NLMSG_ERROR => {
                let errno = message
                    .get(16..20)
                    .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                if errno != 0 {
                    return DumpStep::Refused(errno.saturating_neg());
                }
            }
            // nf_tables' own, or ctnetlink's (`conntrack.rs`): every message past the control ones.
            _ if kind >= BATCH_BEGIN && len >= 20 => each(message),
            _ => {}
        }
        rest = rest.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    DumpStep::More
}

/// The attributes among `attrs`, `(type with flags masked off, payload)`, while they are whole.
pub(super) fn attributes(attrs: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = attrs;
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_ne_bytes([*rest.first()?, *rest.get(1)?]));
        let kind = u16::from_ne_bytes([*rest.get(2)?, *rest.get(3)?]) & 0x3fff;
        let payload = rest.get(4..len)?;
        rest = rest.get(len.next_multiple_of(4)..).unwrap_or_default();
        Some((kind, payload))
    })
}

/// The first attribute of type `kind` among `attrs` (flags masked off), if whole.
pub(super) fn find(attrs: &[u8], kind: u16) -> Option<&[u8]> {
    let mut rest = attrs;
    while rest.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([rest[0], rest[1]]));
        let found = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        let payload = rest.get(4..len)?;
        if found == kind {
            return Some(payload);
        }
        rest = rest.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    None
}

pub(super) fn be64(bytes: Option<&[u8]>) -> Option<u64> {
    bytes?.try_into().ok().map(u64::from_be_bytes)
}

/// An element's byte counter (`NFTA_LIST_ELEM`'s payload): its one expression, or the first
/// of several.
pub(super) fn counted(elem: &[u8]) -> Option<u64> {
    let expr = find(elem, ELEM_EXPR)
        .or_else(|| find(elem, ELEM_EXPRESSIONS).and_then(|l| find(l, LIST_ELEM)))?;
    be64(find(find(expr, EXPR_DATA)?, COUNTER_BYTES))
}

/// Pure: what the replies to `reads` say, `(sequence number, bytes)`: an element's counter (its
/// one expression, or the first of several) or a quota's use. Anything else is skipped.
pub(crate) fn read_values(replies: &[u8]) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    let mut rest = replies;
    while rest.len() >= 20 {
        let len = rest
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_ne_bytes) as usize;
        let Some(message) = rest.get(..len).filter(|_| len >= 20) else {
            break;
        };
        let kind = u16::from_ne_bytes([message[4], message[5]]) & 0xff;
        let seq = u32::from_ne_bytes([message[8], message[9], message[10], message[11]]);
        let attrs = &message[20..];
        let value = match kind {
            MSG_NEWSETELEM => find(attrs, LIST_ELEMENTS)
                .and_then(|list| find(list, LIST_ELEM))
                .and_then(counted),
            MSG_NEWOBJ => be64(find(
                find(attrs, OBJ_DATA).unwrap_or_default(),
                QUOTA_CONSUMED,
            )),
            _ => None,
        };
        out.extend(value.map(|v| (seq, v)));
        rest = rest.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    out
}

/// Pure: the errnos in one datagram of answers, as `(sequence number, errno)` (0 for an ack);
/// other messages (a table or element sent back for a get) are appended to `replies`. Stops at
/// anything malformed.
pub(crate) fn answers(datagram: &[u8], replies: &mut Vec<u8>) -> Vec<(u32, i32)> {
    let mut out = Vec::new();
    let mut rest = datagram;
    while rest.len() >= 16 {
        let u32_at = |at: usize| {
            rest.get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u32::from_ne_bytes)
        };
        let len = u32_at(0) as usize;
        let kind = u16::from_ne_bytes([rest[4], rest[5]]);
        if len < 16 || len > rest.len() {
            break;
        }
        if kind == NLMSG_ERROR && len >= 20 {
            // The (negative) errno, then the header of the message it answers.
            let errno = (u32_at(16) as i32).saturating_neg();
            out.push((u32_at(8), errno));
        } else {
            replies.extend_from_slice(&rest[..len]);
            replies.resize(replies.len().next_multiple_of(4), 0);
        }
        rest = rest.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    out
}
