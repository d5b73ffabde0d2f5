// JS half of the binding: the error class, the decision builder, and the small helpers the
// WASM calls once per result (one call instead of one per field). The generated glue imports this file.

/** Every error the engine throws or rejects with. `code` is stable; `cause` keeps the host's own exception. */
export class QuotaError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = "QuotaError";
    this.code = code;
  }
}

export function quotaError(code, message, cause) {
  return cause === undefined ? new QuotaError(code, message) : new QuotaError(code, message, { cause });
}

/**
 * Every decision `check`, `reserve` and `increment` answer is built here, so that its shapes —
 * which fields, in which order (hosts log and compare them) — are written once:
 * - `storeError` given (the store failed and `onStoreError` decided):
 *   `{ allowed, feature, degraded: "store-error", error, retryAfter: 0 }` — retryAfter 0: when
 *   the store comes back is unknown, and a host's `if (!d.allowed)` path reads it;
 * - no `limit` (quotas off, or an unlimited profile): `{ allowed: true, unlimited: true, feature }`;
 * - else `{ allowed, feature, limit, used, remaining, resetsAt, retryAfter }`, then each that
 *   applies: `reservation` (an admitted reserve's token), `policy` and `window` (a policy given
 *   as an object; plain-number limits keep the foundation's exact shape), `replayed: true`.
 * The WASM calls it for degraded decisions (src/bind/js.rs), engine.js for the others.
 */
export function decision(allowed, feature, storeError, limit, used, remaining, resetsAt, retryAfter, reservation, policy, window, replayed) {
  if (storeError !== undefined) return { allowed, feature, degraded: "store-error", error: storeError, retryAfter: 0 };
  if (limit === undefined) return { allowed: true, unlimited: true, feature };
  const d = { allowed, feature, limit, used, remaining, resetsAt, retryAfter };
  if (reservation !== undefined) d.reservation = reservation;
  if (policy !== undefined) {
    d.policy = policy;
    d.window = window;
  }
  if (replayed) d.replayed = true;
  return d;
}

// Rejection marker of withTimeout; the driver turns it into a STORE_TIMEOUT QuotaError.
const STORE_TIMEOUT = Object.freeze({ storeTimeout: true });

export function isStoreTimeout(v) {
  return v === STORE_TIMEOUT;
}

// Only reached for async store answers, never on the sync path. The timer is cleared as soon
// as the answer settles, so a pending timer never keeps a Node process alive.
export function withTimeout(value, ms) {
  if (!isThenable(value)) return Promise.resolve(value);
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(STORE_TIMEOUT), ms);
  });
  return Promise.race([value, late]).finally(() => clearTimeout(timer));
}

export function isThenable(v) {
  return v !== null && (typeof v === "object" || typeof v === "function") && typeof v.then === "function";
}

/** A copy of `v` as plain data, `levels` deep: arrays and objects copied field by field (own
 *  enumerable string keys, into prototype-less objects so that "__proto__" stays a field;
 *  fields that are undefined left out, as if not given), anything else — and anything deeper —
 *  as it is. Rust reads the copy with serde, so no getter runs inside WASM: what a getter
 *  throws is thrown here. A string that is not well-formed UTF-16 (Rust would read a lone
 *  surrogate as U+FFFD) throws a LoneSurrogate saying where it is. */
export function plainData(v, levels, path = "") {
  if (typeof v === "string") {
    if (!v.isWellFormed()) throw new LoneSurrogate(path);
    return v;
  }
  if (v === null || typeof v !== "object" || levels === 0) return v;
  if (Array.isArray(v)) return Array.from(v, (x, i) => plainData(x, levels - 1, `${path}[${i}]`));
  const copy = Object.create(null);
  for (const k of Object.keys(v)) {
    const x = v[k];
    if (x !== undefined) copy[k] = plainData(x, levels - 1, `${path}.${k}`);
  }
  return copy;
}

/** A method's options as `start` reads them: `o`'s own enumerable fields, each read once, and
 *  `amount` (and `idempotencyKey` when `withKey`) read as `o.amount` reads them when they are
 *  not among those (inherited from a prototype, or not enumerable), as a Web API reads its
 *  options and as the engine's fast path does. Anything but a plain object is returned as it is. */
export function methodOptionsData(o, withKey) {
  if (o === null || typeof o !== "object" || Array.isArray(o)) return o;
  const copy = Object.create(null);
  for (const k of Object.keys(o)) copy[k] = o[k];
  for (const k of withKey ? ["amount", "idempotencyKey"] : ["amount"]) {
    if (Object.hasOwn(copy, k)) continue;
    const v = o[k]; // once: a getter is not asked twice
    if (v !== undefined) copy[k] = v;
  }
  return copy;
}

class LoneSurrogate {
  constructor(path) {
    this.path = path;
  }
}

export function loneSurrogateAt(thrown) {
  return thrown instanceof LoneSurrogate ? thrown.path : undefined;
}

export function ownKeys(o) {
  return Object.keys(o);
}

// defineProperty, not assignment: a feature named "__proto__" must become a field.
export function defineField(o, k, v) {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

export function isWellFormed(s) {
  return s.isWellFormed();
}

export function typeName(v) {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

// Time zones come from the host's Intl (no tz data in the .wasm). One formatter per zone.
const zoneFormats = new Map();

function zoneFormat(timeZone) {
  let f = zoneFormats.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
      hour: "numeric", minute: "numeric", second: "numeric",
    });
    zoneFormats.set(timeZone, f);
  }
  return f;
}

/** UTC offset of `timeZone` at the instant `ms`, in ms (wall time = ms + offset). */
export function zoneOffset(timeZone, ms) {
  const t = Math.floor(ms / 1000) * 1000; // Intl shows whole seconds
  const p = {};
  for (const { type, value } of zoneFormat(timeZone).formatToParts(t)) p[type] = value;
  return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - t;
}

/** Intl's spelling of a zone name; throws RangeError for a zone the host does not know. */
export function canonicalTimeZone(name) {
  return new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone;
}

/** 32 random bits: seeds the nonces that make each reservation token unique. */
export function randomWord() {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** Numbers in error messages, formatted by JS (keeps float formatting out of the .wasm). */
export function numberText(n) {
  return String(n);
}
