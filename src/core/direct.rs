//! `check`, `reserve` and `increment` run directly over in-process counters
//! ([`super::memory::Counters`]): the same store operations, in the same order, with the same
//! results as the state machines of `calls.rs` driven by [`super::store::run`], but without
//! building a call — no boxed call, no vectors, no strings — once a counter's key has been built.
//! The call reads its keys in the key table itself (no copy, so no touch of the key text's count),
//! and once a counter has been found its key keeps where its entry is ([`super::memory::CellRef`]),
//! so the call reaches it without hashing the key's text again: a known counter costs its key's
//! entry and its own. The JS `MemoryStore` path runs on this. (`tests/direct.rs` checks it against
//! the state machines over random calls.)

use super::decision;
use super::engine::Engine;
use super::error::{QuotaError, Result};
use super::key::Profile;
use super::keytable::{CounterKey, Owner};
use super::limits::{self, Policy, MAX_SAFE_INTEGER};
use super::memory::CountersAt;
use super::reservation::MacStart;
use super::store::{CountingOps, Store};
use super::window::Bounds;

/// Features with more policies than this take the state machines.
pub const MAX_DIRECT_POLICIES: usize = 8;

/// Which counting method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    Check,
    Reserve,
    Increment,
}

/// A decision as numbers (the feature is the caller's; see [`super::Decision`] for the fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    pub allowed: bool,
    /// Home mode or an unlimited profile: nothing below is meaningful.
    pub unlimited: bool,
    pub limit: i64,
    pub used: i64,
    pub remaining: i64,
    pub resets_at_ms: i64,
    pub retry_after: Option<u64>,
    /// The policy the figures describe, and whether it was given as an object (decisions
    /// then name it).
    pub policy: usize,
    pub named: bool,
    /// `(at_ms, amount, nonce, mac)` of an allowed reserve (see `reservation.rs`).
    pub reservation: Option<(i64, i64, u64, u64)>,
}

impl Figures {
    fn unlimited() -> Figures {
        Figures {
            allowed: true,
            unlimited: true,
            limit: 0,
            used: 0,
            remaining: 0,
            resets_at_ms: 0,
            retry_after: Some(0),
            policy: 0,
            named: false,
            reservation: None,
        }
    }
}

/// A counter the call touches.
struct Counter<'k> {
    /// Its key; the call updates `key.cell` as it finds or creates the counter's entry.
    key: &'k CounterKey,
    limit: i64,
    span: Bounds,
    named: bool,
}

impl Engine {
    /// `kind` for the feature at position `feature`, run over `store` at `now_ms`. `None` when
    /// the feature has more than [`MAX_DIRECT_POLICIES`] policies (use the state machines).
    pub fn count_directly(
        &self,
        kind: Counting,
        profile: &Profile,
        feature: usize,
        amount: i64,
        now_ms: i64,
        store: &mut CountersAt,
    ) -> Result<Option<Figures>> {
        let interned = (None, &mut None);
        self.count_directly_by_handle(kind, (profile, interned), feature, amount, now_ms, store)
    }

    /// [`Engine::count_directly`] of a string id its host interned as `handle` (see
    /// [`Owner`]): its counters' keys are found by the handle, not by the id's text; and
    /// `mac_start`, the MAC's state after the id, which the host keeps beside it
    /// ([`Engine::admit`]).
    pub(crate) fn count_directly_by_handle(
        &self,
        kind: Counting,
        (profile, (handle, mac_start)): (&Profile, (Option<u64>, &mut Option<MacStart>)),
        feature: usize,
        amount: i64,
        now_ms: i64,
        store: &mut CountersAt,
    ) -> Result<Option<Figures>> {
        let (name, policies) = self.prepare_at(feature, amount, now_ms)?;
        if !self.enabled() || profile.unlimited {
            return Ok(Some(Figures::unlimited()));
        }
        let n = policies.len();
        if n > MAX_DIRECT_POLICIES {
            return Ok(None);
        }
        let owner = Owner {
            id: &profile.id,
            handle,
        };
        let call = (kind, amount, now_ms);
        let feature = (feature, name);
        let figures = loop {
            if let Some(figures) = self.count_found(call, (owner, feature), policies, store)? {
                break figures;
            }
            // Build the keys, then find them again. Building one may start the key table over
            // and drop the keys before it; the table then holds at most this call's keys, so
            // the second round finds or builds them all without starting over.
            for (p, policy) in policies.iter().enumerate() {
                self.counter_key(owner, feature, p, policy, now_ms)?;
            }
        };
        let mut f = figures?;
        if kind == Counting::Reserve && f.allowed {
            let made = (&profile.id, name, policies);
            f.reservation = Some(self.admit(made, now_ms, amount, mac_start));
        }
        Ok(Some(f))
    }

