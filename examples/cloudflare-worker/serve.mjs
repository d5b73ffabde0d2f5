// `make worker`: serves the example worker in workerd (Miniflare) on 127.0.0.1:8787 (PORT to
// change it), Durable Object state kept in examples/cloudflare-worker/.state (STATE_DIR to
// change it). The token secret comes from QUOTA_TOKEN_SECRET, else a fresh random one; sample
// tokens are printed.
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { startWorker } from "./miniflare.mjs";
import { signToken } from "./src/token.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const port = Number(process.env.PORT ?? 8787);
const secret = process.env.QUOTA_TOKEN_SECRET ?? randomBytes(24).toString("base64url");

const mf = await startWorker(`${here}wrangler.toml`, {
  port,
  persist: process.env.STATE_DIR ?? `${here}.state`,
  bindings: { QUOTA_TOKEN_SECRET: secret },
});
const url = await mf.ready;
const base = url.href.replace(/\/$/, "");
const token42 = await signToken(secret, { sub: 42 });
const token43 = await signToken(secret, { sub: 43 });
console.log(`example worker (workerd via Miniflare) listening on ${base}
tokens valid for 24 h, signed with this run's secret:
  profile 42: ${token42}
  profile 43: ${token43}
try:
  curl -i -X POST ${base}/ai/remix -H 'Authorization: Bearer ${token42}' -d '{"prompt":"hello"}'
  curl -i -X POST ${base}/ai/remix -H 'Authorization: Bearer ${token42}' -d '{"simulateFailure":true}'
  curl -i ${base}/usage -H 'Authorization: Bearer ${token42}'
Ctrl-C stops it.`);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, async () => {
    await mf.dispose();
    process.exit(0);
  });
}
