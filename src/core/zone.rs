//! Time-zone offsets, injected. The core bundles no tz data: the host says what a zone's UTC
//! offset is at an instant (in JS, the binding asks `Intl.DateTimeFormat`), just as it says what
//! time it is. From that single question this module finds where a local wall-clock time falls
//! in UTC, including across DST gaps and overlaps.

use super::error::Result;
use std::fmt;

/// What the host knows about time zones.
pub trait TimeZones: fmt::Debug {
    /// The UTC offset of `zone` at the instant `utc_ms`, in ms: local wall time = `utc_ms +
    /// offset`. `zone` is a name the host accepted when the limits were configured.
    fn offset_ms(&self, zone: &str, utc_ms: i64) -> Result<i64>;
}

/// The default source: knows no zone but UTC. Engines built natively without zone support
/// refuse zoned policies when they first compute a window.
#[derive(Debug, Clone, Copy, Default)]
pub struct UtcOnly;

impl TimeZones for UtcOnly {
    fn offset_ms(&self, zone: &str, _: i64) -> Result<i64> {
        Err(super::error::QuotaError::config(format!(
            "time zone \"{zone}\" needs a time-zone source (the JS package uses Intl)"
        )))
    }
}

/// Longest DST shift or offset change we look around for; real ones are at most a few hours,
/// and no zone changes offset twice within a day.
const SEARCH_MS: i64 = 86_400_000;

