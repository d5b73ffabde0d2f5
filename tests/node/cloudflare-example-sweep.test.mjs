// The example worker's Idempotency-Key records are deleted by the object's alarm once they
// expire, also in an object whose counters set no alarm (an unlimited profile's, home mode's)
// or expire before its records: each record makes sure an alarm fires by its expiry, and each
// alarm run sets the next one for the records left. Run in workerd (tests/workerd/example-inspect.js).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { startWorker } from "../../examples/cloudflare-worker/miniflare.mjs";
import { signToken } from "../../examples/cloudflare-worker/src/token.js";
import { awayFromMidnight, eventually } from "../workerd/helpers.mjs";

const SECRET = "test-secret-0123456789abcdef";
let mf;
before(async () => {
  await awayFromMidnight();
  const toml = fileURLToPath(new URL("../workerd/example-inspect.toml", import.meta.url));
  mf = await startWorker(toml, { bindings: { QUOTA_TOKEN_SECRET: SECRET } });
});
after(() => mf?.dispose());

async function object(id) {
  const ns = await mf.getDurableObjectNamespace("QUOTA");
  return ns.get(ns.idFromName(String(id)));
}

async function tips(claims, key) {
  const res = await mf.dispatchFetch("http://example/ai/tips", {
    method: "POST",
    headers: { Authorization: `Bearer ${await signToken(SECRET, claims)}`, "Idempotency-Key": key },
  });
  return res.status;
}

test("an unlimited profile's record, which writes no counter, still has an alarm set by its expiry", async () => {
  const sent = Date.now();
  assert.equal(await tips({ sub: 4001, unlimited: true }, "u-1"), 200);
  const obj = await object(4001);
  const { "request:u-1": record } = await obj.records();
  assert.ok(record?.response, "the response is kept under its key");
  assert.ok(record.expiresAt >= sent + 86_400_000, "for 24 hours after it was sent");
  const alarm = await obj.alarmAt();
  assert.ok(alarm !== null && alarm <= record.expiresAt, `alarm ${alarm}, record expires ${record.expiresAt}`);
});

test("an alarm run deletes the expired records and sets the next alarm by the earliest record left", async () => {
  assert.equal(await tips({ sub: 4002 }, "c-1"), 200); // a counter, and its alarm
  const obj = await object(4002);
  const now = Date.now();
  const record = (expiresAt) => ({ fingerprint: "f", response: { status: 200, body: {}, headers: {} }, owner: "o", leaseUntil: now, expiresAt });
  await obj.putRaw("request:gone", record(now - 1000));
  // 5 s: long enough that a loaded machine still runs the alarm below before this one expires.
  const soon = now + 5000;
  await obj.putRaw("request:soon", record(soon));
  await obj.runAlarm(); // the counter is live: the package's sweep sets the alarm for its expiry
  const left = await obj.records();
  assert.deepEqual(Object.keys(left).sort(), ["request:c-1", "request:soon"]);
  const alarm = await obj.alarmAt();
  assert.ok(alarm !== null && alarm <= soon, `alarm ${alarm}, the earliest record expires ${soon}`);
  // workerd fires it: the record is deleted at its expiry, not at the counter's.
  assert.ok(await eventually(async () => !("request:soon" in (await obj.records()))), "deleted by the alarm workerd ran");
  assert.ok("request:c-1" in (await obj.records()), "a live record stays");
});
