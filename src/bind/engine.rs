//! `QuotaCore`, the WASM half of `QuotaEngine` (the JS half is `pkg-template/engine.js`).
//!
//! The boundary is designed for speed: JS drives each call's store operations itself, so a
//! store method is an ordinary JS call (sync or async) and nothing is awaited in Rust. Every
//! crossing carries numbers: a call starts and advances with a status code, and the details —
//! the operation, its key's number, a decision's figures — are left in [`Out`], a few `f64`s in
//! WASM memory that JS reads through a `Float64Array`. A key's text is decoded by JS from WASM
//! memory once per key (JS caches it by number; no call, copy or allocation for it), and JS
//! builds the decision object itself.

use super::args;
use super::error::Failure;
use super::ids::IdHandles;
use super::js;
use super::memory::{self, MemoryCounters, SharedCounters};
use super::policies;
use super::store::{self, Fault};
use super::zones::IntlZones;
use crate::core::calls::{Finished, Machine, Next};
use crate::core::direct::{Counting, Figures};
use crate::core::engine::FeatureRef;
use crate::core::reservation::{self, CounterTag, MacStart, MAX_TOKEN_LEN};
use crate::core::{
    self, CountingOps, KeyRef, QuotaError, StoreOp, StoreReply, StringIdKeys, NO_KEY_ID,
};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `{ amount? }`, optional on every counting method.
    #[wasm_bindgen(typescript_type = "AmountOptions")]
    pub type AmountOptions;
}

/// What a call did last, returned (as a number) by every stepping method; `engine.js`
/// imports it.
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum Status {
    /// Run this store operation, as [`OpSlot`] says. Answer with `resume`, `resumeWith` or
    /// `fail`.
    Get = 0,
    Incr = 1,
    Add = 2,
    Set = 3,
    IncrOrCreate = 4,
    IncrOrCreateWithin = 5,
    /// A decision, its figures in [`DecisionSlot`]s.
    Decision = 6,
    /// `{ allowed: true, unlimited: true, feature }`.
    Unlimited = 7,
    /// `release` finished.
    Released = 8,
    /// The result is a JS value: `take()` it (usage, degraded decision).
    Value = 9,
    /// The call failed: `take()` the `QuotaError` and throw it.
    Error = 10,
    /// The store answered with a thenable: await it, then `resumeWith(call, value, true)`.
    Pending = 11,
}

/// Where a store operation's details are in the shared number buffer (`outPtr`).
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum OpSlot {
    /// The call's number, for `resume` / `resumeWith` / `fail`.
    Call = 0,
    /// The key's number (-1: none, read the key's text every time).
    Key = 1,
    /// The delta (`incr`, `incrOrCreate`, `incrOrCreateWithin`) or value (`add`, `set`).
    Value = 2,
    /// The TTL in seconds (`add`, `set`, `incrOrCreate`, `incrOrCreateWithin`).
    Ttl = 3,
    /// Where the key's text is in WASM memory (UTF-8), and its length in bytes: JS decodes
    /// it in place when it has no copy under the key's number. The text belongs to the call,
    /// which outlives the step; JS reads it before calling into WASM again.
    KeyAt = 4,
    KeyLength = 5,
    /// The limit (`incrOrCreateWithin`).
    Limit = 6,
}

/// Where a decision's figures are in the shared number buffer (`outPtr`).
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum DecisionSlot {
    /// 1 when allowed, else 0.
    Allowed = 1,
    Limit = 2,
    Used = 3,
    Remaining = 4,
    /// The reset instant, ms.
    ResetsAt = 5,
    /// Seconds; -1: never (the amount is over the whole limit).
    RetryAfter = 6,
    /// Where the reservation's token text is in WASM memory (UTF-8, in fact ASCII), and its
    /// length in bytes: 0 when the decision carries no reservation.
    TokenAt = 7,
    TokenLength = 8,
    /// The position of the policy the decision describes when that policy is named in
    /// decisions (given as an object), else -1.
    Policy = 9,
    /// 1 for an idempotent replay.
    Replayed = 10,
    /// The number of slots.
    End = 11,
}

