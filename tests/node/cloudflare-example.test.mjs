// The example worker (examples/cloudflare-worker) in real workerd, over HTTP as a client sees
// it, with its own wrangler.toml; QUOTA_LIMITS is overridden to give remix a limit of 37.
import { test, before, after } from "node:test";
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import assert from "node:assert/strict";
import { startWorker } from "../../examples/cloudflare-worker/miniflare.mjs";
import { signToken } from "../../examples/cloudflare-worker/src/token.js";
import { EXAMPLE_TOML, awayFromMidnight, nextMidnight, secondsToMidnight } from "../workerd/helpers.mjs";

const SECRET = "test-secret-0123456789abcdef";
// Short, so that a lease can run out within a test; the stand-in model takes milliseconds.
const LEASE_SECONDS = 2;
let mf;
before(async () => {
  await awayFromMidnight();
  mf = await startWorker(EXAMPLE_TOML, {
    bindings: {
      QUOTA_TOKEN_SECRET: SECRET,
      QUOTA_LIMITS: JSON.stringify({ remix: 37, tips: 2, scale: 10, remix_suggestions: 9 }),
      IDEMPOTENCY_LEASE_SECONDS: String(LEASE_SECONDS),
    },
  });
});
after(() => mf?.dispose());

const token = (claims, options) => signToken(SECRET, claims, options);

