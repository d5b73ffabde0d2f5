// The README's examples must run as written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startWorker } from "../../examples/cloudflare-worker/miniflare.mjs";
import { awayFromMidnight } from "../workerd/helpers.mjs";

const root = new URL("../../", import.meta.url);

/** Runs the first ```js block after `heading` as its own module; returns what it printed. */
/** `before` and `after` wrap a fragment in what the surrounding sections declare. */
/** `edit` changes the block itself (each [from, to] must be found in it). */
function runExample(heading, name, { before = "", after = "", edit = [] } = {}) {
  const readme = readFileSync(new URL("README.md", root), "utf8");
  const section = readme.slice(readme.indexOf(heading));
  let code = section.match(/```js\n([\s\S]*?)```/)[1];
  for (const [from, to] of edit) {
    assert.ok(code.includes(from), `the ${heading} example no longer has ${from}`);
    code = code.replace(from, to);
  }
  mkdirSync(new URL("target/", root), { recursive: true });
  const file = new URL(`target/${name}.mjs`, root);
  writeFileSync(file, before + code + after);
  return execFileSync(process.execPath, [file.pathname], { encoding: "utf8" });
}

test("README 'Use it' example runs in Node as written", () => {
  assert.match(runExample("## Use it", "readme-example"), /remix: 1,\s+remix_suggestions: 0,/);
});

test("README 'A store of your own' runs as written, and its store keeps the store contract", () => {
  // After the block: the upsert within a limit, then a counter's expiry, on a clock moved by hand.
  const after = `
const t = { now: 1_000_000 };
const s = mapStore(() => t.now);
console.log(s.incrOrCreateWithin("k", 3, 60, 2), s.get("k"), s.incrOrCreateWithin("k", 2, 60, 2), s.incrOrCreateWithin("k", 1, 60, 2), s.get("k"));
console.log(s.incr("x", 1), s.get("x"), s.add("k", 9, 60), s.incrOrCreate("k", 1, 999), s.add("x", 5, 60));
t.now += 59_999;
console.log(s.get("k"), s.incr("k", -3));
t.now += 1;
console.log(s.get("k"), s.incr("k", 1), s.incrOrCreate("k", 4, 60), s.add("k", 1, 60));
`;
  assert.equal(
    runExample("### A store of your own", "readme-own-store", { after }),
    "[ true, true, false ]\n3 null 2 3 2\nnull null false 3 true\n3 0\nnull null 4 false\n",
  );
});

test("README 'Use it' example: a failed AI call of an unlimited profile throws its own error", () => {
  // An unlimited profile's decision carries no reservation: the catch gives back only what was
  // counted. Releasing `undefined` threw INVALID_ARGUMENT in place of the AI call's error.
  for (const profile of ["{ id: 42 }", "{ id: 42, unlimited: true }"]) {
    const run = () =>
      runExample("## Use it", "readme-example-failing", {
        edit: [
          ["const profile = { id: 42 };", `const profile = ${profile};`],
          ["// … the AI call …", 'throw new Error("the AI call failed");'],
        ],
      });
    assert.throws(run, (err) => {
      assert.match(err.stderr, /Error: the AI call failed/, profile);
      assert.doesNotMatch(err.stderr, /INVALID_ARGUMENT/, profile);
      return true;
    });
  }
});

test("README 'Beyond the Django service' example runs in Node as written", () => {
  // First response, a concurrent retry (409), a later retry (the first response again), the same
  // key with another body (422), one model call counted at the usage it reported, a failed
  // model call whose slots were given back, and the 429 once the hour's tokens run out.
  assert.match(
    runExample("## Beyond the Django service", "readme-beyond"),
    /^200 "hourly";r=16000;t=\d+ 409\n200 an answer to hi\n422\n1234\nthe model failed 1234\n429 true\n$/,
  );
});

test("README 'Beyond the Django service': handle() keeps each profile's requests apart", () => {
  // An id and a key that run together like another pair ("x y" + "k", "x" + "y k"): each is
  // its own request, answered by its own model call and counted on its own profile.
  const printed = runExample("## Beyond the Django service", "readme-beyond-profiles", {
    after:
      'const one = await handle(post("same", "k"), { id: "x y" });\n' +
      'const two = await handle(post("same", "y k"), { id: "x" });\n' +
      'console.log(one.status, two.status, engine.check({ id: "x y" }, "chat").used, engine.check({ id: "x" }, "chat").used);\n',
  });
  assert.equal(printed.trimEnd().split("\n").at(-1), "200 200 1234 1234");
});

