//! The one place core errors become JS values: a `QuotaError` with a stable `code`, and the
//! host's own exception kept as `cause`.

use super::js;
use crate::core::QuotaError;
use wasm_bindgen::JsValue;

/// A core error, plus the JS exception that caused it when there was one.
pub struct Failure {
    pub error: QuotaError,
    pub cause: JsValue,
}

impl Failure {
    pub fn with_cause(error: QuotaError, cause: JsValue) -> Failure {
        Failure { error, cause }
    }

    /// Not inlined: it is on every error path (27 of them in the .wasm) and never hot.
    #[inline(never)]
    pub fn into_js(self) -> JsValue {
        js::quota_error(self.error.code.as_str(), &self.error.message, self.cause)
    }
}

impl From<QuotaError> for Failure {
    fn from(error: QuotaError) -> Failure {
        Failure {
            error,
            cause: JsValue::UNDEFINED,
        }
    }
}

impl From<Failure> for JsValue {
    fn from(f: Failure) -> JsValue {
        f.into_js()
    }
}
