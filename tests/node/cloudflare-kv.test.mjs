// KvStore over Miniflare's Workers KV, in workerd: what it guarantees, and what it does not —
// atomicity — shown by making the race happen (every racing call reads before any writes).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startWorker } from "../../examples/cloudflare-worker/miniflare.mjs";
import { TEST_WORKER_TOML, awayFromMidnight, call, ok } from "../workerd/helpers.mjs";

const NOON = Date.UTC(2026, 10, 27, 12);
const HOUR = 3_600_000;
let mf;
before(async () => {
  await awayFromMidnight(); // one test uses the real clock
  mf = await startWorker(TEST_WORKER_TOML);
});
after(() => mf?.dispose());

const engine = (now, limits, calls) => ok(mf, "kvEngine", { now, limits, calls });
const store = (now, calls) => ok(mf, "kvStore", { now, calls });

test("sequential reserves count exactly, deny over the limit, release and usage work", async () => {
  const p = { id: 2001 };
  const calls = [
    ...Array.from({ length: 5 }, () => ["reserve", p, "remix"]),
    ["release", p, "remix"],
    ["reserve", p, "remix"],
    ["usage", 2001],
  ];
  const results = await engine(NOON, { remix: 4 }, calls);
  const decisions = results.slice(0, 5).map((r) => [r.result.allowed, r.result.used]);
  assert.deepEqual(decisions, [[true, 1], [true, 2], [true, 3], [true, 4], [false, 4]]);
  assert.equal(results[4].result.retryAfter, 12 * 3600);
  assert.equal(results[6].result.allowed, true, "the released slot is usable again");
  assert.deepEqual(results[7].result, { remix: 4 });
});

test("the store contract: incr never creates, add only when absent, set overwrites", async () => {
  const r = await store(NOON, [
    ["get", "c"],
    ["incr", "c", 1],
    ["add", "c", 2, 3600],
    ["add", "c", 9, 3600],
    ["incr", "c", 3],
    ["incr", "c", -6],
    ["set", "c", 7, 3600],
    ["get", "c"],
  ]);
  assert.deepEqual(r.map((x) => x.result), [null, null, true, false, 5, -1, null, 7]);
});

test("a counter reads as absent at its own TTL, though KV keeps keys at least 60 s", async () => {
  const [set] = await store(NOON, [["set", "short", 1, 5]]);
  assert.deepEqual(set, { result: null }, "a TTL under KV's 60 s minimum is accepted");
  assert.deepEqual((await store(NOON + 4_000, [["get", "short"]]))[0].result, 1);
  const later = await store(NOON + 5_000, [["get", "short"], ["incr", "short", 1], ["add", "short", 3, 60]]);
  assert.deepEqual(later.map((x) => x.result), [null, null, true]);
});

test("every write carries an expiration KV accepts, and the expiry of the window", async () => {
  // The real clock here: Miniflare checks expirations against it.
  const now = Date.now();
  await store(now, [["set", "ttl:short", 1, 1], ["set", "ttl:long", 1, 7200], ["incr", "ttl:long", 1]]);
  const keys = Object.fromEntries((await ok(mf, "kvList", { prefix: "ttl:" })).map((k) => [k.name, k]));
  const nowS = now / 1000;
  assert.ok(keys["ttl:short"].expiration >= Math.floor(nowS) + 60, "raised to KV's 60 s minimum");
  assert.equal(keys["ttl:short"].metadata.expiresAt, now + 1000, "the real expiry is kept in metadata");
  assert.equal(keys["ttl:long"].metadata.expiresAt, now + 7200 * 1000, "incr keeps the expiry");
  assert.ok(Math.abs(keys["ttl:long"].expiration - (nowS + 7200)) <= 1);
});

test("a counter written without KvStore's expiry gets the window's at its next count, never kept for good", async () => {
  // The real clock here: Miniflare checks expirations against it.
  const now = Date.now();
  await call(mf, "kvPutRaw", { key: "ttl:foreign", value: "3" });
  const [r] = await store(now, [["incrOrCreate", "ttl:foreign", 1, 7200]]);
  assert.equal(r.result, 4);
  const [key] = await ok(mf, "kvList", { prefix: "ttl:foreign" });
  assert.equal(key.metadata?.expiresAt, now + 7200 * 1000);
  assert.ok(Math.abs(key.expiration - (now / 1000 + 7200)) <= 1);
});

