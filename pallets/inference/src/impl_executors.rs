//! Executors: registration, bonds, model sets, key rotation, unbonding, eviction.
//!
//! A key is registered only with a proof that the caller holds it: a signature by the key
//! over [`verity_primitives::key_ownership_message`] (the domain tag, the genesis hash and the
//! caller's account). Without it, anyone could register another executor's key: its
//! attestations would then be claimed by, and paid to, the wrong account, or the real owner
//! locked out of registering its own key. The proof names the account and the chain, so it
//! cannot be replayed by another account or on another chain.
//!
//! A model's pool holds at most `MaxExecutorsPerModel` executors, ranked by bond: when it is
//! full, an executor with a larger bond displaces the member with the smallest one
//! (`ExecutorDisplaced`), so the first comers cannot hold a pool for good. A member slashed
//! below `MinExecutorBond`, or out for missed assignments, leaves every pool
//! (`ExecutorEvicted`); topping the bond back up with `bond_extra`, or `update_executor` with
//! its models, brings it back where there is room.

use crate::{
	AccountIdOf, Assignments, BalanceOf, Config, Error, Event, EvictionReason, ExecutorByKey,
	ExecutorInfo, ExecutorModels, ExecutorStats, ExecutorStatus, HoldReason, ModelExecutors,
	Models, Pallet,
};
use alloc::collections::BTreeSet;
use frame_support::{ensure, pallet_prelude::DispatchResult, traits::Get};
use sp_runtime::RuntimeAppPublic;
use sp_runtime::{traits::Saturating, DispatchError};
use verity_primitives::{
	key_ownership_message, ExecutorPublic, ExecutorSignature, ModelId, ModelStatus,
};

impl<T: Config> Pallet<T> {
	pub(crate) fn do_register_executor(
		who: AccountIdOf<T>,
		attestation_key: ExecutorPublic,
		models: ExecutorModels<T>,
		bond: BalanceOf<T>,
	) -> DispatchResult {
		ensure!(!crate::Executors::<T>::contains_key(&who), Error::<T>::ExecutorAlreadyRegistered);
		ensure!(
			!ExecutorByKey::<T>::contains_key(&attestation_key),
			Error::<T>::AttestationKeyInUse
		);
		ensure!(bond >= T::MinExecutorBond::get(), Error::<T>::BondTooLow);
		Self::ensure_servable(&models)?;
		Self::ensure_pools_have_room(&who, &models, bond)?;
		Self::hold(&HoldReason::ExecutorBond, &who, bond)?;

		ExecutorByKey::<T>::insert(&attestation_key, &who);
		crate::Executors::<T>::insert(
			&who,
			ExecutorInfo {
				attestation_key: attestation_key.clone(),
				models: models.clone(),
				bond,
				status: ExecutorStatus::Active,
				stats: ExecutorStats::default(),
				open_assignments: 0,
			},
		);
		Self::join_pools(&who, &models, bond)?;
		Self::deposit_event(Event::ExecutorRegistered { executor: who, attestation_key, bond });
		Ok(())
	}

	/// Check that `proof` is `key`'s signature over `who`'s key ownership message.
	pub(crate) fn ensure_key_proof(
		who: &AccountIdOf<T>,
		key: &ExecutorPublic,
		proof: &ExecutorSignature,
	) -> DispatchResult {
		let message = key_ownership_message(who, Self::genesis_hash());
		ensure!(key.verify(&message, proof), Error::<T>::BadKeyProof);
		Ok(())
	}

