//! Execution profiles: which engine, which version, which kernels.
//!
//! tract's SIMD kernels (AVX2/FMA on x86-64) and its generic kernels round float arithmetic
//! differently, so two honest executors on different CPUs would disagree on float models. A
//! profile pins the kernel path: `generic` disables every SIMD extension tract would pick, so
//! the same bytes come out on any x86-64 machine; `native` lets tract use the host's fastest
//! kernels, reproducible only among machines with the same instruction sets. Integer (int8 QDQ)
//! models give the same bytes under both.
//!
//! tract reads its instruction-set knob once per process, so a process runs under one profile,
//! chosen before the first model is loaded.

use std::{fmt, str::FromStr};

/// The tract release this executor is built with, as it appears in profile ids.
pub const ENGINE_VERSION: &str = "tract-0.23";

/// Every x86-64 extension tract can dispatch on; the generic profile removes them all.
const X86_64_EXTENSIONS: &str =
	"-avx,-avx2,-fma,-f16c,-avx512f,-avx512vnni,-avx512fp16,-avxvnni,-amx-int8,-amx-bf16";

/// The kernel path of a profile.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ExecutionProfile {
	/// Portable kernels only: identical output bytes on every x86-64 machine.
	Generic,
	/// The host's fastest kernels.
	Native,
}

impl ExecutionProfile {
	/// The id models name and attestations sign, e.g. `tract-0.23/generic`.
	pub fn id(&self) -> String {
		format!("{ENGINE_VERSION}/{}", self.kernels())
	}

	fn kernels(&self) -> &'static str {
		match self {
			Self::Generic => "generic",
			Self::Native => "native",
		}
	}

	/// Make this process run under this profile. Must be called before any model is loaded;
	/// tract reads the setting once.
	pub fn activate(&self) {
		if *self == Self::Generic && cfg!(target_arch = "x86_64") {
			// SAFETY: called at start-up, before the executor spawns threads that read the
			// environment.
			unsafe { std::env::set_var("TRACT_CPU_ISA", X86_64_EXTENSIONS) };
		}
	}
}

impl fmt::Display for ExecutionProfile {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		f.write_str(&self.id())
	}
}

impl FromStr for ExecutionProfile {
	type Err = String;

	/// Accepts a full id (`tract-0.23/generic`) or just the kernel path (`generic`).
	fn from_str(s: &str) -> Result<Self, Self::Err> {
		let kernels = match s.split_once('/') {
			Some((engine, kernels)) if engine == ENGINE_VERSION => kernels,
			Some((engine, _)) => {
				return Err(format!(
					"profile {s:?} needs engine {engine}, this executor is {ENGINE_VERSION}"
				))
			},
			None => s,
		};
		match kernels {
			"generic" => Ok(Self::Generic),
			"native" => Ok(Self::Native),
			other => Err(format!("unknown kernel path {other:?}: expected generic or native")),
		}
	}
}

/// Run tract's matrix products on `threads` threads (1: on the calling thread). Outputs are the
/// same bytes whatever the count; only latency changes.
pub fn set_threads(threads: usize) {
	use tract_linalg::multithread::{set_default_executor, Executor};
	set_default_executor(if threads > 1 {
		Executor::multithread(threads)
	} else {
		Executor::SingleThread
	});
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn profile_ids_round_trip() {
		for profile in [ExecutionProfile::Generic, ExecutionProfile::Native] {
			assert_eq!(profile.id().parse::<ExecutionProfile>(), Ok(profile));
		}
		assert_eq!("generic".parse::<ExecutionProfile>(), Ok(ExecutionProfile::Generic));
		assert!("tract-0.21/generic".parse::<ExecutionProfile>().is_err());
		assert!("tract-0.23/fastest".parse::<ExecutionProfile>().is_err());
	}
}
