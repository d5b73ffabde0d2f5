// QuotaDurableObject and DurableObjectStore in real workerd (Miniflare), reached over the same
// Durable Object RPC a worker uses. The test worker is tests/workerd/worker.js.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startWorker } from "../../examples/cloudflare-worker/miniflare.mjs";
import { TEST_WORKER_TOML, awayFromMidnight, call, ok, eventually } from "../workerd/helpers.mjs";
import { CLOCK_MARGIN_S } from "./helpers.mjs";

let mf;
before(async () => {
  await awayFromMidnight();
  mf = await startWorker(TEST_WORKER_TOML);
});
after(() => mf?.dispose());

const rpc = (id, method, ...args) => call(mf, "rpc", { id, method, args });

test("the main import line works in workerd, sharing one engine with wasm-quota/cloudflare", async () => {
  assert.deepEqual(await ok(mf, "mainEntry"), {
    allowed: [true, false],
    code: "UNKNOWN_FEATURE",
    sameClasses: true,
    cloudflareExports: true,
  });
});

// workerd's Intl takes UTC offsets as zones, Node 20's does not: limits must be valid on every
// host, so the engine takes zone names only, here as in Node (config.test.mjs).
test("a UTC offset is refused as a timeZone in workerd too, with the same error as in Node", async () => {
  const OFFSETS = ["+05:30", "-08:00", "+0530", "-08", "\u221205:00"];
  const answers = await ok(mf, "zones", { zones: [...OFFSETS, "Asia/Kolkata", "utc"] });
  for (const { timeZone, code, message } of answers.slice(0, OFFSETS.length)) {
    assert.equal(code, "INVALID_CONFIG", `${timeZone} taken`);
    assert.match(message, /is a UTC offset, not a zone name/);
  }
  assert.deepEqual(answers.slice(OFFSETS.length).map((a) => a.code), [null, null]);
});

test("wasm-quota/cloudflare outside workerd fails with a clear message", async () => {
  await assert.rejects(import("wasm-quota/cloudflare"), /runs only in Cloudflare Workers/);
});

test("quotaObjectName names a profile's object by the engine's own id rule, refusing what the engine refuses with its error", async () => {
  const named = await ok(mf, "objectNames", { ids: [42, 0, "ab", "a:b", "x".repeat(256)] });
  assert.deepEqual(named.map((n) => n.name), ["42", "0", "~ab", "~a:b", "~" + "x".repeat(256)]);
  const bad = [-1, 1.5, 2 ** 53, "", "x".repeat(257), "a\uD800", null, true, [1]];
  for (const { name, engine } of await ok(mf, "objectNames", { ids: bad })) {
    assert.equal(name.code, "INVALID_ARGUMENT");
    assert.deepEqual(name, engine, "the same refusal as the engine's");
  }
});

test("500 concurrent reserves for one profile with limit 37 admit exactly 37 (SQLite storage.kv)", async () => {
  assert.deepEqual(await ok(mf, "concurrent", { id: 500, feature: "remix", n: 500 }), { allowed: 37, denied: 463 });
  assert.deepEqual(await ok(mf, "rpc", { id: 500, method: "usage", args: [500] }), { remix: 37, tips: 0 });
});

test("the same holds over the async ctx.storage API (object not SQLite-backed)", async () => {
  assert.equal(await ok(mf, "kvUsable", { id: 501 }), false, "the sync API must be unavailable in this object");
  assert.deepEqual(await ok(mf, "concurrent", { binding: "QUOTA_ASYNC", id: 501, feature: "remix", n: 500 }), {
    allowed: 37,
    denied: 463,
  });
  const usage = await ok(mf, "rpc", { binding: "QUOTA_ASYNC", id: 501, method: "usage", args: [501] });
  assert.deepEqual(usage, { remix: 37, tips: 0 });
});

