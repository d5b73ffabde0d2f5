// The seed's six AI features, their default daily limits, and the `?limits=` link syntax.

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
