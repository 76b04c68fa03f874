//! `verity generate`: text generation on chain with a GGUF generation model.

use crate::{
	chain::{from_hex, Chain},
	commands::{parse_id, submit_request, wait_for_result, Output},
	CliError,
};
use codec::Encode;
use serde_json::json;
use verity_primitives::{generation_input, Generation, GenerationParams, TensorMap};

/// What `verity generate` was asked.
pub struct GenerateRequest {
	/// The model id, as typed.
	pub model: String,
	/// The prompt.
	pub prompt: String,
	/// The sampling parameters, checked.
	pub params: GenerationParams,
	/// The most to pay.
	pub max_fee: Option<u128>,
	/// Whether to wait for the text.
	pub wait: bool,
}

/// The parameters from the command line, in the chain's fixed point, checked as the chain
/// checks them so a mistake costs no fee.
pub fn params(
	max_tokens: u32,
	temperature: f64,
	top_p: f64,
	top_k: u32,
	nonce: u32,
) -> Result<GenerationParams, CliError> {
	let milli = |value: f64, flag: &str, max: f64| {
		if !(0.0..=max).contains(&value) {
			return Err(CliError::new(format!("{flag} must be between 0 and {max}, not {value}")));
		}
		Ok((value * 1000.0).round() as u32)
	};
	let params = GenerationParams {
		max_new_tokens: max_tokens,
		temperature_milli: milli(temperature, "--temperature", 2.0)?,
		top_p_milli: milli(top_p, "--top-p", 1.0)?,
		top_k,
		nonce,
	};
	params.validate().map_err(|error| {
		CliError::new(format!(
			"the generation parameters are out of range ({error:?}): --max-tokens 1 to {}, \
			 --temperature 0 to 2, --top-p above 0 up to 1, --top-k 0 to {}",
			verity_primitives::MAX_NEW_TOKENS,
			verity_primitives::MAX_TOP_K
		))
	})?;
	Ok(params)
}

/// Submit the generation request and, with `--wait`, print its text once it settles.
pub async fn run(
	chain: &Chain,
	suri: Option<&str>,
	out: &Output,
	request: GenerateRequest,
) -> Result<(), CliError> {
	let signer = chain.signer(suri).await?;
	let model_id = parse_id(&request.model)?;
	let info = chain.model(&format!("{model_id:?}")).await?;
	if info["metadata"]["format"].as_str() != Some("Gguf") {
		return Err(CliError::new(format!(
			"model {model_id:?} is not a generation model (its format is {})",
			info["metadata"]["format"]
		)));
	}
	let input = generation_input(request.prompt.as_bytes(), &request.params).encode();
	let request_id = submit_request(chain, &signer, model_id, input, request.max_fee, out).await?;
	if !request.wait {
		out.print(&json!({ "request_id": request_id }), || {
			format!("request {request_id} submitted")
		});
		return Ok(());
	}
	let redundancy = info["metadata"]["redundancy"].as_u64().unwrap_or(1);
	let settled = wait_for_result(chain, request_id, redundancy, out).await?;
	let output_hash = settled["status"]["Finalized"]["output_hash"].clone();
	if let Some(code) = settled["rejection"].as_str() {
		let report =
			json!({ "request_id": request_id, "output_hash": output_hash, "rejection": code });
		out.print(&report, || format!("the executors rejected the request: {code}"));
		return Ok(());
	}
	let bytes = from_hex(settled["output"].as_str().unwrap_or("0x"))?;
	let generation = TensorMap::decode_canonical(&bytes)
		.ok()
		.and_then(|map| Generation::from_tensor_map(&map))
		.ok_or_else(|| CliError::new("the settled output is not a generation's tensors"))?;
	let text = String::from_utf8_lossy(&generation.text).into_owned();
	let report = json!({
		"request_id": request_id,
		"output_hash": output_hash,
		"text": text,
		"tokens": generation.tokens,
		"finish": format!("{:?}", generation.finish),
	});
	out.print(&report, || {
		format!("{text}\n({} tokens, {:?})", generation.tokens.len(), generation.finish)
	});
	Ok(())
}
