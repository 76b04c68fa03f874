//! Every movement of funds the protocol makes, in one place: holds (bonds, escrow, challenge
//! bonds, storage deposits), their release, payments out of escrow, slashes and their refunds,
//! and the challenger's reward.
//!
//! No function here creates or destroys a balance: slashed funds and forfeited challenge bonds
//! go to the protocol account, and rewards and refunds come out of it. So the total issuance
//! never changes through this pallet, which the randomized tests check after every call.

use crate::{
	AccountIdOf, BalanceOf, Config, Error, Event, HoldReason, InferenceRequest, Pallet,
	RequestKind, SlashReason,
};
use frame_support::{
	pallet_prelude::DispatchResult,
	traits::{
		fungible::{Mutate, MutateHold},
		tokens::{Fortitude, Precision, Preservation, Restriction},
		Get,
	},
};
use sp_runtime::{
	traits::{Saturating, Zero},
	Perbill,
};
use verity_primitives::RequestId;

impl<T: Config> Pallet<T> {
	/// Hold `amount` from `who`, with a named error when it cannot afford it.
	pub(crate) fn hold(
		reason: &HoldReason,
		who: &AccountIdOf<T>,
		amount: BalanceOf<T>,
	) -> DispatchResult {
		T::Currency::hold(&(*reason).into(), who, amount)
			.map_err(|_| Error::<T>::InsufficientBalance.into())
	}

	/// Release `amount` held from `who` for `reason`; returns what was released.
	pub(crate) fn release_held(
		reason: HoldReason,
		who: &AccountIdOf<T>,
		amount: BalanceOf<T>,
	) -> BalanceOf<T> {
		if amount.is_zero() {
			return Zero::zero();
		}
		T::Currency::release(&reason.into(), who, amount, Precision::BestEffort).unwrap_or_default()
	}

	/// Release an unbonded executor's whole bond.
	pub(crate) fn release_bond(
		who: &AccountIdOf<T>,
		amount: BalanceOf<T>,
	) -> Result<BalanceOf<T>, sp_runtime::DispatchError> {
		T::Currency::release(&HoldReason::ExecutorBond.into(), who, amount, Precision::BestEffort)
	}

	/// Return whatever is left in the request's escrow to the requester.
	pub(crate) fn refund_escrow(request: &mut InferenceRequest<T>) {
		let remaining = core::mem::take(&mut request.escrow);
		request.protocol_fee = Zero::zero();
		Self::release_held(HoldReason::RequestEscrow, &request.requester, remaining);
	}

	/// Return the request's storage deposit to whoever paid it: its bytes left state.
	pub(crate) fn refund_storage_deposit(request: &mut InferenceRequest<T>) {
		let deposit = core::mem::take(&mut request.storage_deposit);
		Self::release_held(HoldReason::StorageDeposit, &request.requester, deposit);
	}

	/// Move `amount` of the request's escrow to `beneficiary`; nothing moves when the payer is
	/// the beneficiary (then the hold is simply released).
	pub(crate) fn pay_from_escrow(
		request: &mut InferenceRequest<T>,
		beneficiary: &AccountIdOf<T>,
		amount: BalanceOf<T>,
	) {
		let amount = amount.min(request.escrow);
		if amount.is_zero() {
			return;
		}
		let moved = if *beneficiary == request.requester {
			T::Currency::release(
				&HoldReason::RequestEscrow.into(),
				beneficiary,
				amount,
				Precision::BestEffort,
			)
		} else {
			T::Currency::transfer_on_hold(
				&HoldReason::RequestEscrow.into(),
				&request.requester,
				beneficiary,
				amount,
				Precision::BestEffort,
				Restriction::Free,
				Fortitude::Force,
			)
		};
		match moved {
			Ok(moved) => request.escrow = request.escrow.saturating_sub(moved),
			Err(_) => {
				frame_support::defensive!("escrow holds at least what it owes");
			},
		}
	}

