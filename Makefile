# wasm-quota — every target installs what it needs first, so `make demo` and `make test` work
# on a fresh machine. Tool versions are pinned here and in Cargo.lock / package-lock.json.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

# npm binaryen's wasm-opt comes first on PATH: Debian's binaryen makes wasm that fails at load.
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

WASM_PACK_VERSION := 0.15.1
# wasm-bindgen-cli must match the wasm-bindgen crate exactly; read it from Cargo.lock.
WASM_BINDGEN_VERSION = $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"/\1/p}' Cargo.lock)
PORT ?= 8080
WORKER_PORT ?= 8787

.PHONY: tools npm venv build size pack test test-packaging test-rust test-node test-types test-browser chromium redis lint demo bench bench-core bench-do worker clean

## tools: the wasm32 target, wasm-bindgen-cli (at Cargo.lock's version) and wasm-pack.
tools:
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }
	rustup target add wasm32-unknown-unknown
	@if [ "$$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $(WASM_BINDGEN_VERSION)" ]; then \
	  echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION)"; \
	  cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --force; fi
	@if [ "$$(wasm-pack --version 2>/dev/null)" != "wasm-pack $(WASM_PACK_VERSION)" ]; then \
	  echo "installing wasm-pack $(WASM_PACK_VERSION)"; \
	  cargo install wasm-pack --version $(WASM_PACK_VERSION) --force; fi

## npm: the pinned npm packages, and node_modules/wasm-quota → pkg/ so tests import the
## package by its name exactly as users do.
npm: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	ln -sfn ../pkg node_modules/wasm-quota
	touch $@

## venv: .venv, the Python that runs the Django service beside the engine (tests/django):
## Django 5.2 LTS, django-redis and redis-py at the exact versions and hashes of
## tests/django/requirements.txt, from the Python registry. Made again only when that changes.
## Django 5.2 needs Python 3.10+ (asgiref 3.13: 3.11+); Debian 12's python3 is 3.11.
venv: .venv/.installed
.venv/.installed: tests/django/requirements.txt
	@python3 -c 'import ensurepip, venv' 2>/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3 python3-venv; }
	rm -rf .venv
	python3 -m venv .venv
	env -u PIP_FIND_LINKS .venv/bin/pip install --no-input --disable-pip-version-check \
	  --require-hashes --only-binary :all: -r tests/django/requirements.txt
	touch $@

## build: pkg/, the npm package (glue + one wasm-opt -Oz'd .wasm + pkg-template/, whose
## hand-written .d.ts files are the package's types: wasm-bindgen's own are not shipped).
build: tools npm
	wasm-pack build --release --target web --out-dir target/wasm-pack --out-name wasm_quota --no-pack --no-typescript
	rm -rf pkg && mkdir -p pkg
	cp target/wasm-pack/wasm_quota.js pkg/
	node scripts/merge-glue-imports.mjs pkg/wasm_quota.js
	node scripts/drop-default-wasm-url.mjs pkg/wasm_quota.js
	wasm-opt -Oz --strip-debug --strip-producers --strip-target-features \
	  target/wasm-pack/wasm_quota_bg.wasm -o pkg/wasm_quota_bg.wasm
	node scripts/inline-wasm.mjs pkg/wasm_quota_bg.wasm pkg/wasm_inline.js
	cp -R pkg-template/. pkg/
	cp README.md LICENSE-MIT LICENSE-APACHE pkg/
	@printf 'pkg/wasm_quota_bg.wasm: %s bytes, %s gzipped\n' \
	  "$$(wc -c < pkg/wasm_quota_bg.wasm)" "$$(gzip -9c pkg/wasm_quota_bg.wasm | wc -c)"

## size: what the .wasm holds (README, Size): `make build`'s .wasm optimised again keeping its
## names (target/size/), its bytes of code per crate and its largest functions. SIZE_TOP=n
## lists n functions.
size: build
	mkdir -p target/size
	wasm-opt -Oz -g target/wasm-pack/wasm_quota_bg.wasm -o target/size/wasm_quota_bg.wasm
	node scripts/wasm-sizes.mjs target/size/wasm_quota_bg.wasm $${SIZE_TOP:-40}

## pack: target/wasm-quota.tgz, the tarball `npm pack` makes of pkg/ (what users install).
pack: build
	rm -f target/wasm-quota*.tgz
	npm pack ./pkg --pack-destination target --silent >/dev/null
	mv target/wasm-quota-*.tgz target/wasm-quota.tgz

## test: everything CI runs.
test: lint test-rust test-node test-types test-browser test-packaging

lint: tools
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps

test-rust: tools
	cargo test

test-node: build redis venv
	node --test tests/node/

## test-types: the package's TypeScript types, with skipLibCheck: false: Node and browser use
## (tests/types, lib ES2022 + DOM), Workers (tests/types/worker, lib ES2022 +
## @cloudflare/workers-types) and RedisStore over real clients of redis 4.x, 5.x and 6.x
## (tests/types/redis-clients, @types/node).
test-types: build
	tsc -p tests/types
	tsc -p tests/types/worker
	tsc -p tests/types/redis-clients

## test-browser: the demo page (www/) in real headless Chromium, driven by npm playwright-core;
## the tests start and stop their own server on a free port.
test-browser: build chromium
	node --test tests/browser/

## test-packaging: the tarball installed into fresh projects outside the repo, used there as
## users do (Node, wrangler, bundlers, TypeScript); tools come from this repo's node_modules.
test-packaging: pack chromium
	node --test tests/packaging/

## redis: Debian's redis-server for the RedisStore tests (they start their own on a free port).
redis:
	@command -v redis-server >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server; }

## chromium: Debian's build (Playwright's own browser downloads are not reachable).
chromium:
	@command -v chromium >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

## bench: reserve() throughput over the shapes users have (the Django service's workload; UUID ids with
## token amounts and an hour + day policy; idempotency keys; a user's own sync and async store;
## 50,000 profiles; RedisStore on a redis-server of its own, next to RateLimiterRedis)
## next to tuned plain JS and rate-limiter-flexible (one Node process, interleaved rounds,
## medians), start-up in Node and workerd, and the .wasm size. BENCH_ROUNDS / BENCH_OPS adjust it.
bench: build redis
	node bench/run.mjs

## bench-do: reserves/s through one QuotaDurableObject in Miniflare next to a plain-JS counter
## object doing the same work.
bench-do: build
	node bench/durable-object.mjs

## bench-core: the native criterion benchmark of the pure core (no JS boundary).
bench-core: tools
	cargo bench --bench core

## demo: builds the package and serves www/ (and pkg/ at /pkg/) at http://127.0.0.1:$(PORT).
demo: build
	node www/serve.mjs $(PORT)

## worker: the Cloudflare Workers example under `wrangler dev` at http://127.0.0.1:$(WORKER_PORT),
## with development tokens printed (secrets in examples/cloudflare-worker/.dev.vars).
worker: build
	PORT=$(WORKER_PORT) node examples/cloudflare-worker/dev.mjs

clean:
	rm -rf pkg target/wasm-pack
