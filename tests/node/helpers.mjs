// Shared test fixtures: a fake clock, a store that records every call, and an async store
// with random delays that still applies each operation atomically (as Redis or a Durable
// Object would).
import { MemoryStore } from "wasm-quota";

export const NOON = Date.UTC(2026, 10, 27, 12); // 2026-11-27T12:00:00Z
export const HOUR = 3_600_000;

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
