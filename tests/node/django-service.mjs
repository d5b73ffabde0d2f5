// The Django service's quota module, run by Python in .venv (made by `make venv`) through
// tests/django/driver.py: one JSON request per line on stdin, one answer per line on stdout.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const python = `${root}.venv/bin/python`;
const driver = `${root}tests/django/driver.py`;

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
    service.versions = await service.#answer();
    return service;
  }

  async #answer() {
    const { value, done } = await this.#lines.next();
    if (done) throw new Error("the Django driver exited");
    const answer = JSON.parse(value);
    if ("error" in answer) throw new Error(`Django: ${answer.error}`);
    return answer.ok;
  }

  /** Sends one request and resolves with its answer; requests are answered in order. */
  call(op, args = {}) {
    const answer = this.#queue.then(() => {
      this.#proc.stdin.write(JSON.stringify({ op, ...args }) + "\n");
      return this.#answer();
    });
    this.#queue = answer.catch(() => {});
    return answer;
  }

  async stop() {
    this.#proc.stdin.end();
    if (this.#proc.exitCode === null) await new Promise((resolve) => this.#proc.once("exit", resolve));
  }
}
