// wasm-bindgen 0.2.130 writes one `import * as importN from "./runtime.js"` per function the
// .wasm imports directly from that module, and then lists the module once per import in the
// imports object: `{ "./runtime.js": import1, "./runtime.js": import2 }`. The values are the
// same namespace, but every bundler (esbuild, wrangler, Vite) warns about the duplicate key.
// This rewrites the glue to import each module once. Usage: node scripts/merge-glue-imports.mjs pkg/wasm_quota.js
import { readFileSync, writeFileSync } from "node:fs";

const file = process.argv[2];
let glue = readFileSync(file, "utf8");
const first = new Map(); // module -> the first namespace name that imports it
for (const [line, name, module] of glue.matchAll(/^import \* as (import\d+) from "([^"]+)";?\n/gm)) {
  if (!first.has(module)) {
    first.set(module, name);
    continue;
  }
  glue = glue.replace(line, "");
  // The duplicate entry of the imports object, e.g. `        "./runtime.js": import2,\n`.
  const entry = new RegExp(`^\\s*"${module.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}": ${name},?\\n`, "m");
  if (!entry.test(glue)) throw new Error(`${file}: no imports-object entry for ${name} (${module}); has the glue changed?`);
  glue = glue.replace(entry, "");
}
for (const [module, name] of first) {
  const uses = glue.split(`"${module}": `).length - 1;
  if (uses !== 1) throw new Error(`${file}: "${module}" appears ${uses} times in the imports object, expected once (${name})`);
}
writeFileSync(file, glue);
