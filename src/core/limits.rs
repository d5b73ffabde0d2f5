//! Per-feature limits: validated once, looked up on every call.

use super::error::{QuotaError, Result};
use super::reservation::CounterTag;
use super::window::WindowUnit;

/// Largest integer JS numbers hold exactly (`Number.MAX_SAFE_INTEGER`); every count and
/// limit stays at or below it so the host never sees a rounded value.
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

/// Whether a counter holding `count` has room for `delta` more without passing
/// [`MAX_SAFE_INTEGER`] (a count JS could no longer hold exactly, nor the engine read back).
/// `increment` and `settle` ask before they write, so a count that would pass it is refused
/// with `INVALID_ARGUMENT` and nothing written; a reserve never needs to (its limit is below).
pub fn room_for(key: &str, count: i64, delta: i64) -> Result<()> {
    if count <= MAX_SAFE_INTEGER - delta {
        return Ok(());
    }
    Err(past_safe(key, count, delta, "nothing was written"))
}

/// [`room_for`] a counter the store answered `n` for (`None`: absent). Below zero is not the
/// writer's business (a release may be mid-clamp; reads for decisions refuse it); above
/// MAX_SAFE_INTEGER JS cannot hold it: `CORRUPT_COUNTER`.
pub fn room_in(key: &str, n: Option<i64>, delta: i64) -> Result<()> {
    match n {
        Some(n) if n > MAX_SAFE_INTEGER => Err(QuotaError::corrupt(key, n)),
        n => room_for(key, n.unwrap_or(0), delta),
    }
}

/// The `INVALID_ARGUMENT` of a count `delta` would take past MAX_SAFE_INTEGER; `what` says
/// what became of the call.
pub fn past_safe(key: &str, count: i64, delta: i64, what: &str) -> QuotaError {
    QuotaError::argument(format!(
        "adding {delta} to counter \"{key}\" (holding {count}) would take it past \
         Number.MAX_SAFE_INTEGER; {what}"
    ))
}

/// A count read for a decision (`None`: the counter is absent, 0). Below zero it would
/// silently bypass `used >= limit` (the Django service's own worry), and above
/// [`MAX_SAFE_INTEGER`] JS cannot hold it: both are `CORRUPT_COUNTER`.
pub fn read_count(key: &str, n: Option<i64>) -> Result<i64> {
    match n {
        None => Ok(0),
        Some(n) if safe_from(0, n) => Ok(n),
        Some(n) => Err(QuotaError::corrupt(key, n)),
    }
}

/// Whether `n` is a safe integer of at least `min` (`min..=MAX_SAFE_INTEGER`): the one range
/// of profile ids, limits and actual amounts (0) and of amounts (1).
pub fn safe_from(min: i64, n: i64) -> bool {
    (min..=MAX_SAFE_INTEGER).contains(&n)
}

/// `n` as an `i64` when it is a safe integer (`Number.isSafeInteger`): a whole number from
/// -MAX_SAFE_INTEGER to MAX_SAFE_INTEGER. Every JS number that becomes a limit, amount, id or
/// timeout passes here; NaN and the infinities do not.
pub fn safe_integer(n: f64) -> Option<i64> {
    (n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER as f64).then_some(n as i64)
}

/// Longest accepted feature name.
pub const MAX_FEATURE_LEN: usize = 64;

/// One limit over one kind of window, built only by [`Policy::daily`] or [`Policy::new`]:
/// its fields are read through accessors, so its counter's tag (which reservation tokens
/// name) always matches its window and zone. Changed by hand, a daily policy made hourly
/// kept the tag of a day, and a release of a reservation counted in the day refunded the
/// hour's counter, which then admitted one more than its limit.
///
/// ```compile_fail
/// # use wasm_quota::core::{Policy, WindowUnit};
/// let mut p = Policy::daily(1).unwrap();
/// p.window = WindowUnit::Hour; // private: make `Policy::new(None, 1, WindowUnit::Hour, None)`
/// ```
///
/// ```compile_fail
/// # use wasm_quota::core::Policy;
/// let mut p = Policy::daily(1).unwrap();
/// p.limit = -1; // private: every limit is checked when the policy is made
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Name used in headers and denials (`"daily"` for a plain number, as the Django service has).
    pub(crate) name: String,
    pub(crate) limit: i64,
    pub(crate) window: WindowUnit,
    /// The zone whose wall clock the window follows (a name the host's zone source accepted);
    /// `None` is UTC.
    pub(crate) time_zone: Option<String>,
    /// Given as a plain number (the Django service's shape): decisions then keep the foundation's exact
    /// fields and do not name the policy.
    pub(crate) plain: bool,
    /// Its counter's window and zone, as reservation tokens name it (made from the two above).
    pub(crate) counter_tag: CounterTag,
}

impl Policy {
    /// The Django service's policy: `limit` per UTC day.
    pub fn daily(limit: i64) -> Result<Policy> {
        check_limit(limit)?;
        Ok(Policy {
            name: "daily".into(),
            limit,
            window: WindowUnit::Day,
            time_zone: None,
            plain: true,
            counter_tag: CounterTag::new(WindowUnit::Day, None),
        })
    }

