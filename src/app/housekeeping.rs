//! Background work: which jobs are due, running them, expiry, usage reads, firewall
//! reconcile and the counter checkpoint.

use std::net::Ipv6Addr;

use crate::core::ipv6::Refusal;
use crate::core::provider::Provider;

use super::*;

/// Expiries are batched: at most one wake for them in this many seconds (see `next_wake`).
const EXPIRY_BATCH_SECS: i64 = 5;

/// The kernel's connection table is walked at most once per this many seconds to delete the
/// flows of addresses that lost access (the walk costs the same for one address as for many,
/// and grows with the table's size, not with lango's). A lone kick is forgotten at once; a
/// burst waits for the next walk, while the gate already drops every packet of those devices.
const FORGET_EVERY_SECS: i64 = 5;

/// What the counter reading needs of an active session.
struct Live {
    id: u64,
    bytes_up: u64,
    bytes_down: u64,
    quota: Option<u64>,
    /// The purchase, when it is shared by several devices (`Session::group`).
    group: Option<u64>,
}

impl App {
    /// The jobs due at this moment, marked in flight so that they are handed out once.
    pub(crate) fn due_jobs(&self) -> Vec<Job> {
        let time = self.time();
        let now = time.now;
        // While the clock is untrusted, sessions are not ended from the store (the kernel's
        // element timeouts still run), so their deadlines are not work.
        let retry_at = self.work().expiry_retry_at;
        let sessions_due = time.trusted
            && self.next_session_deadline().is_some_and(|d| d <= now)
            && retry_at.is_none_or(|at| at <= now);
        let due_ids: Vec<u64> = {
            let work = self.work();
            work.due
                .iter()
                .filter(|(_, (at, _))| *at <= now)
                .map(|(id, _)| *id)
                .collect()
        };
        // Store reads happen with the work lock released.
        let candidates: Vec<(u64, Option<(Job, Provider)>)> = due_ids
            .into_iter()
            .map(|id| (id, self.job_for(id)))
            .collect();
        let mut work = self.work();
        let mut jobs = Vec::new();
        for (id, job) in candidates {
            match job {
                // After a rate-limit answer no query to that provider goes out before its
                // back-off ends; the other providers' queries go on at their pace.
                Some((Job::Poll(_), provider)) if now < work.pacing.until(provider) => {
                    let at = work.pacing.slot(provider, now, now);
                    if let Some(due) = work.due.get_mut(&id) {
                        due.0 = at;
                    }
                }
                Some((job, _)) => {
                    if work.in_flight.insert(job) {
                        jobs.push(job);
                    }
                }
                None => {
                    work.due.remove(&id);
                }
            }
        }
        let housekeeping = work.dirty
            || sessions_due
            || (time.trusted && !(work.quota_due.is_empty() && work.idle_due.is_empty()))
            || now >= work.next_reconcile
            || work.next_checkpoint.is_some_and(|at| now >= at)
            || (!work.forget_pending.is_empty() && now >= work.forget_after);
        if housekeeping && work.in_flight.insert(Job::Housekeeping) {
            jobs.push(Job::Housekeeping);
        }
        jobs
    }

    /// The job a payment due now needs, and the provider it asks.
    pub(crate) fn job_for(&self, payment_id: u64) -> Option<(Job, Provider)> {
        let payment = self.store.read(|r| r.payment(payment_id)).ok()??;
        let job = match payment.state {
            PaymentState::Initiating => Job::Push(payment_id),
            PaymentState::Pending => Job::Poll(payment_id),
            // A late callback for an expired prompt: ask M-Pesa once more.
            PaymentState::Expired if self.has_hint(payment_id) => Job::Poll(payment_id),
            _ => return None,
        };
        Some((job, payment.provider()))
    }

