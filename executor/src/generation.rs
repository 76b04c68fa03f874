//! Text generation with Verity's own decoder ([`verity_llm`]): a GGUF model, a prompt and
//! sampling parameters in, tokens, text and a finish reason out, the same bits on every CPU.
//!
//! The prompt is tokenized with the model's own tokenizer (after `<bos>`), run in one batched
//! pass, then each new token is chosen from the logits and run in turn, until the model ends
//! its turn (`<eos>` or `<end_of_turn>`, not included in the output), `max_new_tokens` are
//! made, or the context is full. Choosing a token is exact too: greedy is the highest logit
//! (the lowest id on a tie); sampling divides the logits by the temperature, takes the
//! softmax in the decoder's fixed order, keeps the `top_k` most likely tokens (ties by id),
//! then the smallest run of them whose mass reaches `top_p`, and draws one with a number from
//! blake2-256 of the request's seed and the step, all in IEEE arithmetic with no platform
//! function. A prompt that leaves no room for the tokens asked for is rejected
//! ([`RejectionCode::PromptTooLong`]), as every honest executor would.

#[cfg(not(target_family = "wasm"))]
use std::path::Path;
use std::sync::Arc;
use verity_llm::{gguf::GgufFile, kernels::softmax, model::Gemma3, tokenizer::Tokenizer};
use verity_primitives::{
	generation_prompt, sampling_seed, FinishReason, Generation, GenerationParams, RejectionCode,
	TensorMap,
};

/// The execution profile of generation models: the decoder and its arithmetic contract.
pub const PROFILE: &str = "verity-llm-1/exact";

/// Why a generation could not run.
#[derive(Debug, thiserror::Error)]
pub enum GenerationError {
	/// The artifact is not a Gemma 3 GGUF file the decoder runs.
	#[error("not a usable GGUF model: {0}")]
	MalformedModel(String),
	/// The input cannot be run, for a reason every honest executor finds the same way.
	#[error("the input cannot be run ({code:?}): {reason}")]
	Rejected {
		/// The canonical code.
		code: RejectionCode,
		/// What exactly was wrong, for people.
		reason: String,
	},
}

/// A loaded generation model: the decoder over the mapped file and its tokenizer.
pub struct Generator {
	model: Gemma3,
	tokenizer: Tokenizer,
	/// Tokens that end the model's turn.
	stops: Vec<u32>,
}

impl Generator {
	/// Load the GGUF file at `path`, splitting matrix products among `threads` threads.
	#[cfg(not(target_family = "wasm"))]
	pub fn open(path: &Path, threads: usize) -> Result<Self, GenerationError> {
		Self::from_file(GgufFile::open(path).map_err(|e| malformed(&e))?, threads)
	}

	/// The decoder of a GGUF file held in memory (where there is no file to map).
	pub fn from_bytes(bytes: Vec<u8>, threads: usize) -> Result<Self, GenerationError> {
		Self::from_file(GgufFile::from_bytes(bytes).map_err(|e| malformed(&e))?, threads)
	}

	/// The decoder of an opened GGUF file: one parse serves the model and its tokenizer.
	fn from_file(file: GgufFile, threads: usize) -> Result<Self, GenerationError> {
		let mut model = Gemma3::new(file).map_err(|e| malformed(&e))?;
		let tokenizer = Tokenizer::from_gguf(model.file()).map_err(|e| malformed(&e))?;
		model.set_threads(threads);
		let mut stops = vec![tokenizer.eos];
		if let Some(end_of_turn) =
			(0..tokenizer.len() as u32).find(|id| tokenizer.piece(*id) == Some("<end_of_turn>"))
		{
			stops.push(end_of_turn);
		}
		Ok(Self { model, tokenizer, stops })
	}

	/// The decoder.
	pub fn model(&self) -> &Gemma3 {
		&self.model
	}

	/// The tokenizer.
	pub fn tokenizer(&self) -> &Tokenizer {
		&self.tokenizer
	}

