// reserve(profile, feature, { idempotencyKey }): a retry gets the original decision and is
// counted once, across engines sharing a store.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, QuotaError, MemoryStore } from "wasm-quota";
import { fakeClock, delayedStore, NOON, HOUR } from "./helpers.mjs";

const me = { id: 42 };
function setup(limits = { chat: 3 }) {
  const now = fakeClock(NOON);
  const store = new MemoryStore({ now });
  return { now, store, engine: new QuotaEngine({ store, limits, now }) };
}

test("a retry with the same key gets the original decision, replayed, and counts once", () => {
  const { engine, now } = setup();
  const first = engine.reserve(me, "chat", { idempotencyKey: "req-1" });
  assert.equal(first.allowed, true);
  assert.equal(first.replayed, undefined);
  now.t += 5_000;
  const retry = engine.reserve(me, "chat", { idempotencyKey: "req-1" });
  assert.deepEqual(retry, { ...first, replayed: true });
  assert.equal(engine.check(me, "chat").used, 1);
  assert.equal(engine.reserve(me, "chat", { idempotencyKey: "req-2" }).used, 2);
});

test("engines sharing a store replay each other's decisions; the token settles once", () => {
  const { engine, store, now } = setup();
  const other = new QuotaEngine({ store, limits: { chat: 3 }, now });
  const first = engine.reserve(me, "chat", { amount: 2, idempotencyKey: "k" });
  const retry = other.reserve(me, "chat", { amount: 2, idempotencyKey: "k" });
  assert.equal(retry.replayed, true);
  assert.equal(retry.reservation, first.reservation);
  assert.equal(other.settle(me, retry.reservation, 1), true);
  assert.equal(engine.settle(me, first.reservation, 1), false);
  assert.equal(engine.check(me, "chat").used, 1);
});

test("a denial is replayed as a denial within the window; a new window counts anew", () => {
  const { engine, now } = setup({ chat: 1 });
  const held = engine.reserve(me, "chat");
  const denied = engine.reserve(me, "chat", { idempotencyKey: "late" });
  assert.equal(denied.allowed, false);
  engine.release(me, held.reservation);
  const retry = engine.reserve(me, "chat", { idempotencyKey: "late" });
  assert.equal(retry.allowed, false);
  assert.equal(retry.replayed, true);
  now.t += 12 * HOUR; // the next UTC day
  const tomorrow = engine.reserve(me, "chat", { idempotencyKey: "late" });
  assert.equal(tomorrow.allowed, true);
  assert.equal(tomorrow.replayed, undefined);
});

test("concurrent retries of one request over an async store count once", async () => {
  const now = fakeClock(NOON);
  const store = delayedStore(now);
  const engines = [0, 1, 2].map(() => new QuotaEngine({ store, limits: { chat: 100 }, now }));
  const ds = await Promise.all(
    Array.from({ length: 30 }, (_, i) => engines[i % 3].reserve(me, "chat", { amount: 3, idempotencyKey: "once" })),
  );
  assert.ok(ds.every((d) => d.allowed));
  assert.equal(new Set(ds.map((d) => d.reservation)).size, 1);
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
  assert.deepEqual([again.replayed, again.reservation], [true, retry.reservation]);
  assert.equal(engine.check(me, "chat").used, 1);
});
