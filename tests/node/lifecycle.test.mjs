// The life of a count, at random: reserves (some under idempotency keys), releases and settles
// (below, at and above the estimate, sent again, racing each other), by four engines sharing a
// store and a tokenSecret — two with one configuration, two with others — over zoned windows
// across DST (Paris hours, Kiritimati days, -12:00 weeks, St John's months) while days pass.
// After every batch, each live counter holds exactly what its reservations left in it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, MemoryStore } from "wasm-quota";
import { generator, mapStore } from "./helpers.mjs";

const LIMITS = {
  a: [{ limit: 6, window: "hour", timeZone: "Europe/Paris", name: "paris" }, { limit: 14, timeZone: "Pacific/Kiritimati" }],
  b: [{ limit: 9 }, { limit: 20, window: "week", timeZone: "Etc/GMT+12" }, { limit: 25, window: "month", timeZone: "America/St_Johns" }],
  c: 5,
};
const OTHERS = [
  { a: [LIMITS.a[0]], b: LIMITS.b.slice(0, 2), c: 5 },
  { a: [{ ...LIMITS.a[0], limit: 3 }, LIMITS.a[1], { limit: 4, window: "hour" }], b: LIMITS.b, c: [{ limit: 5 }, { limit: 2, window: "hour" }] },
];
const STARTS = [Date.UTC(2026, 2, 28, 21, 30), Date.UTC(2026, 9, 24, 22, 40), Date.UTC(2026, 11, 27, 20)];
const STEPS = [0, 1000, 59_000, 600_000, 1_800_000, 3_600_000, 5 * 3_600_000, 86_400_000];
const HISTORIES = 20;
const PROFILES = [{ id: 7 }, { id: "u:1" }];

const policies = (limits, f) => (typeof limits[f] === "number" ? [{ limit: limits[f] }] : limits[f]);
const counterTag = (p) => `${p.window ?? "day"}@${p.timeZone ?? ""}`;
const formats = new Map();
// The label of `p`'s window holding `ms`, from the wall clock there (none of these zones
// repeats or skips a midnight, where a window's label and its wall time can differ).
function label(p, ms) {
  const zone = p.timeZone ?? "UTC";
  if (!formats.has(zone)) formats.set(zone, new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit" }));
  const w = Object.fromEntries(formats.get(zone).formatToParts(ms).map(({ type, value }) => [type, value]));
  const date = `${w.year}-${w.month}-${w.day}`;
  const thursday = new Date(Date.UTC(+w.year, w.month - 1, +w.day));
  thursday.setUTCDate(thursday.getUTCDate() + 3 - ((thursday.getUTCDay() + 6) % 7));
  const week = Math.ceil(((thursday - Date.UTC(thursday.getUTCFullYear(), 0, 1)) / 86_400_000 + 1) / 7);
  const text = { hour: `${date}T${w.hour}`, day: date, week: `${thursday.getUTCFullYear()}-W${String(week).padStart(2, "0")}`, month: `${w.year}-${w.month}` }[p.window ?? "day"];
  return p.timeZone ? `${text}@${p.timeZone}` : text;
}
// The first whole second after `at` in another window of `p`.
function windowEnd(p, at) {
  const own = label(p, at);
  let lo = Math.floor(at / 1000) * 1000, hi = lo + 900_000;
  while (label(p, hi) === own) (lo = hi), (hi += 900_000);
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2000) * 1000;
    if (label(p, mid) === own) lo = mid;
    else hi = mid;
  }
  return hi;
}
const counterKey = (id, f, p, ms) => `ai_quota:${typeof id === "number" ? id : "~" + id.replaceAll("%", "%25").replaceAll(":", "%3A")}:${f}:${label(p, ms)}`;

// A map store counting with incr → add, with incrOrCreate, or with incrOrCreateWithin too
// (`u`, a random number, picks).
const upsertStore = (now, u, kind) => mapStore(now, { upsert: u < 0.5, within: u < 0.25, async: kind === "async" });

