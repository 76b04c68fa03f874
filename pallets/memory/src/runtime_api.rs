//! The reads agents and clients need, as a runtime API: spaces, entries with their leaves and
//! embeddings, and recall rankings anyone can recompute.

use crate::{
	impl_recall::RecallError, Access, BalanceOf, Config, EmbeddingState, Embeddings, Entries,
	Grants, Leaves, Pallet, Spaces,
};
use alloc::vec::Vec;
use codec::{Codec, Decode, Encode};
use frame_system::pallet_prelude::BlockNumberFor;
use scale_info::TypeInfo;
use sp_core::H256;
use verity_primitives::{entry_leaf, ContentKind, EntryId, ModelId, RequestId, Score, SpaceId};

/// A space as clients see it.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo)]
#[cfg_attr(feature = "std", derive(serde::Serialize))]
pub struct SpaceView<AccountId, Balance> {
	/// The space's id.
	pub space: SpaceId,
	/// Its owner.
	pub owner: AccountId,
	/// The model its text is embedded with.
	pub embedding_model: ModelId,
	/// The Merkle root over its entries' leaves.
	pub root: H256,
	/// How many entries it holds.
	pub entries: u32,
	/// Content bytes held.
	pub bytes: u64,
	/// The owner's deposit.
	pub deposit: Balance,
	/// The accounts granted access, and what they may do.
	pub grants: Vec<(AccountId, Access)>,
}

/// An entry as clients see it, with its leaf and embedding.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo)]
#[cfg_attr(feature = "std", derive(serde::Serialize))]
pub struct EntryView<AccountId, Balance, BlockNumber> {
	/// The entry's id.
	pub entry: EntryId,
	/// Who wrote it.
	pub author: AccountId,
	/// How its content is read.
	pub kind: ContentKind,
	/// The content.
	#[cfg_attr(feature = "std", serde(serialize_with = "hex_bytes"))]
	pub content: Vec<u8>,
	/// blake2-256 of the content.
	pub content_hash: H256,
	/// Its leaf in the space's commitment.
	pub leaf: H256,
	/// Its author's deposit.
	pub deposit: Balance,
	/// When it was remembered.
	pub created_at: BlockNumber,
	/// Where its embedding stands.
	pub embedding_state: EmbeddingState,
	/// The attached embedding, once there is one.
	pub embedding: Option<Vec<i8>>,
}

/// Bytes as `0x`-prefixed hex in JSON.
#[cfg(feature = "std")]
fn hex_bytes<S: serde::Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
	serializer.serialize_str(&sp_core::bytes::to_hex(bytes, false))
}

sp_api::decl_runtime_apis! {
	/// Reads of agent memory.
	pub trait MemoryApi<AccountId, Balance, BlockNumber>
	where
		AccountId: Codec,
		Balance: Codec,
		BlockNumber: Codec,
	{
		/// A space.
		fn space(space: SpaceId) -> Option<SpaceView<AccountId, Balance>>;
		/// Every entry of a space, in entry-id order (the order of the commitment's leaves).
		fn entries(space: SpaceId) -> Vec<EntryView<AccountId, Balance, BlockNumber>>;
		/// The `k` entries closest to the embedding finalized by `query_request`, best first.
		fn recall(space: SpaceId, query_request: RequestId, k: u32) -> Result<Vec<(EntryId, Score)>, RecallError>;
		/// The `k` entries closest to `embedding` (the caller's own embedding of its question,
		/// by the space's model), best first: the same ranking as `recall`, read without a
		/// transaction.
		fn rank(space: SpaceId, embedding: Vec<i8>, k: u32) -> Result<Vec<(EntryId, Score)>, RecallError>;
	}
}

impl<T: Config> Pallet<T> {
	/// The runtime API's view of a space.
	pub fn space_view(space: SpaceId) -> Option<SpaceView<T::AccountId, BalanceOf<T>>> {
		let info = Spaces::<T>::get(space)?;
		Some(SpaceView {
			space,
			owner: info.owner,
			embedding_model: info.embedding_model,
			root: info.root,
			entries: info.entries,
			bytes: info.bytes,
			deposit: info.deposit,
			grants: Grants::<T>::iter_prefix(space).collect(),
		})
	}

	/// The runtime API's view of a space's entries, in leaf order.
	pub fn entry_views(
		space: SpaceId,
	) -> Vec<EntryView<T::AccountId, BalanceOf<T>, BlockNumberFor<T>>> {
		Leaves::<T>::get(space)
			.into_iter()
			.filter_map(|(entry, leaf)| {
				let stored = Entries::<T>::get(space, entry)?;
				debug_assert_eq!(leaf, entry_leaf(entry, stored.kind, &stored.content_hash));
				Some(EntryView {
					entry,
					author: stored.author,
					kind: stored.kind,
					content: stored.content.into_inner(),
					content_hash: stored.content_hash,
					leaf,
					deposit: stored.deposit,
					created_at: stored.created_at,
					embedding_state: stored.embedding,
					embedding: Embeddings::<T>::get(space, entry).map(|e| e.into_inner()),
				})
			})
			.collect()
	}
}
