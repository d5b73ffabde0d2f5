// Compile-only: a connected client of each major release of the `redis` package (4.x, 5.x,
// 6.x, installed under aliases) is a RedisClientLike, as README's RedisStore example passes it.
// (tests/node/redis-clients.test.mjs runs each against a real Redis.)
import { createClient as createClient4 } from "redis4";
import { createClient as createClient5 } from "redis";
import { createClient as createClient6 } from "redis6";
import { QuotaEngine } from "wasm-quota";
import { RedisStore } from "wasm-quota/redis";

export async function engines(url: string): Promise<boolean[]> {
  const clients = [
    await createClient4({ url, disableOfflineQueue: true }).connect(),
    await createClient5({ url, disableOfflineQueue: true }).connect(),
    await createClient6({ url, disableOfflineQueue: true }).connect(),
  ];
  const decisions = clients.map((client) =>
    new QuotaEngine({ store: new RedisStore(client), limits: { remix: 10 }, onStoreError: "deny" }).reserve({ id: 42 }, "remix"),
  );
  return (await Promise.all(decisions)).map((d) => d.allowed);
}
