//! The edges of a limit, natively, over both ways of running a call (the state machines and
//! the direct path): an amount over a whole limit can never fit, and no count passes 2^53 − 1.

use wasm_quota::core::direct::Counting;
use wasm_quota::core::limits::MAX_SAFE_INTEGER;
use wasm_quota::core::memory::Counters;
use wasm_quota::core::window::WindowUnit::{Day, Hour};
use wasm_quota::core::*;

const NOON: i64 = 1_795_780_800_000; // 2026-11-27T12:00:00Z

fn limits() -> Limits {
    let mut l = Limits::daily([("remix", 3)]).unwrap();
    // The day fills up first; the hour's limit is the one below a large amount.
    let day = Policy::new(None, 20, Day, None).unwrap();
    let hour = Policy::new(None, 5, Hour, None).unwrap();
    l.insert("chat", vec![day, hour]).unwrap();
    l
}

fn me() -> Profile {
    Profile::limited(ProfileId::number(42).unwrap())
}

fn describe(n: f64) -> String {
    n.to_string()
}

/// `kind` of `amount` by the state machines over `counters`, and by the direct path over a
/// copy of them: both must answer the same. Returns (allowed, policy, used, retry_after).
fn both(
    engine: &Engine,
    counters: &mut Counters,
    kind: Counting,
    feature: &str,
    amount: i64,
) -> (bool, usize, i64, Option<u64>) {
    let mut copy = counters.clone();
    let call = match kind {
        Counting::Check => engine.check(&me(), feature, amount, NOON),
        Counting::Reserve => engine.reserve(&me(), feature, amount, NOON),
        Counting::Increment => engine.increment(&me(), feature, amount, NOON),
    };
    let d = run(call.unwrap(), &mut counters.at(NOON as f64, describe))
        .unwrap()
        .decision()
        .unwrap();
    let index = engine
        .limits()
        .features()
        .position(|(f, _)| f == feature)
        .unwrap();
    let f = engine
        .count_directly(
            kind,
            &me(),
            index,
            amount,
            NOON,
            &mut copy.at(NOON as f64, describe),
        )
        .unwrap()
        .unwrap();
    let machines = (d.allowed, d.policy, d.used, d.retry_after);
    assert_eq!(
        machines,
        (f.allowed, f.policy, f.used, f.retry_after),
        "{kind:?} {feature} x{amount}"
    );
    machines
}

#[test]
fn an_amount_over_a_whole_limit_is_denied_with_nothing_to_wait_for() {
    let engine = Engine::new(limits());
    let mut c = Counters::default();
    for kind in [Counting::Check, Counting::Reserve] {
        assert_eq!(both(&engine, &mut c, kind, "remix", 4), (false, 0, 0, None));
    }
    assert!(both(&engine, &mut c, Counting::Reserve, "remix", 1).0);
    // 1 + 3 > 3 fits tomorrow; 4 never does.
    let in_12_hours = Some(12 * 3600);
    assert_eq!(
        both(&engine, &mut c, Counting::Reserve, "remix", 3),
        (false, 0, 1, in_12_hours)
    );
    assert_eq!(
        both(&engine, &mut c, Counting::Reserve, "remix", 4),
        (false, 0, 1, None)
    );

    // With the day nearly full, 6 is denied by the hour (limit 5, never), not by the day.
    both(&engine, &mut c, Counting::Increment, "chat", 18);
    for kind in [Counting::Check, Counting::Reserve] {
        assert_eq!(both(&engine, &mut c, kind, "chat", 6), (false, 1, 18, None));
    }
    assert_eq!(
        both(&engine, &mut c, Counting::Reserve, "chat", 3),
        (false, 0, 18, in_12_hours)
    );
}

fn error_of(r: Result<Outcome>) -> QuotaError {
    r.expect_err("refused")
}

