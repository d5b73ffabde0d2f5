// workerd entry (Cloudflare Workers, Miniflare): the runtime hands over the .wasm as a compiled
// WebAssembly.Module (wrangler does this for .wasm imports; Miniflare needs a CompiledWasm rule).
import wasmModule from "../wasm_quota_bg.wasm";
import { initSync } from "../wasm_quota.js";

initSync({ module: wasmModule });

export { QuotaEngine } from "../engine.js";
export { QuotaError } from "../runtime.js";
export { MemoryStore } from "../stores/memory.js";
export { rateLimitHeaders, quotaExceededResponse } from "../headers.js";

// Cloudflare-only parts (also reachable as "wasm-quota/cloudflare", which has their types).
export { DurableObjectStore } from "../stores/durable-object.js";
export { KvStore } from "../stores/kv.js";
export { QuotaDurableObject } from "../cloudflare/quota-durable-object.js";
export { quotaObject, quotaObjectName, quotaOptionsFromEnv, recoverQuotaError } from "../cloudflare/rpc.js";
