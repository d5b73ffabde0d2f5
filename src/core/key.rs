//! Profiles and the counter keys built from them.
//!
//! Keys keep the Django service's shape, `ai_quota:42:remix:2026-11-27`. Numeric ids are written as the
//! Django service writes them. String ids are written one of two ways ([`StringIdKeys`]):
//! - escaped (the default): `~` followed by the id with `%` and `:` percent-escaped, so no string
//!   id can produce a number's key or another string's key, and a `:` in an id can never shift
//!   the feature or window part of a key;
//! - raw, as the Django service writes a string primary key such as a UUID
//!   (`ai_quota:3f2c…:remix:2026-11-27`). Only ids that cannot share a key with another profile
//!   are accepted: no `:` (it would shift the key's parts), not only ASCII digits (the key of a
//!   numeric id), not starting with `~` (the key of an escaped string id).
//!
//! All of these rules live here; an id is checked when it is built, before any key exists.

use super::error::{QuotaError, Result};
use super::limits::safe_from;
use serde::Deserialize;
use std::fmt::Write;

/// Longest accepted string id, in characters.
pub const MAX_ID_CHARS: usize = 256;

/// How string ids are written into keys (the engine's `stringIdKeys` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase", expecting = "\"escaped\" or \"raw\"")]
pub enum StringIdKeys {
    /// `~` + the id, `%` and `:` percent-escaped: every string id is accepted.
    #[default]
    Escaped,
    /// The id as written, as the Django service writes a string primary key; ids that could
    /// share a key with another profile are refused.
    Raw,
}

/// Who a quota belongs to: a non-negative safe integer or a string of 1–256 characters.
/// `42` and `"42"` are different profiles.
///
/// Built only by [`ProfileId::number`], [`ProfileId::text`] and [`ProfileId::string`], which
/// refuse the ids that break these rules or could share another profile's counter; outside
/// this crate a variant can be matched (`ProfileId::Number { 0: n, .. }`) but not built, so
/// neither can `ProfileId::Raw("42")`, which would count on numeric 42's key:
///
/// ```compile_fail
/// let _shares_42s_counter = wasm_quota::core::ProfileId::Raw("42".to_owned());
/// ```
///
/// ```compile_fail
/// let _negative = wasm_quota::core::ProfileId::Number(-1);
/// ```
///
/// ```compile_fail
/// let _empty = wasm_quota::core::ProfileId::Text(String::new());
/// ```
///
/// ```
/// use wasm_quota::core::{ProfileId, StringIdKeys};
/// assert!(ProfileId::string("42", StringIdKeys::Raw).is_err());
/// let ProfileId::Number { 0: n, .. } = ProfileId::number(42)? else { unreachable!() };
/// assert_eq!(n, 42);
/// # Ok::<(), wasm_quota::core::QuotaError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProfileId {
    // `non_exhaustive` on each variant keeps its constructor inside the crate: the checks of
    // the constructors below are the only way in.
    #[non_exhaustive]
    Number(i64),
    /// A string id written escaped.
    #[non_exhaustive]
    Text(String),
    /// A string id written raw; built only by [`ProfileId::string`], which refused every id
    /// that could share a key with another profile.
    #[non_exhaustive]
    Raw(String),
}

impl ProfileId {
    pub fn number(n: i64) -> Result<ProfileId> {
        if safe_from(0, n) {
            Ok(ProfileId::Number(n))
        } else {
            Err(QuotaError::argument(format!(
                "profile id {n} must be a non-negative safe integer"
            )))
        }
    }

    /// A string id written escaped (see [`ProfileId::string`] for both ways).
    pub fn text(s: &str) -> Result<ProfileId> {
        let n = s.chars().count();
        if (1..=MAX_ID_CHARS).contains(&n) {
            Ok(ProfileId::Text(s.to_owned()))
        } else {
            Err(QuotaError::argument(format!(
                "profile id must be 1 to {MAX_ID_CHARS} characters, got {n}"
            )))
        }
    }

