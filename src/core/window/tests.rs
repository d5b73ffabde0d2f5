use super::*;
use crate::core::zone::fake::FakeZones;
use chrono::DateTime;

const NOV_27_2026: i64 = 1_795_737_600_000; // 2026-11-27T00:00:00Z, a Friday
const H: i64 = MS_PER_HOUR;

fn at(s: &str) -> i64 {
    DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
}

fn paris(unit: WindowUnit, t: i64) -> WindowSpan {
    unit.span_in(Some("Europe/Paris"), &FakeZones, t).unwrap()
}

#[test]
fn utc_day_window_and_labels() {
    let w = WindowUnit::Day.span_at(NOV_27_2026 + 13 * H);
    assert_eq!(w.label, "2026-11-27");
    assert_eq!(w.start_ms, NOV_27_2026);
    assert_eq!(w.resets_at(), "2026-11-28T00:00:00Z");
    assert_eq!(w.seconds_to_reset(NOV_27_2026 + 13 * H), 11 * 3600);
}

#[test]
fn reset_seconds_round_up_and_never_zero() {
    let w = WindowUnit::Day.span_at(NOV_27_2026);
    assert_eq!(w.seconds_to_reset(w.end_ms - 1), 1);
    assert_eq!(w.seconds_to_reset(w.end_ms - 1500), 2);
    assert_eq!(w.seconds_to_reset(w.start_ms), 86_400);
    // At and past the end (a call on a window its clock has left): still 1, never a TTL of 0.
    assert_eq!(w.seconds_to_reset(w.end_ms), 1);
    assert_eq!(w.seconds_to_reset(w.end_ms + 5_000), 1);
}

#[test]
fn rfc3339_formats_time_of_day() {
    assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339_utc(NOV_27_2026 + 3_723_999), "2026-11-27T01:02:03Z");
}

#[test]
fn utc_hours_weeks_and_months() {
    let t = NOV_27_2026 + 13 * H + 59 * 60_000;
    let h = WindowUnit::Hour.span_at(t);
    assert_eq!(
        (h.label.as_str(), h.start_ms, h.end_ms),
        ("2026-11-27T13", NOV_27_2026 + 13 * H, NOV_27_2026 + 14 * H)
    );
    let w = WindowUnit::Week.span_at(t);
    assert_eq!(w.label, "2026-W48");
    assert_eq!(rfc3339_utc(w.start_ms), "2026-11-23T00:00:00Z"); // Monday
    assert_eq!(w.resets_at(), "2026-11-30T00:00:00Z");
    let m = WindowUnit::Month.span_at(t);
    assert_eq!(m.label, "2026-11");
    assert_eq!(rfc3339_utc(m.start_ms), "2026-11-01T00:00:00Z");
    assert_eq!(m.resets_at(), "2026-12-01T00:00:00Z");
    let dec = WindowUnit::Month.span_at(at("2026-12-31T23:59:59Z"));
    assert_eq!(
        (dec.label.as_str(), dec.resets_at()),
        ("2026-12", "2027-01-01T00:00:00Z".into())
    );
    // ISO week-years: 2027-01-01 (a Friday) is in 2026's week 53.
    assert_eq!(
        WindowUnit::Week.span_at(at("2027-01-01T12:00:00Z")).label,
        "2026-W53"
    );
}

#[test]
fn labels_never_take_the_django_day_shape() {
    let t = NOV_27_2026 + 5 * H;
    let labels: Vec<String> = [
        WindowUnit::Hour,
        WindowUnit::Day,
        WindowUnit::Week,
        WindowUnit::Month,
    ]
    .iter()
    .flat_map(|u| [u.span_at(t).label, paris(*u, t).label])
    .collect();
    let day_shape = |l: &str| l.len() == 10 && l.as_bytes()[4] == b'-' && l.as_bytes()[7] == b'-';
    let django_days: Vec<&String> = labels.iter().filter(|l| day_shape(l)).collect();
    assert_eq!(django_days, vec!["2026-11-27"]); // only the UTC day, which is the Django service's own window
    let mut unique = labels.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), labels.len());
    assert_eq!(paris(WindowUnit::Day, t).label, "2026-11-27@Europe/Paris");
}

#[test]
fn paris_spring_forward_day_has_23_hours() {
    let d = paris(WindowUnit::Day, at("2026-03-29T12:00:00Z"));
    assert_eq!(d.label, "2026-03-29@Europe/Paris");
    assert_eq!(rfc3339_utc(d.start_ms), "2026-03-28T23:00:00Z");
    assert_eq!(d.resets_at(), "2026-03-29T22:00:00Z");
    assert_eq!(d.end_ms - d.start_ms, 23 * H);
    assert_eq!(d.seconds_to_reset(at("2026-03-29T12:00:00Z")), 10 * 3600);
}

