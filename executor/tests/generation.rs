//! Text generation through the engine: Gemma 3 270M on Verity's own decoder.

mod common;

use codec::Encode;
use common::{id, models_dir, GEMMA};
use verity_executor::{engine::EngineError, generation, Engine, ExecutionProfile, ModelStore};
use verity_primitives::{
	generation_input, FinishReason, Generation, GenerationParams, RejectionCode, TensorMap,
};

fn engine(threads: usize) -> Engine {
	let store = ModelStore::open(models_dir()).expect("the model store");
	Engine::new(store, ExecutionProfile::Generic, 64 << 20).with_generation_threads(threads)
}

/// New tokens per request: the debug profile runs the decoder some fifty times slower.
fn new_tokens() -> u32 {
	if cfg!(debug_assertions) {
		2
	} else {
		12
	}
}

fn generate(engine: &Engine, prompt: &str, params: GenerationParams) -> (Vec<u8>, Generation) {
	let input = generation_input(prompt.as_bytes(), &params).encode();
	let output = engine.infer(&id(GEMMA), None, &input).expect("a generation");
	let map = TensorMap::decode_canonical(&output.output).expect("canonical output");
	(output.output, Generation::from_tensor_map(&map).expect("a generation's tensors"))
}

#[test]
fn greedy_generation_answers_tokens_text_and_a_finish_reason_under_the_decoders_profile() {
	let engine = engine(2);
	let params = GenerationParams { max_new_tokens: new_tokens(), ..Default::default() };
	let (bytes, generation) = generate(&engine, "The capital of France is", params);
	assert_eq!(engine.profile_for(&id(GEMMA)), generation::PROFILE);
	assert!(!generation.tokens.is_empty());
	assert!(generation.tokens.len() <= new_tokens() as usize);
	if generation.finish == FinishReason::Length {
		assert_eq!(generation.tokens.len(), new_tokens() as usize);
	}
	// The tokens are the decoder's greedy ones, run here step by step, and the text is theirs.
	let generator = engine.generator(&id(GEMMA), None).expect("loaded").expect("a GGUF model");
	let (model, tokenizer) = (generator.model(), generator.tokenizer());
	let mut cache = model.cache();
	let mut logits = Vec::new();
	for token in tokenizer.encode("The capital of France is", true) {
		logits = model.forward(token, &mut cache).expect("a position");
	}
	let mut greedy = Vec::new();
	for _ in 0..generation.tokens.len() {
		let token = generation::choose(&logits, &params, &[0; 32], 0);
		greedy.push(token);
		logits = model.forward(token, &mut cache).expect("a position");
	}
	assert_eq!(generation.tokens, greedy);
	let text = String::from_utf8(generation.text.clone()).expect("UTF-8 text");
	assert_eq!(text, tokenizer.decode(&greedy));
	println!("{text:?}");
	// Another engine, another thread count: the same bytes.
	let (again, _) = generate(&self::engine(1), "The capital of France is", params);
	assert_eq!(again, bytes);
}

#[test]
fn sampling_is_fixed_by_the_request_and_a_new_nonce_draws_again() {
	let engine = engine(2);
	let params = GenerationParams {
		max_new_tokens: new_tokens(),
		temperature_milli: 1_500,
		top_p_milli: 950,
		top_k: 64,
		nonce: 1,
	};
	let prompt = "Once upon a time";
	let (first, _) = generate(&engine, prompt, params);
	let (second, _) = generate(&engine, prompt, params);
	assert_eq!(first, second, "the seed comes from the request, not the executor");
	let draws: std::collections::BTreeSet<Vec<u8>> = (2..6)
		.map(|nonce| generate(&engine, prompt, GenerationParams { nonce, ..params }).0)
		.collect();
	assert!(draws.len() > 1, "other nonces, other samples");
}

