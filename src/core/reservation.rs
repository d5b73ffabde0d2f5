//! Reservation tokens: what `reserve` hands out so that `release` can take back exactly what
//! was counted, from the window it was counted in — even after that window has ended.
//!
//! Format: `q2.{feature}.{reserved at, ms}.{amount}.{nonce}`, the nonce 16 lowercase hex
//! digits. The `.` can never appear in a feature name, so `release` tells a token from a
//! feature name by looking at it. The nonce makes every reservation's token unique, so that
//! settling or releasing it can leave a marker in the store that a second attempt finds (see
//! `settle.rs`).

use super::clock::{MAX_MS, MIN_MS};
use super::error::{QuotaError, Result};
use super::limits::{is_feature_name, MAX_SAFE_INTEGER};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub feature: String,
    pub at_ms: i64,
    pub amount: i64,
    /// Random per reservation, or derived from an idempotency key (so a replay hands out the
    /// same token).
    pub nonce: u64,
}

impl Reservation {
    pub fn encode(&self) -> String {
        format!(
            "q2.{}.{}.{}.{:016x}",
            self.feature, self.at_ms, self.amount, self.nonce
        )
    }

    /// Does this string claim to be a token (rather than a feature name)?
    pub fn looks_like_token(s: &str) -> bool {
        s.contains('.')
    }

    pub fn decode(token: &str) -> Result<Reservation> {
        let bad = || QuotaError::argument(format!("\"{token}\" is not a reservation token"));
        let mut parts = token.split('.');
        if parts.next() != Some("q2") {
            return Err(bad());
        }
        let feature = parts
            .next()
            .filter(|f| is_feature_name(f))
            .ok_or_else(bad)?;
        let at_ms = parse_int(parts.next()).filter(|t| (MIN_MS..=MAX_MS).contains(t));
        let amount = parse_int(parts.next()).filter(|a| (1..=MAX_SAFE_INTEGER).contains(a));
        let nonce = parts
            .next()
            .filter(|n| n.len() == 16 && n.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .and_then(|n| u64::from_str_radix(n, 16).ok());
        match (at_ms, amount, nonce, parts.next()) {
            (Some(at_ms), Some(amount), Some(nonce), None) => Ok(Reservation {
                feature: feature.to_owned(),
                at_ms,
                amount,
                nonce,
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
            nonce: 0x00ab_cdef_0123_4567,
        };
        assert_eq!(r.encode(), "q2.remix.1795737600123.3.00abcdef01234567");
        assert_eq!(Reservation::decode(&r.encode()).unwrap(), r);
    }

    #[test]
    fn refuses_malformed_tokens() {
        for bad in [
            "",
            "remix",
            "q1.remix.1.1",
            "q2.remix.1.0.0000000000000000",
            "q2.remix.1.-1.0000000000000000",
            "q2.remix.01.1.0000000000000000",
            "q2.remix.1.1",
            "q2.remix.1.1.000000000000000",
            "q2.remix.1.1.000000000000000A",
            "q2.remix.1.1.+000000000000000",
            "q2.remix.1.1.0000000000000000.1",
            "q3.remix.1.1.0000000000000000",
            "q2.re:mix.1.1.0000000000000000",
            "q2.remix.x.1.0000000000000000",
            "q2..1.1.0000000000000000",
            "q2.remix.99999999999999999.1.0000000000000000",
        ] {
            assert!(Reservation::decode(bad).is_err(), "{bad:?}");
        }
    }
}
