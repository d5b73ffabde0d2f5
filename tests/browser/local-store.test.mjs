// The demo's LocalStorageStore (www/local-store.js) against the QuotaStore contract, in Node
// over an in-memory Storage and a fake clock, so TTLs can be checked to the millisecond.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine } from "wasm-quota";
import { LocalStorageStore } from "../../www/local-store.js";

/** The parts of the Web Storage API the store uses. */
class FakeStorage {
  items = new Map();
  get length() { return this.items.size; }
  key(i) { return [...this.items.keys()][i] ?? null; }
  getItem(k) { return this.items.has(k) ? this.items.get(k) : null; }
  setItem(k, v) { this.items.set(k, String(v)); }
  removeItem(k) { this.items.delete(k); }
}

function setup() {
  const clock = { t: Date.UTC(2026, 10, 27, 23, 59, 50) };
  const storage = new FakeStorage();
  const store = new LocalStorageStore({ storage, now: () => clock.t });
  return { clock, storage, store };
}

test("get / incr / add / set follow the contract", () => {
  const { store } = setup();
  assert.equal(store.get("k"), null);
  assert.equal(store.incr("k", 1), null, "incr never creates");
  assert.equal(store.get("k"), null);
  assert.equal(store.add("k", 1, 60), true);
  assert.equal(store.add("k", 5, 60), false, "add only if absent");
  assert.equal(store.incr("k", 2), 3);
  assert.equal(store.incr("k", -4), -1, "incr may go negative; the engine clamps");
  store.set("k", 7, 60);
  assert.equal(store.get("k"), 7);
});

test("TTLs: a counter lives exactly ttlSeconds, and incr keeps the original expiry", () => {
  const { clock, storage, store } = setup();
  store.add("k", 1, 10);
  clock.t += 5_000;
  assert.equal(store.incr("k", 1), 2);
  clock.t += 4_999;
  assert.equal(store.get("k"), 2, "still alive 1 ms before the expiry set by add");
  clock.t += 1;
  assert.equal(store.get("k"), null);
  assert.equal(storage.length, 0, "an expired item is removed when read");
  assert.equal(store.incr("k", 1), null);
  assert.equal(store.add("k", 1, 10), true, "an expired key can be created again");
});

test("items are namespaced: clear() and sweep() leave other items alone; junk is not a count", () => {
  const { clock, storage, store } = setup();
  storage.setItem("theme", "dark");
  storage.setItem("wasm-quota-demo:bad", "{not json");
  storage.setItem("wasm-quota-demo:str", JSON.stringify({ value: "3", expiresAt: clock.t + 1e6 }));
  assert.equal(store.get("bad"), null);
  assert.equal(store.get("str"), null);
  store.set("old", 1, 1);
  store.set("new", 1, 100);
  clock.t += 1_000;
  store.sweep();
  assert.deepEqual([...storage.items.keys()].sort(), ["theme", "wasm-quota-demo:new"]);
  store.clear();
  assert.deepEqual([...storage.items.keys()], ["theme"]);
});

test("through the engine: counts survive a new store over the same storage, and midnight resets them", () => {
  const { clock, storage, store } = setup();
  const now = () => clock.t;
  const engine = new QuotaEngine({ store, limits: { remix: 2 }, now });
  assert.equal(engine.reserve({ id: 42 }, "remix").allowed, true);
  assert.equal(engine.reserve({ id: 42 }, "remix").allowed, true);

  // A reload: new store and engine objects, the same storage.
  const reloaded = new QuotaEngine({ store: new LocalStorageStore({ storage, now }), limits: { remix: 2 }, now });
  assert.deepEqual(reloaded.usage(42), { remix: 2 });
  const denied = reloaded.reserve({ id: 42 }, "remix");
  assert.equal(denied.allowed, false);
  assert.equal(denied.retryAfter, 10);

  clock.t += 10_000; // 00:00:00 UTC
  assert.deepEqual(reloaded.usage(42), { remix: 0 });
  assert.equal(reloaded.reserve({ id: 42 }, "remix").used, 1);
  const yesterday = "wasm-quota-demo:ai_quota:42:remix:2026-11-27";
  store.sweep(); // what the page does at load
  // The engine wrote yesterday's counter with a TTL to ten minutes past midnight (for hosts
  // whose clocks are behind): kept until then, swept after.
  assert.notEqual(storage.getItem(yesterday), null);
  clock.t += 600_000;
  store.sweep();
  assert.equal(storage.getItem(yesterday), null, "the engine wrote yesterday's counter with a TTL to ten minutes past midnight");
});
