import type { AmountOptions, Answer, Decision, Limits, Profile, ProfileId, QuotaEngineOptions, QuotaStore, ReserveOptions, Usage } from "./types.js";

/**
 * Per-profile, per-feature quotas over a store the host supplies.
 *
 * Every method returns its result directly when every store call it made returned a plain
 * value, and a Promise as soon as one returned a Promise ("maybe-async"): `await` works always.
 * The types follow the store: over a synchronous store (`S` a `SyncQuotaStore`, as
 * `MemoryStore` is) results are plain values; over any other, a value or a Promise of it.
 *
 * ```js
 * import { QuotaEngine, MemoryStore } from "wasm-quota";
 * const engine = new QuotaEngine({ store: new MemoryStore(), limits: { remix: 10 } });
 * const d = engine.reserve({ id: 42 }, "remix");
 * if (!d.allowed) return new Response("quota exceeded", { status: 429 });
 * ```
 */
export class QuotaEngine<S extends QuotaStore = QuotaStore> {
  /** Validates every option; throws `QuotaError` with code `INVALID_CONFIG` when one is wrong. */
  constructor(options: QuotaEngineOptions<S>);
  /** Read-only: would `amount` (default 1) more be allowed now? Counts nothing. */
  check(profile: Profile, feature: string, options?: AmountOptions): Answer<S, Decision>;
  /**
   * Atomically counts `amount` (default 1) if it fits under the limit, else counts nothing and
   * denies. An allowed decision carries a `reservation` for `release` and `settle`. With an
   * `idempotencyKey`, a retry in the same window is replayed (`replayed: true`, no
   * reservation) and counted once, across engines sharing the store: do not redo its work.
   */
  reserve(profile: Profile, feature: string, options?: ReserveOptions): Answer<S, Decision>;
  /**
   * Takes back a reservation (exactly its amount, from the window it was counted in) or, given a
   * feature name, `amount` (default 1) from today's counter as the Django service does. A counter that
   * would go below zero is brought back to 0 by adding back what it went below (never a blind
   * write, which could erase a concurrent reserve's count); a missing counter is a quiet no-op.
   */
  release(profile: Profile, featureOrReservation: string, options?: AmountOptions): Answer<S, void>;
  /**
   * Settles a reservation with the amount actually used (an integer ≥ 0), in the windows it was
   * counted in: refunds `reserved − actual`, or charges the extra (a charge whose window has
   * ended counts in the window right after it, and is dropped after that one). `true` when it
   * corrected the counters, `false` when the reservation was already settled or released, or
   * when its charge came too late for every window, or once the window after each of its
   * windows has ended, whatever the amount (nothing written).
   */
  settle(profile: Profile, reservation: string, actualAmount: number): Answer<S, boolean>;
  /**
   * The Django service's post-hoc count: adds `amount` with no limit check; the decision is
   * allowed, unless the store failed and `onStoreError: "deny"` answered a degraded denial.
   */
  increment(profile: Profile, feature: string, options?: AmountOptions): Answer<S, Decision>;
  /** `{ feature: count }` for every configured feature in the current window. */
  usage(profileId: ProfileId): Answer<S, Usage>;
  /** Replaces the limits from the next call on; refused limits throw `INVALID_CONFIG` and the old stay. */
  setLimits(limits: Limits): void;
  /** Frees the WASM side now rather than when the engine is garbage-collected. */
  free(): void;
}
