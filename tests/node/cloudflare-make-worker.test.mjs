// `make worker`'s server (examples/cloudflare-worker/serve.mjs): serves the example over real
// HTTP on 127.0.0.1, and the tokens it prints work.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { awayFromMidnight } from "../workerd/helpers.mjs";

const SERVE = fileURLToPath(new URL("../../examples/cloudflare-worker/serve.mjs", import.meta.url));

test("serve.mjs serves the example worker over HTTP with working sample tokens", async (t) => {
  await awayFromMidnight();
  const state = await mkdtemp(join(tmpdir(), "wasm-quota-serve-"));
  const child = spawn(process.execPath, [SERVE], {
    env: { ...process.env, PORT: "0", STATE_DIR: state },
    stdio: ["ignore", "pipe", "inherit"],
  });
  t.after(async () => {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
    await rm(state, { recursive: true, force: true });
  });

  let out = "";
  child.stdout.setEncoding("utf8");
  for await (const chunk of child.stdout) {
    out += chunk;
    if (out.includes("Ctrl-C")) break;
  }
  const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
  const token = /profile 42: (\S+)/.exec(out)?.[1];
  assert.ok(base && token, out);

  const auth = { Authorization: `Bearer ${token}` };
  const r = await fetch(`${base}/ai/remix`, { method: "POST", headers: auth, body: '{"prompt":"hi"}' });
  assert.equal(r.status, 200);
  assert.equal((await r.json()).quota.used, 1);
  const u = await fetch(`${base}/usage`, { headers: auth });
  assert.deepEqual((await u.json()).usage, { remix: 1, remix_suggestions: 0, scale: 0, tips: 0, discover: 0, timer: 0 });
  assert.equal((await fetch(`${base}/usage`)).status, 401);
});
