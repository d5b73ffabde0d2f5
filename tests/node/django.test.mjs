// The Django service and the engine counting one quota on one Redis: the Django service's quota
// module, unchanged, under Django 5.2 + django-redis (tests/django, Python from `make venv`),
// beside QuotaEngine over RedisStore with `keyPrefix` set to Django's cache key space. What the
// README's "Migrating from the Django service" says the test proves is proven here.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createClient } from "redis";
import { QuotaEngine } from "wasm-quota";
import { RedisStore } from "wasm-quota/redis";
import { RedisServer } from "./redis-server.mjs";
import { DjangoService } from "./django-service.mjs";
import { CLOCK_MARGIN_S } from "./helpers.mjs";

const DAY = 86_400_000;
const MARGIN_MS = CLOCK_MARGIN_S * 1000;
// The Django service's six features with AppSettings' default limits.
const SERVICE_LIMITS = { remix: 10, remix_suggestions: 20, scale: 10, tips: 20, discover: 10, timer: 10 };
// Both sides read one clock moved to noon UTC today (the same offset in Node and Python), so no
// run crosses midnight; Redis's own clock runs the TTLs.
const NOON = Math.floor(Date.now() / DAY) * DAY + DAY / 2;
const MIDNIGHT = NOON + DAY / 2;
const DATE = new Date(NOON).toISOString().slice(0, 10);
let offset = 0;
const now = () => Date.now() + offset;
const BOUND = { timeout: 120_000 }; // a hung process fails the test instead of hanging make test

const server = new RedisServer();
const services = [];
let client;
let django; // KEY_PREFIX "" and VERSION 1, Django's defaults

/** A Django process on the shared Redis, on the shared clock. */
async function startDjango(cache) {
  const service = await DjangoService.start(server.url, cache);
  services.push(service);
  await service.call("clock", { offset_ms: offset });
  return service;
}

/** Moves the shared clock to `ms` on both sides. */
async function setClock(ms) {
  offset = ms - Date.now();
  await Promise.all(services.map((s) => s.call("clock", { offset_ms: offset })));
}

/** An engine on Django's keys (`:1:ai_quota` under the default KEY_PREFIX and VERSION). */
function engine(limits, options = {}) {
  return new QuotaEngine({
    store: new RedisStore(options.client ?? client),
    limits: { ...SERVICE_LIMITS, ...limits },
    keyPrefix: options.keyPrefix ?? ":1:ai_quota",
    ...(options.stringIdKeys && { stringIdKeys: options.stringIdKeys }),
    now,
  });
}

/** Sets the Django side's limits to the engine's. */
const djangoLimits = (service, limits) => service.call("limits", { limits: { ...SERVICE_LIMITS, ...limits } });

/** Django's get_usage and the engine's usage() for one profile: they must be equal. */
async function agree(service, e, id, { uuid = false } = {}) {
  const [py, js] = await Promise.all([service.call("get_usage", { pk: id, uuid }), e.usage(id)]);
  assert.deepEqual(js, py, "get_usage and usage() disagree");
  return js;
}

const djangoReserve = async (service, pk, feature, uuid = false) => (await service.call("reserve", { pk, feature, uuid }))[0];

before(async () => {
  await server.start();
  client = await createClient({ url: server.url }).connect();
  await setClock(NOON);
  django = await startDjango();
});

after(async () => {
  await Promise.all(services.map((s) => s.stop()));
  await client?.close();
  await server.stop();
});

test("the Django service runs as pinned: Django 5.2 LTS, django-redis 7", () => {
  assert.match(django.versions.django, /^5\.2\.\d+$/);
  assert.match(django.versions.django_redis, /^7\./);
});

