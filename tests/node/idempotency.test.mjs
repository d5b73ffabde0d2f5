// reserve(profile, feature, { idempotencyKey }): a retry is replayed — counted once, holding no
// reservation of its own — across engines sharing a store; a denial is not recorded; every
// admission gets its own token.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, QuotaError, MemoryStore } from "wasm-quota";
import { fakeClock, delayedStore, mapStore, NOON, HOUR } from "./helpers.mjs";

const me = { id: 42 };
const SECRET = "idempotency-test-secret";
function setup(limits = { chat: 3 }) {
  const now = fakeClock(NOON);
  const store = new MemoryStore({ now });
  return { now, store, engine: new QuotaEngine({ store, limits, now, tokenSecret: SECRET }) };
}

test("a retry with the same key is replayed without a reservation and counts once", () => {
  const { engine, now } = setup();
  const first = engine.reserve(me, "chat", { idempotencyKey: "req-1" });
  assert.equal(first.allowed, true);
  assert.equal(first.replayed, undefined);
  now.t += 5_000;
  const retry = engine.reserve(me, "chat", { idempotencyKey: "req-1" });
  const { reservation, ...rest } = first;
  assert.ok(reservation);
  assert.deepEqual(retry, { ...rest, replayed: true });
  assert.equal(engine.check(me, "chat").used, 1);
  assert.equal(engine.reserve(me, "chat", { idempotencyKey: "req-2" }).used, 2);
});

test("ten rounds of 'success, then a failing retry' keep ten counts: a retry cannot release the original", () => {
  // The caller pattern that lost counts: release whatever the decision holds when the work fails.
  const { engine } = setup({ chat: 100 });
  for (let round = 0; round < 10; round++) {
    const key = `job-${round}`;
    assert.equal(engine.reserve(me, "chat", { idempotencyKey: key }).allowed, true); // succeeded
    const retry = engine.reserve(me, "chat", { idempotencyKey: key });
    assert.equal(retry.replayed, true);
    // The retry's work failed: it holds nothing to release, and settling nothing is refused.
    assert.equal(retry.reservation, undefined);
    assert.throws(() => engine.release(me, retry.reservation), (e) => e.code === "INVALID_ARGUMENT");
  }
  assert.equal(engine.check(me, "chat").used, 10);
});

test("engines sharing a store and a tokenSecret replay each other's admissions; the token settles once", () => {
  const { engine, store, now } = setup();
  const other = new QuotaEngine({ store, limits: { chat: 3 }, now, tokenSecret: SECRET });
  const first = engine.reserve(me, "chat", { amount: 2, idempotencyKey: "k" });
  const retry = other.reserve(me, "chat", { amount: 2, idempotencyKey: "k" });
  assert.equal(retry.replayed, true);
  assert.equal(retry.reservation, undefined);
  assert.equal(other.settle(me, first.reservation, 1), true);
  assert.equal(engine.settle(me, first.reservation, 1), false);
  assert.equal(engine.check(me, "chat").used, 1);
});

test("a denial is not recorded: nothing is written, and a retry after a slot frees up is asked again", () => {
  const { engine, store, now } = setup({ chat: 1 });
  const held = engine.reserve(me, "chat");
  const keysBefore = store.size;
  const denied = engine.reserve(me, "chat", { idempotencyKey: "late" });
  assert.equal(denied.allowed, false);
  assert.equal(store.size, keysBefore);
  engine.release(me, held.reservation);
  const retry = engine.reserve(me, "chat", { idempotencyKey: "late" });
  assert.equal(retry.allowed, true);
  assert.equal(retry.replayed, undefined);
  now.t += 12 * HOUR; // the next UTC day: the same key is another request
  assert.equal(engine.reserve(me, "chat", { idempotencyKey: "late" }).replayed, undefined);
});

test("3,000 denied requests with fresh keys write nothing", () => {
  const { engine, store } = setup({ chat: 0 });
  for (let i = 0; i < 3000; i++) assert.equal(engine.reserve(me, "chat", { idempotencyKey: `k${i}` }).allowed, false);
  assert.equal(store.size, 0);
});

