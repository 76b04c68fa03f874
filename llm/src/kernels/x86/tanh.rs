//! Gemma's GELU (`0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`), sixteen values at a time on
//! AVX-512, with the bits of the scalar [`super::super::gelu_tanh`]: `libm::tanhf` and the
//! `libm::expm1f` it calls (FreeBSD's `s_tanhf.c` and `s_expm1f.c`) repeated lane by lane, every
//! step one `f32` operation in the scalar order, none fused. Each function's ranges become
//! masks; lanes outside the ranges written here (NaN, and `expm1f` arguments at or below
//! `-18.7…` or from `38` up, which `tanhf` never passes) go to the scalar function.

use std::arch::x86_64::*;

/// `expm1f`'s constants (`s_expm1f.c`).
const LN2_HI: f32 = f32::from_bits(0x3f31_7180);
const LN2_LO: f32 = f32::from_bits(0x3717_f7d1);
const INV_LN2: f32 = f32::from_bits(0x3fb8_aa3b);
const Q1: f32 = f32::from_bits(0xbd08_8868);
const Q2: f32 = f32::from_bits(0x3acf_3010);

/// GELU's constants (`gelu_tanh`).
const SQRT_2_OVER_PI: f32 = f32::from_bits(0x3f4c_422a);
const CUBIC: f32 = f32::from_bits(0x3d37_2713);

/// `values[i] = gelu_tanh(values[i])` for every value.
///
/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(in crate::kernels) unsafe fn gelu_each(values: &mut [f32]) {
	super::each_sixteen(values, |x| gelu16(x), super::super::gelu_tanh)
}

/// `values[i] = libm::tanhf(values[i])` for every value (to test the lanes against the
/// scalar function directly).
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(test)]
#[target_feature(enable = "avx512f")]
pub(in crate::kernels) unsafe fn tanh_each(values: &mut [f32]) {
	super::each_sixteen(values, |x| tanh16(x), libm::tanhf)
}

/// Sixteen GELUs, and the lanes left to the scalar function.
#[inline(always)]
unsafe fn gelu16(x: __m512) -> (__m512, u16) {
	let cubic = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(CUBIC), x), x), x);
	let inner = _mm512_mul_ps(_mm512_set1_ps(SQRT_2_OVER_PI), _mm512_add_ps(x, cubic));
	let (tanh, scalar) = tanh16(inner);
	let half_x = _mm512_mul_ps(_mm512_set1_ps(0.5), x);
	(_mm512_mul_ps(half_x, _mm512_add_ps(_mm512_set1_ps(1.0), tanh)), scalar)
}

/// Sixteen `tanhf`s, and the lanes left to the scalar function.
#[inline(always)]
unsafe fn tanh16(x: __m512) -> (__m512, u16) {
	let bits = _mm512_castps_si512(x);
	let w = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fff_ffff));
	let sign = _mm512_andnot_si512(w, bits);
	let a = _mm512_castsi512_ps(w);
	let above = |limit: i32| _mm512_cmpgt_epi32_mask(w, _mm512_set1_epi32(limit));
	let nan = above(0x7f80_0000);
	let saturated = above(0x4120_0000);
	let large = above(0x3f0c_9f54);
	let medium = above(0x3e82_c578);
	let small = _mm512_cmpge_epi32_mask(w, _mm512_set1_epi32(0x0080_0000));

	// `expm1f(2|x|)` above 0.255…, `expm1f(-2|x|)` below.
	let argument = _mm512_mask_blend_ps(
		medium,
		_mm512_mul_ps(_mm512_set1_ps(-2.0), a),
		_mm512_mul_ps(_mm512_set1_ps(2.0), a),
	);
	let (t, expm1_scalar) = expm1_16(argument);
	let two = _mm512_set1_ps(2.0);
	let t_plus_two = _mm512_add_ps(t, two);
	let from_large = _mm512_sub_ps(_mm512_set1_ps(1.0), _mm512_div_ps(two, t_plus_two));
	let from_medium = _mm512_div_ps(t, t_plus_two);
	let minus_t =
		_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(t), _mm512_set1_epi32(i32::MIN)));
	let from_small = _mm512_div_ps(minus_t, t_plus_two);
	let tt = _mm512_mask_blend_ps(small, a, from_small);
	let tt = _mm512_mask_blend_ps(medium, tt, from_medium);
	let tt = _mm512_mask_blend_ps(large, tt, from_large);
	let tt = _mm512_mask_blend_ps(saturated, tt, _mm512_set1_ps(1.0));
	let y = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(tt), sign));
	let uses_expm1 = small & !saturated;
	(y, nan | (expm1_scalar & uses_expm1))
}

