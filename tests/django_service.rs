//! Every behaviour of the Django service (`quota.py`) on the native core, with a fake clock.

use wasm_quota::core::*;

/// The native API over the in-process store, on a clock the test moves.
type Q = Quota<MemoryStore<FakeClock>, FakeClock>;

const DAY: i64 = 86_400_000;
/// 2026-11-27T12:00:00Z
const NOON: i64 = 1_795_737_600_000 + DAY / 2;

fn world() -> Q {
    let clock = FakeClock::at(NOON);
    let limits = Limits::daily([("remix", 3), ("tips", 1), ("zero", 0)]).unwrap();
    Quota::new(Engine::new(limits), MemoryStore::new(clock.clone()), clock)
}

fn p(id: i64) -> Profile {
    Profile::limited(ProfileId::number(id).unwrap())
}

#[test]
fn reserve_counts_up_to_the_limit_then_denies_with_the_django_info() {
    let mut w = world();
    for n in 1..=3 {
        let d = w.reserve(&p(42), "remix", 1).unwrap();
        assert!(d.allowed);
        assert_eq!((d.used, d.remaining, d.retry_after), (n, 3 - n, Some(0)));
        assert!(d.reservation.is_some());
    }
    let d = w.reserve(&p(42), "remix", 1).unwrap();
    assert!(!d.allowed);
    assert_eq!((d.limit, d.used, d.remaining), (3, 3, 0));
    assert_eq!(d.resets_at(), "2026-11-28T00:00:00Z");
    assert_eq!(d.retry_after, Some(12 * 3600));
    assert_eq!(d.reservation, None);
    // The rollback left the counter at the limit, under the Django service's key.
    assert_eq!(w.store_mut().peek("ai_quota:42:remix:2026-11-27"), Some(3));
}

#[test]
fn check_is_read_only() {
    let mut w = world();
    let d = w.check(&p(1), "remix", 1).unwrap();
    assert!(d.allowed);
    assert_eq!((d.used, d.remaining), (0, 3));
    assert!(w.store_mut().is_empty());
    w.reserve(&p(1), "tips", 1).unwrap();
    let d = w.check(&p(1), "tips", 1).unwrap();
    assert!(!d.allowed);
    assert_eq!(
        (d.used, d.remaining, d.retry_after),
        (1, 0, Some(12 * 3600))
    );
}

#[test]
fn first_reserve_race_goes_through_add() {
    // Two reserves interleaved step by step: both find the key absent, one wins `add`, the
    // other's `add` fails and it increments instead. Nothing is overwritten back to 1.
    let mut w = world();
    let a = w.engine().reserve(&p(7), "remix", 1, NOON).unwrap();
    let b = w.engine().reserve(&p(7), "remix", 1, NOON).unwrap();
    let mut done = run_interleaved(vec![a, b], w.store_mut())
        .into_iter()
        .map(|outcome| outcome.unwrap().decision().unwrap());
    let (da, db) = (done.next().unwrap(), done.next().unwrap());
    assert!(da.allowed && db.allowed);
    let mut used = [da.used, db.used];
    used.sort();
    assert_eq!(used, [1, 2]);
    assert_eq!(w.store_mut().peek("ai_quota:7:remix:2026-11-27"), Some(2));
}

#[test]
fn release_gives_the_slot_back_and_clamps_at_zero() {
    let mut w = world();
    let d = w.reserve(&p(5), "tips", 1).unwrap();
    assert!(!w.reserve(&p(5), "tips", 1).unwrap().allowed);
    w.release(&p(5), &d.reservation_token().unwrap(), None)
        .unwrap();
    assert!(w.reserve(&p(5), "tips", 1).unwrap().allowed);
    // Unpaired releases: the counter goes to 0, never below.
    w.release(&p(5), "tips", None).unwrap();
    w.release(&p(5), "tips", None).unwrap();
    assert_eq!(w.store_mut().peek("ai_quota:5:tips:2026-11-27"), Some(0));
    assert_eq!(w.check(&p(5), "tips", 1).unwrap().used, 0);
}

#[test]
fn release_of_a_missing_counter_is_a_quiet_no_op() {
    let mut w = world();
    w.release(&p(9), "remix", None).unwrap();
    assert!(w.store_mut().is_empty());
}

#[test]
fn midnight_starts_a_new_window() {
    let mut w = world();
    for _ in 0..3 {
        w.reserve(&p(1), "remix", 1).unwrap();
    }
    assert!(!w.reserve(&p(1), "remix", 1).unwrap().allowed);
    w.clock().set(NOON + DAY / 2); // 00:00:00 next day
    let d = w.reserve(&p(1), "remix", 1).unwrap();
    assert!(d.allowed);
    assert_eq!(d.used, 1);
    assert_eq!(d.resets_at(), "2026-11-29T00:00:00Z");
    assert_eq!(w.store_mut().peek("ai_quota:1:remix:2026-11-28"), Some(1));
}

