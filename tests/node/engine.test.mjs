// The Django service's behaviours through the built package, imported by its name as users do.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, MemoryStore, QuotaError } from "wasm-quota";
import { NOON, CLOCK_MARGIN_S, fakeClock, recordingStore, delayedStore } from "./helpers.mjs";

const DJANGO_LIMITS = { remix: 10, remix_suggestions: 20, scale: 10, tips: 20, discover: 10, timer: 10 };

function setup(limits = { remix: 3, tips: 1 }, options = {}) {
  const now = fakeClock();
  const store = recordingStore(now);
  const engine = new QuotaEngine({ store, limits, now, ...options });
  return { now, store, engine };
}

test("reserve admits up to the limit, then denies with the Django service's info and counts nothing", () => {
  const { engine, store } = setup();
  for (let n = 1; n <= 3; n++) {
    const d = engine.reserve({ id: 42 }, "remix");
    assert.equal(d.allowed, true);
    assert.equal(d.used, n);
    assert.equal(d.remaining, 3 - n);
    assert.equal(d.retryAfter, 0);
    assert.equal(typeof d.reservation, "string");
  }
  assert.deepEqual(engine.reserve({ id: 42 }, "remix"), {
    allowed: false,
    feature: "remix",
    limit: 3,
    used: 3,
    remaining: 0,
    resetsAt: "2026-11-28T00:00:00Z",
    retryAfter: 12 * 3600,
  });
  assert.equal(store.inner.get("ai_quota:42:remix:2026-11-27"), 3);
});

test("keys are the Django service's: prefix:id:feature:date; TTL to the next UTC midnight and the clock margin (ten minutes)", () => {
  const { engine, store } = setup();
  engine.reserve({ id: 42 }, "remix");
  assert.deepEqual(store.calls, [
    ["incr", "ai_quota:42:remix:2026-11-27", 1],
    ["add", "ai_quota:42:remix:2026-11-27", 1, 12 * 3600 + CLOCK_MARGIN_S],
  ]);
  const custom = new QuotaEngine({ store, limits: { remix: 1 }, keyPrefix: "q", now: () => NOON });
  custom.check({ id: "a:b" }, "remix");
  assert.deepEqual(store.calls.at(-1), ["get", "q:~a%3Ab:remix:2026-11-27"]);
});

test("a key prefix that begins with U+FEFF reaches the store whole, on every operation and for idempotency records", () => {
  const { engine, store } = setup({ remix: 1, tips: 5 }, { keyPrefix: "\uFEFFq" });
  engine.reserve({ id: 7 }, "remix");
  engine.reserve({ id: 7 }, "remix");
  engine.reserve({ id: "\uFEFF" }, "tips", { idempotencyKey: "\uFEFFk" });
  const keys = store.calls.map(([, key]) => key);
  assert.deepEqual(keys.slice(0, 4), Array(4).fill("\uFEFFq:7:remix:2026-11-27"));
  assert.ok(keys.length > 4 && keys.every((k) => k.startsWith("\uFEFFq:")), keys.join(" "));
  // One counter, not two under different names: the second reserve was denied.
  assert.equal(store.inner.get("\uFEFFq:7:remix:2026-11-27"), 1);
});

test("the Django service's six features with their default limits", () => {
  const { engine } = setup(DJANGO_LIMITS);
  assert.deepEqual(engine.usage(1), { remix: 0, remix_suggestions: 0, scale: 0, tips: 0, discover: 0, timer: 0 });
  assert.equal(engine.check({ id: 1 }, "remix_suggestions").limit, 20);
});

test("check is read-only", () => {
  const { engine, store } = setup();
  const d = engine.check({ id: 1 }, "remix", { amount: 3 });
  assert.equal(d.allowed, true);
  assert.equal(d.used, 0);
  assert.equal(d.remaining, 3);
  assert.equal(d.reservation, undefined);
  assert.ok(store.calls.every(([m]) => m === "get"));
  assert.equal(engine.check({ id: 1 }, "remix", { amount: 4 }).allowed, false);
  engine.reserve({ id: 1 }, "tips");
  const denied = engine.check({ id: 1 }, "tips");
  assert.equal(denied.allowed, false);
  assert.equal(denied.used, 1);
  assert.equal(denied.retryAfter, 12 * 3600);
});

