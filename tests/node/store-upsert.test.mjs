// The store contract's optional upserts. With `incrOrCreate` a reserve counts with one store
// call, also when its window starts; with `incrOrCreateWithin` beside it, a denied reserve is
// one call too and writes nothing; without either the engine keeps the incr → add → incr →
// set dance. Which one is decided once, when the engine is made.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine } from "wasm-quota";
import { fakeClock, recordingStore, delayedStore, CLOCK_MARGIN_S } from "./helpers.mjs";

const KEY = "ai_quota:42:remix:2026-11-27";
const TTL = 12 * 3600 + CLOCK_MARGIN_S; // noon to midnight and ten minutes, seconds

/** recordingStore plus an atomic incrOrCreate over the same counters, also recorded. */
function upsertStore(now) {
  const store = recordingStore(now);
  store.incrOrCreate = (k, d, t) => {
    store.calls.push(["incrOrCreate", k, d, t]);
    const n = store.inner.incr(k, d);
    if (n !== null) return n;
    store.inner.set(k, d, t);
    return d;
  };
  return store;
}

/** `call`'s decision as [allowed, used, the store calls it made]. */
function recorded(store, call) {
  store.calls.length = 0;
  const d = call();
  return [d.allowed, d.used, store.calls.map((c) => c.slice())];
}

test("with incrOrCreate a reserve is one store call, also when the window starts; a rollback one more", () => {
  const now = fakeClock();
  const store = upsertStore(now);
  const engine = new QuotaEngine({ store, limits: { remix: 2 }, now });
  const reserve = (amount) => recorded(store, () => engine.reserve({ id: 42 }, "remix", { amount }));
  assert.deepEqual(reserve(1), [true, 1, [["incrOrCreate", KEY, 1, TTL]]]);
  assert.deepEqual(reserve(1), [true, 2, [["incrOrCreate", KEY, 1, TTL]]]);
  assert.deepEqual(reserve(1), [false, 2, [["incrOrCreate", KEY, 1, TTL], ["incr", KEY, -1]]]);
  assert.equal(store.inner.get(KEY), 2);
  // increment counts with it too, after reading (no count may pass 2^53 - 1).
  store.calls.length = 0;
  engine.increment({ id: 42 }, "remix", { amount: 3 });
  assert.deepEqual(store.calls, [["get", KEY], ["incrOrCreate", KEY, 3, TTL]]);
});

/** upsertStore plus an atomic incrOrCreateWithin over the same counters, also recorded. */
function withinStore(now) {
  const store = upsertStore(now);
  store.incrOrCreateWithin = (k, d, t, limit) => {
    store.calls.push(["incrOrCreateWithin", k, d, t, limit]);
    const n = (store.inner.get(k) ?? 0) + d;
    if (n > limit) return n;
    if (store.inner.incr(k, d) === null) store.inner.set(k, d, t);
    return n;
  };
  return store;
}

test("with incrOrCreateWithin a denied reserve is one store call and writes nothing; increments count with incrOrCreate", () => {
  const now = fakeClock();
  const store = withinStore(now);
  const engine = new QuotaEngine({ store, limits: { remix: 2 }, now });
  const reserve = (amount) => recorded(store, () => engine.reserve({ id: 42 }, "remix", { amount }));
  assert.deepEqual(reserve(1), [true, 1, [["incrOrCreateWithin", KEY, 1, TTL, 2]]]);
  assert.deepEqual(reserve(1), [true, 2, [["incrOrCreateWithin", KEY, 1, TTL, 2]]]);
  assert.deepEqual(reserve(1), [false, 2, [["incrOrCreateWithin", KEY, 1, TTL, 2]]]);
  assert.equal(store.inner.get(KEY), 2);
  store.calls.length = 0;
  engine.increment({ id: 42 }, "remix", { amount: 3 });
  assert.deepEqual(store.calls, [["get", KEY], ["incrOrCreate", KEY, 3, TTL]], "past the limit: increment has no limit");
  assert.equal(store.inner.get(KEY), 5);
});

test("with incrOrCreateWithin, a feature with two policies undoes only the counts the store made", () => {
  const now = fakeClock();
  const store = withinStore(now);
  const limits = { scale: [{ name: "hourly", limit: 3, window: "hour" }, { name: "daily", limit: 4, window: "day" }] };
  const engine = new QuotaEngine({ store, limits, now });
  const [hour, nextHour, day] = ["ai_quota:42:scale:2026-11-27T12", "ai_quota:42:scale:2026-11-27T13", "ai_quota:42:scale:2026-11-27"];
  const reserve = (amount) => {
    store.calls.length = 0;
    const d = engine.reserve({ id: 42 }, "scale", { amount });
    return [d.allowed, d.policy, store.calls.map((c) => c.slice(0, 3))];
  };
  assert.deepEqual(reserve(3), [true, "hourly", [["incrOrCreateWithin", hour, 3], ["incrOrCreateWithin", day, 3]]]);
  // The hour denies: nothing was written, and the day (which ends later) is read, not counted.
  assert.deepEqual(reserve(1), [false, "hourly", [["incrOrCreateWithin", hour, 1], ["get", day]]]);
  now.t += 3_600_000; // the next hour
  // The day denies after the hour counted: only the hour's count is undone.
  assert.deepEqual(reserve(2), [false, "daily", [["incrOrCreateWithin", nextHour, 2], ["incrOrCreateWithin", day, 2], ["incr", nextHour, -2]]]);
  assert.deepEqual([store.inner.get(nextHour), store.inner.get(day)], [0, 3]);
});

