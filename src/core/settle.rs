//! Settling a reservation with the amount actually used, and releasing one, at most once.
//!
//! An LLM call's cost is known only afterwards: `reserve` counts an estimate, `settle` moves
//! each of the reservation's counters (in the windows it was counted in) by `actual −
//! reserved` — a refund, or an extra charge the next reserve sees. Releasing a reservation is
//! settling it at 0.
//!
//! To make a second settle or release of the same reservation a no-op, the first one creates
//! a marker with the store's `add` (create-if-absent): only the call that creates it touches
//! the counters. The marker lives until the last of the reservation's windows ends; after
//! that its counters are gone too, so a late retry has nothing to change. The marker is
//! written before the counters move, so a crash in between loses the correction rather than
//! applying it twice (at most once).

use super::calls::{unexpected, Target};
use super::decision::Outcome;
use super::key::{feature_key_base, ProfileId};
use super::limits;
use super::store::{Call, Step, StoreOp, StoreReply};
use std::fmt::Write;

/// The marker's value when the reservation was settled.
pub const SETTLED: i64 = 1;
/// The marker's value when the reservation was released: nothing of it stays counted, so an
/// idempotent retry of its request reserves again (see `idempotency.rs`).
pub const RELEASED: i64 = 2;

/// `{prefix}:{id}:{feature}:r{nonce}`. Counter keys end in a window label, which always starts
/// with a digit (the year), so a marker can never be a counter. Nonces are random (64 bits, or
/// 52 under an idempotency key), so one nonce names one reservation.
pub fn marker_key(prefix: &str, id: &ProfileId, feature: &str, nonce: u64) -> String {
    let mut key = marker_base(prefix, id, feature);
    push_marker_suffix(&mut key, nonce);
    key
}

/// `{prefix}:{id}:{feature}:`, which [`push_marker_suffix`] completes.
pub fn marker_base(prefix: &str, id: &ProfileId, feature: &str) -> String {
    feature_key_base(prefix, id, feature)
}

pub fn push_marker_suffix(key: &mut String, nonce: u64) {
    let _ = write!(key, "r{nonce:016x}");
}

/// The state machine of `settle` (and of `release` given a reservation).
pub struct SettleCall {
    marker: String,
    delta: i64,
    now_ms: i64,
    targets: Vec<Target>,
    state: State,
    /// Finish with `Outcome::Released` (a release) rather than `Outcome::Settled`.
    as_release: bool,
}

enum State {
    Start,
    /// A charge (`delta > 0`) first reads every counter: one it would take past
    /// MAX_SAFE_INTEGER refuses the settle before the marker, so nothing is written and the
    /// reservation can still be settled with a real figure.
    Reading(usize),
    Marking,
    Adjusting(usize),
    Clamping(usize),
}

impl SettleCall {
    /// Moves every target's counter by `delta` unless `marker` already exists.
    pub fn new(
        marker: String,
        delta: i64,
        now_ms: i64,
        targets: Vec<Target>,
        as_release: bool,
    ) -> Self {
        SettleCall {
            marker,
            delta,
            now_ms,
            targets,
            state: State::Start,
            as_release,
        }
    }

    fn finish(&self, applied: bool) -> Step {
        Step::Done(Ok(if self.as_release {
            Outcome::Released
        } else {
            Outcome::Settled(applied)
        }))
    }

    /// Creates the marker; only the call that creates it moves the counters.
    fn mark(&mut self) -> Step {
        self.state = State::Marking;
        // The marker outlives every window the reservation counted in.
        let ttl_secs = self
            .targets
            .iter()
            .map(|t| t.span.seconds_to_reset(self.now_ms))
            .max()
            .unwrap_or(1);
        Step::Op(StoreOp::Add {
            key: self.targets.len(),
            value: if self.as_release { RELEASED } else { SETTLED },
            ttl_secs,
        })
    }

    /// Reads counter `i` before a charge, or marks once every counter was read.
    fn read(&mut self, i: usize) -> Step {
        if self.delta > 0 && i < self.targets.len() {
            self.state = State::Reading(i);
            return Step::Op(StoreOp::Get { key: i });
        }
        self.mark()
    }

    /// Adjusts counter `i`, or finishes once every counter has been adjusted.
    fn adjust(&mut self, i: usize) -> Step {
        if i == self.targets.len() || self.delta == 0 {
            return self.finish(true);
        }
        self.state = State::Adjusting(i);
        Step::Op(StoreOp::Incr {
            key: i,
            delta: self.delta,
        })
    }
}

impl Call for SettleCall {
    fn key(&self, i: usize) -> &str {
        match self.targets.get(i) {
            Some(t) => &t.key,
            None => &self.marker,
        }
    }

    fn resume(&mut self, reply: Option<StoreReply>) -> Step {
        match (&self.state, reply) {
            (State::Start, _) => self.read(0),
            (&State::Reading(i), reply) => {
                let t = &self.targets[i];
                let room = match reply {
                    Some(StoreReply::Count(n)) => limits::room_in(&t.key, n, self.delta),
                    other => Err(unexpected(other)),
                };
                match room {
                    Ok(()) => self.read(i + 1),
                    Err(e) => Step::Done(Err(e)),
                }
            }
            (State::Marking, Some(StoreReply::Added(true))) => self.adjust(0),
            (State::Marking, Some(StoreReply::Added(false))) => self.finish(false),
            // A counter that is gone (its window ended) has nothing to correct; one driven
            // below zero is brought back to 0 as release does: by adding back what this call
            // saw below zero, not by a blind `set` that could erase a concurrent count.
            (&State::Adjusting(i), Some(StoreReply::Count(Some(n)))) if n < 0 => {
                self.state = State::Clamping(i);
                Step::Op(StoreOp::Incr { key: i, delta: -n })
            }
            (&State::Adjusting(i) | &State::Clamping(i), Some(StoreReply::Count(_))) => {
                self.adjust(i + 1)
            }
            (_, other) => Step::Done(Err(unexpected(other))),
        }
    }
}
