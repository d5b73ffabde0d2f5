// What `npm pack` puts in the tarball: every file the exports point at, the README and the
// licenses, and nothing from the build or the tests.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TARBALL, run, project } from "./helpers.mjs";

async function tarballFiles() {
  const { stdout } = await run("tar", ["-tzf", TARBALL]);
  return new Set(stdout.trim().split("\n").map((p) => p.replace(/^package\//, "")));
}

test("the tarball carries the README and both licenses", async () => {
  const files = await tarballFiles();
  for (const name of ["README.md", "LICENSE-MIT", "LICENSE-APACHE", "package.json", "wasm_quota_bg.wasm"]) {
    assert.ok(files.has(name), `${name} is not in the tarball`);
  }
});

test("every file the package's exports name is in the tarball", async () => {
  const files = await tarballFiles();
  const { stdout } = await run("tar", ["-xzOf", TARBALL, "package/package.json"]);
  const targets = [];
  const walk = (v) => (typeof v === "string" ? targets.push(v) : Object.values(v).forEach(walk));
  walk(JSON.parse(stdout).exports);
  for (const target of targets) assert.ok(files.has(target.replace(/^\.\//, "")), `exports names ${target}, not in the tarball`);
});

test("installed from the tarball, the package's README is the repo's", async (t) => {
  const dir = await project(t, {});
  const installed = await readFile(join(dir, "node_modules", "wasm-quota", "README.md"), "utf8");
  assert.equal(installed, await readFile(new URL("../../README.md", import.meta.url), "utf8"));
});

test("the public types are the hand-written ones: no wasm-bindgen declarations, no internal class", async () => {
  const files = await tarballFiles();
  const declarations = [...files].filter((f) => f.endsWith(".d.ts"));
  assert.ok(declarations.includes("types.d.ts"), declarations.join(", "));
  assert.ok(!files.has("wasm_quota.d.ts") && !files.has("wasm_quota_bg.wasm.d.ts"), declarations.join(", "));
  for (const file of declarations) {
    const { stdout } = await run("tar", ["-xzOf", TARBALL, `package/${file}`]);
    assert.doesNotMatch(stdout, /QuotaCore/, `${file} declares the internal QuotaCore`);
  }
});

test("the README's install command, run in a fresh project, installs the tarball `make pack` writes", async (t) => {
  // The package is not on the npm registry: a new user builds the tarball and installs that
  // file. The README gave no way to get the package into a project.
  const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
  const line = readme.match(/^npm install (\S*)\/target\/wasm-quota\.tgz$/m);
  assert.ok(line !== null, "README has no `npm install …/target/wasm-quota.tgz` line");
  assert.match(readme, /`make pack`/, "README does not say which command writes the tarball");
  const dir = await mkdtemp(join(tmpdir(), "wasm-quota-readme-install-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  // The README's command, with its placeholder for the repo's directory filled in.
  const [, ...args] = line[0].replace(`${line[1]}/target/wasm-quota.tgz`, TARBALL).split(" ");
  await run("npm", [...args, "--offline", "--no-audit", "--no-fund"], { cwd: dir });
  const use = 'import { QuotaEngine, MemoryStore } from "wasm-quota";\n' +
    'console.log(new QuotaEngine({ store: new MemoryStore(), limits: { remix: 1 } }).reserve({ id: 1 }, "remix").allowed);\n';
  await writeFile(join(dir, "app.mjs"), use);
  const { stdout } = await run(process.execPath, ["app.mjs"], { cwd: dir });
  assert.equal(stdout, "true\n");
});
