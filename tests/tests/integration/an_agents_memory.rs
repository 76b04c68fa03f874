//! Agent memory end to end on a dev node: facts embedded by the real sentence-embedding model
//! through the inference protocol, recall by a paraphrased question, the ranking re-checked
//! locally, export with proofs, import into a new space, and the errors a user can act on.

use verity_tests::{cli_binary, free_port, models_dir, verity, Node};

/// A `verity-executor` serving the demo models on a free loopback port, stopped when dropped.
struct RunningExecutor {
	child: std::process::Child,
	url: String,
}

impl RunningExecutor {
	fn start() -> Self {
		let port = free_port();
		let child = std::process::Command::new(cli_binary().with_file_name("verity-executor"))
			.args(["--listen", &format!("127.0.0.1:{port}")])
			.arg("--models-dir")
			.arg(models_dir())
			.stdout(std::process::Stdio::null())
			.stderr(std::process::Stdio::null())
			.spawn()
			.expect("verity-executor starts");
		for _ in 0..100 {
			if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
				break;
			}
			std::thread::sleep(std::time::Duration::from_millis(100));
		}
		Self { child, url: format!("http://127.0.0.1:{port}") }
	}
}

impl Drop for RunningExecutor {
	fn drop(&mut self) {
		let _ = self.child.kill();
		let _ = self.child.wait();
	}
}

const FACTS: [&str; 5] = [
	"The user's favourite colour is green.",
	"The weekly meeting with Bob is on Tuesday at 3pm.",
	"Alice is allergic to peanuts.",
	"The staging server's password rotates every 30 days.",
	"Paris is the capital of France.",
];

