// Example worker: AI endpoints guarded by per-profile daily quotas.
//   POST /ai/:feature  Authorization: Bearer <token>  [Idempotency-Key: <key>]
//                      body (optional JSON): { prompt?, amount?, actualAmount?, simulateFailure? }
//   GET  /usage        Authorization: Bearer <token>
// The profile comes only from a token signed with env.QUOTA_TOKEN_SECRET (see token.js).
// Each profile's counters live in its own QuotaDurableObject, which serializes its reserves.
// `amount` is reserved up front (an estimate, e.g. of tokens); the model's reported usage
// (`actualAmount` stands in for it) settles the reservation. A retried request with the same
// Idempotency-Key is counted once. Responses carry the IETF RateLimit headers; a denial is the
// package's 429 problem+json.
import {
  QuotaDurableObject,
  quotaObject,
  QuotaError,
  rateLimitHeaders,
  quotaExceededResponse,
} from "wasm-quota/cloudflare";
import { verifyToken } from "./token.js";

export { QuotaDurableObject };

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    const ai = /^\/ai\/([^/]+)$/.exec(pathname);
    if (ai !== null) return request.method === "POST" ? guardedAi(request, env, ai[1]) : methodNotAllowed("POST");
    if (pathname === "/usage") return request.method === "GET" ? usage(request, env) : methodNotAllowed("GET");
    return json(404, { error: "not_found", message: "try POST /ai/:feature or GET /usage" });
  },
};

async function guardedAi(request, env, rawFeature) {
  const profile = await authenticate(request, env);
  if (profile instanceof Response) return profile;

  let feature, body;
  try {
    feature = decodeURIComponent(rawFeature);
    const text = await request.text();
    body = text === "" ? {} : JSON.parse(text);
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw new TypeError("the body must be a JSON object");
  } catch (err) {
    return json(400, { error: "invalid_request", message: err.message });
  }

  const quota = quotaObject(env.QUOTA, profile.id);
  const options = {};
  if (body.amount !== undefined) options.amount = body.amount;
  const idempotencyKey = request.headers.get("Idempotency-Key");
  if (idempotencyKey !== null) options.idempotencyKey = idempotencyKey;
  let decision;
  try {
    decision = await quota.reserve(profile, feature, options);
  } catch (err) {
    return quotaErrorResponse(err);
  }
  if (!decision.allowed) return quotaExceededResponse(decision);

  let result;
  try {
    result = await standInModel(feature, body);
  } catch (err) {
    // The model failed: give the slot back, so a failure costs the caller nothing.
    const released = decision.reservation !== undefined && (await releaseQuietly(quota, profile, decision.reservation));
    return json(502, { error: "ai_failed", message: err.message, released });
  }
  // The model reports what it really used: correct the estimate (at most once per reservation,
  // so a retried request does not settle twice).
  let settled = false;
  if (decision.reservation !== undefined && result.used !== undefined && result.used !== (body.amount ?? 1)) {
    try {
      settled = await quota.settle(profile, decision.reservation, result.used);
    } catch (err) {
      return quotaErrorResponse(err);
    }
  }
  const info = { ...quotaInfo(decision), ...(decision.replayed ? { replayed: true } : {}), ...(settled ? { settled: result.used } : {}) };
  return json(200, { feature, output: result.output, quota: info }, rateLimitHeaders(decision));
}

async function usage(request, env) {
  const profile = await authenticate(request, env);
  if (profile instanceof Response) return profile;
  try {
    return json(200, { profile: profile.id, usage: await quotaObject(env.QUOTA, profile.id).usage(profile.id) });
  } catch (err) {
    return quotaErrorResponse(err);
  }
}

// The caller's profile from a valid bearer token, or a 401 Response.
async function authenticate(request, env) {
  const secret = env.QUOTA_TOKEN_SECRET;
  if (typeof secret !== "string" || secret.length < 16) {
    return json(500, { error: "misconfigured", message: "QUOTA_TOKEN_SECRET is not set (16+ characters)" });
  }
  const m = /^Bearer ([^\s]+)$/.exec(request.headers.get("Authorization") ?? "");
  const claims = m === null ? null : await verifyToken(secret, m[1]);
  if (claims === null) {
    return json(401, { error: "unauthorized", message: "a valid signed bearer token is required" }, { "WWW-Authenticate": "Bearer" });
  }
  return { id: claims.sub, unlimited: claims.unlimited === true };
}

// A failed release must not hide the model's error; the slot then stays counted.
async function releaseQuietly(quota, profile, reservation) {
  try {
    await quota.release(profile, reservation);
    return true;
  } catch (err) {
    console.error("quota release failed", err);
    return false;
  }
}

// Stand-in for the real model call; `simulateFailure: true` makes it fail, to show the release,
// and `actualAmount` is the usage it reports, to show settle.
async function standInModel(feature, { prompt = "", simulateFailure = false, actualAmount }) {
  if (simulateFailure === true) throw new Error("the model call failed (simulated)");
  const output = `stand-in ${feature} result for ${JSON.stringify(String(prompt).slice(0, 200))}`;
  return { output, used: actualAmount };
}

function quotaInfo(d) {
  return d.unlimited ? { unlimited: true } : { limit: d.limit, used: d.used, remaining: d.remaining, resets_at: d.resetsAt };
}

function quotaErrorResponse(err) {
  if (!(err instanceof QuotaError)) throw err;
  const status = { UNKNOWN_FEATURE: 404, INVALID_ARGUMENT: 400 }[err.code] ?? 503;
  return json(status, { error: err.code.toLowerCase(), message: err.message });
}

function methodNotAllowed(allow) {
  return json(405, { error: "method_not_allowed" }, { Allow: allow });
}

function json(status, body, headers = {}) {
  return Response.json(body, { status, headers });
}
