// The fault policy (onStoreError), storeTimeoutMs, and what a store fault at each step of a
// reserve leaves behind: at most the reserve's own amount too many, never too few.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, MemoryStore, QuotaError } from "wasm-quota";

const NOON = Date.UTC(2026, 10, 27, 12);
const KEY = "ai_quota:42:remix:2026-11-27";
const now = () => NOON;
const boom = new Error("store is down");

function failing(methods, { async = false } = {}) {
  const inner = new MemoryStore({ now });
  const store = {};
  for (const m of ["get", "incr", "add", "set"]) {
    store[m] = (...args) => {
      if (methods.includes(m)) {
        if (async) return Promise.reject(boom);
        throw boom;
      }
      const v = inner[m](...args);
      return async ? Promise.resolve(v) : v;
    };
  }
  return { store, inner };
}

const isCode = (code) => (e) => e instanceof QuotaError && e.code === code;

test("default policy: a store exception is a STORE_ERROR with the exception as cause", async () => {
  const { store } = failing(["incr"]);
  const engine = new QuotaEngine({ store, limits: { remix: 3 }, now });
  assert.throws(() => engine.reserve({ id: 42 }, "remix"), (e) => isCode("STORE_ERROR")(e) && e.cause === boom);
  const { store: slow } = failing(["get"], { async: true });
  const engine2 = new QuotaEngine({ store: slow, limits: { remix: 3 }, now, onStoreError: "throw" });
  await assert.rejects(engine2.check({ id: 42 }, "remix"), (e) => isCode("STORE_ERROR")(e) && e.cause === boom);
});

for (const [policy, allowed] of [["deny", false], ["allow", true]]) {
  for (const async of [false, true]) {
    test(`onStoreError: "${policy}" answers check/reserve/increment with a degraded decision (${async ? "async" : "sync"})`, async () => {
      const { store, inner } = failing(["get", "incr", "add", "set"], { async });
      const engine = new QuotaEngine({ store, limits: { remix: 3 }, now, onStoreError: policy });
      for (const method of ["check", "reserve", "increment"]) {
        const result = engine[method]({ id: 42 }, "remix");
        assert.equal(result instanceof Promise, async, method);
        const d = await result;
        assert.deepEqual(Object.keys(d).sort(), ["allowed", "degraded", "error", "feature", "retryAfter"], method);
        assert.equal(d.retryAfter, 0);
        assert.equal(d.allowed, allowed);
        assert.equal(d.feature, "remix");
        assert.equal(d.degraded, "store-error");
        assert.ok(isCode("STORE_ERROR")(d.error));
        assert.equal(d.error.cause, boom);
      }
      // release and usage have no decision to fall back on: they still throw.
      await assert.rejects(async () => engine.release({ id: 42 }, "remix"), isCode("STORE_ERROR"));
      await assert.rejects(async () => engine.usage(42), isCode("STORE_ERROR"));
      assert.equal(inner.size, 0);
      // Argument errors are not store faults: the policy never hides them.
      assert.throws(() => engine.reserve({ id: 42 }, "nope"), isCode("UNKNOWN_FEATURE"));
      assert.throws(() => engine.reserve({ id: -1 }, "remix"), isCode("INVALID_ARGUMENT"));
    });
  }
}

test("a corrupt answer is not a store fault: CORRUPT_COUNTER is thrown under every policy", async () => {
  const store = { get: () => "7", incr: () => "7", add: () => true, set: () => {} };
  for (const onStoreError of ["throw", "deny", "allow"]) {
    const engine = new QuotaEngine({ store, limits: { remix: 3 }, now, onStoreError });
    assert.throws(() => engine.check({ id: 42 }, "remix"), isCode("CORRUPT_COUNTER"));
  }
});

test("storeTimeoutMs: an async store call that never settles is a STORE_TIMEOUT, then the policy", async () => {
  const inner = new MemoryStore({ now });
  const hung = { ...bindAll(inner), incr: () => new Promise(() => {}) };
  const throwing = new QuotaEngine({ store: hung, limits: { remix: 3 }, now, storeTimeoutMs: 20 });
  await assert.rejects(throwing.reserve({ id: 42 }, "remix"), (e) => isCode("STORE_TIMEOUT")(e) && e.cause === undefined);
  const denying = new QuotaEngine({ store: hung, limits: { remix: 3 }, now, storeTimeoutMs: 20, onStoreError: "deny" });
  const d = await denying.reserve({ id: 42 }, "remix");
  assert.equal(d.allowed, false);
  assert.equal(d.degraded, "store-error");
  assert.ok(isCode("STORE_TIMEOUT")(d.error));
  assert.equal(inner.get(KEY), null);
});

