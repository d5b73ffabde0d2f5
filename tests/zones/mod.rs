//! Time zones for the Rust tests that count how often the engine asks for an offset: offsets
//! are meant to be asked once per window (README Windows), and these tests prove it.

use std::cell::Cell;
use wasm_quota::core::{FakeZones, Result, TimeZones};

/// `FakeZones`, counting the offsets asked of it.
#[derive(Debug, Default)]
pub struct CountingZones(Cell<usize>);

impl CountingZones {
    /// Offsets asked so far.
    pub fn asked(&self) -> usize {
        self.0.get()
    }
}

impl TimeZones for CountingZones {
    fn offset_ms(&self, zone: &str, utc_ms: i64) -> Result<i64> {
        self.0.set(self.0.get() + 1);
        FakeZones.offset_ms(zone, utc_ms)
    }
}
