//! Shared helpers of the executor's tests: the demo models and their inputs.

#![allow(dead_code)]

use codec::Encode;
use std::path::PathBuf;
use verity_primitives::{DType, ModelId, Tensor, TensorMap};

/// The text-direction classifier (float32).
pub const TEXT_DIRECTION: &str = "6403dbdaf8b7ba8f18f08e4bb8b12fdbdf63ee0d257548aa9da8d221d5ac9f99";
/// Silero VAD (float32, recurrent).
pub const VOICE_ACTIVITY: &str = "5f48eef72eea99cb43e6a018c722c207e8226718a617cc4bb6b94b2916297256";

/// all-MiniLM-L6-v2 sentence embeddings (text in, int8 embedding out).
pub const SENTENCE_EMBEDDING: &str =
	"1f42c31ee883956655f447c17dbed65630477333ba87ffa7e9ea94d1073583f6";

/// Gemma 3 270M, GGUF Q4_K_M (a generation model).
pub const GEMMA: &str = "ae166c9b3ee16ff33d27cbc82d828508f5dc60f1d6bd0e1d794e41623cb24a5d";

/// The store `make setup` fills.
pub fn models_dir() -> PathBuf {
	std::env::var_os("VERITY_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| {
		PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/verity/models")
	})
}

/// A model id from hex.
pub fn id(hex: &str) -> ModelId {
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

/// A 1×3×48×192 text-line crop with a gradient and stripes.
pub fn text_line() -> Vec<u8> {
	let values = (0..3 * 48 * 192).map(|i| {
		let (column, row) = (i % 192, (i / 192) % 48);
		let stripe = if (row / 6) % 2 == 0 { 0.5 } else { -0.5 };
		((column as f32 / 191.0) * 2.0 - 1.0 + stripe).clamp(-1.0, 1.0)
	});
	TensorMap(vec![f32_tensor("x", vec![1, 3, 48, 192], values)]).encode()
}

/// 576 samples (64 of context, a 512-sample window) of a 440 Hz tone at 16 kHz, and a zero
/// state.
pub fn audio_window() -> Vec<u8> {
	let samples =
		(0..576).map(|n| 0.3 * (2.0 * std::f32::consts::PI * 440.0 * n as f32 / 16_000.0).sin());
	TensorMap(vec![
		f32_tensor("input", vec![1, 576], samples),
		f32_tensor("state", vec![2, 1, 128], std::iter::repeat_n(0.0, 256)),
	])
	.encode()
}

/// The f32 values of output tensor `name`.
pub fn f32_values(output: &[u8], name: &str) -> Vec<f32> {
	let map = TensorMap::decode_canonical(output).expect("a canonical output");
	let tensor = map.get(name.as_bytes()).expect("the output has this tensor");
	tensor
		.data
		.chunks(4)
		.map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
		.collect()
}

/// The int8 embedding a text model's output holds.
pub fn embedding(output: &[u8]) -> Vec<i8> {
	let map = TensorMap::decode_canonical(output).expect("a canonical output");
	let tensor = map.get(b"embedding").expect("the output has an embedding");
	assert_eq!(tensor.dtype, DType::I8);
	tensor.data.iter().map(|byte| *byte as i8).collect()
}