#[test]
fn no_count_passes_max_safe_integer_and_the_counter_stays_usable() {
    const MAX: i64 = MAX_SAFE_INTEGER;
    let mut l = limits();
    l.insert("big", vec![Policy::daily(MAX).unwrap()]).unwrap();
    l.insert("tips", vec![Policy::daily(20).unwrap()]).unwrap();
    let engine = Engine::new(l);
    let mut c = Counters::default();
    let at = |c: &mut Counters| {
        c.at(NOON as f64, describe)
            .get("ai_quota:42:remix:2026-11-27")
            .unwrap()
    };

    // increment near the top, both paths: up to 2^53 − 1 exactly, never past it.
    both(&engine, &mut c, Counting::Increment, "remix", MAX - 5);
    for kind_path in 0..2 {
        let err = if kind_path == 0 {
            let call = engine.increment(&me(), "remix", 6, NOON).unwrap();
            error_of(run(call, &mut c.at(NOON as f64, describe)))
        } else {
            let mut store = c.at(NOON as f64, describe);
            engine
                .count_directly(Counting::Increment, &me(), 0, 6, NOON, &mut store)
                .expect_err("refused")
        };
        assert_eq!(err.code, ErrorCode::InvalidArgument, "{err:?}");
        assert_eq!(at(&mut c), Some(MAX - 5), "nothing written");
    }
    assert_eq!(
        both(&engine, &mut c, Counting::Increment, "remix", 5),
        (true, 0, MAX, Some(0))
    );
    // Denied reserves roll back to at most 2^53 − 1 (odd amounts land exactly).
    for amount in [1, 3] {
        let (allowed, _, used, _) = both(&engine, &mut c, Counting::Reserve, "remix", amount);
        assert_eq!((allowed, used), (false, MAX), "x{amount}");
        assert_eq!(at(&mut c), Some(MAX));
    }
    for amount in [2, 4] {
        assert!(!both(&engine, &mut c, Counting::Reserve, "remix", amount).0);
        let left = at(&mut c).unwrap();
        assert!(left == MAX || left == MAX - 1, "x{amount}: {left}");
    }
    // A limit of 2^53 − 1: all of it in one reserve, then denials, never a corrupt counter.
    assert_eq!(
        both(&engine, &mut c, Counting::Reserve, "big", MAX),
        (true, 0, MAX, Some(0))
    );
    for amount in [1, 3, MAX] {
        let (allowed, _, used, retry) = both(&engine, &mut c, Counting::Reserve, "big", amount);
        assert_eq!(
            (allowed, used, retry),
            (false, MAX, Some(12 * 3600)),
            "x{amount}"
        );
    }
    assert_eq!(both(&engine, &mut c, Counting::Check, "big", MAX).2, MAX);
    // The counters hold JS numbers, 2 apart past 2^53: from 2^53 − 1 a count of 4 lands on
    // 2^53 + 4, and its undo on 2^53, which each path brings back to 2^53 − 1 exactly (a
    // counter left above it would be CORRUPT_COUNTER for every later call).
    const BIG: &str = "ai_quota:42:big:2026-11-27";
    for amount in [4, 8] {
        for direct in [false, true] {
            let mut store = c.at(NOON as f64, describe);
            store.set(BIG, MAX, 3600).unwrap();
            let allowed = if direct {
                let kind = Counting::Reserve;
                let f = engine.count_directly(kind, &me(), 2, amount, NOON, &mut store);
                f.unwrap().unwrap().allowed
            } else {
                let call = engine.reserve(&me(), "big", amount, NOON).unwrap();
                run(call, &mut store).unwrap().decision().unwrap().allowed
            };
            assert!(!allowed, "x{amount} direct: {direct}");
            assert_eq!(
                c.at(NOON as f64, describe).get(BIG).unwrap(),
                Some(MAX),
                "x{amount} direct: {direct}"
            );
        }
    }

    // settle: a charge past 2^53 − 1 is refused before its marker; the real figure then settles.
    let engine = engine
        .with_token_secret("one secret for the tests")
        .unwrap();
    both(&engine, &mut c, Counting::Increment, "tips", 10);
    let call = engine.reserve(&me(), "tips", 1, NOON).unwrap();
    let d = run(call, &mut c.at(NOON as f64, describe))
        .unwrap()
        .decision()
        .unwrap();
    let token = d.reservation_token().unwrap();
    let settle = |c: &mut Counters, actual| {
        let call = engine.settle(&me(), &token, actual, NOON).unwrap();
        run(call, &mut c.at(NOON as f64, describe))
    };
    assert_eq!(
        error_of(settle(&mut c, MAX)).code,
        ErrorCode::InvalidArgument
    );
    assert_eq!(settle(&mut c, 3).unwrap(), Outcome::Settled(true));
    assert_eq!(both(&engine, &mut c, Counting::Check, "tips", 1).2, 13);
}

