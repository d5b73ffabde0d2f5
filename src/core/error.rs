//! The one error type of the core. The binding turns it into a JS `QuotaError` exactly once.

use std::fmt;

/// Stable error codes; the strings are part of the public JS API (`err.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Constructor options or `setLimits` were refused.
    InvalidConfig,
    /// A method argument (profile, id, amount, reservation, option) was refused.
    InvalidArgument,
    /// The feature is not configured.
    UnknownFeature,
    /// A store call threw or rejected.
    StoreError,
    /// An async store call did not settle within `storeTimeoutMs`.
    StoreTimeout,
    /// A store returned something that is not a count where a count was expected.
    CorruptCounter,
    /// An idempotency key was retried after a release more often than a window allows: the
    /// client's key, refused — not a mistake in the server's arguments.
    IdempotencyKeyExhausted,
}

impl ErrorCode {
    /// The code as JS sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidConfig => "INVALID_CONFIG",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::UnknownFeature => "UNKNOWN_FEATURE",
            ErrorCode::StoreError => "STORE_ERROR",
            ErrorCode::StoreTimeout => "STORE_TIMEOUT",
            ErrorCode::CorruptCounter => "CORRUPT_COUNTER",
            ErrorCode::IdempotencyKeyExhausted => "IDEMPOTENCY_KEY_EXHAUSTED",
        }
    }
}

/// A refused or failed call: a code plus a message written for the person reading the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaError {
    pub code: ErrorCode,
    pub message: String,
}

impl QuotaError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        QuotaError {
            code,
            message: message.into(),
        }
    }
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidConfig, message)
    }
    pub fn argument(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }
    pub fn unknown_feature(feature: &str) -> Self {
        Self::new(
            ErrorCode::UnknownFeature,
            format!("Unknown quota feature: \"{feature}\""),
        )
    }
    pub fn store(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::StoreError, message)
    }
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::StoreTimeout, message)
    }
    /// The store failed to answer (threw, rejected, timed out): the faults `onStoreError`
    /// governs. A store that answered nonsense (`CorruptCounter`) is not one of them.
    pub fn is_store_fault(&self) -> bool {
        matches!(self.code, ErrorCode::StoreError | ErrorCode::StoreTimeout)
    }
    /// A counter that holds something other than a count. Not inlined: an error path, and each
    /// inlined copy of its formatting cost .wasm bytes in every path that reads a count. The
    /// message says what a count is and nothing more: null (absent) is an answer of `get` and
    /// `incr` only, never of `incrOrCreate`, which reaches this with a null it should not give.
    #[inline(never)]
    pub fn corrupt(key: &str, what: impl fmt::Display) -> Self {
        Self::new(
            ErrorCode::CorruptCounter,
            format!("store returned {what} for counter \"{key}\"; expected a non-negative integer"),
        )
    }
}

impl fmt::Display for QuotaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for QuotaError {}

pub type Result<T> = std::result::Result<T, QuotaError>;
