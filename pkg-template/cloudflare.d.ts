// Types of "wasm-quota/cloudflare" (workerd only): they build on Cloudflare's own types
// (`@cloudflare/workers-types`, or what `wrangler types` writes), which declare
// "cloudflare:workers" and `DurableObjectState`.
import { DurableObject } from "cloudflare:workers";
import type { AmountOptions, Decision, Limits, MaybePromise, Profile, ProfileId, QuotaEngineOptions, ReserveOptions, Usage } from "./types.js";
export * from "./index.js";
export { DurableObjectStore, type DurableObjectStorageLike } from "./stores/durable-object.js";
export { KvStore, type KVNamespaceLike } from "./stores/kv.js";
import { QuotaError } from "./runtime.js";

/** The env a QuotaDurableObject reads. */
export interface QuotaEnv {
  /** JSON of `limits` (feature → daily limit, policy or policies), or the object itself from a wrangler [vars] table. */
  QUOTA_LIMITS: string | Limits;
  /** "false" = home mode: everything allowed, nothing counted. */
  QUOTA_ENABLED?: string | boolean;
  /** Default "ai_quota". */
  QUOTA_KEY_PREFIX?: string;
  /** The engines' `stringIdKeys`: "escaped" (the default) or "raw", string ids written as the Django service writes them. Any other value, "" included, is INVALID_CONFIG. */
  QUOTA_STRING_ID_KEYS?: string;
  /** The engines' `tokenSecret` (16+ characters). QuotaDurableObject without it keeps its own in storage. */
  QUOTA_RESERVATION_SECRET?: string;
}

/** The RPC methods of QuotaDurableObject: the engine's, always async over RPC. */
export interface QuotaObjectMethods {
  check(profile: Profile, feature: string, options?: AmountOptions): Promise<Decision>;
  reserve(profile: Profile, feature: string, options?: ReserveOptions): Promise<Decision>;
  release(profile: Profile, featureOrReservation: string, options?: AmountOptions): Promise<void>;
  settle(profile: Profile, reservation: string, actualAmount: number): Promise<boolean>;
  increment(profile: Profile, feature: string, options?: AmountOptions): Promise<Decision>;
  usage(profileId: ProfileId): Promise<Usage>;
}

/**
 * The engine in a SQLite-backed Durable Object, one object per profile: reached by name, it
 * refuses calls for any other profile (INVALID_ARGUMENT). A QuotaError thrown inside reaches an
 * RPC caller as an Error whose message starts with "[CODE] ".
 *
 * It extends `DurableObject`, so `DurableObjectNamespace<QuotaDurableObject>` types the stub's
 * RPC methods (each a Promise of the result below):
 *
 * ```ts
 * interface Env { QUOTA: DurableObjectNamespace<QuotaDurableObject> }
 * const d = await env.QUOTA.getByName("42").reserve({ id: 42 }, "remix");
 * ```
 */
export class QuotaDurableObject<Env extends QuotaEnv = QuotaEnv> extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env);
  check(profile: Profile, feature: string, options?: AmountOptions): MaybePromise<Decision>;
  reserve(profile: Profile, feature: string, options?: ReserveOptions): MaybePromise<Decision>;
  release(profile: Profile, featureOrReservation: string, options?: AmountOptions): MaybePromise<void>;
  settle(profile: Profile, reservation: string, actualAmount: number): MaybePromise<boolean>;
  increment(profile: Profile, feature: string, options?: AmountOptions): MaybePromise<Decision>;
  usage(profileId: ProfileId): MaybePromise<Usage>;
  /** Deletes expired counters (the store schedules the alarm). */
  alarm(): Promise<void>;
}

/** A Durable Object namespace binding (`env.QUOTA`). */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: any): any;
}

/**
 * The methods of the object class `T` as `quotaObject` reaches them over RPC: each returns a
 * Promise of its result. Fields and protected members (`ctx`, `env`) are not reachable.
 */
export type QuotaObjectClient<T> = {
  [K in keyof T as T[K] extends (...args: any[]) => unknown ? K : never]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

/**
 * The profile's object in `namespace`; its calls reject with QuotaErrors (code restored). Name
 * your subclass to reach its own methods too:
 *
 * ```ts
 * const seen = await quotaObject<MyQuotaObject>(env.QUOTA, profile.id).beginRequest(key, 60_000);
 * ```
 */
export function quotaObject<T extends object = QuotaObjectMethods>(namespace: DurableObjectNamespaceLike, profileId: ProfileId): QuotaObjectClient<T>;
/** The object name for a profile id: numbers as digits, strings as "~" + the string. */
export function quotaObjectName(profileId: ProfileId): string;
/** Engine options (minus `store`) from QUOTA_LIMITS, QUOTA_ENABLED, QUOTA_KEY_PREFIX, QUOTA_STRING_ID_KEYS, QUOTA_RESERVATION_SECRET; throws INVALID_CONFIG. */
export function quotaOptionsFromEnv(env: QuotaEnv): Omit<QuotaEngineOptions, "store">;
/** A "[CODE] message" error from RPC as a QuotaError again; anything else unchanged. */
export function recoverQuotaError(err: unknown): QuotaError | unknown;
