// Configuration (constructor options, limits, policies, method options) is read with serde:
// every name is checked, an error says where it is (`limits.chat[1]: missing field `limit``)
// with the names that are known, a getter that throws is reported with what it threw, and a
// string with a lone surrogate is refused, never read lossily.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, MemoryStore, QuotaError } from "wasm-quota";

const refused = (code, pattern) => (e) => e instanceof QuotaError && e.code === code && pattern.test(e.message);
const config = (pattern) => refused("INVALID_CONFIG", pattern);
const argument = (pattern) => refused("INVALID_ARGUMENT", pattern);
const now = () => Date.UTC(2026, 10, 27, 12);

test("a misspelt option or policy field is refused by name, with the names that are known", () => {
  const store = new MemoryStore({ now });
  assert.throws(
    () => new QuotaEngine({ store, limits: { remix: 1 }, enabeld: false }),
    config(/^options: unknown option `enabeld`, expected one of `store`, `limits`, `now`, `enabled`, `keyPrefix`/),
  );
  const engine = new QuotaEngine({ store, limits: { remix: 1 }, now });
  assert.throws(
    () => engine.setLimits({ remix: { limit: 1, windw: "hour" } }),
    config(/^limits\.remix: unknown field `windw`, expected one of `limit`, `window`, `timeZone`, `name`$/),
  );
  assert.throws(
    () => engine.reserve({ id: 1 }, "remix", { amonut: 2 }),
    argument(/^options: unknown option `amonut`, expected `amount` or `idempotencyKey`$/),
  );
  assert.throws(
    () => engine.increment({ id: 1 }, "remix", { idempotencyKey: "k" }),
    argument(/^options: unknown option `idempotencyKey`, expected `amount`$/),
  );
  assert.equal(engine.usage(1).remix, 0, "nothing counted");
});

test("an error says where it is and what was given", () => {
  const store = new MemoryStore({ now });
  const engine = new QuotaEngine({ store, limits: { remix: 1 }, now });
  const cases = [
    [{ chat: [{ limit: 5, window: "hour" }, { window: "day" }] }, /^limits\.chat\[1\]: missing field `limit`$/],
    [{ chat: [{ limit: 5 }, 7] }, /^limits\.chat\[1\]: invalid type: number 7, expected an object$/],
    [{ chat: { limit: 5, window: "fortnight" } }, /^limits\.chat\.window: unknown variant `fortnight`, expected one of `hour`, `day`, `week`, `month`$/],
    [{ chat: [{ limit: 5, window: 3 }] }, /^limits\.chat\[0\]\.window: invalid type: number 3, expected "hour", "day", "week" or "month"$/],
    [{ chat: { limit: 1.5 } }, /^limits\.chat\.limit: must be an integer from 0 to Number\.MAX_SAFE_INTEGER, got 1\.5$/],
    [{ chat: -1 }, /^limits\.chat: must be an integer from 0 to Number\.MAX_SAFE_INTEGER, got -1$/],
    [{ chat: 1e300 }, /^limits\.chat: must be an integer from 0 to Number\.MAX_SAFE_INTEGER, got 1e\+300$/],
    [{ chat: "5" }, /^limits\.chat: invalid type: string "5", expected a limit/],
    [{ chat: [] }, /^limits\.chat: an empty array; a feature needs at least one policy$/],
    [{ chat: { limit: "5" } }, /^limits\.chat\.limit: invalid type: string "5", expected an integer from 0/],
    [[5], /^limits: invalid type: array, expected an object$/],
  ];
  for (const [limits, pattern] of cases) assert.throws(() => engine.setLimits(limits), config(pattern), JSON.stringify(limits));
  assert.throws(() => new QuotaEngine({ store, limits: { remix: 1 }, storeTimeoutMs: 1.5 }), config(/^options\.storeTimeoutMs: must be an integer from 1 to 2147483647, got 1\.5$/));
  assert.throws(() => new QuotaEngine({ store, limits: { remix: 1 }, onStoreError: "ignore" }), config(/^options\.onStoreError: unknown variant `ignore`, expected one of `throw`, `deny`, `allow`$/));
  assert.throws(() => new QuotaEngine({ store, limits: { remix: 1 }, enabled: "yes" }), config(/^options\.enabled: invalid type: string "yes", expected a boolean$/));
  assert.throws(() => new QuotaEngine({ store }), config(/^options: missing field `limits`$/));
  assert.throws(() => new QuotaEngine(), config(/^options: invalid type: null, expected an object$/));
  assert.throws(() => engine.reserve({ id: 1 }, "remix", { amount: 0 }), argument(/^options\.amount: must be an integer from 1 to Number\.MAX_SAFE_INTEGER, got 0$/));
  assert.throws(() => engine.reserve({ id: 1 }, "remix", { amount: NaN }), argument(/^options\.amount: must be an integer from 1 to Number\.MAX_SAFE_INTEGER, got NaN$/));
  assert.throws(() => engine.reserve({ id: 1 }, "remix", { idempotencyKey: 5 }), argument(/^options\.idempotencyKey: invalid type: number 5, expected a string$/));
  assert.equal(engine.setLimits({ chat: [{ limit: 5, window: "hour" }, { limit: 9 }] }), undefined);
});

