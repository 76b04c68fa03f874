//! The connection to a node: reads through the `inference_*` RPC methods, transactions through
//! subxt, signers from secret URIs.

use crate::CliError;
use serde_json::Value;
use subxt::{
	rpcs::{client::RpcClient, rpc_params},
	transactions::{Payload, TransactionStatus},
	OnlineClient, PolkadotConfig,
};
use subxt_signer::{sr25519::Keypair, SecretUri};

/// A connected node.
pub struct Chain {
	/// Transactions and storage.
	pub client: OnlineClient<PolkadotConfig>,
	/// The node's own RPC methods.
	pub rpc: RpcClient,
	/// The URL it was reached at.
	pub url: String,
}

impl Chain {
	/// Connect to `url`, saying plainly when nothing answers there.
	pub async fn connect(url: &str) -> Result<Self, CliError> {
		let unreachable = |error: &dyn std::fmt::Display| {
			CliError::new(format!("cannot reach a Verity node at {url}: {error}"))
		};
		let rpc = RpcClient::from_insecure_url(url).await.map_err(|e| unreachable(&e))?;
		let client = OnlineClient::<PolkadotConfig>::from_rpc_client(rpc.clone())
			.await
			.map_err(|e| unreachable(&e))?;
		Ok(Self { client, rpc, url: url.to_string() })
	}

	/// Call one of the node's RPC methods.
	pub async fn call(
		&self,
		method: &str,
		params: subxt::rpcs::client::RpcParams,
	) -> Result<Value, CliError> {
		self.rpc
			.request(method, params)
			.await
			.map_err(|error| CliError::new(format!("{method} failed at {}: {error}", self.url)))
	}

	/// Every registered model, `[id, info]` pairs read page by page through `inference_models`.
	pub async fn all_models(&self) -> Result<Vec<Value>, CliError> {
		const PAGE: u32 = 1000;
		let mut models = Vec::new();
		let mut start_after: Option<String> = None;
		loop {
			let page = self.call("inference_models", rpc_params![start_after, PAGE]).await?;
			let page = page.as_array().cloned().unwrap_or_default();
			let full = page.len() == PAGE as usize;
			start_after = page.last().and_then(|entry| entry[0].as_str().map(String::from));
			models.extend(page);
			if !full || start_after.is_none() {
				return Ok(models);
			}
		}
	}

	/// A request's view, or a clear error if there is none.
	pub async fn request(&self, request_id: u64) -> Result<Value, CliError> {
		let request = self.call("inference_request", rpc_params![request_id]).await?;
		if request.is_null() {
			return Err(CliError::new(format!("there is no request {request_id} on this chain")));
		}
		Ok(request)
	}

	/// A model's record, or a clear error if it is not registered.
	pub async fn model(&self, model_id: &str) -> Result<Value, CliError> {
		let model = self.call("inference_model", rpc_params![model_id]).await?;
		if model.is_null() {
			return Err(CliError::new(format!("model {model_id} is not registered on this chain")));
		}
		Ok(model)
	}

	/// Whether the chain is a development chain (where `//Alice` is a sensible default signer).
	pub async fn is_development(&self) -> Result<bool, CliError> {
		let chain_type = self.call("system_chainType", rpc_params![]).await?;
		Ok(chain_type == "Development" || chain_type == "Local")
	}

	/// The signer for `suri`, or `//Alice` on a development chain.
	pub async fn signer(&self, suri: Option<&str>) -> Result<Keypair, CliError> {
		let suri = match suri {
			Some(suri) => suri.to_string(),
			None if self.is_development().await? => "//Alice".to_string(),
			None => {
				return Err(CliError::new(
					"this is not a development chain: say who signs with --suri",
				))
			},
		};
		let uri: SecretUri = suri
			.parse()
			.map_err(|error| CliError::new(format!("--suri is not a secret URI: {error}")))?;
		Keypair::from_uri(&uri).map_err(|error| CliError::new(format!("--suri: {error}")))
	}

