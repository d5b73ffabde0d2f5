//! Reserve → settle with the actual amount, and release, each at most once per reservation.

use wasm_quota::core::window::WindowUnit::{self, Day, Hour};
use wasm_quota::core::*;

mod zones;
use zones::CountingZones;

/// The native API over the in-process store, on a clock the test moves.
type Q = Quota<MemoryStore<FakeClock>, FakeClock>;

const DAY: i64 = 86_400_000;
const H: i64 = 3_600_000;
/// 2026-11-27T12:00:00Z
const NOON: i64 = 1_795_737_600_000 + DAY / 2;

fn world(limits: Limits) -> Q {
    quota_at(NOON, Engine::new(limits))
}

/// `engine` over a fresh MemoryStore, both on one fake clock set to `ms`.
fn quota_at(ms: i64, engine: Engine) -> Q {
    let clock = FakeClock::at(ms);
    Quota::new(engine, MemoryStore::new(clock.clone()), clock)
}

fn daily(limit: i64) -> Q {
    world(Limits::daily([("chat", limit)]).unwrap())
}

fn me() -> Profile {
    Profile::limited(ProfileId::number(42).unwrap())
}

const KEY: &str = "ai_quota:42:chat:2026-11-27";

#[test]
fn settle_refunds_the_unused_part_of_an_estimate() {
    let mut w = daily(10);
    let d = w.reserve(&me(), "chat", 8).unwrap();
    assert!(w.settle(&me(), &d.reservation_token().unwrap(), 3).unwrap());
    assert_eq!(w.store_mut().peek(KEY), Some(3));
    assert_eq!(w.reserve(&me(), "chat", 7).unwrap().used, 10);
}

#[test]
fn settle_charges_the_extra_even_past_the_limit() {
    let mut w = daily(10);
    let d = w.reserve(&me(), "chat", 4).unwrap();
    assert!(w
        .settle(&me(), &d.reservation_token().unwrap(), 12)
        .unwrap());
    assert_eq!(w.store_mut().peek(KEY), Some(12));
    let next = w.reserve(&me(), "chat", 1).unwrap();
    assert!(!next.allowed);
    assert_eq!((next.used, next.remaining), (12, 0));
}

#[test]
fn settling_twice_changes_nothing_the_second_time() {
    let mut w = daily(10);
    let token = w
        .reserve(&me(), "chat", 5)
        .unwrap()
        .reservation_token()
        .unwrap();
    assert!(w.settle(&me(), &token, 2).unwrap());
    assert!(!w.settle(&me(), &token, 2).unwrap());
    assert!(!w.settle(&me(), &token, 9).unwrap());
    assert_eq!(w.store_mut().peek(KEY), Some(2));
    // Nor can it be released afterwards.
    w.release(&me(), &token, None).unwrap();
    assert_eq!(w.store_mut().peek(KEY), Some(2));
}

#[test]
fn a_released_reservation_cannot_be_settled_or_released_again() {
    let mut w = daily(10);
    let keep = w
        .reserve(&me(), "chat", 1)
        .unwrap()
        .reservation_token()
        .unwrap();
    let token = w
        .reserve(&me(), "chat", 3)
        .unwrap()
        .reservation_token()
        .unwrap();
    w.release(&me(), &token, None).unwrap();
    assert_eq!(w.store_mut().peek(KEY), Some(1));
    w.release(&me(), &token, None).unwrap();
    assert_eq!(w.store_mut().peek(KEY), Some(1));
    assert!(!w.settle(&me(), &token, 3).unwrap());
    assert_eq!(w.store_mut().peek(KEY), Some(1));
    // Other reservations are unaffected, even ones made in the same millisecond.
    assert_ne!(keep, token);
    assert!(w.settle(&me(), &keep, 0).unwrap());
    assert_eq!(w.store_mut().peek(KEY), Some(0));
}

#[test]
fn tokens_are_unique_per_reservation() {
    let mut w = daily(100);
    let mut tokens: Vec<String> = (0..50)
        .map(|_| {
            w.reserve(&me(), "chat", 1)
                .unwrap()
                .reservation_token()
                .unwrap()
        })
        .collect();
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 50);
    // A second engine over the same store draws its own nonces: other tokens again.
    let other = Engine::new(Limits::daily([("chat", 100)]).unwrap());
    let call = other.reserve(&me(), "chat", 1, NOON).unwrap();
    let t = run(call, w.store_mut())
        .unwrap()
        .decision()
        .unwrap()
        .reservation_token()
        .unwrap();
    assert!(!tokens.contains(&t));
}

