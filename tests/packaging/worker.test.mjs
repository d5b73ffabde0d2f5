// The README's Worker from the installed tarball, run as users run it: `wrangler dev`, with the
// engine made at module scope (the first thing users write), and `wrangler deploy --dry-run`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { bin, freePort, project, run, startServer } from "./helpers.mjs";

// The README's module-scope Worker, as written.
const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
const WORKER = readme.slice(readme.indexOf("Make the engine once, at module scope")).match(/```js\n([\s\S]*?)```/)[1];
const TOML = `name = "quota-user"
main = "src/index.js"
compatibility_date = "2026-04-20"
`;
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };

test("wrangler dev runs a Worker whose engine is made at module scope", async (t) => {
  const dir = await project(t, { "src/index.js": WORKER, "wrangler.toml": TOML });
  const port = await freePort();
  // A free inspector port: wrangler's default, the first free one from 9229 up, races with any
  // other `wrangler dev` starting at the same time on this machine.
  const inspector = await freePort();
  await startServer(t, bin("wrangler"), ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector)], {
    cwd: dir,
    env,
    ready: /Ready on http:\/\/127\.0\.0\.1:\d+/,
  });
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push((await fetch(`http://127.0.0.1:${port}/`)).status);
  assert.deepEqual(statuses, [200, 200, 429]);
});

test("wrangler deploy --dry-run bundles it with the .wasm as its own module and no warnings", async (t) => {
  const dir = await project(t, { "src/index.js": WORKER, "wrangler.toml": TOML });
  const { stdout, stderr } = await run(bin("wrangler"), ["deploy", "--dry-run", "--outdir", "dist"], { cwd: dir, env });
  assert.doesNotMatch(stdout + stderr, /WARNING|▲|\[warn/i, stdout + stderr);
  assert.equal((await readdir(join(dir, "dist"))).filter((f) => f.endsWith(".wasm")).length, 1);
});
