//! How the node's offchain worker reaches a model executor: at a URL given with
//! `--executor-url`, or embedded (`--executor`, the default with `--dev`): a child process the
//! node supervises.

use crate::{cli::ExecutorOptions, embedded_executor::EmbeddedExecutor};
use codec::Encode;
use sc_service::{error::Error as ServiceError, SpawnTaskHandle};
use sp_core::offchain::{OffchainStorage, STORAGE_PREFIX};
use std::path::PathBuf;

/// The executor this node dispatches to, and whether its keys answer as a copycat (test only).
pub struct ExecutorSetup {
	/// Where jobs go.
	target: ExecutorTarget,
	/// The token the worker presents to the executor (`--executor-auth-token`).
	auth_token: Option<String>,
	/// Test-only copycat mode: run nothing, copy the other executors' answers.
	copycat: bool,
}

/// Where the node's jobs go.
enum ExecutorTarget {
	/// None: this node's executor keys, if any, do not answer.
	Disabled,
	/// An executor serving elsewhere.
	Remote(String),
	/// An executor in a child process of this node.
	Embedded(EmbeddedExecutor),
}

impl ExecutorSetup {
	/// The setup the command line asks for.
	pub fn from_options(options: ExecutorOptions, dev: bool) -> sc_cli::Result<Self> {
		let copycat = options.executor_copycat;
		let auth_token = options.executor_auth_token.clone();
		Ok(Self { target: ExecutorTarget::from_options(options, dev)?, auth_token, copycat })
	}

	/// Start the embedded executor, if any, and record where jobs go, how many travel at once
	/// (and the copycat mode) in the node's offchain storage, where the offchain worker reads
	/// them.
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
				pallet_inference::offchain::EXECUTOR_TOKEN_KEY,
				&self.auth_token.unwrap_or_default().into_bytes().encode(),
			);
			storage.set(
				STORAGE_PREFIX,
				pallet_inference::offchain::JOBS_IN_FLIGHT_KEY,
				&pallet_inference::offchain::JOBS_IN_FLIGHT.encode(),
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
		let program = match options.executor_bin {
			Some(path) => crate::embedded_executor::check_program(&path),
			None => crate::embedded_executor::program_beside_node(),
		}
		.map_err(|error| sc_cli::Error::Input(error.to_string()))?;
		Ok(Self::Embedded(EmbeddedExecutor {
			program,
			models_dir,
			profile: options.executor_profile,
			faulty: options.executor_faulty,
		}))
	}

	/// Start the embedded executor, if any; returns the URL jobs go to (empty: none).
	fn start(self, spawner: &SpawnTaskHandle) -> Result<String, ServiceError> {
		Ok(match self {
			Self::Disabled => String::new(),
			Self::Remote(url) => url,
			Self::Embedded(executor) => executor.start(spawner)?,
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
