//! `Engine::count_directly` (check / reserve / increment run straight over in-process counters,
//! the JS `MemoryStore` path) against the state machines driven by `run` over the same kind of
//! counters: random calls over several profiles, features with one to three policies (zoned
//! ones too), amounts, corrupt values and time jumps; every figure, error and counter equal.
//! Each side counts with `incr_or_create`, with `incr_or_create_within` too, or with incr → add
//! → incr → set (every pairing).

use std::cell::Cell;
use std::rc::Rc;
use wasm_quota::core::direct::{Counting, Figures};
use wasm_quota::core::memory::Counters;
use wasm_quota::core::window::WindowUnit::{Day, Hour, Month, Week};
use wasm_quota::core::*;

const H: i64 = 3_600_000;
const START: i64 = 1_774_700_000_000; // 2026-03-28T12:13:20Z, a day before Paris springs forward

thread_local! {
    /// The nonce seed of the engines a test compares: both draw it (on their first reserve),
    /// so both draw the same nonces and their tokens are equal.
    static SEED: Cell<u64> = const { Cell::new(0) };
}

/// The entropy of those engines: [`SEED`], every time.
fn seeded() -> u64 {
    SEED.with(Cell::get)
}

/// The features in one order, or (`reordered`) in another: after `set_limits` each position
/// names another feature.
fn limits(reordered: bool) -> Limits {
    let p = |limit, w, zone| Policy::new(None, limit, w, zone).unwrap();
    let paris = Policy::new(Some("paris"), 9, Day, Some("Europe/Paris")).unwrap();
    let mut features = vec![
        ("remix", vec![p(5, Day, None)]),
        ("none", vec![p(0, Day, None)]),
        ("chat", vec![p(300, Hour, None), p(800, Day, None)]),
        ("zoned", vec![p(4, Hour, None), paris, p(12, Week, None)]),
        ("monthly", vec![p(40, Month, None)]),
    ];
    if reordered {
        features.reverse();
    }
    let mut l = Limits::daily([]).unwrap();
    for (feature, policies) in features {
        l.insert(feature, policies).unwrap();
    }
    l
}

/// xorshift64*: a seeded stream of test choices.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn as_figures(d: Decision) -> Figures {
    Figures {
        allowed: d.allowed,
        unlimited: d.unlimited,
        limit: d.limit,
        used: d.used,
        remaining: d.remaining,
        resets_at_ms: d.resets_at_ms,
        retry_after: d.retry_after,
        policy: d.policy,
        named: d.policy_name.is_some(),
        reservation: d.reservation.map(|r| (r.at_ms, r.amount, r.nonce, r.mac)),
    }
}

fn describe(n: f64) -> String {
    n.to_string()
}

#[test]
fn direct_calls_match_the_state_machines() {
    for seed in 1..=9u64 {
        SEED.with(|s| s.set(seed));
        let engine = |counting: usize| {
            let counting = [
                CountingOps::IncrAddSet,
                CountingOps::IncrOrCreate,
                CountingOps::IncrOrCreateWithin,
            ][counting % 3];
            Engine::new(limits(false))
                .with_time_zones(Rc::new(FakeZones))
                .with_entropy(seeded)
                .with_counting(counting)
                .with_token_secret("one secret for both engines")
                .unwrap()
        };
        let (mut direct, mut machines) = (engine(seed as usize), engine(seed as usize / 3));
        let (mut a, mut b) = (Counters::default(), Counters::default());
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let names =
            |l: &Limits| -> Vec<String> { l.features().map(|(f, _)| f.to_owned()).collect() };
        let mut features = names(&limits(false));
        let profiles = [
            Profile::limited(ProfileId::number(1).unwrap()),
            Profile::limited(ProfileId::number(2).unwrap()),
            Profile::limited(ProfileId::text("1").unwrap()),
            Profile::limited(ProfileId::text("a:b").unwrap()),
            Profile {
                id: ProfileId::number(3).unwrap(),
                unlimited: true,
            },
        ];
        let mut now = START;
        let mut keys = std::collections::BTreeSet::<String>::new();
        for step in 0..4_000 {
            now += match rng.below(100) {
                0..=1 => rng.below(3 * 86_400_000) as i64,
                2..=9 => rng.below(H as u64) as i64,
                _ => rng.below(5_000) as i64,
            };
            let profile = &profiles[rng.below(profiles.len() as u64) as usize];
            let f = rng.below(features.len() as u64) as usize;
            let amount = [1, 1, 2, 3, 50, 350, 0][rng.below(7) as usize];
            let kind =
                [Counting::Check, Counting::Reserve, Counting::Increment][rng.below(3) as usize];
            // Now and then the limits change (positions name other features), expired counters
            // are swept or all are dropped: counters found before are elsewhere, or gone.
            match rng.below(400) {
                0 => {
                    let l = limits(rng.below(2) == 0);
                    features = names(&l);
                    direct.set_limits(l.clone());
                    machines.set_limits(l);
                }
                1..=3 => {
                    a.sweep(now as f64);
                    b.sweep(now as f64);
                }
                4 => {
                    a.clear();
                    b.clear();
                }
                _ => {}
            }
            // Now and then a counter holds something that is not a count.
            if rng.below(200) == 0 && !keys.is_empty() {
                let k = keys
                    .iter()
                    .nth(rng.below(keys.len() as u64) as usize)
                    .unwrap();
                let bad = [-4.0, 2.5, f64::NAN][rng.below(3) as usize];
                a.set(k, bad, 100.0, now as f64);
                b.set(k, bad, 100.0, now as f64);
            }
            let got = direct.count_directly(
                kind,
                profile,
                f,
                amount,
                now,
                &mut a.at(now as f64, describe),
            );
            let call = match kind {
                Counting::Check => machines.check(profile, &features[f], amount, now),
                Counting::Reserve => machines.reserve(profile, &features[f], amount, now),
                Counting::Increment => machines.increment(profile, &features[f], amount, now),
            };
            let want = call.and_then(|c| run(c, &mut b.at(now as f64, describe)));
            let want = want.map(|o| Some(as_figures(o.decision().expect("a decision"))));
            assert_eq!(
                got, want,
                "seed {seed} step {step}: {kind:?} {profile:?} {} x{amount}",
                features[f]
            );
            if step % 50 == 0 {
                keys.extend(b.keys().map(str::to_owned));
            }
            assert_eq!(a.len(), b.len(), "seed {seed} step {step}");
        }
        assert!(keys.len() > 30, "only {} counters touched", keys.len());
        for k in &keys {
            let (x, y) = (a.get(k, now as f64), b.get(k, now as f64));
            assert!(
                x == y || x.is_some_and(f64::is_nan) && y.is_some_and(f64::is_nan),
                "{k}"
            );
        }
    }
}