test("RPC methods mirror the engine: check, reserve, release, increment, usage", async () => {
  const p = { id: "user:7" };
  const c = (await rpc(p.id, "check", p, "tips")).result;
  assert.deepEqual([c.allowed, c.used, c.remaining, c.limit], [true, 0, 3, 3]);
  const r = (await rpc(p.id, "reserve", p, "tips", { amount: 2 })).result;
  assert.deepEqual([r.allowed, r.used, r.remaining], [true, 2, 1]);
  assert.equal(typeof r.reservation, "string");
  const denied = (await rpc(p.id, "reserve", p, "tips", { amount: 2 })).result;
  // Denied: 2 more do not fit, though 1 would (remaining is limit - used).
  assert.deepEqual([denied.allowed, denied.used, denied.remaining, "reservation" in denied], [false, 2, 1, false]);
  assert.ok(denied.retryAfter > 0);
  assert.deepEqual(await rpc(p.id, "release", p, r.reservation), { result: null });
  assert.deepEqual((await rpc(p.id, "usage", p.id)).result, { remix: 0, tips: 0 });
  const inc = (await rpc(p.id, "increment", p, "tips", { amount: 5 })).result;
  assert.deepEqual([inc.allowed, inc.used], [true, 5]);
  assert.deepEqual((await rpc(p.id, "release", p, "tips", { amount: 9 })).result, null);
  assert.deepEqual((await rpc(p.id, "usage", p.id)).result, { remix: 0, tips: 0 }, "release clamps at 0");
  const unlimited = (await rpc(p.id, "reserve", { id: p.id, unlimited: true }, "tips")).result;
  assert.deepEqual(unlimited, { allowed: true, unlimited: true, feature: "tips" });
});

test("profiles are isolated: one profile at its limit leaves others untouched", async () => {
  assert.deepEqual(await ok(mf, "concurrent", { id: 600, feature: "tips", n: 10 }), { allowed: 3, denied: 7 });
  for (const id of [601, "600", "~600"]) {
    const d = (await rpc(id, "reserve", { id }, "tips")).result;
    assert.deepEqual([d.allowed, d.used], [true, 1], `profile ${JSON.stringify(id)}`);
  }
  assert.deepEqual((await rpc(600, "usage", 600)).result, { remix: 0, tips: 3 });
});

test("an object counts only its own profile: a call for another profile, 42 and \"42\" included, is refused and counts nothing", async () => {
  // Profile 610 reached through another object (a careless `quotaObject(env.QUOTA, user.key)`)
  // would count there beside its own object's counters: twice its limit, and no longer atomic.
  for (const [object, id] of [[611, 610], ["610", 610], [610, "610"]]) {
    for (const [method, ...args] of [["reserve", { id }, "tips"], ["check", { id }, "tips"], ["increment", { id }, "tips"], ["release", { id }, "tips"], ["usage", id]]) {
      const r = await rpc(object, method, ...args);
      assert.equal(r.error?.code, "INVALID_ARGUMENT", `${method} for ${JSON.stringify(id)} in the object of ${JSON.stringify(object)}`);
      assert.match(r.error.message, /Durable Object/);
    }
  }
  const own = await ok(mf, "concurrent", { id: 610, feature: "tips", n: 5 });
  assert.deepEqual(own, { allowed: 3, denied: 2 }, "its own object still has its whole limit");
  for (const object of [611, "610"]) assert.deepEqual((await rpc(object, "usage", object)).result, { remix: 0, tips: 0 });
});

