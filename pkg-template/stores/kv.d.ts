import type { QuotaStore } from "../types.js";

/** KV refuses expirations less than 60 seconds ahead. */
export const KV_MIN_TTL_SECONDS: 60;

/** The subset of a Workers KV namespace this store uses. */
export interface KVNamespaceLike {
  getWithMetadata(key: string): Promise<{ value: string | null; metadata: unknown }>;
  put(key: string, value: string, options?: { metadata?: unknown; expirationTtl?: number }): Promise<void>;
}

/**
 * The QuotaStore contract over Workers KV, best effort: not atomic (concurrent reserves can
 * over-admit), eventually consistent, about one write per second per key. For low-stakes
 * limits and showing usage; enforce with QuotaDurableObject. Calls at once can all read the same
 * count and all pass, counting once: over-admission has no bound but the traffic, and
 * settle, release and idempotency keys are not at-most-once (README, "Workers KV"). A key over
 * KV's 512 bytes (a long string id or idempotency key) is kept under `wasm-quota:sha256:` +
 * its SHA-256 in hex.
 *
 * ```js
 * import { QuotaEngine, KvStore, quotaOptionsFromEnv } from "wasm-quota/cloudflare";
 * const engine = new QuotaEngine({ store: new KvStore(env.QUOTA_KV), ...quotaOptionsFromEnv(env) });
 * const d = await engine.reserve(profile, "tips");
 * ```
 */
export class KvStore implements QuotaStore {
  constructor(namespace: KVNamespaceLike, options?: { now?: () => number });
  get(key: string): Promise<number | null>;
  incr(key: string, delta: number): Promise<number | null>;
  add(key: string, value: number, ttlSeconds: number): Promise<boolean>;
  set(key: string, value: number, ttlSeconds: number): Promise<void>;
  /** A read, then a write: best effort, not atomic (see above). */
  incrOrCreate(key: string, delta: number, ttlSeconds: number): Promise<number>;
  /** A read, then a write only within the limit: best effort, not atomic. */
  incrOrCreateWithin(key: string, delta: number, ttlSeconds: number, limit: number): Promise<number>;
}