/// A call whose keys are built as the key table fills up: building its second key starts the
/// table over and drops its first, which the call builds again. Counts and decisions stay
/// those of the state machines, before, across and after the start-over.
#[test]
fn a_key_table_starting_over_inside_a_call_keeps_every_count() {
    use wasm_quota::core::keytable::KEY_TABLE_CAPACITY;
    SEED.with(|s| s.set(7));
    let engine = || {
        Engine::new(limits(false))
            .with_entropy(seeded)
            .with_token_secret("one secret for both engines")
            .unwrap()
    };
    let (direct, machines) = (engine(), engine());
    let (mut a, mut b) = (Counters::default(), Counters::default());
    let names: Vec<String> = limits(false)
        .features()
        .map(|(f, _)| f.to_owned())
        .collect();
    let (remix, chat) = (0, 2);
    assert_eq!((&*names[remix], &*names[chat]), ("remix", "chat"));
    let reserve = |(id, f): (i64, usize), a: &mut Counters, b: &mut Counters| {
        let profile = Profile::limited(ProfileId::number(id).unwrap());
        let got = direct.count_directly(
            Counting::Reserve,
            &profile,
            f,
            1,
            START,
            &mut a.at(START as f64, describe),
        );
        let want = machines
            .reserve(&profile, &names[f], 1, START)
            .and_then(|c| run(c, &mut b.at(START as f64, describe)))
            .map(|o| Some(as_figures(o.decision().expect("a decision"))));
        assert_eq!(got, want, "profile {id}, {}", names[f]);
        got.unwrap().unwrap()
    };
    // One key, then two per call: the table holds one key short of its capacity.
    reserve((0, remix), &mut a, &mut b);
    let full = (KEY_TABLE_CAPACITY as i64 - 2) / 2;
    for id in 1..=full {
        reserve((id, chat), &mut a, &mut b);
    }
    for (id, used) in [(full + 1, 1), (full + 1, 2), (1, 2), (0, 2)] {
        let f = if id == 0 { remix } else { chat };
        let figures = reserve((id, f), &mut a, &mut b);
        assert_eq!(
            (figures.allowed, figures.used),
            (true, used),
            "profile {id}"
        );
    }
    assert_eq!(a.len(), b.len());
    let keys: Vec<String> = b.keys().map(str::to_owned).collect();
    for k in &keys {
        assert_eq!(a.get(k, START as f64), b.get(k, START as f64), "{k}");
    }
}

/// The direct path holds up to `MAX_DIRECT_POLICIES` policies: a feature with exactly that
/// many runs there, one with more answers `None` (its host takes the state machines), and
/// each counts in every counter of its feature.
#[test]
fn a_feature_with_more_policies_than_the_direct_path_holds_takes_the_state_machines() {
    use wasm_quota::core::direct::MAX_DIRECT_POLICIES as MAX;
    let zones = [None, Some("Europe/Paris"), Some("Asia/Kolkata")];
    let policies: Vec<Policy> = (0..MAX + 1)
        .map(|i| {
            let (window, zone) = ([Hour, Day, Week, Month][i % 4], zones[i / 4]);
            Policy::new(Some(&format!("p{i}")), 100, window, zone).unwrap()
        })
        .collect();
    let me = Profile::limited(ProfileId::number(1).unwrap());
    for n in [MAX, MAX + 1] {
        let mut l = Limits::daily([]).unwrap();
        l.insert("many", policies[..n].to_vec()).unwrap();
        let engine = Engine::new(l).with_time_zones(Rc::new(FakeZones));
        let mut c = Counters::default();
        let kind = Counting::Reserve;
        let f = engine.count_directly(kind, &me, 0, 1, START, &mut c.at(START as f64, describe));
        let direct = f.unwrap().map(|f| (f.allowed, f.used));
        assert_eq!(direct, (n == MAX).then_some((true, 1)), "{n} policies");
        let call = engine.reserve(&me, "many", 1, START).unwrap();
        let d = run(call, &mut c.at(START as f64, describe)).unwrap();
        let d = d.decision().unwrap();
        assert_eq!((d.allowed, d.used), (true, 1 + (n == MAX) as i64), "{n}");
        assert_eq!(c.len(), n, "one counter per policy");
    }
}
