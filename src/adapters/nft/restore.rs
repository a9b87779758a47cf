//! The restore of a table that is not there (a start, a fw4 restart): the gate and the
//! table's skeleton through one `nft -f`, then every device's objects and elements over
//! netlink in as few transactions as the socket takes. The batches are encoded while the
//! `nft` process loads the skeleton, so neither waits for the other. At a start the skeleton
//! can load earlier still, while the store reads the devices (`prepare_skeleton`).

use std::time::Instant;

use super::netlink::{self, Batch};
use super::render::{render_sized, set_sizes};
use super::{restore_groups, socket, NetlinkError, NftFirewall};
use crate::core::firewall::{Desired, FirewallError};
use crate::core::model::Mac;

/// A skeleton loading ahead of the first apply (`Firewall::prepare`), in a thread of its own.
#[cfg(not(target_arch = "mips"))]
pub(super) struct Prepared {
    ready: Ready,
    /// The gate script loaded with it, and whether the gate table was there before.
    gate: Option<(String, bool)>,
    loading: std::thread::JoinHandle<Result<String, FirewallError>>,
}

/// What a skeleton loaded ahead holds, to be checked against the first apply's devices.
pub(super) struct Ready {
    sizes: Vec<(&'static str, usize)>,
    allowed: Vec<Mac>,
}

/// A restore's batches: as large as the socket takes, from this (10,000 devices are about
/// 3.5 MB of messages: one transaction), halved down to `RESTORE_MIN_BYTES` while a send is
/// refused as too large.
const RESTORE_BATCH_BYTES: usize = 8 << 20;
const RESTORE_MIN_BYTES: usize = 64 << 10;

impl NftFirewall {
    /// The table created from nothing (a start, a fw4 restart): its skeleton (sets, maps,
    /// chains, the allow-list; no device) with one small `nft -f` (after the gate, when it
    /// is due), then every device's objects
    /// and elements over netlink in as few transactions as the socket takes (one where it
    /// takes the whole; halved while a send is too large), each device whole in one of them.
    /// Returns whether it is done; if not (netlink refused or gone after the skeleton), the
    /// caller replaces the table with the full script, which heals a partial restore too.
    ///
    /// Meanwhile a paid guest is treated as unpaid by lango's table, for the time the batches
    /// take (about 0.14 s at 10,000 devices on x86_64): its DNS and port 80 go to lango's
    /// responder and portal (which tells a paid device it is online), its forwarded packets are
    /// refused; before the skeleton, with no lango table, the gate dropped them all the same.
    /// A skeleton loaded ahead (`ready`) that takes these devices and has their allow-list is
    /// kept; any other is loaded again, sized for them.
    pub(super) fn restore(
        &self,
        desired: &Desired,
        gate: Option<String>,
        gate_present: bool,
        ready: Option<Ready>,
    ) -> Result<bool, FirewallError> {
        let sizes = set_sizes(desired);
        let started = Instant::now();
        // None on MIPS (nothing loads ahead there): the check goes from its build.
        let ready = ready.filter(|_| cfg!(not(target_arch = "mips")));
        let (loaded, mut encoded) = match ready {
            Some(r) if gate.is_none() && r.allowed == desired.allowed && fits(&r, &sizes) => (
                Ok(String::new()),
                Some(netlink::bulk(restore_groups(desired), RESTORE_BATCH_BYTES)),
            ),
            _ => {
                let skeleton = Desired {
                    clients: Vec::new(),
                    at_ms: desired.at_ms,
                    allowed: desired.allowed.clone(),
                };
                let mut script = gate.clone().unwrap_or_default();
                script.push_str(&render_sized(&skeleton, &sizes, &self.options));
                self.load_while_encoding(&script, desired)
            }
        };
        let skeleton_ms = started.elapsed().as_millis();
        if let Err(e) = loaded {
            // Never leave the gate out for want of lango's table.
            if let Some(text) = gate {
                self.load_gate(text, gate_present)?;
            }
            return Err(e);
        }
        if let Some(text) = gate {
            self.gate_loaded(text, gate_present);
        }
        let mut max_bytes = RESTORE_BATCH_BYTES;
        loop {
            let batches: Vec<Batch> = encoded
                .take()
                .unwrap_or_else(|| netlink::bulk(restore_groups(desired), max_bytes));
            let sending = Instant::now();
            let mut sent = 0;
            for batch in &batches {
                match self.kernel.exchange(batch) {
                    Ok(answers) => {
                        if let Some(at) = answers.errnos.iter().position(|e| *e != 0) {
                            log::warn!(
                                "firewall: the kernel refused message {} of a restore batch: {}",
                                at + 1,
                                socket::errno_text(answers.errnos[at])
                            );
                            return Ok(false);
                        }
                        sent += 1;
                    }
                    // Nothing sent yet: the same in smaller batches.
                    Err(NetlinkError::TooLarge(e))
                        if sent == 0 && max_bytes > RESTORE_MIN_BYTES =>
                    {
                        log::debug!("firewall: restore batch of {max_bytes} bytes: {e}");
                        max_bytes /= 2;
                        break;
                    }
                    Err(e) => {
                        log::warn!("firewall: restore over netlink failed ({e}); nft -f instead");
                        return Ok(false);
                    }
                }
            }
            if sent == batches.len() {
                log::info!(
                    "firewall: {} paid devices restored over netlink in {sent} batches \
                     (skeleton and encoding {skeleton_ms} ms, kernel {} ms)",
                    desired.clients.len(),
                    sending.elapsed().as_millis()
                );
                return Ok(true);
            }
        }
    }