/// The first instant whose wall-clock time in `zone` is at or after the local time `local_ms`
/// (wall time written as if it were UTC ms). For an ordinary time that is its one instant; in a
/// fall-back overlap, the earlier of the two; inside a spring-forward gap, the transition
/// itself (Temporal's `startOfDay` makes the same choices).
pub fn first_instant_at(zones: &dyn TimeZones, zone: &str, local_ms: i64) -> Result<i64> {
    let before = zones.offset_ms(zone, local_ms - SEARCH_MS)?;
    let after = zones.offset_ms(zone, local_ms + SEARCH_MS)?;
    let local_at = |t: i64| -> Result<i64> { Ok(t + zones.offset_ms(zone, t)?) };
    let mut exact = None;
    for offset in [before, after] {
        let t = local_ms - offset;
        if local_at(t)? == local_ms {
            exact = Some(exact.map_or(t, |e: i64| e.min(t)));
        }
    }
    if let Some(t) = exact {
        return Ok(t);
    }
    // A gap: wall time jumps over `local_ms`. The transition lies between the two candidates;
    // find the first second whose wall time is past `local_ms`. Both candidates are whole
    // seconds (offsets are), and so is every step: the answer is the transition's own second,
    // not a millisecond up to a second after it (which would put instants after the jump in
    // the window before it, and make `resetsAt`, in whole seconds, read before the true end).
    let (mut lo, mut hi) = {
        let (a, b) = (local_ms - before, local_ms - after);
        (a.min(b), a.max(b))
    };
    if local_at(lo)? >= local_ms || local_at(hi)? < local_ms {
        // Not a single simple transition: fall back to the pre-transition reading.
        return Ok(local_ms - before);
    }
    while hi - lo > 1000 {
        let mid = lo + ((hi - lo) / 2000 * 1000).max(1000);
        if local_at(mid)? >= local_ms {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

/// Rule-based zones for tests, like [`super::clock::FakeClock`] (real tz rules, written out by
/// hand for 2026).
pub mod fake {
    use super::*;
    use crate::core::error::QuotaError;

    /// `Europe/Paris` (EU rules since 1996: +02:00 from the last Sunday of March 01:00 UTC to
    /// the last Sunday of October 01:00 UTC, else +01:00), `Asia/Kolkata` (+05:30),
    /// `Test/MidnightGap` (+00:00, jumping to +01:00 at 2026-03-29 00:00 local, and back at
    /// 2026-10-25 00:30 local to 23:30 of the day before, so the wall clock reads past
    /// midnight and then falls back behind it), and two shapes America/St_Johns had from 1987
    /// to 1988 (it changed at 00:01, and in 1988 fell back two hours): `Test/MinuteGap`
    /// (+00:00, jumping to +01:00 at 2026-03-29 00:01 local, so local 01:00 never happens)
    /// and `Test/TwoHourFallBack` (+00:00, falling back to -02:00 at 2026-10-25 00:30 local,
    /// to 22:30 of the day before).
    #[derive(Debug, Default)]
    pub struct FakeZones;

    const H: i64 = 3_600_000;
    pub const PARIS_SPRING_2026: i64 = 1_774_746_000_000; // 2026-03-29T01:00:00Z
    pub const PARIS_FALL_2026: i64 = 1_792_890_000_000; // 2026-10-25T01:00:00Z
    const GAP_ON: i64 = 1_774_742_400_000; // 2026-03-29T00:00:00Z
    const GAP_OFF: i64 = 1_792_884_600_000; // 2026-10-24T23:30:00Z
    pub const MINUTE_GAP: i64 = 1_774_742_460_000; // 2026-03-29T00:01:00Z
    pub const TWO_HOUR_FALL: i64 = 1_792_888_200_000; // 2026-10-25T00:30:00Z

    impl TimeZones for FakeZones {
        fn offset_ms(&self, zone: &str, t: i64) -> Result<i64> {
            match zone {
                "Europe/Paris" if (PARIS_SPRING_2026..PARIS_FALL_2026).contains(&t) => Ok(2 * H),
                "Europe/Paris" => Ok(H),
                "Asia/Kolkata" => Ok(5 * H + H / 2),
                "Test/MidnightGap" if (GAP_ON..GAP_OFF).contains(&t) => Ok(H),
                "Test/MidnightGap" => Ok(0),
                "Test/MinuteGap" if t >= MINUTE_GAP => Ok(H),
                "Test/MinuteGap" => Ok(0),
                "Test/TwoHourFallBack" if t >= TWO_HOUR_FALL => Ok(-2 * H),
                "Test/TwoHourFallBack" => Ok(0),
                _ => Err(QuotaError::config(format!("unknown zone {zone}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::*;
    use super::*;

    const H: i64 = 3_600_000;
    const MAR_29: i64 = 1_774_742_400_000; // 2026-03-29T00:00:00Z as local wall time

    #[test]
    fn ordinary_local_times_have_one_instant() {
        let z = FakeZones;
        // 2026-03-29 00:00 in Paris is 2026-03-28T23:00Z (+01:00).
        assert_eq!(
            first_instant_at(&z, "Europe/Paris", MAR_29).unwrap(),
            MAR_29 - H
        );
        assert_eq!(
            first_instant_at(&z, "Europe/Paris", MAR_29 + 24 * H).unwrap(),
            MAR_29 + 22 * H
        );
    }

    #[test]
    fn a_gap_maps_to_the_transition() {
        let z = FakeZones;
        // 02:30 does not exist in Paris on 2026-03-29: the first instant after is 01:00Z.
        let t = first_instant_at(&z, "Europe/Paris", MAR_29 + 2 * H + H / 2).unwrap();
        assert_eq!(t, PARIS_SPRING_2026);
        // Midnight itself is skipped in the test zone: the day starts at the jump.
        assert_eq!(
            first_instant_at(&z, "Test/MidnightGap", MAR_29).unwrap(),
            MAR_29
        );
    }

    #[test]
    fn an_overlap_maps_to_the_earlier_instant() {
        let z = FakeZones;
        let oct_25 = PARIS_FALL_2026 - H; // 2026-10-25T00:00:00Z
                                          // 02:30 happens twice in Paris on 2026-10-25: at 00:30Z (+02:00) and 01:30Z (+01:00).
        let t = first_instant_at(&z, "Europe/Paris", oct_25 + 2 * H + H / 2).unwrap();
        assert_eq!(t, oct_25 + H / 2);
    }
}
