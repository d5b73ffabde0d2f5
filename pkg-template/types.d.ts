// The package's data types: options, limits, decisions, the store contract. Every entry's
// declarations import them from here; `tsc` checks them in tests/types with `lib: ["ES2022"]`
// and `skipLibCheck: false`.

/** A value, or a Promise of it: every store method and engine call may be either. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * The host's storage: the Django service's cache primitives. Counts are non-negative safe integers.
 * A method may return a plain value (the engine then answers synchronously) or a Promise.
 */
export interface QuotaStore {
  /** The live count, or null/undefined when absent or expired. */
  get(key: string): MaybePromise<number | null | undefined>;
  /** Add `delta` (may be negative) to a live counter and return the new value; null (or
   *  undefined) when absent or expired. Must never create the key. */
  incr(key: string, delta: number): MaybePromise<number | null | undefined>;
  /** Create the key with `value`, expiring after `ttlSeconds`, only if absent; true if created. */
  add(key: string, value: number, ttlSeconds: number): MaybePromise<boolean>;
  /** Create or overwrite the key with `value`, expiring after `ttlSeconds`. */
  set(key: string, value: number, ttlSeconds: number): MaybePromise<void>;
  /** Optional, and atomic when given: add `delta` to a live counter, or create it with `delta`
   *  expiring after `ttlSeconds` when absent or expired; return the new value. A live
   *  counter keeps its expiry. With it a reserve is one store call even when a window starts;
   *  without it the engine uses incr → add → incr → set. */
  incrOrCreate?(key: string, delta: number, ttlSeconds: number): MaybePromise<number>;
  /** Optional, atomic when given, and taken only beside incrOrCreate: as incrOrCreate, but
   *  when the new value would pass `limit` write nothing; return the new value either way (a
   *  value above `limit` says nothing was written). With it a denied reserve is one store call
   *  and no write, where incrOrCreate counts and then takes the count back; and it never
   *  counts past the limit, even for a moment, so a concurrent reserve that fits is admitted. */
  incrOrCreateWithin?(key: string, delta: number, ttlSeconds: number, limit: number): MaybePromise<number>;
}

/**
 * A store whose every method answers with a plain value (`MemoryStore`, a plain object over a
 * `Map`): an engine over it answers every call with a plain value too, never a Promise.
 */
export interface SyncQuotaStore extends QuotaStore {
  get(key: string): number | null | undefined;
  incr(key: string, delta: number): number | null | undefined;
  add(key: string, value: number, ttlSeconds: number): boolean;
  set(key: string, value: number, ttlSeconds: number): void;
  incrOrCreate?(key: string, delta: number, ttlSeconds: number): number;
  incrOrCreateWithin?(key: string, delta: number, ttlSeconds: number, limit: number): number;
}

/**
 * What an engine over a store of type `S` answers: `T` itself over a {@link SyncQuotaStore},
 * else `T` or a Promise of it (`await` it). A `set` typed as returning a Promise counts as
 * asynchronous, although `void` would accept it.
 */
export type Answer<S, T> = S extends SyncQuotaStore
  ? S["set"] extends (...args: any[]) => PromiseLike<unknown>
    ? MaybePromise<T>
    : T
  : MaybePromise<T>;

/** A non-negative safe integer or a string of 1–256 characters. `42` and `"42"` differ. */
export type ProfileId = number | string;
export interface Profile { id: ProfileId; unlimited?: boolean }
/** A calendar window; "week" is the ISO week (Monday 00:00 to Monday 00:00). */
export type WindowName = "hour" | "day" | "week" | "month";
/** One limit over one calendar window, aligned on the wall clock of `timeZone`. */
export interface Policy {
  /** Non-negative safe integer; 0 = always denied. */
  limit: number;
  /** Default "day". */
  window?: WindowName;
  /** An IANA zone the host's Intl knows, e.g. "Europe/Paris". Default UTC. */
  timeZone?: string;
  /** Named in decisions and headers; default "hourly" | "daily" | "weekly" | "monthly". */
  name?: string;
}
/**
 * Feature name → a limit per UTC day (the Django service's shape; 0 = always denied), one policy, or
 * several policies that must all pass (a reserve counts in all or none).
 */
