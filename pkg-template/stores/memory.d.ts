import type { QuotaStore } from "../types.js";

/** The QuotaStore contract over an in-process Map with TTLs. Synchronous. */
export class MemoryStore implements QuotaStore {
  /**
   * `now`: clock in ms since the epoch (default Date.now); tests pass a fake one. A reading
   * that is not a finite number (a Date, a string, NaN) makes every method, and every engine
   * call over the store, throw a `QuotaError` with code `INVALID_CONFIG`.
   *
   * ```js
   * const store = new MemoryStore({ now: () => Date.now() }); // not () => new Date()
   * ```
   */
  constructor(options?: { now?: () => number });
  get(key: string): number | null;
  incr(key: string, delta: number): number | null;
  add(key: string, value: number, ttlSeconds: number): boolean;
  set(key: string, value: number, ttlSeconds: number): void;
  /** Drops every expired entry now (also done automatically as the map grows). */
  sweep(): void;
  /** Entries held, expired ones not yet swept included. */
  readonly size: number;
  clear(): void;
}
