// String profile ids pass from JS to the core as small numbers (handles) in a bounded table whose
// slots go to new ids when it is full, and the key table finds their keys by handle. Whatever that table, the
// key table and the JS key cache do, two ids never share a counter: every id ends with exactly
// its own count.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, MemoryStore } from "wasm-quota";
import { fakeClock, mapStore } from "./helpers.mjs";

// Over a user's store (the engine drives each store call) and over MemoryStore (the whole call
// runs inside WASM, on another path to the key table).
const STORES = [
  ["a user's store", (now) => mapStore(now).store],
  ["MemoryStore", (now) => new MemoryStore({ now })],
];

// More distinct ids than the handle table holds (IdTable.Slots, 16,384), in two features: more counters than
// the key table (65,536) and the JS key cache (65,536 slots) hold, so that handles, key numbers
// and cache slots all wrap around and start over while the same ids come back.
const IDS = 40_000;
const idOf = (i) => ["p", "q:", "%", "é🙂", "~"][i % 5] + i.toString(36);

test("string ids keep their own counters across handle, key table and key cache wrap-arounds", () => {
  const now = fakeClock();
  const { store } = mapStore(now);
  const engine = new QuotaEngine({ store, now, limits: { remix: 1_000, tips: 1_000 } });
  const expected = new Map();
  const reserve = (id, feature) => {
    const d = engine.reserve({ id }, feature);
    const k = `${id}|${feature}`;
    expected.set(k, (expected.get(k) ?? 0) + 1);
    assert.equal(d.used, expected.get(k), `${JSON.stringify(id)} ${feature}`);
  };
  // Three passes in different orders: an id comes back after its handle was forgotten.
  for (let pass = 0; pass < 3; pass++) {
    for (let n = 0; n < IDS; n++) {
      const i = pass === 1 ? IDS - 1 - n : (n * 7919) % IDS;
      if (pass === 2 && i % 3 === 0) continue;
      reserve(idOf(i), i % 2 ? "remix" : "tips");
    }
  }
  for (let i = 0; i < IDS; i += 97) {
    const feature = i % 2 ? "remix" : "tips";
    assert.equal(engine.usage(idOf(i))[feature], expected.get(`${idOf(i)}|${feature}`), idOf(i));
  }
});

test("an id in use keeps its handle while 40,000 other ids pass through the full table", async () => {
  // Which ids JS hands the core to intern (the core's class is internal: patched here only).
  const { QuotaCore } = await import(new URL("../../pkg/wasm_quota.js", import.meta.url));
  const internId = QuotaCore.prototype.internId;
  const interned = new Map();
  QuotaCore.prototype.internId = function (id) {
    interned.set(id, (interned.get(id) ?? 0) + 1);
    return internId.call(this, id);
  };
  try {
    // Short ids fill the table's slots; 90-character ones its characters first.
    for (const [name, makeStore] of STORES) {
      for (const pad of ["", "-".repeat(84)]) {
        interned.clear();
        const now = fakeClock();
        const engine = new QuotaEngine({ store: makeStore(now), now, limits: { remix: 1_000_000 } });
        const hot = "8d3e5c1a-6f0b-4e2d-9a7c-5b4f3e2d1c0a";
        const other = (i) => pad + idOf(i);
        for (let i = 0; i < IDS; i++) {
          engine.reserve({ id: other(i) }, "remix");
          assert.equal(engine.reserve({ id: hot }, "remix").used, i + 1, name);
        }
        // Interned once: its slot was never the one emptied for a new id.
        assert.equal(interned.get(hot), 1, name);
        // Every other id once too (each came once), and its own count.
        assert.equal(interned.size, IDS + 1, name);
        for (let i = 0; i < IDS; i += 997) assert.equal(engine.usage(other(i)).remix, 1, `${name}: ${other(i)}`);
      }
    }
  } finally {
    QuotaCore.prototype.internId = internId;
  }
});

test("ids that differ only where a cache could confuse them count apart", () => {
  const now = fakeClock();
  const { store } = mapStore(now);
  const engine = new QuotaEngine({ store, now, limits: { remix: 100 } });
  const long = "x".repeat(96);
  // Interned (up to 96 characters) and passed as text (longer); a number and its digits; an
  // id and its escaped form; ids one character apart.
  const ids = [long, long + "y", long + "z", 42, "42", "a:b", "a%3Ab", "~a", "a", "a ", "é", "e\u0301"];
  for (let round = 1; round <= 3; round++) {
    ids.forEach((id, i) => {
      for (let k = 0; k <= i; k++) engine.reserve({ id }, "remix");
      assert.equal(engine.check({ id }, "remix").used, round * (i + 1), JSON.stringify(id));
    });
  }
});

