//! The pallet's stored types and the aliases they are written in.

use crate::Config;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	traits::fungible::Inspect, BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use frame_system::pallet_prelude::BlockNumberFor;
use scale_info::TypeInfo;
use sp_core::H256;
use verity_primitives::{ContentKind, EntryId, ModelId, RequestId};

/// The balance type of the configured currency.
pub type BalanceOf<T> =
	<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// An account of this runtime.
pub type AccountIdOf<T> = <T as frame_system::Config>::AccountId;

/// An entry's content.
pub type EntryContent<T> = BoundedVec<u8, <T as Config>::MaxEntryLen>;

/// An entry's quantized embedding.
pub type Embedding<T> = BoundedVec<i8, <T as Config>::MaxEmbeddingLen>;

/// The leaves of a space's commitment, `(entry, leaf)` in entry-id order.
pub type SpaceLeaves<T> = BoundedVec<(EntryId, H256), <T as Config>::MaxEntriesPerSpace>;

/// A recall's result: `(entry, score)`, best first.
pub type RecallMatches<T> =
	BoundedVec<(EntryId, verity_primitives::Score), <T as Config>::MaxRecall>;

/// What an account other than the owner may do in a space.
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub enum Access {
	/// Recall on-chain. (Entries are public chain state: keep secrets encrypted client-side.)
	Read,
	/// Recall, remember and forget.
	Write,
}

/// A memory space.
#[derive(
	CloneNoBound, Encode, Decode, EqNoBound, PartialEqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
pub struct SpaceInfo<T: Config> {
	/// The agent account that owns it, pays its embeddings and holds its deposit.
	pub owner: AccountIdOf<T>,
	/// The registered model its entries and queries are embedded with.
	pub embedding_model: ModelId,
	/// The Merkle root over its entries' leaves ([`verity_primitives::space_root`]).
	pub root: H256,
	/// How many entries it holds.
	pub entries: u32,
	/// Content bytes its entries hold, each under a deposit of `DepositPerByte`.
	pub bytes: u64,
	/// The id the next entry gets.
	pub next_entry: EntryId,
	/// How many accounts have been granted access.
	pub grants: u32,
	/// Held from the owner under `HoldReason::SpaceDeposit`.
	pub deposit: BalanceOf<T>,
}

/// Where an entry's embedding stands.
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub enum EmbeddingState {
	/// Opaque bytes are never embedded.
	NotEmbedded,
	/// Waiting for inference request `request` to be finalized.
	Pending {
		/// The embedding request.
		request: RequestId,
	},
	/// Attached from the finalized request `request`.
	Ready {
		/// The request whose agreed output it is.
		request: RequestId,
	},
	/// Request `request` was finalized with an output that is no valid embedding, or failed;
	/// `retry_embedding` opens a new one.
	Failed {
		/// The request that failed.
		request: RequestId,
	},
}

impl EmbeddingState {
	/// The embedding request the entry waits for, or whose output it holds or rejected.
	pub fn request(&self) -> Option<RequestId> {
		match self {
			Self::Pending { request } | Self::Ready { request } | Self::Failed { request } => {
				Some(*request)
			},
			Self::NotEmbedded => None,
		}
	}
}

/// One remembered entry.
#[derive(
	CloneNoBound, Encode, Decode, EqNoBound, PartialEqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
pub struct Entry<T: Config> {
	/// Who wrote it and holds its deposit.
	pub author: AccountIdOf<T>,
	/// How its content is read.
	pub kind: ContentKind,
	/// The content.
	pub content: EntryContent<T>,
	/// blake2-256 of `content`.
	pub content_hash: H256,
	/// Held from `author` under `HoldReason::EntryDeposit`: `content.len() * DepositPerByte`.
	pub deposit: BalanceOf<T>,
	/// The block it was remembered in.
	pub created_at: BlockNumberFor<T>,
	/// Where its embedding stands; the embedding itself is in `Embeddings`.
	pub embedding: EmbeddingState,
}

/// What a recall is asked with.
#[derive(
	CloneNoBound,
	Encode,
	Decode,
	DecodeWithMemTracking,
	EqNoBound,
	PartialEqNoBound,
	DebugNoBound,
	TypeInfo,
)]
#[scale_info(skip_type_params(T))]
pub enum RecallQuery<T: Config> {
	/// A question in plain text: opens an inference request for its embedding, paid by the
	/// caller. Recall with `Request` once it is finalized.
	Text(BoundedVec<u8, <T as Config>::MaxQueryLen>),
	/// A finalized inference request of the space's embedding model: rank now.
	Request(RequestId),
}