async function ai(tokenOrNull, feature, body, extraHeaders = {}) {
  const headers = tokenOrNull === null ? { ...extraHeaders } : { Authorization: `Bearer ${tokenOrNull}`, ...extraHeaders };
  const res = await mf.dispatchFetch(`http://example/ai/${feature}`, {
    method: "POST",
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

async function usage(tok) {
  const res = await mf.dispatchFetch("http://example/usage", { headers: { Authorization: `Bearer ${tok}` } });
  assert.equal(res.status, 200);
  return (await res.json()).usage;
}

test("500 concurrent requests for one profile with limit 37 admit exactly 37", async () => {
  const tok = await token({ sub: 1001 });
  const results = await Promise.all(Array.from({ length: 500 }, (_, i) => ai(tok, "remix", { prompt: `p${i}` })));
  const statuses = {};
  for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  assert.deepEqual(statuses, { 200: 37, 429: 463 });
  const used = results.filter((r) => r.status === 200).map((r) => r.body.quota.used).sort((a, b) => a - b);
  assert.deepEqual(used, Array.from({ length: 37 }, (_, i) => i + 1), "each admitted request got its own slot");
  assert.equal((await usage(tok)).remix, 37);
});

test("a denial is the package's 429 problem+json with Retry-After and RateLimit headers", async () => {
  const tok = await token({ sub: 1010 });
  const ok = await ai(tok, "tips");
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("RateLimit-Policy"), '"daily";q=2;w=86400');
  assert.match(ok.headers.get("RateLimit"), /^"daily";r=1;t=\d+$/);
  assert.equal((await ai(tok, "tips")).status, 200);
  const before = Date.now();
  const r = await ai(tok, "tips", { prompt: "one too many" });
  const after = Date.now();
  assert.equal(r.status, 429);
  assert.equal(r.headers.get("Content-Type"), "application/problem+json");
  const retryAfter = Number(r.headers.get("Retry-After"));
  assert.ok(Number.isInteger(retryAfter), r.headers.get("Retry-After"));
  // Seconds to the next UTC midnight as of the moment the object answered.
  assert.ok(retryAfter <= secondsToMidnight(before) && retryAfter >= secondsToMidnight(after), `${retryAfter}`);
  assert.equal(r.headers.get("RateLimit"), `"daily";r=0;t=${retryAfter}`);
  assert.equal(r.headers.get("RateLimit-Policy"), '"daily";q=2;w=86400');
  assert.deepEqual(r.body, {
    type: "about:blank",
    title: "Too Many Requests",
    status: 429,
    detail: `Quota exceeded for "tips": 2 of 2 used; it resets at ${nextMidnight(before)}.`,
    feature: "tips",
    limit: 2,
    used: 2,
    remaining: 0,
    resetsAt: nextMidnight(before),
    retryAfter,
  });
});

test("20 concurrent requests with one Idempotency-Key: one model call, counted once; the others 409 or the first response", async () => {
  const tok = await token({ sub: 1020 });
  const key = { "Idempotency-Key": "order-77" };
  const results = await Promise.all(Array.from({ length: 20 }, () => ai(tok, "scale", { prompt: "p" }, key)));
  const ok = results.filter((r) => r.status === 200);
  assert.ok(ok.length >= 1, "the first one ran");
  assert.ok(results.every((r) => r.status === 200 || (r.status === 409 && r.body.error === "request_in_progress")));
  // Every 200 is the one response of the one model call.
  for (const r of ok) assert.deepEqual(r.body, ok[0].body);
  assert.equal((await usage(tok)).scale, 1);
  const later = await ai(tok, "scale", { prompt: "p" }, key);
  assert.equal(later.status, 200);
  assert.deepEqual(later.body, ok[0].body, "a later retry gets the first response");
  assert.equal(later.headers.get("RateLimit"), ok[0].headers.get("RateLimit"));
  assert.equal((await ai(tok, "scale", { prompt: "p" }, { "Idempotency-Key": "order-78" })).body.quota.used, 2);
});

test("the same Idempotency-Key with another body is 422 and runs nothing", async () => {
  const tok = await token({ sub: 1021 });
  const key = { "Idempotency-Key": "k-1" };
  assert.equal((await ai(tok, "scale", { prompt: "a" }, key)).status, 200);
  const other = await ai(tok, "scale", { prompt: "b" }, key);
  assert.equal(other.status, 422);
  assert.equal(other.body.error, "idempotency_key_reused");
  assert.equal((await ai(tok, "tips", { prompt: "a" }, key)).status, 422, "another feature is another request");
  assert.deepEqual(await usage(tok), { remix: 0, tips: 0, scale: 1, remix_suggestions: 0 });
});

test("ten rounds of 'success, then a failing retry' give ten outputs and ten counts", async () => {
  const tok = await token({ sub: 1022 });
  for (let round = 0; round < 10; round++) {
    const key = { "Idempotency-Key": `round-${round}` };
    assert.equal((await ai(tok, "scale", { prompt: "x" }, key)).status, 200);
    // The retry cannot run again (same body: the first response) nor release the original.
    assert.equal((await ai(tok, "scale", { prompt: "x" }, key)).status, 200);
    assert.equal((await ai(tok, "scale", { prompt: "x", simulateFailure: true }, key)).status, 422);
  }
  assert.equal((await usage(tok)).scale, 10);
});

test("a denial is not kept under its key: the same key is asked again once a slot is free", async () => {
  const tok = await token({ sub: 1023 });
  const held = await ai(tok, "tips");
  assert.equal((await ai(tok, "tips")).status, 200);
  const key = { "Idempotency-Key": "late" };
  assert.equal((await ai(tok, "tips", {}, key)).status, 429);
  assert.equal((await ai(tok, "tips", {}, key)).status, 429, "asked again, still full");
  assert.equal(held.status, 200);
});

test("usage is the model's, measured on the server: a client's actualAmount or amount is refused", async () => {
  const tok = await token({ sub: 1030 });
  // remix_suggestions reserves 3; the stand-in answers one suggestion per word: 2 used.
  const r = await ai(tok, "remix_suggestions", { prompt: "two words" });
  assert.equal(r.status, 200);
  assert.equal(r.body.output.length, 2);
  assert.equal(r.body.quota.settled, 2);
  assert.equal((await usage(tok)).remix_suggestions, 2);
  for (let i = 0; i < 10; i++) {
    const cheat = await ai(tok, "tips", { actualAmount: 0 });
    assert.equal(cheat.status, 400);
    assert.match(cheat.body.message, /actualAmount/);
  }
  for (const body of [{ actualAmount: 2 ** 53 - 1 }, { amount: 0 }, { amount: 2 ** 53 - 1 }]) {
    assert.equal((await ai(tok, "tips", body)).status, 400, JSON.stringify(body));
  }
  assert.deepEqual(await usage(tok), { remix: 0, tips: 0, scale: 0, remix_suggestions: 2 });
  assert.equal((await ai(tok, "tips")).status, 200, "the counter is still usable");
});

test("profiles are isolated: another profile, and the string id \"1001\", still have their own quota", async () => {
  const tok = await token({ sub: 1001 });
  assert.equal((await ai(tok, "remix")).status, 429, "1001 is at its limit from the first test");
  for (const sub of [1002, "1001"]) {
    const r = await ai(await token({ sub }), "remix");
    assert.equal(r.status, 200, `profile ${JSON.stringify(sub)}`);
    assert.equal(r.body.quota.used, 1);
  }
  assert.equal((await usage(tok)).remix, 37);
});

test("a failed AI call releases its reservation: the slot is usable again", async () => {
  const tok = await token({ sub: 1003 });
  const failed = await ai(tok, "tips", { simulateFailure: true });
  assert.equal(failed.status, 502);
  assert.deepEqual(failed.body, { error: "ai_failed", message: "the model call failed (simulated)", released: true });
  assert.equal((await usage(tok)).tips, 0);
  assert.equal((await ai(tok, "tips")).status, 200);
  assert.equal((await ai(tok, "tips", { simulateFailure: true })).status, 502);
  assert.equal((await ai(tok, "tips")).status, 200, "the limit of 2 is still fully usable");
  assert.equal((await ai(tok, "tips")).status, 429);
  assert.equal((await usage(tok)).tips, 2);
});

test("unknown feature and bad input get clear errors and count nothing", async () => {
  const tok = await token({ sub: 1004 });
  const unknown = await ai(tok, "remixx");
  assert.equal(unknown.status, 404);
  assert.deepEqual(unknown.body, { error: "unknown_feature", message: 'Unknown quota feature: "remixx"' });

  for (const [feature, body, error, pattern] of [
    ["tips", "{not json", "invalid_request", /JSON/],
    ["tips", "[1]", "invalid_request", /JSON object/],
    ["%E0%A4%A", undefined, "invalid_request", /URI/],
    ["tips", { amount: 1.5 }, "invalid_request", /amount/],
  ]) {
    const r = await ai(tok, feature, body);
    assert.equal(r.status, 400, `${feature} ${JSON.stringify(body)}`);
    assert.equal(r.body.error, error);
    assert.match(r.body.message, pattern);
  }
  // Names that plain objects inherit are no features either: the worker's table of estimates
  // must not hand one its inherited function or prototype as an amount.
  for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty"]) {
    const res = await mf.dispatchFetch(`http://example/ai/${name}`, { method: "POST", headers: { Authorization: `Bearer ${tok}` } });
    const text = await res.text();
    assert.equal(res.status, 404, `${name}: ${text}`);
    assert.deepEqual(JSON.parse(text), { error: "unknown_feature", message: `Unknown quota feature: ${JSON.stringify(name)}` });
  }
  assert.deepEqual(await usage(tok), { remix: 0, tips: 0, scale: 0, remix_suggestions: 0 });

  const wrongMethod = await mf.dispatchFetch("http://example/ai/tips", { headers: { Authorization: `Bearer ${tok}` } });
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.get("Allow"), "POST");
  assert.equal((await mf.dispatchFetch("http://example/nothing")).status, 404);
});

