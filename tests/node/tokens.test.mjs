// Reservation tokens carry a MAC over profile, feature, window, amount and nonce: an edited,
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

test("a token edited to a huge amount, renamed to another feature, or moved to another window is refused", () => {
  const { engine } = setup();
  const token = filled(engine);
  const before = counts(engine);
  const edit = (field, value) => Object.assign(token.split("."), { [field]: value }).join(".");
  const at = Number(token.split(".")[2]);
  for (const edited of [edit(3, "9007199254740991"), edit(1, "tips"), edit(2, String(at - 86_400_000))]) {
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
  }
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
