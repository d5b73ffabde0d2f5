// MemoryStore: the QuotaStore contract over a Map, with TTLs. Synchronous, so an engine over
// it answers synchronously. For one process (a page, a test, a single Node server).

export class MemoryStore {
  #entries = new Map(); // key -> { value, expiresAt (ms) }
  #now;
  #sweepAt = 1024;

  /** @param {{ now?: () => number }} [options] clock in ms since the epoch (default Date.now) */
  constructor({ now = Date.now } = {}) {
    if (typeof now !== "function") throw new TypeError("MemoryStore: now must be a function");
    this.#now = now;
  }

  #live(key) {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }

  get(key) {
    const e = this.#live(key);
    return e === undefined ? null : e.value;
  }

  incr(key, delta) {
    const e = this.#live(key);
    if (e === undefined) return null;
    e.value += delta;
    return e.value;
  }

  add(key, value, ttlSeconds) {
    if (this.#live(key) !== undefined) return false;
    this.set(key, value, ttlSeconds);
    return true;
  }

  set(key, value, ttlSeconds) {
    this.#entries.set(key, { value, expiresAt: this.#now() + ttlSeconds * 1000 });
    // Keys of past windows are never read again; sweep when the map has doubled since the
    // last sweep, so memory stays bounded at amortised O(1) per write.
    if (this.#entries.size >= this.#sweepAt) {
      this.sweep();
      this.#sweepAt = Math.max(1024, this.#entries.size * 2);
    }
  }

  /** Drops every expired entry now. */
  sweep() {
    const now = this.#now();
    for (const [key, e] of this.#entries) if (e.expiresAt <= now) this.#entries.delete(key);
  }

  /** Entries held, expired ones not yet swept included. */
  get size() {
    return this.#entries.size;
  }

  /** Forgets everything. */
  clear() {
    this.#entries.clear();
  }
}
