//! `verity verify`: check an on-chain result end to end, trusting nothing but the model file's
//! hash and the local re-run.

use crate::{
	chain::{from_hex, Chain},
	CliError,
};
use codec::Encode;
use serde_json::{json, Value};
use sp_core::{crypto::Ss58Codec, sr25519, Pair, H256};
use verity_executor::{generation, Engine, ExecutionProfile, ModelStore};
use verity_primitives::{
	content_hash, AttestationPayload, ExecutionProfileId, Generation, InferenceOutcome,
	RejectionCode, TensorMap,
};

/// One check and how it went.
pub struct Check {
	/// What was checked.
	pub name: &'static str,
	/// Whether it passed.
	pub passed: bool,
	/// Why.
	pub reason: String,
}

impl Check {
	fn new(name: &'static str, passed: bool, reason: impl Into<String>) -> Self {
		Self { name, passed, reason: reason.into() }
	}

	/// As JSON.
	pub fn json(&self) -> Value {
		json!({ "check": self.name, "passed": self.passed, "reason": self.reason })
	}
}

/// Run every check on request `request_id`.
/// `from_blocks`: read the input and output from the block bodies that carried them even
/// while the chain still holds them; without it they are read from the blocks only once the
/// chain has dropped them.
pub async fn verify(
	chain: &Chain,
	request_id: u64,
	store: &ModelStore,
	from_blocks: bool,
) -> Result<Vec<Check>, CliError> {
	let request = chain.request(request_id).await?;
	let Some(finalized) = request["status"].get("Finalized") else {
		return Err(CliError::new(format!(
			"request {request_id} is not finalized yet (status {}); verify it once it is",
			request["status"]
		)));
	};
	let model_hex = text(&request["model_id"])?;
	let model = chain.model(&model_hex).await?;
	let genesis: H256 = serde_json::from_value(
		chain.call("inference_genesisHash", subxt::rpcs::rpc_params![]).await?,
	)
	.map_err(|error| CliError::new(format!("bad genesis hash from the node: {error}")))?;
	let model_id = H256::from_slice(&from_hex(&model_hex)?);
	let input_hash = H256::from_slice(&from_hex(&text(&request["input_hash"])?)?);
	let held_input = from_hex(&text(&request["input"])?)?;
	let input = if from_blocks || content_hash(&held_input) != input_hash {
		let created_at = request["created_at"]
			.as_u64()
			.ok_or_else(|| CliError::new("the request record names no block it was made in"))?;
		crate::bodies::input_from_block(chain, created_at, input_hash).await?
	} else {
		held_input
	};
	// The outcome: the output, or the executors' rejection of the input.
	let outcome = match request.get("rejection").filter(|value| !value.is_null()) {
		Some(code) => InferenceOutcome::Rejected(
			serde_json::from_value::<RejectionCode>(code.clone()).map_err(|_| {
				CliError::new(format!("the node names an unknown rejection code {code}"))
			})?,
		),
		None => InferenceOutcome::Output(match request["output"].as_str() {
			Some(hex) if !from_blocks => from_hex(hex)?,
			_ => output_from_reveals(chain, &request, &finalized["output_hash"]).await?,
		}),
	};
	let output_hash = H256::from_slice(&from_hex(&text(&finalized["output_hash"])?)?);
	let profile_bytes: Vec<u8> =
		serde_json::from_value(model["metadata"]["execution_profile"].clone())
			.map_err(|_| CliError::new("the model record has no execution profile"))?;
	let profile_id: ExecutionProfileId = profile_bytes
		.clone()
		.try_into()
		.map_err(|_| CliError::new("the model's execution profile is too long"))?;
	let redundancy = request["redundancy"].as_u64().unwrap_or(1) as usize;

	let mut checks = Vec::new();

	// 1. The model artifact is the registered one.
	let uri = String::from_utf8_lossy(
		&serde_json::from_value::<Vec<u8>>(model["metadata"]["artifact_uri"].clone())
			.unwrap_or_default(),
	)
	.into_owned();
	let artifact = store.load(&model_id, Some(&uri));
	checks.push(match &artifact {
		Ok(bytes) => Check::new(
			"model artifact",
			true,
			format!("{} bytes hash to the model id {model_hex}", bytes.len()),
		),
		Err(error) => Check::new("model artifact", false, error.to_string()),
	});

	// 2. Input and output hashes.
	let actual_input = content_hash(&input);
	checks.push(Check::new(
		"input hash",
		actual_input == input_hash,
		format!("blake2-256 of the stored input is {actual_input:#x}, the request records {input_hash:#x}"),
	));
	let actual_output = outcome.hash();
	checks.push(Check::new(
		"output hash",
		actual_output == output_hash,
		match &outcome {
			InferenceOutcome::Output(_) => format!(
				"blake2-256 of the stored output is {actual_output:#x}, the result records {output_hash:#x}"
			),
			InferenceOutcome::Rejected(code) => format!(
				"the rejection {code:?} hashes to {actual_output:#x}, the result records {output_hash:#x}"
			),
		},
	));

	// 3. Every attestation's signature, by a key the chain assigned.
	let assigned: Vec<(String, String)> = request["assigned"]
		.as_array()
		.map(|list| {
			list.iter()
				.filter_map(|pair| {
					Some((pair[0].as_str()?.to_string(), pair[1].as_str()?.to_string()))
				})
				.collect()
		})
		.unwrap_or_default();
	let attestations = request["attestations"].as_array().cloned().unwrap_or_default();
	let mut agreeing = 0;
	for attestation in &attestations {
		let executor = attestation["executor"].as_str().unwrap_or("?").to_string();
		let key = attestation["attestation_key"].as_str().unwrap_or_default();
		let attested = H256::from_slice(&from_hex(&text(&attestation["output_hash"])?)?);
		// A reveal that broke its commitment counts for nothing.
		let kept_commitment = attestation["matches_commitment"].as_bool().unwrap_or(false);
		if attested == output_hash && kept_commitment {
			agreeing += 1;
		}
		let payload = AttestationPayload::new(
			genesis,
			request_id,
			model_id,
			profile_id.clone(),
			input_hash,
			attested,
		);
		let key_assigned = assigned.iter().any(|(account, k)| *account == executor && k == key);
		let signature_valid = sr25519::Public::from_ss58check(key)
			.ok()
			.zip(
				from_hex(&text(&attestation["signature"])?)
					.ok()
					.and_then(|bytes| sr25519::Signature::try_from(bytes.as_slice()).ok()),
			)
			.is_some_and(|(public, signature)| {
				sr25519::Pair::verify(&signature, payload.encode(), &public)
			});
		checks.push(Check::new(
			"attestation signature",
			key_assigned && signature_valid,
			format!(
				"executor {executor}: {} over output {attested:#x}{}",
				if signature_valid { "signature verifies" } else { "signature does NOT verify" },
				if key_assigned { "" } else { ", but its key was not assigned to this request" },
			),
		));
	}
	let quorum = redundancy / 2 + 1;
	checks.push(Check::new(
		"quorum",
		agreeing >= quorum,
		format!("{agreeing} of {redundancy} attestations match the output; {quorum} needed"),
	));

	// 4. Re-run the model here and compare bytes; a generation is re-checked instead, all its
	// tokens in one batched pass.
	if profile_bytes.as_slice() == generation::PROFILE.as_bytes() {
		checks.push(match (artifact, &outcome) {
			(Err(_), _) => Check::new("token re-check", false, "no verified artifact to run"),
			(Ok(_), InferenceOutcome::Output(output)) => {
				recheck_generation(store, &model_id, &input, output)
			},
			(Ok(_), InferenceOutcome::Rejected(code)) => {
				let engine = Engine::new(store.clone(), ExecutionProfile::Generic, 1 << 30);
				match engine.infer(&model_id, None, &input) {
					Err(error) if error.rejection() == Some(*code) => Check::new(
						"local re-run",
						true,
						format!("the decoder rejects the input the same way: {error}"),
					),
					Err(error) => Check::new("local re-run", false, format!("{error}")),
					Ok(_) => Check::new(
						"local re-run",
						false,
						format!("the decoder generates here; the chain holds a rejection {code:?}"),
					),
				}
			},
		});
		return Ok(checks);
	}
	let profile: Result<ExecutionProfile, _> = String::from_utf8_lossy(&profile_bytes).parse();
	let profile = profile.and_then(|profile| profile.activate().map(|()| profile));
	checks.push(match (artifact, profile) {
		(Err(_), _) => Check::new("local re-run", false, "no verified artifact to run"),
		(_, Err(error)) => {
			Check::new("local re-run", false, format!("cannot run this profile here: {error}"))
		},
		(Ok(_), Ok(profile)) => {
			let engine = Engine::new(store.clone(), profile, 1 << 30);
			match (engine.infer(&model_id, None, &input), &outcome) {
				(Ok(local), InferenceOutcome::Output(output)) if local.output == *output => {
					Check::new(
						"local re-run",
						true,
						format!("re-running under {profile} gives the same {} bytes", output.len()),
					)
				},
				(Err(error), InferenceOutcome::Rejected(code))
					if error.rejection() == Some(*code) =>
				{
					Check::new(
						"local re-run",
						true,
						format!(
							"re-running under {profile} rejects the input the same way: {error}"
						),
					)
				},
				(Ok(local), _) => Check::new(
					"local re-run",
					false,
					format!(
						"re-running under {profile} gives output {:#x}, the chain holds {actual_output:#x}",
						local.output_hash
					),
				),
				(Err(error), _) => {
					Check::new("local re-run", false, format!("the model failed here: {error}"))
				},
			}
		},
	});
	Ok(checks)
}

