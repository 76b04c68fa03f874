//! The integer block dot products on x86-64: AVX2 and AVX-512 VNNI.
//!
//! Both compute exact `i32` sums of `u8 × i8` products (signed weights go through the sign
//! trick: `|w| × (a with w's sign)`, exact for every `i8` weight including -128, whose
//! magnitude 128 fits an unsigned byte). AVX2's `vpmaddubsw` adds pairs into `i16`, which
//! cannot saturate here: activations are within ±127 and weight magnitudes at most 128, so a
//! pair is at most 2 × 128 × 127 = 32,512. VNNI's `vpdpbusd` adds fours straight into `i32`.
//! The block layouts are those of [`crate::quant`].

use super::{dot_row_with, IntegerDots, QuantizedRow, BLOCK};
use crate::quant::GgmlType;
use std::arch::x86_64::*;

mod exp;
mod lanes;
mod tanh;

pub(super) use exp::exp_each;
pub(super) use tanh::gelu_each;
#[cfg(test)]
pub(super) use tanh::tanh_each;

/// From this many positions on, the AVX-512 path puts positions in register lanes
/// ([`lanes`]); below it, sixteen lanes would be mostly padding.
const LANES_FROM: usize = 8;

/// How a path multiplies 32 unsigned bytes by 32 signed ones: eight `i32` lanes, lane `k` the
/// sum of the four products of bytes `4k..4k + 4`.
trait MultiplyAdd {
	/// # Safety
	/// The path's instruction set must be available.
	unsafe fn products(unsigned: __m256i, signed: __m256i) -> __m256i;
}

/// AVX2's two-step multiply-add.
pub(super) struct Avx2;

/// AVX-512 VNNI's one-step multiply-add.
pub(super) struct Vnni;

impl MultiplyAdd for Avx2 {
	#[inline(always)]
	unsafe fn products(unsigned: __m256i, signed: __m256i) -> __m256i {
		_mm256_madd_epi16(_mm256_maddubs_epi16(unsigned, signed), _mm256_set1_epi16(1))
	}
}

impl MultiplyAdd for Vnni {
	#[inline(always)]
	unsafe fn products(unsigned: __m256i, signed: __m256i) -> __m256i {
		_mm256_dpbusd_epi32(_mm256_setzero_si256(), unsigned, signed)
	}
}

/// Rows against inputs with AVX2 integer sums (see [`super::dot_rows`]).
///
/// # Safety
/// The CPU must have AVX2 and F16C.
#[target_feature(enable = "avx2,f16c")]
pub(super) unsafe fn dot_rows_avx2(
	ggml_type: GgmlType,
	rows: &[u8],
	row_bytes: usize,
	inputs: &[QuantizedRow],
	out: &mut [f32],
) {
	super::dot_rows_with::<Avx2>(ggml_type, rows, row_bytes, inputs, out)
}

/// Rows against inputs with AVX-512 VNNI integer sums (see [`super::dot_rows`]): from
/// [`LANES_FROM`] inputs on, sixteen positions to a register ([`lanes`]).
///
/// # Safety
/// The CPU must have AVX2, F16C, AVX-512F, AVX-512 VNNI and AVX-512VL.
#[target_feature(enable = "avx2,f16c,avx512f,avx512vnni,avx512vl")]
pub(super) unsafe fn dot_rows_vnni(
	ggml_type: GgmlType,
	rows: &[u8],
	row_bytes: usize,
	inputs: &[QuantizedRow],
	out: &mut [f32],
) {
	if inputs.len() < LANES_FROM {
		return super::dot_rows_with::<Vnni>(ggml_type, rows, row_bytes, inputs, out);
	}
	let lanes = lanes::Lanes::new(inputs);
	let blocks = row_bytes / ggml_type.block_bytes() * ggml_type.block_len() / BLOCK;
	let mut prepared: [lanes::PreparedRow; lanes::ROWS] =
		core::array::from_fn(|_| lanes::PreparedRow::new(blocks));
	let together = row_bytes * lanes::ROWS;
	let positions = inputs.len();
	let whole = rows.len() / together * together;
	for (index, (rows, out)) in rows[..whole]
		.chunks_exact(together)
		.zip(out.chunks_exact_mut(positions * lanes::ROWS))
		.enumerate()
	{
		if let Some(ahead) = rows.get(index * together + super::PREFETCH_ROWS * row_bytes..) {
			<Vnni as IntegerDots>::prefetch(&ahead[..together.min(ahead.len())]);
		}
		for (row, prepared) in rows.chunks_exact(row_bytes).zip(&mut prepared) {
			lanes::prepare(ggml_type, row, prepared);
		}
		let mut outs = out.chunks_exact_mut(positions);
		let outs = core::array::from_fn(|_| outs.next().expect("a row of outputs per row"));
		lanes::rows_against_lanes(ggml_type, prepared.each_ref(), &lanes, outs);
	}
	for (row, out) in rows[whole..]
		.chunks_exact(row_bytes)
		.zip(out[whole / row_bytes * positions..].chunks_exact_mut(positions))
	{
		lanes::prepare(ggml_type, row, &mut prepared[0]);
		lanes::rows_against_lanes(ggml_type, [&prepared[0]], &lanes, [out]);
	}
}

