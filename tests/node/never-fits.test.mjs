// A request larger than a whole limit can never fit: its denial has no retryAfter (null) and its
// 429 no Retry-After. Over the package's MemoryStore (the direct path), a MemoryStore on
// another clock (the state machines over the same counters), a user's own sync store and an
// async one; plain limits and policies; check and reserve.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, MemoryStore, quotaExceededResponse, rateLimitHeaders } from "wasm-quota";
import { fakeClock, NOON, HOUR, delayedStore, mapStore } from "./helpers.mjs";

const LIMITS = {
  remix: 3,
  // The day is listed first and fills up first; the hour's limit is the one below the amount.
  chat: [{ limit: 20, window: "day" }, { limit: 5, window: "hour" }],
};

const stores = {
  "MemoryStore": (now) => new MemoryStore({ now }),
  "MemoryStore on its own clock": (now) => new MemoryStore({ now: () => now() }),
  "a user's sync store": (now) => mapStore(now).store,
  "a user's async store": (now) => delayedStore(now),
};

for (const [name, makeStore] of Object.entries(stores)) {
  test(`${name}: an amount over the limit is a denial with retryAfter null, and no Retry-After`, async () => {
    const now = fakeClock(NOON);
    const engine = new QuotaEngine({ store: makeStore(now), limits: LIMITS, now });
    const me = { id: "user-1" };

    // Plain limit: 4 of a limit of 3, from an empty counter and from a used one.
    for (const method of ["check", "reserve"]) {
      const d = await engine[method](me, "remix", { amount: 4 });
      assert.equal(d.allowed, false, method);
      assert.equal(d.retryAfter, null, `${method}: waiting never helps`);
      assert.equal(d.used, 0);
      assert.equal(d.remaining, 3);
    }
    assert.equal((await engine.reserve(me, "remix")).allowed, true);
    const fits = await engine.reserve(me, "remix", { amount: 3 }); // 1 + 3 > 3: fits tomorrow
    assert.equal(fits.allowed, false);
    assert.equal(fits.retryAfter, 12 * 3600, "an amount within the limit waits for the reset");
    const never = await engine.reserve(me, "remix", { amount: 4 });
    assert.deepEqual([never.allowed, never.used, never.retryAfter], [false, 1, null]);

    // The HTTP answer: no Retry-After (there is nothing to wait for), RateLimit's t still says
    // when the window resets, and the problem says it can never fit.
    const res = quotaExceededResponse(never, { now });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("retry-after"), null);
    assert.equal(res.headers.get("ratelimit"), '"daily";r=2;t=43200');
    const body = await res.json();
    assert.equal(body.retryAfter, null);
    assert.match(body.detail, /larger than the whole limit of 3/);
    assert.equal(rateLimitHeaders(never, { now })["Retry-After"], undefined);

    // Policies: the day is nearly full (counted an hour ago), and 6 is over the hour's whole
    // limit of 5. The denial names the hour (it can never fit), not the day (which says "wait").
    await engine.increment(me, "chat", { amount: 18 });
    now.t += HOUR;
    for (const method of ["check", "reserve"]) {
      const d = await engine[method](me, "chat", { amount: 6 });
      assert.deepEqual([d.allowed, d.policy, d.limit, d.used, d.retryAfter], [false, "hourly", 5, 0, null], method);
      assert.deepEqual(rateLimitHeaders(d, { now: now.t }), { "RateLimit-Policy": '"hourly";q=5;w=3600', RateLimit: '"hourly";r=5;t=3600' });
    }
    const later = await engine.reserve(me, "chat", { amount: 3 }); // 18 + 3 > 20: the day denies
    assert.deepEqual([later.allowed, later.policy, later.retryAfter], [false, "daily", 11 * 3600]);
    assert.deepEqual(await engine.usage("user-1"), { remix: 1, chat: 18 }, "denials counted nothing");
    now.t += HOUR / 2;
    assert.equal(rateLimitHeaders(await engine.check(me, "chat", { amount: 6 }), { now: now.t }).RateLimit, '"hourly";r=5;t=1800');
  });
}
