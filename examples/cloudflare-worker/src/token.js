// Signed bearer tokens: `<payload>.<signature>`, both base64url; the payload is JSON
// { sub: profileId, exp: seconds since the epoch, unlimited?: boolean }, the signature
// HMAC-SHA256 over the payload text with a secret only the server knows. The worker trusts the
// profile id in a token only when the signature checks out, never an id the client chooses.
// Web Crypto only, so the same file runs in workerd and in Node (tests, `make worker`).

const encoder = new TextEncoder();

function base64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64url(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    return Uint8Array.from(atob(text.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));
  } catch {
    return null; // a length no base64 text has
  }
}

function hmacKey(secret, usage) {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [usage]);
}

/** A token for `claims` ({ sub, unlimited? }), valid for `ttlSeconds`. */
export async function signToken(secret, claims, { ttlSeconds = 86_400, now = Date.now() } = {}) {
  const payload = base64url(encoder.encode(JSON.stringify({ ...claims, exp: Math.floor(now / 1000) + ttlSeconds })));
  const sig = await crypto.subtle.sign("HMAC", await hmacKey(secret, "sign"), encoder.encode(payload));
  return `${payload}.${base64url(new Uint8Array(sig))}`;
}

/** The token's claims when its signature is right and it has not expired; otherwise null. */
export async function verifyToken(secret, token, { now = Date.now() } = {}) {
  const [payload, sig, extra] = String(token).split(".");
  if (!payload || !sig || extra !== undefined) return null;
  const sigBytes = fromBase64url(sig);
  const payloadBytes = fromBase64url(payload);
  if (sigBytes === null || payloadBytes === null) return null;
  // crypto.subtle.verify compares in constant time.
  if (!(await crypto.subtle.verify("HMAC", await hmacKey(secret, "verify"), sigBytes, encoder.encode(payload))))
    return null;
  let claims;
  try {
    claims = JSON.parse(new TextDecoder().decode(payloadBytes));
  } catch {
    return null;
  }
  if (claims === null || typeof claims !== "object" || !Number.isFinite(claims.exp)) return null;
  return claims.exp * 1000 > now ? claims : null;
}
