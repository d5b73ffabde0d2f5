//! Idempotent reserves: `reserve(profile, feature, { idempotencyKey })` retried with the same
//! key (and amount) in the same window is counted once — across engines sharing a store.
//!
//! The store holds only numbers, so the record of an admission is one number under
//! `{prefix}:{id}:{feature}:i{label}.{amount}:{key}` (the label of the window that ends last,
//! so a retry is recognised for as long as any counter of the original could still hold its
//! count; which one that is can change meanwhile, so a retry looks under the label of each
//! policy's current window): `2·nonce + 1`, the nonce (52 random bits) of the original's reservation.
//!
//! A call first reads the record and replays it when present: the decision says `replayed:
//! true`, carries the counters' current figures and **no reservation** — only the caller that
//! was admitted holds the token, so a retry can never release or settle the original's count.
//! Otherwise it reserves, then records with `add`; if another call with the same key recorded
//! first (the two ran concurrently), it undoes its own count and replays theirs. A denial is
//! not recorded: nothing is written for it, and a retry is asked again. A denied call reads
//! the record once more before it answers: the last slot may have gone to an attempt with the
//! same key that recorded meanwhile, and the retry of a request that was admitted replays it.
//!
//! A recorded reservation that was since *released* (its marker says so, see `settle.rs`) no
//! longer counts anything, so replaying it would let the retried work run for free: the retry
//! looks up the next record, whose key is the released one's plus `:` and the released nonce
//! (`:` is escaped in the client's key, so no key's record can be another's successor), and
//! there does what a first attempt does: reserves, and records with `add`. So of retries
//! racing after a release one is admitted and the others replay it — the work runs once,
//! where a `set` over the record would let every racing retry run it. A key's records form
//! a chain, one link per released attempt; past MAX_RETRIES_AFTER_RELEASE links the key is
//! refused, so that a lookup costs a bounded number of store calls.

use super::calls::{unexpected, Finished, Machine, Next, Reserving};
use super::error::{ErrorCode, QuotaError, Result};
use super::key::{escape_into, ProfileId};
use super::settle::{push_marker_suffix, RELEASED};
use super::store::{KeyRef, StoreOp, StoreReply};
use std::fmt::Write;

/// Longest accepted idempotency key, in characters.
pub const MAX_KEY_CHARS: usize = 256;

/// Retries after a release one idempotency key may make in its window; the next is refused
/// (`IDEMPOTENCY_KEY_EXHAUSTED`): each released attempt adds two store calls to every later
/// lookup.
pub const MAX_RETRIES_AFTER_RELEASE: u8 = 16;

/// Nonces of reservations made under an idempotency key fit in 52 bits, so that `2·nonce + 1`
/// is a safe integer (a count the store can hold).
pub const RECORD_NONCE_MASK: u64 = (1 << 52) - 1;

/// `key` as an idempotency key: 1 to [`MAX_KEY_CHARS`] characters. Checked as a reserve is
/// loaded, before home mode or an unlimited profile answers without the store, so that a key
/// production would refuse is refused in development too (as an unknown feature is).
pub fn check_key(key: &str) -> Result<()> {
    let n = key.chars().count();
    if (1..=MAX_KEY_CHARS).contains(&n) {
        Ok(())
    } else {
        Err(QuotaError::argument(format!(
            "idempotencyKey must be 1 to {MAX_KEY_CHARS} characters, got {n}"
        )))
    }
}

/// Where the admission under `key` is recorded, written into `out` (emptied first).
pub fn write_record_key(
    out: &mut String,
    prefix: &str,
    (id, feature): (&ProfileId, &str),
    (label, amount): (&str, i64),
    key: &str,
) -> Result<()> {
    check_key(key)?;
    out.clear();
    out.push_str(prefix);
    out.push(':');
    id.write_key_part(out);
    let _ = write!(out, ":{feature}:i{label}.{amount}:");
    escape_into(key, out);
    Ok(())
}

