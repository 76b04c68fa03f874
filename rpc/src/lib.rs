//! `inference_*` and `memory_*` RPC methods: the runtime APIs of the inference protocol and agent
//! memory over JSON-RPC.
//!
//! Every method takes an optional block hash and reads at the best block without one.

use codec::Codec;
use jsonrpsee::{
	core::RpcResult,
	proc_macros::rpc,
	types::{error::ErrorObject, ErrorObjectOwned},
};
use pallet_inference::runtime_api::{
	AssignmentView, ExecutorView, InferenceApi as InferenceRuntimeApi, RequestView,
};
use serde::Serialize;
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_core::H256;
use sp_runtime::traits::Block as BlockT;
use std::{marker::PhantomData, sync::Arc};
use verity_primitives::{ExecutorPublic, ModelId, ModelInfo, RequestId};

pub use memory::{Memory, MemoryApi, MemoryRpcApiServer};
pub use pallet_inference::runtime_api::InferenceApi;

pub mod memory;

/// The JSON-RPC error code of a failed runtime API call.
const RUNTIME_ERROR: i32 = 1;

/// Models in an `inference_models` page when the caller names no limit.
const DEFAULT_MODELS_PAGE: u32 = 100;

/// The inference protocol's reads.
#[rpc(server)]
pub trait InferenceRpcApi<BlockHash, AccountId, Balance, BlockNumber>
where
	AccountId: Serialize,
	Balance: Serialize,
	BlockNumber: Serialize,
{
	/// A request with its status, attestations and output.
	#[method(name = "inference_request")]
	fn get_request(
		&self,
		request_id: RequestId,
		at: Option<BlockHash>,
	) -> RpcResult<Option<RequestView<AccountId, Balance, BlockNumber>>>;

	/// A registered model.
	#[method(name = "inference_model")]
	fn get_model(
		&self,
		model_id: ModelId,
		at: Option<BlockHash>,
	) -> RpcResult<Option<ModelInfo<Balance, BlockNumber>>>;

	/// One page of the registered models: up to `limit` (default 100, at most 1000), from the
	/// first or the one after `start_after`. The next page starts after the last id returned;
	/// a page shorter than `limit` is the last.
	#[method(name = "inference_models")]
	fn get_models(
		&self,
		start_after: Option<ModelId>,
		limit: Option<u32>,
		at: Option<BlockHash>,
	) -> RpcResult<Vec<(ModelId, ModelInfo<Balance, BlockNumber>)>>;

	/// A registered executor.
	#[method(name = "inference_executor")]
	fn get_executor(
		&self,
		account: AccountId,
		at: Option<BlockHash>,
	) -> RpcResult<Option<ExecutorView<Balance, BlockNumber>>>;

	/// The jobs the executor holding `attestation_key` still has to answer.
	#[method(name = "inference_openAssignments")]
	fn get_open_assignments(
		&self,
		attestation_key: ExecutorPublic,
		at: Option<BlockHash>,
	) -> RpcResult<Vec<AssignmentView<BlockNumber>>>;

	/// The genesis hash bound into attestation payloads.
	#[method(name = "inference_genesisHash")]
	fn get_genesis_hash(&self, at: Option<BlockHash>) -> RpcResult<H256>;
}

/// The `inference_*` methods over a client.
pub struct Inference<C, Block> {
	client: Arc<C>,
	_block: PhantomData<Block>,
}

impl<C, Block> Inference<C, Block> {
	/// Serve the methods from `client`.
	pub fn new(client: Arc<C>) -> Self {
		Self { client, _block: PhantomData }
	}
}

/// A runtime API failure as a JSON-RPC error that says what failed.
fn runtime_error(method: &str, error: impl std::fmt::Debug) -> ErrorObjectOwned {
	ErrorObject::owned(
		RUNTIME_ERROR,
		format!("the runtime could not answer {method}"),
		Some(format!("{error:?}")),
	)
}

