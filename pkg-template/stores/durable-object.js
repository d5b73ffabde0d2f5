// DurableObjectStore: the QuotaStore contract over a Durable Object's own storage. With a
// SQLite-backed object it uses the synchronous `ctx.storage.kv`, so the engine runs with no
// await between reading and writing a counter, and nothing else can run in the object
// meanwhile. With the older async storage API it returns Promises, and the object's input gate
// keeps the read-modify-write together (no other event is delivered while storage is awaited).
//
// TTLs are emulated: each counter is stored as { count, expiresAt } and an expired one reads as
// absent. An alarm set at the earliest expiry deletes expired counters, so the object's storage
// stays bounded (the current windows' counters, plus expired ones until the alarm runs).

import { isThenable } from "../runtime.js";

// Chains `f` after `v` without a microtask when `v` is a plain value (the sync path).
const then = (v, f) => (isThenable(v) ? v.then(f) : f(v));

// Keys a sweep looks at in one run (a run has a time limit); more are swept in the next run.
export const SWEEP_BATCH = 1000;
// When a sweep fails, the next attempt is this much later.
const RETRY_SWEEP_MS = 60_000;

// The first `n` entries of an iterable (a storage cursor), and whether there were more.
function take(iterable, n) {
  const entries = [];
  for (const entry of iterable) {
    if (entries.length === n - 1) return { entries, more: true };
    entries.push(entry);
  }
  return { entries, more: false };
}

// What a key holding a value this store did not write reads as (see #read); never written.
const FOREIGN = Object.freeze({ count: "a value DurableObjectStore did not write", expiresAt: Infinity });

const isEntry = (v) =>
  v !== null && typeof v === "object" && Number.isFinite(v.expiresAt) && "count" in v;

export class DurableObjectStore {
  #storage;
  #kv; // ctx.storage.kv, or null once it is known not to work (the object is not SQLite-backed)
  #kvWorks = false;
  #now;
  #prefix;
  // The alarm time this store knows is set: undefined = unknown, null = none.
  #alarmAt = undefined;
  // A sweep that has not read every key yet: the last key it read, and the earliest expiry
  // it saw so far.
  #sweepAfter = undefined;
  #sweepNext = null;

  /**
   * @param {DurableObjectStorage} storage the object's `ctx.storage`
   * @param {{ now?: () => number, prefix?: string }} [options] `now`: ms since the epoch
   *   (default Date.now); `prefix`: only keys starting with it are swept by `alarm()`
   *   (default "", every key this store wrote)
   */
  constructor(storage, { now = Date.now, prefix = "" } = {}) {
    if (storage === null || typeof storage !== "object" || typeof storage.get !== "function")
      throw new TypeError("DurableObjectStore: pass the Durable Object's ctx.storage");
    if (typeof now !== "function") throw new TypeError("DurableObjectStore: now must be a function");
    if (typeof prefix !== "string") throw new TypeError("DurableObjectStore: prefix must be a string");
    this.#storage = storage;
    this.#kv = storage.kv ?? null;
    this.#now = now;
    this.#prefix = prefix;
  }

  /** true while the synchronous `ctx.storage.kv` API is in use. */
  get synchronous() {
    return this.#kv !== null;
  }

