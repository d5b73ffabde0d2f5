// RedisStore: the QuotaStore contract over a connected client of the `redis` npm package
// (4.7.1, 5.11 or later, or 6.x: README, "RedisStore (Node)"), so that several Node processes share one quota. Each method is one round
// trip (GET, or EVALSHA of a script) and atomic in Redis; Redis keeps the TTLs. Every method returns a Promise, so engine
// calls over it do too.
// Keys and values are the Django service's (django-redis writes counts as plain integers).
import { createHash } from "node:crypto";

// A count `n` (a script's local) as the script answers it: an integer reply, or from 9e15 up
// (or -9e15 down) a one-element array of its digits, which #run reads with Number. Every
// `redis` release reads an integer reply digit by digit in JS numbers, so one within 48 of
// 2^53 may come back one off: "9007199254740991" as 2^53 (a reserve landing exactly on a
// limit of 2^53 - 1 was denied, its count kept), "...989" as "...988" (a reserve one over a
// limit of "...988" was admitted, though incrOrCreateWithin wrote nothing). An expression,
// not a function: defining one in every call cost Redis 0.1-0.2 us a call.
const EXACT_N = "((n >= 9e15 or n <= -9e15) and { string.format('%.0f', n) } or n)";
// INCRBY of a key that exists, as the last step of a script. A value INCRBY refuses (not an
// integer, past 64 bits, not a string at all) is returned as it is — a string the engine
// reports as CORRUPT_COUNTER under every onStoreError — rather than as a script error, which
// the engine must take for a store fault (and "allow" would then admit without counting).
// Other errors (OOM, ...) stay errors: the store failed.
const INCRBY_OR_VALUE =
  "local n = redis.pcall('INCRBY', KEYS[1], ARGV[1]) " +
  "if type(n) ~= 'table' or not n.err then return " + EXACT_N + " end " +
  "if not (n.err:find('not an integer', 1, true) or n.err:find('overflow', 1, true) or n.err:find('WRONGTYPE', 1, true)) then return n end " +
  "local t = redis.call('TYPE', KEYS[1]).ok " +
  "if t ~= 'string' then return 'a Redis ' .. t end " +
  "return redis.call('GET', KEYS[1])";
// incr only if the key exists (INCRBY alone would create it with no TTL). INCRBY keeps the TTL.
const INCR_IF_EXISTS = "if redis.call('EXISTS', KEYS[1]) == 0 then return false end " + INCRBY_OR_VALUE;
// Create with the TTL when absent, else INCRBY (which keeps the TTL): one script, atomic.
const INCR_OR_CREATE =
  "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then local n = tonumber(ARGV[1]) return " + EXACT_N + " end " + INCRBY_OR_VALUE;
// incrOrCreate that writes nothing when the new count would pass ARGV[3]; answers that count
// either way. An integer of more than 16 characters is no count (2^53 has 16 digits): handed
// back as read, CORRUPT_COUNTER. A value that is no integer, or a key of another type (GET
// fails), is left to INCRBY_OR_VALUE, as in incrOrCreate.
const INCR_OR_CREATE_WITHIN =
  "local d, limit = tonumber(ARGV[1]), tonumber(ARGV[3]) " +
  "local v = redis.pcall('GET', KEYS[1]) " +
  "if v == false then if d <= limit then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end local n = d return " + EXACT_N + " end " +
  "if type(v) == 'string' and (v == '0' or v:match('^-?[1-9]%d*$')) then " +
  "if #v > 16 then return v end " +
  "local n = tonumber(v) + d if n > limit then return " + EXACT_N + " end end " +
  INCRBY_OR_VALUE;

// add and set as scripts too: eval's call shape is the same in every `redis` release, SET's
// options object is not (4.x ignores 5.x's { condition, expiration }: every add answered true
// and wrote no TTL, so a reservation could be released twice and markers were kept for good).
const ADD = "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end return 0";
const SET = "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1";

// Each script's SHA1, as EVALSHA names it: computed here, so no call waits on another's
// SCRIPT LOAD (a load that never answered would otherwise hold every later call).
const SHA1 = new Map([INCR_IF_EXISTS, INCR_OR_CREATE, INCR_OR_CREATE_WITHIN, ADD, SET].map((s) => [s, createHash("sha1").update(s).digest("hex")]));

// A count as Redis stores it: a canonical decimal integer. Anything else is handed to the
// engine as the raw string, which it reports as CORRUPT_COUNTER (never read as 0).
const COUNT = /^-?(0|[1-9][0-9]{0,15})$/;

export class RedisStore {
  #client;

  /** @param client a connected `redis` client, 4.7.1, 5.11 or later, or 6.x (`await createClient({ url }).connect()`) */
  constructor(client) {
    for (const m of ["get", "eval", "evalSha"]) {
      if (typeof client?.[m] !== "function") {
        throw new TypeError(`RedisStore: the client has no ${m}() method; pass a connected client of the redis package`);
      }
    }
    this.#client = client;
  }

  async get(key) {
    let v;
    try {
      v = await this.#client.get(key);
    } catch (e) {
      // A key of another type holds no count: CORRUPT_COUNTER, as from the scripts.
      if (String(e?.message).startsWith("WRONGTYPE")) return "a Redis value that is not a string";
      throw e;
    }
    return v === null ? null : COUNT.test(v) ? Number(v) : v;
  }

  incr(key, delta) {
    return this.#run(INCR_IF_EXISTS, { keys: [key], arguments: [String(delta)] });
  }

  /** One script call: INCRBY a live key (its TTL kept), or create it with `delta` and the TTL. */
  incrOrCreate(key, delta, ttlSeconds) {
    return this.#run(INCR_OR_CREATE, { keys: [key], arguments: [String(delta), String(ttlSeconds)] });
  }

  /** One script call: incrOrCreate unless the new count would pass `limit`; then nothing is
   *  written. Answers the count with `delta` added either way. */
  incrOrCreateWithin(key, delta, ttlSeconds, limit) {
    return this.#run(INCR_OR_CREATE_WITHIN, { keys: [key], arguments: [String(delta), String(ttlSeconds), String(limit)] });
  }

  // EVALSHA of `script`: one round trip once Redis has the script cached.
  async #run(script, args) {
    let reply;
    try {
      reply = await this.#client.evalSha(SHA1.get(script), args);
    } catch (e) {
      // Not cached yet, or a restarted Redis with an empty script cache: EVAL runs the script
      // and caches it.
      if (!String(e?.message).startsWith("NOSCRIPT")) throw e;
      reply = await this.#client.eval(script, args);
    }
    // A count's digits (see EXACT_N).
    return Array.isArray(reply) ? Number(reply[0]) : reply;
  }

  /** `SET NX EX` in a script: true when it created the key. */
  async add(key, value, ttlSeconds) {
    return (await this.#run(ADD, { keys: [key], arguments: [String(value), String(ttlSeconds)] })) === 1;
  }

  /** `SET EX` in a script. */
  async set(key, value, ttlSeconds) {
    await this.#run(SET, { keys: [key], arguments: [String(value), String(ttlSeconds)] });
  }
}
