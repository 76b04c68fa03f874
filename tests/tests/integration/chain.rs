//! The chain foundation, end to end: a dev node produces and finalizes blocks, accepts a
//! transfer, stops cleanly, and resumes from its database without losing anything.

use scale_decode::DecodeAsType;
use std::time::Duration;
use subxt::dynamic;
use subxt_signer::sr25519::{dev, Keypair};
use verity_tests::{wait_for_finalized, Client, Node};

/// Generous: a loaded two-core machine may miss slots.
const FINALITY_TIMEOUT: Duration = Duration::from_secs(120);

/// The fields of `System.Account` these tests read.
#[derive(Debug, DecodeAsType)]
struct AccountInfo {
	data: AccountData,
}

#[derive(Debug, DecodeAsType)]
struct AccountData {
	free: u128,
}

/// Free balance of `who` at the latest finalized block.
async fn free_balance(client: &Client, who: &Keypair) -> u128 {
	let at = client.at_current_block().await.expect("the finalized block is readable");
	let address = dynamic::storage::<([u8; 32],), AccountInfo>("System", "Account");
	let entry = at.storage().entry(address).expect("System.Account exists");
	match entry.try_fetch((who.public_key().0,)).await.expect("storage is readable") {
		Some(value) => value.decode().expect("AccountInfo decodes").data.free,
		None => 0,
	}
}

/// Transfer `amount` from Alice to `dest`, wait for finality; returns the block's number and
/// hash.
async fn transfer(client: &Client, dest: &Keypair, amount: u128) -> (u64, subxt::utils::H256) {
	let call = dynamic::transaction(
		"Balances",
		"transfer_keep_alive",
		(dest.public_key().to_address::<()>(), amount),
	);
	let in_block = client
		.transactions()
		.await
		.expect("a transactions client")
		.sign_and_submit_then_watch_default(&call, &dev::alice())
		.await
		.expect("the transfer is accepted into the pool")
		.wait_for_finalized()
		.await
		.expect("the transfer is finalized");
	let events = in_block.wait_for_success().await.expect("the transfer succeeds");
	let transferred = events
		.iter()
		.filter_map(Result::ok)
		.any(|event| event.pallet_name() == "Balances" && event.event_name() == "Transfer");
	assert!(transferred, "the block holds a Balances.Transfer event for the transfer");
	let block = client.at_block(in_block.block_hash()).await.expect("the block is readable");
	(block.block_number(), in_block.block_hash())
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_node_finalizes_a_transfer_and_stops_cleanly() {
	let _machine = verity_tests::shared_machine().await;
	let mut node = Node::start("dev", &["--dev", "--tmp"]);
	let client = node.client().await;

	let finalized = wait_for_finalized(&client, 2, FINALITY_TIMEOUT).await;
	assert!(finalized >= 2, "blocks are produced and finalized");

	let metrics = node.metrics();
	assert!(
		metrics.contains("substrate_block_height"),
		"Prometheus serves the node's metrics, got: {}",
		metrics.lines().next().unwrap_or_default()
	);

	let dest = Keypair::from_secret_key([7; 32]).expect("a valid secret key");
	assert_eq!(free_balance(&client, &dest).await, 0);
	let amount = 5_000_000_000_000u128;
	let (number, _) = transfer(&client, &dest, amount).await;
	assert!(number > 0);
	assert_eq!(free_balance(&client, &dest).await, amount);

	let status = node.stop();
	assert!(status.success(), "the node exits cleanly on SIGINT, got {status}:\n{}", node.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_node_resumes_from_its_database() {
	let _machine = verity_tests::shared_machine().await;
	let base = tempfile::tempdir().expect("a temporary base path");
	let base_path = base.path().to_str().expect("a UTF-8 path");
	let args = ["--dev", "--base-path", base_path];
	let dest = Keypair::from_secret_key([9; 32]).expect("a valid secret key");
	let amount = 3_000_000_000_000u128;

	let mut first = Node::start("restart-1", &args);
	let client = first.client().await;
	let (transfer_number, transfer_hash) = transfer(&client, &dest, amount).await;
	let finalized_before = client.at_current_block().await.expect("finalized").block_number();
	drop(client);
	let status = first.stop();
	assert!(status.success(), "the node exits cleanly, got {status}:\n{}", first.log());

	let second = Node::start("restart-2", &args);
	let client = second.client().await;
	let finalized_after = client.at_current_block().await.expect("finalized").block_number();
	assert!(
		finalized_after >= finalized_before,
		"the chain resumes at #{finalized_after}, not below #{finalized_before}"
	);
	let block = client.at_block(transfer_number).await.expect("the old block is still there");
	assert_eq!(block.block_hash(), transfer_hash, "the transfer's block is unchanged");
	assert_eq!(free_balance(&client, &dest).await, amount, "the transfer is still there");

	// And the chain keeps going from there.
	wait_for_finalized(&client, finalized_after + 2, FINALITY_TIMEOUT).await;
}
