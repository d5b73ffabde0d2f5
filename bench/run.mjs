// `make bench`: reserve() throughput of wasm-quota next to plain-JS contenders, in one Node
// process, interleaved over several rounds; then start-up cost and the .wasm size.
//
//   node bench/run.mjs            (BENCH_ROUNDS=7 BENCH_OPS=600000 to change the defaults)
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import os from "node:os";
import { SeedPort, TunedJs, TunedOverStore } from "./contenders.mjs";

const importStart = performance.now();
const { QuotaEngine, MemoryStore } = await import("wasm-quota");
const importMs = performance.now() - importStart;
const { RateLimiterMemory } = createRequire(import.meta.url)("rate-limiter-flexible");

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const OPS = Number(process.env.BENCH_OPS ?? 600_000);
const PROFILES = 10_000;
const LIMITS = { remix: 10, remix_suggestions: 20, scale: 10, tips: 20, discover: 10, timer: 10 };
const FEATURES = Object.keys(LIMITS);
const DAY_MS = 86_400_000;

// The workload: OPS (profile, feature) pairs from a seeded generator, skewed so that busy
// profiles run into their limits while most do not — a mix of allowed and denied.
function workload() {
  let s = 0x9e3779b9;
  const rand = () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
  const profiles = Array.from({ length: PROFILES }, (_, i) => ({ id: i + 1 }));
  const who = new Array(OPS);
  const what = new Array(OPS);
  for (let i = 0; i < OPS; i++) {
    who[i] = profiles[Math.floor(PROFILES * rand() ** 3)];
    what[i] = FEATURES[Math.floor(FEATURES.length * rand())];
  }
  return { who, what };
}
const { who, what } = workload();

/** A QuotaStore whose every method answers with an already-resolved Promise. */
class ResolvedPromiseStore {
  constructor(inner) {
    this.inner = inner;
  }
  get(k) {
    return Promise.resolve(this.inner.get(k));
  }
  incr(k, d) {
    return Promise.resolve(this.inner.incr(k, d));
  }
  add(k, v, t) {
    return Promise.resolve(this.inner.add(k, v, t));
  }
  set(k, v, t) {
    return Promise.resolve(this.inner.set(k, v, t));
  }
}

// Each contender runs the whole workload on fresh state and returns how many it admitted.
const contenders = {
  a: {
    name: "wasm-quota reserve, MemoryStore",
    run() {
      const engine = new QuotaEngine({ store: new MemoryStore(), limits: LIMITS });
      let admitted = 0;
      for (let i = 0; i < OPS; i++) if (engine.reserve(who[i], what[i]).allowed) admitted++;
      return admitted;
    },
  },
  b: {
    name: "wasm-quota reserve, async store",
    async run() {
      const store = new ResolvedPromiseStore(new MemoryStore());
      const engine = new QuotaEngine({ store, limits: LIMITS });
      let admitted = 0;
      for (let i = 0; i < OPS; i++) if ((await engine.reserve(who[i], what[i])).allowed) admitted++;
      return admitted;
    },
  },
  c: {
    name: "plain-JS port of the seed",
    run() {
      const q = new SeedPort(LIMITS);
      let admitted = 0;
      for (let i = 0; i < OPS; i++) if (q.reserve(who[i], what[i])[0]) admitted++;
      return admitted;
    },
  },
  d: {
    name: "tuned plain JS",
    run() {
      const q = new TunedJs(LIMITS);
      let admitted = 0;
      for (let i = 0; i < OPS; i++) if (q.reserve(who[i], what[i])) admitted++;
      return admitted;
    },
  },
  f: {
    name: "tuned plain JS over MemoryStore (a's store)",
    run() {
      const q = new TunedOverStore(LIMITS, new MemoryStore());
      let admitted = 0;
      for (let i = 0; i < OPS; i++) if (q.reserve(who[i], what[i])) admitted++;
      return admitted;
    },
  },
  e: {
    name: "rate-limiter-flexible Memory.consume",
    async run() {
      const limiters = new Map(
        FEATURES.map((f) => [f, new RateLimiterMemory({ keyPrefix: f, points: LIMITS[f], duration: 86_400 })]),
      );
      let admitted = 0;
      for (let i = 0; i < OPS; i++) {
        try {
          await limiters.get(what[i]).consume(who[i].id);
          admitted++;
        } catch (res) {
          if (res instanceof Error) throw res;
        }
      }
      // Its records hold 24-hour timers; clear them so they do not burden later rounds.
      for (const l of limiters.values()) for (const k of [...l._memoryStorage._storage.keys()]) l._memoryStorage.delete(k);
      return admitted;
    },
  },
};

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const utcDay = () => Math.floor(Date.now() / DAY_MS);

