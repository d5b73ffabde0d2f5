// What a denial's rollback round trip costs wasm-quota over Redis (bench/RESULTS.md, "Redis"):
// the redis suite's r and rt with the Django service's limits (about a third denied) and with
// limits no call reaches, and the commands Redis ran per call (INFO commandstats counts a
// script's commands as well as its EVALSHA).   node bench/redis-split.mjs   (after make build)
import { createClient } from "redis";
import { benchRedis, countConcurrent, engineOverRedis, TunedRedis } from "./redis.mjs";
import { DJANGO_LIMITS, djangoWorkload } from "./workloads.mjs";

const OPS = 60_000;
const ROUNDS = 5; // after a warm-up round
const { who, what } = djangoWorkload(OPS, 1_000);
const NEVER_REACHED = Object.fromEntries(Object.keys(DJANGO_LIMITS).map((f) => [f, 1e9]));
const runs = [];
for (const [limits, label] of [[DJANGO_LIMITS, "Django limits"], [NEVER_REACHED, "none denied"]]) {
  runs.push([`r, ${label}`, (client) => {
    const reserve = engineOverRedis(limits, client);
    return countConcurrent(OPS, (i) => reserve(who[i], what[i]));
  }]);
  runs.push([`rt, ${label}`, (client) => {
    const q = new TunedRedis(limits, client);
    return countConcurrent(OPS, (i) => q.reserve(who[i].id, what[i]));
  }]);
}

const server = await benchRedis();
const client = await createClient({ url: server.url }).connect();
const commandsRun = async () => {
  const stats = await client.info("commandstats");
  let n = 0;
  for (const [, command, calls] of stats.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) {
    if (!["flushall", "config", "info"].includes(command)) n += Number(calls);
  }
  return n;
};
const samples = new Map(runs.map(([name]) => [name, []]));
for (let round = 0; round <= ROUNDS; round++) {
  for (const [name, run] of runs) {
    await client.flushAll();
    await client.configResetStat();
    const t0 = performance.now();
    const admitted = await run(client);
    const seconds = (performance.now() - t0) / 1000;
    if (round > 0) samples.get(name).push(OPS / seconds);
    else console.log(`${name}: ${admitted} admitted, ${((await commandsRun()) / OPS).toFixed(2)} Redis commands per call`);
  }
}
for (const [name, xs] of samples) {
  xs.sort((a, b) => a - b);
  console.log(`${name.padEnd(20)} ${(xs[xs.length >> 1] / 1e6).toFixed(3)} M calls/s (median of ${xs.length})`);
}
await client.close();
await server.stop();
