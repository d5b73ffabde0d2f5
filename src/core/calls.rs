//! The state machines behind each engine operation, as one type: a [`Machine`] holds any call
//! in progress — which method and where it stands (`Kind`), the counters it touches, its
//! feature, profile and record/marker keys — in buffers it keeps from one call to the next. A
//! host that reuses its machines (the JS binding keeps a table of them) builds no box, vector
//! or string per call once they are warm. `store.rs` says how a call is driven; `settle.rs` and
//! `idempotency.rs` hold the settle and idempotent-reserve steps.

use super::decision::{self, Decision, Outcome};
use super::direct::Figures;
use super::error::{QuotaError, Result};
use super::fault::Degraded;
use super::idempotency::Once;
use super::key::ProfileId;
use super::keytable::CounterKey;
use super::limits::{self, MAX_SAFE_INTEGER};
use super::reservation::{CounterTag, MacStart, Reservation, Tokens};
use super::settle::Settling;
use super::store::{self, Call, CountingOps, KeyRef, Step, Store, StoreOp, StoreReply, NO_KEY_ID};
use super::window::{Bounds, WindowUnit};
use std::rc::Rc;

/// One counter a call touches: a policy's key in the window of the call's instant.
#[derive(Debug, Clone)]
pub struct Target {
    pub key: CounterKey,
    pub limit: i64,
    pub span: Bounds,
    /// The policy was given as an object, so decisions name it.
    pub named: bool,
    /// The counter as a reservation token names it.
    pub counter_tag: CounterTag,
}

/// How a call ended, as numbers (the binding turns them into JS values; [`BoxedCall`] into an
/// [`Outcome`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    Decision {
        figures: Figures,
        replayed: bool,
    },
    /// Home mode or an unlimited profile.
    Unlimited,
    Released,
    Settled(bool),
    Usage(Vec<(String, i64)>),
    /// The store failed and the fault policy decided (`onStoreError: "deny" | "allow"`).
    Degraded {
        allowed: bool,
        error: QuotaError,
    },
}

/// What a machine wants next.
#[derive(Debug)]
pub enum Next {
    Op(StoreOp),
    Done(Result<Finished>),
}

/// Which method a machine runs, and where it stands.
#[derive(Default)]
pub(crate) enum Kind {
    /// Finished, or not started.
    #[default]
    Idle,
    /// Decided without the store (home mode, an unlimited profile).
    Ready(Finished),
    Check,
    Reserve(Reserving),
    Increment {
        /// Counters read so far, before any is written.
        checked: usize,
        step: CountStep,
    },
    Release {
        next: usize,
        clamping: bool,
    },
    Settle(Settling),
    Once(Once),
    /// The feature of each target.
    Usage(Vec<String>),
}

/// Signs the reservation of an admitted reserve: its nonce is drawn and its MAC computed only
/// then, so a denial costs neither.
#[derive(Debug, Clone)]
pub(crate) struct Signer {
    pub tokens: Tokens,
    pub prefix: Rc<str>,
    /// Bits of the nonce kept (idempotency records hold 52).
    pub nonce_mask: u64,
}

/// A call in progress (or a spare one). Every buffer is kept across calls.
#[derive(Default)]
pub struct Machine {
    pub(crate) kind: Kind,
    pub(crate) amount: i64,
    pub(crate) now_ms: i64,
    pub(crate) targets: Vec<Target>,
    pub(crate) counts: Vec<i64>,
    pub(crate) feature: String,
    pub(crate) profile: Option<ProfileId>,
    pub(crate) counting: CountingOps,
    /// `Some(allowed)`: a store fault is answered by the fault policy with that decision.
    pub(crate) guard: Option<bool>,
    pub(crate) signer: Option<Signer>,
    /// The MAC's state after the profile id when the host keeps one for the id (see
    /// [`MacStart`]); else the MAC starts from `profile`.
    pub(crate) mac_start: Option<MacStart>,
    /// The keys an idempotency record may be under (`records_len` of them, their buffers kept
    /// from call to call; the first is where a new one is written), which one the call names
    /// now, and a new record's lifetime.
    pub(crate) records: Vec<String>,
    pub(crate) records_len: usize,
    pub(crate) record_at: usize,
    pub(crate) record_ttl: u64,
    /// The settle marker's key; under an idempotency key, `marker_base` bytes of it are the
    /// part shared by every marker of the feature.
    pub(crate) marker: String,
    pub(crate) marker_base: usize,
}

