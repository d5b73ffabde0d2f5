//! Beyond the Django service, natively with a fake clock and fake zones: calendar windows in time zones
//! (across DST) and several policies per feature.

use wasm_quota::core::window::WindowUnit::{Day, Hour, Month, Week};
use wasm_quota::core::*;

mod zones;
use zones::CountingZones;

use std::rc::Rc;

/// The native API over the in-process store, on a clock the test moves.
type Q = Quota<MemoryStore<FakeClock>, FakeClock>;

const H: i64 = 3_600_000;

fn at(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .timestamp_millis()
}

fn world(now: &str, features: Vec<(&str, Vec<Policy>)>) -> Q {
    let clock = FakeClock::at(at(now));
    let mut limits = Limits::default();
    for (f, p) in features {
        limits.insert(f, p).unwrap();
    }
    Quota::new(
        Engine::new(limits).with_time_zones(Rc::new(FakeZones)),
        MemoryStore::new(clock.clone()),
        clock,
    )
}

fn pol(limit: i64, w: WindowUnit, zone: Option<&str>) -> Policy {
    Policy::new(None, limit, w, zone).unwrap()
}

fn me() -> Profile {
    Profile::limited(ProfileId::number(42).unwrap())
}

#[test]
fn a_paris_day_of_23_hours_resets_at_paris_midnight() {
    let mut w = world(
        "2026-03-29T12:00:00Z",
        vec![("remix", vec![pol(2, Day, Some("Europe/Paris"))])],
    );
    w.reserve(&me(), "remix", 1).unwrap();
    w.reserve(&me(), "remix", 1).unwrap();
    let d = w.reserve(&me(), "remix", 1).unwrap();
    assert!(!d.allowed);
    assert_eq!(d.resets_at(), "2026-03-29T22:00:00Z");
    assert_eq!(d.retry_after, Some(10 * 3600));
    assert_eq!(
        (d.policy_name.as_deref(), d.window),
        (Some("daily"), Some(Day))
    );
    // The counter's TTL follows the short day: gone ten minutes (the clock margin) after
    // Paris midnight, not after UTC midnight.
    let key = "ai_quota:42:remix:2026-03-29@Europe/Paris";
    w.clock().set(at("2026-03-29T21:59:59Z"));
    assert_eq!(w.store_mut().peek(key), Some(2));
    assert!(!w.reserve(&me(), "remix", 1).unwrap().allowed);
    w.clock().set(at("2026-03-29T22:09:59Z"));
    assert_eq!(w.store_mut().peek(key), Some(2));
    w.clock().set(at("2026-03-29T22:10:00Z"));
    assert_eq!(w.store_mut().peek(key), None);
    let d = w.reserve(&me(), "remix", 1).unwrap();
    assert!(d.allowed);
    assert_eq!(
        (d.used, d.resets_at()),
        (1, "2026-03-30T22:00:00Z".to_owned())
    );
}

#[test]
fn a_paris_day_of_25_hours_keeps_counting_through_the_repeated_hour() {
    let mut w = world(
        "2026-10-24T22:30:00Z",
        vec![("remix", vec![pol(3, Day, Some("Europe/Paris"))])],
    );
    w.reserve(&me(), "remix", 1).unwrap(); // 00:30 +02:00
    w.clock().set(at("2026-10-25T00:30:00Z")); // 02:30 +02:00
    w.reserve(&me(), "remix", 1).unwrap();
    w.clock().set(at("2026-10-25T01:30:00Z")); // 02:30 +01:00, the second time
    let d = w.reserve(&me(), "remix", 1).unwrap();
    assert!(d.allowed);
    assert_eq!(d.used, 3);
    assert_eq!(d.resets_at(), "2026-10-25T23:00:00Z");
    w.clock().set(at("2026-10-25T22:59:59Z")); // 23:59:59 +01:00, 24.5 hours after the first
    let d = w.reserve(&me(), "remix", 1).unwrap();
    assert!(!d.allowed);
    assert_eq!(d.retry_after, Some(1));
    w.clock().set(at("2026-10-25T23:00:00Z"));
    assert!(w.reserve(&me(), "remix", 1).unwrap().allowed);
}

