//! JS arguments → core values. Everything the host hands in is checked here, before any store
//! call, so a refused call counts nothing.

use super::error::Failure;
use super::js;
use super::policies;
use crate::core::limits::MAX_SAFE_INTEGER;
use crate::core::{FaultPolicy, Limits, Profile, ProfileId, QuotaError, StringIdKeys};
use wasm_bindgen::{JsCast, JsValue};

type Result<T> = std::result::Result<T, Failure>;

/// Reads `obj[name]`; a throwing getter or proxy trap becomes `err(message)` with the thrown
/// value as cause.
pub fn field(obj: &JsValue, name: &str, err: fn(String) -> QuotaError) -> Result<JsValue> {
    js_sys::Reflect::get(obj, &JsValue::from_str(name))
        .map_err(|cause| Failure::with_cause(err(format!("reading `{name}` threw")), cause))
}

fn is_plain_object(v: &JsValue) -> bool {
    v.is_object() && !js_sys::Array::is_array(v) && !v.is_function()
}

/// A safe integer in `lo..=MAX_SAFE_INTEGER`, or `None`.
fn safe_int(v: &JsValue, lo: i64) -> Option<i64> {
    safe_f64(v.as_f64()?, lo)
}

fn safe_f64(n: f64, lo: i64) -> Option<i64> {
    (n.fract() == 0.0 && n >= lo as f64 && n <= MAX_SAFE_INTEGER as f64).then_some(n as i64)
}

fn describe(v: &JsValue) -> String {
    match v.as_f64() {
        Some(n) => js::number_text(n),
        None => js::type_name(v),
    }
}

/// `v` as a Rust string when it is a JS string; `err` when that string is not well-formed
/// UTF-16. A lone surrogate would otherwise become U+FFFD, and `"a\uD800"`, `"a\uDFFF"` and
/// `"a\uFFFD"` would name one counter (or one idempotency record).
pub fn well_formed(
    v: &JsValue,
    what: &str,
    err: fn(String) -> QuotaError,
) -> Result<Option<String>> {
    if !v.is_string() {
        return Ok(None);
    }
    if !js::is_well_formed(v) {
        return Err(err(format!(
            "{what} is not well-formed UTF-16 (a lone surrogate)"
        ))
        .into());
    }
    Ok(v.as_string())
}

/// A profile id; a string one is checked against the engine's `stringIdKeys` rules.
pub fn profile_id(v: &JsValue, string_ids: StringIdKeys) -> Result<ProfileId> {
    if let Some(s) = well_formed(v, "profile id", QuotaError::argument)? {
        return Ok(ProfileId::string(&s, string_ids)?);
    }
    match safe_int(v, 0) {
        Some(n) => Ok(ProfileId::number(n)?),
        None => Err(bad_profile_id(&describe(v))),
    }
}

/// A profile id JS has already seen to be a string.
pub fn string_profile_id(s: &str, string_ids: StringIdKeys) -> Result<ProfileId> {
    Ok(ProfileId::string(s, string_ids)?)
}

/// A profile id JS has already seen to be a number.
pub fn numeric_profile_id(n: f64) -> Result<ProfileId> {
    match safe_f64(n, 0) {
        Some(n) => Ok(ProfileId::number(n)?),
        None => Err(bad_profile_id(&js::number_text(n))),
    }
}

fn bad_profile_id(got: &str) -> Failure {
    QuotaError::argument(format!(
        "profile id must be a non-negative safe integer or a string of 1-256 characters, got {got}"
    ))
    .into()
}

/// `{ id, unlimited? }`.
pub fn profile(v: &JsValue, string_ids: StringIdKeys) -> Result<Profile> {
    if !is_plain_object(v) {
        return Err(QuotaError::argument(format!(
            "profile must be an object {{ id, unlimited? }}, got {}",
            describe(v)
        ))
        .into());
    }
    let id = profile_id(&field(v, "id", QuotaError::argument)?, string_ids)?;
    let unlimited = field(v, "unlimited", QuotaError::argument)?;
    let unlimited = match unlimited.as_bool() {
        Some(b) => b,
        None if unlimited.is_undefined() => false,
        None => return Err(QuotaError::argument("profile.unlimited must be a boolean").into()),
    };
    Ok(Profile { id, unlimited })
}

pub fn feature(v: &JsValue) -> Result<String> {
    v.as_string().ok_or_else(|| {
        QuotaError::argument(format!("feature must be a string, got {}", describe(v))).into()
    })
}

