//! A harness that runs real `verity-node` processes on loopback for integration tests.
//!
//! Each [`Node`] gets free ports, its own base path (or `--tmp`), and is stopped with SIGINT
//! when dropped, as an operator would stop it.

use codec::Encode;
use scale_decode::DecodeAsType;
use std::{
	io::{Read, Write},
	net::{TcpListener, TcpStream},
	path::{Path, PathBuf},
	process::{Child, Command, ExitStatus, Stdio},
	sync::OnceLock,
	time::{Duration, Instant},
};
use subxt::{
	dynamic,
	rpcs::{client::RpcClient, rpc_params},
	OnlineClient, PolkadotConfig,
};
use subxt_signer::sr25519::Keypair;
use tokio::sync::{RwLockReadGuard, RwLockWriteGuard};
use verity_primitives::{DType, Tensor, TensorMap};

/// How long a node may take to open its RPC port.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

/// The client type the tests drive a node with.
pub type Client = OnlineClient<PolkadotConfig>;

/// The `verity-node` binary under test: `$VERITY_NODE`, or the one built next to this test.
pub fn node_binary() -> PathBuf {
	if let Some(path) = std::env::var_os("VERITY_NODE") {
		return PathBuf::from(path);
	}
	// Test executables live in `<target>/<profile>/deps/`; binaries in `<target>/<profile>/`.
	let exe = std::env::current_exe().expect("the test knows its own path");
	let profile_dir = exe
		.parent()
		.and_then(Path::parent)
		.expect("test executables live two levels below the profile directory");
	let binary = profile_dir.join("verity-node");
	assert!(
		binary.exists(),
		"{} is missing: build the node first (`make test` does), or set VERITY_NODE",
		binary.display()
	);
	binary
}

/// The `verity` client binary built next to this test, or `$VERITY_CLI`.
pub fn cli_binary() -> PathBuf {
	if let Some(path) = std::env::var_os("VERITY_CLI") {
		return PathBuf::from(path);
	}
	let node = node_binary();
	let binary = node.with_file_name("verity");
	assert!(binary.exists(), "{} is missing: build the client first", binary.display());
	binary
}

/// What one `verity` invocation did.
#[derive(Debug)]
pub struct CliRun {
	/// Its exit status.
	pub code: i32,
	/// Its standard output.
	pub stdout: String,
	/// Its standard error.
	pub stderr: String,
}

impl CliRun {
	/// The standard output as JSON (for `--json` runs).
	pub fn json(&self) -> serde_json::Value {
		serde_json::from_str(self.stdout.trim())
			.unwrap_or_else(|error| panic!("not JSON ({error}): {self:?}"))
	}
}

/// Run `verity` against `url` with `args`.
pub fn verity(url: &str, args: &[&str]) -> CliRun {
	let out = Command::new(cli_binary())
		.args(["--url", url])
		.args(args)
		.output()
		.expect("verity runs");
	CliRun {
		code: out.status.code().unwrap_or(-1),
		stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
		stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
	}
}

/// The machine the tests share: many tests hold it shared, one holds it whole. Waiters are
/// served in turn, so a test waiting for the whole machine is not starved by shared ones.
static MACHINE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// When the first test asked for the machine.
static FIRST_ASKED: OnceLock<Instant> = OnceLock::new();

/// How long after the first test asked for the machine a shared test waits before it asks.
/// The harness starts tests together, in the order of their names; the tests that need the
/// whole machine come first (see the integration tests' module `alone`) and ask within this
/// head start, so they run before the shared tests started with them instead of after them.
/// A test started later asks at once.
const HEAD_START_FOR_WHOLE: Duration = Duration::from_secs(1);

/// How long a shared test still has to leave to the tests that need the whole machine.
fn head_start_left() -> Duration {
	let first = *FIRST_ASKED.get_or_init(Instant::now);
	(first + HEAD_START_FOR_WHOLE).saturating_duration_since(Instant::now())
}

/// Share the machine with the other tests that share it, for as long as the guard lives: for a
/// test that mostly waits for blocks.
pub async fn shared_machine() -> RwLockReadGuard<'static, ()> {
	tokio::time::sleep(head_start_left()).await;
	MACHINE.read().await
}

/// [`shared_machine`] for a test outside an async runtime.
pub fn shared_machine_blocking() -> RwLockReadGuard<'static, ()> {
	std::thread::sleep(head_start_left());
	MACHINE.blocking_read()
}