/// Slots of the shared number buffer.
const OUT_LEN: usize = DecisionSlot::End as usize;
type Out = [f64; OUT_LEN];

/// How JS classified a plain store answer (`resume`'s `kind`).
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum Reply {
    /// A number (from `get`, `incr`, `incrOrCreate`).
    Count = 0,
    /// `null` or `undefined` (from `get`, `incr`).
    Absent = 1,
    /// A boolean from `add` (`value` 1 or 0).
    Added = 2,
    /// `set` finished.
    Done = 3,
}

/// Which method a call is (`start`'s `kind`).
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum CallKind {
    Check = 0,
    Reserve = 1,
    Increment = 2,
    Release = 3,
}

const REPLY_COUNT: u32 = Reply::Count as u32;
const REPLY_ABSENT: u32 = Reply::Absent as u32;
const REPLY_ADDED: u32 = Reply::Added as u32;
const REPLY_DONE: u32 = Reply::Done as u32;
const CHECK: u32 = CallKind::Check as u32;
const RESERVE: u32 = CallKind::Reserve as u32;
const INCREMENT: u32 = CallKind::Increment as u32;
const RELEASE: u32 = CallKind::Release as u32;

/// A place for one call: its machine, kept and reused by the calls that come after it (no
/// allocation per call once warm), and the store operation it waits on while `busy`.
struct Slot {
    machine: Machine,
    op: StoreOp,
    busy: bool,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            machine: Machine::default(),
            op: StoreOp::Get {
                key: KeyRef::Policy(0),
            },
            busy: false,
        }
    }
}

/// An interned id's handle and its MAC state (`IdHandles`), for `count`; `(None, &mut None)`
/// for an id passed as a number or as text.
type ByHandle<'a> = (Option<u64>, &'a mut Option<MacStart>);

/// What a call of `count` is.
fn counting(kind: u32) -> Counting {
    match kind {
        CHECK => Counting::Check,
        RESERVE => Counting::Reserve,
        _ => Counting::Increment,
    }
}

/// Per-profile, per-feature quotas over a store the host supplies (see `engine.js`).
#[wasm_bindgen(js_name = QuotaCore)]
pub struct QuotaCore {
    core: core::Engine,
    /// The validated store and clock until `engine.js` takes them: kept here they would sit in
    /// the externref table, a GC root, and an engine whose store or clock refers back to it
    /// could never be collected. Calls get the clock as an argument instead.
    store: JsValue,
    /// How string profile ids become keys; every id is checked against it as it is read.
    string_ids: StringIdKeys,
    now: Option<js_sys::Function>,
    timeout_ms: Option<u32>,
    /// Calls by number: those `busy` wait for a store answer; `free` lists the others.
    calls: Vec<Slot>,
    free: Vec<u32>,
    out: Box<Out>,
    /// String ids JS has interned, by handle.
    ids: IdHandles,
    /// The result or error a `Value` / `Error` status refers to.
    taken: JsValue,
    /// The counters of the package's `MemoryStore`, when that is the store: every call then
    /// runs to its end inside WASM (see `attach_memory`).
    memory: Option<SharedCounters>,
    /// That store's clock when it is not the engine's own (read once per call).
    memory_clock: Option<js_sys::Function>,
    /// The engine clock's reading for the call being started.
    call_now: Cell<i64>,
    /// The token text of the last admitted reservation (`DecisionSlot::TokenAt`): written by
    /// `reservation::write_token`, the one place that spells a token, and decoded by JS in
    /// place. Measured against JS building it from numbers: no slower (README, Performance).
    token: Vec<u8>,
}

