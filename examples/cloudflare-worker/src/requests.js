// The profile's Durable Object: the package's QuotaDurableObject plus a record of each request
// made with an Idempotency-Key (IETF httpapi draft), kept next to the profile's counters. The
// object runs one call at a time over the synchronous storage.kv, so "is this key new?" and
// "it is mine now" are one step: two concurrent retries can never both start the work.
import { QuotaDurableObject as QuotaObject } from "wasm-quota/cloudflare";

// Keys of request records: never a counter's (those start with the key prefix, "ai_quota:").
const PREFIX = "request:";
// A kept response is at most this long (its JSON); the stand-in's output is cut to fit.
export const MAX_RESPONSE_CHARS = 16_384;
// Expired records deleted per alarm, so a sweep never runs over its time limit.
const SWEEP_BATCH = 500;
const DAY_MS = 86_400_000;

export class QuotaDurableObject extends QuotaObject {
  /**
   * Starts the request `key` with body `fingerprint`, or says why not:
   * `{ state: "new" }` (run it), `"running"` (409), `"mismatch"` (another body: 422) or
   * `{ state: "done", response }` (replay the first response).
   */
  beginRequest(key, fingerprint) {
    const kv = this.ctx.storage.kv;
    const seen = kv.get(PREFIX + key);
    if (seen !== undefined && seen.expiresAt > Date.now()) {
      if (seen.fingerprint !== fingerprint) return { state: "mismatch" };
      return seen.response === null ? { state: "running" } : { state: "done", response: seen.response };
    }
    // Until the end of the UTC day, as long as the engine's own record of a daily feature.
    const expiresAt = (Math.floor(Date.now() / DAY_MS) + 1) * DAY_MS;
    kv.put(PREFIX + key, { fingerprint, response: null, expiresAt });
    return { state: "new" };
  }

  /** Keeps the first response of `key` ({ status, body, headers }), for its retries. */
  finishRequest(key, response) {
    const kv = this.ctx.storage.kv;
    const seen = kv.get(PREFIX + key);
    if (seen === undefined || JSON.stringify(response).length > MAX_RESPONSE_CHARS) return false;
    kv.put(PREFIX + key, { ...seen, response });
    return true;
  }

  /** Forgets `key`: the request was denied or failed, so a retry runs again. */
  forgetRequest(key) {
    this.ctx.storage.kv.delete(PREFIX + key);
  }

  /** The package's sweep of expired counters, then of expired request records. */
  async alarm() {
    await super.alarm();
    const now = Date.now();
    let deleted = 0;
    for (const [key, record] of this.ctx.storage.kv.list({ prefix: PREFIX })) {
      if (record.expiresAt > now) continue;
      if (deleted === SWEEP_BATCH) {
        await this.ctx.storage.setAlarm(now + 1000); // more to do: soon, in another run
        break;
      }
      this.ctx.storage.kv.delete(key);
      deleted++;
    }
  }
}
