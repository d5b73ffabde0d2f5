// The bad-input matrix: every method, option and store answer, given something wrong. Each row
// must be refused with its code, count nothing (no counter changes; argument errors reach no
// store method at all), and leave the engine working.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, MemoryStore, QuotaError } from "wasm-quota";
import { NOON } from "./helpers.mjs";

const now = () => NOON;
const P = { id: 1 };
const COUNTERS = ["ai_quota:1:remix:2026-11-27", "ai_quota:1:tips:2026-11-27", "ai_quota:2:remix:2026-11-27"];
const throwing = () => {
  throw new Error("getter");
};

/** A MemoryStore that records calls and, when `bad[method]` is set, answers that call with it. */
function world() {
  const inner = new MemoryStore({ now });
  const calls = [];
  const bad = {};
  const store = {};
  for (const m of ["get", "incr", "add", "set"]) {
    store[m] = (...args) => {
      calls.push(m);
      const answer = bad[m];
      if (answer === undefined) return inner[m](...args);
      delete bad[m];
      return answer(...args); // not applied: the store "did" nothing
    };
  }
  const engine = new QuotaEngine({ store, limits: { remix: 3, tips: 2 }, now });
  const held = engine.reserve(P, "remix"); // a count of 1 and a reservation to misuse
  calls.length = 0;
  return { inner, calls, bad, store, engine, token: held.reservation };
}

const A = "INVALID_ARGUMENT", C = "INVALID_CONFIG", U = "UNKNOWN_FEATURE", S = "STORE_ERROR", X = "CORRUPT_COUNTER";
const config = (extra) => (w) => new QuotaEngine({ store: w.store, limits: { remix: 3 }, now, ...extra });
// An engine writing string ids raw (as the Django service does), over the same store.
const raw = (act) => (w) => act(new QuotaEngine({ store: w.store, limits: { remix: 3, tips: 2 }, now, stringIdKeys: "raw" }), w);
const limitsOf = (limits) => (w) => new QuotaEngine({ store: w.store, limits, now });

