// Every call shape over a host store — numeric, string and UUID ids, `amount`, policy objects,
// several policies, idempotency keys — takes one numeric entry (`QuotaCore.count`: JS reads the
// arguments and hands numbers and the id / key strings). Its decisions must be the general
// path's (`QuotaCore.start`, which reads the raw arguments in Rust): the same random calls go
// to two engines over two stores, one of them forced onto the general path, and every answer,
// error and counter is compared.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine } from "wasm-quota";
import { fakeClock, NOON, HOUR, mapStore, generator, comparable } from "./helpers.mjs";
import { QuotaCore } from "../../pkg/wasm_quota.js";

const LIMITS = {
  remix: 5,
  none: 0,
  plain: { limit: 9 },
  chat: [
    { limit: 2_000, window: "hour" },
    { limit: 5_000, window: "day" },
  ],
  paris: [{ limit: 7, window: "day", timeZone: "Europe/Paris", name: "paris-day" }],
  weekly: { limit: 20, window: "week", name: "w" },
  monthly: [{ limit: 30, window: "month" }, { limit: 12, window: "hour" }, { limit: 25, window: "day", timeZone: "America/New_York" }],
};
const FEATURES = [...Object.keys(LIMITS), "nope"];
const UUID = "3f2c9a1e-8b4d-4c6e-9f00-1a2b3c4d5e6f";
const PROFILES = [
  { id: 1 }, { id: 2 }, { id: 0 }, { id: 2 ** 53 - 1 }, { id: "1" }, { id: "a:b%" }, { id: UUID }, { id: "é🙂" },
  { id: 3, unlimited: true }, { id: "vip", unlimited: true }, { id: "u", unlimited: false },
  // refused, on either path
  { id: -1 }, { id: 1.5 }, { id: NaN }, { id: 2 ** 53 }, { id: "" }, { id: "x".repeat(257) }, { id: "bad\uD800" },
  { id: 4, unlimited: "yes" }, { id: null }, {},
];
const AMOUNTS = [undefined, 1, 1, 2, 3, 50, 700, 2_500, 0, -1, 1.5, "3", 2 ** 53, NaN];
const KEYS = [undefined, "r-1", "r-2", "r:3", "", "k".repeat(257), "lone\uDC00", 7];

async function outcome(fn) {
  try {
    return { value: comparable(await fn()) };
  } catch (err) {
    return { error: { name: err.name, code: err.code, message: err.message } };
  }
}

/** Runs `fn` with QuotaCore's numeric entry refused (a negative status: not taken), so that
 *  the engine takes `start`. */
const numericEntry = QuotaCore.prototype.count;
async function onGeneralPath(fn) {
  const entry = QuotaCore.prototype.count;
  QuotaCore.prototype.count = () => -1;
  try {
    return await fn();
  } finally {
    QuotaCore.prototype.count = entry;
  }
}

