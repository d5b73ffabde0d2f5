//! reserve with an idempotency key: a retry in the same window gets the original decision and
//! is counted once, across engines sharing a store and under concurrency.

use wasm_quota::core::window::WindowUnit::{Day, Hour};
use wasm_quota::core::*;

const DAY: i64 = 86_400_000;
const H: i64 = 3_600_000;
/// 2026-11-27T12:00:00Z
const NOON: i64 = 1_795_737_600_000 + DAY / 2;
const KEY: &str = "ai_quota:42:chat:2026-11-27";

struct World {
    clock: FakeClock,
    store: MemoryStore<FakeClock>,
    engine: Engine,
}

fn world(limits: Limits, seed: u64) -> World {
    let clock = FakeClock::at(NOON);
    World {
        store: MemoryStore::new(clock.clone()),
        clock,
        engine: Engine::new(limits).with_nonce_seed(seed),
    }
}

fn daily(limit: i64) -> World {
    world(Limits::daily([("chat", limit)]).unwrap(), 1)
}

fn me() -> Profile {
    Profile::limited(ProfileId::number(42).unwrap())
}

impl World {
    fn once(&mut self, key: &str, amount: i64) -> Decision {
        let now = self.clock.now_ms();
        let call = self
            .engine
            .reserve_once(&me(), "chat", amount, key, now)
            .unwrap();
        run(call, &mut self.store).unwrap().decision().unwrap()
    }
}

#[test]
fn a_retry_gets_the_original_decision_and_counts_once() {
    let mut w = daily(5);
    let first = w.once("order-1", 2);
    assert!(first.allowed && !first.replayed);
    w.clock.advance(30_000);
    let retry = w.once("order-1", 2);
    assert!(retry.allowed && retry.replayed);
    assert_eq!(retry.reservation, first.reservation);
    assert_eq!((retry.used, retry.remaining), (2, 3));
    assert_eq!(w.store.peek(KEY), Some(2));
    // Another key is another request.
    assert_eq!(w.once("order-2", 2).used, 4);
}

#[test]
fn the_record_is_one_number_under_its_own_key() {
    let mut w = daily(5);
    w.once("a:b%", 1);
    assert_eq!(
        w.store.peek("ai_quota:42:chat:i2026-11-27.1:a%3Ab%25"),
        Some(2 * NOON + 1)
    );
}

#[test]
fn engines_sharing_a_store_replay_each_others_decisions() {
    let mut a = daily(5);
    let b = Engine::new(Limits::daily([("chat", 5)]).unwrap()).with_nonce_seed(99);
    let first = a.once("k", 1);
    let call = b.reserve_once(&me(), "chat", 1, "k", NOON + 1000).unwrap();
    let replay = run(call, &mut a.store).unwrap().decision().unwrap();
    assert!(replay.replayed);
    assert_eq!(replay.reservation, first.reservation);
    assert_eq!(a.store.peek(KEY), Some(1));
    // Settling either copy of the token settles the reservation once.
    let token = first.reservation_token().unwrap();
    let call = b.settle(&me(), &token, 0, NOON + 2000).unwrap();
    assert_eq!(run(call, &mut a.store).unwrap(), Outcome::Settled(true));
    let call = a.engine.settle(&me(), &token, 0, NOON + 3000).unwrap();
    assert_eq!(run(call, &mut a.store).unwrap(), Outcome::Settled(false));
    assert_eq!(a.store.peek(KEY), Some(0));
}

#[test]
fn a_denial_is_replayed_too_even_after_a_slot_frees_up() {
    let mut w = daily(1);
    let held = w.once("first", 1);
    let denied = w.once("second", 1);
    assert!(!denied.allowed);
    let call = w
        .engine
        .release(&me(), &held.reservation_token().unwrap(), None, NOON)
        .unwrap();
    run(call, &mut w.store).unwrap();
    let retry = w.once("second", 1);
    assert!(!retry.allowed && retry.replayed);
    assert_eq!((retry.used, retry.remaining), (0, 1)); // current figures
    assert!(w.once("third", 1).allowed);
}

#[test]
fn the_same_key_counts_again_in_a_new_window_or_with_another_amount() {
    let mut w = daily(5);
    w.once("k", 1);
    assert!(!w.once("k", 2).replayed);
    assert_eq!(w.store.peek(KEY), Some(3));
    w.clock.set(NOON + DAY / 2);
    let next_day = w.once("k", 1);
    assert!(next_day.allowed && !next_day.replayed);
    assert_eq!(next_day.used, 1);
}