#[test]
fn facts_are_recalled_by_a_paraphrase_and_survive_export_and_import() {
	let _machine = verity_tests::shared_machine_blocking();
	let node = Node::start("memory", &["--dev", "--tmp"]);
	let url = node.ws_url();

	let created = verity(&url, &["--json", "memory", "create"]);
	assert_eq!(created.code, 0, "{created:?}");
	let space = created.json()["space"].as_u64().unwrap().to_string();

	for fact in FACTS {
		let stored =
			verity(&url, &["--json", "memory", "remember", "--space", &space, fact, "--wait"]);
		assert_eq!(stored.code, 0, "{stored:?}\n{}", node.log());
	}
	let opaque_file = tempfile::NamedTempFile::new().unwrap();
	std::fs::write(opaque_file.path(), [0xde, 0xad, 0xbe, 0xef]).unwrap();
	let opaque = verity(
		&url,
		&[
			"--json",
			"memory",
			"remember",
			"--space",
			&space,
			"--file",
			opaque_file.path().to_str().unwrap(),
		],
	);
	assert_eq!(opaque.code, 0, "{opaque:?}");
	assert!(opaque.json()["embedding_request"].is_null(), "{opaque:?}");

	let listed = verity(&url, &["--json", "memory", "list", "--space", &space]);
	assert_eq!(listed.code, 0, "{listed:?}");
	let entries = listed.json()["entries"].as_array().unwrap().clone();
	assert_eq!(entries.len(), 6);
	assert!(entries[..5].iter().all(|e| e["embedding"] == "Ready"), "{entries:?}");

	// A paraphrase that shares no content word with the fact ranks it first.
	let recalled = verity(
		&url,
		&[
			"--json",
			"memory",
			"recall",
			"--space",
			&space,
			"What food must Alice stay away from?",
			"-k",
			"3",
			"--on-chain",
		],
	);
	assert_eq!(recalled.code, 0, "{recalled:?}");
	let report = recalled.json();
	assert_eq!(report["rechecked"], true);
	assert_eq!(report["ranked_entries"], 5, "the opaque entry is not ranked");
	let matches = report["matches"].as_array().unwrap();
	assert_eq!(matches.len(), 3);
	assert_eq!(matches[0]["text"], FACTS[2], "{report}");
	assert!(matches[0]["score"].as_i64() > matches[1]["score"].as_i64(), "{report}");
	let question = "When do I see Bob each week?";
	let text = verity(&url, &["memory", "recall", "--space", &space, question, "--on-chain"]);
	assert_eq!(text.code, 0, "{text:?}");
	assert!(text.stdout.lines().next().unwrap().contains(FACTS[1]), "{text:?}");
	assert!(text.stdout.contains("re-checked locally"), "{text:?}");

	// Embedded here and ranked by the chain's runtime API, no transaction: the same ranking.
	let local = verity(
		&url,
		&[
			"--json",
			"memory",
			"recall",
			"--space",
			&space,
			"What food must Alice stay away from?",
			"-k",
			"3",
		],
	);
	assert_eq!(local.code, 0, "{local:?}");
	let local = local.json();
	assert_eq!(local["embedded_locally"], true);
	assert_eq!(local["profile"], "tract-0.23/generic");
	assert_eq!(local["matches"], report["matches"], "the same entries and scores: {local}");
	let text = verity(&url, &["memory", "recall", "--space", &space, question]);
	assert_eq!(text.code, 0, "{text:?}");
	assert!(text.stdout.lines().next().unwrap().contains(FACTS[1]), "{text:?}");
	assert!(text.stdout.contains("ranked by the chain"), "{text:?}");

	// Embedded by a running executor (which keeps the model planned): the same ranking.
	let executor = RunningExecutor::start();
	let served = verity(
		&url,
		&[
			"--json",
			"memory",
			"recall",
			"--space",
			&space,
			"What food must Alice stay away from?",
			"-k",
			"3",
			"--executor-url",
			&executor.url,
		],
	);
	assert_eq!(served.code, 0, "{served:?}");
	assert_eq!(served.json()["matches"], report["matches"], "{served:?}");
	drop(executor);

	// Forget one, export with proofs, import into a new space: same contents.
	let forgot = verity(&url, &["--json", "memory", "forget", "--space", &space, "--entry", "3"]);
	assert_eq!(forgot.code, 0, "{forgot:?}");
	let dir = tempfile::tempdir().unwrap();
	let export = dir.path().join("space.json");
	// The export reads at the finalized block: wait for it to include the forget.
	std::thread::sleep(std::time::Duration::from_secs(8));
	let exported = verity(
		&url,
		&["--json", "memory", "export", "--space", &space, "--out", export.to_str().unwrap()],
	);
	assert_eq!(exported.code, 0, "{exported:?}");
	assert_eq!(exported.json()["entries"], 5);
	let imported = verity(&url, &["--json", "memory", "import", export.to_str().unwrap()]);
	assert_eq!(imported.code, 0, "{imported:?}");
	let new_space = imported.json()["space"].as_u64().unwrap().to_string();
	assert_ne!(new_space, space);
	let copy = verity(&url, &["--json", "memory", "list", "--space", &new_space]).json();
	let texts = |listing: &serde_json::Value| -> Vec<serde_json::Value> {
		listing["entries"]
			.as_array()
			.unwrap()
			.iter()
			.map(|e| e["text"].clone())
			.collect()
	};
	let original = verity(&url, &["--json", "memory", "list", "--space", &space]).json();
	assert_eq!(texts(&copy), texts(&original));

	// A tampered export is refused before anything is stored.
	let mut tampered: serde_json::Value =
		serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
	tampered["entries"][0]["content"] = serde_json::json!("0x00");
	std::fs::write(&export, tampered.to_string()).unwrap();
	let refused = verity(&url, &["memory", "import", export.to_str().unwrap()]);
	assert_eq!(refused.code, 2, "{refused:?}");
	assert!(refused.stderr.contains("does not prove against its root"), "{refused:?}");

	// Errors say what was wrong.
	let long_question = "why ".repeat(150);
	let too_long =
		verity(&url, &["memory", "recall", "--space", &space, &long_question, "--on-chain"]);
	assert_eq!(too_long.code, 1);
	assert!(too_long.stderr.contains("at most 512 bytes"), "{too_long:?}");
	let unknown = verity(&url, &["memory", "list", "--space", "999"]);
	assert_eq!(unknown.code, 1);
	assert!(unknown.stderr.contains("no memory space 999"), "{unknown:?}");
	let stranger =
		verity(&url, &["--suri", "//Dave", "memory", "remember", "--space", &space, "hi"]);
	assert_eq!(stranger.code, 1);
	assert!(stranger.stderr.contains("NoWriteAccess"), "{stranger:?}");
}