	pub(crate) fn do_update_executor(
		who: AccountIdOf<T>,
		attestation_key: Option<ExecutorPublic>,
		key_proof: Option<ExecutorSignature>,
		models: Option<ExecutorModels<T>>,
	) -> DispatchResult {
		let mut executor = Self::active_executor(&who)?;
		if let Some(key) = attestation_key {
			let proof = key_proof.ok_or(Error::<T>::BadKeyProof)?;
			Self::ensure_key_proof(&who, &key, &proof)?;
			ensure!(!Self::has_open_assignments(&who), Error::<T>::HasOpenAssignments);
			if key != executor.attestation_key {
				ensure!(!ExecutorByKey::<T>::contains_key(&key), Error::<T>::AttestationKeyInUse);
				ExecutorByKey::<T>::remove(&executor.attestation_key);
				ExecutorByKey::<T>::insert(&key, &who);
				executor.attestation_key = key;
			}
		}
		if let Some(models) = models {
			Self::ensure_servable(&models)?;
			Self::ensure_pools_have_room(&who, &models, executor.bond)?;
			Self::leave_pools(&who, &executor.models);
			Self::join_pools(&who, &models, executor.bond)?;
			executor.models = models;
			// Rejoining the pools after an eviction starts a fresh run.
			executor.stats.consecutive_misses = 0;
		}
		crate::Executors::<T>::insert(&who, executor);
		Self::deposit_event(Event::ExecutorUpdated { executor: who });
		Ok(())
	}

	pub(crate) fn do_bond_extra(who: AccountIdOf<T>, amount: BalanceOf<T>) -> DispatchResult {
		let mut executor = Self::active_executor(&who)?;
		Self::hold(&HoldReason::ExecutorBond, &who, amount)?;
		executor.bond = executor.bond.saturating_add(amount);
		let bond = executor.bond;
		let models = executor.models.clone();
		crate::Executors::<T>::insert(&who, executor);
		Self::deposit_event(Event::ExecutorBonded { executor: who.clone(), bond });
		// Back above the minimum: rejoin the pools it was evicted from, where there is room.
		if bond >= T::MinExecutorBond::get() {
			for model_id in &models {
				let _ = Self::join_pool(&who, model_id, bond);
			}
		}
		Ok(())
	}

	pub(crate) fn do_unregister_executor(who: AccountIdOf<T>) -> DispatchResult {
		let mut executor = Self::active_executor(&who)?;
		ensure!(!Self::has_open_assignments(&who), Error::<T>::HasOpenAssignments);
		Self::leave_pools(&who, &executor.models);
		let until =
			frame_system::Pallet::<T>::block_number().saturating_add(T::UnbondingPeriod::get());
		executor.status = ExecutorStatus::Unbonding { until };
		crate::Executors::<T>::insert(&who, executor);
		Self::deposit_event(Event::ExecutorUnregistered { executor: who, until });
		Ok(())
	}

	pub(crate) fn do_withdraw_bond(who: AccountIdOf<T>) -> DispatchResult {
		let executor = crate::Executors::<T>::get(&who).ok_or(Error::<T>::NotExecutor)?;
		let ExecutorStatus::Unbonding { until } = executor.status else {
			return Err(Error::<T>::NotUnbonding.into());
		};
		ensure!(frame_system::Pallet::<T>::block_number() >= until, Error::<T>::StillUnbonding);
		let amount = Self::release_bond(&who, executor.bond)?;
		ExecutorByKey::<T>::remove(&executor.attestation_key);
		crate::Executors::<T>::remove(&who);
		Self::deposit_event(Event::ExecutorBondWithdrawn { executor: who, amount });
		Ok(())
	}

	/// The executor record of `who`, if it is registered and not unbonding.
	fn active_executor(who: &AccountIdOf<T>) -> Result<ExecutorInfo<T>, DispatchError> {
		let executor = crate::Executors::<T>::get(who).ok_or(Error::<T>::NotExecutor)?;
		ensure!(executor.status == ExecutorStatus::Active, Error::<T>::ExecutorUnbonding);
		Ok(executor)
	}

	/// Take `who` out of every pool: after `MaxConsecutiveMisses` missed assignments in a
	/// row (an executor that is offline should not keep being drawn, delaying requests), or a
	/// slash below `MinExecutorBond`. It stays registered and bonded, and rejoins with
	/// `bond_extra` or `update_executor`.
	pub(crate) fn evict(who: &AccountIdOf<T>, reason: EvictionReason) {
		let Some(executor) = crate::Executors::<T>::get(who) else { return };
		let in_a_pool = executor
			.models
			.iter()
			.any(|model_id| ModelExecutors::<T>::get(model_id).contains(who));
		if in_a_pool {
			Self::leave_pools(who, &executor.models);
			Self::deposit_event(Event::ExecutorEvicted { executor: who.clone(), reason });
		}
	}

