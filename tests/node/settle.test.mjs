// reserve → settle with the actual amount; release and settle at most once per reservation.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QuotaEngine, QuotaError, MemoryStore } from "wasm-quota";
import { fakeClock, delayedStore, mapStore, NOON, HOUR } from "./helpers.mjs";

const me = { id: 42 };
const SECRET = "settle-test-secret-0123";
function setup(limits = { chat: 10 }) {
  const now = fakeClock(NOON);
  const store = new MemoryStore({ now });
  return { now, store, engine: new QuotaEngine({ store, limits, now, tokenSecret: SECRET }) };
}

test("settle refunds an over-estimate and charges an under-estimate", () => {
  const { engine } = setup();
  const a = engine.reserve(me, "chat", { amount: 6 });
  assert.equal(engine.settle(me, a.reservation, 2), true);
  assert.equal(engine.check(me, "chat").used, 2);
  const b = engine.reserve(me, "chat", { amount: 3 });
  assert.equal(engine.settle(me, b.reservation, 11), true); // the call happened: count it
  const next = engine.reserve(me, "chat");
  assert.equal(next.allowed, false);
  assert.equal(next.used, 13);
});

test("settling twice, or settling a released reservation, changes nothing", () => {
  const { engine } = setup();
  const d = engine.reserve(me, "chat", { amount: 5 });
  assert.equal(engine.settle(me, d.reservation, 1), true);
  assert.equal(engine.settle(me, d.reservation, 1), false);
  assert.equal(engine.settle(me, d.reservation, 9), false);
  engine.release(me, d.reservation);
  assert.equal(engine.check(me, "chat").used, 1);

  const r = engine.reserve(me, "chat", { amount: 4 });
  engine.release(me, r.reservation);
  engine.release(me, r.reservation); // a retried release is counted once
  assert.equal(engine.settle(me, r.reservation, 4), false);
  assert.equal(engine.check(me, "chat").used, 1);
});

test("every reservation token is unique, across engines sharing a store", () => {
  const { engine, store, now } = setup({ chat: 1000 });
  const other = new QuotaEngine({ store, limits: { chat: 1000 }, now, tokenSecret: SECRET });
  const tokens = new Set();
  for (let i = 0; i < 100; i++) {
    tokens.add(engine.reserve(me, "chat").reservation);
    tokens.add(other.reserve(me, "chat").reservation);
  }
  assert.equal(tokens.size, 200);
  // Releasing each once through either engine gives every slot back exactly once.
  let i = 0;
  for (const t of tokens) (i++ % 2 ? engine : other).release(me, t);
  for (const t of tokens) engine.release(me, t);
  assert.equal(engine.check(me, "chat").used, 0);
});

test("settle corrects the reservation's own window, not today's", () => {
  const { engine, now } = setup({ chat: 10 });
  now.t = NOON + 11 * HOUR + 59 * 60_000; // 23:59
  const old = engine.reserve(me, "chat", { amount: 5 });
  now.t += 2 * 60_000; // 00:01 the next day
  engine.reserve(me, "chat", { amount: 9 });
  assert.equal(engine.settle(me, old.reservation, 0), true);
  assert.equal(engine.check(me, "chat").used, 9);
});

test("settle over an async store is a Promise; concurrent settles of one reservation apply once", async () => {
  const now = fakeClock(NOON);
  const store = delayedStore(now);
  const engine = new QuotaEngine({ store, limits: { chat: 100 }, now });
  const d = await engine.reserve(me, "chat", { amount: 50 });
  const results = await Promise.all(Array.from({ length: 20 }, () => engine.settle(me, d.reservation, 10)));
  assert.equal(results.filter((r) => r === true).length, 1);
  assert.equal((await engine.check(me, "chat")).used, 10);
});

test("bad settle arguments are INVALID_ARGUMENT and change nothing", () => {
  const { engine } = setup();
  const d = engine.reserve(me, "chat", { amount: 2 });
  for (const actual of [-1, 1.5, NaN, "3", undefined, 2 ** 53]) {
    assert.throws(() => engine.settle(me, d.reservation, actual), (e) => e instanceof QuotaError && e.code === "INVALID_ARGUMENT", String(actual));
  }
  for (const token of ["chat", "q2.chat.1.1", d.reservation + "0", 7]) {
    assert.throws(() => engine.settle(me, token, 1), (e) => e instanceof QuotaError && e.code === "INVALID_ARGUMENT", String(token));
  }
  assert.equal(engine.check(me, "chat").used, 2);
  assert.equal(engine.settle(me, d.reservation, 2), true);
});

