// Static server for the demo: www/ at /, the built package at /pkg/. No dependencies.
// `node www/serve.mjs [port]` (0 = any free port); prints the address once it listens.
import { createServer } from "node:http";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const WWW = fileURLToPath(new URL(".", import.meta.url));
const PKG = fileURLToPath(new URL("../pkg/", import.meta.url));

// .wasm must be application/wasm: instantiateStreaming refuses anything else.
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".ts": "text/plain; charset=utf-8",
};

/** Maps a URL path to a file under www/ or pkg/, or null if it would leave them. */
function fileFor(urlPath) {
  let path;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  const [root, rest] = path.startsWith("/pkg/") ? [PKG, path.slice(5)] : [WWW, path.slice(1)];
  const file = normalize(join(root, rest || "index.html"));
  return file.startsWith(root) ? file : null; // root ends with "/", so ".." cannot pass
}

export function startServer(port = 8080, host = "127.0.0.1") {
  const server = createServer(async (req, res) => {
    const file = fileFor(new URL(req.url, "http://x").pathname);
    const info = file && (await stat(file).catch(() => null));
    if (!info || !info.isFile()) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    res.writeHead(200, {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      "content-length": info.size,
      // The page is rebuilt often while people work on it; never serve a stale package.
      "cache-control": "no-store",
    });
    if (req.method === "HEAD") res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await startServer(Number(process.argv[2] ?? 8080));
  const { address, port } = server.address();
  console.log(`wasm-quota demo: http://${address}:${port}/`);
}
