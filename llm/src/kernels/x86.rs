//! The integer block dot products on x86-64: AVX2 and AVX-512 VNNI.
//!
//! Both compute exact `i32` sums of `u8 × i8` products (signed weights go through the sign
//! trick: `|w| × (a with w's sign)`, exact for every `i8` weight including -128, whose
//! magnitude 128 fits an unsigned byte). AVX2's `vpmaddubsw` adds pairs into `i16`, which
//! cannot saturate here: activations are within ±127 and weight magnitudes at most 128, so a
//! pair is at most 2 × 128 × 127 = 32,512. VNNI's `vpdpbusd` adds fours straight into `i32`.
//! The block layouts are those of [`crate::quant`].

use super::{dot_row_with, IntegerDots, QuantizedRow};
use crate::quant::GgmlType;
use std::arch::x86_64::*;

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

/// The row's dot product with AVX2 integer sums.
///
/// # Safety
/// The CPU must have AVX2 and F16C.
#[target_feature(enable = "avx2,f16c")]
pub(super) unsafe fn dot_row_avx2(ggml_type: GgmlType, weights: &[u8], a: &QuantizedRow) -> f32 {
	dot_row_with::<Avx2>(ggml_type, weights, a)
}

/// The row's dot product with AVX-512 VNNI integer sums.
///
/// # Safety
/// The CPU must have AVX2, F16C, AVX-512 VNNI and AVX-512VL.
#[target_feature(enable = "avx2,f16c,avx512vnni,avx512vl")]
pub(super) unsafe fn dot_row_vnni(ggml_type: GgmlType, weights: &[u8], a: &QuantizedRow) -> f32 {
	dot_row_with::<Vnni>(ggml_type, weights, a)
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

/// Rows against inputs with AVX-512 VNNI integer sums (see [`super::dot_rows`]).
///
/// # Safety
/// The CPU must have AVX2, F16C, AVX-512 VNNI and AVX-512VL.
#[target_feature(enable = "avx2,f16c,avx512vnni,avx512vl")]
pub(super) unsafe fn dot_rows_vnni(
	ggml_type: GgmlType,
	rows: &[u8],
	row_bytes: usize,
	inputs: &[QuantizedRow],
	out: &mut [f32],
) {
	super::dot_rows_with::<Vnni>(ggml_type, rows, row_bytes, inputs, out)
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

impl<M: MultiplyAdd> IntegerDots for M {
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
		// Value j < 16 is the low nibble of byte j, value j + 16 its high nibble.
		let packed = _mm_loadu_si128(block[6..].as_ptr().cast());
		let low = _mm_and_si128(packed, _mm_set1_epi8(0x0f));
		let high = _mm_and_si128(_mm_srli_epi16::<4>(packed), _mm_set1_epi8(0x0f));
		let nibbles = _mm256_set_m128i(high, low);
		// The fifth bits: byte j takes bit j of the 32-bit mask.
		let mask = u32::from_le_bytes([block[2], block[3], block[4], block[5]]);
		let spread = _mm256_shuffle_epi8(
			_mm256_set1_epi32(mask as i32),
			_mm256_setr_epi8(
				0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3,
				3, 3, 3, 3,
			),
		);
		let bits = _mm256_set1_epi64x(0x8040_2010_0804_0201_u64 as i64);
		let set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bits), bits);
		let fifth = and_bytes(set, 0x10);
		let values = _mm256_sub_epi8(_mm256_or_si256(nibbles, fifth), _mm256_set1_epi8(16));
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
		for part in 0..2 {
			let low0 = load(&block[64 * part..]);
			let low1 = load(&block[64 * part + 32..]);
			let high = load(&block[128 + 32 * part..]);
			let upper = |shift: __m128i| -> __m256i {
				_mm256_slli_epi16::<4>(and_bytes(_mm256_srl_epi16(high, shift), 0x03))
			};
			let quarters = [
				_mm256_or_si256(and_bytes(low0, 0x0f), upper(_mm_cvtsi32_si128(0))),
				_mm256_or_si256(and_bytes(low1, 0x0f), upper(_mm_cvtsi32_si128(2))),
				_mm256_or_si256(
					and_bytes(_mm256_srli_epi16::<4>(low0), 0x0f),
					upper(_mm_cvtsi32_si128(4)),
				),
				_mm256_or_si256(
					and_bytes(_mm256_srli_epi16::<4>(low1), 0x0f),
					upper(_mm_cvtsi32_si128(6)),
				),
			];
			for (quarter, q) in quarters.into_iter().enumerate() {
				let sub = 4 * part + quarter;
				let values = _mm256_sub_epi8(q, _mm256_set1_epi8(32));
				let lanes = signed_products::<M>(values, load_signed(&activations[32 * sub..]));
				let first = sum128(_mm256_castsi256_si128(lanes));
				let second = sum128(_mm256_extracti128_si256::<1>(lanes));
				sums[sub] = i32::from(scales[2 * sub] as i8) * first
					+ i32::from(scales[2 * sub + 1] as i8) * second;
			}
		}
		sums
	}
}
