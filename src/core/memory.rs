//! In-process counters with TTLs: [`Counters`] is the map itself (the clock is passed in), kept
//! in WASM memory behind the package's JS `MemoryStore`; [`MemoryStore`] puts it on a
//! [`Clock`] as a [`Store`], for native hosts and tests.
//!
//! Values are `f64`, as they are in JS: `MemoryStore`'s methods are also for direct use, where a
//! caller may store any number; the engine reads them through the same checks as any store's
//! answer ([`count`]), so a value that is not a count is `CORRUPT_COUNTER`, never read as 0.

use super::clock::Clock;
use super::error::{QuotaError, Result};
use super::keytable::{CounterKey, FxHasher};
use super::limits::MAX_SAFE_INTEGER;
use super::store::Store;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Entries held before the first sweep of expired ones.
const FIRST_SWEEP_AT: usize = 1024;

/// Where an entry of some [`Counters`] lives, and which entry it was: an engine keeps it beside
/// the counter's key and reaches the entry again without hashing the key's text. It stays
/// right only while that entry lives: every entry gets a stamp no other entry of any
/// `Counters` ever gets, and a reference whose stamp is not the one in its place names nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CellRef {
    index: u32,
    /// 0: names no entry (stamps start at 1).
    stamp: u64,
}

/// Stamps handed out so far, over every `Counters` of the process.
static LAST_STAMP: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone)]
struct Entry {
    value: f64,
    expires_at_ms: f64,
    /// 0 while the place is free.
    stamp: u64,
    /// `None` while the place is free.
    key: Option<Rc<str>>,
}

/// Key → (value, expiry). An entry whose expiry is at or before `now` reads as absent.
///
/// Entries live in places of a vector, found by key through an index; an engine that has found
/// a counter once reaches it again by its [`CellRef`] (`*_cell` methods), one read instead of
/// hashing and comparing the key. A key an engine creates shares the text of the engine's key
/// table (`Rc`).
#[derive(Debug, Clone)]
pub struct Counters {
    index: HashMap<Rc<str>, u32, BuildHasherDefault<FxHasher>>,
    entries: Vec<Entry>,
    /// Free places of `entries`.
    free: Vec<u32>,
    sweep_at: usize,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            index: HashMap::default(),
            entries: Vec::new(),
            free: Vec::new(),
            sweep_at: FIRST_SWEEP_AT,
        }
    }
}

impl Counters {
    /// The place of `key`'s entry, live or not.
    fn find(&self, key: &str) -> Option<usize> {
        self.index.get(key).map(|&i| i as usize)
    }

    /// The place `r` names, while the entry it named is there.
    fn place(&self, r: CellRef) -> Option<usize> {
        let i = r.index as usize;
        (r.stamp != 0 && self.entries.get(i)?.stamp == r.stamp).then_some(i)
    }

    /// The entry at place `i` if it is live at `now`; an expired one is dropped on the way (as
    /// the JS store did), so reads never see it.
    fn live(&mut self, i: usize, now_ms: f64) -> Option<&mut Entry> {
        if self.entries[i].expires_at_ms > now_ms {
            return Some(&mut self.entries[i]);
        }
        self.remove(i);
        None
    }

    fn remove(&mut self, i: usize) {
        let e = &mut self.entries[i];
        e.stamp = 0;
        if let Some(key) = e.key.take() {
            self.index.remove(&key);
        }
        self.free.push(i as u32);
    }

    fn cell(&self, i: usize) -> CellRef {
        CellRef {
            index: i as u32,
            stamp: self.entries[i].stamp,
        }
    }

    /// The live entry of `key`, reached through `hint` when it still names it (else by the key,
    /// and `hint` is updated).
    fn live_by(&mut self, key: &str, hint: &mut CellRef, now_ms: f64) -> Option<&mut Entry> {
        let i = match self.place(*hint) {
            Some(i) => i,
            None => {
                let i = self.find(key)?;
                *hint = self.cell(i);
                i
            }
        };
        self.live(i, now_ms)
    }

    pub fn get(&mut self, key: &str, now_ms: f64) -> Option<f64> {
        self.get_cell(key, &mut CellRef::default(), now_ms)
    }

    /// [`Counters::get`], reaching the entry through `hint` (see [`CellRef`]).
    pub fn get_cell(&mut self, key: &str, hint: &mut CellRef, now_ms: f64) -> Option<f64> {
        self.live_by(key, hint, now_ms).map(|e| e.value)
    }

    /// Adds `delta` to a live entry; `None` (and nothing created) when absent.
    pub fn incr(&mut self, key: &str, delta: f64, now_ms: f64) -> Option<f64> {
        self.incr_cell(key, &mut CellRef::default(), delta, now_ms)
    }

