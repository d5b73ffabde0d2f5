// Shared by the workerd tests (tests/node/cloudflare-*.test.mjs).
import { fileURLToPath } from "node:url";

export const TEST_WORKER_TOML = fileURLToPath(new URL("./wrangler.toml", import.meta.url));
export const EXAMPLE_TOML = fileURLToPath(new URL("../../examples/cloudflare-worker/wrangler.toml", import.meta.url));

const DAY_MS = 86_400_000;

/** Whole seconds from `ms` to the next UTC midnight, rounded up (the engine's Retry-After). */
export function secondsToMidnight(ms) {
  return Math.ceil((Math.floor(ms / DAY_MS + 1) * DAY_MS - ms) / 1000);
}

/** The next UTC midnight after `ms`, as the engine writes it. */
export function nextMidnight(ms) {
  return new Date(Math.floor(ms / DAY_MS + 1) * DAY_MS).toISOString().replace(".000Z", "Z");
}

/**
 * Counters are per UTC day, so a test that crossed midnight would see two windows. Tests call
 * this first: within `marginMs` of midnight (a test file takes seconds; a minute leaves room
 * for a loaded machine) it waits until just after it.
 */
export async function awayFromMidnight(marginMs = 60_000) {
  const toMidnight = DAY_MS - (Date.now() % DAY_MS);
  if (toMidnight < marginMs) await new Promise((r) => setTimeout(r, toMidnight + 500));
}

/** POSTs `body` to the test worker's `route`; resolves to its { result } or { error }. */
export async function call(mf, route, body = {}) {
  const res = await mf.dispatchFetch(`http://test/${route}`, { method: "POST", body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${route}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

/** Like call(), but the route must succeed; its result. */
export async function ok(mf, route, body) {
  const r = await call(mf, route, body);
  if (r.error) throw new Error(`${route} failed: ${JSON.stringify(r.error)}`);
  return r.result;
}

/** Polls `probe` until it returns true, for at most `timeoutMs`; false if it never did. */
export async function eventually(probe, { timeoutMs = 20_000, everyMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return probe();
}