#[test]
fn a_token_is_refused_by_an_engine_with_another_secret_and_changes_nothing() {
    let mut w = daily(10);
    let token = w
        .reserve(&me(), "chat", 2)
        .unwrap()
        .reservation_token()
        .unwrap();
    let other = Engine::new(Limits::daily([("chat", 10)]).unwrap())
        .with_token_secret("another secret, 16+ characters")
        .unwrap();
    let err = other.release(&me(), &token, None, NOON).err().unwrap();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    let err = other.settle(&me(), &token, 0, NOON).err().unwrap();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    assert_eq!(w.store_mut().peek(KEY), Some(2));
}

#[test]
fn settle_writes_a_marker_that_lives_ten_minutes_past_the_next_window() {
    let mut w = daily(10);
    let token = w
        .reserve(&me(), "chat", 2)
        .unwrap()
        .reservation_token()
        .unwrap();
    let before = w.store_mut().len();
    assert!(w.settle(&me(), &token, 1).unwrap());
    assert_eq!(w.store_mut().len(), before + 1);
    let r = wasm_quota::core::reservation::Reservation::decode(&token).unwrap();
    let marker = format!("ai_quota:42:chat:r{:016x}", r.nonce);
    assert_eq!(w.store_mut().peek(&marker), Some(1));
    // A charge sent after the window ended counts in the next one, whose counter, its TTL
    // rounded up to a whole second, may live until a second past its end, and a host whose
    // clock is behind may count in it anew: the marker outlives both by ten minutes
    // (CLOCK_MARGIN_SECS).
    w.clock().set(NOON + DAY / 2 + DAY + 599_999);
    assert_eq!(w.store_mut().peek(&marker), Some(1));
    w.clock().set(NOON + DAY / 2 + DAY + 600_000);
    assert_eq!(w.store_mut().peek(&marker), None);
}

#[test]
fn settle_corrects_the_reservations_own_window_after_it_rolled_over() {
    let mut limits = Limits::default();
    let p = |limit, w| Policy::new(None, limit, w, None).unwrap();
    limits.insert("chat", vec![p(5, Hour), p(20, Day)]).unwrap();
    let mut w = world(limits);
    let token = w
        .reserve(&me(), "chat", 4)
        .unwrap()
        .reservation_token()
        .unwrap();
    w.clock().advance(H); // the hour rolled over (its counter is kept ten more minutes)
    let fresh = w.reserve(&me(), "chat", 1).unwrap();
    assert!(w.settle(&me(), &token, 1).unwrap());
    // The day's counter took the refund; the new hour (which the reservation never counted
    // in) did not, nor did the old hour's counter, whose window has ended.
    assert_eq!(w.store_mut().peek("ai_quota:42:chat:2026-11-27"), Some(2));
    assert_eq!(
        w.store_mut().peek("ai_quota:42:chat:2026-11-27T13"),
        Some(1)
    );
    assert_eq!(
        w.store_mut().peek("ai_quota:42:chat:2026-11-27T12"),
        Some(4)
    );
    assert!(fresh.allowed);
}

#[test]
fn a_refund_below_zero_clamps_at_zero() {
    let mut w = daily(10);
    let token = w
        .reserve(&me(), "chat", 5)
        .unwrap()
        .reservation_token()
        .unwrap();
    w.release(&me(), "chat", None).unwrap(); // the Django service's release by feature, unpaired
    w.release(&me(), "chat", None).unwrap();
    assert_eq!(w.store_mut().peek(KEY), Some(3));
    assert!(w.settle(&me(), &token, 0).unwrap()); // −5 would leave −2
    assert_eq!(w.store_mut().peek(KEY), Some(0));
}

#[test]
fn bad_arguments_are_refused_before_any_store_call() {
    let mut w = daily(10);
    let token = w
        .reserve(&me(), "chat", 1)
        .unwrap()
        .reservation_token()
        .unwrap();
    let now = w.clock().now_ms();
    for (tok, actual) in [
        (token.as_str(), -1),
        (token.as_str(), 9_007_199_254_740_992),
        ("chat", 1),
        ("q2.chat.1.1", 1),
    ] {
        let err = w.engine().settle(&me(), tok, actual, now).err().unwrap();
        assert_eq!(err.code, ErrorCode::InvalidArgument, "{tok} {actual}");
    }
    assert!(w.engine().settle(&me(), &token, 0, now).is_ok());
}

#[test]
fn home_mode_and_unlimited_profiles_settle_nothing() {
    let mut w = daily(10);
    let token = w
        .reserve(&me(), "chat", 3)
        .unwrap()
        .reservation_token()
        .unwrap();
    let vip = Profile {
        id: ProfileId::number(42).unwrap(),
        unlimited: true,
    };
    let call = w.engine().settle(&vip, &token, 0, NOON).unwrap();
    assert_eq!(run(call, w.store_mut()).unwrap(), Outcome::Settled(false));
    assert_eq!(w.store_mut().peek(KEY), Some(3));
}

