//! In-process counters with TTLs: [`Counters`] is the map itself (the clock is passed in), kept
//! in WASM memory behind the package's JS `MemoryStore`; [`MemoryStore`] puts it on a
//! [`Clock`] as a [`Store`], for native hosts and tests.
//!
//! Values are `f64`, as they are in JS: `MemoryStore`'s methods are also for direct use, where a
//! caller may store any number; the engine reads them through the same checks as any store's
//! answer ([`count`]), so a value that is not a count is `CORRUPT_COUNTER`, never read as 0.

use super::clock::Clock;
use super::error::{QuotaError, Result};
use super::keytable::FxHasher;
use super::limits::MAX_SAFE_INTEGER;
use super::store::Store;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::rc::Rc;

/// Entries held before the first sweep of expired ones.
const FIRST_SWEEP_AT: usize = 1024;

#[derive(Debug, Clone, Copy)]
struct Entry {
    value: f64,
    expires_at_ms: f64,
}

/// Key → (value, expiry). An entry whose expiry is at or before `now` reads as absent.
///
/// A key an engine creates shares the text of the engine's key table (`Rc`): the lookup's
/// final comparison then reads bytes the engine has just hashed, already in cache, instead of
/// a second copy elsewhere in memory.
#[derive(Debug, Clone)]
pub struct Counters {
    entries: HashMap<Rc<str>, Entry, BuildHasherDefault<FxHasher>>,
    sweep_at: usize,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            entries: HashMap::default(),
            sweep_at: FIRST_SWEEP_AT,
        }
    }
}

impl Counters {
    /// Whether `key` holds a live entry; an expired one is dropped on the way (as the JS
    /// store did), so reads never see it.
    fn is_live(&mut self, key: &str, now_ms: f64) -> bool {
        match self.entries.get(key) {
            None => false,
            Some(e) if e.expires_at_ms > now_ms => true,
            Some(_) => {
                self.entries.remove(key);
                false
            }
        }
    }

    pub fn get(&mut self, key: &str, now_ms: f64) -> Option<f64> {
        let e = self.entries.get(key)?;
        if e.expires_at_ms > now_ms {
            return Some(e.value);
        }
        self.entries.remove(key);
        None
    }

    /// Adds `delta` to a live entry; `None` (and nothing created) when absent.
    pub fn incr(&mut self, key: &str, delta: f64, now_ms: f64) -> Option<f64> {
        let e = self.entries.get_mut(key)?;
        if e.expires_at_ms > now_ms {
            e.value += delta;
            return Some(e.value);
        }
        self.entries.remove(key);
        None
    }

    /// Adds `delta` to a live entry, or creates it with `delta` for `ttl_secs` when absent: one
    /// step, the upsert of the store contract. A live entry keeps its expiry.
    pub fn incr_or_create(&mut self, key: &str, delta: f64, ttl_secs: f64, now_ms: f64) -> f64 {
        if let Some(n) = self.incr(key, delta, now_ms) {
            return n;
        }
        self.set(key, delta, ttl_secs, now_ms);
        delta
    }

    /// [`Counters::incr_or_create`] of a key whose text an engine holds: created, it shares it.
    pub fn incr_or_create_shared(
        &mut self,
        key: &Rc<str>,
        delta: f64,
        ttl_secs: f64,
        now_ms: f64,
    ) -> f64 {
        if let Some(n) = self.incr(key, delta, now_ms) {
            return n;
        }
        self.put(key, || Rc::clone(key), delta, ttl_secs, now_ms);
        delta
    }

    /// Creates the entry only if absent; `true` when created.
    pub fn add(&mut self, key: &str, value: f64, ttl_secs: f64, now_ms: f64) -> bool {
        if self.is_live(key, now_ms) {
            return false;
        }
        self.set(key, value, ttl_secs, now_ms);
        true
    }

    pub fn set(&mut self, key: &str, value: f64, ttl_secs: f64, now_ms: f64) {
        self.put(key, || key.into(), value, ttl_secs, now_ms);
    }

