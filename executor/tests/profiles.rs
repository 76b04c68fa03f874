//! Determinism across runs, threads, kernel paths and machines, in separate processes (tract
//! reads its kernel choice once per process).

mod common;

use common::*;
use std::process::Command;

/// The int8 QDQ text-direction classifier in `tests/fixtures`.
const INT8_CLASSIFIER: &str = "521c456081385527534f441b3a2418b117416fb12e0764e64c3b428f26ca3b1f";

/// The output hash of the float classifier on `text_line()` under `tract-0.23/generic`,
/// recorded on one x86-64 machine (with AVX2 and FMA): any other x86-64 machine must reproduce
/// it, whatever its SIMD extensions.
const GENERIC_TEXT_LINE_HASH: &str =
	"0x2670c45bd479db412d27a12e6e4e7e72042faa4f8c3900572ad4a19688ce004e";

/// Run `verity-executor bench` and return its output hash.
fn output_hash(
	store: &std::path::Path,
	model: &str,
	input: &[u8],
	profile: &str,
	threads: usize,
) -> String {
	let dir = tempfile::tempdir().unwrap();
	let input_path = dir.path().join("input");
	std::fs::write(&input_path, input).unwrap();
	let out = Command::new(env!("CARGO_BIN_EXE_verity-executor"))
		.args(["--models-dir", store.to_str().unwrap(), "--profile", profile])
		.args(["--threads", &threads.to_string()])
		.args(["bench", "--model", model, "--input", input_path.to_str().unwrap(), "--runs", "3"])
		.output()
		.expect("verity-executor runs");
	assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
	let line = String::from_utf8(out.stdout).unwrap();
	let json: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
	json["output_hash"].as_str().unwrap().to_string()
}

/// A store holding the int8 fixture.
fn int8_store() -> tempfile::TempDir {
	let dir = tempfile::tempdir().unwrap();
	let store = verity_executor::ModelStore::open(dir.path()).unwrap();
	// Read when the test runs, not compiled in, so a build made in one clone serves another.
	let manifest_dir =
		std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR is set by `cargo test`");
	let fixture = std::path::Path::new(&manifest_dir).join("tests/fixtures/cls_int8_qdq.onnx");
	let id = store.import(&fixture).unwrap();
	assert_eq!(verity_executor::store::hex(&id), INT8_CLASSIFIER);
	dir
}

#[test]
fn an_int8_model_gives_the_same_bytes_on_every_kernel_path_and_thread_count() {
	let store = int8_store();
	let input = text_line();
	let reference = output_hash(store.path(), INT8_CLASSIFIER, &input, "generic", 1);
	for (profile, threads) in
		[("generic", 1), ("generic", 2), ("avx", 1), ("avx", 2), ("native", 1), ("native", 2)]
	{
		assert_eq!(
			output_hash(store.path(), INT8_CLASSIFIER, &input, profile, threads),
			reference,
			"{profile} kernels on {threads} threads"
		);
	}
}

#[test]
fn a_float_model_under_its_profile_gives_the_same_bytes_across_processes_and_threads() {
	let store = models_dir();
	let input = text_line();
	let reference = output_hash(&store, TEXT_DIRECTION, &input, "generic", 1);
	assert_eq!(output_hash(&store, TEXT_DIRECTION, &input, "generic", 1), reference);
	assert_eq!(output_hash(&store, TEXT_DIRECTION, &input, "generic", 2), reference);
	let avx = output_hash(&store, TEXT_DIRECTION, &input, "avx", 1);
	assert_eq!(output_hash(&store, TEXT_DIRECTION, &input, "avx", 2), avx);
	assert_eq!(
		output_hash(&store, TEXT_DIRECTION, &input, "native", 1),
		output_hash(&store, TEXT_DIRECTION, &input, "native", 2)
	);
	// tract's AVX kernels multiply and add as its portable code does, in the same order: on
	// finite inputs like this one the two profiles agree to the bit.
	assert_eq!(avx, reference, "the avx profile computes the portable arithmetic");
	assert_eq!(
		reference, GENERIC_TEXT_LINE_HASH,
		"this machine disagrees with the recorded output"
	);
}

#[test]
fn a_profile_is_refused_once_the_process_runs_another() {
	use verity_executor::ExecutionProfile;
	// tract settles its kernels once per process: this test binary's first activation wins.
	ExecutionProfile::Generic.activate().expect("the generic profile runs anywhere");
	let error = ExecutionProfile::Avx.activate().expect_err("the process already runs generic");
	assert!(error.contains("a process runs under one profile"), "{error}");
	assert_eq!(ExecutionProfile::Generic.activate(), Ok(()));
}
