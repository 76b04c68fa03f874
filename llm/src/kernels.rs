//! The arithmetic of the decoder, defined once so that every CPU computes the same bits.
//!
//! - **Activations** are quantized per row before a matrix product, in blocks of 32: the
//!   block's scale is `max |x| / 127` (an `f32` division, correctly rounded), each value
//!   `x / scale` rounded half away from zero (zero when the block is all zero).
//! - **Block dot products** of a weight row and an activation row are integer sums (`i32`),
//!   exact, so any instruction set may compute them.
//! - **The float step**: per output, the blocks' integer sums are scaled and added in block
//!   order, one `f32` product and one `f32` sum each (no fused multiply-add), the same whatever
//!   the instruction set, the thread count or the positions in the pass. Every integer that
//!   becomes an `f32` is below 2^24, so the conversion is exact.
//! - **Vector sums** (dot products of `f32` vectors, norms) accumulate in eight interleaved
//!   partial sums (lane `i` takes elements `i`, `i + 8`, …) combined pairwise in a fixed tree.
//! - **Transcendental functions** (`exp`, `tanh`, `sin`, `cos`, `pow`) come from the `libm`
//!   crate, pure Rust, the same code on every target; square roots are IEEE's correctly
//!   rounded ones. No approximate reciprocal or square-root instruction is used. Where the
//!   CPU has AVX-512, [`exp_each`] and [`gelu_each`] run libm's `expf` (and `tanhf` with its
//!   `expm1f`) sixteen values at a time, every lane the same operations in the same order,
//!   so the same bits; the tests compare them with libm's over sweeps of every `f32`.

use crate::quant::{q4_k_scale_min, q4_k_values, q5_0_values, q6_k_values, GgmlType};
pub use check::check_kernel_paths;
use half::f16;

mod check;
#[cfg(target_arch = "wasm32")]
mod wasm;
#[cfg(target_arch = "x86_64")]
mod x86;

/// Values per activation block.
pub const BLOCK: usize = 32;

/// One row of activations quantized for matrix products.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedRow {
	/// The values, `i8` in `[-127, 127]`.
	pub values: Vec<i8>,
	/// One scale per block of [`BLOCK`] values.
	pub scales: Vec<f32>,
	/// The sum of each block's values, for Q4_K's minimums.
	pub sums: Vec<i32>,
}

/// Quantize `row` (a whole number of blocks) as the contract says.
pub fn quantize_row(row: &[f32]) -> QuantizedRow {
	assert!(row.len().is_multiple_of(BLOCK), "a row of {} values is not whole blocks", row.len());
	#[cfg(target_arch = "x86_64")]
	if std::arch::is_x86_feature_detected!("avx2") {
		// SAFETY: the CPU has AVX2, checked just above.
		return unsafe { x86::quantize_row_avx2(row) };
	}
	quantize_row_with(row)
}

/// [`quantize_row`] for the instruction set it is inlined into (the same operations per
/// value, which are exact or correctly rounded, so the same bits).
#[inline(always)]
pub(crate) fn quantize_row_with(row: &[f32]) -> QuantizedRow {
	let blocks = row.len() / BLOCK;
	let mut quantized = QuantizedRow {
		values: vec![0; row.len()],
		scales: vec![0.0; blocks],
		sums: vec![0; blocks],
	};
	let outputs = quantized.values.chunks_exact_mut(BLOCK).zip(&mut quantized.scales);
	for ((block, (values, scale)), sum) in
		row.chunks_exact(BLOCK).zip(outputs).zip(&mut quantized.sums)
	{
		let max = block.iter().fold(0f32, |max, x| max.max(x.abs()));
		*scale = max / 127.0;
		if *scale != 0.0 {
			for (q, x) in values.iter_mut().zip(block) {
				*q = round_half_away(x / *scale).clamp(-127, 127) as i8;
			}
		}
		*sum = values.iter().map(|q| i32::from(*q)).sum();
	}
	quantized
}

/// `x` (finite, within `i32`) rounded to the nearest integer, halves away from zero: the
/// truncation, moved one away from zero when the part cut off (exact in `f32`) is at least a
/// half. Plain conversions and comparisons, which compile to vector code on every target.
fn round_half_away(x: f32) -> i32 {
	let truncated = x as i32;
	let rest = x - truncated as f32;
	truncated + i32::from(rest >= 0.5) - i32::from(rest <= -0.5)
}