test("interleaved reserves from both sides admit exactly the limit, on Django's one key", BOUND, async () => {
  const e = engine({ remix: 5 });
  await djangoLimits(django, { remix: 5 });
  for (let i = 0; i < 10; i++) {
    const side = i % 2 === 0 ? "Django" : "engine";
    const allowed = side === "Django" ? await djangoReserve(django, 42, "remix") : (await e.reserve({ id: 42 }, "remix")).allowed;
    assert.equal(allowed, i < 5, `attempt ${i + 1} (${side})`);
    assert.equal((await agree(django, e, 42)).remix, Math.min(i + 1, 5));
  }
  // One counter, the key Django's cache makes, holding a plain integer.
  const { key } = await django.call("key", { pk: 42, feature: "remix" });
  assert.equal(key, `:1:ai_quota:42:remix:${DATE}`);
  assert.deepEqual(await client.keys(":1:ai_quota:42:*"), [key]);
  assert.equal(await client.get(key), "5");
  // The denials say the same: 5 of 5 used, reset at the next UTC midnight.
  const [allowed, info] = await django.call("reserve", { pk: 42, feature: "remix" });
  const d = await e.reserve({ id: 42 }, "remix");
  assert.equal(allowed, false);
  assert.deepEqual([info.limit, info.used, info.remaining], [d.limit, d.used, d.remaining]);
  assert.deepEqual([d.allowed, d.used], [false, 5]);
  assert.equal(Date.parse(info.resets_at), MIDNIGHT);
  assert.equal(Date.parse(d.resetsAt), MIDNIGHT);
  // The same instant, spelled two ways under two names (README, What differs).
  assert.equal(info.resets_at, new Date(MIDNIGHT).toISOString().replace(".000Z", "+00:00"));
  assert.equal(d.resetsAt, new Date(MIDNIGHT).toISOString().replace(".000Z", "Z"));
  assert.equal("resets_at" in d, false);
});

test("a release on either side frees a slot the other side then uses", BOUND, async () => {
  const e = engine({ remix: 3 });
  await djangoLimits(django, { remix: 3 });
  const me = { id: 43 };
  assert.equal(await djangoReserve(django, 43, "remix"), true);
  assert.equal(await djangoReserve(django, 43, "remix"), true);
  const held = await e.reserve(me, "remix", { idempotencyKey: "job-1" });
  assert.equal(held.allowed, true);
  const full = async () => {
    assert.equal((await agree(django, e, 43)).remix, 3);
    assert.equal(await djangoReserve(django, 43, "remix"), false);
    assert.equal((await e.reserve(me, "remix")).allowed, false);
  };
  await full();

  await django.call("release", { pk: 43, feature: "remix" }); // Django gives one back…
  assert.equal((await agree(django, e, 43)).remix, 2);
  assert.equal((await e.reserve(me, "remix")).allowed, true); // …the engine uses it
  await full();

  await e.release(me, held.reservation); // the engine gives its reservation back…
  assert.equal((await agree(django, e, 43)).remix, 2);
  assert.equal(await djangoReserve(django, 43, "remix"), true); // …Django uses it
  await full();

  await e.release(me, "remix"); // a release by feature, as Django's
  assert.equal((await agree(django, e, 43)).remix, 2);
  assert.equal(await djangoReserve(django, 43, "remix"), true);
  await full();

  // The engine's release marker and idempotency record share Django's key space; Django's
  // readings ignore them (agree() above), and they expire with the day.
  const keys = (await client.keys(":1:ai_quota:43:*")).sort();
  assert.equal(keys.length, 3, keys.join());
  assert.equal(keys[0], `:1:ai_quota:43:remix:${DATE}`);
  assert.match(keys[1], new RegExp(`^:1:ai_quota:43:remix:i${DATE}\\.1:job-1$`));
  assert.match(keys[2], /^:1:ai_quota:43:remix:r[0-9a-f]+$/);
  for (const k of keys.slice(1)) assert.ok((await client.pTTL(k)) > 0, `${k} expires`);
});

