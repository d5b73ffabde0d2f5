// The demo page: a card per feature over one QuotaEngine, the settings, the timeline and the
// last-decision panel. The engine and its store read the page's OffsetClock, so the midnight
// jump is real to both. Every figure on the page is read back from the engine, never tracked
// on the side.
import { QuotaEngine, MemoryStore, QuotaError } from "wasm-quota";
import { OffsetClock, nextUtcMidnight } from "./clock.js";
import { FEATURES, TOKEN_FEATURE, POLICY_FEATURE, ALL_FEATURES, engineLimits, enginePolicies, parseLimitsParam, formatLimitsParam } from "./features.js";
import { LocalStorageStore } from "./local-store.js";
import { DelayedStore } from "./delayed-store.js";
import { responseFor, formatResponseHead } from "./rate-limit-headers.js";
import { standInAiCall, parseLatency } from "./stand-in-ai.js";
import { FeatureCard, formatCount, setText } from "./cards.js";
import { BurstStrip } from "./burst.js";
import { Timeline } from "./timeline.js";

const PROFILE_ID = 42;
const BURST_SIZE = 10;
const $ = (selector, root = document) => root.querySelector(selector);

const params = new URLSearchParams(location.search);
const latencyMs = parseLatency(params.get("latency"));
const clock = new OffsetClock();
const settings = {
  failAi: $('[data-setting="fail-ai"]'),
  unlimited: $('[data-setting="unlimited"]'),
  homeMode: $('[data-setting="home-mode"]'),
};
const parsed = parseLimitsParam(params.get("limits"));
let limits = parsed.limits; // the editable daily limits
// Made in start(), once the address has said which store to use.
let store, engine, policyReaders;
const cards = new Map(); // feature name -> FeatureCard
const timeline = new Timeline($('[data-field="timeline"]'), ALL_FEATURES);

/** The engine's `enabled` is fixed at construction; home mode rebuilds it over the same store. */
function makeEngine() {
  return new QuotaEngine({ store, limits: engineLimits(limits), enabled: !settings.homeMode.checked, now: clock.now });
}

/**
 * usage() reports a feature's first policy only. An engine over the same store configured
 * with just one of the policies reads that policy's counter (a counter's key depends on the
 * window, not on the policy's name) through check(), which counts nothing.
 */
function makePolicyReaders() {
  return enginePolicies().map((policy) =>
    new QuotaEngine({ store, limits: { [POLICY_FEATURE.name]: [policy] }, now: clock.now }));
}

/** Some browsers (private modes, blocked storage) throw on localStorage; then the Map serves. */
function localStorageWorks() {
  try {
    localStorage.setItem("wasm-quota-demo-probe", "1");
    localStorage.removeItem("wasm-quota-demo-probe");
    return true;
  } catch {
    return false;
  }
}

const profile = () => ({ id: PROFILE_ID, unlimited: settings.unlimited.checked });
const notify = (text) => ($('[data-field="notice"]').textContent = text);

// ---- cards ----------------------------------------------------------------------------------

function addCard(feature, options) {
  const card = new FeatureCard(feature, { ...options, burstSize: BURST_SIZE });
  card.runButton.addEventListener("click", () => run(feature.name));
  card.burstButton.addEventListener("click", () => burst(feature.name));
  card.limitInput.addEventListener("change", () => changeLimit(feature.name, card.limitInput));
  $('[data-field="cards"]').append(card.el);
  cards.set(feature.name, card);
}

for (const f of FEATURES) addCard(f, { meters: [{ key: "day", ariaLabel: `${f.title} used today` }], limit: limits[f.name] });
addCard(TOKEN_FEATURE, {
  unit: "tokens",
  note: `Metered in tokens: a run reserves ${formatCount(TOKEN_FEATURE.estimate)} (the call's max_tokens), then settles with what the model used.`,
  meters: [{ key: "day", ariaLabel: `${TOKEN_FEATURE.title} tokens used today` }],
});
cards.get(TOKEN_FEATURE.name).el.dataset.estimate = String(TOKEN_FEATURE.estimate);
addCard(POLICY_FEATURE, {
  note: "Two policies at once: a run must pass both, and counts in both or neither.",
  meters: POLICY_FEATURE.policies.map((p) => ({
    key: p.name,
    label: `${p.label}: the ${p.name} policy, ${p.limit} per ${p.window}`,
    ariaLabel: `${POLICY_FEATURE.title} used ${p.window === "hour" ? "this hour" : "today"}`,
  })),
});

