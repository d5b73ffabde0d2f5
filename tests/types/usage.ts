// Compile-only check of the package's TypeScript types (`tsc -p tests/types`): the README's
// API must type-check as written, and misuse must not.
import { QuotaEngine, MemoryStore, QuotaError, type QuotaErrorCode } from "wasm-quota";
import type { Decision, QuotaStore, Usage } from "wasm-quota";

const store: QuotaStore = new MemoryStore({ now: () => Date.now() });
const engine = new QuotaEngine({ store, limits: { remix: 10 }, keyPrefix: "ai_quota", enabled: true });
const djangoKeys = new QuotaEngine({ store, limits: { remix: 10 }, keyPrefix: ":1:ai_quota", stringIdKeys: "raw" });
void djangoKeys.usage("3f2c9a1e-8b4d-4c6e-9f00-1a2b3c4d5e6f");

async function guard(): Promise<number> {
  const d: Decision = await engine.reserve({ id: 42 }, "remix");
  await engine.reserve({ id: "user-1", unlimited: false }, "remix", { amount: 2 });
  engine.check({ id: 1 }, "remix");
  if (d.unlimited) return 0;
  if (!d.allowed) return d.retryAfter ?? Infinity; // null: more than the whole limit, never fits
  if (d.reservation) await engine.release({ id: 42 }, d.reservation);
  const usage: Usage = await engine.usage(42);
  return usage.remix ?? 0;
}

const asyncStore: QuotaStore = {
  get: async () => null,
  incr: async () => null,
  add: async () => true,
  set: async () => {},
};
new QuotaEngine({ store: asyncStore, limits: {} });
const upsertStore: QuotaStore = { ...asyncStore, incrOrCreate: async (_key, delta, _ttlSeconds) => delta };
new QuotaEngine({ store: upsertStore, limits: {} });
// @ts-expect-error incrOrCreate answers the new count, never null
const noCount: QuotaStore = { ...asyncStore, incrOrCreate: () => null };
const withinStore: QuotaStore = {
  ...upsertStore,
  incrOrCreateWithin: async (_key, delta, _ttlSeconds, _limit) => delta,
};
new QuotaEngine({ store: withinStore, limits: {} });
// @ts-expect-error incrOrCreateWithin answers the count, never whether it wrote
const withinFlag: QuotaStore = { ...upsertStore, incrOrCreateWithin: () => true };

try {
  engine.setLimits({ remix: 20 });
} catch (e) {
  if (e instanceof QuotaError) void status(e.code);
}

// Every code README's Errors section lists, and no other: a code missing from QuotaErrorCode
// fails its `case` ("not comparable"), one added without a `case` fails the `never`.
function status(code: QuotaErrorCode): number {
  switch (code) {
    case "INVALID_CONFIG":
    case "INVALID_ARGUMENT":
    case "ENGINE_FREED":
      return 500;
    case "UNKNOWN_FEATURE":
      return 404;
    case "STORE_ERROR":
    case "STORE_TIMEOUT":
    case "CORRUPT_COUNTER":
      return 503;
    case "IDEMPOTENCY_KEY_EXHAUSTED":
      return 429;
    default: {
      const unlisted: never = code;
      return unlisted;
    }
  }
}

// @ts-expect-error a profile is an object, not a bare id
engine.reserve(42, "remix");
// @ts-expect-error limits are numbers
new QuotaEngine({ store, limits: { remix: "10" } });
// @ts-expect-error store is required
new QuotaEngine({ limits: {} });
// @ts-expect-error stringIdKeys is "escaped" or "raw"
new QuotaEngine({ store, limits: {}, stringIdKeys: "django" });

void guard;

// A decision made by onStoreError says so and carries the absorbed error.
async function degraded(): Promise<string> {
  const e = new QuotaEngine({ store, limits: { remix: 1 }, onStoreError: "deny", storeTimeoutMs: 250 });
  const d = await e.reserve({ id: 1 }, "remix");
  if (!d.unlimited && d.degraded) return d.error.code;
  return "";
}
void degraded;
// @ts-expect-error onStoreError is one of three names
new QuotaEngine({ store, limits: {}, onStoreError: "ignore" });

