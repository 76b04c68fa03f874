//! The Gemma 3 270M file setup fetches reads as the model's published facts say: its
//! architecture's numbers, its tensor types (Q8_0, Q5_0, Q4_K and Q6_K besides F32 norms), the
//! tokenizer's size and special tokens, and every tensor dequantizes to finite values.

use std::{collections::BTreeMap, path::PathBuf};
use verity_llm::{
	gguf::{GgufFile, Value},
	quant::{dequantize, GgmlType},
};

/// The file's blake2-256, the id the chain registers it under.
const GEMMA_ID: &str = "ae166c9b3ee16ff33d27cbc82d828508f5dc60f1d6bd0e1d794e41623cb24a5d";

fn gemma() -> GgufFile {
	let store = std::env::var_os("VERITY_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| {
		PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/verity/models")
	});
	let path = store.join(format!("{GEMMA_ID}.gguf"));
	GgufFile::open(&path).unwrap_or_else(|e| panic!("{e} (`make setup` fetches the model)"))
}

fn number(file: &GgufFile, key: &str) -> f64 {
	file.get(key).and_then(Value::as_f64).unwrap_or_else(|| panic!("{key} is a number"))
}

#[test]
fn the_architecture_is_gemma_3_270m() {
	let file = gemma();
	assert_eq!(file.get("general.architecture").and_then(Value::as_str), Some("gemma3"));
	for (key, expected) in [
		("gemma3.block_count", 18.0),
		("gemma3.embedding_length", 640.0),
		("gemma3.feed_forward_length", 2048.0),
		("gemma3.attention.head_count", 4.0),
		("gemma3.attention.head_count_kv", 1.0),
		("gemma3.attention.key_length", 256.0),
		("gemma3.attention.value_length", 256.0),
		("gemma3.attention.sliding_window", 512.0),
		("gemma3.rope.freq_base", 1e6),
	] {
		assert_eq!(number(&file, key), expected, "{key}");
	}
	let epsilon = number(&file, "gemma3.attention.layer_norm_rms_epsilon");
	assert!((epsilon - 1e-6).abs() < 1e-12, "epsilon {epsilon}");
}

#[test]
fn the_tensors_have_the_types_and_shapes_the_decoder_expects() {
	let file = gemma();
	let mut counts = BTreeMap::new();
	for tensor in &file.tensors {
		*counts.entry(tensor.ggml_type).or_insert(0) += 1;
	}
	let expected = BTreeMap::from([
		(GgmlType::F32, 109),
		(GgmlType::Q8_0, 10),
		(GgmlType::Q5_0, 81),
		(GgmlType::Q4K, 27),
		(GgmlType::Q6K, 9),
	]);
	assert_eq!(counts, expected);
	let embedding = file.tensor("token_embd.weight").expect("the embedding");
	assert_eq!(embedding.dims, [640, 262_144]);
	assert_eq!(embedding.ggml_type, GgmlType::Q8_0, "640 is not whole 256-value blocks");
	for block in 0..18 {
		for (name, dims) in [
			("attn_norm", vec![640]),
			("attn_q", vec![640, 1024]),
			("attn_k", vec![640, 256]),
			("attn_v", vec![640, 256]),
			("attn_q_norm", vec![256]),
			("attn_k_norm", vec![256]),
			("attn_output", vec![1024, 640]),
			("post_attention_norm", vec![640]),
			("ffn_norm", vec![640]),
			("ffn_gate", vec![640, 2048]),
			("ffn_up", vec![640, 2048]),
			("ffn_down", vec![2048, 640]),
			("post_ffw_norm", vec![640]),
		] {
			let name = format!("blk.{block}.{name}.weight");
			let tensor = file.tensor(&name).unwrap_or_else(|| panic!("{name}"));
			assert_eq!(tensor.dims, dims, "{name}");
		}
	}
	assert_eq!(file.tensor("output_norm.weight").map(|t| t.dims.clone()), Some(vec![640]));
}

#[test]
fn the_tokenizer_is_sentencepiece_with_262144_tokens() {
	let file = gemma();
	assert_eq!(file.get("tokenizer.ggml.model").and_then(Value::as_str), Some("llama"));
	let tokens = file.get("tokenizer.ggml.tokens").and_then(Value::as_array).expect("tokens");
	let scores = file.get("tokenizer.ggml.scores").and_then(Value::as_array).expect("scores");
	assert_eq!((tokens.len(), scores.len()), (262_144, 262_144));
	assert_eq!(number(&file, "tokenizer.ggml.bos_token_id"), 2.0);
	assert_eq!(number(&file, "tokenizer.ggml.eos_token_id"), 1.0);
	assert_eq!(tokens[2].as_str(), Some("<bos>"));
	assert_eq!(tokens[1].as_str(), Some("<eos>"));
}

#[test]
fn every_tensor_dequantizes_to_finite_values() {
	let file = gemma();
	for tensor in &file.tensors {
		// The first and last rows of each: every block format, without the whole embedding.
		let row = tensor.row_len();
		let row_bytes = row / tensor.ggml_type.block_len() * tensor.ggml_type.block_bytes();
		let data = file.data(tensor);
		assert_eq!(data.len(), row_bytes * tensor.rows(), "{}", tensor.name);
		let mut out = vec![0f32; row];
		for index in [0, tensor.rows() - 1] {
			dequantize(tensor.ggml_type, &data[index * row_bytes..][..row_bytes], &mut out)
				.unwrap();
			assert!(out.iter().all(|v| v.is_finite()), "{} row {index}", tensor.name);
			assert!(out.iter().any(|v| *v != 0.0), "{} row {index} is all zero", tensor.name);
		}
	}
}
