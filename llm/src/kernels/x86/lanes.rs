//! Many positions against each weight row on AVX-512 VNNI, one position per register lane.
//!
//! The eight-position kernel ([`super::row_against_eight`]) multiplies a weight block by each
//! position's activations in turn and then reduces every position's eight partial sums across
//! lanes: shuffles that cost more than the multiplications. Here lane `p` of a 512-bit register
//! holds position `p` of a group of [`LANES`]: each `vpdpbusd` takes four weights (the same in
//! every lane) against four activations of each of sixteen positions, so eight of them give
//! the sixteen positions' whole block sums with no reduction at all. The activations are laid
//! out that way once per pass ([`Lanes`]), the weights of a row unpacked once per row
//! ([`PreparedRow`]) and reused by every group.
//!
//! `vpdpbusd` multiplies unsigned bytes by signed ones, and AVX-512 has no byte sign
//! instruction: the weights go in as unsigned bytes offset by the format's constant (`w + c`:
//! 128 for Q8_0, 16 for Q5_0, 32 for Q6_K, none for Q4_K's nibbles), the activations as they
//! are, and each lane subtracts `c × Σ a`, its position's block sum, already known. The integer
//! sums are exact, hence the same as every other path's. The float step is the contract's, each
//! lane its own position's chain in block order.

use super::{load, QuantizedRow, BLOCK};
use crate::quant::{q4_k_scale_min, GgmlType};
use std::arch::x86_64::*;

/// Positions side by side in one register.
pub(in crate::kernels) const LANES: usize = 16;

/// Four-value steps in a block.
const STEPS: usize = BLOCK / 4;

/// Bytes of one block of one group: every step's four activations of every lane.
const GROUP_BLOCK_BYTES: usize = STEPS * LANES * 4;

/// A pass's activations in lane order, groups of [`LANES`] positions (the last group padded
/// with zero activations and zero scales, whose outputs are dropped).
pub(in crate::kernels) struct Lanes {
	/// Blocks per position.
	blocks: usize,
	/// Positions (the valid lanes in all).
	positions: usize,
	/// `[group][block][step][lane][4]`: the activations.
	bytes: Vec<i8>,
	/// `[group][block][lane]`: the activation scales.
	scales: Vec<f32>,
	/// `[group][block][lane]`: the sums of each block's activations.
	sums: Vec<i32>,
	/// `[group][block][lane]`: the sums of each block's first sixteen activations.
	first_halves: Vec<i32>,
}

impl Lanes {
	/// `inputs` (rows of equal length) laid out in lane order.
	pub(in crate::kernels) fn new(inputs: &[QuantizedRow]) -> Self {
		let blocks = inputs.first().map_or(0, |input| input.scales.len());
		let groups = inputs.len().div_ceil(LANES);
		let mut lanes = Self {
			blocks,
			positions: inputs.len(),
			bytes: vec![0; groups * blocks * GROUP_BLOCK_BYTES],
			scales: vec![0.0; groups * blocks * LANES],
			sums: vec![0; groups * blocks * LANES],
			first_halves: vec![0; groups * blocks * LANES],
		};
		for (position, input) in inputs.iter().enumerate() {
			let (group, lane) = (position / LANES, position % LANES);
			for block in 0..blocks {
				let at = (group * blocks + block) * GROUP_BLOCK_BYTES + 4 * lane;
				let values = &input.values[BLOCK * block..][..BLOCK];
				for (step, four) in values.chunks_exact(4).enumerate() {
					lanes.bytes[at + step * LANES * 4..][..4].copy_from_slice(four);
				}
				let index = (group * blocks + block) * LANES + lane;
				lanes.scales[index] = input.scales[block];
				lanes.sums[index] = input.sums[block];
				lanes.first_halves[index] = values[..BLOCK / 2].iter().map(|v| i32::from(*v)).sum();
			}
		}
		lanes
	}

	/// The number of groups.
	fn groups(&self) -> usize {
		self.positions.div_ceil(LANES)
	}
}

/// What a weight block contributes besides its values: the contract's factors.
#[derive(Clone, Copy, Default)]
struct BlockFactors {
	/// The block's (or super-block's) scale.
	d: f32,
	/// Q4_K's super-block minimum scale.
	dmin: f32,
	/// Q4_K's sub-block scale, or Q6_K's first half's.
	scale: i32,
	/// Q4_K's sub-block minimum, or Q6_K's second half's scale.
	second: i32,
}

/// One weight row unpacked: its values as unsigned bytes offset by the format's constant,
/// block by block, and each block's factors. Buffers are reused from row to row.
pub(in crate::kernels) struct PreparedRow {
	values: Vec<u8>,
	factors: Vec<BlockFactors>,
}

impl PreparedRow {
	/// Buffers for rows of `blocks` blocks of 32.
	pub(in crate::kernels) fn new(blocks: usize) -> Self {
		Self { values: vec![0; blocks * BLOCK], factors: vec![BlockFactors::default(); blocks] }
	}
}

