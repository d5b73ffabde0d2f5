import type { QuotaStore } from "../types.js";

/** The methods of a `redis` client (4.7.1, 5.11 or later, or 6.x) that RedisStore calls (a connected `createClient()`). */
export interface RedisClientLike {
  get(key: string): Promise<any>;
  eval(script: string, options?: any): Promise<any>;
  evalSha(sha: string, options?: any): Promise<any>;
}

/**
 * The QuotaStore contract over Redis, shared by every process that uses the same Redis:
 * `incr` is a Lua script (increment only if the key exists), `add` and `set` scripts of
 * `SET NX EX` and `SET EX`, `incrOrCreate` one Lua script (`SET NX EX`, else `INCRBY`),
 * `incrOrCreateWithin` one more (`GET`, then `SET EX` or `INCRBY` only within the limit), Redis
 * keeps the TTLs. Every method returns a Promise; each is one round trip. Pass the client
 * `disableOfflineQueue: true` (else commands queued while disconnected run on reconnect, after
 * the engine answered them: an over-count) and give it an "error" listener (else a lost
 * connection crashes the process); see README, "RedisStore (Node)".
 *
 * ```js
 * import { createClient } from "redis";
 * import { QuotaEngine } from "wasm-quota";
 * import { RedisStore } from "wasm-quota/redis";
 * const client = createClient({ url: "redis://127.0.0.1:6379", disableOfflineQueue: true });
 * client.on("error", (err) => console.warn("redis:", err.message));
 * await client.connect();
 * const engine = new QuotaEngine({
 *   store: new RedisStore(client), limits: { remix: 10 }, onStoreError: "deny", storeTimeoutMs: 250,
 * });
 * const d = await engine.reserve({ id: 42 }, "remix");
 * ```
 */
export class RedisStore implements QuotaStore {
  constructor(client: RedisClientLike);
  get(key: string): Promise<number | null>;
  incr(key: string, delta: number): Promise<number | null>;
  add(key: string, value: number, ttlSeconds: number): Promise<boolean>;
  set(key: string, value: number, ttlSeconds: number): Promise<void>;
  incrOrCreate(key: string, delta: number, ttlSeconds: number): Promise<number>;
  incrOrCreateWithin(key: string, delta: number, ttlSeconds: number, limit: number): Promise<number>;
}
