// String profile ids pass from JS to the core as small numbers (handles) in a bounded table that
// starts over when full. Whatever that table, the key table and the JS key cache do, two ids
// never share a counter: every id ends with exactly its own count.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine } from "wasm-quota";
import { fakeClock, mapStore } from "./helpers.mjs";

// More distinct ids than the handle table holds (16,384), in two features: more counters than
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
  }
  assert.equal(engine.reserve({ id: "4a" }, "remix").used, 1);
  assert.equal(engine.reserve({ id: "4a" }, "remix").used, 2);
});
