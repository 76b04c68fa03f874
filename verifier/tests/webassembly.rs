//! The verifier built for WebAssembly and run by Node.js gives the native executor's bytes for
//! every shipped model on fixed inputs, and re-checks a result the way `verity verify` does.
//!
//! The WebAssembly build is made by `scripts/build-verifier.sh` (a no-op once built); the
//! models come from the store `make setup` fills.

use codec::Encode;
use std::{
	io::Write,
	path::{Path, PathBuf},
	process::Command,
};
use verity_executor::{planning, ExecutionProfile};
use verity_verifier::samples::{artifact_path, model_id, runs, GEMMA};

fn repository() -> PathBuf {
	// Read when the test runs, not compiled in, so a build made in one clone serves another.
	let manifest_dir =
		std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR is set by `cargo test`");
	Path::new(&manifest_dir)
		.parent()
		.expect("the verifier is in the repository")
		.into()
}

/// The WebAssembly verifier, built if needed.
fn verifier_wasm() -> PathBuf {
	let output = Command::new(repository().join("scripts/build-verifier.sh"))
		.output()
		.expect("scripts/build-verifier.sh runs");
	assert!(
		output.status.success(),
		"building the WebAssembly verifier failed: {}",
		String::from_utf8_lossy(&output.stderr)
	);
	PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

/// Run `runs` in the WebAssembly verifier under Node.js: per run, its output or its error.
fn run_in_node(wasm: &Path, runs: &[(&str, Vec<u8>)]) -> Vec<Result<Vec<u8>, String>> {
	let inputs = tempfile::tempdir().unwrap();
	let mut arguments = vec![
		repository().join("verifier/js/run-models.mjs").display().to_string(),
		wasm.display().to_string(),
	];
	for (index, (hex, input)) in runs.iter().enumerate() {
		let path = inputs.path().join(format!("input-{index}"));
		std::fs::File::create(&path).unwrap().write_all(input).unwrap();
		arguments.push(artifact_path(hex).display().to_string());
		arguments.push(hex.to_string());
		arguments.push(path.display().to_string());
	}
	let output = Command::new("node").args(&arguments).output().expect("Node.js runs");
	assert!(output.status.success(), "node failed: {}", String::from_utf8_lossy(&output.stderr));
	String::from_utf8(output.stdout)
		.unwrap()
		.lines()
		.map(|line| {
			let answer: serde_json::Value = serde_json::from_str(line).unwrap();
			match answer["output"].as_str() {
				Some(hex) => Ok((0..hex.len() / 2)
					.map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
					.collect()),
				None => Err(answer["error"].to_string()),
			}
		})
		.collect()
}

#[test]
fn every_shipped_model_gives_the_native_bytes_in_webassembly() {
	ExecutionProfile::Generic.activate().expect("the generic profile runs anywhere");
	let runs = runs();
	let in_node = run_in_node(&verifier_wasm(), &runs);
	assert_eq!(in_node.len(), runs.len(), "one answer per run");
	for ((hex, input), wasm) in runs.iter().zip(in_node) {
		let artifact = std::fs::read(artifact_path(hex)).unwrap();
		let native = planning::run_artifact(artifact, model_id(hex), input)
			.unwrap_or_else(|error| panic!("model {hex} fails natively: {error}"))
			.encode();
		let wasm = wasm.unwrap_or_else(|error| panic!("model {hex} fails in WebAssembly: {error}"));
		assert!(native.len() > 8, "model {hex} gives an output");
		assert_eq!(wasm, native, "model {hex}: WebAssembly and native bytes differ");
	}
}

/// The decoder's logits are the same bits in WebAssembly (its integer sums on 128-bit SIMD,
/// four rows side by side) as natively (AVX-512, AVX2 or scalar), one position at a time and
/// in one batched pass: the tokens alone could hide a difference in the last bit.
#[test]
fn the_language_models_logits_are_the_native_bits_in_webassembly() {
	let prompt = "Tokens: 1, 2, 3";
	let artifact = std::fs::read(artifact_path(GEMMA)).unwrap();
	let native = verity_verifier::checks::prompt_logits_hashes(artifact, prompt)
		.expect("the decoder runs natively");
	assert_eq!(native[0], native[1], "one by one and batched give the same bits natively");
	let output = Command::new("node")
		.arg(repository().join("verifier/js/run-models.mjs"))
		.args(["--logits", prompt])
		.arg(verifier_wasm())
		.arg(artifact_path(GEMMA))
		.output()
		.expect("Node.js runs");
	let answer: serde_json::Value = serde_json::from_slice(&output.stdout)
		.unwrap_or_else(|_| panic!("no answer: {}", String::from_utf8_lossy(&output.stderr)));
	let hex = |hash: &[u8; 32]| hash.iter().map(|byte| format!("{byte:02x}")).collect::<String>();
	assert_eq!(
		answer["logits"],
		serde_json::json!([hex(&native[0]), hex(&native[1])]),
		"the logits in WebAssembly (one by one, batched) against native"
	);
}

/// The decoder's WebAssembly kernels (four rows side by side, a short last group padded)
/// against its plain Rust code in the same build, on random blocks of every format with odd
/// row counts: the geometries Gemma's own matrices never produce.
#[test]
fn the_webassembly_kernels_give_the_plain_rust_bits() {
	let seeds = 50;
	let output = Command::new("node")
		.arg(repository().join("verifier/js/run-models.mjs"))
		.args(["--check-kernels", &seeds.to_string()])
		.arg(verifier_wasm())
		.output()
		.expect("Node.js runs");
	let answer: serde_json::Value = serde_json::from_slice(&output.stdout)
		.unwrap_or_else(|_| panic!("no answer: {}", String::from_utf8_lossy(&output.stderr)));
	// Four formats, seven rows, three positions, one path per seed.
	assert_eq!(answer, serde_json::json!({ "compared": seeds * 4 * 7 * 3 }), "{answer}");
}
