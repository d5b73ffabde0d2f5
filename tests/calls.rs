//! The state machines as a Rust host drives them, one step at a time ([`Call`]): replies no
//! store of the contract gives (the `Quota` API never feeds one), and what the call undoes.

use wasm_quota::core::direct::Counting;
use wasm_quota::core::memory::Counters;
use wasm_quota::core::store::perform;
use wasm_quota::core::window::WindowUnit::{Day, Hour};
use wasm_quota::core::*;

const NOON: i64 = 1_795_780_800_000; // 2026-11-27T12:00:00Z
const HOUR_KEY: &str = "ai_quota:42:chat:2026-11-27T12";
const DAY_KEY: &str = "ai_quota:42:chat:2026-11-27";

fn me() -> Profile {
    Profile::limited(ProfileId::number(42).unwrap())
}

/// `chat`: 5 an hour and 20 a day, counted with the store's `incrOrCreate`.
fn engine() -> Engine {
    let mut l = Limits::daily([]).unwrap();
    let hour = Policy::new(None, 5, Hour, None).unwrap();
    let day = Policy::new(None, 20, Day, None).unwrap();
    l.insert("chat", vec![hour, day]).unwrap();
    Engine::new(l).with_counting(CountingOps::IncrOrCreate)
}

/// Drives `call` over `store`, each operation performed; the `odd`-th (from 0) is answered
/// with `reply` instead of the store's answer, or fails with it (`Err`: the store threw).
/// The outcome, and every operation asked.
fn drive(
    mut call: Box<dyn Call>,
    store: &mut dyn Store,
    (odd, reply): (usize, Result<StoreReply>),
) -> (Result<Outcome>, Vec<StoreOp>) {
    let (mut ops, mut next) = (Vec::new(), None);
    loop {
        match call.resume(next.take()) {
            Step::Done(outcome) => return (outcome, ops),
            Step::Op(op) => {
                let answer = perform(&*call, op, store).unwrap();
                ops.push(op);
                next = Some(match &reply {
                    _ if ops.len() - 1 != odd => answer,
                    Ok(reply) => *reply,
                    Err(e) => return (call.fail(e.clone()), ops),
                });
            }
        }
    }
}

/// Nothing odd: every operation answered by the store.
const PLAIN: (usize, Result<StoreReply>) = (usize::MAX, Ok(StoreReply::Done));

/// An upsert answered "absent" mid-reserve is nonsense: the reserve fails, and undoes every
/// count it made — that policy's own too, since the store may have made it — newest first.
#[test]
fn a_nonsense_reply_mid_reserve_undoes_every_count_that_may_have_happened() {
    let incr = |p, delta| StoreOp::Incr {
        key: KeyRef::Policy(p),
        delta,
    };
    for odd in 0..2 {
        let clock = FakeClock::at(NOON);
        let mut store = MemoryStore::new(clock);
        let engine = engine();
        let call = engine.reserve(&me(), "chat", 2, NOON).unwrap();
        let (outcome, ops) = drive(call, &mut store, (odd, Ok(StoreReply::Count(None))));
        let err = outcome.expect_err("a nonsense reply");
        assert_eq!(err.code, ErrorCode::StoreError, "{err:?}");
        let undone: Vec<_> = (0..=odd).rev().map(|p| incr(p, -2)).collect();
        assert_eq!(ops[odd + 1..], undone, "policy {odd} answered nonsense");
        // Counted and undone; the day counted only when it answered.
        assert_eq!(store.peek(HOUR_KEY), Some(0));
        assert_eq!(store.peek(DAY_KEY), (odd == 1).then_some(0));
    }
}

fn describe(n: f64) -> String {
    n.to_string()
}