/// Re-check a settled generation: one batched pass over its prompt and tokens must choose
/// every token and the stop the output claims.
fn recheck_generation(store: &ModelStore, model_id: &H256, input: &[u8], output: &[u8]) -> Check {
	const NAME: &str = "token re-check";
	// Positions of one pass are independent rows of work: every core helps, and the bits are
	// the same whatever the count.
	let threads = std::thread::available_parallelism().map_or(1, usize::from);
	let engine = Engine::new(store.clone(), ExecutionProfile::Generic, 1 << 30)
		.with_generation_threads(threads);
	let generator = match engine.generator(model_id, None) {
		Ok(Some(generator)) => generator,
		Ok(None) => return Check::new(NAME, false, "the artifact is not a GGUF model"),
		Err(error) => return Check::new(NAME, false, format!("cannot load the model: {error}")),
	};
	let decoded = TensorMap::decode_canonical(input).ok().zip(
		TensorMap::decode_canonical(output)
			.ok()
			.and_then(|map| Generation::from_tensor_map(&map)),
	);
	let Some((input_map, generation)) = decoded else {
		return Check::new(NAME, false, "the input or output is not a generation's tensors");
	};
	let started = std::time::Instant::now();
	match generator.verify(input, &input_map, &generation) {
		Ok(Ok(tokens)) => Check::new(
			NAME,
			true,
			format!(
				"all {tokens} tokens and the finish ({:?}) re-checked in one batched pass in {:.2} s",
				generation.finish,
				started.elapsed().as_secs_f64()
			),
		),
		Ok(Err(difference)) => Check::new(NAME, false, difference),
		Err(error) => Check::new(NAME, false, format!("the decoder failed: {error}")),
	}
}

/// The agreed output, read from the block of a reveal that matched its commitment.
async fn output_from_reveals(
	chain: &Chain,
	request: &Value,
	output_hash: &Value,
) -> Result<Vec<u8>, CliError> {
	let output_hash = H256::from_slice(&from_hex(&text(output_hash)?)?);
	let block = request["attestations"]
		.as_array()
		.into_iter()
		.flatten()
		.find(|attestation| {
			attestation["matches_commitment"].as_bool() == Some(true)
				&& attestation["output_hash"].as_str() == Some(format!("{output_hash:#x}").as_str())
		})
		.and_then(|attestation| attestation["submitted_at"].as_u64())
		.ok_or_else(|| CliError::new("no reveal of the agreed output is on record"))?;
	crate::bodies::output_from_block(chain, block, output_hash).await
}

fn text(value: &Value) -> Result<String, CliError> {
	value
		.as_str()
		.map(str::to_string)
		.ok_or_else(|| CliError::new(format!("the node's answer lacks a field (got {value})")))
}