    /// The call over its counters when every key is in the key table (`None` at the first that
    /// is not). The keys are read in the table itself, no copy: a known key costs its entry
    /// and its counter's, and the call updates the keys' cells there.
    fn count_found(
        &self,
        call: (Counting, i64, i64),
        (owner, (feature, _)): (Owner<'_>, (usize, &str)),
        policies: &[Policy],
        store: &mut CountersAt,
    ) -> Result<Option<Result<Figures>>> {
        let table = self.key_table();
        let mut slots: [Option<Counter>; MAX_DIRECT_POLICIES] = Default::default();
        for (p, policy) in policies.iter().enumerate() {
            let span = self.bounds(policy, call.2)?;
            let Some(key) = table.find(owner, feature, p, span.start_ms) else {
                return Ok(None);
            };
            slots[p] = Some(Counter {
                key,
                limit: policy.limit,
                span,
                named: !policy.plain,
            });
        }
        let counters = Counters(&slots[..policies.len()]);
        Ok(Some(count(call, counters, (store, self.counting_ops()))))
    }
}

/// Runs `kind` over `counters`.
fn count(
    (kind, amount, now_ms): (Counting, i64, i64),
    counters: Counters,
    (store, ops): CountingStore,
) -> Result<Figures> {
    match kind {
        Counting::Check => check(counters, amount, now_ms, store),
        Counting::Reserve => reserve(counters, amount, now_ms, (store, ops)),
        Counting::Increment => increment(counters, amount, now_ms, (store, ops)),
    }
}

/// The counters of a call, one per policy of the feature, in order.
#[derive(Clone, Copy)]
struct Counters<'a, 'k>(&'a [Option<Counter<'k>>]);

impl<'a, 'k> Counters<'a, 'k> {
    fn len(self) -> usize {
        self.0.len()
    }
    fn get(&self, i: usize) -> &'a Counter<'k> {
        self.0[i].as_ref().expect("every slot below len is filled")
    }
    fn iter(self) -> impl Iterator<Item = &'a Counter<'k>> {
        self.0.iter().flatten()
    }
    fn limit(&self, i: usize) -> i64 {
        self.get(i).limit
    }
    /// The figures of policy `i` at count `used`, for a call of `amount`.
    fn figures(&self, i: usize, used: i64, (amount, allowed): (i64, bool), now_ms: i64) -> Figures {
        let c = self.get(i);
        Figures {
            allowed,
            unlimited: false,
            limit: c.limit,
            used,
            remaining: decision::remaining(c.limit, used),
            resets_at_ms: c.span.end_ms,
            retry_after: decision::retry_after(allowed, amount, c.limit, &c.span, now_ms),
            policy: i,
            named: c.named,
            reservation: None,
        }
    }
    /// See [`decision::denying`].
    fn denying(&self, counts: &[i64], amount: i64) -> Option<usize> {
        let end = |i| self.get(i).span.end_ms;
        decision::denying(self.len(), |i| self.limit(i), end, counts, amount)
    }
    /// See [`decision::tightest`].
    fn tightest(&self, counts: &[i64]) -> usize {
        decision::tightest(self.len(), |i| self.limit(i), counts)
    }
}

/// `check` (`calls.rs`, `CheckCall`): read every counter; allowed when `used + amount` fits all.
fn check(cs: Counters, amount: i64, now_ms: i64, store: &mut CountersAt) -> Result<Figures> {
    let mut counts = [0i64; MAX_DIRECT_POLICIES];
    for (count, c) in counts.iter_mut().zip(cs.iter()) {
        *count = read(c, store.get_key(c.key)?)?;
    }
    let counts = &counts[..cs.len()];
    Ok(match cs.denying(counts, amount) {
        Some(p) => cs.figures(p, counts[p], (amount, false), now_ms),
        None => {
            let p = cs.tightest(counts);
            cs.figures(p, counts[p], (amount, true), now_ms)
        }
    })
}

