//! The shipped models and a fixed input for each: what the WebAssembly build is checked and
//! measured against the native one on (tests and `bench_verifier`).

use codec::Encode;
use std::path::PathBuf;
use verity_primitives::{
	generation_input, DType, GenerationParams, ModelId, Tensor, TensorMap, TEXT_INPUT,
};

/// The text-direction classifier (float32 image in, two probabilities out).
pub const TEXT_DIRECTION: &str = "6403dbdaf8b7ba8f18f08e4bb8b12fdbdf63ee0d257548aa9da8d221d5ac9f99";
/// Silero VAD (float32 audio and recurrent state).
pub const VOICE_ACTIVITY: &str = "5f48eef72eea99cb43e6a018c722c207e8226718a617cc4bb6b94b2916297256";
/// all-MiniLM-L6-v2 (text in, int8 embedding out).
pub const SENTENCE_EMBEDDING: &str =
	"1f42c31ee883956655f447c17dbed65630477333ba87ffa7e9ea94d1073583f6";
/// Gemma 3 270M (GGUF, text generation).
pub const GEMMA: &str = "ae166c9b3ee16ff33d27cbc82d828508f5dc60f1d6bd0e1d794e41623cb24a5d";

/// The registered name of shipped model `hex`.
pub fn name(hex: &str) -> &'static str {
	match hex {
		TEXT_DIRECTION => "ppocr-text-direction",
		VOICE_ACTIVITY => "silero-vad",
		SENTENCE_EMBEDDING => "all-minilm-l6-v2",
		GEMMA => "gemma-3-270m",
		_ => "?",
	}
}

/// The store `make setup` fills.
pub fn models_dir() -> PathBuf {
	std::env::var_os("VERITY_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| {
		PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/verity/models")
	})
}

/// The stored artifact of model `hex`.
pub fn artifact_path(hex: &str) -> PathBuf {
	let dir = models_dir();
	["onnx", "gguf"]
		.iter()
		.map(|extension| dir.join(format!("{hex}.{extension}")))
		.find(|path| path.exists())
		.unwrap_or_else(|| panic!("model {hex} is not in {} (`make setup`)", dir.display()))
}

/// A model id from 64 hex digits.
pub fn model_id(hex: &str) -> ModelId {
	let bytes: Vec<u8> = (0..32)
		.map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
		.collect();
	ModelId::from_slice(&bytes)
}

fn f32_tensor(name: &str, shape: Vec<u32>, values: impl Iterator<Item = f32>) -> Tensor {
	Tensor {
		name: name.as_bytes().to_vec(),
		dtype: DType::F32,
		shape,
		data: values.flat_map(f32::to_le_bytes).collect(),
	}
}

/// Every shipped model with a fixed input: a text-line crop, an audio window, a sentence, a
/// short generation.
pub fn runs() -> Vec<(&'static str, Vec<u8>)> {
	let text_line = (0..3 * 48 * 192).map(|i| {
		let (column, row) = (i % 192, (i / 192) % 48);
		let stripe = if (row / 6) % 2 == 0 { 0.5 } else { -0.5 };
		((column as f32 / 191.0) * 2.0 - 1.0 + stripe).clamp(-1.0, 1.0)
	});
	let samples =
		(0..576).map(|n| 0.3 * (2.0 * std::f32::consts::PI * 440.0 * n as f32 / 16_000.0).sin());
	let sentence = b"A verifier in the browser re-runs the model.".to_vec();
	let params = GenerationParams {
		max_new_tokens: 3,
		temperature_milli: 800,
		top_p_milli: 950,
		top_k: 40,
		nonce: 7,
	};
	vec![
		(TEXT_DIRECTION, TensorMap(vec![f32_tensor("x", vec![1, 3, 48, 192], text_line)]).encode()),
		(
			VOICE_ACTIVITY,
			TensorMap(vec![
				f32_tensor("input", vec![1, 576], samples),
				f32_tensor("state", vec![2, 1, 128], std::iter::repeat_n(0.0, 256)),
			])
			.encode(),
		),
		(
			SENTENCE_EMBEDDING,
			TensorMap(vec![Tensor {
				name: TEXT_INPUT.as_bytes().to_vec(),
				dtype: DType::U8,
				shape: vec![sentence.len() as u32],
				data: sentence,
			}])
			.encode(),
		),
		(GEMMA, generation_input(b"The capital of France is", &params).encode()),
	]
}
