//! Idempotent reserves: `reserve(profile, feature, { idempotencyKey })` retried with the same
//! key (and amount) in the same window is counted once — across engines sharing a store.
//!
//! The store holds only numbers, so the record of an admission is one number under
//! `{prefix}:{id}:{feature}:i{label}.{amount}:{key}` (the label of the feature's longest
//! window, so a retry is recognised for as long as any counter of the original could still
//! hold its count): `2·nonce + 1`, the nonce (52 random bits) of the original's reservation.
//!
//! A call first reads the record and replays it when present: the decision says `replayed:
//! true`, carries the counters' current figures and **no reservation** — only the caller that
//! was admitted holds the token, so a retry can never release or settle the original's count.
//! Otherwise it reserves, then records with `add`; if another call with the same key recorded
//! first (the two ran concurrently), it undoes its own count and replays theirs. A denial is
//! not recorded: nothing is written for it, and a retry is asked again.
//!
//! A recorded reservation that was since *released* (its marker says so, see `settle.rs`) no
//! longer counts anything, so replaying it would let the retried work run for free: the retry
//! reserves again, with a fresh token, and overwrites the record with its own nonce (`set`).
//! Retries racing there may each count — each of them then runs, and is charged, once.

use super::calls::{figures, read_count, tightest, unexpected, ReserveCall, Target};
use super::decision::{Decision, Outcome};
use super::error::{QuotaError, Result};
use super::key::{escape_into, ProfileId};
use super::reservation::PendingToken;
use super::settle::{push_marker_suffix, RELEASED};
use super::store::{Call, CountingOps, Step, StoreOp, StoreReply};
use std::fmt::Write;

/// Longest accepted idempotency key, in characters.
pub const MAX_KEY_CHARS: usize = 256;

/// Nonces of reservations made under an idempotency key fit in 52 bits, so that `2·nonce + 1`
/// is a safe integer (a count the store can hold).
pub const RECORD_NONCE_MASK: u64 = (1 << 52) - 1;

/// Where the admission under `key` is recorded.
pub fn record_key(
    prefix: &str,
    id: &ProfileId,
    feature: &str,
    label: &str,
    amount: i64,
    key: &str,
) -> Result<String> {
    let n = key.chars().count();
    if !(1..=MAX_KEY_CHARS).contains(&n) {
        return Err(QuotaError::argument(format!(
            "idempotencyKey must be 1 to {MAX_KEY_CHARS} characters, got {n}"
        )));
    }
    let mut out =
        String::with_capacity(prefix.len() + feature.len() + label.len() + key.len() + 40);
    out.push_str(prefix);
    out.push(':');
    id.write_key_part(&mut out);
    let _ = write!(out, ":{feature}:i{label}.{amount}:");
    escape_into(key, &mut out);
    Ok(out)
}

/// A reserve that records its decision under an idempotency key, or replays one recorded.
pub struct IdempotentReserveCall {
    feature: String,
    amount: i64,
    now_ms: i64,
    /// The token an admission of this call hands out (its nonce within RECORD_NONCE_MASK).
    token: Option<PendingToken>,
    targets: Vec<Target>,
    record: String,
    record_ttl: u64,
    /// `{prefix}:{id}:{feature}:` (`marker_base` bytes), completed into the marker key of a
    /// recorded reservation.
    marker: String,
    marker_base: usize,
    /// The record names a released reservation: write ours over it.
    overwrite: bool,
    inner: Option<ReserveCall>,
    ops: CountingOps,
    phase: Phase,
}

enum Phase {
    Start,
    LookingUp,
    /// Reading the marker of the recorded reservation.
    CheckingMarker,
    Reserving,
    Recording(Decision),
    /// Undoing our count (counters `left` and below still to do) after losing the record race.
    Undoing(usize),
    /// Reading counters for the replay.
    Replaying(Vec<i64>),
}

impl IdempotentReserveCall {
    pub fn new(
        feature: &str,
        amount: i64,
        now_ms: i64,
        targets: Vec<Target>,
        token: PendingToken,
        (record, record_ttl): (String, u64),
        marker_base: String,
    ) -> Self {
        IdempotentReserveCall {
            feature: feature.to_owned(),
            amount,
            now_ms,
            token: Some(token),
            targets,
            record,
            record_ttl,
            marker_base: marker_base.len(),
            marker: marker_base,
            overwrite: false,
            inner: None,
            ops: CountingOps::default(),
            phase: Phase::Start,
        }
    }

    /// Counts with the store's `incrOrCreate` when it has one (see [`CountingOps`]).
    pub fn with_counting(mut self, ops: CountingOps) -> Self {
        self.ops = ops;
        self
    }

    fn record_index(&self) -> usize {
        self.targets.len()
    }

    fn look_up(&mut self) -> Step {
        self.phase = Phase::LookingUp;
        Step::Op(StoreOp::Get {
            key: self.record_index(),
        })
    }

