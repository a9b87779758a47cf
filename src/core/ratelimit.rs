//! Per-key rate limits for the public endpoints (per device, per phone number): token buckets
//! in memory, bounded in size. `check` takes `now`, so the limiter is pure apart from its own
//! table; a refusal says how long to wait (for `Retry-After`).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::core::locks::lock;

/// A limit: `burst` actions at once, then one every `per_secs / burst` seconds on average.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limit {
    pub burst: u32,
    pub per_secs: u32,
}

/// Voucher and login attempts: 10 a minute per device (codes have ~49 bits; this makes
/// guessing hopeless and a typo harmless).
pub(crate) const ATTEMPT: Limit = Limit {
    burst: 10,
    per_secs: 60,
};
/// Moving a purchase to a new MAC: 5 proofs an hour per device.
pub(crate) const MOVE: Limit = Limit {
    burst: 5,
    per_secs: 3600,
};
/// Every public POST (portal forms and `/api/portal/*`), per source address and per device:
/// 30 a minute, far above what a person types, far below a script (issue 13).
pub(crate) const POST: Limit = Limit {
    burst: 30,
    per_secs: 60,
};
/// Starting a purchase (`/buy`, `/api/portal/mpesa/initiate`), per source address and per
/// device: 10 per 10 minutes, on top of `POST`. The purchase's own limits
/// (`core::payments::check_limits`) read the store; this refuses a flood before that.
pub(crate) const BUY: Limit = Limit {
    burst: 10,
    per_secs: 600,
};
/// Everything else on the guest API: 120 a minute per device.
pub(crate) const API: Limit = Limit {
    burst: 120,
    per_secs: 60,
};

/// The key for a source address: IPv4 as is, IPv6 by its /64 (a device can use many addresses
/// of its network's prefix, but not another prefix).
pub(crate) fn source_key(ip: std::net::IpAddr) -> String {
    match ip.to_canonical() {
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        v4 => v4.to_string(),
    }
}

/// Entries kept at most; beyond this the fullest (idle) buckets are forgotten first.
const MAX_KEYS: usize = 4096;

#[derive(Default)]
pub struct RateLimiter {
    /// key → (tokens in thousandths, last refill in ms)
    buckets: Mutex<HashMap<String, (u64, i64)>>,
}

impl RateLimiter {
    /// Takes one token for `key` under `limit` at `now_ms`. `Err(secs)` = wait this long.
    pub(crate) fn check(&self, key: &str, limit: Limit, now_ms: i64) -> Result<(), u64> {
        let full = u64::from(limit.burst) * 1000;
        // Thousandths of a token gained per millisecond, scaled: refill the whole burst over
        // `per_secs`.
        let per_ms = |elapsed: i64| -> u64 {
            let elapsed = u64::try_from(elapsed).unwrap_or(0);
            elapsed.saturating_mul(full) / (u64::from(limit.per_secs.max(1)) * 1000)
        };
        let mut buckets = lock(&self.buckets);
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            // Forget idle keys: those whose bucket has refilled.
            buckets.retain(|_, (tokens, at)| (*tokens + per_ms(now_ms - *at)) < full);
            if buckets.len() >= MAX_KEYS {
                buckets.clear();
            }
        }
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((full, now_ms));
        *tokens = (*tokens + per_ms(now_ms - *at)).min(full);
        *at = now_ms;
        if *tokens >= 1000 {
            *tokens -= 1000;
            return Ok(());
        }
        let missing = 1000 - *tokens;
        let ms = missing * u64::from(limit.per_secs) * 1000 / full.max(1);
        Err(ms.div_ceil(1000).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three in ten minutes.
    const STK: Limit = Limit {
        burst: 3,
        per_secs: 600,
    };

    #[test]
    fn burst_then_refill() {
        let rl = RateLimiter::default();
        for _ in 0..3 {
            assert_eq!(rl.check("dev", STK, 0), Ok(()));
        }
        assert_eq!(rl.check("dev", STK, 0), Err(200));
        assert_eq!(rl.check("other", STK, 0), Ok(()), "keys are independent");
        assert_eq!(rl.check("dev", STK, 199_000), Err(1));
        assert_eq!(rl.check("dev", STK, 200_000), Ok(()));
    }

    #[test]
    fn ipv6_sources_count_by_prefix() {
        let a: std::net::IpAddr = "2001:db8:1:2::10".parse().unwrap();
        let b: std::net::IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let c: std::net::IpAddr = "::ffff:192.168.1.5".parse().unwrap();
        assert_eq!(source_key(a), source_key(b));
        assert_eq!(source_key(c), "192.168.1.5");
    }

    #[test]
    fn the_table_stays_bounded() {
        let rl = RateLimiter::default();
        for i in 0..10_000 {
            let _ = rl.check(&format!("k{i}"), API, i64::from(i));
        }
        assert!(rl.buckets.lock().unwrap().len() <= MAX_KEYS);
    }
}
