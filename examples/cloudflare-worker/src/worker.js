// Example worker: AI endpoints guarded by per-profile daily quotas.
//   POST /ai/:feature  Authorization: Bearer <token>  [Idempotency-Key: <key>]
//                      body (optional JSON): { prompt?, simulateFailure? }
//   GET  /usage        Authorization: Bearer <token>
// The profile comes only from a token signed with env.QUOTA_TOKEN_SECRET (see token.js).
// Each profile's counters live in its own Durable Object, which serializes its reserves.
// What a call costs is the server's business: it reserves its own estimate and settles with
// the usage the (stand-in) model reports — never a figure from the client. A request with an
// Idempotency-Key runs once: its retries get the first response, 409 while it runs, 422 with
// another body; an attempt holds its key under a lease (see records.js), so a worker that dies
// mid-call blocks the key for the lease only. Responses carry the IETF RateLimit headers; a
// denial is the package's 429.
// A response whose key's record could not be written (each write is tried twice) is still the
// answer — the model's output, the denial, the 502, the reserve's error — and carries
// `Idempotency-Record-Error`: "finish" (this response is not kept for retries) or "forget" (the
// key was not freed). Either way the record stays running until its lease ends: a retry
// meanwhile gets 409 and runs nothing; a retry after it takes the key over and runs again
// (counted again). Forgetting the record after a failed finish would only let that second run
// happen sooner.
import { quotaObject, QuotaError, rateLimitHeaders, quotaExceededResponse } from "wasm-quota/cloudflare";
import { verifyToken } from "./token.js";
import { QuotaDurableObject, MAX_RESPONSE_CHARS } from "./requests.js";
import { withDeadline } from "./records.js";

export { QuotaDurableObject };

// Units a call may use, reserved up front; the model reports what it used. One by default.
// No prototype: the feature comes from the URL, and "constructor" or "__proto__" must find no
// estimate here (an inherited function as the amount was a 400, an object a 500), only the
// engine's 404 for an unknown feature.
const ESTIMATE = { __proto__: null, remix_suggestions: 3 };
const BODY_FIELDS = new Set(["prompt", "simulateFailure"]);
// How long an attempt holds its Idempotency-Key: env IDEMPOTENCY_LEASE_SECONDS, 60 by default.
// Its work gets the first three quarters and is abandoned past them (released, forgotten).
const DEFAULT_LEASE_SECONDS = 60;

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

  let feature, text, body;
  try {
    feature = decodeURIComponent(rawFeature);
    text = await request.text();
    body = text === "" ? {} : JSON.parse(text);
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw new TypeError("the body must be a JSON object");
    const unknown = Object.keys(body).find((k) => !BODY_FIELDS.has(k));
    // Usage is measured here, so a client's `amount` or `actualAmount` is refused, not trusted.
    if (unknown !== undefined) throw new TypeError(`unknown field "${unknown}"; the body takes prompt and simulateFailure`);
  } catch (err) {
    return json(400, { error: "invalid_request", message: err.message });
  }

  let quota;
  try {
    quota = quotaObject(env.QUOTA, profile.id);
  } catch (err) {
    return quotaErrorResponse(err); // an id the engine refuses: 400, as /usage answers it
  }
  const key = request.headers.get("Idempotency-Key");
  let leaseMs;
  try {
    leaseMs = leaseSeconds(env) * 1000;
  } catch (err) {
    return json(500, { error: "misconfigured", message: err.message });
  }
  let lease = null; // { owner, leaseUntil } of this attempt at `key`
  if (key !== null) {
    if (key.length === 0 || key.length > 256 || !key.isWellFormed()) {
      return json(400, { error: "invalid_request", message: "Idempotency-Key must be 1 to 256 characters" });
    }
    let seen;
    try {
      seen = await quota.beginRequest(key, await fingerprint(feature, text), leaseMs);
    } catch (err) {
      // Nothing ran. Had the record been written before the answer was lost, it ends with its lease.
      return quotaErrorResponse(err);
    }
    if (seen.state === "mismatch") return json(422, { error: "idempotency_key_reused", message: "this Idempotency-Key was used with another request" });
    if (seen.state === "running") return json(409, { error: "request_in_progress", message: "the first request with this Idempotency-Key is still running" });
    if (seen.state === "done") return respond(seen.response);
    lease = seen;
  }
  // Only this attempt's own record: one that outlived its lease cannot free its successor's.
  // Resolves to the failure to name (see recordOrLog), or undefined.
  const forget = () => (lease === null ? undefined : recordOrLog("forget", () => quota.forgetRequest(key, lease.owner)));

  // No engine idempotencyKey: the object's record already runs a key once per attempt. An
  // attempt that takes over a dead one's key is counted again (the dead one's count stays:
  // an over-count, never a free call).
  let decision;
  try {
    decision = await quota.reserve(profile, feature, { amount: ESTIMATE[feature] ?? 1 });
  } catch (err) {
    const recordError = await forget();
    return withRecordError(quotaErrorResponse(err), recordError);
  }
  if (!decision.allowed) {
    const recordError = await forget(); // a denial is not kept: a retry after the reset is asked again
    return withRecordError(quotaExceededResponse(decision), recordError);
  }

  let result;
  try {
    const budget = lease === null ? Infinity : lease.leaseUntil - leaseMs / 4 - Date.now();
    result = await withDeadline(standInModel(feature, body), budget);
  } catch (err) {
    // The model failed: give the slot back, so a failure costs the caller nothing.
    // Whatever the release does, the error answered is the model's; a failed one leaves the slot counted.
    const released = decision.reservation !== undefined && (await twiceOrLog("quota release", () => quota.release(profile, decision.reservation))).error === undefined;
    const recordError = await forget();
    return withRecordError(json(502, { error: "ai_failed", message: err.message, released }), recordError);
  }
  // The model reports what it used: correct the estimate. The model has run, so its output is
  // the response (kept for the key's retries) whatever the correction does.
  let info = quotaInfo(decision);
  if (decision.reservation !== undefined && result.used !== (ESTIMATE[feature] ?? 1)) {
    const { value: settled, error } = await twiceOrLog("quota settle", () => quota.settle(profile, decision.reservation, result.used));
    if (error !== undefined) info = { ...info, settled: false, settle_error: error instanceof QuotaError ? error.code.toLowerCase() : "settle_failed" };
    else if (settled) info = { ...info, settled: result.used };
  }
  const response = { status: 200, body: { feature, output: result.output, quota: info }, headers: rateLimitHeaders(decision) };
  if (lease === null) return respond(response);
  const recordError = await recordOrLog("finish", () => quota.finishRequest(key, lease.owner, response));
  return withRecordError(respond(response), recordError);
}