	/// Whether `executor` may be drawn for new work.
	pub(crate) fn is_live(executor: &ExecutorInfo<T>) -> bool {
		executor.status == ExecutorStatus::Active && executor.bond >= T::MinExecutorBond::get()
	}

	/// The models are non-empty, unique, registered and not retired.
	fn ensure_servable(models: &ExecutorModels<T>) -> DispatchResult {
		ensure!(!models.is_empty(), Error::<T>::NoModels);
		let mut seen = BTreeSet::new();
		for model_id in models {
			ensure!(seen.insert(model_id), Error::<T>::DuplicateModel);
			let model = Models::<T>::get(model_id).ok_or(Error::<T>::UnknownModel)?;
			ensure!(model.status != ModelStatus::Retired, Error::<T>::ModelRetired);
		}
		Ok(())
	}

	/// Every model `who` would newly join, with `bond`, has room for it: a free place, or a
	/// member with a smaller bond to displace.
	fn ensure_pools_have_room(
		who: &AccountIdOf<T>,
		models: &ExecutorModels<T>,
		bond: BalanceOf<T>,
	) -> DispatchResult {
		for model_id in models {
			let pool = ModelExecutors::<T>::get(model_id);
			let room = pool.contains(who)
				|| (pool.len() as u32) < T::MaxExecutorsPerModel::get()
				|| Self::smallest_member(&pool).is_some_and(|(_, smallest)| smallest < bond);
			ensure!(room, Error::<T>::TooManyExecutorsForModel);
		}
		Ok(())
	}

	/// The member of `pool` with the smallest bond (the latest to join among equals), and its
	/// bond.
	fn smallest_member(pool: &[AccountIdOf<T>]) -> Option<(usize, BalanceOf<T>)> {
		pool.iter()
			.enumerate()
			.map(|(index, member)| {
				let bond = crate::Executors::<T>::get(member).map(|e| e.bond).unwrap_or_default();
				(index, bond)
			})
			.min_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
	}

	fn join_pools(
		who: &AccountIdOf<T>,
		models: &ExecutorModels<T>,
		bond: BalanceOf<T>,
	) -> DispatchResult {
		for model_id in models {
			Self::join_pool(who, model_id, bond)?;
		}
		Ok(())
	}

	/// Put `who`, bonded `bond`, in `model_id`'s pool: in a free place, or in the place of the
	/// member with the smallest bond if that is smaller.
	fn join_pool(who: &AccountIdOf<T>, model_id: &ModelId, bond: BalanceOf<T>) -> DispatchResult {
		ModelExecutors::<T>::try_mutate(model_id, |pool| {
			if pool.contains(who) {
				return Ok(());
			}
			if pool.try_push(who.clone()).is_ok() {
				return Ok(());
			}
			let (index, smallest) =
				Self::smallest_member(pool).ok_or(Error::<T>::TooManyExecutorsForModel)?;
			ensure!(smallest < bond, Error::<T>::TooManyExecutorsForModel);
			let displaced = pool.remove(index);
			pool.try_push(who.clone()).map_err(|_| Error::<T>::TooManyExecutorsForModel)?;
			Self::deposit_event(Event::ExecutorDisplaced {
				executor: displaced,
				model_id: *model_id,
				by: who.clone(),
			});
			Ok(())
		})
	}

	fn leave_pools(who: &AccountIdOf<T>, models: &ExecutorModels<T>) {
		for model_id in models {
			ModelExecutors::<T>::mutate_exists(model_id, |maybe_pool| {
				if let Some(pool) = maybe_pool {
					pool.retain(|member| member != who);
					if pool.is_empty() {
						*maybe_pool = None;
					}
				}
			});
		}
	}

	/// Whether `who` has an assignment whose request has not reached its deadline (answered or
	/// not: the request may still need it until then).
	pub(crate) fn has_open_assignments(who: &AccountIdOf<T>) -> bool {
		Assignments::<T>::iter_prefix(who).next().is_some()
	}
}
