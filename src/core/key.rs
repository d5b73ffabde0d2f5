//! Profiles and the counter keys built from them.
//!
//! Keys keep the seed's shape, `ai_quota:42:remix:2026-11-27`. Numeric ids are written as the
//! seed writes them. String ids are written as `~` followed by the id with `%` and `:` percent-
//! escaped, so no string id can produce a number's key or another string's key, and a `:` in an
//! id can never shift the feature or window part of a key.

use super::error::{QuotaError, Result};
use super::limits::MAX_SAFE_INTEGER;
use std::fmt::Write;

/// Longest accepted string id, in characters.
pub const MAX_ID_CHARS: usize = 256;

/// Who a quota belongs to: a non-negative safe integer or a string of 1–256 characters.
/// `42` and `"42"` are different profiles.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProfileId {
    Number(i64),
    Text(String),
}

impl ProfileId {
    pub fn number(n: i64) -> Result<ProfileId> {
        if (0..=MAX_SAFE_INTEGER).contains(&n) {
            Ok(ProfileId::Number(n))
        } else {
            Err(QuotaError::argument(format!(
                "profile id {n} must be a non-negative safe integer"
            )))
        }
    }

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
        }
    }
}

/// Appends `s` with `%` and `:` percent-escaped, so it cannot end or shift a key's part.
pub fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            ':' => out.push_str("%3A"),
            c => out.push(c),
        }
    }
}

/// A caller of the engine: the seed's `profile.pk` and `profile.unlimited_ai`.
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
    key.push_str(prefix);
    key.push(':');
    id.write_key_part(&mut key);
    key.push(':');
    key.push_str(feature);
    key.push(':');
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: ProfileId) -> String {
        counter_key("ai_quota", &id, "remix", "2026-11-27")
    }

    #[test]
    fn numeric_ids_keep_the_seed_format() {
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
    fn id_bounds() {
        assert!(ProfileId::number(-1).is_err());
        assert!(ProfileId::number(MAX_SAFE_INTEGER + 1).is_err());
        assert!(ProfileId::text("").is_err());
        assert!(ProfileId::text(&"é".repeat(256)).is_ok());
        assert!(ProfileId::text(&"é".repeat(257)).is_err());
    }
}
