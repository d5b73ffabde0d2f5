// The example worker when a call to the profile's Durable Object fails (tests/workerd/rpc-fails.js
// wraps its QUOTA binding; the worker's code is the example's own). Once the model has run, its
// output is the response: if settle fails, the estimate stays counted and the failure is named
// in the body (quota.settle_error); if finishRequest fails, it is named in the
// Idempotency-Record-Error header. A denial, a failed model call or a failed reserve is answered
// as such even if forgetRequest fails, and a failed model call's release is tried twice. A record that could not be written stays running until
// its lease ends (60 s here): a retry meanwhile gets 409 and runs nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { startWorker } from "../../examples/cloudflare-worker/miniflare.mjs";
import { signToken } from "../../examples/cloudflare-worker/src/token.js";
import { awayFromMidnight } from "../workerd/helpers.mjs";

const SECRET = "test-secret-0123456789abcdef";
let mf;
before(async () => {
  await awayFromMidnight();
  const toml = fileURLToPath(new URL("../workerd/rpc-fails.toml", import.meta.url));
  mf = await startWorker(toml, { bindings: { QUOTA_TOKEN_SECRET: SECRET } });
});
after(() => mf?.dispose());

// POST /ai/remix_suggestions (limit 9, 3 reserved per call, 1 used per word of the prompt);
// `failures`: { method: how many of its calls fail }; `failAs`: "reset" for a plain error, as
// an object reset gives, rather than a [STORE_ERROR].
async function suggest(tok, key, body, failures = {}, failAs = undefined) {
  const headers = { Authorization: `Bearer ${tok}` };
  if (failAs !== undefined) headers["X-Fail-As"] = failAs;
  for (const [method, n] of Object.entries(failures)) headers[`X-Fail-${method}`] = String(n);
  if (key !== null) headers["Idempotency-Key"] = key;
  const res = await mf.dispatchFetch("http://example/ai/remix_suggestions", { method: "POST", headers, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, recordError: res.headers.get("Idempotency-Record-Error"), body: res.status === 500 ? text : JSON.parse(text) };
}

async function used(tok) {
  const res = await mf.dispatchFetch("http://example/usage", { headers: { Authorization: `Bearer ${tok}` } });
  return (await res.json()).usage.remix_suggestions;
}

const ONE = { prompt: "one" }; // one suggestion: 1 unit used of the 3 reserved

test("a finishRequest that keeps failing: 200 with the output, the failure named, counted once; a retry in the lease gets 409", async () => {
  const tok = await signToken(SECRET, { sub: 3001 });
  const first = await suggest(tok, "finish-down", ONE, { finishRequest: Infinity });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.deepEqual(first.body.output, ['a remix of "one"']);
  assert.equal(first.body.quota.settled, 1);
  assert.equal(first.recordError, "finish");
  assert.equal(await used(tok), 1, "the model's run is counted once, settled to what it used");
  // The record stays running under the first attempt's lease: the retry runs nothing.
  const retry = await suggest(tok, "finish-down", ONE);
  assert.deepEqual([retry.status, retry.body.error], [409, "request_in_progress"]);
  assert.equal(await used(tok), 1, "no second reserve, so no second model run");
});

test("a finishRequest that fails once is tried again: the response is kept and a retry replays it", async () => {
  const tok = await signToken(SECRET, { sub: 3002 });
  const first = await suggest(tok, "finish-blip", ONE, { finishRequest: 1 });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.recordError, null);
  const retry = await suggest(tok, "finish-blip", ONE);
  assert.deepEqual(retry, first);
  assert.equal(await used(tok), 1);
});

test("a forgetRequest that keeps failing after a denial still answers 429, and names the failure", async () => {
  const tok = await signToken(SECRET, { sub: 3003 });
  for (let i = 0; i < 3; i++) assert.equal((await suggest(tok, null, { prompt: "a b c" })).status, 200); // 9 of 9
  const denied = await suggest(tok, "deny-down", ONE, { forgetRequest: Infinity });
  assert.equal(denied.status, 429, String(denied.body));
  assert.equal(denied.body.remaining, 0);
  assert.equal(denied.recordError, "forget");
  assert.equal(await used(tok), 9);
});

