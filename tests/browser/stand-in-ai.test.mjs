// The demo's stand-in AI call (www/stand-in-ai.js) in Node: its `?latency=` bounds and the
// token usage it reports.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseLatency, standInAiCall, DEFAULT_LATENCY_MS } from "../../www/stand-in-ai.js";

test("?latency= takes 0 to 60000 ms; anything else is the default", () => {
  assert.equal(parseLatency("0"), 0);
  assert.equal(parseLatency("3000"), 3000);
  assert.equal(parseLatency("60000"), 60000);
  for (const bad of [null, "", "60001", "-1", "1.5", "1e3", "abc", "99999"]) assert.equal(parseLatency(bad), DEFAULT_LATENCY_MS, String(bad));
});

test("the stand-in model uses between a quarter of max_tokens and all of it; a failing call rejects", async () => {
  const used = await Promise.all(Array.from({ length: 500 }, () => standInAiCall({ fail: false, latencyMs: 0, maxTokens: 2000 })));
  for (const { tokens } of used) assert.ok(Number.isInteger(tokens) && tokens >= 500 && tokens <= 2000, String(tokens));
  assert.ok(new Set(used.map((u) => u.tokens)).size > 50, "the usage varies from call to call");
  await assert.rejects(standInAiCall({ fail: true, latencyMs: 0, maxTokens: 2000 }), /stand-in AI call failed/);
});