/// Limits of `chat`: `policies` as `(limit, window)`, UTC.
fn chat(policies: &[(i64, WindowUnit)]) -> Limits {
    let mut limits = Limits::default();
    let p = |&(limit, w)| Policy::new(None, limit, w, None).unwrap();
    limits
        .insert("chat", policies.iter().map(p).collect())
        .unwrap();
    limits
}

/// Reserves 1 `times` times; how many were admitted.
fn admitted(w: &mut Q, times: usize) -> usize {
    (0..times)
        .filter(|_| w.reserve(&me(), "chat", 1).unwrap().allowed)
        .count()
}

#[test]
fn a_policy_added_since_the_reserve_is_not_refunded_by_its_release() {
    let mut w = world(chat(&[(100, Day)]));
    let old = w
        .reserve(&me(), "chat", 4)
        .unwrap()
        .reservation_token()
        .unwrap();
    w.engine_mut().set_limits(chat(&[(100, Day), (5, Hour)]));
    let mut hour = admitted(&mut w, 5);
    w.release(&me(), &old, None).unwrap();
    hour += admitted(&mut w, 10);
    // The hour never counted the old reservation: it admits its limit, no more.
    assert_eq!(hour, 5);
    assert_eq!(
        w.store_mut().peek("ai_quota:42:chat:2026-11-27T12"),
        Some(5)
    );
    // The day, which counted it, took it back.
    assert_eq!(w.store_mut().peek(KEY), Some(5));
}

#[test]
fn a_policy_added_since_the_reserve_is_not_refunded_by_its_settle() {
    let mut w = world(chat(&[(100, Day)]));
    let old = w
        .reserve(&me(), "chat", 4)
        .unwrap()
        .reservation_token()
        .unwrap();
    w.engine_mut().set_limits(chat(&[(100, Day), (5, Hour)]));
    let mut hour = admitted(&mut w, 5);
    assert!(w.settle(&me(), &old, 1).unwrap());
    hour += admitted(&mut w, 10);
    assert_eq!(hour, 5);
    assert_eq!(w.store_mut().peek(KEY), Some(6));
}

#[test]
fn a_policy_whose_limit_changed_but_not_its_window_is_still_corrected() {
    let mut w = world(chat(&[(5, Hour), (100, Day)]));
    let old = w
        .reserve(&me(), "chat", 4)
        .unwrap()
        .reservation_token()
        .unwrap();
    // The same windows in another order, other limits, another policy added: the hour and
    // the day counted the reservation and are its counters still.
    w.engine_mut()
        .set_limits(chat(&[(50, Day), (6, Hour), (1_000, WindowUnit::Week)]));
    assert_eq!(admitted(&mut w, 2), 2);
    w.release(&me(), &old, None).unwrap();
    assert_eq!(w.store_mut().peek(KEY), Some(2));
    assert_eq!(
        w.store_mut().peek("ai_quota:42:chat:2026-11-27T12"),
        Some(2)
    );
    assert_eq!(w.store_mut().peek("ai_quota:42:chat:2026-W48"), Some(2));
}

#[test]
fn a_policy_removed_since_the_reserve_is_not_touched() {
    let mut w = world(chat(&[(5, Hour), (100, Day)]));
    let old = w
        .reserve(&me(), "chat", 4)
        .unwrap()
        .reservation_token()
        .unwrap();
    w.engine_mut().set_limits(chat(&[(100, Day)]));
    w.release(&me(), &old, None).unwrap();
    assert_eq!(w.store_mut().peek(KEY), Some(0));
    assert_eq!(
        w.store_mut().peek("ai_quota:42:chat:2026-11-27T12"),
        Some(4)
    );
}

#[test]
fn a_charge_that_no_current_policy_counted_writes_nothing_and_answers_false() {
    // The day that counted the reservation was replaced by an hour that did not: the charge
    // has nowhere to go, as one too late for every window, and the reservation stays open.
    let mut w = world(chat(&[(100, Day)]));
    let old = w
        .reserve(&me(), "chat", 10)
        .unwrap()
        .reservation_token()
        .unwrap();
    w.engine_mut().set_limits(chat(&[(50, Hour)]));
    assert!(!w.settle(&me(), &old, 60).unwrap());
    assert_eq!(w.store_mut().peek("ai_quota:42:chat:2026-11-27T12"), None);
    assert_eq!(w.store_mut().peek(KEY), Some(10));
    w.engine_mut().set_limits(chat(&[(100, Day)]));
    assert!(w.settle(&me(), &old, 60).unwrap());
    assert!(!w.settle(&me(), &old, 60).unwrap());
    assert_eq!(w.store_mut().peek(KEY), Some(60));
}