test("concurrent reserves from two Django processes and two engines admit exactly the limit", BOUND, async (t) => {
  const second = await startDjango();
  const LIMIT = 100;
  // From one instant, 8 threads in each Django process and 4 loops in each engine make
  // reserves one after another: 160 from Django, 160 from the engines, each side alone more
  // than the limit.
  const startAt = Date.now() + 1000;
  for (const s of [django, second]) {
    await djangoLimits(s, { remix: LIMIT });
    await s.call("arm", { pk: 44, feature: "remix", n: 80, threads: 8, start_at: startAt });
  }
  const otherClient = await createClient({ url: server.url }).connect();
  const engines = [engine({ remix: LIMIT }), engine({ remix: LIMIT }, { client: otherClient })];
  const loop = async (e) => {
    const decisions = [];
    for (let i = 0; i < 20; i++) decisions.push(await e.reserve({ id: 44 }, "remix"));
    return decisions;
  };
  const engineSide = (async () => {
    await new Promise((resolve) => setTimeout(resolve, startAt - Date.now()));
    return (await Promise.all(engines.flatMap((e) => Array.from({ length: 4 }, () => loop(e))))).flat();
  })();
  const [py1, py2, js] = await Promise.all([django.call("go"), second.call("go"), engineSide]);
  await otherClient.close();
  assert.deepEqual([...py1.errors, ...py2.errors], []);
  const fromDjango = py1.admitted + py2.admitted;
  const fromEngines = js.filter((d) => d.allowed).length;
  t.diagnostic(`admitted: ${fromDjango} by Django, ${fromEngines} by the engines`);
  assert.equal(fromDjango + fromEngines, LIMIT, `Django admitted ${fromDjango}, the engines ${fromEngines}`);
  assert.equal(py1.denied + py2.denied + js.length - fromEngines, 160 + 160 - LIMIT);
  assert.equal(await client.get(`:1:ai_quota:44:remix:${DATE}`), String(LIMIT));
  assert.equal((await agree(django, engines[0], 44)).remix, LIMIT);
});

test("engines counting with incrOrCreateWithin, with incrOrCreate and with incr → add, racing Django on a new counter, admit exactly the limit", BOUND, async (t) => {
  const LIMIT = 60;
  // 80 reserves from Django's threads, 40 from an engine over RedisStore (one
  // incrOrCreateWithin script per reserve), 40 from one over a store with incrOrCreate and
  // not incrOrCreateWithin (one script, and one more to take a denial back) and 40 from one
  // over a store with only get / incr / add / set (the Django service's incr → add dance),
  // from one instant, on a counter none of them has made.
  const startAt = Date.now() + 1000;
  await djangoLimits(django, { remix: LIMIT });
  await django.call("arm", { pk: 47, feature: "remix", n: 80, threads: 8, start_at: startAt });
  const redisStore = new RedisStore(client);
  const only = (methods) => Object.fromEntries(methods.map((m) => [m, redisStore[m].bind(redisStore)]));
  const upsertOnly = only(["get", "incr", "add", "set", "incrOrCreate"]);
  const fourMethods = only(["get", "incr", "add", "set"]);
  const engines = [redisStore, upsertOnly, fourMethods].map(
    (store) => new QuotaEngine({ store, limits: { ...SERVICE_LIMITS, remix: LIMIT }, keyPrefix: ":1:ai_quota", now }),
  );
  const loop = async (e) => {
    const decisions = [];
    for (let i = 0; i < 10; i++) decisions.push(await e.reserve({ id: 47 }, "remix"));
    return decisions;
  };
  const engineSide = (async () => {
    await new Promise((resolve) => setTimeout(resolve, startAt - Date.now()));
    return (await Promise.all(engines.flatMap((e) => Array.from({ length: 4 }, () => loop(e))))).flat();
  })();
  const [py, js] = await Promise.all([django.call("go"), engineSide]);
  assert.deepEqual(py.errors, []);
  const fromEngines = js.filter((d) => d.allowed).length;
  // The engines' decisions in order: 40 from each (its four loops).
  const byEngine = engines.map((_, i) => js.slice(40 * i, 40 * (i + 1)).filter((d) => d.allowed).length);
  t.diagnostic(`admitted: ${py.admitted} by Django, ${fromEngines} by the engines (${byEngine.join(" + ")})`);
  assert.equal(py.admitted + fromEngines, LIMIT);
  assert.equal(await client.get(`:1:ai_quota:47:remix:${DATE}`), String(LIMIT));
  const ttl = await client.pTTL(`:1:ai_quota:47:remix:${DATE}`);
  // Django's TTL ends at midnight, the engine's ten minutes later: whichever side created it.
  assert.ok(ttl > 0 && now() + ttl <= MIDNIGHT + MARGIN_MS + 1000, `the counter ends by midnight and ten minutes (${ttl} ms left)`);
  assert.equal((await agree(django, engines[0], 47)).remix, LIMIT);
});