#[wasm_bindgen(js_class = QuotaCore)]
impl QuotaCore {
    /// Validates every option; throws `QuotaError` with code `INVALID_CONFIG` when one is wrong.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<QuotaCore, JsValue> {
        let o = args::engine_options(&options)?;
        let counting = store_counting(&o.store)?;
        let mut core = core::Engine::new(o.limits)
            .with_counting(counting)
            .with_enabled(o.enabled)
            .with_fault_policy(o.on_store_error)
            .with_time_zones(Rc::new(IntlZones))
            .with_entropy(random_u64);
        if let Some(prefix) = o.key_prefix {
            core = core.with_key_prefix(&prefix).map_err(Failure::from)?;
        }
        if let Some(secret) = o.token_secret {
            core = core.with_token_secret(&secret).map_err(Failure::from)?;
        }
        Ok(QuotaCore {
            core,
            store: o.store,
            string_ids: o.string_id_keys,
            now: o.now,
            timeout_ms: o.store_timeout_ms,
            calls: Vec::new(),
            free: Vec::new(),
            out: Box::new([0.0; OUT_LEN]),
            taken: JsValue::UNDEFINED,
            ids: IdHandles::default(),
            memory: None,
            memory_clock: None,
            call_now: Cell::new(0),
            token: Vec::with_capacity(MAX_TOKEN_LEN),
        })
    }

    /// The store is the package's `MemoryStore` over `counters`: from now on each call runs
    /// over them inside WASM and returns its result (never a store operation). `clock` is the
    /// store's clock when it is not the engine's (`undefined` when it is).
    #[wasm_bindgen(js_name = attachMemory)]
    pub fn attach_memory(&mut self, counters: &MemoryCounters, clock: Option<js_sys::Function>) {
        // Its counters have both upserts natively (`Counters::incr_or_create_within`).
        self.core.set_counting(CountingOps::IncrOrCreateWithin);
        self.memory = Some(counters.shared());
        self.memory_clock = clock;
    }

    /// Hands the validated store to `engine.js`, once; nothing of it stays here.
    #[wasm_bindgen(js_name = takeStore)]
    pub fn take_store(&mut self) -> JsValue {
        std::mem::replace(&mut self.store, JsValue::UNDEFINED)
    }
    /// Hands the validated clock to `engine.js`, once.
    #[wasm_bindgen(js_name = takeClock)]
    pub fn take_clock(&mut self) -> Option<js_sys::Function> {
        self.now.take()
    }
    #[wasm_bindgen(getter, js_name = timeoutMs)]
    pub fn timeout_ms(&self) -> Option<u32> {
        self.timeout_ms
    }

    /// Address of the shared number buffer (`Out`) in WASM memory.
    #[wasm_bindgen(js_name = outPtr)]
    pub fn out_ptr(&self) -> usize {
        self.out.as_ptr() as usize
    }

    /// The configured feature names; a feature's position is what `count` takes.
    pub fn features(&self) -> Vec<String> {
        self.core
            .limits()
            .features()
            .map(|(f, _)| f.to_owned())
            .collect()
    }

    /// Starts `check` / `reserve` / `increment` / `release` from the caller's raw arguments,
    /// validating each exactly as documented.
    pub fn start(
        &mut self,
        kind: u32,
        profile: JsValue,
        target: JsValue,
        options: Option<AmountOptions>,
        clock: Option<js_sys::Function>,
    ) -> i32 {
        let options = options.map(|o| (JsValue::from(o), kind == RESERVE));
        let what = match kind {
            RELEASE => "reservation or feature",
            _ => "feature",
        };
        let parsed = self.parse(
            &profile,
            (&target, what),
            options.as_ref().map(|(o, k)| (o, *k)),
            clock,
        );
        self.begin(|core, m| {
            let (profile, target, options, now) = parsed?;
            let (amount, key) = (options.amount, options.idempotency_key.as_deref());
            let feature = FeatureRef::Name(&target);
            let call = |kind, key| (kind, &profile, amount.unwrap_or(1), key);
            match kind {
                CHECK => core.load_count(m, call(Counting::Check, None), feature, now),
                RESERVE => core.load_count(m, call(Counting::Reserve, key), feature, now),
                INCREMENT => core.load_count(m, call(Counting::Increment, None), feature, now),
                RELEASE => core.load_release(m, &profile, &target, amount, now),
                _ => return Err(store::lost_call()),
            }
            .map_err(Failure::from)
        })
    }

    /// Starts `settle(profile, reservation, actualAmount)`.
    #[wasm_bindgen(js_name = startSettle)]
    pub fn start_settle(
        &mut self,
        profile: JsValue,
        reservation: JsValue,
        actual: JsValue,
        clock: Option<js_sys::Function>,
    ) -> i32 {
        let reservation = (
            &reservation,
            "reservation (a decision's `reservation` token)",
        );
        let parsed = self.parse(&profile, reservation, None, clock);
        self.begin(|core, m| {
            let (profile, token, _, now) = parsed?;
            let actual = args::actual_amount(&actual)?;
            Ok(core.load_settle(m, &profile, &token, actual, now)?)
        })
    }

    /// `check` / `reserve` / `increment` with the arguments JS has read — the profile id as a
    /// number `id`, as the handle `id` of a string id JS interned (`by_handle`, see
    /// `intern_id`), or as a string `text_id`; `unlimited`, the feature's position, a safe
    /// integer `amount` ≥ 1, an idempotency key (`reserve` only) and the clock's reading —
    /// validated as `start` validates them. Every call shape takes this entry; `start` takes
    /// what JS could not read plainly (and reports its error). Over the package's
    /// `MemoryStore` the call runs to its end inside WASM.
    ///
    /// ```js
    /// const status = core.count(CallKind.Reserve, 42, undefined, false, false, 0, 1, undefined, Date.now());
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn count(
        &mut self,
        kind: u32,
        id: f64,
        text_id: Option<String>,
        by_handle: bool,
        unlimited: bool,
        feature: u32,
        amount: f64,
        idempotency_key: Option<String>,
        now: f64,
    ) -> i32 {
        // An interned id is moved out of its table for the call and back (no copy).
        let handle = (by_handle && text_id.is_none())
            .then(|| self.ids.index(id))
            .flatten();
        let mut mac_start = None;
        let id = match (&text_id, handle) {
            (Some(s), _) => args::string_profile_id(s, self.string_ids),
            (None, Some(i)) => {
                let (id, start) = self.ids.take(i);
                mac_start = start;
                Ok(id)
            }
            (None, None) if by_handle => Err(store::lost_call()),
            (None, None) => args::numeric_profile_id(id),
        };
        let profile = match id {
            Ok(id) => core::Profile { id, unlimited },
            Err(f) => return self.error(f),
        };
        // The key table finds the id's keys by its handle: the one of the slot it came from.
        let interned = (handle.map(|i| self.ids.handle(i)), &mut mac_start);
        let status = match args::clock_reading(now) {
            Ok(now) => {
                let call = (kind, &profile, interned);
                self.count_for(call, feature, amount as i64, idempotency_key, now)
            }
            Err(f) => self.error(f),
        };
        if let Some(i) = handle {
            self.ids.put_back(i, (profile.id, mac_start));
        }
        status
    }

    /// Interns the string profile id `text` (well-formed UTF-16, checked by JS) for `count`:
    /// its handle, a number no other id of this engine ever gets; -1 when the id is refused
    /// (`start` then reports why) or no slot is free (JS empties one first: `evictId`).
    ///
    /// ```js
    /// const handle = core.internId("3f0c…"); // then core.count(kind, handle, undefined, true, …)
    /// ```
    #[wasm_bindgen(js_name = internId)]
    pub fn intern_id(&mut self, text: &str) -> f64 {
        match args::string_profile_id(text, self.string_ids) {
            Ok(id) => self.ids.intern(id).unwrap_or(-1.0),
            Err(_) => -1.0,
        }
    }

    /// Empties the slot of an interned id that no call used lately (see `ids.rs`) and returns
    /// it, so that JS drops that id from its map; -1 when no id is held.
    ///
    /// ```js
    /// const slot = core.evictId(); // the id in `slot` has no handle from now on
    /// ```
    #[wasm_bindgen(js_name = evictId)]
    pub fn evict_id(&mut self) -> i32 {
        self.ids.evict().map_or(-1, |slot| slot as i32)
    }

    /// Per configured feature, in order: its policies as `[name, window]`, so that JS names
    /// the policy a decision describes (`out[11]`).
    pub fn policies(&self) -> js_sys::Array {
        self.core
            .limits()
            .features()
            .map(|(_, policies)| {
                policies
                    .iter()
                    .map(|p| js_sys::Array::of2(&p.name.as_str().into(), &p.window.name().into()))
                    .collect::<js_sys::Array>()
            })
            .collect()
    }

    /// Starts `usage(profileId)`.
    #[wasm_bindgen(js_name = startUsage)]
    pub fn start_usage(&mut self, profile_id: JsValue, clock: Option<js_sys::Function>) -> i32 {
        let read = args::profile_id(&profile_id, self.string_ids).and_then(|id| {
            let now = args::now_ms(clock.as_ref())?;
            self.call_now.set(now);
            Ok((id, now))
        });
        self.begin(|core, m| {
            let (id, now) = read?;
            Ok(core.load_usage(m, &id, now)?)
        })
    }

    /// Feeds a plain store answer JS has classified (`kind`, `value`) to call `id`.
    pub fn resume(&mut self, id: u32, kind: u32, value: f64) -> i32 {
        let Some(slot) = self.running(id) else {
            return self.error(store::lost_call());
        };
        let reply = match kind {
            REPLY_COUNT => match store::count(slot.machine.key(slot.op.key()), value) {
                Ok(n) => StoreReply::Count(Some(n)),
                Err(f) => return self.abandon(id, f),
            },
            REPLY_ABSENT => StoreReply::Count(None),
            REPLY_ADDED => StoreReply::Added(value != 0.0),
            REPLY_DONE => StoreReply::Done,
            _ => return self.abandon(id, store::lost_call()),
        };
        self.advance(id, Some(reply))
    }

    /// Feeds any other store answer (`settled`: it is what a thenable resolved to).
    #[wasm_bindgen(js_name = resumeWith)]
    pub fn resume_with(&mut self, id: u32, raw: JsValue, settled: bool) -> i32 {
        let Some(slot) = self.running(id) else {
            return self.error(store::lost_call());
        };
        match store::interpret(&slot.machine, slot.op, &raw, settled) {
            Ok(Some(reply)) => self.advance(id, Some(reply)),
            Ok(None) => Status::Pending as i32,
            Err(f) => self.abandon(id, f),
        }
    }

    /// The store method threw, rejected or timed out (`cause`): the fault policy decides.
    pub fn fail(&mut self, id: u32, cause: JsValue) -> i32 {
        let Some(slot) = self.calls.get_mut(id as usize).filter(|s| s.busy) else {
            return self.error(store::lost_call());
        };
        slot.busy = false;
        let fault = store::fault(&mut slot.machine, slot.op, cause);
        self.free.push(id);
        match fault {
            Fault::Finished(finished) => self.finish(finished, id),
            Fault::Value(v) => self.value(v),
            Fault::Error(f) => self.error(f),
        }
    }

    /// The JS value behind the last `Value` or `Error` status.
    pub fn take(&mut self) -> JsValue {
        std::mem::replace(&mut self.taken, JsValue::UNDEFINED)
    }

    /// `resetsAt` for a reset instant: RFC 3339 UTC (JS caches it per instant).
    pub fn rfc3339(ms: f64) -> String {
        core::window::rfc3339_utc(ms as i64)
    }

    /// Replaces the limits from the next call on. Refused limits throw `INVALID_CONFIG` and
    /// the old limits stay.
    #[wasm_bindgen(js_name = setLimits)]
    pub fn set_limits(&mut self, limits: JsValue) -> Result<(), JsValue> {
        self.core.set_limits(policies::limits(&limits)?);
        Ok(())
    }
}

