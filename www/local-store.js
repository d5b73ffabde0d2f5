// LocalStorageStore: the QuotaStore contract over window.localStorage, so a reload keeps the
// counts (`?store=local`). Each counter is one item, JSON `{ value, expiresAt }` (ms), read
// through the same clock as the engine so the demo's "jump to midnight" expires it too.
//
// Synchronous, like MemoryStore: the engine over it answers synchronously. Within one tab
// every call runs to completion, so incr and add are atomic there; two tabs can race (the
// demo does not need cross-tab atomicity — a real host would use its own atomic store).

export class LocalStorageStore {
  #storage;
  #prefix;
  #now;

  /**
   * @param {{ storage?: Storage, prefix?: string, now?: () => number }} [options]
   *   prefix namespaces the items, so clear() leaves the rest of the origin's storage alone.
   */
  constructor({ storage = globalThis.localStorage, prefix = "wasm-quota-demo:", now = Date.now } = {}) {
    this.#storage = storage;
    this.#prefix = prefix;
    this.#now = now;
  }

  /** The live entry, or undefined (an expired or unreadable item is removed). */
  #live(key) {
    const raw = this.#storage.getItem(this.#prefix + key);
    if (raw === null) return undefined;
    let entry;
    try {
      entry = JSON.parse(raw);
    } catch {
      entry = null;
    }
    // Hand-edited or foreign items are not counts: drop them rather than feed them to the engine.
    if (!entry || typeof entry.value !== "number" || !(entry.expiresAt > this.#now())) {
      this.#storage.removeItem(this.#prefix + key);
      return undefined;
    }
    return entry;
  }

  #write(key, entry) {
    this.#storage.setItem(this.#prefix + key, JSON.stringify(entry));
  }

  get(key) {
    return this.#live(key)?.value ?? null;
  }

  incr(key, delta) {
    const entry = this.#live(key);
    if (entry === undefined) return null;
    entry.value += delta;
    this.#write(key, entry); // keeps the original expiry, as a cache's incr does
    return entry.value;
  }

  add(key, value, ttlSeconds) {
    if (this.#live(key) !== undefined) return false;
    this.set(key, value, ttlSeconds);
    return true;
  }

  set(key, value, ttlSeconds) {
    this.#write(key, { value, expiresAt: this.#now() + ttlSeconds * 1000 });
  }

  /** Removes this store's items whose TTL has passed (past days' counters). */
  sweep() {
    for (const item of this.#ownItems()) this.#live(item.slice(this.#prefix.length));
  }

  /** Removes every item of this store. */
  clear() {
    for (const item of this.#ownItems()) this.#storage.removeItem(item);
  }

  #ownItems() {
    const items = [];
    for (let i = 0; i < this.#storage.length; i++) {
      const name = this.#storage.key(i);
      if (name !== null && name.startsWith(this.#prefix)) items.push(name);
    }
    return items; // collected first: removing while indexing would skip items
  }
}
