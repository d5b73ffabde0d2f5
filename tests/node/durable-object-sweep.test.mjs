// DurableObjectStore's alarm sweeps expired counters in bounded batches and always sets the
// alarm again — also when the sweep fails. A fake storage counts what each run reads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DurableObjectStore, SWEEP_BATCH } from "../../pkg/stores/durable-object.js";

const NOW = Date.UTC(2026, 10, 27, 12);

// The synchronous ctx.storage.kv of a SQLite-backed object, over a sorted Map.
function fakeStorage() {
  const data = new Map();
  const storage = {
    data,
    read: 0, // entries handed out by list()
    alarms: [],
    failList: false,
    kv: {
      get: (k) => data.get(k),
      put: (k, v) => void data.set(k, v),
      delete: (k) => data.delete(k),
      *list({ prefix = "", startAfter, limit = Infinity } = {}) {
        if (storage.failList) throw new Error("storage is down");
        let n = 0;
        for (const k of [...data.keys()].sort()) {
          if (!k.startsWith(prefix) || (startAfter !== undefined && k <= startAfter)) continue;
          if (n++ === limit) return;
          storage.read++;
          yield [k, data.get(k)];
        }
      },
    },
    get: async (k) => data.get(k),
    getAlarm: async () => storage.alarms.at(-1) ?? null,
    setAlarm: async (t) => void storage.alarms.push(t),
  };
  return storage;
}

test("3,000 expired counters are swept in runs of at most SWEEP_BATCH keys, then the alarm waits for the next expiry", async () => {
  const storage = fakeStorage();
  for (let i = 0; i < 3000; i++) storage.data.set(`ai_quota:${String(i).padStart(5, "0")}:remix:d`, { count: 1, expiresAt: NOW - 1 });
  storage.data.set("ai_quota:live:remix:d", { count: 1, expiresAt: NOW + 5000 });
  const store = new DurableObjectStore(storage, { now: () => NOW });
  let runs = 0;
  let deleted = 0;
  do {
    storage.read = 0;
    deleted += await store.alarm();
    runs++;
    assert.ok(storage.read <= SWEEP_BATCH + 1, `run ${runs} read ${storage.read} entries`);
  } while (storage.alarms.at(-1) === NOW && runs < 10);
  assert.equal(deleted, 3000);
  assert.ok(runs >= 3, `${runs} runs`);
  assert.deepEqual([...storage.data.keys()], ["ai_quota:live:remix:d"]);
  assert.equal(storage.alarms.at(-1), NOW + 5000);
});

test("a sweep that fails still sets the alarm again", async () => {
  const storage = fakeStorage();
  storage.data.set("ai_quota:1:remix:d", { count: 1, expiresAt: NOW - 1 });
  const store = new DurableObjectStore(storage, { now: () => NOW });
  store.get("ai_quota:1:remix:d"); // the synchronous API is known to work
  storage.failList = true;
  await assert.rejects(store.alarm(), /storage is down/);
  assert.equal(storage.alarms.length, 1);
  assert.ok(storage.alarms[0] > NOW, "re-armed for a later retry");
  storage.failList = false;
  assert.equal(await store.alarm(), 1);
});

test("a sweep reads on past batches of live counters, and the alarm waits for the earliest expiry of any batch", async () => {
  const storage = fakeStorage();
  // Batch one: 1,000 live counters, the first of them expiring soonest. Batch two: 500 more
  // live ones, then 500 expired.
  for (let i = 0; i < 1500; i++) storage.data.set(`ai_quota:a${String(i).padStart(4, "0")}:remix:d`, { count: 1, expiresAt: NOW + (i === 0 ? 1000 : 5000) });
  for (let i = 0; i < 500; i++) storage.data.set(`ai_quota:b${String(i).padStart(4, "0")}:remix:d`, { count: 1, expiresAt: NOW - 1 });
  const store = new DurableObjectStore(storage, { now: () => NOW });
  let runs = 0;
  let deleted = 0;
  do {
    deleted += await store.alarm();
    runs++;
  } while (storage.alarms.at(-1) === NOW && runs < 10);
  assert.deepEqual([runs, deleted, storage.data.size], [2, 500, 1500]);
  assert.equal(storage.alarms.at(-1), NOW + 1000, "the earliest expiry, seen in the first batch");
  // A sweep that read every key is done: the next one starts from the first key again.
  storage.data.set("ai_quota:a0000:remix:d", { count: 1, expiresAt: NOW - 1 });
  assert.equal(await store.alarm(), 1);
});

test("a counter is swept at its expiry instant", async () => {
  const storage = fakeStorage();
  storage.data.set("ai_quota:1:remix:d", { count: 1, expiresAt: NOW });
  const store = new DurableObjectStore(storage, { now: () => NOW });
  assert.equal(await store.alarm(), 1);
  assert.equal(storage.data.size, 0);
});

// Over storage.kv a write does not wait for its alarm; over the async API set() rejects with
// the alarm's error. Either way the time is forgotten, so that the next write sets the alarm:
// kept, it stopped every later write from setting one, and expired counters were never swept.
for (const synchronous of [true, false]) {
  test(`an alarm that could not be set is set by the next write (${synchronous ? "storage.kv" : "async storage"})`, async () => {
    const storage = fakeStorage();
    if (!synchronous) {
      delete storage.kv;
      storage.put = async (k, v) => void storage.data.set(k, v);
    }
    const setAlarm = storage.setAlarm;
    storage.setAlarm = async () => {
      throw new Error("storage is down");
    };
    const store = new DurableObjectStore(storage, { now: () => NOW });
    const first = store.set("ai_quota:1:remix:d", 1, 60);
    if (synchronous) await new Promise((resolve) => setImmediate(resolve));
    else await assert.rejects(first, /storage is down/);
    storage.setAlarm = setAlarm;
    await store.set("ai_quota:2:remix:d", 1, 120);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(storage.alarms, [NOW + 120_000]);
  });
}

test("loadAlarm: the first write of a fresh instance leaves an earlier alarm where it is", async () => {
  const storage = fakeStorage();
  storage.alarms.push(NOW + 1000); // set by the instance before
  const store = new DurableObjectStore(storage, { now: () => NOW });
  await store.loadAlarm();
  store.set("ai_quota:1:remix:d", 1, 60);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(storage.alarms, [NOW + 1000]);
});

// A failed setAlarm forgets only the time it set itself: when a later, earlier alarm was set
// meanwhile, that one stands. Forgotten, the next write moved it later, past a live counter's
// expiry (swept up to one TTL late).
test("a failed alarm does not forget an earlier one set after it", async () => {
  const storage = fakeStorage();
  const setAlarm = storage.setAlarm;
  let fail;
  storage.setAlarm = (t) => {
    if (t !== NOW + 120_000) return setAlarm(t);
    return new Promise((_, reject) => (fail = () => reject(new Error("storage is down"))));
  };
  const store = new DurableObjectStore(storage, { now: () => NOW });
  store.set("ai_quota:1:remix:d", 1, 120); // its alarm hangs, then fails
  store.set("ai_quota:2:remix:d", 1, 60); // sets the alarm earlier
  fail();
  await new Promise((resolve) => setImmediate(resolve));
  store.set("ai_quota:3:remix:d", 1, 300);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(storage.alarms, [NOW + 60_000]);
});
