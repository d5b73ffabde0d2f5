//! Small JS helpers from `pkg-template/runtime.js` (copied beside the glue by `make build`).
//! Each replaces several boundary crossings with one: building a plain object field by field
//! through `Reflect` would cross once per field.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(raw_module = "./runtime.js")]
extern "C" {
    #[wasm_bindgen(js_name = quotaError)]
    pub fn quota_error(code: &str, message: &str, cause: JsValue) -> JsValue;
    /// Throws when reading `.then` throws.
    #[wasm_bindgen(js_name = isThenable, catch)]
    pub fn is_thenable(v: &JsValue) -> Result<bool, JsValue>;
    /// A copy of `v` as plain data, `levels` deep (see `plainData`), for serde to read without
    /// running a getter inside WASM; throws what a getter or proxy trap throws.
    #[wasm_bindgen(js_name = plainData, catch)]
    pub fn plain_data(v: &JsValue, levels: u32) -> Result<JsValue, JsValue>;
    /// Where `plainData` found a string that is not well-formed UTF-16 (`.name`, `[1]`…),
    /// when `thrown` is what it threw for that.
    #[wasm_bindgen(js_name = loneSurrogateAt)]
    pub fn lone_surrogate_at(thrown: &JsValue) -> Option<String>;
    /// A method's options with `amount` (and `idempotencyKey`) read as `o.amount` reads them,
    /// inherited too; throws what a getter throws.
    #[wasm_bindgen(js_name = methodOptionsData, catch)]
    pub fn method_options_data(o: &JsValue, with_key: bool) -> Result<JsValue, JsValue>;
    /// Throws when a key getter throws (proxies).
    #[wasm_bindgen(js_name = ownKeys, catch)]
    pub fn own_keys(o: &JsValue) -> Result<Vec<String>, JsValue>;
    /// Defines a field without going through a `__proto__` setter.
    #[wasm_bindgen(js_name = defineField)]
    pub fn define_field(o: &JsValue, key: &str, value: f64);
    /// `{ allowed, feature, degraded: "store-error", error, retryAfter: 0 }`: `decision`, the
    /// builder of every decision object, given the store's error (its other arguments left out).
    #[wasm_bindgen(js_name = decision)]
    pub fn degraded_decision(allowed: bool, feature: &JsValue, error: JsValue) -> JsValue;
    #[wasm_bindgen(js_name = isStoreTimeout)]
    pub fn is_store_timeout(v: &JsValue) -> bool;
    /// `String.prototype.isWellFormed`: no lone surrogate.
    #[wasm_bindgen(js_name = isWellFormed)]
    pub fn is_well_formed(s: &JsValue) -> bool;
    #[wasm_bindgen(js_name = typeName)]
    pub fn type_name(v: &JsValue) -> String;
    /// `String(n)`: JS formats numbers for error messages, so the .wasm carries no float
    /// formatting (Rust's `{}` for f64 costs ~15 KB).
    #[wasm_bindgen(js_name = numberText)]
    pub fn number_text(n: f64) -> String;
    /// 32 random bits from `crypto.getRandomValues` (seeds the reservation nonces).
    #[wasm_bindgen(js_name = randomWord)]
    pub fn random_word() -> u32;
    /// The UTC offset of `zone` at `ms`, in ms, from `Intl.DateTimeFormat`.
    #[wasm_bindgen(js_name = zoneOffset, catch)]
    pub fn zone_offset(zone: &str, ms: f64) -> Result<f64, JsValue>;
    /// Intl's canonical spelling of a zone name; throws a RangeError for an unknown zone.
    #[wasm_bindgen(js_name = canonicalTimeZone, catch)]
    pub fn canonical_time_zone(name: &str) -> Result<String, JsValue>;
}

/// A JS value as an error message names it: a number as JS writes it (`1.5`, `NaN`), anything
/// else by its type (`string`, `null`, `array`, `object`). Not inlined: error messages only.
#[inline(never)]
pub fn describe(v: &JsValue) -> String {
    match v.as_f64() {
        Some(n) => number_text(n),
        None => type_name(v),
    }
}
