//! What a store fault becomes: the operator's choice (`onStoreError`), made once at
//! construction. A fault is a store method that threw, rejected or timed out; its outcome is
//! unknown (the write may or may not have happened), so the engine never tries to undo it —
//! an undo of a write that did not happen would take away someone else's count.

use super::decision::Outcome;
use super::error::{QuotaError, Result};
use super::store::{Call, Step, StoreReply};
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

/// Wraps a decision-returning call so that a store fault becomes the policy's decision.
pub struct Guarded {
    inner: Box<dyn Call>,
    allowed: bool,
    feature: String,
}

impl Guarded {
    /// `inner` itself under [`FaultPolicy::Throw`] (nothing to guard, no extra indirection).
    pub fn wrap(policy: FaultPolicy, feature: &str, inner: Box<dyn Call>) -> Box<dyn Call> {
        let allowed = match policy {
            FaultPolicy::Throw => return inner,
            FaultPolicy::Deny => false,
            FaultPolicy::Allow => true,
        };
        Box::new(Guarded {
            inner,
            allowed,
            feature: feature.to_owned(),
        })
    }
}

impl Call for Guarded {
    fn key(&self, index: usize) -> &str {
        self.inner.key(index)
    }

    fn key_id(&self, index: usize) -> u64 {
        self.inner.key_id(index)
    }

    fn resume(&mut self, reply: Option<StoreReply>) -> Step {
        self.inner.resume(reply)
    }

    /// The call itself decides first: one that already knows its outcome (a denial whose
    /// rollback failed) keeps it. Only a fault that leaves the decision unknown is the policy's.
    fn fail(&mut self, error: QuotaError) -> Result<Outcome> {
        match self.inner.fail(error) {
            Err(error) if error.is_store_fault() => Ok(Outcome::Degraded(Degraded {
                allowed: self.allowed,
                feature: self.feature.clone(),
                error,
            })),
            known => known,
        }
    }
}
