//! The Dynamic Authorization socket (RFC 5176, `option das_port`): one UDP socket on every
//! address of the router, IPv6 with IPv4 mapped when the kernel has IPv6, else IPv4 only;
//! datagrams in with their sender, answers out. What a datagram means is `core::radius::das`'s
//! and `app::das`'s. Feature `radius` only.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use crate::core::radius::MAX_LEN;

pub struct DasSocket {
    socket: UdpSocket,
    pub port: u16,
}

impl DasSocket {
    /// Listens on `port`; each `recv` waits at most `wait`.
    pub fn bind(port: u16, wait: Duration) -> io::Result<DasSocket> {
        let socket =
            UdpSocket::bind(("::", port)).or_else(|_| UdpSocket::bind(("0.0.0.0", port)))?;
        socket.set_read_timeout(Some(wait))?;
        Ok(DasSocket { socket, port })
    }

    /// The next datagram and its sender, or `None` after the wait.
    pub fn recv(&self) -> Option<(Vec<u8>, SocketAddr)> {
        let mut buf = [0u8; MAX_LEN];
        let (n, from) = self.socket.recv_from(&mut buf).ok()?;
        Some((buf.get(..n)?.to_vec(), from))
    }

    pub fn send(&self, bytes: &[u8], to: SocketAddr) {
        if let Err(e) = self.socket.send_to(bytes, to) {
            log::warn!("RADIUS DAS: answer to {to} not sent: {e}");
        }
    }
}
