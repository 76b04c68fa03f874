//! How the node's offchain worker reaches a model executor: at a URL given with
//! `--executor-url`, or embedded in the node (`--executor`, the default with `--dev`).

use crate::cli::ExecutorOptions;
use codec::Encode;
use sc_service::{error::Error as ServiceError, SpawnTaskHandle};
use sp_core::offchain::{OffchainStorage, STORAGE_PREFIX};
use std::path::PathBuf;
use verity_executor::{server, Engine, ExecutionProfile, ModelStore};

/// Memory the embedded executor may use for model plans.
const EMBEDDED_CACHE_BYTES: usize = 512 * 1024 * 1024;

/// The executor this node dispatches to, and whether its keys answer as a copycat (test only).
pub struct ExecutorSetup {
	/// Where jobs go.
	target: ExecutorTarget,
	/// Test-only copycat mode: run nothing, copy the other executors' answers.
	copycat: bool,
}

/// Where the node's jobs go.
enum ExecutorTarget {
	/// None: this node's executor keys, if any, do not answer.
	Disabled,
	/// An executor serving elsewhere.
	Remote(String),
	/// An executor inside this process.
	Embedded {
		/// Its model store.
		models_dir: PathBuf,
		/// Its execution profile.
		profile: ExecutionProfile,
		/// Test-only faulty mode.
		faulty: bool,
	},
}

impl ExecutorSetup {
	/// The setup the command line asks for.
	pub fn from_options(options: ExecutorOptions, dev: bool) -> sc_cli::Result<Self> {
		let copycat = options.executor_copycat;
		Ok(Self { target: ExecutorTarget::from_options(options, dev)?, copycat })
	}

	/// Start the embedded executor, if any, and record where jobs go (and the copycat mode) in
	/// the node's offchain storage, where the offchain worker reads them.
	pub fn start(
		self,
		spawner: &SpawnTaskHandle,
		offchain_storage: Option<impl OffchainStorage>,
	) -> Result<(), ServiceError> {
		let url = self.target.start(spawner)?;
		if let Some(mut storage) = offchain_storage {
			storage.set(
				STORAGE_PREFIX,
				pallet_inference::offchain::EXECUTOR_URL_KEY,
				&url.as_bytes().to_vec().encode(),
			);
			storage.set(
				STORAGE_PREFIX,
				pallet_inference::offchain::COPYCAT_KEY,
				&self.copycat.encode(),
			);
		}
		if !url.is_empty() {
			log::info!(target: "verity", "offchain worker dispatches jobs to {url}");
		}
		if self.copycat {
			log::warn!(target: "verity", "TEST ONLY: executor keys copy other executors' answers");
		}
		Ok(())
	}
}

impl ExecutorTarget {
	/// The target the command line asks for.
	fn from_options(options: ExecutorOptions, dev: bool) -> sc_cli::Result<Self> {
		if let Some(url) = options.executor_url {
			if !(url.starts_with("http://") || url.starts_with("https://")) {
				return Err(sc_cli::Error::Input(format!(
					"--executor-url must be an http:// or https:// URL, got {url:?}"
				)));
			}
			return Ok(Self::Remote(url));
		}
		if !(options.executor || dev) {
			return Ok(Self::Disabled);
		}
		let models_dir = options.models_dir.unwrap_or_else(default_models_dir);
		Ok(Self::Embedded {
			models_dir,
			profile: options.executor_profile,
			faulty: options.executor_faulty,
		})
	}

	/// Start the embedded executor, if any; returns the URL jobs go to (empty: none).
	fn start(self, spawner: &SpawnTaskHandle) -> Result<String, ServiceError> {
		Ok(match self {
			Self::Disabled => String::new(),
			Self::Remote(url) => url,
			Self::Embedded { models_dir, profile, faulty } => {
				start_embedded(spawner, models_dir, profile, faulty)?
			},
		})
	}
}

/// `$HOME/.cache/verity/models`, where `make setup` puts the demo models.
pub fn default_models_dir() -> PathBuf {
	std::env::var_os("HOME")
		.map(PathBuf::from)
		.unwrap_or_else(|| PathBuf::from("."))
		.join(".cache/verity/models")
}

/// Serve an executor on a free loopback port inside the node; returns its URL.
fn start_embedded(
	spawner: &SpawnTaskHandle,
	models_dir: PathBuf,
	profile: ExecutionProfile,
	faulty: bool,
) -> Result<String, ServiceError> {
	profile.activate().map_err(ServiceError::Other)?;
	let store = ModelStore::open(&models_dir).map_err(|error| {
		ServiceError::Other(format!("cannot open model store {}: {error}", models_dir.display()))
	})?;
	let engine = Engine::new(store, profile, EMBEDDED_CACHE_BYTES).with_faulty_outputs(faulty);
	let listener = std::net::TcpListener::bind("127.0.0.1:0")
		.and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
		.map_err(|error| ServiceError::Other(format!("cannot start the executor: {error}")))?;
	let address = listener
		.local_addr()
		.map_err(|error| ServiceError::Other(format!("cannot start the executor: {error}")))?;
	let listener = tokio::net::TcpListener::from_std(listener)
		.map_err(|error| ServiceError::Other(format!("cannot start the executor: {error}")))?;
	log::info!(
		target: "verity",
		"embedded executor serving models from {} under {profile} on {address}",
		models_dir.display()
	);
	spawner.spawn("verity-executor", None, async move {
		if let Err(error) = server::serve(listener, engine, server::Limits::default()).await {
			log::error!(target: "verity", "embedded executor stopped: {error}");
		}
	});
	Ok(format!("http://{address}"))
}
