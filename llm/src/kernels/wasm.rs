//! The integer block dot products on WebAssembly's 128-bit SIMD.
//!
//! Weights and activations are widened to `i16` and multiplied pairwise into `i32` lanes by
//! `i32x4.dot_i16x8_s`, exact (a product is at most 128 × 127 in magnitude, a pair's sum fits
//! an `i32` with room to spare), so the sums are the scalar path's integers. Rows of Q8_0 and
//! Q5_0 (the embedding, which is also the output head, and most projections) run
//! [`ROWS`] at a time against each input: each activation block is widened once for the
//! group, the group's block sums land in one vector, and the float step runs on them side by
//! side, each lane one row's chain in the contract's order (a product, then a sum: this SIMD
//! has no fused multiply-add), so every output has the scalar step's bits. The block layouts
//! are those of [`crate::quant`].

use super::{IntegerDots, QuantizedRow, BLOCK};
use crate::quant::{q4_k_values, GgmlType};
use core::arch::wasm32::*;

/// Rows of Q8_0 or Q5_0 computed side by side: one vector lane each.
const ROWS: usize = 4;

/// The integer sums on WebAssembly's 128-bit SIMD.
pub(super) struct Simd128;

/// Rows against inputs (see [`super::dot_rows`]): Q8_0 and Q5_0 [`ROWS`] rows at a time, the
/// other formats one row at a time with [`Simd128`]'s sums.
///
/// # Safety
/// The engine must support simd128.
#[target_feature(enable = "simd128")]
pub(super) unsafe fn dot_rows_simd128(
	ggml_type: GgmlType,
	rows: &[u8],
	row_bytes: usize,
	inputs: &[QuantizedRow],
	out: &mut [f32],
) {
	if !matches!(ggml_type, GgmlType::Q8_0 | GgmlType::Q5_0) {
		return super::dot_rows_with::<Simd128>(ggml_type, rows, row_bytes, inputs, out);
	}
	let block_bytes = ggml_type.block_bytes();
	let positions = inputs.len();
	if positions == 0 {
		return super::dot_rows_with::<Simd128>(ggml_type, rows, row_bytes, inputs, out);
	}
	let row_count = rows.len() / row_bytes;
	for (group, out) in (0..row_count).step_by(ROWS).zip(out.chunks_mut(positions * ROWS)) {
		// The last group may be short: its missing rows repeat its last one, their lanes unused.
		let group: [&[u8]; ROWS] = core::array::from_fn(|lane| {
			let row = (group + lane).min(row_count - 1);
			&rows[row * row_bytes..][..row_bytes]
		});
		for (position, input) in inputs.iter().enumerate() {
			let totals = rows_against_input(ggml_type, block_bytes, group, input);
			let lanes = [
				f32x4_extract_lane::<0>(totals),
				f32x4_extract_lane::<1>(totals),
				f32x4_extract_lane::<2>(totals),
				f32x4_extract_lane::<3>(totals),
			];
			for (outs, lane) in out.chunks_mut(positions).zip(lanes) {
				outs[position] = lane;
			}
		}
	}
}

/// [`ROWS`] rows of Q8_0 or Q5_0 (`block_bytes` per block) against one input: lane `r` holds
/// row `r`'s dot product, its float step that of [`super::dot_row_with`].
#[inline(always)]
unsafe fn rows_against_input(
	ggml_type: GgmlType,
	block_bytes: usize,
	rows: [&[u8]; ROWS],
	input: &QuantizedRow,
) -> v128 {
	let mut totals = f32x4_splat(0.0);
	for (block, activations) in input.values.chunks_exact(BLOCK).enumerate() {
		let activations =
			widen(load(activations.as_ptr().cast()), load(activations[16..].as_ptr().cast()));
		let at = block * block_bytes;
		let mut sums = [i32x4_splat(0); ROWS];
		for (sums, row) in sums.iter_mut().zip(rows) {
			let weights = &row[at..at + block_bytes];
			let (low, high) = if ggml_type == GgmlType::Q8_0 {
				(load(weights[2..].as_ptr()), load(weights[18..].as_ptr()))
			} else {
				q5_0_vectors(weights)
			};
			*sums = products32(widen(low, high), &activations);
		}
		let d = f32x4(
			super::half(rows[0], at),
			super::half(rows[1], at),
			super::half(rows[2], at),
			super::half(rows[3], at),
		);
		let factor = f32x4_mul(d, f32x4_splat(input.scales[block]));
		totals = f32x4_add(totals, f32x4_mul(factor, f32x4_convert_i32x4(lane_sums(sums))));
	}
	totals
}

/// Sixteen bytes from `at` (no alignment needed).
#[inline(always)]
unsafe fn load(at: *const u8) -> v128 {
	v128_load(at.cast())
}

/// 32 signed bytes (two vectors) as four vectors of `i16`.
#[inline(always)]
unsafe fn widen(low: v128, high: v128) -> [v128; 4] {
	[
		i16x8_extend_low_i8x16(low),
		i16x8_extend_high_i8x16(low),
		i16x8_extend_low_i8x16(high),
		i16x8_extend_high_i8x16(high),
	]
}

