//! The RADIUS accounting server (RFC 2866), as a NAS sends to it: `AcctClient` (one record,
//! `Ok` only after its verified Accounting-Response) and `UdpAcct` (the primary then the backup
//! server on `acct_port`, each tried `1 + retries` times with the wait doubled each time; the
//! server that answered last is asked first; or over RadSec's TLS connections, which the
//! authentication client shares). The packets are `core::radius::acct`'s. Feature `radius`
//! only.

use std::sync::atomic::Ordering;

use super::radius::{in_order, Link, RadiusError, Transport};
use crate::core::config::Radius;
use crate::core::model::Mac;
use crate::core::radius;
use crate::core::radius::acct::{self, Nas, Record};
use crate::core::token;

/// The seam the app delivers the queue through.
pub trait AcctClient: Send + Sync {
    /// Sends `record` at `now` (Unix seconds, for Acct-Delay-Time) and waits for its verified
    /// Accounting-Response: `Ok` only then.
    fn send(&self, record: &Record, now: i64) -> Result<(), RadiusError>;
}

/// The real client, over UDP or (feature `radsec`) TLS.
pub struct UdpAcct {
    link: Link,
}

impl UdpAcct {
    pub fn new(config: &Radius, router: Option<Mac>, transport: Transport) -> UdpAcct {
        let port = config.acct_port;
        let link = Link::new(config, router, port, config.acct_secret(), transport);
        UdpAcct { link }
    }

    /// Server `index`: `Ok(true)` a verified response, `Ok(false)` silence or refusal.
    fn ask(
        &self,
        index: usize,
        server: &str,
        record: &Record,
        now: i64,
    ) -> Result<bool, RadiusError> {
        let mut id = [0u8; 1];
        if token::fill(&mut id).is_err() {
            return Ok(false);
        }
        let nas = Nas {
            id: &self.link.nas_id,
            ip: self.link.nas_ip,
            called_station: self.link.called_station.as_deref(),
        };
        let packet = acct::request(record, id[0], now, &nas, &self.link.secret)
            .map_err(|e| RadiusError::Request(e.to_string()))?;
        let mut authenticator = [0u8; 16];
        authenticator.copy_from_slice(&packet[4..radius::HEADER]);
        // A retransmission is the same packet (RFC 2866 §2: same Identifier, same
        // Acct-Delay-Time); a later delivery of the record is a new packet.
        let secret = &self.link.secret;
        let answered = self.link.exchange(index, server, &packet, |bytes| {
            match acct::check_response(bytes, id[0], &authenticator, secret) {
                Ok(()) => Some(()),
                Err(e) => {
                    log::warn!("RADIUS accounting {server}: response dropped: {e}");
                    None
                }
            }
        })?;
        Ok(answered.is_some())
    }
}

impl AcctClient for UdpAcct {
    fn send(&self, record: &Record, now: i64) -> Result<(), RadiusError> {
        let mut failed = RadiusError::Unreachable;
        for (index, server) in in_order(&self.link.servers, &self.link.preferred) {
            match self.ask(index, server, record, now) {
                Ok(true) => {
                    self.link.preferred.store(index, Ordering::Relaxed);
                    return Ok(());
                }
                Ok(false) => log::warn!("RADIUS accounting server {server}: no answer"),
                Err(e @ RadiusError::Request(_)) => return Err(e),
                Err(e) => failed = e,
            }
        }
        Err(failed)
    }
}