	/// Generate for the canonical `input` (its bytes also seed the sampling).
	pub fn generate(&self, input: &[u8], map: &TensorMap) -> Result<Generation, GenerationError> {
		let rejected = |code, reason: String| GenerationError::Rejected { code, reason };
		let params = GenerationParams::from_input(map).map_err(|error| {
			rejected(RejectionCode::UnsupportedShape, format!("generation parameters: {error:?}"))
		})?;
		let prompt = generation_prompt(map)
			.ok_or_else(|| rejected(RejectionCode::UnsupportedShape, "no prompt".into()))?;
		let prompt = std::str::from_utf8(prompt).map_err(|error| {
			rejected(RejectionCode::InvalidUtf8, format!("the prompt: {error}"))
		})?;
		let prompt = self.tokenizer.encode(prompt, true);
		let context = self.model.config.context;
		if prompt.len() + params.max_new_tokens as usize > context {
			return Err(rejected(
				RejectionCode::PromptTooLong,
				format!(
					"{} prompt tokens and {} new ones pass the context of {context}",
					prompt.len(),
					params.max_new_tokens
				),
			));
		}
		let seed = sampling_seed(input);
		let mut cache = self.model.cache();
		let malformed = |error: verity_llm::model::ModelError| {
			GenerationError::MalformedModel(error.to_string())
		};
		let mut logits = self
			.model
			.forward_batch(&prompt, &mut cache, prompt.len() - 1)
			.map_err(malformed)?
			.pop()
			.unwrap_or_default();
		let mut tokens = Vec::new();
		let mut finish = FinishReason::Length;
		for step in 0..params.max_new_tokens {
			let token = choose(&logits, &params, &seed, step);
			if self.stops.contains(&token) {
				finish = FinishReason::EndOfTurn;
				break;
			}
			tokens.push(token);
			if tokens.len() == params.max_new_tokens as usize {
				break;
			}
			logits = self.model.forward(token, &mut cache).map_err(malformed)?;
		}
		let text = self.tokenizer.decode(&tokens).into_bytes();
		Ok(Generation { tokens, text, finish })
	}
}

/// Positions a verification pass runs at once: long enough to read each weight row once for
/// many tokens, short enough to keep the logits of a pass (a megabyte a position) small.
const VERIFY_CHUNK: usize = 32;

impl Generator {
	/// Check a claimed `generation` for the canonical `input` without generating: one batched
	/// pass over the prompt and the claimed tokens gives the logits at every step (the same
	/// bits as generating, by the decoder's contract), and at every step the rules must choose
	/// the claimed token; after the last, they must stop the way the claim says. Returns how
	/// many tokens were checked, or what differs first.
	pub fn verify(
		&self,
		input: &[u8],
		map: &TensorMap,
		claimed: &Generation,
	) -> Result<Result<usize, String>, GenerationError> {
		let params = GenerationParams::from_input(map).map_err(|error| {
			GenerationError::MalformedModel(format!("generation parameters: {error:?}"))
		})?;
		let prompt = generation_prompt(map)
			.and_then(|prompt| std::str::from_utf8(prompt).ok())
			.ok_or_else(|| GenerationError::MalformedModel("no UTF-8 prompt".into()))?;
		let prompt = self.tokenizer.encode(prompt, true);
		let tokens = &claimed.tokens;
		if tokens.len() > params.max_new_tokens as usize {
			return Ok(Err(format!(
				"{} tokens claimed, at most {} asked for",
				tokens.len(),
				params.max_new_tokens
			)));
		}
		if claimed.text != self.tokenizer.decode(tokens).into_bytes() {
			return Ok(Err("the text is not the tokens' text".into()));
		}
		let seed = sampling_seed(input);
		let malformed = |error: verity_llm::model::ModelError| {
			GenerationError::MalformedModel(error.to_string())
		};
		// The steps to check: one per claimed token, and the stop after the last unless the
		// claim stopped for length.
		let steps = tokens.len() + usize::from(claimed.finish == FinishReason::EndOfTurn);
		// Generation stops for length exactly at `max_new_tokens` (a prompt leaving less room
		// in the context is rejected), and ends its turn only before.
		let full = tokens.len() == params.max_new_tokens as usize;
		if full != (claimed.finish == FinishReason::Length) {
			return Ok(Err(format!(
				"{} of {} tokens cannot finish as {:?}",
				tokens.len(),
				params.max_new_tokens,
				claimed.finish
			)));
		}
		let mut cache = self.model.cache();
		let (head, last) = prompt.split_at(prompt.len() - 1);
		self.model.forward_batch(head, &mut cache, head.len()).map_err(malformed)?;
		// Step `i`'s logits come after the last prompt token, then after claimed token i - 1.
		let sequence: Vec<u32> = last.iter().chain(tokens).copied().take(steps).collect();
		let mut step = 0usize;
		for chunk in sequence.chunks(VERIFY_CHUNK) {
			for logits in self.model.forward_batch(chunk, &mut cache, 0).map_err(malformed)? {
				let chosen = choose(&logits, &params, &seed, step as u32);
				match tokens.get(step) {
					Some(token) if *token == chosen => {},
					Some(token) => {
						return Ok(Err(format!(
							"step {step}: the rules choose token {chosen}, the claim has {token}"
						)))
					},
					None if self.stops.contains(&chosen) => {},
					None => {
						return Ok(Err(format!(
							"after the last token the rules choose {chosen}, not a stop"
						)))
					},
				}
				step += 1;
			}
		}
		Ok(Ok(tokens.len()))
	}
}

