//! Generated affine ONNX models (`y = x * a + b` over [`VALUES`] values, a different `a` and
//! `b` each, so a different artifact and model id each): many distinct small models for the
//! many-models test and benchmark.

use codec::Encode;
use prost::Message;
use tract_onnx::pb;
use verity_primitives::{DType, Tensor, TensorMap};

/// Values per tensor: each model's `b` takes 512 KiB, so its plan is counted at 1 MiB and 120
/// of them would take twice the cache.
pub const VALUES: usize = 131_072;

fn f32_value(name: &str) -> pb::ValueInfoProto {
	pb::ValueInfoProto {
		name: name.into(),
		r#type: Some(pb::TypeProto {
			value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
				elem_type: pb::tensor_proto::DataType::Float as i32,
				shape: Some(pb::TensorShapeProto {
					dim: vec![pb::tensor_shape_proto::Dimension {
						value: Some(pb::tensor_shape_proto::dimension::Value::DimValue(
							VALUES as i64,
						)),
						..Default::default()
					}],
				}),
			})),
			..Default::default()
		}),
		..Default::default()
	}
}

fn initializer(name: &str, values: Vec<f32>) -> pb::TensorProto {
	pb::TensorProto {
		name: name.into(),
		dims: vec![values.len() as i64],
		data_type: pb::tensor_proto::DataType::Float as i32,
		float_data: values,
		..Default::default()
	}
}

fn node(op_type: &str, inputs: [&str; 2], output: &str) -> pb::NodeProto {
	pb::NodeProto {
		input: inputs.iter().map(|input| input.to_string()).collect(),
		output: vec![output.into()],
		name: output.into(),
		op_type: op_type.into(),
		..Default::default()
	}
}

/// The `index`-th model: `y = x * a + b`, `a = index + 1`, `b[i] = i / 1024 - index`.
pub fn affine_model(index: u32) -> Vec<u8> {
	let a = (index + 1) as f32;
	let b = (0..VALUES).map(|i| i as f32 / 1024.0 - index as f32).collect();
	pb::ModelProto {
		ir_version: 8,
		opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 17 }],
		graph: Some(pb::GraphProto {
			name: format!("affine-{index}"),
			node: vec![node("Mul", ["x", "a"], "ax"), node("Add", ["ax", "b"], "y")],
			initializer: vec![initializer("a", vec![a]), initializer("b", b)],
			input: vec![f32_value("x")],
			output: vec![f32_value("y")],
			..Default::default()
		}),
		..Default::default()
	}
	.encode_to_vec()
}

/// The input every model runs on: `x[i] = i % 7 - 3`, canonically encoded.
pub fn input() -> Vec<u8> {
	let data = (0..VALUES).flat_map(|i| ((i % 7) as f32 - 3.0).to_le_bytes()).collect();
	TensorMap(vec![Tensor {
		name: b"x".to_vec(),
		dtype: DType::F32,
		shape: vec![VALUES as u32],
		data,
	}])
	.encode()
}

/// What model `index` must answer on [`input`].
pub fn expected(index: u32) -> Vec<f32> {
	(0..VALUES)
		.map(|i| ((i % 7) as f32 - 3.0) * (index + 1) as f32 + (i as f32 / 1024.0 - index as f32))
		.collect()
}

/// The values of output `y` in a canonical output.
pub fn output_values(output: &[u8]) -> Vec<f32> {
	let map = TensorMap::decode_canonical(output).expect("a canonical output");
	let y = map.get(b"y").expect("the output names y");
	y.data.chunks(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}
