//! A three-validator network (`--chain local`), each validator with its own embedded executor,
//! serving a demo model with redundancy 3:
//!
//! 1. all honest: a request finalizes with three matching attestations;
//! 2. Charlie's executor turns faulty (test-only mode): Charlie is slashed for dissent and the
//!    request still finalizes on the honest quorum;
//! 3. Charlie's node is stopped: its assignment times out, Charlie is slashed for missing, the
//!    request finalizes on the honest quorum and the requester gets Charlie's share back;
//! 4. Charlie comes back as a copycat (test-only mode): it runs nothing, commits a copy of the
//!    first commitment it sees and reveals the first output it sees. Its reveal breaks the
//!    copied commitment (which binds the other executor's key): it is slashed as a dissenter
//!    and earns nothing, and the request finalizes on the honest pair.

use std::time::Duration;
use subxt_signer::sr25519::dev;
use verity_tests::{
	executor_stats, inference_request, request_in_best_block, text_line_input, validator,
	wait_for_request_finalized, TEXT_DIRECTION,
};

/// The request once `count` reveals of it are on chain.
async fn wait_for_attestations(
	rpc: &subxt::rpcs::client::RpcClient,
	request_id: u64,
	count: usize,
	timeout: Duration,
) -> serde_json::Value {
	let deadline = std::time::Instant::now() + timeout;
	loop {
		let request = inference_request(rpc, request_id).await;
		let revealed = request["attestations"].as_array().map_or(0, Vec::len);
		if revealed >= count {
			return request;
		}
		assert!(
			std::time::Instant::now() < deadline,
			"request {request_id} has {revealed} of {count} reveals: {}",
			request["status"]
		);
		tokio::time::sleep(Duration::from_secs(1)).await;
	}
}

#[tokio::test(flavor = "multi_thread")]
async fn three_executors_agree_a_faulty_one_is_slashed_and_a_missing_one_is_slashed() {
	let _machine = verity_tests::whole_machine().await;
	let base = tempfile::tempdir().expect("a temporary directory");
	let alice = validator("local", "alice", base.path(), None, &[]);
	let bob = validator("local", "bob", base.path(), Some(alice.ports.p2p), &[]);
	let mut charlie = validator("local", "charlie", base.path(), Some(alice.ports.p2p), &[]);
	let client = alice.client().await;
	let rpc = alice.rpc().await;
	let requester = dev::dave();
	let timeout = Duration::from_secs(180);

	// 1. Everyone honest.
	let first =
		request_in_best_block(&client, &requester, TEXT_DIRECTION, text_line_input(1.0)).await;
	wait_for_request_finalized(&rpc, first, timeout).await;
	// The quorum is two of three: the third reveal may land a block after finalization.
	let result = wait_for_attestations(&rpc, first, 3, timeout).await;
	let attestations = result["attestations"].as_array().expect("attestations").clone();
	assert!(attestations.iter().all(|a| a["output_hash"] == attestations[0]["output_hash"]));

	// 2. Charlie's executor turns faulty.
	charlie.stop();
	charlie =
		validator("local", "charlie", base.path(), Some(alice.ports.p2p), &["--executor-faulty"]);
	// Another requester: finality stalls while Charlie restarts, and a request settles before
	// GRANDPA finalizes it, so a nonce read at the finalized block would repeat Dave's last one.
	let second =
		request_in_best_block(&client, &dev::ferdie(), TEXT_DIRECTION, text_line_input(0.5)).await;
	let result = wait_for_request_finalized(&rpc, second, timeout).await;
	let agreed = result["status"]["Finalized"]["output_hash"].clone();
	// Wait for Charlie's late answer to be settled at the deadline.
	let deadline = std::time::Instant::now() + timeout;
	loop {
		let stats = executor_stats(&rpc, &dev::charlie()).await;
		if stats["dissented"] == 1 {
			assert!(
				stats["slashed"].as_u64().unwrap_or(0) > 0 || stats["slashed"].is_string(),
				"{stats}"
			);
			break;
		}
		assert!(std::time::Instant::now() < deadline, "Charlie was not slashed: {stats}");
		tokio::time::sleep(Duration::from_secs(1)).await;
	}
	let result = inference_request(&rpc, second).await;
	let honest = result["attestations"]
		.as_array()
		.unwrap()
		.iter()
		.filter(|a| a["output_hash"] == agreed)
		.count();
	assert_eq!(honest, 2, "the honest pair formed the quorum: {}", result["attestations"]);

	// 3. Charlie stops answering at all.
	charlie.stop();
	let third =
		request_in_best_block(&client, &requester, TEXT_DIRECTION, text_line_input(0.25)).await;
	wait_for_request_finalized(&rpc, third, timeout).await;
	let deadline = std::time::Instant::now() + timeout;
	loop {
		let stats = executor_stats(&rpc, &dev::charlie()).await;
		let request = inference_request(&rpc, third).await;
		if stats["missed"] == 1 {
			assert_eq!(request["escrow"], 0, "nothing is left in escrow: {}", request["escrow"]);
			let revealed = &request["attestations"];
			assert_eq!(revealed.as_array().map(Vec::len), Some(2), "{revealed}");
			break;
		}
		assert!(std::time::Instant::now() < deadline, "Charlie's miss was not settled: {stats}");
		tokio::time::sleep(Duration::from_secs(1)).await;
	}
	let bob_stats = executor_stats(&rpc, &dev::bob()).await;
	assert_eq!(bob_stats["agreed"], 3, "{bob_stats}");

	// 4. Charlie comes back as a copycat.
	let before = executor_stats(&rpc, &dev::charlie()).await;
	let _charlie =
		validator("local", "charlie", base.path(), Some(alice.ports.p2p), &["--executor-copycat"]);
	// Another requester: finality stalled while Charlie was down, and a nonce read at the
	// finalized block would repeat the requester's last one.
	let fourth =
		request_in_best_block(&client, &dev::eve(), TEXT_DIRECTION, text_line_input(0.125)).await;
	let result = wait_for_request_finalized(&rpc, fourth, timeout).await;
	let agreed = result["status"]["Finalized"]["output_hash"].clone();
	let charlie_account = dev::charlie().public_key().to_account_id().to_string();
	let deadline = std::time::Instant::now() + timeout;
	let copied = loop {
		let stats = executor_stats(&rpc, &dev::charlie()).await;
		if stats["dissented"] != before["dissented"] || stats["missed"] != before["missed"] {
			break stats;
		}
		assert!(std::time::Instant::now() < deadline, "the copycat was not settled: {stats}");
		tokio::time::sleep(Duration::from_secs(1)).await;
	};
	assert_eq!(copied["agreed"], before["agreed"], "the copycat earned nothing: {copied}");
	assert_ne!(copied["slashed"], before["slashed"], "the copycat was slashed: {copied}");
	let result = inference_request(&rpc, fourth).await;
	let attestations = result["attestations"].as_array().expect("attestations");
	assert_eq!(
		attestations
			.iter()
			.filter(|a| a["output_hash"] == agreed && a["matches_commitment"] == true)
			.count(),
		2,
		"the honest pair formed the quorum: {attestations:?}"
	);
	for attestation in attestations.iter().filter(|a| a["executor"] == charlie_account.as_str()) {
		assert_eq!(
			attestation["matches_commitment"], false,
			"the copy broke its commitment: {attestations:?}"
		);
	}
	drop(bob);
}
