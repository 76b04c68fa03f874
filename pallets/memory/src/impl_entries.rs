//! Entries: remembering and forgetting them, their deposits, and the space's commitment.

use crate::{
	AccountIdOf, Config, EmbeddingRequests, EmbeddingState, Embeddings, Entries, Entry,
	EntryContent, Error, Event, HoldReason, Leaves, Pallet, SpaceInfo, Spaces, WeightInfo,
};
use codec::Encode;
use frame_support::{ensure, traits::Get, weights::Weight};
use pallet_inference::InferenceProvider;
use sp_runtime::{DispatchError, DispatchResult, SaturatedConversion, Saturating};
use verity_primitives::{
	content_hash, entry_leaf, space_root, ContentKind, EntryId, RequestId, SpaceId, TensorMap,
};

impl<T: Config> Pallet<T> {
	/// Store an entry; returns how many entries the space holds now.
	pub(crate) fn do_remember(
		author: AccountIdOf<T>,
		space: SpaceId,
		content: alloc::vec::Vec<u8>,
		kind: ContentKind,
	) -> Result<u32, DispatchError> {
		let mut info = Self::writable_space(&author, space)?;
		ensure!(!content.is_empty(), Error::<T>::EmptyContent);
		let content: EntryContent<T> = content.try_into().map_err(|_| Error::<T>::EntryTooLarge)?;
		if kind == ContentKind::Text {
			ensure!(core::str::from_utf8(&content).is_ok(), Error::<T>::NotUtf8);
		}
		let mut leaves = Leaves::<T>::get(space);
		ensure!(info.entries < T::MaxEntriesPerSpace::get(), Error::<T>::SpaceFull);

		let deposit = Self::deposit_for(content.len());
		Self::hold(&HoldReason::EntryDeposit, &author, deposit)?;
		let entry = info.next_entry;
		let embedding = match kind {
			ContentKind::Text => {
				// The transaction is rolled back on error, releasing the deposit again. The
				// author pays its own embedding, so a writer's remember/forget loop costs the
				// writer, never the space's owner.
				let request = Self::request_embedding(&author, &info, &content)?;
				EmbeddingRequests::<T>::insert(request, (space, entry));
				EmbeddingState::Pending { request }
			},
			ContentKind::Bytes => EmbeddingState::NotEmbedded,
		};

		let content_hash = content_hash(&content);
		leaves
			.try_push((entry, entry_leaf(entry, kind, &content_hash)))
			.map_err(|_| Error::<T>::SpaceFull)?;
		info.root = space_root(leaves.iter().map(|(_, leaf)| *leaf));
		info.entries.saturating_inc();
		info.bytes.saturating_accrue(content.len() as u64);
		info.next_entry.saturating_inc();
		let (root, entries) = (info.root, info.entries);
		Leaves::<T>::insert(space, leaves);
		Spaces::<T>::insert(space, info);
		Entries::<T>::insert(
			space,
			entry,
			Entry {
				author: author.clone(),
				kind,
				content,
				content_hash,
				deposit,
				created_at: frame_system::Pallet::<T>::block_number(),
				embedding,
			},
		);
		let embedding_request = match embedding {
			EmbeddingState::Pending { request } => Some(request),
			_ => None,
		};
		Self::deposit_event(Event::Remembered {
			space,
			entry,
			author,
			content_hash,
			root,
			embedding_request,
		});
		Ok(entries)
	}

	/// Remove an entry; returns how many entries the space held before.
	pub(crate) fn do_forget(
		who: AccountIdOf<T>,
		space: SpaceId,
		entry: EntryId,
	) -> Result<u32, DispatchError> {
		let mut info = Self::writable_space(&who, space)?;
		let removed = Entries::<T>::take(space, entry).ok_or(Error::<T>::UnknownEntry)?;
		let before = info.entries;
		let mut leaves = Leaves::<T>::get(space);
		leaves.retain(|(id, _)| *id != entry);
		info.root = space_root(leaves.iter().map(|(_, leaf)| *leaf));
		info.entries.saturating_dec();
		info.bytes.saturating_reduce(removed.content.len() as u64);
		let root = info.root;
		Leaves::<T>::insert(space, leaves);
		Spaces::<T>::insert(space, info);
		Embeddings::<T>::remove(space, entry);
		if let Some(request) = removed.embedding.request() {
			EmbeddingRequests::<T>::remove(request);
		}
		Self::release(&HoldReason::EntryDeposit, &removed.author, removed.deposit);
		Self::deposit_event(Event::Forgotten { space, entry, root });
		Ok(before)
	}

	pub(crate) fn do_retry_embedding(
		who: AccountIdOf<T>,
		space: SpaceId,
		entry: EntryId,
	) -> DispatchResult {
		let info = Self::writable_space(&who, space)?;
		let mut stored = Entries::<T>::get(space, entry).ok_or(Error::<T>::UnknownEntry)?;
		let retryable = match stored.embedding {
			EmbeddingState::Failed { .. } => true,
			EmbeddingState::Pending { request } => matches!(
				T::Inference::outcome(request),
				pallet_inference::RequestOutcome::Failed
					| pallet_inference::RequestOutcome::Unknown
			),
			EmbeddingState::Ready { .. } | EmbeddingState::NotEmbedded => false,
		};
		ensure!(retryable, Error::<T>::EmbeddingNotRetryable);
		if let Some(request) = stored.embedding.request() {
			EmbeddingRequests::<T>::remove(request);
		}
		let request = Self::request_embedding(&who, &info, &stored.content)?;
		EmbeddingRequests::<T>::insert(request, (space, entry));
		stored.embedding = EmbeddingState::Pending { request };
		Entries::<T>::insert(space, entry, stored);
		Self::deposit_event(Event::EmbeddingRequested { space, entry, request });
		Ok(())
	}

	/// Open the inference request embedding `text` with the space's model, paid by its owner.
	/// Open the embedding request of `text` in the space's model, paid by `payer`: whoever
	/// caused it (the entry's author, or the caller retrying it).
	pub(crate) fn request_embedding(
		payer: &AccountIdOf<T>,
		info: &SpaceInfo<T>,
		text: &[u8],
	) -> Result<RequestId, DispatchError> {
		let input = TensorMap::text(text).encode();
		T::Inference::request(payer, info.embedding_model, input)
	}

	/// The deposit for `bytes` of content.
	pub(crate) fn deposit_for(bytes: usize) -> crate::BalanceOf<T> {
		T::DepositPerByte::get().saturating_mul(bytes.saturated_into())
	}

	/// The weight of `remember` with `length` bytes into a space that then holds `entries`;
	/// the benchmark measures text, embedding request included.
	pub fn remember_weight(length: u32, entries: u32) -> Weight {
		T::WeightInfo::remember(length.min(T::MaxEntryLen::get()), entries)
	}
}
