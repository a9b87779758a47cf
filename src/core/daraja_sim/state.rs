//! The simulator's state as JSON, so that `lango sim --state FILE` keeps its prompts, tokens,
//! pending callbacks and fault switches across its own restarts. The settings are not part of
//! it: they come from the command line and lango's config at each start.

use serde::{Deserialize, Serialize};

use super::*;

/// Bumped when the shape changes; an older file is refused rather than half read.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Saved {
    version: u32,
    faults: Faults,
    tokens: Vec<(String, Timestamp)>,
    sessions: Vec<StkSession>,
    /// (phone, amount, when): the Rule 17 memory.
    last_push: Vec<(String, i64, Timestamp)>,
    seq: u64,
    rng: u64,
    decline_next: Option<i64>,
    deliveries: Vec<Delivery>,
}

impl SimCore {
    /// Everything but the settings, as JSON.
    pub fn save(&self) -> String {
        let saved = Saved {
            version: VERSION,
            faults: self.faults.clone(),
            tokens: self.tokens.clone(),
            sessions: self.sessions.clone(),
            last_push: self
                .last_push
                .iter()
                .map(|((phone, amount), at)| (phone.clone(), *amount, *at))
                .collect(),
            seq: self.seq,
            rng: self.rng,
            decline_next: self.decline_next,
            deliveries: self.deliveries.clone(),
        };
        serde_json::to_string(&saved).unwrap_or_default()
    }

    /// A simulator with `settings` and the state `save` wrote. A callback that was in flight
    /// when the state was saved is sent again.
    pub fn restore(settings: SimSettings, text: &str) -> Result<SimCore, String> {
        let saved: Saved =
            serde_json::from_str(text).map_err(|e| format!("not a simulator state: {e}"))?;
        if saved.version != VERSION {
            return Err(format!(
                "simulator state version {} (this lango reads {VERSION})",
                saved.version
            ));
        }
        let mut core = SimCore::new(settings);
        core.faults = saved.faults;
        core.tokens = saved.tokens;
        core.sessions = saved.sessions;
        core.last_push = saved
            .last_push
            .into_iter()
            .map(|(phone, amount, at)| ((phone, amount), at))
            .collect();
        core.seq = saved.seq;
        core.rng = saved.rng;
        core.decline_next = saved.decline_next;
        core.deliveries = saved.deliveries;
        for delivery in &mut core.deliveries {
            delivery.in_flight = false;
        }
        Ok(core)
    }
}
