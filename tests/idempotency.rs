//! reserve with an idempotency key: a retry in the same window is replayed (no reservation of
//! its own) and counted once, across engines sharing a store and under concurrency; a denial
//! is not recorded; every admission gets its own token.

use wasm_quota::core::window::WindowUnit::{Day, Hour};
use wasm_quota::core::*;

/// The native API over the in-process store, on a clock the test moves.
type Q = Quota<MemoryStore<FakeClock>, FakeClock>;

const DAY: i64 = 86_400_000;
const H: i64 = 3_600_000;
/// 2026-11-27T12:00:00Z
const NOON: i64 = 1_795_737_600_000 + DAY / 2;
const KEY: &str = "ai_quota:42:chat:2026-11-27";

fn world(limits: Limits) -> Q {
    let clock = FakeClock::at(NOON);
    Quota::new(engine(limits), MemoryStore::new(clock.clone()), clock)
}

const SECRET: &str = "a secret of 16+ characters";

fn engine(limits: Limits) -> Engine {
    Engine::new(limits).with_token_secret(SECRET).unwrap()
}

fn daily(limit: i64) -> Q {
    world(Limits::daily([("chat", limit)]).unwrap())
}

fn me() -> Profile {
    Profile::limited(ProfileId::number(42).unwrap())
}

#[test]
fn a_retry_is_replayed_without_a_reservation_and_counts_once() {
    let mut w = daily(5);
    let first = w.reserve_once(&me(), "chat", 2, "order-1").unwrap();
    assert!(first.allowed && !first.replayed && first.reservation.is_some());
    w.clock().advance(30_000);
    let retry = w.reserve_once(&me(), "chat", 2, "order-1").unwrap();
    assert!(retry.allowed && retry.replayed);
    // Only the first caller holds the token: a retry cannot release or settle its count.
    assert_eq!(retry.reservation, None);
    assert_eq!((retry.used, retry.remaining), (2, 3));
    assert_eq!(w.store_mut().peek(KEY), Some(2));
    // Another key is another request.
    assert_eq!(w.reserve_once(&me(), "chat", 2, "order-2").unwrap().used, 4);
}

#[test]
fn ten_rounds_of_success_then_a_failing_retry_keep_every_count() {
    // Each round: the first attempt succeeds (its work is done); a retry with the same key
    // fails and the caller releases what it holds. The retry holds nothing to release.
    let mut w = daily(100);
    for round in 0..10 {
        let key = format!("order-{round}");
        assert!(w.reserve_once(&me(), "chat", 1, &key).unwrap().allowed);
        let retry = w.reserve_once(&me(), "chat", 1, &key).unwrap();
        assert!(retry.replayed && retry.reservation.is_none());
    }
    assert_eq!(w.store_mut().peek(KEY), Some(10));
}

#[test]
fn the_record_is_one_number_under_its_own_key() {
    let mut w = daily(5);
    let d = w.reserve_once(&me(), "chat", 1, "a:b%").unwrap();
    let nonce = d.reservation.unwrap().nonce;
    assert!(nonce < 1 << 52);
    assert_eq!(
        w.store_mut()
            .peek("ai_quota:42:chat:i2026-11-27.1:a%3Ab%25"),
        Some(2 * nonce as i64 + 1)
    );
}

#[test]
fn engines_sharing_a_store_replay_each_others_admissions() {
    let mut a = daily(5);
    let b = engine(Limits::daily([("chat", 5)]).unwrap());
    let first = a.reserve_once(&me(), "chat", 1, "k").unwrap();
    let call = b.reserve_once(&me(), "chat", 1, "k", NOON + 1000).unwrap();
    let replay = run(call, a.store_mut()).unwrap().decision().unwrap();
    assert!(replay.replayed && replay.reservation.is_none());
    assert_eq!(a.store_mut().peek(KEY), Some(1));
    // The other engine (same tokenSecret) settles the original's token, once.
    let token = first.reservation_token().unwrap();
    let call = b.settle(&me(), &token, 0, NOON + 2000).unwrap();
    assert_eq!(run(call, a.store_mut()).unwrap(), Outcome::Settled(true));
    let call = a.engine().settle(&me(), &token, 0, NOON + 3000).unwrap();
    assert_eq!(run(call, a.store_mut()).unwrap(), Outcome::Settled(false));
    assert_eq!(a.store_mut().peek(KEY), Some(0));
}

