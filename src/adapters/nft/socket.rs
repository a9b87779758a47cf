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
        // How long the kernel may take to answer: far more than a small batch ever takes.
        // (A literal: `time_t` is 32 bits on some router targets.)
        setsockopt(&fd, sockopt::ReceiveTimeout, &TimeVal::new(2, 0))
            .map_err(|e| failed("netlink timeout", e))?;
        send(fd.as_raw_fd(), &batch.bytes, MsgFlags::empty())
            .map_err(|e| failed("netlink send", e))?;
        let count = batch.messages as usize;
        let mut errnos: Vec<Option<i32>> = vec![None; count];
        let mut replies = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        while errnos.iter().any(Option::is_none) {
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
