// `make bench`: wasm-quota next to plain-JS contenders and rate-limiter-flexible over the shapes
// users have, in one Node process: every contender of every suite runs once per round, in an
// order that rotates, and the medians of the rounds are compared. Then start-up (Node and
// workerd) and the .wasm size. Fails when two contenders of a suite admit different numbers.
//
//   node bench/run.mjs     (BENCH_ROUNDS=7, BENCH_OPS=600000 for the Django service suite; the other
//                           suites run a third of BENCH_OPS, but "many" all of it;
//                           BENCH_SUITES=django,tokens,idempotency,many,redis picks suites; BENCH_CONTENDERS=m,s,t,u picks contenders by id, and only
//                           the ratios between those are printed; BENCH_STARTUP=0 skips start-up)
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { performance } from "node:perf_hooks";
import os from "node:os";
import { QuotaEngine, MemoryStore } from "wasm-quota";
import { DjangoPort, TunedJs, TunedOverStore } from "./contenders.mjs";
import { TunedTokens, TunedIdempotent, TunedOverAsyncStore } from "./tuned.mjs";
import { RlfQuota } from "./rlf.mjs";
import { mapStore, asyncMapStore } from "./user-stores.mjs";
import { DJANGO_LIMITS, TOKEN_LIMITS, djangoWorkload, tokenWorkload, idempotentWorkload, withUuidIds, asPolicyObjects } from "./workloads.mjs";
import { nodeStartup, workerdStartup } from "./startup.mjs";
import { createClient } from "redis";
import { benchRedis, countConcurrent, engineOverRedis, REDIS_IN_FLIGHT, TunedRedis, RlfRedis } from "./redis.mjs";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const DJANGO_OPS = Number(process.env.BENCH_OPS ?? 600_000);
const OPS = Math.round(DJANGO_OPS / 3);
const WASM_GZIP_TARGET = 40 * 1024;

const django = djangoWorkload(DJANGO_OPS);
const djangoUuid = withUuidIds(django);
const ONE = { amount: 1 };
const UPSERTS = { upserts: true }; // the store contract's optional incrOrCreate and incrOrCreateWithin
const tokens = tokenWorkload(OPS);
// More active profiles than the engine's id table (16,384 ids) and key table (65,536 keys) hold.
const MANY_PROFILES = 50_000;
const many = djangoWorkload(DJANGO_OPS, MANY_PROFILES);
const manyUuid = withUuidIds(many);
const idem = idempotentWorkload(OPS);

/** Runs `reserve(i)` (true when admitted) for every request; a Promise when `reserve` is async. */
function count(n, reserve) {
  let admitted = 0;
  for (let i = 0; i < n; i++) if (reserve(i)) admitted++;
  return admitted;
}
async function countAsync(n, reserve) {
  let admitted = 0;
  for (let i = 0; i < n; i++) if (await reserve(i)) admitted++;
  return admitted;
}
function withRlf(limits, options, run) {
  return async () => {
    const q = new RlfQuota(limits, options);
    try {
      return await run(q);
    } finally {
      q.dispose();
    }
  };
}

