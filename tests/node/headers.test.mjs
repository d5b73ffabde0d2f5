// rateLimitHeaders and quotaExceededResponse: draft-11 RateLimit fields and a 429 problem+json.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, MemoryStore, rateLimitHeaders, quotaExceededResponse } from "wasm-quota";
import { fakeClock, NOON, HOUR } from "./helpers.mjs";

function setup(limits) {
  const now = fakeClock(NOON);
  return { now, engine: new QuotaEngine({ store: new MemoryStore({ now }), limits, now }) };
}
const me = { id: 42 };

test("an allowed decision of a plain daily limit", () => {
  const { engine, now } = setup({ remix: 10 });
  const d = engine.reserve(me, "remix");
  const h = rateLimitHeaders(d, { now });
  assert.deepEqual(h, { "RateLimit-Policy": '"daily";q=10;w=86400', RateLimit: '"daily";r=9;t=43200' });
  // A Headers object takes it as is.
  assert.equal(new Headers(h).get("ratelimit"), '"daily";r=9;t=43200');
});

// t counts whole seconds up to the reset, rounded up (a client waiting t seconds is past it),
// and is never negative, also for a decision read after its window reset.
test("t rounds up to whole seconds and stops at 0", () => {
  const { engine } = setup({ remix: 10 });
  const d = engine.reserve(me, "remix");
  const t = (now) => rateLimitHeaders(d, { now }).RateLimit;
  assert.equal(t(NOON + 500), '"daily";r=9;t=43200');
  assert.equal(t(NOON + 12 * HOUR - 1), '"daily";r=9;t=1');
  assert.equal(t(NOON + 12 * HOUR + 5_000), '"daily";r=9;t=0');
  // A denial's t is its Retry-After, whenever the headers are made.
  engine.reserve(me, "remix", { amount: 9 });
  const denied = rateLimitHeaders(engine.reserve(me, "remix"), { now: NOON + 1_000 });
  assert.deepEqual([denied.RateLimit, denied["Retry-After"]], ['"daily";r=0;t=43200', "43200"]);
});

test("a denial adds Retry-After; policy objects use their own name and window", () => {
  const { engine, now } = setup({ remix: [{ limit: 1, window: "hour" }, { limit: 5, window: "week", name: "weekly-cap" }] });
  engine.reserve(me, "remix");
  now.t += HOUR / 2;
  const d = engine.reserve(me, "remix");
  assert.deepEqual(rateLimitHeaders(d, { now: now.t }), {
    "RateLimit-Policy": '"hourly";q=1;w=3600',
    RateLimit: '"hourly";r=0;t=1800',
    "Retry-After": "1800",
  });
  now.t += HOUR;
  const ok = engine.reserve(me, "remix");
  assert.equal(rateLimitHeaders(ok, { now })["RateLimit-Policy"], '"hourly";q=1;w=3600');
});

test("unlimited and degraded decisions carry no rate-limit headers", () => {
  const home = new QuotaEngine({ store: new MemoryStore(), limits: { remix: 1 }, enabled: false });
  assert.deepEqual(rateLimitHeaders(home.reserve(me, "remix")), {});
  const broken = { get() { throw new Error("down"); }, incr() { throw new Error("down"); }, add() { throw new Error("down"); }, set() {} };
  const failClosed = new QuotaEngine({ store: broken, limits: { remix: 1 }, onStoreError: "deny" });
  const d = failClosed.reserve(me, "remix");
  assert.deepEqual(rateLimitHeaders(d), {});
  const res = quotaExceededResponse(d);
  assert.equal(res.status, 503);
  assert.throws(() => rateLimitHeaders(null), TypeError);
});

test("quotaExceededResponse: 429, problem+json, the headers and the figures", async () => {
  const { engine, now } = setup({ remix: 2 });
  engine.reserve(me, "remix");
  engine.reserve(me, "remix");
  const d = engine.reserve(me, "remix");
  const res = quotaExceededResponse(d, { now, headers: { "X-Request-Id": "abc" } });
  assert.ok(res instanceof Response);
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  assert.equal(res.headers.get("retry-after"), "43200");
  assert.equal(res.headers.get("ratelimit"), '"daily";r=0;t=43200');
  assert.equal(res.headers.get("ratelimit-policy"), '"daily";q=2;w=86400');
  assert.equal(res.headers.get("x-request-id"), "abc");
  assert.deepEqual(await res.json(), {
    type: "about:blank",
    title: "Too Many Requests",
    status: 429,
    detail: 'Quota exceeded for "remix": 2 of 2 used; it resets at 2026-11-28T00:00:00Z.',
    feature: "remix",
    limit: 2,
    used: 2,
    remaining: 0,
    resetsAt: "2026-11-28T00:00:00Z",
    retryAfter: 43200,
  });
  const allowed = engine.reserve({ id: 7 }, "remix");
  assert.throws(() => quotaExceededResponse(allowed), TypeError);
});

test("a named policy appears in the problem", async () => {
  const { engine } = setup({ chat: { limit: 0, window: "month", timeZone: "Europe/Paris", name: "monthly-tokens" } });
  const res = quotaExceededResponse(engine.reserve(me, "chat"), { now: NOON, title: "Out of tokens" });
  const body = await res.json();
  assert.equal(body.title, "Out of tokens");
  assert.equal(body.policy, "monthly-tokens");
  assert.equal(res.headers.get("ratelimit-policy"), '"monthly-tokens";q=0;w=2592000');
  assert.equal(body.resetsAt, "2026-11-30T23:00:00Z");
});