    /// When the worker should next look for work, as wall-clock time.
    pub fn next_wake(&self) -> Timestamp {
        // Expiries are handled in batches: the kernel's element timeouts end access to the
        // second, and the store's record, the event and the flush of the device's flows follow
        // at the next multiple of `EXPIRY_BATCH_SECS` (one wake for many expiries).
        let session_deadline = self
            .next_session_deadline()
            .filter(|_| self.time().trusted)
            .map(|d| {
                d.saturating_add(EXPIRY_BATCH_SECS - 1)
                    .div_euclid(EXPIRY_BATCH_SECS)
                    * EXPIRY_BATCH_SECS
            });
        let work = self.work();
        let mut at = work.next_reconcile;
        if let Some(checkpoint) = work.next_checkpoint {
            at = at.min(checkpoint);
        }
        if let Some(d) = session_deadline {
            at = at.min(d.max(work.expiry_retry_at.unwrap_or(d)));
        }
        for (due, _) in work.due.values() {
            at = at.min(*due);
        }
        if !work.forget_pending.is_empty() {
            at = at.min(work.forget_after);
        }
        at
    }

    /// From the store's expiry index: no session is decoded.
    pub(crate) fn next_session_deadline(&self) -> Option<Timestamp> {
        self.store.active().next_deadline()
    }

    /// Runs one job to completion (blocking).
    pub fn run(&self, job: Job) {
        let result = match job {
            Job::Push(id) => self.push(id),
            Job::Poll(id) => self.poll(id),
            Job::Housekeeping => self.housekeeping(),
        };
        if let Err(e) = result {
            log::error!("{job}: {e}");
        }
        self.work().in_flight.remove(&job);
    }

    /// Runs every due job, in this thread, until none is due. For tests and one-shot use.
    pub fn run_due(&self) {
        for _ in 0..100 {
            let jobs = self.due_jobs();
            if jobs.is_empty() {
                return;
            }
            for job in jobs {
                self.run(job);
            }
        }
    }

