// MemoryStore: the QuotaStore contract in process, with TTLs. Its counters live in WASM memory
// (`MemoryCounters`, src/bind/memory.rs): an engine over a MemoryStore runs each whole call
// over them inside WASM, and the methods below reach the same counters one key at a time.
// Synchronous, so an engine over it answers synchronously. For one process (a page, a test, a
// single Node server).
import { MemoryCounters } from "../wasm_quota.js";
import { QuotaError, typeName } from "../runtime.js";

export class MemoryStore {
  #counters = new MemoryCounters();
  #now;

  /** @param {{ now?: () => number }} [options] clock in ms since the epoch (default Date.now) */
  constructor({ now = Date.now } = {}) {
    if (typeof now !== "function") throw new TypeError("MemoryStore: now must be a function");
    this.#now = now;
  }

  get(key) {
    return this.#counters.get(String(key), this.#read()) ?? null;
  }

  incr(key, delta) {
    return this.#counters.incr(String(key), delta, this.#read()) ?? null;
  }

  add(key, value, ttlSeconds) {
    return this.#counters.add(String(key), value, ttlSeconds, this.#read());
  }

  set(key, value, ttlSeconds) {
    this.#counters.set(String(key), value, ttlSeconds, this.#read());
  }

  // The clock's reading, checked as an engine over this store checks it (`clock_reading` in
  // src/bind/memory.rs): a Date, a string or NaN names no instant, and read as one, every
  // counter expired the moment it was written.
  #read() {
    const ms = this.#now();
    if (typeof ms === "number" && Number.isFinite(ms)) return ms;
    const got = typeof ms === "number" ? String(ms) : typeName(ms);
    throw new QuotaError("INVALID_CONFIG", `MemoryStore's \`now\` clock returned ${got}, expected ms since the epoch`);
  }

  /** Drops every expired entry now. */
  sweep() {
    this.#counters.sweep(this.#read());
  }

  /** Entries held, expired ones not yet swept included. */
  get size() {
    return this.#counters.size;
  }

  /** Forgets everything. */
  clear() {
    this.#counters.clear();
  }

  /** See memoryStoreInternals. */
  static internals(store) {
    return { counters: store.#counters, now: store.#now };
  }
}

const METHODS = ["get", "incr", "add", "set"];
const ORIGINAL = METHODS.map((m) => MemoryStore.prototype[m]);
const internals = MemoryStore.internals;
delete MemoryStore.internals;

/**
 * The counters and clock of `store` when QuotaEngine may run its calls over them inside WASM:
 * a plain MemoryStore whose four methods are the package's own. A subclass or an instance
 * with a method replaced (a logging wrapper, a test double) is called like any other store,
 * so the replacement runs. Not part of the package's exports.
 */
export function memoryStoreInternals(store) {
  if (typeof store !== "object" || store === null || Object.getPrototypeOf(store) !== MemoryStore.prototype) return undefined;
  if (METHODS.some((m, i) => Object.hasOwn(store, m) || MemoryStore.prototype[m] !== ORIGINAL[i])) return undefined;
  return internals(store);
}