test("a store whose incrOrCreateWithin writes past the limit anyway only over-counts: no reserve over a limit is admitted", async () => {
  // A user's store that ignores `limit` (README: the undo is skipped, never more admitted).
  const careless = (now) => {
    const store = withinStore(now);
    store.incrOrCreateWithin = (k, d, t) => (store.calls.push(["incrOrCreateWithin", k, d, t]), store.incrOrCreate(k, d, t));
    return store;
  };
  const limits = { remix: 5, scale: [{ name: "hourly", limit: 3, window: "hour" }, { name: "daily", limit: 4, window: "day" }] };
  const [hour, day] = ["ai_quota:42:scale:2026-11-27T12", "ai_quota:42:scale:2026-11-27"];
  const now = fakeClock();
  const store = careless(now);
  const engine = new QuotaEngine({ store, limits, now });
  const admitted = (feature, amounts) => amounts.map((amount) => engine.reserve({ id: 42 }, feature, { amount }).allowed);
  assert.deepEqual(admitted("remix", [2, 2, 2, 1, 1]), [true, true, false, false, false]);
  assert.equal(store.inner.get(KEY), 4 + 2 + 1 + 1, "each denial's count is kept");
  assert.deepEqual(admitted("scale", [3, 1]), [true, false]);
  assert.deepEqual([store.inner.get(hour), store.inner.get(day)], [4, 3], "the hour's denial kept, the day only read");
  // Racing over the same store made slow: admitted amounts stay within every limit.
  for (let round = 0; round < 5; round++) {
    const fast = careless(now);
    const slow = {};
    for (const m of ["get", "incr", "add", "set", "incrOrCreate", "incrOrCreateWithin"]) {
      slow[m] = (...args) => {
        const answer = fast[m](...args);
        return new Promise((resolve) => setTimeout(() => resolve(answer), Math.random() * 3));
      };
    }
    const racing = new QuotaEngine({ store: slow, limits, now });
    const ds = await Promise.all(Array.from({ length: 40 }, (_, i) => racing.reserve({ id: 42 }, i % 2 ? "remix" : "scale", { amount: 1 + (i % 3) })));
    const sum = (f) => ds.reduce((s, d, i) => s + (d.allowed && (i % 2 ? "remix" : "scale") === f ? 1 + (i % 3) : 0), 0);
    assert.ok(sum("remix") <= 5 && sum("scale") <= 3, `admitted remix ${sum("remix")}, scale ${sum("scale")}`);
    assert.ok(fast.inner.get(KEY) >= sum("remix") && fast.inner.get(day) >= sum("scale"), "no admitted count lost");
  }
});

test("reserves racing over an async store: with incrOrCreateWithin one over the limit denies no other that fits", async () => {
  // 2 of 3 used; a reserve of 2 and one of 1 at once. Counting and undoing, the 2 counts to 4
  // for a moment and the 1 sees 5: both denied although the 1 fits. Within the limit, the 2
  // writes nothing and the 1 is admitted.
  const race = async (store) => {
    const now = fakeClock();
    const slow = {};
    for (const m of ["get", "incr", "add", "set", "incrOrCreate", "incrOrCreateWithin"]) {
      // Each call is atomic when it runs; the answer comes back later (as over a network).
      if (typeof store[m] === "function") slow[m] = (...args) => {
        const answer = store[m](...args);
        return new Promise((resolve) => setTimeout(() => resolve(answer), 5));
      };
    }
    const engine = new QuotaEngine({ store: slow, limits: { remix: 3 }, now });
    await engine.reserve({ id: 42 }, "remix", { amount: 2 });
    const [two, one] = await Promise.all([2, 1].map((amount) => engine.reserve({ id: 42 }, "remix", { amount })));
    return [two.allowed, one.allowed, store.inner.get(KEY)];
  };
  const now = fakeClock();
  assert.deepEqual(await race(withinStore(now)), [false, true, 3]);
  assert.deepEqual(await race(upsertStore(now)), [false, false, 2], "counting and undoing (why within exists)");
});