impl Machine {
    /// Empties the machine for a new call of `feature` (buffers kept). The engine then fills
    /// in the call's targets and kind.
    pub(crate) fn reset(&mut self, feature: &str, amount: i64, now_ms: i64) {
        self.kind = Kind::Idle;
        self.amount = amount;
        self.now_ms = now_ms;
        self.targets.clear();
        self.counts.clear();
        self.feature.clear();
        self.feature.push_str(feature);
        self.counting = CountingOps::default();
        self.guard = None;
        self.signer = None;
        self.mac_start = None;
        self.records_len = 0;
        self.record_at = 0;
        self.marker.clear();
    }

    /// Remembers `id` for the reservation's MAC, reusing the buffer of the last string id.
    pub(crate) fn set_profile(&mut self, id: &ProfileId) {
        match (&mut self.profile, id) {
            (Some(ProfileId::Text(old)), ProfileId::Text(new))
            | (Some(ProfileId::Raw(old)), ProfileId::Raw(new)) => {
                old.clear();
                old.push_str(new);
            }
            (slot, id) => *slot = Some(id.clone()),
        }
    }

    /// The feature of the call.
    pub fn feature(&self) -> &str {
        &self.feature
    }

    /// The counters the call counts in, as its reservation's token names them.
    pub fn counted_in(&self) -> impl ExactSizeIterator<Item = CounterTag> + '_ {
        self.targets.iter().map(|t| t.counter_tag)
    }

    /// The text of the key an operation names: the one place a [`KeyRef`] is resolved.
    pub fn key(&self, key: KeyRef) -> &str {
        match key {
            // Only this file makes a `Policy(i)`, always below `targets.len()`. Past it would be
            // a bug here: indexing stops it loudly, where an empty key would be one counter
            // every profile shares.
            KeyRef::Policy(i) => &self.targets[i].key,
            KeyRef::Record => &self.records[self.record_at],
            KeyRef::Marker => &self.marker,
        }
    }

    /// The number of that key (counters only; see [`Call::key_id`]).
    pub fn key_id(&self, key: KeyRef) -> u64 {
        match key {
            KeyRef::Policy(i) => self.targets.get(i).map_or(NO_KEY_ID, |t| t.key.id),
            KeyRef::Record | KeyRef::Marker => NO_KEY_ID,
        }
    }

    /// Advances the call with the reply to its last operation (`None` to start it).
    pub fn resume(&mut self, reply: Option<StoreReply>) -> Next {
        let mut kind = match std::mem::take(&mut self.kind) {
            Kind::Idle => {
                return Next::Done(Err(QuotaError::store("call resumed after it finished")))
            }
            Kind::Ready(finished) => return Next::Done(Ok(finished)),
            kind => kind,
        };
        let next = match &mut kind {
            Kind::Idle | Kind::Ready(_) => unreachable!("answered above"),
            Kind::Check => self.check(reply),
            Kind::Reserve(state) => self.reserve(state, reply),
            Kind::Increment { checked, step } => self.increment(checked, step, reply),
            Kind::Release { next, clamping } => self.release(next, clamping, reply),
            Kind::Settle(state) => self.settle(state, reply),
            Kind::Once(once) => self.once(once, reply),
            Kind::Usage(features) => self.usage(features, reply),
        };
        if matches!(next, Next::Op(_)) {
            self.kind = kind;
        }
        next
    }

    /// The store failed on the last operation (threw, rejected, timed out): how the call ends.
    /// It is not resumed afterwards. The call decides first — one that already knows its
    /// outcome (a denial whose rollback failed) keeps it; a fault that leaves the decision
    /// unknown is the fault policy's (see `fault.rs`).
    pub fn fail(&mut self, error: QuotaError) -> Result<Finished> {
        let known = match std::mem::take(&mut self.kind) {
            Kind::Reserve(mut state) => state.fail(error),
            Kind::Once(mut once) => once.fail(error),
            _ => Err(error),
        };
        match (known, self.guard) {
            (Err(error), Some(allowed)) if error.is_store_fault() => {
                Ok(Finished::Degraded { allowed, error })
            }
            (known, _) => known,
        }
    }

    /// Runs the call to its end over a synchronous store.
    pub fn run(&mut self, store: &mut dyn Store) -> Result<Finished> {
        let mut reply = None;
        loop {
            match self.resume(reply.take()) {
                Next::Done(finished) => return finished,
                Next::Op(op) => match store::perform_on(self.key(op.key()), op, store) {
                    Ok(r) => reply = Some(r),
                    Err(e) => return self.fail(e),
                },
            }
        }
    }

    /// The decision on policy `i` at count `used` (allowed or not).
    pub(crate) fn figures(&self, i: usize, used: i64, allowed: bool) -> Finished {
        let t = &self.targets[i];
        Finished::Decision {
            figures: Figures {
                allowed,
                unlimited: false,
                limit: t.limit,
                used,
                remaining: decision::remaining(t.limit, used),
                resets_at_ms: t.span.end_ms,
                retry_after: decision::retry_after(
                    allowed,
                    self.amount,
                    t.limit,
                    &t.span,
                    self.now_ms,
                ),
                policy: i,
                named: t.named,
                reservation: None,
            },
            replayed: false,
        }
    }

    /// The allowed decision on the tightest policy (see [`decision::tightest`]) at `counts`.
    pub(crate) fn tightest(&self) -> Finished {
        let targets = &self.targets;
        let p = decision::tightest(targets.len(), |i| targets[i].limit, &self.counts);
        self.figures(p, self.counts[p], true)
    }

    /// A count read for a decision (see [`limits::read_count`]).
    pub(crate) fn read_count(&self, i: usize, reply: Option<StoreReply>) -> Result<i64> {
        match reply {
            Some(StoreReply::Count(n)) => limits::read_count(&self.targets[i].key, n),
            other => Err(unexpected(other)),
        }
    }

    /// The TTL of policy `i`'s counter when created now.
    pub(crate) fn ttl(&self, i: usize) -> u64 {
        self.targets[i].span.key_ttl(self.now_ms)
    }

    /// The signed reservation `(at_ms, amount, nonce, mac)` of an admitted reserve, with a
    /// fresh nonce. Under an idempotency key one call may be admitted twice (its first count
    /// undone after losing the record race to an attempt since released): each admission is
    /// signed, so the one that stands holds a token.
    fn admit(&self) -> Option<(i64, i64, u64, u64)> {
        let signer = self.signer.as_ref()?;
        let nonce = signer.tokens.next_nonce() & signer.nonce_mask;
        let key = signer.tokens.key();
        let counted = self.counted_in();
        let mac = match &self.mac_start {
            Some(start) => start.mac(&self.feature, counted, self.now_ms, self.amount, nonce),
            None => {
                let start = MacStart::new(&key, &signer.prefix, self.profile.as_ref()?);
                start.mac(&self.feature, counted, self.now_ms, self.amount, nonce)
            }
        };
        Some((self.now_ms, self.amount, nonce, mac))
    }

    /// Reads the policies' counters one `get` at a time, the reply to the last into
    /// `self.counts`: the next step (the next `get`, or the store's error), or `None` once
    /// every count is in.
    fn read_every_counter(&mut self, reply: Option<StoreReply>) -> Option<Next> {
        if reply.is_some() {
            match self.read_count(self.counts.len(), reply) {
                Ok(n) => self.counts.push(n),
                Err(e) => return Some(Next::Done(Err(e))),
            }
        }
        let i = self.counts.len();
        let key = KeyRef::Policy(i);
        (i < self.targets.len()).then_some(Next::Op(StoreOp::Get { key }))
    }

    /// `check`: read every policy's counter; allowed when `used + amount <= limit` for all.
    fn check(&mut self, reply: Option<StoreReply>) -> Next {
        if let Some(next) = self.read_every_counter(reply) {
            return next;
        }
        let (targets, n) = (&self.targets, self.counts.len());
        let (limit, end) = (
            |i: usize| targets[i].limit,
            |i: usize| targets[i].span.end_ms,
        );
        let denied = decision::denying(n, limit, end, &self.counts, self.amount);
        Next::Done(Ok(match denied {
            Some(p) => self.figures(p, self.counts[p], false),
            None => self.tightest(),
        }))
    }

    /// `reserve`: count in each policy in turn; on the first over its limit, roll back every
    /// count made so far (newest first; that policy's own only when the store wrote it, not
    /// with `IncrOrCreateWithin`) and deny. An amount larger than a limit is denied
    /// without writing. The token of an admitted reserve is signed on admission.
    pub(crate) fn reserve(&mut self, state: &mut Reserving, reply: Option<StoreReply>) -> Next {
        match state {
            Reserving::Start => {
                let targets = &self.targets;
                let (n, end) = (targets.len(), |i: usize| targets[i].span.end_ms);
                if let Some(i) = decision::denying(n, |i| targets[i].limit, end, &[], self.amount) {
                    *state = Reserving::ReadingUsed(i);
                    return Next::Op(StoreOp::Get {
                        key: KeyRef::Policy(i),
                    });
                }
                self.start_counting(state, 0)
            }
            &mut Reserving::ReadingUsed(i) => Next::Done(
                self.read_count(i, reply)
                    .map(|used| self.figures(i, used, false)),
            ),
            Reserving::Counting(step) => {
                let i = self.counts.len();
                let within = *step == CountStep::IncrOrCreateWithin;
                match step.on_reply(reply, KeyRef::Policy(i), self.amount, self.ttl(i)) {
                    Ok(Counted::Next(next, op)) => {
                        *step = next;
                        Next::Op(op)
                    }
                    Ok(Counted::Value(n)) => self.counted(state, i, n, within),
                    // The store answered nonsense mid-count: undo this policy's count too, in
                    // case it happened.
                    Err(e) => roll_back(state, i + 1, Err(e), self.amount),
                }
            }
            // A missing key means there is nothing left to undo. A count left above
            // MAX_SAFE_INTEGER comes from a store computing in JS numbers, which are 2 apart
            // past 2^53: the counter held at most MAX_SAFE_INTEGER, so it goes back there.
            Reserving::RollingBack { left, .. } => match reply {
                Some(StoreReply::Count(Some(n))) if n > MAX_SAFE_INTEGER => {
                    Next::Op(StoreOp::Incr {
                        key: KeyRef::Policy(*left),
                        delta: MAX_SAFE_INTEGER - n,
                    })
                }
                _ => match state.resume_rollback(self.amount) {
                    // Rolled back: a policy after the one that denied may deny longer.
                    Next::Done(Ok(denial)) => self.read_later(state, denial, None),
                    next => next,
                },
            },
            Reserving::ReadingLater { denial, next } => {
                let (denial, next) = (std::mem::replace(denial, Finished::Released), *next);
                self.read_later(state, denial, Some((next, reply)))
            }
        }
    }

    /// A reserve denied by one policy reads the counters of the policies after it whose
    /// windows end later (it did not count in them), and denies on the one the amount cannot
    /// fit in for longest (see [`decision::later_denial`]). `read`: the policy just read and
    /// the store's reply.
    fn read_later(
        &mut self,
        state: &mut Reserving,
        mut denial: Finished,
        read: Option<(usize, Option<StoreReply>)>,
    ) -> Next {
        let Finished::Decision { figures, .. } = &denial else {
            return Next::Done(Ok(denial));
        };
        let mut best = figures.policy;
        if let Some((j, reply)) = read {
            // A count that cannot be read leaves the denial as it is: it stands either way.
            let Ok(used) = self.read_count(j, reply) else {
                return Next::Done(Ok(denial));
            };
            let t = &self.targets[j];
            let end = |i: usize| self.targets[i].span.end_ms;
            if used + self.amount > t.limit && decision::later_denial(Some(best), j, end) == Some(j)
            {
                denial = self.figures(j, used, false);
                best = j;
            }
        }
        let from = read.map_or(best, |(j, _)| j) + 1;
        let best_end = self.targets[best].span.end_ms;
        match (from..self.targets.len()).find(|&j| self.targets[j].span.end_ms > best_end) {
            Some(next) => {
                *state = Reserving::ReadingLater { denial, next };
                Next::Op(StoreOp::Get {
                    key: KeyRef::Policy(next),
                })
            }
            None => Next::Done(Ok(denial)),
        }
    }

    /// The first operation of counting in policy `i`: within its limit when the store can.
    fn start_counting(&mut self, state: &mut Reserving, i: usize) -> Next {
        let (key, limit) = (KeyRef::Policy(i), self.targets[i].limit);
        let (step, op) = match self.counting {
            CountingOps::IncrOrCreateWithin => {
                CountStep::within(key, self.amount, self.ttl(i), limit)
            }
            ops => CountStep::start(ops, key, self.amount, self.ttl(i)),
        };
        *state = Reserving::Counting(step);
        Next::Op(op)
    }

    /// The counter of policy `i` holds `n` with this reserve's amount added; `within`: the
    /// store wrote it only if `n` is within the limit (`IncrOrCreateWithin`).
    fn counted(&mut self, state: &mut Reserving, i: usize, n: i64, within: bool) -> Next {
        let t = &self.targets[i];
        if n < self.amount {
            let err = QuotaError::corrupt(&t.key, format!("{n} after adding {}", self.amount));
            return roll_back(state, i + 1, Err(err), self.amount);
        }
        if n > t.limit {
            // Past 2^53 the store's answer may be rounded: what it held is at most MAX_SAFE.
            let used = (n - self.amount).min(MAX_SAFE_INTEGER);
            let denial = self.figures(i, used, false);
            let written = if within { i } else { i + 1 };
            return match roll_back(state, written, Ok(denial), self.amount) {
                // Nothing to undo: a policy after the one that denied may deny longer.
                Next::Done(Ok(denial)) => self.read_later(state, denial, None),
                next => next,
            };
        }
        self.counts.push(n);
        if i + 1 < self.targets.len() {
            return self.start_counting(state, i + 1);
        }
        let mut decision = self.tightest();
        if let Finished::Decision { figures, .. } = &mut decision {
            figures.reservation = self.admit();
        }
        Next::Done(Ok(decision))
    }

    /// `increment`: the Django service's post-hoc count in every policy, with no limit check.
    /// It first reads every counter, and refuses (writing nothing) a count that would pass
    /// MAX_SAFE_INTEGER (see [`limits::room_in`]).
    fn increment(
        &mut self,
        checked: &mut usize,
        step: &mut CountStep,
        mut reply: Option<StoreReply>,
    ) -> Next {
        let n = self.targets.len();
        if *checked < n {
            if reply.is_some() {
                let key = &self.targets[*checked].key;
                let room = match reply.take() {
                    Some(StoreReply::Count(n)) => limits::room_in(key, n, self.amount),
                    other => Err(unexpected(other)),
                };
                if let Err(e) = room {
                    return Next::Done(Err(e));
                }
                *checked += 1;
            }
            if *checked < n {
                return Next::Op(StoreOp::Get {
                    key: KeyRef::Policy(*checked),
                });
            }
        }
        let i = self.counts.len();
        if reply.is_some() {
            match step.on_reply(reply, KeyRef::Policy(i), self.amount, self.ttl(i)) {
                Ok(Counted::Next(next, op)) => {
                    *step = next;
                    return Next::Op(op);
                }
                // Only a write racing this call since its read can take it past.
                Ok(Counted::Value(n)) if n > MAX_SAFE_INTEGER => {
                    let what = "a concurrent write got there since it was read";
                    let key = &self.targets[i].key;
                    let e = limits::past_safe(key, n - self.amount, self.amount, what);
                    return Next::Done(Err(e));
                }
                Ok(Counted::Value(n)) => self.counts.push(n),
                Err(e) => return Next::Done(Err(e)),
            }
        }
        let i = self.counts.len();
        if i < n {
            let (next, op) =
                CountStep::start(self.counting, KeyRef::Policy(i), self.amount, self.ttl(i));
            *step = next;
            return Next::Op(op);
        }
        Next::Done(Ok(self.tightest()))
    }

    /// `release`: decrement each policy's counter; bring a negative result back to 0 (the
    /// Django service's defence in depth); skip a missing counter.
    ///
    /// The clamp adds back what this release saw below zero (`incr(key, -n)`) instead of the
    /// Django service's `set(key, 0)`: a blind overwrite would erase whatever a concurrent
    /// reserve or increment counted in between (and the reserve's rollback would then drive
    /// the counter negative — `tests/proptests.rs` found it). Alone, both end at 0.
    fn release(
        &mut self,
        next: &mut usize,
        clamping: &mut bool,
        reply: Option<StoreReply>,
    ) -> Next {
        match reply {
            Some(StoreReply::Count(Some(n))) if n < 0 && !*clamping => {
                *clamping = true;
                return Next::Op(StoreOp::Incr {
                    key: KeyRef::Policy(*next - 1),
                    delta: -n,
                });
            }
            // Whatever the clamp's incr answers (gone, or still negative because another
            // release is mid-clamp) there is nothing more for this release to do.
            None | Some(StoreReply::Count(_)) => {}
            other => return Next::Done(Err(unexpected(other))),
        }
        *clamping = false;
        if *next < self.targets.len() {
            *next += 1;
            return Next::Op(StoreOp::Incr {
                key: KeyRef::Policy(*next - 1),
                delta: -self.amount,
            });
        }
        Next::Done(Ok(Finished::Released))
    }

    /// `usage`: read one counter per feature.
    fn usage(&mut self, features: &mut Vec<String>, reply: Option<StoreReply>) -> Next {
        if let Some(next) = self.read_every_counter(reply) {
            return next;
        }
        let counts = std::mem::take(features)
            .into_iter()
            .zip(self.counts.iter().copied());
        Next::Done(Ok(Finished::Usage(counts.collect())))
    }
}