    /// [`Counters::incr`], reaching the entry through `hint` (see [`CellRef`]).
    pub fn incr_cell(
        &mut self,
        key: &str,
        hint: &mut CellRef,
        delta: f64,
        now_ms: f64,
    ) -> Option<f64> {
        let e = self.live_by(key, hint, now_ms)?;
        e.value += delta;
        Some(e.value)
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

    /// [`Counters::incr_or_create`] of a key whose text an engine holds, reaching the entry
    /// through `hint` (updated to the entry counted in); created, it shares the key's text.
    pub fn incr_or_create_cell(
        &mut self,
        key: &Rc<str>,
        hint: &mut CellRef,
        (delta, ttl_secs): (f64, f64),
        now_ms: f64,
    ) -> f64 {
        if let Some(n) = self.incr_cell(key, hint, delta, now_ms) {
            return n;
        }
        *hint = self.put(key, Some(key), delta, ttl_secs, now_ms);
        delta
    }

    /// [`Counters::incr_or_create`] that writes nothing when the new value would pass `limit`
    /// (the store contract's `IncrOrCreateWithin`); answers the value with `delta` added either way.
    pub fn incr_or_create_within(
        &mut self,
        key: &str,
        (delta, ttl_secs): (f64, f64),
        limit: f64,
        now_ms: f64,
    ) -> f64 {
        let mut hint = CellRef::default();
        self.incr_or_create_within_by(key, None, &mut hint, (delta, ttl_secs), limit, now_ms)
    }

    /// [`Counters::incr_or_create_within`] of a key whose text an engine holds, through `hint`.
    pub fn incr_or_create_within_cell(
        &mut self,
        key: &Rc<str>,
        hint: &mut CellRef,
        change: (f64, f64),
        limit: f64,
        now_ms: f64,
    ) -> f64 {
        self.incr_or_create_within_by(key, Some(key), hint, change, limit, now_ms)
    }

    fn incr_or_create_within_by(
        &mut self,
        key: &str,
        shared: Option<&Rc<str>>,
        hint: &mut CellRef,
        (delta, ttl_secs): (f64, f64),
        limit: f64,
        now_ms: f64,
    ) -> f64 {
        if let Some(e) = self.live_by(key, hint, now_ms) {
            let n = e.value + delta;
            if n <= limit {
                e.value = n;
            }
            return n;
        }
        if delta <= limit {
            *hint = self.put(key, shared, delta, ttl_secs, now_ms);
        }
        delta
    }

    /// Creates the entry only if absent; `true` when created.
    pub fn add(&mut self, key: &str, value: f64, ttl_secs: f64, now_ms: f64) -> bool {
        if self.get(key, now_ms).is_some() {
            return false;
        }
        self.set(key, value, ttl_secs, now_ms);
        true
    }

    pub fn set(&mut self, key: &str, value: f64, ttl_secs: f64, now_ms: f64) {
        self.put(key, None, value, ttl_secs, now_ms);
    }

    /// `set`, sharing `shared` as the key's text when it is new (else copying `key`); where
    /// the entry is.
    #[inline(never)]
    fn put(
        &mut self,
        key: &str,
        shared: Option<&Rc<str>>,
        value: f64,
        ttl_secs: f64,
        now_ms: f64,
    ) -> CellRef {
        let expires_at_ms = now_ms + ttl_secs * 1000.0;
        if let Some(i) = self.find(key) {
            let e = &mut self.entries[i];
            (e.value, e.expires_at_ms) = (value, expires_at_ms);
            return self.cell(i);
        }
        let key = shared.map_or_else(|| key.into(), Rc::clone);
        let entry = Entry {
            value,
            expires_at_ms,
            stamp: LAST_STAMP.fetch_add(1, Ordering::Relaxed) + 1,
            key: Some(Rc::clone(&key)),
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.entries[i as usize] = entry;
                i as usize
            }
            None => {
                self.entries.push(entry);
                self.entries.len() - 1
            }
        };
        self.index.insert(key, i as u32);
        // Keys of past windows are never read again: sweep when the map has doubled since the
        // last sweep, so memory stays bounded at amortised O(1) per write.
        if self.index.len() >= self.sweep_at {
            self.sweep(now_ms);
            self.sweep_at = FIRST_SWEEP_AT.max(self.index.len() * 2);
        }
        // Swept at once if it was born expired: its place then names nothing.
        self.cell(i)
    }

    /// Drops every expired entry now.
    pub fn sweep(&mut self, now_ms: f64) {
        for i in 0..self.entries.len() {
            let e = &self.entries[i];
            if e.stamp != 0 && e.expires_at_ms <= now_ms {
                self.remove(i);
            }
        }
    }

