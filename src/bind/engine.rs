//! `QuotaEngine`, the JS class: parses arguments, asks the core for a call, and drives it over
//! the host's store.

use super::args;
use super::error::Failure;
use super::js;
use super::store::{drive, Backend};
use super::zones::IntlZones;
use crate::core::{self, Decision, Outcome};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(typescript_custom_section)]
const ENGINE_TS: &'static str = r#"
/** A non-negative safe integer or a string of 1–256 characters. `42` and `"42"` differ. */
export type ProfileId = number | string;
export interface Profile { id: ProfileId; unlimited?: boolean }
/** A calendar window; "week" is the ISO week (Monday 00:00 to Monday 00:00). */
export type WindowName = "hour" | "day" | "week" | "month";
/** One limit over one calendar window, aligned on the wall clock of `timeZone`. */
export interface Policy {
  /** Non-negative safe integer; 0 = always denied. */
  limit: number;
  /** Default "day". */
  window?: WindowName;
  /** An IANA zone the host's Intl knows, e.g. "Europe/Paris". Default UTC. */
  timeZone?: string;
  /** Named in decisions and headers; default "hourly" | "daily" | "weekly" | "monthly". */
  name?: string;
}
/**
 * Feature name → a limit per UTC day (the seed's shape; 0 = always denied), one policy, or
 * several policies that must all pass (a reserve counts in all or none).
 */
export type Limits = Record<string, number | Policy | Policy[]>;
export interface QuotaEngineOptions {
  store: QuotaStore;
  limits: Limits;
  /** false = home mode: everything allowed, nothing counted. Default true. */
  enabled?: boolean;
  /** Default "ai_quota". */
  keyPrefix?: string;
  /** Milliseconds since the epoch. Default Date.now. */
  now?: () => number;
  /** When a store method throws, rejects or times out: throw (default), or answer check /
   *  reserve / increment with a DegradedDecision that denies or allows. */
  onStoreError?: "throw" | "deny" | "allow";
  /** Async stores: a store Promise not settled after this many ms is a STORE_TIMEOUT. */
  storeTimeoutMs?: number;
}
export interface AmountOptions { amount?: number }
export interface ReserveOptions extends AmountOptions {
  /** A retry with the same key (and amount) in the same window gets the original decision,
   *  with `replayed: true`, and is counted once. 1–256 characters. */
  idempotencyKey?: string;
}
export interface LimitedDecision {
  allowed: boolean;
  feature: string;
  limit: number;
  used: number;
  remaining: number;
  /** RFC 3339 UTC instant of the reset, e.g. "2026-11-28T00:00:00Z". */
  resetsAt: string;
  /** Whole seconds to resetsAt on a denial, 0 when allowed. */
  retryAfter: number;
  /** Present when a reserve was allowed and counted: pass it to release() or settle(). */
  reservation?: string;
  /** The policy these figures describe (the denying one on a denial, else the one with the
   *  fewest remaining). Absent for plain-number limits, which keep the seed's shape. */
  policy?: string;
  /** That policy's window; present with `policy`. */
  window?: WindowName;
  /** An idempotent reserve answered from the record of the original (nothing counted now). */
  replayed?: true;
  unlimited?: undefined;
  degraded?: undefined;
}
export interface UnlimitedDecision { allowed: true; unlimited: true; feature: string }
/** Decided by `onStoreError` because the store failed: no figures, no reservation. */
export interface DegradedDecision {
  allowed: boolean;
  feature: string;
  degraded: "store-error";
  /** The absorbed STORE_ERROR / STORE_TIMEOUT QuotaError, for the host's log. */
  error: Error & { code: string; cause?: unknown };
  /** Always 0: when the store comes back is unknown. */
  retryAfter: 0;
  reservation?: undefined;
  unlimited?: undefined;
}
export type Decision = LimitedDecision | UnlimitedDecision | DegradedDecision;
export type Usage = Record<string, number>;
"#;

/// Per-profile, per-feature quotas over a store the host supplies.
///
/// ```js
/// import { QuotaEngine, MemoryStore } from "wasm-quota";
/// const engine = new QuotaEngine({ store: new MemoryStore(), limits: { remix: 10 } });
/// const d = engine.reserve({ id: 42 }, "remix");
/// if (!d.allowed) return new Response("quota exceeded", { status: 429 });
/// ```
#[wasm_bindgen]
extern "C" {
    /// `{ amount? }`, optional on every counting method.
    #[wasm_bindgen(typescript_type = "AmountOptions")]
    pub type AmountOptions;
    /// `{ amount?, idempotencyKey? }` of `reserve`.
    #[wasm_bindgen(typescript_type = "ReserveOptions")]
    pub type ReserveOptions;
}

