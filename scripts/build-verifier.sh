#!/usr/bin/env bash
# Build the browser's verifier (crate verity-verifier) for WebAssembly and print the path of
# its .wasm file. It builds in its own directory under the one target directory, so a test
# may run this while cargo holds the main build's lock.
#
# Where rustup can add the wasm32-unknown-unknown target, that is used; where it cannot (no
# access to the rustup distribution server), Debian's Rust (`debian-web`, which
# scripts/setup.sh links) builds the standard library from its own sources.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
target_dir="${CARGO_TARGET_DIR:-$HOME/.cache/verity/target}/verifier-wasm"
# getrandom has no default source of randomness on this target: the verifier supplies one.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS='--cfg getrandom_backend="custom"'
build=(build --quiet --release --manifest-path "$root/Cargo.toml" -p verity-verifier
	--target wasm32-unknown-unknown --target-dir "$target_dir")

if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown ||
	rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
	cargo "${build[@]}" >&2
elif rustup toolchain list 2>/dev/null | grep -q '^debian-web'; then
	RUSTC_BOOTSTRAP=1 rustup run debian-web cargo "${build[@]}" -Zbuild-std=std,panic_abort >&2
else
	echo "no toolchain can build for wasm32-unknown-unknown: run scripts/setup.sh" >&2
	exit 1
fi
echo "$target_dir/wasm32-unknown-unknown/release/verity_verifier.wasm"
