// What a user writes when they bring their own store: a plain object over a Map with the four
// QuotaStore methods, synchronous or async. The bench runs wasm-quota, tuned plain JS and
// rate-limiter-flexible over workloads through these.

/** A synchronous QuotaStore: a plain object over a Map of { value, expiresAt }. */
export function mapStore(now = Date.now) {
  const entries = new Map();
  const live = (key) => {
    const e = entries.get(key);
    if (e === undefined || e.expiresAt > now()) return e;
    entries.delete(key);
    return undefined;
  };
  return {
    get(key) {
      const e = live(key);
      return e === undefined ? null : e.value;
    },
    incr(key, delta) {
      const e = live(key);
      return e === undefined ? null : (e.value += delta);
    },
    add(key, value, ttlSeconds) {
      if (live(key) !== undefined) return false;
      entries.set(key, { value, expiresAt: now() + ttlSeconds * 1000 });
      return true;
    },
    set(key, value, ttlSeconds) {
      entries.set(key, { value, expiresAt: now() + ttlSeconds * 1000 });
    },
  };
}

/** The same store with `async` methods: every answer is a Promise. */
export function asyncMapStore(now = Date.now) {
  const s = mapStore(now);
  return {
    async get(key) {
      return s.get(key);
    },
    async incr(key, delta) {
      return s.incr(key, delta);
    },
    async add(key, value, ttlSeconds) {
      return s.add(key, value, ttlSeconds);
    },
    async set(key, value, ttlSeconds) {
      return s.set(key, value, ttlSeconds);
    },
  };
}