#[wasm_bindgen]
pub struct QuotaEngine {
    core: core::Engine,
    store: Backend,
    now: Option<js_sys::Function>,
}

#[wasm_bindgen]
impl QuotaEngine {
    /// Validates every option; throws `QuotaError` with code `INVALID_CONFIG` when one is wrong.
    ///
    /// ```js
    /// const engine = new QuotaEngine({
    ///   store: new MemoryStore(),
    ///   limits: { remix: 10, tips: 20 },
    ///   enabled: true, keyPrefix: "ai_quota", now: () => Date.now(),
    ///   onStoreError: "deny", storeTimeoutMs: 250, // fail closed when the store is down
    /// });
    /// ```
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "QuotaEngineOptions")] options: JsValue,
    ) -> Result<QuotaEngine, JsValue> {
        let o = args::engine_options(&options)?;
        let mut core = core::Engine::new(o.limits)
            .with_enabled(o.enabled)
            .with_fault_policy(o.on_store_error)
            .with_time_zones(Rc::new(IntlZones))
            .with_nonce_seed((js::random_word() as u64) << 32 | js::random_word() as u64);
        if let Some(prefix) = o.key_prefix {
            core = core.with_key_prefix(&prefix).map_err(Failure::from)?;
        }
        Ok(QuotaEngine {
            core,
            store: Backend {
                store: o.store.unchecked_into(),
                timeout_ms: o.store_timeout_ms,
            },
            now: o.now,
        })
    }

    /// Read-only: would `amount` (default 1) more be allowed now? Counts nothing.
    ///
    /// ```js
    /// const { allowed, remaining } = engine.check({ id: 42 }, "remix");
    /// ```
    #[wasm_bindgen(unchecked_return_type = "Decision | Promise<Decision>")]
    pub fn check(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Profile")] profile: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] feature: JsValue,
        options: Option<AmountOptions>,
    ) -> Result<JsValue, JsValue> {
        let (profile, feature, amount, now) = self.args(&profile, &feature, &options)?;
        let call = self
            .core
            .check(&profile, &feature, amount.unwrap_or(1), now)
            .map_err(Failure::from)?;
        drive(&self.store, call, decision)
    }

    /// Atomically counts `amount` (default 1) if it fits under the limit, else counts nothing
    /// and denies. An allowed decision carries a `reservation` for `release`. With an
    /// `idempotencyKey`, a retry in the same window gets the original decision (`replayed:
    /// true`) and is counted once, across engines sharing the store.
    ///
    /// ```js
    /// const d = await engine.reserve({ id: 42 }, "remix", { idempotencyKey: request.headers.get("Idempotency-Key") ?? undefined });
    /// if (!d.allowed) return deny(d.retryAfter);
    /// try { await callTheModel(); } catch (e) { await engine.release({ id: 42 }, d.reservation); throw e; }
    /// ```
    #[wasm_bindgen(unchecked_return_type = "Decision | Promise<Decision>")]
    pub fn reserve(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Profile")] profile: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] feature: JsValue,
        options: Option<ReserveOptions>,
    ) -> Result<JsValue, JsValue> {
        let options: Option<AmountOptions> = options.map(JsCast::unchecked_into);
        let (profile, feature, amount, now) = self.args(&profile, &feature, &options)?;
        let amount = amount.unwrap_or(1);
        let key = match &options {
            Some(options) => args::idempotency_key(options)?,
            None => None,
        };
        let call = match key {
            Some(key) => self
                .core
                .reserve_once(&profile, &feature, amount, &key, now),
            None => self.core.reserve(&profile, &feature, amount, now),
        }
        .map_err(Failure::from)?;
        drive(&self.store, call, decision)
    }

    /// Takes back a reservation (exactly its amount, from the window it was counted in) or,
    /// given a feature name, `amount` (default 1) from today's counter as the seed does. A
    /// counter that would go below zero is set to 0; a missing counter is a quiet no-op.
    ///
    /// ```js
    /// await engine.release({ id: 42 }, decision.reservation);
    /// await engine.release({ id: 42 }, "remix", { amount: 2 });
    /// ```
    #[wasm_bindgen(unchecked_return_type = "void | Promise<void>")]
    pub fn release(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Profile")] profile: JsValue,
        #[wasm_bindgen(js_name = featureOrReservation, unchecked_param_type = "string")]
        feature_or_reservation: JsValue,
        options: Option<AmountOptions>,
    ) -> Result<JsValue, JsValue> {
        let (profile, target, amount, now) =
            self.args(&profile, &feature_or_reservation, &options)?;
        let call = self
            .core
            .release(&profile, &target, amount, now)
            .map_err(Failure::from)?;
        drive(&self.store, call, |_| JsValue::UNDEFINED)
    }

    /// Settles a reservation with the amount actually used (an integer ≥ 0), in the windows it
    /// was counted in: refunds `reserved − actual`, or charges the extra (the call happened;
    /// the next reserve sees it, even past the limit). Returns `true` when it corrected the
    /// counters, `false` when the reservation was already settled or released (nothing
    /// changes: a retried settle cannot double-count).
    ///
    /// ```js
    /// const d = await engine.reserve(profile, "chat", { amount: 4000 }); // estimated tokens
    /// const reply = await callTheModel();
    /// await engine.settle(profile, d.reservation, reply.usage.total_tokens);
    /// ```
    #[wasm_bindgen(unchecked_return_type = "boolean | Promise<boolean>")]
    pub fn settle(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Profile")] profile: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] reservation: JsValue,
        #[wasm_bindgen(js_name = actualAmount, unchecked_param_type = "number")]
        actual_amount: JsValue,
    ) -> Result<JsValue, JsValue> {
        let (profile, token, _, now) = self.args(&profile, &reservation, &None)?;
        let actual = args::actual_amount(&actual_amount)?;
        let call = self
            .core
            .settle(&profile, &token, actual, now)
            .map_err(Failure::from)?;
        drive(&self.store, call, |outcome| {
            JsValue::from_bool(outcome == Outcome::Settled(true))
        })
    }

    /// The seed's post-hoc count (deprecated there in favour of reserve/release): adds
    /// `amount` with no limit check and returns the resulting decision (always allowed).
    ///
    /// ```js
    /// engine.increment({ id: 42 }, "remix");
    /// ```
    #[wasm_bindgen(unchecked_return_type = "Decision | Promise<Decision>")]
    pub fn increment(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Profile")] profile: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] feature: JsValue,
        options: Option<AmountOptions>,
    ) -> Result<JsValue, JsValue> {
        let (profile, feature, amount, now) = self.args(&profile, &feature, &options)?;
        let call = self
            .core
            .increment(&profile, &feature, amount.unwrap_or(1), now)
            .map_err(Failure::from)?;
        drive(&self.store, call, decision)
    }

    /// `{ feature: count }` for every configured feature in the current window.
    ///
    /// ```js
    /// engine.usage(42); // { remix: 3, tips: 0, … }
    /// ```
    #[wasm_bindgen(unchecked_return_type = "Usage | Promise<Usage>")]
    pub fn usage(
        &self,
        #[wasm_bindgen(js_name = profileId, unchecked_param_type = "ProfileId")]
        profile_id: JsValue,
    ) -> Result<JsValue, JsValue> {
        let id = args::profile_id(&profile_id)?;
        let now = args::now_ms(self.now.as_ref())?;
        let call = self.core.usage(&id, now).map_err(Failure::from)?;
        drive(&self.store, call, usage)
    }

    /// Replaces the limits from the next call on. Refused limits throw `INVALID_CONFIG` and
    /// the old limits stay.
    ///
    /// ```js
    /// engine.setLimits({ remix: 20, tips: 20 });
    /// ```
    #[wasm_bindgen(js_name = setLimits)]
    pub fn set_limits(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Limits")] limits: JsValue,
    ) -> Result<(), JsValue> {
        self.core.set_limits(args::limits(&limits)?);
        Ok(())
    }
}

