//! `MemoryCounters`: the counters of the package's JS `MemoryStore`, kept in WASM memory. The
//! store's own methods reach them one key at a time (for direct use); an engine over the
//! store holds the same map and runs each whole call over it inside WASM, in one crossing
//! (`QuotaCore::attach_memory`).

use crate::core::memory::Counters;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// Shared by the store and every engine attached to it.
pub type SharedCounters = Rc<RefCell<Counters>>;

/// The map behind `MemoryStore` (`pkg-template/stores/memory.js`), which reads its clock and
/// passes `now` (ms) to each method.
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

impl MemoryCounters {
    /// The map itself, for an engine that runs its calls over it.
    pub fn shared(&self) -> SharedCounters {
        Rc::clone(&self.counters)
    }
}
