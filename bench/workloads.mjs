// The workloads of `make bench`: request sequences built once from a seeded generator, so every
// contender of a suite sees exactly the same requests. Busy profiles are picked far more often
// than the rest (rand³), so some run into their limits while most do not: a mix of allowed and
// denied calls, as in production.

/** A seeded generator of floats in [0, 1). */
export function generator(seed = 0x9e3779b9) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
}

/** The Django service's limits: six features, a number per UTC day each. */
export const DJANGO_LIMITS = { remix: 10, remix_suggestions: 20, scale: 10, tips: 20, discover: 10, timer: 10 };

/** Token-style limits: `chat` counts tokens per UTC hour and per UTC day (both must pass);
 *  `embed` counts tokens per UTC day (a plain number). */
export const TOKEN_LIMITS = {
  chat: [
    { limit: 20_000, window: "hour" },
    { limit: 100_000, window: "day" },
  ],
  embed: 50_000,
};

const pick = (rand, xs) => xs[Math.floor(xs.length * rand())];
const skewed = (rand, xs) => xs[Math.floor(xs.length * rand() ** 3)];

/** Numeric ids 1..profiles, features of DJANGO_LIMITS, amount 1: the Django service's shape. */
export function djangoWorkload(ops, profiles = 10_000, rand = generator()) {
  const people = Array.from({ length: profiles }, (_, i) => ({ id: i + 1 }));
  const features = Object.keys(DJANGO_LIMITS);
  const who = new Array(ops);
  const what = new Array(ops);
  for (let i = 0; i < ops; i++) {
    who[i] = skewed(rand, people);
    what[i] = pick(rand, features);
  }
  return { who, what };
}

/** The same requests with each numeric-id profile replaced by one with a UUID string id (one
 *  per profile, so every contender admits the same number). */
export function withUuidIds({ who, what }, rand = generator(0x2468ace)) {
  const ids = new Map();
  const uuidWho = who.map((p) => {
    let q = ids.get(p);
    if (q === undefined) ids.set(p, (q = { id: uuid(rand) }));
    return q;
  });
  return { who: uuidWho, what };
}

/** The limits of `limits` (plain numbers) as policy objects: `{ limit }`, the same UTC-day
 *  counters under the same keys. */
export const asPolicyObjects = (limits) =>
  Object.fromEntries(Object.entries(limits).map(([f, limit]) => [f, { limit }]));

/** A version-4 UUID string from `rand`, as apps use for user ids: one flat string, as
 *  `JSON.parse` or a database driver hands an id over. (A template literal would make a V8
 *  rope, a "cons string", which no id source produces and every `Map` lookup of it pays for
 *  with a hop to its flattened text: bench/RESULTS.md, "UUIDs as apps get them".) */
function uuid(rand) {
  const hex = (n) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join("");
  return [hex(8), hex(4), "4" + hex(3), "89ab"[Math.floor(rand() * 4)] + hex(3), hex(12)].join("-");
}

/** UUID string ids, features of TOKEN_LIMITS, `amount` from 1 to 500 (tokens). */
export function tokenWorkload(ops, profiles = 10_000, rand = generator(0x1234567)) {
  const people = Array.from({ length: profiles }, () => ({ id: uuid(rand) }));
  const features = Object.keys(TOKEN_LIMITS);
  const who = new Array(ops);
  const what = new Array(ops);
  const amount = new Array(ops);
  for (let i = 0; i < ops; i++) {
    who[i] = skewed(rand, people);
    what[i] = pick(rand, features);
    amount[i] = 1 + Math.floor(rand() * 500);
  }
  return { who, what, amount };
}

/** The Django service's shape, each request with an idempotency key; a quarter are retries of one of the
 *  previous 100 requests (same profile, feature and key), the rest new keys. */
export function idempotentWorkload(ops, profiles = 10_000, rand = generator(0x7654321)) {
  const { who, what } = djangoWorkload(ops, profiles, rand);
  const key = new Array(ops);
  for (let i = 0; i < ops; i++) {
    if (i > 0 && rand() < 0.25) {
      const j = Math.max(0, i - 1 - Math.floor(rand() * 100));
      who[i] = who[j];
      what[i] = what[j];
      key[i] = key[j];
    } else {
      key[i] = `req-${i.toString(36)}`;
    }
  }
  return { who, what, key };
}