/// `{ amount? }` → the amount, if given. A name not in `names` is refused (`{ amonut: 2 }`
/// is a typo, not a no-op; `increment` takes no `idempotencyKey`).
pub fn amount(options: &JsValue, names: &[&str]) -> Result<Option<i64>> {
    if options.is_undefined() {
        return Ok(None);
    }
    if !is_plain_object(options) {
        return Err(QuotaError::argument(format!(
            "options must be an object, got {}",
            describe(options)
        ))
        .into());
    }
    let keys = js::own_keys(options)
        .map_err(|c| Failure::with_cause(QuotaError::argument("options could not be read"), c))?;
    if let Some(bad) = keys.iter().find(|k| !names.contains(&k.as_str())) {
        return Err(QuotaError::argument(format!(
            "unknown option \"{bad}\"; this method takes: {}",
            names.join(", ")
        ))
        .into());
    }
    let v = field(options, "amount", QuotaError::argument)?;
    if v.is_undefined() {
        return Ok(None);
    }
    match safe_int(&v, 1) {
        Some(n) => Ok(Some(n)),
        None => Err(QuotaError::argument(format!(
            "amount must be an integer from 1 to Number.MAX_SAFE_INTEGER, got {}",
            describe(&v)
        ))
        .into()),
    }
}

/// `{ idempotencyKey? }` of `reserve` (the options object was checked by [`amount`]).
pub fn idempotency_key(options: &JsValue) -> Result<Option<String>> {
    let v = field(options, "idempotencyKey", QuotaError::argument)?;
    if v.is_undefined() {
        return Ok(None);
    }
    well_formed(&v, "idempotencyKey", QuotaError::argument)?
        .map(Some)
        .ok_or_else(|| {
            QuotaError::argument(format!(
                "idempotencyKey must be a string, got {}",
                describe(&v)
            ))
            .into()
        })
}

/// `settle`'s actual amount: an integer from 0 (nothing was used) to MAX_SAFE_INTEGER.
pub fn actual_amount(v: &JsValue) -> Result<i64> {
    safe_int(v, 0).ok_or_else(|| {
        QuotaError::argument(format!(
            "actualAmount must be an integer from 0 to Number.MAX_SAFE_INTEGER, got {}",
            describe(v)
        ))
        .into()
    })
}

/// `{ feature: limit | policy | [policy, …], … }` (see `policies.rs`).
pub fn limits(v: &JsValue) -> Result<Limits> {
    // A Map's entries are not own keys: it would read as "no features" instead of a mistake.
    let collection = v.is_instance_of::<js_sys::Map>() || v.is_instance_of::<js_sys::Set>();
    if !is_plain_object(v) || collection {
        return Err(QuotaError::config(format!(
            "limits must be an object of feature → limit, got {}",
            describe(v)
        ))
        .into());
    }
    let keys = js::own_keys(v)
        .map_err(|c| Failure::with_cause(QuotaError::config("limits could not be read"), c))?;
    let mut limits = Limits::default();
    for feature in keys {
        let value = field(v, &feature, QuotaError::config)?;
        limits.insert(&feature, policies::feature_policies(&feature, &value)?)?;
    }
    Ok(limits)
}

/// The host clock's answer as whole milliseconds.
pub fn now_ms(clock: Option<&js_sys::Function>) -> Result<i64> {
    let Some(clock) = clock else {
        return Ok(js_sys::Date::now() as i64);
    };
    let v = clock
        .call0(&JsValue::UNDEFINED)
        .map_err(|c| Failure::with_cause(QuotaError::config("the `now` clock threw"), c))?;
    match v.as_f64() {
        Some(ms) => clock_reading(ms),
        None => Err(bad_clock(&describe(&v))),
    }
}

/// A number the clock returned (JS read it on the fast path), as whole milliseconds.
pub fn clock_reading(ms: f64) -> Result<i64> {
    if ms.is_finite() {
        Ok(ms.floor() as i64)
    } else {
        Err(bad_clock(&js::number_text(ms)))
    }
}

fn bad_clock(got: &str) -> Failure {
    QuotaError::config(format!(
        "the `now` clock returned {got}, expected ms since the epoch"
    ))
    .into()
}

/// Options object of the constructor: refuses names it does not know, so a typo is loud.
pub struct EngineOptions {
    pub store: JsValue,
    pub limits: Limits,
    pub enabled: bool,
    pub key_prefix: Option<String>,
    pub string_id_keys: StringIdKeys,
    pub now: Option<js_sys::Function>,
    pub on_store_error: FaultPolicy,
    pub store_timeout_ms: Option<u32>,
    pub token_secret: Option<String>,
}

