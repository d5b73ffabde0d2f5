// r and rt with the Django limits (36 % denied) and with limits no call reaches (none denied):
// what a denial's rollback round trip costs wasm-quota over Redis.
// node bench/redis-split.mjs (after make build); bench/RESULTS.md, "Redis".
const { QuotaEngine } = await import("wasm-quota");
const { RedisStore } = await import("wasm-quota/redis");
const { createClient } = await import("redis");
const { benchRedis, TunedRedis } = await import("./redis.mjs");
const { djangoWorkload, DJANGO_LIMITS } = await import("./workloads.mjs");
const OPS = 60_000, WIDTH = 64;
const work = djangoWorkload(OPS, 1_000);
const HIGH = Object.fromEntries(Object.keys(DJANGO_LIMITS).map((f) => [f, 1e9]));
const server = await benchRedis();
const client = await createClient({ url: server.url }).connect();
async function conc(reserve) {
  let next = 0, admitted = 0;
  await Promise.all(Array.from({ length: WIDTH }, async () => { while (next < OPS) if (await reserve(next++)) admitted++; }));
  return admitted;
}
const runs = {
  "r django": (c) => { const e = new QuotaEngine({ store: new RedisStore(c), limits: DJANGO_LIMITS }); return conc(async (i) => (await e.reserve(work.who[i], work.what[i])).allowed); },
  "rt django": (c) => { const q = new TunedRedis(DJANGO_LIMITS, c); return conc((i) => q.reserve(work.who[i].id, work.what[i])); },
  "r none denied": (c) => { const e = new QuotaEngine({ store: new RedisStore(c), limits: HIGH }); return conc(async (i) => (await e.reserve(work.who[i], work.what[i])).allowed); },
  "rt none denied": (c) => { const q = new TunedRedis(HIGH, c); return conc((i) => q.reserve(work.who[i].id, work.what[i])); },
};
const res = {};
for (let round = 0; round < 6; round++) {
  for (const [name, run] of Object.entries(runs)) {
    await client.flushAll();
    await client.configResetStat();
    const t = performance.now();
    const admitted = await run(client);
    const s = (performance.now() - t) / 1000;
    const info = await client.info("commandstats");
    const calls = [...info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)].filter(([, c]) => c !== "flushall" && c !== "config" && c !== "info").reduce((n, m) => n + Number(m[2]), 0);
    if (round > 0) (res[name] ??= []).push(OPS / s);
    if (round === 1) console.log(name, "admitted", admitted, "redis commands per call", (calls / OPS).toFixed(2));
  }
}
for (const [k, v] of Object.entries(res)) { v.sort((a, b) => a - b); console.log(k.padEnd(16), (v[v.length >> 1] / 1e6).toFixed(3), "M calls/s (median of", v.length + ")"); }
await client.close();
await server.stop();
