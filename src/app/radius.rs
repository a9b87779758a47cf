//! Vouchers and guest accounts checked against a RADIUS server (`config radius`): the client
//! the config asks for (`RadiusState`), and the grant of an Access-Accept's terms through the
//! one grant path (`grant_in`), so the kernel enforces them as it does a package's.
//!
//! The order, when a radius section is configured: a code (or user name) that exists in this
//! router's own store is handled locally, exactly as without RADIUS (its refusals included);
//! every other one goes to the server, and the server's answer is final. A code the server
//! rejects is never then looked up locally, so a guess gets one judge, not two; and the local
//! lookup comes first only for codes lango itself made and stored (random, as guessable as
//! they are without RADIUS). An unreachable server leaves the local vouchers, M-Pesa sales
//! and paid guests working; a guest with a central code is told that the check is down.
//! Feature `radius` only.

use std::sync::{Arc, RwLock};

use super::admission::Admitted;
use super::*;
use crate::adapters::radius::{device_mac, Login, RadiusClient, RadiusError, Transport, UdpRadius};
use crate::core::radius::health::Health;
use crate::core::radius::Reply;

/// The client for the current config, or one a test put in.
#[derive(Default)]
pub(crate) struct RadiusState {
    client: RwLock<Option<Arc<dyn RadiusClient>>>,
    /// Set by `App::use_radius`: a config change keeps the injected client.
    injected: std::sync::atomic::AtomicBool,
    /// Logins waiting for the server now.
    in_flight: std::sync::atomic::AtomicUsize,
    /// Accounting (`app::accounting`).
    pub(crate) acct: super::accounting::AcctState,
    /// Dynamic Authorization (`app::das`).
    pub(crate) das: super::das::DasState,
    /// Each server's Status-Server state (`probe_radius`).
    health: std::sync::Mutex<Vec<Health>>,
}

/// What `ubus call lango status` and the owner page show of RADIUS.
#[derive(Clone, Debug)]
pub struct RadiusStatus {
    /// The servers in the order they are asked, with their probe state.
    pub servers: Vec<Health>,
    /// Accounting on (`option accounting`), and the records waiting on flash.
    pub accounting: bool,
    pub queued: u64,
}

/// At most this many guests wait for the RADIUS server at once: half the portal's four
/// worker threads (`web::server::Limits`), so a silent server never holds the whole portal.
pub const IN_FLIGHT: usize = 2;

impl RadiusState {
    /// The real client for `config` (none without a radius section).
    /// With RadSec, one set of TLS connections serves both clients.
    pub(crate) fn configure(&self, config: &Config) {
        let transport = config.radius.as_ref().map(Transport::for_config);
        self.acct.configure(config, transport.clone());
        if self.injected.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let client = config
            .radius
            .as_ref()
            .zip(transport)
            .map(|(radius, transport)| {
                let router = device_mac(&config.gateway.device);
                Arc::new(UdpRadius::with_transport(radius, router, transport))
                    as Arc<dyn RadiusClient>
            });
        *locks::write(&self.client) = client;
    }

    fn client(&self) -> Option<Arc<dyn RadiusClient>> {
        locks::read(&self.client).clone()
    }
}

impl App {
    /// Probes (Status-Server, RFC 5997) each server whose probe is due; blocks for at most
    /// the configured timeouts per server. Returns how many were probed.
    pub fn probe_radius(&self) -> usize {
        let Some(client) = self.radius.client() else {
            return 0;
        };
        let servers = client.servers();
        let now = self.time().now;
        let due: Vec<usize> = {
            let mut health = locks::lock(&self.radius.health);
            let same = health.iter().map(|h| &h.server).eq(servers.iter());
            if !same {
                *health = servers.iter().map(|s| Health::new(s, now)).collect();
            }
            let due = health
                .iter()
                .enumerate()
                .filter(|(_, h)| h.next_probe <= now);
            due.map(|(i, _)| i).collect()
        };
        for &index in &due {
            let answered = client.probe(index);
            let now = self.time().now;
            let mut health = locks::lock(&self.radius.health);
            if let Some(h) = health.get_mut(index) {
                if answered != (h.reach == crate::core::radius::health::Reach::Up) {
                    log::info!(
                        "RADIUS server {}: {}",
                        h.server,
                        if answered { "up" } else { "down" }
                    );
                }
                h.observe(answered, now);
            }
        }
        due.len()
    }

    /// Whether every RADIUS server is known not to answer its Status-Server probes (the
    /// alerts' `Condition::Radius`), with the servers and since when, for the owner's phone.
    /// `None` without a radius section, or while any server answers or is not probed yet.
    pub(crate) fn radius_down(&self) -> Option<String> {
        self.radius.client()?;
        let health = locks::lock(&self.radius.health);
        if !crate::core::radius::health::all_down(&health) {
            return None;
        }
        let names: Vec<&str> = health.iter().map(|h| h.server.as_str()).collect();
        let since = health.iter().map(|h| h.since).max().unwrap_or_default();
        Some(format!(
            "{} silent since {}",
            names.join(", "),
            self.owner_time(since)
        ))
    }