#[test]
fn windows_of_every_kind_have_their_own_counters() {
    let mut w = world(
        "2026-11-27T13:20:00Z",
        vec![
            ("h", vec![pol(9, Hour, None)]),
            ("w", vec![pol(9, Week, Some("Europe/Paris"))]),
            ("m", vec![pol(9, Month, None)]),
            ("d", vec![pol(9, Day, None)]),
        ],
    );
    let resets: Vec<String> = ["h", "w", "m", "d"]
        .iter()
        .map(|f| w.reserve(&me(), f, 1).unwrap().resets_at())
        .collect();
    assert_eq!(
        resets,
        [
            "2026-11-27T14:00:00Z",
            "2026-11-29T23:00:00Z", // Monday 00:00 in Paris
            "2026-12-01T00:00:00Z",
            "2026-11-28T00:00:00Z",
        ]
    );
    for key in [
        "ai_quota:42:h:2026-11-27T13",
        "ai_quota:42:w:2026-W48@Europe/Paris",
        "ai_quota:42:m:2026-11",
        // A policy object over the UTC day is the Django service's own window, and its key.
        "ai_quota:42:d:2026-11-27",
    ] {
        assert_eq!(w.store_mut().peek(key), Some(1), "{key}");
    }
}

#[test]
fn several_policies_all_must_pass_and_count_in_all_or_none() {
    let hour_and_day = vec![pol(2, Hour, None), pol(3, Day, Some("Europe/Paris"))];
    let mut w = world("2026-11-27T10:00:00Z", vec![("remix", hour_and_day)]);
    let hour_key = |h: &str| format!("ai_quota:42:remix:2026-11-27T{h}");
    let day_key = "ai_quota:42:remix:2026-11-27@Europe/Paris";
    let d = w.reserve(&me(), "remix", 1).unwrap();
    // Allowed decisions describe the policy with the fewest remaining.
    assert_eq!((d.policy_name.as_deref(), d.remaining), (Some("hourly"), 1));
    w.reserve(&me(), "remix", 1).unwrap();
    let d = w.reserve(&me(), "remix", 1).unwrap();
    assert!(!d.allowed);
    assert_eq!(
        (d.policy_name.as_deref(), d.policy, d.limit, d.used),
        (Some("hourly"), 0, 2, 2)
    );
    assert_eq!(d.retry_after, Some(3600));
    // The denial rolled back: neither counter moved.
    assert_eq!(
        (
            w.store_mut().peek(&hour_key("10")),
            w.store_mut().peek(day_key)
        ),
        (Some(2), Some(2))
    );

    w.clock().advance(H);
    let d = w.reserve(&me(), "remix", 1).unwrap();
    assert!(d.allowed);
    assert_eq!((d.policy_name.as_deref(), d.remaining), (Some("daily"), 0));
    // Now the day denies, and the new hour's count is rolled back.
    let d = w.reserve(&me(), "remix", 1).unwrap();
    assert!(!d.allowed);
    assert_eq!(
        (d.policy_name.as_deref(), d.policy, d.used),
        (Some("daily"), 1, 3)
    );
    assert_eq!(d.resets_at(), "2026-11-27T23:00:00Z");
    assert_eq!(
        (
            w.store_mut().peek(&hour_key("11")),
            w.store_mut().peek(day_key)
        ),
        (Some(1), Some(3))
    );
    let c = w.check(&me(), "remix", 1).unwrap();
    assert!(!c.allowed);
    assert_eq!(c.policy_name.as_deref(), Some("daily"));
}

#[test]
fn plain_number_limits_do_not_name_their_policy() {
    let mut w = world(
        "2026-11-27T10:00:00Z",
        vec![("tips", vec![Policy::daily(1).unwrap()])],
    );
    let d = w.reserve(&me(), "tips", 1).unwrap();
    assert_eq!((d.policy_name, d.window), (None, None));
    let d = w.reserve(&me(), "tips", 1).unwrap();
    assert!(!d.allowed);
    assert_eq!((d.policy_name, d.window), (None, None));
}

#[test]
fn a_reservation_is_released_from_its_own_zoned_window() {
    let mut w = world(
        "2026-03-29T21:59:00Z",
        vec![("remix", vec![pol(1, Day, Some("Europe/Paris"))])],
    );
    let old = w.reserve(&me(), "remix", 1).unwrap();
    w.clock().set(at("2026-03-29T22:00:01Z")); // the next Paris day
    assert!(w.reserve(&me(), "remix", 1).unwrap().allowed);
    w.release(&me(), &old.reservation_token().unwrap(), None)
        .unwrap();
    assert!(!w.reserve(&me(), "remix", 1).unwrap().allowed);
}