    /// `set`, with `text` making the key's text when it is new.
    fn put(
        &mut self,
        key: &str,
        text: impl FnOnce() -> Rc<str>,
        value: f64,
        ttl_secs: f64,
        now_ms: f64,
    ) {
        let entry = Entry {
            value,
            expires_at_ms: now_ms + ttl_secs * 1000.0,
        };
        match self.entries.get_mut(key) {
            Some(e) => *e = entry,
            None => {
                self.entries.insert(text(), entry);
            }
        }
        // Keys of past windows are never read again: sweep when the map has doubled since the
        // last sweep, so memory stays bounded at amortised O(1) per write.
        if self.entries.len() >= self.sweep_at {
            self.sweep(now_ms);
            self.sweep_at = FIRST_SWEEP_AT.max(self.entries.len() * 2);
        }
    }

    /// Drops every expired entry now.
    pub fn sweep(&mut self, now_ms: f64) {
        self.entries.retain(|_, e| e.expires_at_ms > now_ms);
    }

    /// Entries held, expired ones not yet swept included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Every key held, expired or not (for tests).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(|k| &**k)
    }

    /// These counters as a [`Store`] at the instant `now_ms`.
    pub fn at(&mut self, now_ms: f64, describe: fn(f64) -> String) -> CountersAt<'_> {
        CountersAt {
            counters: self,
            now_ms,
            describe,
        }
    }
}

/// A number from a store as a count: finite, whole, and from −MAX_SAFE_INTEGER up (the sign is
/// the calls' business: `incr` may go negative before a release clamps it). Above
/// MAX_SAFE_INTEGER too, up to what an `i64` holds: a denied reserve's `incr` may answer that
/// (it is then over every limit, and rolled back); a read for a decision refuses it
/// (`calls::read_count`). `describe` words the value in the error.
pub fn count(key: &str, n: f64, describe: impl FnOnce(f64) -> String) -> Result<i64> {
    const ABOVE_I64: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if n.is_finite() && n.fract() == 0.0 && n >= -(MAX_SAFE_INTEGER as f64) && n < ABOVE_I64 {
        Ok(n as i64)
    } else {
        Err(QuotaError::corrupt(key, describe(n)))
    }
}

/// [`Counters`] at one instant: what one engine call runs over. `describe` words a corrupt
/// value in its error (the .wasm asks JS, so that it carries no float formatting).
pub struct CountersAt<'a> {
    counters: &'a mut Counters,
    now_ms: f64,
    describe: fn(f64) -> String,
}

impl CountersAt<'_> {
    fn read(&self, key: &str, n: Option<f64>) -> Result<Option<i64>> {
        n.map(|n| count(key, n, self.describe)).transpose()
    }

    /// [`Store::incr_or_create`] of a key from an engine's key table, sharing its text.
    pub fn incr_or_create_key(&mut self, key: &Rc<str>, delta: i64, ttl_secs: u64) -> Result<i64> {
        let n =
            self.counters
                .incr_or_create_shared(key, delta as f64, ttl_secs as f64, self.now_ms);
        count(key, n, self.describe)
    }
}

impl Store for CountersAt<'_> {
    fn get(&mut self, key: &str) -> Result<Option<i64>> {
        let n = self.counters.get(key, self.now_ms);
        self.read(key, n)
    }
    fn incr(&mut self, key: &str, delta: i64) -> Result<Option<i64>> {
        let n = self.counters.incr(key, delta as f64, self.now_ms);
        self.read(key, n)
    }
    fn add(&mut self, key: &str, value: i64, ttl_secs: u64) -> Result<bool> {
        Ok(self
            .counters
            .add(key, value as f64, ttl_secs as f64, self.now_ms))
    }
    fn set(&mut self, key: &str, value: i64, ttl_secs: u64) -> Result<()> {
        self.counters
            .set(key, value as f64, ttl_secs as f64, self.now_ms);
        Ok(())
    }
    fn incr_or_create(&mut self, key: &str, delta: i64, ttl_secs: u64) -> Result<i64> {
        let n = self
            .counters
            .incr_or_create(key, delta as f64, ttl_secs as f64, self.now_ms);
        count(key, n, self.describe)
    }
}

