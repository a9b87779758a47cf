//! The kernel's nf_tables over netlink: `Netlink`, the seam through which `NftFirewall` sends
//! the batches `netlink.rs` encodes, and `NetlinkSocket`, the real one (an `AF_NETLINK`
//! `NETLINK_NETFILTER` socket through nix, one per exchange, so that no answer to an earlier
//! exchange is ever mistaken for one to this). The fake lives in tests.rs.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{
    bind, recv, send, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr, SockFlag,
    SockProtocol, SockType,
};
use nix::sys::time::TimeVal;

use super::netlink::{answers, dump_datagram, Batch, DumpStep};

/// Why an exchange did not get its answers.
#[derive(Debug, PartialEq, Eq)]
pub enum NetlinkError {
    /// No nf_tables over netlink here: no socket, no permission, no answer in time. The nft
    /// CLI may still work.
    Unavailable(String),
    /// The batch is more than the socket takes in one send (EMSGSIZE, ENOBUFS, ENOMEM): nothing
    /// of it was applied, and smaller batches may go.
    TooLarge(Errno),
    /// The kernel answered a dump with an errno (ENOENT: no such table or set).
    Refused(Errno),
}

impl std::fmt::Display for NetlinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetlinkError::Unavailable(why) => f.write_str(why),
            NetlinkError::TooLarge(e) => {
                write!(f, "batch too large for one send: {}", errno_text(*e as i32))
            }
            NetlinkError::Refused(e) => write!(f, "refused: {}", errno_text(*e as i32)),
        }
    }
}

/// What the kernel answered to one exchange.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Answers {
    /// The errno answered to each message, in order (0 for an ack).
    pub errnos: Vec<i32>,
    /// The other messages it sent back (what a get asked for), one after the other.
    pub replies: Vec<u8>,
}

/// Sends requests to nf_tables and collects the answer to each.
pub trait Netlink: Send + Sync {
    /// Sends `batch` and returns the kernel's answers, once every message has answered.
    fn exchange(&self, batch: &Batch) -> Result<Answers, NetlinkError>;

    /// Sends one dump request (`netlink::dump_request`) and hands each message of the answer
    /// to `each` as it arrives, one datagram at a time: nothing of the answer is kept. Returns
    /// whether the kernel said that what it listed changed meanwhile. A kernel that cannot
    /// dump (the fakes) is unavailable: the nft CLI reads instead.
    fn dump(&self, request: &Batch, each: &mut dyn FnMut(&[u8])) -> Result<bool, NetlinkError> {
        let _ = (request, each);
        Err(NetlinkError::Unavailable("no dumps".into()))
    }
}

/// The real kernel.
pub struct NetlinkSocket;

/// Batches up to this size fit the default send buffer (`wmem_default`, 208 KiB).
const SMALL: usize = 128 * 1024;

