// Calendar windows in time zones (offsets from the host's Intl) and several policies per
// feature, through the built package.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, QuotaError } from "wasm-quota";
import { fakeClock, recordingStore, mapStore, HOUR, CLOCK_MARGIN_S } from "./helpers.mjs";

function setup(limits, iso) {
  const now = fakeClock(Date.parse(iso));
  const store = recordingStore(now);
  return { now, store, engine: new QuotaEngine({ store, limits, now }) };
}
const me = { id: 42 };

test("a Paris day across spring-forward is 23 hours; resetsAt and the TTL follow it", () => {
  const { engine, store } = setup({ remix: { limit: 1, timeZone: "Europe/Paris" } }, "2026-03-29T12:00:00Z");
  assert.equal(engine.reserve(me, "remix").allowed, true);
  const [, key, , ttl] = store.calls.find(([m]) => m === "add");
  assert.equal(key, "ai_quota:42:remix:2026-03-29@Europe/Paris");
  assert.equal(ttl, 10 * 3600 + CLOCK_MARGIN_S); // to 2026-03-30 00:00 +02:00, and ten minutes
  const d = engine.reserve(me, "remix");
  assert.deepEqual(d, {
    allowed: false, feature: "remix", limit: 1, used: 1, remaining: 0,
    resetsAt: "2026-03-29T22:00:00Z", retryAfter: 10 * 3600, policy: "daily", window: "day",
  });
});

test("a Paris day across fall-back is 25 hours", () => {
  const { engine, now } = setup({ remix: { limit: 2, window: "day", timeZone: "Europe/Paris" } }, "2026-10-24T22:00:00Z");
  const first = engine.reserve(me, "remix"); // 00:00 +02:00
  assert.equal(first.resetsAt, "2026-10-25T23:00:00Z");
  now.t += 24 * HOUR; // 23:00 +01:00, still the same Paris day
  assert.equal(engine.reserve(me, "remix").used, 2);
  const d = engine.reserve(me, "remix");
  assert.equal(d.allowed, false);
  assert.equal(d.retryAfter, 3600);
  now.t += HOUR;
  assert.equal(engine.reserve(me, "remix").allowed, true);
});

test("hours, ISO weeks and months, UTC or zoned, each with its own key", () => {
  const limits = {
    h: { limit: 5, window: "hour" },
    w: { limit: 5, window: "week", timeZone: "Asia/Kolkata" },
    m: { limit: 5, window: "month", timeZone: "America/New_York" },
    d: 5,
  };
  const { engine, store } = setup(limits, "2026-11-27T13:20:00Z");
  const resets = ["h", "w", "m", "d"].map((f) => engine.reserve(me, f).resetsAt);
  assert.deepEqual(resets, [
    "2026-11-27T14:00:00Z",
    "2026-11-29T18:30:00Z", // Monday 00:00 +05:30
    "2026-12-01T05:00:00Z", // Dec 1 00:00 -05:00
    "2026-11-28T00:00:00Z",
  ]);
  const keys = store.calls.filter(([m]) => m === "add").map(([, k]) => k);
  assert.deepEqual(keys, [
    "ai_quota:42:h:2026-11-27T13",
    "ai_quota:42:w:2026-W48@Asia/Kolkata",
    "ai_quota:42:m:2026-11@America/New_York",
    "ai_quota:42:d:2026-11-27",
  ]);
});

