// A Worker written as Cloudflare documents it, type-checked against @cloudflare/workers-types
// with skipLibCheck: false (tsconfig.json here): the namespace typed with the package's class,
// typed RPC through the stub, and an engine made at module scope.
import { QuotaDurableObject, QuotaEngine, MemoryStore, quotaObject, quotaExceededResponse, rateLimitHeaders } from "wasm-quota/cloudflare";
import type { Decision, Usage } from "wasm-quota/cloudflare";

export { QuotaDurableObject };

interface Env {
  QUOTA: DurableObjectNamespace<QuotaDurableObject>;
  QUOTA_LIMITS: string;
}

// Made once per isolate, at module scope.
const local = new QuotaEngine({ store: new MemoryStore(), limits: { preview: 100 } });

export default {
  async fetch(request, env): Promise<Response> {
    const profile = { id: 42 };
    // The stub typed by the namespace: RPC methods return Promises of the class's results.
    const d: Decision = await env.QUOTA.getByName("42").reserve(profile, "remix", { amount: 2 });
    if (!d.allowed) return quotaExceededResponse(d);
    const usage: Usage = await quotaObject(env.QUOTA, profile.id).usage(profile.id);
    const preview = local.reserve(profile, "preview");
    return Response.json({ usage, preview }, { headers: rateLimitHeaders(d) });
  },
} satisfies ExportedHandler<Env>;

// A subclass is a Durable Object too: its own RPC method next to the engine's.
export class AuditedQuota extends QuotaDurableObject {
  async audit(profileId: number): Promise<Usage> {
    return this.usage(profileId);
  }
}
export async function audited(ns: DurableObjectNamespace<AuditedQuota>): Promise<number> {
  return (await ns.getByName("7").audit(7)).remix ?? 0;
}

// @ts-expect-error reserve needs a feature
env_unused((ns: DurableObjectNamespace<QuotaDurableObject>) => ns.getByName("1").reserve({ id: 1 }));
function env_unused(_: unknown): void {}
