// TypeScript from the installed tarball: the Worker of tests/types/worker (written as Cloudflare
// documents it: DurableObjectNamespace<QuotaDurableObject>, typed RPC, an engine at module
// scope), checked against @cloudflare/workers-types with skipLibCheck: false and lib ES2022.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { bin, project, run } from "./helpers.mjs";

const source = (name) => readFile(new URL(`../types/worker/${name}`, import.meta.url), "utf8");

test("a TypeScript Worker type-checks against the installed package and @cloudflare/workers-types", async (t) => {
  const tsconfig = JSON.parse(await source("tsconfig.json"));
  assert.equal(tsconfig.compilerOptions.skipLibCheck, false);
  assert.deepEqual(tsconfig.compilerOptions.lib, ["ES2022"]);
  tsconfig.files = ["worker.ts"];
  const dir = await project(
    t,
    { "tsconfig.json": JSON.stringify(tsconfig), "worker.ts": await source("worker.ts") },
    { links: ["@cloudflare/workers-types"] },
  );
  const { stdout } = await run(bin("tsc"), ["-p", "."], { cwd: dir }).catch((err) => assert.fail(err.stdout + err.stderr));
  assert.equal(stdout, "");
});

test("the README's TypeScript Worker type-checks as written", async (t) => {
  const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
  const code = readme.slice(readme.indexOf("In **TypeScript**")).match(/```ts\n([\s\S]*?)```/)[1];
  const tsconfig = JSON.parse(await source("tsconfig.json"));
  tsconfig.files = ["readme.ts"];
  const dir = await project(
    t,
    { "tsconfig.json": JSON.stringify(tsconfig), "readme.ts": code },
    { links: ["@cloudflare/workers-types"] },
  );
  const { stdout } = await run(bin("tsc"), ["-p", "."], { cwd: dir }).catch((err) => assert.fail(err.stdout + err.stderr));
  assert.equal(stdout, "");
});

test("the README's store contract is the package's QuotaStore: each accepts the stores the other does", async (t) => {
  const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
  const contract = readme.slice(readme.indexOf("## The store contract")).match(/```ts\n([\s\S]*?)```/)[1];
  const check = `import type { QuotaStore as PackageStore } from "wasm-quota";
${contract}
export const fromReadme = (s: QuotaStore): PackageStore => s;
export const fromPackage = (s: PackageStore): QuotaStore => s;
`;
  const tsconfig = JSON.parse(await source("tsconfig.json"));
  tsconfig.files = ["store.ts"];
  const dir = await project(t, { "tsconfig.json": JSON.stringify(tsconfig), "store.ts": check }, { links: ["@cloudflare/workers-types"] });
  const { stdout } = await run(bin("tsc"), ["-p", "."], { cwd: dir }).catch((err) => assert.fail(err.stdout + err.stderr));
  assert.equal(stdout, "");
});

test("in a Node project (lib ES2022, @types/node, no DOM) the package's types check: tests/types as a Node user compiles it", async (t) => {
  // The main entry's types name fetch's Response and Headers, which Node's types declare too;
  // a name only the DOM library has (HeadersInit) failed there with skipLibCheck: false.
  const tsconfig = JSON.parse(await readFile(new URL("../types/tsconfig.json", import.meta.url), "utf8"));
  tsconfig.compilerOptions.lib = ["ES2022"];
  tsconfig.compilerOptions.types = ["node"];
  assert.equal(tsconfig.compilerOptions.skipLibCheck, false);
  const files = {};
  for (const name of tsconfig.files) files[name] = await readFile(new URL(`../types/${name}`, import.meta.url), "utf8");
  const dir = await project(t, { "tsconfig.json": JSON.stringify(tsconfig), ...files }, { links: ["@types/node"] });
  const { stdout } = await run(bin("tsc"), ["-p", "."], { cwd: dir }).catch((err) => assert.fail(err.stdout + err.stderr));
  assert.equal(stdout, "");
});

/** The first ```js block after `marker` in the README. */
async function jsBlock(marker) {
  const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
  const at = readme.indexOf(marker);
  assert.ok(at >= 0, `README has no ${marker}`);
  return readme.slice(at).match(/```js\n([\s\S]*?)```/)[1];
}

test("the README's JavaScript examples type-check as TypeScript, as written", async (t) => {
  // A TypeScript user copies them: the decision's fields they read (`reservation`, `degraded`,
  // `replayed`) on any decision, and, over MemoryStore, results without `await`, as the README
  // says a synchronous store answers.
  const node = JSON.parse(await readFile(new URL("../types/tsconfig.json", import.meta.url), "utf8"));
  node.compilerOptions.lib = ["ES2022"];
  node.compilerOptions.types = ["node"];
  node.files = ["use.ts", "store-fails.ts"];
  const storeFails =
    'import { QuotaEngine, type Limits, type Profile, type QuotaStore } from "wasm-quota";\n' +
    "declare const store: QuotaStore, limits: Limits, profile: Profile;\n" +
    (await jsBlock("### When the store fails")) +
    "export {};\n";
  const workers = JSON.parse(await source("tsconfig.json"));
  workers.files = ["worker.ts"];
  const dir = await project(
    t,
    {
      "tsconfig.json": JSON.stringify(node),
      "tsconfig.worker.json": JSON.stringify(workers),
      "use.ts": (await jsBlock("## Use it")) + "export {};\n",
      "store-fails.ts": storeFails,
      "worker.ts": await jsBlock("Make the engine once, at module scope"),
    },
    { links: ["@types/node", "@cloudflare/workers-types"] },
  );
  for (const config of ["tsconfig.json", "tsconfig.worker.json"]) {
    const { stdout } = await run(bin("tsc"), ["-p", config], { cwd: dir }).catch((err) => assert.fail(`${config}:\n${err.stdout}${err.stderr}`));
    assert.equal(stdout, "");
  }
});
