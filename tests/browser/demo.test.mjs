// The demo page (www/) in real headless Chromium, served by www/serve.mjs on a free port.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { useDemoPage, baseUrl, openDemo, card, field, figures, lastDecision, run, burst } from "./demo-page.mjs";

const SHOTS = new URL("../../target/", import.meta.url);
useDemoPage();

test("the page loads the package by name, with .wasm served as application/wasm", async () => {
  const page = await openDemo();
  const wasm = await page.request.get(baseUrl() + "pkg/wasm_quota_bg.wasm");
  assert.equal(wasm.headers()["content-type"], "application/wasm");
  assert.match(await page.locator('script[type="importmap"]').textContent(), /"wasm-quota": "\/pkg\/entry\/browser\.js"/);
  assert.deepEqual(await page.locator("[data-feature]").evaluateAll((cards) => cards.map((c) => c.dataset.feature)),
    ["remix", "remix_suggestions", "scale", "tips", "discover", "timer", "chat", "images"]);
  assert.deepEqual(await figures(page, "tips"), { used: 0, limit: 20, remaining: 20 });
});

test("?limits=remix:3: three runs are allowed, the fourth is denied with remaining 0", async () => {
  const page = await openDemo("?limits=remix:3,tips:2");
  assert.deepEqual(await figures(page, "tips"), { used: 0, limit: 2, remaining: 2 });
  for (let n = 1; n <= 3; n++) {
    const d = await run(page, "remix");
    assert.equal(d.allowed, true);
    assert.equal(d.used, n);
    assert.deepEqual(await figures(page, "remix"), { used: n, limit: 3, remaining: 3 - n });
    assert.match(await page.locator('[data-field="response-headers"]').textContent(), /^HTTP\/1\.1 200 OK\nRateLimit-Policy: "daily";q=3;w=86400\nRateLimit: "daily";r=/);
  }
  const denied = await run(page, "remix");
  assert.equal(denied.allowed, false);
  assert.equal(denied.remaining, 0);
  assert.equal(denied.used, 3);
  assert.ok(denied.retryAfter > 11 * 3600 && denied.retryAfter <= 12 * 3600, `retryAfter ${denied.retryAfter}`);
  assert.equal(denied.resetsAt, "2026-11-28T00:00:00Z");
  assert.deepEqual(await figures(page, "remix"), { used: 3, limit: 3, remaining: 0 });
  assert.equal(await card(page, "remix").getAttribute("data-status"), "denied");
  const head = await page.locator('[data-field="response-headers"]').textContent();
  assert.match(head, /^HTTP\/1\.1 429 Too Many Requests\n/);
  assert.match(head, new RegExp(`^Retry-After: ${denied.retryAfter}$`, "m"));
  assert.match(head, /^RateLimit: "daily";r=0;t=\d+$/m);
  assert.deepEqual(await figures(page, "scale"), { used: 0, limit: 10, remaining: 10 }); // others untouched
});

test("a mistyped ?limits= link still opens, keeping the good entries and naming the bad ones", async () => {
  const page = await openDemo("?limits=remix:x,bogus:3,tips:2");
  assert.deepEqual(await figures(page, "tips"), { used: 0, limit: 2, remaining: 2 });
  assert.deepEqual(await figures(page, "remix"), { used: 0, limit: 10, remaining: 10 });
  const notice = await page.locator('[data-field="notice"]').textContent();
  assert.match(notice, /"remix:x": the limit must be a whole number/);
  assert.match(notice, /"bogus:3": unknown feature/);
});

test("with the fail switch on, a run is released and leaves usage unchanged", async () => {
  const page = await openDemo("?limits=remix:3");
  await run(page, "remix");
  await page.locator('[data-setting="fail-ai"]').check();
  const d = await run(page, "remix");
  assert.equal(d.allowed, true, "the slot was reserved before the call…");
  assert.equal(await card(page, "remix").getAttribute("data-status"), "failed");
  assert.deepEqual(await figures(page, "remix"), { used: 1, limit: 3, remaining: 2 }, "…and given back after it failed");
  await page.locator('[data-setting="fail-ai"]').uncheck();
  await run(page, "remix");
  assert.deepEqual(await figures(page, "remix"), { used: 2, limit: 3, remaining: 1 });
});

