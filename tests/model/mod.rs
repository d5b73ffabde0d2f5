//! The reference model for `tests/proptests.rs`: per-counter integers with the store's expiry,
//! and the quota rules stated plainly (no incr/add/set dance, no rollback, no reservations'
//! encoding). The engine must agree with it exactly when calls run one at a time, and stay
//! within its bounds when they interleave.

use std::collections::HashMap;
use wasm_quota::core::window::CLOCK_MARGIN_SECS;

pub mod records;

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;

/// One counter: (profile, feature, policy index, window start ms, window end ms).
pub type Counter = (usize, usize, usize, i64, i64);

#[derive(Debug, Default, Clone)]
pub struct Model {
    /// counter -> (count, expires at ms of the store's clock)
    counts: HashMap<Counter, (i64, i64)>,
    /// The store's clock minus the engine's: windows and TTLs are the engine's, expiry the
    /// store's. Every `now` below is the engine's.
    pub skew: i64,
}

/// Seconds from `now` to `end`, rounded up, at least 1 (a denial's `retryAfter`).
pub fn ttl_secs(now: i64, end: i64) -> i64 {
    ((end - now).max(1) + 999) / 1000
}

impl Model {
    /// When a key of a window ending at `end`, written at `now`, expires on the store's clock:
    /// its TTL is to `end` and the clock margin past it, for hosts whose clocks are behind.
    pub fn expiry(&self, now: i64, end: i64) -> i64 {
        now + self.skew + (ttl_secs(now, end) + CLOCK_MARGIN_SECS as i64) * 1000
    }

    /// The live count (0 when absent or expired).
    pub fn count(&self, c: Counter, now: i64) -> i64 {
        self.live(c, now).unwrap_or(0)
    }

    pub fn live(&self, c: Counter, now: i64) -> Option<i64> {
        match self.counts.get(&c) {
            Some(&(n, exp)) if exp > now + self.skew => Some(n),
            _ => None,
        }
    }

    /// Adds `delta` to a live counter, or creates it (as a reserve or increment does).
    pub fn add(&mut self, c: Counter, delta: i64, now: i64) {
        match self.live(c, now) {
            Some(n) => self.counts.get_mut(&c).unwrap().0 = n + delta,
            None => {
                self.counts.insert(c, (delta, self.expiry(now, c.4)));
            }
        }
    }

    /// Release: take back `amount` from a live counter, not below 0; nothing when absent.
    pub fn release(&mut self, c: Counter, amount: i64, now: i64) {
        if let Some(n) = self.live(c, now) {
            self.counts.get_mut(&c).unwrap().0 = (n - amount).max(0);
        }
    }

    /// Adopts what the store holds (after a fault made the exact count unknowable). A counter
    /// the model did not know is given the expiry a write at `now` would have.
    pub fn resync(&mut self, c: Counter, stored: Option<i64>, now: i64) {
        match stored {
            None => {
                self.counts.remove(&c);
            }
            Some(n) => match self.live(c, now) {
                Some(_) => self.counts.get_mut(&c).unwrap().0 = n,
                None => {
                    self.counts.insert(c, (n, self.expiry(now, c.4)));
                }
            },
        }
    }
}