/// Where a reserve stands.
pub(crate) enum Reserving {
    Start,
    Counting(CountStep),
    /// Reading the count of a policy whose limit is below the amount.
    ReadingUsed(usize),
    /// Undoing `left` counts, then finishing with `result`.
    RollingBack {
        left: usize,
        result: Option<Result<Finished>>,
    },
    /// Denied (and rolled back): reading the counter of policy `next`, which may deny longer.
    ReadingLater {
        denial: Finished,
        next: usize,
    },
}

/// Undoes `counted` counts (newest first), then finishes with `result`.
fn roll_back(state: &mut Reserving, counted: usize, result: Result<Finished>, amount: i64) -> Next {
    *state = Reserving::RollingBack {
        left: counted,
        result: Some(result),
    };
    state.resume_rollback(amount)
}

impl Reserving {
    fn resume_rollback(&mut self, amount: i64) -> Next {
        let Reserving::RollingBack { left, result } = self else {
            unreachable!("only called while rolling back")
        };
        if *left == 0 {
            return Next::Done(result.take().unwrap_or_else(|| Err(unexpected(None))));
        }
        *left -= 1;
        Next::Op(StoreOp::Incr {
            key: KeyRef::Policy(*left),
            delta: -amount,
        })
    }

    /// A rollback that fails does not change what the store already said: a denial stays a
    /// denial (under every `onStoreError`), and the undo that may not have happened is the
    /// documented over-count; a corrupt count stays `CORRUPT_COUNTER`.
    pub(crate) fn fail(&mut self, error: QuotaError) -> Result<Finished> {
        match self {
            Reserving::RollingBack { result, .. } => result.take().unwrap_or(Err(error)),
            // The denial stands; only how long it lasts is unknown.
            Reserving::ReadingLater { denial, .. } => {
                Ok(std::mem::replace(denial, Finished::Released))
            }
            _ => Err(error),
        }
    }
}

