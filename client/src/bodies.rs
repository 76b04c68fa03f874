//! Reading a request's bytes back from the bodies of the blocks that carried them, for
//! requests whose bytes have left state (the chain keeps only their hashes after the
//! challenge window).
//!
//! The input is in the block the request was made in (`created_at`): the `input` of an
//! `Inference.request_inference`, or the text of a `Memory.remember` / `Memory.recall`, which
//! the chain wraps as a text model's input. An output is in the block its reveal came in: the
//! `outcome` of an `Inference.submit_attestation`, or of an item of an
//! `Inference.submit_attestations` batch. Whatever is found is accepted only if it hashes to
//! what the chain recorded, so a node cannot pass off other bytes.

use crate::{chain::Chain, CliError};
use codec::Decode;
use sp_core::H256;
use verity_primitives::{content_hash, InferenceOutcome, RequestId, TensorMap};

/// An item of a `submit_attestations` batch as SCALE lays it out: the request, the outcome,
/// the attestation key (32 bytes) and its signature (64 bytes).
type RevealItem = (RequestId, InferenceOutcome, [u8; 32], [u8; 64]);

/// The input hashing to `input_hash` among the calls of block `number`.
pub async fn input_from_block(
	chain: &Chain,
	number: u64,
	input_hash: H256,
) -> Result<Vec<u8>, CliError> {
	let candidates = call_fields(chain, number, |pallet, call, field| {
		matches!(
			(pallet, call, field),
			("Inference", "request_inference", "input")
				| ("Memory", "remember", "content")
				| ("Memory", "recall", "query")
		)
	})
	.await?;
	for bytes in candidates {
		// A bare byte vector (an input, a memory entry's text), or a recall query's
		// `Text(bytes)` variant (one index byte, then the bytes).
		let mut readings: Vec<Vec<u8>> = Vec::new();
		if let Ok(raw) = Vec::<u8>::decode(&mut &bytes[..]) {
			readings.push(raw);
		}
		if let Some(rest) = bytes.get(1..) {
			if let Ok(text) = Vec::<u8>::decode(&mut &rest[..]) {
				readings.push(text);
			}
		}
		for reading in readings {
			let as_text = codec::Encode::encode(&TensorMap::text(&reading));
			for candidate in [reading, as_text] {
				if content_hash(&candidate) == input_hash {
					return Ok(candidate);
				}
			}
		}
	}
	Err(CliError::new(format!(
		"block #{number} carries no input hashing to {input_hash:#x}; the request's input is \
		 no longer in state, and this node may not keep old block bodies"
	)))
}

/// The output hashing to `output_hash` among the reveals of block `number`.
pub async fn output_from_block(
	chain: &Chain,
	number: u64,
	output_hash: H256,
) -> Result<Vec<u8>, CliError> {
	let single = call_fields(chain, number, |pallet, call, field| {
		(pallet, call, field) == ("Inference", "submit_attestation", "outcome")
	});
	let batched = call_fields(chain, number, |pallet, call, field| {
		(pallet, call, field) == ("Inference", "submit_attestations", "batch")
	});
	let (single, batched) = (single.await?, batched.await?);
	let outcomes = single
		.iter()
		.filter_map(|bytes| InferenceOutcome::decode(&mut &bytes[..]).ok())
		.chain(batched.iter().flat_map(|bytes| {
			Vec::<RevealItem>::decode(&mut &bytes[..])
				.unwrap_or_default()
				.into_iter()
				.map(|(_, outcome, _, _)| outcome)
		}));
	for outcome in outcomes {
		if let InferenceOutcome::Output(output) = outcome {
			if content_hash(&output) == output_hash {
				return Ok(output);
			}
		}
	}
	Err(CliError::new(format!(
		"block #{number} carries no reveal of an output hashing to {output_hash:#x}"
	)))
}

/// The SCALE bytes of every call field of block `number` that `wanted(pallet, call, field)`.
async fn call_fields(
	chain: &Chain,
	number: u64,
	wanted: impl Fn(&str, &str, &str) -> bool,
) -> Result<Vec<Vec<u8>>, CliError> {
	let at = chain
		.client
		.at_block(number)
		.await
		.map_err(|error| CliError::new(format!("cannot read block #{number}: {error}")))?;
	let extrinsics =
		at.extrinsics().fetch().await.map_err(|error| {
			CliError::new(format!("cannot read block #{number}'s body: {error}"))
		})?;
	let mut fields = Vec::new();
	for extrinsic in extrinsics.iter() {
		let extrinsic = extrinsic.map_err(|error| {
			CliError::new(format!("an extrinsic of block #{number} does not decode: {error}"))
		})?;
		let (pallet, call) = (extrinsic.pallet_name(), extrinsic.call_name());
		for field in extrinsic.iter_call_data_fields() {
			if wanted(pallet, call, field.name()) {
				fields.push(field.bytes().to_vec());
			}
		}
	}
	Ok(fields)
}
