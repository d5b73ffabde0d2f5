// Stands in for the real AI request: a wait, then failure (when the page's switch says so) or
// an answer that reports how many tokens it used, at most the `maxTokens` it was allowed — as
// a model API caps its output at `max_tokens`.

export const DEFAULT_LATENCY_MS = 600; // long enough to see calls in flight, short enough not to bore
const MAX_LATENCY_MS = 60_000;

/** `?latency=` in ms (0 to 60000); anything else is the default. */
export function parseLatency(text) {
  return /^\d{1,5}$/.test(text ?? "") && Number(text) <= MAX_LATENCY_MS ? Number(text) : DEFAULT_LATENCY_MS;
}

/**
 * @param {{ fail: boolean, latencyMs: number, maxTokens?: number }} call
 * @returns {Promise<{ tokens: number }>} tokens: between a quarter of maxTokens and all of it
 */
export function standInAiCall({ fail, latencyMs, maxTokens = 1 }) {
  return new Promise((resolve, reject) =>
    setTimeout(() => (fail ? reject(new Error("stand-in AI call failed")) : resolve({ tokens: tokensUsed(maxTokens) })), latencyMs),
  );
}

function tokensUsed(maxTokens) {
  const [random] = crypto.getRandomValues(new Uint32Array(1)); // drawn per call, never at load
  return Math.max(1, Math.round(maxTokens * (0.25 + (0.75 * random) / 2 ** 32)));
}