/// Have the machine to itself for as long as the guard lives: for a test whose validators must
/// keep their slots while it kills and restarts some of them, which a busy machine would
/// disturb. Two such tests side by side (seven validators on two cores) made requests miss
/// their deadlines, so they run one after the other.
pub async fn whole_machine() -> RwLockWriteGuard<'static, ()> {
	FIRST_ASKED.get_or_init(Instant::now);
	MACHINE.write().await
}

/// Alice's fixed libp2p key, so the other validators of a local network can find her.
const ALICE_NODE_KEY: &str = "0000000000000000000000000000000000000000000000000000000000000001";
/// The peer id of that key.
const ALICE_PEER_ID: &str = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";

/// Start validator `name` (`alice`, `bob`, ... with its development keys and embedded
/// executor) of the `chain` preset, under `base`; Alice with her fixed network key, the others
/// booting from her on `bootnode`; `extra` arguments last.
pub fn validator(
	chain: &str,
	name: &str,
	base: &Path,
	bootnode: Option<u16>,
	extra: &[&str],
) -> Node {
	let base_path = base.join(name);
	let flag = format!("--{name}");
	let mut args = vec![
		"--chain",
		chain,
		"--base-path",
		base_path.to_str().expect("a UTF-8 temporary path"),
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
	args.extend(extra);
	Node::start(name, &args)
}

/// The counters of `who`'s executor record, from `inference_executor`.
pub async fn executor_stats(rpc: &RpcClient, who: &Keypair) -> serde_json::Value {
	let account = who.public_key().to_account_id().to_string();
	let executor: serde_json::Value = rpc
		.request("inference_executor", rpc_params![account])
		.await
		.expect("inference_executor answers");
	executor["stats"].clone()
}

/// A port nothing listens on right now, that no other test of this run is handed and that the
/// OS does not hand out on its own.
///
/// A port the OS picks for `bind(0)` is free only until it is closed: another test's server or
/// any outgoing connection may take it before the node started with it binds it, which
/// happened with tests running side by side. So ports come from below Linux's ephemeral range
/// (which starts at 32768), which the OS never picks on its own; each is handed out once per
/// run (a counter), and checked free before it is.
pub fn free_port() -> u16 {
	use std::sync::atomic::{AtomicU32, Ordering};
	const FIRST: u32 = 20_000;
	const SPAN: u32 = 12_000;
	/// How many ports this run has tried; the first is in a block of 2,000 chosen by the
	/// process id, so that two runs at once on one machine rarely meet.
	static TRIED: AtomicU32 = AtomicU32::new(0);
	let start = std::process::id() % 6 * 2_000;
	for _ in 0..SPAN {
		let tried = TRIED.fetch_add(1, Ordering::SeqCst);
		let port = (FIRST + (start + tried) % SPAN) as u16;
		if TcpListener::bind(("127.0.0.1", port)).is_ok() {
			return port;
		}
	}
	panic!("no free loopback port between {FIRST} and {}", FIRST + SPAN);
}

/// The ports one node listens on.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
	/// libp2p.
	pub p2p: u16,
	/// JSON-RPC over HTTP and WebSocket.
	pub rpc: u16,
	/// Prometheus metrics.
	pub prometheus: u16,
}

impl Ports {
	/// Three free ports.
	pub fn free() -> Self {
		Self { p2p: free_port(), rpc: free_port(), prometheus: free_port() }
	}
}

/// A running `verity-node` process.
pub struct Node {
	child: Option<Child>,
	/// The ports it listens on.
	pub ports: Ports,
	/// Where its log goes.
	pub log_path: PathBuf,
}

impl Node {
	/// Start `verity-node` with `args` plus loopback ports, and wait until its RPC answers.
	///
	/// A node that shuts down while starting (the SDK's transaction pool has been seen to end
	/// its essential background task at startup, rarely) is started once more, with its log
	/// printed; a second failure fails the test.
	pub fn start(name: &str, args: &[&str]) -> Self {
		match Self::try_start(name, args) {
			Ok(node) => node,
			Err(log) => {
				eprintln!("verity-node {name} stopped while starting; starting it again:\n{log}");
				Self::try_start(name, args).unwrap_or_else(|log| {
					panic!("verity-node {name} stopped while starting, twice:\n{log}")
				})
			},
		}
	}

