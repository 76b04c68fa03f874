//! One executor serving many models: 120 generated ONNX models (`y = x * a + b` over 131,072
//! values, with a different `a` and `b` each, so a different artifact and model id each), run
//! through one engine whose plan cache has 64 MiB. Each artifact is loaded from the store on its
//! first use; the cache keeps the most recently used plans within its budget, and a model whose
//! plan was evicted is planned again with the same bytes.

#[path = "support/affine.rs"]
mod affine;

use affine::{affine_model, expected, input, output_values};
use verity_executor::{Engine, ExecutionProfile, ModelStore};

/// Models generated.
const MODELS: u32 = 120;

/// The plan cache's budget.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

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
