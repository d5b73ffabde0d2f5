// The example worker (examples/cloudflare-worker/src/worker.js), unchanged, with its QUOTA
// namespace wrapped: a request's header `X-Fail-<method>: n` makes the first n calls of that
// method on the profile's object (settle, finishRequest, forgetRequest, …; "Infinity": every
// one) fail as a store failure in the object comes over RPC ("[STORE_ERROR] …"), or with
// `X-Fail-As: reset` as an object reset does (a plain Error, no code); every other call goes through.
import example, { QuotaDurableObject } from "../../examples/cloudflare-worker/src/worker.js";

export { QuotaDurableObject };

export default {
  fetch(request, env) {
    const failures = new Map(); // method → calls still to fail, read from its header on first use
    const failing = (name) => {
      if (!failures.has(name)) failures.set(name, Number(request.headers.get(`X-Fail-${name}`) ?? 0));
      return failures.get(name) > 0;
    };
    const wrap = (stub) =>
      new Proxy(stub, {
        get(target, name) {
          if (typeof name !== "string" || !failing(name)) return (...args) => target[name](...args);
          return async () => {
            failures.set(name, failures.get(name) - 1);
            if (request.headers.get("X-Fail-As") === "reset") throw new Error("Durable Object reset because its code was updated.");
            throw new Error("[STORE_ERROR] storage.kv failed (simulated)");
          };
        },
      });
    const QUOTA = { idFromName: (name) => env.QUOTA.idFromName(name), get: (id) => wrap(env.QUOTA.get(id)) };
    return example.fetch(request, { ...env, QUOTA });
  },
};
