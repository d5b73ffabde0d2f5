//! The storage contract, as steps. An engine call asks for one store operation at a time
//! ([`StoreOp`], its key named by a [`KeyRef`]) and is resumed with the reply. The core never
//! performs I/O, so the same call runs over a synchronous Rust store ([`run`]), a JS store
//! whose methods return plain values, or one whose methods return Promises (the binding awaits
//! between steps). The binding drives `calls::Machine`s it keeps and reuses; native hosts and
//! tests get each call boxed as a [`Call`], and can interleave several calls' steps to model
//! concurrency.

use super::decision::Outcome;
use super::error::{QuotaError, Result};

/// See [`Call::key_id`].
pub const NO_KEY_ID: u64 = u64::MAX;

/// Which key of its call an operation names: a policy's counter (by the policy's position in
/// the feature), the idempotency record, or the settle marker. A call resolves it to the key's
/// text and number in one place (`Machine::key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRef {
    Policy(usize),
    Record,
    Marker,
}

/// One store operation on the key `key` names. These are the Django service's cache primitives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    /// Current count, or `None` when absent or expired.
    Get { key: KeyRef },
    /// Add `delta` (may be negative) to a live counter; `None` when absent. Never creates.
    Incr { key: KeyRef, delta: i64 },
    /// Create with `value` and a TTL only if absent; `true` when created.
    Add {
        key: KeyRef,
        value: i64,
        ttl_secs: u64,
    },
    /// Create or overwrite with `value` and a TTL.
    Set {
        key: KeyRef,
        value: i64,
        ttl_secs: u64,
    },
    /// Add `delta` to a live counter, or create it with `delta` and a TTL when absent, in one
    /// atomic operation; answered with the new count. A live counter keeps its TTL (counters
    /// expire at their window's end, never later). Asked only of stores that have it (see
    /// [`CountingOps`]).
    IncrOrCreate {
        key: KeyRef,
        delta: i64,
        ttl_secs: u64,
    },
    /// [`StoreOp::IncrOrCreate`] that writes nothing when the new count would pass `limit`,
    /// in one atomic operation; answered with the count the counter holds with `delta` added
    /// either way, so an answer above `limit` says nothing was written. A reserve's denial
    /// is then one operation, not a count and its undo, and never counts past the limit,
    /// even for a moment (a concurrent reserve that fits is not denied by it). Asked only of
    /// stores that have it (see [`CountingOps`]), and only by `reserve`.
    IncrOrCreateWithin {
        key: KeyRef,
        delta: i64,
        ttl_secs: u64,
        limit: i64,
    },
}

/// How a call counts in a counter that may not exist yet, decided once per store: with the
/// store's own atomic [`StoreOp::IncrOrCreate`] (one operation), and a reserve with its
/// [`StoreOp::IncrOrCreateWithin`] when it has that too; or, for stores with only
/// `get`/`incr`/`add`/`set`, with the Django service's `incr` → `add` → `incr` → `set`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CountingOps {
    #[default]
    IncrAddSet,
    IncrOrCreate,
    /// Both upserts: `reserve` counts with `IncrOrCreateWithin`, the rest with `IncrOrCreate`.
    IncrOrCreateWithin,
}

impl StoreOp {
    pub fn key(&self) -> KeyRef {
        match *self {
            StoreOp::Get { key }
            | StoreOp::Incr { key, .. }
            | StoreOp::Add { key, .. }
            | StoreOp::Set { key, .. }
            | StoreOp::IncrOrCreate { key, .. }
            | StoreOp::IncrOrCreateWithin { key, .. } => key,
        }
    }
}

/// The store's answer to the last [`StoreOp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreReply {
    /// Answer to `Get`, `Incr`, `IncrOrCreate` and `IncrOrCreateWithin` (the upserts always
    /// have a count).
    Count(Option<i64>),
    /// Answer to `Add`.
    Added(bool),
    /// Answer to `Set`.
    Done,
}

/// What a call wants next.
#[derive(Debug)]
pub enum Step {
    Op(StoreOp),
    Done(Result<Outcome>),
}