    /// Reads usage, ends what is over, reconciles the firewall and checkpoints counters.
    pub(crate) fn housekeeping(&self) -> Result<(), StoreError> {
        let time = self.time();
        let now = time.now;
        let config = self.config();
        // Counters in bulk only at the periodic verification (and the checkpoint it feeds): a
        // wake for an expiry or a grant reads none. The kernel enforces quotas meanwhile.
        let bulk_read = {
            let work = self.work();
            now >= work.next_reconcile || work.next_checkpoint.is_some_and(|at| now >= at)
        };
        if bulk_read {
            self.read_usage();
        }
        let mut changed = false;
        // Addresses of sessions that end now (also those that ended while lango was down):
        // their connection tracking goes with them.
        let mut due_addresses: Vec<IpAddr> = Vec::new();
        if time.trusted {
            // Only what is due is decoded: past deadlines from the expiry index, and the quotas
            // the last counter reading found used up.
            let mut ids = self.store.active().due(now);
            // Few: a linear check, not a sort (code size on the router).
            let quota_due = std::mem::take(&mut self.work().quota_due);
            let idle_due = std::mem::take(&mut self.work().idle_due);
            for id in quota_due.iter().chain(&idle_due) {
                if !ids.contains(id) {
                    ids.push(*id);
                }
            }
            let candidates: Vec<Session> = self.store.read(|r| {
                let mut out = Vec::with_capacity(ids.len());
                for id in &ids {
                    out.extend(r.session(*id)?);
                }
                Ok(out)
            })?;
            // An accounted session's Stop carries its counters read now (one small read each).
            let candidates: Vec<Session> = candidates
                .into_iter()
                .map(|s| match self.accounted(s.id) {
                    true => self.with_fresh_usage(s),
                    false => self.with_usage(s),
                })
                .collect();
            let mut due = sessions::due(&candidates, now);
            // A shared purchase's quota, used up by its devices together (`read_usage`).
            for s in &candidates {
                let shared = s.joined.is_some() || !s.members.is_empty();
                if shared && quota_due.contains(&s.id) && !due.iter().any(|(d, _)| d.id == s.id) {
                    due.push((s, EndReason::Quota));
                }
            }
            // Silent for its Idle-Timeout (`read_usage`), unless it ends for another reason.
            for s in &candidates {
                if idle_due.contains(&s.id) && !due.iter().any(|(d, _)| d.id == s.id) {
                    due.push((s, EndReason::Idle));
                }
            }
            {
                let work = self.work();
                for (session, _) in &due {
                    due_addresses.extend(session.ip);
                    let v6 = work.ipv6.get(&session.id).into_iter().flatten();
                    due_addresses.extend(v6.copied().map(IpAddr::V6));
                }
            }
            let retry_at = self.work().expiry_retry_at;
            if !due.is_empty() && retry_at.is_none_or(|at| at <= now) {
                // Lazy: an expiry is recomputed from the deadline if it is lost in a power cut;
                // durable with an accounting Stop in it, which may be sent at once.
                let stops = due.iter().any(|(s, _)| self.accounted(s.id));
                let durability = match stops {
                    true => Durability::Durable,
                    false => Durability::Lazy,
                };
                let written = self.store.write(durability, |w| {
                    for (session, reason) in &due {
                        let ended = sessions::end(session, *reason, now);
                        w.put_session(&ended)?;
                        #[cfg(feature = "radius")]
                        self.acct_stop_in(w, &ended, *reason, now)?;
                        w.push_event(&Event::new(
                            now,
                            "session_ended",
                            Some(session.mac),
                            format!("session {} ended: {}", session.id, reason.words()),
                        ))?;
                    }
                    Ok(())
                });
                if let Err(e) = written {
                    // A full flash: the firewall is still reconciled below (the kernel's element
                    // timeouts end these guests anyway); the write waits.
                    log::error!("ending sessions: {e}; trying again in {STORE_RETRY_SECS}s");
                    self.work().expiry_retry_at = Some(now + STORE_RETRY_SECS);
                    due.clear();
                    due_addresses.clear();
                } else {
                    self.work().expiry_retry_at = None;
                }
                {
                    let mut work = self.work();
                    for (session, _) in &due {
                        work.usage.remove(&session.id);
                    }
                }
                for (session, _) in &due {
                    self.emit_session(session.id, false);
                }
                changed = true;
            }
        }
        let reconcile_due = {
            let mut work = self.work();
            let due = work.dirty || changed || now >= work.next_reconcile;
            work.dirty = false;
            due
        };
        if reconcile_due {
            let ipv6 = self.bind_ipv6(now)?;
            // From RAM (`core::active`) without a copy of any session, with the usage read so
            // far: a rebuilt quota starts from the bytes really used.
            let window = config.gateway.ipv6_window_secs as i64;
            let (desired, window_open) = {
                let index = self.store.active();
                let work = self.work();
                let mut desired = firewall::desired(
                    index.sessions(),
                    time.now_ms,
                    &ipv6,
                    index.blocked(),
                    &work.usage,
                );
                desired.allowed.clone_from(&config.gateway.allow_macs);
                let open = index
                    .sessions()
                    .any(|s| crate::core::ipv6::window_open(s.started_at, s.moved_at, now, window));
                (desired, open)
            };
            let started = std::time::Instant::now();
            let desired = std::sync::Arc::new(desired);
            let result = self.env.firewall.apply_shared(desired.clone());
            self.counts.applied(result.is_ok(), started.elapsed());
            // While a device may still add IPv6 addresses, look for them every second (on a
            // guest network that has IPv6 at all).
            let learning = window_open && !self.guest_prefixes(now).is_empty();
            let interval = if learning {
                1
            } else {
                config.gateway.reconcile_interval_secs as i64
            };
            match result {
                Ok(lost) => {
                    self.work().next_reconcile = now + interval;
                    // With the addresses of sessions that end now (also those that ended while
                    // lango was down, never applied since).
                    let ended = firewall::not_allowed_in(&desired, due_addresses);
                    let mut work = self.work();
                    work.forget_pending.extend(lost);
                    work.forget_pending.extend(ended);
                }
                Err(e) => {
                    log::error!("firewall: {e}; retrying in {RECONCILE_RETRY_SECS}s");
                    self.work().next_reconcile = now + RECONCILE_RETRY_SECS;
                }
            }
        }
        self.forget_due(now);
        if let Err(e) = self.compact_store(now) {
            log::warn!("store: retention pass: {e}");
        }
        self.checkpoint(false)
    }

