// The Redis suite's contenders: what a Node service in a cluster runs, every call a round trip
// to one Redis. Next to wasm-quota over RedisStore: tuned plain JS (one script per reserve that
// counts, sets the TTL on a new counter and rolls back over the limit) and rate-limiter-flexible's
// RateLimiterRedis, each over the same node-redis client and the Django service's keys.
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { QuotaEngine } from "wasm-quota";
import { RedisStore } from "wasm-quota/redis";
import { RedisServer } from "../tests/node/redis-server.mjs";

const { RateLimiterRedis } = createRequire(import.meta.url)("rate-limiter-flexible");
const DAY_MS = 86_400_000;

/** A redis-server of its own on a free port, without persistence (nothing to fsync per write). */
export async function benchRedis() {
  const server = new RedisServer({ durable: false });
  await server.start();
  return server;
}

/** Calls in flight at once over the one connection (node-redis pipelines them). */
export const REDIS_IN_FLIGHT = 64;

/** Runs `reserve(i)` (resolving to true when admitted) for i < n as a Node service serves
 *  requests: REDIS_IN_FLIGHT calls in flight at once, each awaited. */
export async function countConcurrent(n, reserve) {
  let next = 0;
  let admitted = 0;
  const worker = async () => {
    while (next < n) if (await reserve(next++)) admitted++;
  };
  await Promise.all(Array.from({ length: REDIS_IN_FLIGHT }, worker));
  return admitted;
}

/** (r) wasm-quota over RedisStore: reserve(profile, feature) resolving to whether it was admitted. */
export function engineOverRedis(limits, client) {
  const engine = new QuotaEngine({ store: new RedisStore(client), limits });
  return async (profile, feature) => (await engine.reserve(profile, feature)).allowed;
}

// Count, give a new counter its TTL, and take the count back over the limit: one round trip.
const RESERVE =
  "local n = redis.call('INCRBY', KEYS[1], ARGV[1]) " +
  "if n == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[3]) end " +
  "if n > tonumber(ARGV[2]) then redis.call('DECRBY', KEYS[1], ARGV[1]) return 0 end " +
  "return 1";
const RESERVE_SHA = createHash("sha1").update(RESERVE).digest("hex");

/** (rt) Tuned plain JS over Redis: the key with a cached day, one EVALSHA per reserve. */
export class TunedRedis {
  #client;
  #limits;
  #day = -1;
  #date = "";

  constructor(limits, client) {
    this.#limits = limits;
    this.#client = client;
  }

  async reserve(id, feature) {
    const now = Date.now();
    const day = Math.floor(now / DAY_MS);
    if (day !== this.#day) {
      this.#day = day;
      this.#date = new Date(day * DAY_MS).toISOString().slice(0, 10);
    }
    const ttl = Math.max(1, Math.ceil(((day + 1) * DAY_MS - now) / 1000));
    const args = { keys: [`ai_quota:${id}:${feature}:${this.#date}`], arguments: ["1", String(this.#limits[feature]), String(ttl)] };
    let r;
    try {
      r = await this.#client.evalSha(RESERVE_SHA, args);
    } catch (e) {
      if (!String(e?.message).startsWith("NOSCRIPT")) throw e;
      r = await this.#client.eval(RESERVE, args);
    }
    return r === 1;
  }
}

/** (rl) RateLimiterRedis, a limiter per feature over node-redis, a refused consume left counted
 *  (as `RateLimiterMemory` in the Django suite: with amount 1 it admits the same requests). */
export class RlfRedis {
  #limiters = new Map();

  constructor(limits, client) {
    for (const [feature, points] of Object.entries(limits)) {
      this.#limiters.set(feature, new RateLimiterRedis({ storeClient: client, useRedisPackage: true, keyPrefix: feature, points, duration: 86_400 }));
    }
  }

  async reserve(id, feature) {
    try {
      await this.#limiters.get(feature).consume(id, 1);
      return true;
    } catch (res) {
      if (res instanceof Error) throw res;
      return false;
    }
  }
}