test("TTLs: Django's counter ends at the next UTC midnight, the engine's ten minutes later; counting on the other side keeps it", BOUND, async () => {
  const e = engine({});
  await djangoLimits(django, {});
  const expiry = async (feature) => now() + (await client.pTTL(`:1:ai_quota:45:${feature}:${DATE}`));
  const SLACK = 50; // ms between reading the clock and Redis's PTTL
  // Django writes whole seconds rounded down, so its counter ends within the last second before
  // midnight; the engine rounds up and keeps its counter for the clock margin past its window
  // (hosts whose clocks are behind still find it), so it ends within the first second after
  // 00:10.
  assert.equal(await djangoReserve(django, 45, "tips"), true);
  const byDjango = await expiry("tips");
  assert.ok(byDjango > MIDNIGHT - 1000 - SLACK && byDjango <= MIDNIGHT + SLACK, `Django's counter ends ${byDjango - MIDNIGHT} ms from midnight`);
  assert.equal((await e.reserve({ id: 45 }, "scale")).allowed, true);
  const byEngine = await expiry("scale");
  assert.ok(byEngine >= MIDNIGHT + MARGIN_MS - SLACK && byEngine < MIDNIGHT + MARGIN_MS + 1000 + SLACK, `the engine's counter ends ${byEngine - MIDNIGHT} ms from midnight`);
  // Counting on the other side keeps the TTL (both increment with INCRBY in a script).
  assert.equal((await e.reserve({ id: 45 }, "tips")).allowed, true);
  assert.equal(await djangoReserve(django, 45, "scale"), true);
  assert.ok(Math.abs((await expiry("tips")) - byDjango) <= SLACK);
  assert.ok(Math.abs((await expiry("scale")) - byEngine) <= SLACK);
  assert.deepEqual([(await agree(django, e, 45)).tips, (await agree(django, e, 45)).scale], [2, 2]);
});

test("UUID primary keys: with stringIdKeys 'raw' both sides count one quota", BOUND, async () => {
  const uuid = "3f2c9a1e-8b4d-4c6e-9f00-1a2b3c4d5e6f";
  const e = engine({ discover: 4 }, { stringIdKeys: "raw" });
  await djangoLimits(django, { discover: 4 });
  for (let i = 0; i < 8; i++) {
    const allowed = i % 2 === 0 ? await djangoReserve(django, uuid, "discover", true) : (await e.reserve({ id: uuid }, "discover")).allowed;
    assert.equal(allowed, i < 4, `attempt ${i + 1}`);
    assert.equal((await agree(django, e, uuid, { uuid: true })).discover, Math.min(i + 1, 4));
  }
  const { key } = await django.call("key", { pk: uuid, uuid: true, feature: "discover" });
  assert.equal(key, `:1:ai_quota:${uuid}:discover:${DATE}`);
  assert.equal(await client.get(key), "4");
  // Without it the engine writes `~` + the id: a second quota, which Django never sees.
  assert.equal((await engine({ discover: 4 }).usage(uuid)).discover, 0);
});