/// `values[i] = scalar(values[i])` for every value, sixteen at a time by `vector`, which gives
/// the sixteen results and the mask of lanes it leaves to `scalar` (their results then come
/// from `scalar` on the original values); the values after the last sixteen by `scalar`.
/// Inlined into each function's `avx512f` entry point.
#[inline(always)]
unsafe fn each_sixteen(
	values: &mut [f32],
	vector: impl Fn(__m512) -> (__m512, u16),
	scalar: impl Fn(f32) -> f32,
) {
	let mut chunks = values.chunks_exact_mut(16);
	for chunk in &mut chunks {
		let (y, left) = vector(_mm512_loadu_ps(chunk.as_ptr()));
		let mut originals = [0f32; 16];
		if left != 0 {
			originals.copy_from_slice(chunk);
		}
		_mm512_storeu_ps(chunk.as_mut_ptr(), y);
		if left != 0 {
			for (lane, (value, x)) in chunk.iter_mut().zip(originals).enumerate() {
				if left & (1 << lane) != 0 {
					*value = scalar(x);
				}
			}
		}
	}
	for value in chunks.into_remainder() {
		*value = scalar(*value);
	}
}

/// [`super::quantize_row`] with AVX2 (the same operations per value, in vector registers).
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn quantize_row_avx2(row: &[f32]) -> QuantizedRow {
	super::quantize_row_with(row)
}

/// [`super::dots`] in 256-bit registers: the same multiplications and additions, lane by lane.
///
/// # Safety
/// The CPU must have AVX.
#[target_feature(enable = "avx")]
pub(super) unsafe fn dots_avx<const N: usize>(a: [&[f32]; N], b: &[f32]) -> [f32; N] {
	debug_assert!(a.iter().all(|a| a.len() == b.len()));
	let whole = b.len() / 8 * 8;
	let mut sums = [_mm256_setzero_ps(); N];
	for at in (0..whole).step_by(8) {
		let y = _mm256_loadu_ps(b[at..][..8].as_ptr());
		for (sums, a) in sums.iter_mut().zip(&a) {
			let x = _mm256_loadu_ps(a[at..][..8].as_ptr());
			*sums = _mm256_add_ps(*sums, _mm256_mul_ps(x, y));
		}
	}
	let mut lanes = [[0f32; 8]; N];
	for (lanes, sums) in lanes.iter_mut().zip(sums) {
		_mm256_storeu_ps(lanes.as_mut_ptr(), sums);
	}
	for (index, y) in b.iter().enumerate().skip(whole) {
		for (lanes, a) in lanes.iter_mut().zip(&a) {
			lanes[index % 8] += a[index] * y;
		}
	}
	lanes.map(super::combine)
}

#[inline(always)]
unsafe fn load(bytes: &[u8]) -> __m256i {
	debug_assert!(bytes.len() >= 32);
	_mm256_loadu_si256(bytes.as_ptr().cast())
}

#[inline(always)]
unsafe fn load_signed(values: &[i8]) -> __m256i {
	debug_assert!(values.len() >= 32);
	_mm256_loadu_si256(values.as_ptr().cast())
}

/// The sum of a 128-bit register's four `i32` lanes.
#[inline(always)]
unsafe fn sum128(v: __m128i) -> i32 {
	let v = _mm_add_epi32(v, _mm_shuffle_epi32::<0b01_00_11_10>(v));
	let v = _mm_add_epi32(v, _mm_shuffle_epi32::<0b10_11_00_01>(v));
	_mm_cvtsi128_si32(v)
}

/// The sum of the eight `i32` lanes.
#[inline(always)]
unsafe fn sum256(v: __m256i) -> i32 {
	sum128(_mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v)))
}

/// Signed weights times signed activations, by the sign trick.
#[inline(always)]
unsafe fn signed_products<M: MultiplyAdd>(weights: __m256i, activations: __m256i) -> __m256i {
	M::products(_mm256_abs_epi8(weights), _mm256_sign_epi8(activations, weights))
}