/** Each card's meters as the engine counts them: { feature: [{ key, used, limit, resetsAt }] }. */
async function readFigures() {
  const usage = await engine.usage(PROFILE_ID);
  const now = clock.now();
  const figures = {};
  for (const f of FEATURES) figures[f.name] = [{ key: "day", used: usage[f.name], limit: limits[f.name], resetsAt: nextUtcMidnight(now) }];
  figures[TOKEN_FEATURE.name] = [{ key: "day", used: usage[TOKEN_FEATURE.name], limit: TOKEN_FEATURE.limit, resetsAt: nextUtcMidnight(now) }];
  figures[POLICY_FEATURE.name] = await Promise.all(policyReaders.map(async (reader, i) => {
    const d = await reader.check({ id: PROFILE_ID }, POLICY_FEATURE.name);
    return { key: POLICY_FEATURE.policies[i].name, used: d.used, limit: d.limit, resetsAt: Date.parse(d.resetsAt) };
  }));
  return figures;
}

let rendersStarted = 0;
let newestDrawn = 0;

/**
 * Redraws every meter from the engine. Renders can overlap (an async store answers late); one
 * that finishes after a later-started one has drawn is older and draws nothing. When it
 * resolves, the page shows figures read no earlier than its start.
 */
async function renderUsage() {
  const started = ++rendersStarted;
  const figures = await readFigures();
  if (started < newestDrawn) return;
  newestDrawn = started;
  const now = clock.now();
  const metered = !settings.homeMode.checked && !settings.unlimited.checked;
  for (const [name, card] of cards) for (const m of figures[name]) card.drawMeter(m.key, m, now, metered);
}

// ---- running a feature: reserve → stand-in AI call → release on failure, settle tokens --------

/** One run; every click starts its own, concurrently with those in flight. Never rejects. */
async function run(name, slot) {
  const card = cards.get(name);
  const who = profile();
  // This run releases or settles through the engine that reserved, even if home mode rebuilt it.
  const runEngine = engine;
  const estimate = name === TOKEN_FEATURE.name ? TOKEN_FEATURE.estimate : undefined;
  const call = `engine.reserve(${describe(who)}, "${name}"${estimate ? `, { amount: ${estimate} }` : ""})`;
  let outcome, text;
  card.changeInFlight(+1);
  try {
    const decision = await runEngine.reserve(who, name, estimate ? { amount: estimate } : undefined);
    showDecision(call, decision);
    slot?.decided(decision);
    timeline.record(name, decision.allowed ? "admitted" : "denied");
    if (!decision.allowed) {
      [outcome, text] = ["denied", deniedText(decision)];
      return;
    }
    card.status.textContent = "Calling the AI…";
    await renderUsage();
    let answer;
    try {
      answer = await standInAiCall({ fail: settings.failAi.checked, latencyMs, maxTokens: estimate });
    } catch {
      // The Django service's contract: a failed AI call must not cost the user a slot.
      if (decision.reservation) {
        await runEngine.release(who, decision.reservation);
        showCall(`${call} → AI call failed → engine.release(profile, reservation)`);
        timeline.record(name, "released");
      }
      slot?.released();
      [outcome, text] = ["failed", decision.unlimited
        ? "The AI call failed (nothing was counted)."
        : "The AI call failed, so the reservation was released: it did not count."];
      return;
    }
    if (estimate && decision.reservation) {
      const settled = await runEngine.settle(who, decision.reservation, answer.tokens);
      showCall(`engine.settle(${describe(who)}, reservation, ${answer.tokens}) → ${settled}`);
      timeline.record(name, "settled");
      card.el.dataset.lastActual = String(answer.tokens);
      text = `Done. Reserved ${formatCount(estimate)} tokens, the model used ${formatCount(answer.tokens)}: settled, ${formatCount(estimate - answer.tokens)} given back.`;
    } else {
      text = decision.unlimited ? "Done. Not counted: quota does not apply." : "Done. Counted.";
    }
    outcome = "done";
  } catch (err) {
    slot?.failed();
    [outcome, text] = ["error", err instanceof QuotaError ? `Engine error ${err.code}: ${err.message}` : String(err)];
  } finally {
    card.changeInFlight(-1);
    await renderUsage();
    card.finishRun(outcome, text);
  }
}

function deniedText(d) {
  const by = d.policy ? ` by the ${d.policy} policy` : "";
  return `Denied${by}: ${formatCount(d.used)} of ${formatCount(d.limit)} used. It resets at ${d.resetsAt.slice(11, 16)} UTC.`;
}

/** BURST_SIZE runs started in the same instant; the strip shows how each was decided. */
async function burst(name) {
  const card = cards.get(name);
  const strip = (card.burst = new BurstStrip(card.burstStrip, BURST_SIZE));
  await Promise.all(Array.from({ length: BURST_SIZE }, (_, i) => run(name, strip.slot(i))));
  if (card.burst !== strip) return; // a newer burst owns the strip now
  const metered = !settings.homeMode.checked && !settings.unlimited.checked;
  const meters = (await readFigures())[name];
  const tightest = meters.reduce((a, b) => (b.limit - b.used < a.limit - a.used ? b : a));
  if (store instanceof DelayedStore) document.documentElement.dataset.storeMostPending = String(store.mostPending);
  strip.summarize(metered ? tightest : null, card.unit);
}

