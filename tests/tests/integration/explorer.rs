//! The explorer in a real browser: headless Chromium drives `verity explorer` against a dev
//! node. The page lists the models and executors, a fresh request appears and finalizes,
//! "verify in this browser" passes every check, and a tampered output fails with the check
//! named. Screenshots go to `$CARGO_TARGET_DIR/explorer-screenshots`.

use std::{
	path::PathBuf,
	process::{Child, Command, Stdio},
	time::{Duration, Instant},
};
use verity_tests::{cli_binary, free_port, verity, Node};

const TEXT_DIRECTION: &str = "0x6403dbdaf8b7ba8f18f08e4bb8b12fdbdf63ee0d257548aa9da8d221d5ac9f99";

/// `verity explorer` on a free port; killed when dropped.
struct Explorer(Child, String);

impl Explorer {
	fn start(node_url: &str) -> Self {
		let listen = format!("127.0.0.1:{}", free_port());
		let child = Command::new(cli_binary())
			.args(["--url", node_url, "explorer", "--listen", &listen])
			.stdout(Stdio::null())
			.spawn()
			.expect("verity explorer starts");
		let base = format!("http://{listen}");
		let deadline = Instant::now() + Duration::from_secs(30);
		while ureq::get(&format!("{base}/config.json")).call().is_err() {
			assert!(Instant::now() < deadline, "the explorer does not answer on {base}");
			std::thread::sleep(Duration::from_millis(200));
		}
		Self(child, base)
	}
}

impl Drop for Explorer {
	fn drop(&mut self) {
		let _ = self.0.kill();
	}
}

fn screenshots() -> PathBuf {
	let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| {
		PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/verity/target")
	});
	let dir = target.join("explorer-screenshots");
	std::fs::create_dir_all(&dir).unwrap();
	dir
}

#[test]
fn a_fresh_request_finalizes_on_the_page_and_verifies_in_the_browser() {
	let _machine = verity_tests::shared_machine_blocking();
	let node = Node::start("explorer", &["--dev", "--tmp"]);
	let url = node.ws_url();
	let explorer = Explorer::start(&url);

	let data: Vec<f32> = (0..3 * 48 * 192)
		.map(|i| if (i / 192 / 6) % 2 == 0 { 0.8 } else { -0.8 })
		.collect();
	let input =
		serde_json::json!({ "x": { "dtype": "f32", "shape": [1, 3, 48, 192], "data": data } });
	let dir = tempfile::tempdir().unwrap();
	let input_path = dir.path().join("text-line.json");
	std::fs::write(&input_path, input.to_string()).unwrap();
	let infer = verity(
		&url,
		&["--json", "infer", "--model", TEXT_DIRECTION, "--input", input_path.to_str().unwrap()],
	);
	assert_eq!(infer.code, 0, "{infer:?}");
	let request_id = infer.json()["request_id"].as_u64().expect("a request id").to_string();

	let shots = screenshots();
	let script = verity_tests::repository().join("explorer/test/drive.mjs");
	let driven = Command::new("node")
		.args([
			script.to_str().expect("a UTF-8 path"),
			&explorer.1,
			&request_id,
			shots.to_str().unwrap(),
		])
		.output()
		.expect("Node.js runs the browser");
	assert!(
		driven.status.success(),
		"the browser run failed: {}",
		String::from_utf8_lossy(&driven.stderr)
	);
	let seen: serde_json::Value = serde_json::from_slice(&driven.stdout)
		.unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&driven.stdout)));

	assert_eq!(seen["errors"], serde_json::json!([]), "the page raised no errors");
	let models = seen["models"].to_string();
	for name in ["ppocr-text-direction", "silero-vad", "all-minilm-l6-v2", "gemma-3-270m"] {
		assert!(models.contains(name), "the page lists {name}: {models}");
	}
	assert!(seen["executors"].as_u64() >= Some(1), "the page lists the executor: {seen}");

	// Honest: every check `verity verify` makes, each green.
	let honest = &seen["honest"];
	let names: Vec<&str> = honest["checks"]
		.as_array()
		.unwrap()
		.iter()
		.filter_map(|c| c["name"].as_str())
		.collect();
	for name in [
		"model artifact",
		"input hash",
		"output hash",
		"attestation signature",
		"quorum",
		"local re-run",
	] {
		assert!(names.contains(&name), "the page shows the {name} check: {names:?}");
	}
	for check in honest["checks"].as_array().unwrap() {
		assert_eq!(check["passed"], true, "every check passes: {check}");
	}
	assert_eq!(honest["verdict"]["passed"], true, "{honest}");
	assert!(honest["rendered"].as_u64() >= Some(2), "input image and output rendered: {honest}");

	// Tampered output: the output hash and the re-run fail, and say so; the rest still pass.
	let tampered = &seen["tampered"];
	assert_eq!(tampered["verdict"]["passed"], false, "{tampered}");
	for check in tampered["checks"].as_array().unwrap() {
		let should_fail = matches!(check["name"].as_str(), Some("output hash" | "local re-run"));
		assert_eq!(check["passed"], !should_fail, "{check}");
	}
	for shot in ["home-new-request.png", "home-finalized.png", "verified.png", "tampered.png"] {
		assert!(shots.join(shot).exists(), "{shot} saved");
	}
}
