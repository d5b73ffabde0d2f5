//! The host's storage, reached through JS callbacks. `pkg-template/engine.js` calls the store
//! itself (synchronously while it answers with plain values, awaiting from the first Promise
//! on: "maybe-async"); this file is what the WASM side makes of the answers: counts, corrupt
//! values, and faults handed to the call's fault policy.

use super::error::Failure;
use super::js;
use crate::core::calls::{Finished, Machine};
use crate::core::memory;
use crate::core::{QuotaError, StoreOp, StoreReply};
use wasm_bindgen::prelude::*;

/// What a store fault ends a call with.
pub enum Fault {
    Finished(Finished),
    /// A decision the fault policy made (with the absorbed error inside).
    Value(JsValue),
    Error(Failure),
}

/// The store failed on `op` (threw, rejected, or `cause` is the timeout marker): the call's
/// fault policy decides.
pub fn fault(call: &mut Machine, op: StoreOp, cause: JsValue) -> Fault {
    let fault = store_failure(call, op, cause);
    fault_of(call, fault.error, fault.cause)
}

/// The store failed with `error` (caused by the JS exception `cause`): the call's fault
/// policy decides.
pub fn fault_of(call: &mut Machine, error: QuotaError, cause: JsValue) -> Fault {
    let fault = Failure::with_cause(error, cause);
    match call.fail(fault.error.clone()) {
        Ok(Finished::Degraded { allowed, .. }) => Fault::Value(js::degraded_decision(
            allowed,
            &JsValue::from_str(call.feature()),
            fault.into_js(),
        )),
        Ok(finished) => Fault::Finished(finished),
        // The store's failure itself, with its JS cause; or what the call knew before it.
        Err(e) if e == fault.error => Fault::Error(fault),
        Err(e) => Fault::Error(e.into()),
    }
}

/// JS named a call that is not waiting for an answer: a bug in `engine.js`, reported rather
/// than trapped. Not inlined: an error path of every entry point.
#[inline(never)]
pub fn lost_call() -> Failure {
    QuotaError::store("internal: no such call in progress").into()
}

fn store_failure(call: &Machine, op: StoreOp, cause: JsValue) -> Failure {
    let name = op_name(op);
    if js::is_store_timeout(&cause) {
        let msg = format!(
            "store.{name}(\"{}\") did not settle in time",
            call.key(op.key())
        );
        return Failure::from(QuotaError::timeout(msg));
    }
    let msg = format!("store.{name}(\"{}\") failed", call.key(op.key()));
    Failure::with_cause(QuotaError::store(msg), cause)
}

fn op_name(op: StoreOp) -> &'static str {
    match op {
        StoreOp::Get { .. } => "get",
        StoreOp::Incr { .. } => "incr",
        StoreOp::Add { .. } => "add",
        StoreOp::Set { .. } => "set",
        StoreOp::IncrOrCreate { .. } => "incrOrCreate",
        StoreOp::IncrOrCreateWithin { .. } => "incrOrCreateWithin",
    }
}

/// A store's answer as a reply; `Ok(None)` when it is a thenable to wait for. `settled`: the
/// answer is what a thenable resolved to, so another thenable is an error.
pub fn interpret(
    call: &Machine,
    op: StoreOp,
    raw: &JsValue,
    settled: bool,
) -> Result<Option<StoreReply>, Failure> {
    match op {
        StoreOp::Get { .. }
        | StoreOp::Incr { .. }
        | StoreOp::IncrOrCreate { .. }
        | StoreOp::IncrOrCreateWithin { .. } => {
            if let Some(n) = raw.as_f64() {
                return count(call.key(op.key()), n).map(|n| Some(StoreReply::Count(Some(n))));
            }
            let absent = raw.is_null() || raw.is_undefined();
            // The upserts always have a count.
            if absent && matches!(op, StoreOp::Get { .. } | StoreOp::Incr { .. }) {
                return Ok(Some(StoreReply::Count(None)));
            }
        }
        StoreOp::Add { .. } => {
            if let Some(b) = raw.as_bool() {
                return Ok(Some(StoreReply::Added(b)));
            }
        }
        StoreOp::Set { .. } => {
            if raw.is_undefined()
                || raw.is_null()
                || raw.as_bool().is_some()
                || raw.as_f64().is_some()
            {
                return Ok(Some(StoreReply::Done));
            }
        }
    }
    match js::is_thenable(raw) {
        Ok(true) if settled => {
            Err(QuotaError::store("a store Promise resolved to another thenable").into())
        }
        Ok(true) => Ok(None),
        Ok(false) if matches!(op, StoreOp::Set { .. }) => Ok(Some(StoreReply::Done)),
        Ok(false) if matches!(op, StoreOp::Add { .. }) => Err(QuotaError::store(format!(
            "store.add() returned {}, expected a boolean",
            js::type_name(raw)
        ))
        .into()),
        Ok(false) => {
            Err(QuotaError::corrupt(call.key(op.key()), format!("a {}", js::type_name(raw))).into())
        }
        Err(cause) => Err(store_failure(call, op, cause)),
    }
}

/// A JS number as a count (see `core::memory::count`); JS words a corrupt one.
pub fn count(key: &str, n: f64) -> Result<i64, Failure> {
    Ok(memory::count(key, n, js::number_text)?)
}
