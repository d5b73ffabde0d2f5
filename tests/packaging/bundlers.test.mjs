// The package bundled as users bundle it, from the installed tarball in a fresh project:
// esbuild, Vite and webpack browser bundles loaded in Chromium, and an esbuild node bundle run from a
// copy of its output folder (nothing left to find in node_modules).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { REPO, TARBALL, bin, project, run, serveStatic } from "./helpers.mjs";

// What a user writes: the package by its name, an engine, one reserve over the limit.
const APP = `import { QuotaEngine, MemoryStore } from "wasm-quota";
const engine = new QuotaEngine({ store: new MemoryStore(), limits: { remix: 2 } });
const decisions = [1, 2, 3].map(() => engine.reserve({ id: "visitor" }, "remix"));
const result = decisions.map((d) => d.allowed).join(",") + " " + decisions[2].limit;
if (typeof document === "undefined") console.log(result);
else document.body.dataset.result = result;
`;
const EXPECTED = "true,true,false 2";
const PAGE = (script) => `<!doctype html><html><body><script type="module" src="${script}"></script></body></html>`;

let browser;
before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
after(() => browser?.close());

/**
 * Serves `dir`, opens `path` in a fresh page; resolves to what `read` finds in the page once it
 * is there (by default the app's `data-result`) and the console errors, page errors and failed
 * requests (the browser's own favicon request aside).
 */
async function load(t, dir, path, read = () => document.body.dataset.result) {
  const base = await serveStatic(t, dir);
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => m.type() === "error" && !/favicon/.test(m.location().url) && problems.push(`console: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("response", (r) => r.status() >= 400 && !r.url().endsWith("/favicon.ico") && problems.push(`HTTP ${r.status()}: ${r.url()}`));
  await page.goto(base + path);
  await page.waitForFunction(read, null, { timeout: 15_000 }).catch(() => {});
  return { result: await page.evaluate(read), problems };
}

test("no bundler: the README's import-map page over the installed package runs in Chromium", async (t) => {
  const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
  const html = readme.slice(readme.indexOf("In a **browser page** without a bundler")).match(/```html\n([\s\S]*?)```/)[1];
  const dir = await project(t, { "index.html": html });
  const { result, problems } = await load(t, dir, "index.html", () => document.body.textContent || undefined);
  assert.deepEqual(problems, []);
  const d = JSON.parse(result);
  assert.deepEqual([d.allowed, d.limit, d.used, d.remaining], [true, 3, 1, 2]);
});

test("esbuild --bundle --format=esm --platform=browser: the bundle runs in Chromium", async (t) => {
  const dir = await project(t, { "src/app.js": APP, "index.html": PAGE("./dist/app.js") });
  const built = await run(bin("esbuild"), ["src/app.js", "--bundle", "--format=esm", "--platform=browser", "--outdir=dist", "--log-level=warning"], { cwd: dir });
  assert.equal(built.stdout + built.stderr, "", "esbuild printed warnings");
  const { result, problems } = await load(t, dir, "index.html");
  assert.deepEqual(problems, []);
  assert.equal(result, EXPECTED);
});

test("the README's esbuild lines, run as written in a project `npm init -y` made: the bundle runs in Chromium", async (t) => {
  // npm 11's `npm init -y` writes "type": "commonjs"; with it esbuild read app.js as CommonJS
  // and emitted an `await` outside any async function: no warning, a page error at load.
  const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
  const block = readme.slice(readme.indexOf("a bundler needs no plugin")).match(/```sh\n([\s\S]*?)```/)[1];
  const lines = block.split("\n").map((l) => l.replace(/#.*/, "").trim()).filter(Boolean);
  const dir = await mkdtemp(join(tmpdir(), "wasm-quota-npm-init-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await run("npm", ["init", "-y"], { cwd: dir });
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", TARBALL], { cwd: dir });
  await writeFile(join(dir, "app.js"), APP);
  await writeFile(join(dir, "index.html"), PAGE("./dist/app.js"));
  for (const line of lines) {
    const [tool, ...args] = line.split(/\s+/);
    assert.ok(["npm", "esbuild"].includes(tool), `README line: ${line}`);
    await run(tool === "npm" ? "npm" : bin("esbuild"), args, { cwd: dir });
  }
  const { result, problems } = await load(t, dir, "index.html");
  assert.deepEqual(problems, []);
  assert.equal(result, EXPECTED);
});

test("vite build: the bundle runs in Chromium", async (t) => {
  const dir = await project(t, { "main.js": APP, "index.html": PAGE("/main.js") });
  const { stdout, stderr } = await run(bin("vite"), ["build", "--logLevel", "warn"], { cwd: dir });
  assert.equal((stdout + stderr).trim(), "", "vite build printed warnings");
  // The .wasm is inline: no copy of it beside the bundle (README: "needs no file beside it").
  assert.deepEqual((await readdir(join(dir, "dist", "assets"))).filter((f) => f.endsWith(".wasm")), []);
  const { result, problems } = await load(t, join(dir, "dist"), "index.html");
  assert.deepEqual(problems, []);
  assert.equal(result, EXPECTED);
});

test("esbuild --platform=node: the bundle runs from a copy of its output folder", async (t) => {
  const dir = await project(t, { "src/app.js": APP });
  const built = await run(bin("esbuild"), ["src/app.js", "--bundle", "--format=esm", "--platform=node", "--outdir=out", "--out-extension:.js=.mjs", "--log-level=warning"], { cwd: dir });
  assert.equal(built.stdout + built.stderr, "", "esbuild printed warnings");
  const elsewhere = await mkdtemp(join(tmpdir(), "wasm-quota-bundle-copy-"));
  t.after(() => rm(elsewhere, { recursive: true, force: true }));
  await cp(join(dir, "out"), elsewhere, { recursive: true });
  assert.deepEqual(await readdir(elsewhere), ["app.mjs"]);
  const { stdout } = await run(process.execPath, [join(elsewhere, "app.mjs")], { cwd: elsewhere });
  assert.equal(stdout.trim(), EXPECTED);
});

test("webpack 5 (its Node API, production mode): the bundle runs in Chromium", async (t) => {
  const dir = await project(t, { "src/app.js": APP, "index.html": PAGE("./dist/app.js") });
  const { default: webpack } = await import(join(REPO, "node_modules", "webpack", "lib", "index.js"));
  const stats = await new Promise((resolve, reject) =>
    webpack({ mode: "production", context: dir, entry: "./src/app.js", output: { path: join(dir, "dist"), filename: "app.js" } },
      (err, s) => (err ? reject(err) : resolve(s))),
  );
  const info = stats.toJson({ all: false, errors: true, warnings: true });
  assert.deepEqual([...info.errors, ...info.warnings].map((e) => e.message), []);
  assert.deepEqual((await readdir(join(dir, "dist"))).filter((f) => f.endsWith(".wasm")), []);
  const { result, problems } = await load(t, dir, "index.html");
  assert.deepEqual(problems, []);
  assert.equal(result, EXPECTED);
});