    /// A string id, written into keys as `keys` says; raw ids that could share a key with
    /// another profile are refused here (see the module docs).
    pub fn string(s: &str, keys: StringIdKeys) -> Result<ProfileId> {
        let ProfileId::Text(s) = ProfileId::text(s)? else {
            unreachable!("text() builds a Text id")
        };
        if keys == StringIdKeys::Escaped {
            return Ok(ProfileId::Text(s));
        }
        let refused = if s.contains(':') {
            "contains \":\", which would shift the parts of its keys"
        } else if s.bytes().all(|b| b.is_ascii_digit()) {
            "is only digits, the key of a numeric id: pass the number"
        } else if s.starts_with('~') {
            "starts with \"~\", the key of an escaped string id"
        } else {
            return Ok(ProfileId::Raw(s));
        };
        Err(QuotaError::argument(format!(
            "profile id \"{s}\" {refused} (stringIdKeys: \"raw\")"
        )))
    }

    /// The id as it appears inside a key (see the module docs).
    pub fn write_key_part(&self, out: &mut String) {
        match self {
            ProfileId::Number(n) => {
                let _ = write!(out, "{n}");
            }
            ProfileId::Text(s) => {
                out.push('~');
                escape_into(s, out);
            }
            ProfileId::Raw(s) => out.push_str(s),
        }
    }
}

/// Appends `s` with `%` and `:` percent-escaped, so it cannot end or shift a key's part.
/// Both are ASCII, so the text between them is copied as it is, in runs (no UTF-8 encoding
/// per character: a key is built again whenever the key table dropped it).
pub fn escape_into(s: &str, out: &mut String) {
    let mut run = 0;
    for (at, separator) in s.match_indices(['%', ':']) {
        // `get`, not indexing: the bounds are char boundaries, and no panic path is linked.
        out.push_str(s.get(run..at).unwrap_or_default());
        out.push_str(if separator == "%" { "%25" } else { "%3A" });
        run = at + 1;
    }
    out.push_str(s.get(run..).unwrap_or_default());
}

/// A caller of the engine: the Django service's `profile.pk` and `profile.unlimited_ai`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub id: ProfileId,
    pub unlimited: bool,
}

impl Profile {
    pub fn limited(id: ProfileId) -> Profile {
        Profile {
            id,
            unlimited: false,
        }
    }
}

/// `{prefix}:{id}:{feature}:{window label}`.
pub fn counter_key(prefix: &str, id: &ProfileId, feature: &str, label: &str) -> String {
    let mut key = feature_key_base(prefix, id, feature);
    key.push_str(label);
    key
}

/// `{prefix}:{id}:{feature}:`, the start every key of a profile's feature shares (counters,
/// settle markers, idempotency records), with room for the rest.
pub fn feature_key_base(prefix: &str, id: &ProfileId, feature: &str) -> String {
    let mut key = String::with_capacity(prefix.len() + feature.len() + 48);
    push_feature_key_base(&mut key, prefix, id, feature);
    key
}

