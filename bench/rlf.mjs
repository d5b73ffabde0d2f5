// rate-limiter-flexible's RateLimiterMemory, used to give the same answers as the engine: a
// limiter per (feature, policy); a request over any policy is refused and counts nothing (a
// consume over the limit is rewarded back, as the engine rolls back), so every contender
// admits the same requests.
import { createRequire } from "node:module";

const { RateLimiterMemory } = createRequire(import.meta.url)("rate-limiter-flexible");
const SECONDS = { hour: 3600, day: 86_400 };

export class RlfQuota {
  #limiters = new Map(); // feature -> [RateLimiterMemory]
  #refund;

  /** `limits` as the engine takes them (numbers per day, or hour / day policies). `refund:
   *  false` leaves a refused consume counted, as plain RateLimiterMemory use does: with one
   *  policy and amount 1 that admits the same requests, and costs less. */
  constructor(limits, { refund = true } = {}) {
    this.#refund = refund;
    for (const [feature, l] of Object.entries(limits)) {
      const policies = typeof l === "number" ? [{ limit: l }] : [l].flat();
      this.#limiters.set(
        feature,
        policies.map((p, i) => new RateLimiterMemory({ keyPrefix: `${feature}.${i}`, points: p.limit, duration: SECONDS[p.window ?? "day"] })),
      );
    }
  }

  /** Resolves to true when `amount` fits every policy of `feature` (and is counted in all). */
  async reserve(id, feature, amount = 1) {
    const limiters = this.#limiters.get(feature);
    for (let i = 0; i < limiters.length; i++) {
      try {
        await limiters[i].consume(id, amount);
      } catch (res) {
        if (res instanceof Error) throw res;
        if (this.#refund) for (let j = i; j >= 0; j--) await limiters[j].reward(id, amount);
        return false;
      }
    }
    return true;
  }

  /** Its records hold timers for their whole duration; cleared so later rounds do not carry them. */
  dispose() {
    for (const ls of this.#limiters.values()) {
      for (const l of ls) for (const k of [...l._memoryStorage._storage.keys()]) l._memoryStorage.delete(k);
    }
  }
}