test("errors reach the caller with their code: [CODE] in the RPC message, QuotaError again via quotaObject", async () => {
  const raw = await call(mf, "rpc", { id: 700, raw: true, method: "reserve", args: [{ id: 700 }, "nope"] });
  assert.equal(raw.error.name, "Error");
  assert.equal(raw.error.message, '[UNKNOWN_FEATURE] Unknown quota feature: "nope"');

  const wrapped = await rpc(700, "reserve", { id: 700 }, "nope");
  assert.deepEqual(wrapped.error, { name: "QuotaError", message: 'Unknown quota feature: "nope"', code: "UNKNOWN_FEATURE" });

  for (const args of [[{ id: -1 }, "tips"], [{ id: 700 }, "tips", { amount: 0 }], [{ id: 700 }, "tips", { amount: 1.5 }], [null, "tips"]]) {
    const r = await rpc(700, "reserve", ...args);
    assert.equal(r.error?.code, "INVALID_ARGUMENT", JSON.stringify(args));
    assert.match(r.error.message, /profile|amount/);
  }
  // Over the async storage API an error can arise after the object awaited its storage (here
  // after reading the counter): it crosses as [CODE] all the same.
  await call(mf, "rpc", { binding: "QUOTA_ASYNC", id: 701, raw: true, method: "increment", args: [{ id: 701 }, "tips"] });
  const late = await call(mf, "rpc", { binding: "QUOTA_ASYNC", id: 701, raw: true, method: "increment", args: [{ id: 701 }, "tips", { amount: Number.MAX_SAFE_INTEGER }] });
  assert.match(late.error.message, /^\[INVALID_ARGUMENT\] adding \d+ to counter/);
  const badToken = await rpc(700, "release", { id: 700 }, "q1.tips.notatime.1");
  assert.equal(badToken.error?.code, "INVALID_ARGUMENT");
  assert.deepEqual((await rpc(700, "usage", 700)).result, { remix: 0, tips: 0 }, "refused calls count nothing");

  const config = await call(mf, "rpc", { binding: "QUOTA_BAD_CONFIG", id: 700, method: "usage", args: [700] });
  assert.equal(config.error.code, "INVALID_CONFIG");
  assert.match(config.error.message, /^QUOTA_LIMITS is not valid JSON/);
  assert.equal(config.error.message.match(/position 1/g).length, 1, "the cause's text is not repeated");
});

// The same helpers in Node, where each branch can be reached directly.
test("quotaOptionsFromEnv reads each variable; toRpcError and recoverQuotaError carry code and cause; quotaObject is no thenable", async () => {
  const { QuotaError } = await import("wasm-quota");
  const { quotaOptionsFromEnv, toRpcError, recoverQuotaError, quotaObject } = await import("../../pkg/cloudflare/rpc.js");
  const QUOTA_LIMITS = '{"remix":3}';
  assert.deepEqual(quotaOptionsFromEnv({ QUOTA_LIMITS }), { limits: { remix: 3 } });
  for (const [value, enabled] of [["true", true], [true, true], ["false", false], [false, false]]) {
    assert.equal(quotaOptionsFromEnv({ QUOTA_LIMITS, QUOTA_ENABLED: value }).enabled, enabled, JSON.stringify(value));
  }
  assert.equal("enabled" in quotaOptionsFromEnv({ QUOTA_LIMITS, QUOTA_ENABLED: "" }), false, "empty is unset");
  assert.throws(() => quotaOptionsFromEnv({ QUOTA_LIMITS, QUOTA_ENABLED: "no" }), { code: "INVALID_CONFIG" });
  const secret = "a secret of 16+ chars";
  assert.deepEqual(
    quotaOptionsFromEnv({ QUOTA_LIMITS: { remix: 3 }, QUOTA_KEY_PREFIX: "q", QUOTA_STRING_ID_KEYS: "raw", QUOTA_RESERVATION_SECRET: secret }),
    { limits: { remix: 3 }, keyPrefix: "q", stringIdKeys: "raw", tokenSecret: secret },
  );

  // A cause's text goes along when the message lacks it; the code comes back from the text,
  // also as "QuotaError: [CODE] …" (an error's name and message, as some hosts print it).
  const sent = toRpcError(new QuotaError("STORE_ERROR", "the store failed", { cause: new Error("disk full") }));
  assert.equal(sent.message, "[STORE_ERROR] the store failed: disk full");
  assert.deepEqual([recoverQuotaError(sent).code, recoverQuotaError(sent).message], ["STORE_ERROR", "the store failed: disk full"]);
  assert.equal(recoverQuotaError(new Error("QuotaError: [UNKNOWN_FEATURE] nope")).code, "UNKNOWN_FEATURE");
  const own = new QuotaError("INVALID_ARGUMENT", "[NOT_A_CODE] as the user wrote it");
  assert.equal(recoverQuotaError(own), own, "a QuotaError is returned as it is");

  // Awaiting the client itself must not call the object's "then".
  const called = [];
  const namespace = { idFromName: (name) => name, get: () => ({ then: () => called.push("then"), usage: async () => ({ remix: 1 }) }) };
  const client = quotaObject(namespace, 7);
  assert.equal(client.then, undefined);
  assert.equal(await client, client);
  assert.deepEqual(await client.usage(7), { remix: 1 });
  assert.deepEqual(called, []);
});