test("a missing, forged, tampered or expired token gets 401 and counts nothing", async () => {
  const good = await token({ sub: 1005 });
  const [payload, sig] = good.split(".");
  const otherPayload = (await token({ sub: 1006 })).split(".")[0];
  const cases = {
    missing: null,
    garbage: "not-a-token",
    "wrong secret": await signToken("another-secret-0123456789", { sub: 1005 }),
    "payload swapped": `${otherPayload}.${sig}`,
    "signature cut": `${payload}.${sig.slice(0, -2)}`,
    "bad base64": `${payload}.${sig}x`,
    expired: await token({ sub: 1005 }, { ttlSeconds: -1 }),
  };
  for (const [name, tok] of Object.entries(cases)) {
    const r = await ai(tok, "remix");
    assert.equal(r.status, 401, name);
    assert.equal(r.headers.get("WWW-Authenticate"), "Bearer", name);
    assert.equal(r.body.error, "unauthorized", name);
    const u = await mf.dispatchFetch("http://example/usage", tok === null ? {} : { headers: { Authorization: `Bearer ${tok}` } });
    assert.equal(u.status, 401, `usage, ${name}`);
  }
  assert.deepEqual(await usage(good), { remix: 0, tips: 0, scale: 0, remix_suggestions: 0 });
  assert.deepEqual(await usage(await token({ sub: 1006 })), { remix: 0, tips: 0, scale: 0, remix_suggestions: 0 });
  assert.equal((await ai(good, "remix")).status, 200, "the genuine token works");
});

test("a signed token with a profile id the engine refuses is a 400 on every route, not a crash", async () => {
  // The token is the server's own (a minting bug, say): its id still never reaches a counter.
  for (const sub of [-1, 1.5, "", "x".repeat(300)]) {
    const tok = await token({ sub });
    for (const [name, res] of [
      ["ai", await mf.dispatchFetch("http://example/ai/remix", { method: "POST", headers: { Authorization: `Bearer ${tok}` } })],
      ["usage", await mf.dispatchFetch("http://example/usage", { headers: { Authorization: `Bearer ${tok}` } })],
    ]) {
      assert.equal(res.status, 400, `${name}, sub ${JSON.stringify(sub).slice(0, 20)}`);
      assert.equal((await res.json()).error, "invalid_argument", name);
    }
  }
});

