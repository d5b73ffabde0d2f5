// The demo page: six feature cards over one QuotaEngine, the settings, and the last-decision
// panel. The engine and its store read the page's OffsetClock, so the midnight jump is real to
// both. Every figure on the page is read back from the engine, never tracked on the side.
import { QuotaEngine, MemoryStore, QuotaError } from "wasm-quota";
import { OffsetClock, nextUtcMidnight, formatDuration } from "./clock.js";
import { FEATURES, parseLimitsParam, formatLimitsParam } from "./features.js";
import { LocalStorageStore } from "./local-store.js";
import { responseFor, formatResponseHead } from "./rate-limit-headers.js";

const PROFILE_ID = 42;
const AI_CALL_MS = 600; // long enough to see "Calling…", short enough not to bore
const $ = (selector, root = document) => root.querySelector(selector);

const params = new URLSearchParams(location.search);
const clock = new OffsetClock();
const useLocal = params.get("store") === "local" && localStorageWorks();
const store = useLocal ? new LocalStorageStore({ now: clock.now }) : new MemoryStore({ now: clock.now });
const settings = {
  failAi: $('[data-setting="fail-ai"]'),
  unlimited: $('[data-setting="unlimited"]'),
  homeMode: $('[data-setting="home-mode"]'),
};
const parsed = parseLimitsParam(params.get("limits"));
let limits = parsed.limits;
let engine = makeEngine();

/** The engine's `enabled` is fixed at construction; home mode rebuilds it over the same store. */
function makeEngine() {
  return new QuotaEngine({ store, limits, enabled: !settings.homeMode.checked, now: clock.now });
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

function notify(text) {
  $('[data-field="notice"]').textContent = text;
}

// ---- cards ----------------------------------------------------------------------------------

const cards = new Map(); // feature name -> card element

for (const feature of FEATURES) {
  const card = $("#card-template").content.firstElementChild.cloneNode(true);
  card.dataset.feature = feature.name;
  card.dataset.status = "idle";
  card.dataset.runs = "0";
  $('[data-field="title"]', card).textContent = feature.title;
  $('[data-field="name"]', card).textContent = feature.name;
  $(".meter", card).setAttribute("aria-label", `${feature.title} used today`);
  // Six buttons all called "Run" are ambiguous to a screen reader: name each one's feature.
  $('[data-action="run"]', card).setAttribute("aria-label", `Run ${feature.title}`);
  $(".limit", card).append(visuallyHidden(` for ${feature.title}`));
  const input = $('[data-setting="limit"]', card);
  input.value = limits[feature.name];
  input.addEventListener("change", () => changeLimit(feature.name, input));
  $('[data-action="run"]', card).addEventListener("click", () => run(feature.name));
  $('[data-field="cards"]').append(card);
  cards.set(feature.name, card);
}

function visuallyHidden(text) {
  const span = document.createElement("span");
  span.className = "visually-hidden";
  span.textContent = text;
  return span;
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text; // no needless DOM or a11y churn per tick
}

/** Redraws every card's figures from the engine's usage for the current window. */
async function renderUsage() {
  const usage = await engine.usage(PROFILE_ID);
  const metered = !settings.homeMode.checked && !settings.unlimited.checked;
  for (const [name, card] of cards) {
    const used = usage[name];
    const limit = limits[name];
    setText($('[data-field="used"]', card), String(used));
    setText($('[data-field="limit"]', card), String(limit));
    setText($('[data-field="remaining"]', card), String(Math.max(0, limit - used)));
    const meter = $(".meter", card);
    meter.setAttribute("aria-valuemax", String(limit));
    meter.setAttribute("aria-valuenow", String(Math.min(used, limit)));
    meter.setAttribute("aria-valuetext", `${used} of ${limit} used`);
    meter.style.setProperty("--fill", limit === 0 ? 1 : Math.min(1, used / limit));
    card.classList.toggle("full", used >= limit);
    card.classList.toggle("unmetered", !metered);
  }
}

// ---- running a feature: reserve → stand-in AI call → release on failure ----------------------

async function run(name) {
  const card = cards.get(name);
  if (card.dataset.status === "running") return; // one call per card at a time
  const status = $('[data-field="status"]', card);
  const who = profile();
  card.dataset.status = "running";
  status.textContent = "Reserving…";
  try {
    const decision = await engine.reserve(who, name);
    showDecision(`engine.reserve(${describe(who)}, "${name}")`, decision);
    if (!decision.allowed) {
      card.dataset.status = "denied";
      status.textContent = "Denied: the daily limit is reached. It resets at 00:00 UTC.";
      return;
    }
    status.textContent = "Calling the AI…";
    await renderUsage();
    try {
      await standInAiCall(settings.failAi.checked);
    } catch {
      // The seed's contract: a failed AI call must not cost the user a slot.
      if (decision.reservation) {
        await engine.release(who, decision.reservation);
        showCall(`engine.reserve(${describe(who)}, "${name}") → AI call failed → engine.release(profile, reservation)`);
      }
      card.dataset.status = "failed";
      status.textContent = decision.unlimited
        ? "The AI call failed (nothing was counted)."
        : "The AI call failed, so the reservation was released: it did not count.";
      return;
    }
    card.dataset.status = "done";
    status.textContent = decision.unlimited ? "Done. Not counted: quota does not apply." : "Done. Counted.";
  } catch (err) {
    card.dataset.status = "error";
    status.textContent = err instanceof QuotaError ? `Engine error ${err.code}: ${err.message}` : String(err);
  } finally {
    await renderUsage();
    card.dataset.runs = Number(card.dataset.runs) + 1; // finished runs: tests wait on this
  }
}

/** Stands in for the real AI request: a short wait, then success or failure. */
function standInAiCall(fail) {
  return new Promise((resolve, reject) =>
    setTimeout(() => (fail ? reject(new Error("stand-in AI call failed")) : resolve()), AI_CALL_MS),
  );
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
    engine.setLimits(next); // the engine validates; a refusal keeps the old limits
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
  tick();
});
$('[data-action="real-time"]').addEventListener("click", () => {
  clock.reset();
  notify("Clock back to real time.");
  tick();
});
$('[data-action="clear"]').addEventListener("click", () => {
  store.clear();
  notify("All counts cleared.");
  renderUsage();
});

