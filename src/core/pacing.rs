//! How fast lango asks a payment provider about open payments: `Pacer` gives each status query
//! a one-second slot with at most `QUERIES_PER_SEC` queries in it, so that a restart (which
//! makes every open payment due at once) or a busy hour never bursts; `Throttle` backs every
//! query off after a rate-limit answer (Daraja's `500.003.02` Spike Arrest and `500.003.03`
//! Quota Violation, `GatewayError::Throttled`), doubling up to a minute, and forgets it at the
//! first answer that is not one. `Pacing` keeps one of each per `Provider`: Airtel's rate
//! limit says nothing of Safaricom's, so a 429 from one wallet never delays another's queries.
//! Pure: times in, times out.

use std::collections::BTreeMap;

use crate::core::provider::Provider;
use crate::core::time::Timestamp;

/// Status queries started in one second, at most. Safaricom publishes no number (docs/daraja.md,
/// Limits); the simulator's spike limit is 10 a second, and 2 a second asks about 120 open
/// payments a minute, more than a router ever has.
pub(crate) const QUERIES_PER_SEC: u32 = 2;

/// The slots given out, per second; seconds in the past are dropped at each call, so the map
/// holds at most one entry per open payment.
#[derive(Default)]
pub(crate) struct Pacer {
    used: BTreeMap<Timestamp, u32>,
}

impl Pacer {
    /// The first second at or after `at` (and not before `now`) with a free slot; takes it.
    pub(crate) fn slot(&mut self, at: Timestamp, now: Timestamp) -> Timestamp {
        self.used = self.used.split_off(&now);
        let mut second = at.max(now);
        loop {
            let used = self.used.entry(second).or_insert(0);
            if *used < QUERIES_PER_SEC {
                *used += 1;
                return second;
            }
            second += 1;
        }
    }
}

/// Longest wait after rate-limit answers in a row.
const MAX_BACKOFF_SECS: i64 = 60;

/// The back-off after rate-limit answers: none, then 2, 4, 8 … 60 s.
#[derive(Default)]
pub(crate) struct Throttle {
    in_a_row: u32,
    until: Timestamp,
}

impl Throttle {
    /// A rate-limit answer at `now`: no query before the returned time.
    pub(crate) fn hit(&mut self, now: Timestamp) -> Timestamp {
        self.in_a_row = self.in_a_row.saturating_add(1);
        let wait = 1_i64
            .checked_shl(self.in_a_row.min(6))
            .unwrap_or(MAX_BACKOFF_SECS)
            .min(MAX_BACKOFF_SECS);
        self.until = self.until.max(now + wait);
        self.until
    }

    /// Any answer that is not a rate limit: the provider is taking queries again.
    pub(crate) fn clear(&mut self) {
        self.in_a_row = 0;
    }

    /// No query before this time.
    pub(crate) fn until(&self) -> Timestamp {
        self.until
    }
}

/// One provider's slots and back-off.
#[derive(Default)]
struct Lane {
    pacer: Pacer,
    throttle: Throttle,
}

/// The slots and back-offs of every provider, each on its own: one lane per wallet lango
/// knows, indexed by `Provider` (an array: a map here cost 4 KB in the MIPS build).
#[derive(Default)]
pub(crate) struct Pacing {
    lanes: [Lane; 4],
}

impl Pacing {
    fn index(provider: Provider) -> usize {
        match provider {
            Provider::Mpesa => 0,
            Provider::Airtel => 1,
            Provider::Vodacom => 2,
            Provider::ClickPesa => 3,
        }
    }

    fn lane(&mut self, provider: Provider) -> &mut Lane {
        &mut self.lanes[Pacing::index(provider)]
    }

    /// A query slot for `provider` at or after `at`, never before `now` nor before the end of
    /// that provider's back-off.
    pub(crate) fn slot(&mut self, provider: Provider, at: Timestamp, now: Timestamp) -> Timestamp {
        let lane = self.lane(provider);
        let at = at.max(lane.throttle.until());
        lane.pacer.slot(at, now)
    }

    /// A rate-limit answer from `provider` at `now`: its queries wait until the returned time.
    pub(crate) fn hit(&mut self, provider: Provider, now: Timestamp) -> Timestamp {
        self.lane(provider).throttle.hit(now)
    }

    /// An answer from `provider` that is not a rate limit.
    pub(crate) fn clear(&mut self, provider: Provider) {
        self.lane(provider).throttle.clear();
    }

    /// No query to `provider` before this time.
    pub(crate) fn until(&self, provider: Provider) -> Timestamp {
        self.lanes[Pacing::index(provider)].throttle.until()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_spread_over_seconds() {
        let mut pacer = Pacer::default();
        let slots: Vec<Timestamp> = (0..7).map(|_| pacer.slot(100, 100)).collect();
        assert_eq!(slots, [100, 100, 101, 101, 102, 102, 103]);
        // A later wish keeps its own time when that second is free, and fills a gap before it.
        assert_eq!(pacer.slot(110, 100), 110);
        assert_eq!(pacer.slot(103, 100), 103);
        assert_eq!(pacer.slot(103, 100), 104);
        // Never in the past; past seconds are forgotten.
        assert_eq!(pacer.slot(50, 200), 200);
        assert_eq!(pacer.used.len(), 1);
    }

    #[test]
    fn rate_limits_back_off_doubling_to_a_minute_and_reset() {
        let mut throttle = Throttle::default();
        let waits: Vec<i64> = (0..8).map(|_| throttle.hit(1000) - 1000).collect();
        // Waits never shorten an earlier one: 2, 4, 8 … from the same `now`.
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
        throttle.clear();
        assert_eq!(throttle.hit(2000), 2002);
        assert_eq!(throttle.until(), 2002);
    }

    #[test]
    fn each_provider_backs_off_and_is_paced_on_its_own() {
        let mut pacing = Pacing::default();
        // Airtel rate-limits three times: its queries wait 2, 4, then 8 s.
        for _ in 0..3 {
            pacing.hit(Provider::Airtel, 1000);
        }
        assert_eq!(pacing.until(Provider::Airtel), 1008);
        assert_eq!(pacing.slot(Provider::Airtel, 1000, 1000), 1008);
        // M-Pesa is not held back, and has its own slots in the same second.
        assert_eq!(pacing.until(Provider::Mpesa), Timestamp::default());
        let mpesa: Vec<Timestamp> = (0..3)
            .map(|_| pacing.slot(Provider::Mpesa, 1000, 1000))
            .collect();
        assert_eq!(mpesa, [1000, 1000, 1001]);
        assert_eq!(pacing.slot(Provider::Airtel, 1000, 1000), 1008);
        // Clearing one clears only its count of rate limits in a row.
        pacing.hit(Provider::Mpesa, 1000);
        pacing.clear(Provider::Airtel);
        assert_eq!(pacing.hit(Provider::Airtel, 1010), 1012);
        assert_eq!(pacing.hit(Provider::Mpesa, 1010), 1014);
    }
}
