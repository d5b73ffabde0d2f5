// What a user writes when they bring their own store: a plain object over a Map with the four
// QuotaStore methods, synchronous or async, and with the contract's two optional upserts too.
// The bench runs wasm-quota, tuned plain JS and rate-limiter-flexible over workloads through these.

/** A synchronous QuotaStore: a plain object over a Map of { value, expiresAt }; `upserts`
 *  adds incrOrCreate and incrOrCreateWithin. */
export function mapStore(now = Date.now, { upserts = false } = {}) {
  const entries = new Map();
  const live = (key) => {
    const e = entries.get(key);
    if (e === undefined || e.expiresAt > now()) return e;
    entries.delete(key);
    return undefined;
  };
  const store = {
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
  if (!upserts) return store;
  store.incrOrCreate = (key, delta, ttlSeconds) => {
    const e = live(key);
    if (e !== undefined) return (e.value += delta);
    entries.set(key, { value: delta, expiresAt: now() + ttlSeconds * 1000 });
    return delta;
  };
  store.incrOrCreateWithin = (key, delta, ttlSeconds, limit) => {
    const e = live(key);
    const n = (e === undefined ? 0 : e.value) + delta;
    if (n > limit) return n;
    if (e !== undefined) e.value = n;
    else entries.set(key, { value: n, expiresAt: now() + ttlSeconds * 1000 });
    return n;
  };
  return store;
}

/** The same store with `async` methods: every answer is a Promise. */
export function asyncMapStore(now = Date.now, { upserts = false } = {}) {
  const s = mapStore(now, { upserts });
  const store = {
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
  if (upserts) {
    store.incrOrCreate = async (key, delta, ttlSeconds) => s.incrOrCreate(key, delta, ttlSeconds);
    store.incrOrCreateWithin = async (key, delta, ttlSeconds, limit) => s.incrOrCreateWithin(key, delta, ttlSeconds, limit);
  }
  return store;
}
