//! The simulator's state as JSON, so that `lango sim --state FILE` keeps its prompts, tokens,
//! pending callbacks and fault switches across its own restarts. The settings are not part of
//! it: they come from the command line and lango's config at each start. Read field by field
//! from a `serde_json::Value` rather than with derived deserializers, which cost about 40 KB of
//! code in a build with the simulator (docs/size.md).

use serde_json::{json, Value};

use super::*;

/// Bumped when the shape changes; an older file is refused rather than half read.
const VERSION: u64 = 1;

impl SimCore {
    /// Everything but the settings, as JSON.
    pub(crate) fn save(&self) -> String {
        let last_push: Vec<Value> = self
            .last_push
            .iter()
            .map(|((phone, amount), at)| json!([phone, amount, at]))
            .collect();
        let tokens: Vec<Value> = self
            .tokens
            .iter()
            .map(|(token, until)| json!([token, until]))
            .collect();
        json!({
            "version": VERSION,
            "faults": self.faults,
            "tokens": tokens,
            "sessions": self.sessions,
            "last_push": last_push,
            "seq": self.seq,
            "rng": self.rng,
            "decline_next": self.decline_next,
            "deliveries": self.deliveries,
        })
        .to_string()
    }

    /// A simulator with `settings` and the state `save` wrote. A callback that was in flight
    /// when the state was saved is sent again.
    pub(crate) fn restore(settings: SimSettings, saved: &str) -> Result<SimCore, String> {
        let v: Value =
            serde_json::from_str(saved).map_err(|e| format!("not a simulator state: {e}"))?;
        match v.get("version").and_then(Value::as_u64) {
            Some(VERSION) => {}
            other => {
                return Err(format!(
                    "simulator state version {other:?} (this lango reads {VERSION})"
                ))
            }
        }
        let mut core = SimCore::new(settings);
        core.faults = serde_json::from_value(v.get("faults").cloned().unwrap_or(Value::Null))
            .map_err(|e| format!("faults: {e}"))?;
        for t in array(&v, "tokens")? {
            core.tokens.push((text_at(t, 0)?, int_at(t, 1)?));
        }
        for p in array(&v, "last_push")? {
            core.last_push
                .insert((text_at(p, 0)?, int_at(p, 1)?), int_at(p, 2)?);
        }
        for s in array(&v, "sessions")? {
            core.sessions.push(StkSession {
                checkout_id: text(s, "checkout_id")?,
                merchant_request_id: text(s, "merchant_request_id")?,
                shortcode: text(s, "shortcode")?,
                phone: text(s, "phone")?,
                amount: int(s, "amount")?,
                callback_url: text(s, "callback_url")?,
                created_at: int(s, "created_at")?,
                result: int(s, "result")?,
                resolve_at: int(s, "resolve_at")?,
                receipt: text(s, "receipt")?,
                scheduled: flag(s, "scheduled")?,
            });
        }
        for d in array(&v, "deliveries")? {
            core.deliveries.push(Delivery {
                id: unsigned(d, "id")?,
                checkout_id: text(d, "checkout_id")?,
                url: text(d, "url")?,
                body: text(d, "body")?,
                due: int(d, "due")?,
                attempts: small(d, "attempts")?,
                status: match d.get("status") {
                    Some(Value::Null) | None => None,
                    Some(s) => Some(
                        s.as_u64()
                            .and_then(|s| u16::try_from(s).ok())
                            .ok_or("status")?,
                    ),
                },
                dropped: flag(d, "dropped")?,
                done: flag(d, "done")?,
                in_flight: false,
                retries_left: small(d, "retries_left")?,
            });
        }
        core.seq = unsigned(&v, "seq")?;
        core.rng = unsigned(&v, "rng")?;
        core.decline_next = match v.get("decline_next") {
            Some(Value::Null) | None => None,
            Some(code) => Some(code.as_i64().ok_or("decline_next")?),
        };
        Ok(core)
    }
}

fn array<'a>(v: &'a Value, name: &str) -> Result<&'a Vec<Value>, String> {
    v.get(name)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{name}: not a list"))
}

fn text(v: &Value, name: &str) -> Result<String, String> {
    v.get(name)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("{name}: not text"))
}

fn int(v: &Value, name: &str) -> Result<i64, String> {
    v.get(name)
        .and_then(Value::as_i64)
        .ok_or_else(|| format!("{name}: not a number"))
}

fn unsigned(v: &Value, name: &str) -> Result<u64, String> {
    v.get(name)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("{name}: not a number"))
}

fn small(v: &Value, name: &str) -> Result<u32, String> {
    unsigned(v, name).and_then(|n| u32::try_from(n).map_err(|_| format!("{name}: too large")))
}

fn flag(v: &Value, name: &str) -> Result<bool, String> {
    v.get(name)
        .and_then(Value::as_bool)
        .ok_or_else(|| format!("{name}: not true or false"))
}

fn text_at(v: &Value, idx: usize) -> Result<String, String> {
    v.get(idx)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| "a list entry is not text".to_string())
}

fn int_at(v: &Value, idx: usize) -> Result<i64, String> {
    v.get(idx)
        .and_then(Value::as_i64)
        .ok_or_else(|| "a list entry is not a number".to_string())
}