/// How the engine counts over `store`, decided once: with its `incrOrCreate` when it has one
/// (optional in the store contract) and a reserve with its `incrOrCreateWithin` when it has
/// that too, else with `incr` → `add` → `incr` → `set`.
fn store_counting(store: &JsValue) -> Result<CountingOps, Failure> {
    let method = |name: &str| -> Result<bool, Failure> {
        let m = args::field(store, name, QuotaError::config)?;
        if m.is_function() || m.is_undefined() {
            return Ok(m.is_function());
        }
        let msg = format!("store.{name} must be a method when present (see QuotaStore)");
        Err(QuotaError::config(msg).into())
    };
    match (method("incrOrCreate")?, method("incrOrCreateWithin")?) {
        (true, true) => Ok(CountingOps::IncrOrCreateWithin),
        (true, false) => Ok(CountingOps::IncrOrCreate),
        (false, false) => Ok(CountingOps::IncrAddSet),
        // Increments and settles count past limits: they need the plain upsert.
        (false, true) => Err(QuotaError::config(
            "store.incrOrCreateWithin needs store.incrOrCreate too (see QuotaStore)",
        )
        .into()),
    }
}

/// 64 bits from `crypto.getRandomValues`, drawn by the core on first use (never while a
/// module loads: workerd forbids it there).
fn random_u64() -> u64 {
    (js::random_word() as u64) << 32 | js::random_word() as u64
}

