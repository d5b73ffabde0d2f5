//! Model-based property tests of the core, after the `governor` crate's `tests/proptests.rs`.
//!
//! A case is a random history: batches of calls (check, reserve, increment, release by feature
//! and by reservation) over four profiles and three features, clock jumps (some landing a
//! moment before or after midnight), `setLimits`, `usage`, and injected store faults, over a
//! store counting with its atomic `incr_or_create` (and reserves with `incr_or_create_within`,
//! or not) or with incr → add → incr → set. The calls
//! of a batch run concurrently: a random schedule interleaves their store steps over one shared
//! store, the way an async store interleaves them in a host. Checked against `model::Model`:
//! - a call alone agrees with the model exactly (every decision field, every counter);
//! - in a batch, never more admitted than the limit (plus what the batch released), and with
//!   unit amounts and nothing else going on, exactly as many as fit; counting within the
//!   limit, with any amounts, no reserve denied that fits even after the batch;
//! - every decision's fields agree with each other;
//! - counters equal the model after every batch and are never negative, except that a store
//!   fault leaves at most the faulted calls' amounts too many (reserve, increment) or too few
//!   (release — what the host asked to give back), never an under-count otherwise;
//! - a feature with two policies counts in both or in neither; each of its counters keeps
//!   every invariant above (`multi_policy_features_agree_with_the_model`). The two are drawn
//!   from `SHAPES`: an hour and a day in either order, zoned windows (Asia/Kolkata, +05:30:
//!   hours starting at :30, a day ending at 18:30 UTC), a week; a denial by both is the one
//!   that ends last; and calendar months, whose length varies (a UTC month beside a day, a
//!   Kolkata month beside an hour), from the last two days of a month of 2026 on, across its
//!   end (`month_windows_agree_with_the_model`);
//! - a release by feature of more than its counter holds ("unpaired"), racing other calls,
//!   never erases a count made by a reserve or increment (the counter ends at least at
//!   before + counted - released); reserves racing it may see a transiently negative counter
//!   and refuse with CORRUPT_COUNTER, counting nothing.
//! - reserves under idempotency keys (three keys, so that retries and collisions happen;
//!   retries of an earlier request, alone or racing in one batch, in its window or after;
//!   "release and retry" 1 to 20 times) do what README's Idempotency paragraph says
//!   (`model::records`, checked in `once.rs`): a replay counts nothing and carries no
//!   reservation; the work runs (admitted, not replayed) once per request and window, and
//!   once more after each release, 16 times, then IDEMPOTENCY_KEY_EXHAUSTED; of attempts racing in a
//!   batch at most one is admitted; every record and marker in the store is the model's;
//! - releases and settles (below, at and above the reserved amount) of a reservation, sent
//!   again later or racing each other in a batch (`finalize.rs`): the first applies, exactly,
//!   and `settle` answers `true` only for it; no other changes anything, however late (a
//!   charge whose window has ended counts in the next one, and is dropped after that; the
//!   marker outlives the next windows by ten minutes);
//! - the engine's clock may disagree with the store's (`Event::Skew`, up to five minutes either
//!   way, so two hosts are less than the ten minutes keys outlive their windows apart; also
//!   across midnight and back): windows and TTLs are the engine's, expiry the store's, and
//!   everything above holds against that model.

#[path = "proptests/finalize.rs"]
mod finalize;
mod model;
#[path = "proptests/once.rs"]
mod once;
#[path = "proptests/shapes.rs"]
mod shapes;

use chrono::Datelike;
use finalize::Effect;
use model::records::Records;
use model::{ttl_secs, Counter, Model, DAY_MS, HOUR_MS};
use once::{Ident, Keyed};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use shapes::{Change, Pol, SHAPES, SHAPES_WITHOUT_MONTHS, WINDOWS, WITHOUT_MONTHS};
use std::collections::{BTreeMap, BTreeSet};
use wasm_quota::core::reservation::Reservation;
use wasm_quota::core::store::perform;
use wasm_quota::core::*;

/// What a check returns (`Result` here is the core's).
type Checked = std::result::Result<(), TestCaseError>;

const FEATURES: [&str; 3] = ["remix", "tips", "scale"];
/// Profiles 1 and 3 share id 7; 3 is unlimited and must never touch 1's counters.
const PROFILES: usize = 4;
/// 2026-01-01T00:00:00Z
const START: i64 = 1_767_225_600_000;

fn profile(p: usize) -> Profile {
    let id = match p {
        0 => ProfileId::number(0),
        1 | 3 => ProfileId::number(7),
        _ => ProfileId::text("a:b"),
    };
    Profile {
        id: id.unwrap(),
        unlimited: p == 3,
    }
}

/// Counters are shared by profiles with the same id.
fn owner(p: usize) -> usize {
    if p == 3 {
        1
    } else {
        p
    }
}

