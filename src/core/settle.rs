//! Settling a reservation with the amount actually used, and releasing one, at most once.
//!
//! An LLM call's cost is known only afterwards: `reserve` counts an estimate, `settle` moves
//! each of the reservation's counters (in the windows it was counted in) by `actual −
//! reserved` — a refund, or an extra charge the next reserve sees. Releasing a reservation is
//! settling it at 0. A refund into a window that has ended is dropped (that window's count no
//! longer limits anything, and the current one never counted the reservation). An extra
//! charge is work that happened, so one whose window has ended is counted in the window right
//! after it instead, created with that window's TTL if absent — else a reserve of 1 in a day's
//! last second settled at 500 after midnight would cost nothing. Once that next window has
//! ended too, the policy's charge is dropped as a refund is: every later charge could count in
//! a window of its own, and a settle sent again once a day (a retrying proxy, a replayed job
//! queue) would charge once a day without end. A settle with nothing left to charge anywhere
//! writes nothing and answers `false`.
//!
//! To make a second settle or release of the same reservation a no-op, the first one creates
//! a marker with the store's `add` (create-if-absent): only the call that creates it keeps
//! what it did to the counters. The marker lives as long as the counter of the window right
//! after each of the reservation's windows (until [`CLOCK_MARGIN_SECS`] past its end),
//! whatever the first call was (a release must stop a charge sent later as much as a settle
//! must); by then any charge is dropped and every counter it could refund has gone, so no
//! attempt, however late, applies twice, from hosts whose clocks are within that margin of
//! each other.
//!
//! A call cut off (a crash, a store fault, a timeout whose write landed) between the marker
//! and the counters must leave an over-count, never an under-count. So a refund writes the
//! marker first (cut off, the refund is lost: an over-count), and a charge last: it looks for
//! the marker (one there: `false`, nothing written), charges, then creates the marker; cut off
//! before that, it is charged again when sent again (an over-count); finding the marker made by
//! a call racing it, it takes its charge back and answers `false`. (Marker first, a charge cut
//! off after it was lost for good: sent again, it found the marker and answered `false`.)

use super::calls::{unexpected, CountStep, Counted, Finished, Machine, Next};
use super::key::{push_feature_key_base, ProfileId};
use super::limits;
use super::store::{KeyRef, StoreOp, StoreReply};
#[cfg(doc)]
use super::window::CLOCK_MARGIN_SECS;
use std::fmt::Write;

/// The marker's value when the reservation was settled.
pub const SETTLED: i64 = 1;
/// The marker's value when the reservation was released: nothing of it stays counted, so an
/// idempotent retry of its request reserves again (see `idempotency.rs`).
pub const RELEASED: i64 = 2;

/// `{prefix}:{id}:{feature}:r{nonce}`, written into `out` (emptied first). Counter keys end in
/// a window label, which always starts with a digit (the year), so a marker can never be a
/// counter. Nonces are random (64 bits, or 52 under an idempotency key), so one nonce names
/// one reservation.
pub fn write_marker_key(out: &mut String, prefix: &str, id: &ProfileId, feature: &str, nonce: u64) {
    out.clear();
    push_feature_key_base(out, prefix, id, feature);
    push_marker_suffix(out, nonce);
}

pub fn push_marker_suffix(key: &mut String, nonce: u64) {
    let _ = write!(key, "r{nonce:016x}");
}

/// Where a settle (or a release given a reservation) stands; its counters are the machine's
/// targets, its marker the machine's marker key.
pub(crate) struct Settling {
    /// `actual − reserved`: what each counter moves by.
    pub delta: i64,
    /// Finish with `Released` (a release) rather than `Settled`.
    pub as_release: bool,
    /// The marker's TTL: it outlives every window the reservation may be corrected in.
    pub marker_ttl: u64,
    pub state: State,
}

pub(crate) enum State {
    Start,
    /// A charge (`delta > 0`) first reads every counter: one it would take past
    /// MAX_SAFE_INTEGER refuses the settle before the marker, so nothing is written and the
    /// reservation can still be settled with a real figure.
    Reading(usize),
    /// A charge looks for the marker before it counts.
    Looking,
    Marking,
    /// A refund: `incr` of a live counter.
    Adjusting(usize),
    Clamping(usize),
    /// A charge: counted as a reserve counts (the store's `incrOrCreate`, or the dance).
    Charging(usize, CountStep),
    /// A charge that found the marker created by a call racing it takes its count back.
    Undoing(usize),
}

impl Settling {
    fn finish(&self, applied: bool) -> Next {
        Next::Done(Ok(if self.as_release {
            Finished::Released
        } else {
            Finished::Settled(applied)
        }))
    }
}

