// What the .wasm holds: function bodies by size, and their bytes per crate, read from a build
// that keeps its name section (`make size` makes one: wasm-opt -Oz -g, the flags of `make
// build` except the stripping). Sizes are of bodies after inlining: a function inlined into
// its callers counts in theirs.
//
//   node scripts/wasm-sizes.mjs target/size/wasm_quota_bg.wasm [how many functions: 40]
import { readFileSync } from "node:fs";

const [file, top = "40"] = process.argv.slice(2);
const wasm = readFileSync(file);
let at = 8; // past the magic number and version

function leb() {
  let value = 0;
  let shift = 0;
  let byte;
  do {
    byte = wasm[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return value;
}

function text() {
  const length = leb();
  at += length;
  return wasm.toString("utf8", at - length, at);
}

let importedFunctions = 0;
const bodies = [];
const names = new Map();
const sections = [];
while (at < wasm.length) {
  const id = wasm[at++];
  const length = leb();
  const end = at + length;
  let name = ["custom", "type", "import", "function", "table", "memory", "global", "export",
    "start", "element", "code", "data", "data count"][id] ?? `section ${id}`;
  if (id === 0) {
    name = text();
    while (name === "name" && at < end) {
      const kind = wasm[at++];
      const subsectionEnd = leb() + at;
      for (let n = kind === 1 ? leb() : 0; n > 0; n--) names.set(leb(), text());
      at = subsectionEnd;
    }
  } else if (id === 2) {
    for (let n = leb(); n > 0; n--) {
      text(); // module
      text(); // field
      const kind = wasm[at++];
      if (kind === 0) {
        leb();
        importedFunctions++;
      } else if (kind === 1) {
        at++; // element type
        if (wasm[at++] & 1) leb();
        leb();
      } else if (kind === 2) {
        if (wasm[at++] & 1) leb();
        leb();
      } else {
        at += 2; // global: value type, mutability
      }
    }
  } else if (id === 10) {
    for (let n = leb(); n > 0; n--) {
      const size = leb();
      bodies.push(size);
      at += size;
    }
  }
  sections.push([name, length]);
  at = end;
}

/// The crate a (demangled) function name belongs to: the first path segment of the impl's
/// type or of the function, hashes and generic arguments dropped.
function crateOf(name) {
  let path = name.replace(/^<+/, "").replace(/\[[0-9a-f]+\]/g, "");
  // `<u64 as core::fmt::Display>::fmt`, `<&T as …>`: the trait's crate.
  if (/^(&|\*const |\*mut )?([iuf](8|16|32|64|128|size)|bool|str|char|T|\(\))\b/.test(path)) {
    path = path.slice(path.indexOf(" as ") + 4);
  }
  const crate = path.match(/^[A-Za-z_][A-Za-z0-9_]*/)?.[0] ?? "?";
  if (crate === "wasm_quota") return path.match(/^wasm_quota::[a-z_]+::[a-z_]+/)?.[0] ?? crate;
  if (!path.includes("::")) return "(exports, shims and glue)";
  return crate;
}

const functions = bodies.map((size, i) => ({ size, name: names.get(importedFunctions + i) ?? `#${importedFunctions + i}` }));
const code = bodies.reduce((sum, size) => sum + size, 0);
console.log(`${file}: ${wasm.length} bytes (name section included)`);
console.log(`sections: ${sections.map(([n, l]) => `${n} ${l}`).join(", ")}`);
console.log(`${functions.length} functions, ${code} bytes of code\n\nbytes of code by crate (wasm_quota by module):`);
const byCrate = new Map();
for (const { size, name } of functions) {
  const crate = crateOf(name);
  byCrate.set(crate, (byCrate.get(crate) ?? 0) + size);
}
for (const [crate, size] of [...byCrate].sort((a, b) => b[1] - a[1])) {
  console.log(`${String(size).padStart(8)}  ${crate}`);
}
console.log(`\nthe ${top} largest functions:`);
for (const { size, name } of functions.sort((a, b) => b.size - a.size).slice(0, Number(top))) {
  console.log(`${String(size).padStart(8)}  ${name.length > 150 ? `${name.slice(0, 147)}...` : name}`);
}
