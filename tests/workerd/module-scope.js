// A Worker that makes its engine at module scope, as users write it. workerd forbids random
// values while a module loads, so the engine must draw none when it is constructed.
import { QuotaEngine, MemoryStore } from "wasm-quota";

const engine = new QuotaEngine({ store: new MemoryStore(), limits: { remix: 2 } });

export default {
  async fetch() {
    const first = engine.reserve({ id: 1 }, "remix");
    const second = engine.reserve({ id: 1 }, "remix");
    engine.release({ id: 1 }, first.reservation);
    return Response.json({ allowed: [first.allowed, second.allowed], distinct: first.reservation !== second.reservation, used: engine.usage(1).remix });
  },
};
