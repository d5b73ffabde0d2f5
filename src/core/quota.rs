//! The native Rust API: an [`Engine`] over a synchronous [`Store`], on a [`Clock`] — what
//! `QuotaEngine` is to JS, and what governor's `check_key` is to a rate limiter: one method
//! call, one answer, no state machine to drive.
//!
//! ```
//! use wasm_quota::core::{Engine, Limits, MemoryStore, Profile, ProfileId, Quota, QuotaError, SystemClock};
//!
//! fn main() -> Result<(), QuotaError> {
//!     let clock = SystemClock; // the wall clock; in tests FakeClock::at(ms), which you move
//!     let limits = Limits::daily([("remix", 2)])?;
//!     let mut quota = Quota::new(Engine::new(limits), MemoryStore::new(clock), clock);
//!     let me = Profile::limited(ProfileId::number(42)?);
//!     let d = quota.reserve(&me, "remix", 1)?; // Decision { allowed, used, remaining, retry_after, reservation, … }
//!     if let Some(token) = d.reservation_token() {
//!         quota.release(&me, &token, None)?; // the work failed: give it back
//!     }
//!     assert_eq!(quota.usage(&me.id)?, vec![("remix".to_owned(), 0)]);
//!     Ok(())
//! }
//! ```
//!
//! Each method builds the engine's call at the clock's reading and runs it to its end over the
//! store ([`run`]). Under a fault policy other than `Throw` a store fault is answered by the
//! policy: [`Quota::call`] returns that as [`Outcome::Degraded`]; the typed methods, which
//! answer a [`Decision`], return the absorbed error instead.

use super::clock::Clock;
use super::decision::{Decision, Outcome};
use super::engine::Engine;
use super::error::{QuotaError, Result};
use super::key::{Profile, ProfileId};
use super::store::{run, Call, Store};

/// An [`Engine`] over `store`, reading the time from `clock`. Not `Send` (the engine keeps
/// `Rc`s, as single-threaded WASM wants): one per thread, as the README says.
///
/// ```compile_fail
/// use wasm_quota::core::{MemoryStore, Quota, SystemClock};
/// fn one_for_all_threads<T: Send>() {}
/// one_for_all_threads::<Quota<MemoryStore<SystemClock>, SystemClock>>();
/// ```
pub struct Quota<S: Store, C: Clock> {
    engine: Engine,
    store: S,
    clock: C,
}

impl<S: Store, C: Clock> Quota<S, C> {
    pub fn new(engine: Engine, store: S, clock: C) -> Self {
        Quota {
            engine,
            store,
            clock,
        }
    }

    /// Read-only: would `amount` more fit now? Counts nothing.
    pub fn check(&mut self, profile: &Profile, feature: &str, amount: i64) -> Result<Decision> {
        let call = self.engine.check(profile, feature, amount, self.now())?;
        self.decide(call)
    }

    /// Counts `amount` in every policy of `feature`, or in none (see [`Engine::reserve`]).
    pub fn reserve(&mut self, profile: &Profile, feature: &str, amount: i64) -> Result<Decision> {
        let call = self.engine.reserve(profile, feature, amount, self.now())?;
        self.decide(call)
    }

    /// [`Quota::reserve`] under an idempotency key (see [`Engine::reserve_once`]).
    pub fn reserve_once(
        &mut self,
        profile: &Profile,
        feature: &str,
        amount: i64,
        key: &str,
    ) -> Result<Decision> {
        let call = self
            .engine
            .reserve_once(profile, feature, amount, key, self.now())?;
        self.decide(call)
    }

    /// The Django service's post-hoc count: no limit check.
    pub fn increment(&mut self, profile: &Profile, feature: &str, amount: i64) -> Result<Decision> {
        let call = self
            .engine
            .increment(profile, feature, amount, self.now())?;
        self.decide(call)
    }

    /// Takes back a reservation (a token), or `amount` (default 1) of a feature's current
    /// window (see [`Engine::release`]).
    pub fn release(
        &mut self,
        profile: &Profile,
        token_or_feature: &str,
        amount: Option<i64>,
    ) -> Result<()> {
        let call = self
            .engine
            .release(profile, token_or_feature, amount, self.now())?;
        match self.call(call)? {
            Outcome::Released => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Corrects a reservation to `actual`; `false` when it was already settled or released, or
    /// its charge came too late for every window, or the window after each of its windows has
    /// ended.
    pub fn settle(&mut self, profile: &Profile, token: &str, actual: i64) -> Result<bool> {
        let call = self.engine.settle(profile, token, actual, self.now())?;
        match self.call(call)? {
            Outcome::Settled(applied) => Ok(applied),
            other => Err(unexpected(other)),
        }
    }

    /// `(feature, count)` for every configured feature, in the current window.
    pub fn usage(&mut self, id: &ProfileId) -> Result<Vec<(String, i64)>> {
        let call = self.engine.usage(id, self.now())?;
        match self.call(call)? {
            Outcome::Usage(counts) => Ok(counts),
            other => Err(unexpected(other)),
        }
    }

    /// Runs any call of the engine's (built at [`Quota::now`]) over the store.
    pub fn call(&mut self, call: Box<dyn Call>) -> Result<Outcome> {
        run(call, &mut self.store)
    }

    /// The clock's reading.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// For `set_limits`.
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    fn decide(&mut self, call: Box<dyn Call>) -> Result<Decision> {
        match self.call(call)? {
            Outcome::Decision(d) => Ok(d),
            Outcome::Degraded(d) => Err(d.error),
            other => Err(unexpected(other)),
        }
    }
}

/// A call finished with an outcome of another method: a bug, reported rather than a panic.
fn unexpected(outcome: Outcome) -> QuotaError {
    let what = match outcome {
        Outcome::Decision(_) => "a decision",
        Outcome::Usage(_) => "usage",
        Outcome::Released => "a release",
        Outcome::Settled(_) => "a settle",
        Outcome::Degraded(_) => "a degraded decision",
    };
    QuotaError::store(format!("internal: the call finished with {what}"))
}