impl Machine {
    /// Moves every target's counter by `delta` unless the marker already exists.
    pub(crate) fn settle(&mut self, s: &mut Settling, reply: Option<StoreReply>) -> Next {
        match (&s.state, reply) {
            (State::Start, _) => self.settle_read(s, 0),
            (&State::Reading(i), reply) => {
                let room = match reply {
                    Some(StoreReply::Count(n)) => limits::room_in(&self.targets[i].key, n, s.delta),
                    other => Err(unexpected(other)),
                };
                match room {
                    Ok(()) => self.settle_read(s, i + 1),
                    Err(e) => Next::Done(Err(e)),
                }
            }
            (State::Looking, Some(StoreReply::Count(Some(_)))) => s.finish(false),
            (State::Looking, Some(StoreReply::Count(None))) => self.adjust(s, 0),
            (State::Marking, Some(StoreReply::Added(true))) if s.delta > 0 => s.finish(true),
            (State::Marking, Some(StoreReply::Added(false))) if s.delta > 0 => self.uncharge(s, 0),
            (State::Marking, Some(StoreReply::Added(true))) => self.adjust(s, 0),
            (State::Marking, Some(StoreReply::Added(false))) => s.finish(false),
            (&State::Undoing(i), Some(StoreReply::Count(_))) => self.uncharge(s, i + 1),
            // A counter that is gone (its window ended) has nothing to correct; one driven
            // below zero is brought back to 0 as release does: by adding back what this call
            // saw below zero, not by a blind `set` that could erase a concurrent count.
            (&State::Adjusting(i), Some(StoreReply::Count(Some(n)))) if n < 0 => {
                s.state = State::Clamping(i);
                Next::Op(StoreOp::Incr {
                    key: KeyRef::Policy(i),
                    delta: -n,
                })
            }
            (&State::Adjusting(i) | &State::Clamping(i), Some(StoreReply::Count(_))) => {
                self.adjust(s, i + 1)
            }
            (&State::Charging(i, step), reply) => {
                let (key, ttl) = (KeyRef::Policy(i), self.ttl(i));
                match step.on_reply(reply, key, s.delta, ttl) {
                    Ok(Counted::Next(step, op)) => {
                        s.state = State::Charging(i, step);
                        Next::Op(op)
                    }
                    Ok(Counted::Value(_)) => self.adjust(s, i + 1),
                    Err(e) => Next::Done(Err(e)),
                }
            }
            (_, other) => Next::Done(Err(unexpected(other))),
        }
    }

    /// Reads counter `i` before a charge, or marks once every counter was read.
    fn settle_read(&mut self, s: &mut Settling, i: usize) -> Next {
        if s.delta > 0 && i < self.targets.len() {
            s.state = State::Reading(i);
            return Next::Op(StoreOp::Get {
                key: KeyRef::Policy(i),
            });
        }
        if s.delta > 0 {
            // A charge counts before it marks: looks for a marker first.
            s.state = State::Looking;
            return Next::Op(StoreOp::Get {
                key: KeyRef::Marker,
            });
        }
        mark(s)
    }

    /// Adjusts counter `i`, or finishes once every counter has been adjusted (a charge then
    /// marks).
    fn adjust(&mut self, s: &mut Settling, i: usize) -> Next {
        if i == self.targets.len() && s.delta > 0 {
            return mark(s);
        }
        if i == self.targets.len() || s.delta == 0 {
            return s.finish(true);
        }
        if s.delta > 0 {
            let (step, op) =
                CountStep::start(self.counting, KeyRef::Policy(i), s.delta, self.ttl(i));
            s.state = State::Charging(i, step);
            return Next::Op(op);
        }
        s.state = State::Adjusting(i);
        Next::Op(StoreOp::Incr {
            key: KeyRef::Policy(i),
            delta: s.delta,
        })
    }

    /// Takes a charge back from counter `i` on: a racing call made the marker first. Cut off
    /// here, the charge stays (an over-count).
    fn uncharge(&mut self, s: &mut Settling, i: usize) -> Next {
        if i == self.targets.len() {
            return s.finish(false);
        }
        s.state = State::Undoing(i);
        Next::Op(StoreOp::Incr {
            key: KeyRef::Policy(i),
            delta: -s.delta,
        })
    }
}

/// Creates the marker: a refund (or release) before it moves the counters, so that only the
/// call that creates it moves them; a charge after it counted.
fn mark(s: &mut Settling) -> Next {
    s.state = State::Marking;
    Next::Op(StoreOp::Add {
        key: KeyRef::Marker,
        value: if s.as_release { RELEASED } else { SETTLED },
        ttl_secs: s.marker_ttl,
    })
}
