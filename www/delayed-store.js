// DelayedStore: a QuotaStore whose answers arrive later, as a network store's do (Redis, a
// Durable Object), for `?store=async`. Each operation takes effect at once on the store it
// wraps, atomically; its answer resolves after 0 to `maxDelayMs` ms. So the runs of a burst
// interleave inside the engine — one run's increment lands between another's increment and
// its rollback — and a burst still admits exactly what was left.

export class DelayedStore {
  #inner;
  #maxDelayMs;
  #pending = 0;
  #mostPending = 0;

  /** @param {object} inner a synchronous QuotaStore  @param {{ maxDelayMs?: number }} [options] */
  constructor(inner, { maxDelayMs = 30 } = {}) {
    this.#inner = inner;
    this.#maxDelayMs = maxDelayMs;
  }

  get(key) {
    return this.#later(this.#inner.get(key));
  }

  incr(key, delta) {
    return this.#later(this.#inner.incr(key, delta));
  }

  add(key, value, ttlSeconds) {
    return this.#later(this.#inner.add(key, value, ttlSeconds));
  }

  set(key, value, ttlSeconds) {
    return this.#later(this.#inner.set(key, value, ttlSeconds));
  }

  /** The most answers that were outstanding at once: above 1, calls interleaved. */
  get mostPending() {
    return this.#mostPending;
  }

  /** Forgets everything (the wrapped store's clear()). */
  clear() {
    this.#inner.clear();
  }

  #later(answer) {
    this.#mostPending = Math.max(this.#mostPending, ++this.#pending);
    // A different delay per call, drawn when the call is made, so answers come back out of order.
    return new Promise((resolve) => setTimeout(() => {
      this.#pending -= 1;
      resolve(answer);
    }, Math.random() * this.#maxDelayMs));
  }
}