test("a non-default KEY_PREFIX and VERSION: keyPrefix '{KEY_PREFIX}:{VERSION}:ai_quota'", BOUND, async () => {
  const shop = await startDjango({ keyPrefix: "shop", version: 3 });
  const e = engine({ timer: 3 }, { keyPrefix: "shop:3:ai_quota" });
  await djangoLimits(shop, { timer: 3 });
  for (let i = 0; i < 6; i++) {
    const allowed = i % 2 === 0 ? await djangoReserve(shop, 46, "timer") : (await e.reserve({ id: 46 }, "timer")).allowed;
    assert.equal(allowed, i < 3, `attempt ${i + 1}`);
    assert.equal((await agree(shop, e, 46)).timer, Math.min(i + 1, 3));
  }
  assert.equal((await shop.call("key", { pk: 46, feature: "timer" })).key, `shop:3:ai_quota:46:timer:${DATE}`);
  assert.equal((await django.call("get_usage", { pk: 46 })).timer, 0, "another key space, another quota");
});

test("with the default keyPrefix the two sides count two quotas (5 + 5 against a limit of 5)", BOUND, async () => {
  const e = engine({ scale: 5 }, { keyPrefix: "ai_quota" });
  await djangoLimits(django, { scale: 5 });
  const admitted = { django: 0, engine: 0 };
  for (let i = 0; i < 10; i++) {
    if (await djangoReserve(django, 47, "scale")) admitted.django++;
    if ((await e.reserve({ id: 47 }, "scale")).allowed) admitted.engine++;
  }
  assert.deepEqual(admitted, { django: 5, engine: 5 });
});

test("in the last second before midnight Django admits without counting; the engine still counts", BOUND, async () => {
  const e = engine({ remix_suggestions: 2 });
  await djangoLimits(django, { remix_suggestions: 2 });
  const key = `:1:ai_quota:48:remix_suggestions:${DATE}`;
  await setClock(MIDNIGHT - 500);
  try {
    // Django's TTL is int(0.5) = 0, and django-redis's add(key, 1, timeout=0) writes nothing
    // and answers True: every reserve is admitted, none counted.
    for (let i = 0; i < 4; i++) assert.equal(await djangoReserve(django, 48, "remix_suggestions"), true);
    assert.equal(await client.exists(key), 0);
    assert.equal((await django.call("get_usage", { pk: 48 })).remix_suggestions, 0);
    // The engine writes a TTL of at least one second past midnight and ten minutes, and counts.
    assert.equal((await e.reserve({ id: 48 }, "remix_suggestions")).allowed, true);
    assert.equal((await e.reserve({ id: 48 }, "remix_suggestions")).allowed, true);
    assert.equal((await e.reserve({ id: 48 }, "remix_suggestions")).allowed, false);
    const pttl = await client.pTTL(key);
    assert.ok(pttl > MARGIN_MS && pttl <= MARGIN_MS + 1000, `TTL ${pttl} ms`);
    // Once the engine's counter exists, Django's incr finds it and Django denies too.
    assert.equal(await djangoReserve(django, 48, "remix_suggestions"), false);
  } finally {
    await setClock(NOON);
  }
});

test("clocks apart: Django's clock 10 s behind still finds the engine's counter of the day after the engine's midnight, full", BOUND, async () => {
  const e = engine({ scale: 2 });
  await djangoLimits(django, { scale: 2 });
  const key = `:1:ai_quota:50:scale:${DATE}`;
  try {
    // Django's clock first, then the engine's, so that however long the call to Django takes
    // the engine starts 3 s before its midnight and Django at least 10 s behind it.
    const engineAt = MIDNIGHT - 3000;
    await django.call("clock", { offset_ms: engineAt - 10_000 - Date.now() });
    offset = engineAt - Date.now();
    assert.equal((await e.reserve({ id: 50 }, "scale")).allowed, true);
    assert.equal((await e.reserve({ id: 50 }, "scale")).allowed, true);
    assert.equal(await djangoReserve(django, 50, "scale"), false, "one counter, full");
    // The engine's TTL ends ten minutes after its day (the clock margin).
    const pttl = await client.pTTL(key);
    assert.ok(pttl > MARGIN_MS && pttl <= MARGIN_MS + 3000, `TTL ${pttl} ms`);
    await new Promise((resolve) => setTimeout(resolve, MIDNIGHT + 200 - now()));
    assert.ok(now() > MIDNIGHT, "the engine's day has ended");
    // Django, still in that day, finds the day's counter full.
    assert.equal(await djangoReserve(django, 50, "scale"), false);
    assert.equal(await djangoReserve(django, 50, "scale"), false);
    assert.equal(await client.get(key), "2");
  } finally {
    await setClock(NOON);
  }
});

