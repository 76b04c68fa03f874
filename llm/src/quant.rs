//! The block formats of the model's tensors and their exact dequantization.
//!
//! A quantized row is a run of blocks; each block holds small integers and one or two `f16`
//! scales (Q4_K and Q6_K also 6- or 8-bit sub-block scales). Dequantizing is an integer unpack
//! followed by the float products below, each rounded once in `f32`, in the order written:
//!
//! - `F32`: the value; `F16`: the value widened (exact).
//! - `Q8_0` (32 values, 34 bytes): `d × q`, `q` an `i8`.
//! - `Q5_0` (32 values, 22 bytes): `d × (q - 16)`, `q` five bits: four from the nibbles, the
//!   fifth from a 32-bit mask.
//! - `Q4_K` (256 values, 144 bytes): eight sub-blocks of 32, each with a 6-bit scale `s` and
//!   6-bit minimum `m`: `(d × s) × q - (dmin × m)`, `q` a nibble.
//! - `Q6_K` (256 values, 210 bytes): sixteen sub-blocks of 16, each with an `i8` scale `s`:
//!   `(d × s) × (q - 32)`, `q` six bits: four from `ql`, two from `qh`.
//!
//! `f16` to `f32` is exact and `f32` products and differences are correctly rounded on every
//! IEEE 754 target, so these values are the same bits everywhere.

use half::f16;

/// A tensor element type in a GGUF file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GgmlType {
	/// 32-bit floats.
	F32,
	/// 16-bit floats.
	F16,
	/// Blocks of 32 `i8` with one `f16` scale.
	Q8_0,
	/// Blocks of 32 five-bit values with one `f16` scale.
	Q5_0,
	/// Super-blocks of 256 nibbles, eight 6-bit scales and minimums, two `f16` scales.
	Q4K,
	/// Super-blocks of 256 six-bit values, sixteen `i8` scales, one `f16` scale.
	Q6K,
}

impl GgmlType {
	/// The type for a GGUF type code, if this crate reads it.
	pub fn from_code(code: u32) -> Option<Self> {
		Some(match code {
			0 => Self::F32,
			1 => Self::F16,
			6 => Self::Q5_0,
			8 => Self::Q8_0,
			12 => Self::Q4K,
			14 => Self::Q6K,
			_ => return None,
		})
	}

	/// Values per block.
	pub fn block_len(self) -> usize {
		match self {
			Self::F32 | Self::F16 => 1,
			Self::Q8_0 | Self::Q5_0 => 32,
			Self::Q4K | Self::Q6K => 256,
		}
	}

	/// Bytes per block.
	pub fn block_bytes(self) -> usize {
		match self {
			Self::F32 => 4,
			Self::F16 => 2,
			Self::Q8_0 => 34,
			Self::Q5_0 => 22,
			Self::Q4K => 144,
			Self::Q6K => 210,
		}
	}
}

/// Why a row cannot be dequantized.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantError {
	/// The bytes are not whole blocks, or not as many values as the output holds.
	#[error("{bytes} bytes of {ggml_type:?} do not make {values} values")]
	LengthMismatch {
		/// The type.
		ggml_type: GgmlType,
		/// Bytes given.
		bytes: usize,
		/// Values asked for.
		values: usize,
	},
}

/// Dequantize `bytes` of `ggml_type` into `out`, which must hold exactly their values.
pub fn dequantize(ggml_type: GgmlType, bytes: &[u8], out: &mut [f32]) -> Result<(), QuantError> {
	let (len, size) = (ggml_type.block_len(), ggml_type.block_bytes());
	if !out.len().is_multiple_of(len) || bytes.len() != out.len() / len * size {
		return Err(QuantError::LengthMismatch {
			ggml_type,
			bytes: bytes.len(),
			values: out.len(),
		});
	}
	for (block, out) in bytes.chunks_exact(size).zip(out.chunks_exact_mut(len)) {
		match ggml_type {
			GgmlType::F32 => out[0] = f32::from_le_bytes([block[0], block[1], block[2], block[3]]),
			GgmlType::F16 => out[0] = half(block, 0),
			GgmlType::Q8_0 => q8_0(block, out),
			GgmlType::Q5_0 => q5_0(block, out),
			GgmlType::Q4K => q4_k(block, out),
			GgmlType::Q6K => q6_k(block, out),
		}
	}
	Ok(())
}

/// The `f16` at `at`, widened.
fn half(block: &[u8], at: usize) -> f32 {
	f16::from_le_bytes([block[at], block[at + 1]]).to_f32()
}