/// The constant added to a format's signed values to make them unsigned bytes.
fn offset(ggml_type: GgmlType) -> i8 {
	match ggml_type {
		GgmlType::Q8_0 => -128,
		GgmlType::Q5_0 => 16,
		GgmlType::Q6K => 32,
		_ => 0,
	}
}

/// Unpack `row` of `ggml_type` into `prepared`.
#[inline(always)]
pub(in crate::kernels) unsafe fn prepare(
	ggml_type: GgmlType,
	row: &[u8],
	prepared: &mut PreparedRow,
) {
	// Adding the offset as bytes wraps -128..127 onto 0..255 for Q8_0 (`w + 128`, as
	// `-128` is `128` in two's complement), and moves Q5_0's and Q6_K's ranges to 0..31 and
	// 0..63.
	let shift = _mm256_set1_epi8(offset(ggml_type));
	let mut put = |block: usize, values: __m256i, factors: BlockFactors| {
		let unsigned = _mm256_add_epi8(values, shift);
		_mm256_storeu_si256(
			prepared.values[BLOCK * block..][..BLOCK].as_mut_ptr().cast(),
			unsigned,
		);
		prepared.factors[block] = factors;
	};
	let half = |w: &[u8], at: usize| <super::Vnni as super::IntegerDots>::half(w, at);
	match ggml_type {
		GgmlType::Q8_0 | GgmlType::Q5_0 => {
			let bytes = ggml_type.block_bytes();
			for (block, w) in row.chunks_exact(bytes).enumerate() {
				let values = if ggml_type == GgmlType::Q8_0 {
					load(&w[2..])
				} else {
					super::q5_0_vector(super::array(w))
				};
				put(block, values, BlockFactors { d: half(w, 0), ..Default::default() });
			}
		},
		GgmlType::Q4K => {
			for (super_block, w) in row.chunks_exact(144).enumerate() {
				let (d, dmin) = (half(w, 0), half(w, 2));
				for sub in 0..8 {
					let packed = load(&w[16 + 32 * (sub / 2)..]);
					let nibbles = if sub % 2 == 0 {
						super::and_bytes(packed, 0x0f)
					} else {
						super::and_bytes(_mm256_srli_epi16::<4>(packed), 0x0f)
					};
					let (scale, min) = q4_k_scale_min(sub, &w[4..16]);
					let factors = BlockFactors { d, dmin, scale: scale.into(), second: min.into() };
					put(8 * super_block + sub, nibbles, factors);
				}
			}
		},
		GgmlType::Q6K => {
			for (super_block, w) in row.chunks_exact(210).enumerate() {
				let d = half(w, 208);
				let scales = &w[192..208];
				for (sub, values) in super::q6_k_vectors(super::array(w)).into_iter().enumerate() {
					let factors = BlockFactors {
						d,
						dmin: 0.0,
						scale: (scales[2 * sub] as i8).into(),
						second: (scales[2 * sub + 1] as i8).into(),
					};
					put(8 * super_block + sub, values, factors);
				}
			}
		},
		GgmlType::F32 | GgmlType::F16 => unimplemented!("plain float matrices are not used"),
	}
}

/// Rows computed together against each group: every activation load serves all of them, and
/// their independent chains keep the multiply-add units busy.
pub(in crate::kernels) const ROWS: usize = 2;

/// For each of `R` rows, the sixteen lanes' sums of `(w + c) × a` over steps `steps` of one
/// block (`weights[r]` the row's 32 offset values of the block).
#[inline(always)]
unsafe fn offset_sums<const R: usize>(
	activations: &[i8],
	weights: [&[u8]; R],
	steps: core::ops::Range<usize>,
) -> [__m512i; R] {
	debug_assert!(activations.len() >= GROUP_BLOCK_BYTES);
	// Two accumulators per row (even and odd steps) halve each chain's length.
	let mut even = [_mm512_setzero_si512(); R];
	let mut odd = [_mm512_setzero_si512(); R];
	for step in steps {
		let a = _mm512_loadu_si512(activations.as_ptr().add(step * LANES * 4).cast());
		for row in 0..R {
			debug_assert!(weights[row].len() >= BLOCK);
			let four = core::ptr::read_unaligned(weights[row].as_ptr().add(4 * step).cast::<i32>());
			let sums = if step % 2 == 0 { &mut even[row] } else { &mut odd[row] };
			*sums = _mm512_dpbusd_epi32(*sums, _mm512_set1_epi32(four), a);
		}
	}
	core::array::from_fn(|row| _mm512_add_epi32(even[row], odd[row]))
}

/// `sums - c × activation_sums`, the offset taken back out (`c` a power of two or zero).
#[inline(always)]
unsafe fn without_offset(sums: __m512i, c: i8, activation_sums: __m512i) -> __m512i {
	let c = u32::from(c as u8);
	debug_assert!(c.is_power_of_two() || c == 0);
	if c == 0 {
		return sums;
	}
	let shift = _mm_cvtsi32_si128(c.trailing_zeros() as i32);
	_mm512_sub_epi32(sums, _mm512_sll_epi32(activation_sums, shift))
}

