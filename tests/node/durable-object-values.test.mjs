// DurableObjectStore over keys holding values it did not write (the object's own code, a
// migration, a hand edit): such a value is not a count. Reported as a store fault, it was
// answered by onStoreError, and "allow" admitted every reserve on the counter uncounted.
// And what a denial writes to the object's storage (each write is billed): nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, QuotaError } from "wasm-quota";
import { DurableObjectStore } from "../../pkg/stores/durable-object.js";

const NOW = Date.UTC(2026, 10, 27, 12);
const KEY = "ai_quota:1:remix:2026-11-27";

// ctx.storage of a SQLite-backed object (its synchronous kv), or of an older one (kv throws).
function fakeStorage({ synchronous }) {
  const data = new Map();
  const puts = [];
  const kv = {
    get: (k) => data.get(k),
    put: (k, v) => void (puts.push(k), data.set(k, v)),
    delete: (k) => data.delete(k),
    *list() {},
  };
  const refused = () => {
    throw new Error("not a SQLite-backed object");
  };
  return {
    data,
    puts,
    kv: synchronous ? kv : { get: refused, put: refused, delete: refused, list: refused },
    get: async (k) => data.get(k),
    put: async (k, v) => void (puts.push(k), data.set(k, v)),
    getAlarm: async () => null,
    setAlarm: async () => {},
  };
}

test("a value DurableObjectStore did not write is CORRUPT_COUNTER under every onStoreError, and stays as it was", async () => {
  for (const synchronous of [true, false]) {
    for (const foreign of [5, "5", { count: 3 }, { expiresAt: NOW + 1000 }, null, [1]]) {
      const storage = fakeStorage({ synchronous });
      storage.data.set(KEY, foreign);
      const store = new DurableObjectStore(storage, { now: () => NOW });
      for (const onStoreError of ["throw", "deny", "allow"]) {
        const engine = new QuotaEngine({ store, limits: { remix: 3 }, now: () => NOW, onStoreError });
        for (const call of [
          () => engine.reserve({ id: 1 }, "remix"),
          () => engine.check({ id: 1 }, "remix"),
          () => engine.increment({ id: 1 }, "remix"),
          () => engine.release({ id: 1 }, "remix"),
        ]) {
          await assert.rejects(
            async () => call(),
            (e) => e instanceof QuotaError && e.code === "CORRUPT_COUNTER",
            `${JSON.stringify(foreign)}, ${synchronous ? "storage.kv" : "async storage"}, ${onStoreError}`,
          );
        }
      }
      assert.deepEqual(storage.data.get(KEY), foreign, "nothing was written over it");
      assert.equal(await store.add(KEY, 1, 60), false, "add does not take it for absent");
    }
  }
});

test("a denied reserve writes nothing to the object's storage (incrOrCreateWithin), over storage.kv and the async API", async () => {
  for (const synchronous of [true, false]) {
    const storage = fakeStorage({ synchronous });
    const store = new DurableObjectStore(storage, { now: () => NOW });
    const engine = new QuotaEngine({ store, limits: { remix: 2 }, now: () => NOW });
    const reserve = async () => (await engine.reserve({ id: 1 }, "remix")).allowed;
    assert.deepEqual([await reserve(), await reserve()], [true, true]);
    storage.puts.length = 0;
    assert.deepEqual([await reserve(), await reserve()], [false, false]);
    assert.deepEqual(storage.puts, [], synchronous ? "storage.kv" : "async storage");
    assert.equal(storage.data.get(KEY).count, 2);
    // The store's own method: over the limit it answers the count it would have made.
    assert.equal(await store.incrOrCreateWithin(KEY, 1, 60, 2), 3);
    assert.equal(await store.incrOrCreateWithin("ai_quota:1:new", 3, 60, 2), 3);
    assert.deepEqual(storage.puts, [], "nothing created over the limit either");
    assert.equal(await store.incrOrCreateWithin("ai_quota:1:new", 2, 60, 2), 2);
    assert.deepEqual(storage.puts, ["ai_quota:1:new"]);
  }
});

// The TTLs DurableObjectStore emulates, as Redis keeps them: incr and incrOrCreate keep the
// expiry a counter was created with (a write that moved it on would keep a busy counter for
// good), and an entry is gone from its expiry instant on, for reads and for the sweep.
test("DurableObjectStore keeps each counter's expiry through incr and incrOrCreate, and drops it at that instant", async () => {
  for (const synchronous of [true, false]) {
    const storage = fakeStorage({ synchronous });
    let now = NOW;
    const store = new DurableObjectStore(storage, { now: () => now });
    assert.equal(await store.add("a", 1, 60), true);
    assert.equal(await store.incrOrCreate("b", 1, 60), 1);
    now += 30_000;
    assert.equal(await store.incr("a", 1), 2);
    assert.equal(await store.incrOrCreate("b", 1, 60), 2);
    now += 29_999;
    assert.deepEqual([await store.get("a"), await store.get("b")], [2, 2]);
    now += 1; // 60 s after each was created
    assert.deepEqual([await store.get("a"), await store.get("b")], [null, null], synchronous ? "storage.kv" : "async storage");
    assert.equal(await store.incr("a", 1), null);
  }
});