/// The instruction sets the integer block dot products can run on. Every path gives the same
/// integers (they are exact), so the same bits: the tests run each one the host has on the
/// same inputs and compare the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelPath {
	/// Plain Rust, on every CPU.
	Scalar,
	/// x86-64 AVX2 (with F16C): `vpmaddubsw` then `vpmaddwd`.
	Avx2,
	/// x86-64 AVX-512 VNNI (with AVX-512F and VL): `vpdpbusd`, one instruction per four multiply-adds.
	Avx512Vnni,
}

impl KernelPath {
	/// Every path, narrowest first.
	pub const ALL: [Self; 3] = [Self::Scalar, Self::Avx2, Self::Avx512Vnni];

	/// Whether this CPU runs the path.
	pub fn is_available(self) -> bool {
		match self {
			Self::Scalar => true,
			#[cfg(target_arch = "x86_64")]
			Self::Avx2 => {
				std::arch::is_x86_feature_detected!("avx2")
					&& std::arch::is_x86_feature_detected!("f16c")
			},
			#[cfg(target_arch = "x86_64")]
			Self::Avx512Vnni => {
				std::arch::is_x86_feature_detected!("avx2")
					&& std::arch::is_x86_feature_detected!("f16c")
					&& std::arch::is_x86_feature_detected!("avx512f")
					&& std::arch::is_x86_feature_detected!("avx512vnni")
					&& std::arch::is_x86_feature_detected!("avx512vl")
			},
			#[cfg(not(target_arch = "x86_64"))]
			_ => false,
		}
	}

	/// The paths this CPU runs, narrowest first.
	pub fn available() -> Vec<Self> {
		Self::ALL.into_iter().filter(|path| path.is_available()).collect()
	}

	/// The widest path this CPU runs.
	pub fn widest() -> Self {
		Self::available().pop().unwrap_or(Self::Scalar)
	}
}

/// The dot product of a weight row of `ggml_type` (its bytes) with `activations`, its integer
/// block sums computed on `path` (which must be available: see [`KernelPath::is_available`];
/// an unavailable one falls back to the scalar code).
pub fn dot_row(
	path: KernelPath,
	ggml_type: GgmlType,
	weights: &[u8],
	activations: &QuantizedRow,
) -> f32 {
	let mut out = [0f32];
	dot_rows(path, ggml_type, weights, weights.len(), core::slice::from_ref(activations), &mut out);
	out[0]
}

/// Every row of `rows` (whole rows of `ggml_type`, `row_bytes` each) against every input:
/// `out[row * inputs.len() + input]`, each value [`dot_row`]'s. The path is chosen once for
/// the whole run of rows.
pub fn dot_rows(
	path: KernelPath,
	ggml_type: GgmlType,
	rows: &[u8],
	row_bytes: usize,
	inputs: &[QuantizedRow],
	out: &mut [f32],
) {
	match path {
		#[cfg(target_arch = "x86_64")]
		KernelPath::Avx2 if path.is_available() => {
			// SAFETY: the CPU has AVX2 and F16C, checked just above.
			unsafe { x86::dot_rows_avx2(ggml_type, rows, row_bytes, inputs, out) }
		},
		#[cfg(target_arch = "x86_64")]
		KernelPath::Avx512Vnni if path.is_available() => {
			// SAFETY: the CPU has AVX2, F16C, AVX-512F, AVX-512 VNNI and AVX-512VL, checked
			// just above.
			unsafe { x86::dot_rows_vnni(ggml_type, rows, row_bytes, inputs, out) }
		},
		// WebAssembly has no run-time feature detection: the module is built for engines with
		// its 128-bit SIMD (every current browser and Node.js).
		#[cfg(target_arch = "wasm32")]
		_ => {
			// SAFETY: simd128 is part of the WebAssembly this module targets (see above).
			unsafe { wasm::dot_rows_simd128(ggml_type, rows, row_bytes, inputs, out) }
		},
		#[cfg(not(target_arch = "wasm32"))]
		_ => dot_rows_with::<Scalar>(ggml_type, rows, row_bytes, inputs, out),
	}
}

