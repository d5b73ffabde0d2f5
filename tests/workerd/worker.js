// Test worker for tests/node/cloudflare-*.test.mjs. Every route takes a JSON body and answers
// { result } or { error: { name, message, code } }, so the tests see what a real caller sees.
import { DurableObject } from "cloudflare:workers";
import {
  QuotaDurableObject,
  QuotaEngine,
  QuotaError,
  DurableObjectStore,
  KvStore,
  quotaObject,
  quotaObjectName,
  quotaOptionsFromEnv,
} from "wasm-quota/cloudflare";
// The package's main import line, as on every other host.
import * as main from "wasm-quota";

export { QuotaDurableObject };

/** The same class over the async storage API (its binding is not SQLite-backed). */
export class AsyncStorageQuotaObject extends QuotaDurableObject {
  /** Whether the synchronous API works here: it must not, for the async path to be tested. */
  kvUsable() {
    try {
      this.ctx.storage.kv.get("x");
      return true;
    } catch {
      return false;
    }
  }
}

/** The real class, plus a look at its storage and alarm. */
export class InspectableQuotaObject extends QuotaDurableObject {
  alarmAt() {
    return this.ctx.storage.getAlarm();
  }
  rawKeys() {
    return [...this.ctx.storage.kv.list()].map(([k]) => k);
  }
  putRaw(key, value) {
    this.ctx.storage.kv.put(key, value);
  }
  /** n reserves inside the object, no RPC between them: the object's own ceiling (bench.mjs), and
   *  proof that results are synchronous here (a Promise has no `.allowed`). */
  reserveLoop(id, feature, n) {
    let allowed = 0;
    for (let i = 0; i < n; i++) if (this.reserve({ id }, feature).allowed) allowed++;
    return { allowed };
  }
}

/**
 * bench/durable-object.mjs's baseline: a reserve hand-written in plain JS doing the same work
 * as QuotaDurableObject's — the Django service's key, the count and its expiry in one storage.kv entry
 * (the shape DurableObjectStore writes), all-or-nothing against the limit, a decision with the
 * same fields — with no WASM, no engine, no store abstraction, and the day string cached.
 */
export class PlainCounterObject extends DurableObject {
  #limits;
  #dayEnd = 0;
  #day = "";
  #resetsAt = "";

  constructor(ctx, env) {
    super(ctx, env);
    this.#limits = new Map(Object.entries(JSON.parse(env.QUOTA_LIMITS)));
  }