/// The Django service's counters expire at the next UTC midnight; the engine's ten minutes
/// later (`CLOCK_MARGIN_SECS`), so that a host whose clock is behind still finds the day's
/// count (tests/clocks.rs).
#[test]
fn counters_expire_ten_minutes_after_the_next_utc_midnight() {
    let mut w = world();
    w.reserve(&p(1), "remix", 1).unwrap();
    let margin = wasm_quota::core::window::CLOCK_MARGIN_SECS as i64 * 1000;
    assert_eq!(margin, 600_000);
    w.clock().set(NOON + DAY / 2 + margin - 1);
    assert_eq!(w.store_mut().peek("ai_quota:1:remix:2026-11-27"), Some(1));
    w.clock().set(NOON + DAY / 2 + margin);
    assert_eq!(w.store_mut().peek("ai_quota:1:remix:2026-11-27"), None);
}

#[test]
fn a_reservation_released_after_midnight_does_not_free_a_slot_in_the_new_day() {
    let mut w = world();
    w.clock().set(NOON + DAY / 2 - 1000); // 23:59:59
    let old = w.reserve(&p(3), "tips", 1).unwrap();
    assert!(old.allowed);
    w.clock().set(NOON + DAY / 2 + 1000); // 00:00:01
    let new = w.reserve(&p(3), "tips", 1).unwrap();
    assert!(new.allowed);
    w.release(&p(3), &old.reservation_token().unwrap(), None)
        .unwrap();
    // The Django service would have decremented today's key and let a second use through.
    assert!(!w.reserve(&p(3), "tips", 1).unwrap().allowed);
    assert_eq!(w.store_mut().peek("ai_quota:3:tips:2026-11-28"), Some(1));
}

#[test]
fn increment_counts_without_a_limit_check() {
    let mut w = world();
    for n in 1..=2 {
        let d = w.increment(&p(2), "tips", 1).unwrap();
        assert!(d.allowed);
        assert_eq!(d.used, n);
    }
    assert_eq!(w.store_mut().peek("ai_quota:2:tips:2026-11-27"), Some(2));
    assert!(!w.check(&p(2), "tips", 1).unwrap().allowed);
}

#[test]
fn usage_reports_every_feature() {
    let mut w = world();
    w.reserve(&p(8), "remix", 2).unwrap();
    let u = w.usage(&ProfileId::number(8).unwrap()).unwrap();
    assert_eq!(
        u,
        vec![("remix".into(), 2), ("tips".into(), 0), ("zero".into(), 0)]
    );
}

#[test]
fn home_mode_and_unlimited_profiles_count_nothing() {
    let mut w = world();
    *w.engine_mut() = w.engine().clone().with_enabled(false);
    for _ in 0..5 {
        let d = w.reserve(&p(1), "tips", 1).unwrap();
        assert!(d.allowed && d.unlimited);
    }
    assert!(w.store_mut().is_empty());
    let mut w = world();
    let vip = Profile {
        id: ProfileId::number(1).unwrap(),
        unlimited: true,
    };
    for _ in 0..5 {
        assert!(w.reserve(&vip, "tips", 1).unwrap().unlimited);
    }
    assert!(w.store_mut().is_empty());
}

#[test]
fn unknown_features_are_a_clear_error() {
    let w = world();
    for f in ["nope", "__proto__", "toString", ""] {
        let err = w.engine().reserve(&p(1), f, 1, NOON).err().unwrap();
        assert_eq!(err.code, ErrorCode::UnknownFeature, "{f}");
        assert!(err.message.contains("Unknown quota feature"));
    }
}

#[test]
fn limit_zero_always_denies_and_writes_nothing() {
    let mut w = world();
    let d = w.reserve(&p(1), "zero", 1).unwrap();
    assert!(!d.allowed);
    assert_eq!((d.limit, d.used, d.remaining), (0, 0, 0));
    assert!(w.store_mut().is_empty());
}

#[test]
fn amounts_are_all_or_nothing() {
    let mut w = world();
    assert!(w.reserve(&p(1), "remix", 2).unwrap().allowed);
    let d = w.reserve(&p(1), "remix", 2).unwrap();
    assert!(!d.allowed);
    assert_eq!(d.used, 2);
    assert!(w.reserve(&p(1), "remix", 1).unwrap().allowed);
    let err = w.engine().reserve(&p(1), "remix", 0, NOON).err().unwrap();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
}

/// The key prefix (the Django service's `ai_quota`) may be 1 to 128 bytes: both ends name the
/// counters; an empty one and one of 129 bytes are refused.
#[test]
fn a_key_prefix_of_1_to_128_bytes_names_the_counters() {
    let limits = || Limits::daily([("remix", 3)]).unwrap();
    for len in [1, 128] {
        let prefix = "p".repeat(len);
        let engine = Engine::new(limits()).with_key_prefix(&prefix).unwrap();
        let clock = FakeClock::at(NOON);
        let mut w = Quota::new(engine, MemoryStore::new(clock.clone()), clock);
        assert!(w.reserve(&p(42), "remix", 1).unwrap().allowed);
        let key = format!("{prefix}:42:remix:2026-11-27");
        assert_eq!(w.store_mut().peek(&key), Some(1), "{len} bytes");
    }
    for len in [0, 129] {
        let err = Engine::new(limits()).with_key_prefix(&"p".repeat(len));
        assert_eq!(
            err.unwrap_err().code,
            ErrorCode::InvalidConfig,
            "{len} bytes"
        );
    }
}
