// The example worker (examples/cloudflare-worker/src/worker.js), unchanged, with its QUOTA
// namespace wrapped: a request's first `X-Settle-Failures` settles fail as a store failure in
// the profile's object comes over RPC ("[STORE_ERROR] …"); every other call goes through.
import example, { QuotaDurableObject } from "../../examples/cloudflare-worker/src/worker.js";

export { QuotaDurableObject };

export default {
  fetch(request, env) {
    let failures = Number(request.headers.get("X-Settle-Failures") ?? 0);
    const settleFails = (stub) =>
      new Proxy(stub, {
        get(target, name) {
          if (name !== "settle" || failures === 0) return (...args) => target[name](...args);
          return async () => {
            failures--;
            throw new Error("[STORE_ERROR] storage.kv failed (simulated)");
          };
        },
      });
    const QUOTA = { idFromName: (name) => env.QUOTA.idFromName(name), get: (id) => settleFails(env.QUOTA.get(id)) };
    return example.fetch(request, { ...env, QUOTA });
  },
};