test("storeTimeoutMs: the timeout fires after that many ms, not later", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const hung = { ...bindAll(new MemoryStore({ now })), incr: () => new Promise(() => {}) };
  const engine = new QuotaEngine({ store: hung, limits: { remix: 3 }, now, storeTimeoutMs: 1000, onStoreError: "deny" });
  let settled;
  engine.reserve({ id: 42 }, "remix").then((d) => (settled = d));
  const flush = () => new Promise((resolve) => setImmediate(resolve));
  await flush();
  t.mock.timers.tick(999);
  await flush();
  assert.equal(settled, undefined, "not yet");
  t.mock.timers.tick(1);
  await flush();
  assert.equal(settled?.degraded, "store-error");
  assert.ok(isCode("STORE_TIMEOUT")(settled.error));
});

test("storeTimeoutMs: a timeout on a later step still applies (the first step answered)", async () => {
  const inner = new MemoryStore({ now });
  // incr answers null (absent), then add hangs.
  const store = { ...bindAll(inner), incr: async (k, d) => inner.incr(k, d), add: () => new Promise(() => {}) };
  const engine = new QuotaEngine({ store, limits: { remix: 3 }, now, storeTimeoutMs: 20, onStoreError: "allow" });
  const d = await engine.reserve({ id: 42 }, "remix");
  assert.equal(d.allowed, true);
  assert.equal(d.reservation, undefined);
  assert.ok(isCode("STORE_TIMEOUT")(d.error));
});

// README "When the store fails": a settle cut off by a fault (here a write that lands, but
// whose answer comes after storeTimeoutMs, as a Redis reply held up does) leaves an
// over-count, never an under-count. A refund marks first: cut off after its marker, it is
// finished and the refund lost. A charge counts first and marks last: cut off after its
// marker, it is done; cut off after its count, it counts again when sent again. (Marking
// first, a charge of 9,000 on a reservation of 4,000 cut off after its marker was lost for
// good: the counter stayed at 4,000, and 5,000 more were admitted under a limit of 10,000.)
test("storeTimeoutMs: a settle whose write lands after the timeout over-counts, never under-counts", async () => {
  const marker = /:r[0-9a-f]{16}$/;
  const cases = [
    // [actual, which write answers late, the counter after the settle and its retry]
    [1_000, (k) => marker.test(k), 4_000], // the refund's marker: refund lost
    [9_000, (k) => marker.test(k), 9_000], // the charge's marker: charged once
    [9_000, (k) => k === KEY, 14_000], // the charge itself: charged again by the retry
  ];
  for (const [actual, slow, counter] of cases) {
    const inner = new MemoryStore({ now });
    let late = null; // the settle's first slow write's answer, held up
    let settling = false;
    const delay = (k, added) => {
      if (!settling || late !== null || !slow(k)) return added;
      late = new Promise((r) => setTimeout(r, 60)).then(() => added);
      return late;
    };
    const store = {
      ...bindAll(inner),
      incr: (k, d) => (d > 0 ? delay(k, inner.incr(k, d)) : inner.incr(k, d)),
      add: (k, v, t) => delay(k, inner.add(k, v, t)),
    };
    const engine = new QuotaEngine({ store, limits: { remix: 10_000 }, now, storeTimeoutMs: 20 });
    const d = await engine.reserve({ id: 42 }, "remix", { amount: 4_000 });
    settling = true;
    await assert.rejects(engine.settle({ id: 42 }, d.reservation, actual), isCode("STORE_TIMEOUT"));
    await engine.settle({ id: 42 }, d.reservation, actual); // sent again, as handle() does
    assert.equal(inner.get(KEY), counter, `settled at ${actual}, ${slow(KEY) ? "the charge" : "the marker"} late`);
    assert.ok(counter >= actual, "never below what was used");
    if (actual > 4_000) assert.equal((await engine.reserve({ id: 42 }, "remix", { amount: 5_000 })).allowed, false);
    await late; // its timer gone before the next test counts timers
  }
});