	/// Start the node once; its log if it exits while starting.
	fn try_start(name: &str, args: &[&str]) -> Result<Self, String> {
		let ports = Ports::free();
		let log_path = std::env::temp_dir().join(format!(
			"verity-{name}-{}-{}.log",
			std::process::id(),
			ports.rpc
		));
		let log = std::fs::File::create(&log_path).expect("the log file can be created");
		let child = Command::new(node_binary())
			.args(args)
			.args(["--port", &ports.p2p.to_string()])
			.args(["--rpc-port", &ports.rpc.to_string()])
			.args(["--prometheus-port", &ports.prometheus.to_string()])
			.args(["--no-mdns", "--no-telemetry"])
			.stdout(Stdio::null())
			.stderr(log)
			.spawn()
			.expect("verity-node starts");
		let mut node = Self { child: Some(child), ports, log_path };
		node.wait_for_rpc();
		// Still running, and not shutting down, a few seconds after its RPC opened.
		let settled = Instant::now() + Duration::from_secs(3);
		while Instant::now() < settled {
			let exited = node.child.as_mut().and_then(|child| child.try_wait().ok()).flatten();
			if exited.is_some() || node.log().contains("Shutting down service") {
				let log = node.log();
				if let Some(mut child) = node.child.take() {
					let _ = child.kill();
					let _ = child.wait();
				}
				return Err(log);
			}
			std::thread::sleep(Duration::from_millis(200));
		}
		Ok(node)
	}

	/// The WebSocket RPC URL.
	pub fn ws_url(&self) -> String {
		format!("ws://127.0.0.1:{}", self.ports.rpc)
	}

	/// A subxt client connected to this node.
	pub async fn client(&self) -> Client {
		Client::from_insecure_url(self.ws_url())
			.await
			.unwrap_or_else(|error| panic!("cannot connect to {}: {error}", self.ws_url()))
	}

	/// A raw JSON-RPC client connected to this node, for the node's own methods.
	pub async fn rpc(&self) -> RpcClient {
		RpcClient::from_insecure_url(self.ws_url())
			.await
			.unwrap_or_else(|error| panic!("cannot connect to {}: {error}", self.ws_url()))
	}

	/// The node's log so far, for failure messages.
	pub fn log(&self) -> String {
		std::fs::read_to_string(&self.log_path).unwrap_or_default()
	}

	/// Answer of an HTTP GET on the Prometheus port.
	pub fn metrics(&self) -> String {
		http_get(self.ports.prometheus, "/metrics")
	}

	fn wait_for_rpc(&mut self) {
		let deadline = Instant::now() + STARTUP_TIMEOUT;
		while Instant::now() < deadline {
			if let Some(status) =
				self.child.as_mut().and_then(|child| child.try_wait().ok()).flatten()
			{
				panic!("verity-node exited early with {status}:\n{}", self.log());
			}
			if TcpStream::connect(("127.0.0.1", self.ports.rpc)).is_ok() {
				return;
			}
			std::thread::sleep(Duration::from_millis(200));
		}
		panic!("verity-node did not open its RPC port in time:\n{}", self.log());
	}

	/// Kill the node with SIGKILL, as a crash or a power cut would, and reap it.
	pub fn kill(&mut self) {
		let mut child = self.child.take().expect("the node is running");
		let _ = child.kill();
		let _ = child.wait();
	}

	/// Stop the node with SIGINT, as Ctrl-C would, and wait for it to exit.
	pub fn stop(&mut self) -> ExitStatus {
		let mut child = self.child.take().expect("the node is running");
		let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
		let deadline = Instant::now() + Duration::from_secs(60);
		loop {
			if let Ok(Some(status)) = child.try_wait() {
				return status;
			}
			if Instant::now() > deadline {
				let _ = child.kill();
				return child.wait().expect("a killed node can be reaped");
			}
			std::thread::sleep(Duration::from_millis(100));
		}
	}
}

impl Drop for Node {
	fn drop(&mut self) {
		if self.child.is_some() {
			self.stop();
		}
	}
}

/// A minimal HTTP/1.0 GET on loopback, returning the whole response.
fn http_get(port: u16, path: &str) -> String {
	let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the port accepts");
	stream
		.set_read_timeout(Some(Duration::from_secs(10)))
		.expect("timeouts are supported");
	write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("the request is sent");
	let mut response = String::new();
	let _ = stream.read_to_string(&mut response);
	response
}

/// Wait until the node has finalized a block numbered at least `number`; returns the finalized
/// number seen.
pub async fn wait_for_finalized(client: &Client, number: u64, timeout: Duration) -> u64 {
	let waiting = async {
		let mut blocks = client.stream_blocks().await.expect("finalized blocks can be streamed");
		while let Some(block) = blocks.next().await {
			let block = block.expect("a finalized block header");
			if block.number() >= number {
				return block.number();
			}
		}
		panic!("the finalized block stream ended");
	};
	tokio::time::timeout(timeout, waiting)
		.await
		.unwrap_or_else(|_| panic!("no block #{number} finalized within {timeout:?}"))
}

