//! Text generation requests: a prompt with sampling parameters in, tokens and text out.
//!
//! A generation model (format [`crate::ModelFormat::Gguf`]) takes two tensors: [`TEXT_INPUT`]
//! (the prompt, UTF-8 bytes) and [`GENERATION_INPUT`] (the parameters, five `i32` values (little-endian, read as unsigned) in
//! the order of [`GenerationParams`]). It answers three: [`TOKENS_OUTPUT`] (the generated token
//! ids, `i32`), [`TEXT_OUTPUT`] (their text, UTF-8 bytes) and [`FINISH_OUTPUT`] (one `u8`,
//! a [`FinishReason`]).
//!
//! Sampling draws from a seed no executor chooses: blake2-256 of [`SAMPLING_SEED_DOMAIN`]
//! followed by the request's canonical input bytes. Every executor of the request, and every
//! re-execution of it (a challenge or an audit), derives the same seed, so an honest answer is
//! one answer. The requester picks the prompt and the `nonce`, and so may draw again; what it
//! cannot do is let an executor pick among samples.

use crate::{DType, Dim, Tensor, TensorMap, TensorSpec, TEXT_INPUT};
use alloc::{vec, vec::Vec};

/// The parameters tensor of a generation request.
pub const GENERATION_INPUT: &str = "generation";
/// The generated token ids.
pub const TOKENS_OUTPUT: &str = "tokens";
/// The generated text.
pub const TEXT_OUTPUT: &str = "text";
/// Why generation stopped.
pub const FINISH_OUTPUT: &str = "finish";

/// Most tokens one request may ask for.
pub const MAX_NEW_TOKENS: u32 = 512;
/// Highest temperature, in thousandths (2.0).
pub const MAX_TEMPERATURE_MILLI: u32 = 2_000;
/// Highest `top_k` (0 means no limit).
pub const MAX_TOP_K: u32 = 1_000;
/// Domain tag of the sampling seed.
pub const SAMPLING_SEED_DOMAIN: &[u8] = b"verity/sampling-seed/v1";

/// How to generate: the five values of the [`GENERATION_INPUT`] tensor, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenerationParams {
	/// Most tokens to generate, 1 to [`MAX_NEW_TOKENS`].
	pub max_new_tokens: u32,
	/// Temperature in thousandths, 0 (greedy: always the most likely token) to
	/// [`MAX_TEMPERATURE_MILLI`].
	pub temperature_milli: u32,
	/// Nucleus sampling's probability mass in thousandths, 1 to 1,000 (1,000: all tokens).
	pub top_p_milli: u32,
	/// Sample among the `top_k` most likely tokens, 0 (no limit) to [`MAX_TOP_K`].
	pub top_k: u32,
	/// Any number: a requester that wants another sample of the same prompt changes it.
	pub nonce: u32,
}

impl Default for GenerationParams {
	fn default() -> Self {
		Self { max_new_tokens: 64, temperature_milli: 0, top_p_milli: 1_000, top_k: 0, nonce: 0 }
	}
}

/// Which parameter is out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenerationParamError {
	/// The input has no well-formed [`GENERATION_INPUT`] tensor (five `i32`).
	Missing,
	/// `max_new_tokens` is 0 or above [`MAX_NEW_TOKENS`].
	MaxNewTokens,
	/// `temperature_milli` is above [`MAX_TEMPERATURE_MILLI`].
	Temperature,
	/// `top_p_milli` is 0 or above 1,000.
	TopP,
	/// `top_k` is above [`MAX_TOP_K`].
	TopK,
}

impl GenerationParams {
	/// Check every value is in range.
	pub fn validate(&self) -> Result<(), GenerationParamError> {
		if self.max_new_tokens == 0 || self.max_new_tokens > MAX_NEW_TOKENS {
			return Err(GenerationParamError::MaxNewTokens);
		}
		if self.temperature_milli > MAX_TEMPERATURE_MILLI {
			return Err(GenerationParamError::Temperature);
		}
		if self.top_p_milli == 0 || self.top_p_milli > 1_000 {
			return Err(GenerationParamError::TopP);
		}
		if self.top_k > MAX_TOP_K {
			return Err(GenerationParamError::TopK);
		}
		Ok(())
	}

	/// The five values, in tensor order.
	pub fn values(&self) -> [u32; 5] {
		[self.max_new_tokens, self.temperature_milli, self.top_p_milli, self.top_k, self.nonce]
	}

