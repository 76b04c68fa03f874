//! Executors: registration, bonds, model sets, key rotation, unbonding.

use crate::{
	AccountIdOf, Assignments, BalanceOf, Config, Error, Event, ExecutorByKey, ExecutorInfo,
	ExecutorModels, ExecutorStats, ExecutorStatus, HoldReason, ModelExecutors, Models, Pallet,
};
use alloc::collections::BTreeSet;
use frame_support::{
	ensure,
	pallet_prelude::DispatchResult,
	traits::{fungible::MutateHold, tokens::Precision, Get},
};
use sp_runtime::{traits::Saturating, DispatchError};
use verity_primitives::{ExecutorPublic, ModelStatus};

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
		Self::ensure_pools_have_room(&who, &models)?;
		Self::hold(&HoldReason::ExecutorBond, &who, bond)?;

		Self::join_pools(&who, &models)?;
		ExecutorByKey::<T>::insert(&attestation_key, &who);
		crate::Executors::<T>::insert(
			&who,
			ExecutorInfo {
				attestation_key: attestation_key.clone(),
				models,
				bond,
				status: ExecutorStatus::Active,
				stats: ExecutorStats::default(),
			},
		);
		Self::deposit_event(Event::ExecutorRegistered { executor: who, attestation_key, bond });
		Ok(())
	}

	pub(crate) fn do_update_executor(
		who: AccountIdOf<T>,
		attestation_key: Option<ExecutorPublic>,
		models: Option<ExecutorModels<T>>,
	) -> DispatchResult {
		let mut executor = Self::active_executor(&who)?;
		if let Some(key) = attestation_key {
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
			Self::ensure_pools_have_room(&who, &models)?;
			Self::leave_pools(&who, &executor.models);
			Self::join_pools(&who, &models)?;
			executor.models = models;
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
		crate::Executors::<T>::insert(&who, executor);
		Self::deposit_event(Event::ExecutorBonded { executor: who, bond });
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
		let amount = T::Currency::release(
			&HoldReason::ExecutorBond.into(),
			&who,
			executor.bond,
			Precision::BestEffort,
		)?;
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

	/// Every model `who` would newly join has room for one more executor.
	fn ensure_pools_have_room(who: &AccountIdOf<T>, models: &ExecutorModels<T>) -> DispatchResult {
		for model_id in models {
			let pool = ModelExecutors::<T>::get(model_id);
			ensure!(
				pool.contains(who) || (pool.len() as u32) < T::MaxExecutorsPerModel::get(),
				Error::<T>::TooManyExecutorsForModel
			);
		}
		Ok(())
	}

	fn join_pools(who: &AccountIdOf<T>, models: &ExecutorModels<T>) -> DispatchResult {
		for model_id in models {
			ModelExecutors::<T>::try_mutate(model_id, |pool| {
				if !pool.contains(who) {
					pool.try_push(who.clone()).map_err(|_| Error::<T>::TooManyExecutorsForModel)?;
				}
				Ok::<_, Error<T>>(())
			})?;
		}
		Ok(())
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

	/// Hold `amount` from `who`, with a named error when it cannot afford it.
	pub(crate) fn hold(
		reason: &HoldReason,
		who: &AccountIdOf<T>,
		amount: BalanceOf<T>,
	) -> DispatchResult {
		T::Currency::hold(&(*reason).into(), who, amount)
			.map_err(|_| Error::<T>::InsufficientBalance.into())
	}

	/// Whether `who` has an assignment whose request has not reached its deadline (answered or
	/// not: the request may still need it until then).
	pub(crate) fn has_open_assignments(who: &AccountIdOf<T>) -> bool {
		Assignments::<T>::iter_prefix(who).next().is_some()
	}
}
