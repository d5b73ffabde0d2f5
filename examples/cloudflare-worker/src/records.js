// Records of requests made with an Idempotency-Key (IETF httpapi draft), over a Durable Object's
// synchronous storage.kv. Plain functions of (kv, now), so that tests run them on any clock;
// requests.js calls them from the profile's object, which runs one call at a time: "is this key
// new?" and "it is mine now" are one step, so two retries can never both start the work.
//
// A record is { fingerprint, response, owner, leaseUntil, expiresAt }. While `response` is null
// the request is running, under a lease: the attempt `owner` may take until `leaseUntil` (the
// worker gives its work less than that, and abandons it past it). A worker that died mid-call
// never finishes nor forgets its record; once the lease has passed, a retry takes the key over
// as a new owner. Only the record's current owner may finish or forget it, so an attempt that
// outlived its lease can neither overwrite its successor's response nor free its key.

// Keys of request records: never a counter's (those start with the key prefix, "ai_quota:").
export const PREFIX = "request:";
// A kept response is at most this long (its JSON). A longer one is replaced by NOT_KEPT: the
// request was made, but its response cannot be replayed.
export const MAX_RESPONSE_CHARS = 16_384;
const DAY_MS = 86_400_000;
// A first response is kept this long after it was sent, however near midnight that was: a retry
// just after midnight of a request answered just before it gets the response, rather than
// running the work again (and counting it again, in the new day).
export const KEEP_MS = DAY_MS;

/** What a retry of a request whose response was too long to keep gets. */
export const NOT_KEPT = {
  status: 409,
  body: { error: "response_not_kept", message: "this request was already made; its response was too long to keep" },
  headers: {},
};

/**
 * Starts request `key` with body `fingerprint` at `now` for at most `leaseMs`, or says why not:
 * `{ state: "new", owner, leaseUntil }` (run it as `owner`), `"running"` (409), `"mismatch"`
 * (another body: 422) or `{ state: "done", response }` (replay the first response).
 */
export function beginRequest(kv, key, fingerprint, { now, leaseMs, owner }) {
  const seen = kv.get(PREFIX + key);
  const live = seen !== undefined && seen.expiresAt > now;
  if (live) {
    if (seen.fingerprint !== fingerprint) return { state: "mismatch" };
    if (seen.response !== null) return { state: "done", response: seen.response };
    if (seen.leaseUntil > now) return { state: "running" };
    // The lease has passed: the first attempt died (or gave up): this one takes over.
  }
  // While it runs: until the end of the UTC day, as long as the engine's own record of a daily
  // feature, and never before the lease ends: a record that expired at midnight mid-lease would
  // let a retry start the work a second time while the first attempt still runs. Finished, it
  // is kept KEEP_MS longer (finishRequest).
  const leaseUntil = now + leaseMs;
  const expiresAt = Math.max((Math.floor(now / DAY_MS) + 1) * DAY_MS, leaseUntil);
  kv.put(PREFIX + key, { fingerprint, response: null, owner, leaseUntil, expiresAt });
  return { state: "new", owner, leaseUntil };
}

/**
 * Keeps the first response of `key` ({ status, body, headers }) for its retries until KEEP_MS
 * after `now`, if `owner` still holds the key; a response longer than MAX_RESPONSE_CHARS is kept
 * as NOT_KEPT. Returns whether this owner's record was finished.
 */
export function finishRequest(kv, key, owner, response, now) {
  const seen = kv.get(PREFIX + key);
  if (seen === undefined || seen.owner !== owner || seen.response !== null) return false;
  const kept = JSON.stringify(response).length > MAX_RESPONSE_CHARS ? NOT_KEPT : response;
  kv.put(PREFIX + key, { ...seen, response: kept, expiresAt: Math.max(seen.expiresAt, now + KEEP_MS) });
  return true;
}

/** Forgets `key` if `owner` still holds it: the request was denied or failed, so a retry runs. */
export function forgetRequest(kv, key, owner) {
  const seen = kv.get(PREFIX + key);
  if (seen === undefined || seen.owner !== owner || seen.response !== null) return false;
  kv.delete(PREFIX + key);
  return true;
}

/**
 * `promise`, or a rejection once `ms` have passed without it settling: the work of a leased
 * attempt is abandoned before its lease ends (what it still does is discarded), so no other
 * attempt ever runs while it may.
 */
export function withDeadline(promise, ms) {
  if (ms === Infinity) return promise;
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("the work ran out of its Idempotency-Key lease")), Math.max(0, ms));
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
