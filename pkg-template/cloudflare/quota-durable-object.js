// QuotaDurableObject: the engine inside a Durable Object, one object per profile. Every call
// for a profile goes through that one object, which handles one event at a time, and the
// engine runs synchronously over `ctx.storage.kv` — so reserves are atomic however many
// requests arrive at once, from however many places.

import { DurableObject } from "cloudflare:workers";
import { QuotaEngine } from "../engine.js";
import { isThenable, QuotaError } from "../runtime.js";
import { DurableObjectStore } from "../stores/durable-object.js";
import { quotaObjectName, quotaOptionsFromEnv, toRpcError } from "./rpc.js";

/**
 * Re-export it from your worker and bind it (see the package README):
 *
 * ```js
 * export { QuotaDurableObject } from "wasm-quota/cloudflare";
 * const d = await quotaObject(env.QUOTA, profile.id).reserve(profile, "remix");
 * ```
 *
 * Its RPC methods are the engine's, with the same arguments and results. Reservation tokens are
 * signed with `QUOTA_RESERVATION_SECRET` from env when set, else with a secret the object keeps
 * in its own storage (so they survive eviction and restarts). A QuotaError leaves
 * the object as an Error whose message starts with `[CODE] ` (RPC keeps only the message);
 * `quotaObject()` turns it back into a QuotaError, `recoverQuotaError()` does it by hand.
 */
// Where an object without QUOTA_RESERVATION_SECRET keeps the secret of its reservation tokens,
// so that they survive eviction and restarts. Not a counter: the alarm never sweeps it.
const TOKEN_SECRET_KEY = "wasm-quota:token-secret";
// Where the object keeps the name it was reached by (see objectName). Not a counter either.
const NAME_KEY = "wasm-quota:object-name";

export class QuotaDurableObject extends DurableObject {
  #engine = null;
  #configError = null;
  #store;
  #name; // the name it was reached by (quotaObject's), or undefined

  constructor(ctx, env) {
    super(ctx, env);
    this.#store = new DurableObjectStore(ctx.storage);
    // No call is delivered before this finishes.
    ctx.blockConcurrencyWhile(async () => {
      await this.#store.loadAlarm();
      try {
        this.#name = await objectName(ctx);
        const options = quotaOptionsFromEnv(env);
        options.tokenSecret ??= await tokenSecret(ctx.storage);
        this.#engine = new QuotaEngine({ store: this.#store, ...options });
      } catch (err) {
        // Kept and thrown by every call, so a bad QUOTA_LIMITS shows up in the caller's logs.
        this.#configError = err;
      }
    });
  }

  /** engine.check(profile, feature, options) */
  check(profile, feature, options) {
    return this.#call("check", profile, feature, options);
  }

  /** engine.reserve(profile, feature, options) */
  reserve(profile, feature, options) {
    return this.#call("reserve", profile, feature, options);
  }

  /** engine.release(profile, featureOrReservation, options) */
  release(profile, featureOrReservation, options) {
    return this.#call("release", profile, featureOrReservation, options);
  }

  /** engine.settle(profile, reservation, actualAmount): applied at most once per reservation. */
  settle(profile, reservation, actualAmount) {
    return this.#call("settle", profile, reservation, actualAmount);
  }

  /** engine.increment(profile, feature, options) */
  increment(profile, feature, options) {
    return this.#call("increment", profile, feature, options);
  }

  /** engine.usage(profileId) */
  usage(profileId) {
    return this.#call("usage", profileId);
  }

  /** Deletes expired counters (the store schedules the alarm). */
  async alarm() {
    await this.#store.alarm();
  }

  // Runs one engine method; a QuotaError becomes an Error that survives RPC. A new RPC method
  // is one line calling this.
  #call(method, ...args) {
    try {
      if (this.#configError !== null) throw this.#configError;
      this.#ownProfileOnly(method === "usage" ? args[0] : args[0]?.id); // usage(profileId), the others (profile, …)
      const result = this.#engine[method](...args);
      return isThenable(result) ? result.then(undefined, (err) => Promise.reject(toRpcError(err))) : result;
    } catch (err) {
      throw toRpcError(err);
    }
  }

  // A profile's counters live in the object named for it (quotaObject): counted in another
  // object as well, it would get its limit once per object, and its reserves would no longer
  // run one at a time. So an object that knows its name (reached by idFromName or getByName)
  // refuses every other profile. An id the engine refuses is left for the engine to report.
  #ownProfileOnly(id) {
    const name = this.#name;
    if (name === undefined) return;
    let own;
    try {
      own = quotaObjectName(id);
    } catch {
      return;
    }
    if (own !== name) {
      throw new QuotaError(
        "INVALID_ARGUMENT",
        `profile id ${JSON.stringify(id)} belongs to the Durable Object named "${own}", not to this one ("${name}"): ` +
          "reach it with quotaObject(namespace, profile.id)",
      );
    }
  }
}

// The name the object was reached by (idFromName, getByName), or undefined. workerd gives an
// instance that an alarm started after a restart no ctx.id.name, for as long as that instance
// lives (the alarm at each window's end wakes the object), so the name is kept in storage the
// first time it is seen: without it such an instance counted any profile.
async function objectName(ctx) {
  const kept = await ctx.storage.get(NAME_KEY);
  const name = ctx.id.name;
  if (typeof name !== "string") return typeof kept === "string" ? kept : undefined;
  if (kept !== name) await ctx.storage.put(NAME_KEY, name);
  return name;
}

// The object's own token secret: read from its storage, or made (256 random bits) and kept there.
async function tokenSecret(storage) {
  const kept = await storage.get(TOKEN_SECRET_KEY);
  if (typeof kept === "string") return kept;
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const secret = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  await storage.put(TOKEN_SECRET_KEY, secret);
  return secret;
}