export type Limits = Record<string, number | Policy | Policy[]>;
export interface QuotaEngineOptions<S extends QuotaStore = QuotaStore> {
  store: S;
  limits: Limits;
  /** false = home mode: everything allowed, nothing counted. Default true. */
  enabled?: boolean;
  /** Default "ai_quota". The Django service's keys: `"{KEY_PREFIX}:{VERSION}:ai_quota"`, by
   *  default ":1:ai_quota". */
  keyPrefix?: string;
  /** How string profile ids are written into keys. "escaped" (default): `~` + the id with `%`
   *  and `:` escaped, every string accepted. "raw": as the Django service writes a string pk
   *  (a UUID), refusing with INVALID_ARGUMENT ids that contain ":", are only digits or start
   *  with "~" (they could share another profile's key). */
  stringIdKeys?: "escaped" | "raw";
  /** Milliseconds since the epoch. Default Date.now. */
  now?: () => number;
  /** When a store method throws, rejects or times out: throw (default), or answer check /
   *  reserve / increment with a DegradedDecision that denies or allows. */
  onStoreError?: "throw" | "deny" | "allow";
  /** Async stores: a store Promise not settled after this many ms is a STORE_TIMEOUT. */
  storeTimeoutMs?: number;
  /** Key of the reservation tokens' MAC, at least 16 characters. Engines sharing a store must
   *  share it to release or settle each other's reservations. Default: random per engine. */
  tokenSecret?: string;
}
/** A method's options: `amount` and `idempotencyKey` are read as `options.amount` reads them
 *  (inherited too, as a Web API reads its options); an unknown own field is INVALID_ARGUMENT. */
export interface AmountOptions { amount?: number }
export interface ReserveOptions extends AmountOptions {
  /** A retry with the same key (and amount) in the same window is replayed: `replayed: true`,
   *  no reservation, counted once — do not run its work again. 1–256 characters. */
  idempotencyKey?: string;
}
export interface LimitedDecision {
  allowed: boolean;
  feature: string;
  limit: number;
  used: number;
  remaining: number;
  /** RFC 3339 UTC instant of the reset, e.g. "2026-11-28T00:00:00Z". */
  resetsAt: string;
  /** Whole seconds to resetsAt on a denial, 0 when allowed; `null` on a denial whose amount is
   *  over the denying policy's whole limit: it can never fit, so there is nothing to wait for. */
  retryAfter: number | null;
  /** Present when a reserve was allowed and counted now (never on a replay): pass it to
   *  release() or settle(). A server-side value: never accept one from a client. */
  reservation?: string;
  /** The policy these figures describe (the denying one on a denial, else the one with the
   *  fewest remaining). Absent for plain-number limits, which keep the Django service's shape. */
  policy?: string;
  /** That policy's window; present with `policy`. */
  window?: WindowName;
  /** An idempotent reserve answered from the record of the original: nothing counted now, no
   *  reservation; the request was already made. */
  replayed?: true;
  unlimited?: undefined;
  degraded?: undefined;
}
/** Home mode or an unlimited profile: nothing counted, so no figures and no `reservation`
 *  (`if (d.reservation)` reads `undefined`; release or settle only when one is there). */
export interface UnlimitedDecision {
  allowed: true;
  unlimited: true;
  feature: string;
  reservation?: undefined;
  replayed?: undefined;
  degraded?: undefined;
}
/** Decided by `onStoreError` because the store failed: no figures, no reservation. */
export interface DegradedDecision {
  allowed: boolean;
  feature: string;
  degraded: "store-error";
  /** The absorbed STORE_ERROR / STORE_TIMEOUT QuotaError, for the host's log. */
  error: Error & { code: string; cause?: unknown };
  /** Always 0: when the store comes back is unknown. */
  retryAfter: 0;
  reservation?: undefined;
  replayed?: undefined;
  unlimited?: undefined;
}
export type Decision = LimitedDecision | UnlimitedDecision | DegradedDecision;
export type Usage = Record<string, number>;
