//! Quota windows: which calendar period an instant falls in, when it resets, and the label
//! that goes into the counter's key. The seed's window is the UTC day.

use chrono::{DateTime, Datelike, NaiveDate};

pub const MS_PER_SEC: i64 = 1000;
pub const MS_PER_DAY: i64 = 86_400_000;

/// The length unit of a calendar window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowUnit {
    Day,
}

/// One concrete window: `[start_ms, end_ms)`, with the label used in keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSpan {
    pub start_ms: i64,
    pub end_ms: i64,
    /// Key suffix, e.g. `2026-11-27` for a UTC day (the seed's format).
    pub label: String,
}

impl WindowSpan {
    /// Whole seconds from `now_ms` to the reset, rounded up and at least 1, so a TTL derived
    /// from it never expires a counter before its window ends (the seed's `int()` could give 0).
    pub fn seconds_to_reset(&self, now_ms: i64) -> u64 {
        let ms = (self.end_ms - now_ms).max(1);
        ((ms + MS_PER_SEC - 1) / MS_PER_SEC) as u64
    }

    /// The reset instant as RFC 3339 UTC, e.g. `2026-11-28T00:00:00Z`.
    pub fn resets_at(&self) -> String {
        rfc3339_utc(self.end_ms)
    }
}

impl WindowUnit {
    /// The window of this unit that contains `now_ms` (UTC).
    pub fn span_at(self, now_ms: i64) -> WindowSpan {
        match self {
            WindowUnit::Day => {
                let start_ms = now_ms.div_euclid(MS_PER_DAY) * MS_PER_DAY;
                WindowSpan {
                    start_ms,
                    end_ms: start_ms + MS_PER_DAY,
                    label: iso_date(date_of(start_ms)),
                }
            }
        }
    }

    /// Nominal length in seconds (for `RateLimit-Policy`'s `w=`).
    pub fn nominal_seconds(self) -> u64 {
        match self {
            WindowUnit::Day => 86_400,
        }
    }
}

fn date_of(ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(ms)
        .expect("instant validated against clock::MIN_MS..=MAX_MS")
        .date_naive()
}

/// `YYYY-MM-DD`, as Python's `date.isoformat()` writes it.
pub fn iso_date(d: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a UTC instant (sub-second part dropped).
pub fn rfc3339_utc(ms: i64) -> String {
    let secs = ms.div_euclid(MS_PER_SEC);
    let day = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let date = date_of(day * MS_PER_DAY);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        iso_date(date),
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_27_2026: i64 = 1_795_737_600_000; // 2026-11-27T00:00:00Z

    #[test]
    fn utc_day_window_and_labels() {
        let w = WindowUnit::Day.span_at(NOV_27_2026 + 13 * 3_600_000);
        assert_eq!(w.label, "2026-11-27");
        assert_eq!(w.start_ms, NOV_27_2026);
        assert_eq!(w.resets_at(), "2026-11-28T00:00:00Z");
        assert_eq!(w.seconds_to_reset(NOV_27_2026 + 13 * 3_600_000), 11 * 3600);
    }

    #[test]
    fn reset_seconds_round_up_and_never_zero() {
        let w = WindowUnit::Day.span_at(NOV_27_2026);
        assert_eq!(w.seconds_to_reset(w.end_ms - 1), 1);
        assert_eq!(w.seconds_to_reset(w.end_ms - 1500), 2);
        assert_eq!(w.seconds_to_reset(w.start_ms), 86_400);
    }

    #[test]
    fn rfc3339_formats_time_of_day() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(NOV_27_2026 + 3_723_999), "2026-11-27T01:02:03Z");
    }
}
