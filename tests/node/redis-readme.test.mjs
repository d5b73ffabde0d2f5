// README's RedisStore (Node) block, run as written in a child process, then what users do
// next: once with each release of the `redis` package README names (4.7.1, 5.x, and 6.x,
// which `npm install redis` gives today), as a project whose node_modules has that `redis`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { PACKAGES, installedVersion } from "./redis-client.mjs";
import { RedisServer } from "./redis-server.mjs";

// A bound on the whole test, so that a server that never comes back fails the test instead
// of hanging `make test`; nothing is asserted about how long anything takes.
const BOUND = { timeout: 120_000 };

// Run after the README's `RedisStore` (Node) block, as users would go on from it: reserves up
// to the limit and one more, then Redis goes away (SHUTDOWN NOSAVE) so the block's "error"
// listener runs, and a reserve is answered by its onStoreError.
const AFTER_README_REDIS = `
const me = { id: 7 };
// Reserves until the first plain denial. On a loaded machine a call can outlast the block's
// storeTimeoutMs: that answer is degraded (onStoreError "deny"), and its count may land late.
const answers = [];
let late = 0;
for (let d; d?.allowed !== false || d.degraded; ) {
  d = await engine.reserve(me, "remix");
  if (d.degraded) late++;
  else answers.push(d.allowed);
}
const used = (await engine.usage(me.id)).remix;
const lost = new Promise((resolve) => client.once("error", resolve));
await client.sendCommand(["SHUTDOWN", "NOSAVE"]).catch(() => {});
await lost;
const down = await engine.reserve(me, "remix");
typeof client.destroy === "function" ? client.destroy() : client.disconnect(); // 4.x: disconnect()
console.log(JSON.stringify({ answers, late, used, down: { allowed: down.allowed, code: down.error?.code } }));
`;

for (const installed of Object.values(PACKAGES)) {
  const version = installedVersion(installed);
  test(`the README's RedisStore (Node) example runs as written with redis ${version}: reserves, denies past the limit, survives Redis going away`, BOUND, async (t) => {
    const own = new RedisServer();
    await own.start();
    t.after(() => own.stop());
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const code = readme.slice(readme.indexOf("### `RedisStore` (Node)")).match(/```js\n([\s\S]*?)```/)[1];
    // A project of its own: its `redis` is this release, its `wasm-quota` the built package.
    const dir = fileURLToPath(new URL(`../../target/readme-redis-${version}/`, import.meta.url));
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(`${dir}node_modules`, { recursive: true });
    symlinkSync(fileURLToPath(new URL(`../../node_modules/${installed}`, import.meta.url)), `${dir}node_modules/redis`);
    symlinkSync(fileURLToPath(new URL("../../pkg", import.meta.url)), `${dir}node_modules/wasm-quota`);
    const { version: linked } = JSON.parse(readFileSync(`${dir}node_modules/redis/package.json`, "utf8"));
    assert.equal(linked, version, "the project's redis");
    const file = `${dir}readme.mjs`;
    writeFileSync(file, code + AFTER_README_REDIS);
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [file], {
      encoding: "utf8", timeout: 60_000, env: { ...process.env, REDIS_URL: own.url },
    });
    const out = JSON.parse(stdout);
    if (out.late === 0) {
      assert.deepEqual(out.answers, [...Array(10).fill(true), false], "limit 10: ten admitted, the eleventh denied");
      assert.equal(out.used, 10, "the denied reserve was not counted");
    } else {
      // Timed-out reserves (a loaded machine) may each have counted: fewer plain admissions, the
      // counter at the limit, or past it by at most those that timed out past it.
      const admitted = out.answers.length - 1;
      assert.deepEqual(out.answers, [...Array(admitted).fill(true), false], "admissions, then one denial");
      assert.ok(admitted + out.late >= 10 && admitted <= 10, JSON.stringify(out));
      assert.ok(out.used >= 10 && out.used <= 10 + out.late, JSON.stringify(out));
    }
    assert.deepEqual(out.down, { allowed: false, code: "STORE_ERROR" }, "Redis gone: onStoreError \"deny\"");
    assert.match(stderr, /^redis: /m, "the block's error listener logged the lost connection");
  });
}
