//! Conversion between the canonical tensor encoding and tract tensors.

use tract_onnx::prelude::{DatumType, Tensor as TractTensor};
use verity_primitives::{DType, Tensor, TensorMap};

/// Why a tensor cannot cross between the two representations.
#[derive(Debug, thiserror::Error, Eq, PartialEq)]
pub enum ConversionError {
	/// tract produced an element type the canonical encoding has no name for.
	#[error("output {name:?} has element type {dtype}, which the canonical encoding lacks")]
	UnsupportedType {
		/// The tensor.
		name: String,
		/// tract's name for its element type.
		dtype: String,
	},
	/// A boolean tensor holds a byte other than 0 or 1.
	#[error("tensor {0:?} is boolean but holds a byte other than 0 or 1")]
	InvalidBool(String),
	/// tract refused the tensor.
	#[error("tensor {name:?}: {reason}")]
	Rejected {
		/// The tensor.
		name: String,
		/// tract's explanation.
		reason: String,
	},
}

/// tract's element type for a canonical one.
pub fn datum_type(dtype: DType) -> DatumType {
	match dtype {
		DType::F32 => DatumType::F32,
		DType::F64 => DatumType::F64,
		DType::I8 => DatumType::I8,
		DType::U8 => DatumType::U8,
		DType::I16 => DatumType::I16,
		DType::I32 => DatumType::I32,
		DType::I64 => DatumType::I64,
		DType::Bool => DatumType::Bool,
	}
}

/// The canonical element type for tract's, if there is one.
pub fn dtype(datum: DatumType) -> Option<DType> {
	Some(match datum {
		DatumType::F32 => DType::F32,
		DatumType::F64 => DType::F64,
		DatumType::I8 => DType::I8,
		DatumType::U8 => DType::U8,
		DatumType::I16 => DType::I16,
		DatumType::I32 => DType::I32,
		DatumType::I64 => DType::I64,
		DatumType::Bool => DType::Bool,
		_ => return None,
	})
}

/// A canonical tensor as a tract tensor. The caller has checked the canonical form, so the data
/// length matches the shape.
pub fn to_tract(tensor: &Tensor) -> Result<TractTensor, ConversionError> {
	let name = String::from_utf8_lossy(&tensor.name).into_owned();
	if tensor.dtype == DType::Bool && tensor.data.iter().any(|byte| *byte > 1) {
		return Err(ConversionError::InvalidBool(name));
	}
	let shape: Vec<usize> = tensor.shape.iter().map(|dim| *dim as usize).collect();
	// SAFETY: every element type here is plain data for which any bit pattern is valid, except
	// bool, whose bytes were checked above.
	unsafe { TractTensor::from_raw_dt(datum_type(tensor.dtype), &shape, &tensor.data) }
		.map_err(|error| ConversionError::Rejected { name, reason: error.to_string() })
}

/// A tract tensor as a canonical tensor called `name`.
pub fn from_tract(name: &str, tensor: &TractTensor) -> Result<Tensor, ConversionError> {
	let datum = tensor.datum_type();
	let dtype = dtype(datum).ok_or_else(|| ConversionError::UnsupportedType {
		name: name.to_string(),
		dtype: format!("{datum:?}"),
	})?;
	Ok(Tensor {
		name: name.as_bytes().to_vec(),
		dtype,
		shape: tensor.shape().iter().map(|dim| *dim as u32).collect(),
		// tract stores elements in the host's byte order; x86-64 and aarch64 are little-endian.
		data: tensor.as_bytes().to_vec(),
	})
}

/// Named outputs as a canonical map.
pub fn outputs_to_map(named: Vec<(String, &TractTensor)>) -> Result<TensorMap, ConversionError> {
	let tensors = named
		.into_iter()
		.map(|(name, tensor)| from_tract(&name, tensor))
		.collect::<Result<Vec<_>, _>>()?;
	TensorMap(tensors).canonicalize().map_err(|error| ConversionError::Rejected {
		name: "outputs".into(),
		reason: format!("{error:?}"),
	})
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn tensors_round_trip() {
		let tensor = Tensor {
			name: b"x".to_vec(),
			dtype: DType::F32,
			shape: vec![2, 2],
			data: [1.0f32, -2.5, 3.25, 0.0].iter().flat_map(|v| v.to_le_bytes()).collect(),
		};
		let tract = to_tract(&tensor).unwrap();
		assert_eq!(tract.shape(), &[2, 2]);
		assert_eq!(from_tract("x", &tract).unwrap(), tensor);
	}

	#[test]
	fn invalid_booleans_are_refused() {
		let tensor =
			Tensor { name: b"m".to_vec(), dtype: DType::Bool, shape: vec![2], data: vec![1, 2] };
		assert_eq!(to_tract(&tensor).unwrap_err(), ConversionError::InvalidBool("m".into()));
	}
}