/// A decision's figures into `out`, and its token's text into `token` (see
/// [`Status::Decision`]); the reservation was counted in `counted`.
fn write_figures(
    out: &mut Out,
    token: &mut Vec<u8>,
    f: &Figures,
    (feature, counted): (&str, impl IntoIterator<Item = CounterTag>),
) -> i32 {
    if f.unlimited {
        return Status::Unlimited as i32;
    }
    match f.reservation {
        Some(fields) => reservation::write_token(token, feature, counted, fields),
        None => token.clear(),
    }
    use DecisionSlot as D;
    let slots = [
        (D::Allowed, f64::from(u8::from(f.allowed))),
        (D::Limit, f.limit as f64),
        (D::Used, f.used as f64),
        (D::Remaining, f.remaining as f64),
        (D::ResetsAt, f.resets_at_ms as f64),
        (D::RetryAfter, f.retry_after.map_or(-1.0, |s| s as f64)),
        (D::TokenAt, token.as_ptr() as usize as f64),
        (D::TokenLength, token.len() as f64),
        (D::Policy, if f.named { f.policy as f64 } else { -1.0 }),
        (D::Replayed, 0.0),
    ];
    for (slot, value) in slots {
        out[slot as usize] = value;
    }
    Status::Decision as i32
}

/// The module's memory, where `outPtr` points.
#[wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}

