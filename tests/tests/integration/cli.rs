//! The `verity` command against a dev node: every command, text and JSON, the errors a user
//! can act on, and `verify` on an honest result and on one from a faulty executor.

use serde_json::json;
use verity_tests::{verity, Node};

const TEXT_DIRECTION: &str = "0x6403dbdaf8b7ba8f18f08e4bb8b12fdbdf63ee0d257548aa9da8d221d5ac9f99";

/// A text-line crop as the JSON tensors `verity infer` takes, written to a file.
fn text_line_file(dir: &std::path::Path) -> String {
	let data: Vec<f32> =
		(0..3 * 48 * 192).map(|i| ((i % 192) as f32 / 191.0) * 2.0 - 1.0).collect();
	let input = json!({ "x": { "dtype": "f32", "shape": [1, 3, 48, 192], "data": data } });
	let path = dir.join("text-line.json");
	std::fs::write(&path, input.to_string()).unwrap();
	path.to_str().unwrap().to_string()
}

#[test]
fn every_command_works_against_a_dev_node() {
	let _machine = verity_tests::shared_machine_blocking();
	let node = Node::start("cli", &["--dev", "--tmp"]);
	let url = node.ws_url();
	let dir = tempfile::tempdir().unwrap();
	let input = text_line_file(dir.path());

	// models list / show
	let list = verity(&url, &["--json", "models", "list"]);
	assert_eq!(list.code, 0, "{list:?}");
	assert_eq!(list.json().as_array().map(Vec::len), Some(4), "{list:?}");
	let text = verity(&url, &["models", "list"]);
	assert!(text.stdout.contains("ppocr-text-direction"), "{text:?}");
	let show = verity(&url, &["models", "show", TEXT_DIRECTION]);
	assert_eq!(show.code, 0, "{show:?}");
	assert!(show.stdout.contains("tract-0.23/generic"), "{show:?}");

	// models register: the int8 fixture, through sudo.
	let fixture = verity_tests::repository().join("executor/tests/fixtures/cls_int8_qdq.onnx");
	let fixture = fixture.to_str().expect("a UTF-8 path");
	let register = verity(
		&url,
		&[
			"--json",
			"models",
			"register",
			fixture,
			"--name",
			"cls-int8",
			"--version",
			"1",
			"--fee",
			"1000",
			"--redundancy",
			"1",
		],
	);
	assert_eq!(register.code, 0, "{register:?}");
	assert_eq!(register.json()["registered"], true, "{register:?}");
	let int8 = register.json()["model_id"].as_str().unwrap().to_string();
	assert_eq!(int8, "0x521c456081385527534f441b3a2418b117416fb12e0764e64c3b428f26ca3b1f");

	// No executor serves the new model yet: the transaction pool refuses a request for it
	// before inclusion, and the command says why and that no fee was charged.
	let unserved =
		verity(&url, &["--suri", "//Charlie", "infer", "--model", &int8, "--input", &input]);
	assert_ne!(unserved.code, 0, "{unserved:?}");
	assert!(
		unserved.stderr.contains("fewer executors than its redundancy")
			&& unserved.stderr.contains("no fee was charged"),
		"{unserved:?}"
	);

	// executor status / register
	let alice = verity(&url, &["--json", "executor", "status"]);
	assert_eq!(alice.code, 0, "{alice:?}");
	assert_eq!(alice.json()["models"].as_array().map(Vec::len), Some(4), "{alice:?}");
	let bob = verity(
		&url,
		&[
			"--json",
			"--suri",
			"//Bob",
			"executor",
			"register",
			"--models",
			&int8,
			"--bond",
			"200000000000000",
		],
	);
	assert_eq!(bob.code, 0, "{bob:?}");
	assert_eq!(bob.json()["models"][0], int8.as_str(), "{bob:?}");

	// infer --wait, then request show and verify.
	let infer = verity(
		&url,
		&[
			"--json",
			"--suri",
			"//Charlie",
			"infer",
			"--model",
			TEXT_DIRECTION,
			"--input",
			&input,
			"--wait",
		],
	);
	assert_eq!(infer.code, 0, "{infer:?}");
	let result = infer.json();
	let probabilities = result["output"]["save_infer_model/scale_0.tmp_1"]["data"]
		.as_array()
		.unwrap()
		.clone();
	assert_eq!(probabilities.len(), 2, "{result}");
	let request_id = result["request_id"].as_u64().unwrap().to_string();
	let progress = verity(
		&url,
		&["--suri", "//Charlie", "infer", "--model", TEXT_DIRECTION, "--input", &input, "--wait"],
	);
	for stage in ["submitted", "in block", "assigned", "1 of 1 attested", "finalized"] {
		assert!(progress.stderr.contains(stage), "progress shows {stage:?}: {progress:?}");
	}

	let show = verity(&url, &["--json", "request", "show", &request_id]);
	assert_eq!(show.code, 0, "{show:?}");
	assert!(show.json()["status"].get("Finalized").is_some(), "{show:?}");
	assert_eq!(
		show.json()["output_tensors"]["save_infer_model/scale_0.tmp_1"]["data"]
			.as_array()
			.unwrap()
			.len(),
		2
	);

	let verify = verity(&url, &["verify", &request_id]);
	assert_eq!(verify.code, 0, "{verify:?}");
	assert!(verify.stdout.contains("verified"), "{verify:?}");
	let verify = verity(&url, &["--json", "verify", &request_id]);
	let checks = verify.json()["checks"].as_array().unwrap().clone();
	for name in [
		"model artifact",
		"input hash",
		"output hash",
		"attestation signature",
		"quorum",
		"local re-run",
	] {
		assert!(
			checks.iter().any(|c| c["check"] == name && c["passed"] == true),
			"{name}: {verify:?}"
		);
	}
	// The same checks with the input and output read from the bodies of the blocks that
	// carried them, as for a request whose bytes have left state.
	let from_blocks = verity(&url, &["--json", "verify", "--from-blocks", &request_id]);
	assert_eq!(from_blocks.code, 0, "{from_blocks:?}");
	assert_eq!(from_blocks.json()["verdict"], "verified", "{from_blocks:?}");
	assert_eq!(from_blocks.json()["checks"], verify.json()["checks"], "{from_blocks:?}");

	// Errors a user can act on.
	let unknown =
		verity(&url, &["infer", "--model", &format!("0x{}", "11".repeat(32)), "--input", &input]);
	assert_ne!(unknown.code, 0);
	assert!(unknown.stderr.contains("not registered"), "{unknown:?}");
	let malformed = verity(
		&url,
		&[
			"infer",
			"--model",
			TEXT_DIRECTION,
			"--input",
			r#"{"x": {"dtype": "f32", "shape": [2], "data": [1.0, "a"]}}"#,
		],
	);
	assert_ne!(malformed.code, 0);
	assert!(
		malformed.stderr.contains("tensor \"x\"") && malformed.stderr.contains("data[1]"),
		"{malformed:?}"
	);
	let mismatched = verity(
		&url,
		&[
			"infer",
			"--model",
			TEXT_DIRECTION,
			"--input",
			r#"{"x": {"dtype": "f32", "shape": [2], "data": [1.0, 2.0]}}"#,
		],
	);
	assert_ne!(mismatched.code, 0);
	assert!(mismatched.stderr.contains("InputSpecMismatch"), "{mismatched:?}");
	let poor = verity(
		&url,
		&["--suri", "//NoFunds", "infer", "--model", TEXT_DIRECTION, "--input", &input],
	);
	assert_ne!(poor.code, 0);
	assert!(poor.stderr.contains("insufficient funds"), "{poor:?}");
	let missing = verity(&url, &["--json", "request", "show", "999999"]);
	assert_ne!(missing.code, 0);
	assert!(missing.json()["error"].as_str().unwrap().contains("no request 999999"), "{missing:?}");
	let unreachable = verity("ws://127.0.0.1:1", &["models", "list"]);
	assert_ne!(unreachable.code, 0);
	assert!(unreachable.stderr.contains("cannot reach a Verity node"), "{unreachable:?}");
}