test("through the engine, a counter written without KvStore's expiry gets its window's keys' expiry: ten minutes past the window's end", async () => {
  // README: every key of a window lives ten minutes past its end (hosts whose clocks are behind).
  const now = Date.now();
  const day = new Date(now).toISOString().slice(0, 10);
  await call(mf, "kvPutRaw", { key: `ai_quota:2061:tips:${day}`, value: "1" });
  const [d] = await engine(now, { tips: 3 }, [["reserve", { id: 2061 }, "tips"]]);
  assert.deepEqual([d.result.allowed, d.result.used], [true, 2]);
  const [key] = await ok(mf, "kvList", { prefix: `ai_quota:2061:tips:${day}` });
  const end = Date.parse(d.result.resetsAt);
  assert.equal(key.metadata?.expiresAt, now + (Math.ceil((end - now) / 1000) + 600) * 1000); // the TTL in whole seconds
  assert.ok(key.metadata.expiresAt >= end + 600_000 && key.metadata.expiresAt < end + 601_000);
});

test("incrOrCreateWithin writes only within the limit; a denied reserve writes nothing to KV", async () => {
  const now = Date.now();
  const rs = await store(now, [
    ["incrOrCreateWithin", "within:a", 3, 7200, 2],
    ["get", "within:a"],
    ["incrOrCreateWithin", "within:a", 2, 7200, 2],
    ["incrOrCreateWithin", "within:a", 1, 7200, 2],
    ["get", "within:a"],
  ]);
  assert.deepEqual(rs.map((r) => r.result), [3, null, 2, 3, 2]);
  const [key] = await ok(mf, "kvList", { prefix: "within:" });
  assert.equal(key.metadata.expiresAt, now + 7200 * 1000, "created with the window's expiry");
  // A denial leaves the value as it was: the engine counts with incrOrCreateWithin.
  const p = { id: 2010 };
  await engine(NOON, { tips: 1 }, [["reserve", p, "tips"]]);
  await call(mf, "kvPutRaw", { key: "ai_quota:2010:tips:2026-11-27", value: "1" }); // no metadata: a write would add some
  const [denied] = await engine(NOON, { tips: 1 }, [["reserve", p, "tips"]]);
  assert.equal(denied.result.allowed, false);
  const [written] = await ok(mf, "kvList", { prefix: "ai_quota:2010:" });
  assert.equal(written.metadata, undefined, "not written");
});

test("the engine's keys and windows are the Django service's; the next day starts from zero", async () => {
  const p = { id: 2002 };
  await engine(NOON, { tips: 2 }, [["reserve", p, "tips"], ["reserve", p, "tips"]]);
  const names = (await ok(mf, "kvList", { prefix: "ai_quota:2002:" })).map((k) => k.name);
  assert.deepEqual(names, ["ai_quota:2002:tips:2026-11-27"]);
  const [denied] = await engine(NOON + HOUR, { tips: 2 }, [["reserve", p, "tips"]]);
  assert.equal(denied.result.allowed, false);
  const [tomorrow] = await engine(NOON + 13 * HOUR, { tips: 2 }, [["reserve", p, "tips"]]);
  assert.deepEqual([tomorrow.result.allowed, tomorrow.result.used], [true, 1]);
});

test("a value that is not a count is CORRUPT_COUNTER, never read as 0", async () => {
  await call(mf, "kvPutRaw", { key: "ai_quota:2003:tips:2026-11-27", value: "lots" });
  const [r] = await engine(NOON, { tips: 2 }, [["reserve", { id: 2003 }, "tips"]]);
  assert.equal(r.error?.code, "CORRUPT_COUNTER");
});

test("a value that only looks like a number (blank, hex, exponent, sign, spaces, leading zeros, past 2^53) is CORRUPT_COUNTER, never read as a count", async () => {
  // Number(" ") is 0 and Number("0x10") 16: read that way, a damaged counter would restart at 0.
  // Past 2^53 Number() rounds: a count no write of KvStore's could have made.
  for (const [i, value] of [" ", "\n", "0x10", "1e1", "+1", " 1", "1.0", "007", "9007199254740993"].entries()) {
    const id = 2020 + i;
    await call(mf, "kvPutRaw", { key: `ai_quota:${id}:tips:2026-11-27`, value });
    const [r] = await engine(NOON, { tips: 20 }, [["reserve", { id }, "tips"]]);
    assert.equal(r.error?.code, "CORRUPT_COUNTER", JSON.stringify(value));
  }
});