/// A reserve that finds a counter below zero (a release racing it took back more than was
/// counted) refuses with CORRUPT_COUNTER and counts nothing: every count it made is undone,
/// the one that found the negative counter too — on both paths, with every way of counting.
#[test]
fn a_reserve_finding_a_negative_counter_undoes_its_counts_there_too() {
    let ways = [
        CountingOps::IncrAddSet,
        CountingOps::IncrOrCreate,
        CountingOps::IncrOrCreateWithin,
    ];
    for counting in ways {
        for direct in [false, true] {
            let mut counters = Counters::default();
            let mut store = counters.at(NOON as f64, describe);
            store.set(DAY_KEY, -3, 86_400).unwrap();
            let engine = engine().with_counting(counting);
            let err = if direct {
                let kind = Counting::Reserve;
                let f = engine.count_directly(kind, &me(), 0, 2, NOON, &mut store);
                f.expect_err("a negative counter")
            } else {
                let call = engine.reserve(&me(), "chat", 2, NOON).unwrap();
                run(call, &mut store).expect_err("a negative counter")
            };
            let what = format!("{counting:?}, direct: {direct}");
            assert_eq!(err.code, ErrorCode::CorruptCounter, "{what}: {err:?}");
            assert_eq!(store.get(HOUR_KEY).unwrap(), Some(0), "{what}");
            assert_eq!(store.get(DAY_KEY).unwrap(), Some(-3), "{what}");
        }
    }
}

/// A denied reserve reads the counters of the policies after the denying one only when their
/// windows end later (one of them may deny for longer): at 23:30 an hour ends with the day,
/// so a day's denial does not read it.
#[test]
fn a_denial_reads_no_counter_whose_window_ends_no_later() {
    let mut l = Limits::daily([]).unwrap();
    let day = Policy::new(None, 2, Day, None).unwrap();
    let hour = Policy::new(None, 10, Hour, None).unwrap();
    l.insert("chat", vec![day, hour]).unwrap();
    let engine = Engine::new(l).with_counting(CountingOps::IncrOrCreateWithin);
    let at = NOON + 23 * 1_800_000; // 23:30
    let mut store = MemoryStore::new(FakeClock::at(at));
    store.set(DAY_KEY, 2, 1_800).unwrap();
    let call = engine.reserve(&me(), "chat", 1, at).unwrap();
    let (outcome, ops) = drive(call, &mut store, PLAIN);
    let d = outcome.unwrap().decision().unwrap();
    assert_eq!((d.allowed, d.policy, d.used), (false, 0, 2));
    let within = StoreOp::IncrOrCreateWithin {
        key: KeyRef::Policy(0),
        delta: 1,
        ttl_secs: 1_800 + window::CLOCK_MARGIN_SECS, // to the day's end, and the clock margin
        limit: 2,
    };
    assert_eq!(ops, [within]);
}

/// Two increments that both read room for 5 below 2^53 − 1 race: the first takes the counter
/// to it exactly; the second, counted past it by the store, is refused (INVALID_ARGUMENT,
/// naming the count it found) rather than answered with a figure JS cannot hold.
#[test]
fn an_increment_a_racing_write_took_past_max_safe_integer_is_refused() {
    let max = wasm_quota::core::limits::MAX_SAFE_INTEGER;
    let mut l = Limits::daily([]).unwrap();
    l.insert("chat", vec![Policy::daily(max).unwrap()]).unwrap();
    let engine = Engine::new(l).with_counting(CountingOps::IncrOrCreate);
    let mut store = MemoryStore::new(FakeClock::at(NOON));
    store.set(DAY_KEY, max - 5, 43_200).unwrap();
    let calls = [0, 1].map(|_| engine.increment(&me(), "chat", 5, NOON).unwrap());
    let [first, second] = <[_; 2]>::try_from(run_interleaved(calls.into(), &mut store)).unwrap();
    assert_eq!(first.unwrap().decision().unwrap().used, max);
    let err = second.expect_err("past 2^53 − 1");
    assert_eq!(err.code, ErrorCode::InvalidArgument, "{err:?}");
    let holding = format!("adding 5 to counter \"{DAY_KEY}\" (holding {max})");
    assert!(err.message.contains(&holding), "{}", err.message);
}