#[test]
fn zoned_policies_need_a_zone_source() {
    let limits = {
        let mut l = Limits::default();
        l.insert("remix", vec![pol(1, Day, Some("Europe/Paris"))])
            .unwrap();
        l
    };
    let err = Engine::new(limits)
        .reserve(&me(), "remix", 1, at("2026-03-29T12:00:00Z"))
        .err()
        .unwrap();
    assert_eq!(err.code, ErrorCode::InvalidConfig);
}

#[test]
fn a_denial_names_the_policy_that_denies_longest() {
    // Hour and day both full at 12:30: the hour's reset would send the client back at 13:00 to
    // be denied by the day, so the denial is the day's. In either order of the policies.
    for day_first in [false, true] {
        let (hour, day) = (pol(3, Hour, None), pol(3, Day, None));
        let policies = if day_first {
            vec![day, hour]
        } else {
            vec![hour, day]
        };
        let mut w = world("2026-11-27T12:30:00Z", vec![("chat", policies)]);
        for _ in 0..3 {
            assert!(w.reserve(&me(), "chat", 1).unwrap().allowed);
        }
        for d in [
            w.reserve(&me(), "chat", 1).unwrap(),
            w.check(&me(), "chat", 1).unwrap(),
        ] {
            assert!(!d.allowed);
            assert_eq!(
                d.policy_name.as_deref(),
                Some("daily"),
                "day first: {day_first}"
            );
            assert_eq!(d.resets_at(), "2026-11-28T00:00:00Z");
            assert_eq!(d.retry_after, Some(11 * 3600 + 1800));
        }
    }
    // Only the hour full: its reset is when the amount fits again.
    let policies = vec![pol(3, Hour, None), pol(10, Day, None)];
    let mut w = world("2026-11-27T12:30:00Z", vec![("chat", policies)]);
    for _ in 0..3 {
        w.reserve(&me(), "chat", 1).unwrap();
    }
    let d = w.reserve(&me(), "chat", 1).unwrap();
    assert_eq!(
        (d.policy_name.as_deref(), d.retry_after),
        (Some("hourly"), Some(1800))
    );
    w.clock().advance(1800 * 1000);
    assert!(w.reserve(&me(), "chat", 1).unwrap().allowed);
}

#[test]
fn a_two_hour_fall_back_does_not_reopen_an_hour() {
    // At 2026-10-25T00:30:00Z Test/TwoHourFallBack's wall clock goes from 00:30 back to 22:30
    // (as America/St_Johns did in 1988): the hour "00" lasts until 03:00Z. Its counter must
    // too: a counter kept for one second would admit the limit again every second.
    let mut w = world(
        "2026-10-25T00:31:00Z",
        vec![("chat", vec![pol(1, Hour, Some("Test/TwoHourFallBack"))])],
    );
    let first = w.reserve(&me(), "chat", 1).unwrap();
    assert!(first.allowed);
    w.clock().advance(60_000);
    let d = w.reserve(&me(), "chat", 1).unwrap();
    assert!(!d.allowed, "admitted twice in one hour: {d:?}");
    assert_eq!(first.resets_at(), "2026-10-25T03:00:00Z");
    assert_eq!(d.retry_after, Some(2 * 3600 + 28 * 60)); // from 00:32Z to 03:00Z
}

#[test]
fn zone_offsets_are_asked_once_per_window() {
    // README Windows: offsets come from the host (Intl in JS), "computed once per window".
    let zones = Rc::new(CountingZones::default());
    let clock = FakeClock::at(at("2026-03-29T12:00:00Z"));
    let mut limits = Limits::default();
    let paris = |w| Policy::new(None, 1_000, w, Some("Europe/Paris")).unwrap();
    limits
        .insert("chat", vec![paris(Hour), paris(Day)])
        .unwrap();
    let engine = Engine::new(limits).with_time_zones(zones.clone());
    let mut w = Quota::new(engine, MemoryStore::new(clock.clone()), clock);
    w.reserve(&me(), "chat", 1).unwrap();
    let first = zones.asked();
    assert!(first > 0);
    for _ in 0..50 {
        w.clock().advance(60_000); // within the hour and the day
        w.reserve(&me(), "chat", 1).unwrap();
        w.check(&me(), "chat", 1).unwrap();
    }
    assert_eq!(
        zones.asked(),
        first,
        "offsets asked again inside the same windows"
    );
    w.clock().advance(3_600_000); // a new hour, the same day: only the hour's asked again
    w.reserve(&me(), "chat", 1).unwrap();
    let next_hour = zones.asked() - first;
    assert!(next_hour > 0 && next_hour < first, "{next_hour} of {first}");
}
