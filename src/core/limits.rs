//! Per-feature limits: validated once, looked up on every call.

use super::error::{QuotaError, Result};
use super::window::WindowUnit;

/// Largest integer JS numbers hold exactly (`Number.MAX_SAFE_INTEGER`); every count and
/// limit stays at or below it so the host never sees a rounded value.
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

/// Longest accepted feature name.
pub const MAX_FEATURE_LEN: usize = 64;

/// One limit over one kind of window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Name used in headers and denials (`"daily"` for a plain number, as the seed has).
    pub name: String,
    pub limit: i64,
    pub window: WindowUnit,
}

impl Policy {
    /// The seed's policy: `limit` per UTC day.
    pub fn daily(limit: i64) -> Result<Policy> {
        check_limit(limit)?;
        Ok(Policy {
            name: "daily".into(),
            limit,
            window: WindowUnit::Day,
        })
    }
}

/// The configured features, in the order they were given (usage reports keep that order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    features: Vec<(String, Vec<Policy>)>,
}

impl Limits {
    /// Limits from `(feature, daily limit)` pairs, the seed's shape.
    pub fn daily<'a>(pairs: impl IntoIterator<Item = (&'a str, i64)>) -> Result<Limits> {
        let mut limits = Limits::default();
        for (feature, limit) in pairs {
            limits.insert(feature, vec![Policy::daily(limit)?])?;
        }
        Ok(limits)
    }

    /// Adds a feature; refuses bad names, duplicates, and an empty policy list.
    pub fn insert(&mut self, feature: &str, policies: Vec<Policy>) -> Result<()> {
        if !is_feature_name(feature) {
            return Err(QuotaError::config(format!(
                "feature name {feature:?} must match /^[A-Za-z0-9_-]{{1,64}}$/"
            )));
        }
        if self.get(feature).is_some() {
            return Err(QuotaError::config(format!(
                "feature {feature:?} is given twice"
            )));
        }
        if policies.is_empty() {
            return Err(QuotaError::config(format!(
                "feature {feature:?} has no policy"
            )));
        }
        for p in &policies {
            check_limit(p.limit)?;
        }
        self.features.push((feature.to_owned(), policies));
        Ok(())
    }

    /// The policies of a configured feature; `None` for anything else (including `__proto__`).
    pub fn get(&self, feature: &str) -> Option<&[Policy]> {
        self.features
            .iter()
            .find(|(name, _)| name == feature)
            .map(|(_, p)| p.as_slice())
    }

    pub fn features(&self) -> impl Iterator<Item = (&str, &[Policy])> {
        self.features
            .iter()
            .map(|(n, p)| (n.as_str(), p.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.features.len()
    }

    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }
}

/// `/^[A-Za-z0-9_-]{1,64}$/` — no `:` so keys stay unambiguous, no `.` so a feature name is
/// never mistaken for a reservation token.
pub fn is_feature_name(s: &str) -> bool {
    (1..=MAX_FEATURE_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn check_limit(limit: i64) -> Result<()> {
    if (0..=MAX_SAFE_INTEGER).contains(&limit) {
        Ok(())
    } else {
        Err(QuotaError::config(format!(
            "limit {limit} must be an integer from 0 to Number.MAX_SAFE_INTEGER"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_names() {
        assert!(is_feature_name("remix_suggestions"));
        assert!(is_feature_name("a-B_9"));
        assert!(is_feature_name(&"x".repeat(64)));
        for bad in ["", "a:b", "a.b", "a b", "é", &"x".repeat(65)] {
            assert!(!is_feature_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn refuses_duplicates_and_bad_limits() {
        assert!(Limits::daily([("a", 1), ("a", 2)]).is_err());
        assert!(Limits::daily([("a", -1)]).is_err());
        assert!(Limits::daily([("a", MAX_SAFE_INTEGER + 1)]).is_err());
        let l = Limits::daily([("a", 0), ("b", MAX_SAFE_INTEGER)]).unwrap();
        assert_eq!(l.get("b").unwrap()[0].limit, MAX_SAFE_INTEGER);
        assert!(l.get("__proto__").is_none());
    }
}
