// Shared test fixtures: a fake clock, a store that records every call, and an async store
// with random delays that still applies each operation atomically (as Redis or a Durable
// Object would).
import { MemoryStore } from "wasm-quota";

export const NOON = Date.UTC(2026, 10, 27, 12); // 2026-11-27T12:00:00Z
export const HOUR = 3_600_000;
/** How long a key outlives its window, in seconds (README, Guarantees: hosts whose clocks are
 *  behind the store's still find the window's counter): ten minutes. */
export const CLOCK_MARGIN_S = 600;

export function fakeClock(t = NOON) {
  const clock = () => clock.t;
  clock.t = t;
  return clock;
}

/** A MemoryStore that logs each call as [method, ...args]. */
export function recordingStore(now) {
  const inner = new MemoryStore({ now });
  const calls = [];
  const store = {
    calls,
    inner,
    get: (k) => (calls.push(["get", k]), inner.get(k)),
    incr: (k, d) => (calls.push(["incr", k, d]), inner.incr(k, d)),
    add: (k, v, t) => (calls.push(["add", k, v, t]), inner.add(k, v, t)),
    set: (k, v, t) => (calls.push(["set", k, v, t]), inner.set(k, v, t)),
  };
  return store;
}

/** Every store method returns a Promise that settles after a random delay (0–maxMs). */
export function delayedStore(now, maxMs = 3) {
  const inner = new MemoryStore({ now });
  const later = (fn) =>
    new Promise((resolve) => setTimeout(() => resolve(fn()), Math.random() * maxMs));
  return {
    inner,
    get: (k) => later(() => inner.get(k)),
    incr: (k, d) => later(() => inner.incr(k, d)),
    add: (k, v, t) => later(() => inner.add(k, v, t)),
    set: (k, v, t) => later(() => inner.set(k, v, t)),
  };
}

/** A plain QuotaStore over a Map with TTLs; `upsert` adds incrOrCreate, `within` incrOrCreate
 *  and incrOrCreateWithin; `async` answers Promises. */
export function mapStore(now, { upsert = false, within = false, async = false } = {}) {
  const entries = new Map();
  const live = (key) => {
    const e = entries.get(key);
    if (e === undefined || e.expiresAt > now()) return e;
    entries.delete(key);
    return undefined;
  };
  const set = (key, value, ttl) => void entries.set(key, { value, expiresAt: now() + ttl * 1000 });
  const methods = {
    get: (key) => live(key)?.value ?? null,
    incr: (key, delta) => {
      const e = live(key);
      return e === undefined ? null : (e.value += delta);
    },
    add: (key, value, ttl) => (live(key) === undefined ? (set(key, value, ttl), true) : false),
    set,
  };
  if (upsert || within) methods.incrOrCreate = (key, delta, ttl) => methods.incr(key, delta) ?? (set(key, delta, ttl), delta);
  if (within) {
    methods.incrOrCreateWithin = (key, delta, ttl, limit) => {
      const n = (live(key)?.value ?? 0) + delta;
      return n > limit ? n : methods.incrOrCreate(key, delta, ttl);
    };
  }
  const store = async ? Object.fromEntries(Object.entries(methods).map(([m, f]) => [m, async (...a) => f(...a)])) : methods;
  return { store, entries };
}

/** A seeded generator of floats in [0, 1): the same calls every run. */
export function generator(seed) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
}

/** Tokens carry each engine's random nonce and its MAC: compare them without. */
export function comparable(result) {
  if (result === null || typeof result !== "object") return result;
  const copy = { ...result };
  if (typeof copy.reservation === "string") copy.reservation = copy.reservation.split(".").slice(0, 4).join(".");
  return copy;
}

/** `promise`, or a rejection after `ms` saying what was awaited (`what()` is called then, so it
 *  can tell where things stood): a test that waits on a process fails instead of hanging. */
export async function bounded(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up after ${ms} ms waiting for ${what()}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