	/// Submit `payload` signed by `signer`; report each stage through `progress`; return the
	/// events of the extrinsic once it is in a block.
	pub async fn submit(
		&self,
		payload: &impl Payload,
		signer: &Keypair,
		mut progress: impl FnMut(&str),
	) -> Result<subxt::extrinsics::ExtrinsicEvents<PolkadotConfig>, CliError> {
		let mut transactions = self
			.client
			.transactions()
			.await
			.map_err(|error| CliError::new(format!("cannot read the chain state: {error}")))?;
		// The node's next index counts its pool and best block, so commands run one after
		// another never reuse a nonce (the default reads it at the finalized block).
		let account = signer.public_key().to_account_id().to_string();
		let nonce = self
			.call("system_accountNextIndex", rpc_params![account])
			.await?
			.as_u64()
			.ok_or_else(|| CliError::new("the node gave no account nonce"))?;
		let params = subxt::config::polkadot::PolkadotExtrinsicParamsBuilder::new()
			.nonce(nonce)
			.build();
		let mut watch = transactions
			.sign_and_submit_then_watch(payload, signer, params)
			.await
			.map_err(|error| CliError::new(explain_submission_error(&error.to_string())))?;
		progress("submitted");
		while let Some(status) = watch.next().await {
			let status =
				status.map_err(|error| CliError::new(format!("lost the transaction: {error}")))?;
			match status {
				TransactionStatus::InBestBlock(in_block)
				| TransactionStatus::InFinalizedBlock(in_block) => {
					progress("in block");
					return in_block.wait_for_success().await.map_err(|error| {
						CliError::new(explain_dispatch_error(&error.to_string()))
					});
				},
				TransactionStatus::Error { message }
				| TransactionStatus::Invalid { message }
				| TransactionStatus::Dropped { message } => {
					return Err(CliError::new(explain_submission_error(&message)))
				},
				_ => {},
			}
		}
		Err(CliError::new("the node stopped reporting on the transaction"))
	}
}

/// Turn a submission error into advice. The custom codes are `pallet_inference::QUEUE_FULL`
/// and `pallet_inference::TOO_FEW_EXECUTORS`, which the pool gives before inclusion (no fee).
fn explain_submission_error(error: &str) -> String {
	if error.contains("Inability to pay some fees") {
		return format!("the signer cannot pay the transaction fee (insufficient funds): {error}");
	}
	match custom_code(error) {
		Some(1) => format!(
			"the assignment queue is full; no fee was charged, try again in a few blocks: {error}"
		),
		Some(2) => format!(
			"the model's pool holds fewer executors than its redundancy; no fee was charged, \
			 try again when more executors serve it: {error}"
		),
		_ => format!("the node refused the transaction: {error}"),
	}
}

/// The custom validity code in a node's refusal, if it gives one: "Custom error: N" in the
/// node's RPC error, "Invalid transaction with custom error: N" as the client reports it.
fn custom_code(error: &str) -> Option<u8> {
	let lowered = error.to_ascii_lowercase();
	let (_, rest) = lowered.split_once("custom error: ")?;
	let digits = rest.chars().take_while(char::is_ascii_digit).collect::<String>();
	digits.parse().ok()
}

/// Turn a dispatch error into advice; pallet errors are named.
fn explain_dispatch_error(error: &str) -> String {
	if error.contains("InsufficientBalance") {
		format!("the signer cannot afford this (insufficient funds): {error}")
	} else {
		format!("the chain refused the call: {error}")
	}
}

/// Bytes of `0x`-prefixed hex.
pub fn from_hex(hex: &str) -> Result<Vec<u8>, CliError> {
	sp_core::bytes::from_hex(hex).map_err(|_| CliError::new(format!("{hex:?} is not hex")))
}

#[cfg(test)]
mod tests {
	use super::explain_submission_error;

	#[test]
	fn pool_refusals_say_what_was_wrong_and_that_no_fee_was_charged() {
		let full = explain_submission_error("Invalid Transaction: Custom error: 1");
		assert!(full.starts_with("the assignment queue is full; no fee was charged"), "{full}");
		let short = explain_submission_error("Invalid transaction with custom error: 2");
		assert!(short.starts_with("the model's pool holds fewer executors"), "{short}");
		assert!(short.contains("no fee was charged"), "{short}");
		let other = explain_submission_error("Invalid Transaction: Custom error: 12");
		assert!(other.starts_with("the node refused the transaction"), "{other}");
	}
}
