//! Time is injected: the engine never reads a clock itself. Each call takes `now_ms`
//! (milliseconds since the Unix epoch); hosts and tests supply it through a [`Clock`].

use std::cell::Cell;
use std::rc::Rc;

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

/// Earliest and latest instants the engine accepts (years 1970..=9999), so that every
/// window label has four-digit years and every computation stays far from overflow.
pub const MIN_MS: i64 = 0;
pub const MAX_MS: i64 = 253_402_300_799_999;
