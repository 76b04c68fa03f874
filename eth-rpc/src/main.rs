//! `verity-eth-rpc`: the Ethereum JSON-RPC adapter (`pallet-revive-eth-rpc`) for a Verity node.
//!
//! It connects to a node's WebSocket RPC (`--node-rpc-url`, default `ws://127.0.0.1:9944`) and
//! serves the Ethereum JSON-RPC API on port 8545, translating Ethereum transactions into
//! `Revive::eth_transact` extrinsics and reading blocks, receipts and logs back from the chain.
//! `make run` starts it beside the node with `--dev`.

fn main() -> anyhow::Result<()> {
	let command = pallet_revive_eth_rpc::cli::CliCommand::parse_cli()?;
	pallet_revive_eth_rpc::cli::run(command)
}
