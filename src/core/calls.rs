//! The state machines behind each engine operation (see `store.rs` for how they are driven).

use super::decision::{self, Decision, Outcome};
use super::error::{QuotaError, Result};
use super::keytable::CounterKey;
use super::limits::{self, MAX_SAFE_INTEGER};
use super::reservation::PendingToken;
use super::store::{Call, CountingOps, Step, StoreOp, StoreReply};
use super::window::{Bounds, WindowUnit};

/// One counter a call touches: a policy's key in the window of the call's instant.
#[derive(Debug, Clone)]
pub struct Target {
    pub key: CounterKey,
    pub limit: i64,
    pub span: Bounds,
    /// Name and window of a policy given as an object (decisions name it); `None` for a plain
    /// number, whose decisions keep the foundation's exact shape.
    pub policy: Option<(String, WindowUnit)>,
}

/// The decision on policy `policy` (its counter `t`) at count `used`, for a call of `amount`.
pub(crate) fn figures(
    feature: &str,
    (t, policy): (&Target, usize),
    used: i64,
    (amount, allowed): (i64, bool),
    now_ms: i64,
) -> Decision {
    Decision {
        allowed,
        feature: feature.to_owned(),
        unlimited: false,
        limit: t.limit,
        used,
        remaining: decision::remaining(t.limit, used),
        resets_at_ms: t.span.end_ms,
        retry_after: decision::retry_after(allowed, amount, t.limit, &t.span, now_ms),
        reservation: None,
        policy,
        policy_name: t.policy.as_ref().map(|(name, _)| name.clone()),
        window: t.policy.as_ref().map(|&(_, w)| w),
        replayed: false,
    }
}

/// The allowed decision reports the tightest policy (see [`decision::tightest`]).
pub(crate) fn tightest(targets: &[Target], counts: &[i64]) -> usize {
    decision::tightest(targets.len(), |i| targets[i].limit, counts)
}

/// A count read from the store for a decision (see [`limits::read_count`]).
pub(crate) fn read_count(t: &Target, reply: Option<StoreReply>) -> Result<i64> {
    match reply {
        Some(StoreReply::Count(n)) => limits::read_count(&t.key, n),
        other => Err(unexpected(other)),
    }
}

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
enum Counting {
    IncrOrCreate,
    Incr,
    Add,
    IncrAgain,
    Set,
}

enum Counted {
    Next(Counting, StoreOp),
    Value(i64),
}

impl Counting {
    fn start(ops: CountingOps, key: usize, amount: i64, ttl_secs: u64) -> (Counting, StoreOp) {
        match ops {
            CountingOps::IncrOrCreate => (
                Counting::IncrOrCreate,
                StoreOp::IncrOrCreate {
                    key,
                    delta: amount,
                    ttl_secs,
                },
            ),
            CountingOps::IncrAddSet => (Counting::Incr, StoreOp::Incr { key, delta: amount }),
        }
    }

    fn on_reply(
        self,
        reply: Option<StoreReply>,
        key: usize,
        amount: i64,
        ttl_secs: u64,
    ) -> Result<Counted> {
        Ok(match (self, reply) {
            (
                Counting::IncrOrCreate | Counting::Incr | Counting::IncrAgain,
                Some(StoreReply::Count(Some(n))),
            ) => Counted::Value(n),
            (Counting::Incr, Some(StoreReply::Count(None))) => Counted::Next(
                Counting::Add,
                StoreOp::Add {
                    key,
                    value: amount,
                    ttl_secs,
                },
            ),
            (Counting::Add, Some(StoreReply::Added(true))) => Counted::Value(amount),
            (Counting::Add, Some(StoreReply::Added(false))) => {
                Counted::Next(Counting::IncrAgain, StoreOp::Incr { key, delta: amount })
            }
            (Counting::IncrAgain, Some(StoreReply::Count(None))) => Counted::Next(
                Counting::Set,
                StoreOp::Set {
                    key,
                    value: amount,
                    ttl_secs,
                },
            ),
            (Counting::Set, Some(StoreReply::Done)) => Counted::Value(amount),
            (_, other) => return Err(unexpected(other)),
        })
    }
}

/// A call that is already decided (home mode, unlimited profile).
pub struct ReadyCall(pub Option<Outcome>);

impl Call for ReadyCall {
    fn key(&self, _: usize) -> &str {
        ""
    }
    fn resume(&mut self, _: Option<StoreReply>) -> Step {
        Step::Done(
            self.0
                .take()
                .ok_or_else(|| QuotaError::store("call resumed after it finished")),
        )
    }
}

/// `check`: read every policy's counter; allowed when `used + amount <= limit` for all.
pub struct CheckCall {
    feature: String,
    amount: i64,
    now_ms: i64,
    targets: Vec<Target>,
    counts: Vec<i64>,
}

