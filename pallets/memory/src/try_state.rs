//! The pallet's invariants, checked after every unit test and by `try-runtime`.

use crate::{
	AccountIdOf, BalanceOf, Config, EmbeddingRequests, EmbeddingState, Embeddings, Entries, Grants,
	HoldReason, Leaves, Pallet, Spaces,
};
use alloc::collections::btree_map::BTreeMap;
use frame_support::{ensure, traits::fungible::InspectHold};
use sp_runtime::{Saturating, TryRuntimeError};
use verity_primitives::{entry_leaf, space_root};

impl<T: Config> Pallet<T> {
	/// Check every invariant of agent memory.
	pub fn do_try_state() -> Result<(), TryRuntimeError> {
		let mut entry_bytes: BTreeMap<AccountIdOf<T>, u64> = BTreeMap::new();
		let mut space_deposits: BTreeMap<AccountIdOf<T>, BalanceOf<T>> = BTreeMap::new();
		for (space, info) in Spaces::<T>::iter() {
			let leaves = Leaves::<T>::get(space);
			ensure!(leaves.len() as u32 == info.entries, "leaf count differs from entry count");
			ensure!(
				leaves.windows(2).all(|pair| pair[0].0 < pair[1].0),
				"leaves are not in entry-id order"
			);
			ensure!(
				info.root == space_root(leaves.iter().map(|(_, leaf)| *leaf)),
				"the root does not match the entries"
			);
			let mut bytes = 0u64;
			for (entry, leaf) in leaves.iter() {
				let stored = Entries::<T>::get(space, entry).ok_or("a leaf has no entry")?;
				ensure!(*entry < info.next_entry, "an entry id was never handed out");
				ensure!(
					*leaf == entry_leaf(*entry, stored.kind, &stored.content_hash),
					"a leaf does not commit to its entry"
				);
				ensure!(
					stored.content_hash == verity_primitives::content_hash(&stored.content),
					"a content hash is wrong"
				);
				ensure!(
					stored.deposit == Self::deposit_for(stored.content.len()),
					"an entry's deposit is not its bytes times the rate"
				);
				bytes.saturating_accrue(stored.content.len() as u64);
				entry_bytes
					.entry(stored.author.clone())
					.or_default()
					.saturating_accrue(stored.content.len() as u64);
				let embedded = Embeddings::<T>::contains_key(space, entry);
				match stored.embedding {
					EmbeddingState::Ready { .. } => {
						ensure!(embedded, "a ready entry has no embedding")
					},
					_ => ensure!(!embedded, "an entry without a ready embedding has one"),
				}
				if let Some(request) = stored.embedding.request() {
					ensure!(
						EmbeddingRequests::<T>::get(request) == Some((space, *entry)),
						"an entry's embedding request is not tracked"
					);
				}
			}
			ensure!(
				Entries::<T>::iter_key_prefix(space).count() as u32 == info.entries,
				"an entry has no leaf"
			);
			ensure!(bytes == info.bytes, "the space's byte count is wrong");
			ensure!(
				Grants::<T>::iter_key_prefix(space).count() as u32 == info.grants,
				"the grant count is wrong"
			);
			let owned = space_deposits.entry(info.owner.clone()).or_default();
			*owned = owned.saturating_add(info.deposit);
		}
		for (request, (space, entry)) in EmbeddingRequests::<T>::iter() {
			let stored = Entries::<T>::get(space, entry).ok_or("a tracked request has no entry")?;
			ensure!(
				stored.embedding.request() == Some(request),
				"a tracked request is not its entry's embedding request"
			);
		}
		for (author, bytes) in entry_bytes {
			ensure!(
				T::Currency::balance_on_hold(&HoldReason::EntryDeposit.into(), &author)
					== Self::deposit_for(bytes as usize),
				"entry deposits held differ from bytes stored times the rate"
			);
		}
		for (owner, deposit) in space_deposits {
			ensure!(
				T::Currency::balance_on_hold(&HoldReason::SpaceDeposit.into(), &owner) == deposit,
				"space deposits held differ from the spaces' deposits"
			);
		}
		Ok(())
	}
}