    /// The IPv6 addresses each active session may use (`core::ipv6::decide`), from what the
    /// kernel saw and the neighbour table. A new address after a device's binding window is a
    /// clone candidate: refused, and logged as spoofing (once per interval).
    pub(crate) fn bind_ipv6(
        &self,
        now: Timestamp,
    ) -> Result<HashMap<u64, Vec<Ipv6Addr>>, StoreError> {
        let seeded = self.work().ipv6_seeded;
        if !seeded {
            // After a restart the kernel still allows what was bound: keep it.
            let allowed = self.env.firewall.ipv6_allowed().unwrap_or_default();
            let index = self.store.active();
            let by_mac: HashMap<Mac, u64> = index.sessions().map(|s| (s.mac, s.id)).collect();
            let mut work = self.work();
            for (mac, addr) in allowed {
                if let Some(id) = by_mac.get(&mac) {
                    let list = work.ipv6.entry(*id).or_default();
                    if !list.contains(&addr) && list.len() < crate::core::ipv6::MAX_PER_DEVICE {
                        list.push(addr);
                    }
                }
            }
            work.ipv6_seeded = true;
        }
        let seen = match self.env.firewall.ipv6_seen() {
            Ok(seen) => seen,
            Err(e) => {
                log::debug!("firewall: IPv6 sources: {e}");
                Vec::new()
            }
        };
        let evidence = crate::core::ipv6::Evidence {
            neighbours: if seen.is_empty() {
                Vec::new()
            } else {
                self.env.neighbours.ipv6_table()
            },
            prefixes: if seen.is_empty() {
                Vec::new()
            } else {
                self.guest_prefixes(now)
            },
            seen,
        };
        let window = self.config().gateway.ipv6_window_secs as i64;
        // Pure, under the index's lock (no I/O): which addresses bind, and the session of each
        // refused clone.
        let (outcome, refused) = {
            let index = self.store.active();
            let mut work = self.work();
            let outcome =
                crate::core::ipv6::decide(index.sessions(), &work.ipv6, &evidence, now, window);
            work.ipv6 = outcome.bound.clone();
            let refused: Vec<(Mac, Ipv6Addr, Refusal, u64)> = outcome
                .refused
                .iter()
                .map(|(mac, addr, refusal)| {
                    let session = match refusal {
                        Refusal::Clone => {
                            index.sessions().find(|s| s.mac == *mac).map_or(0, |s| s.id)
                        }
                        _ => 0,
                    };
                    (*mac, *addr, *refusal, session)
                })
                .collect();
            (outcome, refused)
        };
        for (mac, addr, refusal, session) in refused {
            if refusal != Refusal::Clone {
                log::debug!("IPv6 {addr} of {mac} not bound: {refusal:?}");
                continue;
            }
            let detail = format!(
                "{addr} is using MAC {mac}, which belongs to session {session}: a new IPv6 \
                 address after the device's binding window, refused"
            );
            self.log_refusal(mac, IpAddr::V6(addr), now, "spoofing", detail)?;
        }
        Ok(outcome.bound)
    }

    /// The guest network's IPv6 prefixes, asked of the system at most once a minute (a process
    /// start per reading: not on every grant).
    fn guest_prefixes(&self, now: Timestamp) -> Vec<(Ipv6Addr, u8)> {
        if let Some((at, prefixes)) = &self.work().prefixes {
            if now >= *at && now - *at < 60 {
                return prefixes.clone();
            }
        }
        let prefixes = self.env.neighbours.guest_prefixes();
        self.work().prefixes = Some((now, prefixes.clone()));
        prefixes
    }

    /// Deletes the connection tracking of the queued addresses: one walk of the kernel's
    /// connection table for all of them, at most once per `FORGET_EVERY_SECS`.
    fn forget_due(&self, now: Timestamp) {
        let removed = {
            let mut work = self.work();
            if work.forget_pending.is_empty() || now < work.forget_after {
                return;
            }
            work.forget_after = now + FORGET_EVERY_SECS;
            let mut removed = std::mem::take(&mut work.forget_pending);
            removed.sort_unstable();
            removed.dedup();
            removed
        };
        if let Err(e) = self.env.firewall.forget(&removed) {
            log::warn!(
                "firewall: cannot forget the flows of {} addresses: {e}",
                removed.len()
            );
        }
    }