test("clocks apart: the engine's clock 10 s behind finds Django's counter of the day expired at Django's midnight and counts its last seconds from 0", BOUND, async () => {
  const e = engine({ scale: 2 });
  await djangoLimits(django, { scale: 2 });
  const key = `:1:ai_quota:55:scale:${DATE}`;
  try {
    // The engine's clock first, then Django's: Django starts 5 s before its midnight and the
    // engine at least 10 s behind it.
    const djangoAt = MIDNIGHT - 5000;
    offset = djangoAt - 10_000 - Date.now();
    await django.call("clock", { offset_ms: djangoAt - Date.now() });
    assert.equal(await djangoReserve(django, 55, "scale"), true);
    assert.equal(await djangoReserve(django, 55, "scale"), true);
    assert.equal((await e.reserve({ id: 55 }, "scale")).allowed, false, "one counter, full");
    // Django's TTL ends with its day (rounded down), which the engine is still in: the
    // Django service's keys are its own to time (README, What differs: Clocks).
    const pttl = await client.pTTL(key);
    assert.ok(pttl > 0 && pttl <= 5000, `TTL ${pttl} ms`);
    await new Promise((resolve) => setTimeout(resolve, pttl + 100));
    assert.equal(await client.exists(key), 0);
    assert.ok(now() < MIDNIGHT, "the engine is still in the day");
    assert.equal((await e.reserve({ id: 55 }, "scale")).allowed, true);
    assert.equal((await e.reserve({ id: 55 }, "scale")).allowed, true);
    assert.equal(await client.get(key), "2", "the day's limit of 2, admitted again");
  } finally {
    await setClock(NOON);
  }
});

test("after midnight Django's release by feature frees a slot of the new day; a reservation's release does not", BOUND, async () => {
  const e = engine({ tips: 2 });
  await djangoLimits(django, { tips: 2 });
  const me = { id: 49 };
  try {
    await setClock(MIDNIGHT - 10_000);
    assert.equal(await djangoReserve(django, 49, "tips"), true);
    const yesterday = await e.reserve(me, "tips");
    assert.equal(yesterday.allowed, true);
    await setClock(NOON + DAY); // noon of the next day: new counters
    assert.equal((await e.reserve(me, "tips")).allowed, true);
    assert.equal(await djangoReserve(django, 49, "tips"), true);
    assert.equal((await agree(django, e, 49)).tips, 2);
    await e.release(me, yesterday.reservation); // counted yesterday: frees nothing today
    assert.equal((await agree(django, e, 49)).tips, 2);
    await django.call("release", { pk: 49, feature: "tips" }); // yesterday's call, today's slot
    assert.equal((await agree(django, e, 49)).tips, 1);
    await django.call("release", { pk: 49, feature: "tips" }); // and again: another one
    assert.equal((await agree(django, e, 49)).tips, 0);
  } finally {
    await setClock(NOON);
  }
});

test("Django's increment_quota, counting a new day with a blind set, erases the count of a reserve made in between", BOUND, async () => {
  const e = engine({ scale: 2 });
  await djangoLimits(django, { scale: 2 });
  const key = `:1:ai_quota:51:scale:${DATE}`;
  // Django's incr finds no counter and its set(key, 1) waits; meanwhile the engine creates the
  // counter with its reserve; then the set runs.
  assert.equal(await django.call("pause_before_set", { function: "increment_quota", pk: 51, feature: "scale" }), true);
  assert.deepEqual(await e.reserve({ id: 51 }, "scale").then((d) => [d.allowed, d.used]), [true, 1]);
  await django.call("resume_set");
  assert.equal(await client.get(key), "1", "two uses counted, one left");
  assert.deepEqual(await e.reserve({ id: 51 }, "scale").then((d) => [d.allowed, d.used]), [true, 2], "a third use, limit 2");
  assert.ok((await client.pTTL(key)) > 0, "the counter still ends with the day");
});

