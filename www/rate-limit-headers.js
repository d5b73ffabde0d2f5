// The response a worker would send for a decision: status line and headers, built by the
// package's own `rateLimitHeaders` and `quotaExceededResponse` (draft-ietf-httpapi-ratelimit-
// headers-11 syntax, 429 problem+json), exactly as a worker would call them.
//
// `nowMs` is explicit because the demo's clock may be shifted; a worker would use Date.now().
import { rateLimitHeaders, quotaExceededResponse } from "wasm-quota";

const STATUS_TEXT = { 200: "OK", 429: "Too Many Requests", 503: "Service Unavailable" };

export function responseFor(decision, nowMs) {
  // Unlimited decisions (home mode, an unlimited profile) advertise no quota: {}.
  const headers = rateLimitHeaders(decision, { now: nowMs });
  if (decision.allowed) return { status: 200, statusText: STATUS_TEXT[200], headers };
  const response = quotaExceededResponse(decision, { now: nowMs });
  return {
    status: response.status,
    statusText: STATUS_TEXT[response.status],
    headers: { "Content-Type": response.headers.get("Content-Type"), ...headers },
  };
}

/** The response head as it would appear on the wire. */
export function formatResponseHead({ status, statusText, headers }) {
  const lines = [`HTTP/1.1 ${status} ${statusText}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return lines.join("\n");
}
