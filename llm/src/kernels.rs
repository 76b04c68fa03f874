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
//!   rounded ones. No approximate reciprocal or square-root instruction is used.

use crate::quant::{q4_k_scale_min, q4_k_values, q5_0_values, q6_k_values, GgmlType};
use half::f16;

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
	let blocks = row.len() / BLOCK;
	let mut quantized = QuantizedRow {
		values: Vec::with_capacity(row.len()),
		scales: Vec::with_capacity(blocks),
		sums: Vec::with_capacity(blocks),
	};
	for block in row.chunks_exact(BLOCK) {
		let max = block.iter().fold(0f32, |max, x| max.max(x.abs()));
		let scale = max / 127.0;
		let mut sum = 0i32;
		for x in block {
			let q = if scale == 0.0 { 0 } else { round_half_away(x / scale).clamp(-127, 127) };
			quantized.values.push(q as i8);
			sum += q;
		}
		quantized.scales.push(scale);
		quantized.sums.push(sum);
	}
	quantized
}

/// `x` rounded to the nearest integer, halves away from zero.
fn round_half_away(x: f32) -> i32 {
	x.round() as i32
}

/// The dot product of a weight row of `ggml_type` (its bytes) with `activations`.
pub fn dot_row(ggml_type: GgmlType, weights: &[u8], activations: &QuantizedRow) -> f32 {
	match ggml_type {
		GgmlType::Q8_0 => dot_q8_0(weights, activations),
		GgmlType::Q5_0 => dot_q5_0(weights, activations),
		GgmlType::Q4K => dot_q4_k(weights, activations),
		GgmlType::Q6K => dot_q6_k(weights, activations),
		GgmlType::F32 | GgmlType::F16 => unimplemented!("plain float matrices are not used"),
	}
}

fn half(bytes: &[u8], at: usize) -> f32 {
	f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

/// The integer dot product of 32 weights and 32 activations.
#[inline(always)]
fn dot32(weights: &[i8; 32], activations: &[i8]) -> i32 {
	weights
		.iter()
		.zip(activations)
		.map(|(w, a)| i32::from(*w) * i32::from(*a))
		.sum()
}

fn dot_q8_0(weights: &[u8], a: &QuantizedRow) -> f32 {
	let mut total = 0f32;
	for (block, w) in weights.chunks_exact(34).enumerate() {
		let q: &[i8; 32] = bytemuck_i8(&w[2..34]);
		let sum = dot32(q, &a.values[BLOCK * block..][..BLOCK]);
		total += (half(w, 0) * a.scales[block]) * sum as f32;
	}
	total
}

fn dot_q5_0(weights: &[u8], a: &QuantizedRow) -> f32 {
	let mut total = 0f32;
	for (block, w) in weights.chunks_exact(22).enumerate() {
		let sum = dot32(&q5_0_values(w), &a.values[BLOCK * block..][..BLOCK]);
		total += (half(w, 0) * a.scales[block]) * sum as f32;
	}
	total
}

fn dot_q4_k(weights: &[u8], a: &QuantizedRow) -> f32 {
	let mut total = 0f32;
	for (super_block, w) in weights.chunks_exact(144).enumerate() {
		let (d, dmin) = (half(w, 0), half(w, 2));
		let values = q4_k_values(w);
		for (sub, nibbles) in values.chunks_exact(32).enumerate() {
			let block = 8 * super_block + sub;
			let q: [i8; 32] = std::array::from_fn(|i| nibbles[i] as i8);
			let (scale, min) = q4_k_scale_min(sub, &w[4..16]);
			let sum = dot32(&q, &a.values[BLOCK * block..][..BLOCK]);
			let scaled = (i32::from(scale) * sum) as f32;
			let offset = (i32::from(min) * a.sums[block]) as f32;
			total += (d * a.scales[block]) * scaled;
			total -= (dmin * a.scales[block]) * offset;
		}
	}
	total
}

fn dot_q6_k(weights: &[u8], a: &QuantizedRow) -> f32 {
	let mut total = 0f32;
	for (super_block, w) in weights.chunks_exact(210).enumerate() {
		let (scales, d) = (&w[192..208], half(w, 208));
		let q = q6_k_values(w);
		for sub in 0..8 {
			let block = 8 * super_block + sub;
			let activations = &a.values[BLOCK * block..][..BLOCK];
			let weights: &[i8] = &q[BLOCK * sub..][..BLOCK];
			let product = |range: std::ops::Range<usize>| -> i32 {
				range.map(|i| i32::from(weights[i]) * i32::from(activations[i])).sum()
			};
			let sum = i32::from(scales[2 * sub] as i8) * product(0..16)
				+ i32::from(scales[2 * sub + 1] as i8) * product(16..32);
			total += (d * a.scales[block]) * sum as f32;
		}
	}
	total
}

/// Reinterpret 32 bytes as 32 `i8`.
fn bytemuck_i8(bytes: &[u8]) -> &[i8; 32] {
	let bytes: &[u8; 32] = bytes.try_into().expect("32 bytes");
	// SAFETY: `u8` and `i8` have the same size and alignment, and every bit pattern is valid
	// for both.
	unsafe { &*(bytes as *const [u8; 32] as *const [i8; 32]) }
}

/// `Σ a_i × b_i` in the contract's order: eight interleaved partial sums, combined pairwise.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
	let mut lanes = [0f32; 8];
	for (index, (x, y)) in a.iter().zip(b).enumerate() {
		lanes[index % 8] += x * y;
	}
	combine(lanes)
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

/// Softmax of `x` in place: `exp(x - max)`, summed in order, each divided by the sum.
pub fn softmax(x: &mut [f32]) {
	let max = x.iter().fold(f32::NEG_INFINITY, |max, v| max.max(*v));
	let mut sum = 0f32;
	for v in x.iter_mut() {
		*v = libm::expf(*v - max);
		sum += *v;
	}
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
		let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
		(0..count)
			.map(|_| {
				state ^= state << 13;
				state ^= state >> 7;
				state ^= state << 17;
				(state >> 24) as u8
			})
			.collect()
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
			let ours = f64::from(dot_row(ggml_type, &weights, &a));
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