test("concurrent retries of one request over an async store count once; one of them holds the token", async () => {
  const now = fakeClock(NOON);
  const store = delayedStore(now);
  const engines = [0, 1, 2].map(() => new QuotaEngine({ store, limits: { chat: 100 }, now, tokenSecret: SECRET }));
  const ds = await Promise.all(
    Array.from({ length: 30 }, (_, i) => engines[i % 3].reserve(me, "chat", { amount: 3, idempotencyKey: "once" })),
  );
  assert.ok(ds.every((d) => d.allowed));
  assert.equal(ds.filter((d) => d.reservation !== undefined).length, 1);
  assert.equal(ds.filter((d) => !d.replayed).length, 1);
  assert.equal((await engines[0].check(me, "chat")).used, 3);
});

test("bad idempotency keys are INVALID_ARGUMENT and count nothing", () => {
  const { engine } = setup();
  for (const idempotencyKey of ["", "x".repeat(257), 7, null]) {
    assert.throws(() => engine.reserve(me, "chat", { idempotencyKey }), (e) => e instanceof QuotaError && e.code === "INVALID_ARGUMENT");
  }
  assert.equal(engine.check(me, "chat").used, 0);
});

// Home mode and an unlimited profile answer without the store, and answered before the key was
// read: a 300-character key passed there and was INVALID_ARGUMENT only once quotas applied.
test("a key the engine refuses is refused in home mode and for an unlimited profile too, as an unknown feature is", () => {
  const now = fakeClock(NOON);
  for (const store of [new MemoryStore({ now }), mapStore(now).store, mapStore(now, { upsert: true, async: true }).store]) {
    const home = new QuotaEngine({ store, limits: { chat: 3 }, now, enabled: false });
    const quotas = new QuotaEngine({ store, limits: { chat: 3 }, now });
    for (const idempotencyKey of ["", "x".repeat(257)]) {
      for (const [engine, profile] of [[home, me], [quotas, { id: 42, unlimited: true }], [quotas, me]]) {
        assert.throws(() => engine.reserve(profile, "chat", { idempotencyKey }), {
          name: "QuotaError",
          code: "INVALID_ARGUMENT",
          message: /^idempotencyKey must be 1 to 256 characters, got (0|257)$/,
        });
      }
    }
    // Keys of 1 and 256 characters are taken there as before.
    for (const idempotencyKey of ["k", "x".repeat(256)]) {
      assert.deepEqual(home.reserve(me, "chat", { idempotencyKey }), { allowed: true, unlimited: true, feature: "chat" });
    }
  }
});

// What README's Idempotency says of them: nothing is counted, so nothing is recorded, and a
// retry through another engine is admitted as the first was. Work that must run once for them
// needs a record of its own (handle()'s table in one process, the example worker's records).
test("home mode and an unlimited profile record nothing: a retry is admitted again, never replayed", () => {
  const now = fakeClock(NOON);
  const store = new MemoryStore({ now });
  const engines = () => [0, 1].map(() => new QuotaEngine({ store, limits: { chat: 3 }, now, tokenSecret: SECRET }));
  const [a, b] = engines();
  const unlimited = { id: 42, unlimited: true };
  const [homeA, homeB] = [0, 1].map(() => new QuotaEngine({ store, limits: { chat: 3 }, now, enabled: false }));
  for (const [first, retry, profile] of [[a, b, unlimited], [homeA, homeB, me]]) {
    for (const engine of [first, retry, first]) {
      assert.deepEqual(engine.reserve(profile, "chat", { idempotencyKey: "req-1" }), { allowed: true, unlimited: true, feature: "chat" });
    }
  }
  assert.equal(store.size, 0);
  // Once the profile is limited, the key is a new request: admitted with a reservation, then replayed.
  assert.ok(a.reserve(me, "chat", { idempotencyKey: "req-1" }).reservation);
  assert.equal(b.reserve(me, "chat", { idempotencyKey: "req-1" }).replayed, true);
});

test("a retry after the reservation was released (the call failed) reserves again; after a settle it replays", () => {
  const { engine, now } = setup({ chat: 5 });
  const first = engine.reserve(me, "chat", { amount: 2, idempotencyKey: "job" });
  engine.release(me, first.reservation);
  now.t += 1000;
  const retry = engine.reserve(me, "chat", { amount: 2, idempotencyKey: "job" });
  assert.equal(retry.allowed, true);
  assert.equal(retry.replayed, undefined);
  assert.notEqual(retry.reservation, first.reservation);
  assert.equal(engine.check(me, "chat").used, 2);
  assert.equal(engine.settle(me, retry.reservation, 1), true);
  now.t += 1000;
  const again = engine.reserve(me, "chat", { amount: 2, idempotencyKey: "job" });
  assert.deepEqual([again.replayed, again.reservation], [true, undefined]);
  assert.equal(engine.check(me, "chat").used, 1);
});