/** The profile as a person would write it in code. */
function describe({ id, unlimited }) {
  return unlimited ? `{ id: ${id}, unlimited: true }` : `{ id: ${id} }`;
}

function showCall(call) {
  $('[data-field="last-call"]').textContent = call;
}

function showDecision(call, decision) {
  showCall(call);
  $('[data-field="last-decision"]').textContent = JSON.stringify(decision, null, 2);
  $('[data-field="response-headers"]').textContent = formatResponseHead(responseFor(decision, clock.now()));
}

// ---- settings ----------------------------------------------------------------------------------

function changeLimit(name, input) {
  const value = input.valueAsNumber;
  const next = { ...limits, [name]: value };
  try {
    engine.setLimits(engineLimits(next)); // the engine validates; a refusal keeps the old limits
    limits = next;
    notify(`${name} limit set to ${value}.`);
    const shared = new URL(location.href);
    const param = formatLimitsParam(limits);
    if (param) shared.searchParams.set("limits", param);
    else shared.searchParams.delete("limits");
    history.replaceState(null, "", shared); // the address bar is a link to this setup
  } catch (err) {
    input.value = limits[name];
    notify(err instanceof QuotaError ? `Limit refused: ${err.message}` : String(err));
  }
  renderUsage();
}

settings.homeMode.addEventListener("change", () => {
  engine = makeEngine();
  notify(settings.homeMode.checked ? "Quota off: every run is allowed and nothing is counted." : "Quota on.");
  renderUsage();
});
settings.unlimited.addEventListener("change", () => {
  notify(settings.unlimited.checked ? "Profile 42 is now unlimited: runs are not counted." : "Profile 42 is limited again.");
  renderUsage();
});

$('[data-action="jump-midnight"]').addEventListener("click", () => {
  clock.jumpToUtcTimeOfDay(23, 59, 50);
  notify("Clock moved to 23:59:50 UTC. Watch the meters reset at midnight.");
  tick({ force: true });
});
$('[data-action="real-time"]').addEventListener("click", () => {
  clock.reset();
  notify("Clock back to real time.");
  tick({ force: true });
});
$('[data-action="clear"]').addEventListener("click", () => {
  store.clear();
  notify("All counts cleared.");
  renderUsage();
});

// ---- the clock: countdowns, and the meters when a window ends --------------------------------

let shownDay = null;
let shownSecond = null;
let tickRendering = null;

/** Redraws the clock and, unless a tick's render is still waiting on the store, the meters. */
function tick({ force = false } = {}) {
  const now = clock.now();
  const iso = new Date(now).toISOString();
  setText($('[data-field="clock"]'), `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`);
  $('[data-field="clock"]').dateTime = iso;
  $('[data-field="clock-shifted"]').hidden = !clock.shifted;
  $('[data-action="real-time"]').disabled = !clock.shifted;
  const day = iso.slice(0, 10);
  if (shownDay !== null && day > shownDay) {
    notify(`Midnight UTC passed: ${day} is a new window, every count starts at 0.`);
    for (const card of cards.values()) {
      if (card.el.dataset.status !== "denied") continue; // yesterday's denial no longer holds
      card.el.dataset.status = "idle";
      card.status.textContent = "";
    }
  }
  shownDay = day;
  const second = Math.floor(Date.now() / 1000);
  if (second !== shownSecond) timeline.render(); // the time axis moves on
  shownSecond = second;
  // A slow store may take longer than a tick to answer: one tick's render at a time.
  if (force) renderUsage();
  else if (!tickRendering) tickRendering = renderUsage().finally(() => (tickRendering = null));
}

function start() {
  const useLocal = params.get("store") === "local" && localStorageWorks();
  const memory = () => new MemoryStore({ now: clock.now });
  if (useLocal) store = new LocalStorageStore({ now: clock.now });
  else if (params.get("store") === "async") store = new DelayedStore(memory());
  else store = memory();
  engine = makeEngine();
  policyReaders = makePolicyReaders();
  if (useLocal) store.sweep(); // past days' items are dead weight in localStorage
  $('[data-field="store-name"]').textContent = useLocal
    ? "localStorage (kept across reloads)"
    : store instanceof DelayedStore
      ? "page memory, answering 0–30 ms late as a network store would"
      : "page memory (the package's MemoryStore)";
  const loadNotes = [];
  if (params.get("store") === "local" && !useLocal) loadNotes.push("localStorage is not available here: counts are kept in page memory.");
  if (parsed.problems.length) loadNotes.push(`Ignored in ?limits=: ${parsed.problems.join("; ")}.`);
  if (loadNotes.length) notify(loadNotes.join(" "));
  tick();
  setInterval(tick, 250); // quarter-second ticks keep the countdown within a blink of the truth
  document.documentElement.dataset.ready = "true"; // tests wait for this
}

start();
