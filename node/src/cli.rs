//! Command-line arguments of `verity-node`.

use sc_cli::{Database, DatabaseParams, RunCmd};
use std::path::PathBuf;

/// The Verity node.
#[derive(Debug, clap::Parser)]
pub struct Cli {
	/// A subcommand; without one the node runs.
	#[command(subcommand)]
	pub subcommand: Option<Subcommand>,

	/// Options of a running node.
	#[clap(flatten)]
	pub run: RunCmd,

	/// Where this node's executor keys send their jobs.
	#[clap(flatten)]
	pub executor: ExecutorOptions,
}

impl Cli {
	/// Open ParityDB wherever the command line names no database. The SDK's default is
	/// RocksDB as soon as any crate of the build enables it (the Ethereum RPC adapter does), so
	/// without this the node would store its chain in a database its benchmarked weights do not
	/// describe.
	pub fn default_to_paritydb(&mut self) {
		let params: Option<&mut DatabaseParams> = match &mut self.subcommand {
			None => Some(&mut self.run.import_params.database_params),
			Some(Subcommand::CheckBlock(cmd)) => Some(&mut cmd.import_params.database_params),
			Some(Subcommand::ImportBlocks(cmd)) => Some(&mut cmd.import_params.database_params),
			Some(Subcommand::ExportBlocks(cmd)) => Some(&mut cmd.database_params),
			Some(Subcommand::ExportState(cmd)) => Some(&mut cmd.database_params),
			Some(Subcommand::PurgeChain(cmd)) => Some(&mut cmd.database_params),
			Some(Subcommand::Revert(cmd)) => Some(&mut cmd.database_params),
			Some(Subcommand::ChainInfo(cmd)) => Some(&mut cmd.database_params),
			_ => None,
		};
		if let Some(params) = params {
			params.database.get_or_insert(Database::ParityDb);
		}
	}
}

/// How the node's offchain worker reaches a model executor.
#[derive(Debug, Clone, clap::Args)]
pub struct ExecutorOptions {
	/// Send jobs to the executor serving at this URL (e.g. `http://127.0.0.1:9955`).
	#[arg(long, value_name = "URL", conflicts_with = "executor")]
	pub executor_url: Option<String>,

	/// Run an executor inside this node and send jobs to it. The default with `--dev`.
	#[arg(long)]
	pub executor: bool,

	/// The embedded executor's model store. Default: `$HOME/.cache/verity/models`.
	#[arg(long, value_name = "DIR")]
	pub models_dir: Option<PathBuf>,

	/// The embedded executor's execution profile: `generic`, `avx` or `native`.
	#[arg(long, default_value = "generic", value_name = "PROFILE")]
	pub executor_profile: verity_executor::ExecutionProfile,

	/// The `verity-executor` program the embedded executor runs. Default: the one beside this
	/// node's binary.
	#[arg(long, value_name = "PATH")]
	pub executor_bin: Option<PathBuf>,

	/// The token to present to the executor (`Authorization: Bearer`), which it needs to fetch
	/// an artifact it lacks when it is not on this host (its `--auth-token`).
	#[arg(long, value_name = "TOKEN")]
	pub executor_auth_token: Option<String>,

	/// TEST ONLY: the embedded executor alters every output, as a faulty executor would.
	#[arg(long, hide = true)]
	pub executor_faulty: bool,

	/// TEST ONLY: this node's executor keys run nothing; they copy the first commitment and
	/// the first revealed outcome of the other executors, as a copycat would.
	#[arg(long, hide = true)]
	pub executor_copycat: bool,
}

/// What `verity-node` can do besides running.
#[derive(Debug, clap::Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Subcommand {
	/// Key management: generate, inspect, insert into the keystore.
	#[command(subcommand)]
	Key(sc_cli::KeySubcommand),

	/// Export a chain specification.
	ExportChainSpec(sc_cli::ExportChainSpecCmd),

	/// Validate blocks.
	CheckBlock(sc_cli::CheckBlockCmd),

	/// Export blocks.
	ExportBlocks(sc_cli::ExportBlocksCmd),

	/// Export the state of a block as a chain specification.
	ExportState(sc_cli::ExportStateCmd),

	/// Import blocks.
	ImportBlocks(sc_cli::ImportBlocksCmd),

	/// Remove the whole chain.
	PurgeChain(sc_cli::PurgeChainCmd),

	/// Revert the chain to a previous state.
	Revert(sc_cli::RevertCmd),

	/// Benchmark the runtime's pallets, storage or this machine.
	#[cfg(feature = "bench-cli")]
	#[command(subcommand)]
	Benchmark(frame_benchmarking_cli::BenchmarkCmd),

	/// Database metadata.
	ChainInfo(sc_cli::ChainInfoCmd),
}

#[cfg(test)]
mod tests {
	use super::*;
	use clap::Parser;

	fn database_of(args: &[&str]) -> Option<Database> {
		let mut cli = Cli::parse_from(args);
		cli.default_to_paritydb();
		match &cli.subcommand {
			None => cli.run.import_params.database_params.database,
			Some(Subcommand::PurgeChain(cmd)) => cmd.database_params.database,
			Some(Subcommand::ImportBlocks(cmd)) => cmd.import_params.database_params.database,
			other => panic!("unexpected subcommand {other:?}"),
		}
	}

	#[test]
	fn the_node_and_its_database_commands_open_paritydb_unless_told_otherwise() {
		assert_eq!(database_of(&["verity-node", "--dev"]), Some(Database::ParityDb));
		assert_eq!(database_of(&["verity-node", "purge-chain", "--dev"]), Some(Database::ParityDb));
		assert_eq!(
			database_of(&["verity-node", "import-blocks", "--dev"]),
			Some(Database::ParityDb)
		);
		assert_eq!(
			database_of(&["verity-node", "--dev", "--database", "auto"]),
			Some(Database::Auto)
		);
	}
}
