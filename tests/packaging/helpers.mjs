// Fresh projects outside the repo with the packed tarball installed as users install it
// (`make pack` writes target/wasm-quota.tgz). The tarball has no dependencies, so
// `npm install --offline` needs no network; tools (wrangler, esbuild, vite, tsc) run from this
// repo's node_modules, pinned by its package-lock.json.
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
export const TARBALL = join(REPO, "target", "wasm-quota.tgz");
export const run = promisify(execFile);

/** The repo's copy of an npm tool, e.g. bin("wrangler"). */
export function bin(name) {
  return join(REPO, "node_modules", ".bin", name);
}

/**
 * A new directory under the OS temp dir holding `files` (path → text) and the installed
 * tarball; `links` are packages symlinked from the repo's node_modules (type packages).
 * Removed when the test ends.
 */
export async function project(t, files, { links = [] } = {}) {
  if (!existsSync(TARBALL)) throw new Error(`${TARBALL} is missing: run \`make pack\` first`);
  const dir = await mkdtemp(join(tmpdir(), "wasm-quota-user-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const all = { "package.json": JSON.stringify({ name: "quota-user", private: true, type: "module" }), ...files };
  for (const [path, text] of Object.entries(all)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--save-exact", TARBALL], { cwd: dir });
  for (const name of links) {
    await mkdir(dirname(join(dir, "node_modules", name)), { recursive: true });
    await symlink(join(REPO, "node_modules", name), join(dir, "node_modules", name));
  }
  return dir;
}

/** A TCP port free on 127.0.0.1 a moment ago. */
export async function freePort() {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  await once(server, "close");
  return port;
}

const STOP_GRACE_MS = 10_000;

/**
 * Starts `command args` in `cwd` and waits until its output matches `ready` (a RegExp);
 * resolves to { child, match, output() }. Stopped when the test ends: SIGTERM to its process
 * group, then SIGKILL if it has not exited after STOP_GRACE_MS.
 */
export async function startServer(t, command, args, { cwd, env = {}, ready, timeoutMs = 60_000 }) {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, detached: true });
  let text = "";
  const stopped = once(child, "exit");
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(-child.pid, "SIGTERM");
      // wrangler sometimes never exits after SIGTERM (seen under load): the whole process
      // group is killed after a grace period so the test cannot hang in its teardown.
      let grace;
      const graceOver = new Promise((resolve) => (grace = setTimeout(resolve, STOP_GRACE_MS, "over")));
      if ((await Promise.race([stopped, graceOver])) === "over") {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {} // the group went away meanwhile
        await stopped;
      }
      clearTimeout(grace);
    }
  });
  const match = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready after ${timeoutMs} ms:\n${text}`)), timeoutMs);
    const onData = (chunk) => {
      text += chunk;
      const m = ready.exec(text);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout.setEncoding("utf8").on("data", onData);
    child.stderr.setEncoding("utf8").on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before it was ready:\n${text}`));
    });
  });
  return { child, match, output: () => text };
}

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".css": "text/css" };

/** Serves the files under `dir` on a free 127.0.0.1 port until the test ends; its base URL. */
export async function serveStatic(t, dir) {
  const { createServer: createHttpServer } = await import("node:http");
  const { readFile } = await import("node:fs/promises");
  const { extname, normalize } = await import("node:path");
  const server = createHttpServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    try {
      const body = await readFile(join(dir, path));
      res.writeHead(200, { "Content-Type": TYPES[extname(path)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  }).listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${server.address().port}/`;
}
