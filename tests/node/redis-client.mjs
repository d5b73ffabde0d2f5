// Which release of the `redis` npm package the Redis tests connect with. redis.test.mjs runs
// with 5.x (the package's own `redis`); redis-4.test.mjs and redis-6.test.mjs run the same
// tests with 4.x and 6.x (installed under the aliases redis4 and redis6, package.json), since
// users have all three: 6.x is what `npm install redis` gives today, 4.x is still common.
// The child processes of the tests inherit the choice through the environment.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

/** Each major release users have → its package here (package.json: `redis` and two aliases). */
export const PACKAGES = { 4: "redis4", 5: "redis", 6: "redis6" };
/** The major release under test: WASM_QUOTA_TEST_REDIS_MAJOR, 5 when unset. */
export const major = Number(process.env.WASM_QUOTA_TEST_REDIS_MAJOR ?? 5);
const name = PACKAGES[major];
if (!name) throw new Error(`no redis ${major} client installed (WASM_QUOTA_TEST_REDIS_MAJOR)`);
export const { createClient } = await import(name);
/** The installed version, as its package.json says. */
export const version = installedVersion(name);

/** The version of package `name` (a key's value in PACKAGES) as its package.json says. */
export function installedVersion(name) {
  return JSON.parse(readFileSync(createRequire(import.meta.url).resolve(`${name}/package.json`), "utf8")).version;
}

// 4.x ends a connection with quit() (after pending replies) or disconnect() (at once);
// 5.x and 6.x call them close() and destroy().
export const close = (client) => (major === 4 ? client.quit() : client.close());
export const destroy = (client) => (major === 4 ? client.disconnect() : client.destroy());
