//! What the verifier computes: hashes, the signed attestation bytes, and a local re-run or
//! token re-check of a result. Named after `verity verify`'s checks, whose messages these
//! follow.

use codec::Encode;
use verity_executor::{generation::Generator, planning};
use verity_primitives::{
	content_hash, AttestationPayload, ExecutionProfileId, Generation, ModelId, RejectionCode,
	TensorMap,
};

/// What a result claims: an output's canonical bytes, or a rejection's name.
pub enum Claim<'a> {
	/// The canonical output encoding.
	Output(&'a [u8]),
	/// The name of the rejection code (as the node's JSON gives it, e.g. `ModelError`).
	Rejection(&'a [u8]),
}

/// blake2-256 of `bytes`: artifact ids, input and output hashes.
pub fn hash(bytes: &[u8]) -> [u8; 32] {
	content_hash(bytes).0
}

/// The rejection code called `name`.
fn rejection_code(name: &[u8]) -> Result<RejectionCode, String> {
	let name = String::from_utf8_lossy(name);
	serde_json::from_value(serde_json::Value::String(name.to_string()))
		.map_err(|_| format!("{name:?} is not a rejection code"))
}

/// The hash a result records for the rejection called `name`.
pub fn rejection_hash(name: &[u8]) -> Result<[u8; 32], String> {
	Ok(verity_primitives::rejection_hash(rejection_code(name)?).0)
}

/// Exactly 32 bytes as a hash.
fn hash_of(bytes: &[u8], what: &str) -> Result<verity_primitives::ModelId, String> {
	let bytes: [u8; 32] = bytes
		.try_into()
		.map_err(|_| format!("{what} is {} bytes, not 32", bytes.len()))?;
	Ok(ModelId::from(bytes))
}

/// The SCALE bytes an executor signs for its attestation of `output_hash` for the request.
pub fn attestation_payload(
	genesis: &[u8],
	request_id: u64,
	model: &[u8],
	profile: &[u8],
	input_hash: &[u8],
	output_hash: &[u8],
) -> Result<Vec<u8>, String> {
	let profile: ExecutionProfileId = profile
		.to_vec()
		.try_into()
		.map_err(|_| "the execution profile id is too long")?;
	Ok(AttestationPayload::new(
		hash_of(genesis, "the genesis hash")?,
		request_id,
		hash_of(model, "the model id")?,
		profile,
		hash_of(input_hash, "the input hash")?,
		hash_of(output_hash, "the output hash")?,
	)
	.encode())
}

/// Run `artifact` (model `model`) on the canonical `input`: the canonical output encoding.
pub fn run(artifact: Vec<u8>, model: &[u8], input: &[u8]) -> Result<Vec<u8>, String> {
	let outputs = planning::run_artifact(artifact, hash_of(model, "the model id")?, input)
		.map_err(|error| error.to_string())?;
	Ok(outputs.encode())
}

/// Re-check `claim` for `input`: a generation's tokens in one batched pass, any other model
/// by running it and comparing bytes (or the rejection). `Ok` holds what matched.
pub fn recheck(
	artifact: Vec<u8>,
	model: &[u8],
	input: &[u8],
	claim: Claim<'_>,
) -> Result<String, String> {
	let model_id = hash_of(model, "the model id")?;
	if let (true, Claim::Output(output)) = (artifact.starts_with(b"GGUF"), &claim) {
		return recheck_generation(artifact, input, output);
	}
	match (planning::run_artifact(artifact, model_id, input), claim) {
		(Ok(local), Claim::Output(output)) => {
			let local = local.encode();
			if local == output {
				Ok(format!("re-running in WebAssembly gives the same {} bytes", output.len()))
			} else {
				let first = local.iter().zip(output).position(|(a, b)| a != b);
				Err(format!(
					"re-running in WebAssembly gives output {:#x}, the output checked is {:#x} ({})",
					content_hash(&local),
					content_hash(output),
					match first {
						Some(at) => format!("first difference at byte {at}"),
						None => format!("{} bytes against {}", local.len(), output.len()),
					}
				))
			}
		},
		(Err(error), Claim::Rejection(name)) => {
			let code = rejection_code(name)?;
			if error.rejection() == Some(code) {
				Ok(format!("re-running in WebAssembly rejects the input the same way: {error}"))
			} else {
				Err(format!("the chain holds a rejection {code:?}; here: {error}"))
			}
		},
		(Ok(_), Claim::Rejection(name)) => Err(format!(
			"the model runs here; the chain holds a rejection {}",
			String::from_utf8_lossy(name)
		)),
		(Err(error), Claim::Output(_)) => Err(format!("the model failed here: {error}")),
	}
}

/// One batched pass over a generation's prompt and tokens must choose every token and the
/// stop `output` claims.
fn recheck_generation(artifact: Vec<u8>, input: &[u8], output: &[u8]) -> Result<String, String> {
	let generator = Generator::from_bytes(artifact, 1)
		.map_err(|error| format!("cannot load the model: {error}"))?;
	let decoded = TensorMap::decode_canonical(input).ok().zip(
		TensorMap::decode_canonical(output)
			.ok()
			.and_then(|map| Generation::from_tensor_map(&map)),
	);
	let (input_map, generation) =
		decoded.ok_or("the input or output is not a generation's tensors")?;
	match generator.verify(input, &input_map, &generation) {
		Ok(Ok(tokens)) => Ok(format!(
			"all {tokens} tokens and the finish ({:?}) re-checked in one batched pass",
			generation.finish
		)),
		Ok(Err(difference)) => Err(difference),
		Err(error) => Err(format!("the decoder failed: {error}")),
	}
}

/// blake2-256 of the little-endian bytes of a language model's logits after each position of
/// `prompt` (its tokens with `<bos>`), computed twice: one position at a time, as generation
/// runs, and in one batched pass, as verification runs. The decoder's arithmetic gives the
/// same bits on every instruction set, so this build and the native one must agree: the
/// cross-build test compares them.
pub fn prompt_logits_hashes(artifact: Vec<u8>, prompt: &str) -> Result<[[u8; 32]; 2], String> {
	let generator = Generator::from_bytes(artifact, 1)
		.map_err(|error| format!("cannot load the model: {error}"))?;
	let (model, tokens) = (generator.model(), generator.tokenizer().encode(prompt, true));
	let mut cache = model.cache();
	let mut one_by_one = Vec::with_capacity(tokens.len());
	for token in &tokens {
		let logits = model.forward(*token, &mut cache);
		one_by_one.push(logits.map_err(|error| format!("the decoder failed: {error}"))?);
	}
	let batched = model
		.forward_batch(&tokens, &mut model.cache(), 0)
		.map_err(|error| format!("the decoder failed: {error}"))?;
	Ok([logits_hash(&one_by_one), logits_hash(&batched)])
}

/// blake2-256 of the logits' little-endian bytes, position after position.
fn logits_hash(logits: &[Vec<f32>]) -> [u8; 32] {
	let bytes: Vec<u8> = logits.iter().flatten().flat_map(|logit| logit.to_le_bytes()).collect();
	hash(&bytes)
}

#[cfg(test)]
mod tests {
	use super::*;

	use crate::samples::{artifact_path, runs, TEXT_DIRECTION};

	fn text_direction() -> (Vec<u8>, [u8; 32]) {
		let artifact = std::fs::read(artifact_path(TEXT_DIRECTION)).unwrap();
		let id = hash(&artifact);
		(artifact, id)
	}

	/// The classifier's sample input, a text-line crop.
	fn text_line() -> Vec<u8> {
		runs().swap_remove(0).1
	}

	#[test]
	fn the_signed_bytes_are_the_attestation_payloads_encoding() {
		let [genesis, model, input, output] = [[1u8; 32], [2; 32], [3; 32], [4; 32]];
		let ours = attestation_payload(&genesis, 9, &model, b"tract-0.23/generic", &input, &output)
			.unwrap();
		let expected = AttestationPayload::new(
			genesis.into(),
			9,
			model.into(),
			b"tract-0.23/generic".to_vec().try_into().unwrap(),
			input.into(),
			output.into(),
		)
		.encode();
		assert_eq!(ours, expected);
		let short = attestation_payload(&genesis[..31], 9, &model, b"p", &input, &output);
		assert_eq!(short, Err("the genesis hash is 31 bytes, not 32".into()));
	}

	#[test]
	fn rejections_hash_as_results_record_them_and_unknown_names_are_refused() {
		let ours = rejection_hash(b"ModelError").unwrap();
		assert_eq!(ours, verity_primitives::rejection_hash(RejectionCode::ModelError).0);
		assert_eq!(rejection_hash(b"Bogus"), Err("\"Bogus\" is not a rejection code".into()));
	}

	#[test]
	fn a_rerun_confirms_the_right_output_and_names_a_tampered_one() {
		let (artifact, id) = text_direction();
		let input = text_line();
		let output = run(artifact.clone(), &id, &input).expect("the classifier runs");
		let confirmed = recheck(artifact.clone(), &id, &input, Claim::Output(&output)).unwrap();
		assert!(confirmed.contains(&format!("the same {} bytes", output.len())), "{confirmed}");

		let mut tampered = output.clone();
		*tampered.last_mut().unwrap() ^= 1;
		let refused = recheck(artifact.clone(), &id, &input, Claim::Output(&tampered)).unwrap_err();
		assert!(
			refused.contains(&format!("first difference at byte {}", output.len() - 1)),
			"{refused}"
		);

		let refused = recheck(artifact, &id, &input, Claim::Rejection(b"ModelError")).unwrap_err();
		assert!(refused.contains("the model runs here"), "{refused}");
	}

	#[test]
	fn a_rejection_is_confirmed_when_the_model_rejects_the_input_the_same_way() {
		let (artifact, id) = text_direction();
		let mut empty = TensorMap::decode_canonical(&text_line()).unwrap();
		empty.0[0].shape[0] = 0;
		empty.0[0].data.clear();
		let input = empty.encode();
		let confirmed = recheck(artifact.clone(), &id, &input, Claim::Rejection(b"EmptyAxis"));
		assert!(confirmed.unwrap().contains("rejects the input the same way"));
		let refused = recheck(artifact, &id, &input, Claim::Rejection(b"ModelError")).unwrap_err();
		assert!(refused.contains("the chain holds a rejection ModelError"), "{refused}");
	}
}
