// Every error code, and bad inputs refused before anything is counted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, MemoryStore, QuotaError } from "wasm-quota";
import { fakeClock, recordingStore } from "./helpers.mjs";

const isCode = (code) => (e) => {
  assert.ok(e instanceof QuotaError, `expected a QuotaError, got ${e}`);
  assert.ok(e instanceof Error);
  assert.equal(e.name, "QuotaError");
  assert.equal(e.code, code, e.message);
  return true;
};

function setup(storeOverrides = {}) {
  const now = fakeClock();
  const store = { ...recordingStore(now), ...storeOverrides };
  const engine = new QuotaEngine({ store, limits: { remix: 3 }, now });
  return { now, store, engine };
}

test("INVALID_CONFIG: constructor options", () => {
  const store = new MemoryStore();
  const bad = [
    undefined,
    null,
    42,
    {},
    { limits: { remix: 1 } },
    { store, limits: null },
    { store, limits: [] },
    { store, limits: { remix: -1 } },
    { store, limits: { remix: 1.5 } },
    { store, limits: { remix: NaN } },
    { store, limits: { remix: Infinity } },
    { store, limits: { remix: 2 ** 53 } },
    { store, limits: { remix: "10" } },
    { store, limits: { "a:b": 1 } },
    { store, limits: { ["x".repeat(65)]: 1 } },
    { store, limits: { remix: 1 }, enabled: "no" },
    { store, limits: { remix: 1 }, keyPrefix: "" },
    { store, limits: { remix: 1 }, keyPrefix: 5 },
    { store, limits: { remix: 1 }, now: 5 },
    { store, limits: { remix: 1 }, limit: { remix: 1 } },
    { store: {}, limits: { remix: 1 } },
    { store: { get() {}, incr() {}, add() {} }, limits: { remix: 1 } },
  ];
  for (const options of bad) {
    assert.throws(() => new QuotaEngine(options), isCode("INVALID_CONFIG"), JSON.stringify(options));
  }
});

test("INVALID_CONFIG: a clock that throws or returns garbage", () => {
  const store = new MemoryStore();
  // A Date, a numeric string, true and null convert to numbers where a number is expected:
  // each is refused all the same, never read as that instant.
  const converted = [() => new Date(), () => String(Date.now()), () => true, () => null];
  for (const now of [() => NaN, () => "soon", () => -1, () => 1e20, () => { throw new Error("tick"); }, ...converted]) {
    const engine = new QuotaEngine({ store, limits: { remix: 1 }, now });
    assert.throws(() => engine.reserve({ id: 1 }, "remix"), isCode("INVALID_CONFIG"));
  }
});

test("INVALID_ARGUMENT: profiles, ids, amounts and reservations; nothing is counted", () => {
  const { engine, store } = setup();
  const badProfiles = [
    undefined, null, 42, "42", [], { }, { id: null }, { id: NaN }, { id: -1 }, { id: 1.5 },
    { id: 2 ** 53 }, { id: Infinity }, { id: "" }, { id: "x".repeat(257) }, { id: {} },
    { id: 1, unlimited: "yes" }, { get id() { throw new Error("getter"); } },
  ];
  for (const [i, p] of badProfiles.entries()) {
    assert.throws(() => engine.reserve(p, "remix"), isCode("INVALID_ARGUMENT"), `bad profile #${i}`);
  }
  for (const amount of [0, -1, 1.5, NaN, Infinity, 2 ** 53, "1", null]) {
    assert.throws(() => engine.reserve({ id: 1 }, "remix", { amount }), isCode("INVALID_ARGUMENT"), String(amount));
    assert.throws(() => engine.increment({ id: 1 }, "remix", { amount }), isCode("INVALID_ARGUMENT"));
  }
  assert.throws(() => engine.reserve({ id: 1 }, "remix", 5), isCode("INVALID_ARGUMENT"));
  assert.throws(() => engine.reserve({ id: 1 }, 5), isCode("INVALID_ARGUMENT"));
  for (const id of [null, -1, 1.5, NaN, "", {}]) {
    assert.throws(() => engine.usage(id), isCode("INVALID_ARGUMENT"), String(id));
  }
  for (const token of ["q1.remix.x.1", "q1.remix.1.0", "q9.remix.1.1", "a.b"]) {
    assert.throws(() => engine.release({ id: 1 }, token), isCode("INVALID_ARGUMENT"), token);
  }
  const ok = engine.reserve({ id: 1 }, "remix", { amount: 2 });
  assert.throws(() => engine.release({ id: 1 }, ok.reservation, { amount: 1 }), isCode("INVALID_ARGUMENT"));
  // Only the one successful reserve above was counted.
  assert.deepEqual(store.calls.filter(([m]) => m !== "get").map(([m, , v]) => [m, v]), [["incr", 2], ["add", 2]]);
  assert.equal(engine.usage(1).remix, 2);
});

test("UNKNOWN_FEATURE, also for a reservation of a feature no longer configured", () => {
  const { engine } = setup();
  const d = engine.reserve({ id: 1 }, "remix");
  engine.setLimits({ tips: 1 });
  assert.throws(() => engine.release({ id: 1 }, d.reservation), isCode("UNKNOWN_FEATURE"));
  assert.throws(() => engine.check({ id: 1 }, "remix"), isCode("UNKNOWN_FEATURE"));
});

test("STORE_ERROR keeps the store's exception as cause, thrown sync or rejected async", async () => {
  const boom = new Error("connection reset");
  const { engine } = setup({ incr() { throw boom; } });
  assert.throws(() => engine.reserve({ id: 1 }, "remix"), (e) => isCode("STORE_ERROR")(e) && e.cause === boom);

  const { engine: asyncEngine } = setup({ get: () => Promise.reject(boom) });
  const p = asyncEngine.check({ id: 1 }, "remix");
  assert.ok(p instanceof Promise);
  await assert.rejects(p, (e) => isCode("STORE_ERROR")(e) && e.cause === boom);

  const { engine: badAdd } = setup({ incr: () => null, add: () => "yes" });
  assert.throws(() => badAdd.reserve({ id: 1 }, "remix"), isCode("STORE_ERROR"));
});

test("CORRUPT_COUNTER: a store answer that is not a count is never read as 0", async () => {
  for (const value of ["5", NaN, Infinity, 1.5, {}, [], true, -1, 2 ** 60]) {
    const { engine } = setup({ get: () => value });
    assert.throws(() => engine.check({ id: 1 }, "remix"), isCode("CORRUPT_COUNTER"), String(value));
    assert.throws(() => engine.usage(1), isCode("CORRUPT_COUNTER"), String(value));
    const { engine: asyncEngine } = setup({ get: async () => value });
    await assert.rejects(asyncEngine.check({ id: 1 }, "remix"), isCode("CORRUPT_COUNTER"));
  }
  for (const value of ["1", NaN, {}]) {
    const { engine } = setup({ incr: () => value });
    assert.throws(() => engine.reserve({ id: 1 }, "remix"), isCode("CORRUPT_COUNTER"), String(value));
  }
});

test("a refused call leaves the engine working", () => {
  const { engine } = setup();
  assert.throws(() => engine.reserve(null, "remix"));
  assert.throws(() => engine.reserve({ id: 1 }, "nope"));
  assert.equal(engine.reserve({ id: 1 }, "remix").allowed, true);
});