#[test]
fn a_denial_is_not_recorded_and_a_retry_is_asked_again() {
    let mut w = daily(1);
    let held = w.reserve_once(&me(), "chat", 1, "first").unwrap();
    let denied = w.reserve_once(&me(), "chat", 1, "second").unwrap();
    assert!(!denied.allowed && !denied.replayed);
    assert_eq!(
        w.store_mut().peek("ai_quota:42:chat:i2026-11-27.1:second"),
        None
    );
    w.release(&me(), &held.reservation_token().unwrap(), None)
        .unwrap();
    let retry = w.reserve_once(&me(), "chat", 1, "second").unwrap();
    assert!(retry.allowed && !retry.replayed);
    assert_eq!(w.store_mut().peek(KEY), Some(1));
}

#[test]
fn three_thousand_denials_with_fresh_keys_write_nothing() {
    let mut w = daily(0);
    for i in 0..3000 {
        assert!(
            !w.reserve_once(&me(), "chat", 1, &format!("k{i}"))
                .unwrap()
                .allowed
        );
    }
    assert_eq!(w.store_mut().len(), 0);
}

#[test]
fn the_same_key_counts_again_in_a_new_window_or_with_another_amount() {
    let mut w = daily(5);
    w.reserve_once(&me(), "chat", 1, "k").unwrap();
    assert!(!w.reserve_once(&me(), "chat", 2, "k").unwrap().replayed);
    assert_eq!(w.store_mut().peek(KEY), Some(3));
    w.clock().set(NOON + DAY / 2);
    let next_day = w.reserve_once(&me(), "chat", 1, "k").unwrap();
    assert!(next_day.allowed && !next_day.replayed);
    assert_eq!(next_day.used, 1);
}

#[test]
fn the_record_lives_in_the_longest_window() {
    let mut limits = Limits::default();
    let p = |limit, w| Policy::new(None, limit, w, None).unwrap();
    limits.insert("chat", vec![p(2, Hour), p(10, Day)]).unwrap();
    let mut w = world(limits);
    w.reserve_once(&me(), "chat", 1, "k").unwrap();
    w.clock().advance(H); // a new hour, the same day
    let retry = w.reserve_once(&me(), "chat", 1, "k").unwrap();
    assert!(retry.replayed);
    assert_eq!(w.store_mut().peek("ai_quota:42:chat:2026-11-27T13"), None);
    assert_eq!(w.store_mut().peek(KEY), Some(1));
}

#[test]
fn a_retry_is_replayed_while_a_window_of_the_original_lasts_though_another_now_ends_last() {
    // Which window ends last changes while the others last: a week spanning the month's end
    // outlasts November from Monday 2026-11-30 on, and a Kolkata day (+05:30) the UTC day from
    // 18:30 UTC on. A retry two minutes later, both counters still holding the original's
    // count, must be replayed, not counted again.
    use std::rc::Rc;
    use wasm_quota::core::window::WindowUnit::{Month, Week};
    let p = |name, w, zone| Policy::new(Some(name), 10, w, zone).unwrap();
    let sunday_2359 = NOON + 2 * DAY + 11 * H + 59 * 60_000; // 2026-11-29T23:59:00Z
    let utc_1829 = NOON + 6 * H + 29 * 60_000; // 2026-11-27T18:29:00Z
    let cases = [
        (vec![p("w", Week, None), p("m", Month, None)], sunday_2359),
        (
            vec![p("utc", Day, None), p("in", Day, Some("Asia/Kolkata"))],
            utc_1829,
        ),
    ];
    for (policies, at) in cases {
        let mut limits = Limits::default();
        limits.insert("chat", policies).unwrap();
        let clock = FakeClock::at(at);
        let engine = engine(limits).with_time_zones(Rc::new(FakeZones));
        let mut w = Quota::new(engine, MemoryStore::new(clock.clone()), clock);
        let first = w.reserve_once(&me(), "chat", 1, "k").unwrap();
        assert!(first.allowed);
        w.clock().advance(2 * 60_000);
        let retry = w.reserve_once(&me(), "chat", 1, "k").unwrap();
        assert!(retry.replayed, "counted again at {at}: {retry:?}");
        assert_eq!(retry.used, 1);
        // Released, it is run once more (the record's chain goes on from where it was found).
        let token = first.reservation_token().unwrap();
        w.release(&me(), &token, None).unwrap();
        let rerun = w.reserve_once(&me(), "chat", 1, "k").unwrap();
        assert!(
            rerun.allowed && !rerun.replayed && rerun.used == 1,
            "{rerun:?}"
        );
        let retry = w.reserve_once(&me(), "chat", 1, "k").unwrap();
        assert!(retry.replayed && retry.used == 1, "{retry:?}");
        // A new record, named after the window that ends last now, is found too.
        assert!(w.reserve_once(&me(), "chat", 1, "k2").unwrap().allowed);
        let again = w.reserve_once(&me(), "chat", 1, "k2").unwrap();
        assert!(again.replayed && again.used == 2, "{again:?}");
    }
}