/// A parameter out of its range, as the JSON-RPC "invalid params" error saying why.
fn invalid_params(message: String) -> ErrorObjectOwned {
	ErrorObject::owned(jsonrpsee::types::error::INVALID_PARAMS_CODE, message, None::<()>)
}

impl<C, Block, AccountId, Balance, BlockNumber>
	InferenceRpcApiServer<Block::Hash, AccountId, Balance, BlockNumber> for Inference<C, Block>
where
	Block: BlockT,
	C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
	C::Api: InferenceRuntimeApi<Block, AccountId, Balance, BlockNumber>,
	AccountId: Codec + Serialize + Send + Sync + 'static,
	Balance: Codec + Serialize + Send + Sync + 'static,
	BlockNumber: Codec + Serialize + Send + Sync + 'static,
{
	fn get_request(
		&self,
		request_id: RequestId,
		at: Option<Block::Hash>,
	) -> RpcResult<Option<RequestView<AccountId, Balance, BlockNumber>>> {
		self.call("inference_request", at, |api, at| api.request(at, request_id))
	}

	fn get_model(
		&self,
		model_id: ModelId,
		at: Option<Block::Hash>,
	) -> RpcResult<Option<ModelInfo<Balance, BlockNumber>>> {
		self.call("inference_model", at, |api, at| api.model(at, model_id))
	}

	fn get_models(
		&self,
		start_after: Option<ModelId>,
		limit: Option<u32>,
		at: Option<Block::Hash>,
	) -> RpcResult<Vec<(ModelId, ModelInfo<Balance, BlockNumber>)>> {
		let limit = limit.unwrap_or(DEFAULT_MODELS_PAGE);
		if limit == 0 || limit > pallet_inference::runtime_api::MAX_MODELS_PAGE {
			return Err(invalid_params(format!(
				"limit must be between 1 and {}, got {limit}",
				pallet_inference::runtime_api::MAX_MODELS_PAGE
			)));
		}
		self.call("inference_models", at, |api, at| api.models(at, start_after, limit))
	}

	fn get_executor(
		&self,
		account: AccountId,
		at: Option<Block::Hash>,
	) -> RpcResult<Option<ExecutorView<Balance, BlockNumber>>> {
		self.call("inference_executor", at, |api, at| api.executor(at, account))
	}

	fn get_open_assignments(
		&self,
		attestation_key: ExecutorPublic,
		at: Option<Block::Hash>,
	) -> RpcResult<Vec<AssignmentView<BlockNumber>>> {
		self.call("inference_openAssignments", at, |api, at| {
			api.open_assignments(at, attestation_key)
		})
	}

	fn get_genesis_hash(&self, at: Option<Block::Hash>) -> RpcResult<H256> {
		self.call("inference_genesisHash", at, |api, at| api.genesis_hash(at))
	}
}

impl<C, Block> Inference<C, Block>
where
	Block: BlockT,
	C: ProvideRuntimeApi<Block> + HeaderBackend<Block>,
{
	/// Run one runtime API call at `at`, or at the best block.
	fn call<R>(
		&self,
		method: &str,
		at: Option<Block::Hash>,
		call: impl FnOnce(&sp_api::ApiRef<'_, C::Api>, Block::Hash) -> Result<R, sp_api::ApiError>,
	) -> RpcResult<R> {
		call_runtime(&*self.client, method, at, call)
	}
}

/// Run one runtime API call of `client` at `at`, or at its best block; a failure becomes a
/// JSON-RPC error naming `method`.
pub(crate) fn call_runtime<C, Block, R>(
	client: &C,
	method: &str,
	at: Option<Block::Hash>,
	call: impl FnOnce(&sp_api::ApiRef<'_, C::Api>, Block::Hash) -> Result<R, sp_api::ApiError>,
) -> RpcResult<R>
where
	Block: BlockT,
	C: ProvideRuntimeApi<Block> + HeaderBackend<Block>,
{
	let api = client.runtime_api();
	let at = at.unwrap_or_else(|| client.info().best_hash);
	call(&api, at).map_err(|error| runtime_error(method, error))
}
