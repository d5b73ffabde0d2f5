//! Time is injected: the engine never reads a clock itself. Each call takes `now_ms`
//! (milliseconds since the Unix epoch); hosts and tests supply it through a [`Clock`].

use std::cell::Cell;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, as the host sees them (`Date.now()` in JS).
pub trait Clock {
    fn now_ms(&self) -> i64;
}

/// A clock tests move by hand. Clones share the same time.
#[derive(Clone, Debug, Default)]
pub struct FakeClock(Rc<Cell<i64>>);

impl FakeClock {
    pub fn at(ms: i64) -> Self {
        FakeClock(Rc::new(Cell::new(ms)))
    }
    pub fn set(&self, ms: i64) {
        self.0.set(ms);
    }
    pub fn advance(&self, ms: i64) {
        self.0.set(self.0.get() + ms);
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.get()
    }
}

/// The host's wall clock, for native hosts: what `Date.now()` is to the JS engine. The engine
/// refuses a reading before 1970 (`INVALID_CONFIG`), so a clock set before the epoch reads as
/// -1 rather than as the epoch.
///
/// ```
/// use wasm_quota::core::{Clock, SystemClock};
/// let now = SystemClock.now_ms();
/// assert!(now > 1_795_780_800_000, "after 2026-11-27"); // ms since the epoch
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
            Err(_) => -1,
        }
    }
}

/// Earliest and latest instants the engine accepts (years 1970..=9999), so that every
/// window label has four-digit years and every computation stays far from overflow.
pub const MIN_MS: i64 = 0;
pub const MAX_MS: i64 = 253_402_300_799_999;