test("?store=local keeps the counts across a reload; page memory does not", async () => {
  const local = await openDemo("?store=local&limits=tips:5");
  await run(local, "tips");
  await run(local, "tips");
  await local.reload();
  await local.waitForSelector("html[data-ready=true]");
  assert.deepEqual(await figures(local, "tips"), { used: 2, limit: 5, remaining: 3 });
  assert.equal((await run(local, "tips")).used, 3, "the engine counts on from the stored value");

  const memory = await openDemo("?limits=tips:5");
  await run(memory, "tips");
  await memory.reload();
  await memory.waitForSelector("html[data-ready=true]");
  assert.deepEqual(await figures(memory, "tips"), { used: 0, limit: 5, remaining: 5 });
});

test("the jump to 23:59:50 UTC lets midnight reset the meters", async () => {
  const page = await openDemo("?limits=discover:2");
  await run(page, "discover");
  await run(page, "discover");
  await page.locator('[data-action="jump-midnight"]').click();
  assert.match(await page.locator('[data-field="clock"]').textContent(), /^2026-11-27 23:59:5\d UTC$/);
  assert.deepEqual(await figures(page, "discover"), { used: 2, limit: 2, remaining: 0 }, "same day: counts stay");
  const denied = await run(page, "discover");
  assert.equal(denied.allowed, false);
  assert.ok(denied.retryAfter >= 1 && denied.retryAfter <= 10, `retryAfter ${denied.retryAfter}`);
  assert.match(await field(page, "discover", "resets-in"), /^00:00:(0\d|10)$/);
  // Real seconds pass until the engine's clock crosses midnight; the page must notice by itself.
  await page.waitForSelector('[data-feature="discover"] [data-field="used"]:text-is("0")', { timeout: 20_000 });
  assert.deepEqual(await figures(page, "discover"), { used: 0, limit: 2, remaining: 2 });
  // The meters and the card's status are redrawn by the clock's tick, which may land a tick
  // after the render that read the new day's counts: wait for it (250 ms, longer under load).
  await page.waitForSelector('[data-feature="discover"][data-status="idle"]', { timeout: 5_000 });
  assert.match(await page.locator('[data-field="notice"]').textContent(), /Midnight UTC passed/);
  assert.match(await field(page, "discover", "resets-in"), /^2[34]:\d\d:\d\d$/);
  assert.match(await page.locator('[data-field="clock"]').textContent(), /^2026-11-28 00:00:\d\d UTC$/);
  assert.equal((await run(page, "discover")).allowed, true);
});

test("limits are editable by keyboard; the address keeps them; refusals keep the old limit", async () => {
  const page = await openDemo();
  const input = page.getByLabel("Daily limit for Timer");
  await input.focus();
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.type("1");
  await page.keyboard.press("Tab"); // commits the change and moves on to the Run button
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute("aria-label")), "Run Timer");
  await page.keyboard.press("Enter");
  await page.waitForSelector('[data-feature="timer"][data-runs="1"]');
  assert.equal((await run(page, "timer")).allowed, false);
  assert.deepEqual(await figures(page, "timer"), { used: 1, limit: 1, remaining: 0 });
  assert.equal(new URL(page.url()).searchParams.get("limits"), "timer:1");

  await input.fill("-4"); // not a limit: the engine refuses it and the page says so
  await input.press("Tab");
  assert.equal(await input.inputValue(), "1");
  assert.match(await page.locator('[data-field="notice"]').textContent(), /refused/i);
  assert.equal(await field(page, "timer", "limit"), "1");
});