impl CheckCall {
    pub fn new(feature: &str, amount: i64, now_ms: i64, targets: Vec<Target>) -> Self {
        let counts = Vec::with_capacity(targets.len());
        CheckCall {
            feature: feature.to_owned(),
            amount,
            now_ms,
            targets,
            counts,
        }
    }
}

impl Call for CheckCall {
    fn key(&self, i: usize) -> &str {
        &self.targets[i].key
    }
    fn key_id(&self, i: usize) -> u64 {
        self.targets[i].key.id
    }

    fn resume(&mut self, reply: Option<StoreReply>) -> Step {
        if reply.is_some() {
            match read_count(&self.targets[self.counts.len()], reply) {
                Ok(n) => self.counts.push(n),
                Err(e) => return Step::Done(Err(e)),
            }
        }
        let i = self.counts.len();
        if i < self.targets.len() {
            return Step::Op(StoreOp::Get { key: i });
        }
        let targets = &self.targets;
        let denied = decision::denying(i, |i| targets[i].limit, &self.counts, self.amount);
        let (p, allowed) = match denied {
            Some(p) => (p, false),
            None => (tightest(targets, &self.counts), true),
        };
        let d = figures(
            &self.feature,
            (&targets[p], p),
            self.counts[p],
            (self.amount, allowed),
            self.now_ms,
        );
        Step::Done(Ok(Outcome::Decision(d)))
    }
}

/// `reserve`: count in each policy in turn; on the first over its limit, roll back every
/// count made so far (newest first) and deny. An amount larger than a limit is denied
/// without writing.
pub struct ReserveCall {
    feature: String,
    amount: i64,
    now_ms: i64,
    targets: Vec<Target>,
    counts: Vec<i64>,
    state: ReserveState,
    /// The token an allowed reserve hands out, signed on admission.
    token: Option<PendingToken>,
    ops: CountingOps,
}

enum ReserveState {
    Start,
    Counting(Counting),
    /// Reading the count of a policy whose limit is below the amount.
    ReadingUsed(usize),
    /// Undoing `left` counts, then finishing with `result`.
    RollingBack {
        left: usize,
        result: Option<Result<Outcome>>,
    },
}

impl ReserveCall {
    pub fn new(feature: &str, amount: i64, now_ms: i64, targets: Vec<Target>) -> Self {
        let counts = Vec::with_capacity(targets.len());
        ReserveCall {
            feature: feature.to_owned(),
            amount,
            now_ms,
            targets,
            counts,
            state: ReserveState::Start,
            token: None,
            ops: CountingOps::default(),
        }
    }

    /// Counts with the store's `incrOrCreate` when it has one (see [`CountingOps`]).
    pub fn with_counting(mut self, ops: CountingOps) -> Self {
        self.ops = ops;
        self
    }

    /// The first operation of counting in policy `i`.
    fn start_counting(&mut self, i: usize) -> Step {
        let ttl = self.targets[i].span.seconds_to_reset(self.now_ms);
        let (phase, op) = Counting::start(self.ops, i, self.amount, ttl);
        self.state = ReserveState::Counting(phase);
        Step::Op(op)
    }

    /// The token an allowed reserve hands out (see `reservation.rs`).
    pub fn with_token(mut self, token: PendingToken) -> Self {
        self.token = Some(token);
        self
    }

    fn roll_back(&mut self, counted: usize, result: Result<Outcome>) -> Step {
        self.state = ReserveState::RollingBack {
            left: counted,
            result: Some(result),
        };
        self.resume_rollback()
    }

    fn resume_rollback(&mut self) -> Step {
        let ReserveState::RollingBack { left, result } = &mut self.state else {
            unreachable!("only called while rolling back")
        };
        if *left == 0 {
            return Step::Done(result.take().unwrap_or_else(|| Err(unexpected(None))));
        }
        *left -= 1;
        Step::Op(StoreOp::Incr {
            key: *left,
            delta: -self.amount,
        })
    }

    /// The counter of policy `i` now holds `n`, including this reserve's amount.
    fn counted(&mut self, i: usize, n: i64) -> Step {
        let t = &self.targets[i];
        if n < self.amount {
            let err = QuotaError::corrupt(&t.key, format!("{n} after adding {}", self.amount));
            return self.roll_back(i + 1, Err(err));
        }
        if n > t.limit {
            // Past 2^53 the store's answer may be rounded: what it held is at most MAX_SAFE.
            let used = (n - self.amount).min(MAX_SAFE_INTEGER);
            let d = figures(
                &self.feature,
                (t, i),
                used,
                (self.amount, false),
                self.now_ms,
            );
            return self.roll_back(i + 1, Ok(Outcome::Decision(d)));
        }
        self.counts.push(n);
        if i + 1 < self.targets.len() {
            return self.start_counting(i + 1);
        }
        let p = tightest(&self.targets, &self.counts);
        let mut d = figures(
            &self.feature,
            (&self.targets[p], p),
            self.counts[p],
            (self.amount, true),
            self.now_ms,
        );
        d.reservation = self.token.take().map(|t| t.admit(&self.feature));
        Step::Done(Ok(Outcome::Decision(d)))
    }
}