test("a refused string id is refused every time, not remembered", () => {
  const now = fakeClock();
  const { store } = mapStore(now);
  const engine = new QuotaEngine({ store, now, limits: { remix: 5 }, stringIdKeys: "raw" });
  for (let i = 0; i < 3; i++) {
    assert.throws(() => engine.reserve({ id: "42" }, "remix"), { code: "INVALID_ARGUMENT" });
    assert.throws(() => engine.reserve({ id: "bad\uD800" }, "remix"), { code: "INVALID_ARGUMENT" });
    // Longer than an interned id: passed as text, where a lone surrogate would become U+FFFD
    // and ids differing only there would share one counter.
    for (const id of ["x".repeat(100) + "\uD800", "x".repeat(100) + "\uDC00"]) {
      assert.throws(() => engine.reserve({ id }, "remix"), { code: "INVALID_ARGUMENT" });
    }
  }
  assert.equal(engine.reserve({ id: "4a" }, "remix").used, 1);
  assert.equal(engine.reserve({ id: "4a" }, "remix").used, 2);
});

for (const [storeName, makeStore] of STORES) {
  for (const stringIdKeys of ["escaped", "raw"]) {
    test(`interned string ids never share a counter with the numeric ids their handles equal (${storeName}, ${stringIdKeys})`, () => {
      const now = fakeClock();
      const engine = new QuotaEngine({ store: makeStore(now), now, limits: { remix: 1_000 }, stringIdKeys });
      // Handles are handed out from 0 in sequence: the same small numbers as these numeric ids.
      const N = 200;
      for (let round = 1; round <= 3; round++) {
        for (let i = 0; i < N; i++) {
          assert.equal(engine.reserve({ id: i }, "remix").used, round, `numeric ${i}`);
          engine.reserve({ id: `s-${i}` }, "remix");
          assert.equal(engine.reserve({ id: `s-${i}` }, "remix").used, 2 * round, `string s-${i}`);
        }
      }
      // Read back by text (usage takes no handle): the same counters.
      for (let i = 0; i < N; i += 7) {
        assert.equal(engine.usage(i).remix, 3, `numeric ${i}`);
        assert.equal(engine.usage(`s-${i}`).remix, 6, `string s-${i}`);
      }
    });
  }

  test(`setLimits that moves the features keeps each string id's counters with their feature (${storeName})`, () => {
    const now = fakeClock();
    const engine = new QuotaEngine({ store: makeStore(now), now, limits: { remix: 100, tips: 100 } });
    for (let k = 0; k < 3; k++) engine.reserve({ id: "u" }, "remix");
    engine.reserve({ id: "u" }, "tips");
    engine.reserve({ id: 0 }, "remix");
    // The features swap positions: keys found by (handle, position) must be found again.
    engine.setLimits({ tips: 100, remix: 100 });
    assert.equal(engine.reserve({ id: "u" }, "remix").used, 4);
    assert.equal(engine.reserve({ id: "u" }, "tips").used, 2);
    assert.equal(engine.reserve({ id: 0 }, "tips").used, 1);
    assert.equal(engine.reserve({ id: 0 }, "remix").used, 2);
  });

  test(`a string id reserved by handle and released or settled by text names one counter (${storeName})`, () => {
    const now = fakeClock();
    const engine = new QuotaEngine({ store: makeStore(now), now, limits: { remix: 3 } });
    const id = "3f2c9a1e-8b4d-4c6e-9f00-1a2b3c4d5e6f";
    const first = engine.reserve({ id }, "remix");
    engine.reserve({ id }, "remix");
    engine.reserve({ id }, "remix");
    assert.equal(engine.reserve({ id }, "remix").allowed, false);
    engine.release({ id }, first.reservation);
    assert.equal(engine.usage(id).remix, 2);
    assert.equal(engine.reserve({ id }, "remix").used, 3);
    assert.equal(engine.reserve({ id }, "remix").allowed, false);
  });
}

test("each reservation is signed for its own id, across handle-table start-overs", () => {
  // The core keeps, per interned id, the MAC's state after the id: an id that gets a handle
  // after the table started over must not sign with what the table held for another.
  for (const [name, makeStore] of STORES) {
    const now = fakeClock();
    const engine = new QuotaEngine({ store: makeStore(now), now, limits: { remix: 5 } });
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < 20_000; i++) {
        const id = `${pass}-${idOf(i)}`;
        const d = engine.reserve({ id }, "remix");
        assert.equal(d.allowed, true, `${name}: ${id}`);
        // release checks the token's MAC against this id's text, not its handle.
        engine.release({ id }, d.reservation);
        if (i % 1_000 === 0) assert.equal(engine.check({ id }, "remix").used, 0, `${name}: ${id}`);
      }
    }
  }
});

// README Keys: engines that count one quota on one store need one `keyPrefix` and one
// `stringIdKeys`. A string id is written differently under "raw" and "escaped", so engines
// that differ count it in two counters, each up to the limit.
test("engines on one store with different stringIdKeys count a string id twice over; the same configuration once", () => {
  const store = new MemoryStore();
  const engine = (stringIdKeys) => new QuotaEngine({ store, limits: { remix: 2 }, stringIdKeys });
  const admitted = (engines, id) => Array.from({ length: 6 }, (_, i) => engines[i % 2].reserve({ id }, "remix").allowed).filter(Boolean).length;
  assert.equal(admitted([engine("raw"), engine("escaped")], "user-7"), 4, "two counters: twice the limit");
  assert.equal(admitted([engine("raw"), engine("raw")], "user-8"), 2, "one counter");
  assert.equal(admitted([engine("escaped"), engine("escaped")], "user-9"), 2, "one counter");
});
