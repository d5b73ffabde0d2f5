// What crosses the RPC boundary between a worker and QuotaDurableObject: the engine options
// read from env, the object chosen for a profile, and errors. Workers RPC keeps an Error's
// message but drops its class and own properties, so a QuotaError travels as
// `Error("[CODE] message")` and is rebuilt on the caller's side.

import { QuotaError } from "../runtime.js";
import { profileObjectName } from "../wasm_quota.js";

const CODED = /^(?:QuotaError: )?\[([A-Z][A-Z_]*)\] ([\s\S]*)$/;

/**
 * The engine options a worker's env configures: `QUOTA_LIMITS` (a JSON object, or an object
 * from a wrangler `[vars]` table), `QUOTA_ENABLED` ("false" = home mode), `QUOTA_KEY_PREFIX`,
 * `QUOTA_STRING_ID_KEYS` (the `stringIdKeys`: "escaped" or "raw"),
 * `QUOTA_RESERVATION_SECRET` (the `tokenSecret`, 16+ characters: `wrangler secret put`).
 * Throws QuotaError INVALID_CONFIG.
 *
 * ```js
 * const engine = new QuotaEngine({ store: new KvStore(env.QUOTA_KV), ...quotaOptionsFromEnv(env) });
 * ```
 */
export function quotaOptionsFromEnv(env) {
  const config = (msg) => new QuotaError("INVALID_CONFIG", msg);
  let limits = env?.QUOTA_LIMITS;
  if (limits === undefined) throw config("QUOTA_LIMITS is not set; set it to a JSON object of feature → daily limit");
  if (typeof limits === "string") {
    try {
      limits = JSON.parse(limits);
    } catch (err) {
      throw new QuotaError("INVALID_CONFIG", `QUOTA_LIMITS is not valid JSON: ${err.message}`, { cause: err });
    }
  }
  const options = { limits };
  const enabled = env.QUOTA_ENABLED;
  if (enabled !== undefined && enabled !== "") {
    if (enabled === true || enabled === "true") options.enabled = true;
    else if (enabled === false || enabled === "false") options.enabled = false;
    else throw config(`QUOTA_ENABLED must be "true" or "false", got ${JSON.stringify(enabled)}`);
  }
  if (env.QUOTA_KEY_PREFIX !== undefined) options.keyPrefix = env.QUOTA_KEY_PREFIX;
  // "" is refused too, not read as unset: which key a profile counts on is never guessed.
  const stringIdKeys = env.QUOTA_STRING_ID_KEYS;
  if (stringIdKeys !== undefined) {
    if (stringIdKeys !== "escaped" && stringIdKeys !== "raw") {
      throw config(`QUOTA_STRING_ID_KEYS must be "escaped" or "raw", got ${JSON.stringify(stringIdKeys)}`);
    }
    options.stringIdKeys = stringIdKeys;
  }
  if (env.QUOTA_RESERVATION_SECRET !== undefined) options.tokenSecret = env.QUOTA_RESERVATION_SECRET;
  return options;
}

/** The error to throw across RPC: a QuotaError's code goes first in the message. */
export function toRpcError(err) {
  if (!(err instanceof QuotaError)) return err;
  // The cause cannot cross RPC either: its text goes along, unless the message has it already.
  const cause = err.cause === undefined ? "" : err.cause instanceof Error ? err.cause.message : String(err.cause);
  const tail = cause === "" || err.message.includes(cause) ? "" : `: ${cause}`;
  return new Error(`[${err.code}] ${err.message}${tail}`);
}

/**
 * An error that came over RPC from QuotaDurableObject as a QuotaError with its `code` again
 * (the RPC error is its `cause`); any other value is returned as it is.
 *
 * ```js
 * try { await env.QUOTA.get(id).reserve(profile, "remix"); }
 * catch (e) { if (recoverQuotaError(e).code === "UNKNOWN_FEATURE") return new Response(null, { status: 404 }); throw e; }
 * ```
 */
export function recoverQuotaError(err) {
  if (err instanceof QuotaError || !(err instanceof Error)) return err;
  const m = CODED.exec(err.message);
  return m === null ? err : new QuotaError(m[1], m[2], { cause: err });
}

/** The Durable Object name for a profile id: numbers as digits, strings as "~" + the string.
 *  The id is checked by the engine's own rule (in the WASM), so an id the engine refuses is
 *  refused here with the same QuotaError, never named lossily. */
export function quotaObjectName(profileId) {
  return profileObjectName(profileId);
}

/**
 * The stub of `profileId`'s QuotaDurableObject in `namespace`, whose calls reject with real
 * QuotaErrors (code restored). Any method the class has is callable through it.
 *
 * ```js
 * const d = await quotaObject(env.QUOTA, profile.id).reserve(profile, "remix");
 * ```
 */
export function quotaObject(namespace, profileId) {
  const stub = namespace.get(namespace.idFromName(quotaObjectName(profileId)));
  return new Proxy(stub, {
    get(target, name) {
      // Not "then": the client must not look like a Promise.
      if (typeof name !== "string" || name === "then") return undefined;
      return (...args) =>
        Promise.resolve(target[name](...args)).catch((err) => {
          throw recoverQuotaError(err);
        });
    },
  });
}
