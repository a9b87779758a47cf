//! The RADIUS accounting server (RFC 2866), as a NAS sends to it: `AcctClient` (one record,
//! `Ok` only after its verified Accounting-Response) and `UdpAcct` (the primary then the backup
//! server on `acct_port`, each tried `1 + retries` times with the wait doubled each time; the
//! server that answered last is asked first). The packets are `core::radius::acct`'s. Feature
//! `radius` only.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::Ordering;

use super::radius::{exchange, in_order, Link, RadiusError};
use crate::core::config::Radius;
use crate::core::model::Mac;
use crate::core::radius::acct::{self, Nas, Record};
use crate::core::radius::{self, PacketError};
use crate::core::token;

/// The seam the app delivers the queue through.
pub trait AcctClient: Send + Sync {
    /// Sends `record` at `now` (Unix seconds, for Acct-Delay-Time) and waits for its verified
    /// Accounting-Response: `Ok` only then.
    fn send(&self, record: &Record, now: i64) -> Result<(), RadiusError>;
}

/// The real client over UDP.
pub struct UdpAcct {
    link: Link,
}

impl UdpAcct {
    pub fn new(config: &Radius, router: Option<Mac>) -> UdpAcct {
        let link = Link::new(config, router, config.acct_port, config.acct_secret());
        UdpAcct { link }
    }

    /// One server: `Ok(true)` a verified response, `Ok(false)` silence or refusal.
    fn ask(&self, server: SocketAddr, record: &Record, now: i64) -> Result<bool, PacketError> {
        let mut id = [0u8; 1];
        if token::fill(&mut id).is_err() {
            return Ok(false);
        }
        let nas = Nas {
            id: &self.link.nas_id,
            ip: self.link.nas_ip,
            called_station: self.link.called_station.as_deref(),
        };
        let packet = acct::request(record, id[0], now, &nas, &self.link.secret)?;
        let mut authenticator = [0u8; 16];
        authenticator.copy_from_slice(&packet[4..radius::HEADER]);
        // A retransmission is the same packet (RFC 2866 §2: same Identifier, same
        // Acct-Delay-Time); a later delivery of the record is a new packet.
        let answered = exchange(
            server,
            &packet,
            self.link.timeout,
            self.link.retries,
            |bytes| match acct::check_response(bytes, id[0], &authenticator, &self.link.secret) {
                Ok(()) => Some(()),
                Err(e) => {
                    log::warn!("RADIUS accounting {server}: response dropped: {e}");
                    None
                }
            },
        );
        Ok(answered.is_some())
    }
}

impl AcctClient for UdpAcct {
    fn send(&self, record: &Record, now: i64) -> Result<(), RadiusError> {
        for (index, server) in in_order(&self.link.servers, &self.link.preferred) {
            let address = (server.as_str(), self.link.port).to_socket_addrs();
            let Some(address) = address.ok().and_then(|mut a| a.next()) else {
                log::warn!("RADIUS accounting server {server}: cannot resolve");
                continue;
            };
            match self.ask(address, record, now) {
                Ok(true) => {
                    self.link.preferred.store(index, Ordering::Relaxed);
                    return Ok(());
                }
                Ok(false) => log::warn!("RADIUS accounting server {address}: no answer"),
                Err(e) => return Err(RadiusError::Request(e.to_string())),
            }
        }
        Err(RadiusError::Unreachable)
    }
}
