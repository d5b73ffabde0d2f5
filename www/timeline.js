// The session's decisions per feature as a small chart drawn by hand in SVG: one lane per
// feature, time running left to right from the page's load (or a minute ago, at first) to
// now, and in each slice of time a stacked bar of what the engine decided (admitted, settled,
// released, denied).
//
// Time here is real time, not the engine's clock: the midnight jump would otherwise open a
// gap of hours in the middle of the chart.
export const KINDS = ["admitted", "settled", "released", "denied"]; // bottom to top
const SLICES = 60;
const MIN_SPAN_MS = 60_000;
const LANE_HEIGHT = 24; // SVG units; a lane is stretched to the page's width
const SVG = "http://www.w3.org/2000/svg";

export class Timeline {
  #events = []; // { at, feature, kind }
  #start = Date.now();
  #lanes = new Map(); // feature name -> { el, svg, totalsEl, totals: { kind: n } }
  #figure;
  #titles;
  #axisStart;

  /** @param {HTMLElement} figure  @param {{ name: string, title: string }[]} features */
  constructor(figure, features) {
    this.#figure = figure;
    this.#titles = new Map(features.map((f) => [f.name, f.title]));
    for (const { name, title } of features) {
      const el = document.createElement("div");
      el.className = "lane";
      el.dataset.lane = name;
      const label = document.createElement("span");
      label.className = "lane-label";
      label.textContent = title;
      const totalsEl = document.createElement("span");
      totalsEl.className = "lane-totals";
      label.append(totalsEl);
      const svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("viewBox", `0 0 ${SLICES} ${LANE_HEIGHT}`);
      svg.setAttribute("preserveAspectRatio", "none");
      el.append(label, svg);
      figure.querySelector(".lanes").append(el);
      this.#lanes.set(name, { el, svg, totalsEl, totals: Object.fromEntries(KINDS.map((k) => [k, 0])) });
    }
    this.#axisStart = figure.querySelector('[data-field="timeline-start"]');
    this.render();
  }

  /** One decision of the engine: `kind` is one of KINDS. */
  record(feature, kind) {
    this.#events.push({ at: Date.now(), feature, kind });
    this.#lanes.get(feature).totals[kind] += 1;
    this.render();
  }

  render() {
    const now = Date.now();
    const span = Math.max(MIN_SPAN_MS, now - this.#start);
    const from = now - span;
    const counts = new Map([...this.#lanes.keys()].map((f) => [f, Array.from({ length: SLICES }, () => ({}))]));
    let tallest = 4; // a lone decision is a quarter of a lane; a burst of 10 fills one
    for (const { at, feature, kind } of this.#events) {
      const slice = counts.get(feature)[Math.min(SLICES - 1, Math.floor(((at - from) / span) * SLICES))];
      slice[kind] = (slice[kind] ?? 0) + 1;
      tallest = Math.max(tallest, KINDS.reduce((sum, k) => sum + (slice[k] ?? 0), 0));
    }
    const unit = LANE_HEIGHT / tallest;
    for (const [feature, lane] of this.#lanes) {
      const bars = [];
      counts.get(feature).forEach((slice, x) => {
        let top = LANE_HEIGHT;
        for (const kind of KINDS) {
          if (!slice[kind]) continue;
          const height = slice[kind] * unit;
          top -= height;
          const bar = document.createElementNS(SVG, "rect");
          for (const [name, value] of Object.entries({ x: x + 0.1, y: top, width: 0.8, height })) bar.setAttribute(name, value);
          bar.dataset.kind = kind;
          bars.push(bar);
        }
      });
      lane.svg.replaceChildren(...bars);
      for (const kind of KINDS) lane.el.dataset[kind] = String(lane.totals[kind]);
      lane.totalsEl.textContent = this.#describe(lane.totals) || "none yet";
    }
    const seconds = Math.round(span / 1000);
    this.#axisStart.textContent = seconds < 120 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
    const summary = [...this.#lanes].filter(([, l]) => this.#describe(l.totals)).map(([f, l]) => `${this.#titles.get(f)}: ${this.#describe(l.totals)}`);
    this.#figure.setAttribute("aria-label", `Decisions per feature over this session: ${summary.join("; ") || "none yet"}.`);
  }

  #describe(totals) {
    return KINDS.filter((k) => totals[k]).map((k) => `${totals[k]} ${k}`).join(", ");
  }
}
