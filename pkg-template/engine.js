// QuotaEngine: the public class. The quota logic is in the WASM (`QuotaCore`, src/bind/engine.rs);
// this half drives each call's store operations and builds the results, so that what crosses the
// boundary is numbers: a status per step, the details in a shared Float64Array (`out`), key
// texts decoded from WASM memory once per key (cached here by the key's number), never a
// decision object.
import { QuotaCore, wasmMemory, Status, OpSlot, DecisionSlot, Reply, CallKind, IdTable } from "./wasm_quota.js";
import { isThenable, withTimeout, QuotaError, decision } from "./runtime.js";
import { memoryStoreInternals } from "./stores/memory.js";

// Statuses, slots, reply kinds and call kinds are defined in src/bind/engine.rs. Store
// operations are the statuses up to LAST_OP.
const { Get: GET, Incr: INCR, Add: ADD, Set: SET, IncrOrCreate: INCR_OR_CREATE, IncrOrCreateWithin: INCR_OR_CREATE_WITHIN } = Status;
const { Decision: DECISION, Unlimited: UNLIMITED, Released: RELEASED, Value: VALUE, Pending: PENDING } = Status;
const LAST_OP = INCR_OR_CREATE_WITHIN;
const { Call: CALL_SLOT, Key: KEY_SLOT, Value: VALUE_SLOT, Ttl: TTL_SLOT, KeyAt: KEY_AT_SLOT, KeyLength: KEY_LENGTH_SLOT, Limit: LIMIT_SLOT } = OpSlot;
const { Count: REPLY_COUNT, Absent: REPLY_ABSENT, Added: REPLY_ADDED, Done: REPLY_DONE } = Reply;
const { Check: CHECK, Reserve: RESERVE, Increment: INCREMENT, Release: RELEASE } = CallKind;
const OUT_LEN = DecisionSlot.End;

// Runs store operation `op` (a status up to LAST_OP) with the op's numbers.
function callStore(store, op, key, a, b, limit) {
  switch (op) {
    case INCR:
      return store.incr(key, a);
    case INCR_OR_CREATE:
      return store.incrOrCreate(key, a, b);
    case INCR_OR_CREATE_WITHIN:
      return store.incrOrCreateWithin(key, a, b, limit);
    case GET:
      return store.get(key);
    case ADD:
      return store.add(key, a, b);
    default:
      return store.set(key, a, b);
  }
}
// Key strings kept per engine, by key number modulo the cache's size. Key numbers are handed
// out in sequence, so the counters in use map to distinct slots; a slot's number says whose it
// is. The cache starts small (a fresh engine costs microseconds, not a 0.5 MB allocation) and
// grows fourfold, up to KEY_SLOTS, whenever it has missed more often than it has slots.
const KEY_SLOTS = 1 << 16;
const FIRST_KEY_SLOTS = 64;
// Longer keys (long string ids) are read from the core each time, so that the cache stays
// bounded in bytes (at most KEY_SLOTS × this many characters), not only in entries.
const MAX_CACHED_KEY_CHARS = 96;

// Reservation tokens arrive as their bytes in WASM memory (src/core/reservation.rs spells them).
const TOKEN_TEXT = new TextDecoder();
// So do keys (OpSlot.KeyAt). ignoreBOM: a key prefix may begin with U+FEFF, which the default
// decoder would drop, naming another key.
const KEY_TEXT = new TextDecoder("utf-8", { ignoreBOM: true });
// The module's memory, asked for once (each wasmMemory() is a call into WASM).
let memory;
const wasmBuffer = () => (memory ??= wasmMemory()).buffer;

// String ids the core holds by number (`internId`), so that a call hands over a number, not the
// string (copying it into WASM and checking it again cost more than the rest of a call over a
// fast store). Ids up to MAX_INTERNED_ID_CHARS are interned, at most IdTable.Slots of them and
// ID_HANDLE_CHARS characters in all: to make room, the core empties the slot of an id no call
// used lately (`evictId`, src/bind/ids.rs), and that id is dropped here too. A handle names one
// id or none, never another.
const ID_HANDLE_CHARS = 1 << 19;
const MAX_INTERNED_ID_CHARS = 96;

// `resetsAt` texts of the last few reset instants, each formatted once (a call into WASM): a
// feature with an hour and a day policy alternates between two instants, zoned windows add
// more. A miss replaces the slots in turn.
const RESETS_AT_SLOTS = 4;

