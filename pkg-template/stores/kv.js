// KvStore: the QuotaStore contract over Workers KV, as far as KV allows. KV has no atomic
// increment and no create-if-absent, is eventually consistent (reads may be up to ~60 s stale
// at another location), takes about one write per second per key, and keeps keys at least
// 60 s. So: concurrent reserves can all pass and count once (over-admission with no bound but
// the traffic; README "Workers KV"), a burst of writes to one key
// can fail with STORE_ERROR, and a counter outlives its TTL in KV by up to 60 s. What it does
// guarantee: sequential calls through one location count exactly, an expired counter reads as
// absent at its own TTL (the expiry is kept in the key's metadata), and every write carries a
// TTL KV accepts. Use it for low-stakes limits and for showing usage; enforce with
// QuotaDurableObject.

/** KV refuses expirations less than 60 seconds ahead. */
export const KV_MIN_TTL_SECONDS = 60;
// KV refuses keys longer than this many bytes of UTF-8.
const KV_MAX_KEY_BYTES = 512;

// A longer key — a long string id, a long idempotency key — is kept under its SHA-256 instead.
// Refused by KV, every call on it would be a store fault: a reserve denied for good, or with
// onStoreError "allow" admitted and never counted (any client choosing a long key).
const LONG_KEY = "wasm-quota:sha256:";
const UTF8 = new TextEncoder();

async function kvKey(key) {
  if (key.length * 3 <= KV_MAX_KEY_BYTES) return key; // a UTF-16 unit is at most 3 bytes
  const bytes = UTF8.encode(key);
  if (bytes.length <= KV_MAX_KEY_BYTES) return key;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return LONG_KEY + Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

// A count as this store writes it (String of a safe integer): anything else — " " or "0x10",
// which Number() reads as 0 and 16 — is handed to the engine as read: CORRUPT_COUNTER.
const COUNT = /^-?(0|[1-9][0-9]*)$/;

export class KvStore {
  #kv;
  #now;

  /**
   * @param {KVNamespace} namespace a Workers KV binding, e.g. `env.QUOTA_KV`
   * @param {{ now?: () => number }} [options] clock in ms since the epoch (default Date.now)
   */
  constructor(namespace, { now = Date.now } = {}) {
    if (namespace === null || typeof namespace !== "object" || typeof namespace.getWithMetadata !== "function")
      throw new TypeError("KvStore: pass a Workers KV namespace binding");
    if (typeof now !== "function") throw new TypeError("KvStore: now must be a function");
    this.#kv = namespace;
    this.#now = now;
  }

  async get(key) {
    const e = await this.#read(key);
    return e === undefined ? null : e.count;
  }

  /** Read, then write: not atomic (see the top of this file). */
  async incr(key, delta) {
    const e = await this.#read(key);
    if (e === undefined) return null;
    // A value that is not a count is handed back as read, so the engine reports CORRUPT_COUNTER.
    if (typeof e.count !== "number") return e.count;
    const count = e.count + delta;
    await this.#write(key, count, e.expiresAt);
    return count;
  }

  /** Read, then write (best effort, not atomic): one read and one write even when the
   *  counter is new, where incr → add took three calls. */
  async incrOrCreate(key, delta, ttlSeconds) {
    const e = await this.#read(key);
    if (e === undefined) {
      await this.set(key, delta, ttlSeconds);
      return delta;
    }
    if (typeof e.count !== "number") return e.count;
    const count = e.count + delta;
    // A key written without our expiry gets the window's: no write of a count keeps it for good.
    await this.#write(key, count, e.expiresAt ?? this.#now() + ttlSeconds * 1000);
    return count;
  }

  /** incrOrCreate that writes nothing when the new count would pass `limit` (a denied
   *  reserve then costs one read, no write); answers that count either way. Best effort, as
   *  incrOrCreate is. */
  async incrOrCreateWithin(key, delta, ttlSeconds, limit) {
    const e = await this.#read(key);
    if (e === undefined) {
      if (delta <= limit) await this.set(key, delta, ttlSeconds);
      return delta;
    }
    if (typeof e.count !== "number") return e.count;
    const count = e.count + delta;
    if (count <= limit) await this.#write(key, count, e.expiresAt ?? this.#now() + ttlSeconds * 1000);
    return count;
  }

  /** Read, then write: two concurrent adds can both return true. */
  async add(key, value, ttlSeconds) {
    if ((await this.#read(key)) !== undefined) return false;
    await this.set(key, value, ttlSeconds);
    return true;
  }

  async set(key, value, ttlSeconds) {
    await this.#write(key, value, this.#now() + ttlSeconds * 1000);
  }

  // The live entry, or undefined when absent or past the expiry in its metadata.
  async #read(key) {
    const { value, metadata } = await this.#kv.getWithMetadata(await kvKey(key));
    if (value === null) return undefined;
    // A key written by someone else has no expiry of ours: null. incrOrCreate gives it its
    // window's end; incr, which knows no window, rewrites it without one.
    const expiresAt = Number.isFinite(metadata?.expiresAt) ? metadata.expiresAt : null;
    if (expiresAt !== null && expiresAt <= this.#now()) return undefined;
    const n = COUNT.test(value) ? Number(value) : NaN;
    return { count: Number.isSafeInteger(n) ? n : value, expiresAt };
  }

  async #write(key, count, expiresAt) {
    const at = await kvKey(key);
    if (expiresAt === null) return this.#kv.put(at, String(count));
    const ttl = Math.ceil((expiresAt - this.#now()) / 1000);
    return this.#kv.put(at, String(count), {
      metadata: { expiresAt },
      expirationTtl: Math.max(KV_MIN_TTL_SECONDS, ttl),
    });
  }
}