    /// Runs the inner reserve one step; its ops name the same target indexes as ours.
    fn reserve_step(&mut self, reply: Option<StoreReply>) -> Step {
        if self.inner.is_none() {
            let call = ReserveCall::new(
                &self.feature,
                self.amount,
                self.now_ms,
                self.targets.clone(),
            )
            .with_counting(self.ops);
            self.inner = Some(match self.token.take() {
                Some(token) => call.with_token(token),
                None => call,
            });
        }
        let inner = self.inner.as_mut().expect("just set");
        match inner.resume(reply) {
            // A denial is not recorded: nothing is written for it.
            Step::Done(Ok(Outcome::Decision(d))) if d.allowed => {
                self.inner = None;
                let nonce = d.reservation.as_ref().map_or(0, |r| r.nonce);
                let value = 2 * (nonce & RECORD_NONCE_MASK) as i64 + 1;
                let ttl_secs = self.record_ttl;
                self.phase = Phase::Recording(d);
                let key = self.record_index();
                Step::Op(if self.overwrite {
                    StoreOp::Set {
                        key,
                        value,
                        ttl_secs,
                    }
                } else {
                    StoreOp::Add {
                        key,
                        value,
                        ttl_secs,
                    }
                })
            }
            other => other,
        }
    }

    fn undo(&mut self, left: usize) -> Step {
        if left == 0 {
            return self.look_up();
        }
        self.phase = Phase::Undoing(left - 1);
        Step::Op(StoreOp::Incr {
            key: left - 1,
            delta: -self.amount,
        })
    }

    /// A recorded admission: its reservation's marker is read first.
    fn recorded(&mut self, value: i64) -> Step {
        if value < 1 || value % 2 == 0 || value > 2 * RECORD_NONCE_MASK as i64 + 1 {
            return Step::Done(Err(QuotaError::corrupt(&self.record, value)));
        }
        self.marker.truncate(self.marker_base);
        push_marker_suffix(&mut self.marker, (value / 2) as u64);
        self.phase = Phase::CheckingMarker;
        Step::Op(StoreOp::Get {
            key: self.record_index() + 1,
        })
    }

    /// The original's decision, with the counters' current figures and no reservation.
    fn replay(&mut self, counts: Vec<i64>) -> Step {
        let i = counts.len();
        if i < self.targets.len() {
            self.phase = Phase::Replaying(counts);
            return Step::Op(StoreOp::Get { key: i });
        }
        let p = tightest(&self.targets, &counts);
        let t = &self.targets[p];
        let mut d = figures(
            &self.feature,
            (t, p),
            counts[p],
            (self.amount, true),
            self.now_ms,
        );
        d.replayed = true;
        Step::Done(Ok(Outcome::Decision(d)))
    }
}

impl Call for IdempotentReserveCall {
    /// While the inner reserve runs, it knows best (a denial whose rollback failed).
    fn fail(&mut self, error: QuotaError) -> Result<Outcome> {
        match (&self.phase, self.inner.as_mut()) {
            (Phase::Reserving, Some(inner)) => inner.fail(error),
            _ => Err(error),
        }
    }

    fn key(&self, i: usize) -> &str {
        match self.targets.get(i) {
            Some(t) => &t.key,
            None if i == self.targets.len() => &self.record,
            None => &self.marker,
        }
    }

    fn resume(&mut self, reply: Option<StoreReply>) -> Step {
        match std::mem::replace(&mut self.phase, Phase::Start) {
            Phase::Start => self.look_up(),
            Phase::LookingUp => match reply {
                Some(StoreReply::Count(None)) => {
                    self.phase = Phase::Reserving;
                    self.reserve_step(None)
                }
                Some(StoreReply::Count(Some(v))) => self.recorded(v),
                other => Step::Done(Err(unexpected(other))),
            },
            Phase::CheckingMarker => match reply {
                Some(StoreReply::Count(Some(RELEASED))) => {
                    self.overwrite = true;
                    self.phase = Phase::Reserving;
                    self.reserve_step(None)
                }
                Some(StoreReply::Count(_)) => self.replay(Vec::new()),
                other => Step::Done(Err(unexpected(other))),
            },
            Phase::Reserving => {
                self.phase = Phase::Reserving;
                self.reserve_step(reply)
            }
            Phase::Recording(d) => match reply {
                Some(StoreReply::Added(true) | StoreReply::Done) => {
                    Step::Done(Ok(Outcome::Decision(d)))
                }
                // Another call with this key recorded first: ours must not count.
                Some(StoreReply::Added(false)) => self.undo(self.targets.len()),
                other => Step::Done(Err(unexpected(other))),
            },
            Phase::Undoing(left) => self.undo(left),
            Phase::Replaying(mut counts) => {
                match read_count(&self.targets[counts.len()], reply) {
                    Ok(n) => counts.push(n),
                    Err(e) => return Step::Done(Err(e)),
                }
                self.replay(counts)
            }
        }
    }
}
