//! JS arguments → core values. Everything the host hands in is checked here, before any store
//! call, so a refused call counts nothing.

use super::config::{self, Given, Object, Whole};
use super::error::Failure;
use super::js::{self, describe};
use super::policies;
use crate::core::limits::{safe_integer, MAX_SAFE_INTEGER};
use crate::core::{FaultPolicy, Limits, Profile, ProfileId, QuotaError, StringIdKeys};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;
use wasm_bindgen::prelude::wasm_bindgen;
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

/// A safe integer of at least `lo`, or `None`.
fn safe_int(v: &JsValue, lo: i64) -> Option<i64> {
    safe_f64(v.as_f64()?, lo)
}

fn safe_f64(n: f64, lo: i64) -> Option<i64> {
    safe_integer(n).filter(|&n| n >= lo)
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

/// The name of a profile's Durable Object (`quotaObjectName` in `cloudflare/rpc.js`): the id
/// checked by the engine's own rule, a number as its digits, a string as `~` + the string.
///
/// ```js
/// env.QUOTA.idFromName(profileObjectName(42)); // "42"; "ab" → "~ab"; -1 throws INVALID_ARGUMENT
/// ```
#[wasm_bindgen(js_name = profileObjectName)]
pub fn profile_object_name(id: JsValue) -> std::result::Result<String, JsValue> {
    Ok(match profile_id(&id, StringIdKeys::Escaped)? {
        ProfileId::Number(n) => n.to_string(),
        ProfileId::Text(s) | ProfileId::Raw(s) => format!("~{s}"),
    })
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

/// A call's string argument after the profile: a feature name, or a reservation token for
/// `settle` and `release`. `what` names it in the error, so that `settle(profile, undefined)`
/// (an unlimited profile's decision carries no token) does not say "feature".
pub fn target(v: &JsValue, what: &str) -> Result<String> {
    v.as_string().ok_or_else(|| {
        QuotaError::argument(format!("{what} must be a string, got {}", describe(v))).into()
    })
}

/// A counting method's options, read with serde: `{ amount?, idempotencyKey? }` for `reserve`,
/// `{ amount? }` for the others (so `increment(…, { idempotencyKey })` is refused, not ignored).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MethodOptions {
    #[serde(default, deserialize_with = "amount")]
    pub amount: Option<i64>,
    #[serde(default, deserialize_with = "idempotency_key")]
    pub idempotency_key: Option<String>,
}

/// An amount to count: 1 to `Number.MAX_SAFE_INTEGER` (`null` is refused, not "left out").
fn amount<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<i64>, D::Error> {
    Whole::<1, MAX_SAFE_INTEGER>::deserialize(d).map(|a| Some(a.0))
}

fn idempotency_key<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// One struct serves every method (half the code of one per method): a method that takes no
/// idempotency key refuses it as serde refuses any unknown name.
pub fn method_options(options: &JsValue, takes_key: bool) -> Result<MethodOptions> {
    // `amount` and `idempotencyKey` are read as the fast path in engine.js reads them (and as
    // a Web API reads its options): inherited ones too. Unknown names are own fields only.
    let options = js::method_options_data(options, takes_key).map_err(|thrown| {
        Failure::with_cause(QuotaError::argument("options could not be read"), thrown)
    })?;
    let (Object(o), _) = options_object::<MethodOptions>(&options, QuotaError::argument)?;
    if o.idempotency_key.is_some() && !takes_key {
        return Err(QuotaError::argument(
            "options: unknown option `idempotencyKey`, expected `amount`",
        )
        .into());
    }
    Ok(o)
}

/// An options object (one level copied) and its copy, an unknown name worded "unknown option".
fn options_object<T: DeserializeOwned>(
    v: &JsValue,
    code: fn(String) -> QuotaError,
) -> Result<(Object<T>, JsValue)> {
    config::read_copy(v, 1, "options", code).map_err(|mut f| {
        if let Some(rest) = f.error.message.strip_prefix("options: unknown field") {
            f.error.message = format!("options: unknown option{rest}");
        }
        f
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

/// The constructor's options as serde reads them. `store`, `limits` and `now` are JS values,
/// taken from the copy and checked below (`limits` is read by `policies.rs`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct OptionsSpec {
    #[serde(rename = "store")]
    _store: IgnoredAny,
    #[serde(rename = "limits")]
    _limits: IgnoredAny,
    #[serde(default, rename = "now")]
    _now: Given<IgnoredAny>,
    #[serde(default)]
    enabled: Given<bool>,
    #[serde(default)]
    key_prefix: Given<String>,
    #[serde(default)]
    string_id_keys: Given<StringIdKeys>,
    #[serde(default)]
    on_store_error: Given<FaultPolicy>,
    #[serde(default)]
    store_timeout_ms: Given<Whole<1, MAX_TIMEOUT_MS>>,
    #[serde(default)]
    token_secret: Given<String>,
}

/// setTimeout's largest delay; a larger one fires at once in browsers and Node.
const MAX_TIMEOUT_MS: i64 = 2_147_483_647;

pub fn engine_options(v: &JsValue) -> Result<EngineOptions> {
    let (Object(o), copy) = options_object::<OptionsSpec>(v, QuotaError::config)?;
    let store = field(&copy, "store", QuotaError::config)?;
    for method in ["get", "incr", "add", "set"] {
        let ok = store.is_object() && field(&store, method, QuotaError::config)?.is_function();
        if !ok {
            return Err(QuotaError::config(format!(
                "store must have a {method}() method (see QuotaStore)"
            ))
            .into());
        }
    }
    let now = match o._now.value() {
        None => None,
        Some(_) => Some(
            field(&copy, "now", QuotaError::config)?
                .dyn_into::<js_sys::Function>()
                .map_err(|_| {
                    QuotaError::config(
                        "options.now: expected a function returning ms since the epoch",
                    )
                })?,
        ),
    };
    Ok(EngineOptions {
        store,
        limits: policies::limits(&field(&copy, "limits", QuotaError::config)?)?,
        enabled: o.enabled.value().unwrap_or(true),
        key_prefix: o.key_prefix.value(),
        string_id_keys: o.string_id_keys.value().unwrap_or_default(),
        now,
        on_store_error: o.on_store_error.value().unwrap_or_default(),
        store_timeout_ms: o.store_timeout_ms.value().map(|ms| ms.0 as u32),
        token_secret: o.token_secret.value(),
    })
}