test("QUOTA_STRING_ID_KEYS: \"raw\" writes string ids as the Django service does, refusing ids that could share a key; any other value is INVALID_CONFIG", async () => {
  const uuid = "3f2c9a1e-8b4d-4c6e-9f00-1a2b3c4d5e6f";
  const counters = async (binding) => {
    const d = await ok(mf, "rpc", { binding, id: uuid, method: "reserve", args: [{ id: uuid }, "tips"] });
    assert.equal(d.allowed, true);
    const day = new Date(Date.parse(d.resetsAt) - 1).toISOString().slice(0, 10);
    const keys = await ok(mf, "rpc", { binding, id: uuid, raw: true, method: "rawKeys" });
    return [keys.filter((k) => k.startsWith("ai_quota:")), day];
  };
  const [escaped, day] = await counters("QUOTA_INSPECT");
  assert.deepEqual(escaped, [`ai_quota:~${uuid}:tips:${day}`], "unset: escaped");
  const [raw, rawDay] = await counters("QUOTA_RAW_IDS");
  assert.deepEqual(raw, [`ai_quota:${uuid}:tips:${rawDay}`], "raw: the Django service's key");
  for (const id of ["a:b", "42", "~x"]) {
    const r = await call(mf, "rpc", { binding: "QUOTA_RAW_IDS", id, method: "reserve", args: [{ id }, "tips"] });
    assert.equal(r.error?.code, "INVALID_ARGUMENT", id);
  }
  assert.equal((await ok(mf, "rpc", { binding: "QUOTA_INSPECT", id: "a:b", method: "reserve", args: [{ id: "a:b" }, "tips"] })).allowed, true, "escaped takes it");

  for (const value of ["escaped", "raw"]) {
    assert.equal((await ok(mf, "optionsFromEnv", { env: { QUOTA_STRING_ID_KEYS: value } })).stringIdKeys, value);
  }
  assert.equal("stringIdKeys" in (await ok(mf, "optionsFromEnv", { env: {} })), false, "unset: the engine's default");
  for (const value of ["RAW", "", " raw", true]) {
    const r = await call(mf, "optionsFromEnv", { env: { QUOTA_STRING_ID_KEYS: value } });
    assert.deepEqual([r.error?.code, r.error?.message], ["INVALID_CONFIG", `QUOTA_STRING_ID_KEYS must be "escaped" or "raw", got ${JSON.stringify(value)}`]);
  }
  const bad = await call(mf, "rpc", { binding: "QUOTA_BAD_STRING_ID_KEYS", id: 1, method: "usage", args: [1] });
  assert.deepEqual([bad.error?.code, bad.error?.message], ["INVALID_CONFIG", 'QUOTA_STRING_ID_KEYS must be "escaped" or "raw", got "RAW"']);
});

