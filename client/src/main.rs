//! `verity`: what dApp developers and users run against a Verity chain.

mod bodies;
mod chain;
mod commands;
mod explorer;
mod generate;
mod memory;
mod runtime;
mod tensors;
mod verify;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Submit, watch and verify inference on a Verity chain.
#[derive(Debug, Parser)]
#[command(name = "verity", version)]
pub struct Cli {
	/// The node's WebSocket RPC URL.
	#[arg(long, global = true, default_value = "ws://127.0.0.1:9944")]
	pub url: String,
	/// The signer's secret URI (e.g. `//Bob`, a mnemonic). Defaults to `//Alice` on development
	/// chains only.
	#[arg(long, global = true)]
	pub suri: Option<String>,
	/// Print JSON instead of text.
	#[arg(long, global = true)]
	pub json: bool,
	/// What to do.
	#[command(subcommand)]
	pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
	/// Registered models.
	#[command(subcommand)]
	Models(ModelsCommand),
	/// Executors.
	#[command(subcommand)]
	Executor(ExecutorCommand),
	/// Generate text with a language model (a GGUF generation model): the prompt and
	/// sampling parameters go on chain, its executors generate, the text settles like any
	/// other result.
	Generate {
		/// The generation model's id (0x…).
		#[arg(long)]
		model: String,
		/// The prompt.
		prompt: String,
		/// Most new tokens (1 to 512).
		#[arg(long, default_value_t = 64)]
		max_tokens: u32,
		/// Sampling temperature, 0 (greedy: always the most likely token) to 2.
		#[arg(long, default_value_t = 0.0)]
		temperature: f64,
		/// Nucleus sampling: keep the most likely tokens up to this probability mass (0 to 1].
		#[arg(long, default_value_t = 1.0)]
		top_p: f64,
		/// Sample among this many most likely tokens (0: no limit, at most 1,000).
		#[arg(long, default_value_t = 0)]
		top_k: u32,
		/// Any number: another nonce draws another sample of the same prompt.
		#[arg(long, default_value_t = 0)]
		nonce: u32,
		/// The most to pay, in the chain's smallest unit. Default: whatever the model costs.
		#[arg(long)]
		max_fee: Option<u128>,
		/// Wait for the text and print it.
		#[arg(long)]
		wait: bool,
	},
	/// Request an inference.
	Infer {
		/// The model id (0x…).
		#[arg(long)]
		model: String,
		/// The input: a JSON object of tensors (`{"x": {"dtype": "f32", "shape": [..], "data":
		/// [..]}}`) inline or in a `.json` file, or a file of canonical bytes.
		#[arg(long)]
		input: String,
		/// The most to pay, in the chain's smallest unit. Default: whatever the model costs.
		#[arg(long)]
		max_fee: Option<u128>,
		/// Wait for the result and print it.
		#[arg(long)]
		wait: bool,
	},
	/// Requests.
	#[command(subcommand)]
	Request(RequestCommand),
	/// Agent memory: spaces of committed entries, recalled by exact integer ranking.
	#[command(subcommand)]
	Memory(MemoryCommand),
	/// Serve the web explorer: models, requests and executors live from the node (--url),
	/// and "verify in this browser", which re-runs a result in WebAssembly.
	Explorer {
		/// The address to listen on.
		#[arg(long, default_value = "127.0.0.1:8700")]
		listen: String,
		/// Where the model artifacts the page verifies with are kept.
		#[arg(long)]
		models_dir: Option<PathBuf>,
		/// The target directory `make build` wrote the page's bundle and the WebAssembly
		/// verifier into (default: the one this program was built into).
		#[arg(long)]
		assets: Option<PathBuf>,
	},
	/// Check a finalized request end to end: model hash, input and output hashes, every
	/// signature, the quorum, and a local re-run compared byte for byte.
	Verify {
		/// The request id.
		id: u64,
		/// Where model artifacts are kept (fetched from their URI when missing).
		#[arg(long)]
		models_dir: Option<PathBuf>,
		/// Read the input and output from the bodies of the blocks that carried them, even if
		/// the chain still holds them (it drops them after the challenge window, and then they
		/// are read from the blocks anyway).
		#[arg(long)]
		from_blocks: bool,
	},
}

