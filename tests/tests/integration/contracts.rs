//! Contracts act on verified inference, end to end with the tools an Ethereum developer uses:
//! a dev node with its executor, `verity-eth-rpc` beside it, the contracts compiled by solc-js
//! from npm, and viem deploying and driving `ModelGatedVault` (contracts/test/vault.mjs); then
//! ethers.js on the same chain (contracts/test/ethers.mjs), and a Hardhat project whose only
//! change is its network entry (contracts/hardhat: a vault deployed, a proposal paid out by
//! the callback).
//!
//! The vault requests the voice-activity model through the inference precompile, is called
//! back with the settled result and pays out; it refuses an unfinalized result and a forged
//! callback; an unknown model reverts with `UnknownModel`; a callback with too little gas and
//! one that reverts leave the funds in the vault (the first is decided later from the pull
//! path); a request whose input the executors reject (a prompt longer than the language model's
//! context) closes its proposal by the `onInferenceFailed` callback, paying nothing and freeing
//! the amount. The
//! chain's own record of each callback (`InferenceContracts` events) is checked here.

use codec::{Decode, Encode};
use std::{
	collections::BTreeSet,
	path::PathBuf,
	process::{Child, Command, Stdio},
	time::{Duration, Instant},
};
use verity_primitives::{generation_input, GenerationParams, TensorMap};
use verity_tests::{free_port, node_binary, Node};

/// The voice-activity model (silero-vad) of the development genesis.
const VOICE_ACTIVITY: &str = "0x5f48eef72eea99cb43e6a018c722c207e8226718a617cc4bb6b94b2916297256";

/// The language model (Gemma 3 270M) of the development genesis.
const GENERATION: &str = "0xae166c9b3ee16ff33d27cbc82d828508f5dc60f1d6bd0e1d794e41623cb24a5d";

/// A generation input every executor rejects with `PromptTooLong`: 33,000 digits, one token
/// each for Gemma's tokenizer, pass its context of 32,768 tokens. The chain cannot see that
/// without tokenizing, so it accepts the request and the executors' rejection settles it.
fn unrunnable_generation_input() -> String {
	let prompt: Vec<u8> = (0..33_000u32).map(|i| b'0' + ((i * 7 + i / 10) % 10) as u8).collect();
	let bytes = generation_input(&prompt, &GenerationParams::default()).encode();
	format!("0x{}", bytes.iter().map(|byte| format!("{byte:02x}")).collect::<String>())
}

/// The repository's `contracts/` directory.
fn contracts_dir() -> PathBuf {
	verity_tests::repository().join("contracts")
}

/// `verity-eth-rpc` against a node, on a free port; killed when dropped.
struct EthRpc(Child, String);

impl EthRpc {
	fn start(node_url: &str) -> Self {
		let port = free_port();
		let binary = node_binary().with_file_name("verity-eth-rpc");
		assert!(binary.exists(), "{} is missing: build it first", binary.display());
		let child = Command::new(binary)
			.args(["--node-rpc-url", node_url, "--rpc-port", &port.to_string()])
			.args(["--eth-pruning", "1024", "--no-prometheus"])
			.stdout(Stdio::null())
			.stderr(Stdio::null())
			.spawn()
			.expect("verity-eth-rpc starts");
		let url = format!("http://127.0.0.1:{port}");
		let deadline = Instant::now() + Duration::from_secs(60);
		let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
		while ureq::post(&url).header("content-type", "application/json").send(body).is_err() {
			assert!(Instant::now() < deadline, "verity-eth-rpc does not answer on {url}");
			std::thread::sleep(Duration::from_millis(300));
		}
		Self(child, url)
	}
}

impl Drop for EthRpc {
	fn drop(&mut self) {
		let _ = self.0.kill();
	}
}

/// The evidence the vault proposes on: a canonical input of the voice-activity model (576
/// samples of a voiced-like signal and a zero recurrent state), as `contracts/test/evidence.hex`
/// holds it for the README's walkthrough too.
fn evidence() -> String {
	let hex = std::fs::read_to_string(contracts_dir().join("test/evidence.hex"))
		.expect("contracts/test/evidence.hex is readable");
	let hex = hex.trim().to_string();
	let bytes: Vec<u8> = (2..hex.len())
		.step_by(2)
		.map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
		.collect();
	let input = TensorMap::decode_canonical(&bytes).expect("a canonical tensor map");
	assert_eq!(input.0.len(), 2, "the model's two inputs");
	hex
}

/// Which callback a `CallbackDelivered` event's fields (`request_id`, `contract`, `kind`,
/// `gas_used`) record, by the name of its `CallbackKind` variant.
fn delivered_kind(mut fields: &[u8]) -> &'static str {
	let (_, _, kind, _) =
		<(u64, [u8; 20], u8, u64)>::decode(&mut fields).expect("CallbackDelivered's fields");
	["Result", "Corrected", "ReturnReserve", "Failed"]
		.get(usize::from(kind))
		.copied()
		.unwrap_or("?")
}