/// An engine call in progress, boxed, for native hosts and tests (see [`super::Engine::reserve`];
/// the JS binding drives `calls::Machine`s in a reusable table instead). Start it with
/// `resume(None)`; feed each reply back in.
pub trait Call {
    /// The text of the key an operation names.
    fn key(&self, key: KeyRef) -> &str;
    /// The number of that key (see `keytable.rs`), by which a host may cache its own form of
    /// the key; [`NO_KEY_ID`] when the key has none and must be read with `key` every time.
    fn key_id(&self, _key: KeyRef) -> u64 {
        NO_KEY_ID
    }
    fn resume(&mut self, reply: Option<StoreReply>) -> Step;
    /// The store failed on the last op (threw, rejected, timed out): how the call ends. The
    /// call is not resumed afterwards. Default: the error (see `fault.rs` for the policy).
    fn fail(&mut self, error: QuotaError) -> Result<Outcome> {
        Err(error)
    }
}

/// A synchronous store, for native hosts and tests: the JS store contract in Rust. Each method
/// is one [`StoreOp`] and must be atomic; a counter whose TTL has run out reads as absent. A
/// failure is an `Err` (`QuotaError::store`), which the engine's fault policy answers.
pub trait Store {
    /// The count, or `None` when absent or expired ([`StoreOp::Get`]).
    fn get(&mut self, key: &str) -> Result<Option<i64>>;
    /// Adds `delta` (may be negative) to a live counter, keeping its TTL; `None` when absent,
    /// and then nothing is created ([`StoreOp::Incr`]).
    fn incr(&mut self, key: &str, delta: i64) -> Result<Option<i64>>;
    /// Creates the counter with `value`, expiring in `ttl_secs`, only if it is absent; `true`
    /// when it created it ([`StoreOp::Add`]).
    fn add(&mut self, key: &str, value: i64, ttl_secs: u64) -> Result<bool>;
    /// Creates or overwrites the counter with `value`, expiring in `ttl_secs` ([`StoreOp::Set`]).
    fn set(&mut self, key: &str, value: i64, ttl_secs: u64) -> Result<()>;
    /// [`StoreOp::IncrOrCreate`], asked only by an engine built with
    /// [`CountingOps::IncrOrCreate`] or [`CountingOps::IncrOrCreateWithin`]. A store without
    /// it answers `INVALID_CONFIG`: the engine was built for another store, a mistake no fault
    /// policy may answer (as a store fault, `FaultPolicy::Allow` admitted every reserve
    /// uncounted).
    fn incr_or_create(&mut self, key: &str, _delta: i64, _ttl_secs: u64) -> Result<i64> {
        Err(missing("incr_or_create", key))
    }
    /// [`StoreOp::IncrOrCreateWithin`], asked only by an engine built with
    /// [`CountingOps::IncrOrCreateWithin`]; a store without it answers `INVALID_CONFIG`, as
    /// for [`Store::incr_or_create`].
    fn incr_or_create_within(
        &mut self,
        key: &str,
        _delta: i64,
        _ttl_secs: u64,
        _limit: i64,
    ) -> Result<i64> {
        Err(missing("incr_or_create_within", key))
    }
}

/// The error of an operation a store does not have.
fn missing(op: &str, key: &str) -> QuotaError {
    QuotaError::config(format!(
        "store.{op}(\"{key}\"): this store has no such operation; build the engine with \
         the CountingOps the store has (Engine::with_counting)"
    ))
}

/// Performs one operation of `call` on `store`.
pub fn perform(call: &dyn Call, op: StoreOp, store: &mut dyn Store) -> Result<StoreReply> {
    perform_on(call.key(op.key()), op, store)
}

/// Performs `op` on `store`, its key being `key`.
pub fn perform_on(key: &str, op: StoreOp, store: &mut dyn Store) -> Result<StoreReply> {
    Ok(match op {
        StoreOp::Get { .. } => StoreReply::Count(store.get(key)?),
        StoreOp::Incr { delta, .. } => StoreReply::Count(store.incr(key, delta)?),
        StoreOp::Add {
            value, ttl_secs, ..
        } => StoreReply::Added(store.add(key, value, ttl_secs)?),
        StoreOp::Set {
            value, ttl_secs, ..
        } => {
            store.set(key, value, ttl_secs)?;
            StoreReply::Done
        }
        StoreOp::IncrOrCreate {
            delta, ttl_secs, ..
        } => StoreReply::Count(Some(store.incr_or_create(key, delta, ttl_secs)?)),
        StoreOp::IncrOrCreateWithin {
            delta,
            ttl_secs,
            limit,
            ..
        } => StoreReply::Count(Some(
            store.incr_or_create_within(key, delta, ttl_secs, limit)?,
        )),
    })
}