test("release by reservation gives the slot back; by feature it is the Django service's release", () => {
  const { engine } = setup();
  const d = engine.reserve({ id: 5 }, "tips");
  assert.equal(engine.reserve({ id: 5 }, "tips").allowed, false);
  assert.equal(engine.release({ id: 5 }, d.reservation), undefined);
  assert.equal(engine.reserve({ id: 5 }, "tips").allowed, true);
  engine.release({ id: 5 }, "tips");
  assert.equal(engine.usage(5).tips, 0);
});

test("release clamps a negative counter back to 0, and is a no-op on a missing key", () => {
  const { engine, store } = setup();
  engine.release({ id: 9 }, "remix");
  assert.deepEqual(store.calls, [["incr", "ai_quota:9:remix:2026-11-27", -1]]);
  engine.reserve({ id: 9 }, "remix");
  engine.release({ id: 9 }, "remix", { amount: 3 });
  assert.equal(store.inner.get("ai_quota:9:remix:2026-11-27"), 0);
  // The clamp adds back what it saw below zero (not a blind set, which would erase a
  // concurrent count).
  assert.deepEqual(store.calls.at(-1), ["incr", "ai_quota:9:remix:2026-11-27", 2]);
});

test("amounts are all-or-nothing", () => {
  const { engine } = setup();
  assert.equal(engine.reserve({ id: 1 }, "remix", { amount: 2 }).used, 2);
  const d = engine.reserve({ id: 1 }, "remix", { amount: 2 });
  assert.equal(d.allowed, false);
  assert.equal(d.used, 2);
  assert.equal(engine.reserve({ id: 1 }, "remix").used, 3);
  const big = engine.reserve({ id: 2 }, "remix", { amount: 4 });
  assert.equal(big.allowed, false);
  assert.equal(engine.usage(2).remix, 0);
});

test("increment counts with no limit check (the Django service's post-hoc count)", () => {
  const { engine } = setup();
  assert.equal(engine.increment({ id: 2 }, "tips").used, 1);
  const d = engine.increment({ id: 2 }, "tips", { amount: 2 });
  assert.equal(d.allowed, true);
  assert.equal(d.used, 3);
  assert.equal(d.remaining, 0);
  assert.equal(engine.usage(2).tips, 3);
  assert.equal(engine.check({ id: 2 }, "tips").allowed, false);
});

test("home mode (enabled: false) and unlimited profiles count nothing", () => {
  const { engine: home, store } = setup({ tips: 1 }, { enabled: false });
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(home.reserve({ id: 1 }, "tips"), { allowed: true, unlimited: true, feature: "tips" });
  }
  assert.deepEqual(home.check({ id: 1 }, "tips"), { allowed: true, unlimited: true, feature: "tips" });
  home.release({ id: 1 }, "tips");
  assert.equal(store.calls.length, 0);

  const { engine, store: s2 } = setup({ tips: 1 });
  for (let i = 0; i < 3; i++) {
    assert.equal(engine.reserve({ id: 1, unlimited: true }, "tips").unlimited, true);
  }
  assert.equal(s2.calls.length, 0);
  assert.equal(engine.reserve({ id: 1 }, "tips").allowed, true);
});

test("unknown features are a clear error, including prototype names", () => {
  const { engine, store } = setup();
  for (const f of ["nope", "__proto__", "toString", "constructor", "hasOwnProperty", ""]) {
    assert.throws(
      () => engine.reserve({ id: 1 }, f),
      (e) => e instanceof QuotaError && e.code === "UNKNOWN_FEATURE" && e.message.includes("Unknown quota feature"),
    );
  }
  assert.equal(store.calls.length, 0);
});

test("a configured feature named __proto__ is a real feature with a real usage field", () => {
  const { engine } = setup(JSON.parse('{"__proto__": 2, "remix": 1}'));
  assert.equal(engine.reserve({ id: 1 }, "__proto__").used, 1);
  const usage = engine.usage(1);
  assert.deepEqual(Object.keys(usage), ["__proto__", "remix"]);
  assert.equal(Object.getPrototypeOf(usage), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(usage, "__proto__").value, 1);
});