const OPTION_NAMES: [&str; 9] = [
    "store",
    "limits",
    "enabled",
    "keyPrefix",
    "stringIdKeys",
    "now",
    "onStoreError",
    "storeTimeoutMs",
    "tokenSecret",
];

/// setTimeout's largest delay; a larger one fires at once in browsers and Node.
const MAX_TIMEOUT_MS: u32 = 2_147_483_647;

pub fn engine_options(v: &JsValue) -> Result<EngineOptions> {
    if !is_plain_object(v) {
        return Err(
            QuotaError::config("QuotaEngine needs an options object { store, limits, … }").into(),
        );
    }
    let keys = js::own_keys(v)
        .map_err(|c| Failure::with_cause(QuotaError::config("options could not be read"), c))?;
    if let Some(bad) = keys.iter().find(|k| !OPTION_NAMES.contains(&k.as_str())) {
        return Err(QuotaError::config(format!(
            "unknown option \"{bad}\"; known: {}",
            OPTION_NAMES.join(", ")
        ))
        .into());
    }
    let store = field(v, "store", QuotaError::config)?;
    for method in ["get", "incr", "add", "set"] {
        let ok = store.is_object() && field(&store, method, QuotaError::config)?.is_function();
        if !ok {
            return Err(QuotaError::config(format!(
                "store must have a {method}() method (see QuotaStore)"
            ))
            .into());
        }
    }
    let limits = limits(&field(v, "limits", QuotaError::config)?)?;
    let enabled = field(v, "enabled", QuotaError::config)?;
    let enabled = match enabled.as_bool() {
        Some(b) => b,
        None if enabled.is_undefined() => true,
        None => return Err(QuotaError::config("enabled must be a boolean").into()),
    };
    let prefix = field(v, "keyPrefix", QuotaError::config)?;
    let key_prefix = match well_formed(&prefix, "keyPrefix", QuotaError::config)? {
        Some(s) => Some(s),
        None if prefix.is_undefined() => None,
        None => return Err(QuotaError::config("keyPrefix must be a string").into()),
    };
    let string_ids = field(v, "stringIdKeys", QuotaError::config)?;
    let string_id_keys = match string_ids.as_string() {
        Some(s) => StringIdKeys::parse(&s),
        None if string_ids.is_undefined() => Some(StringIdKeys::Escaped),
        None => None,
    }
    .ok_or_else(|| QuotaError::config("stringIdKeys must be \"escaped\" or \"raw\""))?;
    let now = field(v, "now", QuotaError::config)?;
    let now = match now.dyn_into::<js_sys::Function>() {
        Ok(f) => Some(f),
        Err(v) if v.is_undefined() => None,
        Err(_) => {
            return Err(
                QuotaError::config("now must be a function returning ms since the epoch").into(),
            )
        }
    };
    let on_store_error = field(v, "onStoreError", QuotaError::config)?;
    let on_store_error = match on_store_error.as_string() {
        Some(s) => FaultPolicy::parse(&s),
        None if on_store_error.is_undefined() => Some(FaultPolicy::Throw),
        None => None,
    }
    .ok_or_else(|| QuotaError::config("onStoreError must be \"throw\", \"deny\" or \"allow\""))?;
    let timeout = field(v, "storeTimeoutMs", QuotaError::config)?;
    let store_timeout_ms = match safe_int(&timeout, 1) {
        Some(ms) if ms <= MAX_TIMEOUT_MS as i64 => Some(ms as u32),
        _ if timeout.is_undefined() => None,
        _ => {
            return Err(QuotaError::config(format!(
                "storeTimeoutMs must be an integer from 1 to {MAX_TIMEOUT_MS}, got {}",
                describe(&timeout)
            ))
            .into())
        }
    };
    let secret = field(v, "tokenSecret", QuotaError::config)?;
    let token_secret = match well_formed(&secret, "tokenSecret", QuotaError::config)? {
        Some(s) => Some(s),
        None if secret.is_undefined() => None,
        None => {
            return Err(QuotaError::config(format!(
                "tokenSecret must be a string of at least 16 characters, got {}",
                describe(&secret)
            ))
            .into())
        }
    };
    Ok(EngineOptions {
        store,
        limits,
        enabled,
        key_prefix,
        string_id_keys,
        now,
        on_store_error,
        store_timeout_ms,
        token_secret,
    })
}
