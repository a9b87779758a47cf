//! The Dynamic Authorization socket (RFC 5176, `option das_port`): one UDP socket on every
//! address of the router, IPv6 with IPv4 mapped when the kernel has IPv6, else IPv4 only;
//! datagrams in with their sender and the local address they were sent to, answers out from
//! that same address (`IPV6_PKTINFO`): a server matches an answer by its source, and on a
//! router with several addresses the route back to the server may leave by another one. What
//! a datagram means is `core::radius::das`'s and `app::das`'s. Feature `radius` only.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use nix::libc;
use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, sockopt, ControlMessage, ControlMessageOwned, MsgFlags,
    SockaddrIn6, SockaddrStorage,
};

use crate::core::radius::MAX_LEN;

pub struct DasSocket {
    socket: UdpSocket,
    pub port: u16,
    /// The IPv6 socket reports each datagram's local address (`IPV6_RECVPKTINFO`).
    pktinfo: bool,
}

/// The local address a datagram was sent to (IPv6, or IPv4 mapped), when the socket reports
/// it: the answer's source.
#[derive(Clone, Copy, Debug, Default)]
pub struct Local(Option<[u8; 16]>);

impl DasSocket {
    /// Listens on `port`; each `recv` waits at most `wait`.
    pub fn bind(port: u16, wait: Duration) -> io::Result<DasSocket> {
        let (socket, v6) = match UdpSocket::bind(("::", port)) {
            Ok(s) => (s, true),
            Err(_) => (UdpSocket::bind(("0.0.0.0", port))?, false),
        };
        socket.set_read_timeout(Some(wait))?;
        let pktinfo = v6 && setsockopt(&socket, sockopt::Ipv6RecvPacketInfo, &true).is_ok();
        Ok(DasSocket {
            socket,
            port,
            pktinfo,
        })
    }

    /// The next datagram, its sender and the local address it came to, or `None` after the
    /// wait.
    pub fn recv(&self) -> Option<(Vec<u8>, SocketAddr, Local)> {
        let mut buf = [0u8; MAX_LEN];
        if !self.pktinfo {
            let (n, from) = self.socket.recv_from(&mut buf).ok()?;
            return Some((buf.get(..n)?.to_vec(), from, Local(None)));
        }
        let mut space = nix::cmsg_space!(libc::in6_pktinfo);
        let (n, from, local) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = recvmsg::<SockaddrStorage>(
                self.socket.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::empty(),
            )
            .ok()?;
            let from = msg.address.as_ref().and_then(|a| a.as_sockaddr_in6())?;
            let local = msg.cmsgs().ok().and_then(|mut all| {
                all.find_map(|c| match c {
                    ControlMessageOwned::Ipv6PacketInfo(info) => Some(info.ipi6_addr.s6_addr),
                    _ => None,
                })
            });
            let from = SocketAddr::V6(std::net::SocketAddrV6::from(*from));
            (msg.bytes, from, Local(local))
        };
        Some((buf.get(..n)?.to_vec(), from, local))
    }

    /// Sends `bytes` to `to` from `local` (the address the request came to) when known.
    pub fn send(&self, bytes: &[u8], to: SocketAddr, local: Local) {
        let sent = match (local.0, to) {
            (Some(address), SocketAddr::V6(v6)) => {
                // Interface 0: the route picks it; only the source is fixed.
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr { s6_addr: address },
                    ipi6_ifindex: 0,
                };
                sendmsg(
                    self.socket.as_raw_fd(),
                    &[IoSlice::new(bytes)],
                    &[ControlMessage::Ipv6PacketInfo(&info)],
                    MsgFlags::empty(),
                    Some(&SockaddrIn6::from(v6)),
                )
                .map(|_| ())
                .map_err(io::Error::from)
            }
            _ => self.socket.send_to(bytes, to).map(|_| ()),
        };
        if let Err(e) = sent {
            log::warn!("RADIUS DAS: answer to {to} not sent: {e}");
        }
    }
}