test("keys longer than KV's 512 bytes count like any other: a long string id, a client's long idempotency key", async () => {
  // KV refuses them, so every call on one was a store fault: under onStoreError "allow" a client
  // sending a 256-character Idempotency-Key was admitted every time and never counted.
  const key = (c) => "%".repeat(255) + c; // 767 bytes once escaped in its record's key
  const long = { id: "\u{1F600}".repeat(256) }; // 1,024 bytes in each of its keys
  const euros = { id: "\u20AC".repeat(200) }; // 600 bytes in 200 UTF-16 units
  const results = await ok(mf, "kvEngine", {
    now: NOON,
    limits: { tips: 2 },
    options: { onStoreError: "allow" },
    calls: [
      ["reserve", { id: 2040 }, "tips", { idempotencyKey: key("a") }],
      ["reserve", { id: 2040 }, "tips", { idempotencyKey: key("a") }],
      ["reserve", { id: 2040 }, "tips", { idempotencyKey: key("b") }],
      ["reserve", { id: 2040 }, "tips", { idempotencyKey: key("c") }],
      ["reserve", long, "tips"],
      ["reserve", long, "tips"],
      ["reserve", long, "tips"],
      ["usage", long.id],
      // 200 characters, 600 bytes: long in bytes, not in characters.
      ["reserve", euros, "tips"],
      ["reserve", euros, "tips"],
      ["reserve", euros, "tips"],
    ],
  });
  const shape = ({ result: d }) => [d.allowed, d.used, d.replayed === true, d.degraded ?? "counted"];
  assert.deepEqual(results.slice(0, 7).map(shape), [
    [true, 1, false, "counted"],
    [true, 1, true, "counted"],
    [true, 2, false, "counted"],
    [false, 2, false, "counted"],
    [true, 1, false, "counted"],
    [true, 2, false, "counted"],
    [false, 2, false, "counted"],
  ]);
  assert.deepEqual(results[7].result, { tips: 2 });
  assert.deepEqual(results.slice(8).map(shape), [
    [true, 1, false, "counted"],
    [true, 2, false, "counted"],
    [false, 2, false, "counted"],
  ]);
});

/** A KV namespace over a Map that records each put's options, for KvStore in Node. */
function recordingNamespace() {
  const data = new Map();
  const puts = [];
  const namespace = {
    getWithMetadata: async (k) => data.get(k) ?? { value: null, metadata: null },
    put: async (k, value, options = {}) => {
      puts.push(options);
      data.set(k, { value, metadata: options.metadata ?? null });
    },
  };
  return { data, puts, namespace };
}

// KV keeps a key for whole seconds: a count written part of a second into a window's second
// gets the TTL rounded up, so KV never drops the counter before its window's expiry (rounded
// down, the last moments of the window counted from zero again).
test("a count written between whole seconds keeps KV's expiration at or after its expiry", async () => {
  const { KvStore } = await import("../../pkg/stores/kv.js");
  const { puts, namespace } = recordingNamespace();
  let now = NOON;
  const store = new KvStore(namespace, { now: () => now });
  await store.set("k", 1, 7200);
  now += 500;
  assert.equal(await store.incr("k", 1), 2);
  assert.equal(await store.incrOrCreate("k", 1, 7200), 3);
  for (const { metadata, expirationTtl } of puts.slice(1)) {
    assert.equal(metadata.expiresAt, NOON + 7_200_000);
    assert.ok(now + expirationTtl * 1000 >= metadata.expiresAt, `TTL ${expirationTtl} s from ${now}`);
  }
});

// README, Workers KV: "Not guaranteed". Each call reads, then writes what it read plus its own:
// calls that read the same value write the same count, and all but one of them are lost.
const atOnce = (body) => ok(mf, "kvAtOnce", { now: NOON, ...body });
const decisions = (rs) => rs.map(({ result: d }) => [d.allowed, d.used]);

test("not atomic: reserves that read the same count all pass and count once, so the window admits more later", async () => {
  const p = { id: 2050 };
  const race = await atOnce({ limits: { tips: 3 }, atOnce: Array(5).fill(["reserve", p, "tips"]), held: 5 });
  assert.deepEqual(decisions(race.atOnce), Array(5).fill([true, 1]), "5 admitted against a limit of 3");
  const after = await engine(NOON, { tips: 3 }, [["reserve", p, "tips"], ["reserve", p, "tips"], ["reserve", p, "tips"]]);
  assert.deepEqual(decisions(after), [[true, 2], [true, 3], [false, 3]], "the counter says 1, so 2 more pass: 7 in all");
});