test("storeTimeoutMs: async stores that answer in time work as usual; sync stores stay sync", async () => {
  const inner = new MemoryStore({ now });
  const asyncStore = {};
  for (const m of ["get", "incr", "add", "set"]) asyncStore[m] = async (...a) => inner[m](...a);
  const engine = new QuotaEngine({ store: asyncStore, limits: { remix: 2 }, now, storeTimeoutMs: 1000 });
  assert.equal((await engine.reserve({ id: 42 }, "remix")).used, 1);
  assert.equal((await engine.reserve({ id: 42 }, "remix")).used, 2);
  assert.equal((await engine.reserve({ id: 42 }, "remix")).allowed, false);
  assert.deepEqual(await engine.usage(42), { remix: 2 });
  const sync = new QuotaEngine({ store: new MemoryStore({ now }), limits: { remix: 2 }, now, storeTimeoutMs: 1000 });
  assert.equal(sync.reserve({ id: 42 }, "remix").used, 1);
  // Each answer cleared its timer: none is left to keep the process alive for a second.
  assert.equal(process.getActiveResourcesInfo().filter((r) => r === "Timeout").length, 0);
});

function bindAll(inner) {
  return {
    get: (k) => inner.get(k),
    incr: (k, d) => inner.incr(k, d),
    add: (k, v, t) => inner.add(k, v, t),
    set: (k, v, t) => inner.set(k, v, t),
  };
}

// ---- A fault at each step of a reserve ----------------------------------------------------
//
// Each scenario sets up the counter (and, for the races, what a concurrent writer does between
// two steps), then a reserve of AMOUNT runs with the store failing at step `failAt`, either
// before the operation takes effect or after (the write happened but the answer was lost).
// `left` is the counter afterwards, as [before, after]; `committed` is what the counter holds
// from reserves that really were counted (the setup's, then the concurrent writer's once it
// has run). Nothing may be below `committed` (an under-count
// would admit more than the limit) and nothing above `committed + AMOUNT`.
const AMOUNT = 2;
const LIMIT = 5;
const scenarios = [
  {
    name: "counter exists, fits",
    setup: (s) => s.set(KEY, 1, 3600),
    committed: 1,
    steps: [["incr", 1, 3]],
  },
  {
    name: "first reserve of the day",
    setup: () => {},
    committed: 0,
    steps: [
      ["incr", null, null],
      ["add", null, AMOUNT],
    ],
  },
  {
    name: "first reserve loses the add race",
    setup: () => {},
    // A concurrent reserve creates the key with 1 between our incr and our add.
    race: { before: 1, run: (s) => s.set(KEY, 1, 3600) },
    committed: 0,
    steps: [
      ["incr", null, null],
      ["add", 1, 1],
      ["incr", 1, 3],
    ],
  },
  {
    name: "add race lost, then the key expires before the second incr",
    setup: () => {},
    race: { before: 1, run: (s) => s.set(KEY, 1, 3600), thenBefore: 2, thenRun: (s) => s.clear() },
    committed: 0,
    steps: [
      ["incr", null, null],
      ["add", 1, 1],
      ["incr", null, null],
      ["set", null, AMOUNT],
    ],
  },
  {
    name: "over the limit: the rollback",
    setup: (s) => s.set(KEY, LIMIT - 1, 3600),
    committed: LIMIT - 1,
    // From this step on the store has said "over": a fault there leaves a plain denial.
    knownDenialFrom: 1,
    steps: [
      ["incr", LIMIT - 1, LIMIT + 1],
      ["incr", LIMIT + 1, LIMIT - 1],
    ],
  },
  // Stores with the optional upserts (`upserts`: the methods the store has beyond the four).
  {
    name: "incrOrCreate, fits",
    upserts: ["incrOrCreate"],
    setup: (s) => s.set(KEY, 1, 3600),
    committed: 1,
    steps: [["incrOrCreate", 1, 3]],
  },
  {
    name: "incrOrCreate, over the limit: the rollback",
    upserts: ["incrOrCreate"],
    setup: (s) => s.set(KEY, LIMIT - 1, 3600),
    committed: LIMIT - 1,
    knownDenialFrom: 1,
    steps: [
      ["incrOrCreate", LIMIT - 1, LIMIT + 1],
      ["incr", LIMIT + 1, LIMIT - 1],
    ],
  },
  {
    name: "incrOrCreateWithin, fits",
    upserts: ["incrOrCreate", "incrOrCreateWithin"],
    setup: (s) => s.set(KEY, 1, 3600),
    committed: 1,
    steps: [["incrOrCreateWithin", 1, 3]],
  },
  {
    name: "incrOrCreateWithin, over the limit: nothing to roll back",
    upserts: ["incrOrCreate", "incrOrCreateWithin"],
    setup: (s) => s.set(KEY, LIMIT - 1, 3600),
    committed: LIMIT - 1,
    steps: [["incrOrCreateWithin", LIMIT - 1, LIMIT - 1]],
  },
];

