// The example worker when its settle fails after the model ran (tests/workerd/rpc-fails.js
// wraps its QUOTA binding; the worker's code is the example's own): the model's output is the
// response, kept under the Idempotency-Key, and a retry neither runs the model nor counts again.
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

async function suggest(tok, key, settleFailures) {
  const headers = { Authorization: `Bearer ${tok}`, "X-Fail-settle": String(settleFailures) };
  if (key !== null) headers["Idempotency-Key"] = key;
  const res = await mf.dispatchFetch("http://example/ai/remix_suggestions", {
    method: "POST",
    headers,
    body: JSON.stringify({ prompt: "one" }), // one suggestion: 1 unit used of the 3 reserved
  });
  return { status: res.status, body: await res.json() };
}

async function used(tok) {
  const res = await mf.dispatchFetch("http://example/usage", { headers: { Authorization: `Bearer ${tok}` } });
  return (await res.json()).usage.remix_suggestions;
}

test("a settle that keeps failing: 200 with the output, the failure named, and a retry gets that response without counting again", async () => {
  const tok = await signToken(SECRET, { sub: 2001 });
  const first = await suggest(tok, "settle-down", Infinity);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.deepEqual(first.body.output, ['a remix of "one"']);
  assert.equal(first.body.quota.settled, false);
  assert.equal(first.body.quota.settle_error, "store_error");
  assert.equal(await used(tok), 3, "the estimate stays counted: never a free call");
  // The retry, with settle working again: the first response, no second model call, no reserve.
  const retry = await suggest(tok, "settle-down", 0);
  assert.deepEqual(retry, first);
  assert.equal(await used(tok), 3);
});

test("a settle that fails once is tried again and corrects the estimate", async () => {
  const tok = await signToken(SECRET, { sub: 2002 });
  for (const key of ["settle-blip", null]) {
    const r = await suggest(tok, key, 1);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.quota.settled, 1);
    assert.equal(r.body.quota.settle_error, undefined);
  }
  assert.equal(await used(tok), 2);
});
