//! The edges of a limit, natively, over both ways of running a call (the state machines and
//! the direct path): an amount over a whole limit can never fit, and no count passes 2^53 − 1.

use wasm_quota::core::direct::Counting;
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