/// A reserve the hour denies reads the day's counter (it may deny for longer). A fault on that
/// read leaves the denial standing, on the hour, under every fault policy: the store already
/// said the amount does not fit — `"allow"` must not turn it into an admission.
#[test]
fn a_fault_reading_a_later_counter_leaves_the_denial_under_every_policy() {
    for policy in [FaultPolicy::Throw, FaultPolicy::Deny, FaultPolicy::Allow] {
        let engine = engine()
            .with_counting(CountingOps::IncrOrCreateWithin)
            .with_fault_policy(policy);
        let mut store = MemoryStore::new(FakeClock::at(NOON));
        store.set(HOUR_KEY, 5, 3_600).unwrap();
        let call = engine.reserve(&me(), "chat", 1, NOON).unwrap();
        let fault = Err(QuotaError::store("the store is down"));
        let (outcome, ops) = drive(call, &mut store, (1, fault));
        assert_eq!(
            ops[1],
            StoreOp::Get {
                key: KeyRef::Policy(1)
            },
            "{policy:?}"
        );
        let d = outcome.unwrap().decision().expect("a decision");
        assert_eq!((d.allowed, d.policy, d.used), (false, 0, 5), "{policy:?}");
    }
}

/// A release by feature takes `amount` from each counter, and adds back only what it took
/// below zero: a counter it leaves at 0 gets no second write.
#[test]
fn a_release_clamps_only_a_counter_it_took_below_zero() {
    let incr = |p, delta| StoreOp::Incr {
        key: KeyRef::Policy(p),
        delta,
    };
    let engine = engine();
    let mut store = MemoryStore::new(FakeClock::at(NOON));
    store.set(HOUR_KEY, 2, 3_600).unwrap();
    store.set(DAY_KEY, 1, 43_200).unwrap();
    let call = engine.release(&me(), "chat", Some(2), NOON).unwrap();
    let (outcome, ops) = drive(call, &mut store, PLAIN);
    assert_eq!(outcome.unwrap(), Outcome::Released);
    assert_eq!(ops, [incr(0, -2), incr(1, -2), incr(1, 1)]);
    assert_eq!(
        (store.peek(HOUR_KEY), store.peek(DAY_KEY)),
        (Some(0), Some(0))
    );
}

/// A boxed call names each counter by a number of its own (a host may cache its form of the
/// key under it), the same for the same counter in another call; the record and the marker
/// have none.
#[test]
fn a_boxed_call_numbers_each_counter_and_no_other_key() {
    let engine = engine();
    let call = |e: &Engine| e.reserve_once(&me(), "chat", 1, "k", NOON).unwrap();
    let (a, b) = (call(&engine), call(&engine));
    let [hour, day] = [0, 1].map(|p| a.key_id(KeyRef::Policy(p)));
    assert!(hour != day && hour != NO_KEY_ID && day != NO_KEY_ID);
    assert_eq!([hour, day], [0, 1].map(|p| b.key_id(KeyRef::Policy(p))));
    for other in [KeyRef::Record, KeyRef::Marker] {
        assert_eq!(a.key_id(other), NO_KEY_ID, "{other:?}");
    }
}

/// `chat` reserved 3 at noon over a fresh store: the engine (with a token secret), the store
/// and the reservation's token.
fn reserved_3() -> (Engine, MemoryStore<FakeClock>, String) {
    let engine = engine()
        .with_token_secret("one secret for the tests")
        .unwrap();
    let mut store = MemoryStore::new(FakeClock::at(NOON));
    let call = engine.reserve(&me(), "chat", 3, NOON).unwrap();
    let d = run(call, &mut store).unwrap().decision().unwrap();
    let token = d.reservation_token().unwrap();
    (engine, store, token)
}

/// A settle at the reserved amount has nothing to move: it writes its marker (a second
/// attempt must still find it) and reads and writes no counter.
#[test]
fn a_settle_at_the_reserved_amount_only_marks_the_reservation() {
    let (engine, mut store, token) = reserved_3();
    let call = engine.settle(&me(), &token, 3, NOON).unwrap();
    let (outcome, ops) = drive(call, &mut store, PLAIN);
    assert_eq!(outcome.unwrap(), Outcome::Settled(true));
    assert!(
        matches!(
            ops[..],
            [StoreOp::Add {
                key: KeyRef::Marker,
                ..
            }]
        ),
        "{ops:?}"
    );
}