/// `verity memory …`.
#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
	/// Create a space owned by the signer.
	Create {
		/// The embedding model (0x…). Default: the registered `all-minilm-l6-v2`.
		#[arg(long)]
		model: Option<String>,
	},
	/// Give an account read or write access to a space.
	Grant {
		/// The space.
		#[arg(long)]
		space: u64,
		/// The account (SS58).
		#[arg(long)]
		to: String,
		/// `read` or `write`.
		#[arg(long)]
		access: String,
	},
	/// Store an entry: text (embedded for recall) or, with --file, opaque bytes.
	Remember {
		/// The space.
		#[arg(long)]
		space: u64,
		/// The text to remember.
		text: Option<String>,
		/// A file of opaque bytes (e.g. encrypted) to remember instead; never embedded.
		#[arg(long, conflicts_with = "text")]
		file: Option<PathBuf>,
		/// Wait until the entry's embedding is attached.
		#[arg(long)]
		wait: bool,
	},
	/// Recall the entries closest to a question. By default the question is embedded here,
	/// with the space's registered model under its profile, and ranked by the chain's
	/// `MemoryApi` without a transaction; `--on-chain` asks the chain instead (a transaction,
	/// an inference request, the ranking recomputed here).
	Recall {
		/// The space.
		#[arg(long)]
		space: u64,
		/// The question.
		question: String,
		/// How many entries.
		#[arg(short, long, default_value_t = 3)]
		k: u32,
		/// Embed the question through an inference request on chain (the ranking then rests
		/// on the executors' attestations, not on this machine).
		#[arg(long)]
		on_chain: bool,
		/// Where model artifacts are kept (fetched from their URI when missing).
		#[arg(long, conflicts_with = "executor_url")]
		models_dir: Option<PathBuf>,
		/// Embed the question with the executor serving at this URL (one that keeps the model
		/// planned, e.g. `http://127.0.0.1:9955`) instead of in this process; its reply must
		/// name the model's execution profile.
		#[arg(long, conflicts_with = "on_chain")]
		executor_url: Option<String>,
	},
	/// List a space's entries.
	List {
		/// The space.
		#[arg(long)]
		space: u64,
	},
	/// Remove an entry and release its deposit.
	Forget {
		/// The space.
		#[arg(long)]
		space: u64,
		/// The entry.
		#[arg(long)]
		entry: u64,
	},
	/// Write a space's entries with Merkle proofs against its root at the finalized block.
	Export {
		/// The space.
		#[arg(long)]
		space: u64,
		/// The file to write; standard output without it.
		#[arg(long)]
		out: Option<PathBuf>,
	},
	/// Check an export's proofs and store its entries in a new space owned by the signer.
	Import {
		/// The export file.
		file: PathBuf,
		/// The new space's embedding model. Default: the exported space's.
		#[arg(long)]
		model: Option<String>,
	},
}

/// `verity models …`.
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
	/// List every registered model.
	List,
	/// Show one model.
	Show {
		/// The model id (0x…).
		id: String,
	},
	/// Register an ONNX artifact: sudo where the signer holds the sudo key, otherwise a
	/// technical committee proposal.
	Register {
		/// The ONNX file, or a GGUF language model (registered as a generation model).
		file: PathBuf,
		/// The model's name.
		#[arg(long)]
		name: String,
		/// Its version.
		#[arg(long)]
		version: String,
		/// Fee per executor run, in the chain's smallest unit.
		#[arg(long)]
		fee: u128,
		/// Executors per request.
		#[arg(long)]
		redundancy: u8,
		/// The execution profile it must run under. Default: `tract-0.23/generic` for ONNX,
		/// the decoder's profile for GGUF.
		#[arg(long)]
		profile: Option<String>,
		/// Blocks executors get to answer a request (0: the chain's default). A language
		/// model generating many tokens needs more.
		#[arg(long, default_value_t = 0)]
		answer_blocks: u32,
		/// Where executors fetch it. Default: `file://` + the file's absolute path.
		#[arg(long)]
		uri: Option<String>,
		/// The model this version replaces.
		#[arg(long)]
		predecessor: Option<String>,
	},
}

/// `verity executor …`.
#[derive(Debug, Subcommand)]
pub enum ExecutorCommand {
	/// Register the signer as an executor.
	Register {
		/// Models served, comma-separated ids.
		#[arg(long, value_delimiter = ',')]
		models: Vec<String>,
		/// The bond, in the chain's smallest unit.
		#[arg(long)]
		bond: u128,
		/// Secret URI of the attestation key; default: the signer's own key.
		#[arg(long)]
		attestation_suri: Option<String>,
	},
	/// An executor's record; default: the signer's.
	Status {
		/// The executor's account (SS58).
		account: Option<String>,
	},
}

/// `verity request …`.
#[derive(Debug, Subcommand)]
pub enum RequestCommand {
	/// Show a request with its status, attestations and output.
	Show {
		/// The request id.
		id: u64,
	},
}

/// An error a user can act on.
#[derive(Debug)]
pub struct CliError {
	message: String,
	/// The exit status.
	pub code: i32,
}

impl CliError {
	/// An error with this message and exit status 1.
	pub fn new(message: impl Into<String>) -> Self {
		Self { message: message.into(), code: 1 }
	}
}

impl std::fmt::Display for CliError {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.write_str(&self.message)
	}
}

fn main() {
	let cli = Cli::parse();
	let json = cli.json;
	let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
		Ok(runtime) => runtime,
		Err(error) => {
			eprintln!("verity: cannot start: {error}");
			std::process::exit(1);
		},
	};
	if let Err(error) = runtime.block_on(commands::run(cli)) {
		if json {
			println!("{}", serde_json::json!({ "error": error.message }));
		} else {
			eprintln!("verity: {error}");
		}
		std::process::exit(error.code);
	}
}
