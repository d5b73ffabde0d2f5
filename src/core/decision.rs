//! What an engine call answers.

use super::fault::Degraded;
use super::reservation::Reservation;
use super::window::{rfc3339_utc, WindowUnit};

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
    /// Whole seconds until `resets_at_ms` on a denial, 0 when allowed.
    pub retry_after: u64,
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
            retry_after: 0,
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

/// Everything a [`super::store::Call`] can finish with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Decision(Decision),
    /// `(feature, count)` for every configured feature, in configuration order.
    Usage(Vec<(String, i64)>),
    /// `release` finished (a missing counter is a quiet no-op, as in the Django service).
    Released,
    /// `settle` finished: `true` when it corrected the counters, `false` when the reservation
    /// had already been settled or released (nothing changed).
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
