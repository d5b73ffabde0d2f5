// Reservation tokens carry a MAC over profile, feature, window, amount, the counters that
// counted them and nonce: an edited,
// foreign or made-up token is refused with INVALID_ARGUMENT and changes nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, MemoryStore } from "wasm-quota";
import { fakeClock, NOON } from "./helpers.mjs";

const SECRET = "tokens-test-secret-0123";
const refused = (e) => e.code === "INVALID_ARGUMENT";

function setup(options = {}) {
  const now = fakeClock(NOON);
  const store = new MemoryStore({ now });
  const engine = new QuotaEngine({ store, limits: { remix: 5, tips: 5 }, now, tokenSecret: SECRET, ...options });
  return { now, store, engine };
}

// Fills profile 42's remix and tips (2 each) and hands back a token of 42's remix.
function filled(engine) {
  for (const id of [42, 7]) for (const f of ["remix", "tips"]) engine.reserve({ id }, f, { amount: 2 });
  return engine.reserve({ id: 42 }, "remix").reservation;
}

const counts = (engine) => [42, 7].map((id) => engine.usage(id));

test("a token edited to a huge amount, renamed to another feature, moved to another window or to other counters is refused", () => {
  const { engine } = setup();
  const token = filled(engine);
  const before = counts(engine);
  const edit = (field, value) => Object.assign(token.split("."), { [field]: value }).join(".");
  const at = Number(token.split(".")[2]);
  assert.equal(token.split(".")[4], "d", "counted in a UTC day");
  const moved = [edit(4, "h"), edit(4, "hd"), edit(4, "D00000000")];
  for (const edited of [edit(3, "9007199254740991"), edit(1, "tips"), edit(2, String(at - 86_400_000)), ...moved]) {
    assert.throws(() => engine.release({ id: 42 }, edited), refused, edited);
    assert.throws(() => engine.settle({ id: 42 }, edited, 0), refused, edited);
  }
  assert.deepEqual(counts(engine), before);
});

test("another profile's token is refused: profile 7 cannot release a slot of profile 42", () => {
  const { engine } = setup();
  const token = filled(engine);
  const before = counts(engine);
  assert.throws(() => engine.release({ id: 7 }, token), refused);
  assert.throws(() => engine.release({ id: "42" }, token), refused);
  assert.throws(() => engine.settle({ id: 7 }, token, 0), refused);
  assert.deepEqual(counts(engine), before);
});

test("copies with one nonce or MAC digit changed release nothing", () => {
  const { engine } = setup();
  const token = filled(engine);
  const before = counts(engine);
  for (let i = 0; i < 9; i++) {
    const at = token.length - 17 - 1 - i; // a digit of the nonce
    const digit = token[at] === "0" ? "1" : "0";
    assert.throws(() => engine.release({ id: 42 }, token.slice(0, at) + digit + token.slice(at + 1)), refused);
    const macAt = token.length - 1 - i;
    const macDigit = token[macAt] === "0" ? "1" : "0";
    assert.throws(() => engine.release({ id: 42 }, token.slice(0, macAt) + macDigit + token.slice(macAt + 1)), refused);
  }
  assert.deepEqual(counts(engine), before);
  engine.release({ id: 42 }, token); // the real one still works, once
  assert.equal(engine.usage(42).remix, 2);
});

test("an engine with another secret, or none, refuses the token; one with the same secret accepts it", () => {
  const { engine, store, now } = setup();
  const token = engine.reserve({ id: 42 }, "remix").reservation;
  for (const tokenSecret of ["another-secret-0123456", undefined]) {
    const other = new QuotaEngine({ store, limits: { remix: 5, tips: 5 }, now, ...(tokenSecret ? { tokenSecret } : {}) });
    assert.throws(() => other.release({ id: 42 }, token), refused);
    assert.throws(() => other.settle({ id: 42 }, token, 0), refused);
  }
  assert.equal(engine.usage(42).remix, 1, "refused: the reservation stays counted (README: a secret changed)");
  const twin = new QuotaEngine({ store, limits: { remix: 5, tips: 5 }, now, tokenSecret: SECRET });
  twin.release({ id: 42 }, token);
  assert.equal(engine.usage(42).remix, 0);
});

test("without tokenSecret each engine signs with its own random key", () => {
  const now = fakeClock(NOON);
  const store = new MemoryStore({ now });
  const a = new QuotaEngine({ store, limits: { remix: 5 }, now });
  const b = new QuotaEngine({ store, limits: { remix: 5 }, now });
  const ta = a.reserve({ id: 1 }, "remix").reservation;
  assert.throws(() => b.release({ id: 1 }, ta), refused);
  a.release({ id: 1 }, ta);
  assert.equal(a.usage(1).remix, 0);
});

