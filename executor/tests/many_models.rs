//! One executor serving many models: 120 generated ONNX models (`y = x * a + b` over 131,072
//! values, with a different `a` and `b` each, so a different artifact and model id each), run
//! through one engine whose plan cache has 64 MiB. Each artifact is loaded from the store on its
//! first use; the cache keeps the most recently used plans within its budget, and a model whose
//! plan was evicted is planned again with the same bytes.

use codec::Encode;
use prost::Message;
use tract_onnx::pb;
use verity_executor::{Engine, ExecutionProfile, ModelStore};
use verity_primitives::{DType, Tensor, TensorMap};

/// Values per tensor: each model's `b` takes 512 KiB, so its plan is counted at 1 MiB and 120
/// of them would take twice the cache.
const VALUES: usize = 131_072;

/// Models generated.
const MODELS: u32 = 120;

/// The plan cache's budget.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

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
fn affine_model(index: u32) -> Vec<u8> {
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

fn input() -> Vec<u8> {
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
fn expected(index: u32) -> Vec<f32> {
	(0..VALUES)
		.map(|i| ((i % 7) as f32 - 3.0) * (index + 1) as f32 + (i as f32 / 1024.0 - index as f32))
		.collect()
}

fn output_values(output: &[u8]) -> Vec<f32> {
	let map = TensorMap::decode_canonical(output).expect("a canonical output");
	let y = map.get(b"y").expect("the output names y");
	y.data.chunks(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

#[test]
fn one_engine_serves_120_models_within_a_64_mib_plan_cache() {
	ExecutionProfile::Generic.activate().expect("the generic profile runs anywhere");
	let dir = tempfile::tempdir().unwrap();
	let sources = dir.path().join("sources");
	std::fs::create_dir_all(&sources).unwrap();
	let store = ModelStore::open(dir.path().join("store")).unwrap();
	// Registered elsewhere, fetched by the executor on first use from its artifact URI.
	let models: Vec<(verity_primitives::ModelId, String)> = (0..MODELS)
		.map(|index| {
			let bytes = affine_model(index);
			let path = sources.join(format!("affine-{index}.onnx"));
			std::fs::write(&path, &bytes).unwrap();
			(verity_primitives::content_hash(&bytes), format!("file://{}", path.display()))
		})
		.collect();
	let engine = Engine::new(store, ExecutionProfile::Generic, CACHE_BYTES);
	let input = input();

	let mut first_outputs = Vec::new();
	for (index, (model_id, uri)) in models.iter().enumerate() {
		let output = engine.infer(model_id, Some(uri), &input).expect("every model runs");
		assert_eq!(output_values(&output.output), expected(index as u32), "model {index}");
		let (plans, bytes) = engine.cached_plans();
		assert!(bytes <= CACHE_BYTES, "{plans} plans counted at {bytes} bytes");
		first_outputs.push(output.output_hash);
	}
	assert_eq!(engine.store().list().len(), MODELS as usize, "every artifact was fetched once");
	let (plans, _) = engine.cached_plans();
	assert!(plans < MODELS as usize, "the cache evicted: {plans} plans kept");

	// Again, from the store (no URI): the same bytes whether the plan was kept or evicted.
	for (index, (model_id, _)) in models.iter().enumerate().rev() {
		let output = engine.infer(model_id, None, &input).expect("every model runs again");
		assert_eq!(output.output_hash, first_outputs[index], "model {index}");
	}
}