test("a field left out or undefined takes its default; null is a value and is refused", () => {
  const store = new MemoryStore({ now });
  const engine = new QuotaEngine({ store, limits: { remix: { limit: 2, window: undefined } }, now, enabled: undefined });
  assert.equal(engine.reserve({ id: 1 }, "remix", { amount: undefined }).window, "day");
  assert.throws(() => engine.setLimits({ remix: { limit: 2, window: null } }), config(/^limits\.remix\.window: invalid type: null, expected/));
  assert.throws(() => new QuotaEngine({ store, limits: { remix: 1 }, enabled: null }), config(/^options\.enabled: invalid type: null, expected a boolean$/));
  assert.throws(() => engine.reserve({ id: 1 }, "remix", { amount: null }), argument(/^options\.amount: invalid type: null, expected/));
});

test("a getter that throws while options are read is reported with what it threw; no getter runs twice", () => {
  const store = new MemoryStore({ now });
  const boom = new Error("boom");
  const policy = { limit: 1, get window() { throw boom; } };
  assert.throws(() => new QuotaEngine({ store, limits: { remix: policy } }), (e) => config(/^limits could not be read$/)(e) && e.cause === boom);
  const options = { store, limits: { remix: 1 }, get keyPrefix() { throw boom; } };
  assert.throws(() => new QuotaEngine(options), (e) => config(/^options could not be read$/)(e) && e.cause === boom);
  const engine = new QuotaEngine({ store, limits: { remix: 5 }, now });
  assert.throws(() => engine.reserve({ id: 1 }, "remix", { get amount() { throw boom; } }), (e) => argument(/^options could not be read$/)(e) && e.cause === boom);
  // A getter answering differently on each read cannot pass one value to the check and
  // another to the count: each is read once.
  let reads = 0;
  const shifty = { get amount() { reads += 1; return reads === 1 ? 1 : 1000; } };
  assert.equal(engine.reserve({ id: 1 }, "remix", shifty).used, 1);
  assert.equal(reads, 1);
  // Also beside a name the options inherit (left out, so the call is read in Rust), and for
  // an inherited getter: before, the first was read twice and the second three times.
  reads = 0;
  const beside = Object.defineProperty(Object.create({ extra: 1 }), "amount", { get() { reads += 1; return reads === 1 ? 1 : 1000; }, enumerable: true });
  assert.equal(engine.reserve({ id: 2 }, "remix", beside).used, 1);
  assert.equal(reads, 1);
  reads = 0;
  const inherited = Object.create(Object.defineProperty({ extra: 1 }, "amount", { get() { reads += 1; return reads === 1 ? 1 : 1000; }, enumerable: true }));
  assert.equal(engine.reserve({ id: 3 }, "remix", inherited).used, 1);
  assert.equal(reads, 1);
  // An option a method does not take is not read at all: idempotencyKey for check and increment.
  reads = 0;
  class Keyed { get idempotencyKey() { reads += 1; return "k"; } }
  engine.check({ id: 4 }, "remix", new Keyed());
  engine.increment({ id: 4 }, "remix", new Keyed());
  assert.equal(reads, 0);
  let limitReads = 0;
  const limits = { get remix() { limitReads += 1; return limitReads === 1 ? 1 : 1000; } };
  const counted = new QuotaEngine({ store, limits, now, keyPrefix: "shifty" });
  assert.equal(limitReads, 1);
  assert.equal(counted.reserve({ id: 1 }, "remix").limit, 1);
});

test("a lone surrogate in a string option is refused, naming where", () => {
  const store = new MemoryStore({ now });
  assert.throws(() => new QuotaEngine({ store, limits: { remix: 1 }, keyPrefix: "a\uD800" }), config(/^options\.keyPrefix: not well-formed UTF-16 \(a lone surrogate\)$/));
  assert.throws(() => new QuotaEngine({ store, limits: { remix: 1 }, tokenSecret: "0123456789abcdef\uDFFF" }), config(/^options\.tokenSecret: not well-formed/));
  const engine = new QuotaEngine({ store, limits: { remix: 1 }, now });
  assert.throws(() => engine.setLimits({ remix: [{ limit: 1, name: "x\uD800" }] }), config(/^limits\.remix\[0\]\.name: not well-formed/));
  assert.throws(() => engine.reserve({ id: 1 }, "remix", { idempotencyKey: "k\uD800" }), argument(/^options\.idempotencyKey: not well-formed/));
  assert.equal(engine.usage(1).remix, 0);
});
