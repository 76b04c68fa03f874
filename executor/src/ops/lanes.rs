//! Vectors of `f32` lanes: what the convolutions' block walks are written against, once, with
//! the vector width as a type parameter.
//!
//! A walk holds a block of sums in vectors and, for every weight, adds the weight times a
//! vector of input points to each. The width decides how many points one instruction handles,
//! never what is computed for one point: every lane does the same multiply and add (or fused
//! multiply-add) in the same order in every implementation, so all of them give the same bits.
//!
//! - [`Portable`]: eight lanes in a plain array, on every target (the compiler vectorises it
//!   where it can).
//! - [`Avx256`]: 256-bit AVX registers, eight lanes.
//! - [`Avx512`]: 512-bit AVX-512F registers, sixteen lanes.
//!
//! Which implementation a convolution takes is decided per call from the CPU, the process's
//! setting ([`super::allow_512_bit_vectors`]) and the calling thread's ceiling
//! ([`with_widest_path`]), and each call is counted on the calling thread ([`PathsRan`]), so a
//! test can say which code it exercised.

use std::cell::Cell;

/// A vector of `f32` lanes and the few operations a block walk needs.
///
/// # Safety
///
/// Each method may only run on a CPU with the implementation's target features (none for
/// [`Portable`], AVX for [`Avx256`] with FMA for the fused step, AVX-512F for [`Avx512`]);
/// `load` and `store` need [`Self::LANES`] valid values at the pointer.
pub trait Lanes: Copy {
	/// Values in one vector.
	const LANES: usize;
	/// The path this implementation counts as.
	const PATH: VectorPath;
	/// Every lane `value`.
	///
	/// # Safety
	///
	/// See the trait's.
	unsafe fn splat(value: f32) -> Self;
	/// [`Self::LANES`] values read from `from`.
	///
	/// # Safety
	///
	/// See the trait's.
	unsafe fn load(from: *const f32) -> Self;
	/// Write the lanes to `to`.
	///
	/// # Safety
	///
	/// See the trait's.
	unsafe fn store(self, to: *mut f32);
	/// `self + weight × point` lane by lane, the product rounded, then the sum.
	///
	/// # Safety
	///
	/// See the trait's.
	unsafe fn add_product(self, weight: Self, point: Self) -> Self;
	/// `self + weight × point` lane by lane, rounded once (a fused multiply-add).
	///
	/// # Safety
	///
	/// See the trait's.
	unsafe fn add_product_fused(self, weight: Self, point: Self) -> Self;
	/// `self + weight × point`, fused when `FUSED`.
	///
	/// # Safety
	///
	/// See the trait's.
	#[inline(always)]
	unsafe fn step<const FUSED: bool>(self, weight: Self, point: Self) -> Self {
		// SAFETY: the caller's obligations are those of the two steps.
		unsafe {
			if FUSED {
				self.add_product_fused(weight, point)
			} else {
				self.add_product(weight, point)
			}
		}
	}
}

/// Which vector code ran a convolution's blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum VectorPath {
	/// Point by point: the plane was smaller than any block (or had strides the blocks skip).
	Scalar,
	/// [`Portable`] lanes.
	Portable,
	/// [`Avx256`] lanes.
	Avx256,
	/// [`Avx512`] lanes.
	Avx512,
}

impl VectorPath {
	const ALL: [Self; 4] = [Self::Scalar, Self::Portable, Self::Avx256, Self::Avx512];
}

/// How many convolution calls each path served on one thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathsRan([u64; 4]);

impl PathsRan {
	/// Calls `path` served.
	pub fn count(&self, path: VectorPath) -> u64 {
		self.0[path as usize]
	}

	/// The paths that served at least one call, narrowest first.
	pub fn paths(&self) -> Vec<VectorPath> {
		VectorPath::ALL.into_iter().filter(|path| self.count(*path) > 0).collect()
	}

	fn since(&self, earlier: &Self) -> Self {
		Self(std::array::from_fn(|i| self.0[i] - earlier.0[i]))
	}
}

thread_local! {
	/// Calls per path on this thread.
	static RAN: Cell<PathsRan> = const { Cell::new(PathsRan([0; 4])) };
	/// The widest path this thread may take.
	static WIDEST: Cell<VectorPath> = const { Cell::new(VectorPath::Avx512) };
}

/// Count one call served by `path` on this thread.
pub(super) fn record(path: VectorPath) {
	RAN.with(|ran| {
		let mut counts = ran.get();
		counts.0[path as usize] += 1;
		ran.set(counts);
	});
}

/// Run `work` with this thread's convolutions kept to `widest` or narrower (the CPU and the
/// process's setting may narrow them further), and return what it returned with the paths
/// its convolutions took. The ceiling is this thread's: other threads are unaffected.
pub fn with_widest_path<R>(widest: VectorPath, work: impl FnOnce() -> R) -> (R, PathsRan) {
	let before = RAN.with(Cell::get);
	let previous = WIDEST.with(|ceiling| ceiling.replace(widest));
	let result = work();
	WIDEST.with(|ceiling| ceiling.set(previous));
	(result, RAN.with(Cell::get).since(&before))
}

