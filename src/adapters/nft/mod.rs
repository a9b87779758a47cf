//! The kernel side of the firewall: `table inet lango` and the gate `table inet lango_gate`. `render` is pure and turns a desired
//! state into one nft script that replaces the whole table atomically; the per-element byte
//! counters and quota use are read back with netlink dumps (`dump.rs`), or from `nft -j`
//! (`parse_usage`) where netlink is unavailable. `NftFirewall` restores a missing table (a start, a fw4
//! restart) as its skeleton through one `nft -f -` and its devices over netlink (`restore`),
//! replaces the table through `sys::Runner` (one `nft -f -`, never one process per rule) after
//! a restart of lango, a HUP and when the kernel refuses a change, skips the apply when the table already says the same, and sends
//! every other change (a grant, an extension, a kick, an expiry) as one small nf_tables batch
//! over netlink (`netlink.rs`, `socket.rs`), falling back to the same change as an `nft -f`
//! script where netlink is unavailable.
//!
//! Paid devices are set elements, not rules: `ether saddr . ip saddr` pairs (and the IPv6
//! addresses of the same MAC) with the session's remaining time as element timeout, so access
//! ends on time even if lango is dead, and per-packet cost is a hash lookup whatever the number
//! of clients. Quotas and speed caps are named `quota`/`limit` objects reached through maps.

mod conntrack;
mod delta;
mod dump;
mod netlink;
mod parse;
mod render;
mod restore;
mod socket;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_kinds;
#[cfg(test)]
mod tests_restore;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use crate::adapters::sys::Runner;
use crate::core::firewall::{
    lost_addresses, not_allowed_in, AllowedClient, Desired, Firewall, FirewallError, Usage,
};
use crate::core::model::Mac;

use delta::{
    allow_ops, delta, elements_of, objects_of, ops, render_delta, restore_groups, unchanged, Delta,
    Op,
};
pub use netlink::Batch;
pub(crate) use parse::flow_offloading_enabled;
#[doc(hidden)]
pub use parse::Counters;
use parse::{parse_usage, usage_of};
use render::MAX_TIMEOUT_MS;
pub use render::{render, render_gate};
pub use socket::{Answers, Netlink, NetlinkError, NetlinkSocket};

/// What the rendered table needs to know besides the clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftOptions {
    /// The Linux device the guests are on (`br-lan`). Validated by the config parser.
    pub device: String,
    /// Port 80 from unpaid devices is redirected here.
    pub portal_port: u16,
    /// The portal's HTTPS port, when TLS is configured.
    pub tls_port: Option<u16>,
    /// DNS from unpaid devices is redirected here (lango's own responder, no recursion).
    pub dns_port: u16,
    /// Forwarded packets leave for guests with TTL / hop limit 1, so that a phone cannot share
    /// its paid access through a hotspot of its own (`option block_tethering`).
    pub block_tethering: bool,
    /// Where fw4 loads the gate table from (a `ruleset-post` include), if anywhere.
    pub gate_file: Option<std::path::PathBuf>,
    /// The owner's devices on the guests' network: they reach the router without paying.
    pub owner_macs: Vec<Mac>,
}

/// The firewall options from the gateway config.
pub fn options_for(gw: &crate::core::config::Gateway) -> NftOptions {
    NftOptions {
        device: gw.device.clone(),
        portal_port: gw.portal_port,
        tls_port: gw.tls_cert.as_ref().map(|_| gw.tls_port),
        dns_port: gw.dns_port,
        block_tethering: gw.block_tethering,
        gate_file: Some(gw.gate_file.clone()),
        owner_macs: gw.owner_macs.clone(),
    }
}
struct NftState {
    /// The last state applied (shared: a change compares against it without copying it).
    applied: Option<Arc<Desired>>,
    /// Bytes counted by tables that have since been replaced, per session.
    carry: HashMap<u64, (u64, u64)>,
    /// The gate script last loaded.
    gate: Option<String>,
    /// Session id → when its elements were last written (Unix ms): elements capped at
    /// `MAX_TIMEOUT_MS` are rewritten before they run out.
    written_at: HashMap<u64, i64>,
    /// When the whole table was last written (Unix ms): no element is older, so none needs
    /// a refresh before half of `MAX_TIMEOUT_MS` has passed since.
    rewritten_at: i64,
    /// Whether netlink was found unavailable (said once in the log).
    netlink_down: bool,
    /// The object deletes of devices whose time ran out, and when: sent in one best-effort
    /// batch once the kernel has reaped the expired elements that reference them.
    stale: Vec<(i64, Op)>,
    /// The skeleton loading ahead of the first apply (`Firewall::prepare`).
    #[cfg(not(target_arch = "mips"))]
    prepared: Option<restore::Prepared>,
}