/// The `InferenceContracts` events of every block up to the best one, by name, and each
/// delivered callback as `CallbackDelivered(kind)`.
async fn contract_events(node: &Node) -> BTreeSet<String> {
	let client = node.client().await;
	let best = client.at_current_block().await.expect("the current block").block_number();
	let mut names = BTreeSet::new();
	for number in 1..=best {
		let at = client.at_block(number).await.expect("a block");
		let events = at.events().fetch().await.expect("its events");
		for event in events.iter().filter_map(Result::ok) {
			if event.pallet_name() == "InferenceContracts" {
				names.insert(event.event_name().to_string());
				if event.event_name() == "CallbackDelivered" {
					names.insert(format!(
						"CallbackDelivered({})",
						delivered_kind(event.field_bytes())
					));
				}
			}
		}
	}
	names
}

/// Run the Node.js driver `script` (under `contracts/`) with `args`: it must succeed and print
/// each of `steps` (`{"step": …}` lines).
fn run_driver(node: &Node, script: &str, args: &[&str], steps: &[&str]) {
	let mut command = Command::new("node");
	command.arg(contracts_dir().join(script)).args(args);
	expect_steps(node, script, &mut command, steps);
}

/// Run Hardhat's `script` (under `contracts/hardhat`) on the `verity` network at `eth_url`,
/// with `env`: it must succeed and print each of `steps`.
fn run_hardhat(node: &Node, eth_url: &str, script: &str, env: &[(&str, &str)], steps: &[&str]) {
	let project = contracts_dir().join("hardhat");
	let hardhat = project.join("node_modules/.bin/hardhat");
	assert!(hardhat.exists(), "{} is missing: run scripts/setup.sh", hardhat.display());
	let mut command = Command::new(hardhat);
	command
		.current_dir(&project)
		.args(["run", "--no-compile", "--network", "verity", script])
		.env("VERITY_ETH_RPC", eth_url)
		.env("HARDHAT_DISABLE_TELEMETRY_PROMPT", "true")
		.envs(env.iter().copied());
	expect_steps(node, script, &mut command, steps);
}

/// Run `command`: it must succeed and print each of `steps` (`{"step": …}` lines).
fn expect_steps(node: &Node, script: &str, command: &mut Command, steps: &[&str]) {
	let run = command.output().expect("Node.js runs");
	let stdout = String::from_utf8_lossy(&run.stdout);
	println!("{stdout}");
	assert!(
		run.status.success(),
		"{script} failed:\n{stdout}\n{}\nnode log:\n{}",
		String::from_utf8_lossy(&run.stderr),
		node.log()
	);
	for step in steps {
		assert!(stdout.contains(&format!("\"step\":\"{step}\"")), "{script}: step {step} missing");
	}
}

#[tokio::test(flavor = "multi_thread")]
async fn a_solidity_vault_requests_a_model_and_acts_on_the_settled_result() {
	let _machine = verity_tests::shared_machine().await;
	let node = Node::start("contracts", &["--dev", "--tmp"]);
	let eth = EthRpc::start(&node.ws_url());

	let artifacts = tempfile::tempdir().unwrap();
	let compiled = Command::new("node")
		.arg(contracts_dir().join("build.mjs"))
		.arg(artifacts.path())
		.output()
		.expect("Node.js runs solc-js");
	assert!(compiled.status.success(), "{}", String::from_utf8_lossy(&compiled.stderr));

	let artifacts_dir = artifacts.path().to_str().unwrap();
	let evidence = evidence();
	run_driver(
		&node,
		"test/vault.mjs",
		&[
			&eth.1,
			artifacts_dir,
			VOICE_ACTIVITY,
			&evidence,
			GENERATION,
			&unrunnable_generation_input(),
		],
		&[
			"quoted",
			"refused an unfinalized result",
			"paid out by callback",
			"refused a forged callback",
			"unknown model reverted",
			"too little callback gas: settled from the pull path",
			"reverting callback left the funds in the vault",
			"static and delegate calls refused, reasons caught",
			"rejected input: proposal closed by onInferenceFailed, amount freed",
		],
	);
	// ethers.js on the same chain, unmodified: network, account, transfer, deployment, a call.
	run_driver(
		&node,
		"test/ethers.mjs",
		&[&eth.1, artifacts_dir, VOICE_ACTIVITY],
		&["network", "funded account", "transferred", "deployed and read back", "quoted"],
	);
	// Hardhat, its project unmodified but for the network entry: its account, a deployment, a
	// quote, a proposal paid out by the callback.
	run_hardhat(
		&node,
		&eth.1,
		"scripts/vault.js",
		&[
			("VERITY_ARTIFACTS", artifacts_dir),
			("VERITY_MODEL", VOICE_ACTIVITY),
			("VERITY_EVIDENCE", &evidence),
		],
		&["network and account", "deployed", "quoted", "proposed", "paid out by callback"],
	);

	let events = contract_events(&node).await;
	for name in [
		"ContractRequested",
		"CallbackDelivered(Result)",
		"CallbackDelivered(Failed)",
		"CallbackFailed",
		"CallbackReverted",
	] {
		assert!(events.contains(name), "no {name} event; seen {events:?}");
	}
}
