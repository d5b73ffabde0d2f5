//! What an engine call answers.

use super::fault::Degraded;
use super::reservation::Reservation;
use super::window::{rfc3339_utc, Bounds, WindowUnit};

/// The answer to `check`, `reserve` and `increment` — the Django service's `(allowed, info)` with the
/// info always filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub feature: String,
    /// Quotas are off (home mode) or the profile is unlimited: nothing below is meaningful.
    pub unlimited: bool,
    pub limit: i64,
    /// After an allowed reserve: the count including it. For `check`: the current count.
    /// On a denial: the count without the refused attempt (the Django service's `new_count - 1`).
    pub used: i64,
    /// `max(0, limit - used)`.
    pub remaining: i64,
    /// Start of the next window (the next 00:00:00 UTC for a daily policy), in ms.
    pub resets_at_ms: i64,
    /// Whole seconds until `resets_at_ms` on a denial, `Some(0)` when allowed, and `None` when
    /// the amount is over the denying policy's whole limit: it can never fit, so there is
    /// nothing to wait for (JS `retryAfter: null`, and no `Retry-After` header).
    pub retry_after: Option<u64>,
    /// Set when a reserve was allowed and counted: hand its token back to `release`.
    pub reservation: Option<Reservation>,
    /// Index of the feature's policy these figures describe (the denying one on a denial).
    pub policy: usize,
    /// That policy's name and window, for policies given as objects (JS `policy`, `window`);
    /// `None` for a plain-number limit, whose decision keeps the foundation's exact shape.
    pub policy_name: Option<String>,
    pub window: Option<WindowUnit>,
    /// An idempotent reserve answered from the record of an earlier one (nothing counted now).
    pub replayed: bool,
}

impl Decision {
    pub fn unlimited(feature: &str) -> Decision {
        Decision {
            allowed: true,
            feature: feature.to_owned(),
            unlimited: true,
            limit: 0,
            used: 0,
            remaining: 0,
            resets_at_ms: 0,
            retry_after: Some(0),
            reservation: None,
            policy: 0,
            policy_name: None,
            window: None,
            replayed: false,
        }
    }

    /// The reservation's token (`reservation` in JS), for `release`.
    pub fn reservation_token(&self) -> Option<String> {
        self.reservation.as_ref().map(Reservation::encode)
    }

    /// `resetsAt` as RFC 3339 UTC, e.g. `2026-11-28T00:00:00Z`.
    pub fn resets_at(&self) -> String {
        rfc3339_utc(self.resets_at_ms)
    }
}

// The figures of a decision, one rule each, for the state machines (`calls.rs`) and the direct
// path (`direct.rs`) alike. A feature's policies are seen as `limit(i)` and `counts[i]`.

/// The policy that denies `amount`: the first whose whole limit is below it (it can never
/// fit, whatever is counted), else of those it would take past their limits the one whose
/// window ends last (see [`later_denial`]); `None` when it fits every policy. `counts` holds
/// what each counter holds now (a reserve that has not counted yet passes none, and learns
/// only whether it can never fit). `end(i)` is when policy `i`'s window ends.
pub fn denying(
    n: usize,
    limit: impl Fn(usize) -> i64,
    end: impl Fn(usize) -> i64,
    counts: &[i64],
    amount: i64,
) -> Option<usize> {
    (0..n).find(|&i| amount > limit(i)).or_else(|| {
        (0..counts.len().min(n))
            .filter(|&i| counts[i] + amount > limit(i))
            .fold(None, |best, i| later_denial(best, i, &end))
    })
}

/// Of two policies that both deny, the one whose window ends last (`best` on a tie): the
/// amount cannot fit before that reset, so the denial's `resetsAt` and `retryAfter` are its.
/// Naming the first full policy instead would send a client back at an hour's end to be
/// denied by the full day.
pub fn later_denial(best: Option<usize>, i: usize, end: impl Fn(usize) -> i64) -> Option<usize> {
    match best {
        Some(b) if end(b) >= end(i) => Some(b),
        _ => Some(i),
    }
}

/// The allowed decision reports the tightest policy: the one with the fewest remaining (the
/// first of equals).
pub fn tightest(n: usize, limit: impl Fn(usize) -> i64, counts: &[i64]) -> usize {
    (0..n).min_by_key(|&i| limit(i) - counts[i]).unwrap_or(0)
}

/// `remaining`: `max(0, limit − used)`.
pub fn remaining(limit: i64, used: i64) -> i64 {
    (limit - used).max(0)
}

/// `retry_after` (see [`Decision::retry_after`]) of a decision on a policy with `limit` whose
/// window is `span`.
pub fn retry_after(
    allowed: bool,
    amount: i64,
    limit: i64,
    span: &Bounds,
    now_ms: i64,
) -> Option<u64> {
    if allowed {
        Some(0)
    } else if amount > limit {
        None
    } else {
        Some(span.seconds_to_reset(now_ms))
    }
}

/// Everything a [`super::store::Call`] can finish with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Decision(Decision),
    /// `(feature, count)` for every configured feature, in configuration order.
    Usage(Vec<(String, i64)>),
    /// `release` finished (a missing counter is a quiet no-op, as in the Django service).
    Released,
    /// `settle` finished: `true` when it corrected the counters, `false` when the reservation
    /// had already been settled or released, or its charge came too late for every window, or
    /// the window after each of its windows has ended (nothing changed).
    Settled(bool),
    /// The store failed and the fault policy decided (`onStoreError: "deny" | "allow"`).
    Degraded(Degraded),
}

impl Outcome {
    /// The decision, for callers that know they asked for one.
    pub fn decision(self) -> Option<Decision> {
        match self {
            Outcome::Decision(d) => Some(d),
            _ => None,
        }
    }
}
