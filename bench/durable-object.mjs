// `make bench-do`: reserves/s through one QuotaDurableObject in workerd (Miniflare) next to a
// hand-written plain-JS counter object doing the same work (PlainCounterObject in
// tests/workerd/worker.js), interleaved over rounds, medians:
//   1. inside the object — one RPC call running a loop of reserves (engine + storage.kv);
//   2. over RPC from a worker to the object, 1 and 16 calls in flight.
// Prints figures and one BENCH_DO_JSON line; asserts nothing about speed.
//   node bench/durable-object.mjs     (BENCH_ROUNDS=5 BENCH_N=4000 by default)
import { performance } from "node:perf_hooks";
import { startWorker } from "../examples/cloudflare-worker/miniflare.mjs";
import { TEST_WORKER_TOML, ok } from "../tests/workerd/helpers.mjs";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const N = Number(process.env.BENCH_N ?? 4000);
const LOOP_N = N * 5;
const LIMITS = JSON.stringify({ remix: 1e12 });
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const mf = await startWorker(TEST_WORKER_TOML, { bindings: { QUOTA_LIMITS: LIMITS } });
const contenders = {
  wasm: { loop: "QUOTA_INSPECT", rpc: "QUOTA" },
  plain: { loop: "PLAIN", rpc: "PLAIN" },
};
const cases = {
  "inside the object (loop of reserves, no RPC)": async (c, round) => {
    const r = await ok(mf, "rpc", { binding: c.loop, id: `loop-${round}`, raw: true, method: "reserveLoop", args: [`loop-${round}`, "remix", LOOP_N] });
    return [LOOP_N, r.allowed];
  },
  "over RPC, 1 in flight": async (c, round) => {
    const r = await ok(mf, "reserveMany", { binding: c.rpc, id: `rpc1-${round}`, feature: "remix", n: N, inFlight: 1 });
    return [N, r.allowed];
  },
  "over RPC, 16 in flight": async (c, round) => {
    const r = await ok(mf, "reserveMany", { binding: c.rpc, id: `rpc16-${round}`, feature: "remix", n: N, inFlight: 16 });
    return [N, r.allowed];
  },
};

const rates = {}; // case -> contender -> [reserves/s]
for (let round = 0; round <= ROUNDS; round++) {
  for (const [name, run] of Object.entries(cases)) {
    const order = round % 2 ? ["plain", "wasm"] : ["wasm", "plain"];
    for (const who of order) {
      const t0 = performance.now();
      const [n, allowed] = await run(contenders[who], `${who}-${round}`);
      const s = (performance.now() - t0) / 1000;
      if (allowed !== n) throw new Error(`${who} ${name}: ${allowed} of ${n} allowed`);
      if (round > 0) ((rates[name] ??= {})[who] ??= []).push(n / s);
    }
  }
  process.stderr.write(`round ${round}/${ROUNDS} done\n`);
}
await mf.dispose();

console.log(`\none Durable Object in Miniflare (workerd), SQLite storage.kv; median of ${ROUNDS} interleaved rounds\n`);
console.log("| reserves/s | QuotaDurableObject (WASM) | plain-JS counter object | ratio (target ≥ 0.9) |\n| --- | ---: | ---: | ---: |");
const json = {};
for (const [name, by] of Object.entries(rates)) {
  const w = median(by.wasm);
  const p = median(by.plain);
  json[name] = { wasm: Math.round(w), plain: Math.round(p), ratio: Number((w / p).toFixed(3)) };
  console.log(`| ${name} | ${Math.round(w)} | ${Math.round(p)} | ${(w / p).toFixed(2)} |`);
}
console.log("\nBENCH_DO_JSON " + JSON.stringify(json));
