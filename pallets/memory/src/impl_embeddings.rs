//! Embeddings: reading one out of a finalized output and attaching it to its entry, and
//! correcting it when a challenge overturns that output.

use crate::{
	Config, Embedding, EmbeddingRequests, EmbeddingState, Embeddings, Entries, Entry, Event,
	Pallet, WeightInfo,
};
use frame_support::{traits::Get, weights::Weight};
use pallet_inference::OnRequestFinalized;
use verity_primitives::{DType, EntryId, ModelId, RequestId, SpaceId, TensorMap, EMBEDDING_OUTPUT};

impl<T: Config> Pallet<T> {
	/// The embedding an embedding model's canonical output holds: its `embedding` tensor,
	/// `i8`, shape `[1, dimensions]` or `[dimensions]`, at most `MaxEmbeddingLen` values.
	pub fn embedding_from_output(output: &[u8]) -> Option<Embedding<T>> {
		let map = TensorMap::decode_canonical(output).ok()?;
		let tensor = map.get(EMBEDDING_OUTPUT.as_bytes())?;
		let single = matches!(tensor.shape.as_slice(), [_] | [1, _]);
		if tensor.dtype != DType::I8 || !single || tensor.data.is_empty() {
			return None;
		}
		let values: alloc::vec::Vec<i8> = tensor.data.iter().map(|byte| *byte as i8).collect();
		values.try_into().ok()
	}

	/// Attach the embedding of a finalized request to the entry that asked for it, if any.
	pub(crate) fn attach_embedding(request: RequestId, output: &[u8]) {
		let Some((space, entry)) = EmbeddingRequests::<T>::get(request) else { return };
		let Some(mut stored) = Entries::<T>::get(space, entry) else { return };
		if stored.embedding != (EmbeddingState::Pending { request }) {
			return;
		}
		let event = if Self::take_embedding(space, entry, &mut stored, request, output) {
			Event::EmbeddingAttached { space, entry, request }
		} else {
			Event::EmbeddingRejected { space, entry, request }
		};
		Entries::<T>::insert(space, entry, stored);
		Self::deposit_event(event);
	}

	/// Replace the embedding an entry took from request `request`, whose output a challenge
	/// overturned, by the one the corrected output holds (or mark it failed if it holds none).
	pub(crate) fn correct_embedding(request: RequestId, corrected: &[u8]) {
		let Some((space, entry)) = EmbeddingRequests::<T>::get(request) else { return };
		let Some(mut stored) = Entries::<T>::get(space, entry) else { return };
		let settled = matches!(
			stored.embedding,
			EmbeddingState::Ready { .. } | EmbeddingState::Failed { .. }
		);
		if !settled || stored.embedding.request() != Some(request) {
			return;
		}
		let event = if Self::take_embedding(space, entry, &mut stored, request, corrected) {
			Event::EmbeddingCorrected { space, entry, request }
		} else {
			Event::EmbeddingRejected { space, entry, request }
		};
		Entries::<T>::insert(space, entry, stored);
		Self::deposit_event(event);
	}

	/// Make the embedding `output` holds entry `entry`'s, from request `request`, or mark the
	/// entry failed (without an embedding) if `output` holds none. Returns whether it held one;
	/// the caller stores `stored`.
	fn take_embedding(
		space: SpaceId,
		entry: EntryId,
		stored: &mut Entry<T>,
		request: RequestId,
		output: &[u8],
	) -> bool {
		match Self::embedding_from_output(output) {
			Some(embedding) => {
				Embeddings::<T>::insert(space, entry, embedding);
				stored.embedding = EmbeddingState::Ready { request };
				true
			},
			None => {
				Embeddings::<T>::remove(space, entry);
				stored.embedding = EmbeddingState::Failed { request };
				false
			},
		}
	}
}

impl<T: Config> OnRequestFinalized for Pallet<T> {
	fn on_request_finalized(request: RequestId, _model_id: &ModelId, output: &[u8]) -> Weight {
		if EmbeddingRequests::<T>::contains_key(request) {
			Self::attach_embedding(request, output);
			T::WeightInfo::attach_embedding()
		} else {
			T::DbWeight::get().reads(1)
		}
	}

	fn on_output_corrected(request: RequestId, _model_id: &ModelId, corrected: &[u8]) -> Weight {
		if EmbeddingRequests::<T>::contains_key(request) {
			Self::correct_embedding(request, corrected);
			T::WeightInfo::correct_embedding()
		} else {
			T::DbWeight::get().reads(1)
		}
	}

	fn weight() -> Weight {
		T::WeightInfo::attach_embedding().max(T::WeightInfo::correct_embedding())
	}
}
