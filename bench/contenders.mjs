// The plain-JavaScript contenders the WASM engine is measured against. Each one implements
// the Django service's reserve (quota.py `reserve_quota`) over an in-process Map with the Django service's keys and
// TTLs to the next UTC midnight, so every contender admits exactly the same requests.

const DAY_MS = 86_400_000;

/** (c) A line-by-line port of the Django service: the date is formatted and the TTL computed per call,
 *  the Map behaves like Django's cache (incr fails on a missing key, add/set with a timeout). */
export class DjangoPort {
  constructor(limits) {
    this.limits = limits;
    this.cache = new DjangoLikeCache();
  }

  reserve(profile, feature) {
    if (!Object.hasOwn(this.limits, feature)) throw new Error(`Unknown quota feature: ${feature}`);
    const limit = this.limits[feature];
    const key = cacheKey(profile.id, feature);
    const ttl = secondsUntilMidnightUtc();
    let newCount;
    try {
      newCount = this.cache.incr(key, 1);
    } catch {
      if (this.cache.add(key, 1, ttl)) {
        newCount = 1;
      } else {
        try {
          newCount = this.cache.incr(key, 1);
        } catch {
          this.cache.set(key, 1, ttl);
          newCount = 1;
        }
      }
    }
    if (newCount > limit) {
      try {
        this.cache.incr(key, -1);
      } catch {
        // the Django service ignores a key that vanished
      }
      return [false, { remaining: 0, limit, used: newCount - 1, resets_at: nextMidnightUtcIso() }];
    }
    return [true, {}];
  }
}

function cacheKey(profileId, feature) {
  const today = new Date().toISOString().slice(0, 10);
  return `ai_quota:${profileId}:${feature}:${today}`;
}

function secondsUntilMidnightUtc() {
  const now = Date.now();
  const tomorrow = Math.floor(now / DAY_MS) * DAY_MS + DAY_MS;
  return Math.floor((tomorrow - now) / 1000);
}

function nextMidnightUtcIso() {
  return new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS + DAY_MS).toISOString();
}

class DjangoLikeCache {
  #map = new Map(); // key -> { value, expiresAt }

  #live(key) {
    const e = this.#map.get(key);
    if (e !== undefined && e.expiresAt <= Date.now()) {
      this.#map.delete(key);
      return undefined;
    }
    return e;
  }

  incr(key, delta) {
    const e = this.#live(key);
    if (e === undefined) throw new Error(`Key '${key}' not found`);
    e.value += delta;
    return e.value;
  }

  add(key, value, ttl) {
    if (this.#live(key) !== undefined) return false;
    this.set(key, value, ttl);
    return true;
  }

  set(key, value, ttl) {
    this.#map.set(key, { value, expiresAt: Date.now() + ttl * 1000 });
  }
}

/** (d) The fastest plain-JS reserve we could write with the same semantics: limits in a Map,
 *  the day string and the day's end cached (recomputed only at rollover), one counter Map per
 *  UTC day (every key of a day expires at the same midnight, so dropping the day's Map at
 *  rollover is the TTL), the Django service's key string, a boolean result. */
export class TunedJs {
  #limits;
  #prefix;
  #dayEnd = 0;
  #day = "";
  #counts = new Map();

  constructor(limits, prefix = "ai_quota") {
    this.#limits = new Map(Object.entries(limits));
    this.#prefix = prefix + ":";
  }

  reserve(profile, feature) {
    const limit = this.#limits.get(feature);
    if (limit === undefined) throw new Error(`Unknown quota feature: ${feature}`);
    const now = Date.now();
    if (now >= this.#dayEnd) this.#rollover(now);
    const key = this.#prefix + profile.id + ":" + feature + this.#day;
    const n = (this.#counts.get(key) ?? 0) + 1;
    if (n > limit) return false;
    this.#counts.set(key, n);
    return true;
  }

  #rollover(now) {
    const start = now - (now % DAY_MS);
    this.#dayEnd = start + DAY_MS;
    this.#day = ":" + new Date(start).toISOString().slice(0, 10);
    this.#counts = new Map();
  }
}

/** (f) The tuned version (d), but over a QuotaStore — the same MemoryStore (a) uses — with the
 *  Django service's incr → add → incr → set dance and roll-back: what the store contract itself costs,
 *  so (a)/(f) is the engine's own overhead over the same store. */
export class TunedOverStore {
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

  reserve(profile, feature) {
    const limit = this.#limits.get(feature);
    if (limit === undefined) throw new Error(`Unknown quota feature: ${feature}`);
    const now = Date.now();
    if (now >= this.#dayEnd) {
      const start = now - (now % DAY_MS);
      this.#dayEnd = start + DAY_MS;
      this.#day = ":" + new Date(start).toISOString().slice(0, 10);
    }
    const key = this.#prefix + profile.id + ":" + feature + this.#day;
    const store = this.#store;
    let n = store.incr(key, 1);
    if (n === null) {
      const ttl = Math.max(1, Math.ceil((this.#dayEnd - now) / 1000));
      if (store.add(key, 1, ttl)) n = 1;
      else if ((n = store.incr(key, 1)) === null) {
        store.set(key, 1, ttl);
        n = 1;
      }
    }
    if (n > limit) {
      store.incr(key, -1);
      return false;
    }
    return true;
  }
}