impl QuotaCore {
    fn parse(
        &self,
        profile: &JsValue,
        (target, what): (&JsValue, &str),
        options: Option<(&JsValue, bool)>,
        clock: Option<js_sys::Function>,
    ) -> Result<(core::Profile, String, args::MethodOptions, i64), Failure> {
        let profile = args::profile(profile, self.string_ids)?;
        let target = args::target(target, what)?;
        let options = match options {
            Some((options, takes_key)) => args::method_options(options, takes_key)?,
            None => args::MethodOptions::default(),
        };
        let now = args::now_ms(clock.as_ref())?;
        self.call_now.set(now);
        Ok((profile, target, options, now))
    }

    /// `count` once its arguments are read.
    fn count_for(
        &mut self,
        (kind, profile, interned): (u32, &core::Profile, ByHandle),
        feature: u32,
        amount: i64, // a safe integer ≥ 1 (engine.js checks)
        idempotency_key: Option<String>,
        now: i64,
    ) -> i32 {
        self.call_now.set(now);
        if let (Some(counters), None, None) = (&self.memory, &self.memory_clock, &idempotency_key) {
            let counters = Rc::clone(counters);
            let call = (kind, profile, (interned.0, &mut *interned.1));
            if let Some(status) = self.count_in_memory(call, feature, amount, &counters) {
                return status;
            }
        }
        let call = (counting(kind), profile, amount, idempotency_key.as_deref());
        let feature = FeatureRef::Index(feature as usize);
        self.begin(|core, m| Ok(core.load_count_by_handle(m, call, interned, feature, now)?))
    }

