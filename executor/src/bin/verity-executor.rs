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
	/// The execution profile: `generic` (portable), `avx` (portable among CPUs with AVX) or
	/// `native` (the host's fastest kernels).
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
	/// Threads for matrix products (the output bytes do not depend on it), for ONNX models and
	/// for the language-model decoder alike.
	#[arg(long, default_value_t = 1)]
	threads: usize,
	/// Disk the model store may hold, in MiB; fetching past it is refused.
	#[arg(long, default_value_t = 16 * 1024)]
	store_mib: u64,
	/// Memory for cached model plans, in MiB.
	#[arg(long, default_value_t = 1024)]
	cache_mib: usize,
	/// The token (`Authorization: Bearer <token>`) a caller presents to have an artifact the
	/// store lacks fetched from the request's `artifact_uri`. Without it, only loopback callers
	/// may have artifacts fetched; everyone may run what the store holds.
	#[arg(long)]
	auth_token: Option<String>,
	/// TEST ONLY: alter every output, as a faulty executor would.
	#[arg(long, hide = true)]
	faulty: bool,
	/// Instead of serving, time a model.
	#[command(subcommand)]
	command: Option<Command>,
}

/// What to do instead of serving.
#[derive(Debug, clap::Subcommand)]
enum Command {
	/// Time one model on one input: warm up, then print the median of the runs as JSON.
	Bench {
		/// Also time each kind of operator of the optimized plan over the runs (`operators`
		/// in the JSON: mean milliseconds per run, slowest first).
		#[arg(long)]
		operators: bool,
		/// Keep Verity's operators to 256-bit vectors even where the CPU has AVX-512 (same
		/// bytes; measures what a CPU without AVX-512 runs).
		#[arg(long)]
		no_512_bit_vectors: bool,
		/// The model id (hex).
		#[arg(long)]
		model: String,
		/// A file holding the canonical input encoding.
		#[arg(long)]
		input: PathBuf,
		/// Timed runs after the warm-up.
		#[arg(long, default_value_t = 30)]
		runs: usize,
	},
}

fn main() {
	let args = Args::parse();
	if let Err(message) = run(args) {
		eprintln!("verity-executor: {message}");
		std::process::exit(1);
	}
}

fn run(args: Args) -> Result<(), String> {
	args.profile.activate()?;
	verity_executor::profile::set_threads(args.threads);
	if let Some(Command::Bench { model, input, runs, operators, no_512_bit_vectors }) =
		&args.command
	{
		verity_executor::ops::allow_512_bit_vectors(!no_512_bit_vectors);
		return bench(&args, model, input, *runs, *operators);
	}
	let store = ModelStore::open(&args.models_dir)
		.map_err(|error| format!("cannot open model store {}: {error}", args.models_dir.display()))?
		.with_quota(args.store_mib.saturating_mul(1024 * 1024));
	for path in &args.imports {
		let id = store.import(path).map_err(|error| error.to_string())?;
		eprintln!("imported {} as 0x{}", path.display(), verity_executor::store::hex(&id));
	}
	let engine = Engine::new(store, args.profile, args.cache_mib * 1024 * 1024)
		.with_generation_threads(args.threads)
		.with_faulty_outputs(args.faulty);
	let limits = server::Limits {
		max_body_bytes: args.max_body_bytes,
		max_concurrent_jobs: args.max_concurrent_jobs.max(1),
		job_timeout: Duration::from_secs(args.job_timeout_secs),
	};
	let access = server::Access { auth_token: args.auth_token.clone() };
	let runtime = tokio::runtime::Builder::new_multi_thread()
		.enable_all()
		.build()
		.map_err(|error| format!("cannot start the async runtime: {error}"))?;
	runtime.block_on(async {
		let listener = tokio::net::TcpListener::bind(&args.listen)
			.await
			.map_err(|error| format!("cannot listen on {}: {error}", args.listen))?;
		eprintln!("verity-executor: serving on {} under {}", args.listen, args.profile);
		server::serve(listener, engine, limits, access)
			.await
			.map_err(|error| error.to_string())
	})
}

/// Time `model` on the input in `input_path`; prints
/// `{"profile", "threads", "median_ms", "cold_ms", "runs", "output_hash"}` (`cold_ms`: the
/// first run, loading and planning included), and with `operators` the
/// mean time per run of each kind of operator.
fn bench(
	args: &Args,
	model: &str,
	input_path: &std::path::Path,
	runs: usize,
	operators: bool,
) -> Result<(), String> {
	let bytes = sp_core::bytes::from_hex(model).map_err(|_| format!("{model:?} is not hex"))?;
	if bytes.len() != 32 {
		return Err(format!("a model id is 32 bytes, {model:?} is {}", bytes.len()));
	}
	let model_id = sp_core::H256::from_slice(&bytes);
	let input = std::fs::read(input_path)
		.map_err(|error| format!("cannot read {}: {error}", input_path.display()))?;
	let store = ModelStore::open(&args.models_dir).map_err(|error| error.to_string())?;
	let engine = Engine::new(store, args.profile, args.cache_mib * 1024 * 1024);
	let run = || engine.infer(&model_id, None, &input).map_err(|error| error.to_string());
	// Warm-up: the first run loads the artifact from the store and plans the model (its time
	// is what a model's first request costs an executor serving many).
	let started = std::time::Instant::now();
	let output_hash = run()?.output_hash;
	let cold_ms = started.elapsed().as_secs_f64() * 1000.0;
	for _ in 0..2 {
		run()?;
	}
	let mut times: Vec<f64> = (0..runs.max(1))
		.map(|_| {
			let started = std::time::Instant::now();
			run().map(|_| started.elapsed().as_secs_f64() * 1000.0)
		})
		.collect::<Result<_, _>>()?;
	times.sort_by(|a, b| a.total_cmp(b));
	let median = times[times.len() / 2];
	let mut report = serde_json::json!({
		"profile": args.profile.id(),
		"threads": args.threads,
		"median_ms": median,
		"cold_ms": cold_ms,
		"runs": times.len(),
		"output_hash": format!("{output_hash:#x}"),
	});
	if operators {
		let times = engine
			.operator_times(&model_id, &input, runs)
			.map_err(|error| error.to_string())?;
		report["operators"] = times
			.into_iter()
			.map(|(op, mean)| serde_json::json!({"op": op, "mean_ms": mean.as_secs_f64() * 1000.0}))
			.collect();
	}
	println!("{report}");
	Ok(())
}