impl QuotaEngine {
    fn args(
        &self,
        profile: &JsValue,
        target: &JsValue,
        options: &Option<AmountOptions>,
    ) -> Result<(core::Profile, String, Option<i64>, i64), Failure> {
        let profile = args::profile(profile)?;
        let target = args::feature(target)?;
        let amount = match options {
            Some(options) => args::amount(options)?,
            None => None,
        };
        let now = args::now_ms(self.now.as_ref())?;
        Ok((profile, target, amount, now))
    }
}

fn decision(outcome: Outcome) -> JsValue {
    match outcome.decision() {
        Some(d) => decision_js(&d),
        None => JsValue::UNDEFINED,
    }
}

fn decision_js(d: &Decision) -> JsValue {
    let feature = JsValue::from_str(&d.feature);
    if d.unlimited {
        return js::unlimited_decision(&feature);
    }
    let obj = js::decision(
        d.allowed,
        &feature,
        d.limit as f64,
        d.used as f64,
        d.remaining as f64,
        &d.resets_at(),
        d.retry_after as f64,
        d.reservation.clone(),
    );
    if d.policy_name.is_some() || d.replayed {
        let window = d.window.map_or("", |w| w.name());
        js::decorate_decision(&obj, d.policy_name.clone(), window, d.replayed);
    }
    obj
}

fn usage(outcome: Outcome) -> JsValue {
    let obj = js_sys::Object::new();
    if let Outcome::Usage(counts) = outcome {
        for (feature, n) in counts {
            js::define_field(&obj, &feature, n as f64);
        }
    }
    obj.into()
}