/// Where a reserve under an idempotency key stands. Its record is the machine's record key;
/// the marker key is completed from the feature's marker base once a record is found.
pub(crate) struct Once {
    phase: Phase,
    /// The nonce of the reservation the record being looked at names.
    recorded: u64,
    /// Released attempts followed so far: the machine's record key is the chain's next link.
    released: u8,
    /// A denial has looked the record up again (once per call).
    rechecked: bool,
}

enum Phase {
    Start,
    LookingUp,
    /// Reading the marker of the recorded reservation.
    CheckingMarker,
    /// The inner reserve runs; its ops name the same counters as ours.
    Reserving(Reserving),
    Recording(Finished),
    /// Denied: reading the record once more, in case an attempt with this key was admitted
    /// while ours counted (then ours replays it rather than deny what was served).
    Rechecking(Finished),
    /// Undoing our count (counters `left` and below still to do) after losing the record race.
    Undoing(usize),
    /// Reading counters for the replay (into the machine's counts).
    Replaying,
}

impl Once {
    pub(crate) fn new() -> Once {
        Once {
            phase: Phase::Start,
            recorded: 0,
            released: 0,
            rechecked: false,
        }
    }

    /// While the inner reserve runs, it knows best (a denial whose rollback failed).
    pub(crate) fn fail(&mut self, error: QuotaError) -> Result<Finished> {
        match &mut self.phase {
            Phase::Reserving(inner) => inner.fail(error),
            // The denial stands: a fault never turns it into an admission.
            Phase::Rechecking(denial) => Ok(std::mem::replace(denial, Finished::Released)),
            _ => Err(error),
        }
    }
}

impl Machine {
    /// A reserve that records its decision under an idempotency key, or replays one recorded.
    pub(crate) fn once(&mut self, once: &mut Once, reply: Option<StoreReply>) -> Next {
        match std::mem::replace(&mut once.phase, Phase::Start) {
            Phase::Start => self.look_up(once, 0),
            Phase::LookingUp => match reply {
                // Not under this window's label: under the next one's (none follows a link of
                // a released attempt's chain, which lives under the label it started from).
                Some(StoreReply::Count(None))
                    if once.released == 0 && self.record_at + 1 < self.records_len =>
                {
                    self.look_up(once, self.record_at + 1)
                }
                Some(StoreReply::Count(None)) => self.reserve_step(once, Reserving::Start, None),
                Some(StoreReply::Count(Some(v))) => self.recorded(once, v),
                other => Next::Done(Err(unexpected(other))),
            },
            Phase::CheckingMarker => match reply {
                Some(StoreReply::Count(Some(RELEASED))) => self.next_link(once),
                Some(StoreReply::Count(_)) => {
                    self.counts.clear();
                    self.replay(once)
                }
                other => Next::Done(Err(unexpected(other))),
            },
            Phase::Reserving(inner) => self.reserve_step(once, inner, reply),
            Phase::Recording(decision) => match reply {
                Some(StoreReply::Added(true)) => Next::Done(Ok(decision)),
                // Another call with this key recorded first: ours must not count.
                Some(StoreReply::Added(false)) => self.undo(once, self.targets.len()),
                other => Next::Done(Err(unexpected(other))),
            },
            Phase::Rechecking(denial) => match reply {
                Some(StoreReply::Count(None)) => Next::Done(Ok(denial)),
                Some(StoreReply::Count(Some(v))) => self.recorded(once, v),
                other => Next::Done(Err(unexpected(other))),
            },
            Phase::Undoing(left) => self.undo(once, left),
            Phase::Replaying => {
                match self.read_count(self.counts.len(), reply) {
                    Ok(n) => self.counts.push(n),
                    Err(e) => return Next::Done(Err(e)),
                }
                self.replay(once)
            }
        }
    }

