//! Time-zone offsets from the host's `Intl` (see `zoneOffset` in `pkg-template/runtime.js`):
//! the package bundles no tz data, and every host it runs on (Node, browsers, workerd) ships
//! ICU's.

use super::js;
use crate::core::{QuotaError, Result, TimeZones};

/// The core's [`TimeZones`] answered by `Intl.DateTimeFormat`.
#[derive(Debug, Default)]
pub struct IntlZones;

impl TimeZones for IntlZones {
    fn offset_ms(&self, zone: &str, utc_ms: i64) -> Result<i64> {
        match js::zone_offset(zone, utc_ms as f64) {
            Ok(ms) if ms.is_finite() => Ok(ms as i64),
            _ => Err(QuotaError::config(format!(
                "Intl could not give the UTC offset of \"{zone}\""
            ))),
        }
    }
}

/// The zone as written, once the host's Intl has accepted it, or `None` for UTC itself so that
/// `timeZone: "UTC"` uses the same counters as no time zone. The spelling is kept rather than
/// Intl's canonical one because ICU versions disagree (`Asia/Kolkata` is `Asia/Calcutta` in
/// Node 20, not in newer V8): engines in different runtimes sharing a store must build the
/// same keys. Its letter case is Intl's, though: Intl matches zone names ignoring case, so
/// `europe/paris` and `Europe/Paris` are one zone and must be one counter (and two policies
/// of a feature over them one window, refused).
///
/// ```js
/// new QuotaEngine({ store, limits: { remix: { limit: 10, timeZone: "europe/paris" } } });
/// // counts in ai_quota:42:remix:2026-11-27@Europe/Paris
/// ```
pub fn checked(name: &str) -> Result<Option<String>> {
    // A UTC offset ("+05:30", "-08"): workerd's and Chromium's Intl take one as a zone, Node
    // 20's does not. Limits valid on one host must be valid on every host the package runs
    // on (and name the same counters there), so only zone names are taken, everywhere.
    if name.starts_with(['+', '-', '\u{2212}']) {
        return Err(QuotaError::config(format!(
            "timeZone \"{name}\" is a UTC offset, not a zone name: use an IANA zone name such as \"Asia/Kolkata\" (offsets are not taken by every host's Intl)"
        )));
    }
    let canonical = js::canonical_time_zone(name).map_err(|_| {
        QuotaError::config(format!(
            "timeZone \"{name}\" is not a time zone this host's Intl knows"
        ))
    })?;
    Ok(match canonical.as_str() {
        "UTC" | "Etc/UTC" | "Etc/GMT" | "GMT" => None,
        // The same name in another case: Intl's is the one every spelling gets.
        same if same.eq_ignore_ascii_case(name) => Some(canonical),
        _ => Some(name.to_owned()),
    })
}