  reserve(profile, feature) {
    const limit = this.#limits.get(feature);
    if (limit === undefined) throw new Error(`[UNKNOWN_FEATURE] Unknown quota feature: "${feature}"`);
    const now = Date.now();
    if (now >= this.#dayEnd) {
      const start = now - (now % 86_400_000);
      this.#dayEnd = start + 86_400_000;
      this.#day = new Date(start).toISOString().slice(0, 10);
      this.#resetsAt = new Date(this.#dayEnd).toISOString().replace(".000Z", "Z");
    }
    const key = "ai_quota:" + profile.id + ":" + feature + ":" + this.#day;
    const kv = this.ctx.storage.kv;
    const entry = kv.get(key);
    const used = entry !== undefined && entry.expiresAt > now ? entry.count : 0;
    const resetsAt = this.#resetsAt;
    if (used + 1 > limit) {
      const retryAfter = Math.ceil((this.#dayEnd - now) / 1000);
      return { allowed: false, feature, limit, used, remaining: 0, resetsAt, retryAfter };
    }
    kv.put(key, { count: used + 1, expiresAt: this.#dayEnd });
    return { allowed: true, feature, limit, used: used + 1, remaining: limit - used - 1, resetsAt, retryAfter: 0 };
  }

  reserveLoop(id, feature, n) {
    let allowed = 0;
    for (let i = 0; i < n; i++) if (this.reserve({ id }, feature).allowed) allowed++;
    return { allowed };
  }
}

/** The real class, plus an alarm the test sets; a run of it is noted in QUOTA_KV ("alarm-ran"), so
 *  a test can wait for it without a call, which would start the object first. One test uses it. */
export class AlarmedQuotaObject extends QuotaDurableObject {
  async alarmIn(ms) {
    await this.ctx.storage.setAlarm(Date.now() + ms);
    return null;
  }
  async alarm() {
    await this.env.QUOTA_KV.put("alarm-ran", JSON.stringify({ at: Date.now(), name: this.ctx.id.name ?? null }));
    await super.alarm();
  }
}

/** The real class with QUOTA_STRING_ID_KEYS = "raw", and a look at its storage. */
export class RawIdsQuotaObject extends InspectableQuotaObject {
  constructor(ctx, env) {
    super(ctx, { ...env, QUOTA_STRING_ID_KEYS: "raw" });
  }
}

/** Misconfigured on purpose: a QUOTA_STRING_ID_KEYS in the wrong case. */
export class BadStringIdKeysQuotaObject extends QuotaDurableObject {
  constructor(ctx, env) {
    super(ctx, { ...env, QUOTA_STRING_ID_KEYS: "RAW" });
  }
}

export class BadConfigQuotaObject extends QuotaDurableObject {
  constructor(ctx, env) {
    super(ctx, { ...env, QUOTA_LIMITS: "{not json" });
  }
}

/** DurableObjectStore on its own, with a clock the test can move forward. */
export class StoreProbe extends DurableObject {
  #offset = 0;
  constructor(ctx, env) {
    super(ctx, env);
    this.store = new DurableObjectStore(ctx.storage, { now: () => Date.now() + this.#offset });
    ctx.blockConcurrencyWhile(() => this.store.loadAlarm());
  }
  advanceClock(ms) {
    this.#offset += ms;
  }
  op(name, ...args) {
    return this.store[name](...args);
  }
  synchronous() {
    return this.store.synchronous;
  }
  raw(key) {
    return this.ctx.storage.kv.get(key) ?? null;
  }
  rawKeys() {
    return [...this.ctx.storage.kv.list()].map(([k]) => k);
  }
  putRaw(key, value) {
    this.ctx.storage.kv.put(key, value);
  }
  alarmAt() {
    return this.ctx.storage.getAlarm();
  }
  runAlarmNow() {
    return this.store.alarm();
  }
  async alarm() {
    await this.store.alarm();
  }
}

const routes = {
  // The main entry works in workerd and shares one instance with wasm-quota/cloudflare.
  async mainEntry() {
    const engine = new main.QuotaEngine({ store: new main.MemoryStore(), limits: { remix: 1 } });
    const first = engine.reserve({ id: 1 }, "remix");
    const second = engine.reserve({ id: 1 }, "remix");
    let code = null;
    try {
      engine.check({ id: 1 }, "nope");
    } catch (err) {
      code = err instanceof QuotaError ? err.code : `not a QuotaError: ${err}`;
    }
    return {
      allowed: [first.allowed, second.allowed],
      code,
      sameClasses: main.QuotaEngine === QuotaEngine && main.QuotaError === QuotaError,
      cloudflareExports: ["DurableObjectStore", "KvStore", "QuotaDurableObject", "quotaObject"].every((n) => n in main),
    };
  },
  // { zones }: per zone name, the code of the error an engine with a policy in it throws
  // (null when it is taken) and its message.
  zones(env, { zones }) {
    return zones.map((timeZone) => {
      try {
        new main.QuotaEngine({ store: new main.MemoryStore(), limits: { remix: { limit: 1, timeZone } } });
        return { timeZone, code: null };
      } catch (err) {
        return { timeZone, code: err.code, message: err.message };
      }
    });
  },
  // { env }: quotaOptionsFromEnv over this worker's env with `env` laid over it.
  optionsFromEnv(env, { env: over }) {
    return quotaOptionsFromEnv({ ...env, ...over });
  },
  // { binding, id, method, args, raw? }: one call to a profile's QuotaDurableObject.
  async rpc(env, { binding = "QUOTA", id, method, args = [], raw = false }) {
    const ns = env[binding];
    const target = raw ? ns.get(ns.idFromName(quotaObjectName(id))) : quotaObject(ns, id);
    return target[method](...args);
  },
  // { binding, id, feature, n }: n reserves at once from this worker; how many were admitted.
  async concurrent(env, { binding = "QUOTA", id, feature, n }) {
    const decisions = await Promise.all(
      Array.from({ length: n }, () => quotaObject(env[binding], id).reserve({ id }, feature)),
    );
    return { allowed: decisions.filter((d) => d.allowed).length, denied: decisions.filter((d) => !d.allowed).length };
  },
  // { binding, id, feature, n, inFlight }: n reserves on one object, inFlight at a time; for
  // tests/workerd/bench.mjs, which times the request.
  async reserveMany(env, { binding = "QUOTA", id, feature, n, inFlight }) {
    const quota = binding === "PLAIN" ? env.PLAIN.get(env.PLAIN.idFromName(quotaObjectName(id))) : quotaObject(env[binding], id);
    let next = 0;
    let allowed = 0;
    const lane = async () => {
      while (next++ < n) if ((await quota.reserve({ id }, feature)).allowed) allowed++;
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
    return { allowed };
  },
  // { binding, id, feature, n }: n checks one after another (read-only), for bench.mjs.
  async checkMany(env, { binding = "QUOTA", id, feature, n }) {
    const quota = quotaObject(env[binding], id);
    for (let i = 0; i < n; i++) await quota.check({ id }, feature);
    return { n };
  },
  // { ids }: quotaObjectName of each id next to what an engine says to the same id.
  async objectNames(env, { ids }) {
    const engine = new QuotaEngine({ store: new main.MemoryStore(), limits: { remix: 1 } });
    const answer = (f) => {
      try {
        return f();
      } catch (err) {
        return { code: err instanceof QuotaError ? err.code : `not a QuotaError: ${err}`, message: err.message };
      }
    };
    return ids.map((id) => ({ name: answer(() => quotaObjectName(id)), engine: answer(() => engine.check({ id }, "remix").allowed) }));
  },
  async kvUsable(env, { id }) {
    return env.QUOTA_ASYNC.get(env.QUOTA_ASYNC.idFromName(quotaObjectName(id))).kvUsable();
  },
  // { name, method, args }: a StoreProbe call.
  async probe(env, { name, method, args = [] }) {
    return env.PROBE.get(env.PROBE.idFromName(name))[method](...args);
  },
  // { now, limits, calls: [[method, ...args]], options? }: an engine over KvStore with a fixed clock.
  async kvEngine(env, { now, limits, calls, options = {} }) {
    const store = new KvStore(env.QUOTA_KV, { now: () => now });
    const engine = new QuotaEngine({ store, limits, now: () => now, ...options });
    const results = [];
    for (const [method, ...args] of calls) results.push(await settle(() => engine[method](...args)));
    return results;
  },
  // KvStore's worst case under concurrency, made to happen: `before` runs one call after
  // another, then `atOnce` all at once over a namespace that holds its first `held` reads until
  // all of them are pending — every call has read before any has written, as calls racing
  // from several requests or locations may. "$reservation" in an argument is the last `before`
  // decision's reservation.
  // With `rounds` > 1 the next `held` reads are held the same way, `rounds` times in all.
  async kvAtOnce(env, { now, limits, before = [], atOnce, held, rounds = 1 }) {
    let holding = 0;
    let open;
    let gate = new Promise((resolve) => (open = resolve));
    const namespace = {
      async getWithMetadata(key) {
        if (holding > 0 && --holding === 0) {
          open();
          if (--rounds > 0) {
            holding = held;
            gate = new Promise((resolve) => (open = resolve));
          }
        } else if (holding > 0) await gate;
        return env.QUOTA_KV.getWithMetadata(key);
      },
      put: (...args) => env.QUOTA_KV.put(...args),
    };
    const store = new KvStore(namespace, { now: () => now });
    const engine = new QuotaEngine({ store, limits, now: () => now });
    const results = { before: [], atOnce: [] };
    for (const [method, ...args] of before) results.before.push(await settle(() => engine[method](...args)));
    const reservation = results.before.at(-1)?.result?.reservation;
    const fill = (args) => args.map((a) => (a === "$reservation" ? reservation : a));
    holding = held;
    results.atOnce = await Promise.all(atOnce.map(([method, ...args]) => settle(() => engine[method](...fill(args)))));
    return results;
  },
  // The README's KvStore lines, as written there, configured from this worker's env.
  async kvReadme(env, { profile }) {
    const engine = new QuotaEngine({ store: new KvStore(env.QUOTA_KV), ...quotaOptionsFromEnv(env) });
    const d = await engine.reserve(profile, "tips");
    return { d, usage: await engine.usage(profile.id) };
  },
  // { now, calls: [[method, ...args]] }: KvStore calls with a fixed clock.
  async kvStore(env, { now, calls }) {
    const store = new KvStore(env.QUOTA_KV, { now: () => now });
    const results = [];
    for (const [method, ...args] of calls) results.push(await settle(() => store[method](...args)));
    return results;
  },
  async kvList(env, { prefix }) {
    return (await env.QUOTA_KV.list({ prefix })).keys;
  },
  async kvPutRaw(env, { key, value }) {
    await env.QUOTA_KV.put(key, value);
    return null;
  },
};

async function settle(f) {
  try {
    return { result: (await f()) ?? null };
  } catch (err) {
    return { error: describe(err) };
  }
}

function describe(err) {
  return { name: err.name, message: err.message, code: err instanceof QuotaError ? err.code : null };
}

export default {
  async fetch(request, env) {
    const route = routes[new URL(request.url).pathname.slice(1)];
    if (route === undefined) return new Response("no such route", { status: 404 });
    return Response.json(await settle(async () => route(env, await request.json())));
  },
};
