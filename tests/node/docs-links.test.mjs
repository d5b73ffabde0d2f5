// Every relative link in the repository's documents names a file that exists and, with a
// `#fragment`, a heading or `<a id>` in it: sections move between README.md and
// bench/RESULTS.md, and a link left behind sends a reader nowhere.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const DOCUMENTS = ["README.md", "DEVELOPERS.md", "bench/RESULTS.md"];

/** A heading's anchor as GitHub spells it: lower case, punctuation dropped, spaces as '-'. */
export function slug(heading) {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, "").replaceAll(" ", "-");
}

/** The anchors a Markdown text defines: its headings outside code blocks, and `<a id>`s. */
export function anchors(text) {
  const found = new Set();
  let inCode = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("```")) inCode = !inCode;
    const heading = !inCode && line.match(/^#{1,6} (.*)$/);
    if (heading) found.add(slug(heading[1]));
  }
  for (const [, id] of text.matchAll(/<a id="([^"]+)"/g)) found.add(id);
  return found;
}

/** `[text](target)` links of `text` that lead nowhere, read from `file` (relative to root). */
export function brokenLinks(file, text, read = (f) => readFileSync(join(root, f), "utf8")) {
  const broken = [];
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
    const [path, fragment] = target.split("#");
    const linked = path ? normalize(join(dirname(file), path)) : file;
    if (!existsSync(join(root, linked))) broken.push(`${target} (no file ${linked})`);
    else if (fragment && linked.endsWith(".md") && !anchors(read(linked)).has(fragment)) {
      broken.push(`${target} (no heading or <a id> "${fragment}" in ${linked})`);
    }
  }
  return broken;
}

for (const file of DOCUMENTS) {
  test(`${file}: every relative link leads to a file and a heading that exist`, () => {
    assert.deepEqual(brokenLinks(file, readFileSync(join(root, file), "utf8")), []);
  });
}

test("a link to a heading that moved away is reported", () => {
  const text = "[gone](#no-such-heading) [here](#size) [file](bench/NOPE.md) [other](bench/RESULTS.md#the-quiet-runs)";
  assert.deepEqual(brokenLinks("README.md", text), [
    "#no-such-heading (no heading or <a id> \"no-such-heading\" in README.md)",
    "bench/NOPE.md (no file bench/NOPE.md)",
  ]);
  assert.equal(slug("Beyond the Django service: windows, policies, settle, idempotency, headers"),
    "beyond-the-django-service-windows-policies-settle-idempotency-headers");
  assert.equal(slug("`RedisStore` (Node)"), "redisstore-node");
});