/// Each byte of `value & mask`, where `mask` repeats in every byte.
#[inline(always)]
unsafe fn and_bytes(value: __m256i, mask: u8) -> __m256i {
	_mm256_and_si256(value, _mm256_set1_epi8(mask as i8))
}

/// Eight positions' lane vectors reduced to their eight sums, in position order (integer
/// additions, exact in any order). Lanes 0-3 and 4-7 are also returned apart: `(all, firsts,
/// seconds)`, the sums of bytes 0-15 and 16-31 of each position.
#[inline(always)]
unsafe fn sums_of_eight(v: &[__m256i; 8]) -> (__m256i, __m256i, __m256i) {
	let s01 = _mm256_hadd_epi32(v[0], v[1]);
	let s23 = _mm256_hadd_epi32(v[2], v[3]);
	let s45 = _mm256_hadd_epi32(v[4], v[5]);
	let s67 = _mm256_hadd_epi32(v[6], v[7]);
	let t0123 = _mm256_hadd_epi32(s01, s23);
	let t4567 = _mm256_hadd_epi32(s45, s67);
	let firsts = _mm256_permute2x128_si256::<0x20>(t0123, t4567);
	let seconds = _mm256_permute2x128_si256::<0x31>(t0123, t4567);
	(_mm256_add_epi32(firsts, seconds), firsts, seconds)
}

/// Block `block`'s activation scales of eight positions.
#[inline(always)]
unsafe fn scales_of_eight(inputs: &[QuantizedRow], block: usize) -> __m256 {
	_mm256_setr_ps(
		inputs[0].scales[block],
		inputs[1].scales[block],
		inputs[2].scales[block],
		inputs[3].scales[block],
		inputs[4].scales[block],
		inputs[5].scales[block],
		inputs[6].scales[block],
		inputs[7].scales[block],
	)
}

/// Block `block`'s activation sums of eight positions.
#[inline(always)]
unsafe fn activation_sums_of_eight(inputs: &[QuantizedRow], block: usize) -> __m256i {
	_mm256_setr_epi32(
		inputs[0].sums[block],
		inputs[1].sums[block],
		inputs[2].sums[block],
		inputs[3].sums[block],
		inputs[4].sums[block],
		inputs[5].sums[block],
		inputs[6].sums[block],
		inputs[7].sums[block],
	)
}

/// The lane vectors of eight positions' activations at `at` against signed weights
/// (`magnitudes` their absolute values), by the sign trick.
#[inline(always)]
unsafe fn eight_signed<M: MultiplyAdd>(
	inputs: &[QuantizedRow],
	at: usize,
	magnitudes: __m256i,
	weights: __m256i,
) -> [__m256i; 8] {
	let mut lanes = [_mm256_setzero_si256(); 8];
	for (lanes, input) in lanes.iter_mut().zip(inputs) {
		let a = load_signed(&input.values[at..]);
		*lanes = M::products(magnitudes, _mm256_sign_epi8(a, weights));
	}
	lanes
}

/// The lane vectors of eight positions' activations at `at` against unsigned weights.
#[inline(always)]
unsafe fn eight_unsigned<M: MultiplyAdd>(
	inputs: &[QuantizedRow],
	at: usize,
	weights: __m256i,
) -> [__m256i; 8] {
	let mut lanes = [_mm256_setzero_si256(); 8];
	for (lanes, input) in lanes.iter_mut().zip(inputs) {
		*lanes = M::products(weights, load_signed(&input.values[at..]));
	}
	lanes
}

/// The float step of one block for eight positions side by side: each lane
/// `total + (d × scale) × sum`, as the scalar step computes it.
#[inline(always)]
unsafe fn step_eight(totals: __m256, d: f32, scales: __m256, sums: __m256i) -> __m256 {
	let factor = _mm256_mul_ps(_mm256_set1_ps(d), scales);
	_mm256_add_ps(totals, _mm256_mul_ps(factor, _mm256_cvtepi32_ps(sums)))
}

/// The two high bits of each Q6_K value, `(high >> shift) & 3`, moved to bits 4 and 5.
#[inline(always)]
unsafe fn q6_k_upper(high: __m256i, shift: i32) -> __m256i {
	_mm256_slli_epi16::<4>(and_bytes(_mm256_srl_epi16(high, _mm_cvtsi32_si128(shift)), 0x03))
}