test("README 'Beyond the Django service': handle() answers 400 to an Idempotency-Key the engine refuses", () => {
  // A client's key is the client's: an empty one or one over 256 characters is a bad request,
  // answered before any reserve (the engine would throw INVALID_ARGUMENT), and counts nothing.
  const printed = runExample("## Beyond the Django service", "readme-beyond-keys", {
    after:
      'const long = await handle(post("hi", "k".repeat(257)), { id: 7 });\n' +
      'const empty = await handle(post("hi", ""), { id: 7 });\n' +
      'const fits = await handle(post("hi", "k".repeat(256)), { id: 7 });\n' +
      'console.log(long.status, empty.status, fits.status, engine.check({ id: 7 }, "chat").used);\n',
  });
  assert.equal(printed.trimEnd().split("\n").at(-1), "400 400 200 1234");
});

test("README 'Beyond the Django service': handle() answers 429, running no work, to a key retried after too many failures", () => {
  // The engine follows a key's failed (released) attempts 16 times in a window; the client's
  // 18th attempt under one key is refused by the engine. A copy of handle() must answer that
  // with a 4xx, not throw it at the server (a 500), and must not call the model.
  const printed = runExample("## Beyond the Django service", "readme-beyond-spent-key", {
    after:
      'const failures = [];\n' +
      'for (let i = 0; i < 17; i++) failures.push(await handle(post("fail", "spent"), { id: 9 }).catch((err) => err.message));\n' +
      'const refused = await handle(post("fail", "spent"), { id: 9 }).catch((err) => `threw ${err.code}`);\n' +
      'console.log(failures.every((m) => m === "the model failed"), refused.status ?? refused, engine.check({ id: 9 }, "chat").used);\n',
  });
  assert.equal(printed.trimEnd().split("\n").at(-1), "true 429 0");
});

test("README 'Beyond the Django service': handle() serves an unlimited profile, which holds no reservation", () => {
  // An unlimited profile's decision (and every decision in home mode) is allowed and carries no
  // reservation. A copy of handle() that settled or released it anyway threw INVALID_ARGUMENT:
  // after the model had run (its answer lost, a 500, and every retry ran the model again), and
  // in place of the model's own error when the model failed.
  const printed = runExample("## Beyond the Django service", "readme-beyond-unlimited", {
    after:
      'const vip = { id: 5, unlimited: true };\n' +
      'const vipServed = await handle(post("hi", "u-1"), vip).then((r) => r.status, (err) => `threw ${err.code}`);\n' +
      'const vipFailed = await handle(post("fail", "u-2"), vip).catch((err) => err.message);\n' +
      'console.log(vipServed, vipFailed, engine.check({ id: 5 }, "chat").used);\n',
  });
  assert.equal(printed.trimEnd().split("\n").at(-1), "200 the model failed 0");
});

// handle() over a store whose calls fail from the model's call on: `failuresAfterModel` of them.
const FAILING_STORE = {
  before: `const store = {
    data: new Map(),
    failures: 0, // store calls still to fail
    op(fn) { if (this.failures > 0) { this.failures--; throw new Error("store down"); } return fn(); },
    get(k) { return this.op(() => this.data.get(k) ?? null); },
    set(k, v) { return this.op(() => void this.data.set(k, v)); },
    incr(k, delta) { return this.op(() => (this.data.has(k) ? (this.data.set(k, this.data.get(k) + delta), this.data.get(k)) : null)); },
    add(k, v) { return this.op(() => !this.data.has(k) && !!this.data.set(k, v)); },
  };\nlet failuresAfterModel = 0;\n`,
  edit: [
    ["store: new MemoryStore(),", "store,"],
    ["async function model(prompt) {", "let calls = 0;\nasync function model(prompt) {\n  calls++;\n  store.failures = failuresAfterModel;"],
  ],
};

test("README 'Beyond the Django service': handle() answers with the model's output when settle fails, and a retry gets that answer", () => {
  // The store fails after the model ran, so the settle cannot correct the estimate. The model's
  // answer must still be the response (a 500 lost it, and the key's retries got 409 "already
  // made" forever from the engine's record), kept for the key's retries, with the model run
  // once and the estimate counted once. A store that fails on one call only is settled by the
  // second try (settle applies at most once per reservation, so trying again is safe).
  const printed = runExample("## Beyond the Django service", "readme-beyond-settle-fails", {
    ...FAILING_STORE,
    after:
      'const you = { id: 77 }; calls = 0;\n' +
      'failuresAfterModel = Infinity;\n' +
      'const down = await handle(post("hi", "s-1"), you).then((r) => r.text().then((t) => `${r.status} ${r.headers.get("Quota-Settle-Error")} ${t}`), (err) => `threw ${err.message}`);\n' +
      'store.failures = 0; failuresAfterModel = 0;\n' +
      'const again = await handle(post("hi", "s-1"), you).then((r) => r.text().then((t) => `${r.status} ${t}`), (err) => `threw ${err.message}`);\n' +
      'console.log(down, "|", again, "|", calls, engine.check(you, "chat").used);\n' +
      'const once = { id: 78 }; calls = 0; failuresAfterModel = 1;\n' +
      'const blip = await handle(post("hi", "s-2"), once).then((r) => `${r.status} ${r.headers.get("Quota-Settle-Error")}`, (err) => `threw ${err.message}`);\n' +
      'console.log(blip, calls, engine.check(once, "chat").used);\n',
  });
  const [down, blip] = printed.trimEnd().split("\n").slice(-2);
  assert.equal(down, "200 STORE_ERROR an answer to hi | 200 an answer to hi | 1 4000");
  assert.equal(blip, "200 null 1 1234");
});