/// A store reply of the wrong kind. Not inlined: an error path, in every step that reads one.
#[inline(never)]
pub(crate) fn unexpected(reply: Option<StoreReply>) -> QuotaError {
    // Named by hand: a derived Debug would pull formatting machinery into the .wasm.
    let what = match reply {
        None => "none",
        Some(StoreReply::Count(_)) => "a count",
        Some(StoreReply::Added(_)) => "an add result",
        Some(StoreReply::Done) => "a set result",
    };
    QuotaError::store(format!("unexpected store reply: {what}"))
}

/// Counting in a counter that may not exist yet: the store's own `incrOrCreate` (one op), or
/// the Django service's race-safe create-or-increment: `incr`; if absent `add`; if `add` lost a
/// race `incr` again; if that finds the key gone (expired in between) `set`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CountStep {
    IncrOrCreate,
    IncrOrCreateWithin,
    Incr,
    Add,
    IncrAgain,
    Set,
}

pub(crate) enum Counted {
    Next(CountStep, StoreOp),
    Value(i64),
}

impl CountStep {
    pub(crate) fn start(
        ops: CountingOps,
        key: KeyRef,
        amount: i64,
        ttl_secs: u64,
    ) -> (CountStep, StoreOp) {
        match ops {
            CountingOps::IncrOrCreate | CountingOps::IncrOrCreateWithin => (
                CountStep::IncrOrCreate,
                StoreOp::IncrOrCreate {
                    key,
                    delta: amount,
                    ttl_secs,
                },
            ),
            CountingOps::IncrAddSet => (CountStep::Incr, StoreOp::Incr { key, delta: amount }),
        }
    }