/// Appends `{prefix}:{id}:{feature}:` to `out` (a buffer a call reuses).
pub fn push_feature_key_base(out: &mut String, prefix: &str, id: &ProfileId, feature: &str) {
    out.push_str(prefix);
    out.push(':');
    id.write_key_part(out);
    out.push(':');
    out.push_str(feature);
    out.push(':');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: ProfileId) -> String {
        counter_key("ai_quota", &id, "remix", "2026-11-27")
    }

    #[test]
    fn numeric_ids_keep_the_django_format() {
        assert_eq!(
            key(ProfileId::number(42).unwrap()),
            "ai_quota:42:remix:2026-11-27"
        );
    }

    #[test]
    fn string_ids_cannot_collide() {
        let t = |s: &str| key(ProfileId::text(s).unwrap());
        assert_eq!(t("a:b"), "ai_quota:~a%3Ab:remix:2026-11-27");
        assert_ne!(t("42"), key(ProfileId::number(42).unwrap()));
        assert_ne!(t("a:b"), t("a%3Ab"));
        assert_ne!(t("~1"), t("1"));
    }

    #[test]
    fn raw_string_ids_are_written_as_the_django_service_writes_them() {
        let raw = |s: &str| ProfileId::string(s, StringIdKeys::Raw);
        let uuid = "3f2c9a1e-8b4d-4c6e-9f00-1a2b3c4d5e6f";
        assert_eq!(
            key(raw(uuid).unwrap()),
            format!("ai_quota:{uuid}:remix:2026-11-27")
        );
        assert_eq!(
            key(raw("a%3Ab").unwrap()),
            "ai_quota:a%3Ab:remix:2026-11-27"
        );
        assert_eq!(
            ProfileId::string("a:b", StringIdKeys::Escaped).unwrap(),
            ProfileId::text("a:b").unwrap()
        );
    }

    #[test]
    fn raw_string_ids_that_could_share_a_key_are_refused() {
        let refused = |s: &str| ProfileId::string(s, StringIdKeys::Raw).unwrap_err().message;
        // `a:b` + feature `c` would be the key of id `a` with feature `b` and label `c:…`.
        assert!(refused("a:b").contains("\":\""), "{}", refused("a:b"));
        assert!(refused(":").contains("\":\""));
        // The numeric id 42 writes `42`; `042` is refused too: a digit string is a number.
        for digits in ["42", "0", "042", "9007199254740993"] {
            assert!(refused(digits).contains("only digits"), "{digits}");
        }
        // `~a` is where the escaped id `a` lives.
        assert!(refused("~a").contains("\"~\""));
        assert!(ProfileId::string("", StringIdKeys::Raw).is_err());
        assert!(ProfileId::string(&"x".repeat(257), StringIdKeys::Raw).is_err());
        for fine in ["4a", "-1", "a~", "42 ", "x".repeat(256).as_str(), "é"] {
            assert!(ProfileId::string(fine, StringIdKeys::Raw).is_ok(), "{fine}");
        }
    }

    #[test]
    fn no_accepted_raw_id_shares_a_key_with_a_number_or_an_escaped_id() {
        let mut accepted = Vec::new();
        for s in ["42", "0", "a:b", "a%3Ab", "~a", "~42", "a", "x-1"] {
            accepted.extend(ProfileId::string(s, StringIdKeys::Raw).ok());
            accepted.extend(ProfileId::string(s, StringIdKeys::Escaped).ok());
            if let Ok(n) = s.parse() {
                accepted.push(ProfileId::number(n).unwrap());
            }
        }
        let keys: std::collections::HashSet<String> = accepted.iter().cloned().map(key).collect();
        assert_eq!(
            keys.len(),
            accepted.len(),
            "two accepted ids share a key: {keys:?}"
        );
    }

    #[test]
    fn escaping_copies_runs_and_escapes_every_separator() {
        // The rule, one character at a time, against the copy by runs.
        let by_char = |s: &str| {
            s.chars()
                .map(|c| match c {
                    '%' => "%25".to_owned(),
                    ':' => "%3A".to_owned(),
                    c => c.to_string(),
                })
                .collect::<String>()
        };
        for s in [
            "",
            "a",
            ":",
            "%",
            "::",
            "%%",
            ":a",
            "a:",
            "a:b%c",
            "é:🙂%ü",
            "%3A",
            "ab::cd%%ef",
            "3f2c9a1e-8b4d-4c6e-9f00-1a2b3c4d5e6f",
            "🙂",
            ":🙂:",
        ] {
            let mut out = String::from("k:");
            escape_into(s, &mut out);
            assert_eq!(out, format!("k:{}", by_char(s)), "{s:?}");
        }
    }

    #[test]
    fn id_bounds() {
        assert!(ProfileId::number(-1).is_err());
        assert!(ProfileId::number(crate::core::limits::MAX_SAFE_INTEGER + 1).is_err());
        assert!(ProfileId::text("").is_err());
        assert!(ProfileId::text(&"é".repeat(256)).is_ok());
        assert!(ProfileId::text(&"é".repeat(257)).is_err());
    }
}
