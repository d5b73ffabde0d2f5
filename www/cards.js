// A feature card on the page: its meters (one per policy), the in-flight count, the burst
// strip and the status line. Cards only draw what they are given; app.js reads the engine.
import { formatDuration } from "./clock.js";

const $ = (selector, root) => root.querySelector(selector);
export const formatCount = (n) => n.toLocaleString("en-US");

export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text; // no needless DOM or a11y churn per tick
}

function visuallyHidden(text) {
  const span = document.createElement("span");
  span.className = "visually-hidden";
  span.textContent = text;
  return span;
}

export class FeatureCard {
  /**
   * @param {{ name: string, title: string }} feature
   * @param {{ meters: { key: string, label?: string, ariaLabel: string }[], unit?: string,
   *   note?: string, limit?: number, burstSize: number }} options
   *   unit: what is counted ("tokens"); limit: shows the editable daily limit field
   */
  constructor(feature, { meters, unit = "", note, limit, burstSize }) {
    const el = (this.el = document.getElementById("card-template").content.firstElementChild.cloneNode(true));
    this.unit = unit;
    el.dataset.feature = feature.name;
    el.dataset.status = "idle"; // how the last finished run ended
    el.dataset.runs = "0"; // finished runs: tests wait on this
    el.dataset.inflight = "0";
    $('[data-field="title"]', el).textContent = feature.title;
    $('[data-field="name"]', el).textContent = feature.name;
    if (note) Object.assign($('[data-field="note"]', el), { textContent: note, hidden: false });
    this.meters = new Map();
    for (const { key, label, ariaLabel } of meters) {
      const row = document.getElementById("meter-template").content.firstElementChild.cloneNode(true);
      row.dataset.policy = key;
      if (label) Object.assign($('[data-field="meter-label"]', row), { textContent: label, hidden: false });
      $(".meter", row).setAttribute("aria-label", ariaLabel);
      if (unit) $('[data-field="unit"]', row).textContent = unit;
      $('[data-field="meters"]', el).append(row);
      this.meters.set(key, row);
    }
    // Buttons all called "Run" are ambiguous to a screen reader: name each one's feature.
    this.runButton = $('[data-action="run"]', el);
    this.runButton.setAttribute("aria-label", `Run ${feature.title}`);
    this.burstButton = $('[data-action="burst"]', el);
    this.burstButton.textContent = `Run ×${burstSize} at once`;
    this.burstButton.setAttribute("aria-label", `Run ${feature.title} ×${burstSize} at once`);
    this.limitInput = $('[data-setting="limit"]', el);
    if (limit === undefined) {
      $(".limit", el).remove();
    } else {
      $(".limit", el).append(visuallyHidden(` for ${feature.title}`));
      this.limitInput.value = limit;
    }
    this.status = $('[data-field="status"]', el);
    this.burstStrip = $('[data-field="burst"]', el);
  }

  /** Draws one meter from the engine's figures; `resetsAt` and `now` are ms since the epoch. */
  drawMeter(key, { used, limit, resetsAt }, now, metered) {
    const row = this.meters.get(key);
    setText($('[data-field="used"]', row), formatCount(used));
    setText($('[data-field="limit"]', row), formatCount(limit));
    setText($('[data-field="remaining"]', row), formatCount(Math.max(0, limit - used)));
    setText($('[data-field="resets-in"]', row), formatDuration(resetsAt - now));
    const meter = $(".meter", row);
    meter.setAttribute("aria-valuemax", String(limit));
    meter.setAttribute("aria-valuenow", String(Math.min(used, limit)));
    meter.setAttribute("aria-valuetext", `${formatCount(used)} of ${formatCount(limit)}${this.unit ? ` ${this.unit}` : ""} used`);
    meter.style.setProperty("--fill", limit === 0 ? 1 : Math.min(1, used / limit));
    row.classList.toggle("full", used >= limit);
    this.el.classList.toggle("unmetered", !metered);
  }

  /** A run started (+1) or finished (−1). */
  changeInFlight(delta) {
    const n = Number(this.el.dataset.inflight) + delta;
    this.el.dataset.inflight = String(n);
    setText($('[data-field="inflight"]', this.el), n === 0 ? "" : `${n} in flight`);
  }

  finishRun(outcome, text) {
    this.el.dataset.status = outcome;
    this.status.textContent = text;
    this.el.dataset.runs = String(Number(this.el.dataset.runs) + 1);
  }
}
