//! Quota windows: which calendar period an instant falls in, when it resets, and the label
//! that goes into the counter's key. The Django service's window is the UTC day; policies may also ask
//! for hours, ISO weeks (Monday first) and months, in UTC or in a time zone. Zoned windows are
//! calendar-aligned on the zone's wall clock, so a day is 23 or 25 hours long across DST.

use super::error::Result;
use super::zone::{first_instant_at, TimeZones};
use chrono::{
    DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, SecondsFormat, Timelike, Utc,
};
use serde::Deserialize;
use std::fmt::Write;

pub const MS_PER_SEC: i64 = 1000;
pub const MS_PER_HOUR: i64 = 3_600_000;
pub const MS_PER_DAY: i64 = 86_400_000;

/// How far apart the clocks of hosts sharing a store may be (ten minutes), and so how long a
/// window's counter, idempotency records and settle markers outlive the window. The store
/// expires keys by its own clock and each engine names windows by its own: a host whose clock
/// is behind still counts in a window that has ended by the store's clock, and must find that
/// window's counter there (full, if it was), not an expired key it would count from 0 again.
pub const CLOCK_MARGIN_SECS: u64 = 600;

/// The length unit of a calendar window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(
    rename_all = "lowercase",
    expecting = "\"hour\", \"day\", \"week\" or \"month\""
)]
pub enum WindowUnit {
    Hour,
    Day,
    /// An ISO week: Monday 00:00 to the next Monday 00:00.
    Week,
    Month,
}

/// One concrete window: `[start_ms, end_ms)`, with the label used in keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSpan {
    pub start_ms: i64,
    pub end_ms: i64,
    /// Key suffix: `2026-11-27` for a UTC day (the Django service's format); see [`WindowUnit::label`].
    pub label: String,
}

/// A window's bounds without its label: all a call needs once its key is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Bounds {
    /// See [`WindowSpan::seconds_to_reset`].
    pub fn seconds_to_reset(&self, now_ms: i64) -> u64 {
        let ms = (self.end_ms - now_ms).max(1);
        ((ms + MS_PER_SEC - 1) / MS_PER_SEC) as u64
    }

    /// See [`WindowSpan::key_ttl`].
    pub fn key_ttl(&self, now_ms: i64) -> u64 {
        self.seconds_to_reset(now_ms) + CLOCK_MARGIN_SECS
    }
}

impl WindowSpan {
    pub fn bounds(&self) -> Bounds {
        Bounds {
            start_ms: self.start_ms,
            end_ms: self.end_ms,
        }
    }

    /// Whole seconds from `now_ms` to the reset, rounded up and at least 1, so a TTL derived
    /// from it never expires a counter before its window ends (the Django service's `int()` could give 0).
    pub fn seconds_to_reset(&self, now_ms: i64) -> u64 {
        self.bounds().seconds_to_reset(now_ms)
    }

    /// The TTL of a key of this window written at `now_ms` (its counter, an idempotency
    /// record): to the reset, and [`CLOCK_MARGIN_SECS`] past it for hosts whose clocks are
    /// behind the store's.
    pub fn key_ttl(&self, now_ms: i64) -> u64 {
        self.bounds().key_ttl(now_ms)
    }

    /// The reset instant as RFC 3339 UTC, e.g. `2026-11-28T00:00:00Z`.
    pub fn resets_at(&self) -> String {
        rfc3339_utc(self.end_ms)
    }

    pub fn contains(&self, t: i64) -> bool {
        (self.start_ms..self.end_ms).contains(&t)
    }
}