test("a bad stored value is CORRUPT_COUNTER at the caller, also one DurableObjectStore did not write", async () => {
  const inspect = (id, method, ...args) => call(mf, "rpc", { binding: "QUOTA_INSPECT", id, raw: true, method, args });
  const probe = await call(mf, "rpc", { binding: "QUOTA_INSPECT", id: 802, method: "reserve", args: [{ id: 802 }, "tips"] });
  const key = `ai_quota:802:tips:${new Date(Date.parse(probe.result.resetsAt) - 1).toISOString().slice(0, 10)}`;
  await inspect(802, "putRaw", key, { count: "many", expiresAt: Date.now() + 3_600_000 });
  const corrupt = await call(mf, "rpc", { binding: "QUOTA_INSPECT", id: 802, method: "reserve", args: [{ id: 802 }, "tips"] });
  assert.equal(corrupt.error?.code, "CORRUPT_COUNTER");
  await inspect(802, "putRaw", key, 5);
  // Not a store fault (which onStoreError "allow" would answer by admitting): no count.
  const raw = await inspect(802, "check", { id: 802 }, "tips");
  assert.match(raw.error.message, /^\[CORRUPT_COUNTER\] store returned a string for counter "ai_quota:802:tips:/);
  for (const method of ["check", "reserve"]) {
    const wrapped = await call(mf, "rpc", { binding: "QUOTA_INSPECT", id: 802, method, args: [{ id: 802 }, "tips"] });
    assert.equal(wrapped.error.code, "CORRUPT_COUNTER", method);
  }
});

test("DurableObjectStore keeps the store contract over the synchronous storage.kv", async () => {
  const probe = (method, ...args) => ok(mf, "probe", { name: "contract", method, args });
  const op = (...args) => probe("op", ...args);
  assert.equal(await op("get", "k"), null);
  assert.equal(await op("incr", "k", 1), null, "incr never creates");
  assert.equal(await probe("raw", "k"), null);
  assert.equal(await op("add", "k", 2, 60), true);
  assert.equal(await op("add", "k", 5, 60), false, "add only when absent");
  assert.equal(await op("incr", "k", -3), -1, "incr may go negative; the engine clamps");
  assert.equal(await op("get", "k"), -1);
  assert.equal(await probe("synchronous"), true);
  await op("set", "k", 7, 60);
  assert.equal(await op("get", "k"), 7);
  await probe("advanceClock", 61_000);
  assert.equal(await op("get", "k"), null, "expired reads as absent");
  assert.equal(await op("incr", "k", 1), null);
  assert.equal(await op("add", "k", 1, 60), true, "an expired key can be added again");
  assert.equal(await op("incrOrCreate", "u", 2, 60), 2, "incrOrCreate creates");
  assert.equal(await op("incrOrCreate", "u", 3, 600), 5, "and increments");
  await probe("advanceClock", 59_000);
  assert.equal(await op("get", "u"), 5);
  await probe("advanceClock", 1_000);
  assert.equal(await op("get", "u"), null, "with the TTL of its creation");
  assert.equal(await op("incrOrCreate", "u", 1, 60), 1, "an expired key is created again");
  assert.equal(await op("incrOrCreateWithin", "w", 4, 60, 3), 4, "over the limit");
  assert.equal(await probe("raw", "w"), null, "nothing created");
  assert.equal(await op("incrOrCreateWithin", "w", 3, 60, 3), 3);
  assert.equal(await op("incrOrCreateWithin", "w", 1, 60, 3), 4, "over the limit");
  assert.equal(await op("get", "w"), 3, "nothing written");

  await probe("putRaw", "foreign", 5);
  for (const [method, ...args] of [["get"], ["incr", 1], ["incrOrCreate", 1, 60], ["incrOrCreateWithin", 1, 60, 10]]) {
    assert.equal(await op(method, "foreign", ...args), "a value DurableObjectStore did not write", method);
  }
  assert.equal(await op("add", "foreign", 1, 60), false, "not absent");
  assert.equal(await probe("raw", "foreign"), 5, "and left as it was");
  await probe("putRaw", "odd", { count: "3", expiresAt: Date.now() + 3_600_000 });
  assert.equal(await op("incr", "odd", 1), "3", "a count that is not a number is handed back, not concatenated");
  assert.equal((await probe("raw", "odd")).count, "3", "and left as it was");
});

test("the alarm deletes expired counters and re-arms for the next expiry", async () => {
  const probe = (name, method, ...args) => ok(mf, "probe", { name, method, args });
  // Swept on demand with a moved clock: exact and immediate.
  await probe("sweep", "op", "set", "a", 1, 1);
  await probe("sweep", "op", "set", "b", 1, 5);
  await probe("sweep", "op", "set", "c", 1, 3600);
  await probe("sweep", "advanceClock", 10_000);
  assert.equal(await probe("sweep", "runAlarmNow"), 2);
  assert.deepEqual(await probe("sweep", "rawKeys"), ["c"]);
  const c = await probe("sweep", "raw", "c");
  assert.equal(await probe("sweep", "alarmAt"), c.expiresAt, "the next alarm is the next expiry");

  // The real alarm, scheduled by the store and run by workerd. "short" lives 5 s, not 1: the
  // two reads below must come before workerd's alarm deletes it, even on a loaded machine
  // (with 1 s, a 2.5 s pause before them failed as a loaded run did: `short` was null).
  await probe("real", "op", "set", "short", 1, 5);
  await probe("real", "op", "set", "long", 1, 3600);
  const short = await probe("real", "raw", "short");
  assert.equal(await probe("real", "alarmAt"), short.expiresAt, "armed for the earliest expiry");
  assert.ok(await eventually(async () => (await probe("real", "raw", "short")) === null), "workerd ran the alarm");
  assert.deepEqual(await probe("real", "rawKeys"), ["long"]);
  const long = await probe("real", "raw", "long");
  assert.ok(await eventually(async () => (await probe("real", "alarmAt")) === long.expiresAt), "re-armed");
});

test("a QuotaDurableObject arms its alarm for the reset instant, when its counters expire", async () => {
  const d = (await call(mf, "rpc", { binding: "QUOTA_INSPECT", id: 800, method: "reserve", args: [{ id: 800 }, "remix"] })).result;
  assert.equal(d.allowed, true);
  const inspect = (method) => ok(mf, "rpc", { binding: "QUOTA_INSPECT", id: 800, raw: true, method });
  // TTLs are whole seconds rounded up, to the reset and the clock margin past it, so the
  // counter expires within a second after the reset's ten minutes.
  const alarmAt = await inspect("alarmAt");
  const expiresAt = Date.parse(d.resetsAt) + CLOCK_MARGIN_S * 1000;
  assert.ok(alarmAt >= expiresAt && alarmAt < expiresAt + 1000, `alarm at ${alarmAt}, reset at ${d.resetsAt}`);
  const day = new Date(Date.parse(d.resetsAt) - 1).toISOString().slice(0, 10);
  // The counter, the object's name, and the secret it signs its reservation tokens with (no env secret).
  assert.deepEqual(await inspect("rawKeys"), [`ai_quota:800:remix:${day}`, "wasm-quota:object-name", "wasm-quota:token-secret"]);
});

test("inside the object the engine answers synchronously (storage.kv), with no Promise in between", async () => {
  // reserveLoop reads `.allowed` straight off each result: a Promise would count as not allowed.
  const r = await ok(mf, "rpc", { binding: "QUOTA_INSPECT", id: 801, raw: true, method: "reserveLoop", args: [801, "tips", 5] });
  assert.deepEqual(r, { allowed: 3 });
});

test("counts survive disposing and recreating Miniflare with persistence on", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "wasm-quota-persist-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  let first = await startWorker(TEST_WORKER_TOML, { persist: dir });
  let reservation;
  try {
    assert.deepEqual(await ok(first, "concurrent", { id: 900, feature: "remix", n: 20 }), { allowed: 20, denied: 0 });
    reservation = (await ok(first, "rpc", { id: 900, method: "reserve", args: [{ id: 900 }, "tips"] })).reservation;
  } finally {
    await first.dispose();
  }
  const second = await startWorker(TEST_WORKER_TOML, { persist: dir });
  try {
    assert.deepEqual(await ok(second, "rpc", { id: 900, method: "usage", args: [900] }), { remix: 20, tips: 1 });
    assert.deepEqual(await ok(second, "concurrent", { id: 900, feature: "remix", n: 30 }), { allowed: 17, denied: 13 });
    await ok(second, "rpc", { id: 900, method: "release", args: [{ id: 900 }, reservation] });
    assert.deepEqual(await ok(second, "rpc", { id: 900, method: "usage", args: [900] }), { remix: 37, tips: 0 });
  } finally {
    await second.dispose();
  }
});