#[test]
fn concurrent_first_attempts_count_once() {
    // Both look the key up before either records: both count, one records, the other undoes
    // its count and replays the winner's decision.
    let mut w = daily(5);
    let a = w
        .engine()
        .reserve_once(&me(), "chat", 2, "k", NOON)
        .unwrap();
    let b = w
        .engine()
        .reserve_once(&me(), "chat", 2, "k", NOON)
        .unwrap();
    let mut done = run_interleaved(vec![a, b], w.store_mut())
        .into_iter()
        .map(|outcome| outcome.unwrap().decision().unwrap());
    let (da, db) = (done.next().unwrap(), done.next().unwrap());
    assert!(da.allowed && db.allowed);
    assert!(da.reservation.is_some() && db.reservation.is_none());
    assert_eq!([da.replayed, db.replayed], [false, true]);
    assert_eq!(w.store_mut().peek(KEY), Some(2));
}

#[test]
fn bad_keys_are_refused() {
    let w = daily(5);
    for key in ["".to_owned(), "x".repeat(257)] {
        let err = w
            .engine()
            .reserve_once(&me(), "chat", 1, &key, NOON)
            .err()
            .unwrap();
        assert_eq!(err.code, ErrorCode::InvalidArgument);
    }
    assert!(w
        .engine()
        .reserve_once(&me(), "chat", 1, &"é".repeat(256), NOON)
        .is_ok());
}

/// Home mode and an unlimited profile are answered without the store; the key is checked
/// first, so that a key refused once quotas apply is refused in development too.
#[test]
fn bad_keys_are_refused_in_home_mode_and_for_an_unlimited_profile() {
    let limits = || Limits::daily([("chat", 5)]).unwrap();
    let home = engine(limits()).with_enabled(false);
    let quotas = engine(limits());
    let unlimited = Profile {
        unlimited: true,
        ..me()
    };
    for (engine, profile) in [(&home, &me()), (&quotas, &unlimited)] {
        for key in ["".to_owned(), "x".repeat(257)] {
            let err = engine
                .reserve_once(profile, "chat", 1, &key, NOON)
                .err()
                .unwrap();
            assert_eq!(err.code, ErrorCode::InvalidArgument);
        }
        assert!(engine
            .reserve_once(profile, "chat", 1, &"é".repeat(256), NOON)
            .is_ok());
    }
}

#[test]
fn a_corrupt_record_is_an_error_not_a_decision() {
    let mut w = daily(5);
    for bad in [4, 0, -1, 1 << 53] {
        w.store_mut()
            .set("ai_quota:42:chat:i2026-11-27.1:k", bad, 60)
            .unwrap();
        let call = w
            .engine()
            .reserve_once(&me(), "chat", 1, "k", NOON)
            .unwrap();
        assert_eq!(
            run(call, w.store_mut()).err().unwrap().code,
            ErrorCode::CorruptCounter,
            "{bad}"
        );
    }
}

/// The records of the extreme nonces are records: `1` (nonce 0) and `2^53 − 1` (the largest
/// 52-bit nonce) are replayed, not refused as corrupt.
#[test]
fn the_records_of_the_smallest_and_largest_nonce_are_replayed() {
    for value in [1, (1 << 53) - 1] {
        let mut w = daily(5);
        w.store_mut()
            .set("ai_quota:42:chat:i2026-11-27.1:k", value, 60)
            .unwrap();
        let d = w.reserve_once(&me(), "chat", 1, "k").unwrap();
        assert!(
            d.allowed && d.replayed && d.reservation.is_none(),
            "{value}"
        );
        assert_eq!(w.store_mut().peek(KEY), None, "{value}: nothing counted");
    }
}