#[test]
fn paris_fall_back_day_has_25_hours() {
    let d = paris(WindowUnit::Day, at("2026-10-25T00:30:00Z"));
    assert_eq!(d.label, "2026-10-25@Europe/Paris");
    assert_eq!(rfc3339_utc(d.start_ms), "2026-10-24T22:00:00Z");
    assert_eq!(d.resets_at(), "2026-10-25T23:00:00Z");
    assert_eq!(d.end_ms - d.start_ms, 25 * H);
    // Both readings of 02:30 local are in the same day.
    assert_eq!(paris(WindowUnit::Day, at("2026-10-25T01:30:00Z")), d);
}

#[test]
fn paris_hours_across_dst() {
    // Spring: 02:00-03:00 does not exist; 01:00 local lasts until the jump, then 03:00 starts.
    let h1 = paris(WindowUnit::Hour, at("2026-03-29T00:30:00Z"));
    assert_eq!(
        (h1.label.as_str(), h1.resets_at()),
        ("2026-03-29T01@Europe/Paris", "2026-03-29T01:00:00Z".into())
    );
    let h3 = paris(WindowUnit::Hour, at("2026-03-29T01:00:00Z"));
    assert_eq!(h3.label, "2026-03-29T03@Europe/Paris");
    assert_eq!(
        (h3.start_ms, h3.end_ms),
        (at("2026-03-29T01:00:00Z"), at("2026-03-29T02:00:00Z"))
    );
    // Fall: 02:00-03:00 happens twice; it is one window of two hours.
    let first = paris(WindowUnit::Hour, at("2026-10-25T00:10:00Z"));
    let second = paris(WindowUnit::Hour, at("2026-10-25T01:50:00Z"));
    assert_eq!(first, second);
    assert_eq!(first.label, "2026-10-25T02@Europe/Paris");
    assert_eq!(
        (first.start_ms, first.end_ms),
        (at("2026-10-25T00:00:00Z"), at("2026-10-25T02:00:00Z"))
    );
}

#[test]
fn paris_weeks_and_months_follow_the_wall_clock() {
    let w = paris(WindowUnit::Week, at("2026-03-29T21:59:59Z")); // Sunday 23:59:59 local
    assert_eq!(w.label, "2026-W13@Europe/Paris");
    assert_eq!(rfc3339_utc(w.start_ms), "2026-03-22T23:00:00Z"); // Monday 00:00 +01:00
    assert_eq!(w.resets_at(), "2026-03-29T22:00:00Z"); // Monday 00:00 +02:00
    assert_eq!(w.end_ms - w.start_ms, 7 * 24 * H - H);
    let m = paris(WindowUnit::Month, at("2026-10-31T23:30:00Z")); // already November in Paris
    assert_eq!(m.label, "2026-11@Europe/Paris");
    assert_eq!(rfc3339_utc(m.start_ms), "2026-10-31T23:00:00Z");
    assert_eq!(m.resets_at(), "2026-11-30T23:00:00Z");
}

#[test]
fn half_hour_offsets_shift_hours() {
    let h = WindowUnit::Hour
        .span_in(Some("Asia/Kolkata"), &FakeZones, at("2026-11-27T10:00:00Z"))
        .unwrap();
    assert_eq!(h.label, "2026-11-27T15@Asia/Kolkata");
    assert_eq!(
        (rfc3339_utc(h.start_ms), h.resets_at()),
        ("2026-11-27T09:30:00Z".into(), "2026-11-27T10:30:00Z".into())
    );
}

#[test]
fn zones_that_change_at_midnight() {
    let z = |t: &str| {
        WindowUnit::Day
            .span_in(Some("Test/MidnightGap"), &FakeZones, at(t))
            .unwrap()
    };
    // Spring: local midnight is skipped; the day starts at the jump and is 23 hours long.
    let d = z("2026-03-29T05:00:00Z");
    assert_eq!(
        (rfc3339_utc(d.start_ms), d.resets_at()),
        ("2026-03-29T00:00:00Z".into(), "2026-03-29T23:00:00Z".into())
    );
    // Fall: 00:30 on the 25th falls back to 23:30 on the 24th. The repeated 23:30-24:00 belongs
    // to the 25th, which began at the first midnight, so windows never overlap.
    let d24 = z("2026-10-24T22:30:00Z");
    let d25 = z("2026-10-24T23:40:00Z"); // 23:40 local, the second time
    assert_eq!(d24.label, "2026-10-24@Test/MidnightGap");
    assert_eq!(d25.label, "2026-10-25@Test/MidnightGap");
    assert_eq!(d24.end_ms, d25.start_ms);
    assert_eq!(d25.start_ms, at("2026-10-24T23:00:00Z"));
    assert_eq!(d25.resets_at(), "2026-10-26T00:00:00Z");
}