test("an unlimited profile (claim in its signed token) is allowed and counted nowhere", async () => {
  const tok = await token({ sub: 1007, unlimited: true });
  for (let i = 0; i < 4; i++) {
    const r = await ai(tok, "tips");
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.quota, { unlimited: true });
  }
  assert.equal((await usage(tok)).tips, 0);
});

test("a request whose model call failed is released, and its retry with the same Idempotency-Key is counted", async () => {
  const tok = await token({ sub: 1040 });
  const key = { "Idempotency-Key": "flaky-1" };
  const failed = await ai(tok, "remix_suggestions", { prompt: "a b c d", simulateFailure: true }, key);
  assert.equal(failed.status, 502);
  assert.equal(failed.body.released, true);
  assert.equal((await usage(tok)).remix_suggestions, 0);
  const retry = await ai(tok, "remix_suggestions", { prompt: "a b c d" }, key);
  assert.equal(retry.status, 200, "the failed attempt was forgotten: the retry runs");
  assert.equal((await usage(tok)).remix_suggestions, 3);
});

// The profile's object, as the worker reaches it (a numeric id's object is named by its digits),
// to play a worker that began a request and died before finishing or forgetting it.
async function profileObject(id) {
  const ns = await mf.getDurableObjectNamespace("QUOTA");
  return ns.get(ns.idFromName(String(id)));
}
// The worker's fingerprint of a request: SHA-256 of feature, newline, body.
const fingerprint = (feature, body) => createHash("sha256").update(`${feature}\n${JSON.stringify(body)}`).digest("hex");

test("a worker that died mid-call holds its Idempotency-Key for its lease only, then one retry runs it", async () => {
  const tok = await token({ sub: 1050 });
  const object = await profileObject(1050);
  const body = { prompt: "p" };
  const key = { "Idempotency-Key": "died-1" };
  const dead = await object.beginRequest("died-1", fingerprint("scale", body), LEASE_SECONDS * 1000);
  assert.equal(dead.state, "new");
  const during = await ai(tok, "scale", body, key);
  assert.deepEqual([during.status, during.body.error], [409, "request_in_progress"], "inside its lease nothing else runs");
  await sleep(Math.max(0, dead.leaseUntil - Date.now()) + 100);
  // Concurrent retries: one takes over and runs; each other one finds it running (409) or
  // finished (its response). One model call, one count.
  const retries = await Promise.all(Array.from({ length: 4 }, () => ai(tok, "scale", body, key)));
  const ran = retries.filter((r) => r.status === 200);
  assert.ok(ran.length >= 1, `one retry takes over: ${retries.map((r) => r.status)}`);
  assert.ok(retries.every((r) => r.status === 200 || (r.status === 409 && r.body.error === "request_in_progress")));
  for (const r of ran) assert.deepEqual(r.body, ran[0].body);
  assert.equal((await usage(tok)).scale, 1);
  // The dead attempt, had it lived on, can neither store its answer over the retry's nor free the key.
  assert.equal(await object.finishRequest("died-1", dead.owner, { status: 200, body: { stale: true }, headers: {} }), false);
  assert.equal(await object.forgetRequest("died-1", dead.owner), false);
  const later = await ai(tok, "scale", body, key);
  assert.deepEqual([later.status, later.body], [200, ran[0].body], "the retry's response is the one kept");
});

test("a first response over 16 KiB ends its record: its retries get 409 response_not_kept and run nothing", async () => {
  const tok = await token({ sub: 1051 });
  const object = await profileObject(1051);
  const body = { prompt: "long" };
  const first = await object.beginRequest("big-1", fingerprint("scale", body), LEASE_SECONDS * 1000);
  const huge = { status: 200, body: { output: "x".repeat(20_000) }, headers: {} };
  assert.equal(await object.finishRequest("big-1", first.owner, huge), true);
  await sleep(LEASE_SECONDS * 1000 + 100); // past the lease: still not run again
  const retry = await ai(tok, "scale", body, { "Idempotency-Key": "big-1" });
  assert.deepEqual([retry.status, retry.body.error], [409, "response_not_kept"]);
  assert.equal((await usage(tok)).scale, 0, "nothing ran");
});