test("a missing reservation is named as one, not as a feature", () => {
  // An unlimited profile's decision carries no `reservation`: the error must say what is missing.
  const { engine } = setup();
  const refused = (message) => (e) => e instanceof QuotaError && e.code === "INVALID_ARGUMENT" && e.message === message;
  assert.throws(() => engine.settle(me, undefined, 1), refused("reservation (a decision's `reservation` token) must be a string, got undefined"));
  assert.throws(() => engine.release(me, undefined), refused("reservation or feature must be a string, got undefined"));
  assert.throws(() => engine.reserve(me, undefined), refused("feature must be a string, got undefined"));
});

test("a policy added between reserve and release or settle admits exactly its limit", async () => {
  const stores = {
    MemoryStore: (now) => new MemoryStore({ now }),
    "a plain store": (now) => mapStore(now).store,
    "an async store with incrOrCreate": (now) => mapStore(now, { upsert: true, async: true }).store,
  };
  for (const [name, makeStore] of Object.entries(stores)) {
    for (const finish of ["release", "settle"]) {
      const now = fakeClock(NOON);
      const engine = new QuotaEngine({ store: makeStore(now), limits: { chat: [{ limit: 100 }] }, now, tokenSecret: SECRET });
      const old = await engine.reserve(me, "chat", { amount: 4 });
      engine.setLimits({ chat: [{ limit: 100 }, { limit: 5, window: "hour" }] });
      let admitted = 0;
      for (let i = 0; i < 5; i++) admitted += (await engine.reserve(me, "chat")).allowed;
      if (finish === "release") await engine.release(me, old.reservation);
      else assert.equal(await engine.settle(me, old.reservation, 1), true);
      for (let i = 0; i < 10; i++) admitted += (await engine.reserve(me, "chat")).allowed;
      assert.equal(admitted, 5, `${name}, ${finish}: the hour never counted the old reservation`);
      const day = (await engine.usage(me.id)).chat; // the first policy's count: the day
      assert.equal(day, finish === "release" ? 5 : 6, `${name}, ${finish}: the day took it back`);
    }
  }
});

test("a charge after the reservation's window ended counts in the current window; a refund there is dropped", async () => {
  const stores = {
    MemoryStore: (now) => new MemoryStore({ now }),
    "a plain store": (now) => mapStore(now).store,
    "an async store with incrOrCreate": (now) => mapStore(now, { upsert: true, async: true }).store,
  };
  const LAST_SECOND = NOON + 12 * HOUR - 1000; // 23:59:59
  for (const [name, makeStore] of Object.entries(stores)) {
    const now = fakeClock(LAST_SECOND);
    const engine = new QuotaEngine({ store: makeStore(now), limits: { chat: 100 }, now, tokenSecret: SECRET });
    const small = await engine.reserve(me, "chat");
    const big = await engine.reserve(me, "chat", { amount: 50 });
    now.t += 31_000; // 00:00:30: yesterday's counter is gone
    assert.equal(await engine.settle(me, small.reservation, 500), true, name);
    assert.equal((await engine.usage(me.id)).chat, 499, `${name}: the 499 beyond the estimate count today`);
    assert.equal((await engine.reserve(me, "chat")).allowed, false, name);
    assert.equal(await engine.settle(me, small.reservation, 500), false, `${name}: charged once`);
    assert.equal(await engine.settle(me, big.reservation, 0), true, name);
    assert.equal((await engine.usage(me.id)).chat, 499, `${name}: today never counted the refunded reservation`);
    now.t = LAST_SECOND + 24 * HOUR + 1000; // the next midnight: the charge ends with today's window
    assert.equal((await engine.usage(me.id)).chat, 0, name);
  }
});

