// An engine over the package's MemoryStore runs each call over counters in WASM memory; an
// engine over any other store calls the store's methods from JS. Both must decide exactly
// alike: the same random calls go to one engine of each kind, and every answer, error and
// counter is compared.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, MemoryStore } from "wasm-quota";
import { fakeClock, NOON, HOUR, CLOCK_MARGIN_S, generator, comparable } from "./helpers.mjs";

/** A QuotaStore over a JS Map with TTLs, as MemoryStore was written in JS: the reference. */
class MapStore {
  #entries = new Map();
  #now;
  #sweepAt = 1024;
  constructor(now) {
    this.#now = now;
  }
  #live(key) {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }
  get(key) {
    return this.#live(key)?.value ?? null;
  }
  incr(key, delta) {
    const e = this.#live(key);
    return e === undefined ? null : (e.value += delta);
  }
  add(key, value, ttl) {
    if (this.#live(key) !== undefined) return false;
    this.set(key, value, ttl);
    return true;
  }
  set(key, value, ttl) {
    this.#entries.set(key, { value, expiresAt: this.#now() + ttl * 1000 });
    if (this.#entries.size >= this.#sweepAt) {
      const now = this.#now();
      for (const [k, e] of this.#entries) if (e.expiresAt <= now) this.#entries.delete(k);
      this.#sweepAt = Math.max(1024, this.#entries.size * 2);
    }
  }
  get size() {
    return this.#entries.size;
  }
  keys() {
    return [...this.#entries.keys()];
  }
}

const LIMITS = {
  remix: 5,
  tips: 0,
  chat: [
    { limit: 2_000, window: "hour" },
    { limit: 5_000, window: "day" },
  ],
  paris: [{ limit: 7, window: "day", timeZone: "Europe/Paris", name: "paris-day" }],
  weekly: { limit: 20, window: "week" },
  monthly: [{ limit: 30, window: "month" }],
};
const FEATURES = [...Object.keys(LIMITS), "nope"];
const PROFILES = [{ id: 1 }, { id: 2 }, { id: "1" }, { id: "a:b%" }, { id: "5f0c6a7e-1c2d-4e5f-8a9b-0c1d2e3f4a5b" }, { id: 3, unlimited: true }, { id: -1 }, { id: "" }];
const KEYS = ["r-1", "r-2", "r:3", "r-4"];

function outcome(fn) {
  try {
    return { value: fn() };
  } catch (err) {
    return { error: { name: err.name, code: err.code, message: err.message } };
  }
}

function runBoth(seed, calls) {
  const rand = generator(seed);
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const now = fakeClock(NOON - 10 * HOUR);
  const memory = new MemoryStore({ now });
  const reference = new MapStore(now);
  const engines = [new QuotaEngine({ store: memory, limits: LIMITS, now }), new QuotaEngine({ store: reference, limits: LIMITS, now })];
  const tokens = [[], []]; // each engine's reservations, in the same order
  for (let i = 0; i < calls; i++) {
    const r = rand();
    now.t += r < 0.02 ? Math.floor(rand() * 2 * 86_400_000) : r < 0.1 ? Math.floor(rand() * HOUR) : Math.floor(rand() * 2000);
    const profile = pick(PROFILES);
    const feature = pick(FEATURES);
    const amount = rand() < 0.5 ? undefined : pick([1, 2, 3, 50, 700, 2_500, 0, 1.5]);
    const options = amount === undefined && rand() < 0.5 ? undefined : { amount };
    const kind = Math.floor(rand() * 8);
    const token = tokens[0].length > 0 ? Math.floor(rand() * tokens[0].length) : -1;
    const actual = pick([0, 1, 10, 400]);
    const key = pick(KEYS);
    const results = engines.map((engine, e) =>
      outcome(() => {
        switch (kind) {
          case 0:
            return engine.check(profile, feature, options);
          case 1:
          case 2:
            return engine.reserve(profile, feature, options);
          case 3:
            return engine.reserve(profile, feature, { ...options, idempotencyKey: key });
          case 4:
            return engine.increment(profile, feature, options);
          case 5:
            return token < 0 ? engine.release(profile, feature, options) : engine.release(profile, tokens[e][token]);
          case 6:
            return token < 0 ? engine.usage(profile.id) : engine.settle(profile, tokens[e][token], actual);
          default:
            return engine.usage(profile.id);
        }
      }),
    );
    assert.deepEqual(
      { value: comparable(results[0].value), error: results[0].error },
      { value: comparable(results[1].value), error: results[1].error },
      `call ${i} (kind ${kind}, ${JSON.stringify(profile)}, ${feature}, ${JSON.stringify(options)}) at ${now.t}`,
    );
    if (typeof results[0].value?.reservation === "string") {
      tokens[0].push(results[0].value.reservation);
      tokens[1].push(results[1].value.reservation);
    }
  }
  // Settle markers are named after the token's nonce, and idempotency records hold 2·nonce + 1:
  // the same marker or record has each engine's nonce.
  const nonces = new Map(tokens[1].map((t, i) => [t.split(".").at(-2), tokens[0][i].split(".").at(-2)]));
  const memoryKey = (k) => k.replace(/:r([0-9a-f]{16})$/, (m, nonce) => ":r" + (nonces.get(nonce) ?? nonce));
  const memoryValue = (k, v) => {
    if (!/:i[^:]+:/.test(k) || typeof v !== "number") return v;
    const nonce = nonces.get(((v - 1) / 2).toString(16).padStart(16, "0"));
    return nonce === undefined ? v : 2 * parseInt(nonce, 16) + 1;
  };
  return { memory, reference, memoryKey, memoryValue };
}

test("over MemoryStore the engine decides exactly as over a JS-callback store (random calls, every shape)", () => {
  for (const seed of [1, 2, 3, 4]) {
    const { memory, reference, memoryKey, memoryValue } = runBoth(seed, 2_500);
    // The counters, markers and idempotency records are the same, key for key.
    const keys = reference.keys();
    assert.ok(keys.length > 20, `only ${keys.length} keys written`);
    assert.ok(keys.some((k) => /:r[0-9a-f]{16}$/.test(k)), "no settle marker written");
    assert.ok(keys.some((k) => /:i[^:]+:r-/.test(k)), "no idempotency record written");
    for (const k of keys) assert.equal(memory.get(memoryKey(k)), memoryValue(k, reference.get(k)), k);
    assert.equal(memory.size, reference.size);
  }
});

test("MemoryStore's own methods see the engine's counters, and the engine sees theirs", () => {
  const now = fakeClock();
  const store = new MemoryStore({ now });
  const engine = new QuotaEngine({ store, limits: { remix: 10 }, now });
  engine.reserve({ id: 42 }, "remix", { amount: 3 });
  assert.equal(store.get("ai_quota:42:remix:2026-11-27"), 3);
  store.set("ai_quota:42:remix:2026-11-27", 9, 60);
  assert.equal(engine.check({ id: 42 }, "remix").used, 9);
  // set's TTL is its own: the value set for 60 s is gone after them (the engine counts anew).
  now.t += 60_000;
  assert.equal(store.get("ai_quota:42:remix:2026-11-27"), null);
  now.t -= 60_000;
  store.set("ai_quota:42:remix:2026-11-27", 9, 60);
  assert.equal(engine.reserve({ id: 42 }, "remix", { amount: 2 }).allowed, false);
  assert.equal(store.incr("ai_quota:42:remix:2026-11-27", 1), 10);
  // A value that is not a count is CORRUPT_COUNTER, as from any store.
  store.set("ai_quota:42:remix:2026-11-27", 2.5, 60);
  assert.throws(() => engine.reserve({ id: 42 }, "remix"), { code: "CORRUPT_COUNTER" });
});

test("a MemoryStore expires counters on its own clock, also when the engine's clock differs", () => {
  const engineNow = fakeClock();
  const storeNow = fakeClock();
  const store = new MemoryStore({ now: storeNow });
  const engine = new QuotaEngine({ store, limits: { remix: 1 }, now: engineNow });
  assert.equal(engine.reserve({ id: 1 }, "remix").allowed, true);
  assert.equal(engine.reserve({ id: 1 }, "remix").allowed, false);
  // The counter's TTL: to midnight on the engine's clock, and ten minutes (the clock margin).
  storeNow.t += 12 * HOUR + CLOCK_MARGIN_S * 1000 - 1;
  assert.equal(engine.reserve({ id: 1 }, "remix").allowed, false);
  storeNow.t += 1; // it has passed
  assert.equal(engine.reserve({ id: 1 }, "remix").allowed, true);
});

// A clock that answers something other than a number (a Date, a string, NaN) named no instant:
// every counter read as expired the moment it was written, and every reserve was admitted.
test("a MemoryStore whose clock answers no number is refused, never read as an empty store", () => {
  const engineNow = fakeClock();
  const bad = [() => new Date(NOON), () => String(NOON), () => NaN, () => Infinity, () => undefined];
  for (const now of bad) {
    const message = /^MemoryStore's `now` clock returned .+, expected ms since the epoch$/;
    const store = new MemoryStore({ now });
    // Its own methods refuse the reading, as the engine's `now` option is refused.
    for (const call of [() => store.get("k"), () => store.incr("k", 1), () => store.add("k", 1, 60), () => store.set("k", 1, 60), () => store.sweep()]) {
      assert.throws(call, { name: "QuotaError", code: "INVALID_CONFIG", message });
    }
    // An engine over it (its calls run inside WASM) refuses every call under every policy,
    // also with a clock of its own: nothing is admitted, nothing counted.
    for (const onStoreError of ["throw", "deny", "allow"]) {
      for (const options of [{}, { now: engineNow }]) {
        const engine = new QuotaEngine({ store, limits: { remix: 2 }, onStoreError, ...options });
        for (let i = 0; i < 3; i++) {
          assert.throws(() => engine.reserve({ id: 1 }, "remix"), { code: "INVALID_CONFIG", message });
        }
        assert.throws(() => engine.usage(1), { code: "INVALID_CONFIG", message });
      }
    }
    assert.equal(store.size, 0);
  }
});

test("a MemoryStore with a method replaced, or a subclass, is called like any store", () => {
  const now = fakeClock();
  const logged = [];
  const patched = new MemoryStore({ now });
  const incr = patched.incr.bind(patched);
  patched.incr = (k, d) => (logged.push(k), incr(k, d));
  class Logging extends MemoryStore {
    incr(k, d) {
      logged.push(k);
      return super.incr(k, d);
    }
  }
  for (const store of [patched, new Logging({ now })]) {
    const engine = new QuotaEngine({ store, limits: { remix: 2 }, now });
    logged.length = 0;
    engine.reserve({ id: 7 }, "remix");
    engine.reserve({ id: 7 }, "remix");
    assert.deepEqual(logged, ["ai_quota:7:remix:2026-11-27", "ai_quota:7:remix:2026-11-27"]);
    assert.equal(store.get("ai_quota:7:remix:2026-11-27"), 2);
  }
  // A method replaced on MemoryStore.prototype itself (instrumentation does this) runs too.
  const original = MemoryStore.prototype.incr;
  MemoryStore.prototype.incr = function (k, d) {
    logged.push(k);
    return original.call(this, k, d);
  };
  try {
    const store = new MemoryStore({ now });
    const engine = new QuotaEngine({ store, limits: { remix: 2 }, now });
    logged.length = 0;
    engine.reserve({ id: 8 }, "remix");
    engine.reserve({ id: 8 }, "remix");
    assert.deepEqual(logged, ["ai_quota:8:remix:2026-11-27", "ai_quota:8:remix:2026-11-27"]);
  } finally {
    MemoryStore.prototype.incr = original;
  }
});

// The engine reaches a counter it has found before without its key's text; whatever happened to
// the counter since (expired, swept, the store cleared, the limits reordered, the window rolled
// over), it counts in the counter its key names and in no other.
test("over MemoryStore a counter found before is never confused with another", () => {
  const now = fakeClock();
  const store = new MemoryStore({ now });
  const engine = new QuotaEngine({ store, limits: { remix: 3, tips: 5 }, now });
  const REMIX = "ai_quota:1:remix:2026-11-27";
  const TIPS = "ai_quota:1:tips:2026-11-27";
  assert.equal(engine.reserve({ id: 1 }, "remix").used, 1);
  // It expires and is swept; another key takes its place in memory.
  store.set(REMIX, 1, 1);
  now.t += 2_000;
  store.sweep();
  store.set("other", 100, 600);
  assert.equal(engine.reserve({ id: 1 }, "remix").used, 1);
  assert.equal(store.get("other"), 100);
  assert.equal(store.get(REMIX), 1);
  // The store cleared: counted from nothing, in the right key.
  store.clear();
  store.set("other", 100, 600);
  assert.equal(engine.reserve({ id: 1 }, "remix").used, 1);
  assert.equal(engine.reserve({ id: 1 }, "remix").used, 2);
  assert.deepEqual([store.get("other"), store.get(REMIX), store.size], [100, 2, 2]);
  // The limits reordered: position 0 is tips now.
  engine.setLimits({ tips: 5, remix: 3 });
  assert.equal(engine.reserve({ id: 1 }, "tips").used, 1);
  assert.equal(engine.reserve({ id: 1 }, "remix").used, 3);
  assert.deepEqual([store.get(TIPS), store.get(REMIX)], [1, 3]);
  // The next day: new counters, yesterday's untouched.
  now.t += 24 * HOUR;
  assert.equal(engine.reserve({ id: 1 }, "remix").used, 1);
  assert.equal(store.get("ai_quota:1:remix:2026-11-28"), 1);
  // A second engine over the same store counts in the same counters.
  const second = new QuotaEngine({ store, limits: { remix: 3 }, now });
  assert.equal(second.reserve({ id: 1 }, "remix").used, 2);
  assert.equal(engine.reserve({ id: 1 }, "remix").used, 3);
  assert.equal(second.reserve({ id: 1 }, "remix").allowed, false);
});