test("several policies: all must pass, a reserve counts in all or none, the denial names the policy", () => {
  const limits = { remix: [{ limit: 2, window: "hour" }, { limit: 3, window: "day", name: "per-day" }] };
  const { engine, now } = setup(limits, "2026-11-27T10:00:00Z");
  assert.equal(engine.reserve(me, "remix").policy, "hourly");
  engine.reserve(me, "remix");
  const byHour = engine.reserve(me, "remix");
  assert.equal(byHour.allowed, false);
  assert.equal(byHour.policy, "hourly");
  assert.equal(byHour.window, "hour");
  assert.equal(byHour.retryAfter, 3600);
  now.t += HOUR;
  assert.equal(engine.reserve(me, "remix").allowed, true);
  const byDay = engine.reserve(me, "remix");
  assert.equal(byDay.allowed, false);
  assert.equal(byDay.policy, "per-day");
  assert.equal(byDay.used, 3);
  // The denied reserve's count in the hour was rolled back.
  assert.deepEqual(engine.check(me, "remix", {}), engine.check(me, "remix"));
  now.t += HOUR;
  assert.equal(engine.reserve(me, "remix").policy, "per-day");
  assert.equal(engine.usage(42).remix, 0); // usage reads the first policy: this new hour
});

test("timeZone: 'UTC' is the UTC window; other zone names are kept as written, in Intl's letter case", () => {
  const { engine, store } = setup(
    { a: { limit: 1, timeZone: "UTC" }, b: { limit: 1, timeZone: "europe/paris" }, c: { limit: 1, timeZone: "Asia/Kolkata" } },
    "2026-11-27T10:00:00Z",
  );
  engine.reserve(me, "a");
  engine.reserve(me, "b");
  engine.reserve(me, "c");
  const keys = store.calls.filter(([m]) => m === "add").map(([, k]) => k);
  // Asia/Kolkata is Asia/Calcutta to Node 20's ICU: a name Intl spells otherwise is kept.
  assert.deepEqual(keys, ["ai_quota:42:a:2026-11-27", "ai_quota:42:b:2026-11-27@Europe/Paris", "ai_quota:42:c:2026-11-27@Asia/Kolkata"]);
});

test("a zone name in another letter case is the same zone: one counter, and not a second policy", () => {
  // Intl matches zone names ignoring case. Engines sharing a store, configured "Europe/Paris"
  // and "EUROPE/PARIS", count in one counter: the limit is 1 across both.
  const now = fakeClock(Date.parse("2026-11-27T10:00:00Z"));
  const store = recordingStore(now);
  const engines = ["Europe/Paris", "EUROPE/PARIS", "europe/paris"].map(
    (timeZone) => new QuotaEngine({ store, limits: { remix: { limit: 1, timeZone } }, now }),
  );
  assert.deepEqual(engines.map((e) => e.reserve(me, "remix").allowed), [true, false, false]);
  // Two policies of one feature over one window and zone would count one call twice over.
  assert.throws(
    () => engines[0].setLimits({ remix: [{ limit: 1, timeZone: "Europe/Paris" }, { limit: 2, timeZone: "europe/paris", name: "b" }] }),
    /two policies over the same window \(day in Europe\/Paris\)/,
  );
});

test("bad policies are INVALID_CONFIG and the old limits stay", () => {
  const { engine } = setup({ remix: 1 }, "2026-11-27T10:00:00Z");
  const bad = [
    { remix: { limit: 1, timeZone: "Mars/Olympus" } },
    { remix: { limit: 1, window: "fortnight" } },
    { remix: { limit: -1 } },
    { remix: { window: "day" } },
    { remix: { limit: 1, windw: "day" } },
    { remix: [] },
    { remix: [3] },
    { remix: [{ limit: 1 }, { limit: 2, window: "day" }] },
    { remix: [{ limit: 1 }, { limit: 2, timeZone: "Europe/Paris" }] },
    { remix: { limit: 1, name: "a b" } },
    { remix: { limit: 1, timeZone: 7 } },
  ];
  for (const limits of bad) {
    assert.throws(() => engine.setLimits(limits), (e) => e instanceof QuotaError && e.code === "INVALID_CONFIG", JSON.stringify(limits));
  }
  // Numbers in messages are written as JS writes them.
  assert.throws(() => engine.setLimits({ remix: { limit: -Infinity } }), /got -Infinity$/);
  assert.throws(() => engine.setLimits({ remix: 1.5 }), /got 1\.5$/);
  engine.reserve(me, "remix");
  assert.equal(engine.reserve(me, "remix").allowed, false);
  assert.equal(engine.reserve(me, "remix").policy, undefined);
});