/// One row against eight positions at once: the same operations per position as
/// [`super::dot_row_with`], in the same order (the float step runs on eight positions side by
/// side, each lane its own position's chain), with each weight block unpacked once.
#[inline(always)]
unsafe fn row_against_eight<M: MultiplyAdd>(
	ggml_type: GgmlType,
	row: &[u8],
	inputs: &[QuantizedRow],
) -> __m256 {
	let mut totals = _mm256_setzero_ps();
	match ggml_type {
		GgmlType::Q8_0 => {
			for (block, w) in row.chunks_exact(34).enumerate() {
				let weights = load(&w[2..]);
				let magnitudes = _mm256_abs_epi8(weights);
				let lanes = eight_signed::<M>(inputs, BLOCK * block, magnitudes, weights);
				let d = <M as IntegerDots>::half(w, 0);
				let scales = scales_of_eight(inputs, block);
				totals = step_eight(totals, d, scales, sums_of_eight(&lanes).0);
			}
		},
		GgmlType::Q5_0 => {
			for (block, w) in row.chunks_exact(22).enumerate() {
				let values = q5_0_vector(array(w));
				let magnitudes = _mm256_abs_epi8(values);
				let lanes = eight_signed::<M>(inputs, BLOCK * block, magnitudes, values);
				let d = <M as IntegerDots>::half(w, 0);
				let scales = scales_of_eight(inputs, block);
				totals = step_eight(totals, d, scales, sums_of_eight(&lanes).0);
			}
		},
		GgmlType::Q4K => {
			for (super_block, w) in row.chunks_exact(144).enumerate() {
				let (d, dmin) = (<M as IntegerDots>::half(w, 0), <M as IntegerDots>::half(w, 2));
				for sub in 0..8 {
					let block = 8 * super_block + sub;
					let packed = load(&w[16 + 32 * (sub / 2)..]);
					let nibbles = if sub % 2 == 0 {
						and_bytes(packed, 0x0f)
					} else {
						and_bytes(_mm256_srli_epi16::<4>(packed), 0x0f)
					};
					let lanes = eight_unsigned::<M>(inputs, BLOCK * block, nibbles);
					let sums = sums_of_eight(&lanes).0;
					let (scale, min) = super::q4_k_scale_min(sub, &w[4..16]);
					let scaled = _mm256_cvtepi32_ps(_mm256_mullo_epi32(
						_mm256_set1_epi32(scale.into()),
						sums,
					));
					let offset = _mm256_cvtepi32_ps(_mm256_mullo_epi32(
						_mm256_set1_epi32(min.into()),
						activation_sums_of_eight(inputs, block),
					));
					let activation_scales = scales_of_eight(inputs, block);
					totals = _mm256_add_ps(
						totals,
						_mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(d), activation_scales), scaled),
					);
					totals = _mm256_sub_ps(
						totals,
						_mm256_mul_ps(
							_mm256_mul_ps(_mm256_set1_ps(dmin), activation_scales),
							offset,
						),
					);
				}
			}
		},
		GgmlType::Q6K => {
			for (super_block, w) in row.chunks_exact(210).enumerate() {
				let d = <M as IntegerDots>::half(w, 208);
				let scales = &w[192..208];
				for (sub, values) in q6_k_vectors(array(w)).into_iter().enumerate() {
					let block = 8 * super_block + sub;
					let magnitudes = _mm256_abs_epi8(values);
					let lanes = eight_signed::<M>(inputs, BLOCK * block, magnitudes, values);
					let (_, firsts, seconds) = sums_of_eight(&lanes);
					let sums = _mm256_add_epi32(
						_mm256_mullo_epi32(
							_mm256_set1_epi32(i32::from(scales[2 * sub] as i8)),
							firsts,
						),
						_mm256_mullo_epi32(
							_mm256_set1_epi32(i32::from(scales[2 * sub + 1] as i8)),
							seconds,
						),
					);
					totals = step_eight(totals, d, scales_of_eight(inputs, block), sums);
				}
			}
		},
		GgmlType::F32 | GgmlType::F16 => unimplemented!("plain float matrices are not used"),
	}
	totals
}

/// A Q5_0 block's 32 values, `q - 16`, in one register.
#[inline(always)]
unsafe fn q5_0_vector(block: &[u8; 22]) -> __m256i {
	let packed = _mm_loadu_si128(block[6..].as_ptr().cast());
	let low = _mm_and_si128(packed, _mm_set1_epi8(0x0f));
	let high = _mm_and_si128(_mm_srli_epi16::<4>(packed), _mm_set1_epi8(0x0f));
	let nibbles = _mm256_set_m128i(high, low);
	let mask = u32::from_le_bytes([block[2], block[3], block[4], block[5]]);
	let spread = _mm256_shuffle_epi8(
		_mm256_set1_epi32(mask as i32),
		_mm256_setr_epi8(
			0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3,
			3, 3, 3,
		),
	);
	let bits = _mm256_set1_epi64x(0x8040_2010_0804_0201_u64 as i64);
	let set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bits), bits);
	let fifth = and_bytes(set, 0x10);
	_mm256_sub_epi8(_mm256_or_si256(nibbles, fifth), _mm256_set1_epi8(16))
}