#[test]
fn a_retry_after_the_reservation_was_released_reserves_again() {
    // The model failed, the reservation was released, the client retries with the same key:
    // replaying the released reservation would let the retried call run uncounted.
    let mut w = daily(5);
    let first = w.reserve_once(&me(), "chat", 2, "k").unwrap();
    w.release(&me(), &first.reservation_token().unwrap(), None)
        .unwrap();
    assert_eq!(w.store_mut().peek(KEY), Some(0));
    w.clock().advance(1000);
    let retry = w.reserve_once(&me(), "chat", 2, "k").unwrap();
    assert!(retry.allowed && !retry.replayed);
    assert_eq!(retry.used, 2);
    let new_token = retry.reservation_token().unwrap();
    assert_ne!(new_token, first.reservation_token().unwrap());
    // The record now names the new reservation: the next retry replays it.
    w.clock().advance(1000);
    let again = w.reserve_once(&me(), "chat", 2, "k").unwrap();
    assert!(again.replayed);
    assert_eq!(w.store_mut().peek(KEY), Some(2));
    // A settled one is still replayed: its work was done and paid for.
    let call = w
        .engine()
        .settle(&me(), &new_token, 1, NOON + 2000)
        .unwrap();
    assert_eq!(run(call, w.store_mut()).unwrap(), Outcome::Settled(true));
    let after_settle = w.reserve_once(&me(), "chat", 2, "k").unwrap();
    assert!(after_settle.replayed);
    assert_eq!(w.store_mut().peek(KEY), Some(1));
}

#[test]
fn retries_in_one_millisecond_get_distinct_tokens_and_release_each_count() {
    // The clock stands still: reserve → release → reserve with one key, five rounds.
    let mut w = daily(100);
    let mut tokens = Vec::new();
    for _ in 0..5 {
        let d = w.reserve_once(&me(), "chat", 1, "k").unwrap();
        assert!(d.allowed && !d.replayed);
        tokens.push(d.reservation_token().unwrap());
        w.release(&me(), &d.reservation_token().unwrap(), None)
            .unwrap();
        assert_eq!(w.store_mut().peek(KEY), Some(0));
    }
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 5);
}

#[test]
fn racing_retries_after_a_release_each_release_their_own_count() {
    let mut w = daily(100);
    let first = w.reserve_once(&me(), "chat", 1, "k").unwrap();
    w.release(&me(), &first.reservation_token().unwrap(), None)
        .unwrap();
    let a = w
        .engine()
        .reserve_once(&me(), "chat", 1, "k", NOON)
        .unwrap();
    let b = w
        .engine()
        .reserve_once(&me(), "chat", 1, "k", NOON)
        .unwrap();
    let decisions: Vec<Decision> = run_interleaved(vec![a, b], w.store_mut())
        .into_iter()
        .map(|outcome| outcome.unwrap().decision().unwrap())
        .collect();
    for d in decisions.iter().filter(|d| d.reservation.is_some()) {
        w.release(&me(), &d.reservation_token().unwrap(), None)
            .unwrap();
    }
    assert_eq!(w.store_mut().peek(KEY), Some(0));
}

#[test]
fn of_retries_racing_after_a_release_one_is_admitted_and_the_others_replay_it() {
    // The first attempt failed and was released; a retrying proxy sends the request three
    // times at once. Each retry admitted runs the work: only one may be.
    let mut w = daily(100);
    let first = w.reserve_once(&me(), "chat", 1, "k").unwrap();
    w.release(&me(), &first.reservation_token().unwrap(), None)
        .unwrap();
    let retries = (0..3)
        .map(|_| {
            w.engine()
                .reserve_once(&me(), "chat", 1, "k", NOON + 1000)
                .unwrap()
        })
        .collect();
    let decisions: Vec<Decision> = run_interleaved(retries, w.store_mut())
        .into_iter()
        .map(|outcome| outcome.unwrap().decision().unwrap())
        .collect();
    assert!(decisions.iter().all(|d| d.allowed));
    let admitted: Vec<_> = decisions.iter().filter(|d| !d.replayed).collect();
    assert_eq!(admitted.len(), 1, "{decisions:?}");
    assert!(admitted[0].reservation.is_some());
    assert!(decisions
        .iter()
        .filter(|d| d.replayed)
        .all(|d| d.reservation.is_none()));
    assert_eq!(w.store_mut().peek(KEY), Some(1));
    // Released in turn, the admitted retry is followed by one more, and so on: each is
    // admitted once, and a retry of a settled one replays it.
    let token = admitted[0].reservation_token().unwrap();
    w.release(&me(), &token, None).unwrap();
    let third = w.reserve_once(&me(), "chat", 1, "k").unwrap();
    assert!(third.allowed && !third.replayed);
    w.settle(&me(), &third.reservation_token().unwrap(), 1)
        .unwrap();
    assert!(w.reserve_once(&me(), "chat", 1, "k").unwrap().replayed);
    assert_eq!(w.store_mut().peek(KEY), Some(1));
}