#[test]
fn the_record_lives_in_the_longest_window() {
    let mut limits = Limits::default();
    let p = |limit, w| Policy::new(None, limit, w, None).unwrap();
    limits.insert("chat", vec![p(2, Hour), p(10, Day)]).unwrap();
    let mut w = world(limits, 3);
    let first = w.once("k", 1);
    w.clock.advance(H); // a new hour, the same day
    let retry = w.once("k", 1);
    assert!(retry.replayed);
    assert_eq!(retry.reservation, first.reservation);
    assert_eq!(w.store.peek("ai_quota:42:chat:2026-11-27T13"), None);
    assert_eq!(w.store.peek(KEY), Some(1));
}

#[test]
fn concurrent_first_attempts_count_once() {
    // Both look the key up before either records: both count, one records, the other undoes
    // its count and replays the winner's decision.
    let mut w = daily(5);
    let a = w.engine.reserve_once(&me(), "chat", 2, "k", NOON).unwrap();
    let b = w.engine.reserve_once(&me(), "chat", 2, "k", NOON).unwrap();
    let mut done = run_interleaved(vec![a, b], &mut w.store)
        .into_iter()
        .map(|outcome| outcome.unwrap().decision().unwrap());
    let (da, db) = (done.next().unwrap(), done.next().unwrap());
    assert!(da.allowed && db.allowed);
    assert_eq!(da.reservation, db.reservation);
    assert_eq!([da.replayed, db.replayed], [false, true]);
    assert_eq!(w.store.peek(KEY), Some(2));
}

#[test]
fn bad_keys_are_refused() {
    let w = daily(5);
    for key in ["".to_owned(), "x".repeat(257)] {
        let err = w
            .engine
            .reserve_once(&me(), "chat", 1, &key, NOON)
            .err()
            .unwrap();
        assert_eq!(err.code, ErrorCode::InvalidArgument);
    }
    assert!(w
        .engine
        .reserve_once(&me(), "chat", 1, &"é".repeat(256), NOON)
        .is_ok());
}

#[test]
fn a_corrupt_record_is_an_error_not_a_decision() {
    let mut w = daily(5);
    w.store
        .set("ai_quota:42:chat:i2026-11-27.1:k", 4, 60)
        .unwrap(); // "denied by policy 2"
    let call = w.engine.reserve_once(&me(), "chat", 1, "k", NOON).unwrap();
    assert_eq!(
        run(call, &mut w.store).err().unwrap().code,
        ErrorCode::CorruptCounter
    );
}

#[test]
fn a_retry_after_the_reservation_was_released_reserves_again() {
    // The model failed, the reservation was released, the client retries with the same key:
    // replaying the released reservation would let the retried call run uncounted.
    let mut w = daily(5);
    let first = w.once("k", 2);
    let token = first.reservation_token().unwrap();
    let call = w.engine.release(&me(), &token, None, NOON).unwrap();
    run(call, &mut w.store).unwrap();
    assert_eq!(w.store.peek(KEY), Some(0));
    w.clock.advance(1000);
    let retry = w.once("k", 2);
    assert!(retry.allowed && !retry.replayed);
    assert_eq!(retry.used, 2);
    let new_token = retry.reservation_token().unwrap();
    assert_ne!(new_token, token);
    // The record now names the new reservation: the next retry replays it.
    w.clock.advance(1000);
    let again = w.once("k", 2);
    assert!(again.replayed);
    assert_eq!(again.reservation_token().unwrap(), new_token);
    assert_eq!(w.store.peek(KEY), Some(2));
    // A settled one is still replayed: its work was done and paid for.
    let call = w.engine.settle(&me(), &new_token, 1, NOON + 2000).unwrap();
    assert_eq!(run(call, &mut w.store).unwrap(), Outcome::Settled(true));
    let after_settle = w.once("k", 2);
    assert!(after_settle.replayed);
    assert_eq!(w.store.peek(KEY), Some(1));
}

#[test]
fn a_denial_stands_only_until_the_denying_window_resets() {
    let mut limits = Limits::default();
    let p = |limit, w| Policy::new(None, limit, w, None).unwrap();
    limits.insert("chat", vec![p(1, Hour), p(10, Day)]).unwrap();
    let mut w = world(limits, 5);
    assert!(w.once("a", 1).allowed);
    let denied = w.once("b", 1);
    assert!(!denied.allowed);
    assert_eq!((denied.policy, denied.retry_after), (0, 3600));
    w.clock.advance(1_800_000);
    let still = w.once("b", 1);
    assert!(!still.allowed && still.replayed);
    // The client waits retryAfter and retries with the same key: asked again, and allowed.
    w.clock.set(NOON + denied.retry_after as i64 * 1000);
    let later = w.once("b", 1);
    assert!(later.allowed && !later.replayed);
    assert_eq!(w.store.peek(KEY), Some(2));
}
