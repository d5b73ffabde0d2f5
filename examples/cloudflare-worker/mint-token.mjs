// Mints a development bearer token for the example worker:
//   node mint-token.mjs 42                    profile 42, valid 24 h
//   node mint-token.mjs user-7 --unlimited    a string id, the unlimited flag
//   node mint-token.mjs 42 --ttl 600          valid 10 minutes
// The secret is QUOTA_TOKEN_SECRET from .dev.vars, the file `wrangler dev` reads; when there is
// no .dev.vars this writes one with a fresh random secret (it is git-ignored: never commit it).
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { signToken } from "./src/token.js";

export const DEV_VARS = fileURLToPath(new URL(".dev.vars", import.meta.url));

/** QUOTA_TOKEN_SECRET from .dev.vars, creating the file with a random secret if it is missing. */
export function devSecret() {
  if (!existsSync(DEV_VARS)) {
    const secret = randomBytes(24).toString("base64url");
    writeFileSync(DEV_VARS, `# Written by mint-token.mjs for wrangler dev; never commit it.\nQUOTA_TOKEN_SECRET="${secret}"\n`, { mode: 0o600 });
    console.error(`wrote ${DEV_VARS} with a new random QUOTA_TOKEN_SECRET`);
  }
  const line = /^\s*QUOTA_TOKEN_SECRET\s*=\s*"?([^"\n]*)"?\s*$/m.exec(readFileSync(DEV_VARS, "utf8"));
  if (line === null || line[1].length < 16) throw new Error(`${DEV_VARS}: set QUOTA_TOKEN_SECRET to 16+ random characters`);
  return line[1];
}

/** The profile id as the worker reads it: digits are a numeric id, anything else a string id. */
export function profileId(text) {
  return /^(0|[1-9]\d*)$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : text;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const id = args.find((a, i) => !a.startsWith("--") && args[i - 1] !== "--ttl");
  if (id === undefined) {
    console.error("usage: node mint-token.mjs <profile id> [--unlimited] [--ttl seconds]");
    process.exit(2);
  }
  const ttl = args.includes("--ttl") ? Number(args[args.indexOf("--ttl") + 1]) : 86_400;
  const claims = { sub: profileId(id), ...(args.includes("--unlimited") ? { unlimited: true } : {}) };
  console.log(await signToken(devSecret(), claims, { ttlSeconds: ttl }));
}
