// The README's examples must run as written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { execFileSync } from "node:child_process";

const root = new URL("../../", import.meta.url);

/** Runs the first ```js block after `heading` as its own module; returns what it printed. */
function runExample(heading, name) {
  const readme = readFileSync(new URL("README.md", root), "utf8");
  const section = readme.slice(readme.indexOf(heading));
  const code = section.match(/```js\n([\s\S]*?)```/)[1];
  mkdirSync(new URL("target/", root), { recursive: true });
  const file = new URL(`target/${name}.mjs`, root);
  writeFileSync(file, code);
  return execFileSync(process.execPath, [file.pathname], { encoding: "utf8" });
}

test("README 'Use it' example runs in Node as written", () => {
  assert.match(runExample("## Use it", "readme-example"), /remix: 1,\s+remix_suggestions: 0,/);
});

test("README 'Beyond the Django service' example runs in Node as written", () => {
  // First response, a concurrent retry (409), a later retry (the first response again), the same
  // key with another body (422), one model call counted at the usage it reported, a failed
  // model call whose slots were given back, and the 429 once the hour's tokens run out.
  assert.match(
    runExample("## Beyond the Django service", "readme-beyond"),
    /^200 "hourly";r=16000;t=\d+ 409\n200 an answer to hi\n422\n1234\nthe model failed 1234\n429 true\n$/,
  );
});