/// Stale objects are deleted when the oldest is this old (one batch for many expiries), and
/// only those that went at least `STALE_GRACE_MS` ago (the kernel reaps expired elements within
/// about a second).
const STALE_BATCH_MS: i64 = 30_000;
const STALE_GRACE_MS: i64 = 5_000;

/// The real firewall: `nft` through the runner, changes through netlink.
pub struct NftFirewall {
    runner: Arc<dyn Runner>,
    kernel: Arc<dyn Netlink>,
    options: NftOptions,
    state: Mutex<NftState>,
}

impl NftFirewall {
    pub fn new(
        runner: Arc<dyn Runner>,
        kernel: Arc<dyn Netlink>,
        options: NftOptions,
    ) -> NftFirewall {
        NftFirewall {
            runner,
            kernel,
            options,
            state: Mutex::new(NftState {
                applied: None,
                carry: HashMap::new(),
                gate: None,
                written_at: HashMap::new(),
                rewritten_at: 0,
                netlink_down: false,
                stale: Vec::new(),
                #[cfg(not(target_arch = "mips"))]
                prepared: None,
            }),
        }
    }

    /// Says once that netlink is unavailable, and why; the nft CLI does its work from then on
    /// (netlink is still tried first each time: it costs a failed socket call).
    fn netlink_unavailable(&self, why: &str) {
        let mut state = self.lock();
        if !state.netlink_down {
            state.netlink_down = true;
            log::warn!("firewall: no nf_tables over netlink ({why}); changes go through nft -f");
        }
    }

    /// Whether lango's two tables exist, (lango, lango_gate, netlink answered): asked over
    /// netlink, or from `nft list tables` (table names only) when netlink does not answer.
    fn tables(&self) -> Result<(bool, bool, bool), FirewallError> {
        const ENOENT: i32 = nix::errno::Errno::ENOENT as i32;
        let answers = self.kernel.exchange(&netlink::tables_probe());
        match answers.as_ref().map(|a| a.errnos.as_slice()) {
            Ok(&[lango, gate]) if [lango, gate].iter().all(|e| [0, ENOENT].contains(e)) => {
                return Ok((lango == 0, gate == 0, true));
            }
            Ok(other) => log::debug!("firewall: netlink table probe answered {other:?}"),
            Err(e) => self.netlink_unavailable(&e.to_string()),
        }
        let (lango, gate) = tables_present(&self.nft(&["list", "tables"], None)?);
        Ok((lango, gate, false))
    }

    /// Whether netlink says lango's table is not there (a start): then there is nothing to
    /// read from it. Without netlink, false: no `nft list tables` process just to skip a read.
    fn table_missing(&self) -> bool {
        const ENOENT: i32 = nix::errno::Errno::ENOENT as i32;
        let answers = self.kernel.exchange(&netlink::tables_probe());
        matches!(
            answers.as_ref().map(|a| a.errnos.as_slice()),
            Ok(&[ENOENT, _])
        )
    }