// Each contender runs its suite's whole workload on fresh state and returns how many it admitted.
const { who, what } = django;
const allSuites = [
  {
    name: "django",
    title: `Django service workload: ${DJANGO_OPS} reserves, numeric ids, 10,000 profiles x 6 features, amount 1`,
    ops: DJANGO_OPS,
    contenders: {
      a: ["wasm-quota, MemoryStore", () => {
        const engine = new QuotaEngine({ store: new MemoryStore(), limits: DJANGO_LIMITS });
        return count(DJANGO_OPS, (i) => engine.reserve(who[i], what[i]).allowed);
      }],
      m: ["wasm-quota, a user's sync store (object over a Map)", () => {
        const engine = new QuotaEngine({ store: mapStore(), limits: DJANGO_LIMITS });
        return count(DJANGO_OPS, (i) => engine.reserve(who[i], what[i]).allowed);
      }],
      b: ["wasm-quota, a user's async store", () => {
        const engine = new QuotaEngine({ store: asyncMapStore(), limits: DJANGO_LIMITS });
        return countAsync(DJANGO_OPS, async (i) => (await engine.reserve(who[i], what[i])).allowed);
      }],
      mu: ["wasm-quota, the user's sync store with both upserts", () => {
        const engine = new QuotaEngine({ store: mapStore(Date.now, UPSERTS), limits: DJANGO_LIMITS });
        return count(DJANGO_OPS, (i) => engine.reserve(who[i], what[i]).allowed);
      }],
      bu: ["wasm-quota, the user's async store with both upserts", () => {
        const engine = new QuotaEngine({ store: asyncMapStore(Date.now, UPSERTS), limits: DJANGO_LIMITS });
        return countAsync(DJANGO_OPS, async (i) => (await engine.reserve(who[i], what[i])).allowed);
      }],
      s: ["wasm-quota, the user's sync store, UUID string ids", () => {
        const engine = new QuotaEngine({ store: mapStore(), limits: DJANGO_LIMITS });
        return count(DJANGO_OPS, (i) => engine.reserve(djangoUuid.who[i], djangoUuid.what[i]).allowed);
      }],
      t: ["wasm-quota, the user's sync store, { amount: 1 }", () => {
        const engine = new QuotaEngine({ store: mapStore(), limits: DJANGO_LIMITS });
        return count(DJANGO_OPS, (i) => engine.reserve(who[i], what[i], ONE).allowed);
      }],
      u: ["wasm-quota, the user's sync store, limits as policy objects", () => {
        const engine = new QuotaEngine({ store: mapStore(), limits: asPolicyObjects(DJANGO_LIMITS) });
        return count(DJANGO_OPS, (i) => engine.reserve(who[i], what[i]).allowed);
      }],
      c: ["plain-JS port of the Django service", () => {
        const q = new DjangoPort(DJANGO_LIMITS);
        return count(DJANGO_OPS, (i) => q.reserve(who[i], what[i])[0]);
      }],
      d: ["tuned plain JS", () => {
        const q = new TunedJs(DJANGO_LIMITS);
        return count(DJANGO_OPS, (i) => q.reserve(who[i], what[i]));
      }],
      f: ["tuned plain JS over MemoryStore", () => {
        const q = new TunedOverStore(DJANGO_LIMITS, new MemoryStore());
        return count(DJANGO_OPS, (i) => q.reserve(who[i], what[i]));
      }],
      n: ["tuned plain JS over the user's sync store", () => {
        const q = new TunedOverStore(DJANGO_LIMITS, mapStore());
        return count(DJANGO_OPS, (i) => q.reserve(who[i], what[i]));
      }],
      p: ["tuned plain JS over the user's sync store, UUID string ids", () => {
        const q = new TunedOverStore(DJANGO_LIMITS, mapStore());
        return count(DJANGO_OPS, (i) => q.reserve(djangoUuid.who[i], djangoUuid.what[i]));
      }],
      q: ["tuned plain JS over the user's async store", () => {
        const q = new TunedOverAsyncStore(DJANGO_LIMITS, asyncMapStore());
        return countAsync(DJANGO_OPS, (i) => q.reserve(who[i], what[i]));
      }],
      e: ["rate-limiter-flexible RateLimiterMemory", withRlf(DJANGO_LIMITS, { refund: false }, (q) =>
        countAsync(DJANGO_OPS, (i) => q.reserve(who[i].id, what[i])))],
    },
    // mu, bu: m and b over the same store given incrOrCreate and incrOrCreateWithin (one store
    // call per reserve, admitted or denied).
    // s, t, u: other call shapes over the same user store, the same store operations as m.
    // p/n: what UUID ids cost the store and plain JS alone, beside s/m.
    targets: [["a/d", 1.5], ["a/e", 4.0], ["m/e", 1.3], ["b/e", 1.0], ["a/c"], ["a/f"], ["m/n"], ["b/q"], ["mu/m"], ["bu/b"], ["mu/e"], ["bu/e"], ["s/m", 0.8], ["p/n"], ["t/m", 0.8], ["u/m", 0.8]],
  },
  {
    name: "tokens",
    title: `token workload: ${OPS} reserves, UUID ids, amount 1-500, chat = hour + day policy, embed = day`,
    ops: OPS,
    contenders: {
      g: ["wasm-quota, MemoryStore", () => {
        const engine = new QuotaEngine({ store: new MemoryStore(), limits: TOKEN_LIMITS });
        return count(OPS, (i) => engine.reserve(tokens.who[i], tokens.what[i], { amount: tokens.amount[i] }).allowed);
      }],
      v: ["wasm-quota, the user's sync store", () => {
        const engine = new QuotaEngine({ store: mapStore(), limits: TOKEN_LIMITS });
        return count(OPS, (i) => engine.reserve(tokens.who[i], tokens.what[i], { amount: tokens.amount[i] }).allowed);
      }],
      h: ["tuned plain JS for this workload", () => {
        const q = new TunedTokens(TOKEN_LIMITS);
        return count(OPS, (i) => q.reserve(tokens.who[i], tokens.what[i], tokens.amount[i]));
      }],
      i: ["rate-limiter-flexible RateLimiterMemory", withRlf(TOKEN_LIMITS, {}, (q) =>
        countAsync(OPS, (i) => q.reserve(tokens.who[i].id, tokens.what[i], tokens.amount[i])))],
    },
    // v/m: per call, over the same user store as the numeric-id shape (m); chat calls count in two
    // policies, so they make twice m's store operations.
    targets: [["g/h", 1.5], ["g/i"], ["v/m"]],
  },
  {
    name: "idempotency",
    title: `idempotency keys: ${OPS} reserves of the Django service's shape, a quarter of them retries`,
    ops: OPS,
    contenders: {
      j: ["wasm-quota, MemoryStore", () => {
        const engine = new QuotaEngine({ store: new MemoryStore(), limits: DJANGO_LIMITS });
        return count(OPS, (i) => engine.reserve(idem.who[i], idem.what[i], { idempotencyKey: idem.key[i] }).allowed);
      }],
      w: ["wasm-quota, the user's sync store", () => {
        const engine = new QuotaEngine({ store: mapStore(), limits: DJANGO_LIMITS });
        return count(OPS, (i) => engine.reserve(idem.who[i], idem.what[i], { idempotencyKey: idem.key[i] }).allowed);
      }],
      k: ["tuned plain JS with a Map of answers", () => {
        const q = new TunedIdempotent(DJANGO_LIMITS);
        return count(OPS, (i) => q.reserve(idem.who[i], idem.what[i], idem.key[i]));
      }],
      l: ["rate-limiter-flexible with a Map of answers", withRlf(DJANGO_LIMITS, { refund: false }, (q) => {
        const answers = new Map();
        return countAsync(OPS, async (i) => {
          const record = idem.who[i].id + ":" + idem.what[i] + ":" + idem.key[i];
          let allowed = answers.get(record);
          if (allowed === undefined) answers.set(record, (allowed = await q.reserve(idem.who[i].id, idem.what[i])));
          return allowed;
        });
      })],
    },
    // w/m: an idempotent reserve also reads and writes its record (more store operations than m).
    targets: [["j/k"], ["j/l"], ["w/m"]],
  },
];
allSuites.push({
  name: "many",
  title: `many profiles: ${DJANGO_OPS} reserves of the Django service's shape over ${MANY_PROFILES.toLocaleString("en")} profiles x 6 features`,
  ops: DJANGO_OPS,
  contenders: {
    x: ["wasm-quota, the user's sync store, numeric ids", () => {
      const engine = new QuotaEngine({ store: mapStore(), limits: DJANGO_LIMITS });
      return count(DJANGO_OPS, (i) => engine.reserve(many.who[i], many.what[i]).allowed);
    }],
    y: ["wasm-quota, the user's sync store, UUID string ids", () => {
      const engine = new QuotaEngine({ store: mapStore(), limits: DJANGO_LIMITS });
      return count(DJANGO_OPS, (i) => engine.reserve(manyUuid.who[i], manyUuid.what[i]).allowed);
    }],
    o: ["tuned plain JS over the user's sync store, numeric ids", () => {
      const q = new TunedOverStore(DJANGO_LIMITS, mapStore());
      return count(DJANGO_OPS, (i) => q.reserve(many.who[i], many.what[i]));
    }],
    z: ["tuned plain JS over the user's sync store, UUID string ids", () => {
      const q = new TunedOverStore(DJANGO_LIMITS, mapStore());
      return count(DJANGO_OPS, (i) => q.reserve(manyUuid.who[i], manyUuid.what[i]));
    }],
  },
  // y/x: UUID ids against numeric ids at this scale (s/m's rule); x/m: what the scale costs.
  targets: [["y/x", 0.8], ["z/o"], ["x/o"], ["x/m"], ["y/s"]],
});
// Every call a round trip to a Redis of the bench's own on this machine, 64 calls in flight over
// one connection (node-redis pipelines them), each contender on an emptied Redis.
const REDIS_OPS = Math.round(DJANGO_OPS / 10);
const redisWork = djangoWorkload(REDIS_OPS, 1_000);
let redis = null; // { server, client } once the suite runs
const onRedis = (run) => async () => {
  await redis.client.flushAll();
  return run(redis.client);
};
allSuites.push({
  name: "redis",
  title: `Redis: ${REDIS_OPS} reserves of the Django service's shape over 1,000 profiles x 6 features, ${REDIS_IN_FLIGHT} in flight, one node-redis connection to a local redis-server`,
  ops: REDIS_OPS,
  contenders: {
    r: ["wasm-quota, RedisStore", onRedis((client) => {
      const reserve = engineOverRedis(DJANGO_LIMITS, client);
      return countConcurrent(REDIS_OPS, (i) => reserve(redisWork.who[i], redisWork.what[i]));
    })],
    rt: ["tuned plain JS, one script per reserve", onRedis((client) => {
      const q = new TunedRedis(DJANGO_LIMITS, client);
      return countConcurrent(REDIS_OPS, (i) => q.reserve(redisWork.who[i].id, redisWork.what[i]));
    })],
    rl: ["rate-limiter-flexible RateLimiterRedis", onRedis((client) => {
      const q = new RlfRedis(DJANGO_LIMITS, client);
      return countConcurrent(REDIS_OPS, (i) => q.reserve(redisWork.who[i].id, redisWork.what[i]));
    })],
  },
  // No targets: the round trip is most of every contender's call. A denial costs wasm-quota a
  // second round trip (the rollback, as the store contract has it), the others none.
  targets: [["r/rt"], ["r/rl"]],
});
const pickedSuites = process.env.BENCH_SUITES?.split(",");
const picked = process.env.BENCH_CONTENDERS?.split(",");
const suites = allSuites
  .filter((s) => pickedSuites === undefined || pickedSuites.includes(s.name))
  .map((s) => picked === undefined ? s : {
    ...s,
    contenders: Object.fromEntries(Object.entries(s.contenders).filter(([id]) => picked.includes(id))),
    targets: s.targets.filter(([name]) => name.split("/").every((id) => picked.includes(id))),
  })
  .filter((s) => Object.keys(s.contenders).length > 0);
