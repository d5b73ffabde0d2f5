// Runs a worker described by a wrangler.toml in workerd through Miniflare, as `wrangler dev`
// would: bundled with esbuild under the "workerd" condition, .wasm imports as compiled
// modules, vars, Durable Object bindings (SQLite-backed per `new_sqlite_classes`) and KV
// namespaces from the toml. Used by `make worker` and by the workerd tests.
import { readFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { parse } from "smol-toml";

// What wrangler bundles with: Workers conditions, .wasm left as separate CompiledWasm modules.
export async function bundleWorker(entry) {
  const wasm = new Map(); // module name -> absolute path
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["cloudflare:*", "node:*"],
    outfile: "worker.js",
    logLevel: "silent",
    plugins: [
      {
        name: "compiled-wasm",
        setup(b) {
          b.onResolve({ filter: /\.wasm$/ }, (args) => {
            const path = resolve(args.resolveDir, args.path);
            const name = basename(path);
            wasm.set(name, path);
            return { path: `./${name}`, external: true };
          });
        },
      },
    ],
  });
  const modules = [{ type: "ESModule", path: "/worker.js", contents: result.outputFiles[0].text }];
  for (const [name, path] of wasm) modules.push({ type: "CompiledWasm", path: `/${name}`, contents: await readFile(path) });
  return modules;
}

// Miniflare options for the worker whose wrangler.toml is `tomlPath`. `persist`: a directory
// for Durable Object and KV data (default: in memory). `bindings`: extra vars and secrets.
export async function workerOptions(tomlPath, { persist, bindings = {}, port, host = "127.0.0.1" } = {}) {
  const dir = dirname(tomlPath);
  const toml = parse(await readFile(tomlPath, "utf8"));
  const sqlite = new Set((toml.migrations ?? []).flatMap((m) => m.new_sqlite_classes ?? []));
  const durableObjects = {};
  for (const b of toml.durable_objects?.bindings ?? []) {
    durableObjects[b.name] = { className: b.class_name, useSQLite: sqlite.has(b.class_name) };
  }
  const kvNamespaces = Object.fromEntries((toml.kv_namespaces ?? []).map((k) => [k.binding, k.id ?? k.binding]));
  return {
    modules: await bundleWorker(join(dir, toml.main)),
    modulesRoot: "/",
    compatibilityDate: toml.compatibility_date,
    compatibilityFlags: toml.compatibility_flags ?? [],
    bindings: { ...toml.vars, ...bindings },
    durableObjects,
    kvNamespaces,
    durableObjectsPersist: persist === undefined ? false : join(persist, "do"),
    kvPersist: persist === undefined ? false : join(persist, "kv"),
    host,
    ...(port === undefined ? {} : { port }),
  };
}

/** A started Miniflare for the worker of `tomlPath` (see workerOptions). */
export async function startWorker(tomlPath, options) {
  const mf = new Miniflare(await workerOptions(tomlPath, options));
  await mf.ready;
  return mf;
}
