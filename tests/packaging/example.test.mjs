// The Workers example copied out of the repo, as users start their own worker from it: the
// directory as git holds it, `npm init -y` only if it brings no package.json, the tarball
// installed, wrangler beside it; then `node mint-token.mjs`, `node dev.mjs` (what `make worker`
// runs) and the curl lines dev.mjs prints, each run as printed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { REPO, TARBALL, freePort, run, startServer } from "./helpers.mjs";

const EXAMPLE = join(REPO, "examples", "cloudflare-worker");
// Local state of a run in the repo, git-ignored there: a user's copy has none.
const LOCAL = new Set([".dev.vars", ".wrangler", "node_modules"]);
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };

test("the Workers example copied out of the repo: mint-token, dev.mjs and its curl lines work there", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "wasm-quota-example-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(EXAMPLE, dir, { recursive: true, filter: (src) => !LOCAL.has(basename(src)) });
  // npm 11's `npm init -y` writes "type": "commonjs".
  if (!existsSync(join(dir, "package.json"))) await run("npm", ["init", "-y"], { cwd: dir });
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--save-exact", TARBALL], { cwd: dir });
  await mkdir(join(dir, "node_modules"), { recursive: true });
  await symlink(join(REPO, "node_modules", "wrangler"), join(dir, "node_modules", "wrangler"));

  // mint-token writes a .dev.vars with a random secret, then prints a token.
  const { stdout: token } = await run(process.execPath, ["mint-token.mjs", "42"], { cwd: dir });
  assert.match(token.trim(), /^[\w-]+\.[\w-]+$/);

  const port = await freePort();
  const inspector = String(await freePort()); // see tests/node/cloudflare-wrangler.test.mjs
  const { output } = await startServer(t, process.execPath, ["dev.mjs", "--inspector-port", inspector], {
    cwd: dir,
    env: { ...env, PORT: String(port) },
    ready: /Ready on http:\/\/127\.0\.0\.1:\d+/,
  });
  const curls = output().match(/^ {2}curl .*$/gm);
  assert.equal(curls?.length, 3, output());
  const answers = [];
  for (const line of curls) {
    const { stdout } = await run("bash", ["-c", `${line.trim()} -s`]);
    const [head, body] = stdout.split(/\r?\n\r?\n/);
    answers.push({ status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(head)[1]), body: JSON.parse(body) });
  }
  // A run, a failed run released, then the usage: one remix counted.
  assert.equal(answers[0].status, 200, JSON.stringify(answers[0]));
  assert.equal(answers[0].body.quota.used, 1);
  assert.deepEqual([answers[1].status, answers[1].body.released], [502, true]);
  assert.equal(answers[2].status, 200);
  assert.deepEqual(answers[2].body, { profile: 42, usage: { remix: 1, remix_suggestions: 0, scale: 0, tips: 0, discover: 0, timer: 0 } });
});