test("incrOrCreateWithin needs incrOrCreate beside it, and must be a method; what it answers is checked as a count", async () => {
  const now = fakeClock();
  const lone = recordingStore(now);
  lone.incrOrCreateWithin = () => 1;
  assert.throws(() => new QuotaEngine({ store: lone, limits: { remix: 2 }, now }), { code: "INVALID_CONFIG", message: /incrOrCreateWithin needs store.incrOrCreate/ });
  for (const bad of [1, "incr", {}, null]) {
    const store = upsertStore(now);
    store.incrOrCreateWithin = bad;
    assert.throws(() => new QuotaEngine({ store, limits: { remix: 2 }, now }), { code: "INVALID_CONFIG" }, String(bad));
  }
  for (const answer of [null, undefined, "3", 1.5, -1]) {
    const store = withinStore(now);
    store.incrOrCreateWithin = () => answer;
    const engine = new QuotaEngine({ store, limits: { remix: 2 }, now });
    assert.throws(() => engine.reserve({ id: 42 }, "remix"), { code: "CORRUPT_COUNTER" }, String(answer));
  }
  const store = withinStore(now);
  store.incrOrCreateWithin = () => {
    throw new Error("down");
  };
  const d = new QuotaEngine({ store, limits: { remix: 2 }, now, onStoreError: "deny" }).reserve({ id: 42 }, "remix");
  assert.deepEqual([d.allowed, d.error.code], [false, "STORE_ERROR"]);
  assert.match(d.error.message, /incrOrCreateWithin/);
});

test("without incrOrCreate the engine uses incr → add, as before", () => {
  const now = fakeClock();
  const store = recordingStore(now);
  const engine = new QuotaEngine({ store, limits: { remix: 2 }, now });
  assert.equal(engine.reserve({ id: 42 }, "remix").allowed, true);
  assert.deepEqual(store.calls, [["incr", KEY, 1], ["add", KEY, 1, TTL]]);
});

test("an async incrOrCreate: 50 concurrent reserves with limit 7 admit exactly 7", async () => {
  const now = fakeClock();
  const store = delayedStore(now);
  const inner = store.inner;
  // Atomic: the read and the write happen in one turn, after the delay.
  store.incrOrCreate = (k, d, t) =>
    new Promise((resolve) =>
      setTimeout(() => {
        const n = inner.incr(k, d);
        if (n !== null) return resolve(n);
        inner.set(k, d, t);
        resolve(d);
      }, Math.random() * 3),
    );
  const engine = new QuotaEngine({ store, limits: { remix: 7 }, now });
  const ds = await Promise.all(Array.from({ length: 50 }, () => engine.reserve({ id: 42 }, "remix")));
  assert.deepEqual(ds.filter((d) => d.allowed).map((d) => d.used).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(inner.get(KEY), 7);
});

test("incrOrCreate answering something other than a count is CORRUPT_COUNTER; one that is not a function is INVALID_CONFIG", async () => {
  const now = fakeClock();
  for (const answer of [null, undefined, "3", 1.5]) {
    const store = upsertStore(now);
    store.incrOrCreate = () => answer;
    const engine = new QuotaEngine({ store, limits: { remix: 2 }, now });
    // incrOrCreate creates an absent counter: unlike incr, it never answers null, and the
    // message must not say null was expected (it said "expected a non-negative integer or null"
    // to a store that had answered null).
    const refused = (err) => {
      assert.equal(err.code, "CORRUPT_COUNTER", String(answer));
      assert.doesNotMatch(err.message, /or null/, err.message);
      return true;
    };
    assert.throws(() => engine.reserve({ id: 42 }, "remix"), refused);
    store.incrOrCreate = async () => answer;
    const later = new QuotaEngine({ store, limits: { remix: 2 }, now });
    await assert.rejects(later.reserve({ id: 42 }, "remix"), refused);
  }
  for (const bad of [1, "incr", {}, null]) {
    const store = recordingStore(now);
    store.incrOrCreate = bad;
    assert.throws(() => new QuotaEngine({ store, limits: { remix: 2 }, now }), { code: "INVALID_CONFIG" }, String(bad));
  }
});

test("a store fault in incrOrCreate goes to onStoreError like any other", async () => {
  const now = fakeClock();
  const store = upsertStore(now);
  store.incrOrCreate = () => {
    throw new Error("down");
  };
  const engine = new QuotaEngine({ store, limits: { remix: 2 }, now, onStoreError: "deny" });
  const d = engine.reserve({ id: 42 }, "remix");
  assert.equal(d.allowed, false);
  assert.equal(d.degraded, "store-error");
  assert.equal(d.error.code, "STORE_ERROR");
  assert.match(d.error.message, /incrOrCreate/);
  const strict = new QuotaEngine({ store, limits: { remix: 2 }, now });
  assert.throws(() => strict.reserve({ id: 42 }, "remix"), (e) => e.code === "STORE_ERROR" && e.cause.message === "down");
});

test("incr answering undefined for an absent counter is read as absent, as null is (the store contract's types say both)", () => {
  const now = fakeClock();
  const store = recordingStore(now);
  const incr = store.incr.bind(store);
  store.incr = (k, d) => incr(k, d) ?? undefined;
  const engine = new QuotaEngine({ store, limits: { remix: 2 }, now });
  const decisions = [1, 2, 3].map(() => engine.reserve({ id: 42 }, "remix"));
  assert.deepEqual(decisions.map((d) => [d.allowed, d.used]), [[true, 1], [true, 2], [false, 2]]);
  assert.equal(store.inner.get(KEY), 2);
});