// [what, code, act(world), reachesStore?]
const rows = [
  // -- constructor options --------------------------------------------------------------------
  ["onStoreError 'ignore'", C, config({ onStoreError: "ignore" })],
  ["onStoreError ''", C, config({ onStoreError: "" })],
  ["onStoreError null", C, config({ onStoreError: null })],
  ["onStoreError 1", C, config({ onStoreError: 1 })],
  ["onStoreError 'THROW'", C, config({ onStoreError: "THROW" })],
  ["storeTimeoutMs 0", C, config({ storeTimeoutMs: 0 })],
  ["storeTimeoutMs -5", C, config({ storeTimeoutMs: -5 })],
  ["storeTimeoutMs 1.5", C, config({ storeTimeoutMs: 1.5 })],
  ["storeTimeoutMs NaN", C, config({ storeTimeoutMs: NaN })],
  ["storeTimeoutMs Infinity", C, config({ storeTimeoutMs: Infinity })],
  ["storeTimeoutMs 2**31 (beyond setTimeout)", C, config({ storeTimeoutMs: 2 ** 31 })],
  ["storeTimeoutMs '100'", C, config({ storeTimeoutMs: "100" })],
  ["unknown option storeTimeout", C, config({ storeTimeout: 100 })],
  ["keyPrefix of 129 bytes", C, config({ keyPrefix: "k".repeat(129) })],
  ["enabled 1", C, config({ enabled: 1 })],
  ["now 'Date.now'", C, config({ now: "Date.now" })],
  ["stringIdKeys 'django'", C, config({ stringIdKeys: "django" })],
  ["stringIdKeys true", C, config({ stringIdKeys: true })],
  ["stringIdKeys 'RAW'", C, config({ stringIdKeys: "RAW" })],
  ["options with a throwing getter", C, (w) => new QuotaEngine({ store: w.store, get limits() { return throwing(); } })],
  ["options proxy whose ownKeys throws", C, (w) => new QuotaEngine(new Proxy({ store: w.store }, { ownKeys: throwing }))],
  ["store.get not a function", C, (w) => new QuotaEngine({ store: { ...w.store, get: 5 }, limits: { remix: 1 } })],
  ["store with a throwing getter", C, () => new QuotaEngine({ store: { get get() { return throwing(); } }, limits: { remix: 1 } })],
  ["limits { remix: -Infinity }", C, limitsOf({ remix: -Infinity })],
  ["limits { '': 1 }", C, limitsOf({ "": 1 })],
  ["limits with a bad name", C, limitsOf({ remix: 3, "bad name": 1 })],
  ["limits { remix: null }", C, limitsOf({ remix: null })],
  ["limits { remix: [] } (no policy)", C, limitsOf({ remix: [] })],
  ["limits with a throwing getter", C, limitsOf({ get remix() { return throwing(); } })],
  ["limits as a Map", C, limitsOf(new Map([["remix", 3]]))],
  ["setLimits(a Map)", C, (w) => w.engine.setLimits(new Map([["remix", 3]]))],
  // -- profiles -------------------------------------------------------------------------------
  ["check(null)", A, (w) => w.engine.check(null, "remix")],
  ["reserve({ id: NaN })", A, (w) => w.engine.reserve({ id: NaN }, "remix")],
  ["increment({ id: -Infinity })", A, (w) => w.engine.increment({ id: -Infinity }, "remix")],
  ["release({ id: 1.5 })", A, (w) => w.engine.release({ id: 1.5 }, "remix")],
  ["reserve({ id: -1 })", A, (w) => w.engine.reserve({ id: -1 }, "remix")],
  ["reserve({ id: 2**53 })", A, (w) => w.engine.reserve({ id: 2 ** 53 }, "remix")],
  ["reserve({ id: 1n })", A, (w) => w.engine.reserve({ id: 1n }, "remix")],
  ["reserve({ id: Symbol() })", A, (w) => w.engine.reserve({ id: Symbol("id") }, "remix")],
  ["reserve({ id: '' })", A, (w) => w.engine.reserve({ id: "" }, "remix")],
  ["reserve({ id: 257 chars })", A, (w) => w.engine.reserve({ id: "i".repeat(257) }, "remix")],
  ["reserve({ id: [1] })", A, (w) => w.engine.reserve({ id: [1] }, "remix")],
  ["reserve({ id: 1, unlimited: 1 })", A, (w) => w.engine.reserve({ id: 1, unlimited: 1 }, "remix")],
  ["reserve(profile with a throwing unlimited)", A, (w) => w.engine.reserve({ id: 1, get unlimited() { return throwing(); } }, "remix")],
  // -- string ids written raw: those that could share another profile's key ----------------------
  ["raw: reserve({ id: 'a:b' })", A, raw((e) => e.reserve({ id: "a:b" }, "remix"))],
  ["raw: reserve({ id: '1' }) (numeric id 1's key)", A, raw((e) => e.reserve({ id: "1" }, "remix"))],
  ["raw: increment({ id: '01' })", A, raw((e) => e.increment({ id: "01" }, "remix"))],
  ["raw: check({ id: '~1' })", A, raw((e) => e.check({ id: "~1" }, "remix"))],
  ["raw: release({ id: '1:tips' }, 'remix')", A, raw((e) => e.release({ id: "1:tips" }, "remix"))],
  ["raw: usage('2')", A, raw((e) => e.usage("2"))],
  ["raw: usage('x:')", A, raw((e) => e.usage("x:"))],
  ["raw: settle({ id: '1' }, token, 0)", A, raw((e, w) => e.settle({ id: "1" }, w.token, 0))],
  ["reserve(profile with a throwing id)", A, (w) => w.engine.reserve({ get id() { return throwing(); } }, "remix")],
  ["reserve(Object.create(null))", A, (w) => w.engine.reserve(Object.create(null), "remix")],
  ["reserve(a function)", A, (w) => w.engine.reserve(() => 1, "remix")],
  ["reserve(proxy whose get throws)", A, (w) => w.engine.reserve(new Proxy({}, { get: throwing }), "remix")],
  // -- features -------------------------------------------------------------------------------
  ["reserve '__proto__'", U, (w) => w.engine.reserve(P, "__proto__")],
  ["check 'toString'", U, (w) => w.engine.check(P, "toString")],
  ["increment 'constructor'", U, (w) => w.engine.increment(P, "constructor")],
  ["reserve 'hasOwnProperty'", U, (w) => w.engine.reserve(P, "hasOwnProperty")],
  ["reserve ''", U, (w) => w.engine.reserve(P, "")],
  ["reserve 65 chars", U, (w) => w.engine.reserve(P, "f".repeat(65))],
  ["reserve 'REMIX'", U, (w) => w.engine.reserve(P, "REMIX")],
  ["release 'nope'", U, (w) => w.engine.release(P, "nope")],
  ["reserve feature 5", A, (w) => w.engine.reserve(P, 5)],
  ["reserve feature null", A, (w) => w.engine.reserve(P, null)],
  ["reserve feature new String('remix')", A, (w) => w.engine.reserve(P, new String("remix"))],
  ["release(undefined) (an allowed-by-policy decision has no reservation)", A, (w) => w.engine.release(P, undefined)],
  // -- amounts and options --------------------------------------------------------------------
  ["reserve amount 0", A, (w) => w.engine.reserve(P, "remix", { amount: 0 })],
  ["check amount -1", A, (w) => w.engine.check(P, "remix", { amount: -1 })],
  ["increment amount 1.5", A, (w) => w.engine.increment(P, "remix", { amount: 1.5 })],
  ["reserve amount NaN", A, (w) => w.engine.reserve(P, "remix", { amount: NaN })],
  ["reserve amount Infinity", A, (w) => w.engine.reserve(P, "remix", { amount: Infinity })],
  ["reserve amount -Infinity", A, (w) => w.engine.reserve(P, "remix", { amount: -Infinity })],
  ["reserve amount 2**53", A, (w) => w.engine.reserve(P, "remix", { amount: 2 ** 53 })],
  ["reserve amount 1e300", A, (w) => w.engine.reserve(P, "remix", { amount: 1e300 })],
  ["reserve amount '2'", A, (w) => w.engine.reserve(P, "remix", { amount: "2" })],
  ["reserve amount true", A, (w) => w.engine.reserve(P, "remix", { amount: true })],
  ["reserve amount null", A, (w) => w.engine.reserve(P, "remix", { amount: null })],
  ["reserve options 'x'", A, (w) => w.engine.reserve(P, "remix", "x")],
  ["reserve options [2]", A, (w) => w.engine.reserve(P, "remix", [2])],
  ["reserve options with a throwing amount", A, (w) => w.engine.reserve(P, "remix", { get amount() { return throwing(); } })],
  ["reserve idempotencyKey 5", A, (w) => w.engine.reserve(P, "remix", { idempotencyKey: 5 })],
  ["release by feature, amount 0", A, (w) => w.engine.release(P, "remix", { amount: 0 })],
  ["release a reservation with another amount", A, (w) => w.engine.release(P, w.token, { amount: 2 })],
  // -- reservation tokens ---------------------------------------------------------------------
  ["release a token with a part too many", A, (w) => w.engine.release(P, w.token + ".1")],
  ["release a token with a negative time", A, (w) => w.engine.release(P, w.token.replace(/\.(\d+)\./, ".-$1."))],
  ["release a token with a bad feature", A, (w) => w.engine.release(P, w.token.replace("remix", "re mix"))],
  ["release a token with amount 0", A, (w) => w.engine.release(P, w.token.replace(/^(q4\.remix\.\d+)\.1\./, "$1.0."))],
  // A token renamed to another feature fails its MAC before the feature is looked up.
  ["release a token of an unknown feature", A, (w) => w.engine.release(P, w.token.replace("remix", "nope"))],
  ["release a token of the wrong version", A, (w) => w.engine.release(P, w.token.replace(/^q4/, "q9"))],
  ["release 'a.b'", A, (w) => w.engine.release(P, "a.b")],
  ["settle with actualAmount -1", A, (w) => w.engine.settle(P, w.token, -1)],
  ["settle with actualAmount 1.5", A, (w) => w.engine.settle(P, w.token, 1.5)],
  ["settle with actualAmount '1'", A, (w) => w.engine.settle(P, w.token, "1")],
  ["settle a feature name", A, (w) => w.engine.settle(P, "remix", 1)],
  // -- usage ----------------------------------------------------------------------------------
  ["usage(null)", A, (w) => w.engine.usage(null)],
  ["usage(-1)", A, (w) => w.engine.usage(-1)],
  ["usage(2**53)", A, (w) => w.engine.usage(2 ** 53)],
  ["usage('')", A, (w) => w.engine.usage("")],
  ["usage({ id: 1 })", A, (w) => w.engine.usage({ id: 1 })],
  ["usage(true)", A, (w) => w.engine.usage(true)],
  // -- setLimits (refused: the old limits stay) ------------------------------------------------
  ["setLimits(null)", C, (w) => w.engine.setLimits(null)],
  ["setLimits({ remix: -1 })", C, (w) => w.engine.setLimits({ remix: -1 })],
  ["setLimits({ remix: 1.5 })", C, (w) => w.engine.setLimits({ remix: 1.5 })],
  ["setLimits({ remix: '3' })", C, (w) => w.engine.setLimits({ remix: "3" })],
  ["setLimits({ 'a:b': 1 })", C, (w) => w.engine.setLimits({ "a:b": 1 })],
  ["setLimits([])", C, (w) => w.engine.setLimits([])],
  // -- what the store answers ------------------------------------------------------------------
  ...[["'3'", "3"], ["{}", {}], ["-1", -1], ["1.5", 1.5], ["NaN", NaN], ["Infinity", Infinity],
    ["2**60", 2 ** 60], ["true", true], ["[]", []]].map(([label, value]) =>
    [`store.get answers ${label}`, X, (w) => ((w.bad.get = () => value), w.engine.check(P, "remix")), true]),
  ["store.get resolves to '3'", X, (w) => ((w.bad.get = async () => "3"), w.engine.usage(1)), true],
  ["store.incr answers '2'", X, (w) => ((w.bad.incr = () => "2"), w.engine.reserve(P, "remix")), true],
  ["store.incr answers {}", X, (w) => ((w.bad.incr = () => ({})), w.engine.increment(P, "remix")), true],
  ["store.incr answers -Infinity", X, (w) => ((w.bad.incr = () => -Infinity), w.engine.reserve(P, "remix")), true],
  ["store.incr resolves to {}", X, (w) => ((w.bad.incr = async () => ({})), w.engine.reserve(P, "remix")), true],
  ["store.add answers 'yes'", S, (w) => ((w.bad.add = () => "yes"), w.engine.reserve({ id: 2 }, "remix")), true],
  ["store.add answers 1", S, (w) => ((w.bad.add = () => 1), w.engine.reserve({ id: 2 }, "remix")), true],
  ["store.add answers undefined", S, (w) => ((w.bad.add = () => undefined), w.engine.reserve({ id: 2 }, "remix")), true],
  ["store.add resolves to 'OK'", S, (w) => ((w.bad.add = async () => "OK"), w.engine.reserve({ id: 2 }, "remix")), true],
  ["store.get throws", S, (w) => ((w.bad.get = throwing), w.engine.check(P, "remix")), true],
  ["store.incr rejects", S, (w) => ((w.bad.incr = async () => throwing()), w.engine.reserve(P, "remix")), true],
  ["store.get answers a thenable whose then throws", S, (w) => ((w.bad.get = () => ({ get then() { return throwing(); } })), w.engine.check(P, "remix")), true],
];

test(`the bad-input matrix has at least 60 rows (${rows.length})`, () => {
  assert.ok(rows.length >= 60);
});

for (const [what, code, act, reachesStore = false] of rows) {
  test(`refused with ${code}: ${what}`, async () => {
    const w = world();
    const before = COUNTERS.map((k) => w.inner.get(k));
    await assert.rejects(
      async () => act(w),
      (e) => e instanceof QuotaError && e.code === code,
    );
    assert.deepEqual(COUNTERS.map((k) => w.inner.get(k)), before, "nothing counted");
    if (!reachesStore) assert.deepEqual(w.calls, [], "refused before any store call");
    // Still working, with the old limits: the held count of 1 plus this one.
    const d = await w.engine.reserve(P, "remix");
    assert.equal(d.allowed, true);
    assert.equal(d.used, 2);
    assert.equal(d.limit, 3);
    assert.deepEqual(await w.engine.usage(1), { remix: 2, tips: 0 });
  });
}
