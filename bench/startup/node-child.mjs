// Run in a fresh Node process by bench/startup.mjs: the package's import (read, compile and
// instantiate the .wasm, load the glue) and a fresh engine's first reserve, in ms.
import { performance } from "node:perf_hooks";

const t0 = performance.now();
const { QuotaEngine, MemoryStore } = await import("wasm-quota");
const t1 = performance.now();
const engine = new QuotaEngine({ store: new MemoryStore(), limits: { remix: 10 } });
if (!engine.reserve({ id: 1 }, "remix").allowed) throw new Error("first reserve denied");
const t2 = performance.now();
console.log(JSON.stringify({ importMs: t1 - t0, firstReserveMs: t2 - t1 }));
