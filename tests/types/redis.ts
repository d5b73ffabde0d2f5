// Compile-only: `wasm-quota/redis` resolves with its types. (Real `redis` clients, whose types
// need @types/node, are checked in tests/types/redis-clients; tests/node/redis.test.mjs runs them.)
import { QuotaEngine, type QuotaStore } from "wasm-quota";
import { RedisStore, type RedisClientLike } from "wasm-quota/redis";

declare const client: RedisClientLike;

async function shared(): Promise<number> {
  const store: QuotaStore = new RedisStore(client);
  const engine = new QuotaEngine({ store, limits: { remix: 10 }, onStoreError: "deny", storeTimeoutMs: 250 });
  const d = await engine.reserve({ id: 42 }, "remix");
  const n: number | null = await new RedisStore(client).incr("k", 1);
  return d.allowed ? n ?? 0 : 0;
}
void shared;

// @ts-expect-error a client is required
new RedisStore();
// @ts-expect-error RedisStore's answers are Promises, not plain counts
const sync: number | null = new RedisStore(client).get("k");
void sync;
