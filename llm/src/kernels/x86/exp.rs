//! `libm::expf`, sixteen values at a time on AVX-512, every lane the same operations in the same
//! order as the scalar function (FreeBSD's `e_expf.c`, with `libm`'s `scalbnf`), so the same
//! bits.
//!
//! The scalar function reduces `x` to `r = x - k ln 2` (`k` from one of three ranges of `|x|`),
//! evaluates a rational approximation of `exp(r)` and scales by `2^k`. Every step is one `f32`
//! operation, none fused, and the vector code repeats them. Lanes the scalar function treats
//! specially are handled as it does: `|x| <= 2^-14` gives `1 + x`, `x <= -103.97…` gives zero,
//! and where `2^k` is subnormal (`-103.97… < x <= -87.33…`) the scaling goes in the two steps
//! `scalbnf` takes (`2^-102`, then `2^(k + 102)`). NaNs and `x >= 87.33…` (overflow, and scales
//! past `2^127`) are computed by the scalar function itself, lane by lane.

use std::arch::x86_64::*;

/// The scalar function's constants (`e_expf.c`).
const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
const LN2_LO: f32 = f32::from_bits(0x35bf_be8e);
const INV_LN2: f32 = f32::from_bits(0x3fb8_aa3b);
const P1: f32 = f32::from_bits(0x3e2a_aa8f);
const P2: f32 = f32::from_bits(0xbb35_5215);

/// `|x|` bit patterns from which the scalar function takes its special cases.
const SPECIAL: i32 = 0x42ae_ac50;
/// From here on a negative `x` underflows to zero.
const UNDERFLOW: i32 = 0x42cf_f1b5;
/// `|x|` of an infinity; above it, NaNs.
const INFINITY: i32 = 0x7f80_0000;
/// Above this, `k` comes from `x / ln 2` (`|x| > 1.5 ln 2`).
const WIDE: i32 = 0x3f85_1592;
/// Above this, `k` is ±1 (`|x| > 0.5 ln 2`).
const NARROW: i32 = 0x3eb1_7218;
/// At or below this, `exp(x)` is `1 + x` (`|x| <= 2^-14`).
const TINY: i32 = 0x3900_0000;

/// `values[i] = libm::expf(values[i])` for every value.
///
/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(in crate::kernels) unsafe fn exp_each(values: &mut [f32]) {
	super::each_sixteen(values, |x| exp16(x), libm::expf)
}

/// Sixteen `expf`s, and the mask of lanes left for the scalar function (their values in the
/// result are meaningless).
#[inline(always)]
unsafe fn exp16(x: __m512) -> (__m512, u16) {
	let bits = _mm512_castps_si512(x);
	let magnitude = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fff_ffff));
	let negative = _mm512_cmplt_epi32_mask(bits, _mm512_setzero_si512());
	let above = |limit: i32| _mm512_cmpgt_epi32_mask(magnitude, _mm512_set1_epi32(limit));
	let special = _mm512_cmpge_epi32_mask(magnitude, _mm512_set1_epi32(SPECIAL));
	let underflow = negative
		& _mm512_cmpge_epi32_mask(magnitude, _mm512_set1_epi32(UNDERFLOW))
		& _mm512_cmple_epi32_mask(magnitude, _mm512_set1_epi32(INFINITY));
	let ordinary_negative =
		negative & _mm512_cmple_epi32_mask(magnitude, _mm512_set1_epi32(INFINITY));
	let scalar = special & !ordinary_negative;

	// Lanes that underflow to zero compute on -100 instead, which keeps every step of theirs
	// away from subnormal numbers (slow on many CPUs); their result is replaced at the end.
	let x = _mm512_mask_blend_ps(underflow, x, _mm512_set1_ps(-100.0));

	// k: from x / ln 2 rounded by adding ±0.5 and truncating, or ±1, or 0.
	let half = _mm512_mask_blend_ps(negative, _mm512_set1_ps(0.5), _mm512_set1_ps(-0.5));
	let wide_k =
		_mm512_cvttps_epi32(_mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(INV_LN2), x), half));
	let one = _mm512_mask_blend_epi32(negative, _mm512_set1_epi32(1), _mm512_set1_epi32(-1));
	let k = _mm512_mask_blend_epi32(above(WIDE), one, wide_k);
	let k = _mm512_maskz_mov_epi32(above(NARROW), k);

	let kf = _mm512_cvtepi32_ps(k);
	let hi = _mm512_sub_ps(x, _mm512_mul_ps(kf, _mm512_set1_ps(LN2_HI)));
	let lo = _mm512_mul_ps(kf, _mm512_set1_ps(LN2_LO));
	let r = _mm512_sub_ps(hi, lo);
	let rr = _mm512_mul_ps(r, r);
	let c = _mm512_sub_ps(
		r,
		_mm512_mul_ps(rr, _mm512_add_ps(_mm512_set1_ps(P1), _mm512_mul_ps(rr, _mm512_set1_ps(P2)))),
	);
	let ratio = _mm512_div_ps(_mm512_mul_ps(r, c), _mm512_sub_ps(_mm512_set1_ps(2.0), c));
	let y = _mm512_add_ps(_mm512_set1_ps(1.0), _mm512_add_ps(_mm512_sub_ps(ratio, lo), hi));
	// 2^k; below 2^-126 `scalbnf` first multiplies by 2^-102 and then by 2^(k + 102).
	let power = |k: __m512i| {
		_mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(k, _mm512_set1_epi32(0x7f))))
	};
	let subnormal = _mm512_cmplt_epi32_mask(k, _mm512_set1_epi32(-126));
	let prescaled = _mm512_mul_ps(y, _mm512_set1_ps(f32::from_bits(0x0c80_0000)));
	let y = _mm512_mask_blend_ps(subnormal, y, prescaled);
	let k = _mm512_mask_add_epi32(k, subnormal, k, _mm512_set1_epi32(102));
	let y = _mm512_mul_ps(y, power(k));

	let tiny = !above(TINY);
	let y = _mm512_mask_blend_ps(tiny, y, _mm512_add_ps(_mm512_set1_ps(1.0), x));
	let y = _mm512_mask_blend_ps(underflow, y, _mm512_setzero_ps());
	(y, scalar)
}
