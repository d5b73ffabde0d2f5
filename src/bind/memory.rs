//! `MemoryCounters`: the counters of the package's JS `MemoryStore`, kept in WASM memory. The
//! store's own methods reach them one key at a time (for direct use); an engine over the
//! store holds the same map and runs each whole call over it inside WASM, in one crossing
//! (`QuotaCore::attach_memory`).

use super::error::Failure;
use super::js;
use crate::core::memory::Counters;
use crate::core::QuotaError;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// Shared by the store and every engine attached to it.
pub type SharedCounters = Rc<RefCell<Counters>>;

/// The map behind `MemoryStore` (`pkg-template/stores/memory.js`), which reads its clock,
/// checks the reading as `clock_reading` does, and passes it (`now`, ms) to each method.
///
/// ```js
/// const counters = new MemoryCounters();
/// counters.add("k", 1, 60, Date.now()); // true
/// counters.get("k", Date.now());        // 1
/// ```
#[wasm_bindgen(js_name = MemoryCounters)]
#[derive(Default)]
pub struct MemoryCounters {
    counters: SharedCounters,
}

#[wasm_bindgen(js_class = MemoryCounters)]
impl MemoryCounters {
    #[wasm_bindgen(constructor)]
    pub fn new() -> MemoryCounters {
        MemoryCounters::default()
    }

    /// The live value, or `undefined`.
    pub fn get(&self, key: &str, now: f64) -> Option<f64> {
        self.counters.borrow_mut().get(key, now)
    }

    /// Adds `delta` to a live value and returns it; `undefined` when absent (never creates).
    pub fn incr(&self, key: &str, delta: f64, now: f64) -> Option<f64> {
        self.counters.borrow_mut().incr(key, delta, now)
    }

    /// Creates `key` with `value` for `ttl_seconds` only if absent; `true` when created.
    pub fn add(&self, key: &str, value: f64, ttl_seconds: f64, now: f64) -> bool {
        self.counters.borrow_mut().add(key, value, ttl_seconds, now)
    }

    /// Creates or overwrites `key` with `value` for `ttl_seconds`.
    pub fn set(&self, key: &str, value: f64, ttl_seconds: f64, now: f64) {
        self.counters.borrow_mut().set(key, value, ttl_seconds, now);
    }

    /// Drops every entry expired at `now`.
    pub fn sweep(&self, now: f64) {
        self.counters.borrow_mut().sweep(now);
    }

    /// Entries held, expired ones not yet swept included.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.counters.borrow().len()
    }

    pub fn clear(&self) {
        self.counters.borrow_mut().clear();
    }
}

/// A `MemoryStore` clock's reading `v` as ms since the epoch, for an engine running its calls
/// over the store's counters; `MemoryStore`'s own methods check theirs alike (`#read` in
/// `stores/memory.js`). Anything but a finite number (a `Date`, a string, `NaN`) is
/// `INVALID_CONFIG`, as the engine's own `now` is: read as a time it named no instant, every
/// counter read as expired the moment it was written, and every reserve was admitted. Not
/// inlined: an error path.
#[inline(never)]
pub fn clock_reading(v: &JsValue) -> Result<f64, Failure> {
    match v.as_f64() {
        Some(ms) if ms.is_finite() => Ok(ms),
        _ => Err(QuotaError::config(format!(
            "MemoryStore's `now` clock returned {}, expected ms since the epoch",
            js::describe(v)
        ))
        .into()),
    }
}

impl MemoryCounters {
    /// The map itself, for an engine that runs its calls over it.
    pub fn shared(&self) -> SharedCounters {
        Rc::clone(&self.counters)
    }
}
