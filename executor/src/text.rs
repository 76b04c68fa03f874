//! Text models: ONNX artifacts that carry their own tokenizer take UTF-8 text as input.
//!
//! A text model's artifact holds a Hugging Face `tokenizer.json` in its ONNX metadata under
//! [`TOKENIZER_METADATA_KEY`], so the model id (the artifact's hash) pins the tokenizer as well
//! as the weights. Such a model's only input is [`verity_primitives::TEXT_INPUT`], a `u8` tensor of UTF-8 bytes;
//! the executor tokenizes it into the graph's `input_ids`, `attention_mask` and
//! `token_type_ids` (`i64`, shape `[1, tokens]`).

use tokenizers::Tokenizer;
use tract_onnx::prelude::Framework;
use verity_primitives::{DType, Tensor, TensorMap, TEXT_INPUT};

/// The ONNX metadata key under which a text model stores its `tokenizer.json`.
pub const TOKENIZER_METADATA_KEY: &str = "verity.tokenizer";
/// The graph inputs the tokenizer fills, in the order [`TextFrontEnd::encode`] returns them.
pub const TOKEN_INPUTS: [&str; 3] = ["attention_mask", "input_ids", "token_type_ids"];

/// The tokenizer of a text model.
pub struct TextFrontEnd {
	tokenizer: Tokenizer,
}

impl TextFrontEnd {
	/// The text front end of an ONNX artifact, or `None` if it carries no tokenizer.
	pub fn from_artifact(artifact: &[u8]) -> Result<Option<Self>, String> {
		let proto = tract_onnx::onnx()
			.proto_model_for_read(&mut &artifact[..])
			.map_err(|error| format!("{error:#}"))?;
		let Some(entry) =
			proto.metadata_props.iter().find(|entry| entry.key == TOKENIZER_METADATA_KEY)
		else {
			return Ok(None);
		};
		let tokenizer = Tokenizer::from_bytes(entry.value.as_bytes())
			.map_err(|error| format!("the embedded tokenizer is unusable: {error}"))?;
		Ok(Some(Self { tokenizer }))
	}

	/// The token tensors for a request holding exactly one tensor, [`TEXT_INPUT`].
	pub fn encode(&self, input: &TensorMap) -> Result<TensorMap, String> {
		let text = input.as_text().ok_or_else(|| {
			format!(
				"this is a text model: its only input is {TEXT_INPUT:?}, u8 UTF-8 bytes of shape \
				 [length]"
			)
		})?;
		let text = std::str::from_utf8(text)
			.map_err(|error| format!("input {TEXT_INPUT:?} is not UTF-8: {error}"))?;
		let encoding = self
			.tokenizer
			.encode(text, true)
			.map_err(|error| format!("the text cannot be tokenized: {error}"))?;
		let tokens = encoding.get_ids().len();
		let as_i64 = |values: &[u32]| Tensor {
			name: Vec::new(),
			dtype: DType::I64,
			shape: vec![1, tokens as u32],
			data: values.iter().flat_map(|value| i64::from(*value).to_le_bytes()).collect(),
		};
		let named = |name: &str, mut tensor: Tensor| {
			tensor.name = name.as_bytes().to_vec();
			tensor
		};
		TensorMap(vec![
			named(TOKEN_INPUTS[0], as_i64(encoding.get_attention_mask())),
			named(TOKEN_INPUTS[1], as_i64(encoding.get_ids())),
			named(TOKEN_INPUTS[2], as_i64(encoding.get_type_ids())),
		])
		.canonicalize()
		.map_err(|error| format!("token tensors are malformed: {error:?}"))
	}
}
