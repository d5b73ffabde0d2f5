// The README's first example must run as written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { execFileSync } from "node:child_process";

const root = new URL("../../", import.meta.url);

test("README 'Use it' example runs in Node as written", () => {
  const readme = readFileSync(new URL("README.md", root), "utf8");
  const section = readme.slice(readme.indexOf("## Use it"));
  const code = section.match(/```js\n([\s\S]*?)```/)[1];
  mkdirSync(new URL("target/", root), { recursive: true });
  const file = new URL("target/readme-example.mjs", root);
  writeFileSync(file, code);
  const out = execFileSync(process.execPath, [file.pathname], { encoding: "utf8" });
  assert.match(out, /remix: 1,\s+remix_suggestions: 0,/);
});

test("README 'Beyond the seed' example runs in Node as written", () => {
  const readme = readFileSync(new URL("README.md", root), "utf8");
  const section = readme.slice(readme.indexOf("## Beyond the seed"));
  const code = section.match(/```js\n([\s\S]*?)```/)[1];
  mkdirSync(new URL("target/", root), { recursive: true });
  const file = new URL("target/readme-beyond.mjs", root);
  writeFileSync(file, code);
  const out = execFileSync(process.execPath, [file.pathname], { encoding: "utf8" });
  assert.match(out, /^200 "hourly";r=16000;t=\d+\n1234\n$/);
});