/// Runs `call` to completion over a synchronous store.
pub fn run(mut call: Box<dyn Call>, store: &mut dyn Store) -> Result<Outcome> {
    let mut reply = None;
    loop {
        match call.resume(reply.take()) {
            Step::Done(outcome) => return outcome,
            Step::Op(op) => match perform(&*call, op, store) {
                Ok(r) => reply = Some(r),
                Err(e) => return call.fail(e),
            },
        }
    }
}

/// Runs `calls` together over one store, one step of each in turn, as concurrent requests
/// interleave on a store whose operations are each atomic (Redis, a Durable Object). Returns
/// each call's outcome, in order. Tests use it to show that races stay exact.
pub fn run_interleaved(
    mut calls: Vec<Box<dyn Call>>,
    store: &mut dyn Store,
) -> Vec<Result<Outcome>> {
    let mut replies: Vec<Option<StoreReply>> = vec![None; calls.len()];
    let mut outcomes: Vec<Option<Result<Outcome>>> = calls.iter().map(|_| None).collect();
    while outcomes.iter().any(Option::is_none) {
        for (i, call) in calls.iter_mut().enumerate() {
            if outcomes[i].is_some() {
                continue;
            }
            match call.resume(replies[i].take()) {
                Step::Done(outcome) => outcomes[i] = Some(outcome),
                Step::Op(op) => match perform(&**call, op, store) {
                    Ok(r) => replies[i] = Some(r),
                    Err(e) => outcomes[i] = Some(call.fail(e)),
                },
            }
        }
    }
    outcomes.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Engine, FakeClock, FaultPolicy, Limits, MemoryStore, Profile, ProfileId};
    use crate::core::{ErrorCode, Quota};

    /// A store with the four methods only (the upserts left to the trait's defaults).
    struct FourMethods(MemoryStore<FakeClock>);

    impl Store for FourMethods {
        fn get(&mut self, key: &str) -> Result<Option<i64>> {
            self.0.get(key)
        }
        fn incr(&mut self, key: &str, delta: i64) -> Result<Option<i64>> {
            self.0.incr(key, delta)
        }
        fn add(&mut self, key: &str, value: i64, ttl_secs: u64) -> Result<bool> {
            self.0.add(key, value, ttl_secs)
        }
        fn set(&mut self, key: &str, value: i64, ttl_secs: u64) -> Result<()> {
            self.0.set(key, value, ttl_secs)
        }
    }

    /// An engine told to count with an upsert its store lacks is a mistake in the program, not
    /// a store that is down: under `FaultPolicy::Allow` it admitted every reserve uncounted.
    #[test]
    fn an_upsert_the_store_lacks_is_invalid_config_under_every_fault_policy() {
        let clock = FakeClock::at(1_795_780_800_000);
        let me = Profile::limited(ProfileId::number(42).unwrap());
        for counting in [CountingOps::IncrOrCreate, CountingOps::IncrOrCreateWithin] {
            for policy in [FaultPolicy::Throw, FaultPolicy::Deny, FaultPolicy::Allow] {
                let engine = Engine::new(Limits::daily([("remix", 1)]).unwrap())
                    .with_counting(counting)
                    .with_fault_policy(policy);
                let store = FourMethods(MemoryStore::new(clock.clone()));
                let mut quota = Quota::new(engine, store, clock.clone());
                for _ in 0..2 {
                    let call = quota
                        .engine()
                        .reserve(&me, "remix", 1, quota.now())
                        .unwrap();
                    let err = quota.call(call).unwrap_err();
                    assert_eq!(
                        err.code,
                        ErrorCode::InvalidConfig,
                        "{counting:?} {policy:?}"
                    );
                }
            }
        }
    }
}
