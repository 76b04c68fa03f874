//! The engine on the real demo models: real outputs, the same bytes every run, clear errors.

mod common;

use common::*;
use verity_executor::{engine::EngineError, Engine, ExecutionProfile, ModelStore};

fn engine() -> Engine {
	ExecutionProfile::Generic.activate().expect("the generic profile runs anywhere");
	Engine::new(ModelStore::open(models_dir()).unwrap(), ExecutionProfile::Generic, 1 << 30)
}

#[test]
fn the_text_direction_classifier_gives_probabilities_and_the_same_bytes_every_run() {
	let engine = engine();
	let model = id(TEXT_DIRECTION);
	let first = engine.infer(&model, None, &text_line()).expect("the model runs");
	let probabilities = f32_values(&first.output, "save_infer_model/scale_0.tmp_1");
	assert_eq!(probabilities.len(), 2);
	assert!((probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{probabilities:?}");
	for _ in 0..3 {
		let again = engine.infer(&model, None, &text_line()).unwrap();
		assert_eq!(again.output, first.output);
		assert_eq!(again.output_hash, first.output_hash);
	}
}

#[test]
fn the_voice_activity_detector_runs_with_its_recurrent_state() {
	let engine = engine();
	let out = engine
		.infer(&id(VOICE_ACTIVITY), None, &audio_window())
		.expect("the model runs");
	let probability = f32_values(&out.output, "output");
	assert_eq!(probability.len(), 1);
	assert!((0.0..=1.0).contains(&probability[0]), "{probability:?}");
	assert_eq!(f32_values(&out.output, "stateN").len(), 256);
	assert_eq!(
		engine.infer(&id(VOICE_ACTIVITY), None, &audio_window()).unwrap().output,
		out.output
	);
}

#[test]
fn the_embedding_model_takes_text_and_ranks_a_paraphrase_first() {
	use codec::Encode;
	use verity_primitives::TensorMap;
	let engine = engine();
	let model = id(SENTENCE_EMBEDDING);
	let embed = |text: &str| {
		let out = engine.infer(&model, None, &TensorMap::text(text.as_bytes()).encode());
		embedding(&out.expect("the model runs on text").output)
	};
	let facts = [
		"The user's favourite colour is green.",
		"The meeting with Bob is on Tuesday at 3pm.",
		"Alice is allergic to peanuts.",
	];
	let stored: Vec<Vec<i8>> = facts.iter().map(|fact| embed(fact)).collect();
	let query = embed("Which food should Alice avoid?");
	assert_eq!(query.len(), 384);
	let scores: Vec<i32> = stored
		.iter()
		.map(|e| e.iter().zip(&query).map(|(a, b)| i32::from(*a) * i32::from(*b)).sum())
		.collect();
	assert!(scores[2] > scores[0] && scores[2] > scores[1], "{scores:?}");
	// Unit vectors at scale 127: the squared norm is close to 127².
	let norm: i32 = query.iter().map(|v| i32::from(*v) * i32::from(*v)).sum();
	assert!((15_000..17_500).contains(&norm), "{norm}");
	assert_eq!(embed("Which food should Alice avoid?"), query, "the same bytes every run");

	let tensors = engine.infer(&model, None, &text_line()).unwrap_err();
	assert!(tensors.to_string().contains("text model"), "{tensors}");
	let not_utf8 = engine.infer(&model, None, &TensorMap::text(&[0xff, 0xfe, 0x41]).encode());
	assert_eq!(
		not_utf8.unwrap_err().rejection(),
		Some(verity_primitives::RejectionCode::InvalidUtf8),
		"text that is not UTF-8 is a canonical rejection"
	);
}

#[test]
fn operator_times_name_the_plans_operators_slowest_first() {
	let engine = engine();
	let model = id(TEXT_DIRECTION);
	let times = engine.operator_times(&model, &text_line(), 3).expect("the model runs");
	let names: Vec<&str> = times.iter().map(|(op, _)| op.as_str()).collect();
	// The classifier's depthwise convolutions (Verity's operator) and its 1x1 convolutions
	// (matrix products) are there, each kind once.
	assert!(names.contains(&"VerityDepthwiseConv"), "{names:?}");
	assert!(names.contains(&"OptMatMul"), "{names:?}");
	let mut unique = names.clone();
	unique.sort();
	unique.dedup();
	assert_eq!(unique.len(), names.len(), "{names:?}");
	assert!(times.windows(2).all(|pair| pair[0].1 >= pair[1].1), "{times:?}");
	// Timing does not change the output.
	let first = engine.infer(&model, None, &text_line()).unwrap();
	assert_eq!(engine.infer(&model, None, &text_line()).unwrap().output, first.output);
}

#[test]
fn bad_inputs_get_clear_errors() {
	let engine = engine();
	let model = id(TEXT_DIRECTION);
	assert!(matches!(engine.infer(&model, None, &[1, 2, 3]), Err(EngineError::MalformedInput(_))));
	let wrong_name = {
		let mut map = verity_primitives::TensorMap::decode_canonical(&text_line()).unwrap();
		map.0[0].name = b"image".to_vec();
		codec::Encode::encode(&map)
	};
	let error = engine.infer(&model, None, &wrong_name).unwrap_err();
	assert!(matches!(error, EngineError::InputMismatch(_)), "{error}");
	assert!(error.to_string().contains("\"x\""), "the error names the expected input: {error}");
	assert_eq!(error.rejection(), None, "a request the chain would refuse is no outcome");

	// A crop of width 0: the chain refuses it, and so does the executor, with the same code.
	let empty = {
		let mut map = verity_primitives::TensorMap::decode_canonical(&text_line()).unwrap();
		map.0[0].shape[3] = 0;
		map.0[0].data.clear();
		codec::Encode::encode(&map)
	};
	let error = engine.infer(&model, None, &empty).unwrap_err();
	assert_eq!(error.rejection(), Some(verity_primitives::RejectionCode::EmptyAxis), "{error}");
}

#[test]
fn unknown_and_malformed_models_are_refused() {
	let dir = tempfile::tempdir().unwrap();
	let store = ModelStore::open(dir.path()).unwrap();
	let junk = dir.path().join("junk.onnx");
	std::fs::write(&junk, b"this is not an onnx graph").unwrap();
	let junk_id = store.import(&junk).unwrap();
	let engine = Engine::new(store, ExecutionProfile::Generic, 1 << 20);
	assert!(matches!(
		engine.infer(&id(TEXT_DIRECTION), None, &text_line()),
		Err(EngineError::Store(verity_executor::store::StoreError::UnknownModel(_)))
	));
	assert!(matches!(
		engine.infer(&junk_id, None, &text_line()),
		Err(EngineError::MalformedModel { .. })
	));
}