/// `inference_request` for `request_id`, as JSON (`null` if unknown).
pub async fn inference_request(rpc: &RpcClient, request_id: u64) -> serde_json::Value {
	rpc.request("inference_request", rpc_params![request_id])
		.await
		.expect("inference_request answers")
}

/// Wait until request `request_id` is finalized; returns its `inference_request` JSON.
pub async fn wait_for_request_finalized(
	rpc: &RpcClient,
	request_id: u64,
	timeout: Duration,
) -> serde_json::Value {
	let deadline = Instant::now() + timeout;
	loop {
		let request = inference_request(rpc, request_id).await;
		if request["status"].get("Finalized").is_some() {
			return request;
		}
		if request["status"] == "Expired" || request["status"] == "Unassignable" {
			panic!("request {request_id} ended without a result: {request}");
		}
		assert!(Instant::now() < deadline, "request {request_id} not finalized in time: {request}");
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
}

/// The repository's root directory, read when the test runs from `CARGO_MANIFEST_DIR` (which
/// `cargo test` sets) rather than compiled in: a test built in one clone then runs in another
/// without being rebuilt for its path.
pub fn repository() -> PathBuf {
	let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
		.expect("CARGO_MANIFEST_DIR is set: run the tests with `cargo test`");
	Path::new(&manifest_dir)
		.parent()
		.expect("the tests crate is in the repository")
		.into()
}

/// The demo models' store, as `make setup` fills it.
pub fn models_dir() -> PathBuf {
	std::env::var_os("VERITY_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| {
		PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/verity/models")
	})
}

/// The text-direction classifier's model id, a demo model of every development chain.
pub const TEXT_DIRECTION: [u8; 32] = {
	let hex = *b"6403dbdaf8b7ba8f18f08e4bb8b12fdbdf63ee0d257548aa9da8d221d5ac9f99";
	const fn digit(c: u8) -> u8 {
		if c <= b'9' {
			c - b'0'
		} else {
			c - b'a' + 10
		}
	}
	let mut id = [0u8; 32];
	let mut i = 0;
	while i < 32 {
		id[i] = digit(hex[2 * i]) << 4 | digit(hex[2 * i + 1]);
		i += 1;
	}
	id
};

/// A canonical input of the text-direction classifier that differs with `seed`: a 1×3×48×192
/// gradient.
pub fn text_line_input(seed: f32) -> Vec<u8> {
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

/// The event a request's inclusion emits (the fields the tests read).
#[derive(Debug, DecodeAsType)]
struct InferenceRequested {
	request_id: u64,
}

/// `who` requests `model` on `input` with no fee limit; returns the request id once the request
/// is in a best block (not waiting for finality, which stalls while too many validators are
/// down).
pub async fn request_in_best_block(
	client: &Client,
	who: &Keypair,
	model: [u8; 32],
	input: Vec<u8>,
) -> u64 {
	let call = dynamic::transaction("Inference", "request_inference", (model, input, u128::MAX));
	let mut seen = Vec::new();
	let mut attempts = 0;
	// A nonce read while `who`'s previous transaction was being imported can come back
	// `Invalid` (outdated): nothing was included, so the request is signed again with a fresh
	// nonce, a block later.
	let in_block = 'submit: loop {
		attempts += 1;
		let mut progress = client
			.transactions()
			.await
			.expect("a transactions client")
			.sign_and_submit_then_watch_default(&call, who)
			.await
			.expect("the request enters the pool");
		while let Some(status) = progress.next().await {
			match status.expect("a status") {
				subxt::transactions::TransactionStatus::InBestBlock(in_block) => {
					break 'submit in_block
				},
				other => {
					let invalid =
						matches!(other, subxt::transactions::TransactionStatus::Invalid { .. });
					seen.push(format!("{other:?}"));
					if invalid && attempts < 3 {
						tokio::time::sleep(Duration::from_secs(2)).await;
						continue 'submit;
					}
				},
			}
		}
		panic!("the status stream of a request ended after {seen:?}");
	};
	let events = in_block.wait_for_success().await.expect("the request succeeds");
	let requested = events
		.iter()
		.filter_map(Result::ok)
		.find(|event| event.event_name() == "InferenceRequested")
		.map(|event| event.decode_fields_unchecked_as::<InferenceRequested>().expect("decodes"))
		.expect("InferenceRequested");
	requested.request_id
}
