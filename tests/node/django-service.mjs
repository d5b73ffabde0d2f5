// The Django service's quota module, run by Python in .venv (made by `make venv`) through
// tests/django/driver.py: one JSON request per line on stdin, one answer per line on stdout.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { bounded } from "./helpers.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));
const python = `${root}.venv/bin/python`;
const driver = `${root}tests/django/driver.py`;
// A cold Django process's first cache call imports redis-py and connects: seconds under load.
const ANSWER_BOUND_MS = 60_000;
const EXIT_BOUND_MS = 10_000;

export class DjangoService {
  #proc;
  #lines;
  #queue = Promise.resolve();

  /**
   * @param redisUrl the redis-server both sides share
   * @param cache `{ keyPrefix, version }`: the CACHES KEY_PREFIX and VERSION (default "" and 1)
   */
  static async start(redisUrl, { keyPrefix = "", version = 1 } = {}) {
    if (!existsSync(python)) throw new Error(`${python} is missing: run \`make venv\``);
    const service = new DjangoService();
    service.#proc = spawn(python, [driver], {
      env: { ...process.env, REDIS_URL: redisUrl, CACHE_KEY_PREFIX: keyPrefix, CACHE_VERSION: String(version) },
      stdio: ["pipe", "pipe", "inherit"],
    });
    service.#lines = createInterface({ input: service.#proc.stdout })[Symbol.asyncIterator]();
    service.versions = await service.#answer("start");
    return service;
  }

  async #answer(op) {
    const pid = this.#proc.pid;
    const { value, done } = await bounded(this.#lines.next(), ANSWER_BOUND_MS, () => `the Django driver (pid ${pid}) to answer "${op}"`);
    if (done) throw new Error("the Django driver exited");
    const answer = JSON.parse(value);
    if ("error" in answer) throw new Error(`Django: ${answer.error}`);
    return answer.ok;
  }

  /** Sends one request and resolves with its answer; requests are answered in order. */
  call(op, args = {}) {
    const answer = this.#queue.then(() => {
      this.#proc.stdin.write(JSON.stringify({ op, ...args }) + "\n");
      return this.#answer(op);
    });
    this.#queue = answer.catch(() => {});
    return answer;
  }

  /** Ends the driver: stdin closed, then SIGKILL if it has not exited after EXIT_BOUND_MS. */
  async stop() {
    const proc = this.#proc;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.stdin.end();
    try {
      await bounded(exited, EXIT_BOUND_MS, () => `the Django driver (pid ${proc.pid}) to exit after its stdin closed`);
    } catch (e) {
      proc.kill("SIGKILL");
      await bounded(exited, EXIT_BOUND_MS, () => `the Django driver (pid ${proc.pid}) to exit after SIGKILL`);
      throw e;
    }
  }
}