	/// The parameters of a request's input, checked.
	pub fn from_input(input: &TensorMap) -> Result<Self, GenerationParamError> {
		let tensor = input.get(GENERATION_INPUT.as_bytes()).ok_or(GenerationParamError::Missing)?;
		if tensor.dtype != DType::I32 || tensor.shape != [5] || tensor.data.len() != 20 {
			return Err(GenerationParamError::Missing);
		}
		let value = |index: usize| {
			let bytes = &tensor.data[4 * index..4 * index + 4];
			u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
		};
		let params = Self {
			max_new_tokens: value(0),
			temperature_milli: value(1),
			top_p_milli: value(2),
			top_k: value(3),
			nonce: value(4),
		};
		params.validate()?;
		Ok(params)
	}
}

/// The canonical input of a generation request: `prompt` with `params`.
pub fn generation_input(prompt: &[u8], params: &GenerationParams) -> TensorMap {
	let mut map = TensorMap::text(prompt);
	map.0.push(Tensor {
		name: GENERATION_INPUT.as_bytes().to_vec(),
		dtype: DType::I32,
		shape: vec![5],
		data: params.values().iter().flat_map(|value| value.to_le_bytes()).collect(),
	});
	map.0.sort_by(|a, b| a.name.cmp(&b.name));
	map
}

/// The prompt of a generation request's input.
pub fn generation_prompt(input: &TensorMap) -> Option<&[u8]> {
	let tensor = input.get(TEXT_INPUT.as_bytes())?;
	(tensor.dtype == DType::U8 && tensor.shape.len() == 1).then_some(tensor.data.as_slice())
}

/// Whether a model with these inputs is a generation model.
pub fn is_generation_model(specs: &[TensorSpec]) -> bool {
	specs.len() == 2
		&& specs.iter().any(|spec| {
			spec.name.as_slice() == TEXT_INPUT.as_bytes()
				&& spec.dtype == DType::U8
				&& spec.shape.as_slice() == [Dim::Any]
		}) && specs.iter().any(|spec| {
		spec.name.as_slice() == GENERATION_INPUT.as_bytes()
			&& spec.dtype == DType::I32
			&& spec.shape.as_slice() == [Dim::Fixed(5)]
	})
}

/// Why generation stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FinishReason {
	/// It reached `max_new_tokens`, or the model's context.
	Length = 0,
	/// The model ended its turn (an end-of-sequence or end-of-turn token, not included).
	EndOfTurn = 1,
}

impl FinishReason {
	/// The reason stored as `code`.
	pub fn from_code(code: u8) -> Option<Self> {
		match code {
			0 => Some(Self::Length),
			1 => Some(Self::EndOfTurn),
			_ => None,
		}
	}
}

/// What a generation produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generation {
	/// The generated token ids, in order.
	pub tokens: Vec<u32>,
	/// Their text (UTF-8 unless the last token ends inside a character).
	pub text: Vec<u8>,
	/// Why it stopped.
	pub finish: FinishReason,
}

impl Generation {
	/// The canonical output tensors.
	pub fn to_tensor_map(&self) -> TensorMap {
		let mut map = TensorMap(vec![
			Tensor {
				name: FINISH_OUTPUT.as_bytes().to_vec(),
				dtype: DType::U8,
				shape: vec![1],
				data: vec![self.finish as u8],
			},
			Tensor {
				name: TEXT_OUTPUT.as_bytes().to_vec(),
				dtype: DType::U8,
				shape: vec![self.text.len() as u32],
				data: self.text.clone(),
			},
			Tensor {
				name: TOKENS_OUTPUT.as_bytes().to_vec(),
				dtype: DType::I32,
				shape: vec![self.tokens.len() as u32],
				data: self.tokens.iter().flat_map(|token| token.to_le_bytes()).collect(),
			},
		]);
		map.0.sort_by(|a, b| a.name.cmp(&b.name));
		map
	}

	/// The generation an output holds, if it is one.
	pub fn from_tensor_map(map: &TensorMap) -> Option<Self> {
		let finish = map.get(FINISH_OUTPUT.as_bytes())?;
		let text = map.get(TEXT_OUTPUT.as_bytes())?;
		let tokens = map.get(TOKENS_OUTPUT.as_bytes())?;
		if map.0.len() != 3
			|| finish.dtype != DType::U8
			|| finish.data.len() != 1
			|| text.dtype != DType::U8
			|| tokens.dtype != DType::I32
			|| tokens.data.len() % 4 != 0
		{
			return None;
		}
		Some(Self {
			tokens: tokens
				.data
				.chunks_exact(4)
				.map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
				.collect(),
			text: text.data.clone(),
			finish: FinishReason::from_code(finish.data[0])?,
		})
	}
}

