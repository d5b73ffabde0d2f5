// The outcome of a burst, drawn slot by slot: one square per concurrent run, grey while it is
// in flight, then green (admitted), red (denied) or amber (admitted, then released because
// the call failed). A line under it sums it up in words.
import { formatCount, setText } from "./cards.js";

export class BurstStrip {
  #container;
  #slots;
  #summary;
  #denyingPolicies = new Set();

  /** Replaces the card's strip with `size` pending slots. */
  constructor(container, size) {
    this.#container = container;
    container.hidden = false;
    container.dataset.state = "running"; // "done" once summed up
    const list = container.querySelector("ol");
    this.#slots = Array.from({ length: size }, () => {
      const slot = document.createElement("li");
      slot.dataset.outcome = "pending";
      return slot;
    });
    list.replaceChildren(...this.#slots);
    this.#summary = container.querySelector('[data-field="burst-summary"]');
    setText(this.#summary, `${size} runs started at once…`);
  }

  /** The callbacks of run `i`, for the card's run(). */
  slot(i) {
    const el = this.#slots[i];
    const policies = this.#denyingPolicies;
    return {
      decided(decision) {
        if (!decision.allowed && decision.policy) policies.add(decision.policy);
        el.dataset.outcome = decision.allowed ? "admitted" : "denied";
        if (decision.allowed && decision.used !== undefined) el.dataset.used = String(decision.used);
        el.title = decision.allowed ? `admitted${decision.used === undefined ? "" : `: count ${decision.used}`}` : "denied";
      },
      released() {
        el.dataset.outcome = "released";
        el.title = "admitted, then released: the call failed";
      },
      failed() {
        el.dataset.outcome = "error";
      },
    };
  }

  /**
   * Sums the burst up once every run has finished, with the engine's figures for the feature
   * (its tightest policy); `null` figures mean the quota did not apply.
   */
  summarize(figures, unit) {
    const count = (outcome) => this.#slots.filter((s) => s.dataset.outcome === outcome).length;
    const released = count("released");
    const by = this.#denyingPolicies.size ? ` by the ${[...this.#denyingPolicies].join(" and ")} policy` : "";
    let text = `${count("admitted") + released} admitted`;
    if (released) text += ` (${released} released: the call failed)`;
    text += `, ${count("denied")} denied${by}`;
    if (count("error")) text += `, ${count("error")} failed with an engine error`;
    if (figures === null) {
      text += ": not counted, the quota does not apply";
    } else {
      const { used, limit } = figures;
      text += `: ${formatCount(used)} of ${formatCount(limit)}${unit ? ` ${unit}` : ""} used, `;
      text += used <= limit ? "nothing over the limit" : "above the current limit";
    }
    setText(this.#summary, text);
    this.#container.dataset.state = "done";
  }
}
