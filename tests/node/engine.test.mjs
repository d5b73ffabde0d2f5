// The seed's behaviours through the built package, imported by its name as users do.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, MemoryStore, QuotaError } from "wasm-quota";

const NOON = Date.UTC(2026, 10, 27, 12);

function setup(limits = { remix: 3, tips: 1 }) {
  const clock = { t: NOON };
  const now = () => clock.t;
  const store = new MemoryStore({ now });
  const engine = new QuotaEngine({ store, limits, now });
  return { clock, store, engine };
}

test("reserve admits up to the limit, then denies with the seed's info", () => {
  const { engine } = setup();
  for (let n = 1; n <= 3; n++) {
    const d = engine.reserve({ id: 42 }, "remix");
    assert.equal(d.allowed, true);
    assert.equal(d.used, n);
    assert.equal(typeof d.reservation, "string");
  }
  assert.deepEqual(engine.reserve({ id: 42 }, "remix"), {
    allowed: false,
    feature: "remix",
    limit: 3,
    used: 3,
    remaining: 0,
    resetsAt: "2026-11-28T00:00:00Z",
    retryAfter: 12 * 3600,
  });
});

test("an unknown feature is a QuotaError with code UNKNOWN_FEATURE", () => {
  const { engine } = setup();
  assert.throws(() => engine.check({ id: 1 }, "nope"), (e) => e instanceof QuotaError && e.code === "UNKNOWN_FEATURE");
});