test("a UTC offset is not a time zone: refused by name, on every host (workerd's Intl would take it)", () => {
  for (const timeZone of ["+05:30", "-08:00", "+0530", "-08", "\u221205:00"]) {
    assert.throws(
      () => setup({ remix: { limit: 1, timeZone } }, "2026-11-27T10:00:00Z"),
      (err) => err instanceof QuotaError && err.code === "INVALID_CONFIG" && err.message.includes(`timeZone "${timeZone}" is a UTC offset, not a zone name`),
      timeZone,
    );
  }
});

test("real Intl: Paris hours across DST, and a zone whose midnight is skipped (America/Santiago)", () => {
  const limits = { h: { limit: 1, window: "hour", timeZone: "Europe/Paris" }, d: { limit: 1, timeZone: "America/Santiago" } };
  // 02:00-03:00 happens twice in Paris on 2026-10-25: one window of two hours.
  const fall = setup(limits, "2026-10-25T00:30:00Z");
  assert.equal(fall.engine.reserve(me, "h").resetsAt, "2026-10-25T02:00:00Z");
  fall.now.t = Date.parse("2026-10-25T01:30:00Z");
  assert.equal(fall.engine.reserve(me, "h").allowed, false);
  // 01:00-02:00 on 2026-03-29 ends at the jump to 03:00.
  const spring = setup(limits, "2026-03-29T00:30:00Z");
  assert.equal(spring.engine.reserve(me, "h").resetsAt, "2026-03-29T01:00:00Z");
  // Santiago jumps from 2026-09-05 24:00 (-04:00) to 09-06 01:00 (-03:00): the 6th starts at
  // the jump and lasts 23 hours, which the counter's TTL follows.
  const chile = setup(limits, "2026-09-06T04:00:00Z");
  assert.equal(chile.engine.reserve(me, "d").resetsAt, "2026-09-07T03:00:00Z");
  const [, key, , ttl] = chile.store.calls.find(([m]) => m === "add");
  assert.deepEqual([key, ttl], ["ai_quota:42:d:2026-09-06@America/Santiago", 23 * 3600 + CLOCK_MARGIN_S]);
  chile.now.t -= 1000; // 23:59:59 on the 5th, local
  assert.equal(chile.engine.reserve(me, "d").resetsAt, "2026-09-06T04:00:00Z");
});

test("setLimits while a reserve awaits its store: its decision names the policy it counted under and keeps its reservation", async () => {
  const now = fakeClock(Date.parse("2026-11-27T12:30:00Z"));
  const { store } = mapStore(now, { upsert: true, async: true });
  const chat = [{ limit: 5, window: "hour" }, { limit: 9, name: "d" }];
  const engine = new QuotaEngine({ store, limits: { chat, tips: 2 }, now });
  // The policies swap places while the reserve awaits: it is still the hour's that is fullest.
  const swapped = engine.reserve(me, "chat");
  engine.setLimits({ chat: [chat[1], chat[0]], tips: 2 });
  const d = await swapped;
  assert.deepEqual([d.policy, d.window, d.limit, d.resetsAt], ["hourly", "hour", 5, "2026-11-27T13:00:00Z"]);
  // The feature goes while the next one awaits: it was counted, so its decision and token come back
  // (before, a TypeError: the count stayed and the caller had no token to release it with).
  const removed = engine.reserve(me, "chat");
  engine.setLimits({ tips: 2 });
  const r = await removed;
  assert.deepEqual([r.allowed, r.policy, r.limit, r.used, typeof r.reservation], [true, "hourly", 5, 2, "string"]);
  engine.setLimits({ chat, tips: 2 });
  await engine.release(me, r.reservation);
  assert.equal((await engine.check(me, "chat")).used, 1, "released with its token");
});