impl Netlink for NetlinkSocket {
    fn exchange(&self, batch: &Batch) -> Result<Answers, NetlinkError> {
        // How long the kernel may take to answer: far more than a small batch ever takes, and
        // a second more per 256 KiB of a restore's batch (a slow router's kernel inserting
        // elements).
        let fd = open(2 + (batch.bytes.len() >> 18).min(60))?;
        if batch.bytes.len() > SMALL {
            // A restore's batch goes in one send, which must fit the socket's send buffer;
            // raising it past `wmem_max` needs CAP_NET_ADMIN, which writing nf_tables needs
            // anyway. If it cannot be raised, the send says EMSGSIZE.
            let want = batch.bytes.len().saturating_add(4096);
            let _ = setsockopt(&fd, sockopt::SndBufForce, &want)
                .or_else(|_| setsockopt(&fd, sockopt::SndBuf, &want));
        }
        if !batch.quiet && batch.messages > 64 {
            // Each message of a batch that is not quiet is acknowledged, each ack a buffer of
            // its own in the receive queue (the kernel charges about 1 KB for it): from about
            // 200 messages on (a burst of grants) `rmem_default` overflows and the kernel
            // drops acks (ENOBUFS), which made the change a rewrite of the table.
            let want = (batch.messages as usize).saturating_mul(1024) + 65536;
            let _ = setsockopt(&fd, sockopt::RcvBufForce, &want)
                .or_else(|_| setsockopt(&fd, sockopt::RcvBuf, &want));
        }
        match send(fd.as_raw_fd(), &batch.bytes, MsgFlags::empty()) {
            Ok(_) => {}
            Err(e @ (Errno::EMSGSIZE | Errno::ENOBUFS | Errno::ENOMEM)) => {
                return Err(NetlinkError::TooLarge(e))
            }
            Err(e) => return Err(failed("netlink send", e)),
        }
        let count = batch.messages as usize;
        let mut errnos: Vec<Option<i32>> = vec![None; count];
        let mut replies = Vec::new();
        // A refusal carries the refused message back, and a restore's messages reach 60 KB
        // (`netlink::bulk`): a refusal cut short would be lost, and the batch taken as done.
        let mut buf = vec![0u8; if batch.quiet { 128 * 1024 } else { 16 * 1024 }];
        // A quiet batch is done when its last message has answered (the kernel sends every
        // refusal before it); any other when every message has.
        let done = |errnos: &[Option<i32>]| match batch.quiet {
            true => errnos.last().is_none_or(Option::is_some),
            false => errnos.iter().all(Option::is_some),
        };
        while !done(&errnos) {
            // After the send, a failure leaves it unknown whether the batch was applied; the
            // nft -f fallback then repeats it (its adds are idempotent, and a delete of what is
            // gone fails into a rewrite of the table).
            let n = match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(Errno::EINTR) => continue,
                answer => answer.map_err(|e| failed("netlink answer", e))?,
            };
            for (seq, errno) in answers(buf.get(..n).unwrap_or_default(), &mut replies) {
                match seq as usize {
                    // The batch itself was refused (no CAP_NET_ADMIN): no message will answer.
                    0 if errno != 0 => return Err(failed("netlink batch", Errno::from_raw(errno))),
                    at if at <= count => errnos[at - 1] = Some(errno),
                    _ => {}
                }
            }
        }
        let errnos = errnos.into_iter().map(Option::unwrap_or_default).collect();
        Ok(Answers { errnos, replies })
    }

    fn dump(&self, request: &Batch, each: &mut dyn FnMut(&[u8])) -> Result<bool, NetlinkError> {
        let fd = open(2)?;
        send(fd.as_raw_fd(), &request.bytes, MsgFlags::empty())
            .map_err(|e| failed("netlink send", e))?;
        // The kernel fills a dump's datagrams up to the largest read it has seen, at most
        // 32 KiB (`netlink_recvmsg`), so none is cut short.
        let mut buf = vec![0u8; 32 * 1024];
        let mut interrupted = false;
        loop {
            let n = match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(Errno::EINTR) => continue,
                answer => answer.map_err(|e| failed("netlink dump", e))?,
            };
            let datagram = buf.get(..n).unwrap_or_default();
            match dump_datagram(datagram, &mut interrupted, each) {
                DumpStep::More => {}
                DumpStep::Done => return Ok(interrupted),
                DumpStep::Refused(errno) => {
                    return Err(NetlinkError::Refused(Errno::from_raw(errno)))
                }
            }
        }
    }
}

fn failed(what: &str, e: Errno) -> NetlinkError {
    NetlinkError::Unavailable(format!("{what}: {}", errno_text(e as i32)))
}

/// An errno for a message: "No such file or directory (errno 2)". Not nix's `Display`, whose
/// name part is its `Debug` output, which the MIPS builds leave empty (.cargo/config.toml).
pub(crate) fn errno_text(raw: i32) -> String {
    format!("{} (errno {raw})", Errno::from_raw(raw).desc())
}

/// A `NETLINK_NETFILTER` socket of its own, answers awaited up to `secs` seconds.
fn open(secs: usize) -> Result<OwnedFd, NetlinkError> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkNetFilter,
    )
    .map_err(|e| failed("netlink socket", e))?;
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).map_err(|e| failed("netlink bind", e))?;
    // (`as _`: `time_t` is 32 bits on some router targets.)
    setsockopt(&fd, sockopt::ReceiveTimeout, &TimeVal::new(secs as _, 0))
        .map_err(|e| failed("netlink timeout", e))?;
    Ok(fd)
}
