//! What a store fault becomes: the operator's choice (`onStoreError`), made once at
//! construction. A fault is a store method that threw, rejected or timed out; its outcome is
//! unknown (the write may or may not have happened), so the engine never tries to undo it —
//! an undo of a write that did not happen would take away someone else's count. A call's
//! machine applies the policy (`calls::Machine::fail`).

use super::error::QuotaError;
use serde::Deserialize;

/// `onStoreError`: what a decision-returning call (`check`, `reserve`, `increment`) answers
/// when the store fails. `release` and `usage` have no decision to fall back on and always
/// throw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(
    rename_all = "lowercase",
    expecting = "\"throw\", \"deny\" or \"allow\""
)]
pub enum FaultPolicy {
    /// Throw (or reject with) the `STORE_ERROR` / `STORE_TIMEOUT` error. The default.
    #[default]
    Throw,
    /// Fail closed: `{ allowed: false, degraded: "store-error" }`.
    Deny,
    /// Fail open: `{ allowed: true, degraded: "store-error" }`, with no reservation.
    Allow,
}

/// A decision made by the fault policy instead of by counting. It carries no figures: the
/// store could not say what the count is. Allowed ones carry no reservation either, since
/// releasing a count that may never have been made would under-count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Degraded {
    pub allowed: bool,
    pub feature: String,
    /// The fault the policy absorbed (the host logs it).
    pub error: QuotaError,
}