/// `Σ w × a` over 32 widened values, as four `i32` lanes.
#[inline(always)]
unsafe fn products32(weights: [v128; 4], activations: &[v128; 4]) -> v128 {
	i32x4_add(
		i32x4_add(
			i32x4_dot_i16x8(weights[0], activations[0]),
			i32x4_dot_i16x8(weights[1], activations[1]),
		),
		i32x4_add(
			i32x4_dot_i16x8(weights[2], activations[2]),
			i32x4_dot_i16x8(weights[3], activations[3]),
		),
	)
}

/// `Σ w × a` over 16 signed bytes each, as four `i32` lanes.
#[inline(always)]
unsafe fn products16(weights: v128, activations: v128) -> v128 {
	i32x4_add(
		i32x4_dot_i16x8(i16x8_extend_low_i8x16(weights), i16x8_extend_low_i8x16(activations)),
		i32x4_dot_i16x8(i16x8_extend_high_i8x16(weights), i16x8_extend_high_i8x16(activations)),
	)
}

/// The sum of the four `i32` lanes.
#[inline(always)]
unsafe fn sum_lanes(v: v128) -> i32 {
	let v = i32x4_add(v, i32x4_shuffle::<2, 3, 0, 1>(v, v));
	let v = i32x4_add(v, i32x4_shuffle::<1, 0, 3, 2>(v, v));
	i32x4_extract_lane::<0>(v)
}

/// Each of four vectors' lane sums, lane `r` that of `v[r]` (integer additions: exact in any
/// order).
#[inline(always)]
unsafe fn lane_sums(v: [v128; 4]) -> v128 {
	// [a0 + a2, b0 + b2, a1 + a3, b1 + b3] for (a, b) = (v0, v1), likewise for (v2, v3).
	let first =
		i32x4_add(i32x4_shuffle::<0, 4, 1, 5>(v[0], v[1]), i32x4_shuffle::<2, 6, 3, 7>(v[0], v[1]));
	let second =
		i32x4_add(i32x4_shuffle::<0, 4, 1, 5>(v[2], v[3]), i32x4_shuffle::<2, 6, 3, 7>(v[2], v[3]));
	i32x4_add(
		i32x4_shuffle::<0, 1, 4, 5>(first, second),
		i32x4_shuffle::<2, 3, 6, 7>(first, second),
	)
}

/// A Q5_0 block's 32 values, `q - 16`, as two vectors of sixteen.
#[inline(always)]
unsafe fn q5_0_vectors(block: &[u8]) -> (v128, v128) {
	let packed = load(block[6..].as_ptr());
	let low = v128_and(packed, u8x16_splat(0x0f));
	let high = u8x16_shr(packed, 4);
	let mask = u32x4_splat(u32::from_le_bytes([block[2], block[3], block[4], block[5]]));
	let first = i8x16_swizzle(mask, u8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
	let second = i8x16_swizzle(mask, u8x16(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
	let sixteen = u8x16_splat(16);
	(
		i8x16_sub(v128_or(low, fifth_bits(first)), sixteen),
		i8x16_sub(v128_or(high, fifth_bits(second)), sixteen),
	)
}

/// `0x10` in each byte whose bit (byte `i` of eight tests bit `i % 8` of its byte of
/// `spread`) is set, else 0: Q5_0's fifth bits in place. (A function, not a closure: closures
/// do not inherit the caller's SIMD, so their intrinsics would not be inlined.)
#[inline(always)]
unsafe fn fifth_bits(spread: v128) -> v128 {
	let bits = u64x2_splat(0x8040_2010_0804_0201);
	v128_and(i8x16_eq(v128_and(spread, bits), bits), u8x16_splat(0x10))
}

impl IntegerDots for Simd128 {
	// Q8_0 and Q5_0 rows always go through `rows_against_input`, four at a time (see
	// `dot_rows_simd128`): these one-row sums are never called there, so they are the scalar
	// path's, not a second, untested vector version.
	#[inline(always)]
	unsafe fn q8_0(block: &[u8; 34], activations: &[i8; 32]) -> i32 {
		super::Scalar::q8_0(block, activations)
	}

	#[inline(always)]
	unsafe fn q5_0(block: &[u8; 22], activations: &[i8; 32]) -> i32 {
		super::Scalar::q5_0(block, activations)
	}

	#[inline(always)]
	unsafe fn q4_k(block: &[u8; 144], activations: &[i8; 256]) -> [i32; 8] {
		let values = q4_k_values(block);
		let mut sums = [0i32; 8];
		for (sub, sum) in sums.iter_mut().enumerate() {
			let at = 32 * sub;
			*sum = sum_lanes(i32x4_add(
				products16(load(values[at..].as_ptr()), load(activations[at..].as_ptr().cast())),
				products16(
					load(values[at + 16..].as_ptr()),
					load(activations[at + 16..].as_ptr().cast()),
				),
			));
		}
		sums
	}

	#[inline(always)]
	unsafe fn q6_k(block: &[u8; 210], activations: &[i8; 256]) -> [i32; 8] {
		let values = crate::quant::q6_k_values(block);
		let scales = &block[192..208];
		let mut sums = [0i32; 8];
		for (sub, sum) in sums.iter_mut().enumerate() {
			for half in 0..2 {
				let at = 32 * sub + 16 * half;
				let products = products16(
					load(values[at..].as_ptr().cast()),
					load(activations[at..].as_ptr().cast()),
				);
				*sum += i32::from(scales[2 * sub + half] as i8) * sum_lanes(products);
			}
		}
		sums
	}
}