/// A token of the format before counters were named (`q3`), as an engine of the earlier
/// release sharing the store and the secret made it: it counted `amount` at `at_ms`.
fn token_of_the_earlier_format(secret: &str, at_ms: i64, amount: i64, nonce: u64) -> String {
    use wasm_quota::core::reservation::{Reservation, TokenKey};
    let mut r = Reservation {
        feature: "chat".into(),
        at_ms,
        amount,
        counted: None,
        nonce,
        mac: 0,
    };
    let key = TokenKey::from_secret(secret).unwrap();
    r.mac = r.mac(&key, "ai_quota", &me().id);
    r.encode()
}

#[test]
fn a_token_of_the_earlier_format_is_charged_everywhere_and_refunded_nowhere() {
    const SECRET: &str = "shared by both releases";
    let engine = Engine::new(chat(&[(100, Day), (5, Hour)]))
        .with_token_secret(SECRET)
        .unwrap();
    let mut w = quota_at(NOON, engine);
    // The earlier engine counted 4 under a day-only configuration; this one added the hour.
    w.increment(&me(), "chat", 4).unwrap();
    let released = token_of_the_earlier_format(SECRET, NOON, 4, 1);
    assert!(released.starts_with("q3.chat."));
    w.release(&me(), &released, None).unwrap();
    // Which policies counted it is unknown: the hour may be one added since, so nothing is
    // refunded (an over-count), and the release is still made once.
    assert_eq!(w.store_mut().peek(KEY), Some(4));
    assert!(!w.settle(&me(), &released, 0).unwrap());
    // Work beyond the estimate is charged to every policy.
    let settled = token_of_the_earlier_format(SECRET, NOON, 1, 2);
    assert!(w.settle(&me(), &settled, 3).unwrap());
    assert_eq!(w.store_mut().peek(KEY), Some(6));
    assert_eq!(
        w.store_mut().peek("ai_quota:42:chat:2026-11-27T12"),
        Some(6)
    );
    // An edited one is refused as any other.
    let edited = settled.replace(".1.", ".2.");
    let err = w.settle(&me(), &edited, 0).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
}

#[test]
fn a_token_of_the_earlier_format_finalized_by_the_earlier_release_is_not_charged_later() {
    // The earlier release counted a charge only in the reservation's own windows, and kept
    // the marker only until they ended. Its settle or release sent again the next day (a
    // retrying proxy, a replayed job queue, a rolling deploy sending it to this release) finds
    // no marker: it must find no window to charge in either.
    const SECRET: &str = "shared by both releases";
    for (first, marker) in [("settled", 1), ("released", 2)] {
        let engine = Engine::new(Limits::daily([("chat", 100)]).unwrap())
            .with_token_secret(SECRET)
            .unwrap();
        let mut w = quota_at(NOON, engine);
        let token = token_of_the_earlier_format(SECRET, NOON, 4, 9);
        // What the earlier release wrote when it settled (at 10) or released the reservation.
        w.increment(&me(), "chat", if marker == 1 { 10 } else { 1 })
            .unwrap();
        let until_midnight = (DAY / 2 / 1_000) as u64;
        let marker_key = "ai_quota:42:chat:r0000000000000009";
        assert!(w
            .store_mut()
            .add(marker_key, marker, until_midnight)
            .unwrap());
        for later in [H, DAY / 2 + 60_000, DAY + H] {
            w.clock().set(NOON + later);
            assert!(
                !w.settle(&me(), &token, 10).unwrap(),
                "{first} by the earlier release, charged again {later} ms later"
            );
            assert_eq!(w.store_mut().peek(NEXT_DAY), None, "{first}");
        }
    }
}

/// 2026-11-27T23:59:59Z, a second before the day ends.
const LAST_SECOND: i64 = NOON + DAY / 2 - 1_000;
const NEXT_DAY: &str = "ai_quota:42:chat:2026-11-28";

#[test]
fn a_charge_after_the_reservations_window_ended_counts_in_the_current_window() {
    for counting in [CountingOps::IncrAddSet, CountingOps::IncrOrCreate] {
        let engine = Engine::new(Limits::daily([("chat", 100)]).unwrap()).with_counting(counting);
        let mut w = quota_at(LAST_SECOND, engine);
        let token = w
            .reserve(&me(), "chat", 1)
            .unwrap()
            .reservation_token()
            .unwrap();
        w.clock().advance(31_000); // 00:00:30: yesterday's counter is gone
        assert!(w.settle(&me(), &token, 500).unwrap(), "{counting:?}");
        // 499 beyond the estimate were used: today's window counts them.
        assert_eq!(w.store_mut().peek(NEXT_DAY), Some(499), "{counting:?}");
        let next = w.reserve(&me(), "chat", 1).unwrap();
        assert!(!next.allowed, "{counting:?}: {next:?}");
        assert!(!w.settle(&me(), &token, 900).unwrap(), "{counting:?}");
        assert_eq!(w.store_mut().peek(NEXT_DAY), Some(499), "{counting:?}");
        // Created with the window's TTL: it ends ten minutes (the clock margin) after the day.
        w.clock().set(LAST_SECOND + DAY + 600_000);
        assert_eq!(w.store_mut().peek(NEXT_DAY), Some(499), "{counting:?}");
        w.clock().set(LAST_SECOND + DAY + 601_000);
        assert_eq!(w.store_mut().peek(NEXT_DAY), None, "{counting:?}");
    }
}