test("a forgetRequest that keeps failing after the model failed still answers 502 with the slot released", async () => {
  const tok = await signToken(SECRET, { sub: 3004 });
  const fail = { prompt: "x", simulateFailure: true };
  const failed = await suggest(tok, "model-down", fail, { forgetRequest: Infinity });
  assert.equal(failed.status, 502, String(failed.body));
  assert.deepEqual(failed.body, { error: "ai_failed", message: "the model call failed (simulated)", released: true });
  assert.equal(failed.recordError, "forget");
  assert.equal(await used(tok), 0);
  // Not forgotten: the key is held until its lease ends, so the retry waits rather than runs.
  const retry = await suggest(tok, "model-down", fail);
  assert.deepEqual([retry.status, retry.body.error], [409, "request_in_progress"]);
});

test("a forgetRequest that keeps failing after the reserve failed still answers the reserve's 503", async () => {
  const tok = await signToken(SECRET, { sub: 3005 });
  const r = await suggest(tok, "reserve-down", ONE, { reserve: 1, forgetRequest: Infinity });
  assert.equal(r.status, 503, String(r.body));
  assert.equal(r.body.error, "store_error");
  assert.equal(r.recordError, "forget");
});

test("a forgetRequest that fails once is tried again: the key is free, and its retry runs", async () => {
  const tok = await signToken(SECRET, { sub: 3006 });
  const fail = { prompt: "x", simulateFailure: true };
  const failed = await suggest(tok, "forget-blip", fail, { forgetRequest: 1 });
  assert.deepEqual([failed.status, failed.recordError], [502, null]);
  const retry = await suggest(tok, "forget-blip", fail);
  assert.deepEqual([retry.status, retry.body.error], [502, "ai_failed"], "forgotten: run again, not 409");
});

test("a settle that keeps failing: 200 with the output, the failure named, and a retry gets that response without counting again", async () => {
  const tok = await signToken(SECRET, { sub: 2001 });
  const first = await suggest(tok, "settle-down", ONE, { settle: Infinity });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.deepEqual(first.body.output, ['a remix of "one"']);
  assert.equal(first.body.quota.settled, false);
  assert.equal(first.body.quota.settle_error, "store_error");
  assert.equal(await used(tok), 3, "the estimate stays counted: never a free call");
  // The retry, with settle working again: the first response, no second model call, no reserve.
  const retry = await suggest(tok, "settle-down", ONE);
  assert.deepEqual(retry, first);
  assert.equal(await used(tok), 3);
});

test("a settle that fails once is tried again and corrects the estimate", async () => {
  const tok = await signToken(SECRET, { sub: 2002 });
  for (const key of ["settle-blip", null]) {
    const r = await suggest(tok, key, ONE, { settle: 1 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.quota.settled, 1);
    assert.equal(r.body.quota.settle_error, undefined);
  }
  assert.equal(await used(tok), 2);
});

test("a release that fails once after the model failed is tried again: the slot comes back; failing twice, it stays counted", async () => {
  const tok = await signToken(SECRET, { sub: 2003 });
  const fail = { prompt: "x", simulateFailure: true };
  const blip = await suggest(tok, null, fail, { release: 1 });
  assert.deepEqual([blip.status, blip.body.released], [502, true], JSON.stringify(blip.body));
  assert.equal(await used(tok), 0);
  const down = await suggest(tok, null, fail, { release: 2 });
  assert.deepEqual([down.status, down.body.error, down.body.released], [502, "ai_failed", false], JSON.stringify(down.body));
  assert.equal(await used(tok), 3, "the estimate stays counted: never a free call");
});

test("a reserve or beginRequest that fails as an object reset does (no [CODE]) is a 503 JSON answer, and the key's retry runs", async () => {
  const tok = await signToken(SECRET, { sub: 3008 });
  for (const method of ["reserve", "beginRequest"]) {
    const r = await suggest(tok, `reset-${method}`, ONE, { [method]: 1 }, "reset");
    assert.equal(r.status, 503, `${method}: ${typeof r.body === "string" ? r.body : JSON.stringify(r.body)}`);
    assert.equal(r.body.error, "quota_unavailable");
    assert.equal(r.recordError, null);
    const retry = await suggest(tok, `reset-${method}`, ONE);
    assert.equal(retry.status, 200, `${method}: the key was not left running; its retry runs`);
  }
  assert.equal(await used(tok), 2, "each request counted once, by its retry");
});
