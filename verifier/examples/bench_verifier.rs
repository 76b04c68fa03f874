//! The WebAssembly verifier against the native executor under the same portable profile
//! (`tract-0.23/generic`; the decoder's own for Gemma), per shipped model, in one run: the
//! fastest of a few runs each after a warm-up, planning included, and the ratio (goal: at most
//! 3x). The WebAssembly engine compiles a module's functions quickly at first and optimizes
//! the busy ones while they run, so its first run is also printed: what a page that has just
//! loaded the verifier waits.
//!
//! `bench_verifier <verifier.wasm> [runs]` (`make bench-verifier` builds and passes it).

use std::{
	path::PathBuf,
	process::Command,
	time::{Duration, Instant},
};
use verity_executor::{planning, ExecutionProfile};
use verity_verifier::samples::{artifact_path, model_id, name, runs};

/// How long each side runs a model before the timed runs.
const WARM_UP: Duration = Duration::from_secs(3);

fn main() {
	let mut args = std::env::args().skip(1);
	let wasm = PathBuf::from(args.next().expect("usage: bench_verifier <verifier.wasm> [runs]"));
	let repeat: usize = args.next().map_or(5, |value| value.parse().expect("a run count"));
	ExecutionProfile::Generic.activate().expect("the generic profile runs anywhere");
	// Found from the working directory, not compiled in, so a build made in one clone serves
	// another: `make bench-verifier` runs this from `verifier/`.
	let script = std::env::current_dir().expect("a working directory").join("js/run-models.mjs");
	assert!(script.exists(), "{} is missing: run this from verifier/", script.display());
	let inputs = std::env::temp_dir().join(format!("verity-bench-verifier-{}", std::process::id()));
	std::fs::create_dir_all(&inputs).expect("a scratch directory");
	println!(
		"{:<22} {:>12} {:>18} {:>18} {:>7}",
		"model", "native (ms)", "WebAssembly (ms)", "its first run (ms)", "ratio"
	);
	let mut worst = 0f64;
	for (hex, input) in runs() {
		let artifact = std::fs::read(artifact_path(hex)).expect("the demo store (`make setup`)");
		let run = || {
			let started = Instant::now();
			planning::run_artifact(artifact.clone(), model_id(hex), &input).expect("it runs");
			started.elapsed()
		};
		let warming = Instant::now();
		while warming.elapsed() < WARM_UP {
			run();
		}
		let native = (0..repeat).map(|_| run().as_secs_f64() * 1e3).fold(f64::INFINITY, f64::min);
		let input_path = inputs.join(hex);
		std::fs::write(&input_path, &input).expect("the input is written");
		let output = Command::new("node")
			.arg(&script)
			.args(["--repeat", &repeat.to_string()])
			.args(["--warmup-ms", &WARM_UP.as_millis().to_string()])
			.arg(&wasm)
			.arg(artifact_path(hex))
			.arg(hex)
			.arg(&input_path)
			.output()
			.expect("Node.js runs");
		let answer: serde_json::Value = serde_json::from_slice(&output.stdout)
			.unwrap_or_else(|_| panic!("no answer: {}", String::from_utf8_lossy(&output.stderr)));
		let wasm_ms = answer["milliseconds"].as_f64().unwrap_or_else(|| panic!("{answer}"));
		let first_ms = answer["first"].as_f64().unwrap_or_else(|| panic!("{answer}"));
		let ratio = wasm_ms / native;
		worst = worst.max(ratio);
		println!("{:<22} {native:>12.1} {wasm_ms:>18.1} {first_ms:>18.1} {ratio:>6.2}x", name(hex));
	}
	let _ = std::fs::remove_dir_all(&inputs);
	println!(
		"worst ratio {worst:.2}x: WebAssembly within 3x of native ({})",
		if worst <= 3.0 { "met" } else { "NOT met" }
	);
}
