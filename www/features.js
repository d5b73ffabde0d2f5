// The features on the page: the Django service's six AI features with their default daily
// limits (and the `?limits=` link syntax for them), plus two that show what the engine does
// beyond daily counts: one metered in tokens, one under an hourly and a daily policy at once.

export const FEATURES = [
  { name: "remix", title: "Remix" },
  { name: "remix_suggestions", title: "Remix suggestions" },
  { name: "scale", title: "Scale" },
  { name: "tips", title: "Tips" },
  { name: "discover", title: "Discover" },
  { name: "timer", title: "Timer" },
];

export const DEFAULT_LIMITS = { remix: 10, remix_suggestions: 20, scale: 10, tips: 20, discover: 10, timer: 10 };

const KNOWN = new Set(FEATURES.map((f) => f.name));

/**
 * Reads `remix:3,tips:2` over the defaults. Bad entries are reported and skipped, so a
 * mistyped shared link still opens a working page.
 * @returns {{ limits: Record<string, number>, problems: string[] }}
 */
export function parseLimitsParam(text, defaults = DEFAULT_LIMITS) {
  const limits = { ...defaults };
  const problems = [];
  for (const entry of (text ?? "").split(",")) {
    if (entry.trim() === "") continue;
    const [name, value, extra] = entry.split(":").map((s) => s.trim());
    if (!KNOWN.has(name)) {
      problems.push(`"${entry}": unknown feature`);
    } else if (extra !== undefined || !/^\d{1,15}$/.test(value ?? "")) {
      problems.push(`"${entry}": the limit must be a whole number of 0 or more`);
    } else {
      limits[name] = Number(value);
    }
  }
  return { limits, problems };
}

/** The `?limits=` value for the limits that differ from the defaults ("" when none do). */
export function formatLimitsParam(limits, defaults = DEFAULT_LIMITS) {
  return FEATURES.filter((f) => limits[f.name] !== defaults[f.name])
    .map((f) => `${f.name}:${limits[f.name]}`)
    .join(",");
}

/**
 * Counted in tokens per UTC day. A run reserves the call's `max_tokens` (the most it can cost),
 * then settles with what the model reports, so the meter ends at the real usage.
 */
export const TOKEN_FEATURE = { name: "chat", title: "Assistant chat", limit: 20_000, estimate: 2_000 };

/** Under two policies at once: a reserve must pass both, and counts in both or neither. */
export const POLICY_FEATURE = {
  name: "images",
  title: "Image generation",
  policies: [
    { name: "hourly", window: "hour", limit: 5, label: "This hour" },
    { name: "daily", window: "day", limit: 20, label: "Today" },
  ],
};

/** The engine's policy objects for the two-policy feature (without the page's labels). */
export const enginePolicies = () => POLICY_FEATURE.policies.map(({ name, window, limit }) => ({ name, window, limit }));

/** Every feature's limits for the engine: the editable daily ones plus the two fixed features. */
export function engineLimits(daily) {
  return { ...daily, [TOKEN_FEATURE.name]: TOKEN_FEATURE.limit, [POLICY_FEATURE.name]: enginePolicies() };
}

/** Every feature in page order, for the timeline's lanes. */
export const ALL_FEATURES = [...FEATURES, TOKEN_FEATURE, POLICY_FEATURE].map(({ name, title }) => ({ name, title }));