    /// What the kernel counted for devices about to change (an extension, a new address):
    /// their elements' counters and their quota's use, which the new elements and objects
    /// carry: one netlink exchange. Where netlink is unavailable this is an error, and the
    /// change becomes a rewrite of the table, which reads every counter with the nft CLI and
    /// carries them the same way (a per-element CLI read here was 3.2 KB of binary for a path
    /// no router takes). What the kernel does not answer counts as nothing.
    fn read_before_change(&self, changing: &[AllowedClient]) -> Result<Counters, FirewallError> {
        let mut counted = Counters::default();
        if changing.is_empty() {
            return Ok(counted);
        }
        let elements: Vec<delta::Element> = changing
            .iter()
            .flat_map(elements_of)
            .filter(|e| matches!(e.set, "paid4" | "paid6" | "paid_ip4" | "paid_ip6"))
            .collect();
        let mut quotas: Vec<(u64, String)> = Vec::new();
        for c in changing.iter().filter(|c| c.quota_left.is_some()) {
            // One read per purchase: its devices share the quota object.
            if !quotas.iter().any(|(g, _)| *g == c.group) {
                quotas.push((c.group, format!("q{}", c.group)));
            }
        }
        let mut reads: Vec<netlink::Read<'_>> = elements
            .iter()
            .map(|e| netlink::Read::Counter(e.set, &e.key))
            .collect();
        reads.extend(quotas.iter().map(|(_, q)| netlink::Read::QuotaUsed(q)));
        match self.kernel.exchange(&netlink::reads(&reads)) {
            Ok(answers) => {
                for (seq, bytes) in netlink::read_values(&answers.replies) {
                    // Sequence numbers start at 1: the elements' reads, then the quotas'.
                    let at = (seq as usize).saturating_sub(1);
                    let quota = quotas.get(at.wrapping_sub(elements.len()));
                    match (elements.get(at).map(|e| &e.key), quota) {
                        (Some(delta::Key::MacIp(mac, ip)), _) => {
                            counted.up.insert((*mac, *ip), bytes);
                        }
                        (Some(delta::Key::Ip(ip)), _) => {
                            counted.down.insert(*ip, bytes);
                        }
                        (None, Some((id, _))) => {
                            counted.quota_used.insert(*id, bytes);
                        }
                        _ => {}
                    }
                }
                Ok(counted)
            }
            Err(e) => {
                self.netlink_unavailable(&e.to_string());
                Err(FirewallError::Unavailable(e.to_string()))
            }
        }
    }

    /// One small transaction with `ops`: one netlink batch, or the same as an `nft -f` script
    /// when netlink is unavailable. A refusal names the operation and the kernel's errno.
    fn send(&self, ops: &[Op]) -> Result<(), FirewallError> {
        match self.kernel.exchange(&netlink::batch(ops)).map(|a| a.errnos) {
            Ok(errnos) => match errnos.iter().position(|e| *e != 0) {
                None if errnos.len() == ops.len() => Ok(()),
                None => Err(FirewallError::Apply(format!(
                    "netlink: {} answers to {} messages",
                    errnos.len(),
                    ops.len()
                ))),
                Some(at) => Err(FirewallError::Apply(format!(
                    "the kernel refused message {} of {} ({}): {}",
                    at + 1,
                    ops.len(),
                    render_delta(ops.get(at..=at).unwrap_or_default()).trim(),
                    socket::errno_text(errnos[at]),
                ))),
            },
            Err(e) => {
                self.netlink_unavailable(&e.to_string());
                self.nft(&["-f", "-"], Some(&render_delta(ops))).map(|_| ())
            }
        }
    }

    fn nft(&self, args: &[&str], stdin: Option<&str>) -> Result<String, FirewallError> {
        run_nft(self.runner.as_ref(), args, stdin)
    }

    /// The counters of the live table, or none if it is missing: netlink dumps read one
    /// datagram at a time (`dump.rs`); `nft -j` and its JSON only where netlink is unavailable.
    fn read_counters(&self) -> Option<Counters> {
        match dump::read(&*self.kernel, &dump::USAGE) {
            Ok(counters) => Some(counters),
            Err(NetlinkError::Refused(e)) => {
                log::debug!("firewall: counters not read: {e}");
                None
            }
            Err(e) => {
                self.netlink_unavailable(&e.to_string());
                self.nft(&["-j", "list", "table", "inet", "lango"], None)
                    .ok()
                    .map(|json| parse_usage(&json))
            }
        }
    }

