// `const engine = new QuotaEngine(…)` at the top of a Worker module loads in workerd (which
// forbids random values at module scope): the engine draws its randomness on first use.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { startWorker } from "../../examples/cloudflare-worker/miniflare.mjs";

// Bounded: workerd that refuses to load the module leaves Miniflare waiting, not failing.
test("an engine constructed at module scope loads in workerd and works on the first request", { timeout: 60_000 }, async () => {
  const mf = await startWorker(fileURLToPath(new URL("../workerd/module-scope.toml", import.meta.url)));
  try {
    const res = await mf.dispatchFetch("http://test/");
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { allowed: [true, true], distinct: true, used: 1 });
  } finally {
    await mf.dispose();
  }
});
