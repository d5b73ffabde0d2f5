// Start-up cost: compile + instantiate + first reserve, in a fresh Node process and in a fresh
// workerd (Miniflare) next to a plain-JS worker answering the same first request. workerd
// stops its clocks while a request computes, so it is timed from outside: process start to
// the first response.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { Miniflare } from "miniflare";
import { bundleWorker } from "../examples/cloudflare-worker/miniflare.mjs";

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const here = (p) => fileURLToPath(new URL(p, import.meta.url));

/** Medians over `runs` fresh Node processes, plus compiling the .wasm alone (in this process). */
export function nodeStartup(runs = 7) {
  const samples = Array.from({ length: runs }, () => JSON.parse(execFileSync(process.execPath, [here("./startup/node-child.mjs")], { encoding: "utf8" })));
  const bytes = readFileSync(here("../pkg/wasm_quota_bg.wasm"));
  const compileMs = median(
    Array.from({ length: 15 }, () => {
      const t0 = performance.now();
      new WebAssembly.Module(bytes);
      return performance.now() - t0;
    }),
  );
  return {
    importMs: median(samples.map((s) => s.importMs)),
    firstReserveMs: median(samples.map((s) => s.firstReserveMs)),
    compileMs,
  };
}

async function firstResponseMs(modules) {
  const t0 = performance.now();
  const mf = new Miniflare({ modules, modulesRoot: "/", compatibilityDate: "2026-04-20" });
  await mf.ready;
  const res = await mf.dispatchFetch("http://bench/");
  const body = await res.json();
  const ms = performance.now() - t0;
  await mf.dispose();
  if (body.allowed !== true) throw new Error(`workerd first reserve: ${JSON.stringify(body)}`);
  return ms;
}

/** Medians over `runs` fresh workerd processes (interleaved): the wasm-quota worker and the
 *  plain-JS one, from `new Miniflare` to the first response. */
export async function workerdStartup(runs = 5) {
  const wasm = await bundleWorker(here("./startup/worker-wasm.js"));
  const plain = await bundleWorker(here("./startup/worker-plain.js"));
  const w = [];
  const p = [];
  for (let i = 0; i <= runs; i++) {
    const a = await firstResponseMs(wasm);
    const b = await firstResponseMs(plain);
    if (i > 0) w.push(a), p.push(b); // the first pair warms the disk cache and is dropped
  }
  return { wasmMs: median(w), plainMs: median(p) };
}