/// Random values drawn by the engines of [`a_denial_signs_no_token`].
static DRAWS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn counted_entropy() -> u64 {
    (DRAWS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) as u64)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        + 1
}

#[test]
fn a_denial_signs_no_token() {
    // Without tokenSecret the MAC's key is drawn on first use: a denial must not be one.
    let draws = || DRAWS.load(std::sync::atomic::Ordering::SeqCst);
    let engine = Engine::new(limits()).with_entropy(counted_entropy);
    let mut c = Counters::default();
    both(&engine, &mut c, Counting::Increment, "remix", 3);
    let before = draws();
    for amount in [1, 4] {
        for (kind, name) in [(Counting::Reserve, "remix"), (Counting::Reserve, "chat")] {
            let amount = if name == "chat" { amount + 5 } else { amount };
            assert!(!both(&engine, &mut c, kind, name, amount).0);
        }
        let call = engine
            .reserve_once(&me(), "remix", amount, "key-1", NOON)
            .unwrap();
        let d = run(call, &mut c.at(NOON as f64, describe))
            .unwrap()
            .decision()
            .unwrap();
        assert!(!d.allowed && d.reservation.is_none());
    }
    assert_eq!(draws(), before, "denials drew no nonce and no key");
    // The first admission draws them (a nonce seed, the key's two halves), and is signed.
    let call = engine.reserve(&me(), "chat", 1, NOON).unwrap();
    let d = run(call, &mut c.at(NOON as f64, describe))
        .unwrap()
        .decision()
        .unwrap();
    assert_eq!(draws(), before + 3);
    let token = d.reservation_token().unwrap();
    let release = engine.release(&me(), &token, None, NOON).unwrap();
    assert_eq!(
        run(release, &mut c.at(NOON as f64, describe)).unwrap(),
        Outcome::Released
    );
}

/// At 23:30 the hour ends with the day. A reserve the day denies (`chat`'s first policy)
/// while the hour is full too is denied on the day, by both paths: of policies whose windows
/// end together, the first (`decision::later_denial`); the direct path must not read the hour.
/// A check, which reads both, names the day too.
#[test]
fn a_denial_names_the_first_of_two_policies_ending_together_on_both_paths() {
    let engine = Engine::new(limits());
    let at = NOON + 23 * 1_800_000; // 23:30
    let mut c = Counters::default();
    let mut store = c.at(at as f64, describe);
    store.set("ai_quota:42:chat:2026-11-27", 20, 1_800).unwrap();
    store
        .set("ai_quota:42:chat:2026-11-27T23", 5, 1_800)
        .unwrap();
    let mut copy = c.clone();
    let call = engine.reserve(&me(), "chat", 1, at).unwrap();
    let d = run(call, &mut c.at(at as f64, describe)).unwrap();
    let d = d.decision().unwrap();
    let kind = Counting::Reserve;
    let f = engine.count_directly(kind, &me(), 1, 1, at, &mut copy.at(at as f64, describe));
    let f = f.unwrap().unwrap();
    assert_eq!((d.allowed, d.policy, d.used, d.limit), (false, 0, 20, 20));
    assert_eq!((f.allowed, f.policy, f.used, f.limit), (false, 0, 20, 20));
    let call = engine.check(&me(), "chat", 1, at).unwrap();
    let d = run(call, &mut c.at(at as f64, describe)).unwrap();
    let d = d.decision().unwrap();
    let kind = Counting::Check;
    let f = engine.count_directly(kind, &me(), 1, 1, at, &mut copy.at(at as f64, describe));
    let f = f.unwrap().unwrap();
    assert_eq!((d.allowed, d.policy, d.used, d.limit), (false, 0, 20, 20));
    assert_eq!((f.allowed, f.policy, f.used, f.limit), (false, 0, 20, 20));
}