    /// Whether session `id` is accounted to a RADIUS server (`app::accounting`).
    fn accounted(&self, id: u64) -> bool {
        #[cfg(feature = "radius")]
        return self.is_accounted(id);
        #[cfg(not(feature = "radius"))]
        {
            let _ = id;
            false
        }
    }

    /// Folds the firewall's per-device byte counts into the in-memory usage.
    pub(crate) fn read_usage(&self) {
        let usage = match self.env.firewall.usage() {
            Ok(u) if !u.is_empty() => u,
            Ok(_) => return,
            Err(e) => {
                log::warn!("firewall usage: {e}");
                return;
            }
        };
        // From the expiry index, not the store: (id, bytes stored, quota) by MAC, one lookup
        // per device (O(N), not O(N²)).
        let by_mac: HashMap<Mac, Live> = self
            .store
            .active()
            .sessions()
            .map(|s| {
                let live = Live {
                    id: s.id,
                    bytes_up: s.bytes_up,
                    bytes_down: s.bytes_down,
                    // A fair-use session goes on, slower, past its quota.
                    quota: s.quota_bytes.filter(|_| !s.fair_use()),
                    group: s.shared().then(|| s.group()),
                };
                (s.mac, live)
            })
            .collect();
        // The few sessions with an Idle-Timeout (RADIUS), checked against `last_traffic` below.
        #[cfg(feature = "radius")]
        let idle: Vec<(u64, u32)> = self.store.active().idle_timeouts().collect();
        let time = self.time();
        let now_ms = time.now_ms;
        let mut work = self.work();
        let live: HashSet<u64> = by_mac.values().map(|s| s.id).collect();
        work.samples.retain(|id, _| live.contains(id));
        work.speeds.retain(|id, _| live.contains(id));
        work.last_traffic.retain(|id, _| live.contains(id));
        for u in &usage {
            if let Some(session) = by_mac.get(&u.mac) {
                let total = u.bytes_up.saturating_add(u.bytes_down);
                let last = work.last_traffic.get(&session.id).copied();
                if last.is_none_or(|(_, bytes)| bytes != total) {
                    work.last_traffic.insert(session.id, (time.now, total));
                }
                let sample = (now_ms, u.bytes_up, u.bytes_down);
                if let Some((at, up, down)) = work.samples.insert(session.id, sample) {
                    let ms = u64::try_from(now_ms - at).unwrap_or(0);
                    if ms >= 1000 {
                        let rate = |new: u64, old: u64| new.saturating_sub(old) * 1000 / ms;
                        let speed = (rate(u.bytes_up, up), rate(u.bytes_down, down));
                        work.speeds.insert(session.id, speed);
                    }
                }
            }
        }
        for u in usage {
            if let Some(session) = by_mac.get(&u.mac) {
                let stored = (session.bytes_up, session.bytes_down);
                let new = fold_usage(&mut work, session.id, stored, (u.bytes_up, u.bytes_down));
                // A quota used up: the next housekeeping ends the session (the kernel has
                // already stopped its traffic).
                let alone = session.group.is_none();
                if alone
                    && session
                        .quota
                        .is_some_and(|q| new.0.saturating_add(new.1) >= q)
                {
                    work.quota_due.push(session.id);
                }
            }
        }
        // A purchase shared by several devices: its quota is used up by all of them together,
        // and then ends on all of them.
        let mut shared: HashMap<u64, u64> = HashMap::new();
        for s in by_mac.values() {
            if let Some(group) = s.group {
                let (up, down) = work
                    .usage
                    .get(&s.id)
                    .copied()
                    .unwrap_or((s.bytes_up, s.bytes_down));
                let sum = shared.entry(group).or_default();
                *sum = sum.saturating_add(up.saturating_add(down));
            }
        }
        for s in by_mac.values() {
            let used = s.group.and_then(|g| shared.get(&g)).copied().unwrap_or(0);
            if s.group.is_some() && s.quota.is_some_and(|q| used >= q) {
                work.quota_due.push(s.id);
            }
        }
        // No traffic since the reading that last saw the count change, for the Idle-Timeout
        // (only a RADIUS Accept gives one).
        #[cfg(feature = "radius")]
        for (id, secs) in idle {
            let silent = work.last_traffic.get(&id).map(|(at, _)| time.now - at);
            if silent.is_some_and(|s| s >= i64::from(secs)) && !work.idle_due.contains(&id) {
                work.idle_due.push(id);
            }
        }
        if !work.quota_due.is_empty() || !work.idle_due.is_empty() {
            drop(work);
            self.notify();
        }
    }