test("README 'Beyond the Django service': handle() throws the model's own error when the release after it fails, and tries the release twice", () => {
  // A release that failed once left the slots counted and its store error replaced the
  // model's. A release applies at most once per reservation, so a second try is safe: the
  // slots come back; when both fail they stay counted (never a free call) and the error the
  // caller sees is still the model's.
  const printed = runExample("## Beyond the Django service", "readme-beyond-release-fails", {
    ...FAILING_STORE,
    after:
      'const once = { id: 79 }; failuresAfterModel = 1;\n' +
      'const blip = await handle(post("fail", "f-1"), once).then((r) => `answered ${r.status}`, (err) => err.message);\n' +
      'console.log(blip, engine.check(once, "chat").used);\n' +
      'const down = { id: 80 }; failuresAfterModel = Infinity;\n' +
      'const lost = await handle(post("fail", "f-2"), down).then((r) => `answered ${r.status}`, (err) => err.message);\n' +
      'store.failures = 0; failuresAfterModel = 0;\n' +
      'console.log(lost, engine.check(down, "chat").used);\n',
  });
  const [blip, down] = printed.trimEnd().split("\n").slice(-2);
  assert.equal(blip, "the model failed 0");
  assert.equal(down, "the model failed 4000");
});

test("README 'When the store fails' fragment runs with a store that is down", () => {
  // The fragment's store, limits and profile are the ones the sections before it declare; here
  // the store throws, so the fragment's degraded branch (the one copied code meets when the
  // store is down) runs and must log, not throw.
  const down = () => {
    throw new Error("store down");
  };
  const printed = runExample("### When the store fails", "readme-store-fails", {
    before:
      'import { QuotaEngine } from "wasm-quota";\n' +
      `const down = ${down};\n` +
      "const store = { get: down, incr: down, add: down, set: down };\n" +
      "const limits = { remix: 5 };\nconst profile = { id: 1 };\n",
    after: 'console.log(d.allowed, d.degraded, d.error.code);\n',
  });
  assert.equal(printed, "false store-error STORE_ERROR\n");
});

/** The first ```lang block after `heading`. */
function block(heading, lang) {
  const readme = readFileSync(new URL("README.md", root), "utf8");
  return readme.slice(readme.indexOf(heading)).match(new RegExp("```" + lang + "\\n([\\s\\S]*?)```"))[1];
}

test("README Cloudflare Worker: the Durable Object worker and its wrangler.toml run in workerd as written", async (t) => {
  await awayFromMidnight();
  const worker = block("In a **Cloudflare Worker**, each profile's counters", "js");
  // The three lines of "Cloudflare Workers" are that worker's.
  const code = (text) => text.split("\n").map((l) => l.replace(/\s*\/\/.*$/, "").trim()).filter((l) => l !== "" && l !== "// in fetch():");
  const lines = code(worker);
  for (const line of code(block("The worker (three lines", "js"))) assert.ok(lines.includes(line), line);

  const dir = new URL("target/readme-worker/", root);
  mkdirSync(new URL("src/", dir), { recursive: true });
  // The toml block holds what the worker needs; a project adds its name, entry and date.
  const toml = 'name = "readme-worker"\nmain = "src/index.js"\ncompatibility_date = "2026-04-20"\n\n';
  writeFileSync(new URL("wrangler.toml", dir), toml + block("`wrangler.toml`:", "toml"));
  writeFileSync(new URL("src/index.js", dir), worker);
  // The test's authentication: the profile a header names (a real one verifies a credential).
  const auth = 'export async function authenticate(request) {\n  return { id: JSON.parse(request.headers.get("x-profile")) };\n}\n';
  writeFileSync(new URL("src/auth.js", dir), auth);
  const mf = await startWorker(fileURLToPath(new URL("wrangler.toml", dir)));
  t.after(() => mf.dispose());

  const as = (id) => mf.dispatchFetch("http://worker/", { headers: { "x-profile": JSON.stringify(id) } });
  // remix: 10 a day in the toml; 12 at once for profile 42.
  const responses = await Promise.all(Array.from({ length: 12 }, () => as(42)));
  const statuses = responses.map((r) => r.status).sort();
  assert.deepEqual(statuses, [...Array(10).fill(200), 429, 429]);
  for (const r of responses.filter((r) => r.status === 429)) {
    assert.match(r.headers.get("Retry-After"), /^[0-9]+$/);
    assert.equal((await r.json()).used, 10);
  }
  assert.equal((await as("42")).status, 200, "profile \"42\" is another profile");
  assert.equal((await as(43)).status, 200);
});