  get(key) {
    return then(this.#read(key), (e) => (e === undefined ? null : e.count));
  }

  incr(key, delta) {
    return then(this.#read(key), (e) => {
      if (e === undefined) return null;
      // A count that is not a number is handed back as read: the engine reports CORRUPT_COUNTER.
      if (typeof e.count !== "number") return e.count;
      const count = e.count + delta;
      return then(this.#write(key, count, e.expiresAt), () => count);
    });
  }

  /** Read and write with no await between them (over `storage.kv`: one synchronous step). */
  incrOrCreate(key, delta, ttlSeconds) {
    return then(this.#read(key), (e) => {
      if (e === undefined) return then(this.set(key, delta, ttlSeconds), () => delta);
      if (typeof e.count !== "number") return e.count;
      const count = e.count + delta;
      return then(this.#write(key, count, e.expiresAt), () => count);
    });
  }

  /** incrOrCreate that writes nothing when the new count would pass `limit` (a denied
   *  reserve then costs a read, no write); answers that count either way. */
  incrOrCreateWithin(key, delta, ttlSeconds, limit) {
    return then(this.#read(key), (e) => {
      if (e === undefined) return delta > limit ? delta : then(this.set(key, delta, ttlSeconds), () => delta);
      if (typeof e.count !== "number") return e.count;
      const count = e.count + delta;
      return count > limit ? count : then(this.#write(key, count, e.expiresAt), () => count);
    });
  }

  add(key, value, ttlSeconds) {
    return then(this.#read(key), (e) =>
      e === undefined ? then(this.set(key, value, ttlSeconds), () => true) : false,
    );
  }

  set(key, value, ttlSeconds) {
    const expiresAt = this.#now() + ttlSeconds * 1000;
    return then(this.#write(key, value, expiresAt), () => this.#sweepBy(expiresAt));
  }

  /**
   * Reads the alarm already set, so the first write of a fresh instance does not move it.
   * Optional; QuotaDurableObject calls it inside `ctx.blockConcurrencyWhile`.
   */
  async loadAlarm() {
    this.#alarmAt = await this.#storage.getAlarm();
  }

  /**
   * Deletes expired counters, at most SWEEP_BATCH keys looked at per run, and always sets the
   * alarm again: for the next expiry, for right away when keys were left unread, or for a
   * minute later when the sweep failed. Call it from your object's `alarm()` handler. Resolves
   * to the number of counters deleted.
   */
  async alarm() {
    let next = null;
    let deleted = 0;
    try {
      const now = this.#now();
      const options = { prefix: this.#prefix, limit: SWEEP_BATCH + 1 };
      if (this.#sweepAfter !== undefined) options.startAfter = this.#sweepAfter;
      const { entries, more } = await this.#sync(
        (kv) => take(kv.list(options), SWEEP_BATCH + 1),
        async () => take(await this.#storage.list(options), SWEEP_BATCH + 1),
      );
      const expired = [];
      let earliest = this.#sweepNext;
      for (const [key, value] of entries) {
        if (!isEntry(value)) continue;
        if (value.expiresAt <= now) expired.push(key);
        else if (earliest === null || value.expiresAt < earliest) earliest = value.expiresAt;
      }
      if (this.#kv !== null) for (const key of expired) this.#kv.delete(key);
      // The async delete() takes at most 128 keys per call.
      else for (let i = 0; i < expired.length; i += 128) await this.#storage.delete(expired.slice(i, i + 128));
      deleted = expired.length;
      if (more) {
        // Keys past this batch were not read: the next run, right away, reads on from here.
        this.#sweepAfter = entries[entries.length - 1][0];
        this.#sweepNext = earliest;
        next = now;
      } else {
        this.#sweepAfter = undefined;
        this.#sweepNext = null;
        next = earliest;
      }
    } catch (err) {
      next = this.#now() + RETRY_SWEEP_MS;
      throw err;
    } finally {
      this.#alarmAt = next;
      if (next !== null) await this.#storage.setAlarm(next);
    }
    return deleted;
  }

  // The live entry at `key`, or undefined when absent or expired. A value this store did not
  // write is no count: it reads as an entry whose count is not a number, which get and the
  // counting methods hand back as read and the engine reports as CORRUPT_COUNTER under every
  // onStoreError (thrown, it was a store fault, which "allow" answered by admitting uncounted).
  #read(key) {
    return then(this.#sync((kv) => kv.get(key), () => this.#storage.get(key)), (v) => {
      if (v === undefined) return undefined;
      if (!isEntry(v)) return FOREIGN;
      return v.expiresAt <= this.#now() ? undefined : v;
    });
  }

  #write(key, count, expiresAt) {
    const entry = { count, expiresAt };
    return this.#sync((kv) => kv.put(key, entry), () => this.#storage.put(key, entry));
  }

  // Runs `viaKv` on the synchronous API, or `viaAsync` where there is none. An object that is
  // not SQLite-backed still has a `kv` property that throws on use: the first such throw
  // switches this store to the async API for good.
  #sync(viaKv, viaAsync) {
    if (this.#kv === null) return viaAsync();
    if (this.#kvWorks) return viaKv(this.#kv);
    let result;
    try {
      result = viaKv(this.#kv);
    } catch {
      this.#kv = null;
      return viaAsync();
    }
    this.#kvWorks = true;
    return result;
  }

  // Makes sure an alarm fires by `expiresAt`. Moving it earlier never loses a sweep: alarm()
  // sets the next one from what is left.
  #sweepBy(expiresAt) {
    if (this.#alarmAt != null && this.#alarmAt <= expiresAt) return;
    this.#alarmAt = expiresAt;
    // On failure forget the time, so the next write tries again; unless an earlier one was set
    // since (it stands: forgotten, the next write moved the alarm past it).
    const p = this.#storage.setAlarm(expiresAt)?.catch?.((err) => {
      if (this.#alarmAt === expiresAt) this.#alarmAt = undefined;
      throw err;
    });
    if (this.#kv === null) return p;
    // Sync path: the output gate makes the write durable before any reply leaves the object.
    p?.catch?.(() => {});
  }
}