#[test]
fn a_refund_into_a_window_that_ended_is_dropped() {
    let mut w = quota_at(
        LAST_SECOND,
        Engine::new(Limits::daily([("chat", 100)]).unwrap()),
    );
    let token = w
        .reserve(&me(), "chat", 5)
        .unwrap()
        .reservation_token()
        .unwrap();
    w.clock().advance(31_000);
    w.reserve(&me(), "chat", 2).unwrap();
    assert!(w.settle(&me(), &token, 1).unwrap());
    // Today never counted the reservation: nothing of today's count is given back.
    assert_eq!(w.store_mut().peek(NEXT_DAY), Some(2));
    // It settled the reservation all the same: a charge sent afterwards changes nothing.
    assert!(!w.settle(&me(), &token, 50).unwrap());
    assert_eq!(w.store_mut().peek(NEXT_DAY), Some(2));
}

#[test]
fn a_charge_goes_to_each_policys_own_window_the_ended_hour_to_the_current_one() {
    let mut w = world(chat(&[(50, Hour), (1_000, Day)]));
    w.clock().set(NOON + H - 1_000); // 12:59:59
    let token = w
        .reserve(&me(), "chat", 10)
        .unwrap()
        .reservation_token()
        .unwrap();
    w.clock().set(NOON + H + 30_000); // 13:00:30
    assert!(w.settle(&me(), &token, 60).unwrap());
    assert_eq!(w.store_mut().peek(KEY), Some(60));
    assert_eq!(
        w.store_mut().peek("ai_quota:42:chat:2026-11-27T13"),
        Some(50)
    );
    assert_eq!(
        admitted(&mut w, 5),
        0,
        "the hour holds the 50 beyond the estimate"
    );
}

/// The day keys of `chat` from 2026-11-28 on, `days` of them.
fn day_keys(days: u32) -> Vec<String> {
    (28..28 + days)
        .map(|d| match d {
            28..=30 => format!("ai_quota:42:chat:2026-11-{d}"),
            _ => format!("ai_quota:42:chat:2026-12-{:02}", d - 30),
        })
        .collect()
}

#[test]
fn a_charge_sent_again_day_after_day_is_charged_once() {
    for counting in [CountingOps::IncrAddSet, CountingOps::IncrOrCreate] {
        let engine = Engine::new(Limits::daily([("chat", 1_000)]).unwrap()).with_counting(counting);
        let mut w = quota_at(LAST_SECOND, engine);
        let token = w
            .reserve(&me(), "chat", 1)
            .unwrap()
            .reservation_token()
            .unwrap();
        w.clock().advance(31_000); // 00:00:30, in the next day
        assert!(w.settle(&me(), &token, 500).unwrap(), "{counting:?}");
        assert_eq!(w.store_mut().peek(NEXT_DAY), Some(499), "{counting:?}");
        // A retrying proxy or a replayed job queue sends the same settle at noon, day after day.
        for day in 1..8 {
            w.clock().set(NOON + day * DAY);
            assert!(
                !w.settle(&me(), &token, 500).unwrap(),
                "{counting:?}: charged again {day} days later"
            );
            let today = if day == 1 { 499 } else { 0 };
            assert_eq!(
                w.usage(&me().id).unwrap(),
                [("chat".into(), today)],
                "{counting:?}"
            );
        }
        let keys = day_keys(8);
        let days: Vec<_> = keys.iter().map(|k| w.store_mut().peek(k)).collect();
        assert_eq!(
            days, [None; 8],
            "{counting:?}: every day has expired or was never charged"
        );
    }
}

#[test]
fn a_released_reservation_is_not_charged_in_the_next_window() {
    for counting in [CountingOps::IncrAddSet, CountingOps::IncrOrCreate] {
        let engine = Engine::new(Limits::daily([("chat", 1_000)]).unwrap()).with_counting(counting);
        let mut w = quota_at(LAST_SECOND, engine);
        let token = w
            .reserve(&me(), "chat", 4)
            .unwrap()
            .reservation_token()
            .unwrap();
        w.release(&me(), &token, None).unwrap();
        // Hours later, in the next day, a settle of the same reservation arrives.
        w.clock().set(NOON + DAY);
        assert!(!w.settle(&me(), &token, 100).unwrap(), "{counting:?}");
        assert_eq!(w.store_mut().peek(NEXT_DAY), None, "{counting:?}");
    }
}

