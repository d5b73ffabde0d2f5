import type { Decision } from "./types.js";

/**
 * Header name → value, so `new Headers(...)` or a Response's `headers` takes it as is:
 * `RateLimit-Policy` (`"daily";q=10;w=86400`, draft-ietf-httpapi-ratelimit-headers-11),
 * `RateLimit` (`"daily";r=3;t=3600`) and, on denials only, `Retry-After` (whole seconds; not
 * when the amount is over the whole limit, `retryAfter: null`: waiting never helps).
 * Empty for unlimited and degraded decisions.
 */
export type RateLimitHeaders = Record<string, string>;

export interface HeaderOptions {
  /** ms since the epoch, or a clock returning it (default Date.now): `t` of allowed decisions
   *  and of denials that can never fit. */
  now?: number | (() => number);
}

export interface ProblemOptions extends HeaderOptions {
  type?: string;
  title?: string;
  detail?: string;
  /** More headers for the response: what `new Headers()` takes. Written through the global
   *  `Headers` (the DOM's, Node's or Cloudflare's), not the DOM-only `HeadersInit`. */
  headers?: ConstructorParameters<typeof Headers>[0];
}

/** The RateLimit fields (and Retry-After on a denial that may fit later); `{}` for unlimited or
 *  degraded decisions. */
export function rateLimitHeaders(decision: Decision, options?: HeaderOptions): RateLimitHeaders;

/** 429 (503 for a degraded denial) with an application/problem+json body and the RateLimit headers. Throws TypeError for an allowed decision. */
export function quotaExceededResponse(decision: Decision, options?: ProblemOptions): Response;
