//! Spaces: creating and deleting them, and who may do what in them.

use crate::{
	Access, AccountIdOf, BalanceOf, Config, Error, Event, Grants, HoldReason, NextSpaceId, Pallet,
	SpaceInfo, Spaces, WeightInfo,
};
use frame_support::{
	ensure,
	traits::{fungible::MutateHold, tokens::Precision, Get},
};
use pallet_inference::InferenceProvider;
use sp_core::H256;
use sp_runtime::{traits::Zero, DispatchError, DispatchResult, Saturating};
use verity_primitives::{ModelId, SpaceId};

impl<T: Config> Pallet<T> {
	pub(crate) fn do_create_space(
		owner: AccountIdOf<T>,
		embedding_model: ModelId,
	) -> Result<SpaceId, DispatchError> {
		ensure!(
			T::Inference::is_active_model(&embedding_model),
			Error::<T>::EmbeddingModelUnavailable
		);
		let deposit = T::SpaceDeposit::get();
		Self::hold(&HoldReason::SpaceDeposit, &owner, deposit)?;
		let space = NextSpaceId::<T>::mutate(|next| {
			let id = *next;
			*next = next.saturating_add(1);
			id
		});
		Spaces::<T>::insert(
			space,
			SpaceInfo {
				owner: owner.clone(),
				embedding_model,
				root: H256::zero(),
				entries: 0,
				bytes: 0,
				next_entry: 0,
				grants: 0,
				deposit,
			},
		);
		Self::deposit_event(Event::SpaceCreated { space, owner, embedding_model });
		Ok(space)
	}

	pub(crate) fn do_grant(
		owner: AccountIdOf<T>,
		space: SpaceId,
		who: AccountIdOf<T>,
		access: Access,
	) -> DispatchResult {
		let mut info = Self::owned_space(&owner, space)?;
		ensure!(who != owner, Error::<T>::OwnerAccessIsImplicit);
		if !Grants::<T>::contains_key(space, &who) {
			ensure!(info.grants < T::MaxGrantsPerSpace::get(), Error::<T>::TooManyGrants);
			info.grants.saturating_inc();
			Spaces::<T>::insert(space, info);
		}
		Grants::<T>::insert(space, &who, access);
		Self::deposit_event(Event::AccessGranted { space, who, access });
		Ok(())
	}

	pub(crate) fn do_revoke(
		owner: AccountIdOf<T>,
		space: SpaceId,
		who: AccountIdOf<T>,
	) -> DispatchResult {
		let mut info = Self::owned_space(&owner, space)?;
		ensure!(who != owner, Error::<T>::OwnerAccessIsImplicit);
		ensure!(Grants::<T>::take(space, &who).is_some(), Error::<T>::NoGrant);
		info.grants.saturating_dec();
		Spaces::<T>::insert(space, info);
		Self::deposit_event(Event::AccessRevoked { space, who });
		Ok(())
	}

	/// Delete an empty space; returns how many grants were removed with it.
	pub(crate) fn do_delete_space(
		owner: AccountIdOf<T>,
		space: SpaceId,
	) -> Result<u32, DispatchError> {
		let info = Self::owned_space(&owner, space)?;
		ensure!(info.entries == 0, Error::<T>::SpaceNotEmpty);
		let removed = Grants::<T>::clear_prefix(space, info.grants.saturating_add(1), None);
		crate::Leaves::<T>::remove(space);
		Spaces::<T>::remove(space);
		Self::release(&HoldReason::SpaceDeposit, &owner, info.deposit);
		Self::deposit_event(Event::SpaceDeleted { space });
		Ok(removed.unique)
	}

	/// The space, if `who` owns it.
	fn owned_space(who: &AccountIdOf<T>, space: SpaceId) -> Result<SpaceInfo<T>, DispatchError> {
		let info = Spaces::<T>::get(space).ok_or(Error::<T>::UnknownSpace)?;
		ensure!(&info.owner == who, Error::<T>::NotOwner);
		Ok(info)
	}

	/// The space, if `who` may write to it.
	pub(crate) fn writable_space(
		who: &AccountIdOf<T>,
		space: SpaceId,
	) -> Result<SpaceInfo<T>, DispatchError> {
		let info = Spaces::<T>::get(space).ok_or(Error::<T>::UnknownSpace)?;
		ensure!(
			&info.owner == who || Grants::<T>::get(space, who) == Some(Access::Write),
			Error::<T>::NoWriteAccess
		);
		Ok(info)
	}

	/// The space, if `who` may recall from it.
	pub(crate) fn readable_space(
		who: &AccountIdOf<T>,
		space: SpaceId,
	) -> Result<SpaceInfo<T>, DispatchError> {
		let info = Spaces::<T>::get(space).ok_or(Error::<T>::UnknownSpace)?;
		ensure!(
			&info.owner == who || Grants::<T>::contains_key(space, who),
			Error::<T>::NoReadAccess
		);
		Ok(info)
	}

	/// Hold `amount` from `who`, or fail with `InsufficientBalance`.
	pub(crate) fn hold(
		reason: &HoldReason,
		who: &AccountIdOf<T>,
		amount: BalanceOf<T>,
	) -> DispatchResult {
		if amount.is_zero() {
			return Ok(());
		}
		T::Currency::hold(&(*reason).into(), who, amount)
			.map_err(|_| Error::<T>::InsufficientBalance.into())
	}

	/// Release `amount` held from `who`.
	pub(crate) fn release(reason: &HoldReason, who: &AccountIdOf<T>, amount: BalanceOf<T>) {
		// The amount was held by this pallet and is tracked exactly, so all of it is there.
		let _ = T::Currency::release(&(*reason).into(), who, amount, Precision::BestEffort);
	}

	/// Checks of the configuration that `integrity_test` runs.
	pub(crate) fn check_integrity() {
		assert!(T::MaxEntryLen::get() > 0, "MaxEntryLen must be at least 1");
		assert!(T::MaxEntriesPerSpace::get() > 0, "MaxEntriesPerSpace must be at least 1");
		assert!(T::MaxRecall::get() > 0, "MaxRecall must be at least 1");
		assert!(T::MaxEmbeddingLen::get() > 0, "MaxEmbeddingLen must be at least 1");
		let max = T::BlockWeights::get().max_block;
		let full = T::MaxEntriesPerSpace::get();
		for (name, weight) in [
			("remember", Self::remember_weight(T::MaxEntryLen::get(), full)),
			("forget", T::WeightInfo::forget(full)),
			("recall", T::WeightInfo::recall(full)),
			("delete_space", T::WeightInfo::delete_space(T::MaxGrantsPerSpace::get())),
		] {
			assert!(weight.all_lt(max), "{name} does not fit in a block");
		}
	}
}
