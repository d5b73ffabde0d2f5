// The demo's token-metered feature (reserve an estimate, settle with the actual usage), its
// hour + day feature, and the timeline of decisions, in Chromium.
import { test } from "node:test";
import assert from "node:assert/strict";
import { useDemoPage, openDemo, card, run, figures, lastDecision, burst } from "./demo-page.mjs";

useDemoPage();

test("a token run reserves the estimate, then settle moves the meter to the model's actual usage", async () => {
  const page = await openDemo("?latency=5000");
  const chat = card(page, "chat");
  const estimate = Number(await chat.getAttribute("data-estimate"));
  const { limit } = await figures(page, "chat");
  assert.ok(estimate > 0 && estimate < limit, `estimate ${estimate}, limit ${limit}`);
  await chat.locator('[data-action="run"]').click();
  await page.waitForSelector('[data-feature="chat"][data-inflight="1"]');
  const reserved = await lastDecision(page);
  assert.equal(reserved.allowed, true);
  assert.equal(reserved.used, estimate);
  assert.deepEqual(await figures(page, "chat"), { used: estimate, limit, remaining: limit - estimate }, "in flight: the estimate");
  await page.waitForSelector('[data-feature="chat"][data-runs="1"]');
  const first = Number(await chat.getAttribute("data-last-actual"));
  assert.ok(first > 0 && first <= estimate, `actual ${first}`);
  assert.deepEqual(await figures(page, "chat"), { used: first, limit, remaining: limit - first }, "settled: the actual usage");
  assert.match(await page.locator('[data-field="last-call"]').textContent(), new RegExp(`engine\\.settle\\(\\{ id: 42 \\}, reservation, ${first}\\) → true`));

  await run(page, "chat");
  const second = Number(await chat.getAttribute("data-last-actual"));
  assert.equal((await figures(page, "chat")).used, first + second);
});

test("a token run whose call fails is released: the estimate comes off the meter", async () => {
  const page = await openDemo();
  await page.locator('[data-setting="fail-ai"]').check();
  await run(page, "chat");
  assert.equal((await figures(page, "chat")).used, 0);
  assert.equal(await card(page, "chat").getAttribute("data-status"), "failed");
});

test("the hour + day feature: a burst is denied by the hourly policy while the daily one has room", async () => {
  const page = await openDemo();
  const images = card(page, "images");
  const hourly = images.locator('[data-policy="hourly"]');
  const daily = images.locator('[data-policy="daily"]');
  assert.deepEqual(await figures(page, "images", hourly), { used: 0, limit: 5, remaining: 5 });
  await burst(page, "images");
  assert.deepEqual(await figures(page, "images", hourly), { used: 5, limit: 5, remaining: 0 });
  assert.deepEqual(await figures(page, "images", daily), { used: 5, limit: 20, remaining: 15 });
  const denied = await lastDecision(page);
  assert.equal(denied.allowed, false);
  assert.equal(denied.policy, "hourly");
  assert.equal(denied.resetsAt, "2026-11-27T13:00:00Z");
  // Each policy's own reset: the clock is a few seconds past 12:00 UTC.
  assert.match(await hourly.locator('[data-field="resets-in"]').textContent(), /^00:59:\d\d$/);
  assert.match(await daily.locator('[data-field="resets-in"]').textContent(), /^11:59:\d\d$/);
  assert.equal(await images.locator('[data-field="burst-summary"]').textContent(),
    "5 admitted, 5 denied by the hourly policy: 5 of 5 used, nothing over the limit");
  await images.locator('[data-action="run"]').click();
  await page.waitForSelector('[data-feature="images"][data-runs="11"]');
  assert.match(await images.locator('[data-field="status"]').textContent(), /^Denied by the hourly policy: 5 of 5 used\. It resets at 13:00 UTC/);
});

test("the timeline charts each feature's decisions: admitted, denied, released, settled", async () => {
  const page = await openDemo("?limits=tips:1");
  await run(page, "tips");
  await run(page, "tips");
  await page.locator('[data-setting="fail-ai"]').check();
  await run(page, "remix");
  await page.locator('[data-setting="fail-ai"]').uncheck();
  await run(page, "chat");
  const totals = (feature) => page.locator(`[data-field="timeline"] [data-lane="${feature}"]`).evaluate((lane) =>
    Object.fromEntries(["admitted", "denied", "released", "settled"].map((k) => [k, Number(lane.dataset[k])])));
  assert.deepEqual(await totals("tips"), { admitted: 1, denied: 1, released: 0, settled: 0 });
  assert.deepEqual(await totals("remix"), { admitted: 1, denied: 0, released: 1, settled: 0 });
  assert.deepEqual(await totals("chat"), { admitted: 1, denied: 0, released: 0, settled: 1 });
  assert.deepEqual(await totals("scale"), { admitted: 0, denied: 0, released: 0, settled: 0 });
  const chart = page.getByRole("img", { name: /Decisions per feature/ });
  assert.equal(await chart.count(), 1);
  for (const kind of ["admitted", "denied"]) {
    assert.ok(await page.locator(`[data-lane="tips"] rect[data-kind="${kind}"]`).count() >= 1, `a ${kind} bar for tips`);
  }
  assert.ok(await page.locator('[data-lane="remix"] rect[data-kind="released"]').count() >= 1);
  assert.ok(await page.locator('[data-lane="chat"] rect[data-kind="settled"]').count() >= 1);
});
