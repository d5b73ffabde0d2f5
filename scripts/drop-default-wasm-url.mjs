// wasm-bindgen's glue falls back to `new URL("wasm_quota_bg.wasm", import.meta.url)` when its
// init is given no module. Every entry gives it one (inline bytes, or the module workerd
// compiled), but Vite and webpack see the URL and copy the .wasm beside the bundle: 166 KB
// shipped and never fetched. This replaces the fallback with an error.
// Usage: node scripts/drop-default-wasm-url.mjs pkg/wasm_quota.js
import { readFileSync, writeFileSync } from "node:fs";

const file = process.argv[2];
const glue = readFileSync(file, "utf8");
const fallback = /module_or_path = new URL\('wasm_quota_bg\.wasm', import\.meta\.url\);/g;
const found = glue.match(fallback)?.length ?? 0;
if (found !== 1) throw new Error(`${file}: the default .wasm URL appears ${found} times, expected once; has the glue changed?`);
writeFileSync(file, glue.replace(fallback, `throw new Error("wasm-quota: init needs the module; every entry passes it");`));