test("in one millisecond, reserve → release → reserve with one key gets a new token each round and leaves 0", () => {
  const { engine } = setup({ chat: 100 }); // the fake clock stands still
  const tokens = new Set();
  const counts = [];
  for (let round = 0; round < 5; round++) {
    const d = engine.reserve(me, "chat", { idempotencyKey: "same" });
    assert.equal(d.replayed, undefined);
    tokens.add(d.reservation);
    engine.release(me, d.reservation);
    counts.push(engine.check(me, "chat").used);
  }
  assert.equal(tokens.size, 5);
  assert.deepEqual(counts, [0, 0, 0, 0, 0]);
});

test("two racing retries after a release over an async store each release their own count", async () => {
  const now = fakeClock(NOON);
  const store = delayedStore(now);
  const engine = new QuotaEngine({ store, limits: { chat: 100 }, now, tokenSecret: SECRET });
  const first = await engine.reserve(me, "chat", { idempotencyKey: "race" });
  await engine.release(me, first.reservation);
  const racing = await Promise.all([0, 1].map(() => engine.reserve(me, "chat", { idempotencyKey: "race" })));
  for (const d of racing) if (d.reservation !== undefined) await engine.release(me, d.reservation);
  assert.equal((await engine.check(me, "chat")).used, 0);
});

test("retries racing after a release, through three engines over an async store: one runs, the others replay it", async () => {
  // A retrying proxy sends the failed request five times at once: the work may run once.
  const now = fakeClock(NOON);
  const store = delayedStore(now, 10);
  const engines = [0, 1, 2].map(() => new QuotaEngine({ store, limits: { chat: 100 }, now, tokenSecret: SECRET }));
  const first = await engines[0].reserve(me, "chat", { amount: 2, idempotencyKey: "hedged" });
  await engines[0].release(me, first.reservation);
  for (let round = 0; round < 5; round++) {
    const ds = await Promise.all(
      Array.from({ length: 5 }, (_, i) => engines[i % 3].reserve(me, "chat", { amount: 2, idempotencyKey: "hedged" })),
    );
    const run = ds.filter((d) => d.reservation !== undefined);
    assert.equal(run.length, 1, `round ${round}: ${run.length} retries would run the work`);
    assert.ok(ds.every((d) => d.allowed && (d.replayed === true) === (d.reservation === undefined)));
    assert.equal((await engines[1].check(me, "chat")).used, 2);
    await engines[round % 3].release(me, run[0].reservation); // it failed too: the next round retries
  }
  assert.equal((await engines[2].check(me, "chat")).used, 0);
});

test("a retry that finds the attempt it lost to released, and reserves again, holds a reservation", async () => {
  // Two retries race after a release: `late` counts and waits to record while `b` records
  // first; b's work fails and is released; `late` then undoes its count, finds b released and
  // reserves again in the same call. It was admitted with no reservation (and recorded nonce
  // 0): its work could not be released, nor settled for what it really used.
  const now = fakeClock(NOON);
  const { store: inner, entries } = mapStore(now, { within: true });
  let hold = null; // the next add of a record after a release waits for it, once
  const store = Object.fromEntries(
    Object.entries(inner).map(([m, f]) => [
      m,
      async (...args) => {
        if (m === "add" && hold !== null && /:race:[0-9a-f]{16}$/.test(args[0])) {
          const held = hold;
          hold = null;
          await held;
        }
        return f(...args);
      },
    ]),
  );
  const engine = new QuotaEngine({ store, limits: { chat: 5 }, now, tokenSecret: SECRET });
  const first = await engine.reserve(me, "chat", { idempotencyKey: "race" });
  await engine.release(me, first.reservation);
  let open;
  hold = new Promise((resolve) => (open = resolve));
  const late = engine.reserve(me, "chat", { idempotencyKey: "race" });
  while (hold !== null) await new Promise((r) => setImmediate(r)); // late has counted and waits
  assert.equal(entries.get("ai_quota:42:chat:2026-11-27").value, 1);
  const b = await engine.reserve(me, "chat", { idempotencyKey: "race" });
  assert.ok(b.allowed && b.reservation !== undefined && !b.replayed);
  await engine.release(me, b.reservation);
  open();
  const d = await late;
  assert.ok(d.allowed && !d.replayed, JSON.stringify(d));
  assert.equal(typeof d.reservation, "string", `admitted without a reservation: ${JSON.stringify(d)}`);
  assert.equal(await engine.settle(me, d.reservation, 4), true); // what the work really used
  assert.equal((await engine.check(me, "chat")).used, 4);
});

