//! Tensors as users write them (JSON) and as the chain stores them (the canonical encoding).

use crate::CliError;
use codec::Encode;
use serde_json::{json, Map, Value};
use verity_primitives::{DType, Tensor, TensorMap};

/// The canonical encoding of `{"name": {"dtype": "f32", "shape": [..], "data": [..]}, ..}`.
pub fn encode_json(value: &Value) -> Result<Vec<u8>, CliError> {
	let object = value
		.as_object()
		.ok_or_else(|| CliError::new("the input must be a JSON object of named tensors"))?;
	let mut tensors = Vec::new();
	for (name, tensor) in object {
		let field = |key: &str| {
			tensor
				.get(key)
				.ok_or_else(|| CliError::new(format!("tensor {name:?} has no {key:?} field")))
		};
		let dtype: DType = serde_json::from_value(field("dtype")?.clone()).map_err(|_| {
			CliError::new(format!(
				"tensor {name:?}: dtype must be one of f32, f64, i8, u8, i16, i32, i64, bool"
			))
		})?;
		let shape: Vec<u32> = serde_json::from_value(field("shape")?.clone()).map_err(|_| {
			CliError::new(format!("tensor {name:?}: shape must be a list of sizes"))
		})?;
		let values = field("data")?.as_array().ok_or_else(|| {
			CliError::new(format!("tensor {name:?}: data must be a list of numbers"))
		})?;
		let expected: u64 = shape.iter().map(|d| u64::from(*d)).product();
		if values.len() as u64 != expected {
			return Err(CliError::new(format!(
				"tensor {name:?}: shape {shape:?} holds {expected} values, data has {}",
				values.len()
			)));
		}
		let mut data = Vec::new();
		for (index, value) in values.iter().enumerate() {
			let bad = || {
				CliError::new(format!(
					"tensor {name:?}: data[{index}] = {value} is not a {dtype:?}"
				))
			};
			match dtype {
				DType::F32 => data.extend((value.as_f64().ok_or_else(bad)? as f32).to_le_bytes()),
				DType::F64 => data.extend(value.as_f64().ok_or_else(bad)?.to_le_bytes()),
				DType::I8 => data.extend(
					i8::try_from(value.as_i64().ok_or_else(bad)?).map_err(|_| bad())?.to_le_bytes(),
				),
				DType::U8 => data.extend(
					u8::try_from(value.as_i64().ok_or_else(bad)?).map_err(|_| bad())?.to_le_bytes(),
				),
				DType::I16 => data.extend(
					i16::try_from(value.as_i64().ok_or_else(bad)?)
						.map_err(|_| bad())?
						.to_le_bytes(),
				),
				DType::I32 => data.extend(
					i32::try_from(value.as_i64().ok_or_else(bad)?)
						.map_err(|_| bad())?
						.to_le_bytes(),
				),
				DType::I64 => data.extend(value.as_i64().ok_or_else(bad)?.to_le_bytes()),
				DType::Bool => data.push(u8::from(value.as_bool().ok_or_else(bad)?)),
			}
		}
		tensors.push(Tensor { name: name.as_bytes().to_vec(), dtype, shape, data });
	}
	TensorMap(tensors)
		.canonicalize()
		.map(|map| map.encode())
		.map_err(|error| CliError::new(format!("the input is not a valid tensor map: {error:?}")))
}

/// Readable JSON of a canonical encoding.
pub fn decode_json(bytes: &[u8]) -> Result<Value, CliError> {
	let map = TensorMap::decode_canonical(bytes)
		.map_err(|error| CliError::new(format!("not a canonical tensor encoding: {error:?}")))?;
	let mut object = Map::new();
	for tensor in map.0 {
		let values: Vec<Value> = match tensor.dtype {
			DType::F32 => tensor
				.data
				.chunks(4)
				.map(|b| json!(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
				.collect(),
			DType::F64 => tensor
				.data
				.chunks(8)
				.map(|b| json!(f64::from_le_bytes(b.try_into().unwrap_or_default())))
				.collect(),
			DType::I8 => tensor.data.iter().map(|b| json!(*b as i8)).collect(),
			DType::U8 => tensor.data.iter().map(|b| json!(*b)).collect(),
			DType::I16 => {
				tensor.data.chunks(2).map(|b| json!(i16::from_le_bytes([b[0], b[1]]))).collect()
			},
			DType::I32 => tensor
				.data
				.chunks(4)
				.map(|b| json!(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
				.collect(),
			DType::I64 => tensor
				.data
				.chunks(8)
				.map(|b| json!(i64::from_le_bytes(b.try_into().unwrap_or_default())))
				.collect(),
			DType::Bool => tensor.data.iter().map(|b| json!(*b != 0)).collect(),
		};
		object.insert(
			String::from_utf8_lossy(&tensor.name).into_owned(),
			json!({ "dtype": tensor.dtype, "shape": tensor.shape, "data": values }),
		);
	}
	Ok(Value::Object(object))
}
