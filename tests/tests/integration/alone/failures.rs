//! Failures lose nothing: a four-validator network (`--chain local4`, each validator with its
//! own embedded executor, the demo models at redundancy 3) under a stream of requests.
//!
//! Dave's node is killed (SIGKILL) while requests are in flight. GRANDPA needs more than two
//! thirds of four, so the other three keep producing and finalizing blocks; every request ends
//! finalized (the two honest answers of three form the quorum where Dave was drawn); only Dave,
//! whose outage it was, is charged for missing; Alice, Bob and Charlie miss nothing and are
//! never slashed. Dave's node then restarts on its database and catches up with the chain.

use std::time::{Duration, Instant};
use subxt_signer::sr25519::{dev, Keypair};
use verity_tests::{
	executor_stats, request_in_best_block, text_line_input, validator, wait_for_finalized,
	wait_for_request_finalized, Client, TEXT_DIRECTION,
};

/// The number of the latest block a node has finalized.
async fn finalized_number(client: &Client) -> u64 {
	client.at_current_block().await.expect("the finalized block").block_number()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_validator_killed_mid_load_stops_nothing_and_catches_up_after_a_restart() {
	let _machine = verity_tests::whole_machine().await;
	let base = tempfile::tempdir().expect("a temporary directory");
	let alice = validator("local4", "alice", base.path(), None, &[]);
	let _bob = validator("local4", "bob", base.path(), Some(alice.ports.p2p), &[]);
	let _charlie = validator("local4", "charlie", base.path(), Some(alice.ports.p2p), &[]);
	let mut dave = validator("local4", "dave", base.path(), Some(alice.ports.p2p), &[]);
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
		requests.push(
			request_in_best_block(&client, who, TEXT_DIRECTION, text_line_input(1.0 + i as f32))
				.await,
		);
	}
	dave.kill();
	let finalized_at_crash = wait_for_finalized(&client, 1, timeout).await;
	for (i, who) in requesters[2..].iter().enumerate() {
		requests.push(
			request_in_best_block(
				&client,
				who,
				TEXT_DIRECTION,
				text_line_input(0.5 + i as f32 / 4.0),
			)
			.await,
		);
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
	let dave = validator("local4", "dave", base.path(), Some(alice.ports.p2p), &[]);
	let target = wait_for_finalized(&client, finalized_at_crash + 6, timeout).await;
	let dave_client = dave.client().await;
	while finalized_number(&dave_client).await < target {
		assert!(Instant::now() < deadline, "Dave did not catch up to #{target}");
		tokio::time::sleep(Duration::from_secs(1)).await;
	}
}