/// [`dot_rows`] with the integer sums of `D`. Inlined into each instruction set's entry point.
#[inline(always)]
pub(crate) fn dot_rows_with<D: IntegerDots>(
	ggml_type: GgmlType,
	rows: &[u8],
	row_bytes: usize,
	inputs: &[QuantizedRow],
	out: &mut [f32],
) {
	let positions = inputs.len().max(1);
	for (index, (row, out)) in
		rows.chunks_exact(row_bytes).zip(out.chunks_exact_mut(positions)).enumerate()
	{
		if let Some(ahead) = rows.get((index + PREFETCH_ROWS) * row_bytes..) {
			D::prefetch(&ahead[..row_bytes.min(ahead.len())]);
		}
		// SAFETY: `D` is the caller's instruction set.
		unsafe { D::row_against_inputs(ggml_type, row, inputs, out) };
	}
}

/// How many rows ahead of the one being computed the weights are prefetched.
const PREFETCH_ROWS: usize = 8;

/// The integer block dot products, one implementation per instruction set. Each returns exact
/// integer sums; the float step around them ([`dot_row_with`]) is shared.
pub(crate) trait IntegerDots {
	/// `out[p]` = the row's dot product with `inputs[p]`, each [`dot_row_with`]'s bits. An
	/// instruction set may share work between the inputs (unpacking the weights once) so long
	/// as each output's operations, and their order, are those of [`dot_row_with`].
	///
	/// # Safety
	/// As [`IntegerDots::q8_0`].
	#[inline(always)]
	unsafe fn row_against_inputs(
		ggml_type: GgmlType,
		row: &[u8],
		inputs: &[QuantizedRow],
		out: &mut [f32],
	) where
		Self: Sized,
	{
		for (out, input) in out.iter_mut().zip(inputs) {
			*out = dot_row_with::<Self>(ggml_type, row, input);
		}
	}

	/// Ask for `bytes` to be brought into the cache (a hint; no effect on results).
	#[inline(always)]
	fn prefetch(_bytes: &[u8]) {}

	/// The `f16` at `bytes[at..at + 2]` as an `f32` (exact, however it is computed).
	///
	/// # Safety
	/// As [`IntegerDots::q8_0`].
	#[inline(always)]
	unsafe fn half(bytes: &[u8], at: usize) -> f32 {
		half(bytes, at)
	}

	/// `Σ q × a` over a Q8_0 block's 32 values and 32 activations.
	///
	/// # Safety
	/// The implementation's instruction set must be available.
	unsafe fn q8_0(block: &[u8; 34], activations: &[i8; 32]) -> i32;

	/// `Σ (q - 16) × a` over a Q5_0 block's 32 values and 32 activations.
	///
	/// # Safety
	/// As [`IntegerDots::q8_0`].
	unsafe fn q5_0(block: &[u8; 22], activations: &[i8; 32]) -> i32;

	/// Per sub-block of 32, `Σ nibble × a` over a Q4_K super-block and 256 activations.
	///
	/// # Safety
	/// As [`IntegerDots::q8_0`].
	unsafe fn q4_k(block: &[u8; 144], activations: &[i8; 256]) -> [i32; 8];

	/// Per sub-block of 32, `scale₁ × Σ (q - 32) × a + scale₂ × Σ (q - 32) × a` over its two
	/// halves of 16 (each with its `i8` scale), over a Q6_K super-block and 256 activations.
	///
	/// # Safety
	/// As [`IntegerDots::q8_0`].
	unsafe fn q6_k(block: &[u8; 210], activations: &[i8; 256]) -> [i32; 8];
}