test("quota.py leaves unchecked what the engine checks: increment_quota counts an unlimited profile, and an unknown feature passes", BOUND, async () => {
  const e = engine({ tips: 5 });
  await djangoLimits(django, { tips: 5 });
  const unlimited = { id: 53, unlimited: true };
  const key = `:1:ai_quota:53:tips:${DATE}`;
  // increment_quota reads neither unlimited_ai nor AUTH_MODE: it counts; the engine does not.
  await django.call("increment", { pk: 53, feature: "tips", unlimited: true });
  assert.equal(await client.get(key), "1");
  assert.deepEqual(await e.increment(unlimited, "tips"), { allowed: true, unlimited: true, feature: "tips" });
  assert.equal(await client.get(key), "1", "the engine counted nothing");
  // A feature no limit names: Django admits an unlimited profile without looking, and its
  // increment_quota counts it for anyone; the engine refuses it for everyone.
  assert.deepEqual(await django.call("reserve", { pk: 53, feature: "tipz", unlimited: true }), [true, {}]);
  await django.call("increment", { pk: 54, feature: "tipz" });
  assert.equal(await client.get(`:1:ai_quota:54:tipz:${DATE}`), "1");
  for (const [profile, call] of [[unlimited, "reserve"], [{ id: 54 }, "increment"]]) {
    await assert.rejects(async () => e[call](profile, "tipz"), { code: "UNKNOWN_FEATURE" }, call);
  }
});

test("a counter Django created ends before midnight (its TTL rounded down): the engine counts the rest of the day from 0", BOUND, async () => {
  await djangoLimits(django, { timer: 2 });
  const key = `:1:ai_quota:52:timer:${DATE}`;
  try {
    // Django, 2.95 s before midnight, writes a TTL of int(2.95) = 2 s: its counter ends 0.95 s
    // before midnight, and the engine, at 0.9 s before it (its own clock, fixed here so that
    // the test does not race midnight), is still in that day.
    await setClock(MIDNIGHT - 2950);
    assert.equal(await djangoReserve(django, 52, "timer"), true);
    assert.equal(await djangoReserve(django, 52, "timer"), true);
    const late = new QuotaEngine({
      store: new RedisStore(client), limits: { ...SERVICE_LIMITS, timer: 2 }, keyPrefix: ":1:ai_quota", now: () => MIDNIGHT - 900,
    });
    assert.equal((await late.reserve({ id: 52 }, "timer")).allowed, false, "full while Django's counter lives");
    const giveUp = Date.now() + 10_000;
    while ((await client.exists(key)) && Date.now() < giveUp) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await client.exists(key), 0, "Django's counter ended");
    const decisions = [];
    for (let i = 0; i < 3; i++) decisions.push(await late.reserve({ id: 52 }, "timer").then((d) => [d.allowed, d.used]));
    assert.deepEqual(decisions, [[true, 1], [true, 2], [false, 2]], "the limit again, in the day's last second");
  } finally {
    await setClock(NOON);
  }
});

test("the README's migration example counts on Django's counter", BOUND, async () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const code = readme.slice(readme.indexOf("## Migrating from the Django service")).match(/```js\n([\s\S]*?)```/)[1];
  const file = new URL("../../target/readme-django.mjs", import.meta.url);
  mkdirSync(new URL(".", file), { recursive: true });
  writeFileSync(file, code);
  await djangoLimits(django, {});
  const before = (await django.call("get_usage", { pk: 42 })).remix;
  // The example runs on the real clock; it asks for today's counter unless a midnight passed.
  const out = execFileSync(process.execPath, [fileURLToPath(file)], { encoding: "utf8", env: { ...process.env, REDIS_URL: server.url } });
  assert.match(out, /^true \{/);
  assert.equal((await django.call("get_usage", { pk: 42 })).remix, before + 1);
});