#[test]
fn a_retry_that_reserves_again_after_the_winner_was_released_holds_a_reservation() {
    // Two retries race after a release. `late` counts and is about to record when `b` records
    // first; b's work fails and b is released; `late` then loses the record race, undoes its
    // count, finds b released, and reserves once more in the same call: admitted and counted,
    // so it must hold a token. It held none (the call's signer was spent on its first count):
    // its work could neither be released nor settled (a charge beyond the estimate never
    // counted), and its record named nonce 0, which a retry replayed.
    let mut w = daily(5);
    let first = w.reserve_once(&me(), "chat", 1, "k").unwrap();
    w.release(&me(), &first.reservation_token().unwrap(), None)
        .unwrap();
    let mut late = w
        .engine()
        .reserve_once(&me(), "chat", 1, "k", NOON)
        .unwrap();
    let mut reply = None;
    let record = loop {
        match late.resume(reply.take()) {
            Step::Op(op @ StoreOp::Add { .. }) => break op,
            Step::Op(op) => reply = Some(store::perform(&*late, op, w.store_mut()).unwrap()),
            Step::Done(outcome) => panic!("finished before recording: {outcome:?}"),
        }
    };
    let b = w.reserve_once(&me(), "chat", 1, "k").unwrap();
    assert!(b.allowed && !b.replayed, "{b:?}");
    w.release(&me(), &b.reservation_token().unwrap(), None)
        .unwrap();
    reply = Some(store::perform(&*late, record, w.store_mut()).unwrap());
    let d = loop {
        match late.resume(reply.take()) {
            Step::Op(op) => reply = Some(store::perform(&*late, op, w.store_mut()).unwrap()),
            Step::Done(outcome) => break outcome.unwrap().decision().unwrap(),
        }
    };
    assert!(d.allowed && !d.replayed, "{d:?}");
    assert_eq!(w.store_mut().peek(KEY), Some(1));
    let token = d
        .reservation_token()
        .expect("an admitted retry holds a reservation");
    // Its work failed too: its count goes back, and the next retry is admitted, not replayed.
    w.release(&me(), &token, None).unwrap();
    assert_eq!(w.store_mut().peek(KEY), Some(0));
    let next = w.reserve_once(&me(), "chat", 1, "k").unwrap();
    assert!(
        next.allowed && !next.replayed && next.reservation.is_some(),
        "{next:?}"
    );
    assert_eq!(w.store_mut().peek(KEY), Some(1));
}

#[test]
fn a_key_is_refused_after_sixteen_retries_after_a_release_and_its_chain_is_its_own() {
    // Each released attempt adds a link to the key's records; the chain is bounded.
    let mut w = daily(100);
    for attempt in 0..17 {
        let d = w.reserve_once(&me(), "chat", 1, "k").unwrap();
        assert!(d.allowed && !d.replayed, "attempt {attempt}");
        w.release(&me(), &d.reservation_token().unwrap(), None)
            .unwrap();
    }
    let err = w.reserve_once(&me(), "chat", 1, "k").err().unwrap();
    assert_eq!(err.code, ErrorCode::IdempotencyKeyExhausted);
    assert_eq!(w.store_mut().peek(KEY), Some(0));
}

#[test]
fn a_key_spelled_like_the_next_link_of_another_has_its_own_record() {
    let mut w = daily(100);
    let first = w.reserve_once(&me(), "chat", 1, "k").unwrap();
    let nonce = first.reservation.as_ref().unwrap().nonce;
    w.release(&me(), &first.reservation_token().unwrap(), None)
        .unwrap();
    // Were ':' not escaped, this key's record would be where a retry of "k" looks next.
    let lookalike = w
        .reserve_once(&me(), "chat", 1, &format!("k:{nonce:016x}"))
        .unwrap();
    assert!(lookalike.allowed && !lookalike.replayed);
    let retry = w.reserve_once(&me(), "chat", 1, "k").unwrap();
    assert!(retry.allowed && !retry.replayed && retry.reservation.is_some());
    assert_eq!(w.store_mut().peek(KEY), Some(2));
    assert_eq!(
        w.store_mut()
            .peek(&format!("ai_quota:42:chat:i2026-11-27.1:k:{nonce:016x}")),
        Some(2 * retry.reservation.unwrap().nonce as i64 + 1)
    );
}