/// The token chosen at `step` from `logits`, as the module's doc says.
pub fn choose(logits: &[f32], params: &GenerationParams, seed: &[u8; 32], step: u32) -> u32 {
	let by_rank = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
	if params.temperature_milli == 0 {
		return highest(logits);
	}
	let temperature = params.temperature_milli as f32 / 1000.0;
	let mut probabilities: Vec<f32> = logits.iter().map(|logit| logit / temperature).collect();
	softmax(&mut probabilities);
	let mut ranked = if params.top_k == 0 {
		let mut ranked: Vec<(u32, f32)> = probabilities
			.iter()
			.enumerate()
			.filter(|(_, p)| **p > 0.0)
			.map(|(id, p)| (id as u32, *p))
			.collect();
		ranked.sort_unstable_by(by_rank);
		ranked
	} else {
		best_ranked(&probabilities, params.top_k as usize)
	};
	let top_p = params.top_p_milli as f32 / 1000.0;
	let mut mass = 0f32;
	let mut kept = 0;
	for (_, p) in &ranked {
		mass += p;
		kept += 1;
		if mass >= top_p {
			break;
		}
	}
	ranked.truncate(kept.max(1));
	let total: f64 = ranked.iter().fold(0f64, |sum, (_, p)| sum + f64::from(*p));
	let mut preimage = seed.to_vec();
	preimage.extend_from_slice(&step.to_le_bytes());
	let hash = verity_primitives::content_hash(&preimage).0;
	let draw = u64::from_le_bytes(hash[..8].try_into().unwrap_or_default()) >> 11;
	let point = draw as f64 / (1u64 << 53) as f64 * total;
	let mut cumulative = 0f64;
	for (id, p) in &ranked {
		cumulative += f64::from(*p);
		if point < cumulative {
			return *id;
		}
	}
	ranked.last().map_or(0, |(id, _)| *id)
}

/// The id of the highest logit in `f32::total_cmp`'s order, the lowest id on a tie: the
/// first to rank under `by_rank`. Compared as the integers `total_cmp` compares, which a
/// maximum over the whole vocabulary computes in vector registers.
fn highest(logits: &[f32]) -> u32 {
	let key = |logit: &f32| {
		let bits = logit.to_bits() as i32;
		bits ^ (((bits >> 31) as u32) >> 1) as i32
	};
	let best = logits.iter().map(key).fold(i32::MIN, i32::max);
	logits.iter().position(|logit| key(logit) == best).unwrap_or(0) as u32
}

/// The `k` most likely tokens of positive probability, most likely first, ties by id: the
/// first `k` of all of them sorted by rank, found in one pass that keeps the best so far.
fn best_ranked(probabilities: &[f32], k: usize) -> Vec<(u32, f32)> {
	let mut best: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
	// A token enters only above the threshold: zero until `k` are kept, then the worst kept
	// one's probability (ids come in increasing order, so a token no more likely than the
	// worst kept one ranks after it). NaNs compare false and never enter.
	let mut threshold = 0f32;
	const RUN: usize = 16;
	for (run, values) in probabilities.chunks(RUN).enumerate() {
		if !values.iter().fold(false, |any, p| any | (*p > threshold)) {
			continue;
		}
		for (offset, p) in values.iter().enumerate() {
			if *p > threshold {
				let at = best.partition_point(|(_, kept)| kept >= p);
				best.insert(at, ((run * RUN + offset) as u32, *p));
				best.truncate(k);
				if best.len() == k {
					threshold = best[k - 1].1;
				}
			}
		}
	}
	best
}

