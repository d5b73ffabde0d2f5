// Tuned plain-JS contenders written for the bench's other workloads, with the engine's
// semantics: the same keys, every policy must pass and a refused request counts nothing.
import { TunedJs } from "./contenders.mjs";

const UNIT_MS = { hour: 3_600_000, day: 86_400_000 };

/** Token-style limits (hour and day policies, any amount) over string or numeric ids: one
 *  counter Map per window unit, dropped when the unit's window rolls over (that is the TTL),
 *  window labels cached per window, a boolean result. */
export class TunedTokens {
  #features = new Map(); // feature -> [{ limit, unit }]
  #prefix;
  #windows = { hour: { end: 0, label: "", counts: new Map() }, day: { end: 0, label: "", counts: new Map() } };

  constructor(limits, prefix = "ai_quota") {
    for (const [feature, l] of Object.entries(limits)) {
      const policies = typeof l === "number" ? [{ limit: l }] : [l].flat();
      this.#features.set(feature, policies.map((p) => ({ limit: p.limit, unit: p.window ?? "day" })));
    }
    this.#prefix = prefix + ":";
  }

  reserve(profile, feature, amount) {
    const policies = this.#features.get(feature);
    if (policies === undefined) throw new Error(`Unknown quota feature: ${feature}`);
    const now = Date.now();
    const id = profile.id;
    const base = this.#prefix + (typeof id === "number" ? id : "~" + escapeId(id)) + ":" + feature + ":";
    const n = policies.length;
    const keys = new Array(n);
    const counts = new Array(n);
    for (let i = 0; i < n; i++) {
      const w = this.#window(policies[i].unit, now);
      const key = base + w.label;
      const c = w.counts.get(key) ?? 0;
      if (c + amount > policies[i].limit) return false;
      keys[i] = key;
      counts[i] = c;
    }
    for (let i = 0; i < n; i++) this.#windows[policies[i].unit].counts.set(keys[i], counts[i] + amount);
    return true;
  }

  #window(unit, now) {
    const w = this.#windows[unit];
    if (now >= w.end) {
      const ms = UNIT_MS[unit];
      const start = now - (now % ms);
      w.end = start + ms;
      const iso = new Date(start).toISOString();
      w.label = unit === "hour" ? iso.slice(0, 13) : iso.slice(0, 10);
      w.counts = new Map();
    }
    return w;
  }
}

function escapeId(id) {
  return id.includes("%") || id.includes(":") ? id.replaceAll("%", "%25").replaceAll(":", "%3A") : id;
}

/** (d) with idempotency keys: a retry with a key already answered gets that answer again and
 *  counts nothing. */
export class TunedIdempotent {
  #quota;
  #answers = new Map(); // "id:feature:key" -> allowed

  constructor(limits) {
    this.#quota = new TunedJs(limits);
  }

  reserve(profile, feature, key) {
    const record = profile.id + ":" + feature + ":" + key;
    const earlier = this.#answers.get(record);
    if (earlier !== undefined) return earlier;
    const allowed = this.#quota.reserve(profile, feature);
    this.#answers.set(record, allowed);
    return allowed;
  }
}

/** The tuned reserve over an async QuotaStore (every method returns a Promise): the Django service's
 *  incr → add → incr → set dance and roll-back, one await per store call. */
export class TunedOverAsyncStore {
  #limits;
  #store;
  #prefix;
  #dayEnd = 0;
  #day = "";

  constructor(limits, store, prefix = "ai_quota") {
    this.#limits = new Map(Object.entries(limits));
    this.#store = store;
    this.#prefix = prefix + ":";
  }

  async reserve(profile, feature) {
    const limit = this.#limits.get(feature);
    if (limit === undefined) throw new Error(`Unknown quota feature: ${feature}`);
    const now = Date.now();
    if (now >= this.#dayEnd) {
      const start = now - (now % 86_400_000);
      this.#dayEnd = start + 86_400_000;
      this.#day = ":" + new Date(start).toISOString().slice(0, 10);
    }
    const key = this.#prefix + profile.id + ":" + feature + this.#day;
    const store = this.#store;
    let n = await store.incr(key, 1);
    if (n === null) {
      const ttl = Math.max(1, Math.ceil((this.#dayEnd - now) / 1000));
      if (await store.add(key, 1, ttl)) n = 1;
      else if ((n = await store.incr(key, 1)) === null) {
        await store.set(key, 1, ttl);
        n = 1;
      }
    }
    if (n > limit) {
      await store.incr(key, -1);
      return false;
    }
    return true;
  }
}
