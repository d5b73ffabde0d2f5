// Node entry: compiles the .wasm beside this package synchronously, so importing is all it takes.
import { readFileSync } from "node:fs";
import { initSync } from "../wasm_quota.js";

initSync({ module: readFileSync(new URL("../wasm_quota_bg.wasm", import.meta.url)) });

export { QuotaEngine } from "../engine.js";
export { QuotaError } from "../runtime.js";
export { MemoryStore } from "../stores/memory.js";
export { rateLimitHeaders, quotaExceededResponse } from "../headers.js";