/// The sampling seed of a request whose canonical input is `input`.
pub fn sampling_seed(input: &[u8]) -> [u8; 32] {
	let mut preimage = SAMPLING_SEED_DOMAIN.to_vec();
	preimage.extend_from_slice(input);
	sp_crypto_hashing::blake2_256(&preimage)
}

/// The tensors a generation model declares: its inputs and outputs.
pub fn generation_specs() -> (Vec<TensorSpec>, Vec<TensorSpec>) {
	let spec = |name: &str, dtype: DType, shape: Vec<Dim>| TensorSpec {
		name: name.as_bytes().to_vec().try_into().unwrap_or_default(),
		dtype,
		shape: shape.try_into().unwrap_or_default(),
	};
	(
		vec![
			spec(GENERATION_INPUT, DType::I32, vec![Dim::Fixed(5)]),
			spec(TEXT_INPUT, DType::U8, vec![Dim::Any]),
		],
		vec![
			spec(FINISH_OUTPUT, DType::U8, vec![Dim::Fixed(1)]),
			spec(TEXT_OUTPUT, DType::U8, vec![Dim::Any]),
			spec(TOKENS_OUTPUT, DType::I32, vec![Dim::Any]),
		],
	)
}

#[cfg(test)]
mod tests {
	use super::*;
	use codec::Encode;

	#[test]
	fn an_input_round_trips_and_its_parameters_are_checked() {
		let params = GenerationParams { max_new_tokens: 128, nonce: 7, ..Default::default() };
		let input = generation_input("Bonjour ✓".as_bytes(), &params);
		let bytes = input.encode();
		let decoded = TensorMap::decode_canonical(&bytes).expect("canonical");
		assert_eq!(GenerationParams::from_input(&decoded), Ok(params));
		assert_eq!(generation_prompt(&decoded), Some("Bonjour ✓".as_bytes()));
		let (inputs, _) = generation_specs();
		assert!(is_generation_model(&inputs));
		let specs: crate::TensorSpecs = inputs.try_into().expect("few");
		assert_eq!(decoded.ensure_matches(&specs), Ok(()));

		for (bad, error) in [
			(GenerationParams { max_new_tokens: 0, ..params }, GenerationParamError::MaxNewTokens),
			(
				GenerationParams { max_new_tokens: MAX_NEW_TOKENS + 1, ..params },
				GenerationParamError::MaxNewTokens,
			),
			(
				GenerationParams { temperature_milli: 2_001, ..params },
				GenerationParamError::Temperature,
			),
			(GenerationParams { top_p_milli: 0, ..params }, GenerationParamError::TopP),
			(GenerationParams { top_p_milli: 1_001, ..params }, GenerationParamError::TopP),
			(GenerationParams { top_k: MAX_TOP_K + 1, ..params }, GenerationParamError::TopK),
		] {
			assert_eq!(GenerationParams::from_input(&generation_input(b"x", &bad)), Err(error));
		}
		assert_eq!(
			GenerationParams::from_input(&TensorMap::text(b"x")),
			Err(GenerationParamError::Missing)
		);
	}

	#[test]
	fn an_output_round_trips_and_the_seed_follows_the_input_only() {
		let generation = Generation {
			tokens: vec![1, 2, 262_143],
			text: b"abc".to_vec(),
			finish: FinishReason::EndOfTurn,
		};
		let map = generation.to_tensor_map();
		let decoded = TensorMap::decode_canonical(&map.encode()).expect("canonical");
		assert_eq!(Generation::from_tensor_map(&decoded), Some(generation));
		let (_, outputs) = generation_specs();
		let specs: crate::TensorSpecs = outputs.try_into().expect("few");
		assert_eq!(decoded.ensure_matches(&specs), Ok(()));

		let input =
			|nonce| generation_input(b"x", &GenerationParams { nonce, ..Default::default() });
		assert_eq!(sampling_seed(&input(1).encode()), sampling_seed(&input(1).encode()));
		assert_ne!(sampling_seed(&input(1).encode()), sampling_seed(&input(2).encode()));
	}
}