test("not atomic: a lost count is the whole amount of the reserve that lost it", async () => {
  const p = { id: 2054 };
  const race = await atOnce({ limits: { tips: 4 }, atOnce: Array(3).fill(["reserve", p, "tips", { amount: 2 }]), held: 3 });
  assert.deepEqual(decisions(race.atOnce), Array(3).fill([true, 2]), "6 admitted against a limit of 4");
  const after = await engine(NOON, { tips: 4 }, [["reserve", p, "tips", { amount: 2 }], ["reserve", p, "tips", { amount: 2 }]]);
  assert.deepEqual(decisions(after), [[true, 4], [false, 4]], "the counter says 2: 8 in all, the limit plus 2 for each of the two reserves whose count was lost");
});

test("not atomic: with one slot left, every reserve that read the count passes", async () => {
  const p = { id: 2051 };
  const race = await atOnce({
    limits: { tips: 3 }, before: [["reserve", p, "tips"], ["reserve", p, "tips"]], atOnce: Array(4).fill(["reserve", p, "tips"]), held: 4,
  });
  assert.deepEqual(decisions(race.atOnce), Array(4).fill([true, 3]), "4 admitted for the last slot");
  assert.deepEqual((await engine(NOON, { tips: 3 }, [["usage", 2051]]))[0].result, { tips: 3 });
});

test("not atomic: two settles of one reservation at once both apply", async () => {
  const p = { id: 2052 };
  const race = await atOnce({
    limits: { tips: 100 }, before: [["reserve", p, "tips", { amount: 4 }]], atOnce: [["settle", p, "$reservation", 1], ["settle", p, "$reservation", 1]], held: 2,
  });
  assert.deepEqual(race.atOnce.map((r) => r.result), [true, true], "the marker's add is a read, then a write");
});

test("not atomic: two retries under one idempotency key at once are both admitted, neither replayed", async () => {
  const p = { id: 2053 };
  const retry = ["reserve", p, "tips", { idempotencyKey: "job-1" }];
  // Three reads each, in step: the record's lookup, the counter, the record's add.
  const race = await atOnce({ limits: { tips: 10 }, atOnce: [retry, retry], held: 2, rounds: 3 });
  const shape = ({ result: d }) => [d.allowed, d.used, d.replayed === true, typeof d.reservation];
  assert.deepEqual(race.atOnce.map(shape), Array(2).fill([true, 1, false, "string"]));
});

test("the README's KvStore lines work as written, configured from env", async () => {
  // The test worker runs them in kvReadme; each code line of the README's block is there as written.
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const block = readme.slice(readme.indexOf("### Workers KV")).match(/```js\n([\s\S]*?)```/)[1];
  const worker = readFileSync(new URL("../workerd/worker.js", import.meta.url), "utf8");
  const lines = block.split("\n").filter((l) => l.trim() && !l.startsWith("//") && !l.startsWith("import "));
  assert.equal(lines.length, 2, lines.join("\n"));
  for (const line of lines) assert.ok(worker.includes(line), `the test worker runs: ${line}`);
  assert.match(block, /^import \{ QuotaEngine, KvStore, quotaOptionsFromEnv \} from "wasm-quota\/cloudflare";$/m);
  const { d, usage } = await ok(mf, "kvReadme", { profile: { id: 2004 } });
  assert.deepEqual([d.allowed, d.used, d.limit], [true, 1, 3]);
  assert.deepEqual(usage, { remix: 0, tips: 1 });
});

// incr knows no window: a counter written without KvStore's expiry (by someone else) is
// rewritten without one, as it was. Any TTL here would drop its counts at that TTL.
test("incr of a counter written without KvStore's expiry writes no expiration; the upserts give it the window's", async () => {
  const { KvStore } = await import("../../pkg/stores/kv.js");
  const { data, puts, namespace } = recordingNamespace();
  data.set("k", { value: "5", metadata: null });
  const store = new KvStore(namespace, { now: () => NOON });
  assert.equal(await store.incr("k", 1), 6);
  assert.deepEqual(puts, [{}]);
  for (const upsert of ["incrOrCreate", "incrOrCreateWithin"]) {
    data.set("k", { value: "5", metadata: null });
    puts.length = 0;
    assert.equal(await store[upsert]("k", 1, 60, 10), 6);
    assert.deepEqual(puts, [{ metadata: { expiresAt: NOON + 60_000 }, expirationTtl: 60 }], upsert);
  }
});