    /// A reserve's count in a store with `IncrOrCreateWithin`.
    pub(crate) fn within(
        key: KeyRef,
        amount: i64,
        ttl_secs: u64,
        limit: i64,
    ) -> (CountStep, StoreOp) {
        let op = StoreOp::IncrOrCreateWithin {
            key,
            delta: amount,
            ttl_secs,
            limit,
        };
        (CountStep::IncrOrCreateWithin, op)
    }

    pub(crate) fn on_reply(
        self,
        reply: Option<StoreReply>,
        key: KeyRef,
        amount: i64,
        ttl_secs: u64,
    ) -> Result<Counted> {
        use CountStep::*;
        Ok(match (self, reply) {
            (
                IncrOrCreate | IncrOrCreateWithin | Incr | IncrAgain,
                Some(StoreReply::Count(Some(n))),
            ) => Counted::Value(n),
            (Incr, Some(StoreReply::Count(None))) => Counted::Next(
                Add,
                StoreOp::Add {
                    key,
                    value: amount,
                    ttl_secs,
                },
            ),
            (Add, Some(StoreReply::Added(true))) => Counted::Value(amount),
            (Add, Some(StoreReply::Added(false))) => {
                Counted::Next(IncrAgain, StoreOp::Incr { key, delta: amount })
            }
            (IncrAgain, Some(StoreReply::Count(None))) => Counted::Next(
                Set,
                StoreOp::Set {
                    key,
                    value: amount,
                    ttl_secs,
                },
            ),
            (Set, Some(StoreReply::Done)) => Counted::Value(amount),
            (_, other) => return Err(unexpected(other)),
        })
    }
}

