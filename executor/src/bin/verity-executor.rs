//! `verity-executor`: serve deterministic CPU inference over HTTP.

use clap::Parser;
use std::{path::PathBuf, time::Duration};
use verity_executor::{server, Engine, ExecutionProfile, ModelStore};

/// Serve ONNX models from a content-addressed store over HTTP, under one execution profile.
#[derive(Debug, Parser)]
#[command(name = "verity-executor", version)]
struct Args {
	/// Address to listen on.
	#[arg(long, default_value = "127.0.0.1:9955")]
	listen: String,
	/// The model store directory.
	#[arg(long, default_value = "models")]
	models_dir: PathBuf,
	/// The execution profile: `generic` (portable) or `native` (the host's fastest kernels).
	#[arg(long, default_value = "generic")]
	profile: ExecutionProfile,
	/// Artifacts to add to the store at start-up.
	#[arg(long = "import")]
	imports: Vec<PathBuf>,
	/// Jobs running at once.
	#[arg(long, default_value_t = 2)]
	max_concurrent_jobs: usize,
	/// Longest a job may run, in seconds.
	#[arg(long, default_value_t = 30)]
	job_timeout_secs: u64,
	/// Largest request body, in bytes.
	#[arg(long, default_value_t = 4 * 1024 * 1024)]
	max_body_bytes: usize,
	/// Memory for cached model plans, in MiB.
	#[arg(long, default_value_t = 1024)]
	cache_mib: usize,
	/// TEST ONLY: alter every output, as a faulty executor would.
	#[arg(long, hide = true)]
	faulty: bool,
}

fn main() {
	let args = Args::parse();
	if let Err(message) = run(args) {
		eprintln!("verity-executor: {message}");
		std::process::exit(1);
	}
}

fn run(args: Args) -> Result<(), String> {
	args.profile.activate();
	let store = ModelStore::open(&args.models_dir).map_err(|error| {
		format!("cannot open model store {}: {error}", args.models_dir.display())
	})?;
	for path in &args.imports {
		let id = store.import(path).map_err(|error| error.to_string())?;
		eprintln!("imported {} as 0x{}", path.display(), verity_executor::store::hex(&id));
	}
	let engine = Engine::new(store, args.profile, args.cache_mib * 1024 * 1024)
		.with_faulty_outputs(args.faulty);
	let limits = server::Limits {
		max_body_bytes: args.max_body_bytes,
		max_concurrent_jobs: args.max_concurrent_jobs.max(1),
		job_timeout: Duration::from_secs(args.job_timeout_secs),
	};
	let runtime = tokio::runtime::Builder::new_multi_thread()
		.enable_all()
		.build()
		.map_err(|error| format!("cannot start the async runtime: {error}"))?;
	runtime.block_on(async {
		let listener = tokio::net::TcpListener::bind(&args.listen)
			.await
			.map_err(|error| format!("cannot listen on {}: {error}", args.listen))?;
		eprintln!("verity-executor: serving on {} under {}", args.listen, args.profile);
		server::serve(listener, engine, limits).await.map_err(|error| error.to_string())
	})
}