async function compare(seed, calls, storeOptions) {
  const rand = generator(seed);
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const now = fakeClock(NOON - 10 * HOUR);
  const [a, b] = [mapStore(now, storeOptions), mapStore(now, storeOptions)];
  const secret = "one secret for both engines";
  const [numeric, general] = [a, b].map(({ store }) => new QuotaEngine({ store, limits: LIMITS, now, tokenSecret: secret }));
  let taken = 0;
  QuotaCore.prototype.count = function (...args) {
    taken++;
    return numericEntry.apply(this, args);
  };
  try {
    for (let i = 0; i < calls; i++) {
      const r = rand();
      now.t += r < 0.02 ? Math.floor(rand() * 2 * 86_400_000) : r < 0.1 ? Math.floor(rand() * HOUR) : Math.floor(rand() * 2000);
      const profile = rand() < 0.85 ? pick(PROFILES.slice(0, 11)) : pick(PROFILES);
      const feature = pick(FEATURES);
      const kind = pick(["check", "reserve", "reserve", "increment"]);
      const options = {};
      if (rand() < 0.5) options.amount = rand() < 0.9 ? pick(AMOUNTS.slice(0, 8)) : pick(AMOUNTS);
      if (kind !== "check" && rand() < 0.3) options.idempotencyKey = rand() < 0.9 ? pick(KEYS.slice(0, 4)) : pick(KEYS);
      // Now and then some of them come from the object's prototype (Object.create(defaults)),
      // with or without a name no method takes.
      let given = options;
      if (rand() < 0.1) {
        const proto = rand() < 0.3 ? { extra: 1 } : {};
        for (const k of Object.keys(options)) if (rand() < 0.6) [proto[k], options[k]] = [options[k], undefined];
        given = Object.assign(Object.create(proto), Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)));
      }
      const args = [profile, feature, Object.keys(given).length === 0 && rand() < 0.5 ? undefined : given];
      const got = await outcome(() => numeric[kind](...args));
      const want = await onGeneralPath(() => outcome(() => general[kind](...args)));
      assert.deepEqual(got, want, `call ${i}: ${kind}(${JSON.stringify(args)}) at ${now.t}`);
    }
  } finally {
    QuotaCore.prototype.count = numericEntry;
  }
  // Counters are equal key for key; idempotency records hold each engine's own nonce.
  assert.deepEqual([...a.entries.keys()].sort(), [...b.entries.keys()].sort());
  for (const [k, e] of a.entries) if (!/:i[^:]*:/.test(k)) assert.deepEqual(e, b.entries.get(k), k);
  return taken;
}

test("every call shape's numeric entry decides exactly as the general path (sync store)", async () => {
  for (const seed of [1, 2, 3]) {
    const taken = await compare(seed, 3_000, {});
    assert.ok(taken > 2_000, `the numeric entry took only ${taken} of 3,000 calls`);
  }
});

test("… over a store with incrOrCreate (and incrOrCreateWithin), and over async stores", async () => {
  assert.ok((await compare(4, 2_000, { upsert: true })) > 1_300);
  assert.ok((await compare(7, 2_000, { within: true })) > 1_300);
  assert.ok((await compare(8, 1_000, { async: true, within: true })) > 600);
  assert.ok((await compare(5, 1_000, { async: true })) > 600);
  assert.ok((await compare(6, 1_000, { async: true, upsert: true })) > 600);
});

test("an amount or idempotencyKey the options object inherits counts as given, on both paths; other inherited names are left out", async () => {
  for (const general of [false, true]) {
    const { store, entries } = mapStore(fakeClock(NOON));
    const engine = new QuotaEngine({ store, limits: { chat: 1_000 }, now: fakeClock(NOON) });
    const call = async (kind, options) => {
      const run = () => outcome(() => engine[kind]({ id: 1 }, "chat", options));
      const { value, error } = await (general ? onGeneralPath(run) : run());
      if (error) throw new Error(`${kind}: ${error.message}`);
      return value;
    };
    // Before: the fast path counted the inherited 500, the general path 1.
    assert.equal((await call("reserve", Object.create({ amount: 500 }))).used, 500);
    assert.equal((await call("increment", Object.create({ amount: 20, extra: 1 }))).used, 520);
    assert.equal((await call("check", Object.create({ amount: 481 }))).allowed, false);
    assert.equal((await call("reserve", Object.defineProperty({}, "amount", { value: 30 }))).used, 550);
    class Options { get amount() { return 4; } }
    assert.equal((await call("reserve", new Options())).used, 554);
    // An inherited key is the reserve's key: its retry is replayed.
    const keyed = () => Object.assign(Object.create({ idempotencyKey: "r-1" }), { amount: 2 });
    assert.equal((await call("reserve", keyed())).used, 556);
    assert.equal((await call("reserve", keyed())).replayed, true);
    // Where no key is taken, an inherited one is a name left out, as any other.
    assert.equal((await call("increment", Object.create({ idempotencyKey: "r-2", amount: 1 }))).used, 557);
    assert.equal((await call("reserve", Object.assign(Object.create({ extra: 1 }), { amount: 3 }))).used, 560);
    assert.ok(entries.size > 0);
  }
});