// IDEMPOTENCY_LEASE_SECONDS, a whole number of seconds from 1 to 3600 (default 60).
function leaseSeconds(env) {
  const raw = env.IDEMPOTENCY_LEASE_SECONDS;
  if (raw === undefined || raw === "") return DEFAULT_LEASE_SECONDS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 3600) throw new Error(`IDEMPOTENCY_LEASE_SECONDS must be 1 to 3600, got ${JSON.stringify(raw)}`);
  return n;
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

// What identifies a request's content: the same key with another fingerprint is a 422.
async function fingerprint(feature, text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${feature}\n${text}`));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

// Every write to the profile's object after the reserve changes its state at most once: a
// reservation is released or settled once, and a record is finished or forgotten only while
// its owner holds it running (records.js), so a second write after one that went through (and
// only its answer was lost) changes nothing, and a second try after a failure is safe. If that
// fails too, it is logged and returned as `error`: the slot or the estimate stays counted
// (never a free call), a record stays running until its lease ends.
async function twiceOrLog(what, write) {
  try {
    return { value: await write().catch(write) };
  } catch (err) {
    console.error(`${what} failed`, err);
    return { error: err };
  }
}

// The Idempotency-Record-Error to name when writing the key's record failed twice (`step`),
// or undefined.
async function recordOrLog(step, write) {
  const { error } = await twiceOrLog(`idempotency record: ${step} (the key stays running until its lease ends)`, write);
  return error === undefined ? undefined : step;
}

function withRecordError(response, recordError) {
  if (recordError !== undefined) response.headers.set("Idempotency-Record-Error", recordError);
  return response;
}

// Stand-in for the real model call: `simulateFailure: true` makes it fail, to show the release.
// It reports the units it used, as a model reports its tokens: remix_suggestions answers one
// suggestion per word of the prompt, up to the 3 reserved; every other feature uses 1.
async function standInModel(feature, { prompt = "", simulateFailure = false }) {
  if (simulateFailure === true) throw new Error("the model call failed (simulated)");
  const text = String(prompt).slice(0, 200);
  if (feature === "remix_suggestions") {
    const words = text.split(/\s+/).filter(Boolean).slice(0, ESTIMATE[feature]);
    const output = (words.length === 0 ? ["(empty)"] : words).map((w) => `a remix of ${JSON.stringify(w)}`);
    return { output, used: output.length };
  }
  const output = `stand-in ${feature} result for ${JSON.stringify(text)}`.slice(0, MAX_RESPONSE_CHARS / 2);
  return { output, used: 1 };
}

function quotaInfo(d) {
  return d.unlimited ? { unlimited: true } : { limit: d.limit, used: d.used, remaining: d.remaining, resets_at: d.resetsAt };
}

// The answer to a failed call to the profile's object. One without a code (the object was reset,
// by a deploy say, or the connection to it was lost) is the service's fault, not the request's:
// a logged 503 the client may retry, not the runtime's error page for an uncaught exception.
function quotaErrorResponse(err) {
  if (!(err instanceof QuotaError)) {
    console.error("quota object call failed", err);
    return json(503, { error: "quota_unavailable", message: "the quota service did not answer; try again" });
  }
  const status = { UNKNOWN_FEATURE: 404, INVALID_ARGUMENT: 400 }[err.code] ?? 503;
  return json(status, { error: err.code.toLowerCase(), message: err.message });
}

function respond({ status, body, headers }) {
  return json(status, body, headers);
}

function methodNotAllowed(allow) {
  return json(405, { error: "method_not_allowed" }, { Allow: allow });
}

function json(status, body, headers = {}) {
  return Response.json(body, { status, headers });
}