    /// RADIUS as the owner sees it; `None` without a radius section.
    pub fn radius_status(&self) -> Option<RadiusStatus> {
        let config = self.config();
        let radius = config.radius.as_ref()?;
        let mut servers = locks::lock(&self.radius.health).clone();
        if servers.is_empty() {
            let now = self.time().now;
            let all = std::iter::once(&radius.server).chain(radius.backup_server.as_ref());
            servers = all.map(|s| Health::new(s, now)).collect();
        }
        Some(RadiusStatus {
            servers,
            accounting: radius.accounting,
            queued: self.accounting_queued(),
        })
    }

    /// Replaces the RADIUS client (tests: a `FakeRadius`, or a `UdpRadius` at a test server).
    pub fn use_radius(&self, client: Arc<dyn RadiusClient>) {
        self.radius
            .injected
            .store(true, std::sync::atomic::Ordering::Relaxed);
        *locks::write(&self.radius.client) = Some(client);
    }

    /// The RADIUS client when `code` is not a voucher of this router's store.
    pub(crate) fn radius_for_voucher(
        &self,
        code: &str,
    ) -> Result<Option<Arc<dyn RadiusClient>>, StoreError> {
        let Some(client) = self.radius.client() else {
            return Ok(None);
        };
        let local = self.store.read(|r| r.voucher(code))?;
        Ok(local.is_none().then_some(client))
    }

    /// The RADIUS client when `username` is not an account of this router's store.
    pub(crate) fn radius_for_account(
        &self,
        username: Option<&str>,
    ) -> Result<Option<Arc<dyn RadiusClient>>, StoreError> {
        let Some(client) = self.radius.client() else {
            return Ok(None);
        };
        let local = match username {
            Some(name) => self.store.read(|r| r.account(name))?,
            None => None,
        };
        Ok(local.is_none().then_some(client))
    }

    /// Asks the server (no lock held: this blocks for the configured timeouts) and grants an
    /// Access-Accept's terms in one write with its event. `source` names what paid.
    pub(crate) fn grant_radius(
        &self,
        client: &dyn RadiusClient,
        admitted: Admitted,
        user: &str,
        password: &str,
        source: Source,
    ) -> Result<Result<Session, RadiusError>, StoreError> {
        let Admitted { mac, ip, .. } = admitted;
        // The same code (or account) typed again on a device it already serves: the running
        // session stands. Asking again would add the server's Session-Timeout, which is the
        // time this login may last, a second time.
        let running = self.store.read(|r| r.active_session(mac))?;
        if let Some(session) = running.filter(|s| s.is_active() && s.sources.contains(&source)) {
            return Ok(Ok(session));
        }
        let login = Login {
            user: user.to_string(),
            password: password.to_string(),
            mac,
            ip: Some(ip),
        };
        // A guest waits on a portal thread for the answer: a server that does not answer must
        // not hold them all, so at most `IN_FLIGHT` logins wait at once; the rest are told to
        // try again, as if the server could not be reached.
        let waiting = &self.radius.in_flight;
        if waiting.fetch_add(1, Ordering::SeqCst) >= IN_FLIGHT {
            waiting.fetch_sub(1, Ordering::SeqCst);
            return Ok(Err(RadiusError::Unreachable));
        }
        let answer = client.authenticate(&login);
        waiting.fetch_sub(1, Ordering::SeqCst);
        let reply: Reply = match answer {
            Ok(reply) => reply,
            Err(e) => {
                log::info!("RADIUS refused {user} for {mac}: {e}");
                return Ok(Err(e));
            }
        };
        let terms = reply.terms();
        // The wait may have been seconds: the session starts now, not at the request.
        let time = self.time();
        let session = self.store.write(Durability::Durable, |w| {
            let session = grant_in(w, mac, Some(ip), &terms, source, time.start())?;
            touch_device(w, mac, Some(ip), time.now)?;
            // Acct-Interim-Interval and Class are kept for accounting (`acct_sessions`).
            self.acct_start_in(w, &session, Some(user), Some(&reply), None, time.now)?;
            let some =
                |v: Option<u64>, what: &str| v.map_or(String::new(), |v| format!(", {v} {what}"));
            let event = format!(
                "RADIUS accepted {user}: session {} until {}{}{}{}{}, {} Class",
                session.id,
                self.owner_time(session.deadline),
                some(terms.quota_bytes, "bytes"),
                some(terms.rate_down_kbit.map(u64::from), "kbit/s down"),
                some(reply.idle_timeout.map(u64::from), "s idle"),
                some(reply.interim_interval.map(u64::from), "s interim"),
                reply.class.len(),
            );
            w.push_event(&Event::new(time.now, "radius_accepted", Some(mac), event))?;
            Ok(session)
        })?;
        self.mark_dirty();
        self.emit_session(session.id, true);
        Ok(Ok(session))
    }
}
