// workerd entry (Cloudflare Workers, Miniflare): the runtime hands over the .wasm as a compiled
// WebAssembly.Module (wrangler does this for .wasm imports; Miniflare needs a CompiledWasm rule).
import wasmModule from "../wasm_quota_bg.wasm";
import { initSync } from "../wasm_quota.js";

initSync({ module: wasmModule });

export { QuotaEngine } from "../wasm_quota.js";
export { QuotaError } from "../runtime.js";
export { MemoryStore } from "../stores/memory.js";
