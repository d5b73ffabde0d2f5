// One process of the multi-process Redis test: connects, says "ready", waits for "go" on stdin,
// fires its reserves all at once, and prints what it saw as one JSON line.
import { createClient, close } from "./redis-client.mjs";
import { QuotaEngine } from "wasm-quota";
import { RedisStore } from "wasm-quota/redis";

const [url, now, reserves, limit] = process.argv.slice(2);
const client = await createClient({ url }).connect();
const engine = new QuotaEngine({
  store: new RedisStore(client),
  limits: { remix: Number(limit) },
  now: () => Number(now),
});
process.stdout.write("ready\n");
await once(process.stdin, "data");
process.stdin.destroy();
const results = await Promise.allSettled(
  Array.from({ length: Number(reserves) }, () => engine.reserve({ id: "shared" }, "remix")),
);
const summary = { admitted: 0, denied: 0, errors: [], allowedUsed: [] };
for (const r of results) {
  if (r.status === "rejected") summary.errors.push(String(r.reason));
  else if (r.value.allowed) {
    summary.admitted++;
    summary.allowedUsed.push(r.value.used);
  } else summary.denied++;
}
process.stdout.write(JSON.stringify(summary) + "\n");
await close(client);

function once(stream, event) {
  return new Promise((resolve) => stream.once(event, resolve));
}
