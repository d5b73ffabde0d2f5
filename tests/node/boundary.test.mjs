// The fast boundary (pkg-template/engine.js + src/bind/engine.rs): what JS reads, caches and
// builds itself must give exactly what the Rust side would.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, MemoryStore, QuotaError } from "wasm-quota";
import { NOON, HOUR, fakeClock, mapStore, recordingStore } from "./helpers.mjs";
// The glue itself, to make WASM memory grow at the two places a step calls back in.
import { QuotaCore, wasmMemory } from "../../pkg/wasm_quota.js";

test("the reservation token built in JS has the core's format and releases exactly", () => {
  const now = fakeClock(NOON + 1234);
  const store = new MemoryStore({ now });
  const engine = new QuotaEngine({ store, limits: { remix: 5 }, now });
  const fast = engine.reserve({ id: 7 }, "remix");
  const slow = engine.reserve({ id: 7 }, "remix", { amount: 3 });
  const token = /^q4\.remix\.(\d+)\.(\d+)\.d\.([0-9a-f]{16})\.([0-9a-f]{16})$/; // counted in a UTC day
  assert.deepEqual(fast.reservation.match(token).slice(1, 3), [String(NOON + 1234), "1"]);
  assert.deepEqual(slow.reservation.match(token).slice(1, 3), [String(NOON + 1234), "3"]);
  assert.notEqual(fast.reservation.match(token)[3], slow.reservation.match(token)[3]);
  // Nonce and MAC halves that start with zero digits must keep all 16 (padded), or release()
  // would refuse them: 300 tokens make such halves near certain.
  const many = new QuotaEngine({ store: new MemoryStore({ now }), limits: { remix: 300 }, now });
  const tokens = Array.from({ length: 300 }, () => many.reserve({ id: 8 }, "remix").reservation);
  assert.ok(tokens.some((t) => /\.0/.test(t.slice(-17)) || t[t.length - 8] === "0"));
  assert.ok(tokens.some((t) => /\.0/.test(t.slice(-34, -17)) || t[t.length - 25] === "0"));
  for (const t of tokens) many.release({ id: 8 }, t);
  assert.equal(many.usage(8).remix, 0);
  assert.equal(engine.settle({ id: 7 }, slow.reservation, 2), true);
  assert.equal(engine.usage(7).remix, 3);
  engine.release({ id: 7 }, fast.reservation);
  assert.equal(engine.usage(7).remix, 2);
  assert.equal(engine.settle({ id: 7 }, fast.reservation, 1), false);
  now.t += 1; // a new instant: the cached instant text must not be reused
  assert.match(engine.reserve({ id: 7 }, "remix").reservation, new RegExp(`^q4\\.remix\\.${NOON + 1235}\\.1\\.`));
});

test("keys stay right past the key caches' capacity (70k counters)", () => {
  const now = fakeClock();
  const store = recordingStore(now);
  const engine = new QuotaEngine({ store, limits: { a: 2 }, now });
  const n = 70_000;
  for (let id = 0; id < n; id++) assert.equal(engine.reserve({ id }, "a").used, 1);
  for (let id = 0; id < n; id += 997) {
    assert.equal(engine.reserve({ id }, "a").used, 2);
    assert.equal(engine.reserve({ id }, "a").allowed, false);
    assert.deepEqual(engine.usage(id), { a: 2 });
  }
  const incrKeys = store.calls.filter((c) => c[0] === "incr").map((c) => c[1]);
  assert.ok(incrKeys.includes("ai_quota:69999:a:2026-11-27"));
  assert.ok(incrKeys.every((k) => /^ai_quota:\d+:a:2026-11-27$/.test(k)));
});

test("setLimits reorders features: the fast path follows the new positions", () => {
  const now = fakeClock();
  const store = recordingStore(now);
  const engine = new QuotaEngine({ store, limits: { a: 1, b: 1 }, now });
  engine.reserve({ id: 1 }, "a");
  engine.setLimits({ b: 5, a: 1, c: 2 });
  assert.equal(engine.reserve({ id: 1 }, "b").limit, 5);
  assert.equal(engine.reserve({ id: 1 }, "a").allowed, false);
  assert.equal(engine.reserve({ id: 1 }, "c").used, 1);
  assert.deepEqual(engine.usage(1), { b: 1, a: 1, c: 1 });
});

test("a store that answers a thenable after plain answers, and plain after a thenable", async () => {
  const now = fakeClock();
  const inner = new MemoryStore({ now });
  let n = 0;
  const store = {
    get: (k) => inner.get(k),
    incr: (k, d) => (n++ % 2 ? Promise.resolve(inner.incr(k, d)) : inner.incr(k, d)),
    add: (k, v, t) => inner.add(k, v, t),
    set: (k, v, t) => inner.set(k, v, t),
  };
  const engine = new QuotaEngine({ store, limits: { a: 2 }, now });
  const results = [];
  for (let i = 0; i < 6; i++) results.push(await engine.reserve({ id: 1 }, "a"));
  assert.deepEqual(results.map((d) => d.allowed), [true, true, false, false, false, false]);
  assert.equal(inner.get("ai_quota:1:a:2026-11-27"), 2);
});

