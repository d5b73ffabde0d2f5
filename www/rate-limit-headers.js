// The response a worker would send for a decision: status line and headers. This is the one
// place that knows the header syntax (draft-ietf-httpapi-ratelimit-headers-11), so it can be
// swapped for the package's own `rateLimitHeaders(decision)` once the package exports it.
//
// `nowMs` is explicit because the demo's clock may be shifted; a worker would use Date.now().

const WINDOW_SECONDS = 86_400; // the seed's window: one UTC day

export function responseFor(decision, nowMs) {
  if (decision.unlimited) {
    // Home mode or an unlimited profile: nothing is metered, so no quota is advertised.
    return { status: 200, statusText: "OK", headers: {} };
  }
  const secondsToReset = Math.max(0, Math.ceil((Date.parse(decision.resetsAt) - nowMs) / 1000));
  const headers = {
    "RateLimit-Policy": `"daily";q=${decision.limit};w=${WINDOW_SECONDS}`,
    RateLimit: `"daily";r=${decision.remaining};t=${secondsToReset}`,
  };
  if (decision.allowed) return { status: 200, statusText: "OK", headers };
  return {
    status: 429,
    statusText: "Too Many Requests",
    // The engine already computed the wait; a denial always carries it.
    headers: { "Retry-After": String(decision.retryAfter), ...headers },
  };
}

/** The response head as it would appear on the wire. */
export function formatResponseHead({ status, statusText, headers }) {
  const lines = [`HTTP/1.1 ${status} ${statusText}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return lines.join("\n");
}