impl WindowUnit {
    /// The name JS uses (and `limits` takes): `"hour" | "day" | "week" | "month"`.
    pub fn name(self) -> &'static str {
        match self {
            WindowUnit::Hour => "hour",
            WindowUnit::Day => "day",
            WindowUnit::Week => "week",
            WindowUnit::Month => "month",
        }
    }

    /// The bounds of [`WindowUnit::span_at`] without building its label.
    pub fn bounds_at(self, now_ms: i64) -> Bounds {
        let start_ms = self.floor(now_ms);
        Bounds {
            start_ms,
            end_ms: self.next(start_ms),
        }
    }

    /// The UTC window of this unit that contains `now_ms`.
    pub fn span_at(self, now_ms: i64) -> WindowSpan {
        let start_ms = self.floor(now_ms);
        WindowSpan {
            start_ms,
            end_ms: self.next(start_ms),
            label: self.label(start_ms, None),
        }
    }

    /// The window containing `now_ms` on the wall clock of `zone` (`None` = UTC).
    pub fn span_in(
        self,
        zone: Option<&str>,
        zones: &dyn TimeZones,
        now_ms: i64,
    ) -> Result<WindowSpan> {
        let Some(zone) = zone else {
            return Ok(self.span_at(now_ms));
        };
        let mut local_start = self.floor(now_ms + zones.offset_ms(zone, now_ms)?);
        let mut start_ms = first_instant_at(zones, zone, local_start)?;
        let mut end_ms = first_instant_at(zones, zone, self.next(local_start))?;
        while now_ms >= end_ms {
            // The wall clock fell back across the boundary (a zone that leaves DST at
            // midnight): the repeated wall times belong to the window that already began, so
            // windows never overlap and every instant is in exactly one. A fall-back of two
            // hours can cross two hour boundaries (America/St_Johns in 1988), hence a loop;
            // `end_ms` only grows, and passes `now_ms` within the fall-back.
            local_start = self.next(local_start);
            start_ms = end_ms;
            end_ms = first_instant_at(zones, zone, self.next(local_start))?;
        }
        Ok(WindowSpan {
            start_ms,
            end_ms,
            label: self.label(local_start, Some(zone)),
        })
    }

    /// Start of the window containing the wall time `t` (ms, read as UTC).
    fn floor(self, t: i64) -> i64 {
        match self {
            WindowUnit::Hour => t.div_euclid(MS_PER_HOUR) * MS_PER_HOUR,
            WindowUnit::Day => t.div_euclid(MS_PER_DAY) * MS_PER_DAY,
            WindowUnit::Week => {
                let day = date_of(t);
                let since_monday = day.weekday().num_days_from_monday();
                start_of(day - Days::new(since_monday.into()))
            }
            WindowUnit::Month => start_of(date_of(t).with_day(1).expect("every month has a 1st")),
        }
    }

    /// Start of the window after the one starting at wall time `start`.
    fn next(self, start: i64) -> i64 {
        match self {
            WindowUnit::Hour => start + MS_PER_HOUR,
            WindowUnit::Day => start + MS_PER_DAY,
            WindowUnit::Week => start_of(date_of(start) + Days::new(7)),
            WindowUnit::Month => start_of(date_of(start) + Months::new(1)),
        }
    }

    /// The key label of the window starting at wall time `start`. The UTC day keeps the Django service's
    /// `2026-11-27`; every other window has a shape no day label has — `2026-11-27T13` (hour),
    /// `2026-W48` (ISO week), `2026-11` (month) — and a zoned one ends in `@Europe/Paris`, so
    /// no two kinds of window can share a counter.
    pub fn label(self, start: i64, zone: Option<&str>) -> String {
        let t = utc(start);
        let mut label = String::with_capacity(24);
        // chrono's dates and ISO weeks, written by `core::fmt` (chrono's own `format` carries a
        // strftime parser the .wasm does not need).
        let _ = match self {
            WindowUnit::Hour => write!(label, "{}T{:02}", t.date_naive(), t.hour()),
            WindowUnit::Day => write!(label, "{}", t.date_naive()),
            // The ISO week and its year (the year of the week's Thursday): `2026-W48`.
            WindowUnit::Week => write!(label, "{:?}", t.iso_week()),
            WindowUnit::Month => write!(label, "{:04}-{:02}", t.year(), t.month()),
        };
        if let Some(zone) = zone {
            label.push('@');
            label.push_str(zone);
        }
        label
    }
}

/// The instant `ms` (or a wall time read as UTC). Instants stay within years 1970..=10000
/// (`clock.rs`: the clock's range plus one window), where chrono is exact.
fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).expect("an instant within chrono's range")
}

fn date_of(ms: i64) -> NaiveDate {
    utc(ms).date_naive()
}

fn start_of(day: NaiveDate) -> i64 {
    day.and_time(NaiveTime::MIN).and_utc().timestamp_millis()
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a UTC instant (sub-second part dropped).
pub fn rfc3339_utc(ms: i64) -> String {
    utc(ms.div_euclid(MS_PER_SEC) * MS_PER_SEC).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Remembers the last two spans computed per (unit, zone), so a zoned window asks the host
/// for offsets once per window instead of on every call: the current window, and the one
/// after it, which every settle and release needs (a late charge counts there, and the marker
/// outlives it).
#[derive(Debug, Clone, Default)]
pub struct SpanCache {
    spans: Vec<(WindowUnit, String, WindowSpan)>,
}

impl SpanCache {
    const MAX: usize = 32;

    pub fn get(&self, unit: WindowUnit, zone: &str, t: i64) -> Option<WindowSpan> {
        self.spans
            .iter()
            .find(|(u, z, s)| *u == unit && z == zone && s.contains(t))
            .map(|(_, _, s)| s.clone())
    }

    /// [`SpanCache::get`] without the label (no allocation).
    pub fn bounds(&self, unit: WindowUnit, zone: &str, t: i64) -> Option<Bounds> {
        self.spans
            .iter()
            .find(|(u, z, s)| *u == unit && z == zone && s.contains(t))
            .map(|(_, _, s)| s.bounds())
    }

    pub fn put(&mut self, unit: WindowUnit, zone: &str, span: WindowSpan) {
        let same = |(u, z, _): &(WindowUnit, String, WindowSpan)| *u == unit && z == zone;
        if self.spans.iter().filter(|s| same(s)).count() >= 2 {
            let oldest = self.spans.iter().position(same).unwrap();
            self.spans.remove(oldest);
        }
        if self.spans.len() >= Self::MAX {
            self.spans.remove(0);
        }
        self.spans.push((unit, zone.to_owned(), span));
    }
}

#[cfg(test)]
mod tests;