fn q8_0(block: &[u8], out: &mut [f32]) {
	let d = half(block, 0);
	for (out, q) in out.iter_mut().zip(&block[2..34]) {
		*out = d * f32::from(*q as i8);
	}
}

fn q5_0(block: &[u8], out: &mut [f32]) {
	let d = half(block, 0);
	for (out, q) in out.iter_mut().zip(q5_0_values(block)) {
		*out = d * f32::from(q);
	}
}

/// A Q5_0 block's 32 values, `q - 16`: four bits from the nibbles (value `j` in the low
/// nibble of byte `j`, value `j + 16` in its high nibble), the fifth from bit `j` of the mask.
#[inline(always)]
pub fn q5_0_values(block: &[u8]) -> [i8; 32] {
	let high = u32::from_le_bytes([block[2], block[3], block[4], block[5]]);
	let nibbles = &block[6..22];
	let mut values = [0i8; 32];
	for j in 0..16 {
		let fifth = |bit: usize| (((high >> bit) & 1) << 4) as u8;
		values[j] = ((nibbles[j] & 0x0f) | fifth(j)) as i8 - 16;
		values[j + 16] = ((nibbles[j] >> 4) | fifth(j + 16)) as i8 - 16;
	}
	values
}

/// The 6-bit scale and minimum of sub-block `j` (of 8) from Q4_K's twelve packed bytes.
#[inline(always)]
pub fn q4_k_scale_min(j: usize, packed: &[u8]) -> (u8, u8) {
	if j < 4 {
		(packed[j] & 63, packed[j + 4] & 63)
	} else {
		(
			(packed[j + 4] & 0x0f) | ((packed[j - 4] >> 6) << 4),
			(packed[j + 4] >> 4) | ((packed[j] >> 6) << 4),
		)
	}
}

/// A Q4_K super-block's 256 nibbles in value order: each 32 bytes hold two sub-blocks, the
/// low nibbles, then the high ones.
#[inline(always)]
pub fn q4_k_values(block: &[u8]) -> [u8; 256] {
	let mut values = [0u8; 256];
	for (pair, bytes) in block[16..144].chunks_exact(32).enumerate() {
		for (l, byte) in bytes.iter().enumerate() {
			values[64 * pair + l] = byte & 0x0f;
			values[64 * pair + 32 + l] = byte >> 4;
		}
	}
	values
}

fn q4_k(block: &[u8], out: &mut [f32]) {
	let (d, dmin) = (half(block, 0), half(block, 2));
	let values = q4_k_values(block);
	for (sub, (out, q)) in out.chunks_exact_mut(32).zip(values.chunks_exact(32)).enumerate() {
		let (scale, min) = q4_k_scale_min(sub, &block[4..16]);
		let (step, offset) = (d * f32::from(scale), dmin * f32::from(min));
		for (out, q) in out.iter_mut().zip(q) {
			*out = step * f32::from(*q) - offset;
		}
	}
}

/// A Q6_K super-block's 256 values, `q - 32`, in value order: two halves of 128, each from 64
/// bytes of low nibbles and 32 of high bit pairs.
#[inline(always)]
pub fn q6_k_values(block: &[u8]) -> [i8; 256] {
	let (low, high) = (&block[..128], &block[128..192]);
	let mut values = [0i8; 256];
	for part in 0..2 {
		let (low, high) = (&low[64 * part..][..64], &high[32 * part..][..32]);
		for l in 0..32 {
			let value = |nibble: u8, shift: u32| {
				(i32::from(nibble) | ((i32::from(high[l] >> shift) & 3) << 4)) as i8 - 32
			};
			values[128 * part + l] = value(low[l] & 0x0f, 0);
			values[128 * part + l + 32] = value(low[l + 32] & 0x0f, 2);
			values[128 * part + l + 64] = value(low[l] >> 4, 4);
			values[128 * part + l + 96] = value(low[l + 32] >> 4, 6);
		}
	}
	values
}

fn q6_k(block: &[u8], out: &mut [f32]) {
	let d = half(block, 208);
	let scales = &block[192..208];
	// Sub-block `i / 16` of sixteen values each has its own scale.
	for (i, (out, q)) in out.iter_mut().zip(q6_k_values(block)).enumerate() {
		*out = (d * f32::from(scales[i / 16] as i8)) * f32::from(q);
	}
}

#[cfg(test)]
// The tests index blocks by position on purpose: the positions are the formats' layout.
#[allow(clippy::needless_range_loop)]
mod tests {
	use super::*;

	fn f16_bytes(value: f32) -> [u8; 2] {
		f16::from_f32(value).to_le_bytes()
	}