impl Call for ReserveCall {
    fn key(&self, i: usize) -> &str {
        &self.targets[i].key
    }
    fn key_id(&self, i: usize) -> u64 {
        self.targets[i].key.id
    }

    fn resume(&mut self, reply: Option<StoreReply>) -> Step {
        match self.state {
            ReserveState::Start => {
                let targets = &self.targets;
                if let Some(i) =
                    decision::denying(targets.len(), |i| targets[i].limit, &[], self.amount)
                {
                    self.state = ReserveState::ReadingUsed(i);
                    return Step::Op(StoreOp::Get { key: i });
                }
                self.start_counting(0)
            }
            ReserveState::ReadingUsed(i) => {
                Step::Done(read_count(&self.targets[i], reply).map(|used| {
                    Outcome::Decision(figures(
                        &self.feature,
                        (&self.targets[i], i),
                        used,
                        (self.amount, false),
                        self.now_ms,
                    ))
                }))
            }
            ReserveState::Counting(phase) => {
                let i = self.counts.len();
                let ttl = self.targets[i].span.seconds_to_reset(self.now_ms);
                match phase.on_reply(reply, i, self.amount, ttl) {
                    Ok(Counted::Next(next, op)) => {
                        self.state = ReserveState::Counting(next);
                        Step::Op(op)
                    }
                    Ok(Counted::Value(n)) => self.counted(i, n),
                    // The store answered nonsense mid-count: undo this policy's count too, in
                    // case it happened.
                    Err(e) => self.roll_back(i + 1, Err(e)),
                }
            }
            // A missing key means there is nothing left to undo. A count left above
            // MAX_SAFE_INTEGER comes from a store computing in JS numbers, which are 2 apart
            // past 2^53: the counter held at most MAX_SAFE_INTEGER, so it goes back there.
            ReserveState::RollingBack { left, .. } => match reply {
                Some(StoreReply::Count(Some(n))) if n > MAX_SAFE_INTEGER => {
                    Step::Op(StoreOp::Incr {
                        key: left,
                        delta: MAX_SAFE_INTEGER - n,
                    })
                }
                _ => self.resume_rollback(),
            },
        }
    }

    /// A rollback that fails does not change what the store already said: a denial stays a
    /// denial (under every `onStoreError`), and the undo that may not have happened is the
    /// documented over-count; a corrupt count stays `CORRUPT_COUNTER`.
    fn fail(&mut self, error: QuotaError) -> Result<Outcome> {
        match &mut self.state {
            ReserveState::RollingBack { result, .. } => result.take().unwrap_or(Err(error)),
            _ => Err(error),
        }
    }
}

/// `increment`: the Django service's post-hoc count in every policy, with no limit check. It
/// first reads every counter, and refuses (writing nothing) a count that would pass
/// MAX_SAFE_INTEGER (see [`limits::room_for`]).
pub struct IncrementCall {
    feature: String,
    amount: i64,
    now_ms: i64,
    targets: Vec<Target>,
    /// Counters read so far, before any is written.
    checked: usize,
    counts: Vec<i64>,
    phase: Counting,
    ops: CountingOps,
}

impl IncrementCall {
    pub fn new(feature: &str, amount: i64, now_ms: i64, targets: Vec<Target>) -> Self {
        let counts = Vec::with_capacity(targets.len());
        IncrementCall {
            feature: feature.to_owned(),
            amount,
            now_ms,
            targets,
            checked: 0,
            counts,
            phase: Counting::Incr,
            ops: CountingOps::default(),
        }
    }

    /// Counts with the store's `incrOrCreate` when it has one (see [`CountingOps`]).
    pub fn with_counting(mut self, ops: CountingOps) -> Self {
        self.ops = ops;
        self
    }
}

impl Call for IncrementCall {
    fn key(&self, i: usize) -> &str {
        &self.targets[i].key
    }
    fn key_id(&self, i: usize) -> u64 {
        self.targets[i].key.id
    }