#[test]
fn a_charge_first_sent_after_the_next_window_is_dropped_and_writes_nothing() {
    for counting in [CountingOps::IncrAddSet, CountingOps::IncrOrCreate] {
        let engine = Engine::new(Limits::daily([("chat", 1_000)]).unwrap()).with_counting(counting);
        let mut w = quota_at(LAST_SECOND, engine);
        let [edge, late] = [(); 2].map(|_| {
            w.reserve(&me(), "chat", 1)
                .unwrap()
                .reservation_token()
                .unwrap()
        });
        // At the last millisecond of the next window a charge still counts there.
        w.clock().set(LAST_SECOND + DAY + 999);
        assert!(w.settle(&me(), &edge, 500).unwrap(), "{counting:?}");
        assert_eq!(w.store_mut().peek(NEXT_DAY), Some(499), "{counting:?}");
        w.clock().set(LAST_SECOND + DAY + 1_000); // the day after the next begins
        let before = w.store_mut().len();
        assert!(!w.settle(&me(), &late, 500).unwrap(), "{counting:?}");
        assert_eq!(
            w.store_mut().len(),
            before,
            "{counting:?}: no counter, no marker"
        );
        assert_eq!(
            w.usage(&me().id).unwrap(),
            [("chat".into(), 0)],
            "{counting:?}"
        );
    }
}

/// At the instant the window after the reservation's ends, that window has ended: a refund
/// then has no counter left to correct, so it writes nothing (no marker) and answers `false`.
#[test]
fn a_refund_at_the_instant_the_next_window_ends_writes_nothing() {
    let mut w = quota_at(
        LAST_SECOND,
        Engine::new(Limits::daily([("chat", 10)]).unwrap()),
    );
    let token = w
        .reserve(&me(), "chat", 4)
        .unwrap()
        .reservation_token()
        .unwrap();
    w.clock().set(LAST_SECOND + DAY + 1_000); // the day after the next begins
    let before = w.store_mut().len();
    assert!(!w.settle(&me(), &token, 1).unwrap());
    assert_eq!(w.store_mut().len(), before, "no counter, no marker");
}

/// At 14:00:00.000 the hour after a reservation made at noon has ended: its charge is
/// dropped, not counted in the hour that starts then; the day, which still runs, counts it.
#[test]
fn a_charge_at_the_instant_the_next_hour_ends_is_dropped_there() {
    let mut w = world(chat(&[(50, Hour), (1_000, Day)]));
    let token = w
        .reserve(&me(), "chat", 10)
        .unwrap()
        .reservation_token()
        .unwrap();
    w.clock().set(NOON + 2 * H);
    assert!(w.settle(&me(), &token, 60).unwrap());
    assert_eq!(w.store_mut().peek(KEY), Some(60));
    assert_eq!(w.store_mut().peek("ai_quota:42:chat:2026-11-27T14"), None);
}

#[test]
fn a_late_charge_counts_in_each_policys_next_window_and_no_later() {
    let mut w = world(chat(&[(50, Hour), (1_000, Day)]));
    let token = w
        .reserve(&me(), "chat", 10)
        .unwrap()
        .reservation_token()
        .unwrap();
    w.clock().set(NOON + 2 * H + 30_000); // 14:00:30: the hour after the reservation's has ended
    assert!(w.settle(&me(), &token, 60).unwrap());
    // The day counted it and still runs: 50 more there; the hour's charge is dropped.
    assert_eq!(w.store_mut().peek(KEY), Some(60));
    assert_eq!(w.store_mut().peek("ai_quota:42:chat:2026-11-27T14"), None);
    assert_eq!(w.store_mut().peek("ai_quota:42:chat:2026-11-27T13"), None);
    assert!(!w.settle(&me(), &token, 60).unwrap());
    assert_eq!(w.store_mut().peek(KEY), Some(60));
}

#[test]
fn settles_and_releases_of_zoned_policies_ask_zone_offsets_once_per_window() {
    // Each settle and release needs the window after its reservation's (where a late charge
    // counts, and which its marker outlives): computed once, as the current one is.
    let zones = std::rc::Rc::new(CountingZones::default());
    let paris = |w| Policy::new(None, 1_000_000, w, Some("Europe/Paris")).unwrap();
    let mut limits = Limits::default();
    limits
        .insert("chat", vec![paris(Hour), paris(Day)])
        .unwrap();
    let engine = Engine::new(limits).with_time_zones(zones.clone());
    let mut w = quota_at(NOON, engine);
    let token = |w: &mut Q| {
        w.reserve(&me(), "chat", 2)
            .unwrap()
            .reservation_token()
            .unwrap()
    };
    let t = token(&mut w);
    w.settle(&me(), &t, 3).unwrap();
    let t = token(&mut w);
    w.release(&me(), &t, None).unwrap();
    let asked = zones.asked();
    for _ in 0..20 {
        w.clock().advance(60_000); // within the hour and the day
        let t = token(&mut w);
        assert!(w.settle(&me(), &t, 5).unwrap());
        let t = token(&mut w);
        w.release(&me(), &t, None).unwrap();
    }
    assert_eq!(
        zones.asked(),
        asked,
        "offsets asked again inside the same windows"
    );
}

