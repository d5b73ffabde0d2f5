// The demo's Run and burst controls in Chromium: every click is its own concurrent run, and a
// burst admits exactly what was left.
import { test } from "node:test";
import assert from "node:assert/strict";
import { useDemoPage, openDemo, card, field, figures, lastDecision, burst } from "./demo-page.mjs";

useDemoPage();

const outcomes = (page, feature) =>
  card(page, feature).locator('[data-field="burst"] [data-outcome]').evaluateAll((slots) =>
    slots.map((s) => ({ outcome: s.dataset.outcome, used: s.dataset.used === undefined ? null : Number(s.dataset.used) })));

test("three quick clicks with a limit of 3 run at once and count 3; a fourth is denied", async () => {
  // Slow stand-in calls (5 s), so all three are still running when the fourth click comes.
  const page = await openDemo("?limits=remix:3&latency=5000");
  const button = card(page, "remix").locator('[data-action="run"]');
  for (let i = 0; i < 3; i++) await button.click();
  await page.waitForSelector('[data-feature="remix"][data-inflight="3"]');
  assert.match(await field(page, "remix", "inflight"), /^3 in flight$/);
  assert.deepEqual(await figures(page, "remix"), { used: 3, limit: 3, remaining: 0 }, "each run reserved as it started");
  await button.click();
  await page.waitForSelector('[data-feature="remix"][data-runs="1"]'); // the fourth ends first
  const denied = await lastDecision(page);
  assert.equal(denied.allowed, false);
  assert.equal(denied.used, 3);
  assert.equal(await card(page, "remix").getAttribute("data-status"), "denied");
  assert.equal(await card(page, "remix").getAttribute("data-inflight"), "3", "the denial did not wait for the three");
  await page.waitForSelector('[data-feature="remix"][data-runs="4"][data-inflight="0"]', { timeout: 15_000 });
  assert.deepEqual(await figures(page, "remix"), { used: 3, limit: 3, remaining: 0 });
  assert.equal(await card(page, "remix").getAttribute("data-status"), "done");
});

test("a burst of 10 with 4 left admits exactly 4 (counts 3 to 6, once each) and denies 6", async () => {
  const page = await openDemo("?limits=scale:6");
  const button = card(page, "scale").locator('[data-action="run"]');
  await button.click();
  await button.click();
  await page.waitForSelector('[data-feature="scale"][data-runs="2"]');
  await card(page, "scale").getByRole("button", { name: "Run Scale ×10 at once" }).click();
  await page.waitForSelector('[data-feature="scale"] [data-field="burst"][data-state="done"]');
  assert.equal(await card(page, "scale").getAttribute("data-runs"), "12");
  const slots = await outcomes(page, "scale");
  assert.equal(slots.length, 10);
  assert.deepEqual(slots.filter((s) => s.outcome === "admitted").map((s) => s.used).sort(), [3, 4, 5, 6]);
  assert.equal(slots.filter((s) => s.outcome === "denied").length, 6);
  assert.deepEqual(await figures(page, "scale"), { used: 6, limit: 6, remaining: 0 });
  assert.equal(await field(page, "scale", "burst-summary"), "4 admitted, 6 denied: 6 of 6 used, nothing over the limit");
  assert.equal(await card(page, "scale").getAttribute("data-inflight"), "0");
});

test("a burst whose AI calls fail gives every slot back; the slots say so", async () => {
  const page = await openDemo("?limits=tips:3");
  await page.locator('[data-setting="fail-ai"]').check();
  await burst(page, "tips");
  const slots = await outcomes(page, "tips");
  assert.equal(slots.filter((s) => s.outcome === "released").length, 3);
  assert.equal(slots.filter((s) => s.outcome === "denied").length, 7);
  assert.deepEqual(await figures(page, "tips"), { used: 0, limit: 3, remaining: 3 });
  assert.equal(await field(page, "tips", "burst-summary"), "3 admitted (3 released: the call failed), 7 denied: 0 of 3 used, nothing over the limit");
});

test("a run in flight when home mode rebuilds the engine is still released by the engine that reserved", async () => {
  const page = await openDemo("?limits=remix:3&latency=5000");
  await page.locator('[data-setting="fail-ai"]').check();
  await card(page, "remix").locator('[data-action="run"]').click();
  await page.waitForSelector('[data-feature="remix"][data-inflight="1"]');
  assert.equal((await figures(page, "remix")).used, 1);
  await page.getByRole("switch", { name: "Quota off (home mode)" }).check();
  await page.waitForSelector('[data-feature="remix"][data-runs="1"]');
  assert.equal(await card(page, "remix").getAttribute("data-status"), "failed");
  await page.getByRole("switch", { name: "Quota off (home mode)" }).uncheck();
  assert.deepEqual(await figures(page, "remix"), { used: 0, limit: 3, remaining: 3 }, "the failed call's slot came back");
});

test("over a store that answers late (?store=async), a burst's runs interleave and exactly the limit is admitted", async () => {
  const page = await openDemo("?store=async&limits=timer:6");
  assert.match(await page.locator('[data-field="store-name"]').textContent(), /answering 0–30 ms late/);
  // The counter does not exist yet: ten first uses race to create it (incr, add, incr again).
  await burst(page, "timer");
  const mostPending = Number(await page.locator("html").getAttribute("data-store-most-pending"));
  assert.ok(mostPending >= 10, `the ten runs waited on the store at the same time (at most ${mostPending} did)`);
  const slots = await outcomes(page, "timer");
  assert.deepEqual(slots.filter((s) => s.outcome === "admitted").map((s) => s.used).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6]);
  assert.equal(slots.filter((s) => s.outcome === "denied").length, 4);
  assert.deepEqual(await figures(page, "timer"), { used: 6, limit: 6, remaining: 0 });
  assert.equal(await field(page, "timer", "burst-summary"), "6 admitted, 4 denied: 6 of 6 used, nothing over the limit");
  // The two-policy feature over the same late store: the hourly policy stops the burst at 5.
  await burst(page, "images");
  assert.deepEqual(await figures(page, "images", card(page, "images").locator('[data-policy="daily"]')), { used: 5, limit: 20, remaining: 15 });
});