test("a key is its profile's and feature's own: another profile, or another feature, sending the same key is another request", () => {
  const { engine } = setup({ chat: 3, remix: 3 });
  const mine = engine.reserve(me, "chat", { idempotencyKey: "shared" });
  for (const [profile, feature] of [[{ id: 43 }, "chat"], [{ id: "42" }, "chat"], [me, "remix"]]) {
    const d = engine.reserve(profile, feature, { idempotencyKey: "shared" });
    assert.equal(d.replayed, undefined, `${JSON.stringify(profile)} ${feature}`);
    assert.ok(d.reservation !== undefined && d.reservation !== mine.reservation);
    assert.equal(engine.check(profile, feature).used, 1);
  }
  assert.equal(engine.reserve(me, "chat", { idempotencyKey: "shared" }).replayed, true);
  assert.equal(engine.check(me, "chat").used, 1);
});

test("a retry sent while the first still awaits its store replays it, not a denial, also for the last slot", async () => {
  // A retrying proxy sends the request again before the first attempt recorded. Over one
  // connection (answers in the order asked) the retry counts past the limit, rolls back, and
  // reads the record once more: the first's, which it replays (it was denied before).
  const now = fakeClock(NOON);
  const inner = new MemoryStore({ now });
  const inOrder = (f) => (...args) => new Promise((resolve) => setTimeout(() => resolve(f(...args)), 1));
  const store = Object.fromEntries(["get", "incr", "add", "set"].map((m) => [m, inOrder((...a) => inner[m](...a))]));
  const engine = new QuotaEngine({ store, limits: { chat: 1 }, now, tokenSecret: SECRET });
  const ds = await Promise.all([0, 1].map(() => engine.reserve(me, "chat", { idempotencyKey: "last" })));
  assert.deepEqual(ds.map((d) => [d.allowed, d.replayed === true, d.reservation !== undefined]), [[true, false, true], [true, true, false]]);
  assert.equal((await engine.check(me, "chat")).used, 1);
  const other = await engine.reserve(me, "chat", { idempotencyKey: "another" });
  assert.deepEqual([other.allowed, other.replayed], [false, undefined], "another request is still denied");
});

test("a fault while a denial reads the record again leaves it a denial, under onStoreError 'allow' too", () => {
  const now = fakeClock(NOON);
  const { store } = mapStore(now, { upsert: true });
  const get = store.get;
  const engine = new QuotaEngine({ store, limits: { chat: 1 }, now, onStoreError: "allow" });
  assert.equal(engine.reserve(me, "chat").allowed, true);
  let lookups = 0;
  store.get = (key) => {
    if (key.includes(":i") && ++lookups === 2) throw new Error("store down"); // the second read
    return get(key);
  };
  const d = engine.reserve(me, "chat", { idempotencyKey: "k" });
  assert.equal(lookups, 2, "a denial reads the record again");
  assert.deepEqual([d.allowed, d.degraded, d.used], [false, undefined, 1]);
  assert.equal(engine.check(me, "chat").used, 1);
});

test("while the store is down, onStoreError decides each retry afresh: 'allow' admits every one (nothing can be recorded), 'deny' none", () => {
  for (const [onStoreError, allowed] of [["allow", true], ["deny", false]]) {
    const now = fakeClock(NOON);
    const { store } = mapStore(now, { within: true });
    const engine = new QuotaEngine({ store, limits: { chat: 5 }, now, onStoreError });
    const up = { ...store };
    for (const m of Object.keys(store)) store[m] = () => {
      throw new Error("store down");
    };
    const retries = [1, 2, 3].map(() => engine.reserve(me, "chat", { idempotencyKey: "k" }));
    assert.deepEqual(retries.map((d) => [d.allowed, d.degraded, d.replayed, d.reservation]), Array(3).fill([allowed, "store-error", undefined, undefined]), onStoreError);
    Object.assign(store, up);
    // Back up: nothing was recorded, so the next retry is a new request.
    const d = engine.reserve(me, "chat", { idempotencyKey: "k" });
    assert.deepEqual([d.allowed, d.replayed === true, d.used], [true, false, 1], onStoreError);
  }
});
