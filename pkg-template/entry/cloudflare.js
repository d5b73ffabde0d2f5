// "wasm-quota/cloudflare": the Cloudflare Workers parts of the package, for workerd only. It
// re-exports the workerd entry, which instantiates the .wasm, so importing is all it takes.
export {
  QuotaEngine,
  QuotaError,
  MemoryStore,
  DurableObjectStore,
  KvStore,
  QuotaDurableObject,
  quotaObject,
  quotaObjectName,
  quotaOptionsFromEnv,
  recoverQuotaError,
  rateLimitHeaders,
  quotaExceededResponse,
} from "./workerd.js";