// Beyond the Django service: policies, settle, idempotency, headers.
import { rateLimitHeaders, quotaExceededResponse } from "wasm-quota";
async function beyond(): Promise<Response | undefined> {
  const e = new QuotaEngine({
    store,
    limits: { chat: [{ limit: 10, window: "hour" }, { limit: 50, window: "day", timeZone: "Europe/Paris", name: "paris-day" }], tips: 3 },
  });
  const d = await e.reserve({ id: 1 }, "chat", { amount: 400, idempotencyKey: "req-1" });
  if (d.unlimited || d.degraded) return undefined;
  if (!d.allowed) return quotaExceededResponse(d, { now: Date.now() });
  const policy: string | undefined = d.policy;
  const replayed: true | undefined = d.replayed;
  void policy, replayed;
  const applied: boolean = await e.settle({ id: 1 }, d.reservation!, 250);
  void applied;
  return new Response("ok", { headers: rateLimitHeaders(d) });
}
void beyond;
// @ts-expect-error windows are hour, day, week or month
new QuotaEngine({ store, limits: { chat: { limit: 1, window: "fortnight" } } });

// The fields the README's examples read on any decision, before narrowing it: `reservation`
// (absent for unlimited, degraded and replayed decisions), `replayed`, `degraded`.
async function anyDecision(): Promise<string> {
  const d: Decision = await engine.reserve({ id: 1 }, "remix", { idempotencyKey: "k" });
  if (d.replayed) return "409";
  if (d.degraded) return d.error.code;
  const reservation: string | undefined = d.reservation;
  if (reservation) await engine.release({ id: 1 }, reservation);
  return d.allowed ? "200" : "429";
}
void anyDecision;

// Results follow the store: plain values over a synchronous one (MemoryStore, a plain object
// over a Map), as the README's first example uses them without `await`; a value or a Promise
// over any other.
function syncResults(): number {
  const memory = new QuotaEngine({ store: new MemoryStore(), limits: { remix: 2 } });
  const d: Decision = memory.reserve({ id: 1 }, "remix");
  if (d.reservation) memory.release({ id: 1 }, d.reservation);
  const settled: boolean = memory.settle({ id: 1 }, "q4.x", 1);
  const map = new Map<string, number>();
  const plain = new QuotaEngine({
    store: {
      get: (k: string) => map.get(k),
      incr: (k: string, delta: number) => (map.has(k) ? map.set(k, map.get(k)! + delta).get(k)! : null),
      add: (k: string, v: number) => !map.has(k) && map.set(k, v).has(k),
      set: (k: string, v: number) => void map.set(k, v),
    },
    limits: { remix: 2 },
  });
  const usage: Usage = plain.usage(1);
  void settled;
  return (d.allowed ? 1 : 0) + (usage.remix ?? 0) + (plain.check({ id: 1 }, "remix").allowed ? 1 : 0);
}
void syncResults;
// @ts-expect-error over an async store a result may be a Promise: await it
const notAwaited: Decision = new QuotaEngine({ store: asyncStore, limits: {} }).reserve({ id: 1 }, "remix");
// @ts-expect-error a store typed QuotaStore may answer with Promises
const untyped: Decision = engine.check({ id: 1 }, "remix");
const lateSet = { get: () => null, incr: () => null, add: () => true, set: async () => {} };
// @ts-expect-error a set that returns a Promise makes the store asynchronous
const lateSetDecision: Decision = new QuotaEngine({ store: lateSet, limits: {} }).check({ id: 1 }, "remix");

// incr may answer undefined for an absent counter, as get may: the engine reads both as absent
// (a store over a Map answers map.get's undefined).
const counts = new Map<string, number>();
const undefinedWhenAbsent = {
  get: (k: string) => counts.get(k),
  incr: (k: string, delta: number) => (counts.has(k) ? counts.set(k, counts.get(k)! + delta).get(k) : undefined),
  add: (k: string, v: number) => !counts.has(k) && counts.set(k, v).has(k),
  set: (k: string, v: number) => void counts.set(k, v),
};
const absentAsUndefined: Decision = new QuotaEngine({ store: undefinedWhenAbsent, limits: { remix: 1 } }).reserve({ id: 1 }, "remix");
void absentAsUndefined;
