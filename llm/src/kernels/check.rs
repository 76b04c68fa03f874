//! A self-check of the kernels this build runs: every path against the plain Rust code, on
//! random blocks, odd row counts and several positions, bit for bit. The native tests call it
//! for every x86 path; the WebAssembly verifier exports it, so its 128-bit SIMD kernels are
//! checked in the engine that runs them.

use super::{dot_rows, dot_rows_with, quantize_row, KernelPath, QuantizedRow, Scalar};
use crate::quant::GgmlType;
use half::f16;

/// Rows per check: a group of four and a short group of three.
const ROWS: usize = 7;
/// Positions per check.
const POSITIONS: usize = 3;
/// Values per row: two Q4_K/Q6_K super-blocks, sixteen Q8_0/Q5_0 blocks.
const ROW_LEN: usize = 512;

/// Compare every kernel path this build runs with the plain Rust integer sums on random
/// inputs drawn from `seed`: `Ok` with the number of outputs compared, or the first
/// difference.
pub fn check_kernel_paths(seed: u64) -> Result<usize, String> {
	let mut random = Random::new(seed);
	let mut compared = 0;
	for ggml_type in [GgmlType::Q8_0, GgmlType::Q5_0, GgmlType::Q4K, GgmlType::Q6K] {
		let row_bytes = ROW_LEN / ggml_type.block_len() * ggml_type.block_bytes();
		let mut rows = random.bytes(ROWS * row_bytes);
		for block in rows.chunks_exact_mut(ggml_type.block_bytes()) {
			// Finite, moderate scales where the format keeps its f16s.
			let scale = f16::from_f32(0.001 + f32::from(random.byte()) / 4096.0).to_le_bytes();
			let at: &[usize] = if ggml_type == GgmlType::Q6K { &[208] } else { &[0, 2] };
			for at in at {
				block[*at..*at + 2].copy_from_slice(&scale);
			}
		}
		let inputs: Vec<QuantizedRow> = (0..POSITIONS)
			.map(|_| {
				let values: Vec<f32> =
					random.bytes(ROW_LEN).iter().map(|b| (f32::from(*b) - 128.0) / 9.0).collect();
				quantize_row(&values)
			})
			.collect();
		let mut expected = vec![0f32; ROWS * POSITIONS];
		dot_rows_with::<Scalar>(ggml_type, &rows, row_bytes, &inputs, &mut expected);
		for path in KernelPath::available() {
			let mut ours = vec![0f32; ROWS * POSITIONS];
			dot_rows(path, ggml_type, &rows, row_bytes, &inputs, &mut ours);
			for (at, (ours, expected)) in ours.iter().zip(&expected).enumerate() {
				if ours.to_bits() != expected.to_bits() {
					return Err(format!(
						"{ggml_type:?} on {path:?}: row {}, position {}: {ours} where plain Rust \
						 gives {expected}",
						at / POSITIONS,
						at % POSITIONS
					));
				}
				compared += 1;
			}
		}
	}
	Ok(compared)
}

/// xorshift64: reproducible bytes (the kernels' tests draw theirs from it too).
pub(crate) struct Random(u64);

impl Random {
	/// The generator for `seed` (any value, zero included).
	pub(crate) fn new(seed: u64) -> Self {
		Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
	}

	/// The next byte.
	pub(crate) fn byte(&mut self) -> u8 {
		self.0 ^= self.0 << 13;
		self.0 ^= self.0 >> 7;
		self.0 ^= self.0 << 17;
		(self.0 >> 24) as u8
	}

	/// The next `count` bytes.
	pub(crate) fn bytes(&mut self, count: usize) -> Vec<u8> {
		(0..count).map(|_| self.byte()).collect()
	}
}
