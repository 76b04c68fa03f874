//! The validator's embedded executor, run as a child process the node supervises.
//!
//! Inference runs outside the node's process so that a model that aborts, exhausts memory or
//! hangs takes down the child, never block production: the node restarts the child (after a
//! short pause that grows while it keeps failing) and the offchain worker retries its jobs
//! in later blocks. The child listens on a loopback port only the node knows, and dies with
//! the node (it is killed when the node's task ends and asked to die with its parent).

use sc_service::{error::Error as ServiceError, SpawnTaskHandle};
use std::{
	path::{Path, PathBuf},
	time::Duration,
};
use verity_executor::ExecutionProfile;

/// Memory the embedded executor may use for model plans, in MiB.
const EMBEDDED_CACHE_MIB: usize = 512;

/// Jobs the embedded executor runs at once: what two offchain workers overlapping across
/// blocks keep in flight, so the node's own jobs are not refused as busy.
const EMBEDDED_JOB_SLOTS: u32 = 2 * pallet_inference::offchain::JOBS_IN_FLIGHT;

/// The pause before the first restart; doubled after each quick failure.
const FIRST_RESTART_PAUSE: Duration = Duration::from_millis(500);

/// The longest pause between restarts.
const LONGEST_RESTART_PAUSE: Duration = Duration::from_secs(30);

/// A child that ran at least this long before ending resets the restart pause.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// What the child serves.
pub struct EmbeddedExecutor {
	/// The `verity-executor` program.
	pub program: PathBuf,
	/// Its model store.
	pub models_dir: PathBuf,
	/// Its execution profile.
	pub profile: ExecutionProfile,
	/// Test-only faulty mode.
	pub faulty: bool,
}

/// `verity-executor` beside the running node binary, where the workspace build puts it.
pub fn program_beside_node() -> Result<PathBuf, ServiceError> {
	let node = std::env::current_exe()
		.map_err(|error| ServiceError::Other(format!("cannot locate the node binary: {error}")))?;
	let program = node.with_file_name("verity-executor");
	if !program.is_file() {
		return Err(ServiceError::Other(format!(
			"the embedded executor needs {} (built with the node by `make build`); or pass \
			 --executor-bin, or --executor-url for an executor elsewhere",
			program.display()
		)));
	}
	Ok(program)
}

impl EmbeddedExecutor {
	/// Start the child and its supervisor on a free loopback port; returns the child's URL.
	pub fn start(self, spawner: &SpawnTaskHandle) -> Result<String, ServiceError> {
		let port = free_loopback_port()
			.map_err(|error| ServiceError::Other(format!("cannot start the executor: {error}")))?;
		let address = format!("127.0.0.1:{port}");
		log::info!(
			target: "verity",
			"embedded executor (a supervised child process) serving models from {} under {} \
			 on {address}",
			self.models_dir.display(),
			self.profile,
		);
		let listen = address.clone();
		spawner.spawn("verity-executor-supervisor", None, async move {
			self.supervise(&listen).await;
		});
		Ok(format!("http://{address}"))
	}

	/// Run the child for as long as the node runs, restarting it whenever it ends.
	async fn supervise(self, listen: &str) {
		let mut pause = FIRST_RESTART_PAUSE;
		loop {
			let started = std::time::Instant::now();
			match self.command(listen).spawn() {
				Ok(mut child) => {
					log::info!(
						target: "verity",
						"embedded executor started (pid {})",
						child.id().unwrap_or_default()
					);
					match child.wait().await {
						Ok(status) => log::error!(
							target: "verity",
							"embedded executor ended ({status}); restarting it"
						),
						Err(error) => log::error!(
							target: "verity",
							"embedded executor could not be watched ({error}); restarting it"
						),
					}
				},
				Err(error) => log::error!(
					target: "verity",
					"cannot start the embedded executor {}: {error}",
					self.program.display()
				),
			}
			if started.elapsed() >= HEALTHY_RUN {
				pause = FIRST_RESTART_PAUSE;
			}
			tokio::time::sleep(pause).await;
			pause = (pause * 2).min(LONGEST_RESTART_PAUSE);
		}
	}

	/// The child's command line.
	fn command(&self, listen: &str) -> tokio::process::Command {
		let mut command = tokio::process::Command::new(&self.program);
		command
			.arg("--listen")
			.arg(listen)
			.arg("--models-dir")
			.arg(&self.models_dir)
			.arg("--profile")
			.arg(profile_arg(&self.profile))
			.arg("--cache-mib")
			.arg(EMBEDDED_CACHE_MIB.to_string())
			.arg("--max-concurrent-jobs")
			.arg(EMBEDDED_JOB_SLOTS.to_string())
			.kill_on_drop(true)
			.stdin(std::process::Stdio::null());
		if self.faulty {
			command.arg("--faulty");
		}
		die_with_parent(&mut command);
		command
	}
}

/// The `--profile` value naming `profile`.
fn profile_arg(profile: &ExecutionProfile) -> &'static str {
	match profile {
		ExecutionProfile::Generic => "generic",
		ExecutionProfile::Avx => "avx",
		ExecutionProfile::Native => "native",
	}
}

/// Ask the kernel to kill the child when the node dies, even by `SIGKILL`.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut tokio::process::Command) {
	// SAFETY: `prctl` is async-signal-safe and touches no memory of the parent.
	unsafe {
		command.pre_exec(|| {
			if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
				Ok(())
			} else {
				Err(std::io::Error::last_os_error())
			}
		});
	}
}

/// Elsewhere the child is killed when the node's task ends.
#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut tokio::process::Command) {}

/// A loopback port free now (the kernel's pick); the child binds it right after.
fn free_loopback_port() -> std::io::Result<u16> {
	let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
	Ok(listener.local_addr()?.port())
}

/// Whether `path` names an existing file (used to check `--executor-bin`).
pub fn check_program(path: &Path) -> Result<PathBuf, ServiceError> {
	if path.is_file() {
		Ok(path.to_path_buf())
	} else {
		Err(ServiceError::Other(format!("--executor-bin {} is not a file", path.display())))
	}
}
