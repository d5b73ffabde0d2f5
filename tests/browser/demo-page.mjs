// Shared by the demo's Chromium tests: a static server for www/ on a free port, one headless
// Chromium, pages whose console errors fail the test, and the page's stable hooks.
import { before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { startServer } from "../../www/serve.mjs";

const NOON = new Date("2026-11-27T12:00:00Z");
let server, browser, base;
const open = []; // { context, problems } of the current test

/** Registers the hooks that start and stop the server and Chromium around a test file. */
export function useDemoPage() {
  before(async () => {
    server = await startServer(0);
    base = `http://127.0.0.1:${server.address().port}/`;
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  // Every test ends by proving the page logged no error and threw nothing.
  afterEach(async () => {
    for (const { context, problems } of open.splice(0)) {
      await context.close();
      assert.deepEqual(problems, [], "console errors, page errors or failed requests");
    }
  });
}

/** The server's address, for requests outside the page. */
export const baseUrl = () => base;

/** Opens the demo with a query string in a fresh browser profile; waits until it is ready. */
export async function openDemo(query = "", viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport });
  // The page's clock starts at noon UTC and then runs in real time, so a real midnight during
  // a test run cannot reset counts mid-test; the midnight test jumps there on purpose.
  await context.clock.install({ time: NOON });
  const problems = [];
  open.push({ context, problems });
  const page = await context.newPage();
  page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`requestfailed: ${r.url()}`));
  page.on("response", (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()}: ${r.url()}`));
  await page.goto(base + query);
  await page.waitForSelector("html[data-ready=true]");
  return page;
}

export const card = (page, feature) => page.locator(`[data-feature="${feature}"]`);
export const field = (page, feature, name) => card(page, feature).locator(`[data-field="${name}"]`).first().textContent();
/** A card's used / limit / remaining as numbers (token figures may carry thousands separators). */
export async function figures(page, feature, scope = card(page, feature)) {
  const read = async (name) => Number((await scope.locator(`[data-field="${name}"]`).first().textContent()).replace(/[^\d]/g, ""));
  return { used: await read("used"), limit: await read("limit"), remaining: await read("remaining") };
}
export const lastDecision = async (page) => JSON.parse(await page.locator('[data-field="last-decision"]').textContent());

/** Clicks Run and waits until that run has finished (the card counts finished runs). */
export async function run(page, feature) {
  const before = Number(await card(page, feature).getAttribute("data-runs"));
  await card(page, feature).locator('[data-action="run"]').click();
  await page.waitForSelector(`[data-feature="${feature}"][data-runs="${before + 1}"]`);
  return lastDecision(page);
}

/** Clicks "Run ×10 at once" and waits until the burst is summed up (every run finished). */
export async function burst(page, feature) {
  await card(page, feature).locator('[data-action="burst"]').click();
  await page.waitForSelector(`[data-feature="${feature}"] [data-field="burst"][data-state="done"]`);
}