test("every control is labelled and reachable with Tab", async () => {
  const page = await openDemo();
  const titles = ["Remix", "Remix suggestions", "Scale", "Tips", "Discover", "Timer"];
  const allTitles = [...titles, "Assistant chat", "Image generation"];
  const expected = ["Make the AI call fail", "Unlimited profile", "Quota off (home mode)", "Jump to 23:59:50 UTC",
    "Clear all counts", ...titles.map((t) => `Daily limit for ${t}`),
    ...allTitles.flatMap((t) => [`Run ${t}`, `Run ${t} ×10 at once`])];
  // The accessible name as Playwright's role queries compute it: exactly one control each.
  for (const name of expected.slice(0, 3)) assert.equal(await page.getByRole("switch", { name, exact: true }).count(), 1, name);
  for (const t of allTitles) {
    assert.equal(await page.getByRole("button", { name: `Run ${t}`, exact: true }).count(), 1, t);
    assert.equal(await page.getByRole("button", { name: `Run ${t} ×10 at once`, exact: true }).count(), 1, t);
  }
  for (const t of titles) assert.equal(await page.getByRole("spinbutton", { name: `Daily limit for ${t}`, exact: true }).count(), 1, t);
  assert.equal(await page.getByRole("meter", { name: "Tips used today" }).getAttribute("aria-valuetext"), "0 of 20 used");
  assert.equal(await page.getByRole("meter", { name: "Assistant chat tokens used today" }).getAttribute("aria-valuetext"), "0 of 20,000 tokens used");
  assert.equal(await page.getByRole("meter", { name: "Image generation used this hour" }).getAttribute("aria-valuetext"), "0 of 5 used");
  assert.equal(await page.getByRole("meter", { name: "Image generation used today" }).getAttribute("aria-valuetext"), "0 of 20 used");
  assert.match(await page.getByRole("img", { name: /^Decisions per feature/ }).getAttribute("aria-label"), /none yet/);
  // Tab through the page once and collect what receives focus, by its label.
  const reached = new Set();
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press("Tab");
    reached.add(await page.evaluate(() => {
      const el = document.activeElement;
      return el.getAttribute("aria-label") ?? el.labels?.[0]?.textContent.replace(/\s+/g, " ").trim() ?? el.textContent.trim();
    }));
  }
  for (const name of expected) assert.ok(reached.has(name), `Tab never reaches "${name}"`);
});

test("unlimited profile and home mode: runs are allowed and nothing is counted", async () => {
  const page = await openDemo("?limits=scale:1");
  await page.getByRole("switch", { name: "Unlimited profile" }).check();
  for (let i = 0; i < 2; i++) assert.deepEqual(await run(page, "scale"), { allowed: true, unlimited: true, feature: "scale" });
  assert.equal(await page.locator('[data-field="response-headers"]').textContent(), "HTTP/1.1 200 OK");
  await page.getByRole("switch", { name: "Unlimited profile" }).uncheck();
  await page.getByRole("switch", { name: "Quota off (home mode)" }).check();
  assert.equal((await run(page, "scale")).unlimited, true);
  assert.deepEqual(await figures(page, "scale"), { used: 0, limit: 1, remaining: 1 });
  await page.getByRole("switch", { name: "Quota off (home mode)" }).uncheck();
  assert.equal((await run(page, "scale")).allowed, true);
  assert.equal((await run(page, "scale")).allowed, false);
});

test("readable at 375 px and on a desktop; screenshots under target/", async () => {
  await mkdir(SHOTS, { recursive: true });
  for (const [name, viewport] of [["desktop", { width: 1280, height: 900 }], ["375", { width: 375, height: 812 }]]) {
    const page = await openDemo("?limits=remix:3,tips:2", viewport);
    for (let i = 0; i < 4; i++) await run(page, "remix");
    await run(page, "tips");
    await run(page, "chat");
    await burst(page, "images");
    await card(page, "scale").locator('[data-action="burst"]').click(); // left in flight for the picture
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, `${name}: the page scrolls sideways`);
    const cardLefts = await page.locator("[data-feature]").evaluateAll((cards) => new Set(cards.map((c) => c.getBoundingClientRect().left)).size);
    if (name === "375") assert.equal(cardLefts, 1, "375 px: the cards are one column");
    else assert.ok(cardLefts > 1, "desktop: the cards are a grid");
    await page.screenshot({ path: new URL(`demo-${name}.png`, SHOTS).pathname, fullPage: true });
    await page.waitForSelector('[data-feature="scale"][data-runs="10"]');
  }
});
