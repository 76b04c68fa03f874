//! One number out of a canonical tensor encoding, for contracts (`IInference.tensorValue`).
//!
//! Solidity has no floating point: the value comes as a fixed-point integer with six
//! decimals, rounded towards zero, so a probability of 0.9731 reads 973100.

use verity_primitives::{DType, TensorMap};

/// Why no number could be read.
#[derive(Clone, Copy, Eq, PartialEq, Debug)]
pub enum ValueError {
	/// The bytes are not a canonical tensor encoding.
	Malformed,
	/// No such tensor or element.
	OutOfRange,
	/// The element is NaN, infinite, or too large for six decimals in an `int256`.
	NotANumber,
}

/// Six decimals.
const SCALE: f64 = 1_000_000.0;

/// Element `element` (row-major) of tensor number `tensor` (in name order) of the canonical
/// encoding `bytes`, times 10^6, rounded towards zero.
pub fn element_e6(bytes: &[u8], tensor: usize, element: usize) -> Result<i128, ValueError> {
	let map = TensorMap::decode_canonical(bytes).map_err(|_| ValueError::Malformed)?;
	let tensor = map.0.get(tensor).ok_or(ValueError::OutOfRange)?;
	let size = tensor.dtype.size_of() as usize;
	let start = element.checked_mul(size).ok_or(ValueError::OutOfRange)?;
	let raw = tensor.data.get(start..start + size).ok_or(ValueError::OutOfRange)?;
	let integer = |value: i128| value.checked_mul(1_000_000).ok_or(ValueError::NotANumber);
	match tensor.dtype {
		DType::F32 => float_e6(f64::from(f32::from_le_bytes(array(raw)))),
		DType::F64 => float_e6(f64::from_le_bytes(array(raw))),
		DType::I8 => integer(i128::from(raw[0] as i8)),
		DType::U8 | DType::Bool => integer(i128::from(raw[0])),
		DType::I16 => integer(i128::from(i16::from_le_bytes(array(raw)))),
		DType::I32 => integer(i128::from(i32::from_le_bytes(array(raw)))),
		DType::I64 => integer(i128::from(i64::from_le_bytes(array(raw)))),
	}
}

/// A float times 10^6, rounded towards zero; NaN and infinities are not numbers.
fn float_e6(value: f64) -> Result<i128, ValueError> {
	let scaled = value * SCALE;
	if !scaled.is_finite() || scaled.abs() >= 1e36 {
		return Err(ValueError::NotANumber);
	}
	Ok(scaled as i128)
}

/// The first `N` bytes of `raw`, which the caller sized.
fn array<const N: usize>(raw: &[u8]) -> [u8; N] {
	let mut out = [0u8; N];
	out.copy_from_slice(&raw[..N]);
	out
}

#[cfg(test)]
mod tests {
	use super::*;
	use codec::Encode;
	use verity_primitives::Tensor;

	/// The canonical encoding of `tensors`.
	fn encoding(tensors: Vec<Tensor>) -> Vec<u8> {
		TensorMap(tensors).encode()
	}

	fn tensor(name: &str, dtype: DType, shape: Vec<u32>, data: Vec<u8>) -> Tensor {
		Tensor { name: name.as_bytes().to_vec(), dtype, shape, data }
	}

	#[test]
	fn floats_read_with_six_decimals_rounded_towards_zero() {
		let probabilities: Vec<u8> =
			[0.812_5_f32, -0.25, 1e-7].iter().flat_map(|v| v.to_le_bytes()).collect();
		let bytes = encoding(vec![tensor("probabilities", DType::F32, vec![1, 3], probabilities)]);
		assert_eq!(element_e6(&bytes, 0, 0), Ok(812_500));
		assert_eq!(element_e6(&bytes, 0, 1), Ok(-250_000));
		assert_eq!(element_e6(&bytes, 0, 2), Ok(0));
	}

	#[test]
	fn integers_and_tensor_order_follow_the_encoding() {
		let bytes = encoding(vec![
			tensor(
				"a",
				DType::I64,
				vec![2],
				[-3i64, 7].iter().flat_map(|v| v.to_le_bytes()).collect(),
			),
			tensor("b", DType::U8, vec![1], vec![200]),
		]);
		assert_eq!(element_e6(&bytes, 0, 0), Ok(-3_000_000));
		assert_eq!(element_e6(&bytes, 0, 1), Ok(7_000_000));
		assert_eq!(element_e6(&bytes, 1, 0), Ok(200_000_000));
	}

	#[test]
	fn bad_bytes_indices_and_non_numbers_are_refused() {
		let nan = encoding(vec![tensor("x", DType::F32, vec![1], f32::NAN.to_le_bytes().to_vec())]);
		assert_eq!(element_e6(&nan, 0, 0), Err(ValueError::NotANumber));
		assert_eq!(element_e6(&nan, 1, 0), Err(ValueError::OutOfRange));
		assert_eq!(element_e6(&nan, 0, 1), Err(ValueError::OutOfRange));
		assert_eq!(element_e6(&nan, 0, usize::MAX), Err(ValueError::OutOfRange));
		assert_eq!(element_e6(&[1, 2, 3], 0, 0), Err(ValueError::Malformed));
		// Not canonical: the data is shorter than the shape says.
		let short = encoding(vec![tensor("x", DType::F32, vec![2], vec![0; 4])]);
		assert_eq!(element_e6(&short, 0, 0), Err(ValueError::Malformed));
	}
}