/// A policy's window as the model sees it, spelled out independently of `core::window`: a
/// fixed length, starting where the wall time (`t + zone_ms`) is a multiple of it (a week's,
/// where it is a Monday), or a calendar month of the wall time, and labelled with the wall
/// time of its start.
#[derive(Debug, Clone, Copy)]
struct Win {
    unit: WindowUnit,
    /// The window's length; unused for a month, whose length varies.
    len: i64,
    /// The zone (`FakeZones`' Asia/Kolkata, +05:30 all year) or UTC.
    zone: Option<(&'static str, i64)>,
}

const WEEK_MS: i64 = 7 * DAY_MS;
/// 1970-01-05, the first Monday after the epoch.
const MONDAY_MS: i64 = 4 * DAY_MS;
const KOLKATA: Option<(&str, i64)> = Some(("Asia/Kolkata", 5 * HOUR_MS + HOUR_MS / 2));
const fn win(unit: WindowUnit, len: i64, zone: Option<(&'static str, i64)>) -> Win {
    Win { unit, len, zone }
}
const UTC_HOUR: Win = win(WindowUnit::Hour, HOUR_MS, None);
const UTC_DAY: Win = win(WindowUnit::Day, DAY_MS, None);

impl Win {
    fn zone_ms(&self) -> i64 {
        self.zone.map_or(0, |z| z.1)
    }

    /// `(start, end)` of the window holding `t`.
    fn span(&self, t: i64) -> (i64, i64) {
        if let WindowUnit::Month = self.unit {
            return self.month(t);
        }
        let align = self.zone_ms() - if self.len == WEEK_MS { MONDAY_MS } else { 0 };
        let start = (t + align).div_euclid(self.len) * self.len - align;
        (start, start + self.len)
    }

    /// The calendar month of the wall time holding `t`, from its 1st at 00:00 to the next's.
    fn month(&self, t: i64) -> (i64, i64) {
        let wall = chrono::DateTime::from_timestamp_millis(t + self.zone_ms()).unwrap();
        let first = wall.date_naive().with_day(1).unwrap();
        let next = first.checked_add_months(chrono::Months::new(1)).unwrap();
        let ms = |d: chrono::NaiveDate| d.and_time(Default::default()).and_utc().timestamp_millis();
        (ms(first) - self.zone_ms(), ms(next) - self.zone_ms())
    }

    /// The key label of the window starting at `start`.
    fn label(&self, start: i64) -> String {
        let wall = chrono::DateTime::from_timestamp_millis(start + self.zone_ms()).unwrap();
        let label = match self.unit {
            WindowUnit::Hour => wall.format("%Y-%m-%dT%H"),
            WindowUnit::Week => wall.format("%G-W%V"),
            WindowUnit::Month => wall.format("%Y-%m"),
            _ => wall.format("%Y-%m-%d"),
        };
        match self.zone {
            Some((zone, _)) => format!("{label}@{zone}"),
            None => label.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Check,
    Reserve,
    Increment,
    ReleaseFeature,
    /// Release one of the reservations handed out (index modulo their number), released or
    /// settled before or not.
    ReleaseToken(usize),
    /// Settle one of the reservations handed out at this amount (0 to 8: below, at and above
    /// the reserved amount).
    Settle(usize, i64),
    /// Reserve under the idempotency key `KEYS[i]`.
    ReserveOnce(usize),
}

/// Idempotency keys: few, so that retries and collisions happen (`:` is escaped in keys).
const KEYS: [&str; 3] = ["k0", "k1", "k:0"];

#[derive(Debug, Clone, PartialEq)]
struct Req {
    kind: Kind,
    p: usize,
    f: usize,
    amount: i64,
    /// Fail the store op with this index, before it takes effect (false) or after (true).
    fault: Option<(usize, bool)>,
}

#[derive(Debug, Clone)]
enum Event {
    /// Concurrent calls and the schedule that interleaves their steps.
    Batch(Vec<Req>, Vec<u8>),
    Advance(i64),
    /// To the next midnight plus this offset (ms, may be negative).
    NearMidnight(i64),
    /// `setLimits` with every feature's numbers changed, shapes kept (the last policy's limit).
    SetLimits([i64; 3]),
    /// `setLimits` with one feature's shape changed (`shapes.rs`).
    Reshape(usize, Change),
    /// To this many ms after the expiry of one of the markers in the store (index modulo
    /// their number; may be negative), where the model and the engine could disagree.
    NearExpiry(usize, i64),
    Usage(usize),
    /// A reserve under an idempotency key (the request), then this many rounds of "its
    /// admitted reservation is released, and the request is retried", each call alone.
    Churn(Req, usize),
    /// Copies (1 to 3) of a request sent under an idempotency key earlier (index modulo
    /// their number), concurrently, in the order of the schedule.
    Retry(usize, usize, Vec<u8>),
    /// The engine's clock is set this many ms behind the store's (ahead when negative): the
    /// next calls come from a host whose clock disagrees, as a Worker on another machine.
    /// From 0 (in time) to minutes; after `NearMidnight`, across midnight and back.
    Skew(i64),
}

fn req() -> impl Strategy<Value = Req> {
    let kind = prop_oneof![
        2 => Just(Kind::Check),
        5 => Just(Kind::Reserve),
        1 => Just(Kind::Increment),
        1 => Just(Kind::ReleaseFeature),
        2 => any::<usize>().prop_map(Kind::ReleaseToken),
        3 => (0..KEYS.len()).prop_map(Kind::ReserveOnce),
        2 => (any::<usize>(), 0..=8i64).prop_map(|(i, a)| Kind::Settle(i, a)),
    ];
    let amount = prop_oneof![6 => Just(1i64), 3 => 2..=3i64, 1 => 4..=8i64];
    let fault = prop_oneof![12 => Just(None), 1 => (0..5usize, any::<bool>()).prop_map(Some)];
    (kind, 0..PROFILES, 0..FEATURES.len(), amount, fault).prop_map(|(kind, p, f, amount, fault)| {
        Req {
            kind,
            p,
            f,
            amount,
            fault,
        }
    })
}

fn event() -> impl Strategy<Value = Event> {
    let batch = (
        prop::collection::vec(req(), 1..=4),
        prop::collection::vec(any::<u8>(), 0..40),
    );
    prop_oneof![
        8 => batch.prop_map(|(r, s)| Event::Batch(r, s)),
        2 => (0..5_000i64).prop_map(Event::Advance),
        1 => (0..DAY_MS).prop_map(Event::Advance),
        1 => (-1_500..1_500i64).prop_map(Event::NearMidnight),
        1 => prop::array::uniform3(0..=6i64).prop_map(Event::SetLimits),
        1 => (0..PROFILES).prop_map(Event::Usage),
        1 => (req(), 0..KEYS.len(), 1..=20usize).prop_map(|(mut r, key, rounds)| {
            r.kind = Kind::ReserveOnce(key);
            r.fault = None;
            Event::Churn(r, rounds)
        }),
        3 => (any::<usize>(), 1..=3usize, prop::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(i, n, s)| Event::Retry(i, n, s)),
        2 => prop_oneof![Just(0), -5_000..5_000i64, -299_000..299_000i64].prop_map(Event::Skew),
        2 => (
            any::<usize>(),
            prop::collection::vec(prop::option::of(0..=8i64), 2..=3),
            prop::collection::vec(any::<u8>(), 0..40),
        )
            .prop_map(|(i, calls, s)| Event::Batch(race(i, &calls), s)),
    ]
}

/// Releases (`None`) and settles (at the amount given) of one reservation, sent at once.
fn race(i: usize, calls: &[Option<i64>]) -> Vec<Req> {
    let kind = |call: &Option<i64>| call.map_or(Kind::ReleaseToken(i), |a| Kind::Settle(i, a));
    calls
        .iter()
        .map(|call| Req {
            kind: kind(call),
            p: 0,
            f: 0,
            amount: 1,
            fault: None,
        })
        .collect()
}

/// How the engine counts: the store's `incr_or_create`, with `incr_or_create_within` for
/// reserves too, or incr → add → incr → set.
fn counting(upsert: bool, within: bool) -> CountingOps {
    match (upsert, within) {
        (true, true) => CountingOps::IncrOrCreateWithin,
        (true, false) => CountingOps::IncrOrCreate,
        (false, _) => CountingOps::IncrAddSet,
    }
}

fn fault_policy() -> impl Strategy<Value = FaultPolicy> {
    prop_oneof![
        Just(FaultPolicy::Throw),
        Just(FaultPolicy::Deny),
        Just(FaultPolicy::Allow)
    ]
}

/// A reservation the engine handed out (released or settled since, or not).
#[derive(Debug, Clone)]
struct Outstanding {
    p: usize,
    f: usize,
    counters: Vec<Counter>,
    amount: i64,
    /// When it was made.
    at: i64,
    token: String,
    nonce: u64,
}

struct World {
    /// The native API over the in-process store: solo calls run through it; batches build
    /// their calls with its engine and interleave their steps over its store.
    quota: Quota<MemoryStore<FakeClock>, FakeClock>,
    /// The store's clock (real time, never back); the engine's may be behind or ahead of it.
    store_clock: FakeClock,
    model: Model,
    /// Each feature's policies (`None`: not configured), as the engine has them.
    config: Vec<Option<Vec<Pol>>>,
    /// Policy names given so far (each new one is `n{names}`).
    names: usize,
    policy: FaultPolicy,
    outstanding: Vec<Outstanding>,
    /// Idempotency records and settle markers.
    records: Records,
    /// The current batch's reserves under each idempotency key.
    keyed: BTreeMap<Ident, Keyed>,
    /// Every request sent under an idempotency key, for retries.
    sent: Vec<Req>,
}

/// The calls of a batch, and the counters it releases more from than they hold.
type Started = (Vec<Running>, BTreeSet<Counter>);

/// One call of a batch in flight.
struct Running {
    req: Req,
    /// One per policy of the feature, in policy order.
    counters: Vec<Counter>,
    call: Box<dyn Call>,
    /// The reservation a release or settle by token finalizes, and what it did.
    token: Option<Outstanding>,
    effect: Effect,
    reply: Option<StoreReply>,
    ops: usize,
    faulted: bool,
    result: Option<Result<Outcome>>,
}

impl Running {
    fn step(&mut self, store: &mut dyn Store) {
        match self.call.resume(self.reply.take()) {
            Step::Done(outcome) => self.result = Some(outcome),
            Step::Op(op) => {
                let i = self.ops;
                self.ops += 1;
                let reply = match self.req.fault.filter(|&(at, _)| at == i) {
                    Some((_, false)) => Err(QuotaError::store("injected: failed before the op")),
                    Some((_, true)) => perform(&*self.call, op, store)
                        .and(Err(QuotaError::store("injected: failed after the op"))),
                    None => perform(&*self.call, op, store),
                };
                match reply {
                    Ok(r) => self.reply = Some(r),
                    Err(e) => {
                        self.faulted = true;
                        self.result = Some(self.call.fail(e));
                    }
                }
            }
        }
    }
}

/// Applies `f` to the tally of each of a call's counters.
fn each(tally: &mut BTreeMap<Counter, Tally>, counters: &[Counter], mut f: impl FnMut(&mut Tally)) {
    for c in counters {
        f(tally.get_mut(c).unwrap());
    }
}

/// Per-counter totals of one batch.
#[derive(Default, Debug)]
struct Tally {
    reserves: usize,
    unit_reserves: bool,
    /// The least amount of a plain reserve denied.
    least_denied: Option<i64>,
    admitted: i64,
    incremented: i64,
    released: i64,
    /// Amounts of faulted calls that may have added / taken away.
    may_add: i64,
    may_take: i64,
    other_calls: bool,
    /// The batch releases more than this counter holds (see `World::start`).
    unpaired: bool,
    /// The counter's feature has another policy, which can deny a reserve this one admits.
    shared: bool,
    /// A settle in the batch charged more than the estimate: one that lost its race to
    /// another settle or a release takes its charge back, and a counter it created stays at 0.
    charged: bool,
}

impl World {
    fn new(
        start: i64,
        limits: [i64; 3],
        (hourly, shape): (Option<i64>, usize),
        policy: FaultPolicy,
        counting: CountingOps,
    ) -> World {
        let (clock, store_clock) = (FakeClock::at(start), FakeClock::at(start));
        let config = shapes::config(limits, (hourly, shape));
        let engine = Engine::new(Limits::default())
            .with_fault_policy(policy)
            .with_counting(counting)
            .with_time_zones(std::rc::Rc::new(FakeZones));
        let mut world = World {
            quota: Quota::new(engine, MemoryStore::new(store_clock.clone()), clock),
            store_clock,
            model: Model::default(),
            config,
            names: 0,
            policy,
            outstanding: Vec::new(),
            records: Records::default(),
            keyed: BTreeMap::new(),
            sent: Vec::new(),
        };
        let limits = world.engine_limits();
        world.quota.engine_mut().set_limits(limits);
        world
    }

    /// `(window, limit)` of each policy of feature `f`.
    fn policies(&self, f: usize) -> Vec<(Win, i64)> {
        self.pols(f)
            .iter()
            .map(|p| (WINDOWS[p.win], p.limit))
            .collect()
    }

    /// The key of counter `c`.
    fn key(&self, c: Counter) -> String {
        let id = ["0", "7", "~a%3Ab"][c.0];
        let label = WINDOWS[c.2].label(c.3);
        format!("ai_quota:{id}:{}:{label}", FEATURES[c.1])
    }

    /// The counters a call of profile `p` on feature `f` at `at` touches, in policy order.
    fn counters(&self, p: usize, f: usize, at: i64) -> Vec<Counter> {
        self.pols(f)
            .iter()
            .map(|pol| {
                let (start, end) = WINDOWS[pol.win].span(at);
                (owner(p), f, pol.win, start, end)
            })
            .collect()
    }

    /// The window of counter `c`'s policy right after `c`'s.
    fn next_window(&self, c: Counter) -> Counter {
        let (start, end) = WINDOWS[c.2].span(c.4);
        (c.0, c.1, c.2, start, end)
    }

    /// Real time passes: both clocks move.
    fn advance(&mut self, ms: i64) {
        self.quota.clock().advance(ms);
        self.store_clock.advance(ms);
    }

    fn now(&self) -> i64 {
        self.quota.clock().now_ms()
    }

    fn run(&mut self, event: &Event) -> Checked {
        match event {
            Event::Advance(ms) => self.advance(*ms),
            Event::NearMidnight(off) => {
                let t = (self.now().div_euclid(DAY_MS) + 1) * DAY_MS + off;
                self.advance((t - self.now()).max(0));
            }
            Event::Skew(skew) => {
                self.quota.clock().set(self.store_clock.now_ms() - skew);
                (self.model.skew, self.records.skew) = (*skew, *skew);
            }
            Event::SetLimits(l) => self.set_numbers(*l),
            Event::Reshape(f, change) => self.reshape(*f, change),
            Event::NearExpiry(i, off) => {
                let mut ends: Vec<i64> = self.records.marker_expiries().collect();
                ends.sort_unstable();
                if let Some(end) = ends.get(i % ends.len().max(1)) {
                    let t = end + off - self.store_clock.now_ms();
                    self.advance(t.max(0));
                }
            }
            Event::Usage(p) => self.usage(*p)?,
            Event::Batch(reqs, schedule) => self.batch(reqs, schedule)?,
            Event::Churn(req, rounds) => self.churn(req, *rounds)?,
            Event::Retry(i, copies, schedule) => self.retry(*i, *copies, schedule)?,
        }
        self.check_markers()
    }

    fn usage(&mut self, p: usize) -> Checked {
        let now = self.now();
        let got = self.quota.usage(&profile(p).id).map(Outcome::Usage);
        // Usage reports each configured feature's first policy.
        let want: Vec<(String, i64)> = (0..FEATURES.len())
            .filter_map(|f| {
                let first = *self.counters(p, f, now).first()?;
                Some((FEATURES[f].to_owned(), self.model.count(first, now)))
            })
            .collect();
        prop_assert_eq!(got, Ok(Outcome::Usage(want)));
        Ok(())
    }

    /// Turns requests into calls. In a batch of several, releases of reservations are kept
    /// within what their counter holds, so that the batch's outcome does not depend on the
    /// interleaving; releases by feature beyond it are kept too, and their counters returned
    /// as "unpaired" (checked against bounds, not exactly).
    fn start(&mut self, reqs: &[Req]) -> std::result::Result<Started, TestCaseError> {
        let now = self.now();
        let alone = reqs.len() == 1;
        self.keyed.clear();
        let mut budget: BTreeMap<Counter, i64> = BTreeMap::new();
        let mut running = Vec::new();
        let mut unpaired = BTreeSet::new();
        for req in reqs {
            let mut req = req.clone();
            let mut counters = self.counters(req.p, req.f, now);
            let mut token = None;
            if let Kind::ReleaseToken(i) | Kind::Settle(i, _) = req.kind {
                if self.outstanding.is_empty() {
                    continue;
                }
                let o = self.outstanding[i % self.outstanding.len()].clone();
                (req.p, req.f, req.amount) = (o.p, o.f, o.amount);
                // Corrected only where a current policy counts: not in the window of one
                // removed since, nor of one added since (it never counted the reservation).
                counters = o.counters.clone();
                counters.retain(|&c| self.limit_of(c).is_some());
                token = Some(o);
            }
            if self.config[req.f].is_none() {
                // Not configured: refused before the store, a release or settle of one of its
                // reservations too (nothing written: it can be finished once it is back).
                let refused = self.call(&req, token.as_ref(), now).err().map(|e| e.code);
                prop_assert_eq!(refused, Some(ErrorCode::UnknownFeature), "{:?}", req);
                continue;
            }
            // What the call takes back from each counter (a settle's charge: below 0).
            let take = match req.kind {
                Kind::Settle(_, actual) => req.amount - actual,
                _ => req.amount,
            };
            // A charge is work that happened: one whose window has ended counts in the
            // window right after it, as a reserve would, created if absent; sent later still,
            // it is dropped. A settle with nothing left to charge writes nothing.
            let ended = counters.iter().any(|c| c.4 <= now);
            // A refund into a window that has ended is dropped: its counter is gone, or was
            // made anew by a host whose clock is behind and holds none of the reservation.
            if take >= 0 && token.is_some() {
                counters.retain(|c| c.4 > now);
            }
            if take < 0 && ended {
                if !alone {
                    continue;
                }
                counters = counters
                    .into_iter()
                    .filter_map(|c| match self.next_window(c) {
                        _ if c.4 > now => Some(c),
                        next if now < next.4 => Some(next),
                        _ => None,
                    })
                    .collect();
            }
            let limited_release = !profile(req.p).unlimited
                && matches!(
                    req.kind,
                    Kind::ReleaseFeature | Kind::ReleaseToken(_) | Kind::Settle(..)
                )
                && !token.as_ref().is_some_and(|o| self.finalized(o));
            if limited_release && !alone {
                for &c in &counters {
                    budget.entry(c).or_insert_with(|| self.model.count(c, now));
                }
                let covered = counters.iter().all(|c| budget[c] >= take);
                if token.is_some() && !covered {
                    continue;
                }
                for &c in &counters {
                    let left = budget.get_mut(&c).unwrap();
                    if *left < take {
                        unpaired.insert(c);
                    }
                    *left = (*left - take.max(0)).max(0);
                }
            }
            let call = self
                .call(&req, token.as_ref(), now)
                .expect("valid arguments are accepted");
            self.expect_keyed(&req, now);
            running.push(Running {
                req,
                counters,
                call,
                token,
                effect: Effect::Other,
                reply: None,
                ops: 0,
                faulted: false,
                result: None,
            });
        }
        Ok((running, unpaired))
    }

    /// The engine's call for `req` (`token`: the reservation a release or settle finishes).
    fn call(&self, req: &Req, token: Option<&Outstanding>, now: i64) -> Result<Box<dyn Call>> {
        let (pr, feature, engine) = (profile(req.p), FEATURES[req.f], self.quota.engine());
        match req.kind {
            Kind::Check => engine.check(&pr, feature, req.amount, now),
            Kind::Reserve => engine.reserve(&pr, feature, req.amount, now),
            Kind::Increment => engine.increment(&pr, feature, req.amount, now),
            Kind::ReleaseFeature => engine.release(&pr, feature, Some(req.amount), now),
            Kind::ReleaseToken(_) => engine.release(&pr, &token.unwrap().token, None, now),
            Kind::Settle(_, actual) => engine.settle(&pr, &token.unwrap().token, actual, now),
            Kind::ReserveOnce(key) => engine.reserve_once(&pr, feature, req.amount, KEYS[key], now),
        }
    }

    fn batch(&mut self, reqs: &[Req], schedule: &[u8]) -> Checked {
        let now = self.now();
        let (mut running, unpaired) = self.start(reqs)?;
        let mut k = 0;
        loop {
            let live: Vec<usize> = (0..running.len())
                .filter(|&i| running[i].result.is_none())
                .collect();
            if live.is_empty() {
                break;
            }
            let pick = schedule.get(k).map_or(k, |&b| b as usize) % live.len();
            running[live[pick]].step(self.quota.store_mut());
            k += 1;
            prop_assert!(k < 10_000, "a call never finished");
        }
        self.finalizers(&mut running)?;

        let alone = running.len() == 1;
        let before: BTreeMap<Counter, i64> = running
            .iter()
            .flat_map(|r| r.counters.iter())
            .map(|&c| (c, self.model.count(c, now)))
            .collect();
        let mut tally: BTreeMap<Counter, Tally> = BTreeMap::new();
        for r in &running {
            for &c in &r.counters {
                tally.entry(c).or_insert_with(|| Tally {
                    unit_reserves: true,
                    unpaired: unpaired.contains(&c),
                    shared: r.counters.len() > 1,
                    ..Tally::default()
                });
            }
        }
        for r in &mut running {
            let result = r.result.take().unwrap();
            self.settle(r, result, alone, &mut tally)?;
        }

        for (&c, t) in &tally {
            let c0 = before[&c];
            // A counter no current policy counts in (a reservation's, of a policy removed
            // since) is never counted in by this batch.
            let limit = self.limit_of(c).unwrap_or(i64::MAX);
            // Never over-admit: at the last admitting incr the counter held at least
            // c0 + admitted - released, and it was within the limit.
            prop_assert!(
                t.admitted == 0 || c0 + t.admitted - t.released - t.may_take <= limit,
                "admitted {} over {} with {} before and {} released",
                t.admitted,
                limit,
                c0,
                t.released
            );
            let quiet = t.released == 0 && t.incremented == 0 && t.may_add == 0 && !t.other_calls;
            if quiet && t.unit_reserves && t.may_take == 0 && !t.shared {
                let fit = (limit - c0).max(0) as usize;
                prop_assert_eq!(
                    t.admitted as usize,
                    t.reserves.min(fit),
                    "admitted as many as fit"
                );
            }
            // Counting within the limit, a denied reserve wrote nothing, so it denied no
            // other: reserves alone end as if they ran one after another, and what was denied
            // does not fit even now (counting and undoing, a reserve over the limit can deny a
            // concurrent one that fits).
            let within = self.quota.engine().counting_ops() == CountingOps::IncrOrCreateWithin;
            if quiet && within && t.may_take == 0 && !t.shared {
                if let Some(denied) = t.least_denied {
                    prop_assert!(
                        c0 + t.admitted + denied > limit,
                        "denied {} with {} of {} used after the batch",
                        denied,
                        c0 + t.admitted,
                        limit
                    );
                }
            }
            if !alone {
                let counted = t.admitted + t.incremented - t.released;
                if counted != 0 || self.model.live(c, now).is_some() {
                    self.model.add(c, counted, now);
                }
            }
        }
        let mut negative = Vec::new();
        for (&c, t) in &tally {
            self.compare(c, t, &mut negative)?;
        }
        for c in negative {
            self.repair(c)?;
        }
        self.check_records(alone)
    }

    /// Checks one finished call and records its effect on each of its counters.
    fn settle(
        &mut self,
        r: &Running,
        result: Result<Outcome>,
        alone: bool,
        tally: &mut BTreeMap<Counter, Tally>,
    ) -> Checked {
        let now = self.now();
        let req = &r.req;
        let feature = FEATURES[req.f];
        let releases = matches!(
            req.kind,
            Kind::ReleaseFeature | Kind::ReleaseToken(_) | Kind::Settle(..)
        );
        // What it takes back from each counter when it applies (a settle's charge: below 0).
        let take = match req.kind {
            Kind::Settle(_, actual) => req.amount - actual,
            _ => req.amount,
        };
        if profile(req.p).unlimited {
            let want = if releases {
                Outcome::Released
            } else {
                Outcome::Decision(Decision::unlimited(feature))
            };
            prop_assert_eq!(result, Ok(want));
            return Ok(());
        }
        let reserves = matches!(req.kind, Kind::Reserve | Kind::ReserveOnce(_));
        if r.faulted {
            let amount = req.amount;
            each(tally, &r.counters, |t| {
                match req.kind {
                    Kind::Reserve | Kind::ReserveOnce(_) | Kind::Increment => t.may_add += amount,
                    Kind::ReleaseFeature | Kind::ReleaseToken(_) | Kind::Settle(..) => {
                        t.may_take += take.max(0);
                        t.may_add += (-take).max(0);
                    }
                    Kind::Check => {}
                }
                t.other_calls |= req.kind != Kind::Reserve;
            });
            if let Some(keyed) = self.keyed_mut(req) {
                keyed.faulted = true;
            }
            let degraded = !releases && self.policy != FaultPolicy::Throw;
            match result {
                Ok(Outcome::Degraded(d)) if degraded => {
                    prop_assert_eq!(d.allowed, self.policy == FaultPolicy::Allow);
                    prop_assert_eq!(d.feature, feature);
                    prop_assert_eq!(d.error.code, ErrorCode::StoreError);
                }
                // The store said "over the limit" before its rollback failed: a known denial
                // stays a denial under every policy (the rollback is the over-count above).
                // Likewise a count found corrupt (a racing release below zero) stays that error.
                Err(e) if reserves && e.code == ErrorCode::CorruptCounter => {}
                Ok(Outcome::Decision(d)) if reserves && !d.allowed => {
                    prop_assert!(d.reservation.is_none());
                    prop_assert!(d.used + amount > d.limit);
                }
                Err(e) if !degraded => prop_assert_eq!(e.code, ErrorCode::StoreError),
                other => prop_assert!(false, "faulted {:?} answered {:?}", req.kind, other),
            }
            return Ok(());
        }
        let racing = r.counters.iter().any(|c| tally[c].unpaired);
        let outcome = match result {
            // A racing unpaired release drove a counter below zero for a moment.
            Err(e)
                if racing && e.code == ErrorCode::CorruptCounter && req.kind != Kind::Increment =>
            {
                each(tally, &r.counters, |t| t.other_calls = true);
                return Ok(());
            }
            // The key's chain of released attempts is full (checked in `check_records`).
            Err(e)
                if e.code == ErrorCode::IdempotencyKeyExhausted
                    && self.keyed_mut(req).is_some() =>
            {
                self.keyed_mut(req).unwrap().invalid = true;
                return Ok(());
            }
            other => other.map_err(|e| TestCaseError::fail(format!("{req:?}: {e}")))?,
        };
        if releases {
            let want = match (req.kind, &outcome) {
                (Kind::Settle(..), late @ Outcome::Settled(_)) if r.effect == Effect::Late => {
                    late.clone()
                }
                (Kind::Settle(..), _) => Outcome::Settled(r.effect == Effect::Applied),
                _ => Outcome::Released,
            };
            prop_assert_eq!(outcome, want);
            let applies = matches!(r.effect, Effect::Applied | Effect::Other);
            each(tally, &r.counters, |t| {
                match r.effect {
                    Effect::Applied | Effect::Other if take >= 0 => t.released += take,
                    Effect::Applied | Effect::Other => t.incremented -= take,
                    Effect::Nothing => {}
                    // A refund into windows long gone.
                    Effect::Late => {}
                    Effect::Maybe => {
                        t.may_take += take.max(0);
                        t.may_add += (-take).max(0);
                    }
                }
                t.other_calls = true;
                t.charged |= take < 0;
            });
            if alone && applies {
                for &c in &r.counters {
                    if take < 0 {
                        self.model.add(c, -take, now);
                    } else {
                        self.model.release(c, take, now);
                    }
                }
            }
            return Ok(());
        }
        let d = outcome.decision().expect("a decision");
        self.consistent(&d, req, racing)?;
        if d.replayed {
            each(tally, &r.counters, |t| t.other_calls = true);
            return self.replayed(&d, r, alone);
        }
        if alone {
            self.exactly(&d, r)?;
        }
        match req.kind {
            Kind::Check => each(tally, &r.counters, |t| t.other_calls = true),
            Kind::Increment => each(tally, &r.counters, |t| t.incremented += req.amount),
            _ => {
                // A concurrent attempt under the same key counts for a moment, then undoes it.
                let once = matches!(req.kind, Kind::ReserveOnce(_));
                each(tally, &r.counters, |t| {
                    t.reserves += 1;
                    t.unit_reserves &= req.amount == 1;
                    t.other_calls |= once;
                    if d.allowed {
                        t.admitted += req.amount;
                    } else if !once {
                        t.least_denied =
                            Some(t.least_denied.map_or(req.amount, |a| a.min(req.amount)));
                    }
                });
                if d.allowed {
                    let token = d.reservation_token().unwrap();
                    let decoded = Reservation::decode(&token).unwrap();
                    prop_assert_eq!(
                        (decoded.feature.as_str(), decoded.at_ms, decoded.amount),
                        (feature, now, req.amount)
                    );
                    self.admitted(req, decoded.nonce, alone)?;
                    self.outstanding.push(Outstanding {
                        p: req.p,
                        f: req.f,
                        counters: r.counters.clone(),
                        amount: req.amount,
                        at: now,
                        token,
                        nonce: decoded.nonce,
                    });
                }
            }
        }
        Ok(())
    }

    /// A call that ran alone: its decision is the model's, and the model takes its effect.
    /// Denials (of check and reserve alike) name the first policy whose limit is below the
    /// amount, else the first that would go over; allowed decisions the policy with the fewest remaining.
    fn exactly(&mut self, d: &Decision, r: &Running) -> Checked {
        let now = self.now();
        let (req, cs) = (&r.req, &r.counters);
        let limits: Vec<i64> = self.policies(req.f).iter().map(|p| p.1).collect();
        let counts: Vec<i64> = cs.iter().map(|&c| self.model.count(c, now)).collect();
        let a = req.amount;
        let n = cs.len();
        // Of the policies it would pass, the one whose window ends last (the first of
        // equals): the amount cannot fit before that reset.
        let end = |i: usize| self.policies(req.f)[i].0.span(now).1;
        let over =
            (0..n)
                .filter(|&i| counts[i] + a > limits[i])
                .fold(None, |best: Option<usize>, i| match best {
                    Some(b) if end(b) >= end(i) => Some(b),
                    _ => Some(i),
                });
        let tightest = |counts: &[i64]| (0..n).min_by_key(|&i| limits[i] - counts[i]).unwrap();
        let after: Vec<i64> = counts.iter().map(|c| c + a).collect();
        let denied = match ((0..n).find(|&i| a > limits[i]), over) {
            (Some(i), _) | (None, Some(i)) => Some(i),
            (None, None) => None,
        };
        let want = match (req.kind, denied) {
            (Kind::Increment, _) => (true, tightest(&after), after[tightest(&after)]),
            (_, Some(i)) => (false, i, counts[i]),
            (Kind::Check, None) => (true, tightest(&counts), counts[tightest(&counts)]),
            (_, None) => (true, tightest(&after), after[tightest(&after)]),
        };
        prop_assert_eq!((d.allowed, d.policy, d.used), want, "{:?} alone", req.kind);
        if d.allowed && req.kind != Kind::Check {
            for &c in cs {
                self.model.add(c, a, now);
            }
        }
        Ok(())
    }

    /// Every field of a decision agrees with the others and with the configuration.
    /// (`racing`: an unpaired release may have lowered the count an increment reports.)
    fn consistent(&self, d: &Decision, req: &Req, racing: bool) -> Checked {
        let now = self.now();
        let policies = self.policies(req.f);
        prop_assert!(d.policy < policies.len());
        let (unit, limit) = policies[d.policy];
        let (_, end) = unit.span(now);
        prop_assert_eq!(d.feature.as_str(), FEATURES[req.f]);
        prop_assert!(!d.unlimited);
        prop_assert_eq!(d.limit, limit);
        prop_assert_eq!(d.remaining, (limit - d.used).max(0));
        prop_assert_eq!(d.resets_at_ms, end);
        // Nothing to wait for when the amount is over the denying policy's whole limit.
        let retry = if d.allowed {
            Some(0)
        } else if req.amount > limit {
            None
        } else {
            Some(ttl_secs(now, end) as u64)
        };
        prop_assert_eq!(d.retry_after, retry);
        // A plain-number limit keeps the foundation's shape; a policy object names itself.
        prop_assert_eq!(&d.policy_name, &self.pols(req.f)[d.policy].name);
        prop_assert!(d.used >= 0 || racing);
        prop_assert!(!d.replayed || matches!(req.kind, Kind::ReserveOnce(_)));
        match req.kind {
            // A replay: the counters' current figures, allowed, no reservation.
            Kind::ReserveOnce(_) if d.replayed => {
                prop_assert!(d.allowed && d.reservation.is_none());
            }
            Kind::Reserve | Kind::ReserveOnce(_) => {
                prop_assert_eq!(d.reservation.is_some(), d.allowed);
                if d.allowed {
                    prop_assert!(req.amount <= d.used && d.used <= limit);
                } else {
                    prop_assert!(d.used + req.amount > limit);
                }
            }
            Kind::Check => {
                prop_assert_eq!(d.reservation.as_ref(), None);
                prop_assert_eq!(d.allowed, d.used + req.amount <= limit);
            }
            _ => {
                prop_assert_eq!(d.reservation.as_ref(), None);
                prop_assert!(d.allowed && (d.used >= req.amount || racing));
            }
        }
        Ok(())
    }

    /// The store's counter against the model, within the faulted calls' slack. A counter left
    /// below zero is noted for `repair`, after every counter of the batch is compared.
    fn compare(&mut self, c: Counter, t: &Tally, negative: &mut Vec<Counter>) -> Checked {
        let now = self.now();
        let k = self.key(c);
        let stored = self.quota.store_mut().peek(&k);
        let want = self.model.count(c, now);
        let got = stored.unwrap_or(0);
        if t.unpaired {
            // Released more than it held: the model's count (before + counted - released) is
            // only a floor; nothing counted may be lost beyond what was released.
            prop_assert!(
                got >= want - t.may_take,
                "counter {} holds {}, floor {}",
                k,
                got,
                want
            );
        } else if t.may_add == 0 && t.may_take == 0 {
            // Exact. A reserve denied by a later policy may leave an earlier policy's counter
            // created and rolled back to 0: present, but counting nothing; so may a charge
            // that lost its race (it counts before it marks, and then takes its count back).
            if t.shared || t.charged {
                prop_assert_eq!(got, want, "counter {}", k);
                let live = self.model.live(c, now).is_some();
                prop_assert!(stored.is_some() || !live, "counter {} vanished", k);
                self.model.resync(c, stored, now);
            } else {
                prop_assert_eq!(stored, self.model.live(c, now), "counter {}", k);
            }
            return Ok(());
        } else {
            prop_assert!(
                want - t.may_take <= got && got <= want + t.may_add,
                "counter {} holds {}, model {} (-{} +{})",
                k,
                got,
                want,
                t.may_take,
                t.may_add
            );
        }
        if got < 0 {
            // Only a release cut off between its decrement and its clamp, or an unpaired one
            // racing a reserve's rollback, leaves this.
            prop_assert!(t.may_take > 0 || t.unpaired);
            negative.push(c);
        }
        self.model.resync(c, stored, now);
        Ok(())
    }

    /// The next release by feature in the counter's own window clamps it back to 0 (a
    /// reservation released after its window leaves it in that window, which a release at
    /// `now` would not reach). The release also takes 1 from the feature's other policies'
    /// counters, which the model then adopts.
    fn repair(&mut self, c: Counter) -> Checked {
        let now = self.now();
        let at = if (c.3..c.4).contains(&now) {
            now
        } else {
            c.4 - 1
        };
        let call = self
            .quota
            .engine()
            .release(&profile(c.0), FEATURES[c.1], Some(1), at)
            .unwrap();
        prop_assert_eq!(self.quota.call(call), Ok(Outcome::Released));
        let k = self.key(c);
        prop_assert_eq!(self.quota.store_mut().peek(&k), Some(0));
        for s in self.counters(c.0, c.1, at) {
            let k = self.key(s);
            self.model.resync(s, self.quota.store_mut().peek(&k), now);
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/proptests.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_engine_agrees_with_the_model(
        start in START..START + 365 * DAY_MS,
        limits in prop::array::uniform3(0..=6i64),
        policy in fault_policy(),
        events in prop::collection::vec(event(), 1..30),
        upsert in any::<bool>(),
        within in any::<bool>(),
    ) {
        let mut world = World::new(start, limits, (None, 0), policy, counting(upsert, within));
        for event in &events {
            world.run(event)?;
        }
        world.run(&Event::Usage(0))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 3_000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/proptests-multi-policy.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// "scale" has two policies (an hour and a day, a week and a Kolkata hour, …: `SHAPES`):
    /// a reserve counts in both or in neither.
    #[test]
    fn multi_policy_features_agree_with_the_model(
        start in START..START + 365 * DAY_MS,
        limits in prop::array::uniform3(0..=6i64),
        hourly in 0..=4i64,
        shape in 0..SHAPES_WITHOUT_MONTHS,
        policy in fault_policy(),
        events in prop::collection::vec(event(), 1..30),
        upsert in any::<bool>(),
        within in any::<bool>(),
    ) {
        let mut world = World::new(start, limits, (Some(hourly), shape), policy, counting(upsert, within));
        for event in &events {
            world.run(event)?;
        }
        world.run(&Event::Usage(2))?;
    }
}

/// `PROPTEST_CASES` when set (a long local run), else `default`.
fn cases(default: u32) -> u32 {
    let set = std::env::var("PROPTEST_CASES").ok();
    set.and_then(|n| n.parse().ok()).unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(10_000),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/proptests-shapes.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// `setLimits` changes the features' shapes between the calls (`shapes.rs`): policies
    /// join and leave, move to other windows and zones, are renamed; features go and come
    /// back. Reservations, settles, releases and idempotency records made before a change are
    /// finished after it, and everything above holds.
    #[test]
    fn changes_of_policy_shape_agree_with_the_model(
        start in START..START + 365 * DAY_MS,
        limits in prop::array::uniform3(0..=6i64),
        hourly in prop::option::of(0..=4i64),
        shape in 0..SHAPES_WITHOUT_MONTHS,
        policy in fault_policy(),
        events in shape_events(WITHOUT_MONTHS),
        upsert in any::<bool>(),
        within in any::<bool>(),
    ) {
        let mut world = World::new(start, limits, (hourly, shape), policy, counting(upsert, within));
        for event in &events {
            world.run(event)?;
        }
        world.run(&Event::Usage(2))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(3_000),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/proptests-months.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// Calendar months, whose length varies: "scale" has a UTC month and a day, or a Kolkata
    /// month and a UTC hour, and the history starts in the last two days of a month of 2026,
    /// so that it crosses the month's end; `setLimits` moves policies to and from months.
    /// Everything the tests above check holds.
    #[test]
    fn month_windows_agree_with_the_model(
        month in 1..=12u32,
        before_end in 1..2 * DAY_MS,
        limits in prop::array::uniform3(0..=6i64),
        hourly in 0..=4i64,
        shape in SHAPES_WITHOUT_MONTHS..SHAPES.len(),
        policy in fault_policy(),
        events in shape_events(WINDOWS.len()),
        upsert in any::<bool>(),
        within in any::<bool>(),
    ) {
        let first = chrono::NaiveDate::from_ymd_opt(2026, month, 1).unwrap();
        let (_, end) = WINDOWS[shapes::MONTH].month(first.and_time(Default::default()).and_utc().timestamp_millis());
        let mut world = World::new(end - before_end, limits, (Some(hourly), shape), policy, counting(upsert, within));
        for event in &events {
            world.run(event)?;
        }
        world.run(&Event::Usage(2))?;
    }
}

/// A history with `setLimits` changing shapes among the first `windows` of `WINDOWS`, and
/// clock jumps to near a marker's expiry, between the events of `event()`.
fn shape_events(windows: usize) -> impl Strategy<Value = Vec<Event>> {
    let events = prop_oneof![
        4 => event(),
        1 => shapes::change(windows).prop_map(|(f, c)| Event::Reshape(f, c)),
        1 => (any::<usize>(), -1_500..1_500i64).prop_map(|(i, off)| Event::NearExpiry(i, off)),
    ];
    prop::collection::vec(events, 1..30)
}

/// Found by the model: a counter lives up to a second past its window's end (its TTL is the
/// seconds to the reset rounded up), and the marker of a reservation settled a moment after
/// the counter was written expired before it, so a second attempt in that moment applied
/// again. Here a reserve 2.5 s before midnight, its settle 2 s before (charging 2 more), and
/// a release of it at midnight: the release must change nothing.
#[test]
fn a_reservation_finalized_before_its_window_ends_is_not_finalized_again_after() {
    let midnight = START + 30 * DAY_MS;
    let clock = FakeClock::at(midnight - 2_500);
    let limits = Limits::daily([("remix", 5)]).unwrap();
    let mut quota = Quota::new(
        Engine::new(limits),
        MemoryStore::new(clock.clone()),
        clock.clone(),
    );
    let me = Profile::limited(ProfileId::number(42).unwrap());
    let token = quota.reserve(&me, "remix", 1).unwrap().reservation_token();
    let token = token.unwrap();
    clock.advance(500);
    assert_eq!(quota.settle(&me, &token, 3), Ok(true));
    let key = "ai_quota:42:remix:2026-01-30";
    assert_eq!(quota.store_mut().peek(key), Some(3));
    clock.set(midnight);
    quota.release(&me, &token, None).unwrap();
    assert_eq!(quota.settle(&me, &token, 0), Ok(false));
    assert_eq!(
        quota.store_mut().peek(key),
        Some(3),
        "released after it was settled"
    );
}

/// Found by the model: a host whose clock is behind the store's counts in a window that has
/// ended by the store's clock, in a counter it created anew (when counters expired with their
/// windows; they now outlive them by ten minutes, so it finds the day's counter); the marker of
/// a reservation released before expired with its window, so the release sent again took its
/// amount from that counter, and the day admitted two against a limit of 1.
#[test]
fn a_release_sent_again_takes_nothing_from_a_host_behind_in_time() {
    let midnight = START + 30 * DAY_MS;
    let (store_clock, clock) = (
        FakeClock::at(midnight - 60_000),
        FakeClock::at(midnight - 60_000),
    );
    let limits = Limits::daily([("remix", 1)]).unwrap();
    let store = MemoryStore::new(store_clock.clone());
    let mut quota = Quota::new(Engine::new(limits), store, clock.clone());
    let me = Profile::limited(ProfileId::number(42).unwrap());
    let token = quota.reserve(&me, "remix", 1).unwrap().reservation_token();
    let token = token.unwrap();
    quota.release(&me, &token, None).unwrap();
    // Two seconds after midnight, from a host three seconds behind: still the old day.
    store_clock.set(midnight + 2_000);
    clock.set(midnight - 1_000);
    assert!(quota.reserve(&me, "remix", 1).unwrap().allowed);
    quota.release(&me, &token, None).unwrap();
    assert!(
        !quota.reserve(&me, "remix", 1).unwrap().allowed,
        "two admitted, limit 1"
    );
}

/// Found by the model: the marker of a reservation finished after `setLimits` replaced its
/// window lived as long as the *current* policies' windows, not the reservation's. Here a
/// request under an idempotency key is admitted by a weekly policy; the week is replaced by a
/// day, the work fails and its reservation is released; the week comes back on Thursday. The
/// marker had expired with Tuesday, so the key's retry found the week's record, took the
/// reservation for one not released, and was replayed ("already made": the work never ran),
/// and a settle of the released reservation was applied (answered true and charged).
#[test]
fn a_reservation_finished_while_its_window_was_replaced_stays_finished_when_it_is_back() {
    let monday = 1_767_571_200_000; // 2026-01-05T00:00:00Z
    let clock = FakeClock::at(monday + 10 * HOUR_MS);
    let weekly = |limit| {
        let mut limits = Limits::default();
        let policy = Policy::new(Some("weekly"), limit, WindowUnit::Week, None).unwrap();
        limits.insert("remix", vec![policy]).unwrap();
        limits
    };
    let mut quota = Quota::new(
        Engine::new(weekly(5)),
        MemoryStore::new(clock.clone()),
        clock.clone(),
    );
    let me = Profile::limited(ProfileId::number(42).unwrap());
    let d = quota.reserve_once(&me, "remix", 1, "k").unwrap();
    let token = d.reservation_token().unwrap();
    quota
        .engine_mut()
        .set_limits(Limits::daily([("remix", 5)]).unwrap());
    clock.advance(5 * 60_000);
    quota.release(&me, &token, None).unwrap();
    clock.set(monday + 3 * DAY_MS + 10 * HOUR_MS);
    quota.engine_mut().set_limits(weekly(5));
    let retry = quota.reserve_once(&me, "remix", 1, "k").unwrap();
    assert!(
        retry.allowed && !retry.replayed,
        "the released request was replayed: {retry:?}"
    );
    assert_eq!(
        quota.settle(&me, &token, 3),
        Ok(false),
        "settled after its release"
    );
    // The week was not a policy when the reservation was released, so it kept its 1 (README:
    // a policy removed since is not touched): an over-count, never an under-count.
    assert_eq!(quota.usage(&me.id), Ok(vec![("remix".to_owned(), 2)]));
}