/// The row's dot product: integer block sums from `D`, then the contract's float step, in
/// block order. Inlined into each instruction set's entry point.
#[inline(always)]
pub(crate) fn dot_row_with<D: IntegerDots>(
	ggml_type: GgmlType,
	weights: &[u8],
	a: &QuantizedRow,
) -> f32 {
	let values = &a.values;
	let mut total = 0f32;
	match ggml_type {
		GgmlType::Q8_0 => {
			for (block, (w, x)) in
				weights.chunks_exact(34).zip(values.chunks_exact(BLOCK)).enumerate()
			{
				// SAFETY: `D` is the caller's instruction set, checked by `dot_row`.
				let sum = unsafe { D::q8_0(array(w), array(x)) };
				// SAFETY: as above.
				let d = unsafe { D::half(w, 0) };
				total += (d * a.scales[block]) * sum as f32;
			}
		},
		GgmlType::Q5_0 => {
			for (block, (w, x)) in
				weights.chunks_exact(22).zip(values.chunks_exact(BLOCK)).enumerate()
			{
				// SAFETY: as above.
				let sum = unsafe { D::q5_0(array(w), array(x)) };
				// SAFETY: as above.
				let d = unsafe { D::half(w, 0) };
				total += (d * a.scales[block]) * sum as f32;
			}
		},
		GgmlType::Q4K => {
			for (super_block, (w, x)) in
				weights.chunks_exact(144).zip(values.chunks_exact(256)).enumerate()
			{
				// SAFETY: as above.
				let (d, dmin) = unsafe { (D::half(w, 0), D::half(w, 2)) };
				// SAFETY: as above.
				let sums = unsafe { D::q4_k(array(w), array(x)) };
				for (sub, sum) in sums.into_iter().enumerate() {
					let block = 8 * super_block + sub;
					let (scale, min) = q4_k_scale_min(sub, &w[4..16]);
					let scaled = (i32::from(scale) * sum) as f32;
					let offset = (i32::from(min) * a.sums[block]) as f32;
					total += (d * a.scales[block]) * scaled;
					total -= (dmin * a.scales[block]) * offset;
				}
			}
		},
		GgmlType::Q6K => {
			for (super_block, (w, x)) in
				weights.chunks_exact(210).zip(values.chunks_exact(256)).enumerate()
			{
				// SAFETY: as above.
				let d = unsafe { D::half(w, 208) };
				// SAFETY: as above.
				let sums = unsafe { D::q6_k(array(w), array(x)) };
				for (sub, sum) in sums.into_iter().enumerate() {
					total += (d * a.scales[8 * super_block + sub]) * sum as f32;
				}
			}
		},
		GgmlType::F32 | GgmlType::F16 => unimplemented!("plain float matrices are not used"),
	}
	total
}

/// A chunk as the fixed-size array it is.
#[inline(always)]
fn array<T, const N: usize>(chunk: &[T]) -> &[T; N] {
	chunk.try_into().expect("chunks of the format's size")
}

fn half(bytes: &[u8], at: usize) -> f32 {
	f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

/// The integer dot products in plain Rust.
pub(crate) struct Scalar;

/// The integer dot product of 32 weights and 32 activations.
#[inline(always)]
fn dot32(weights: &[i8], activations: &[i8]) -> i32 {
	weights
		.iter()
		.zip(activations)
		.map(|(w, a)| i32::from(*w) * i32::from(*a))
		.sum()
}

impl IntegerDots for Scalar {
	#[inline(always)]
	unsafe fn q8_0(block: &[u8; 34], activations: &[i8; 32]) -> i32 {
		block[2..]
			.iter()
			.zip(activations)
			.map(|(q, a)| i32::from(*q as i8) * i32::from(*a))
			.sum()
	}

	#[inline(always)]
	unsafe fn q5_0(block: &[u8; 22], activations: &[i8; 32]) -> i32 {
		dot32(&q5_0_values(block), activations)
	}

	#[inline(always)]
	unsafe fn q4_k(block: &[u8; 144], activations: &[i8; 256]) -> [i32; 8] {
		let values = q4_k_values(block);
		std::array::from_fn(|sub| {
			let nibbles = &values[32 * sub..][..32];
			nibbles
				.iter()
				.zip(&activations[32 * sub..][..32])
				.map(|(q, a)| i32::from(*q) * i32::from(*a))
				.sum()
		})
	}

	#[inline(always)]
	unsafe fn q6_k(block: &[u8; 210], activations: &[i8; 256]) -> [i32; 8] {
		let values = q6_k_values(block);
		let scales = &block[192..208];
		std::array::from_fn(|sub| {
			let half = |h: usize| {
				let at = 32 * sub + 16 * h;
				i32::from(scales[2 * sub + h] as i8)
					* dot32(&values[at..][..16], &activations[at..][..16])
			};
			half(0) + half(1)
		})
	}
}

/// `Σ a_i × b_i` in the contract's order: eight interleaved partial sums, combined pairwise.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
	let len = a.len().min(b.len());
	let [sum] = dots([&a[..len]], &b[..len]);
	sum
}

/// [`dot`] of each of `a` (as long as `b`) with `b`, each the bits of its own [`dot`]: the
/// sums side by side share each load of `b` and keep independent chains in flight.
pub fn dots<const N: usize>(a: [&[f32]; N], b: &[f32]) -> [f32; N] {
	assert!(a.iter().all(|a| a.len() == b.len()), "vectors of one length");
	#[cfg(target_arch = "x86_64")]
	if std::arch::is_x86_feature_detected!("avx") {
		// SAFETY: the CPU has AVX, checked just above.
		return unsafe { x86::dots_avx(a, b) };
	}
	dots_with(a, b)
}

