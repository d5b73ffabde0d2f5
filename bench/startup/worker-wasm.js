// A worker whose first request builds an engine and reserves once (bench/startup.mjs).
import { QuotaEngine, MemoryStore } from "wasm-quota";

export default {
  fetch() {
    const engine = new QuotaEngine({ store: new MemoryStore(), limits: { remix: 10 } });
    return Response.json(engine.reserve({ id: 1 }, "remix"));
  },
};