export class QuotaEngine {
  #core;
  #freed = false;
  #store;
  #now;
  #clock; // the `now` option, or undefined (then Date.now)
  #timeoutMs;
  #out;
  #features = new Map(); // configured feature name -> position
  #policies = []; // per feature position: its policies' [name, window]
  #keyIds = null; // key number held in each slot
  #keyTexts = null;
  #keyMisses = 0;
  #idHandles = new Map(); // interned string id -> its handle
  #idInSlot = []; // per slot of the core's id table: the id it holds, if any
  #idChars = 0;
  #resetsAtMs = new Array(RESETS_AT_SLOTS).fill(NaN);
  #resetsAtTexts = new Array(RESETS_AT_SLOTS).fill("");
  #resetsAtNext = 0; // the slot the next miss replaces

  /** Validates every option; throws `QuotaError` with code `INVALID_CONFIG` when one is wrong. */
  constructor(options) {
    this.#core = new QuotaCore(options);
    // JS holds the store and clock, so that an engine they refer back to is collectable.
    this.#store = this.#core.takeStore();
    this.#clock = this.#core.takeClock();
    this.#now = this.#clock ?? Date.now;
    this.#timeoutMs = this.#core.timeoutMs;
    // The package's own MemoryStore: every call runs over its counters inside WASM.
    const memory = memoryStoreInternals(this.#store);
    if (memory !== undefined) this.#core.attachMemory(memory.counters, memory.now === this.#now ? undefined : memory.now);
    this.#indexFeatures();
  }

  check(profile, feature, options) {
    this.#live();
    return this.#decide(CHECK, profile, feature, options);
  }

  reserve(profile, feature, options) {
    this.#live();
    return this.#decide(RESERVE, profile, feature, options);
  }

  increment(profile, feature, options) {
    this.#live();
    return this.#decide(INCREMENT, profile, feature, options);
  }

  release(profile, featureOrReservation, options) {
    this.#live();
    return this.#drive(this.#core.start(RELEASE, profile, featureOrReservation, options, this.#clock), undefined, undefined);
  }

  settle(profile, reservation, actualAmount) {
    this.#live();
    const result = this.#drive(this.#core.startSettle(profile, reservation, actualAmount, this.#clock), undefined, undefined);
    // true only when this call corrected the counters (home mode, a repeat: false).
    return isThenable(result) ? result.then((r) => r === true) : result === true;
  }

  usage(profileId) {
    this.#live();
    return this.#drive(this.#core.startUsage(profileId, this.#clock), undefined, undefined);
  }

  setLimits(limits) {
    this.#live();
    this.#core.setLimits(limits);
    this.#indexFeatures();
  }

  /**
   * Frees the WASM side now instead of when this engine is garbage-collected. Any later call
   * (and a second `free()`) throws, and a call still awaiting its store rejects, with a
   * QuotaError of code ENGINE_FREED.
   */
  free() {
    this.#live();
    this.#freed = true;
    this.#core.free();
  }

  // Throws ENGINE_FREED once free() was called (rather than wasm-bindgen's "null pointer").
  #live() {
    if (this.#freed) throw new QuotaError("ENGINE_FREED", "this QuotaEngine was freed (free()); make a new one");
  }

  #indexFeatures() {
    this.#features = new Map(this.#core.features().map((f, i) => [f, i]));
    this.#policies = this.#core.policies();
  }

  // Every call shape is read here and handed over as numbers and the id / key strings, to one
  // entry (`count`). What cannot be read plainly — a wrong type, an unknown feature or option,
  // an ill-formed string, a getter or clock that throws — goes to `start`, which reads and
  // validates the raw arguments in Rust, so every error is the one documented.
  #decide(kind, profile, feature, options) {
    let status = -1;
    const index = this.#features.get(feature);
    // The feature's policies as this call counts them: a setLimits while it awaits its store
    // must not rename (or lose) the policy its decision describes.
    const policies = this.#policies[index];
    if (typeof profile === "object" && profile !== null && !Array.isArray(profile)) {
      if (index !== undefined) {
        let id, unlimited, now, amount = 1, key, plain = true;
        try {
          id = profile.id;
          unlimited = profile.unlimited;
          if (options !== undefined) {
            if (typeof options !== "object" || options === null || Array.isArray(options)) throw options;
            // Any other name (a typo, or idempotencyKey where it is not taken): `start` reads
            // the call (and refuses the name, unless inherited). Looked for before any option
            // is read, so that a getter is read once, here or there.
            for (const name in options) if (name !== "amount" && (name !== "idempotencyKey" || kind !== RESERVE)) plain = false;
            // Read as a Web API reads its options, inherited ones too (`start` reads them
            // alike: `methodOptionsData`).
            if (plain) {
              amount = options.amount;
              if (amount === undefined) amount = 1;
              if (kind === RESERVE) key = options.idempotencyKey;
            }
          }
          now = (0, this.#now)();
        } catch {
          plain = false;
        }
        plain &&= typeof now === "number" && (unlimited === undefined || typeof unlimited === "boolean");
        plain &&= Number.isSafeInteger(amount) && amount >= 1;
        // Not well-formed (a lone surrogate): the general path refuses it.
        plain &&= key === undefined || (typeof key === "string" && key.isWellFormed());
        if (plain) {
          if (typeof id === "number") status = this.#core.count(kind, id, undefined, false, unlimited === true, index, amount, key, now);
          else if (typeof id === "string") {
            const handle = this.#idHandles.get(id) ?? this.#intern(id);
            if (handle >= 0) status = this.#core.count(kind, handle, undefined, true, unlimited === true, index, amount, key, now);
            else if (id.length > MAX_INTERNED_ID_CHARS && id.isWellFormed()) status = this.#core.count(kind, 0, id, false, unlimited === true, index, amount, key, now);
          }
        }
      }
    }
    if (status < 0) status = this.#core.start(kind, profile, feature, options, this.#clock);
    return this.#drive(status, feature, policies);
  }