    /// Starts loading the gate (when due) and the skeleton of a table that is not there, sized
    /// for `devices`, in a thread of its own: at a start, while the store reads the devices.
    /// Nothing where the table is there or netlink does not answer (the first apply then does
    /// what it always does).
    #[cfg(not(target_arch = "mips"))]
    pub(super) fn prepare_skeleton(&self, devices: usize, allowed: &[Mac]) {
        let Ok((false, gate_present, true)) = self.tables() else {
            return;
        };
        let ready = Ready {
            sizes: super::render::sizes_for_devices(devices),
            allowed: allowed.to_vec(),
        };
        let skeleton = Desired {
            allowed: ready.allowed.clone(),
            ..Desired::default()
        };
        let gate = self.gate_due(gate_present);
        let mut script = gate.clone().unwrap_or_default();
        script.push_str(&render_sized(&skeleton, &ready.sizes, &self.options));
        let runner = self.runner.clone();
        let loading = std::thread::Builder::new()
            .name("nft-skeleton".into())
            .spawn(move || super::run_nft(runner.as_ref(), &["-f", "-"], Some(&script)));
        match loading {
            Ok(loading) => {
                self.lock().prepared = Some(Prepared {
                    ready,
                    gate: gate.map(|text| (text, gate_present)),
                    loading,
                });
            }
            Err(e) => log::debug!("firewall: the skeleton is not loaded ahead: {e}"),
        }
    }

    /// The skeleton loaded ahead (`prepare_skeleton`), once it is in; none if none was started
    /// or nft refused it (the apply then loads its own).
    pub(super) fn take_prepared(&self) -> Option<Ready> {
        #[cfg(not(target_arch = "mips"))]
        {
            let prepared = self.lock().prepared.take()?;
            match prepared.loading.join() {
                Ok(Ok(_)) => {
                    if let Some((text, present)) = prepared.gate {
                        self.gate_loaded(text, present);
                    }
                    Some(prepared.ready)
                }
                Ok(Err(e)) => {
                    log::warn!("firewall: the table's skeleton did not load ahead: {e}");
                    None
                }
                Err(_) => None,
            }
        }
        #[cfg(target_arch = "mips")]
        None
    }

    /// Loads `script` with nft and encodes `desired`'s devices at once: the skeleton loads in
    /// the `nft` process, on another core, while this thread encodes; where no thread can be
    /// started, one after the other.
    #[cfg(not(target_arch = "mips"))]
    fn load_while_encoding(
        &self,
        script: &str,
        desired: &Desired,
    ) -> (Result<String, FirewallError>, Option<Vec<Batch>>) {
        std::thread::scope(|s| {
            let loading = std::thread::Builder::new()
                .name("nft-skeleton".into())
                .spawn_scoped(s, || self.nft(&["-f", "-"], Some(script)));
            let encoded = netlink::bulk(restore_groups(desired), RESTORE_BATCH_BYTES);
            let loaded = match loading {
                Ok(handle) => handle.join().unwrap_or_else(|_| {
                    Err(FirewallError::Apply("the skeleton's loader failed".into()))
                }),
                Err(_) => self.nft(&["-f", "-"], Some(script)),
            };
            (loaded, Some(encoded))
        })
    }

    /// One after the other on MIPS: its 24Kc routers have one core, so a thread would only cost
    /// bytes. The batch is encoded after the skeleton is in.
    #[cfg(target_arch = "mips")]
    fn load_while_encoding(
        &self,
        script: &str,
        _desired: &Desired,
    ) -> (Result<String, FirewallError>, Option<Vec<Batch>>) {
        (self.nft(&["-f", "-"], Some(script)), None)
    }
}

/// Whether a skeleton loaded ahead takes what `need` asks (`set_sizes`).
fn fits(ready: &Ready, need: &[(&'static str, usize)]) -> bool {
    super::render::fits(&ready.sizes, need)
}