/// A refund takes the unused part from each counter, and adds back only what it took below
/// zero (here the day's counter had been released meanwhile): a counter it leaves at 0 gets
/// no second write.
#[test]
fn a_refund_clamps_only_a_counter_it_took_below_zero() {
    let incr = |p, delta| StoreOp::Incr {
        key: KeyRef::Policy(p),
        delta,
    };
    let (engine, mut store, token) = reserved_3();
    store.set(DAY_KEY, 1, 43_200).unwrap();
    let call = engine.settle(&me(), &token, 0, NOON).unwrap();
    let (outcome, ops) = drive(call, &mut store, PLAIN);
    assert_eq!(outcome.unwrap(), Outcome::Settled(true));
    assert!(matches!(
        ops[0],
        StoreOp::Add {
            key: KeyRef::Marker,
            ..
        }
    ));
    assert_eq!(ops[1..], [incr(0, -3), incr(1, -3), incr(1, 2)]);
    assert_eq!(
        (store.peek(HOUR_KEY), store.peek(DAY_KEY)),
        (Some(0), Some(0))
    );
}

/// An idempotent reserve over a full hour counts, is over, and its undo fails: the store
/// already said the amount does not fit, so the answer is that denial under every fault
/// policy (the undo that may not have happened is the documented over-count), as for a
/// reserve without a key — `"allow"` must not turn it into an admission.
#[test]
fn an_idempotent_reserve_whose_undo_fails_stays_a_denial_under_every_policy() {
    for policy in [FaultPolicy::Throw, FaultPolicy::Deny, FaultPolicy::Allow] {
        let engine = engine().with_fault_policy(policy);
        let mut store = MemoryStore::new(FakeClock::at(NOON));
        store.set(HOUR_KEY, 5, 3_600).unwrap();
        let call = engine.reserve_once(&me(), "chat", 1, "k", NOON).unwrap();
        let fault = Err(QuotaError::store("the store is down"));
        let undo = StoreOp::Incr {
            key: KeyRef::Policy(0),
            delta: -1,
        };
        let (outcome, ops) = drive(call, &mut store, (3, fault));
        assert_eq!(ops[3], undo, "{policy:?}: {ops:?}");
        let d = outcome.unwrap().decision().expect("a decision");
        assert_eq!((d.allowed, d.policy, d.used), (false, 0, 5), "{policy:?}");
    }
}

/// A store that is down: every operation fails.
struct Down;

impl Store for Down {
    fn get(&mut self, _: &str) -> Result<Option<i64>> {
        Err(QuotaError::store("the store is down"))
    }
    fn incr(&mut self, _: &str, _: i64) -> Result<Option<i64>> {
        Err(QuotaError::store("the store is down"))
    }
    fn add(&mut self, _: &str, _: i64, _: u64) -> Result<bool> {
        Err(QuotaError::store("the store is down"))
    }
    fn set(&mut self, _: &str, _: i64, _: u64) -> Result<()> {
        Err(QuotaError::store("the store is down"))
    }
}

/// Under `"deny"` or `"allow"` a store fault is the policy's decision: `Quota::call` answers
/// it as `Outcome::Degraded`, and the methods that answer a `Decision` return the error the
/// policy absorbed — the store's own, for the host to log.
#[test]
fn under_a_fault_policy_the_typed_methods_return_the_stores_own_error() {
    for policy in [FaultPolicy::Deny, FaultPolicy::Allow] {
        let engine = engine().with_counting(CountingOps::IncrAddSet);
        let mut q = Quota::new(engine.with_fault_policy(policy), Down, FakeClock::at(NOON));
        let call = q.engine().reserve(&me(), "chat", 1, NOON).unwrap();
        let Outcome::Degraded(d) = q.call(call).unwrap() else {
            panic!("{policy:?}: not degraded")
        };
        assert_eq!(d.allowed, policy == FaultPolicy::Allow);
        assert_eq!(d.error.message, "the store is down");
        for err in [
            q.check(&me(), "chat", 1).unwrap_err(),
            q.reserve(&me(), "chat", 1).unwrap_err(),
            q.increment(&me(), "chat", 1).unwrap_err(),
        ] {
            assert_eq!(err, QuotaError::store("the store is down"), "{policy:?}");
        }
    }
}