// ---- the clock: countdowns, and the meters when a window ends --------------------------------

let shownDay = null;

function tick() {
  const now = clock.now();
  const iso = new Date(now).toISOString();
  setText($('[data-field="clock"]'), `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`);
  $('[data-field="clock"]').dateTime = iso;
  $('[data-field="clock-shifted"]').hidden = !clock.shifted;
  $('[data-action="real-time"]').disabled = !clock.shifted;
  const left = formatDuration(nextUtcMidnight(now) - now);
  for (const card of cards.values()) setText($('[data-field="resets-in"]', card), left);
  const day = iso.slice(0, 10);
  if (shownDay !== null && day > shownDay) {
    notify(`Midnight UTC passed: ${day} is a new window, every count starts at 0.`);
    for (const card of cards.values()) {
      if (card.dataset.status !== "denied") continue; // yesterday's denial no longer holds
      card.dataset.status = "idle";
      $('[data-field="status"]', card).textContent = "";
    }
  }
  shownDay = day;
  renderUsage();
}

if (useLocal) store.sweep(); // past days' items are dead weight in localStorage
$('[data-field="store-name"]').textContent = useLocal ? "localStorage (kept across reloads)" : "an in-page Map";
const loadNotes = [];
if (params.get("store") === "local" && !useLocal) loadNotes.push("localStorage is not available here: counts are kept in an in-page Map.");
if (parsed.problems.length) loadNotes.push(`Ignored in ?limits=: ${parsed.problems.join("; ")}.`);
if (loadNotes.length) notify(loadNotes.join(" "));
tick();
setInterval(tick, 250); // quarter-second ticks keep the countdown within a blink of the truth
document.documentElement.dataset.ready = "true"; // tests wait for this