#[test]
fn verify_names_the_check_a_faulty_result_fails() {
	let _machine = verity_tests::shared_machine_blocking();
	let node = Node::start("cli-faulty", &["--dev", "--tmp", "--executor-faulty"]);
	let url = node.ws_url();
	let dir = tempfile::tempdir().unwrap();
	let input = text_line_file(dir.path());

	let infer = verity(
		&url,
		&[
			"--json",
			"--suri",
			"//Bob",
			"infer",
			"--model",
			TEXT_DIRECTION,
			"--input",
			&input,
			"--wait",
		],
	);
	assert_eq!(
		infer.code, 0,
		"a faulty executor's output is still finalized at redundancy 1: {infer:?}"
	);
	let request_id = infer.json()["request_id"].as_u64().unwrap().to_string();

	let verify = verity(&url, &["verify", &request_id]);
	assert_ne!(verify.code, 0, "{verify:?}");
	assert!(verify.stdout.contains("[FAIL] local re-run"), "{verify:?}");
	assert!(verify.stdout.contains("FAILED (local re-run)"), "{verify:?}");
	// The signatures themselves are valid: the executor really signed what it returned.
	assert!(verify.stdout.contains("[ok] attestation signature"), "{verify:?}");
}

/// Gemma 3 270M, the generation model the development presets register.
const GEMMA: &str = "0xae166c9b3ee16ff33d27cbc82d828508f5dc60f1d6bd0e1d794e41623cb24a5d";