test("a settle sent again day after day charges once; a charge later than the next day is dropped", async () => {
  const stores = {
    MemoryStore: (now) => new MemoryStore({ now }),
    "a plain store": (now) => mapStore(now).store,
    "an async store with incrOrCreate": (now) => mapStore(now, { upsert: true, async: true }).store,
  };
  const LAST_SECOND = NOON + 12 * HOUR - 1000; // 23:59:59
  const DAY = 24 * HOUR;
  for (const [name, makeStore] of Object.entries(stores)) {
    const now = fakeClock(LAST_SECOND);
    const engine = new QuotaEngine({ store: makeStore(now), limits: { chat: 1000 }, now, tokenSecret: SECRET });
    const job = await engine.reserve(me, "chat");
    const slow = await engine.reserve(me, "chat");
    now.t += 31_000; // 00:00:30, the next day
    assert.equal(await engine.settle(me, job.reservation, 500), true, name);
    assert.equal((await engine.usage(me.id)).chat, 499, name);
    // A replayed job queue settles the same reservation again at noon, day after day.
    for (let day = 1; day < 8; day++) {
      now.t = NOON + day * DAY;
      assert.equal(await engine.settle(me, job.reservation, 500), false, `${name}: day ${day}`);
      assert.equal((await engine.usage(me.id)).chat, day === 1 ? 499 : 0, `${name}: day ${day}`);
    }
    // A reservation first settled after the window following its own: its charge is dropped.
    assert.equal(await engine.settle(me, slow.reservation, 500), false, name);
    assert.equal((await engine.usage(me.id)).chat, 0, name);
  }
});

test("a refund or release sent again after the window after its own ended answers false and writes nothing", async () => {
  // A job queue replays a release and the settle behind it two days on, once every marker that
  // could stop them has expired: each must say it corrected nothing (before, `true` each time,
  // and a new marker), so a caller billing on `true` bills once.
  const stores = {
    MemoryStore: (now) => new MemoryStore({ now }),
    "a plain store": (now) => mapStore(now).store,
    "an async store with incrOrCreate": (now) => mapStore(now, { upsert: true, async: true }).store,
  };
  const DAY = 24 * HOUR;
  for (const [name, makeStore] of Object.entries(stores)) {
    const now = fakeClock(NOON);
    const store = makeStore(now);
    const engine = new QuotaEngine({ store, limits: { chat: [{ limit: 10 }, { limit: 5, window: "hour" }] }, now, tokenSecret: SECRET });
    const released = await engine.reserve(me, "chat", { amount: 3 });
    const settled = await engine.reserve(me, "chat", { amount: 2 });
    await engine.release(me, released.reservation);
    assert.equal(await engine.settle(me, settled.reservation, 1), true, name);
    assert.equal((await engine.usage(me.id)).chat, 1, name);
    now.t = NOON + 2 * DAY; // its day and the next have ended, and every marker with them
    // The engine runs over a MemoryStore's counters inside WASM: its entries are counted instead.
    const writes = [];
    for (const method of ["add", "set", "incr", "incrOrCreate"]) {
      const f = store[method];
      if (typeof f === "function") store[method] = (...args) => (writes.push([method, ...args]), f.apply(store, args));
    }
    store.sweep?.();
    const entries = store.size;
    assert.equal(await engine.settle(me, settled.reservation, 1), false, `${name}: settled before`);
    assert.equal(await engine.settle(me, released.reservation, 0), false, `${name}: released before`);
    await engine.release(me, released.reservation);
    assert.deepEqual(writes, [], `${name}: too late for every window: nothing written`);
    assert.equal(store.size, entries, `${name}: no marker`);
  }
});

test("a release after its window ended takes nothing from the counter a host behind in time made there anew", async () => {
  // The store's day has ended; a host 15 minutes behind (past the ten minutes a counter is
  // kept after its window) still counts in it, in a counter it created anew (README,
  // Guarantees: clocks that disagree). A host on time then releases a
  // reservation of that day: before, its refund came out of the new counter, erasing the host
  // behind's admission (which let a reserve of 2 in past the limit of 2), and, racing a denied
  // reserve's rollback there, drove the counter to -1.
  for (const upsert of [false, true]) {
    const storeClock = fakeClock(NOON + 11 * HOUR + 50 * 60_000); // 23:50
    const { store } = mapStore(storeClock, { upsert });
    const options = { store, limits: { chat: 2 }, tokenSecret: SECRET };
    const onTime = new QuotaEngine({ ...options, now: storeClock });
    const behind = new QuotaEngine({ ...options, now: () => storeClock() - 15 * 60_000 });
    const old = onTime.reserve(me, "chat", { amount: 2 });
    storeClock.t = NOON + 12 * HOUR + 10 * 60_000 + 2000; // 00:10:02 for the store; 23:55:02 for the host behind
    assert.equal(behind.reserve(me, "chat").used, 1, "counted anew in the day that ended");
    onTime.release(me, old.reservation);
    assert.equal(behind.check(me, "chat").used, 1, `upsert ${upsert}: the host behind's count stays`);
    assert.equal(behind.reserve(me, "chat", { amount: 2 }).allowed, false, `upsert ${upsert}: 1 + 2 > 2`);
  }
});
