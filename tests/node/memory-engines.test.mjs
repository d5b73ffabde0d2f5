// Memory: engines are collected like any object once unreachable, even when their store or
// clock refers back to them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { QuotaEngine, MemoryStore } from "wasm-quota";
// The same module instance the package entry loaded (node_modules/wasm-quota links to pkg/).
import { wasmMemory } from "../../pkg/wasm_quota.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc");
const MiB = 1 << 20;
const settle = async () => {
  for (let i = 0; i < 6; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20)); // finalizers run between turns
  }
};

test("engines whose store and clock refer back to them are collected", async () => {
  const refs = [];
  (() => {
    for (let i = 0; i < 2000; i++) {
      const store = new MemoryStore();
      const engine = new QuotaEngine({ store, limits: { remix: 3 }, now: () => engine && Date.now() });
      store.owner = engine; // the cycle: store → engine → WASM half → store
      engine.reserve({ id: i }, "remix");
      refs.push(new WeakRef(engine));
    }
  })();
  await settle();
  assert.equal(refs.filter((r) => r.deref() !== undefined).length, 0);
});

test("100,000 such engines made and dropped leave WASM memory where it was", async () => {
  await settle();
  const before = wasmMemory().buffer.byteLength;
  for (let batch = 0; batch < 50; batch++) {
    for (let i = 0; i < 2000; i++) {
      const store = new MemoryStore();
      const engine = new QuotaEngine({ store, limits: { remix: 3 } });
      store.owner = engine;
      engine.reserve({ id: i }, "remix");
    }
    await settle();
  }
  const grown = (wasmMemory().buffer.byteLength - before) / MiB;
  assert.ok(grown < 4, `WASM memory grew by ${grown.toFixed(1)} MiB`);
});