#[test]
fn a_window_that_starts_inside_a_gap_starts_at_the_jump_to_the_millisecond() {
    // Test/MinuteGap jumps from 00:01 to 01:01 at 2026-03-29T00:01:00Z: local 01:00 never
    // happens, so the hour "01" starts at the jump itself. An instant after the jump is never
    // in the hour before, and `resetsAt` (whole seconds) is the true start.
    use crate::core::zone::fake::MINUTE_GAP;
    let z = |t| {
        WindowUnit::Hour
            .span_in(Some("Test/MinuteGap"), &FakeZones, t)
            .unwrap()
    };
    assert_eq!(z(MINUTE_GAP - 1).end_ms, MINUTE_GAP);
    for t in [MINUTE_GAP, MINUTE_GAP + 1, MINUTE_GAP + 999] {
        let h = z(t);
        assert_eq!(h.label, "2026-03-29T01@Test/MinuteGap");
        assert_eq!(h.start_ms, MINUTE_GAP);
    }
}

#[test]
fn a_fall_back_of_two_hours_keeps_every_instant_in_a_window_that_holds_it() {
    // Test/TwoHourFallBack: at 2026-10-25T00:30:00Z the wall clock goes from 00:30 back to
    // 22:30 on the 24th. The hours 23:00 and 00:00 both began before the jump: the repeated
    // wall times belong to the hour "00", which lasts until 01:00 comes round again (03:00Z).
    use crate::core::zone::fake::TWO_HOUR_FALL;
    let z = |t| {
        WindowUnit::Hour
            .span_in(Some("Test/TwoHourFallBack"), &FakeZones, t)
            .unwrap()
    };
    for t in [
        TWO_HOUR_FALL - 1,
        TWO_HOUR_FALL,
        TWO_HOUR_FALL + 2 * H + 29 * 60_000,
    ] {
        let h = z(t);
        assert!(h.contains(t), "{h:?} does not hold {t}");
        assert_eq!(h.label, "2026-10-25T00@Test/TwoHourFallBack");
        assert_eq!(h.resets_at(), "2026-10-25T03:00:00Z");
    }
}

#[test]
fn span_cache_answers_only_inside_the_window() {
    let mut c = SpanCache::default();
    let s = paris(WindowUnit::Day, at("2026-03-29T12:00:00Z"));
    c.put(WindowUnit::Day, "Europe/Paris", s.clone());
    assert_eq!(
        c.get(WindowUnit::Day, "Europe/Paris", s.end_ms - 1),
        Some(s.clone())
    );
    assert_eq!(c.get(WindowUnit::Day, "Europe/Paris", s.end_ms), None);
    assert_eq!(c.get(WindowUnit::Hour, "Europe/Paris", s.start_ms), None);
}

#[test]
fn span_cache_keeps_the_last_two_spans_of_a_zone_and_at_most_max_in_all() {
    let mut c = SpanCache::default();
    let days: Vec<WindowSpan> = [
        "2026-03-28T12:00:00Z",
        "2026-03-29T12:00:00Z",
        "2026-03-30T12:00:00Z",
    ]
    .iter()
    .map(|t| paris(WindowUnit::Day, at(t)))
    .collect();
    for d in &days {
        c.put(WindowUnit::Day, "Europe/Paris", d.clone());
    }
    // The oldest made room: the current window and the one after it stay.
    assert_eq!(
        c.get(WindowUnit::Day, "Europe/Paris", days[0].start_ms),
        None
    );
    assert_eq!(
        c.get(WindowUnit::Day, "Europe/Paris", days[1].start_ms),
        Some(days[1].clone())
    );
    assert_eq!(
        c.get(WindowUnit::Day, "Europe/Paris", days[2].start_ms),
        Some(days[2].clone())
    );
    // However many zones come by, the cache stays bounded.
    for i in 0..2 * SpanCache::MAX {
        c.put(WindowUnit::Day, &format!("Zone/{i}"), days[0].clone());
    }
    assert_eq!(c.spans.len(), SpanCache::MAX);
}

#[test]
fn windows_and_labels_at_the_ends_of_the_clock_range() {
    assert_eq!(WindowUnit::Day.label(0, None), "1970-01-01");
    let last = crate::core::clock::MAX_MS;
    let m = WindowUnit::Month.span_at(last);
    assert_eq!(m.label, "9999-12");
    assert_eq!(m.end_ms, 253_402_300_800_000);
    // A reset in year 10000 is written the way chrono writes five-digit years.
    assert_eq!(rfc3339_utc(253_402_300_800_000), "+10000-01-01T00:00:00Z");
}

#[test]
fn weeks_and_months_tile_the_calendar() {
    // Every window starts where the previous one ended, 1970 to 2100, and holds its instants.
    for unit in [WindowUnit::Week, WindowUnit::Month] {
        let mut w = unit.span_at(0);
        while w.end_ms < 4_102_444_800_000 {
            let next = unit.span_at(w.end_ms);
            assert_eq!(next.start_ms, w.end_ms, "{} after {}", unit.name(), w.label);
            assert_eq!(unit.span_at(w.end_ms - 1), w);
            assert_ne!(next.label, w.label);
            w = next;
        }
    }
}
