// `make worker`: the example under `wrangler dev` on 127.0.0.1:8787 (PORT to change it), with a
// development token for profiles 42 and 43 printed first. Secrets come from .dev.vars (made by
// mint-token.mjs when missing); more arguments go to wrangler, e.g. `--persist-to dir`.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { devSecret } from "./mint-token.mjs";
import { signToken } from "./src/token.js";

const here = fileURLToPath(new URL(".", import.meta.url));
// The wrangler Node finds from here: the repo's, or a copy's own node_modules.
const wrangler = createRequire(import.meta.url).resolve("wrangler/bin/wrangler.js");
const port = Number(process.env.PORT ?? 8787);
const base = `http://127.0.0.1:${port}`;
const secret = devSecret();
const token42 = await signToken(secret, { sub: 42 });
const token43 = await signToken(secret, { sub: 43 });
console.log(`tokens valid for 24 h (more: node mint-token.mjs <profile id>):
  profile 42: ${token42}
  profile 43: ${token43}
try:
  curl -i -X POST ${base}/ai/remix -H 'Authorization: Bearer ${token42}' -d '{"prompt":"hello"}'
  curl -i -X POST ${base}/ai/remix -H 'Authorization: Bearer ${token42}' -d '{"simulateFailure":true}'
  curl -i ${base}/usage -H 'Authorization: Bearer ${token42}'`);

const child = spawn(process.execPath, [wrangler, "dev", "--ip", "127.0.0.1", "--port", String(port), ...process.argv.slice(2)], {
  cwd: here,
  stdio: "inherit",
  env: { WRANGLER_SEND_METRICS: "false", ...process.env },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
