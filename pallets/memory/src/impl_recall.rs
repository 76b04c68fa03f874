//! Recall: the question's embedding, and the exact integer ranking of a space's entries.

use crate::{
	AccountIdOf, Config, Embedding, Embeddings, Error, Event, Pallet, RecallMatches, RecallQuery,
	SpaceInfo, Spaces, WeightInfo,
};
use codec::Encode;
use frame_support::{ensure, traits::Get, weights::Weight};
use pallet_inference::{InferenceProvider, RequestOutcome};
use sp_runtime::DispatchError;
use verity_primitives::{rank, EntryId, RequestId, Score, SpaceId, TensorMap};

/// Why a recall cannot be ranked.
#[derive(Clone, Copy, Eq, PartialEq, Debug, codec::Encode, codec::Decode, scale_info::TypeInfo)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub enum RecallError {
	/// No space has this id.
	UnknownSpace,
	/// `k` is 0 or above `MaxRecall`.
	InvalidK,
	/// The query request is not finalized yet.
	EmbeddingNotReady,
	/// The query request does not exist, failed, or is no ordinary inference request.
	UnknownQuery,
	/// The query request ran another model than the space's.
	QueryModelMismatch,
	/// The query request's output is not an embedding.
	MalformedEmbedding,
	/// The query request's output left state after its challenge period.
	QueryPruned,
}

impl<T: Config> From<RecallError> for Error<T> {
	fn from(error: RecallError) -> Self {
		match error {
			RecallError::UnknownSpace => Error::UnknownSpace,
			RecallError::InvalidK => Error::InvalidK,
			RecallError::EmbeddingNotReady => Error::EmbeddingNotReady,
			RecallError::UnknownQuery => Error::UnknownQuery,
			RecallError::QueryModelMismatch => Error::QueryModelMismatch,
			RecallError::MalformedEmbedding => Error::MalformedEmbedding,
			RecallError::QueryPruned => Error::QueryPruned,
		}
	}
}

impl<T: Config> Pallet<T> {
	/// Run a recall; returns how many entries were ranked (zero for a text question).
	pub(crate) fn do_recall(
		who: AccountIdOf<T>,
		space: SpaceId,
		query: &RecallQuery<T>,
		k: u32,
	) -> Result<u32, DispatchError> {
		let info = Self::readable_space(&who, space)?;
		ensure!(k > 0 && k <= T::MaxRecall::get(), Error::<T>::InvalidK);
		match query {
			RecallQuery::Text(text) => {
				ensure!(core::str::from_utf8(text).is_ok(), Error::<T>::NotUtf8);
				let input = TensorMap::text(text).encode();
				let request = T::Inference::request(&who, info.embedding_model, input)?;
				Self::deposit_event(Event::RecallRequested { space, request });
				Ok(0)
			},
			RecallQuery::Request(request) => {
				let embedding = Self::query_embedding(&info, *request).map_err(Error::<T>::from)?;
				let matches = Self::rank_space(space, &embedding, k);
				let matches: RecallMatches<T> =
					matches.try_into().map_err(|_| Error::<T>::InvalidK)?;
				Self::deposit_event(Event::Recalled { space, query_request: *request, matches });
				Ok(info.entries)
			},
		}
	}

	/// The embedding held by finalized request `request`, checked against the space's model.
	pub(crate) fn query_embedding(
		info: &SpaceInfo<T>,
		request: RequestId,
	) -> Result<Embedding<T>, RecallError> {
		match T::Inference::outcome(request) {
			RequestOutcome::Open => Err(RecallError::EmbeddingNotReady),
			RequestOutcome::Failed | RequestOutcome::Unknown => Err(RecallError::UnknownQuery),
			RequestOutcome::Pruned => Err(RecallError::QueryPruned),
			RequestOutcome::Finalized { model_id, output } => {
				ensure!(model_id == info.embedding_model, RecallError::QueryModelMismatch);
				Self::embedding_from_output(&output).ok_or(RecallError::MalformedEmbedding)
			},
		}
	}

	/// The `k` entries of `space` closest to `query`, best first.
	pub fn rank_space(space: SpaceId, query: &[i8], k: u32) -> alloc::vec::Vec<(EntryId, Score)> {
		let embeddings =
			Embeddings::<T>::iter_prefix(space).map(|(entry, e)| (entry, e.into_inner()));
		rank(query, embeddings, k as usize)
	}

	/// A recall's ranking by a finalized query request, as the runtime API serves it.
	pub fn recall_by_request(
		space: SpaceId,
		request: RequestId,
		k: u32,
	) -> Result<alloc::vec::Vec<(EntryId, Score)>, RecallError> {
		let info = Spaces::<T>::get(space).ok_or(RecallError::UnknownSpace)?;
		ensure!(k > 0 && k <= T::MaxRecall::get(), RecallError::InvalidK);
		let embedding = Self::query_embedding(&info, request)?;
		Ok(Self::rank_space(space, &embedding, k))
	}

	/// The ranking of a caller's own `embedding`, as the runtime API serves it: the chain
	/// vouches for the entries and the ranking, the caller for its embedding.
	pub fn rank_by_embedding(
		space: SpaceId,
		embedding: &[i8],
		k: u32,
	) -> Result<alloc::vec::Vec<(EntryId, Score)>, RecallError> {
		ensure!(Spaces::<T>::contains_key(space), RecallError::UnknownSpace);
		ensure!(k > 0 && k <= T::MaxRecall::get(), RecallError::InvalidK);
		ensure!(
			!embedding.is_empty() && embedding.len() as u32 <= T::MaxEmbeddingLen::get(),
			RecallError::MalformedEmbedding
		);
		Ok(Self::rank_space(space, embedding, k))
	}

	/// The weight of `recall` with `query` over a space of `entries` entries.
	pub fn recall_weight(query: &RecallQuery<T>, entries: u32) -> Weight {
		match query {
			RecallQuery::Text(_) => T::WeightInfo::recall_text(),
			RecallQuery::Request(_) => T::WeightInfo::recall(entries),
		}
	}
}