/// A [`Machine`] as a boxed [`Call`] answering [`Outcome`]s, for native hosts and tests: it
/// also holds the names a [`Decision`] carries.
pub struct BoxedCall {
    machine: Machine,
    /// Per policy of the feature: its name and window when given as an object.
    policies: Vec<Option<(String, WindowUnit)>>,
}

impl BoxedCall {
    pub(crate) fn new(machine: Machine, policies: Vec<Option<(String, WindowUnit)>>) -> Self {
        BoxedCall { machine, policies }
    }

    fn outcome(&self, finished: Finished) -> Outcome {
        let feature = &self.machine.feature;
        match finished {
            Finished::Decision {
                figures: f,
                replayed,
            } => {
                let named = self.policies.get(f.policy).cloned().flatten();
                Outcome::Decision(Decision {
                    allowed: f.allowed,
                    feature: feature.clone(),
                    unlimited: false,
                    limit: f.limit,
                    used: f.used,
                    remaining: f.remaining,
                    resets_at_ms: f.resets_at_ms,
                    retry_after: f.retry_after,
                    reservation: f
                        .reservation
                        .map(|(at_ms, amount, nonce, mac)| Reservation {
                            feature: feature.clone(),
                            at_ms,
                            amount,
                            counted: Some(CounterTag::spell(self.machine.counted_in())),
                            nonce,
                            mac,
                        }),
                    policy: f.policy,
                    window: named.as_ref().map(|&(_, w)| w),
                    policy_name: named.map(|(name, _)| name),
                    replayed,
                })
            }
            Finished::Unlimited => Outcome::Decision(Decision::unlimited(feature)),
            Finished::Released => Outcome::Released,
            Finished::Settled(applied) => Outcome::Settled(applied),
            Finished::Usage(counts) => Outcome::Usage(counts),
            Finished::Degraded { allowed, error } => Outcome::Degraded(Degraded {
                allowed,
                feature: feature.clone(),
                error,
            }),
        }
    }
}

impl Call for BoxedCall {
    fn key(&self, key: KeyRef) -> &str {
        self.machine.key(key)
    }

    fn key_id(&self, key: KeyRef) -> u64 {
        self.machine.key_id(key)
    }

    fn resume(&mut self, reply: Option<StoreReply>) -> Step {
        match self.machine.resume(reply) {
            Next::Op(op) => Step::Op(op),
            Next::Done(finished) => Step::Done(finished.map(|f| self.outcome(f))),
        }
    }

    fn fail(&mut self, error: QuotaError) -> Result<Outcome> {
        self.machine.fail(error).map(|f| self.outcome(f))
    }
}
