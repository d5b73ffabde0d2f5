//! Reservation tokens: what `reserve` hands out so that `release` can take back exactly what
//! was counted, from the window it was counted in — even after that window has ended.
//!
//! Format: `q1.{feature}.{reserved at, ms}.{amount}`. The `.` can never appear in a feature
//! name, so `release` tells a token from a feature name by looking at it.

use super::clock::{MAX_MS, MIN_MS};
use super::error::{QuotaError, Result};
use super::limits::{is_feature_name, MAX_SAFE_INTEGER};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub feature: String,
    pub at_ms: i64,
    pub amount: i64,
}

impl Reservation {
    pub fn encode(&self) -> String {
        format!("q1.{}.{}.{}", self.feature, self.at_ms, self.amount)
    }

    /// Does this string claim to be a token (rather than a feature name)?
    pub fn looks_like_token(s: &str) -> bool {
        s.contains('.')
    }

    pub fn decode(token: &str) -> Result<Reservation> {
        let bad = || QuotaError::argument(format!("{token:?} is not a reservation token"));
        let mut parts = token.split('.');
        if parts.next() != Some("q1") {
            return Err(bad());
        }
        let feature = parts
            .next()
            .filter(|f| is_feature_name(f))
            .ok_or_else(bad)?;
        let at_ms = parse_int(parts.next()).filter(|t| (MIN_MS..=MAX_MS).contains(t));
        let amount = parse_int(parts.next()).filter(|a| (1..=MAX_SAFE_INTEGER).contains(a));
        match (at_ms, amount, parts.next()) {
            (Some(at_ms), Some(amount), None) => Ok(Reservation {
                feature: feature.to_owned(),
                at_ms,
                amount,
            }),
            _ => Err(bad()),
        }
    }
}

/// Canonical decimal only (no sign, no leading zeros), so one reservation has one spelling.
fn parse_int(s: Option<&str>) -> Option<i64> {
    let s = s?;
    let canonical = !s.is_empty()
        && s.len() <= 16
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let r = Reservation {
            feature: "remix".into(),
            at_ms: 1_795_737_600_123,
            amount: 3,
        };
        assert_eq!(r.encode(), "q1.remix.1795737600123.3");
        assert_eq!(Reservation::decode(&r.encode()).unwrap(), r);
    }

    #[test]
    fn refuses_malformed_tokens() {
        for bad in [
            "",
            "remix",
            "q1.remix.1.0",
            "q1.remix.1.-1",
            "q1.remix.01.1",
            "q1.remix.1.1.1",
            "q2.remix.1.1",
            "q1.re:mix.1.1",
            "q1.remix.x.1",
            "q1..1.1",
            "q1.remix.99999999999999999.1",
        ] {
            assert!(Reservation::decode(bad).is_err(), "{bad:?}");
        }
    }
}
