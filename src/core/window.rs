//! Quota windows: which calendar period an instant falls in, when it resets, and the label
//! that goes into the counter's key. The seed's window is the UTC day; policies may also ask
//! for hours, ISO weeks (Monday first) and months, in UTC or in a time zone. Zoned windows are
//! calendar-aligned on the zone's wall clock, so a day is 23 or 25 hours long across DST.

use super::error::Result;
use super::zone::{first_instant_at, TimeZones};

pub const MS_PER_SEC: i64 = 1000;
pub const MS_PER_HOUR: i64 = 3_600_000;
pub const MS_PER_DAY: i64 = 86_400_000;

/// The length unit of a calendar window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// Key suffix: `2026-11-27` for a UTC day (the seed's format); see [`WindowUnit::label`].
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
}

impl WindowSpan {
    pub fn bounds(&self) -> Bounds {
        Bounds {
            start_ms: self.start_ms,
            end_ms: self.end_ms,
        }
    }

    /// Whole seconds from `now_ms` to the reset, rounded up and at least 1, so a TTL derived
    /// from it never expires a counter before its window ends (the seed's `int()` could give 0).
    pub fn seconds_to_reset(&self, now_ms: i64) -> u64 {
        self.bounds().seconds_to_reset(now_ms)
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
    /// The names JS uses: `"hour" | "day" | "week" | "month"`.
    pub fn parse(name: &str) -> Option<WindowUnit> {
        Some(match name {
            "hour" => WindowUnit::Hour,
            "day" => WindowUnit::Day,
            "week" => WindowUnit::Week,
            "month" => WindowUnit::Month,
            _ => return None,
        })
    }

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
        if now_ms >= end_ms {
            // The wall clock fell back across the boundary (a zone that leaves DST at
            // midnight): the repeated wall times belong to the window that already began, so
            // windows never overlap and every instant is in exactly one.
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
                let days = t.div_euclid(MS_PER_DAY);
                // 1970-01-01 was a Thursday: 3 days after a Monday.
                (days - (days + 3).rem_euclid(7)) * MS_PER_DAY
            }
            WindowUnit::Month => {
                let (y, m, _) = civil_from_days(t.div_euclid(MS_PER_DAY));
                days_from_civil(y, m, 1) * MS_PER_DAY
            }
        }
    }

    /// Start of the window after the one starting at wall time `start`.
    fn next(self, start: i64) -> i64 {
        match self {
            WindowUnit::Hour => start + MS_PER_HOUR,
            WindowUnit::Day => start + MS_PER_DAY,
            WindowUnit::Week => start + 7 * MS_PER_DAY,
            WindowUnit::Month => {
                let (y, m, _) = civil_from_days(start.div_euclid(MS_PER_DAY));
                let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                days_from_civil(y, m, 1) * MS_PER_DAY
            }
        }
    }

    /// The key label of the window starting at wall time `start`. The UTC day keeps the seed's
    /// `2026-11-27`; every other window has a shape no day label has — `2026-11-27T13` (hour),
    /// `2026-W48` (ISO week), `2026-11` (month) — and a zoned one ends in `@Europe/Paris`, so
    /// no two kinds of window can share a counter.
    pub fn label(self, start: i64, zone: Option<&str>) -> String {
        let days = start.div_euclid(MS_PER_DAY);
        let mut label = String::with_capacity(24);
        match self {
            WindowUnit::Hour => {
                push_iso_date(&mut label, days);
                label.push('T');
                push_padded(
                    &mut label,
                    (start.rem_euclid(MS_PER_DAY) / MS_PER_HOUR) as u64,
                    2,
                );
            }
            WindowUnit::Day => push_iso_date(&mut label, days),
            WindowUnit::Week => {
                // The ISO week belongs to the year of its Thursday.
                let thursday = days - (days + 3).rem_euclid(7) + 3;
                let (year, _, _) = civil_from_days(thursday);
                let week = (thursday - days_from_civil(year, 1, 1)) / 7 + 1;
                push_padded(&mut label, year as u64, 4);
                label.push_str("-W");
                push_padded(&mut label, week as u64, 2);
            }
            WindowUnit::Month => {
                let (y, m, _) = civil_from_days(days);
                push_padded(&mut label, y as u64, 4);
                label.push('-');
                push_padded(&mut label, m.into(), 2);
            }
        }
        if let Some(zone) = zone {
            label.push('@');
            label.push_str(zone);
        }
        label
    }
}

/// The proleptic Gregorian (year, month, day) of a day number counted from 1970-01-01
/// (Howard Hinnant's `civil_from_days`): a few integer operations instead of a date library.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// The day number (from 1970-01-01) of a proleptic Gregorian date; inverse of
/// [`civil_from_days`].
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// Appends `n` in decimal with at least `width` digits (zero-padded). Hand-written so that key
/// labels and `resetsAt` do without `core::fmt`.
pub fn push_padded(out: &mut String, n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = i.min(digits.len() - width.min(digits.len()));
    out.extend(digits[start..].iter().map(|&b| b as char));
}

/// `YYYY-MM-DD` of day number `days`, as Python's `date.isoformat()` writes it.
pub fn iso_date(days: i64) -> String {
    let mut out = String::with_capacity(10);
    push_iso_date(&mut out, days);
    out
}

fn push_iso_date(out: &mut String, days: i64) {
    let (y, m, d) = civil_from_days(days);
    push_padded(out, y as u64, 4); // years 1970..=10000 (clock::MIN_MS..=MAX_MS, plus a window)
    out.push('-');
    push_padded(out, m.into(), 2);
    out.push('-');
    push_padded(out, d.into(), 2);
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a UTC instant (sub-second part dropped).
pub fn rfc3339_utc(ms: i64) -> String {
    let secs = ms.div_euclid(MS_PER_SEC);
    let sod = secs.rem_euclid(86_400) as u64;
    let mut out = String::with_capacity(24);
    push_iso_date(&mut out, secs.div_euclid(86_400));
    for (sep, n) in [('T', sod / 3600), (':', sod / 60 % 60), (':', sod % 60)] {
        out.push(sep);
        push_padded(&mut out, n, 2);
    }
    out.push('Z');
    out
}

/// Remembers the last span computed per (unit, zone), so a zoned window asks the host for
/// offsets once per window instead of on every call.
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
        self.spans.retain(|(u, z, _)| !(*u == unit && z == zone));
        if self.spans.len() >= Self::MAX {
            self.spans.remove(0);
        }
        self.spans.push((unit, zone.to_owned(), span));
    }
}

#[cfg(test)]
mod tests;