async function history(number, kind) {
  const random = generator(number);
  const pick = (a) => a[Math.floor(random() * a.length)];
  const clock = { t: pick(STARTS) };
  const now = () => clock.t;
  const { store, entries } = kind === "MemoryStore" ? { store: new MemoryStore({ now }) } : upsertStore(now, random(), kind);
  const engines = [LIMITS, LIMITS, ...OTHERS].map((limits) => ({ limits, engine: new QuotaEngine({ store, limits, now, tokenSecret: "lifecycle-test-secret" }) }));
  const reservations = [];
  for (let batch = 0; batch < 25; batch++) {
    const calls = [];
    for (let i = 0, n = 1 + Math.floor(random() * 6); i < n; i++) {
      const { limits, engine } = pick(engines);
      if (random() < 0.5 || reservations.length === 0) {
        const profile = pick(PROFILES), f = pick(["a", "b", "c"]), amount = 1 + Math.floor(random() * 3);
        const idempotencyKey = random() < 0.4 ? pick(["k1", "k2"]) : undefined;
        const at = clock.t, counters = policies(limits, f).map((p) => counterKey(profile.id, f, p, at));
        const made = Promise.resolve(engine.reserve(profile, f, { amount, idempotencyKey })).then((d) => {
          // A replay's original is one that was not released, and still counts in a window of this call's.
          const same = (r) => r.profile === profile && r.f === f && r.idempotencyKey === idempotencyKey && r.amount === amount;
          if (d.replayed) assert.ok(reservations.some((r) => same(r) && !r.released && r.counters.some((k) => counters.includes(k))), `${number}: replay of nothing`);
          if (d.reservation) reservations.push({ profile, f, amount, at, idempotencyKey, limits, counters, token: d.reservation, settled: null, released: false, trues: [] });
        }, (err) => assert.equal(err.code, "IDEMPOTENCY_KEY_EXHAUSTED"));
        calls.push(made);
        continue;
      }
      // One engine of another configuration finishes a reservation alone in its batch, so that
      // which of them finished it is known.
      const r = pick(reservations);
      if (r.busy === "alone" || (r.busy && limits !== LIMITS)) continue;
      r.busy = limits === LIMITS ? "shared" : "alone";
      if (random() < 0.5) calls.push(Promise.resolve(engine.release(r.profile, r.token)).then(() => (r.releasedBy ??= limits)));
      else {
        const actual = Math.floor(random() * (r.amount + 3));
        calls.push(Promise.resolve(engine.settle(r.profile, r.token, actual)).then((ok) => ok && r.trues.push({ actual, t: clock.t, limits })));
      }
    }
    await Promise.all(calls);
    const expected = new Map();
    const add = (k, n) => expected.set(k, (expected.get(k) ?? 0) + n);
    for (const r of reservations) {
      const first = r.settled === null && !r.released;
      assert.ok(r.trues.length <= 1, `${number}: settled twice at once`);
      const [again] = r.trues;
      if (first && again) Object.assign(r, { settled: again.actual, settledAt: again.t, by: again.limits });
      else if (first && r.releasedBy) Object.assign(r, { released: true, by: r.releasedBy, releasedAt: clock.t });
      else if (again) {
        // Sent again: false, unless a zoned policy of the reservation is not the settling
        // engine's, whose next window's end the engine knows only as a bound (README, Settle).
        const bounded = policies(r.limits, r.f).some((p) => p.timeZone && !policies(again.limits, r.f).some((q) => counterTag(q) === counterTag(p)));
        assert.ok(bounded, `${number}: ${r.token} settled again ${(again.t - r.at) / 3_600_000} h on`);
      }
      Object.assign(r, { busy: undefined, releasedBy: undefined, trues: [] });
      const corrected = r.by ? policies(r.by, r.f).map(counterTag) : [];
      policies(r.limits, r.f).forEach((p, i) => {
        const k = r.counters[i];
        if (!corrected.includes(counterTag(p))) return add(k, r.amount);
        // A refund into a window that has ended is dropped: its counter, kept ten minutes
        // past the window for hosts whose clocks are behind, still holds the amount.
        const end = windowEnd(p, r.at);
        if (r.settled === null) return add(k, r.releasedAt < end ? 0 : r.amount);
        if (r.settled <= r.amount) return add(k, r.settledAt < end ? r.settled : r.amount);
        if (r.settledAt < end) return add(k, r.settled);
        // A charge after its window ended: in the window right after it, else dropped.
        add(k, r.amount);
        const next = windowEnd(p, r.at);
        if (label(p, r.settledAt) === label(p, next)) add(counterKey(r.profile.id, r.f, p, r.settledAt), r.settled - r.amount);
      });
    }
    if (entries === undefined) {
      for (const [k, n] of expected) assert.ok([null, n].includes(store.get(k)), `${number}: ${k} = ${store.get(k)}, not ${n}`);
    } else {
      for (const [k, e] of entries) {
        // Markers (`r…`) and idempotency records (`i…`) are not counters; labels start with a digit.
        if (e.expiresAt <= now() || /^[ri]/.test(k.split(":")[3])) continue;
        if (!expected.has(k)) assert.equal(e.value, 0, `${number}: ${k} counts no reservation`);
        else assert.equal(e.value, expected.get(k), `${number}: ${k}`);
      }
    }
    // At most one admission under a key and amount, not released, per set of windows.
    const live = reservations.filter((r) => r.idempotencyKey && !(r.released && r.settled === null));
    const groups = live.map((r) => [r.profile.id, r.f, r.idempotencyKey, r.amount, ...r.counters].join(" "));
    assert.equal(new Set(groups).size, groups.length, `${number}: two admissions under one key`);
    clock.t += pick(STEPS) + Math.floor(random() * 3) * 1000;
  }
}

for (const kind of ["MemoryStore", "sync", "async"]) {
  test(`${HISTORIES} histories over ${kind === "MemoryStore" ? "MemoryStore" : `a ${kind} store`}: every counter holds what its reservations left`, async () => {
    for (let n = 1; n <= HISTORIES; n++) await history(n, kind);
  });
}
