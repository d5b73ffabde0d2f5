// Types of "wasm-quota/cloudflare" (workerd only).
import type { AmountOptions, Decision, Profile, Limits, ProfileId, QuotaEngineOptions, ReserveOptions, Usage } from "./wasm_quota.js";
export * from "./index.js";
export { DurableObjectStore, type DurableObjectStorageLike } from "./stores/durable-object.js";
export { KvStore, KV_MIN_TTL_SECONDS, type KVNamespaceLike } from "./stores/kv.js";
import { QuotaError } from "./runtime.js";

/** The env a QuotaDurableObject reads. */
export interface QuotaEnv {
  /** JSON of `limits` (feature → daily limit, policy or policies), or the object itself from a wrangler [vars] table. */
  QUOTA_LIMITS: string | Limits;
  /** "false" = home mode: everything allowed, nothing counted. */
  QUOTA_ENABLED?: string | boolean;
  /** Default "ai_quota". */
  QUOTA_KEY_PREFIX?: string;
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
 * The engine in a SQLite-backed Durable Object, one object per profile. A QuotaError thrown
 * inside reaches an RPC caller as an Error whose message starts with "[CODE] ".
 */
export class QuotaDurableObject {
  constructor(ctx: unknown, env: QuotaEnv);
  check(profile: Profile, feature: string, options?: AmountOptions): Decision;
  reserve(profile: Profile, feature: string, options?: ReserveOptions): Decision;
  release(profile: Profile, featureOrReservation: string, options?: AmountOptions): void;
  settle(profile: Profile, reservation: string, actualAmount: number): boolean;
  increment(profile: Profile, feature: string, options?: AmountOptions): Decision;
  usage(profileId: ProfileId): Usage;
  alarm(): Promise<void>;
}

/** A Durable Object namespace binding (`env.QUOTA`). */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: any): any;
}

/** The profile's object in `namespace`; its calls reject with QuotaErrors (code restored). */
export function quotaObject(namespace: DurableObjectNamespaceLike, profileId: ProfileId): QuotaObjectMethods;
/** The object name for a profile id: numbers as digits, strings as "~" + the string. */
export function quotaObjectName(profileId: ProfileId): string;
/** Engine options (minus `store`) from QUOTA_LIMITS, QUOTA_ENABLED, QUOTA_KEY_PREFIX; throws INVALID_CONFIG. */
export function quotaOptionsFromEnv(env: QuotaEnv): Omit<QuotaEngineOptions, "store">;
/** A "[CODE] message" error from RPC as a QuotaError again; anything else unchanged. */
export function recoverQuotaError(err: unknown): QuotaError | unknown;
