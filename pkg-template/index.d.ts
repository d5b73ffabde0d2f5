// Types of the package's main entry (the same for node, browser and workerd).
export { QuotaEngine } from "./engine.js";
export type {
  AmountOptions,
  Decision,
  DegradedDecision,
  LimitedDecision,
  Limits,
  MaybePromise,
  Profile,
  Policy,
  ProfileId,
  QuotaEngineOptions,
  SyncQuotaStore,
  Answer,
  QuotaStore,
  ReserveOptions,
  UnlimitedDecision,
  Usage,
  WindowName,
} from "./types.js";
export { QuotaError, type QuotaErrorCode } from "./runtime.js";
export { MemoryStore } from "./stores/memory.js";
export { rateLimitHeaders, quotaExceededResponse } from "./headers.js";
export type { RateLimitHeaders, HeaderOptions, ProblemOptions } from "./headers.js";
