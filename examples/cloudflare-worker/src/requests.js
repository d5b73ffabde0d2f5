// The profile's Durable Object: the package's QuotaDurableObject plus a record of each request
// made with an Idempotency-Key (IETF httpapi draft), kept next to the profile's counters (the
// rules are in records.js). The object runs one call at a time over the synchronous
// storage.kv, so "is this key new?" and "it is mine now" are one step: two concurrent retries
// can never both start the work.
import { QuotaDurableObject as QuotaObject } from "wasm-quota/cloudflare";
import { PREFIX, beginRequest, finishRequest, forgetRequest } from "./records.js";

export { MAX_RESPONSE_CHARS } from "./records.js";

// Expired records deleted per alarm, so a sweep never runs over its time limit.
const SWEEP_BATCH = 500;

export class QuotaDurableObject extends QuotaObject {
  /**
   * Starts the request `key` with body `fingerprint` under a lease of `leaseMs`, or says why
   * not: `{ state: "new", owner, leaseUntil }` (run it), `"running"` (409), `"mismatch"` (422) or
   * `{ state: "done", response }` (replay the first response).
   */
  async beginRequest(key, fingerprint, leaseMs) {
    const owner = crypto.randomUUID();
    const begun = beginRequest(this.ctx.storage.kv, key, fingerprint, { now: Date.now(), leaseMs, owner });
    // Written after the one synchronous step above: the record is already this attempt's.
    if (begun.state === "new") await this.#alarmBy(this.ctx.storage.kv.get(PREFIX + key).expiresAt);
    return begun;
  }

  /** Keeps the first response of `key` for its retries (24 hours), if `owner` still holds the key. */
  finishRequest(key, owner, response) {
    // Kept longer than the record ran: the alarm set for its earlier expiry finds it live and
    // sets the next one for it.
    return finishRequest(this.ctx.storage.kv, key, owner, response, Date.now());
  }

  /** Forgets `key` if `owner` still holds it: the request was denied or failed. */
  forgetRequest(key, owner) {
    return forgetRequest(this.ctx.storage.kv, key, owner);
  }

  /** The package's sweep of expired counters, then of expired request records. */
  async alarm() {
    await super.alarm();
    const now = Date.now();
    let deleted = 0;
    let next = Infinity; // when this object's records next need a sweep
    for (const [key, record] of this.ctx.storage.kv.list({ prefix: PREFIX })) {
      if (record.expiresAt > now) {
        next = Math.min(next, record.expiresAt);
        continue;
      }
      if (deleted === SWEEP_BATCH) {
        next = Math.min(next, now + 1000); // more to do: soon, in another run
        break;
      }
      this.ctx.storage.kv.delete(key);
      deleted++;
    }
    if (next !== Infinity) await this.#alarmBy(next);
  }

  // Makes sure an alarm fires by `at`. The package's store sets one only for its counters, so
  // without this a record outliving them (an unlimited profile's or home mode's, which write no
  // counter; one whose lease runs past midnight) would stay in storage for good. Only ever moves
  // the alarm earlier, so the counters' sweep is never put off.
  async #alarmBy(at) {
    const set = await this.ctx.storage.getAlarm();
    if (set === null || set > at) await this.ctx.storage.setAlarm(at);
  }
}
