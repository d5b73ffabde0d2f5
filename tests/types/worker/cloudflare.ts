// Compile-only check of "wasm-quota/cloudflare"'s types (with @cloudflare/workers-types, see
// tsconfig.json here): the README's Workers usage.
import {
  QuotaDurableObject,
  DurableObjectStore,
  KvStore,
  QuotaError,
  quotaObject,
  recoverQuotaError,
  quotaOptionsFromEnv,
  type DurableObjectNamespaceLike,
  type DurableObjectStorageLike,
  type KVNamespaceLike,
  type QuotaEnv,
} from "wasm-quota/cloudflare";
import type { Decision, QuotaStore, Usage } from "wasm-quota/cloudflare";

declare const env: QuotaEnv & { QUOTA: DurableObjectNamespaceLike; QUOTA_KV: KVNamespaceLike };
declare const storage: DurableObjectStorageLike;

export { QuotaDurableObject };

export async function guard(profile: { id: number }): Promise<number> {
  const d: Decision = await quotaObject(env.QUOTA, profile.id).reserve(profile, "remix");
  if (d.unlimited) return 0;
  if (!d.allowed) return d.retryAfter ?? Infinity; // null: more than the whole limit, never fits
  if (d.reservation) await quotaObject(env.QUOTA, profile.id).release(profile, d.reservation);
  const usage: Usage = await quotaObject(env.QUOTA, "user-1").usage("user-1");
  return usage.remix ?? 0;
}

export function errorCode(err: unknown): string | null {
  const e = recoverQuotaError(err);
  return e instanceof QuotaError ? e.code : null;
}

const stores: QuotaStore[] = [new DurableObjectStore(storage, { prefix: "ai_quota:" }), new KvStore(env.QUOTA_KV)];
export const swept: Promise<number> = new DurableObjectStore(storage).alarm();
export const options = quotaOptionsFromEnv({ QUOTA_LIMITS: '{"remix":10}', QUOTA_ENABLED: "false", QUOTA_STRING_ID_KEYS: "raw" });
export { stores };

// @ts-expect-error usage takes a profile id, not a profile
quotaObject(env.QUOTA, 1).usage({ id: 1 });

// settle and idempotent reserves over RPC; the HTTP helpers from the same entry.
import { quotaExceededResponse, rateLimitHeaders } from "wasm-quota/cloudflare";
export async function settled(profile: { id: number }, key: string): Promise<Response> {
  const quota = quotaObject(env.QUOTA, profile.id);
  const d = await quota.reserve(profile, "remix", { amount: 4, idempotencyKey: key });
  if (d.unlimited || d.degraded) return new Response("ok");
  if (!d.allowed) return quotaExceededResponse(d);
  const applied: boolean = await quota.settle(profile, d.reservation!, 1);
  return new Response(String(applied), { headers: rateLimitHeaders(d) });
}

// A subclass's own methods through quotaObject, as the example's Idempotency-Key records are:
// each reached as a Promise of its result.
export class RecordsObject extends QuotaDurableObject {
  beginRequest(key: string, leaseMs: number): { state: "new" | "running"; leaseUntil?: number } {
    return key === "" ? { state: "running" } : { state: "new", leaseUntil: Date.now() + leaseMs };
  }
}
export async function begin(profile: { id: number }, key: string): Promise<string> {
  const quota = quotaObject<RecordsObject>(env.QUOTA, profile.id);
  const seen: { state: "new" | "running"; leaseUntil?: number } = await quota.beginRequest(key, 1000);
  const d: Decision = await quota.reserve(profile, "remix");
  // @ts-expect-error not a method of the object
  quota.finishRequest(key);
  // @ts-expect-error ctx is the object's own, not reachable over RPC
  quota.ctx;
  return `${seen.state} ${d.allowed}`;
}