#[test]
fn generate_prints_the_settled_text_and_verify_rechecks_every_token() {
	let _machine = verity_tests::shared_machine_blocking();
	let node = Node::start("cli-generate", &["--dev", "--tmp"]);
	let url = node.ws_url();
	// Parameters out of range cost nothing: refused before anything is sent.
	let bad = verity(&url, &["generate", "--model", GEMMA, "hi", "--max-tokens", "0"]);
	assert_ne!(bad.code, 0);
	assert!(bad.stderr.contains("--max-tokens 1 to 512"), "{bad:?}");
	let not_generation =
		verity(&url, &["generate", "--model", TEXT_DIRECTION, "hi", "--max-tokens", "4"]);
	assert_ne!(not_generation.code, 0);
	assert!(not_generation.stderr.contains("not a generation model"), "{not_generation:?}");

	let generate = verity(
		&url,
		&[
			"--json",
			"generate",
			"--model",
			GEMMA,
			"The capital of France is",
			"--max-tokens",
			"6",
			"--temperature",
			"0.7",
			"--top-k",
			"20",
			"--wait",
		],
	);
	assert_eq!(generate.code, 0, "{generate:?}");
	let report = generate.json();
	let tokens = report["tokens"].as_array().expect("the token ids");
	assert!(!tokens.is_empty() && tokens.len() <= 6, "{report}");
	assert!(["Length", "EndOfTurn"].contains(&report["finish"].as_str().unwrap()), "{report}");
	assert!(report["text"].as_str().is_some_and(|text| !text.is_empty()), "{report}");
	let request_id = report["request_id"].as_u64().unwrap().to_string();

	let verify = verity(&url, &["verify", &request_id]);
	assert_eq!(verify.code, 0, "{verify:?}");
	assert!(verify.stdout.contains("[ok] token re-check"), "{verify:?}");
	assert!(verify.stdout.contains("re-checked in one batched pass"), "{verify:?}");
	// The human form prints the text itself.
	let text =
		verity(&url, &["generate", "--model", GEMMA, "1, 2, 3, 4,", "--max-tokens", "4", "--wait"]);
	assert_eq!(text.code, 0, "{text:?}");
	assert!(text.stdout.contains("tokens,"), "{text:?}");
	assert!(text.stderr.contains("finalized"), "progress while it waits: {text:?}");
}
