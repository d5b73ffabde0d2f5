// Browser entry (also the default): fetches and instantiates the .wasm with top-level await,
// so importing is all it takes.
import init from "../wasm_quota.js";

await init({ module_or_path: new URL("../wasm_quota_bg.wasm", import.meta.url) });

export { QuotaEngine } from "../engine.js";
export { QuotaError } from "../runtime.js";
export { MemoryStore } from "../stores/memory.js";
export { rateLimitHeaders, quotaExceededResponse } from "../headers.js";
