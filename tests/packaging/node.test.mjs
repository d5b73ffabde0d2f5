// Node from the installed tarball: `import` and `require()` of the package by its name, each
// entry that Node may resolve.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { project, run } from "./helpers.mjs";

const USE = (load) => `${load}
const engine = new QuotaEngine({ store: new MemoryStore(), limits: { remix: 1 } });
const a = engine.reserve({ id: 42 }, "remix");
const b = engine.reserve({ id: 42 }, "remix");
let code = null;
try { engine.reserve({ id: 42 }, "remixx"); } catch (e) { code = e instanceof QuotaError && e.code; }
console.log(JSON.stringify({ a: a.allowed, b: b.allowed, code, redis: typeof RedisStore }));
`;
const EXPECTED = { a: true, b: false, code: "UNKNOWN_FEATURE", redis: "function" };

test("Node ESM: import from the installed tarball", async (t) => {
  const dir = await project(t, {
    "app.mjs": USE(`import { QuotaEngine, MemoryStore, QuotaError } from "wasm-quota";\nimport { RedisStore } from "wasm-quota/redis";`),
  });
  const { stdout, stderr } = await run(process.execPath, [join(dir, "app.mjs")], { cwd: dir });
  assert.deepEqual(JSON.parse(stdout), EXPECTED);
  assert.equal(stderr, "");
});

test("Node CommonJS: require() from the installed tarball loads the same ES module", async (t) => {
  const dir = await project(t, {
    "app.cjs": USE(`const { QuotaEngine, MemoryStore, QuotaError } = require("wasm-quota");\nconst { RedisStore } = require("wasm-quota/redis");`)
      + `const esm = import("wasm-quota").then((m) => console.error(m.QuotaEngine === QuotaEngine ? "same" : "two copies"));`,
  });
  const { stdout, stderr } = await run(process.execPath, [join(dir, "app.cjs")], { cwd: dir });
  assert.deepEqual(JSON.parse(stdout), EXPECTED);
  assert.equal(stderr.trim(), "same");
});
