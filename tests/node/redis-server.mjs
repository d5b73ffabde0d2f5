// A real redis-server for the tests: on 127.0.0.1, a free port, its own directory, with
// appendonly + appendfsync always so that every acknowledged write survives a crash.
// Every wait here is bounded and fails saying what it waited for, so a server that never
// comes up (or never goes away) fails its test instead of hanging `make test`.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bounded } from "./helpers.mjs";

const START_BOUND_MS = 20_000;
const EXIT_BOUND_MS = 10_000;

async function freePort() {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

export class RedisServer {
  dir = mkdtempSync(join(tmpdir(), "wasm-quota-redis-"));
  port = null;
  proc = null;
  #durable;

  /** `durable: false` (the bench) writes nothing to disk: a crash then loses every count. */
  constructor({ durable = true } = {}) {
    this.#durable = durable;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * Starts (or restarts, on the same port and directory) and waits until Redis accepts
   * connections. A first start whose free port was taken meanwhile by another process tries
   * a new one; a restart must keep its port, so there a taken port is an error.
   */
  async start() {
    for (let attempt = 1; ; attempt++) {
      const firstStart = this.port === null;
      if (firstStart) this.port = await freePort();
      try {
        return await this.#spawn();
      } catch (e) {
        if (!(firstStart && e.portTaken && attempt < 3)) throw e;
        this.port = null;
      }
    }
  }

  async #spawn() {
    // Options on the command line, so the machine's redis.conf plays no part.
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir,
      "--appendonly", this.#durable ? "yes" : "no", "--appendfsync", "always", "--save", "", "--daemonize", "no"];
    const proc = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
    this.proc = proc;
    let output = "";
    const ready = new Promise((resolve, reject) => {
      const onData = (chunk) => {
        output += chunk;
        if (output.includes("Ready to accept connections")) resolve();
      };
      proc.stdout.on("data", onData);
      proc.stderr.on("data", onData);
      proc.once("error", reject);
      proc.once("exit", (code) => {
        const e = new Error(`redis-server on port ${this.port} exited (${code}) before it was ready:\n${output}`);
        e.portTaken = output.includes("Address already in use");
        reject(e);
      });
    });
    try {
      await bounded(ready, START_BOUND_MS, () => `redis-server (pid ${proc.pid}, port ${this.port}, ${this.dir}) to say "Ready to accept connections"; it said:\n${output}`);
    } catch (e) {
      if (proc.pid === undefined) this.proc = null; // never started (no redis-server on PATH)
      else await this.crash();
      throw e;
    }
  }

  /** Ends the server the hard way (no shutdown save): only what was fsynced survives. */
  async crash() {
    const proc = this.proc;
    this.proc = null;
    if (proc.exitCode !== null || proc.signalCode !== null) return; // it ended by itself
    const exited = once(proc, "exit");
    proc.kill("SIGKILL");
    await bounded(exited, EXIT_BOUND_MS, () => `redis-server (pid ${proc.pid}, port ${this.port}) to exit after SIGKILL`);
  }

  async stop() {
    if (this.proc) await this.crash();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