    /// Entries held, expired ones not yet swept included.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn clear(&mut self) {
        *self = Counters::default();
    }

    /// Every key held, expired or not (for tests).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(|k| &**k)
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

    /// [`Store::get`] of a key from an engine's key table, reaching its entry through the
    /// key's cell (updated to where the entry was found).
    pub fn get_key(&mut self, key: &CounterKey) -> Result<Option<i64>> {
        let mut cell = key.cell.get();
        let n = self.counters.get_cell(key, &mut cell, self.now_ms);
        key.cell.set(cell);
        self.read(key, n)
    }

    /// [`Store::incr`] of a key from an engine's key table, through its cell.
    pub fn incr_key(&mut self, key: &CounterKey, delta: i64) -> Result<Option<i64>> {
        let mut cell = key.cell.get();
        let n = self
            .counters
            .incr_cell(key, &mut cell, delta as f64, self.now_ms);
        key.cell.set(cell);
        self.read(key, n)
    }

    /// [`Store::incr_or_create`] of a key from an engine's key table, through its cell;
    /// created, the entry shares the key's text.
    pub fn incr_or_create_key(
        &mut self,
        key: &CounterKey,
        delta: i64,
        ttl_secs: u64,
    ) -> Result<i64> {
        let mut cell = key.cell.get();
        let change = (delta as f64, ttl_secs as f64);
        let n = self
            .counters
            .incr_or_create_cell(&key.text, &mut cell, change, self.now_ms);
        key.cell.set(cell);
        count(key, n, self.describe)
    }

    /// [`Store::incr_or_create_within`] of a key from an engine's key table, through its cell.
    pub fn incr_or_create_within_key(
        &mut self,
        key: &CounterKey,
        delta: i64,
        ttl_secs: u64,
        limit: i64,
    ) -> Result<i64> {
        let mut cell = key.cell.get();
        let change = (delta as f64, ttl_secs as f64);
        let n = self.counters.incr_or_create_within_cell(
            &key.text,
            &mut cell,
            change,
            limit as f64,
            self.now_ms,
        );
        key.cell.set(cell);
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
    fn incr_or_create_within(
        &mut self,
        key: &str,
        delta: i64,
        ttl_secs: u64,
        limit: i64,
    ) -> Result<i64> {
        let change = (delta as f64, ttl_secs as f64);
        let n = self
            .counters
            .incr_or_create_within(key, change, limit as f64, self.now_ms);
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
    fn incr_or_create_within(
        &mut self,
        key: &str,
        delta: i64,
        ttl_secs: u64,
        limit: i64,
    ) -> Result<i64> {
        self.at().incr_or_create_within(key, delta, ttl_secs, limit)
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
    fn a_cell_reaches_its_entry_only_while_that_entry_lives() {
        let mut c = Counters::default();
        let mut a = CellRef::default();
        assert_eq!(
            c.incr_or_create_cell(&"a".into(), &mut a, (1.0, 1.0), 0.0),
            1.0
        );
        assert_ne!(a, CellRef::default(), "created: the cell names it");
        let found = a;
        assert_eq!(c.incr_cell("a", &mut a, 2.0, 0.0), Some(3.0));
        assert_eq!(a, found);
        // "a" expires and is dropped; "b" takes its place.
        assert_eq!(c.get("a", 1_000.0), None);
        c.set("b", 100.0, 60.0, 1_000.0);
        assert_eq!(
            c.incr_cell("a", &mut a, 1.0, 1_000.0),
            None,
            "not b's entry"
        );
        assert_eq!(c.get_cell("a", &mut a, 1_000.0), None);
        assert_eq!(c.get("b", 1_000.0), Some(100.0));
        // Found again by its key once it exists again, wherever it is.
        c.set("a", 7.0, 60.0, 1_000.0);
        assert_eq!(c.get_cell("a", &mut a, 1_000.0), Some(7.0));
        assert_ne!(a, found);
        // Swept, or cleared: the same.
        let mut b = CellRef::default();
        assert_eq!(c.get_cell("b", &mut b, 1_000.0), Some(100.0));
        c.sweep(61_000.0);
        c.set("c", 5.0, 60.0, 61_000.0);
        c.set("d", 6.0, 60.0, 61_000.0);
        assert_eq!(c.incr_cell("b", &mut b, 1.0, 61_000.0), None);
        assert_eq!(
            (c.get("c", 61_000.0), c.get("d", 61_000.0)),
            (Some(5.0), Some(6.0))
        );
        c.clear();
        c.set("e", 8.0, 60.0, 61_000.0);
        assert_eq!(c.incr_cell("a", &mut a, 1.0, 61_000.0), None);
        assert_eq!(c.get("e", 61_000.0), Some(8.0));
        // Another map's entries are never reached through this one's cells.
        let mut other = Counters::default();
        other.set("e", 1.0, 60.0, 0.0);
        let mut e = CellRef::default();
        assert_eq!(c.get_cell("e", &mut e, 61_000.0), Some(8.0));
        assert_eq!(other.get_cell("x", &mut e, 0.0), None);
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