    /// `count` straight over the `MemoryStore`'s counters (`Engine::count_directly`): no
    /// call is built. `None` when the feature has more policies than that path holds.
    fn count_in_memory(
        &mut self,
        (kind, profile, interned): (u32, &core::Profile, ByHandle),
        feature: u32,
        amount: i64,
        counters: &SharedCounters,
    ) -> Option<i32> {
        let now = self.call_now.get();
        let counting = match kind {
            CHECK => Counting::Check,
            RESERVE => Counting::Reserve,
            _ => Counting::Increment,
        };
        let figures = self.core.count_directly_by_handle(
            counting,
            (profile, interned),
            feature as usize,
            amount,
            now,
            &mut counters.borrow_mut().at(now as f64, js::number_text),
        );
        match figures {
            Ok(Some(f)) => {
                let feature = self.core.limits().features().nth(feature as usize);
                let (name, policies) = feature.unwrap_or(("", &[]));
                let counted = policies.iter().map(|p| p.counter_tag);
                Some(write_figures(
                    &mut self.out,
                    &mut self.token,
                    &f,
                    (name, counted),
                ))
            }
            Err(e) => Some(self.error(e.into())),
            Ok(None) => None,
        }
    }

    /// Loads a free slot's machine with `load` and runs it: to its end over the
    /// `MemoryStore`'s counters, else up to its first store operation.
    fn begin(
        &mut self,
        load: impl FnOnce(&core::Engine, &mut Machine) -> Result<(), Failure>,
    ) -> i32 {
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.calls.push(Slot::default());
                (self.calls.len() - 1) as u32
            }
        };
        let slot = &mut self.calls[id as usize];
        if let Err(f) = load(&self.core, &mut slot.machine) {
            self.free.push(id);
            return self.error(f);
        }
        if let Some(counters) = &self.memory {
            let counters = Rc::clone(counters);
            let status = self.run_over_memory(id, &counters);
            self.free.push(id);
            return status;
        }
        slot.busy = true;
        self.advance(id, None)
    }

    /// Runs call `id` to its end over the `MemoryStore`'s counters, at the store clock's
    /// reading.
    fn run_over_memory(&mut self, id: u32, counters: &SharedCounters) -> i32 {
        let machine = &mut self.calls[id as usize].machine;
        let now = match &self.memory_clock {
            None => self.call_now.get() as f64,
            Some(clock) => match clock.call0(&JsValue::UNDEFINED) {
                Ok(v) => match memory::clock_reading(&v) {
                    Ok(ms) => ms,
                    Err(f) => return self.error(f),
                },
                Err(cause) => {
                    let error = core::QuotaError::store("MemoryStore's clock threw");
                    return match store::fault_of(machine, error, cause) {
                        Fault::Finished(finished) => self.finish(finished, id),
                        Fault::Value(v) => self.value(v),
                        Fault::Error(f) => self.error(f),
                    };
                }
            },
        };
        let finished = machine.run(&mut counters.borrow_mut().at(now, js::number_text));
        match finished {
            Ok(finished) => self.finish(finished, id),
            Err(e) => self.error(e.into()),
        }
    }

    fn running(&self, id: u32) -> Option<&Slot> {
        self.calls.get(id as usize).filter(|s| s.busy)
    }

    fn advance(&mut self, id: u32, reply: Option<StoreReply>) -> i32 {
        let Some(slot) = self.calls.get_mut(id as usize).filter(|s| s.busy) else {
            return self.error(store::lost_call());
        };
        match slot.machine.resume(reply) {
            Next::Op(op) => {
                slot.op = op;
                let key = slot.machine.key_id(op.key());
                let text = slot.machine.key(op.key());
                let (status, a, b, limit) = match op {
                    StoreOp::Get { .. } => (Status::Get, 0, 0, 0),
                    StoreOp::Incr { delta, .. } => (Status::Incr, delta, 0, 0),
                    StoreOp::Add {
                        value, ttl_secs, ..
                    } => (Status::Add, value, ttl_secs, 0),
                    StoreOp::Set {
                        value, ttl_secs, ..
                    } => (Status::Set, value, ttl_secs, 0),
                    StoreOp::IncrOrCreate {
                        delta, ttl_secs, ..
                    } => (Status::IncrOrCreate, delta, ttl_secs, 0),
                    StoreOp::IncrOrCreateWithin {
                        delta,
                        ttl_secs,
                        limit,
                        ..
                    } => (Status::IncrOrCreateWithin, delta, ttl_secs, limit),
                };
                let out = &mut self.out;
                out[OpSlot::Call as usize] = id as f64;
                out[OpSlot::Key as usize] = if key == NO_KEY_ID { -1.0 } else { key as f64 };
                out[OpSlot::Value as usize] = a as f64;
                out[OpSlot::Ttl as usize] = b as f64;
                out[OpSlot::KeyAt as usize] = text.as_ptr() as usize as f64;
                out[OpSlot::KeyLength as usize] = text.len() as f64;
                out[OpSlot::Limit as usize] = limit as f64;
                status as i32
            }
            Next::Done(result) => {
                slot.busy = false;
                self.free.push(id);
                match result {
                    Ok(finished) => self.finish(finished, id),
                    Err(e) => self.error(e.into()),
                }
            }
        }
    }

    /// Ends call `id` with a failure that bypasses the fault policy (a store that answered
    /// nonsense is not a store that is down).
    fn abandon(&mut self, id: u32, f: Failure) -> i32 {
        if let Some(slot) = self.calls.get_mut(id as usize).filter(|s| s.busy) {
            slot.busy = false;
            self.free.push(id);
        }
        self.error(f)
    }

    /// How call `id` ended, as a status (and `out` or `taken`).
    fn finish(&mut self, finished: Finished, id: u32) -> i32 {
        match finished {
            Finished::Decision { figures, replayed } => {
                let m = &self.calls[id as usize].machine;
                let made = (m.feature(), m.counted_in());
                let status = write_figures(&mut self.out, &mut self.token, &figures, made);
                self.out[DecisionSlot::Replayed as usize] = f64::from(u8::from(replayed));
                status
            }
            Finished::Unlimited => Status::Unlimited as i32,
            Finished::Released => Status::Released as i32,
            Finished::Settled(done) => self.value(JsValue::from_bool(done)),
            Finished::Usage(counts) => {
                let obj = js_sys::Object::new();
                for (feature, n) in counts {
                    js::define_field(&obj, &feature, n as f64);
                }
                self.value(obj.into())
            }
            Finished::Degraded { allowed, error } => {
                let feature = JsValue::from_str(self.calls[id as usize].machine.feature());
                let v = js::degraded_decision(allowed, &feature, Failure::from(error).into_js());
                self.value(v)
            }
        }
    }

    fn value(&mut self, v: JsValue) -> i32 {
        self.taken = v;
        Status::Value as i32
    }

    fn error(&mut self, f: Failure) -> i32 {
        self.taken = f.into_js();
        Status::Error as i32
    }
}