/// [`Counters`] on a clock, as a [`Store`]: the native twin of the JS `MemoryStore`.
#[derive(Debug)]
pub struct MemoryStore<C: Clock> {
    clock: C,
    counters: Counters,
}

impl<C: Clock> MemoryStore<C> {
    pub fn new(clock: C) -> Self {
        MemoryStore {
            clock,
            counters: Counters::default(),
        }
    }

    fn now(&self) -> f64 {
        self.clock.now_ms() as f64
    }

    /// Number of entries held, expired or not (for tests of cleanup).
    pub fn len(&self) -> usize {
        self.counters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }

    /// Raw access for tests: the live value under `key`.
    pub fn peek(&mut self, key: &str) -> Option<i64> {
        let now = self.now();
        self.counters.get(key, now).map(|v| v as i64)
    }

    /// The counters and the clock's reading, for one call.
    fn at(&mut self) -> CountersAt<'_> {
        let now = self.now();
        self.counters.at(now, |n| n.to_string())
    }
}

impl<C: Clock> Store for MemoryStore<C> {
    fn get(&mut self, key: &str) -> Result<Option<i64>> {
        self.at().get(key)
    }
    fn incr(&mut self, key: &str, delta: i64) -> Result<Option<i64>> {
        self.at().incr(key, delta)
    }
    fn add(&mut self, key: &str, value: i64, ttl_secs: u64) -> Result<bool> {
        self.at().add(key, value, ttl_secs)
    }
    fn set(&mut self, key: &str, value: i64, ttl_secs: u64) -> Result<()> {
        self.at().set(key, value, ttl_secs)
    }
    fn incr_or_create(&mut self, key: &str, delta: i64, ttl_secs: u64) -> Result<i64> {
        self.at().incr_or_create(key, delta, ttl_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_and_sweeps() {
        let mut c = Counters::default();
        assert!(c.add("k", 1.0, 10.0, 0.0));
        assert!(!c.add("k", 5.0, 10.0, 0.0));
        assert_eq!(c.incr("k", 2.0, 0.0), Some(3.0));
        assert_eq!(c.get("k", 9_999.0), Some(3.0));
        assert_eq!(c.get("k", 10_000.0), None);
        assert_eq!(c.incr("k", 1.0, 10_000.0), None, "incr never creates");
        assert_eq!(c.incr_or_create("k", 2.0, 5.0, 10_000.0), 2.0, "created");
        assert_eq!(
            c.incr_or_create("k", 3.0, 60.0, 14_000.0),
            5.0,
            "incremented"
        );
        assert_eq!(c.get("k", 14_999.0), Some(5.0));
        assert_eq!(
            c.get("k", 15_000.0),
            None,
            "the TTL of its creation, not extended"
        );
        for i in 0..FIRST_SWEEP_AT {
            c.set(&i.to_string(), 1.0, 1.0, 0.0);
        }
        // The 1024th write swept the 1023 entries expired by then (at 2 s: none yet).
        assert_eq!(c.len(), FIRST_SWEEP_AT);
        c.sweep(1_000.0);
        assert!(c.is_empty());
    }

    #[test]
    fn a_value_that_is_not_a_count_is_corrupt() {
        let mut c = Counters::default();
        c.set("k", 1.5, 10.0, 0.0);
        let err = c.at(0.0, |n| n.to_string()).get("k").unwrap_err();
        assert_eq!(err.code, crate::core::ErrorCode::CorruptCounter);
        c.set("k", -3.0, 10.0, 0.0);
        assert_eq!(c.at(0.0, |n| n.to_string()).get("k").unwrap(), Some(-3));
    }
}