test("a store may call back into the engine while a call is in progress", () => {
  const now = fakeClock();
  const inner = new MemoryStore({ now });
  let engine;
  let nested;
  const store = {
    get: (k) => inner.get(k),
    incr: (k, d) => {
      if (nested === undefined) nested = engine.check({ id: 2 }, "a");
      return inner.incr(k, d);
    },
    add: (k, v, t) => inner.add(k, v, t),
    set: (k, v, t) => inner.set(k, v, t),
  };
  engine = new QuotaEngine({ store, limits: { a: 3 }, now });
  const d = engine.reserve({ id: 1 }, "a");
  assert.equal(d.used, 1);
  assert.equal(nested.used, 0);
  assert.equal(engine.reserve({ id: 1 }, "a").used, 2);
});

test("fast-path inputs that are not plain still get the documented errors", () => {
  const now = fakeClock();
  const engine = new QuotaEngine({ store: new MemoryStore({ now }), limits: { a: 3 }, now });
  const code = (f) => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof QuotaError);
      return e.code;
    }
    return "none";
  };
  assert.equal(code(() => engine.reserve({ id: -1 }, "a")), "INVALID_ARGUMENT");
  assert.equal(code(() => engine.reserve({ id: 1.5 }, "a")), "INVALID_ARGUMENT");
  assert.equal(code(() => engine.reserve({ id: NaN }, "a")), "INVALID_ARGUMENT");
  assert.equal(code(() => engine.reserve({ id: 1, unlimited: "yes" }, "a")), "INVALID_ARGUMENT");
  assert.equal(code(() => engine.reserve({ get id() { throw new Error("x"); } }, "a")), "INVALID_ARGUMENT");
  assert.equal(code(() => engine.reserve([1], "a")), "INVALID_ARGUMENT");
  assert.equal(code(() => engine.reserve({ id: 1 }, "b")), "UNKNOWN_FEATURE");
  const badClock = new QuotaEngine({ store: new MemoryStore(), limits: { a: 1 }, now: () => NaN });
  assert.equal(code(() => badClock.reserve({ id: 1 }, "a")), "INVALID_CONFIG");
  assert.deepEqual(engine.usage(1), { a: 0 });
  assert.deepEqual(engine.reserve({ id: 1, unlimited: true }, "a"), { allowed: true, unlimited: true, feature: "a" });
});

// Growing WASM memory detaches every view of it, the shared numbers too. A call that reaches
// into WASM again (a reset instant's text allocates) while a step's numbers are still to be
// read must not read them from the detached view: that read undefined, so an allowed and
// counted reserve came back as a denial and a store op got an undefined delta. (A key's text
// is read from WASM memory with the step's numbers, before anything calls into WASM.)
test("a step's numbers are read whole even when WASM memory grows in between", () => {
  const { rfc3339 } = QuotaCore;
  QuotaCore.rfc3339 = (ms) => (wasmMemory().grow(1), rfc3339(ms));
  try {
    const now = fakeClock();
    const direct = new QuotaEngine({ store: new MemoryStore({ now }), limits: { remix: 3 }, now });
    assert.deepEqual(
      { ...direct.reserve({ id: 1 }, "remix"), reservation: undefined },
      { allowed: true, feature: "remix", limit: 3, used: 1, remaining: 2, resetsAt: "2026-11-28T00:00:00Z", retryAfter: 0, reservation: undefined },
    );
    const store = recordingStore(now);
    const engine = new QuotaEngine({ store, limits: { remix: 3 }, now });
    const d = engine.reserve({ id: 1 }, "remix", { amount: 2 });
    assert.deepEqual(store.calls[0], ["incr", "ai_quota:1:remix:2026-11-27", 2]);
    assert.deepEqual([d.allowed, d.limit, d.used], [true, 3, 2]);
  } finally {
    QuotaCore.rfc3339 = rfc3339;
  }
});

test("a clock reading with a fraction of a millisecond is floored: half a millisecond before midnight is the day that ends", () => {
  const now = fakeClock(NOON + 12 * HOUR - 0.5);
  const user = mapStore(now);
  // A user's store (the state machines) and the package's MemoryStore (the direct path).
  for (const store of [user.store, new MemoryStore({ now })]) {
    const engine = new QuotaEngine({ store, limits: { remix: 5 }, now });
    const d = engine.reserve({ id: 7 }, "remix");
    assert.deepEqual([d.allowed, d.resetsAt], [true, "2026-11-28T00:00:00Z"]);
    assert.equal(engine.usage(7).remix, 1);
    assert.equal(engine.check({ id: 7 }, "remix", { amount: 4 }).resetsAt, "2026-11-28T00:00:00Z");
  }
  assert.deepEqual([...user.entries.keys()], ["ai_quota:7:remix:2026-11-27"]);
});