    /// Writes usage, funnel counters and the clock floor to flash once the checkpoint interval
    /// has passed since the first unsaved change (or at once with `force`, at shutdown). Writes
    /// nothing when nothing changed: an idle lango does not wear the flash.
    pub(crate) fn checkpoint(&self, force: bool) -> Result<(), StoreError> {
        let now = self.time().now;
        let interval = self.config().gateway.checkpoint_interval_secs as i64;
        let floor = self.clock_guard.floor();
        let (usage, floor_before) = {
            let mut work = self.work();
            let counters_pending = self.funnel.portal_views.load(Ordering::Relaxed) > 0
                || self.funnel.purchases_started.load(Ordering::Relaxed) > 0
                || self.funnel.paid.load(Ordering::Relaxed) > 0;
            let floor_pending = force && floor > work.floor_saved;
            if !(work.unsaved || counters_pending || floor_pending) {
                return Ok(());
            }
            if !force {
                match work.next_checkpoint {
                    None => {
                        work.next_checkpoint = Some(now + interval);
                        return Ok(());
                    }
                    Some(at) if now < at => return Ok(()),
                    Some(_) => {}
                }
            }
            work.unsaved = false;
            let floor_before = std::mem::replace(&mut work.floor_saved, floor);
            work.next_checkpoint = None;
            (work.usage.clone(), floor_before)
        };
        let funnel = [
            (
                "portal_views",
                self.funnel.portal_views.swap(0, Ordering::Relaxed),
            ),
            (
                "purchases_started",
                self.funnel.purchases_started.swap(0, Ordering::Relaxed),
            ),
            ("paid", self.funnel.paid.swap(0, Ordering::Relaxed)),
        ];
        let day = crate::core::time::local_day(now, self.config().gateway.utc_offset_secs);
        let written = self.store.write(Durability::Durable, |w| {
            for (id, (up, down)) in &usage {
                if let Some(mut s) = w.session(*id)? {
                    if s.bytes_up < *up || s.bytes_down < *down {
                        s.bytes_up = s.bytes_up.max(*up);
                        s.bytes_down = s.bytes_down.max(*down);
                        w.put_session(&s)?;
                    }
                }
            }
            // Totals, and per day in the owner's time for the dashboard's "today".
            for (name, n) in funnel {
                if n > 0 {
                    w.add_counter(name, n)?;
                    w.add_counter(&day_counter(name, day), n)?;
                }
            }
            w.set_meta("clock_floor", floor.max(0) as u64)
        });
        if written.is_err() {
            // Not stored (a full flash): the counts go back to RAM and the next try waits a
            // checkpoint interval, instead of being lost or retried at every wake.
            for (name, n) in funnel {
                let counter = match name {
                    "portal_views" => &self.funnel.portal_views,
                    "purchases_started" => &self.funnel.purchases_started,
                    _ => &self.funnel.paid,
                };
                counter.fetch_add(n, Ordering::Relaxed);
            }
            let mut work = self.work();
            work.unsaved = true;
            work.floor_saved = floor_before;
            work.next_checkpoint = Some(now + interval);
        }
        written
    }

    /// Funnel counters not yet checkpointed (added to the stored ones for the owner's view).
    pub(crate) fn unsaved_funnel(&self) -> [(&'static str, u64); 3] {
        [
            (
                "portal_views",
                self.funnel.portal_views.load(Ordering::Relaxed),
            ),
            (
                "purchases_started",
                self.funnel.purchases_started.load(Ordering::Relaxed),
            ),
            ("paid", self.funnel.paid.load(Ordering::Relaxed)),
        ]
    }
}
