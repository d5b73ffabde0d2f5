// The example worker's Idempotency-Key records (examples/cloudflare-worker/src/records.js) over a
// fake storage.kv and clock: a lease frees the key of a worker that died mid-call, without ever
// letting two attempts run at once; a response is kept 24 hours after it was sent, midnight or
// not; a response too long to keep still ends the record.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  beginRequest, finishRequest, forgetRequest, withDeadline, KEEP_MS, MAX_RESPONSE_CHARS, NOT_KEPT,
} from "../../examples/cloudflare-worker/src/records.js";

const NOON = Date.UTC(2026, 10, 27, 12);
const LEASE = 60_000;

function kv() {
  const data = new Map();
  return { data, get: (k) => data.get(k), put: (k, v) => void data.set(k, v), delete: (k) => data.delete(k) };
}
const begin = (store, now, owner, fingerprint = "fp") => beginRequest(store, "k", fingerprint, { now, leaseMs: LEASE, owner });
const ok = { status: 200, body: { output: "an answer" }, headers: {} };

test("a worker that died mid-call holds its key for its lease only; then one retry takes over", () => {
  const store = kv();
  assert.deepEqual(begin(store, NOON, "A"), { state: "new", owner: "A", leaseUntil: NOON + LEASE });
  // Inside A's lease nothing else runs, however many retries come, to its last millisecond.
  for (const t of [NOON, NOON + 1000, NOON + LEASE - 1]) assert.deepEqual(begin(store, t, "B"), { state: "running" });
  assert.deepEqual(begin(store, NOON + 5, "B", "other body"), { state: "mismatch" });
  // A died: from the end of its lease one retry takes over, and the next ones see it running.
  assert.deepEqual(begin(store, NOON + LEASE, "B"), { state: "new", owner: "B", leaseUntil: NOON + 2 * LEASE });
  assert.deepEqual(begin(store, NOON + LEASE, "C"), { state: "running" });
  // Had A lived on, it could neither store its response over B's nor free B's key.
  assert.equal(finishRequest(store, "k", "A", ok, NOON + LEASE), false);
  assert.equal(forgetRequest(store, "k", "A"), false);
  assert.deepEqual(begin(store, NOON + LEASE + 1, "C"), { state: "running" });
  const sent = NOON + LEASE + 2;
  assert.equal(finishRequest(store, "k", "B", ok, sent), true);
  assert.deepEqual(begin(store, NOON + 3 * LEASE, "C"), { state: "done", response: ok }, "a finished request has no lease to lose");
  assert.equal(forgetRequest(store, "k", "B"), false, "a finished request is not forgotten");
  assert.equal(finishRequest(store, "k", "B", { ...ok, status: 500 }, sent + 1), false, "the first response stays");
  // The response is kept 24 hours after it was sent, past the end of its UTC day.
  assert.deepEqual(begin(store, sent + KEEP_MS - 1, "D"), { state: "done", response: ok });
  assert.equal(begin(store, sent + KEEP_MS, "D").state, "new");
});

test("a lease that runs past midnight holds its key to its end: no second attempt starts at 00:00", () => {
  const store = kv();
  const late = Date.UTC(2026, 10, 27, 23, 59, 30);
  begin(store, late, "A");
  assert.deepEqual(begin(store, late + 40_000, "B"), { state: "running" }, "00:00:10, inside A's lease");
  assert.equal(finishRequest(store, "k", "A", ok, late + 40_000), true, "A still holds its key after midnight");
  assert.deepEqual(begin(store, late + LEASE - 1, "B"), { state: "done", response: ok });
  // Past the lease too, the record's day having ended: the response is kept 24 hours.
  assert.deepEqual(begin(store, late + LEASE, "C"), { state: "done", response: ok });
  assert.deepEqual(begin(store, late + 40_000 + KEEP_MS - 1, "C"), { state: "done", response: ok });
});

test("a response sent a second before midnight is replayed to a retry after it: the work is not run again", () => {
  const store = kv();
  const late = Date.UTC(2026, 10, 27, 23, 59, 58);
  begin(store, late, "A");
  assert.equal(finishRequest(store, "k", "A", ok, late + 1000), true);
  // A retry past A's lease (00:00:58) and the end of the day: it was run once, and is not run again.
  for (const t of [late + LEASE + 30_000, Date.UTC(2026, 10, 28, 12)]) {
    assert.deepEqual(begin(store, t, "B"), { state: "done", response: ok }, new Date(t).toISOString());
  }
});

test("a denied or failed attempt is forgotten by its owner, so a retry runs", () => {
  const store = kv();
  begin(store, NOON, "A");
  assert.equal(forgetRequest(store, "k", "A"), true);
  assert.equal(begin(store, NOON + 1, "B").state, "new");
});

test("a response over the cap ends the record too: retries get 409 response_not_kept, never a second run", () => {
  const store = kv();
  begin(store, NOON, "A");
  const huge = { status: 200, body: { output: "x".repeat(MAX_RESPONSE_CHARS) }, headers: {} };
  assert.equal(finishRequest(store, "k", "A", huge, NOON + 1), true);
  const retry = begin(store, NOON + 2 * LEASE, "B");
  assert.deepEqual(retry, { state: "done", response: NOT_KEPT });
  assert.equal(retry.response.status, 409);
  assert.equal(retry.response.body.error, "response_not_kept");
  assert.ok(JSON.stringify(store.data.get("request:k")).length < MAX_RESPONSE_CHARS);
  // A response just under the cap is kept as it is.
  const store2 = kv();
  begin(store2, NOON, "A");
  const fits = { status: 200, body: { output: "" }, headers: {} };
  fits.body.output = "x".repeat(MAX_RESPONSE_CHARS - JSON.stringify(fits).length);
  assert.equal(JSON.stringify(fits).length, MAX_RESPONSE_CHARS);
  finishRequest(store2, "k", "A", fits, NOON + 1);
  assert.deepEqual(begin(store2, NOON + 1, "B"), { state: "done", response: fits });
});

test("withDeadline abandons work that runs past its budget", async () => {
  assert.equal(await withDeadline(Promise.resolve(7), 50), 7);
  assert.equal(await withDeadline(Promise.resolve(8), Infinity), 8);
  await assert.rejects(withDeadline(new Promise(() => {}), 20), /lease/);
  await assert.rejects(withDeadline(new Promise(() => {}), -5), /lease/, "no budget left: at once");
});