#[test]
fn a_prompt_past_the_context_and_bad_parameters_are_rejected_as_every_executor_would() {
	let engine = engine(1);
	let context_filler = "word ".repeat(40_000);
	let input = generation_input(
		context_filler.as_bytes(),
		&GenerationParams { max_new_tokens: 8, ..Default::default() },
	)
	.encode();
	match engine.infer(&id(GEMMA), None, &input) {
		Err(error @ EngineError::Rejected { .. }) => {
			assert_eq!(error.rejection(), Some(RejectionCode::PromptTooLong));
			assert!(error.to_string().contains("context"), "{error}");
		},
		other => panic!("expected a rejection, got {other:?}"),
	}
	let bad = generation_input(b"x", &GenerationParams { max_new_tokens: 0, ..Default::default() });
	let error = engine.infer(&id(GEMMA), None, &bad.encode()).expect_err("refused");
	assert!(error.rejection().is_some(), "{error}");
	let error = engine.infer(&id(GEMMA), None, b"not canonical").expect_err("refused");
	assert!(error.to_string().contains("canonical"), "{error}");
}

#[test]
fn a_batched_pass_confirms_an_honest_generation_and_names_the_first_forged_token() {
	let engine = engine(2);
	let params = GenerationParams {
		max_new_tokens: new_tokens(),
		temperature_milli: 800,
		top_p_milli: 900,
		top_k: 40,
		nonce: 9,
	};
	let input = generation_input("Write a haiku about proofs:".as_bytes(), &params);
	let bytes = input.encode();
	let (_, honest) = generate(&engine, "Write a haiku about proofs:", params);
	let generator = engine.generator(&id(GEMMA), None).expect("loaded").expect("a GGUF model");
	assert_eq!(generator.verify(&bytes, &input, &honest).expect("runs"), Ok(honest.tokens.len()));

	// A forged token (the text kept consistent with it) is caught at its step.
	let mut forged = honest.clone();
	let step = forged.tokens.len() - 1;
	forged.tokens[step] = forged.tokens[step].wrapping_add(1) % 262_144;
	forged.text = generator.tokenizer().decode(&forged.tokens).into_bytes();
	let verdict = generator.verify(&bytes, &input, &forged).expect("runs");
	assert!(
		verdict.as_ref().is_err_and(|why| why.contains(&format!("step {step}"))),
		"{verdict:?}"
	);
	// Text that is not the tokens', a finish reason that does not follow, a claim for another
	// nonce: each refused.
	let mut wrong_text = honest.clone();
	wrong_text.text.push(b'!');
	assert!(generator.verify(&bytes, &input, &wrong_text).expect("runs").is_err());
	let mut wrong_finish = honest.clone();
	wrong_finish.finish = match honest.finish {
		FinishReason::Length => FinishReason::EndOfTurn,
		FinishReason::EndOfTurn => FinishReason::Length,
	};
	assert!(generator.verify(&bytes, &input, &wrong_finish).expect("runs").is_err());
	let other = generation_input(
		"Write a haiku about proofs:".as_bytes(),
		&GenerationParams { nonce: 10, ..params },
	);
	let (_, other_sample) =
		generate(&engine, "Write a haiku about proofs:", GenerationParams { nonce: 10, ..params });
	if other_sample != honest {
		assert!(generator.verify(&other.encode(), &other, &honest).expect("runs").is_err());
	}
}

#[test]
fn a_corrupt_gguf_file_is_refused_with_a_clear_error() {
	// The first megabyte of the real file: a valid header whose tensors run past the end.
	let dir = tempfile::tempdir().unwrap();
	let store = ModelStore::open(dir.path()).unwrap();
	let real = std::fs::read(models_dir().join(format!("{GEMMA}.gguf"))).expect("the model");
	let truncated = dir.path().join("truncated.gguf");
	std::fs::write(&truncated, &real[..1 << 20]).unwrap();
	let model_id = store.import(&truncated).expect("stored under its hash");
	let engine = Engine::new(store, ExecutionProfile::Generic, 1 << 20);
	let input = generation_input(b"hi", &GenerationParams::default()).encode();
	match engine.infer(&model_id, None, &input) {
		Err(error @ EngineError::MalformedModel { .. }) => {
			assert!(error.to_string().contains("GGUF"), "{error}");
			assert_eq!(error.rejection(), None, "a broken artifact is not the input's fault");
		},
		other => panic!("expected a malformed model, got {other:?}"),
	}
}
