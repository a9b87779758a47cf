//! The kernel's nf_tables over netlink: `Netlink`, the seam through which `NftFirewall` sends
//! the batches `netlink.rs` encodes, and `NetlinkSocket`, the real one (an `AF_NETLINK`
//! `NETLINK_NETFILTER` socket through nix, one per exchange, so that no answer to an earlier
//! exchange is ever mistaken for one to this). The fake lives in tests.rs.

use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::sys::socket::{
    bind, recv, send, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr, SockFlag,
    SockProtocol, SockType,
};
use nix::sys::time::TimeVal;

use super::netlink::{answers, Batch};

/// Why an exchange did not get its answers.
#[derive(Debug, PartialEq, Eq)]
pub enum NetlinkError {
    /// No nf_tables over netlink here: no socket, no permission, no answer in time. The nft
    /// CLI may still work.
    Unavailable(String),
    /// The batch is more than the socket takes in one send (EMSGSIZE, ENOBUFS, ENOMEM): nothing
    /// of it was applied, and smaller batches may go.
    TooLarge(Errno),
}

impl std::fmt::Display for NetlinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetlinkError::Unavailable(why) => f.write_str(why),
            NetlinkError::TooLarge(e) => write!(f, "batch too large for one send: {e}"),
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
}

/// The real kernel.
pub struct NetlinkSocket;

/// Batches up to this size fit the default send buffer (`wmem_default`, 208 KiB).
const SMALL: usize = 128 * 1024;

impl Netlink for NetlinkSocket {
    fn exchange(&self, batch: &Batch) -> Result<Answers, NetlinkError> {
        let failed = |what: &str, e: Errno| NetlinkError::Unavailable(format!("{what}: {e}"));
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkNetFilter,
        )
        .map_err(|e| failed("netlink socket", e))?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).map_err(|e| failed("netlink bind", e))?;
        // How long the kernel may take to answer: far more than a small batch ever takes, and
        // a second more per 256 KiB of a restore's batch (a slow router's kernel inserting
        // elements). (`as _`: `time_t` is 32 bits on some router targets.)
        let secs = 2 + (batch.bytes.len() >> 18).min(60);
        setsockopt(&fd, sockopt::ReceiveTimeout, &TimeVal::new(secs as _, 0))
            .map_err(|e| failed("netlink timeout", e))?;
        if batch.bytes.len() > SMALL {
            // A restore's batch goes in one send, which must fit the socket's send buffer;
            // raising it past `wmem_max` needs CAP_NET_ADMIN, which writing nf_tables needs
            // anyway. If it cannot be raised, the send says EMSGSIZE.
            let want = batch.bytes.len().saturating_add(4096);
            let _ = setsockopt(&fd, sockopt::SndBufForce, &want)
                .or_else(|_| setsockopt(&fd, sockopt::SndBuf, &want));
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
}
