// The names each entry's types export as values against the names the entry exports when a
// bundler resolves it for each host, from the installed tarball. A value the types declare and
// the entry lacks type-checks and then fails to bundle ("No matching export"); one the entry
// has and the types lack is a type error for working code.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { join } from "node:path";
import * as esbuild from "esbuild";
import { REPO, project } from "./helpers.mjs";

const DOM = ["lib.es2022.d.ts", "lib.dom.d.ts"];
const ts = createRequire(join(REPO, "package.json"))("typescript");

/** The value names `specifier`'s declarations export, as tsc resolves them in `dir` (with the
 *  DOM's fetch types for the main entry, Cloudflare's for wasm-quota/cloudflare). */
function typedValues(dir, specifier, { types = [], lib = ["lib.es2022.d.ts"] } = {}) {
  const file = join(dir, "exports.ts");
  const options = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib,
    types,
    skipLibCheck: false,
  };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  host.readFile = (name) => (name === file ? `export * as m from ${JSON.stringify(specifier)};\n` : read(name));
  const exists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || exists(name);
  const program = ts.createProgram([file], options, host);
  const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  assert.deepEqual(problems, [], `${specifier}'s types do not check`);
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  const module = checker.getSymbolAtLocation(source.statements[0].moduleSpecifier);
  return checker
    .getExportsOfModule(module)
    .filter((s) => {
      const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
      return (target.flags & ts.SymbolFlags.Value) !== 0 && !(s.flags & ts.SymbolFlags.Alias && checker.getTypeOnlyAliasDeclaration?.(s));
    })
    .map((s) => s.name)
    .sort();
}

/** The names `specifier` exports when bundled for `platform` with `conditions`. */
async function bundledNames(dir, specifier, platform, conditions) {
  const result = await esbuild.build({
    stdin: { contents: `export * from ${JSON.stringify(specifier)};`, resolveDir: dir, sourcefile: "entry.js" },
    bundle: true,
    write: false,
    metafile: true,
    format: "esm",
    platform,
    conditions,
    external: ["cloudflare:workers"],
    loader: { ".wasm": "file" },
    outdir: join(dir, "out"),
    logLevel: "silent",
  });
  const [output] = Object.values(result.metafile.outputs).filter((o) => o.entryPoint !== undefined);
  return [...output.exports].sort();
}

test("each entry exports at runtime exactly the values its types declare", async (t) => {
  const dir = await project(t, {}, { links: ["@cloudflare/workers-types"] });
  const main = typedValues(dir, "wasm-quota", { lib: DOM });
  assert.ok(main.includes("QuotaEngine"), main.join(", "));
  for (const [platform, conditions] of [["node", []], ["browser", []]]) {
    assert.deepEqual(await bundledNames(dir, "wasm-quota", platform, conditions), main, `wasm-quota for ${platform}`);
  }
  // In workerd the main entry carries the Workers parts too (README: "the main entry exports
  // the same"); their types are wasm-quota/cloudflare's.
  const workerdMain = await bundledNames(dir, "wasm-quota", "neutral", ["workerd"]);
  for (const name of main) assert.ok(workerdMain.includes(name), `wasm-quota in workerd lacks ${name}`);

  const cloudflare = typedValues(dir, "wasm-quota/cloudflare", { types: ["@cloudflare/workers-types"] });
  assert.deepEqual(await bundledNames(dir, "wasm-quota/cloudflare", "neutral", ["workerd"]), cloudflare, "wasm-quota/cloudflare in workerd");
  assert.deepEqual(workerdMain, cloudflare, "wasm-quota and wasm-quota/cloudflare in workerd");

  const redis = typedValues(dir, "wasm-quota/redis", { lib: DOM });
  assert.deepEqual(await bundledNames(dir, "wasm-quota/redis", "node", []), redis, "wasm-quota/redis");
});
