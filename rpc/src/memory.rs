//! `memory_*` RPC methods: agent memory's runtime API over JSON-RPC.
//!
//! Every method takes an optional block hash and reads at the best block without one; a client
//! checking a Merkle proof or a recall reads at one block throughout.

use codec::Codec;
use jsonrpsee::{core::RpcResult, proc_macros::rpc, types::error::ErrorObject};
use pallet_memory::runtime_api::{EntryView, MemoryApi as MemoryRuntimeApi, SpaceView};
use serde::Serialize;
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_runtime::traits::Block as BlockT;
use std::{marker::PhantomData, sync::Arc};
use verity_primitives::{EntryId, RequestId, Score, SpaceId};

pub use pallet_memory::runtime_api::MemoryApi;

/// The JSON-RPC error code of a recall the runtime refused.
const RECALL_REFUSED: i32 = 2;

/// Agent memory's reads.
#[rpc(server)]
pub trait MemoryRpcApi<BlockHash, AccountId, Balance, BlockNumber>
where
	AccountId: Serialize,
	Balance: Serialize,
	BlockNumber: Serialize,
{
	/// A space: owner, model, commitment root, counts and grants.
	#[method(name = "memory_space")]
	fn get_space(
		&self,
		space: SpaceId,
		at: Option<BlockHash>,
	) -> RpcResult<Option<SpaceView<AccountId, Balance>>>;

	/// Every entry of a space in leaf order, with leaves and embeddings.
	#[method(name = "memory_entries")]
	fn get_entries(
		&self,
		space: SpaceId,
		at: Option<BlockHash>,
	) -> RpcResult<Vec<EntryView<AccountId, Balance, BlockNumber>>>;

	/// The `k` entries closest to the embedding finalized by `query_request`, best first.
	#[method(name = "memory_recall")]
	fn get_recall(
		&self,
		space: SpaceId,
		query_request: RequestId,
		k: u32,
		at: Option<BlockHash>,
	) -> RpcResult<Vec<(EntryId, Score)>>;

	/// The `k` entries closest to `embedding` (the caller's own embedding of its question, by
	/// the space's model), best first; no transaction.
	#[method(name = "memory_rank")]
	fn get_rank(
		&self,
		space: SpaceId,
		embedding: Vec<i8>,
		k: u32,
		at: Option<BlockHash>,
	) -> RpcResult<Vec<(EntryId, Score)>>;
}

/// The `memory_*` methods over a client.
pub struct Memory<C, Block> {
	client: Arc<C>,
	_block: PhantomData<Block>,
}

impl<C, Block> Memory<C, Block> {
	/// Serve the methods from `client`.
	pub fn new(client: Arc<C>) -> Self {
		Self { client, _block: PhantomData }
	}
}

impl<C, Block, AccountId, Balance, BlockNumber>
	MemoryRpcApiServer<Block::Hash, AccountId, Balance, BlockNumber> for Memory<C, Block>
where
	Block: BlockT,
	C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
	C::Api: MemoryRuntimeApi<Block, AccountId, Balance, BlockNumber>,
	AccountId: Codec + Serialize + Send + Sync + 'static,
	Balance: Codec + Serialize + Send + Sync + 'static,
	BlockNumber: Codec + Serialize + Send + Sync + 'static,
{
	fn get_space(
		&self,
		space: SpaceId,
		at: Option<Block::Hash>,
	) -> RpcResult<Option<SpaceView<AccountId, Balance>>> {
		self.call("memory_space", at, |api, at| api.space(at, space))
	}

	fn get_entries(
		&self,
		space: SpaceId,
		at: Option<Block::Hash>,
	) -> RpcResult<Vec<EntryView<AccountId, Balance, BlockNumber>>> {
		self.call("memory_entries", at, |api, at| api.entries(at, space))
	}

	fn get_recall(
		&self,
		space: SpaceId,
		query_request: RequestId,
		k: u32,
		at: Option<Block::Hash>,
	) -> RpcResult<Vec<(EntryId, Score)>> {
		self.call("memory_recall", at, |api, at| api.recall(at, space, query_request, k))?
			.map_err(|refusal| {
				ErrorObject::owned(
					RECALL_REFUSED,
					format!("recall refused: {refusal:?}"),
					Some(format!("space {space}, query request {query_request}, k {k}")),
				)
			})
	}

	fn get_rank(
		&self,
		space: SpaceId,
		embedding: Vec<i8>,
		k: u32,
		at: Option<Block::Hash>,
	) -> RpcResult<Vec<(EntryId, Score)>> {
		let length = embedding.len();
		self.call("memory_rank", at, |api, at| api.rank(at, space, embedding, k))?
			.map_err(|refusal| {
				ErrorObject::owned(
					RECALL_REFUSED,
					format!("ranking refused: {refusal:?}"),
					Some(format!("space {space}, embedding of {length} values, k {k}")),
				)
			})
	}
}

impl<C, Block> Memory<C, Block>
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
		crate::call_runtime(&*self.client, method, at, call)
	}
}
