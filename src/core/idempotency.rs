//! Idempotent reserves: `reserve(profile, feature, { idempotencyKey })` retried with the same
//! key (and amount) in the same window gets the original decision and is counted once —
//! across engines sharing a store.
//!
//! The store holds only numbers, so the record of a decision is one number under
//! `{prefix}:{id}:{feature}:i{label}.{amount}:{key}` (the label of the feature's longest
//! window, so a retry is recognised for as long as any counter of the original could still
//! hold its count; a denial's record lasts only until the denying window resets):
//! `2·at_ms + 1` for an allowed reserve made at `at_ms`, `2·policy` for a denial by that
//! policy. The rest of the reservation token is derived, not stored: the nonce
//! is a hash of the key, label and amount, so a replay rebuilds exactly the original token
//! (and settling it through either copy settles it once).
//!
//! A call first reads the record and replays it when present. Otherwise it reserves, then
//! records with `add`; if another call with the same key recorded first (the two ran
//! concurrently), it undoes its own count and replays theirs. The replay's figures are the
//! counters' current values.
//!
//! A recorded reservation that was since *released* (its marker says so, see `settle.rs`) no
//! longer counts anything, so replaying it would let the retried work run for free: the retry
//! reserves again instead, and overwrites the record with its own decision (`set`). Retries
//! racing there may each count — each of them then runs, and is charged, once.

use super::calls::{figures, read_count, tightest, unexpected, ReserveCall, Target};
use super::clock::MAX_MS;
use super::decision::{Decision, Outcome};
use super::error::{QuotaError, Result};
use super::key::{escape_into, ProfileId};
use super::reservation::Reservation;
use super::settle::{push_marker_suffix, RELEASED};
use super::store::{Call, Step, StoreOp, StoreReply};
use std::fmt::Write;

/// Longest accepted idempotency key, in characters.
pub const MAX_KEY_CHARS: usize = 256;

/// Where the decision for `key` is recorded, and the nonce its reservation token carries.
pub fn record_key(
    prefix: &str,
    id: &ProfileId,
    feature: &str,
    label: &str,
    amount: i64,
    key: &str,
) -> Result<(String, u64)> {
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
    // The record key already names profile, feature, window, amount and key: hash it all.
    Ok((out.clone(), fnv1a64(out.as_bytes())))
}

/// FNV-1a, then splitmix64's finaliser so that similar keys give unrelated nonces.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A reserve that records its decision under an idempotency key, or replays one recorded.
pub struct IdempotentReserveCall {
    feature: String,
    amount: i64,
    now_ms: i64,
    nonce: u64,
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
    phase: Phase,
}

enum Phase {
    Start,
    LookingUp,
    /// Reading the marker of the recorded allowed reservation (value kept for the replay).
    CheckingMarker(i64),
    Reserving,
    Recording(Decision),
    /// Undoing our count (counters `left` and below still to do) after losing the record race.
    Undoing(usize),
    /// Reading counters for the replay of a recorded value.
    Replaying(i64, Vec<i64>),
}

impl IdempotentReserveCall {
    pub fn new(
        feature: &str,
        amount: i64,
        now_ms: i64,
        targets: Vec<Target>,
        (record, nonce): (String, u64),
        record_ttl: u64,
        marker_base: String,
    ) -> Self {
        IdempotentReserveCall {
            feature: feature.to_owned(),
            amount,
            now_ms,
            nonce,
            targets,
            record,
            record_ttl,
            marker_base: marker_base.len(),
            marker: marker_base,
            overwrite: false,
            inner: None,
            phase: Phase::Start,
        }
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
        let inner = self.inner.get_or_insert_with(|| {
            ReserveCall::new(
                &self.feature,
                self.amount,
                self.now_ms,
                self.targets.clone(),
            )
            .with_nonce(self.nonce)
        });
        match inner.resume(reply) {
            Step::Done(Ok(Outcome::Decision(d))) => {
                self.inner = None;
                let value = if d.allowed {
                    2 * self.now_ms + 1
                } else {
                    2 * d.policy as i64
                };
                // A denial stands until the denying policy's window resets, not longer: a client
                // that waits `retryAfter` and retries with the same key is asked again.
                let ttl_secs = if d.allowed {
                    self.record_ttl
                } else {
                    self.targets[d.policy].span.seconds_to_reset(self.now_ms)
                };
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

    /// A recorded value: an allowed one first has its reservation's marker read.
    fn recorded(&mut self, value: i64) -> Step {
        let allowed = value % 2 == 1;
        let valid = (0..=2 * MAX_MS + 1).contains(&value)
            && (allowed || ((value / 2) as usize) < self.targets.len());
        if !valid {
            return Step::Done(Err(QuotaError::corrupt(&self.record, value)));
        }
        if !allowed {
            return self.replay(value, Vec::new());
        }
        // A new reservation made over a released one has the same nonce and differs by its
        // instant (unless made in the very millisecond the released one was).
        self.marker.truncate(self.marker_base);
        push_marker_suffix(&mut self.marker, (value - 1) / 2, self.nonce);
        self.phase = Phase::CheckingMarker(value);
        Step::Op(StoreOp::Get {
            key: self.record_index() + 1,
        })
    }

    fn replay(&mut self, value: i64, counts: Vec<i64>) -> Step {
        let allowed = value % 2 == 1;
        let i = counts.len();
        if i < self.targets.len() {
            self.phase = Phase::Replaying(value, counts);
            return Step::Op(StoreOp::Get { key: i });
        }
        let p = if allowed {
            tightest(&self.targets, &counts)
        } else {
            (value / 2) as usize
        };
        let t = &self.targets[p];
        let mut d = figures(&self.feature, t, p, counts[p], allowed, self.now_ms);
        d.replayed = true;
        if allowed {
            let token = Reservation {
                feature: self.feature.clone(),
                at_ms: (value - 1) / 2,
                amount: self.amount,
                nonce: self.nonce,
            };
            d.reservation = Some(token);
        }
        Step::Done(Ok(Outcome::Decision(d)))
    }
}

impl Call for IdempotentReserveCall {
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
            Phase::CheckingMarker(value) => match reply {
                Some(StoreReply::Count(Some(RELEASED))) => {
                    self.overwrite = true;
                    self.phase = Phase::Reserving;
                    self.reserve_step(None)
                }
                Some(StoreReply::Count(_)) => self.replay(value, Vec::new()),
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
                Some(StoreReply::Added(false)) if d.allowed => self.undo(self.targets.len()),
                Some(StoreReply::Added(false)) => self.look_up(),
                other => Step::Done(Err(unexpected(other))),
            },
            Phase::Undoing(left) => self.undo(left),
            Phase::Replaying(value, mut counts) => {
                match read_count(&self.targets[counts.len()], reply) {
                    Ok(n) => counts.push(n),
                    Err(e) => return Step::Done(Err(e)),
                }
                self.replay(value, counts)
            }
        }
    }
}