/** One timed run; repeated when it straddles a UTC midnight (the windows reset mid-run). */
async function timed(c) {
  for (;;) {
    const day = utcDay();
    const t0 = performance.now();
    const admitted = await c.run();
    const ms = performance.now() - t0;
    if (utcDay() === day) return { admitted, opsPerSec: (OPS / ms) * 1000 };
  }
}

const ids = Object.keys(contenders);
const samples = Object.fromEntries(ids.map((id) => [id, []]));
const admitted = {};
for (let round = 0; round <= ROUNDS; round++) {
  // Round 0 warms every contender up and is not counted; later rounds rotate the order.
  const order = ids.map((_, i) => ids[(i + round) % ids.length]);
  for (const id of order) {
    const r = await timed(contenders[id]);
    (admitted[id] ??= new Set()).add(r.admitted);
    if (round > 0) samples[id].push(r.opsPerSec);
  }
  process.stderr.write(`round ${round}/${ROUNDS} done\n`);
}

const counts = new Set(Object.values(admitted).flatMap((s) => [...s]));
if (counts.size !== 1) {
  console.error("contenders disagree on the number admitted:", Object.fromEntries(ids.map((id) => [id, [...admitted[id]]])));
  process.exit(1);
}
const admittedCount = [...counts][0];

// Start-up: compiling the .wasm, and a fresh engine plus its first reserve (module warm).
const wasmBytes = readFileSync(new URL("../pkg/wasm_quota_bg.wasm", import.meta.url));
const compileMs = median(Array.from({ length: 15 }, () => {
  const t0 = performance.now();
  new WebAssembly.Module(wasmBytes);
  return performance.now() - t0;
}));
const firstCallUs = median(Array.from({ length: 2000 }, (_, i) => {
  const t0 = performance.now();
  const engine = new QuotaEngine({ store: new MemoryStore(), limits: LIMITS });
  engine.reserve({ id: i }, "remix");
  const us = (performance.now() - t0) * 1000;
  engine.free?.();
  return us;
}));

const med = Object.fromEntries(ids.map((id) => [id, median(samples[id])]));
const ratio = (x, y) => med[x] / med[y];
const targets = [
  ["a/c", ratio("a", "c"), null],
  ["a/d", ratio("a", "d"), 1.0],
  ["a/e", ratio("a", "e"), 3.0],
  ["b/e", ratio("b", "e"), 1.0],
  ["a/f", ratio("a", "f"), null],
];
const size = { raw: wasmBytes.length, gzip: gzipSync(wasmBytes, { level: 9 }).length };

const fmt = (n) => (n / 1e6).toFixed(3).padStart(7);
console.log(`\nreserve() over ${OPS} calls, ${PROFILES} profiles x ${FEATURES.length} features, ${admittedCount} admitted by every contender`);
console.log(`median of ${ROUNDS} interleaved rounds, Node ${process.version}, ${os.cpus()[0].model} (${os.cpus().length} cores)\n`);
console.log("| contender | M reserves/s |\n| --- | ---: |");
for (const id of ids) console.log(`| (${id}) ${contenders[id].name} | ${fmt(med[id])} |`);
console.log("\n| ratio | measured | target |\n| --- | ---: | ---: |");
for (const [name, v, t] of targets) console.log(`| ${name} | ${v.toFixed(2)} | ${t === null ? "—" : `≥ ${t.toFixed(1)} ${v >= t ? "met" : "MISSED"}`} |`);
console.log(`\n.wasm: ${size.raw} bytes, ${size.gzip} gzipped (target ≤ 28672)${size.gzip <= 28672 ? "" : " MISSED"}`);
console.log(`start-up: import of the package ${importMs.toFixed(1)} ms (first, cold); WebAssembly.Module compile ${compileMs.toFixed(2)} ms; new QuotaEngine + first reserve ${firstCallUs.toFixed(1)} µs\n`);
console.log(
  "BENCH_JSON " +
    JSON.stringify({
      node: process.version,
      cpu: os.cpus()[0].model,
      ops: OPS,
      rounds: ROUNDS,
      admitted: admittedCount,
      opsPerSec: Object.fromEntries(ids.map((id) => [id, Math.round(med[id])])),
      ratios: Object.fromEntries(targets.map(([n, v]) => [n, Number(v.toFixed(3))])),
      wasmBytes: size,
      startup: { importMs: +importMs.toFixed(2), compileMs: +compileMs.toFixed(3), engineAndFirstReserveUs: +firstCallUs.toFixed(2) },
    }),
);
