// The example worker (examples/cloudflare-worker/src/worker.js), unchanged, with its profile
// object's storage and alarm open to tests (tests/node/cloudflare-example-sweep.test.mjs).
import example, { QuotaDurableObject as ExampleObject } from "../../examples/cloudflare-worker/src/worker.js";

export default example;

export class QuotaDurableObject extends ExampleObject {
  alarmAt() {
    return this.ctx.storage.getAlarm();
  }
  /** The Idempotency-Key records, { key: record }. */
  records() {
    return Object.fromEntries(this.ctx.storage.kv.list({ prefix: "request:" }));
  }
  putRaw(key, value) {
    this.ctx.storage.kv.put(key, value);
  }
  /** The alarm handler, run now rather than when workerd fires it. */
  runAlarm() {
    return this.alarm();
  }
}
