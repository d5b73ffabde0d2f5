//! The model of idempotency records and settle markers, by their store keys: what a reserve
//! under an idempotency key finds, stated as README's Idempotency paragraph states it (no
//! phases, no add races). A record names the nonce of the reservation it admitted; a marker
//! says that reservation was settled (1) or released (2).

use std::collections::{HashMap, HashSet};

/// README: "A key may be retried after a release 16 times in its window".
pub const RETRIES_AFTER_RELEASE: usize = 16;
pub const SETTLED: i64 = 1;
pub const RELEASED: i64 = 2;

/// What a reserve under an idempotency key does, looked up in the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A live record names a reservation not released: replay it, count nothing.
    Replay(u64),
    /// No record, or the last one's reservation was released: reserve, and when admitted
    /// record at this key.
    Reserve(String),
    /// The key was retried after a release too often in its window: IDEMPOTENCY_KEY_EXHAUSTED.
    Full,
}

#[derive(Debug, Default, Clone)]
pub struct Records {
    /// record key -> (nonce, expires at ms)
    records: HashMap<String, (u64, i64)>,
    /// marker key -> (SETTLED or RELEASED, expires at ms)
    markers: HashMap<String, (i64, i64)>,
    /// The store's clock minus the engine's (see `Model::skew`).
    pub skew: i64,
    /// Markers ever written: README says a reservation is settled or released at most once,
    /// whenever the second attempt comes.
    finalized: HashSet<String>,
}

/// `{base}r{nonce:016x}`: the marker of a reservation of the feature whose keys start `base`.
pub fn marker_key(base: &str, nonce: u64) -> String {
    format!("{base}r{nonce:016x}")
}

impl Records {
    pub fn record(&self, key: &str, now: i64) -> Option<u64> {
        match self.records.get(key) {
            Some(&(nonce, exp)) if exp > now + self.skew => Some(nonce),
            _ => None,
        }
    }

    pub fn marker(&self, key: &str, now: i64) -> Option<i64> {
        match self.markers.get(key) {
            Some(&(state, exp)) if exp > now + self.skew => Some(state),
            _ => None,
        }
    }

    pub fn set_record(&mut self, key: String, nonce: u64, expires: i64) {
        self.records.insert(key, (nonce, expires));
    }

    pub fn set_marker(&mut self, key: String, state: i64, expires: i64) {
        self.finalized.insert(key.clone());
        self.markers.insert(key, (state, expires));
    }

    /// When each marker expires (on the store's clock), in no particular order.
    pub fn marker_expiries(&self) -> impl Iterator<Item = i64> + '_ {
        self.markers.values().map(|&(_, exp)| exp)
    }

    pub fn finalized(&self, key: &str) -> bool {
        self.finalized.contains(key)
    }

    /// The lookup of a reserve whose record may be under each of `roots` (the feature's
    /// current windows, the one ending last first); `base` starts the feature's marker keys.
    /// A chain of released attempts continues under the root it was found at.
    pub fn lookup(&self, roots: &[String], base: &str, now: i64) -> Lookup {
        let Some(root) = roots.iter().find(|k| self.record(k, now).is_some()) else {
            return Lookup::Reserve(roots[0].clone());
        };
        let mut at = root.clone();
        for released in 0.. {
            let Some(nonce) = self.record(&at, now) else {
                return Lookup::Reserve(at);
            };
            if self.marker(&marker_key(base, nonce), now) != Some(RELEASED) {
                return Lookup::Replay(nonce);
            }
            if released == RETRIES_AFTER_RELEASE {
                return Lookup::Full;
            }
            at = format!("{at}:{nonce:016x}");
        }
        unreachable!()
    }
}
