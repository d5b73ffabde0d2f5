// Ill-formed strings, clear CORRUPT_COUNTER messages and clocks near year 10000.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, MemoryStore } from "wasm-quota";
import { fakeClock, NOON } from "./helpers.mjs";

const code = (c) => (e) => e.code === c;

test("ids and idempotency keys that are not well-formed UTF-16 are refused, never merged", () => {
  const now = fakeClock(NOON);
  const store = new MemoryStore({ now });
  const engine = new QuotaEngine({ store, limits: { remix: 5 }, now });
  for (const id of ["user\uD800", "user\uDFFF", "\uDC00\uD800"]) {
    assert.throws(() => engine.reserve({ id }, "remix"), code("INVALID_ARGUMENT"), JSON.stringify(id));
    assert.throws(() => engine.usage(id), code("INVALID_ARGUMENT"));
  }
  assert.equal(engine.reserve({ id: "user\uFFFD" }, "remix").used, 1);
  assert.equal(engine.reserve({ id: "user\uD83D\uDE00" }, "remix").used, 1, "a surrogate pair is well-formed");
  assert.equal(engine.usage("user\uFFFD").remix, 1);
  const first = engine.reserve({ id: 7 }, "remix", { idempotencyKey: "k\uFFFD" });
  assert.equal(first.allowed, true);
  for (const idempotencyKey of ["k\uD800", "k\uDFFF"]) {
    assert.throws(() => engine.reserve({ id: 7 }, "remix", { idempotencyKey }), code("INVALID_ARGUMENT"));
  }
  assert.equal(engine.usage(7).remix, 1);
  for (const keyPrefix of ["q\uD800"]) {
    assert.throws(() => new QuotaEngine({ store, limits: { remix: 5 }, keyPrefix }), code("INVALID_CONFIG"));
  }
  assert.throws(() => new QuotaEngine({ store, limits: { remix: 5 }, tokenSecret: "0123456789abcdef\uD800" }), code("INVALID_CONFIG"));
});

test("CORRUPT_COUNTER names the value the store returned", () => {
  const store = { get: () => null, add: () => true, set: () => {}, incr: () => -5 };
  const engine = new QuotaEngine({ store, limits: { remix: 5 }, now: () => NOON });
  assert.throws(() => engine.reserve({ id: 1 }, "remix"), (e) => e.code === "CORRUPT_COUNTER" && /returned -5 after adding 1/.test(e.message) && !/-6/.test(e.message));
});

test("a clock whose window would end in year 10000 is refused; resetsAt keeps four-digit years", () => {
  const lastDay = Date.UTC(9999, 11, 31, 12);
  const engine = (t) => new QuotaEngine({ store: new MemoryStore({ now: () => t }), limits: { remix: 5 }, now: () => t });
  assert.throws(() => engine(lastDay).check({ id: 1 }, "remix"), code("INVALID_CONFIG"));
  assert.throws(() => engine(lastDay).reserve({ id: 1 }, "remix"), code("INVALID_CONFIG"));
  assert.throws(() => engine(Date.UTC(10000, 0, 1)).check({ id: 1 }, "remix"), code("INVALID_CONFIG"));
  const d = engine(lastDay - 86_400_000).reserve({ id: 1 }, "remix");
  assert.equal(d.resetsAt, "9999-12-31T00:00:00Z");
  assert.match(d.resetsAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test("method options refuse unknown names (typos are loud); increment refuses idempotencyKey", () => {
  const now = fakeClock(NOON);
  const engine = new QuotaEngine({ store: new MemoryStore({ now }), limits: { remix: 5 }, now });
  const d = engine.reserve({ id: 1 }, "remix");
  for (const [name, call] of [
    ["reserve { amonut }", () => engine.reserve({ id: 1 }, "remix", { amonut: 2 })],
    ["reserve { idempotency_key }", () => engine.reserve({ id: 1 }, "remix", { idempotency_key: "k" })],
    ["check { amonut }", () => engine.check({ id: 1 }, "remix", { amonut: 2 })],
    ["increment { idempotencyKey }", () => engine.increment({ id: 1 }, "remix", { idempotencyKey: "k" })],
    ["release { amonut }", () => engine.release({ id: 1 }, "remix", { amonut: 2 })],
    ["release a token { idempotencyKey }", () => engine.release({ id: 1 }, d.reservation, { idempotencyKey: "k" })],
  ]) {
    assert.throws(call, (e) => e.code === "INVALID_ARGUMENT" && /unknown option/.test(e.message), name);
  }
  assert.equal(engine.usage(1).remix, 1, "nothing counted or released");
  assert.equal(engine.reserve({ id: 1 }, "remix", { amount: 2, idempotencyKey: "ok" }).used, 3);
});

test("after free(): every call, a second free() and a call in flight fail with ENGINE_FREED", async () => {
  const freed = (e) => e.code === "ENGINE_FREED" && e.name === "QuotaError";
  const engine = new QuotaEngine({ store: new MemoryStore(), limits: { remix: 5 } });
  const d = engine.reserve({ id: 1 }, "remix");
  engine.free();
  for (const call of [
    () => engine.check({ id: 1 }, "remix"),
    () => engine.reserve({ id: 1 }, "remix"),
    () => engine.reserve({ id: "s" }, "remix", { amount: 2 }),
    () => engine.increment({ id: 1 }, "remix"),
    () => engine.release({ id: 1 }, d.reservation),
    () => engine.settle({ id: 1 }, d.reservation, 0),
    () => engine.usage(1),
    () => engine.setLimits({ remix: 1 }),
    () => engine.free(),
  ]) {
    assert.throws(call, freed);
  }
  let answer;
  const slow = { get: () => new Promise((r) => (answer = r)), incr: () => null, add: () => true, set: () => {} };
  const inFlight = new QuotaEngine({ store: slow, limits: { remix: 5 } });
  const pending = inFlight.check({ id: 1 }, "remix");
  inFlight.free();
  answer(0);
  await assert.rejects(pending, freed);
});
