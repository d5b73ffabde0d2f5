// Browser entry (also the default): instantiates the .wasm carried inline (wasm_inline.js) with
// top-level await, so importing is all it takes, unbundled or in any bundler's output.
import init from "../wasm_quota.js";
import { wasmBytes } from "../wasm_inline.js";

await init({ module_or_path: wasmBytes() });

export { QuotaEngine } from "../engine.js";
export { QuotaError } from "../runtime.js";
export { MemoryStore } from "../stores/memory.js";
export { rateLimitHeaders, quotaExceededResponse } from "../headers.js";
