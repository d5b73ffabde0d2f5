// No count passes Number.MAX_SAFE_INTEGER (2^53 − 1): an increment or a settle that would take a
// counter past it is refused with INVALID_ARGUMENT before anything is written, and the counter
// stays usable; a reserve that would pass it is a plain denial: nothing written over a store
// with incrOrCreateWithin (the package's), else counted and rolled back. Over the
// package's MemoryStore (the direct path), a MemoryStore on its own clock (the state machines
// over the same counters), a user's own sync and async store (the four methods, or with
// incrOrCreateWithin too), and DurableObjectStore (which does its own arithmetic) over a fake
// SQLite storage.kv.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, MemoryStore } from "wasm-quota";
import { DurableObjectStore } from "../../pkg/stores/durable-object.js";
import { fakeClock, NOON, HOUR, delayedStore, mapStore } from "./helpers.mjs";

const MAX = Number.MAX_SAFE_INTEGER;
const tooLarge = (e) => e.code === "INVALID_ARGUMENT" && /past Number\.MAX_SAFE_INTEGER/.test(e.message);

function durableObjectStore(now) {
  const data = new Map();
  const kv = { get: (k) => data.get(k), put: (k, v) => void data.set(k, v), delete: (k) => data.delete(k), *list() {} };
  const storage = { kv, get: async (k) => data.get(k), getAlarm: async () => null, setAlarm: async () => {} };
  return new DurableObjectStore(storage, { now });
}

// `within`: the engine counts reserves with incrOrCreateWithin, which writes nothing over the
// limit, so a denial leaves the counter exactly where it was.
const stores = {
  "MemoryStore": [(now) => new MemoryStore({ now }), true],
  "MemoryStore on its own clock": [(now) => new MemoryStore({ now: () => now() }), true],
  "a user's sync store": [(now) => mapStore(now).store, false],
  "a user's sync store with incrOrCreateWithin": [(now) => mapStore(now, { within: true }).store, true],
  "a user's async store": [(now) => delayedStore(now), false],
  "DurableObjectStore": [durableObjectStore, true],
};

for (const [name, [makeStore, within]] of Object.entries(stores)) {
  test(`${name}: no count passes 2^53 − 1, and the counter stays usable`, async () => {
    const now = fakeClock(NOON);
    const engine = new QuotaEngine({
      store: makeStore(now),
      limits: { remix: 10, tips: 20, big: MAX, chat: [{ limit: 100, window: "hour" }, { limit: 1000 }] },
      now,
    });
    const me = { id: 42 };

    // increment near the top: up to exactly 2^53 − 1, never past it.
    await engine.increment(me, "remix", { amount: MAX - 5 });
    await assert.rejects(async () => engine.increment(me, "remix", { amount: 6 }), tooLarge);
    assert.equal((await engine.usage(42)).remix, MAX - 5, "nothing was written");
    assert.equal((await engine.increment(me, "remix", { amount: 5 })).used, MAX);
    await assert.rejects(async () => engine.increment(me, "remix"), tooLarge);
    // The counter is usable: check, reserve (denied) and usage. Past 2^53 JS numbers are 2
    // apart, so the denial's `used` may be one off, and a rollback from there may land one
    // off — never above 2^53 − 1. Counting within the limit there is nothing to roll back.
    assert.equal((await engine.check(me, "remix")).used, MAX);
    for (const amount of [1, 2, 4, 10, MAX]) {
      const d = await engine.reserve(me, "remix", { amount });
      assert.equal(d.allowed, false, `reserve ${amount}`);
      assert.ok(d.used === MAX || d.used === MAX - 1, `reserve ${amount}: used ${d.used}`);
      const after = (await engine.usage(42)).remix;
      if (within) assert.equal(after, MAX, `after reserve ${amount}: nothing written`);
      else assert.ok(after === MAX || after === MAX - 1, `after reserve ${amount}: ${after}`);
    }
    assert.equal((await engine.release(me, "remix", { amount: MAX })), undefined);
    assert.equal((await engine.reserve(me, "remix")).used, 1, "a release brings it back into use");

    // Every policy is checked before any is written: an hour later the hour's counter is new
    // and 11 would fit it, but not the day's; the hour's counter (usage's) stays untouched.
    await engine.increment(me, "chat", { amount: MAX - 10 });
    now.t += HOUR;
    await assert.rejects(async () => engine.increment(me, "chat", { amount: 11 }), tooLarge);
    assert.equal((await engine.usage(42)).chat, 0);
    assert.equal((await engine.check(me, "chat", { amount: 10 })).allowed, false, "the day is full");

    // settle with a huge actual amount: refused before its marker, so the reservation can still
    // be settled with the real figure.
    await engine.increment(me, "tips", { amount: 10 });
    const r = (await engine.reserve(me, "tips")).reservation;
    await assert.rejects(async () => engine.settle(me, r, MAX), tooLarge);
    assert.equal((await engine.usage(42)).tips, 11);
    assert.equal(await engine.settle(me, r, 3), true);
    assert.equal((await engine.usage(42)).tips, 13);
    // Up to exactly 2^53 − 1 is counted (a charge the next reserve sees), and the counter works.
    const other = { id: 8 };
    const r2 = (await engine.reserve(other, "tips")).reservation;
    assert.equal(await engine.settle(other, r2, MAX), true);
    assert.equal((await engine.usage(8)).tips, MAX);
    assert.deepEqual([(await engine.reserve(other, "tips")).allowed, (await engine.usage(8)).tips], [false, MAX]);

    // A limit of 2^53 − 1: one reserve takes it all; the next is a denial, not a corrupt counter.
    const all = await engine.reserve(me, "big", { amount: MAX });
    assert.deepEqual([all.allowed, all.used, all.remaining], [true, MAX, 0]);
    for (const amount of [1, 3, MAX]) {
      const d = await engine.reserve(me, "big", { amount });
      assert.deepEqual([d.allowed, d.used, typeof d.retryAfter], [false, MAX, "number"], `big ${amount}`);
      assert.equal((await engine.check(me, "big", { amount })).allowed, false);
    }
    await assert.rejects(async () => engine.increment(me, "big"), tooLarge);
    assert.equal((await engine.usage(42)).big, MAX);
    await engine.release(me, all.reservation);
    assert.equal((await engine.reserve(me, "big", { amount: MAX })).allowed, true);
  });
}

// A store may hold a count above 2^53 − 1 (written by something else, or JS numbers past it):
// that counter is corrupt, CORRUPT_COUNTER, not an amount too large (INVALID_ARGUMENT says
// "use a smaller amount", and no smaller amount would ever be counted on it).
for (const [name, [makeStore]] of Object.entries(stores)) {
  if (name === "DurableObjectStore") continue; // set writes a counter; its counts are its own sums
  test(`${name}: a counter holding more than 2^53 − 1 is CORRUPT_COUNTER for increment and settle`, async () => {
    const now = fakeClock(NOON);
    const store = makeStore(now);
    const engine = new QuotaEngine({ store, limits: { remix: 10 }, now, tokenSecret: "a secret of sixteen+" });
    const me = { id: 42 };
    const r = (await engine.reserve(me, "remix")).reservation;
    const key = "ai_quota:42:remix:2026-11-27";
    await store.set(key, 2 ** 53, 3600);
    await assert.rejects(async () => engine.increment(me, "remix"), { code: "CORRUPT_COUNTER" });
    await assert.rejects(async () => engine.settle(me, r, 5), { code: "CORRUPT_COUNTER" });
    assert.equal(await store.get(key), 2 ** 53, "nothing was written");
  });
}