#[test]
fn a_retry_sent_while_the_first_still_runs_replays_it_rather_than_deny_it() {
    // The last slot: the first attempt takes it; its retry, sent before the first recorded,
    // counts past the limit and rolls back. It must not answer "denied" for a request that
    // was admitted: it reads the record once more and replays it.
    let mut w = daily(1);
    let a = w
        .engine()
        .reserve_once(&me(), "chat", 1, "k", NOON)
        .unwrap();
    let b = w
        .engine()
        .reserve_once(&me(), "chat", 1, "k", NOON)
        .unwrap();
    let decisions: Vec<Decision> = run_interleaved(vec![a, b], w.store_mut())
        .into_iter()
        .map(|outcome| outcome.unwrap().decision().unwrap())
        .collect();
    assert!(decisions.iter().all(|d| d.allowed), "{decisions:?}");
    assert_eq!(decisions.iter().filter(|d| d.replayed).count(), 1);
    assert_eq!(w.store_mut().peek(KEY), Some(1));
    // Another request, denied, is still denied, and writes nothing.
    let other = w.reserve_once(&me(), "chat", 1, "other").unwrap();
    assert!(!other.allowed && !other.replayed);
    assert_eq!(
        w.store_mut().peek("ai_quota:42:chat:i2026-11-27.1:other"),
        None
    );
}

#[test]
fn a_retry_sent_while_the_first_still_runs_replays_it_under_two_policies() {
    // As above, for a feature whose windows have two labels (an hour and a day): the record
    // is looked up under each, and the denied retry must read it again where the first
    // writes it (the day's: the window that ends last), not under the label it read last.
    let mut limits = Limits::default();
    let p = |limit, w| Policy::new(None, limit, w, None).unwrap();
    limits.insert("chat", vec![p(1, Hour), p(10, Day)]).unwrap();
    let mut w = world(limits);
    let calls = (0..2)
        .map(|_| {
            w.engine()
                .reserve_once(&me(), "chat", 1, "k", NOON)
                .unwrap()
        })
        .collect();
    let decisions: Vec<Decision> = run_interleaved(calls, w.store_mut())
        .into_iter()
        .map(|outcome| outcome.unwrap().decision().unwrap())
        .collect();
    assert!(decisions.iter().all(|d| d.allowed), "{decisions:?}");
    assert_eq!(decisions.iter().filter(|d| d.replayed).count(), 1);
    assert_eq!(w.store_mut().peek(KEY), Some(1));
}

/// README Idempotency: the record is named after the window that ends last, and a retry looks
/// under the current policies' windows. A `setLimits` that keeps that window (an hour added
/// beside the day, the day's limit changed, policies renamed) keeps replaying the retry; one
/// that replaces it (the day by a week) starts the key afresh: the retry is a new request,
/// admitted and counted under the new policies — and replayed again once the day is back.
#[test]
fn a_retry_after_set_limits_is_replayed_while_the_records_window_is_a_policy() {
    let mut w = daily(5);
    let policies = |list: &[(&str, i64, WindowUnit)]| {
        let mut limits = Limits::default();
        let list = list
            .iter()
            .map(|&(name, limit, window)| Policy::new(Some(name), limit, window, None).unwrap());
        limits.insert("chat", list.collect()).unwrap();
        limits
    };
    assert!(!w.reserve_once(&me(), "chat", 1, "k").unwrap().replayed);
    w.engine_mut()
        .set_limits(policies(&[("per-hour", 3, Hour), ("per-day", 10, Day)]));
    let retry = w.reserve_once(&me(), "chat", 1, "k").unwrap();
    assert!(retry.allowed && retry.replayed, "{retry:?}");
    w.engine_mut()
        .set_limits(policies(&[("per-week", 10, WindowUnit::Week)]));
    let retry = w.reserve_once(&me(), "chat", 1, "k").unwrap();
    assert!(retry.allowed && !retry.replayed && retry.reservation.is_some());
    w.engine_mut()
        .set_limits(Limits::daily([("chat", 5)]).unwrap());
    assert!(w.reserve_once(&me(), "chat", 1, "k").unwrap().replayed);
}