/// [`dots`] for the instruction set it is inlined into (each lane's operations the same).
#[inline(always)]
pub(crate) fn dots_with<const N: usize>(a: [&[f32]; N], b: &[f32]) -> [f32; N] {
	let mut lanes = [[0f32; 8]; N];
	let whole = b.len() / 8 * 8;
	for (at, y) in b[..whole].chunks_exact(8).enumerate() {
		for (lanes, a) in lanes.iter_mut().zip(&a) {
			let x = &a[8 * at..][..8];
			for lane in 0..8 {
				lanes[lane] += x[lane] * y[lane];
			}
		}
	}
	for (index, y) in b.iter().enumerate().skip(whole) {
		for (lanes, a) in lanes.iter_mut().zip(&a) {
			lanes[index % 8] += a[index] * y;
		}
	}
	lanes.map(combine)
}

/// `Σ x_i²` in the contract's order.
pub fn sum_of_squares(x: &[f32]) -> f32 {
	dot(x, x)
}

/// The eight partial sums added in a fixed tree.
fn combine(lanes: [f32; 8]) -> f32 {
	((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
		+ ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
}

/// RMS normalization of `x` in place, then times `weight`: `x / sqrt(mean(x²) + epsilon)`.
pub fn rms_norm(x: &mut [f32], weight: &[f32], epsilon: f32) {
	let mean = sum_of_squares(x) / x.len() as f32;
	let scale = 1.0 / (mean + epsilon).sqrt();
	for (x, w) in x.iter_mut().zip(weight) {
		*x = (*x * scale) * w;
	}
}

/// GELU with the tanh approximation, as Gemma's feed-forward uses it.
pub fn gelu_tanh(x: f32) -> f32 {
	const SQRT_2_OVER_PI: f32 = 0.797_884_6;
	let inner = SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x);
	0.5 * x * (1.0 + libm::tanhf(inner))
}

/// [`gelu_tanh`] of every value, in place: sixteen at a time where the CPU has AVX-512, with
/// the scalar function's bits (`tanhf` and `expm1f` repeated lane by lane).
pub fn gelu_each(values: &mut [f32]) {
	#[cfg(target_arch = "x86_64")]
	if std::arch::is_x86_feature_detected!("avx512f") {
		// SAFETY: the CPU has AVX-512F, checked just above.
		unsafe { x86::gelu_each(values) };
		return;
	}
	for value in values {
		*value = gelu_tanh(*value);
	}
}

/// `libm::expf` of every value, in place: sixteen at a time where the CPU has AVX-512, with the
/// scalar function's bits (its operations repeated lane by lane).
pub fn exp_each(values: &mut [f32]) {
	#[cfg(target_arch = "x86_64")]
	if std::arch::is_x86_feature_detected!("avx512f") {
		// SAFETY: the CPU has AVX-512F, checked just above.
		unsafe { x86::exp_each(values) };
		return;
	}
	for value in values {
		*value = libm::expf(*value);
	}
}

/// Softmax of `x` in place: `exp(x - max)`, summed in order, each divided by the sum.
pub fn softmax(x: &mut [f32]) {
	let max = x.iter().fold(f32::NEG_INFINITY, |max, v| max.max(*v));
	for v in x.iter_mut() {
		*v -= max;
	}
	exp_each(x);
	let sum = x.iter().fold(0f32, |sum, v| sum + v);
	for v in x.iter_mut() {
		*v /= sum;
	}
}

#[cfg(test)]
// The tests index blocks by position on purpose: the positions are the formats' layout.
#[allow(clippy::needless_range_loop)]
mod tests {
	use super::*;
	use crate::quant::dequantize;

	/// Deterministic pseudo-random bytes.
	fn bytes(count: usize, seed: u64) -> Vec<u8> {
		check::Random::new(seed).bytes(count)
	}

	/// A block's bytes with sane `f16` scales at the given offsets.
	fn block(ggml_type: GgmlType, seed: u64) -> Vec<u8> {
		let mut b = bytes(ggml_type.block_bytes(), seed);
		let scale = f16::from_f32(0.01 + (seed % 7) as f32 * 0.003).to_le_bytes();
		let at: &[usize] = match ggml_type {
			GgmlType::Q8_0 | GgmlType::Q5_0 | GgmlType::Q4K => &[0, 2],
			GgmlType::Q6K => &[208],
			_ => &[],
		};
		for at in at {
			b[*at..*at + 2].copy_from_slice(&scale);
		}
		if ggml_type == GgmlType::Q8_0 || ggml_type == GgmlType::Q5_0 {
			let d = f16::from_f32(0.02).to_le_bytes();
			b[0..2].copy_from_slice(&d);
		}
		b
	}

	#[test]
	fn integer_dot_products_match_the_dequantized_values_closely() {
		// The kernels never dequantize; the dot product of the dequantized weights with the
		// dequantized activations, in f64, must agree with them to float rounding.
		for ggml_type in [GgmlType::Q8_0, GgmlType::Q5_0, GgmlType::Q4K, GgmlType::Q6K] {
			let blocks = 512 / ggml_type.block_len();
			let weights: Vec<u8> =
				(0..blocks).flat_map(|b| block(ggml_type, b as u64 + 1)).collect();
			let mut dequantized = vec![0f32; 512];
			dequantize(ggml_type, &weights, &mut dequantized).unwrap();
			let row: Vec<f32> = bytes(512, 99).iter().map(|b| (*b as f32 - 128.0) / 37.0).collect();
			let a = quantize_row(&row);
			let exact: f64 = dequantized
				.iter()
				.enumerate()
				.map(|(i, w)| {
					let block = i / BLOCK;
					f64::from(*w) * f64::from(a.values[i]) * f64::from(a.scales[block])
				})
				.sum();
			let ours = f64::from(dot_row(KernelPath::Scalar, ggml_type, &weights, &a));
			let magnitude: f64 = dequantized
				.iter()
				.enumerate()
				.map(|(i, w)| {
					(f64::from(*w) * f64::from(a.values[i]) * f64::from(a.scales[i / BLOCK])).abs()
				})
				.sum();
			assert!(
				(ours - exact).abs() <= magnitude * 1e-6,
				"{ggml_type:?}: {ours} against {exact}"
			);
		}
	}

	#[test]
	fn every_kernel_path_gives_the_scalar_integer_sums() {
		// Block scales of 1 and activation scales of 1 make the float step exact (every sum
		// is far below 2^24), so equal results mean equal integer sums. Random blocks plus
		// the extremes: every byte 0x80 (a Q8_0 weight of -128, whose magnitude the sign trick
		// must carry as 128), every byte 0xff, every byte zero; activations random and at ±127.
		let paths = KernelPath::available();
		let one = f16::from_f32(1.0).to_le_bytes();
		let mut checked = 0;
		for ggml_type in [GgmlType::Q8_0, GgmlType::Q5_0, GgmlType::Q4K, GgmlType::Q6K] {
			for seed in 0..400u64 {
				let len = 2 * ggml_type.block_len().max(256);
				let blocks = len / ggml_type.block_len();
				let fill = |b: u64| -> Vec<u8> {
					match seed {
						0 => vec![0x80; ggml_type.block_bytes()],
						1 => vec![0xff; ggml_type.block_bytes()],
						2 => vec![0; ggml_type.block_bytes()],
						_ => bytes(ggml_type.block_bytes(), seed * 1_000 + b),
					}
				};
				let mut weights = Vec::new();
				for b in 0..blocks {
					let mut block = fill(b as u64);
					let at: &[usize] = match ggml_type {
						GgmlType::Q6K => &[208],
						GgmlType::Q4K => &[0],
						_ => &[0],
					};
					for at in at {
						block[*at..*at + 2].copy_from_slice(&one);
					}
					if ggml_type == GgmlType::Q4K {
						block[2..4].copy_from_slice(&f16::from_f32(0.0).to_le_bytes());
					}
					weights.extend(block);
				}
				let values: Vec<i8> = match seed % 3 {
					0 => vec![127; len],
					1 => vec![-127; len],
					_ => bytes(len, seed + 7).iter().map(|b| (*b as i8).max(-127)).collect(),
				};
				let row = QuantizedRow {
					sums: values
						.chunks_exact(BLOCK)
						.map(|b| b.iter().map(|v| i32::from(*v)).sum())
						.collect(),
					scales: vec![1.0; len / BLOCK],
					values,
				};
				let scalar = dot_row(KernelPath::Scalar, ggml_type, &weights, &row);
				for path in &paths {
					let ours = dot_row(*path, ggml_type, &weights, &row);
					assert_eq!(
						ours.to_bits(),
						scalar.to_bits(),
						"{ggml_type:?} seed {seed} {path:?}"
					);
					checked += 1;
				}
			}
		}
		assert!(checked >= 4 * 400, "every format on every path");
	}

	#[test]
	fn the_self_check_passes_and_compares_every_path() {
		for seed in 1..=20 {
			let compared =
				check_kernel_paths(seed).unwrap_or_else(|difference| panic!("{difference}"));
			assert_eq!(compared, 4 * 7 * 3 * KernelPath::available().len(), "seed {seed}");
		}
	}

	#[test]
	fn many_positions_at_once_give_each_positions_own_bits_on_every_path() {
		// Eleven positions: one group of eight computed side by side, three one by one. Each
		// output must be the bits of that row and that position alone, on the scalar path.
		for ggml_type in [GgmlType::Q8_0, GgmlType::Q5_0, GgmlType::Q4K, GgmlType::Q6K] {
			let row_len = 512;
			let row_bytes = row_len / ggml_type.block_len() * ggml_type.block_bytes();
			let rows: Vec<u8> = (0..3 * row_bytes / ggml_type.block_bytes())
				.flat_map(|b| block(ggml_type, b as u64 + 11))
				.collect();
			let inputs: Vec<QuantizedRow> = (0..11u64)
				.map(|p| {
					let values: Vec<f32> =
						bytes(row_len, 50 + p).iter().map(|b| (*b as f32 - 128.0) / 9.0).collect();
					quantize_row(&values)
				})
				.collect();
			for path in KernelPath::available() {
				let mut out = vec![0f32; 3 * inputs.len()];
				dot_rows(path, ggml_type, &rows, row_bytes, &inputs, &mut out);
				for (row, outputs) in rows.chunks_exact(row_bytes).zip(out.chunks_exact(11)) {
					for (input, output) in inputs.iter().zip(outputs) {
						let alone = dot_row(KernelPath::Scalar, ggml_type, row, input);
						assert_eq!(output.to_bits(), alone.to_bits(), "{ggml_type:?} on {path:?}");
					}
				}
			}
		}
	}

	#[test]
	fn exp_each_gives_libm_expf_bits_for_every_kind_of_input() {
		// Every 4099th bit pattern of the whole f32 range (both signs, subnormals, infinities,
		// NaNs), then each boundary of the scalar function's ranges and its neighbours.
		let mut inputs: Vec<f32> = (0..=u32::MAX).step_by(4099).map(f32::from_bits).collect();
		for boundary in [
			0x42ae_ac50u32,
			0x42cf_f1b5,
			0x42b1_7218,
			0x3f85_1592,
			0x3eb1_7218,
			0x3900_0000,
			0x7f80_0000,
			0,
		] {
			for bits in boundary.saturating_sub(3)..=boundary.saturating_add(3) {
				inputs.push(f32::from_bits(bits));
				inputs.push(f32::from_bits(bits | 0x8000_0000));
			}
		}
		// The softmax range, densely: every 997th pattern from -110 to 0.
		inputs.extend((0x8000_0000u32..=(-110f32).to_bits()).step_by(997).map(f32::from_bits));
		let mut ours = inputs.clone();
		exp_each(&mut ours);
		for (x, y) in inputs.iter().zip(&ours) {
			let expected = libm::expf(*x);
			assert!(
				y.to_bits() == expected.to_bits() || (y.is_nan() && expected.is_nan()),
				"exp({x:e}) = {y:e}, libm gives {expected:e}"
			);
		}
	}

	/// Every 4099th bit pattern of the whole f32 range, each boundary in `boundaries` with its
	/// neighbours (both signs), and every `dense_step`th pattern from zero to `dense_to`.
	fn sweep(boundaries: &[u32], dense_to: f32, dense_step: usize) -> Vec<f32> {
		let mut inputs: Vec<f32> = (0..=u32::MAX).step_by(4099).map(f32::from_bits).collect();
		for boundary in boundaries {
			for bits in boundary.saturating_sub(3)..=boundary.saturating_add(3) {
				inputs.push(f32::from_bits(bits));
				inputs.push(f32::from_bits(bits | 0x8000_0000));
			}
		}
		inputs.extend((0..=dense_to.to_bits()).step_by(dense_step).map(f32::from_bits));
		inputs.extend((0..=dense_to.to_bits()).step_by(dense_step).map(|b| -f32::from_bits(b)));
		inputs
	}

	/// Whether `ours` has `expected`'s bits (any NaN for a NaN).
	fn same_bits(ours: f32, expected: f32) -> bool {
		ours.to_bits() == expected.to_bits() || (ours.is_nan() && expected.is_nan())
	}

	#[test]
	fn gelu_each_gives_the_scalar_gelu_bits_for_every_kind_of_input() {
		let inputs = sweep(&[0x4120_0000, 0x3f0c_9f54, 0x3e82_c578, 0x0080_0000], 60.0, 1009);
		let mut ours = inputs.clone();
		gelu_each(&mut ours);
		for (x, y) in inputs.iter().zip(&ours) {
			assert!(same_bits(*y, gelu_tanh(*x)), "gelu({x:e}) = {y:e}, not {:e}", gelu_tanh(*x));
		}
	}

	#[test]
	fn sixteen_lane_tanh_gives_libm_tanhf_bits_for_every_kind_of_input() {
		#[cfg(target_arch = "x86_64")]
		if std::arch::is_x86_feature_detected!("avx512f") {
			// The boundaries of tanhf's ranges and of expm1f's (halved: tanhf passes 2|x|).
			let boundaries = [
				0x4120_0000,
				0x3f0c_9f54,
				0x3e82_c578,
				0x0080_0000,
				0x7f80_0000,
				0x3e31_7218,
				0x3f05_1592,
				0x3280_0000,
				0x4115_b844,
			];
			let mut inputs = sweep(&boundaries, 12.0, 499);
			inputs.truncate(inputs.len() / 16 * 16);
			let mut ours = inputs.clone();
			// SAFETY: the CPU has AVX-512F, checked just above.
			unsafe { x86::tanh_each(&mut ours) };
			for (x, y) in inputs.iter().zip(&ours) {
				let expected = libm::tanhf(*x);
				assert!(same_bits(*y, expected), "tanh({x:e}) = {y:e}, libm gives {expected:e}");
			}
		}
	}

	#[test]
	fn rounding_is_half_away_from_zero_like_the_standard_library() {
		let mut x = -130.0f32;
		while x <= 130.0 {
			for value in [
				x,
				f32::from_bits(x.to_bits().wrapping_add(1)),
				f32::from_bits(x.to_bits().wrapping_sub(1)),
			] {
				assert_eq!(round_half_away(value), value.round() as i32, "{value:e}");
			}
			x += 0.125;
		}
	}

	#[test]
	fn the_scalar_path_always_runs_and_is_listed_first() {
		assert!(KernelPath::Scalar.is_available());
		assert_eq!(KernelPath::available()[0], KernelPath::Scalar);
		assert!(KernelPath::widest().is_available());
	}

	#[test]
	fn quantization_rounds_half_away_and_keeps_zero_blocks_zero() {
		let mut row = vec![0f32; 64];
		row[0] = 127.0;
		row[1] = 0.5;
		row[2] = -0.5;
		row[3] = -127.0;
		let q = quantize_row(&row);
		assert_eq!(q.scales, [1.0, 0.0]);
		assert_eq!(&q.values[..4], &[127, 1, -1, -127]);
		assert!(q.values[32..].iter().all(|v| *v == 0));
		assert_eq!(q.sums, [0, 0]);
	}

	#[test]
	fn dots_side_by_side_are_each_dots_own_bits() {
		for len in [0, 5, 8, 19, 256] {
			let vector = |seed: u64| -> Vec<f32> {
				bytes(len, seed).iter().map(|b| (*b as f32 - 128.0) / 7.0).collect()
			};
			let (a, b, c, key) = (vector(1), vector(2), vector(3), vector(4));
			let together = dots([&a, &b, &c], &key);
			let alone = [&a, &b, &c].map(|a| {
				let mut lanes = [0f32; 8];
				for (index, (x, y)) in a.iter().zip(&key).enumerate() {
					lanes[index % 8] += x * y;
				}
				combine(lanes)
			});
			assert_eq!(together.map(f32::to_bits), alone.map(f32::to_bits), "length {len}");
		}
	}

	#[test]
	fn the_dot_order_is_fixed_whatever_the_length() {
		let a: Vec<f32> = (0..19).map(|i| 1.0 + i as f32 * 1e-3).collect();
		let b: Vec<f32> = (0..19).map(|i| 1.0e7 - i as f32).collect();
		let mut lanes = [0f32; 8];
		for i in 0..19 {
			lanes[i % 8] += a[i] * b[i];
		}
		let expected = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
			+ ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
		assert_eq!(dot(&a, &b).to_bits(), expected.to_bits());
	}
}