/// `totals + (d × scales) × sums`, lane by lane, as the scalar float step computes it.
#[inline(always)]
unsafe fn step(totals: __m512, d: f32, scales: __m512, sums: __m512i) -> __m512 {
	let factor = _mm512_mul_ps(_mm512_set1_ps(d), scales);
	_mm512_add_ps(totals, _mm512_mul_ps(factor, _mm512_cvtepi32_ps(sums)))
}

/// Sixteen `i32` of `values` from `at`.
#[inline(always)]
unsafe fn load_lanes(values: &[i32], at: usize) -> __m512i {
	_mm512_loadu_si512(values[at..][..LANES].as_ptr().cast())
}

/// One block of one group, as a block step sees it.
struct GroupBlock<'a> {
	/// The block's index in the row.
	block: usize,
	/// The group's activations of the block, in lane order.
	activations: &'a [i8],
	/// The lanes' activation scales.
	scales: __m512,
	/// The lanes' activation sums.
	sums: __m512i,
	/// The lanes' sums of the block's first half.
	first_halves: __m512i,
}

/// `R` prepared rows against every group, block by block through `block_step` (which adds
/// each block's terms to each row's totals): `outs[r][position]` for every position.
#[inline(always)]
unsafe fn for_each_group<const R: usize>(
	lanes: &Lanes,
	mut outs: [&mut [f32]; R],
	mut block_step: impl FnMut(&mut [__m512; R], &GroupBlock<'_>),
) {
	let blocks = lanes.blocks;
	for group in 0..lanes.groups() {
		let mut totals = [_mm512_setzero_ps(); R];
		for block in 0..blocks {
			let index = group * blocks + block;
			let at = index * LANES;
			let view = GroupBlock {
				block,
				activations: &lanes.bytes[index * GROUP_BLOCK_BYTES..][..GROUP_BLOCK_BYTES],
				scales: _mm512_loadu_ps(lanes.scales[at..][..LANES].as_ptr()),
				sums: load_lanes(&lanes.sums, at),
				first_halves: load_lanes(&lanes.first_halves, at),
			};
			block_step(&mut totals, &view);
		}
		let first = group * LANES;
		let count = (lanes.positions - first).min(LANES);
		for (out, totals) in outs.iter_mut().zip(totals) {
			let mut values = [0f32; LANES];
			_mm512_storeu_ps(values.as_mut_ptr(), totals);
			out[first..first + count].copy_from_slice(&values[..count]);
		}
	}
}

/// `R` prepared rows against every group: `outs[r][position]` for each of `lanes`'
/// positions, each the bits of `dot_row_with` for that row and position.
#[inline(always)]
pub(in crate::kernels) unsafe fn rows_against_lanes<const R: usize>(
	ggml_type: GgmlType,
	prepared: [&PreparedRow; R],
	lanes: &Lanes,
	outs: [&mut [f32]; R],
) {
	let c = offset(ggml_type);
	let weights = |block: usize| prepared.map(|row| &row.values[BLOCK * block..][..BLOCK]);
	let factors = |row: usize, block: usize| prepared[row].factors[block];
	match ggml_type {
		GgmlType::Q8_0 | GgmlType::Q5_0 => for_each_group(lanes, outs, |totals, g| {
			let sums = offset_sums(g.activations, weights(g.block), 0..STEPS);
			for (row, (totals, sums)) in totals.iter_mut().zip(sums).enumerate() {
				let sums = without_offset(sums, c, g.sums);
				*totals = step(*totals, factors(row, g.block).d, g.scales, sums);
			}
		}),
		GgmlType::Q4K => for_each_group(lanes, outs, |totals, g| {
			let sums = offset_sums(g.activations, weights(g.block), 0..STEPS);
			for (row, (totals, sums)) in totals.iter_mut().zip(sums).enumerate() {
				let f = factors(row, g.block);
				let scaled =
					_mm512_cvtepi32_ps(_mm512_mullo_epi32(_mm512_set1_epi32(f.scale), sums));
				let offset =
					_mm512_cvtepi32_ps(_mm512_mullo_epi32(_mm512_set1_epi32(f.second), g.sums));
				let added = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(f.d), g.scales), scaled);
				let taken = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(f.dmin), g.scales), offset);
				*totals = _mm512_sub_ps(_mm512_add_ps(*totals, added), taken);
			}
		}),
		GgmlType::Q6K => for_each_group(lanes, outs, |totals, g| {
			let second_halves = _mm512_sub_epi32(g.sums, g.first_halves);
			let firsts = offset_sums(g.activations, weights(g.block), 0..STEPS / 2);
			let seconds = offset_sums(g.activations, weights(g.block), STEPS / 2..STEPS);
			for (row, totals) in totals.iter_mut().enumerate() {
				let f = factors(row, g.block);
				let first = without_offset(firsts[row], c, g.first_halves);
				let second = without_offset(seconds[row], c, second_halves);
				let sums = _mm512_add_epi32(
					_mm512_mullo_epi32(_mm512_set1_epi32(f.scale), first),
					_mm512_mullo_epi32(_mm512_set1_epi32(f.second), second),
				);
				*totals = step(*totals, f.d, g.scales, sums);
			}
		}),
		GgmlType::F32 | GgmlType::F16 => unimplemented!("plain float matrices are not used"),
	}
}
