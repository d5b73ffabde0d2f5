// The demo's clock: real time plus an offset. The engine and the store both read it (their
// `now` option), so "jump to 23:59:50 UTC" moves every part of the demo at once, and the
// clock keeps ticking from there so a person can watch midnight pass.

const DAY_MS = 86_400_000;

export class OffsetClock {
  #offsetMs = 0;

  /** ms since the epoch, as the engine's `now` expects. Arrow so it can be passed bare. */
  now = () => Date.now() + this.#offsetMs;

  /** Moves the clock to the given UTC time of day in the clock's current UTC day. */
  jumpToUtcTimeOfDay(hours, minutes, seconds) {
    const now = this.now();
    const dayStart = now - (now % DAY_MS);
    const target = dayStart + ((hours * 60 + minutes) * 60 + seconds) * 1000;
    this.#offsetMs += target - now;
  }

  reset() {
    this.#offsetMs = 0;
  }

  get shifted() {
    return this.#offsetMs !== 0;
  }
}

/** The next 00:00:00 UTC after `ms`. */
export function nextUtcMidnight(ms) {
  return ms - (ms % DAY_MS) + DAY_MS;
}

/** "HH:MM:SS" for a duration in ms (rounded up to whole seconds, as the engine's TTLs are). */
export function formatDuration(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(Math.floor(total / 3600))}:${pad(Math.floor(total / 60) % 60)}:${pad(total % 60)}`;
}
