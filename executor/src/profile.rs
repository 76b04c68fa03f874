//! Execution profiles: which engine, which version, which kernels.
//!
//! tract's FMA kernels (AVX2/FMA and AVX-512 on x86-64) round a multiply-add once where its
//! other kernels round twice, so two honest executors on different CPUs would disagree on float
//! models. A profile pins the kernel path, and so the arithmetic:
//!
//! - `generic`: no SIMD extension at all, the same bytes on any x86-64 machine;
//! - `avx`: tract's AVX kernels and nothing above them. They multiply and add in separate,
//!   individually rounded instructions, in the same order whatever the host (AVX2, FMA and
//!   AVX-512 are switched off even where present), so every x86-64 machine with AVX (every
//!   Intel Core since 2011, every AMD since 2011) gives the same bytes, at SIMD speed;
//! - `native`: the host's fastest kernels, reproducible only among machines with the same
//!   instruction sets.
//!
//! Integer (int8 QDQ) models give the same bytes under all three.
//!
//! tract reads its instruction-set knob once per process, so a process runs under one profile,
//! chosen before the first model is loaded; [`ExecutionProfile::activate`] checks that the
//! kernels tract then settles on are exactly the profile's.

use std::{fmt, str::FromStr};

/// The tract release this executor is built with, as it appears in profile ids.
pub const ENGINE_VERSION: &str = "tract-0.23";

/// Every x86-64 extension tract can dispatch on above AVX; the `avx` profile removes them.
const ABOVE_AVX: &str =
	"-avx2,-fma,-f16c,-avx512f,-avx512vnni,-avx512fp16,-avxvnni,-amx-int8,-amx-bf16";

/// The kernel path of a profile.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ExecutionProfile {
	/// Portable kernels only: identical output bytes on every x86-64 machine.
	Generic,
	/// tract's AVX kernels, without FMA: identical output bytes on every x86-64 machine with
	/// AVX.
	Avx,
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
			Self::Avx => "avx",
			Self::Native => "native",
		}
	}

	/// Make this process run under this profile, and check that it does. Must be called
	/// before any model is loaded: tract reads its setting once, so a process that already ran
	/// a model under another profile, or a machine without the profile's instructions, gets an
	/// error saying so.
	pub fn activate(&self) -> Result<(), String> {
		let Some(expected) = self.instruction_sets() else { return Ok(()) };
		let edits = match self {
			Self::Generic => format!("-avx,{ABOVE_AVX}"),
			_ => ABOVE_AVX.to_string(),
		};
		if *self == Self::Avx && !host_has_avx() {
			return Err(format!("profile {self} needs a CPU with AVX; this one has none"));
		}
		// SAFETY: called at start-up, before the executor spawns threads that read the
		// environment.
		unsafe { std::env::set_var("TRACT_CPU_ISA", edits) };
		let settled = tract_linalg::isa::native();
		if settled != expected {
			return Err(format!(
				"profile {self} needs tract's kernels for {expected:?}, this process already runs \
				 {settled:?} (a process runs under one profile)"
			));
		}
		Ok(())
	}

	/// The exact instruction sets tract may use under this profile; `None` for the host's own.
	fn instruction_sets(&self) -> Option<tract_linalg::isa::IsaSet> {
		use tract_linalg::isa::{Arch, Isa, IsaSet};
		if !cfg!(target_arch = "x86_64") {
			return None;
		}
		let x86_64 = IsaSet::of_arch(Arch::X86_64);
		match self {
			Self::Generic => Some(x86_64),
			Self::Avx => Some(x86_64.with(Isa::X86_64Avx)),
			Self::Native => None,
		}
	}
}

/// Whether this CPU runs AVX instructions.
fn host_has_avx() -> bool {
	#[cfg(target_arch = "x86_64")]
	return std::arch::is_x86_feature_detected!("avx");
	#[cfg(not(target_arch = "x86_64"))]
	return false;
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
			"avx" => Ok(Self::Avx),
			"native" => Ok(Self::Native),
			other => Err(format!("unknown kernel path {other:?}: expected generic, avx or native")),
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
		for profile in [ExecutionProfile::Generic, ExecutionProfile::Avx, ExecutionProfile::Native]
		{
			assert_eq!(profile.id().parse::<ExecutionProfile>(), Ok(profile));
		}
		assert_eq!("generic".parse::<ExecutionProfile>(), Ok(ExecutionProfile::Generic));
		assert!("tract-0.21/generic".parse::<ExecutionProfile>().is_err());
		assert!("tract-0.23/fastest".parse::<ExecutionProfile>().is_err());
	}
}