// A ratio across suites (x/m) only when both suites run.
const running = new Set(suites.flatMap((s) => Object.keys(s.contenders)));
for (const s of suites) s.targets = s.targets.filter(([name]) => name.split("/").every((id) => running.has(id)));

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const HOUR_MS = 3_600_000;
const hour = () => Math.floor(Date.now() / HOUR_MS);

/** One timed run; repeated when it straddles an hour boundary (hour windows reset mid-run). */
async function timed(ops, run) {
  for (;;) {
    const h = hour();
    const t0 = performance.now();
    const admitted = await run();
    const ms = performance.now() - t0;
    if (hour() === h) return { admitted, opsPerSec: (ops / ms) * 1000 };
  }
}

if (suites.some((s) => s.name === "redis")) {
  const server = await benchRedis();
  const client = createClient({ url: server.url });
  client.on("error", (e) => console.error("redis:", e.message));
  redis = { server, client: await client.connect() };
}
const samples = {};
const admitted = {};
for (let round = 0; round <= ROUNDS; round++) {
  // Round 0 warms every contender up and is not counted; later rounds rotate the order.
  for (const suite of suites) {
    const ids = Object.keys(suite.contenders);
    for (const id of ids.map((_, i) => ids[(i + round) % ids.length])) {
      const r = await timed(suite.ops, suite.contenders[id][1]);
      (admitted[id] ??= new Set()).add(r.admitted);
      if (round > 0) (samples[id] ??= []).push(r.opsPerSec);
    }
  }
  process.stderr.write(`round ${round}/${ROUNDS} done\n`);
}