  // Runs the call's store operations while the store answers with plain values; from the
  // first thenable on, continues in #driveAsync and returns its Promise.
  #drive(status, feature, policies) {
    const core = this.#core;
    const store = this.#store;
    for (;;) {
      if (status > LAST_OP) return this.#result(status, feature, policies);
      // Every number, and the key's text, is read before anything calls into WASM again
      // (growing memory there detaches `out`).
      const out = this.#numbers();
      const call = out[CALL_SLOT];
      const a = out[VALUE_SLOT], b = out[TTL_SLOT], limit = out[LIMIT_SLOT];
      const op = status;
      const key = this.#key(out);
      let raw;
      try {
        raw = callStore(store, op, key, a, b, limit);
      } catch (cause) {
        status = core.fail(call, cause);
        continue;
      }
      status = this.#answer(call, op, raw, false);
      if (status === PENDING) return this.#driveAsync(call, op, raw, feature, policies);
    }
  }

  async #driveAsync(call, op, pending, feature, policies) {
    const core = this.#core;
    const store = this.#store;
    for (;;) {
      let status;
      try {
        const value = await (this.#timeoutMs === undefined ? pending : withTimeout(pending, this.#timeoutMs));
        this.#live(); // freed while the store was answering
        status = this.#answer(call, op, value, true);
      } catch (cause) {
        this.#live();
        status = core.fail(call, cause);
      }
      // Plain answers from here on are taken at once; the next thenable is awaited.
      for (;;) {
        if (status > LAST_OP) return this.#result(status, feature, policies);
        const out = this.#numbers();
        call = out[CALL_SLOT];
        const a = out[VALUE_SLOT], b = out[TTL_SLOT], limit = out[LIMIT_SLOT];
        op = status;
        const key = this.#key(out);
        try {
          pending = callStore(store, op, key, a, b, limit);
        } catch (cause) {
          status = core.fail(call, cause);
          continue;
        }
        status = this.#answer(call, op, pending, false);
        if (status === PENDING) break;
      }
    }
  }

  // A store's answer to `op`: the plain cases are classified here; everything else —
  // thenables, corrupt values, what a thenable resolved to (`settled`) — is Rust's to judge.
  #answer(call, op, raw, settled) {
    const core = this.#core;
    if (op === INCR || op === GET) {
      if (typeof raw === "number") return core.resume(call, REPLY_COUNT, raw);
      if (raw === null || raw === undefined) return core.resume(call, REPLY_ABSENT, 0);
    } else if (op === INCR_OR_CREATE || op === INCR_OR_CREATE_WITHIN) {
      if (typeof raw === "number") return core.resume(call, REPLY_COUNT, raw);
    } else if (op === ADD) {
      if (typeof raw === "boolean") return core.resume(call, REPLY_ADDED, raw ? 1 : 0);
    } else if (op === SET) {
      if (raw === null || raw === undefined || typeof raw === "boolean" || typeof raw === "number") return core.resume(call, REPLY_DONE, 0);
    }
    // A native Promise is a thenable whose `then` cannot throw: wait for it without asking Rust.
    if (!settled && raw instanceof Promise) return PENDING;
    return core.resumeWith(call, raw, settled);
  }

  #result(status, feature, policies) {
    switch (status) {
      case DECISION:
        return this.#decision(feature, policies);
      case UNLIMITED:
        return decision(true, feature);
      case RELEASED:
        return undefined;
      case VALUE:
        return this.#core.take();
      default: // Status.Error
        throw this.#core.take();
    }
  }

  // `policies`: the feature's [name, window] pairs when the call started.
  #decision(feature, policies) {
    // Read every number first: rfc3339 calls into WASM, and memory growing there detaches `out`.
    const out = this.#numbers();
    const D = DecisionSlot;
    // retryAfter null: the amount is over the whole limit, so waiting never makes it fit.
    const allowed = out[D.Allowed] === 1, limit = out[D.Limit], used = out[D.Used], remaining = out[D.Remaining];
    const resetsAtMs = out[D.ResetsAt], retryAfter = out[D.RetryAfter] < 0 ? null : out[D.RetryAfter];
    const tokenAt = out[D.TokenAt], tokenLength = out[D.TokenLength], policy = out[D.Policy], replayed = out[D.Replayed] === 1;
    const resetsAt = this.#resetsAt(resetsAtMs);
    // One decode per admission: the token's text is written only in Rust (measured against
    // building it here from numbers: see README, Performance).
    // The view's buffer through #numbers (fresh if rfc3339 grew memory): no Memory.buffer getter.
    const reservation = tokenLength === 0 ? undefined : TOKEN_TEXT.decode(new Uint8Array(this.#numbers().buffer, tokenAt, tokenLength));
    const named = policy >= 0 ? policies[policy] : undefined;
    return decision(allowed, feature, undefined, limit, used, remaining, resetsAt, retryAfter, reservation, named?.[0], named?.[1], replayed);
  }

  // The RFC 3339 text of reset instant `ms` (may call into WASM: read `out` before).
  #resetsAt(ms) {
    const instants = this.#resetsAtMs;
    for (let i = 0; i < RESETS_AT_SLOTS; i++) if (instants[i] === ms) return this.#resetsAtTexts[i];
    const text = QuotaCore.rfc3339(ms);
    const slot = this.#resetsAtNext;
    this.#resetsAtNext = (slot + 1) % RESETS_AT_SLOTS;
    instants[slot] = ms;
    this.#resetsAtTexts[slot] = text;
    return text;
  }

  // The handle of string id `id`, interned now; -1 when it is not interned (too long, not
  // well-formed, or refused: `start` then reports why).
  #intern(id) {
    if (id.length > MAX_INTERNED_ID_CHARS || !id.isWellFormed()) return -1;
    while (this.#idHandles.size >= IdTable.Slots || this.#idChars + id.length > ID_HANDLE_CHARS) {
      const slot = this.#core.evictId();
      if (slot < 0) break;
      const evicted = this.#idInSlot[slot];
      this.#idInSlot[slot] = undefined;
      this.#idHandles.delete(evicted);
      this.#idChars -= evicted.length;
    }
    const handle = this.#core.internId(id);
    if (handle >= 0) {
      this.#idInSlot[handle % IdTable.Slots] = id;
      this.#idHandles.set(id, handle);
      this.#idChars += id.length;
    }
    return handle;
  }

  // The text of the key of the step in `out`: cached by the key's number, else decoded from
  // WASM memory (where the step left it; nothing has called into WASM since).
  #key(out) {
    const id = out[KEY_SLOT];
    const ids = this.#keyIds;
    if (ids !== null && id >= 0) {
      const slot = id % ids.length;
      if (ids[slot] === id) return this.#keyTexts[slot];
    }
    return this.#keyMiss(id, KEY_TEXT.decode(new Uint8Array(out.buffer, out[KEY_AT_SLOT], out[KEY_LENGTH_SLOT])));
  }

  #keyMiss(id, key) {
    if (id < 0 || key.length > MAX_CACHED_KEY_CHARS) return key; // read every time
    let ids = this.#keyIds;
    if (ids === null || (++this.#keyMisses > ids.length && ids.length < KEY_SLOTS)) {
      const size = ids === null ? FIRST_KEY_SLOTS : ids.length * 4;
      ids = this.#keyIds = new Float64Array(size).fill(-1);
      this.#keyTexts = new Array(size).fill("");
      this.#keyMisses = 0;
    }
    const slot = id % ids.length;
    ids[slot] = id;
    this.#keyTexts[slot] = key;
    return key;
  }

  // The shared numbers; a view made again when WASM memory has grown (which detaches it).
  #numbers() {
    let out = this.#out;
    if (out === undefined || out.length === 0) {
      out = this.#out = new Float64Array(wasmBuffer(), this.#core.outPtr(), OUT_LEN);
    }
    return out;
  }
}