    /// Runs the inner reserve one step (from `Reserving::Start`: a fresh reserve).
    fn reserve_step(
        &mut self,
        once: &mut Once,
        mut inner: Reserving,
        reply: Option<StoreReply>,
    ) -> Next {
        if matches!(inner, Reserving::Start) {
            self.counts.clear();
        }
        match self.reserve(&mut inner, reply) {
            Next::Op(op) => {
                once.phase = Phase::Reserving(inner);
                Next::Op(op)
            }
            Next::Done(Ok(Finished::Decision { figures, replayed })) if figures.allowed => {
                let nonce = figures.reservation.map_or(0, |(_, _, nonce, _)| nonce);
                let value = 2 * (nonce & RECORD_NONCE_MASK) as i64 + 1;
                // A first attempt's record goes where the window that ends last names it; a
                // retry after a release records at the chain's link it looked up.
                if once.released == 0 {
                    self.record_at = 0;
                }
                let (key, ttl_secs) = (KeyRef::Record, self.record_ttl);
                once.phase = Phase::Recording(Finished::Decision { figures, replayed });
                Next::Op(StoreOp::Add {
                    key,
                    value,
                    ttl_secs,
                })
            }
            // Another attempt with this key may have been admitted while ours counted (a
            // retry sent while the first still ran): its record is read once more. A denial
            // is not recorded: nothing is written for it.
            Next::Done(Ok(denial @ Finished::Decision { .. })) if !once.rechecked => {
                once.rechecked = true;
                // Where that attempt records: as ours would have (see above), not under the
                // label this call looked at last.
                if once.released == 0 {
                    self.record_at = 0;
                }
                once.phase = Phase::Rechecking(denial);
                Next::Op(StoreOp::Get {
                    key: KeyRef::Record,
                })
            }
            done => done,
        }
    }

    fn undo(&mut self, once: &mut Once, left: usize) -> Next {
        if left == 0 {
            // The record the winner wrote is where ours was to go.
            return self.look_up(once, self.record_at);
        }
        once.phase = Phase::Undoing(left - 1);
        Next::Op(StoreOp::Incr {
            key: KeyRef::Policy(left - 1),
            delta: -self.amount,
        })
    }

    /// Reads the `i`-th key the record may be under.
    fn look_up(&mut self, once: &mut Once, i: usize) -> Next {
        self.record_at = i;
        once.phase = Phase::LookingUp;
        Next::Op(StoreOp::Get {
            key: KeyRef::Record,
        })
    }

    /// A recorded admission: its reservation's marker is read first.
    fn recorded(&mut self, once: &mut Once, value: i64) -> Next {
        if value < 1 || value % 2 == 0 || value > 2 * RECORD_NONCE_MASK as i64 + 1 {
            let record = &self.records[self.record_at];
            return Next::Done(Err(QuotaError::corrupt(record, value)));
        }
        once.recorded = (value / 2) as u64;
        self.marker.truncate(self.marker_base);
        push_marker_suffix(&mut self.marker, once.recorded);
        once.phase = Phase::CheckingMarker;
        Next::Op(StoreOp::Get {
            key: KeyRef::Marker,
        })
    }

    /// The recorded reservation was released: the record that may follow it is looked up.
    fn next_link(&mut self, once: &mut Once) -> Next {
        if once.released == MAX_RETRIES_AFTER_RELEASE {
            return Next::Done(Err(QuotaError::new(
                ErrorCode::IdempotencyKeyExhausted,
                format!(
                    "idempotencyKey was released {} times in this window; \
                     send the request under a new key",
                    MAX_RETRIES_AFTER_RELEASE + 1
                ),
            )));
        }
        once.released += 1;
        let _ = write!(self.records[self.record_at], ":{:016x}", once.recorded);
        self.look_up(once, self.record_at)
    }

    /// The original's decision, with the counters' current figures and no reservation.
    fn replay(&mut self, once: &mut Once) -> Next {
        let i = self.counts.len();
        if i < self.targets.len() {
            once.phase = Phase::Replaying;
            return Next::Op(StoreOp::Get {
                key: KeyRef::Policy(i),
            });
        }
        let mut decision = self.tightest();
        if let Finished::Decision { replayed, .. } = &mut decision {
            *replayed = true;
        }
        Next::Done(Ok(decision))
    }
}
