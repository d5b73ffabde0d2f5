// HTTP helpers for decisions: the IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers-11
// syntax) and a 429 problem+json response. Plain JS: formatting strings costs no .wasm bytes.

/** Nominal window lengths for `w=` (a calendar month counts as 30 days). */
const WINDOW_SECONDS = { hour: 3600, day: 86400, week: 604800, month: 2592000 };

function checkDecision(decision, fn) {
  if (decision === null || typeof decision !== "object" || typeof decision.allowed !== "boolean") {
    throw new TypeError(`${fn}: expected a decision from QuotaEngine`);
  }
}

/** A policy name as a structured-field string: `"daily"`. */
function sfString(s) {
  return `"${String(s).replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Whole seconds from `now` (ms, or a clock function) to the RFC 3339 instant `at`. */
function secondsTo(at, now) {
  const nowMs = typeof now === "function" ? now() : now;
  return Math.max(0, Math.ceil((Date.parse(at) - nowMs) / 1000));
}

/**
 * `{ "RateLimit-Policy": '"daily";q=10;w=86400', "RateLimit": '"daily";r=3;t=3600' }`, plus
 * `Retry-After` on a denial (not on one whose amount is over the whole limit: `retryAfter`
 * null, waiting never helps). Empty for unlimited and degraded decisions, which have no figures.
 * `now` (ms, or a clock function; default Date.now) gives `t` for allowed decisions.
 */
export function rateLimitHeaders(decision, { now = Date.now } = {}) {
  checkDecision(decision, "rateLimitHeaders");
  if (decision.unlimited || decision.degraded) return {};
  const name = sfString(decision.policy ?? "daily");
  const w = WINDOW_SECONDS[decision.window ?? "day"];
  // A denial that can never fit (retryAfter null) has nothing to wait for: no Retry-After; its
  // window still resets, which `t` says.
  const waits = !decision.allowed && decision.retryAfter !== null;
  const t = waits ? decision.retryAfter : secondsTo(decision.resetsAt, now);
  const headers = {
    "RateLimit-Policy": `${name};q=${decision.limit};w=${w}`,
    RateLimit: `${name};r=${decision.remaining};t=${t}`,
  };
  if (waits) headers["Retry-After"] = String(decision.retryAfter);
  return headers;
}

/**
 * A `Response` for a denied decision: 429 with an RFC 9457 `application/problem+json` body and
 * the RateLimit headers; a degraded denial (the store was down) is a 503 instead, since the
 * quota itself is unknown. Options: `now` as for rateLimitHeaders, `type`, `title`, `detail`
 * to override the problem's members, `headers` to add more.
 */
export function quotaExceededResponse(decision, options = {}) {
  checkDecision(decision, "quotaExceededResponse");
  if (decision.allowed) throw new TypeError("quotaExceededResponse: the decision was allowed");
  const degraded = Boolean(decision.degraded);
  const status = degraded ? 503 : 429;
  const problem = degraded
    ? {
        type: "about:blank",
        title: "Service Unavailable",
        status,
        detail: `The quota for "${decision.feature}" cannot be checked right now.`,
        feature: decision.feature,
      }
    : {
        type: "about:blank",
        title: "Too Many Requests",
        status,
        detail: decision.retryAfter === null
          ? `The request for "${decision.feature}" is larger than the whole limit of ${decision.limit}${
              decision.policy ? ` (${decision.policy})` : ""
            }: it can never fit.`
          : `Quota exceeded for "${decision.feature}": ${decision.used} of ${decision.limit} used${
              decision.policy ? ` (${decision.policy})` : ""
            }; it resets at ${decision.resetsAt}.`,
        feature: decision.feature,
        ...(decision.policy ? { policy: decision.policy } : {}),
        limit: decision.limit,
        used: decision.used,
        remaining: decision.remaining,
        resetsAt: decision.resetsAt,
        retryAfter: decision.retryAfter,
      };
  for (const member of ["type", "title", "detail"]) {
    if (options[member] !== undefined) problem[member] = String(options[member]);
  }
  const headers = new Headers(options.headers);
  for (const [name, value] of Object.entries(rateLimitHeaders(decision, options))) headers.set(name, value);
  headers.set("Content-Type", "application/problem+json");
  return new Response(JSON.stringify(problem), { status, headers });
}