test("tokenSecret must be a string of at least 16 characters", () => {
  for (const tokenSecret of ["", "short", "0123456789abcde", 1234567890123456789, null, {}, ["0123456789abcdef"]]) {
    assert.throws(
      () => new QuotaEngine({ store: new MemoryStore(), limits: { remix: 1 }, tokenSecret }),
      (e) => e.code === "INVALID_CONFIG",
      String(tokenSecret),
    );
  }
  assert.ok(new QuotaEngine({ store: new MemoryStore(), limits: { remix: 1 }, tokenSecret: "0123456789abcdef" }));
});

test("a token made on any path is released and settled by every other path, at most once", async () => {
  // One MemoryStore's counters, reached four ways by engines sharing a secret: its own engine
  // runs plain reserves inside WASM (direct path) and idempotent ones through the state
  // machines; engines over plain objects delegating to it are host stores, sync and async.
  const now = fakeClock(NOON);
  const memory = new MemoryStore({ now });
  const methods = ["get", "incr", "add", "set"];
  const sync = Object.fromEntries(methods.map((m) => [m, (...a) => memory[m](...a)]));
  const later = Object.fromEntries(methods.map((m) => [m, async (...a) => memory[m](...a)]));
  const limits = { remix: 100, chat: [{ limit: 1000, window: "hour" }, { limit: 5000, window: "day" }] };
  const engine = (store) => new QuotaEngine({ store, limits, now, tokenSecret: SECRET });
  const engines = { memory: engine(memory), host: engine(sync), asyncHost: engine(later) };
  let keys = 0;
  const makers = {
    "MemoryStore, direct": (p, f) => engines.memory.reserve(p, f, { amount: 3 }),
    "MemoryStore, idempotent": (p, f) => engines.memory.reserve(p, f, { amount: 3, idempotencyKey: `k${++keys}` }),
    "host store": (p, f) => engines.host.reserve(p, f, { amount: 3 }),
    "host store, idempotent": (p, f) => engines.host.reserve(p, f, { amount: 3, idempotencyKey: `k${++keys}` }),
    "async host store": (p, f) => engines.asyncHost.reserve(p, f, { amount: 3 }),
  };
  const usage = (p, f) => engines.memory.usage(p.id)[f];
  for (const profile of [{ id: 7 }, { id: "5f0c6a7e-1c2d-4e5f-8a9b-0c1d2e3f4a5b" }]) {
    for (const feature of ["remix", "chat"]) {
      for (const [made, make] of Object.entries(makers)) {
        for (const [by, taker] of Object.entries(engines)) {
          for (const [op, undo, left] of [["release", (t) => taker.release(profile, t), 0], ["settle", (t) => taker.settle(profile, t, 1), 1]]) {
            const what = `${feature} of ${JSON.stringify(profile.id)} made on ${made}, ${op} by ${by}`;
            const before = usage(profile, feature);
            const d = await make(profile, feature);
            assert.match(d.reservation, new RegExp(`^q4\\.${feature}\\.${NOON}\\.3\\.[hdwmHDWM0-9a-f]+\\.[0-9a-f]{16}\\.[0-9a-f]{16}$`), what);
            assert.equal(usage(profile, feature), before + 3, what);
            await undo(d.reservation);
            assert.equal(usage(profile, feature), before + left, what);
            // The marker the first undo left is seen on every other path: nothing moves again.
            for (const other of Object.values(engines)) {
              assert.equal(await other.settle(profile, d.reservation, 0), false, what);
              await other.release(profile, d.reservation);
            }
            assert.equal(usage(profile, feature), before + left, what);
          }
        }
      }
    }
  }
  // A replay of an idempotent reserve counts nothing and carries no token to undo twice.
  const first = engines.memory.reserve({ id: 9 }, "remix", { idempotencyKey: "once" });
  for (const e of Object.values(engines)) {
    const replay = await e.reserve({ id: 9 }, "remix", { idempotencyKey: "once" });
    assert.equal(replay.replayed, true);
    assert.equal(replay.reservation, undefined);
  }
  engines.host.release({ id: 9 }, first.reservation);
  assert.equal(usage({ id: 9 }, "remix"), 0);
});

test("a token of the earlier format, from an engine of the earlier release, is released once and refunds nothing", () => {
  // Made by the release before tokens named their counters, for profile 42 under this secret,
  // reserving 3 of remix at 2026-11-27T00:00:00.123Z.
  const old = "q3.remix.1795737600123.3.00000000000000ab.22112d2d899f5864";
  const now = fakeClock(Date.UTC(2026, 10, 27, 0, 5));
  const engine = new QuotaEngine({ store: new MemoryStore({ now }), limits: { remix: 5 }, now, tokenSecret: "correct horse battery staple" });
  engine.increment({ id: 42 }, "remix", { amount: 3 }); // what the earlier engine counted
  assert.equal(engine.release({ id: 42 }, old), undefined);
  // It does not say which policies counted it: nothing is refunded (an over-count), once.
  assert.equal(engine.usage(42).remix, 3);
  assert.equal(engine.settle({ id: 42 }, old, 0), false);
  assert.throws(() => engine.release({ id: 42 }, old.replace(".3.", ".2.")), refused);
  assert.throws(() => engine.release({ id: 7 }, old), refused);
});
