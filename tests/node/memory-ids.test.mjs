// Memory: the string ids an engine interns (up to 96 characters each) are bounded in bytes, as
// its keys are. (Its own file, so its own process: WASM memory never shrinks, and the figure is
// this test's alone.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine } from "wasm-quota";
// The same module instance the package entry loaded (node_modules/wasm-quota links to pkg/).
import { wasmMemory } from "../../pkg/wasm_quota.js";

const MiB = 1 << 20;

// A store that keeps nothing: the test measures the engine's own memory, not the store's.
const nullStore = { get: () => null, incr: () => null, add: () => true, set: () => {} };

test("one engine over 300,000 distinct 96-character ASCII ids, then 300,000 astral ones, stays under 20 MiB of WASM memory", () => {
  const engine = new QuotaEngine({ store: nullStore, limits: { remix: 3 } });
  for (const char of ["x", "\u{1F600}"]) {
    const pad = char.repeat((96 - 8) / char.length); // + 8 digits: 96 UTF-16 units
    for (let i = 0; i < 300_000; i++) engine.check({ id: pad + String(i).padStart(8, "0") }, "remix");
    const total = wasmMemory().buffer.byteLength / MiB;
    assert.ok(total < 20, `WASM memory is ${total.toFixed(1)} MiB after the ${char === "x" ? "ASCII" : "astral"} ids`);
  }
});