	/// Take `share` of `executor`'s bond and give it to the protocol account; returns what
	/// moved. An executor left below `MinExecutorBond` is evicted from its pools.
	pub(crate) fn slash(
		executor: &AccountIdOf<T>,
		share: Perbill,
		request_id: RequestId,
		reason: SlashReason,
	) -> BalanceOf<T> {
		let Some(mut info) = crate::Executors::<T>::get(executor) else { return Zero::zero() };
		let amount = share.mul_floor(info.bond);
		if amount.is_zero() {
			return Zero::zero();
		}
		let moved = T::Currency::transfer_on_hold(
			&HoldReason::ExecutorBond.into(),
			executor,
			&Self::protocol_account(),
			amount,
			Precision::BestEffort,
			Restriction::Free,
			Fortitude::Force,
		)
		.unwrap_or_default();
		info.bond = info.bond.saturating_sub(moved);
		info.stats.slashed = info.stats.slashed.saturating_add(moved);
		let below_minimum = info.bond < T::MinExecutorBond::get();
		crate::Executors::<T>::insert(executor, info);
		if below_minimum {
			Self::evict(executor, crate::EvictionReason::BondBelowMinimum);
		}
		Self::deposit_event(Event::ExecutorSlashed {
			executor: executor.clone(),
			request_id,
			amount: moved,
			reason,
		});
		moved
	}

	/// Give `amount`, slashed from `executor` over `request_id` in error, back to its bond from
	/// the protocol account (to its free balance when it has left).
	pub(crate) fn refund_slash(
		executor: &AccountIdOf<T>,
		request_id: RequestId,
		amount: BalanceOf<T>,
	) {
		let moved = <T::Currency as Mutate<_>>::transfer(
			&Self::protocol_account(),
			executor,
			amount,
			Preservation::Preserve,
		);
		if moved.is_err() {
			frame_support::defensive!("the protocol account holds the slashes it took");
			return;
		}
		let rebonded = crate::Executors::<T>::mutate(executor, |maybe_info| {
			let info = maybe_info.as_mut()?;
			T::Currency::hold(&HoldReason::ExecutorBond.into(), executor, amount).ok()?;
			info.bond = info.bond.saturating_add(amount);
			info.stats.slashed = info.stats.slashed.saturating_sub(amount);
			Some(())
		});
		Self::deposit_event(Event::SlashRefunded {
			executor: executor.clone(),
			request_id,
			amount,
			rebonded: rebonded.is_some(),
		});
	}

	/// Pay `challenger` its `ChallengeRewardShare` of `slashed` from the protocol account.
	pub(crate) fn reward_challenger(challenger: &AccountIdOf<T>, slashed: BalanceOf<T>) {
		let reward = T::ChallengeRewardShare::get().mul_floor(slashed);
		if reward.is_zero() {
			return;
		}
		let _ = <T::Currency as Mutate<_>>::transfer(
			&Self::protocol_account(),
			challenger,
			reward,
			Preservation::Preserve,
		);
	}

	/// Return a challenger's bond, if `kind` is a challenge with one.
	pub(crate) fn release_challenge_bond(kind: &RequestKind<AccountIdOf<T>, BalanceOf<T>>) {
		if let RequestKind::Challenge { challenger: Some(challenger), bond, .. } = kind {
			Self::release_held(HoldReason::ChallengeBond, challenger, *bond);
		}
	}

	/// Give a challenger whose bond was forfeited on a verdict later overturned its bond back
	/// from the protocol account.
	pub(crate) fn return_forfeited_challenge_bond(
		kind: &RequestKind<AccountIdOf<T>, BalanceOf<T>>,
	) {
		if let RequestKind::Challenge { challenger: Some(challenger), bond, .. } = kind {
			let _ = <T::Currency as Mutate<_>>::transfer(
				&Self::protocol_account(),
				challenger,
				*bond,
				Preservation::Preserve,
			);
		}
	}

	/// Give a rejected challenger's bond to the protocol account.
	pub(crate) fn forfeit_challenge_bond(kind: &RequestKind<AccountIdOf<T>, BalanceOf<T>>) {
		if let RequestKind::Challenge { challenger: Some(challenger), bond, .. } = kind {
			let _ = T::Currency::transfer_on_hold(
				&HoldReason::ChallengeBond.into(),
				challenger,
				&Self::protocol_account(),
				*bond,
				Precision::BestEffort,
				Restriction::Free,
				Fortitude::Force,
			);
		}
	}
}
