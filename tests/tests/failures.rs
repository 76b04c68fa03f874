//! Failures lose nothing: a four-validator network (`--chain local4`, each validator with its
//! own embedded executor, the demo models at redundancy 3) under a stream of requests.
//!
//! Dave's node is killed (SIGKILL) while requests are in flight. GRANDPA needs more than two
//! thirds of four, so the other three keep producing and finalizing blocks; every request ends
//! finalized (the two honest answers of three form the quorum where Dave was drawn); only Dave,
//! whose outage it was, is charged for missing; Alice, Bob and Charlie miss nothing and are
//! never slashed. Dave's node then restarts on its database and catches up with the chain.

use codec::Encode;
use scale_decode::DecodeAsType;
use std::time::{Duration, Instant};
use subxt::dynamic;
use subxt_signer::sr25519::{dev, Keypair};
use verity_primitives::{DType, Tensor, TensorMap};
use verity_tests::{wait_for_finalized, wait_for_request_finalized, Client, Node};

/// The text-direction classifier's model id.
const TEXT_DIRECTION: &str = "6403dbdaf8b7ba8f18f08e4bb8b12fdbdf63ee0d257548aa9da8d221d5ac9f99";

/// Alice's fixed libp2p key, so the others can find her.
const ALICE_NODE_KEY: &str = "0000000000000000000000000000000000000000000000000000000000000001";
/// The peer id of that key.
const ALICE_PEER_ID: &str = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";

#[derive(Debug, DecodeAsType)]
struct InferenceRequested {
	request_id: u64,
}

fn model_id() -> [u8; 32] {
	let mut id = [0u8; 32];
	for (i, byte) in id.iter_mut().enumerate() {
		*byte = u8::from_str_radix(&TEXT_DIRECTION[2 * i..2 * i + 2], 16).unwrap();
	}
	id
}

/// A text-line crop that differs with `seed`.
fn input(seed: f32) -> Vec<u8> {
	let data = (0..3 * 48 * 192)
		.flat_map(|i| ((i % 192) as f32 / 191.0 * seed - 0.5).to_le_bytes())
		.collect();
	TensorMap(vec![Tensor {
		name: b"x".to_vec(),
		dtype: DType::F32,
		shape: vec![1, 3, 48, 192],
		data,
	}])
	.encode()
}

/// `who` requests the classifier on `input`; returns the request id once it is in a best block.
async fn request(client: &Client, who: &Keypair, input: Vec<u8>) -> u64 {
	let call =
		dynamic::transaction("Inference", "request_inference", (model_id(), input, u128::MAX));
	let mut progress = client
		.transactions()
		.await
		.expect("a transactions client")
		.sign_and_submit_then_watch_default(&call, who)
		.await
		.expect("the request enters the pool");
	let mut seen = Vec::new();
	let in_block = loop {
		let Some(status) = progress.next().await else {
			panic!("the status stream of a request ended after {seen:?}");
		};
		match status.expect("a status") {
			subxt::transactions::TransactionStatus::InBestBlock(in_block) => break in_block,
			other => seen.push(format!("{other:?}")),
		}
	};
	let events = in_block.wait_for_success().await.expect("the request succeeds");
	let request_id = events
		.iter()
		.filter_map(Result::ok)
		.find(|event| event.event_name() == "InferenceRequested")
		.map(|event| event.decode_fields_unchecked_as::<InferenceRequested>().expect("decodes"))
		.expect("InferenceRequested")
		.request_id;
	request_id
}

fn validator(name: &str, base: &std::path::Path, bootnode: Option<u16>) -> Node {
	let base_path = base.join(name);
	let flag = format!("--{name}");
	let mut args = vec![
		"--chain",
		"local4",
		"--base-path",
		base_path.to_str().unwrap(),
		"--executor",
		"--allow-private-ip",
		flag.as_str(),
	];
	let bootnode = bootnode.map(|port| format!("/ip4/127.0.0.1/tcp/{port}/p2p/{ALICE_PEER_ID}"));
	if let Some(bootnode) = &bootnode {
		args.extend(["--bootnodes", bootnode, "--unsafe-force-node-key-generation"]);
	} else {
		args.extend(["--node-key", ALICE_NODE_KEY]);
	}
	Node::start(name, &args)
}

/// The executor record of `who`.
async fn executor_stats(rpc: &subxt::rpcs::client::RpcClient, who: &Keypair) -> serde_json::Value {
	let account = who.public_key().to_account_id().to_string();
	let executor: serde_json::Value = rpc
		.request("inference_executor", subxt::rpcs::rpc_params![account])
		.await
		.expect("inference_executor answers");
	executor["stats"].clone()
}

/// The number of the latest block a node has finalized.
async fn finalized_number(client: &Client) -> u64 {
	client.at_current_block().await.expect("the finalized block").block_number()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_validator_killed_mid_load_stops_nothing_and_catches_up_after_a_restart() {
	let base = tempfile::tempdir().expect("a temporary directory");
	let alice = validator("alice", base.path(), None);
	let _bob = validator("bob", base.path(), Some(alice.ports.p2p));
	let _charlie = validator("charlie", base.path(), Some(alice.ports.p2p));
	let mut dave = validator("dave", base.path(), Some(alice.ports.p2p));
	let client = alice.client().await;
	let rpc = alice.rpc().await;
	let timeout = Duration::from_secs(240);
	wait_for_finalized(&client, 2, timeout).await;

	// Load before and after the crash, each request from its own account: the client reads
	// nonces at the finalized block, which lags while requests are in flight.
	let requesters: Vec<Keypair> =
		["//Eve", "//Ferdie", "//Eve//stash", "//Ferdie//stash", "//Alice//stash", "//Bob//stash"]
			.into_iter()
			.map(|uri| Keypair::from_uri(&uri.parse().expect("a secret URI")).expect("a key"))
			.collect();
	let mut requests = Vec::new();
	for (i, who) in requesters[..2].iter().enumerate() {
		requests.push(request(&client, who, input(1.0 + i as f32)).await);
	}
	dave.kill();
	let finalized_at_crash = wait_for_finalized(&client, 1, timeout).await;
	for (i, who) in requesters[2..].iter().enumerate() {
		requests.push(request(&client, who, input(0.5 + i as f32 / 4.0)).await);
	}

	// Three of four keep finalizing, and every request is finalized.
	wait_for_finalized(&client, finalized_at_crash + 5, timeout).await;
	for request_id in &requests {
		wait_for_request_finalized(&rpc, *request_id, timeout).await;
	}

	// Nobody but Dave is charged for Dave's outage.
	let deadline = Instant::now() + timeout;
	for who in [dev::alice(), dev::bob(), dev::charlie()] {
		let stats = executor_stats(&rpc, &who).await;
		assert_eq!(stats["missed"], 0, "{stats}");
		assert_eq!(stats["dissented"], 0, "{stats}");
		assert!(stats["slashed"] == 0 || stats["slashed"] == "0", "{stats}");
	}

	// Dave restarts on its database and catches up with the finalized chain.
	let dave = validator("dave", base.path(), Some(alice.ports.p2p));
	let target = wait_for_finalized(&client, finalized_at_crash + 6, timeout).await;
	let dave_client = dave.client().await;
	while finalized_number(&dave_client).await < target {
		assert!(Instant::now() < deadline, "Dave did not catch up to #{target}");
		tokio::time::sleep(Duration::from_secs(1)).await;
	}
}
