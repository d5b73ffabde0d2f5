// What one QuotaDurableObject sustains locally, in workerd via Miniflare:
//   node tests/workerd/bench.mjs          (N=20000 by default)
// 0. reserves/s inside the object, one RPC call running a loop: the engine + storage.kv alone;
// 1. read-only checks/s, then reserves/s, over Durable Object RPC from a worker to one object
//    (SQLite storage.kv, and the async storage API), several in flight;
// 2. requests/s end to end through the example worker over HTTP (token check, RPC, JSON).
// Prints figures only; nothing is asserted (tests assert behaviour, not speed).
import { performance } from "node:perf_hooks";
import { startWorker } from "../../examples/cloudflare-worker/miniflare.mjs";
import { signToken } from "../../examples/cloudflare-worker/src/token.js";
import { EXAMPLE_TOML, TEST_WORKER_TOML, ok } from "./helpers.mjs";

const N = Number(process.env.N ?? 20_000);
const LIMITS = JSON.stringify({ remix: 1e9 });

const rpc = await startWorker(TEST_WORKER_TOML, { bindings: { QUOTA_LIMITS: LIMITS } });
{
  const loop = (n) => ok(rpc, "rpc", { binding: "QUOTA_INSPECT", id: "loop", raw: true, method: "reserveLoop", args: ["loop", "remix", n] });
  await loop(1000); // warm up
  const t0 = performance.now();
  const { allowed } = await loop(N);
  const s = (performance.now() - t0) / 1000;
  if (allowed !== N) throw new Error(`expected ${N} allowed, got ${allowed}`);
  console.log(`in the object (engine + storage.kv, no RPC): ${Math.round(N / s)} reserves/s (${N} in ${s.toFixed(2)} s)`);
}
{
  // Read-only calls: what RPC costs without a storage write to commit at the end of each call.
  await ok(rpc, "checkMany", { id: "check", feature: "remix", n: 200 });
  const t0 = performance.now();
  await ok(rpc, "checkMany", { id: "check", feature: "remix", n: N });
  const s = (performance.now() - t0) / 1000;
  console.log(`RPC  QUOTA       check, 1 in flight: ${Math.round(N / s)} checks/s (${N} in ${s.toFixed(2)} s)`);
}
for (const binding of ["QUOTA", "QUOTA_ASYNC"]) {
  for (const inFlight of [1, 16, 64]) {
    const id = `${binding}-${inFlight}`;
    await ok(rpc, "reserveMany", { binding, id, feature: "remix", n: 200, inFlight }); // warm up
    const t0 = performance.now();
    const { allowed } = await ok(rpc, "reserveMany", { binding, id, feature: "remix", n: N, inFlight });
    const s = (performance.now() - t0) / 1000;
    if (allowed !== N) throw new Error(`expected ${N} allowed, got ${allowed}`);
    console.log(`RPC  ${binding.padEnd(11)} in flight ${String(inFlight).padStart(2)}: ${Math.round(N / s)} reserves/s (${N} in ${s.toFixed(2)} s)`);
  }
}
await rpc.dispose();

const secret = "bench-secret-0123456789abcdef";
const example = await startWorker(EXAMPLE_TOML, { port: 0, bindings: { QUOTA_TOKEN_SECRET: secret, QUOTA_LIMITS: LIMITS } });
const base = (await example.ready).href.replace(/\/$/, "");
const headers = { Authorization: `Bearer ${await signToken(secret, { sub: 1 })}` };
const HTTP_N = Math.min(N, 5_000);
for (const clients of [1, 32]) {
  let sent = 0;
  const client = async () => {
    while (sent++ < HTTP_N) {
      const r = await fetch(`${base}/ai/remix`, { method: "POST", headers, body: "{}" });
      if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
      await r.arrayBuffer();
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, client));
  const s = (performance.now() - t0) / 1000;
  console.log(`HTTP example worker, ${String(clients).padStart(2)} clients: ${Math.round(HTTP_N / s)} requests/s (${HTTP_N} in ${s.toFixed(2)} s)`);
}
await example.dispose();