	#[test]
	fn q8_0_is_scale_times_byte() {
		let mut block = f16_bytes(0.5).to_vec();
		block.extend((0..32).map(|i: i32| (i * 8 - 128) as i8 as u8));
		let mut out = [0f32; 32];
		dequantize(GgmlType::Q8_0, &block, &mut out).unwrap();
		for (i, value) in out.iter().enumerate() {
			assert_eq!(*value, 0.5 * (i as i32 * 8 - 128) as f32, "value {i}");
		}
	}

	#[test]
	fn q5_0_takes_its_fifth_bits_from_the_mask() {
		// Value i is (i * 7) mod 32: its low four bits in nibbles, its fifth in bit i.
		let q: Vec<u8> = (0..32).map(|i| (i * 7 % 32) as u8).collect();
		let mut block = f16_bytes(0.25).to_vec();
		let mask = q.iter().enumerate().fold(0u32, |mask, (i, q)| mask | (u32::from(q >> 4) << i));
		block.extend(mask.to_le_bytes());
		block.extend((0..16).map(|j| (q[j] & 15) | ((q[j + 16] & 15) << 4)));
		let mut out = [0f32; 32];
		dequantize(GgmlType::Q5_0, &block, &mut out).unwrap();
		for i in 0..32 {
			assert_eq!(out[i], 0.25 * (i32::from(q[i]) - 16) as f32, "value {i}");
		}
	}

	/// Pack eight 6-bit scales and minimums the way Q4_K stores them.
	fn pack_scales(scales: [u8; 8], mins: [u8; 8]) -> [u8; 12] {
		let mut packed = [0u8; 12];
		for j in 0..4 {
			packed[j] = scales[j] | ((scales[j + 4] >> 4) << 6);
			packed[j + 4] = mins[j] | ((mins[j + 4] >> 4) << 6);
			packed[j + 8] = (scales[j + 4] & 15) | ((mins[j + 4] & 15) << 4);
		}
		packed
	}

	#[test]
	fn q4_k_unpacks_six_bit_scales_and_minimums() {
		let scales = [1, 63, 17, 32, 5, 48, 60, 33];
		let mins = [0, 62, 9, 40, 63, 16, 1, 31];
		let packed = pack_scales(scales, mins);
		for j in 0..8 {
			assert_eq!(q4_k_scale_min(j, &packed), (scales[j], mins[j]), "sub-block {j}");
		}
		let q: Vec<u8> = (0..256).map(|i| (i * 5 % 16) as u8).collect();
		let (d, dmin) = (0.125f32, 0.5f32);
		let mut block = f16_bytes(d).to_vec();
		block.extend(f16_bytes(dmin));
		block.extend(packed);
		for pair in 0..4 {
			block.extend((0..32).map(|l| q[64 * pair + l] | (q[64 * pair + 32 + l] << 4)));
		}
		let mut out = [0f32; 256];
		dequantize(GgmlType::Q4K, &block, &mut out).unwrap();
		for i in 0..256 {
			let (s, m) = (scales[i / 32], mins[i / 32]);
			let expected = (d * f32::from(s)) * f32::from(q[i]) - dmin * f32::from(m);
			assert_eq!(out[i], expected, "value {i}");
		}
	}

	#[test]
	fn q6_k_joins_low_nibbles_and_high_pairs() {
		let q: Vec<u8> = (0..256).map(|i| (i * 11 % 64) as u8).collect();
		let scales: Vec<i8> = (0..16).map(|i| (i * 9 - 70) as i8).collect();
		let mut low = [0u8; 128];
		let mut high = [0u8; 64];
		for i in 0..256 {
			let (part, within) = (i / 128, i % 128);
			let (k, l) = (within / 32, within % 32);
			let byte = 64 * part + l + 32 * (k % 2);
			low[byte] |= (q[i] & 15) << (4 * (k / 2));
			high[32 * part + l] |= (q[i] >> 4) << (2 * k);
		}
		let mut block = low.to_vec();
		block.extend(high);
		block.extend(scales.iter().map(|s| *s as u8));
		block.extend(f16_bytes(0.0625));
		let mut out = [0f32; 256];
		dequantize(GgmlType::Q6K, &block, &mut out).unwrap();
		for i in 0..256 {
			let scale = f32::from(scales[i / 16]);
			assert_eq!(out[i], (0.0625 * scale) * (i32::from(q[i]) - 32) as f32, "value {i}");
		}
	}

	#[test]
	fn a_length_that_is_not_whole_blocks_is_refused() {
		let mut out = [0f32; 32];
		assert!(dequantize(GgmlType::Q8_0, &[0; 33], &mut out).is_err());
		assert!(dequantize(GgmlType::Q4K, &[0; 144], &mut out).is_err());
	}
}
