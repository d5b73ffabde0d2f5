// The same first request answered by the tuned plain-JS contender: the baseline of
// bench/startup.mjs (workerd's own start-up, Miniflare, one request).
import { TunedJs } from "../contenders.mjs";

export default {
  fetch() {
    return Response.json({ allowed: new TunedJs({ remix: 10 }).reserve({ id: 1 }, "remix") });
  },
};
