// A real redis-server for the tests: on 127.0.0.1, a free port, its own directory, with
// appendonly + appendfsync always so that every acknowledged write survives a crash.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

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

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (or restarts, on the same port and directory) and waits until Redis accepts connections. */
  async start() {
    this.port ??= await freePort();
    // Options on the command line, so the machine's redis.conf plays no part.
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir,
      "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no"];
    const proc = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
    this.proc = proc;
    let output = "";
    await new Promise((resolve, reject) => {
      const onData = (chunk) => {
        output += chunk;
        if (output.includes("Ready to accept connections")) resolve();
      };
      proc.stdout.on("data", onData);
      proc.stderr.on("data", onData);
      proc.once("error", reject);
      proc.once("exit", (code) => reject(new Error(`redis-server exited (${code}):\n${output}`)));
    });
  }

  /** Ends the server the hard way (no shutdown save): only what was fsynced survives. */
  async crash() {
    const exited = once(this.proc, "exit");
    this.proc.kill("SIGKILL");
    await exited;
    this.proc = null;
  }

  async stop() {
    if (this.proc) await this.crash();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