/// Sixteen `expm1f`s for arguments above `-18.7…` and below 38, and the lanes outside that
/// (or NaN), left to the scalar function.
#[inline(always)]
unsafe fn expm1_16(x: __m512) -> (__m512, u16) {
	let bits = _mm512_castps_si512(x);
	let hx = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fff_ffff));
	let negative = _mm512_cmplt_epi32_mask(bits, _mm512_setzero_si512());
	let covered = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_set1_ps(38.0))
		& !(negative & _mm512_cmpge_epi32_mask(hx, _mm512_set1_epi32(0x4195_b844)));

	// k: ±1 for 0.5 ln 2 < |x| < 1.5 ln 2, from x / ln 2 above, 0 below.
	let reduced = _mm512_cmpgt_epi32_mask(hx, _mm512_set1_epi32(0x3eb1_7218));
	let narrow = _mm512_cmplt_epi32_mask(hx, _mm512_set1_epi32(0x3f85_1592));
	let half = _mm512_mask_blend_ps(negative, _mm512_set1_ps(0.5), _mm512_set1_ps(-0.5));
	let wide_k =
		_mm512_cvttps_epi32(_mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(INV_LN2), x), half));
	let one = _mm512_mask_blend_epi32(negative, _mm512_set1_epi32(1), _mm512_set1_epi32(-1));
	let k = _mm512_mask_blend_epi32(narrow, wide_k, one);
	let k = _mm512_maskz_mov_epi32(reduced, k);
	let tiny = _mm512_cmplt_epi32_mask(hx, _mm512_set1_epi32(0x3300_0000));

	// Argument reduction (exact no-ops where k = 0: x - 0, 0, x).
	let t = _mm512_cvtepi32_ps(k);
	let hi = _mm512_sub_ps(x, _mm512_mul_ps(t, _mm512_set1_ps(LN2_HI)));
	let lo = _mm512_mul_ps(t, _mm512_set1_ps(LN2_LO));
	let r = _mm512_sub_ps(hi, lo);
	let c = _mm512_sub_ps(_mm512_sub_ps(hi, r), lo);

	let one_f = _mm512_set1_ps(1.0);
	let hfx = _mm512_mul_ps(_mm512_set1_ps(0.5), r);
	let hxs = _mm512_mul_ps(r, hfx);
	let r1 = _mm512_add_ps(
		one_f,
		_mm512_mul_ps(
			hxs,
			_mm512_add_ps(_mm512_set1_ps(Q1), _mm512_mul_ps(hxs, _mm512_set1_ps(Q2))),
		),
	);
	let t3 = _mm512_sub_ps(_mm512_set1_ps(3.0), _mm512_mul_ps(r1, hfx));
	let e = _mm512_mul_ps(
		hxs,
		_mm512_div_ps(
			_mm512_sub_ps(r1, t3),
			_mm512_sub_ps(_mm512_set1_ps(6.0), _mm512_mul_ps(r, t3)),
		),
	);
	let when_zero = _mm512_sub_ps(r, _mm512_sub_ps(_mm512_mul_ps(r, e), hxs));
	let e = _mm512_sub_ps(_mm512_sub_ps(_mm512_mul_ps(r, _mm512_sub_ps(e, c)), c), hxs);
	let half_f = _mm512_set1_ps(0.5);
	let when_minus_one = _mm512_sub_ps(_mm512_mul_ps(half_f, _mm512_sub_ps(r, e)), half_f);
	let when_one_low =
		_mm512_mul_ps(_mm512_set1_ps(-2.0), _mm512_sub_ps(e, _mm512_add_ps(r, half_f)));
	let when_one = _mm512_add_ps(one_f, _mm512_mul_ps(_mm512_set1_ps(2.0), _mm512_sub_ps(r, e)));
	let power = |k: __m512i| {
		_mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(k, _mm512_set1_epi32(0x7f))))
	};
	let twopk = power(k);
	let uf = power(_mm512_sub_epi32(_mm512_setzero_si512(), k));
	let when_negative =
		_mm512_sub_ps(_mm512_mul_ps(_mm512_add_ps(_mm512_sub_ps(r, e), one_f), twopk), one_f);
	let when_below_23 =
		_mm512_mul_ps(_mm512_add_ps(_mm512_sub_ps(r, e), _mm512_sub_ps(one_f, uf)), twopk);
	let when_from_23 =
		_mm512_mul_ps(_mm512_add_ps(_mm512_sub_ps(r, _mm512_add_ps(e, uf)), one_f), twopk);

	let k_is = |value: i32| _mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(value));
	let k_below = |value: i32| _mm512_cmplt_epi32_mask(k, _mm512_set1_epi32(value));
	let y = _mm512_mask_blend_ps(k_below(23), when_from_23, when_below_23);
	let y = _mm512_mask_blend_ps(k_below(0), y, when_negative);
	let one_low = k_is(1) & _mm512_cmp_ps_mask::<_CMP_LT_OQ>(r, _mm512_set1_ps(-0.25));
	let y = _mm512_mask_blend_ps(k_is(1), y, when_one);
	let y = _mm512_mask_blend_ps(one_low, y, when_one_low);
	let y = _mm512_mask_blend_ps(k_is(-1), y, when_minus_one);
	let y = _mm512_mask_blend_ps(k_is(0), y, when_zero);
	let y = _mm512_mask_blend_ps(tiny, y, x);
	(y, !covered)
}