/// A zone at one fixed UTC offset, as workerd's and Chromium's `Intl` take `timeZone:
/// "-23:59"` (ECMA-402 allows any offset within ±24 h; IANA zones lie within −12 h and +14 h).
#[derive(Debug)]
struct FixedOffset(i64);

impl TimeZones for FixedOffset {
    fn offset_ms(&self, _: &str, _: i64) -> Result<i64> {
        Ok(self.0)
    }
}

#[test]
fn a_release_while_an_offset_zones_week_was_replaced_stays_final_through_its_next_week() {
    // Tuesday 2026-01-06 00:07 UTC is Monday 00:08 at −23:59: its week ends Monday the 12th
    // 23:59 UTC and the week after, where a late charge would count, the 19th 23:59 UTC.
    let zones = std::rc::Rc::new(FixedOffset(-(23 * 60 + 59) * 60_000));
    let weekly = || {
        let mut limits = Limits::default();
        let week = Policy::new(None, 10, WindowUnit::Week, Some("-23:59")).unwrap();
        limits.insert("chat", vec![week]).unwrap();
        limits
    };
    let at = 1_767_571_200_000 + DAY + 7 * 60_000;
    let mut w = quota_at(at, Engine::new(weekly()).with_time_zones(zones));
    let token = w
        .reserve(&me(), "chat", 2)
        .unwrap()
        .reservation_token()
        .unwrap();
    // The week is replaced by a day, the work fails and is released, the week comes back.
    w.engine_mut()
        .set_limits(Limits::daily([("chat", 10)]).unwrap());
    w.release(&me(), &token, None).unwrap();
    w.engine_mut().set_limits(weekly());
    w.clock().set(1_767_571_200_000 + 14 * DAY + 13 * H); // Monday the 19th 13:00 UTC
    assert_eq!(
        w.settle(&me(), &token, 5),
        Ok(false),
        "settled after its release"
    );
}

/// An engine cloned from one that has reserved, given its own entropy source, draws nonces of
/// its own: two engines over one store must never share one (a settle or release marks a
/// reservation done by its nonce; see `Engine::with_entropy`).
/// Nonces are splitmix64's outputs from the seed the entropy gives: a bijection of a step
/// counter, so no two reservations of an engine share a nonce (one's settle would mark the
/// other done). From seed 0, the reference sequence.
#[test]
fn nonces_are_splitmix64_from_the_seed() {
    let tokens = wasm_quota::core::reservation::Tokens::new(|| 0);
    let nonces = [(); 3].map(|_| tokens.next_nonce());
    let splitmix64 = [
        0xe220_a839_7b1d_cdaf,
        0x6e78_9e6a_a1b9_65f4,
        0x06c4_5d18_8009_454f,
    ];
    assert_eq!(nonces, splitmix64);
}

#[test]
fn an_engine_cloned_with_its_own_entropy_draws_other_nonces() {
    fn other_entropy() -> u64 {
        0x5eed
    }
    let mut w = world(Limits::daily([("chat", 10)]).unwrap());
    w.reserve(&me(), "chat", 1).unwrap();
    let a = w.engine().clone();
    let b = w.engine().clone().with_entropy(other_entropy);
    let token = |engine: &Engine, w: &mut Q| {
        let call = engine.reserve(&me(), "chat", 1, NOON).unwrap();
        let d = run(call, w.store_mut()).unwrap().decision().unwrap();
        d.reservation_token().unwrap()
    };
    let (ta, tb) = (token(&a, &mut w), token(&b, &mut w));
    // Both are settled to 5: each charges 4 more.
    for (engine, t) in [(&a, &ta), (&b, &tb)] {
        let call = engine.settle(&me(), t, 5, NOON).unwrap();
        assert_eq!(
            run(call, w.store_mut()).unwrap(),
            Outcome::Settled(true),
            "{ta} {tb}"
        );
    }
    assert_eq!(w.store_mut().peek(KEY), Some(11));
}

/// Engines cloned from one engine, each then given a secret of its own, sign with their own:
/// an engine elsewhere holding one's secret takes back that one's reservations.
#[test]
fn engines_cloned_with_their_own_secrets_sign_with_them() {
    let limits = || Limits::daily([("chat", 10)]).unwrap();
    let base = Engine::new(limits());
    let a = base
        .clone()
        .with_token_secret("the secret of engine a")
        .unwrap();
    let _b = base
        .clone()
        .with_token_secret("the secret of engine b")
        .unwrap();
    let elsewhere = Engine::new(limits()).with_token_secret("the secret of engine a");
    let mut w = quota_at(NOON, elsewhere.unwrap());
    let call = a.reserve(&me(), "chat", 1, NOON).unwrap();
    let d = run(call, w.store_mut()).unwrap().decision().unwrap();
    w.release(&me(), &d.reservation_token().unwrap(), None)
        .unwrap();
    assert_eq!(w.store_mut().peek(KEY), Some(0));
}

