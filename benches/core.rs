//! Native benchmark of the pure core (`make bench-core`): what one reserve costs without any
//! JavaScript boundary, over the in-process `MemoryStore` — the floor the WASM build adds to.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use std::hint::black_box;
use wasm_quota::core::{run, Engine, FakeClock, Limits, MemoryStore, Profile, ProfileId};

const NOON: i64 = 1_795_780_800_000; // 2026-11-27T12:00:00Z
const FEATURES: [(&str, i64); 6] = [
    ("remix", 10),
    ("remix_suggestions", 20),
    ("scale", 10),
    ("tips", 20),
    ("discover", 10),
    ("timer", 10),
];

fn profiles() -> Vec<Profile> {
    (1..=10_000)
        .map(|i| Profile::limited(ProfileId::number(i).unwrap()))
        .collect()
}

fn reserve(c: &mut Criterion) {
    let engine = Engine::new(Limits::daily(FEATURES).unwrap());
    let profiles = profiles();
    let clock = FakeClock::at(NOON);

    // 60k reserves round-robin over 10k profiles x 6 features: a mix of first counts (add),
    // increments and, once a counter is full, denials with roll-back.
    c.bench_function("reserve x 60k (10k profiles x 6 features)", |b| {
        b.iter_batched_ref(
            || MemoryStore::new(clock.clone()),
            |store| {
                let mut admitted = 0;
                for round in 0..6 {
                    for (i, p) in profiles.iter().enumerate() {
                        let (feature, _) = FEATURES[(i + round) % FEATURES.len()];
                        let call = engine.reserve(p, feature, 1, NOON).unwrap();
                        if run(call, store).unwrap().decision().unwrap().allowed {
                            admitted += 1;
                        }
                    }
                }
                black_box(admitted)
            },
            BatchSize::LargeInput,
        )
    });

    let mut store = MemoryStore::new(clock.clone());
    let p = &profiles[41];
    c.bench_function("reserve, one hot counter (denied)", |b| {
        b.iter(|| {
            let call = engine.reserve(p, black_box("remix"), 1, NOON).unwrap();
            black_box(run(call, &mut store).unwrap())
        })
    });
}

fn check(c: &mut Criterion) {
    let engine = Engine::new(Limits::daily(FEATURES).unwrap());
    let mut store = MemoryStore::new(FakeClock::at(NOON));
    let p = Profile::limited(ProfileId::number(42).unwrap());
    c.bench_function("check", |b| {
        b.iter(|| {
            let call = engine.check(&p, black_box("tips"), 1, NOON).unwrap();
            black_box(run(call, &mut store).unwrap())
        })
    });
}

criterion_group!(benches, reserve, check);
criterion_main!(benches);
