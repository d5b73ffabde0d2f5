//! One feature's entry in `limits` → its policies. A number is the Django service's daily UTC limit; an
//! object `{ limit, window?, timeZone?, name? }` is one policy; an array holds several.

use super::args::field;
use super::error::Failure;
use super::js;
use super::zones;
use crate::core::limits::MAX_SAFE_INTEGER;
use crate::core::{Policy, QuotaError, WindowUnit};
use wasm_bindgen::JsValue;

type Result<T> = std::result::Result<T, Failure>;

const POLICY_FIELDS: [&str; 4] = ["limit", "window", "timeZone", "name"];

/// The policies of `feature` given as `value`.
pub fn feature_policies(feature: &str, value: &JsValue) -> Result<Vec<Policy>> {
    if let Some(limit) = limit_number(value) {
        return Ok(vec![Policy::daily(limit)?]);
    }
    if js_sys::Array::is_array(value) {
        let items = js_sys::Array::from(value);
        if items.length() == 0 {
            return Err(QuotaError::config(format!("feature \"{feature}\" has no policy")).into());
        }
        return items.iter().map(|p| policy_object(feature, &p)).collect();
    }
    if value.is_object() && !value.is_function() {
        return Ok(vec![policy_object(feature, value)?]);
    }
    Err(bad(feature, "must be a limit (a non-negative safe integer), a policy object { limit, window, timeZone?, name? } or an array of them", value).into())
}

fn policy_object(feature: &str, v: &JsValue) -> Result<Policy> {
    if !v.is_object() || v.is_function() || js_sys::Array::is_array(v) {
        return Err(bad(
            feature,
            "policies must be objects { limit, window, timeZone?, name? }",
            v,
        )
        .into());
    }
    let keys = js::own_keys(v)
        .map_err(|c| Failure::with_cause(QuotaError::config("a policy could not be read"), c))?;
    if let Some(unknown) = keys.iter().find(|k| !POLICY_FIELDS.contains(&k.as_str())) {
        return Err(QuotaError::config(format!(
            "policy of \"{feature}\" has unknown field \"{unknown}\"; known: {}",
            POLICY_FIELDS.join(", ")
        ))
        .into());
    }
    let limit = field(v, "limit", QuotaError::config)?;
    let limit = limit_number(&limit).ok_or_else(|| {
        bad(
            feature,
            "policy limit must be a non-negative safe integer",
            &limit,
        )
    })?;
    let window = field(v, "window", QuotaError::config)?;
    let window = if window.is_undefined() {
        WindowUnit::Day
    } else {
        window
            .as_string()
            .and_then(|w| WindowUnit::parse(&w))
            .ok_or_else(|| {
                bad(
                    feature,
                    "window must be \"hour\", \"day\", \"week\" or \"month\"",
                    &window,
                )
            })?
    };
    let zone = optional_string(feature, v, "timeZone")?;
    let zone = match zone {
        Some(name) => zones::checked(&name)?,
        None => None,
    };
    let name = optional_string(feature, v, "name")?;
    Ok(Policy::new(
        name.as_deref(),
        limit,
        window,
        zone.as_deref(),
    )?)
}

fn optional_string(feature: &str, v: &JsValue, name: &str) -> Result<Option<String>> {
    let s = field(v, name, QuotaError::config)?;
    if s.is_undefined() {
        return Ok(None);
    }
    match super::args::well_formed(&s, &format!("policy {name}"), QuotaError::config)? {
        Some(s) => Ok(Some(s)),
        None => Err(bad(feature, &format!("policy {name} must be a string"), &s).into()),
    }
}

fn limit_number(v: &JsValue) -> Option<i64> {
    let n = v.as_f64()?;
    (n.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER as f64).contains(&n)).then_some(n as i64)
}

fn bad(feature: &str, what: &str, got: &JsValue) -> QuotaError {
    let got = match got.as_f64() {
        Some(n) => js::number_text(n),
        None => js::type_name(got),
    };
    QuotaError::config(format!("limits.{feature}: {what}, got {got}"))
}
