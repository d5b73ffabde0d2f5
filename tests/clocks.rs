//! Hosts whose clocks disagree, sharing one store: the store expires keys by its own clock,
//! each engine names windows by its own. A host behind must find the window's counter (and an
//! idempotency key's record) that a host on time wrote, not an expired key it counts from 0.

use wasm_quota::core::*;

/// 2026-11-28T00:00:00Z.
const MIDNIGHT: i64 = 1_795_824_000_000;

const EVERY_COUNTING: [CountingOps; 3] = [
    CountingOps::IncrAddSet,
    CountingOps::IncrOrCreate,
    CountingOps::IncrOrCreateWithin,
];

/// An engine on `clock` over a `MemoryStore` on `store_clock`, limit 2 a day for remix.
fn host(
    counting: CountingOps,
    store_clock: &FakeClock,
    clock: &FakeClock,
) -> Quota<MemoryStore<FakeClock>, FakeClock> {
    let limits = Limits::daily([("remix", 2)]).unwrap();
    let engine = Engine::new(limits).with_counting(counting);
    Quota::new(engine, MemoryStore::new(store_clock.clone()), clock.clone())
}

fn me() -> Profile {
    Profile::limited(ProfileId::number(42).unwrap())
}

#[test]
fn a_host_behind_in_time_finds_the_full_counter_of_the_day_that_ended() {
    for counting in EVERY_COUNTING {
        let (store_clock, clock) = (
            FakeClock::at(MIDNIGHT - 60_000),
            FakeClock::at(MIDNIGHT - 60_000),
        );
        let mut quota = host(counting, &store_clock, &clock);
        assert!(quota.reserve(&me(), "remix", 2).unwrap().allowed);
        // Five minutes past midnight by the store's clock, from a host six minutes behind:
        // still the old day, whose counter is full.
        store_clock.set(MIDNIGHT + 5 * 60_000);
        clock.set(MIDNIGHT - 60_000);
        let d = quota.reserve(&me(), "remix", 1).unwrap();
        assert!(
            !d.allowed,
            "{counting:?}: the day admitted 3 against a limit of 2"
        );
        assert_eq!(d.used, 2, "{counting:?}");
    }
}

#[test]
fn a_retry_from_a_host_behind_in_time_is_answered_from_the_record() {
    for counting in EVERY_COUNTING {
        let (store_clock, clock) = (
            FakeClock::at(MIDNIGHT - 60_000),
            FakeClock::at(MIDNIGHT - 60_000),
        );
        let mut quota = host(counting, &store_clock, &clock);
        let first = quota.reserve_once(&me(), "remix", 1, "request-1").unwrap();
        assert!(first.allowed && first.reservation_token().is_some());
        store_clock.set(MIDNIGHT + 5 * 60_000);
        let retry = quota.reserve_once(&me(), "remix", 1, "request-1").unwrap();
        assert!(
            retry.allowed && retry.reservation_token().is_none(),
            "{counting:?}: the retry ran as a new request: {retry:?}"
        );
    }
}