    /// One set of the live table, read like the whole table.
    fn read_set(&self, name: &str) -> Result<Counters, FirewallError> {
        match dump::read(&*self.kernel, &[netlink::Dump::Set(name)]) {
            Ok(counters) => Ok(counters),
            Err(NetlinkError::Refused(e)) => Err(FirewallError::Apply(format!("set {name}: {e}"))),
            Err(e) => {
                self.netlink_unavailable(&e.to_string());
                self.nft(&["-j", "list", "set", "inet", "lango", name], None)
                    .map(|json| parse_usage(&json))
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, NftState> {
        crate::core::locks::lock(&self.state)
    }

    /// The gate script when it must be loaded (missing, or the config changed it), written
    /// where fw4 includes it first (only when the file differs: no flash write at every
    /// start).
    fn gate_due(&self, present: bool) -> Option<String> {
        let text = render_gate(&self.options);
        if present && self.lock().gate.as_deref() == Some(text.as_str()) {
            return None;
        }
        if let Some(path) = &self.options.gate_file {
            let same = std::fs::read(path).is_ok_and(|old| old == text.as_bytes());
            if !same {
                let written = path
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|()| crate::adapters::sys::write_atomic(path, text.as_bytes()));
                if let Err(e) = written {
                    log::warn!(
                        "firewall: cannot write fw4's gate include {}: {e}",
                        path.display()
                    );
                }
            }
        }
        Some(text)
    }

    /// Loads the gate script (`gate_due`).
    fn load_gate(&self, text: String, present: bool) -> Result<(), FirewallError> {
        self.nft(&["-f", "-"], Some(&text))?;
        self.gate_loaded(text, present);
        Ok(())
    }

    fn gate_loaded(&self, text: String, present: bool) {
        if !present {
            log::info!("firewall: gate table inet lango_gate loaded");
        }
        self.lock().gate = Some(text);
    }

    /// Removes lango's tables and fw4's gate include: only when the owner switches lango off,
    /// since without the gate guests are no longer held back.
    pub(crate) fn remove(&self) -> Result<(), FirewallError> {
        if let Some(path) = &self.options.gate_file {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => log::warn!("firewall: cannot remove {}: {e}", path.display()),
            }
        }
        self.nft(
            &["-f", "-"],
            Some(
                "table inet lango\ndelete table inet lango\n\
                 table inet lango_gate\ndelete table inet lango_gate\n",
            ),
        )
        .map(|_| ())
    }
}

/// The live table's counters as the periodic usage read takes them over `kernel`, and as
/// `parse_usage` reads them out of `nft -j list table inet lango`'s output (`json`): both with
/// `seen6` sorted. tests/it/flat.rs checks that they agree on a table that counted traffic.
#[doc(hidden)]
pub fn usage_two_ways(
    kernel: &dyn Netlink,
    json: &str,
) -> (Result<Counters, NetlinkError>, Counters) {
    let sorted = |mut c: Counters| {
        c.seen6.sort();
        c
    };
    let read = dump::read(kernel, &dump::USAGE).map(sorted);
    (read, sorted(parse_usage(json)))
}

/// Pure: one `paid_mac` element with its timeout as a batch of its own: the floor under any
/// change over netlink (benches/nft_apply.rs measures it beside a grant).
#[doc(hidden)]
pub fn mac_element_batch(mac: Mac, timeout_ms: u64) -> Batch {
    let element = delta::Element {
        set: "paid_mac",
        key: delta::Key::Mac(mac),
        object: None,
    };
    netlink::batch(&[Op::AddElement {
        element,
        timeout_ms,
    }])
}

/// Pure: the stale object deletes that are due (when the oldest has waited `STALE_BATCH_MS`,
/// all that have waited `STALE_GRACE_MS`), taken out of `stale`.
fn stale_due(stale: &mut Vec<(i64, Op)>, now_ms: i64) -> Vec<Op> {
    let oldest = stale.iter().map(|(at, _)| *at).min();
    if oldest.is_none_or(|at| now_ms - at < STALE_BATCH_MS) {
        return Vec::new();
    }
    let (due, young): (Vec<_>, Vec<_>) = std::mem::take(stale)
        .into_iter()
        .partition(|(at, _)| now_ms - at >= STALE_GRACE_MS);
    *stale = young;
    due.into_iter().map(|(_, op)| op).collect()
}

/// Pure: which of lango's tables `nft list tables` shows: (lango, lango_gate).
/// Runs nft through `runner`: its output, or its error message.
fn run_nft(
    runner: &dyn Runner,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<String, FirewallError> {
    let out = runner
        .run("nft", args, stdin)
        .map_err(|e| FirewallError::Unavailable(format!("cannot run nft: {e}")))?;
    if out.success() {
        Ok(out.stdout)
    } else {
        Err(FirewallError::Apply(
            out.stderr.trim().chars().take(600).collect(),
        ))
    }
}

fn tables_present(listing: &str) -> (bool, bool) {
    let mut present = (false, false);
    for line in listing.lines() {
        match line.trim() {
            "table inet lango" => present.0 = true,
            "table inet lango_gate" => present.1 = true,
            _ => {}
        }
    }
    present
}

impl NftFirewall {
    /// Whether a device's elements, capped at `MAX_TIMEOUT_MS`, are halfway to running out
    /// before its session does: then the whole table is rewritten (about once in ten days).
    fn needs_refresh(state: &NftState, desired: &Desired) -> bool {
        let cap = MAX_TIMEOUT_MS as i64;
        if desired.at_ms <= state.rewritten_at.saturating_add(cap / 2) {
            return false;
        }
        desired.clients.iter().any(|c| {
            state.written_at.get(&c.session_id).is_some_and(|at| {
                c.deadline_ms > at.saturating_add(cap) && desired.at_ms > at.saturating_add(cap / 2)
            })
        })
    }

    /// The change from the last applied state in one small transaction (`send`). Devices that
    /// change (an extension, a new address) get their counters carried and their quota's use
    /// read first, each with one small nft call (the CLI: not on the path of a grant, a kick or
    /// an expiry); devices that come or go cost nothing else.
    fn apply_delta(
        &self,
        old: &Desired,
        desired: &Arc<Desired>,
    ) -> Result<Vec<IpAddr>, FirewallError> {
        let d = delta(old, desired);
        let added_ids: HashSet<u64> = d.added.iter().map(|c| c.session_id).collect();
        let changing: Vec<AllowedClient> = d
            .removed
            .iter()
            .filter(|c| added_ids.contains(&c.session_id) && c.deadline_ms > desired.at_ms)
            .map(|c| (*c).clone())
            .collect();
        let counted = self.read_before_change(&changing)?;
        let mut added: Vec<AllowedClient> = d.added.iter().map(|c| (*c).clone()).collect();
        carry_quotas(&mut added, &counted);
        let change = Delta {
            removed: d.removed.clone(),
            added: added.iter().collect(),
            kept: d.kept.clone(),
        };
        let mut ops = ops(&change, desired.at_ms);
        ops.extend(allow_ops(old, desired));
        if !ops.is_empty() {
            self.send(&ops)?;
        }
        let mut state = self.lock();
        let old_state = Desired {
            clients: changing,
            at_ms: desired.at_ms,
            ..Default::default()
        };
        for (session, (up, down)) in usage_of(&old_state, &counted) {
            let entry = state.carry.entry(session).or_default();
            entry.0 += up;
            entry.1 += down;
        }
        for c in &d.removed {
            if !added_ids.contains(&c.session_id) {
                state.carry.remove(&c.session_id);
                state.written_at.remove(&c.session_id);
            }
        }
        for c in &added {
            state.written_at.insert(c.session_id, desired.at_ms);
        }
        let at = desired.at_ms;
        for c in d.removed.iter().filter(|c| c.deadline_ms <= at) {
            for op in objects_of(c, !d.kept.contains(&c.group)) {
                // A purchase's shared quota once, however many of its devices expired.
                if !state.stale.iter().any(|(_, o)| *o == op) {
                    state.stale.push((at, op));
                }
            }
        }
        let stale = stale_due(&mut state.stale, at);
        state.applied = Some(desired.clone());
        drop(state);
        if !stale.is_empty() {
            // Best effort: what still fails goes with the next rewrite of the table.
            if let Err(e) = self.send(&stale) {
                log::debug!("firewall: stale objects not deleted yet: {e}");
            }
        }
        // What went, less what is still let through (a device that changed keeps most).
        let went: Vec<IpAddr> = d.removed.iter().flat_map(|c| c.addresses()).collect();
        Ok(not_allowed_in(desired, went))
    }
}

impl NftFirewall {
    /// Puts `desired` in the kernel: one small transaction for a change, the whole table at
    /// a start, after a HUP or when the kernel refuses the change.
    /// Returns the addresses that lost access (`Firewall::apply`).
    fn apply_state(&self, desired: &Arc<Desired>) -> Result<Vec<IpAddr>, FirewallError> {
        // A skeleton loaded ahead (`prepare`) is a table with no device yet: as good as none.
        let ready = self.take_prepared();
        // Two table names: cheap even with thousands of devices.
        let (exists, gate, over_netlink) = self.tables()?;
        let ready = ready.filter(|_| exists);
        let exists = exists && ready.is_none();
        // A table that is not there yet has no guest to keep online meanwhile: its devices go
        // over netlink (`restore`), after its skeleton. One that is there is replaced in one
        // transaction.
        let cold = !exists && over_netlink;
        // The gate first: while it stands, a missing or half-built lango table keeps guests
        // out instead of letting them in. On a cold start it goes in the same `nft -f` as the
        // skeleton, ahead of it (one process fewer).
        let mut gate_script = self.gate_due(gate);
        if !cold {
            if let Some(text) = gate_script.take() {
                self.load_gate(text, gate)?;
            }
        }
        let (previous, refresh) = {
            let state = self.lock();
            (state.applied.clone(), Self::needs_refresh(&state, desired))
        };
        if exists && !refresh {
            if let Some(old) = &previous {
                if unchanged(old, desired) {
                    return Ok(Vec::new());
                }
                // One small transaction for the change; the whole table only if the kernel
                // refuses it (an element gone behind lango's back, say).
                match self.apply_delta(old, desired) {
                    Ok(lost) => return Ok(lost),
                    Err(e) => {
                        log::info!("firewall: small update refused ({e}); rewriting the table")
                    }
                }
            }
        }
        // Read before replacing, also at the first apply after a restart: what the kernel
        // counted against each quota is carried into the new objects, never reset.
        let live = if exists { self.read_counters() } else { None };
        let mut state = self.lock();
        // The table is about to be replaced and its counters reset: keep what they counted.
        if let (Some(counters), Some(old)) = (&live, &state.applied) {
            for (session, (up, down)) in usage_of(old, counters) {
                let entry = state.carry.entry(session).or_default();
                entry.0 += up;
                entry.1 += down;
            }
        }
        drop(state);
        let mut desired = Desired::clone(desired);
        if let Some(counters) = &live {
            carry_quotas(&mut desired.clients, counters);
        }
        let restored = cold && self.restore(&desired, gate_script, gate, ready)?;
        if !restored {
            let script = render(&desired, &self.options);
            self.nft(&["-f", "-"], Some(&script))?;
        }
        let mut state = self.lock();
        let ids: HashSet<u64> = desired.clients.iter().map(|c| c.session_id).collect();
        state.carry.retain(|id, _| ids.contains(id));
        state.written_at = desired
            .clients
            .iter()
            .map(|c| (c.session_id, desired.at_ms))
            .collect();
        state.rewritten_at = desired.at_ms;
        // A rewritten table has no stale objects.
        state.stale.clear();
        let lost = previous.map_or_else(Vec::new, |old| lost_addresses(&old, &desired));
        state.applied = Some(Arc::new(desired));
        if !exists {
            log::info!(
                "firewall: table inet lango created with {} paid devices",
                ids.len()
            );
        }
        Ok(lost)
    }
}

impl Firewall for NftFirewall {
    fn apply(&self, desired: &Desired) -> Result<Vec<IpAddr>, FirewallError> {
        self.apply_state(&Arc::new(desired.clone()))
    }

    fn apply_shared(&self, desired: Arc<Desired>) -> Result<Vec<IpAddr>, FirewallError> {
        self.apply_state(&desired)
    }

    fn usage_one(&self, mac: Mac) -> Result<Option<Usage>, FirewallError> {
        self.read_one(mac)
    }

    fn usage(&self) -> Result<Vec<Usage>, FirewallError> {
        // Nothing applied yet (the first wake after a start): no device to read for.
        if self.lock().applied.is_none() {
            return Ok(Vec::new());
        }
        let counters = self.read_counters().unwrap_or_default();
        let state = self.lock();
        let Some(desired) = &state.applied else {
            return Ok(Vec::new());
        };
        let live = usage_of(desired, &counters);
        Ok(desired
            .clients
            .iter()
            .map(|c| {
                let (up, down) = live.get(&c.session_id).copied().unwrap_or_default();
                let (carry_up, carry_down) =
                    state.carry.get(&c.session_id).copied().unwrap_or_default();
                Usage {
                    mac: c.mac,
                    bytes_up: up + carry_up,
                    bytes_down: down + carry_down,
                }
            })
            .collect())
    }

    /// Nothing before the table exists (a start): asked first, over netlink, so that no nft
    /// process starts to list a set that is not there.
    fn ipv6_seen(&self) -> Result<Vec<(Mac, Ipv6Addr)>, FirewallError> {
        if self.table_missing() {
            return Ok(Vec::new());
        }
        Ok(self.read_set("seen6")?.seen6)
    }

    /// Nothing before the table exists, as `ipv6_seen`.
    fn ipv6_allowed(&self) -> Result<Vec<(Mac, Ipv6Addr)>, FirewallError> {
        if self.table_missing() {
            return Ok(Vec::new());
        }
        Ok(self
            .read_set("paid6")?
            .up
            .into_keys()
            .filter_map(|(mac, addr)| match addr {
                IpAddr::V6(v6) => Some((mac, v6)),
                IpAddr::V4(_) => None,
            })
            .collect())
    }

    /// Each address into `garden4`/`garden6` with its timeout, in one small transaction. An
    /// address already there is deleted and added again in the same batch, so that its timeout
    /// starts over on kernels that do not update it on an add; where the delete fails (the
    /// address is new), the adds go alone.
    fn open_garden(&self, addresses: &[(IpAddr, u64)]) -> Result<(), FirewallError> {
        let element = |ip: &IpAddr| delta::Element {
            set: if ip.is_ipv4() { "garden4" } else { "garden6" },
            key: delta::Key::Ip(*ip),
            object: None,
        };
        let adds: Vec<Op> = addresses
            .iter()
            .map(|(ip, ms)| Op::AddElement {
                element: element(ip),
                timeout_ms: (*ms).max(1),
            })
            .collect();
        let mut refresh: Vec<Op> = addresses
            .iter()
            .map(|(ip, _)| Op::DelElement(element(ip)))
            .collect();
        refresh.extend(adds.iter().cloned());
        if adds.is_empty() || self.send(&refresh).is_ok() {
            return Ok(());
        }
        self.send(&adds)
    }

    fn forget(&self, addresses: &[IpAddr]) -> Result<(), FirewallError> {
        conntrack::forget(self.kernel.as_ref(), self.runner.as_ref(), addresses)
    }

    #[cfg(not(target_arch = "mips"))]
    fn prepare(&self, devices: usize, allowed: &[Mac]) {
        self.prepare_skeleton(devices, allowed);
    }
}

/// Pure: lowers each quota left to what the live kernel object says is left, so that a rebuilt
/// table starts from the bytes really used (the store only knows them as of the last reading).
fn carry_quotas(clients: &mut [AllowedClient], live: &Counters) {
    for client in clients {
        if let (Some(left), Some(total), Some(used)) = (
            client.quota_left,
            client.quota_total,
            live.quota_used.get(&client.group),
        ) {
            client.quota_left = Some(left.min(total.saturating_sub(*used)));
        }
    }
}
