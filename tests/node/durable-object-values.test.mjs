// DurableObjectStore over keys holding values it did not write (the object's own code, a
// migration, a hand edit): such a value is not a count. Reported as a store fault, it was
// answered by onStoreError, and "allow" admitted every reserve on the counter uncounted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, QuotaError } from "wasm-quota";
import { DurableObjectStore } from "../../pkg/stores/durable-object.js";

const NOW = Date.UTC(2026, 10, 27, 12);
const KEY = "ai_quota:1:remix:2026-11-27";

// ctx.storage of a SQLite-backed object (its synchronous kv), or of an older one (kv throws).
function fakeStorage({ synchronous }) {
  const data = new Map();
  const kv = {
    get: (k) => data.get(k),
    put: (k, v) => void data.set(k, v),
    delete: (k) => data.delete(k),
    *list() {},
  };
  const refused = () => {
    throw new Error("not a SQLite-backed object");
  };
  return {
    data,
    kv: synchronous ? kv : { get: refused, put: refused, delete: refused, list: refused },
    get: async (k) => data.get(k),
    put: async (k, v) => void data.set(k, v),
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