let disagree = false;
for (const suite of suites) {
  const ids = Object.keys(suite.contenders);
  suite.admitted = new Set(ids.flatMap((id) => [...admitted[id]]));
  if (suite.admitted.size !== 1) {
    console.error(`${suite.title}: contenders disagree on the number admitted:`, Object.fromEntries(ids.map((id) => [id, [...admitted[id]]])));
    disagree = true;
  }
}
if (redis) {
  await redis.client.close();
  await redis.server.stop();
}
if (disagree) process.exit(1);

const startup = process.env.BENCH_STARTUP === "0" ? null : { node: nodeStartup(), workerd: await workerdStartup() };
const wasmBytes = readFileSync(new URL("../pkg/wasm_quota_bg.wasm", import.meta.url));
const size = { raw: wasmBytes.length, gzip: gzipSync(wasmBytes, { level: 9 }).length };

const med = Object.fromEntries(Object.entries(samples).map(([id, xs]) => [id, median(xs)]));
const fmt = (n) => (n / 1e6).toFixed(3).padStart(7);
const verdict = (v, t) => (t === undefined ? "—" : `≥ ${t.toFixed(1)} ${v >= t ? "met" : "missed"}`);
const ratios = {};
console.log(`\nmedians of ${ROUNDS} interleaved rounds, Node ${process.version}, ${os.cpus()[0].model} (${os.cpus().length} cores), load ${os.loadavg()[0].toFixed(1)}`);
for (const suite of suites) {
  console.log(`\n${suite.title}; ${[...suite.admitted][0]} admitted by every contender\n`);
  console.log("| contender | M calls/s |\n| --- | ---: |");
  for (const [id, [name]] of Object.entries(suite.contenders)) console.log(`| (${id}) ${name} | ${fmt(med[id])} |`);
  console.log("\n| ratio | measured | target |\n| --- | ---: | ---: |");
  for (const [name, target] of suite.targets) {
    const [x, y] = name.split("/");
    const v = (ratios[name] = med[x] / med[y]);
    console.log(`| ${name} | ${v.toFixed(2)} | ${verdict(v, target)} |`);
  }
}
console.log(`\n.wasm: ${size.raw} bytes, ${size.gzip} gzipped: ${size.gzip <= WASM_GZIP_TARGET ? "met" : "missed"} (target ≤ ${WASM_GZIP_TARGET})`);
if (startup) {
  const { node, workerd } = startup;
  console.log(`start-up, Node (fresh process): import ${node.importMs.toFixed(1)} ms (read, compile, instantiate; compiling alone ${node.compileMs.toFixed(2)} ms), new engine + first reserve ${node.firstReserveMs.toFixed(2)} ms`);
  console.log(`start-up, workerd (Miniflare, new process to first response): ${workerd.wasmMs.toFixed(0)} ms; the same for a plain-JS worker ${workerd.plainMs.toFixed(0)} ms (difference ${(workerd.wasmMs - workerd.plainMs).toFixed(0)} ms)`);
}
console.log(
  "\nBENCH_JSON " +
    JSON.stringify({
      node: process.version,
      rounds: ROUNDS,
      opsPerSec: Object.fromEntries(Object.entries(med).map(([id, v]) => [id, Math.round(v)])),
      ratios: Object.fromEntries(Object.entries(ratios).map(([n, v]) => [n, Number(v.toFixed(3))])),
      wasmBytes: size,
      startup,
    }),
);
