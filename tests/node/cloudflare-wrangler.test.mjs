// The example worker as users run it: bundled by `wrangler deploy --dry-run` (the .wasm as its
// own module, no warnings) and served by `make worker` (examples/cloudflare-worker/dev.mjs, i.e.
// `wrangler dev`) over real HTTP, with exact counts under concurrency and counts kept across a
// restart. Offline, wrangler dev only warns that it cannot fetch `Request.cf`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { awayFromMidnight, secondsToMidnight } from "../workerd/helpers.mjs";
import { bin, freePort, run, startServer } from "../packaging/helpers.mjs";

const EXAMPLE = fileURLToPath(new URL("../../examples/cloudflare-worker/", import.meta.url));
const WASM = fileURLToPath(new URL("../../pkg/wasm_quota_bg.wasm", import.meta.url));
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };

async function tempDir(t, prefix) {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test("wrangler deploy --dry-run bundles the example with the .wasm as its own module and no warnings", async (t) => {
  const out = await tempDir(t, "wasm-quota-dry-run-");
  const { stdout, stderr } = await run(bin("wrangler"), ["deploy", "--dry-run", "--outdir", out], { cwd: EXAMPLE, env });
  const log = stdout + stderr;
  assert.doesNotMatch(log, /WARNING|▲|\[warn/i, log);
  const files = await readdir(out);
  const wasm = files.filter((f) => f.endsWith(".wasm"));
  assert.equal(wasm.length, 1, files.join(", "));
  assert.equal((await stat(join(out, wasm[0]))).size, (await stat(WASM)).size);
  const worker = await readFile(join(out, "worker.js"), "utf8");
  assert.match(worker, new RegExp(`from "\\./${wasm[0].replace(/\./g, "\\.")}"`));
});

/** `make worker`'s server on a free port, state in `persist`; its base URL and profile 42's token. */
async function makeWorker(t, persist) {
  const port = await freePort();
  // A free inspector port too: wrangler takes the first free one from 9229 up, and two
  // `wrangler dev`s starting at once on one machine can both pick 9229 (one then fails).
  const inspector = String(await freePort());
  const { output } = await startServer(t, process.execPath, [join(EXAMPLE, "dev.mjs"), "--persist-to", persist, "--inspector-port", inspector], {
    env: { ...env, PORT: String(port) },
    ready: /Ready on http:\/\/127\.0\.0\.1:\d+/,
  });
  const token = /profile 42: (\S+)/.exec(output())[1];
  return { base: `http://127.0.0.1:${port}`, auth: { Authorization: `Bearer ${token}` } };
}

test("make worker: wrangler dev serves the example; 12 concurrent reserves admit exactly 10; counts survive a restart", async (t) => {
  await awayFromMidnight(120_000);
  const persist = await tempDir(t, "wasm-quota-wrangler-state-");
  const usageOf = async ({ base, auth }) => (await (await fetch(`${base}/usage`, { headers: auth })).json()).usage;

  await t.test("first run", async (t) => {
    const w = await makeWorker(t, persist);
    assert.equal((await fetch(`${w.base}/usage`)).status, 401);
    const responses = await Promise.all(
      Array.from({ length: 12 }, () => fetch(`${w.base}/ai/remix`, { method: "POST", headers: w.auth, body: "{}" })),
    );
    const statuses = responses.map((r) => r.status).sort();
    assert.deepEqual(statuses, [...Array(10).fill(200), 429, 429]);
    const denied = responses.find((r) => r.status === 429);
    const retryAfter = Number(denied.headers.get("Retry-After"));
    assert.ok(Math.abs(retryAfter - secondsToMidnight(Date.now())) <= 5, `Retry-After ${retryAfter}`);
    assert.equal((await denied.json()).limit, 10);
    assert.equal((await usageOf(w)).remix, 10);
  });

  await t.test("after a restart on the same state", async (t) => {
    const w = await makeWorker(t, persist);
    assert.equal((await usageOf(w)).remix, 10);
    const r = await fetch(`${w.base}/ai/remix`, { method: "POST", headers: w.auth, body: "{}" });
    assert.equal(r.status, 429);
  });
});

test("the example's secrets and wrangler state are git-ignored", async () => {
  for (const path of [".dev.vars", ".wrangler/state/v3/do/x.sqlite"]) {
    await run("git", ["check-ignore", "-q", join(EXAMPLE, path)]);
  }
  await assert.rejects(run("git", ["check-ignore", "-q", join(EXAMPLE, ".dev.vars.example")]));
});