/// A MemoryStore whose `fail_after`-th operation takes effect and then fails (its answer lost:
/// a timeout whose write landed, a connection dropped before the reply).
struct LosesAnAnswer {
    inner: MemoryStore<FakeClock>,
    ops: usize,
    fail_after: usize,
}

impl LosesAnAnswer {
    fn answer<T>(&mut self, done: Result<T>) -> Result<T> {
        self.ops += 1;
        let done = done?;
        if self.ops == self.fail_after {
            return Err(QuotaError::store("the answer was lost".to_owned()));
        }
        Ok(done)
    }
}

impl Store for LosesAnAnswer {
    fn get(&mut self, key: &str) -> Result<Option<i64>> {
        let r = self.inner.get(key);
        self.answer(r)
    }
    fn incr(&mut self, key: &str, delta: i64) -> Result<Option<i64>> {
        let r = self.inner.incr(key, delta);
        self.answer(r)
    }
    fn add(&mut self, key: &str, value: i64, ttl_secs: u64) -> Result<bool> {
        let r = self.inner.add(key, value, ttl_secs);
        self.answer(r)
    }
    fn set(&mut self, key: &str, value: i64, ttl_secs: u64) -> Result<()> {
        let r = self.inner.set(key, value, ttl_secs);
        self.answer(r)
    }
}

/// A settle cut off at any step, then sent again, leaves the counter at or above what was used
/// (an over-count), never below. Marking before it charged, a charge cut off after its marker
/// was lost for good: sent again, it found the marker and answered `false`, the counter left at
/// the estimate (4 where 9 were used).
#[test]
fn a_settle_cut_off_at_any_step_and_sent_again_never_under_counts() {
    for actual in [1, 4, 9] {
        for fail_after in 1..=6 {
            let clock = FakeClock::at(NOON);
            let engine = Engine::new(Limits::daily([("chat", 10)]).unwrap());
            let store = LosesAnAnswer {
                inner: MemoryStore::new(clock.clone()),
                ops: 0,
                fail_after: usize::MAX,
            };
            let mut w = Quota::new(engine, store, clock);
            let d = w.reserve(&me(), "chat", 4).unwrap();
            let token = d.reservation_token().unwrap();
            w.store_mut().fail_after = w.store().ops + fail_after;
            let first = w.settle(&me(), &token, actual);
            w.store_mut().fail_after = usize::MAX;
            let again = w.settle(&me(), &token, actual).unwrap();
            let counter = w.store_mut().inner.peek(KEY).unwrap();
            let case =
                format!("settled at {actual}, cut off after op {fail_after}: {first:?}, {again}");
            assert!(counter >= actual, "{case}: counter {counter}");
            if first.is_ok() {
                assert_eq!(counter, actual, "{case}: not cut off, exact");
            }
            // It finished: a third attempt changes nothing.
            assert!(!w.settle(&me(), &token, actual).unwrap(), "{case}");
            assert_eq!(w.store_mut().inner.peek(KEY), Some(counter), "{case}");
        }
    }
}

/// Charges racing each other and a release: one of them applies, exactly; the others take
/// back whatever they counted.
#[test]
fn charges_racing_each_other_and_a_release_apply_once() {
    for order in 0..3 {
        let mut w = daily(20);
        let d = w.reserve(&me(), "chat", 4).unwrap();
        let token = d.reservation_token().unwrap();
        let e = w.engine();
        let mut calls = vec![
            e.settle(&me(), &token, 9, NOON).unwrap(),
            e.settle(&me(), &token, 7, NOON).unwrap(),
            e.release(&me(), &token, None, NOON).unwrap(),
        ];
        calls.rotate_left(order);
        let outcomes = run_interleaved(calls, w.store_mut());
        let applied: Vec<_> = outcomes
            .iter()
            .map(|o| o.as_ref().unwrap().clone())
            .collect();
        let counter = w.store_mut().peek(KEY).unwrap();
        let settled: Vec<_> = applied
            .iter()
            .filter(|o| **o == Outcome::Settled(true))
            .collect();
        // Either one charge applied (and the release did nothing), or the release did.
        assert!(settled.len() <= 1, "{order}: {applied:?}");
        let want = match settled.len() {
            1 if counter == 9 || counter == 7 => counter,
            0 => 0,
            _ => panic!("{order}: {applied:?} left {counter}"),
        };
        assert_eq!(counter, want, "{order}: {applied:?}");
    }
}