test("resetsAt names each decision's own reset instant when many windows take turns", () => {
  // Six features, six reset instants (more than the engine keeps formatted), asked in an
  // order that revisits each after others evicted it, across an hour and a day boundary.
  const limits = {
    chat: [{ limit: 30, window: "hour" }, { limit: 100, window: "day" }], // the hour is tightest
    h: { limit: 50, window: "hour", timeZone: "Asia/Kolkata" },
    w: { limit: 50, window: "week", timeZone: "Asia/Kolkata" },
    m: { limit: 50, window: "month", timeZone: "America/New_York" },
    d: 50,
    paris: { limit: 50, timeZone: "Europe/Paris" },
  };
  const { engine, now } = setup(limits, "2026-11-27T22:50:00Z");
  const order = ["chat", "h", "w", "chat", "m", "d", "paris", "h", "chat", "d", "w", "m", "paris"];
  for (const step of [0, 20 * 60_000, 60 * 60_000]) {
    now.t += step;
    for (const f of order) {
      const d = engine.reserve(me, f, { amount: f === "chat" ? 3 : 1 });
      // A fresh engine formats the instant itself: nothing cached.
      const fresh = new QuotaEngine({ store: recordingStore(now), limits, now });
      const expected = fresh.reserve(me, f, { amount: f === "chat" ? 3 : 1 }).resetsAt;
      fresh.free();
      assert.equal(d.allowed, true);
      assert.equal(d.resetsAt, expected, `${f} at ${new Date(now.t).toISOString()}`);
    }
  }
});

test("a policy added while a reservation is open is not refunded it on release: its window admits its limit", () => {
  // README, settle: release corrects the policies that counted the reservation, as its token names them.
  const { engine, now } = setup({ chat: 100 }, "2026-11-28T10:00:00Z");
  const open = engine.reserve(me, "chat");
  now.t += 5 * 60_000;
  engine.setLimits({ chat: [{ name: "h", limit: 3, window: "hour" }, { name: "d", limit: 100 }] });
  const admitted = () => Array.from({ length: 5 }, () => engine.reserve(me, "chat").allowed).filter(Boolean).length;
  assert.equal(admitted(), 3);
  assert.equal(engine.release(me, open.reservation), undefined);
  // The hour never counted the open reservation: its release leaves the hour full.
  assert.equal(admitted(), 0);
  assert.deepEqual(engine.usage(42), { chat: 3 });
});

test("a client that waits retryAfter is admitted: the denial is the policy that denies longest", async () => {
  // Hour and week both full (the second hour): waiting for the hour would only be denied by
  // the week. MemoryStore
  // (the engine's direct path) and a plain store (its general one) alike.
  for (const kind of ["memory", "plain"]) {
    const now = fakeClock(Date.parse("2026-11-27T12:30:00Z")); // a Friday
    const store = kind === "memory" ? recordingStore(now).inner : mapStore(now).store;
    const limits = { chat: [{ limit: 3, window: "hour" }, { limit: 6, window: "week" }] };
    const engine = new QuotaEngine({ store, limits, now });
    let admitted = 0;
    for (let round = 0; round < 4; round++) {
      let d;
      while ((d = await engine.reserve(me, "chat")).allowed) admitted++;
      assert.notEqual(d.retryAfter, null);
      const check = await engine.check(me, "chat");
      assert.deepEqual([check.policy, check.retryAfter], [d.policy, d.retryAfter], kind);
      now.t += d.retryAfter * 1000;
      assert.equal((await engine.check(me, "chat")).allowed, true, `${kind}: denied again after waiting ${d.policy}'s ${d.retryAfter}s`);
    }
    assert.equal(admitted, 12, kind); // 3 an hour, 6 a week: two hours, then the next week
  }
});