/// A model file the decoder cannot use, with the reason.
fn malformed(error: &dyn std::fmt::Display) -> GenerationError {
	GenerationError::MalformedModel(error.to_string())
}

/// Loaded generation models, by id, shared between jobs.
pub type Generators = std::collections::HashMap<verity_primitives::ModelId, Arc<Generator>>;

#[cfg(test)]
mod tests {
	use super::*;

	fn params(temperature_milli: u32, top_p_milli: u32, top_k: u32) -> GenerationParams {
		GenerationParams { temperature_milli, top_p_milli, top_k, ..Default::default() }
	}

	#[test]
	fn the_one_pass_top_k_is_the_head_of_the_full_ranking() {
		// Ties (few distinct values), zeros, negatives and NaNs, which never rank; k below,
		// at and above the number of positive values.
		let mut state = 0x2545_f491_4f6c_dd1d_u64;
		let probabilities: Vec<f32> = (0..5_000)
			.map(|_| {
				state ^= state << 13;
				state ^= state >> 7;
				state ^= state << 17;
				match state % 11 {
					0 => 0.0,
					1 => -0.25,
					2 => f32::NAN,
					value => value as f32 / 16.0 + (state >> 60) as f32,
				}
			})
			.collect();
		let by_rank = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
		let mut all: Vec<(u32, f32)> = probabilities
			.iter()
			.enumerate()
			.filter(|(_, p)| **p > 0.0)
			.map(|(id, p)| (id as u32, *p))
			.collect();
		all.sort_unstable_by(by_rank);
		for k in [1, 2, 40, 1_000, all.len(), all.len() + 5] {
			let expected = &all[..k.min(all.len())];
			assert_eq!(best_ranked(&probabilities, k), expected, "k = {k}");
		}
	}

	#[test]
	fn the_highest_logit_is_the_first_in_rank_order_whatever_the_values() {
		let by_rank = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
		let cases: [&[f32]; 6] = [
			&[0.5, 2.0, -1.0, 2.0],
			&[-3.0, -0.0, 0.0, -1.0],
			&[-0.0, -2.0],
			&[f32::NEG_INFINITY, -5.0, f32::NEG_INFINITY],
			&[1.0, f32::NAN, 3.0],
			&[f32::INFINITY, 7.0, f32::INFINITY],
		];
		for logits in cases {
			let ranked = logits
				.iter()
				.enumerate()
				.map(|(id, logit)| (id as u32, *logit))
				.min_by(by_rank)
				.map(|(id, _)| id);
			assert_eq!(Some(highest(logits)), ranked, "{logits:?}");
		}
	}

	#[test]
	fn greedy_takes_the_highest_logit_and_the_lowest_id_on_a_tie() {
		let logits = [0.5, 2.0, -1.0, 2.0];
		assert_eq!(choose(&logits, &params(0, 1000, 0), &[0; 32], 0), 1);
	}

	#[test]
	fn sampling_follows_the_seed_and_the_step_and_stays_within_top_k_and_top_p() {
		let logits: Vec<f32> = (0..50).map(|i| (i % 7) as f32 * 0.3).collect();
		let sampled = |seed: u8, step, p: GenerationParams| choose(&logits, &p, &[seed; 32], step);
		let wide = params(1000, 1000, 0);
		assert_eq!(sampled(1, 3, wide), sampled(1, 3, wide), "a function of seed and step");
		let draws: std::collections::BTreeSet<u32> =
			(0..200).map(|step| sampled(1, step, wide)).collect();
		assert!(draws.len() > 10, "it samples: {draws:?}");
		// The highest logits are those of ids ≡ 6 (mod 7): top_k 3 keeps 6, 13 and 20.
		let narrow = params(1000, 1000, 3);
		assert!((0..200).all(|step| [6, 13, 20].contains(&sampled(2, step, narrow))));
		// A tiny top_p keeps the single most likely token (the lowest id among equals).
		let nucleus = params(1000, 1, 0);
		assert!((0..50).all(|step| sampled(3, step, nucleus) == 6));
	}
}
