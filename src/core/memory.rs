//! An in-process [`Store`] with TTLs on an injected clock: the native twin of the JS
//! `MemoryStore`, used by tests and by native hosts.

use super::clock::Clock;
use super::error::Result;
use super::store::Store;
use std::collections::HashMap;

#[derive(Debug)]
pub struct MemoryStore<C: Clock> {
    clock: C,
    entries: HashMap<String, (i64, i64)>, // key -> (value, expires at ms)
}

impl<C: Clock> MemoryStore<C> {
    pub fn new(clock: C) -> Self {
        MemoryStore {
            clock,
            entries: HashMap::new(),
        }
    }

    fn live(&mut self, key: &str) -> Option<&mut i64> {
        let now = self.clock.now_ms();
        if matches!(self.entries.get(key), Some(&(_, exp)) if exp <= now) {
            self.entries.remove(key);
        }
        self.entries.get_mut(key).map(|(v, _)| v)
    }

    /// Number of entries held, expired or not (for tests of cleanup).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Raw access for tests: the live value under `key`.
    pub fn peek(&mut self, key: &str) -> Option<i64> {
        self.live(key).copied()
    }
}

impl<C: Clock> Store for MemoryStore<C> {
    fn get(&mut self, key: &str) -> Result<Option<i64>> {
        Ok(self.live(key).copied())
    }

    fn incr(&mut self, key: &str, delta: i64) -> Result<Option<i64>> {
        Ok(self.live(key).map(|v| {
            *v += delta;
            *v
        }))
    }

    fn add(&mut self, key: &str, value: i64, ttl_secs: u64) -> Result<bool> {
        if self.live(key).is_some() {
            return Ok(false);
        }
        self.set(key, value, ttl_secs)?;
        Ok(true)
    }

    fn set(&mut self, key: &str, value: i64, ttl_secs: u64) -> Result<()> {
        let expires = self.clock.now_ms() + ttl_secs as i64 * 1000;
        self.entries.insert(key.to_owned(), (value, expires));
        Ok(())
    }
}