/// The widest lanes this call may use: what the CPU has, within the process's setting and the
/// thread's ceiling.
pub(super) fn widest_available() -> VectorPath {
	let ceiling = WIDEST.with(Cell::get);
	#[cfg(target_arch = "x86_64")]
	{
		let wide = ceiling >= VectorPath::Avx512 && super::wide_vectors_allowed();
		if wide && std::arch::is_x86_feature_detected!("avx512f") {
			return VectorPath::Avx512;
		}
		if ceiling >= VectorPath::Avx256 && std::arch::is_x86_feature_detected!("avx") {
			return VectorPath::Avx256;
		}
	}
	ceiling.min(VectorPath::Portable)
}

/// Whether the fused step of [`Avx256`] may run here.
#[cfg(target_arch = "x86_64")]
pub(super) fn has_fma() -> bool {
	std::arch::is_x86_feature_detected!("fma")
}

/// Eight lanes in an array: plain Rust on every target.
#[derive(Clone, Copy, Debug)]
pub struct Portable([f32; 8]);

impl Lanes for Portable {
	const LANES: usize = 8;
	const PATH: VectorPath = VectorPath::Portable;

	#[inline(always)]
	unsafe fn splat(value: f32) -> Self {
		Self([value; 8])
	}

	#[inline(always)]
	unsafe fn load(from: *const f32) -> Self {
		// SAFETY: the caller guarantees eight values at `from`.
		Self(unsafe { from.cast::<[f32; 8]>().read_unaligned() })
	}

	#[inline(always)]
	unsafe fn store(self, to: *mut f32) {
		// SAFETY: the caller guarantees room for eight values at `to`.
		unsafe { to.cast::<[f32; 8]>().write_unaligned(self.0) }
	}

	#[inline(always)]
	unsafe fn add_product(self, weight: Self, point: Self) -> Self {
		Self(std::array::from_fn(|i| self.0[i] + weight.0[i] * point.0[i]))
	}

	#[inline(always)]
	unsafe fn add_product_fused(self, weight: Self, point: Self) -> Self {
		Self(std::array::from_fn(|i| weight.0[i].mul_add(point.0[i], self.0[i])))
	}
}

#[cfg(target_arch = "x86_64")]
pub use x86::{Avx256, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
	use super::{Lanes, VectorPath};
	use std::arch::x86_64::*;

	/// Eight lanes in a 256-bit AVX register.
	#[derive(Clone, Copy, Debug)]
	pub struct Avx256(__m256);

	impl Lanes for Avx256 {
		const LANES: usize = 8;
		const PATH: VectorPath = VectorPath::Avx256;

		#[inline]
		#[target_feature(enable = "avx")]
		unsafe fn splat(value: f32) -> Self {
			Self(_mm256_set1_ps(value))
		}

		#[inline]
		#[target_feature(enable = "avx")]
		unsafe fn load(from: *const f32) -> Self {
			// SAFETY: the caller guarantees eight values at `from`.
			Self(unsafe { _mm256_loadu_ps(from) })
		}

		#[inline]
		#[target_feature(enable = "avx")]
		unsafe fn store(self, to: *mut f32) {
			// SAFETY: the caller guarantees room for eight values at `to`.
			unsafe { _mm256_storeu_ps(to, self.0) }
		}

		#[inline]
		#[target_feature(enable = "avx")]
		unsafe fn add_product(self, weight: Self, point: Self) -> Self {
			Self(_mm256_add_ps(self.0, _mm256_mul_ps(weight.0, point.0)))
		}

		#[inline]
		#[target_feature(enable = "avx,fma")]
		unsafe fn add_product_fused(self, weight: Self, point: Self) -> Self {
			Self(_mm256_fmadd_ps(weight.0, point.0, self.0))
		}
	}

	/// Sixteen lanes in a 512-bit AVX-512 register.
	#[derive(Clone, Copy, Debug)]
	pub struct Avx512(__m512);

	impl Lanes for Avx512 {
		const LANES: usize = 16;
		const PATH: VectorPath = VectorPath::Avx512;

		#[inline]
		#[target_feature(enable = "avx512f")]
		unsafe fn splat(value: f32) -> Self {
			Self(_mm512_set1_ps(value))
		}

		#[inline]
		#[target_feature(enable = "avx512f")]
		unsafe fn load(from: *const f32) -> Self {
			// SAFETY: the caller guarantees sixteen values at `from`.
			Self(unsafe { _mm512_loadu_ps(from) })
		}

		#[inline]
		#[target_feature(enable = "avx512f")]
		unsafe fn store(self, to: *mut f32) {
			// SAFETY: the caller guarantees room for sixteen values at `to`.
			unsafe { _mm512_storeu_ps(to, self.0) }
		}

		#[inline]
		#[target_feature(enable = "avx512f")]
		unsafe fn add_product(self, weight: Self, point: Self) -> Self {
			Self(_mm512_add_ps(self.0, _mm512_mul_ps(weight.0, point.0)))
		}

		#[inline]
		#[target_feature(enable = "avx512f")]
		unsafe fn add_product_fused(self, weight: Self, point: Self) -> Self {
			Self(_mm512_fmadd_ps(weight.0, point.0, self.0))
		}
	}
}