// A fresh instance reads the alarm already set (loadAlarm) before its first write: a settle's
// marker, which outlives the day, would otherwise move the alarm past the counters' expiry.
test("after a restart, the first write leaves the alarm set for the counters where it was", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "wasm-quota-persist-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const inspect = (mf, method, ...args) => ok(mf, "rpc", { binding: "QUOTA_INSPECT", id: 905, raw: true, method, args });
  let first = await startWorker(TEST_WORKER_TOML, { persist: dir });
  let reservation, alarmAt;
  try {
    reservation = (await inspect(first, "reserve", { id: 905 }, "tips")).reservation;
    alarmAt = await inspect(first, "alarmAt");
    assert.ok(alarmAt > Date.now(), `alarm at ${alarmAt}`);
  } finally {
    await first.dispose();
  }
  const second = await startWorker(TEST_WORKER_TOML, { persist: dir });
  try {
    assert.equal(await inspect(second, "settle", { id: 905 }, reservation, 2), true);
    assert.equal(await inspect(second, "alarmAt"), alarmAt);
  } finally {
    await second.dispose();
  }
});

test("an object that its alarm woke after a restart still counts only its own profile", async (t) => {
  // workerd gives an instance an alarm woke no ctx.id.name, for as long as that instance lives.
  const dir = await mkdtemp(join(tmpdir(), "wasm-quota-persist-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const rpcIn = (m, method, ...args) => call(m, "rpc", { binding: "QUOTA_ALARMED", id: 920, method, args });
  const first = await startWorker(TEST_WORKER_TOML, { persist: dir });
  try {
    assert.equal((await rpcIn(first, "reserve", { id: 920 }, "tips")).result?.allowed, true);
    await rpcIn(first, "alarmIn", 4000); // after this Miniflare is gone, even on a loaded machine
  } finally {
    await first.dispose();
  }
  const restarted = Date.now();
  const second = await startWorker(TEST_WORKER_TOML, { persist: dir });
  try {
    // Wait for the alarm without a call to the object, which would start it first.
    const kv = await second.getKVNamespace("QUOTA_KV");
    assert.ok(await eventually(async () => (await kv.get("alarm-ran")) !== null), "the alarm ran");
    const ran = JSON.parse(await kv.get("alarm-ran"));
    assert.ok(ran.at >= restarted, "the alarm ran after the restart, starting the object");
    const other = await rpcIn(second, "reserve", { id: 921 }, "tips");
    assert.equal(other.error?.code, "INVALID_ARGUMENT", `profile 921 in the object of 920, alarm woken (ctx.id.name ${ran.name}): ${JSON.stringify(other)}`);
    assert.deepEqual((await rpcIn(second, "usage", 920)).result, { remix: 0, tips: 1 });
  } finally {
    await second.dispose();
  }
});

test("settle through the object: corrects the estimate once; a released reservation cannot be settled", async () => {
  const p = { id: 800 };
  const d = (await rpc(p.id, "reserve", p, "remix", { amount: 20 })).result;
  assert.equal(d.allowed, true);
  assert.deepEqual(await rpc(p.id, "settle", p, d.reservation, 5), { result: true });
  assert.deepEqual(await rpc(p.id, "settle", p, d.reservation, 5), { result: false });
  assert.deepEqual(await rpc(p.id, "release", p, d.reservation), { result: null });
  assert.equal((await rpc(p.id, "usage", p.id)).result.remix, 5);
  const r = (await rpc(p.id, "reserve", p, "remix", { amount: 4 })).result;
  await rpc(p.id, "release", p, r.reservation);
  await rpc(p.id, "release", p, r.reservation);
  assert.deepEqual(await rpc(p.id, "settle", p, r.reservation, 30), { result: false });
  assert.equal((await rpc(p.id, "usage", p.id)).result.remix, 5);
  const bad = await rpc(p.id, "settle", p, d.reservation, -1);
  assert.equal(bad.error?.code, "INVALID_ARGUMENT");
});

test("idempotent reserves through the object: 50 concurrent retries count once; only the first holds a token", async () => {
  const p = { id: 801 };
  const results = await Promise.all(
    Array.from({ length: 50 }, () => rpc(p.id, "reserve", p, "tips", { amount: 2, idempotencyKey: "req-1" })),
  );
  const ds = results.map((r) => r.result);
  assert.ok(ds.every((d) => d.allowed));
  assert.equal(ds.filter((d) => d.reservation !== undefined).length, 1);
  assert.equal(ds.filter((d) => d.replayed !== true).length, 1);
  assert.equal((await rpc(p.id, "usage", p.id)).result.tips, 2);
  // A different key is a new request: 2 more do not fit under 3; the denial is not recorded.
  const other = (await rpc(p.id, "reserve", p, "tips", { amount: 2, idempotencyKey: "req-2" })).result;
  assert.equal(other.allowed, false);
  const again = (await rpc(p.id, "reserve", p, "tips", { amount: 2, idempotencyKey: "req-2" })).result;
  assert.deepEqual([again.allowed, again.replayed], [false, undefined]);
});