    fn resume(&mut self, mut reply: Option<StoreReply>) -> Step {
        let n = self.targets.len();
        if self.checked < n {
            if reply.is_some() {
                let t = &self.targets[self.checked];
                let room = match reply.take() {
                    Some(StoreReply::Count(n)) => limits::room_in(&t.key, n, self.amount),
                    other => Err(unexpected(other)),
                };
                if let Err(e) = room {
                    return Step::Done(Err(e));
                }
                self.checked += 1;
            }
            if self.checked < n {
                return Step::Op(StoreOp::Get { key: self.checked });
            }
        }
        let i = self.counts.len();
        if reply.is_some() {
            let t = &self.targets[i];
            let ttl = t.span.seconds_to_reset(self.now_ms);
            match self.phase.on_reply(reply, i, self.amount, ttl) {
                Ok(Counted::Next(next, op)) => {
                    self.phase = next;
                    return Step::Op(op);
                }
                // Only a write racing this call since its read can take it past.
                Ok(Counted::Value(n)) if n > MAX_SAFE_INTEGER => {
                    let what = "a concurrent write got there since it was read";
                    let e = limits::past_safe(&t.key, n - self.amount, self.amount, what);
                    return Step::Done(Err(e));
                }
                Ok(Counted::Value(n)) => self.counts.push(n),
                Err(e) => return Step::Done(Err(e)),
            }
        }
        let i = self.counts.len();
        if i < self.targets.len() {
            let ttl = self.targets[i].span.seconds_to_reset(self.now_ms);
            let (phase, op) = Counting::start(self.ops, i, self.amount, ttl);
            self.phase = phase;
            return Step::Op(op);
        }
        let p = tightest(&self.targets, &self.counts);
        let d = figures(
            &self.feature,
            (&self.targets[p], p),
            self.counts[p],
            (self.amount, true),
            self.now_ms,
        );
        Step::Done(Ok(Outcome::Decision(d)))
    }
}

/// `release`: decrement each policy's counter; bring a negative result back to 0 (the Django service's
/// defence in depth); skip a missing counter.
///
/// The clamp adds back what this release saw below zero (`incr(key, -n)`) instead of the
/// Django service's `set(key, 0)`: a blind overwrite would erase whatever a concurrent reserve or
/// increment counted in between (and the reserve's rollback would then drive the counter
/// negative — `tests/proptests.rs` found it). Alone, both end at 0.
pub struct ReleaseCall {
    amount: i64,
    targets: Vec<Target>,
    next: usize,
    clamping: bool,
}

impl ReleaseCall {
    pub fn new(amount: i64, targets: Vec<Target>) -> Self {
        ReleaseCall {
            amount,
            targets,
            next: 0,
            clamping: false,
        }
    }
}

impl Call for ReleaseCall {
    fn key(&self, i: usize) -> &str {
        &self.targets[i].key
    }
    fn key_id(&self, i: usize) -> u64 {
        self.targets[i].key.id
    }

    fn resume(&mut self, reply: Option<StoreReply>) -> Step {
        match reply {
            Some(StoreReply::Count(Some(n))) if n < 0 && !self.clamping => {
                self.clamping = true;
                return Step::Op(StoreOp::Incr {
                    key: self.next - 1,
                    delta: -n,
                });
            }
            // Whatever the clamp's incr answers (gone, or still negative because another
            // release is mid-clamp) there is nothing more for this release to do.
            None | Some(StoreReply::Count(_)) => {}
            other => return Step::Done(Err(unexpected(other))),
        }
        self.clamping = false;
        if self.next < self.targets.len() {
            self.next += 1;
            return Step::Op(StoreOp::Incr {
                key: self.next - 1,
                delta: -self.amount,
            });
        }
        Step::Done(Ok(Outcome::Released))
    }
}

/// `usage`: read one counter per feature.
pub struct UsageCall {
    targets: Vec<(String, Target)>,
    counts: Vec<(String, i64)>,
}

impl UsageCall {
    pub fn new(targets: Vec<(String, Target)>) -> Self {
        let counts = Vec::with_capacity(targets.len());
        UsageCall { targets, counts }
    }
}

impl Call for UsageCall {
    fn key(&self, i: usize) -> &str {
        &self.targets[i].1.key
    }
    fn key_id(&self, i: usize) -> u64 {
        self.targets[i].1.key.id
    }

    fn resume(&mut self, reply: Option<StoreReply>) -> Step {
        if reply.is_some() {
            let (feature, t) = &self.targets[self.counts.len()];
            match read_count(t, reply) {
                Ok(n) => self.counts.push((feature.clone(), n)),
                Err(e) => return Step::Done(Err(e)),
            }
        }
        let i = self.counts.len();
        if i < self.targets.len() {
            return Step::Op(StoreOp::Get { key: i });
        }
        Step::Done(Ok(Outcome::Usage(std::mem::take(&mut self.counts))))
    }
}
