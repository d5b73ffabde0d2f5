// Node entry: compiles the .wasm carried inline (wasm_inline.js) synchronously, so importing is
// all it takes, `require()` works (no top-level await), and a bundle (esbuild --platform=node)
// runs wherever its output is copied.
import { initSync } from "../wasm_quota.js";
import { wasmBytes } from "../wasm_inline.js";

initSync({ module: wasmBytes() });

export { QuotaEngine } from "../engine.js";
export { QuotaError } from "../runtime.js";
export { MemoryStore } from "../stores/memory.js";
export { rateLimitHeaders, quotaExceededResponse } from "../headers.js";
