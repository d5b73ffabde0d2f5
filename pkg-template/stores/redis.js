// RedisStore: the QuotaStore contract over a connected client of the `redis` npm package (v5),
// so that several Node processes share one quota. Each method is one round trip and atomic in
// Redis; Redis keeps the TTLs. Every method returns a Promise, so engine calls over it do too.

// incr only if the key exists (INCRBY alone would create it with no TTL). INCRBY keeps the TTL.
const INCR_IF_EXISTS =
  "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[1]) end return false";

// A count as Redis stores it: a canonical decimal integer. Anything else is handed to the
// engine as the raw string, which it reports as CORRUPT_COUNTER (never read as 0).
const COUNT = /^-?(0|[1-9][0-9]{0,15})$/;

export class RedisStore {
  #client;
  #sha = null; // Promise of the script's SHA1, loaded once

  /** @param client a connected `redis` v5 client (`await createClient({ url }).connect()`) */
  constructor(client) {
    for (const m of ["get", "set", "eval", "evalSha", "scriptLoad"]) {
      if (typeof client?.[m] !== "function") {
        throw new TypeError(`RedisStore: the client has no ${m}() method; pass a redis v5 client`);
      }
    }
    this.#client = client;
  }

  async get(key) {
    const v = await this.#client.get(key);
    return v === null ? null : COUNT.test(v) ? Number(v) : v;
  }

  async incr(key, delta) {
    const args = { keys: [key], arguments: [String(delta)] };
    this.#sha ??= this.#client.scriptLoad(INCR_IF_EXISTS).catch((e) => {
      this.#sha = null;
      throw e;
    });
    try {
      return await this.#client.evalSha(await this.#sha, args);
    } catch (e) {
      // A restarted Redis has an empty script cache; EVAL runs the script and caches it again.
      if (!String(e?.message).startsWith("NOSCRIPT")) throw e;
      return await this.#client.eval(INCR_IF_EXISTS, args);
    }
  }

  async add(key, value, ttlSeconds) {
    const options = { condition: "NX", expiration: { type: "EX", value: ttlSeconds } };
    return (await this.#client.set(key, String(value), options)) === "OK";
  }

  async set(key, value, ttlSeconds) {
    await this.#client.set(key, String(value), { expiration: { type: "EX", value: ttlSeconds } });
  }
}
