//! The host's storage, reached through JS callbacks, and the driver that runs a core [`Call`]
//! over it: synchronously while the store answers with plain values, switching to a Promise
//! the first time it answers with one ("maybe-async").

use super::error::Failure;
use super::js;
use crate::core::limits::MAX_SAFE_INTEGER;
use crate::core::{Call, Outcome, QuotaError, Step, StoreOp, StoreReply};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(typescript_custom_section)]
const QUOTA_STORE_TS: &'static str = r#"
/** A value, or a Promise of it: every store method and engine call may be either. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * The host's storage: the seed's cache primitives. Counts are non-negative safe integers.
 * A method may return a plain value (the engine then answers synchronously) or a Promise.
 */
export interface QuotaStore {
  /** The live count, or null/undefined when absent or expired. */
  get(key: string): MaybePromise<number | null | undefined>;
  /** Add `delta` (may be negative) to a live counter and return the new value; null when
   *  absent or expired. Must never create the key. */
  incr(key: string, delta: number): MaybePromise<number | null>;
  /** Create the key with `value`, expiring after `ttlSeconds`, only if absent; true if created. */
  add(key: string, value: number, ttlSeconds: number): MaybePromise<boolean>;
  /** Create or overwrite the key with `value`, expiring after `ttlSeconds`. */
  set(key: string, value: number, ttlSeconds: number): MaybePromise<void>;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// A JS object implementing `QuotaStore`.
    #[wasm_bindgen(typescript_type = "QuotaStore")]
    #[derive(Clone)]
    pub type JsStore;

    #[wasm_bindgen(method, catch)]
    fn get(this: &JsStore, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn incr(this: &JsStore, key: &str, delta: f64) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn add(this: &JsStore, key: &str, value: f64, ttl_seconds: f64) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn set(this: &JsStore, key: &str, value: f64, ttl_seconds: f64) -> Result<JsValue, JsValue>;
}

/// Turns a finished call's outcome into the JS value the method returns.
pub type Finish = fn(Outcome) -> JsValue;

/// The host's store plus how long the engine waits for one of its Promises.
pub struct Backend {
    pub store: JsStore,
    /// `storeTimeoutMs`; only async answers are timed (a sync one has already arrived).
    pub timeout_ms: Option<u32>,
}

/// Runs `call` over the backend's store. Returns the result directly while every store call
/// returns a plain value; from the first Promise on, returns a Promise of the result.
pub fn drive(
    backend: &Backend,
    mut call: Box<dyn Call>,
    finish: Finish,
) -> Result<JsValue, JsValue> {
    let mut reply = None;
    loop {
        let op = match call.resume(reply.take()) {
            Step::Done(outcome) => return outcome.map(finish).map_err(|e| Failure::from(e).into()),
            Step::Op(op) => op,
        };
        let raw = match invoke(&backend.store, &*call, op) {
            Ok(raw) => raw,
            Err(fault) => return fail(&mut *call, fault, finish),
        };
        match interpret(&*call, op, &raw) {
            Ok(Some(r)) => reply = Some(r),
            Ok(None) => {
                let store = backend.store.clone();
                let timeout_ms = backend.timeout_ms;
                let pending = settle(&raw, timeout_ms);
                return Ok(wasm_bindgen_futures::future_to_promise(async move {
                    drive_async(store, timeout_ms, call, op, pending, finish).await
                })
                .into());
            }
            Err(f) => return Err(f.into()),
        }
    }
}

async fn drive_async(
    store: JsStore,
    timeout_ms: Option<u32>,
    mut call: Box<dyn Call>,
    mut op: StoreOp,
    mut pending: js_sys::Promise,
    finish: Finish,
) -> Result<JsValue, JsValue> {
    loop {
        let raw = match JsFuture::from(pending).await {
            Ok(raw) => raw,
            Err(cause) => {
                let fault = store_failure(&*call, op, cause);
                return fail(&mut *call, fault, finish);
            }
        };
        let reply = match interpret(&*call, op, &raw)? {
            Some(reply) => reply,
            None => {
                return Err(Failure::from(QuotaError::store(
                    "a store Promise resolved to another thenable",
                ))
                .into())
            }
        };
        op = match call.resume(Some(reply)) {
            Step::Done(outcome) => return outcome.map(finish).map_err(|e| Failure::from(e).into()),
            Step::Op(op) => op,
        };
        pending = match invoke(&store, &*call, op) {
            Ok(raw) => settle(&raw, timeout_ms),
            Err(fault) => return fail(&mut *call, fault, finish),
        };
    }
}

/// A store answer as a Promise, rejected with the timeout marker if it has not settled in time.
fn settle(raw: &JsValue, timeout_ms: Option<u32>) -> js_sys::Promise {
    match timeout_ms {
        Some(ms) => js::with_timeout(raw, ms),
        None => js_sys::Promise::resolve(raw),
    }
}

/// The store failed (threw, rejected, timed out): the call's fault policy decides.
fn fail(call: &mut dyn Call, fault: Failure, finish: Finish) -> Result<JsValue, JsValue> {
    match call.fail(fault.error.clone()) {
        Ok(Outcome::Degraded(d)) => Ok(js::degraded_decision(
            d.allowed,
            &JsValue::from_str(&d.feature),
            fault.into_js(),
        )),
        Ok(outcome) => Ok(finish(outcome)),
        Err(_) => Err(fault.into()),
    }
}

fn invoke(store: &JsStore, call: &dyn Call, op: StoreOp) -> Result<JsValue, Failure> {
    let key = call.key(op.key());
    let result = match op {
        StoreOp::Get { .. } => store.get(key),
        StoreOp::Incr { delta, .. } => store.incr(key, delta as f64),
        StoreOp::Add {
            value, ttl_secs, ..
        } => store.add(key, value as f64, ttl_secs as f64),
        StoreOp::Set {
            value, ttl_secs, ..
        } => store.set(key, value as f64, ttl_secs as f64),
    };
    result.map_err(|cause| store_failure(call, op, cause))
}

fn store_failure(call: &dyn Call, op: StoreOp, cause: JsValue) -> Failure {
    let name = op_name(op);
    if js::is_store_timeout(&cause) {
        let msg = format!(
            "store.{name}({:?}) did not settle in time",
            call.key(op.key())
        );
        return Failure::from(QuotaError::timeout(msg));
    }
    let msg = format!("store.{name}({:?}) failed", call.key(op.key()));
    Failure::with_cause(QuotaError::store(msg), cause)
}

fn op_name(op: StoreOp) -> &'static str {
    match op {
        StoreOp::Get { .. } => "get",
        StoreOp::Incr { .. } => "incr",
        StoreOp::Add { .. } => "add",
        StoreOp::Set { .. } => "set",
    }
}

/// A store's plain answer as a reply; `Ok(None)` when it is a thenable to wait for.
fn interpret(call: &dyn Call, op: StoreOp, raw: &JsValue) -> Result<Option<StoreReply>, Failure> {
    match op {
        StoreOp::Get { .. } | StoreOp::Incr { .. } => {
            if let Some(n) = raw.as_f64() {
                return count(call.key(op.key()), n).map(|n| Some(StoreReply::Count(Some(n))));
            }
            if raw.is_null() || raw.is_undefined() {
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

/// A JS number as a count: finite, whole, and within ±MAX_SAFE_INTEGER (the sign is the
/// core's business: `incr` may legitimately go negative before a release clamps it).
fn count(key: &str, n: f64) -> Result<i64, Failure> {
    if n.is_finite() && n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER as f64 {
        Ok(n as i64)
    } else {
        Err(QuotaError::corrupt(key, n).into())
    }
}