/// A Q6_K super-block's eight sub-blocks of 32 values, `q - 32`, one register each.
#[inline(always)]
unsafe fn q6_k_vectors(block: &[u8; 210]) -> [__m256i; 8] {
	let mut vectors = [_mm256_setzero_si256(); 8];
	for part in 0..2 {
		let low0 = load(&block[64 * part..]);
		let low1 = load(&block[64 * part + 32..]);
		let high = load(&block[128 + 32 * part..]);
		let quarters = [
			_mm256_or_si256(and_bytes(low0, 0x0f), q6_k_upper(high, 0)),
			_mm256_or_si256(and_bytes(low1, 0x0f), q6_k_upper(high, 2)),
			_mm256_or_si256(and_bytes(_mm256_srli_epi16::<4>(low0), 0x0f), q6_k_upper(high, 4)),
			_mm256_or_si256(and_bytes(_mm256_srli_epi16::<4>(low1), 0x0f), q6_k_upper(high, 6)),
		];
		for (quarter, q) in quarters.into_iter().enumerate() {
			vectors[4 * part + quarter] = _mm256_sub_epi8(q, _mm256_set1_epi8(32));
		}
	}
	vectors
}

/// A chunk as the fixed-size array it is.
#[inline(always)]
fn array<const N: usize>(chunk: &[u8]) -> &[u8; N] {
	chunk.try_into().expect("chunks of the format's size")
}

impl<M: MultiplyAdd> IntegerDots for M {
	#[inline(always)]
	unsafe fn row_against_inputs(
		ggml_type: GgmlType,
		row: &[u8],
		inputs: &[QuantizedRow],
		out: &mut [f32],
	) {
		let whole = inputs.len() / 8 * 8;
		for (inputs, out) in inputs[..whole].chunks_exact(8).zip(out.chunks_exact_mut(8)) {
			_mm256_storeu_ps(out.as_mut_ptr(), row_against_eight::<M>(ggml_type, row, inputs));
		}
		for (input, out) in inputs[whole..].iter().zip(&mut out[whole..]) {
			*out = dot_row_with::<Self>(ggml_type, row, input);
		}
	}

	#[inline(always)]
	fn prefetch(bytes: &[u8]) {
		for line in bytes.chunks(64) {
			// SAFETY: a prefetch is a hint that never faults, and SSE is baseline on x86-64.
			unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
		}
	}

	#[inline(always)]
	unsafe fn half(bytes: &[u8], at: usize) -> f32 {
		let bits = u16::from_le_bytes([bytes[at], bytes[at + 1]]);
		_mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(bits))))
	}

	#[inline(always)]
	unsafe fn q8_0(block: &[u8; 34], activations: &[i8; 32]) -> i32 {
		sum256(signed_products::<M>(load(&block[2..]), load_signed(activations)))
	}

	#[inline(always)]
	unsafe fn q5_0(block: &[u8; 22], activations: &[i8; 32]) -> i32 {
		let values = q5_0_vector(block);
		sum256(signed_products::<M>(values, load_signed(activations)))
	}

	#[inline(always)]
	unsafe fn q4_k(block: &[u8; 144], activations: &[i8; 256]) -> [i32; 8] {
		let mut sums = [0i32; 8];
		for pair in 0..4 {
			let packed = load(&block[16 + 32 * pair..]);
			let low = and_bytes(packed, 0x0f);
			let high = and_bytes(_mm256_srli_epi16::<4>(packed), 0x0f);
			let a = &activations[64 * pair..];
			sums[2 * pair] = sum256(M::products(low, load_signed(a)));
			sums[2 * pair + 1] = sum256(M::products(high, load_signed(&a[32..])));
		}
		sums
	}

	#[inline(always)]
	unsafe fn q6_k(block: &[u8; 210], activations: &[i8; 256]) -> [i32; 8] {
		let scales = &block[192..208];
		let mut sums = [0i32; 8];
		for (sub, values) in q6_k_vectors(block).into_iter().enumerate() {
			let lanes = signed_products::<M>(values, load_signed(&activations[32 * sub..]));
			let first = sum128(_mm256_castsi256_si128(lanes));
			let second = sum128(_mm256_extracti128_si256::<1>(lanes));
			sums[sub] = i32::from(scales[2 * sub] as i8) * first
				+ i32::from(scales[2 * sub + 1] as i8) * second;
		}
		sums
	}
}