    /// A policy object: `limit` per `window` on the wall clock of `time_zone` (UTC if `None`),
    /// named `name` or, by default, after its window (`hourly`, `daily`, `weekly`, `monthly`).
    pub fn new(
        name: Option<&str>,
        limit: i64,
        window: WindowUnit,
        time_zone: Option<&str>,
    ) -> Result<Policy> {
        check_limit(limit)?;
        let name = match name {
            Some(n) if is_feature_name(n) => n.to_owned(),
            Some(n) => {
                return Err(QuotaError::config(format!(
                    "policy name \"{n}\" must match /^[A-Za-z0-9_-]{{1,64}}$/"
                )))
            }
            None => match window {
                WindowUnit::Hour => "hourly",
                WindowUnit::Day => "daily",
                WindowUnit::Week => "weekly",
                WindowUnit::Month => "monthly",
            }
            .to_owned(),
        };
        Ok(Policy {
            name,
            limit,
            window,
            time_zone: time_zone.map(str::to_owned),
            plain: false,
            counter_tag: CounterTag::new(window, time_zone),
        })
    }

    /// Its name, as decisions give it (`"daily"` for [`Policy::daily`]).
    ///
    /// ```
    /// # use wasm_quota::core::{Policy, WindowUnit};
    /// let p = Policy::new(Some("paris"), 5, WindowUnit::Day, Some("Europe/Paris")).unwrap();
    /// assert_eq!((p.name(), p.limit(), p.window(), p.time_zone()), ("paris", 5, WindowUnit::Day, Some("Europe/Paris")));
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its limit per window.
    pub fn limit(&self) -> i64 {
        self.limit
    }

    /// The kind of window it counts over.
    pub fn window(&self) -> WindowUnit {
        self.window
    }

    /// The zone whose wall clock its window follows; `None` is UTC.
    pub fn time_zone(&self) -> Option<&str> {
        self.time_zone.as_deref()
    }

    /// Whether it was given as a plain number (the Django service's shape), whose decisions
    /// do not name it.
    pub fn plain(&self) -> bool {
        self.plain
    }
}

/// The configured features, in the order they were given (usage reports keep that order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    features: Vec<(String, Vec<Policy>)>,
}

impl Limits {
    /// Limits from `(feature, daily limit)` pairs, the Django service's shape.
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
                "feature name \"{feature}\" must match /^[A-Za-z0-9_-]{{1,64}}$/"
            )));
        }
        if self.get(feature).is_some() {
            return Err(QuotaError::config(format!(
                "feature \"{feature}\" is given twice"
            )));
        }
        if policies.is_empty() {
            return Err(QuotaError::config(format!(
                "feature \"{feature}\" has no policy"
            )));
        }
        for (i, p) in policies.iter().enumerate() {
            check_limit(p.limit)?;
            // Two policies over the same window would share one counter and count twice.
            let earlier = &policies[..i];
            if earlier
                .iter()
                .any(|q| q.window == p.window && q.time_zone == p.time_zone)
            {
                return Err(QuotaError::config(format!(
                    "feature \"{feature}\" has two policies over the same window ({}{})",
                    p.window.name(),
                    p.time_zone
                        .as_deref()
                        .map(|z| format!(" in {z}"))
                        .unwrap_or_default()
                )));
            }
            if earlier.iter().any(|q| q.name == p.name) {
                return Err(QuotaError::config(format!(
                    "feature \"{feature}\" has two policies named \"{}\"; give each a distinct `name`",
                    p.name
                )));
            }
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

    /// Like [`Limits::get`], with the feature's position (stable until the limits change).
    pub fn find(&self, feature: &str) -> Option<(usize, &[Policy])> {
        self.features
            .iter()
            .position(|(name, _)| name == feature)
            .map(|i| (i, self.features[i].1.as_slice()))
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
    if safe_from(0, limit) {
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

    #[test]
    fn the_accessors_report_what_was_configured() {
        let mut l = Limits::default();
        assert!(l.is_empty());
        let zoned = Policy::new(Some("burst"), 5, WindowUnit::Hour, Some("Europe/Paris")).unwrap();
        l.insert("a", vec![Policy::daily(3).unwrap()]).unwrap();
        l.insert("b", vec![zoned]).unwrap();
        assert_eq!((l.len(), l.is_empty()), (2, false));
        let (a, b) = (&l.get("a").unwrap()[0], &l.get("b").unwrap()[0]);
        // A plain number's decisions keep the foundation's shape; a policy object's name it.
        assert!(a.plain() && !b.plain());
        assert_eq!(
            (b.name(), b.limit(), b.window(), b.time_zone()),
            ("burst", 5, WindowUnit::Hour, Some("Europe/Paris"))
        );
    }

    #[test]
    fn policies_of_a_feature_need_distinct_windows_and_names() {
        let p = |name, w, z| Policy::new(name, 5, w, z).unwrap();
        let mut l = Limits::default();
        let same_window = vec![
            p(None, WindowUnit::Day, None),
            p(Some("b"), WindowUnit::Day, None),
        ];
        assert!(l.insert("a", same_window).is_err());
        let same_name = vec![
            p(None, WindowUnit::Day, None),
            p(None, WindowUnit::Day, Some("Europe/Paris")),
        ];
        let err = l.insert("a", same_name).unwrap_err();
        assert!(err.message.contains("distinct `name`"), "{err}");
        let ok = vec![
            p(None, WindowUnit::Hour, None),
            p(None, WindowUnit::Day, None),
            p(Some("paris"), WindowUnit::Day, Some("Europe/Paris")),
        ];
        l.insert("a", ok).unwrap();
        let names: Vec<&str> = l
            .get("a")
            .unwrap()
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["hourly", "daily", "paris"]);
        assert!(Policy::new(Some("a b"), 1, WindowUnit::Day, None).is_err());
        assert!(Policy::new(None, -1, WindowUnit::Day, None).is_err());
    }
}