/// `reserve` (`ReserveCall`): an amount over some limit reads that counter and is denied;
/// else count in each policy in turn, and on the first over its limit (or corrupt) undo every
/// count made so far, newest first (not the denying one's when counted within the limit).
fn reserve(cs: Counters, amount: i64, now_ms: i64, store: CountingStore) -> Result<Figures> {
    let (store, ops) = store;
    if let Some(i) = cs.denying(&[], amount) {
        let c = cs.get(i);
        let used = read(c, store.get_key(c.key)?)?;
        return Ok(cs.figures(i, used, (amount, false), now_ms));
    }
    let mut counts = [0i64; MAX_DIRECT_POLICIES];
    let within = ops == CountingOps::IncrOrCreateWithin;
    for (i, (count, c)) in counts.iter_mut().zip(cs.iter()).enumerate() {
        let n = if within {
            let ttl = c.span.key_ttl(now_ms);
            store.incr_or_create_within_key(c.key, amount, ttl, c.limit)?
        } else {
            count_up((store, ops), c, amount, now_ms)?
        };
        let over = if n < amount {
            Err(QuotaError::corrupt(
                c.key,
                format!("a negative count ({})", n - amount),
            ))
        } else if n > c.limit {
            // Past 2^53 the store's answer may be rounded: what it held is at most MAX_SAFE.
            let used = (n - amount).min(MAX_SAFE_INTEGER);
            Ok(cs.figures(i, used, (amount, false), now_ms))
        } else {
            *count = n;
            continue;
        };
        // `IncrOrCreateWithin` wrote nothing past the limit.
        let written = if within && over.is_ok() { i } else { i + 1 };
        for j in (0..written).rev() {
            let key = cs.get(j).key;
            // Back at most to MAX_SAFE (see `ReserveCall`'s rollback).
            if let Some(left) = store
                .incr_key(key, -amount)?
                .filter(|&n| n > MAX_SAFE_INTEGER)
            {
                store.incr_key(key, MAX_SAFE_INTEGER - left)?;
            }
        }
        return match over {
            Ok(denial) => Ok(read_later(cs, denial, (amount, i), now_ms, store)),
            e => e,
        };
    }
    let p = cs.tightest(&counts[..cs.len()]);
    Ok(cs.figures(p, counts[p], (amount, true), now_ms))
}

/// A reserve denied by policy `i` reads the policies after it whose windows end later, as
/// `calls.rs` (`read_later`) does: the denial is on the one the amount cannot fit in for
/// longest. A count that cannot be read leaves the denial as it is.
fn read_later(
    cs: Counters,
    mut denial: Figures,
    (amount, i): (i64, usize),
    now_ms: i64,
    store: &mut CountersAt,
) -> Figures {
    for j in i + 1..cs.len() {
        let c = cs.get(j);
        if c.span.end_ms <= denial.resets_at_ms {
            continue;
        }
        match store.get_key(c.key).and_then(|n| read(c, n)) {
            Ok(used) if used + amount > c.limit => {
                denial = cs.figures(j, used, (amount, false), now_ms);
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    denial
}

/// `increment` (`IncrementCall`): read every counter and refuse a count that would pass
/// MAX_SAFE_INTEGER, then count in every policy, no limit check.
fn increment(cs: Counters, amount: i64, now_ms: i64, store: CountingStore) -> Result<Figures> {
    let (store, ops) = store;
    for c in cs.iter() {
        limits::room_in(c.key, store.get_key(c.key)?, amount)?;
    }
    let mut counts = [0i64; MAX_DIRECT_POLICIES];
    for (count, c) in counts.iter_mut().zip(cs.iter()) {
        *count = count_up((store, ops), c, amount, now_ms)?;
    }
    let p = cs.tightest(&counts[..cs.len()]);
    Ok(cs.figures(p, counts[p], (amount, true), now_ms))
}

/// A count read for a decision (see [`limits::read_count`]).
fn read(c: &Counter, n: Option<i64>) -> Result<i64> {
    limits::read_count(c.key, n)
}

/// The counters and how they count (`CountingOps`).
type CountingStore<'s, 'a> = (&'s mut CountersAt<'a>, CountingOps);

/// Counts `amount` in `c` as `calls.rs` (`Counting`) does: the store's `incr_or_create`, or the
/// Django service's race-safe create-or-increment: `incr`; if absent `add`; if `add` lost a
/// race `incr` again; if that finds the key gone, `set`.
fn count_up((store, ops): CountingStore, c: &Counter, amount: i64, now_ms: i64) -> Result<i64> {
    let ttl = c.span.key_ttl(now_ms);
    if ops != CountingOps::IncrAddSet {
        return store.incr_or_create_key(c.key, amount, ttl);
    }
    if let Some(n) = store.incr(c.key, amount)? {
        return Ok(n);
    }
    if store.add(c.key, amount, ttl)? {
        return Ok(amount);
    }
    if let Some(n) = store.incr(c.key, amount)? {
        return Ok(n);
    }
    store.set(c.key, amount, ttl)?;
    Ok(amount)
}