test("midnight starts a new window; resetsAt and TTL follow", () => {
  const { engine, now, store } = setup();
  for (let i = 0; i < 3; i++) engine.reserve({ id: 1 }, "remix");
  now.t = Date.UTC(2026, 10, 27, 23, 59, 59, 500);
  const late = engine.reserve({ id: 1 }, "remix");
  assert.equal(late.allowed, false);
  assert.equal(late.retryAfter, 1);
  now.t = Date.UTC(2026, 10, 28);
  const d = engine.reserve({ id: 1 }, "remix");
  assert.equal(d.allowed, true);
  assert.equal(d.used, 1);
  assert.equal(d.resetsAt, "2026-11-29T00:00:00Z");
  assert.deepEqual(store.calls.at(-1), ["add", "ai_quota:1:remix:2026-11-28", 1, 86400 + CLOCK_MARGIN_S]);
});

test("a reservation released after midnight does not free a slot in the new day", () => {
  const { engine, now, store } = setup();
  now.t = Date.UTC(2026, 10, 27, 23, 59, 59);
  const old = engine.reserve({ id: 3 }, "tips");
  now.t = Date.UTC(2026, 10, 28, 0, 0, 1);
  assert.equal(engine.reserve({ id: 3 }, "tips").allowed, true);
  const before = store.calls.length;
  engine.release({ id: 3 }, old.reservation);
  // Its marker only: the refund into the ended day is dropped, and today's counter untouched.
  assert.deepEqual(store.calls.slice(before).map(([op, key]) => [op, key.replace(/:r[0-9a-f]{16}$/, ":r…")]), [["add", "ai_quota:3:tips:r…"]]);
  assert.equal(engine.reserve({ id: 3 }, "tips").allowed, false);
});

test("different ids never share a counter: 42 vs '42', ids with colons", () => {
  const { engine } = setup({ remix: 1 });
  const ids = [42, "42", "a:b", "a%3Ab", "a", "~a", "42:remix", 0, "0"];
  for (const id of ids) assert.equal(engine.reserve({ id }, "remix").allowed, true, String(id));
  for (const id of ids) assert.equal(engine.reserve({ id }, "remix").allowed, false, String(id));
});

test("setLimits applies from the next call; refused limits keep the old ones", () => {
  const { engine } = setup({ remix: 1 });
  engine.reserve({ id: 1 }, "remix");
  assert.equal(engine.reserve({ id: 1 }, "remix").allowed, false);
  engine.setLimits({ remix: 2, tips: 5 });
  assert.equal(engine.reserve({ id: 1 }, "remix").allowed, true);
  assert.equal(engine.check({ id: 1 }, "tips").limit, 5);
  assert.throws(() => engine.setLimits({ remix: -1 }), (e) => e.code === "INVALID_CONFIG");
  assert.throws(() => engine.setLimits({ remix: 1, "bad name": 1 }), (e) => e.code === "INVALID_CONFIG");
  assert.equal(engine.check({ id: 1 }, "remix").limit, 2);
  assert.equal(engine.check({ id: 1 }, "tips").limit, 5);
});

test("maybe-async: a sync store gives plain results, an async store gives Promises", async () => {
  const { engine } = setup();
  const d = engine.reserve({ id: 1 }, "remix");
  assert.equal(d instanceof Promise, false);
  assert.equal(d.allowed, true);

  const now = fakeClock();
  const slow = delayedStore(now);
  const asyncEngine = new QuotaEngine({ store: slow, limits: { remix: 3 }, now });
  const p = asyncEngine.reserve({ id: 1 }, "remix");
  assert.ok(p instanceof Promise);
  assert.equal((await p).used, 1);
  assert.deepEqual(await asyncEngine.usage(1), { remix: 1 });
  assert.equal(await asyncEngine.release({ id: 1 }, "remix"), undefined);
  assert.equal((await asyncEngine.check({ id: 1 }, "remix")).used, 0);

  // A store that answers some calls synchronously and others with a Promise.
  const inner = new MemoryStore({ now });
  const mixed = { get: (k) => inner.get(k), incr: async (k, d) => inner.incr(k, d), add: (k, v, t) => inner.add(k, v, t), set: (k, v, t) => inner.set(k, v, t) };
  const mixedEngine = new QuotaEngine({ store: mixed, limits: { remix: 3 }, now });
  assert.equal(mixedEngine.check({ id: 1 }, "remix").used, 0);
  assert.ok(mixedEngine.reserve({ id: 1 }, "remix") instanceof Promise);
});

