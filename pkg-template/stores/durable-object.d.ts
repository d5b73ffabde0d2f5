import type { MaybePromise, QuotaStore } from "../types.js";

/** The subset of a Durable Object's `ctx.storage` this store uses. */
export interface DurableObjectStorageLike {
  /** The synchronous API of SQLite-backed objects; used when it works. */
  kv?: {
    get(key: string): unknown;
    put(key: string, value: unknown): void;
    delete(key: string): boolean;
    list(options?: { prefix?: string }): Iterable<[string, unknown]>;
  };
  get(key: string): Promise<unknown>;
  put(key: string, value: unknown): Promise<void>;
  delete(keys: string[]): Promise<number>;
  list(options?: { prefix?: string }): Promise<Map<string, unknown>>;
  getAlarm(): Promise<number | null>;
  setAlarm(scheduledTime: number): Promise<void>;
}

/**
 * The QuotaStore contract over a Durable Object's storage: synchronous over `ctx.storage.kv`
 * (SQLite-backed objects), Promise-returning over the older async API. TTLs are emulated
 * (expiry stored beside the count); call `alarm()` from the object's alarm handler.
 */
export class DurableObjectStore implements QuotaStore {
  /** `now`: ms since the epoch (default Date.now); `prefix`: the keys `alarm()` sweeps (default all). */
  constructor(storage: DurableObjectStorageLike, options?: { now?: () => number; prefix?: string });
  /** True while the synchronous `ctx.storage.kv` API is in use (known after the first call). */
  readonly synchronous: boolean;
  get(key: string): MaybePromise<number | null>;
  incr(key: string, delta: number): MaybePromise<number | null>;
  add(key: string, value: number, ttlSeconds: number): MaybePromise<boolean>;
  set(key: string, value: number, ttlSeconds: number): MaybePromise<void>;
  /** No await between its read and its write: atomic in the object. */
  incrOrCreate(key: string, delta: number, ttlSeconds: number): MaybePromise<number>;
  /** As incrOrCreate, atomic too; over the limit it reads the counter and writes nothing. */
  incrOrCreateWithin(key: string, delta: number, ttlSeconds: number, limit: number): MaybePromise<number>;
  /** Reads the alarm already set, so a fresh instance does not move it later. Optional. */
  loadAlarm(): Promise<void>;
  /** Deletes expired counters and sets the alarm for the next expiry; resolves to how many were deleted. */
  alarm(): Promise<number>;
}