// The upserts over a MemoryStore's four methods, each atomic (one synchronous step).
const UPSERTS = {
  incrOrCreate: (s, key, delta, ttl) => s.incr(key, delta) ?? (s.set(key, delta, ttl), delta),
  incrOrCreateWithin: (s, key, delta, ttl, limit) => {
    const n = (s.get(key) ?? 0) + delta;
    return n > limit ? n : UPSERTS.incrOrCreate(s, key, delta, ttl);
  },
};

for (const sc of scenarios) {
  for (const async of [false, true]) {
    test(`a fault at each step: ${sc.name} (${async ? "async" : "sync"} store)`, async () => {
      // The fault-free run performs exactly the listed steps.
      {
        const { ops, store } = scripted(sc, -1, "before", async);
        const engine = new QuotaEngine({ store, limits: { remix: LIMIT }, now });
        await engine.reserve({ id: 42 }, "remix", { amount: AMOUNT });
        assert.deepEqual(ops, sc.steps.map((s) => s[0]));
      }
      for (const [step, [method, ifBefore, ifAfter]] of sc.steps.entries()) {
        for (const [mode, expected] of [["before", ifBefore], ["after", ifAfter]]) {
          const what = `${method} #${step} failing ${mode}`;
          const { store, inner, committed } = scripted(sc, step, mode, async);
          const engine = new QuotaEngine({ store, limits: { remix: LIMIT }, now, onStoreError: "deny" });
          const result = engine.reserve({ id: 42 }, "remix", { amount: AMOUNT });
          assert.equal(result instanceof Promise, async, what);
          const d = await result;
          assert.equal(d.degraded, step >= (sc.knownDenialFrom ?? Infinity) ? undefined : "store-error", what);
          assert.equal(d.allowed, false, what);
          const left = inner.get(KEY);
          assert.equal(left, expected, what);
          const c = committed();
          assert.ok((left ?? 0) >= c && (left ?? 0) <= c + AMOUNT, `${what}: ${left} vs ${c}`);
        }
      }
    });
  }
}

// A store over a MemoryStore that runs the scenario's concurrent writer and fails op `failAt`.
function scripted(sc, failAt, mode, async) {
  const inner = new MemoryStore({ now });
  sc.setup(inner);
  const ops = [];
  let committed = sc.committed;
  const store = {};
  for (const m of ["get", "incr", "add", "set", ...(sc.upserts ?? [])]) {
    store[m] = (...args) => {
      const step = ops.length;
      ops.push(m);
      if (sc.race && step === sc.race.before) {
        sc.race.run(inner);
        committed = 1;
      }
      if (sc.race?.thenRun && step === sc.race.thenBefore) {
        sc.race.thenRun(inner);
        committed = 0;
      }
      let value;
      if (step === failAt && mode === "before") value = { fault: true };
      else {
        value = m in UPSERTS ? UPSERTS[m](inner, ...args) : inner[m](...args);
        if (step === failAt) value = { fault: true };
      }
      if (value?.fault) {
        if (async) return Promise.reject(boom);
        throw boom;
      }
      return async ? Promise.resolve(value) : value;
    };
  }
  return { ops, store, inner, committed: () => committed };
}

test('onStoreError "allow": a reserve over the limit whose rollback fails stays a denial', async () => {
  for (const async of [false, true]) {
    const inner = new MemoryStore({ now });
    const store = {
      get: (k) => inner.get(k),
      add: (k, v, t) => inner.add(k, v, t),
      set: (k, v, t) => inner.set(k, v, t),
      // The rollback (a negative delta) fails after taking no effect.
      incr: (k, d) => (d < 0 ? (async ? Promise.reject(boom) : (() => { throw boom; })()) : inner.incr(k, d)),
    };
    const engine = new QuotaEngine({ store, limits: { remix: 3 }, now, onStoreError: "allow" });
    for (let i = 0; i < 3; i++) assert.equal((await engine.reserve({ id: 42 }, "remix")).allowed, true);
    const more = [];
    for (let i = 0; i < 5; i++) more.push(await engine.reserve({ id: 42 }, "remix"));
    assert.deepEqual(more.map((d) => d.allowed), [false, false, false, false, false], `async: ${async}`);
    assert.equal(more[0].used, 3);
    assert.equal(inner.get(KEY), 8, "the failed rollbacks are the documented over-count");
  }
});