test("200 concurrent reserves over an async store with random delays admit exactly 37", async () => {
  const now = fakeClock();
  const store = delayedStore(now);
  const engine = new QuotaEngine({ store, limits: { remix: 37 }, now });
  const decisions = await Promise.all(Array.from({ length: 200 }, () => engine.reserve({ id: 7 }, "remix")));
  const allowed = decisions.filter((d) => d.allowed);
  assert.equal(allowed.length, 37);
  assert.deepEqual(allowed.map((d) => d.used).sort((a, b) => a - b), Array.from({ length: 37 }, (_, i) => i + 1));
  for (const d of decisions.filter((d) => !d.allowed)) assert.equal(d.remaining, 0);
  assert.equal(store.inner.get("ai_quota:7:remix:2026-11-27"), 37);
  assert.deepEqual(await engine.usage(7), { remix: 37 });
});

test("MemoryStore honours TTLs on its clock and sweeps expired entries", () => {
  const now = fakeClock(0);
  const store = new MemoryStore({ now });
  assert.equal(store.add("k", 1, 10), true);
  assert.equal(store.add("k", 5, 10), false);
  assert.equal(store.incr("k", 2), 3);
  now.t = 9_999;
  assert.equal(store.get("k"), 3);
  now.t = 10_000;
  assert.equal(store.get("k"), null);
  assert.equal(store.incr("k", 1), null);
  store.set("a", 1, 1);
  now.t = 20_000;
  store.sweep();
  assert.equal(store.size, 0);
});

test("stringIdKeys 'raw' writes string ids as the Django service writes a string pk", () => {
  const { store } = setup();
  const engine = new QuotaEngine({ store, limits: { remix: 1 }, now: () => NOON, stringIdKeys: "raw" });
  const uuid = "3f2c9a1e-8b4d-4c6e-9f00-1a2b3c4d5e6f";
  assert.equal(engine.reserve({ id: uuid }, "remix").allowed, true);
  assert.deepEqual(store.calls.at(-1), ["add", `ai_quota:${uuid}:remix:2026-11-27`, 1, 12 * 3600 + CLOCK_MARGIN_S]);
  assert.equal(engine.reserve({ id: uuid }, "remix").allowed, false);
  assert.deepEqual(engine.usage(uuid), { remix: 1 });
  // Numeric ids are written as before; "42" would be numeric 42's key, so it is refused.
  engine.check({ id: 42 }, "remix");
  assert.deepEqual(store.calls.at(-1), ["get", "ai_quota:42:remix:2026-11-27"]);
  assert.throws(() => engine.check({ id: "42" }, "remix"), { code: "INVALID_ARGUMENT", message: /only digits/ });
  assert.throws(() => engine.check({ id: "a:b" }, "remix"), { code: "INVALID_ARGUMENT", message: /":"/ });
  assert.throws(() => engine.check({ id: "~a" }, "remix"), { code: "INVALID_ARGUMENT", message: /"~"/ });
  // The default, "escaped", keeps every string id apart from numbers and raw ids.
  const escaped = new QuotaEngine({ store, limits: { remix: 1 }, now: () => NOON, stringIdKeys: "escaped" });
  escaped.check({ id: uuid }, "remix");
  assert.deepEqual(store.calls.at(-1), ["get", `ai_quota:~${uuid}:remix:2026-11-27`]);
});

test("stringIdKeys 'raw' over the package's MemoryStore (counted inside WASM): same keys, same refusals", () => {
  const store = new MemoryStore({ now: () => NOON });
  const engine = new QuotaEngine({ store, limits: { remix: 2 }, now: () => NOON, stringIdKeys: "raw" });
  const uuid = "3f2c9a1e-8b4d-4c6e-9f00-1a2b3c4d5e6f";
  assert.equal(engine.reserve({ id: uuid }, "remix").allowed, true);
  assert.equal(engine.reserve({ id: uuid }, "remix", { amount: 1 }).allowed, true);
  assert.equal(engine.reserve({ id: uuid }, "remix").allowed, false);
  assert.equal(store.get(`ai_quota:${uuid}:remix:2026-11-27`), 2);
  assert.equal(store.get(`ai_quota:~${uuid}:remix:2026-11-27`), null);
  for (const id of ["a:b", "42", "~a"]) {
    assert.throws(() => engine.reserve({ id }, "remix"), { code: "INVALID_ARGUMENT" }, id);
    assert.throws(() => engine.usage(id), { code: "INVALID_ARGUMENT" }, id);
  }
});
