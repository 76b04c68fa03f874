//! The callback prepay: held from the contract with its request, moved to the callback's
//! origin for each callback, burned as the callback's gas is used, and returned when unused.

use crate::{BalanceOf, Config, ContractRequest, ContractRequests, Error, Event, Pallet};
use frame_support::traits::{
	fungible::{Inspect, InspectHold, Mutate, MutateHold},
	tokens::{Fortitude, Precision, Preservation, Restriction},
	Get,
};
use sp_runtime::traits::{Saturating, Zero};
use verity_primitives::RequestId;

/// Move one callback's prepay from the contract's hold to `dispatcher`, the callback's origin;
/// `dispatcher`'s balance before the move, or `None` when the hold does not cover it.
pub(crate) fn move_to_dispatcher<T: Config>(
	entry: &ContractRequest<T::AccountId, BalanceOf<T>>,
	dispatcher: &T::AccountId,
) -> Option<BalanceOf<T>> {
	let before = T::Funds::balance(dispatcher);
	T::Funds::transfer_on_hold(
		&T::PrepayHoldReason::get(),
		&entry.account,
		dispatcher,
		entry.prepay,
		Precision::Exact,
		Restriction::Free,
		Fortitude::Polite,
	)
	.ok()?;
	Some(before)
}

/// After a callback: burn `fee` (its gas used) from what `dispatcher` holds beyond `before`,
/// and return the rest of it (the unused prepay, less the storage deposit the callback
/// created) to the contract.
pub(crate) fn settle_callback<T: Config>(
	entry: &ContractRequest<T::AccountId, BalanceOf<T>>,
	dispatcher: &T::AccountId,
	before: BalanceOf<T>,
	fee: BalanceOf<T>,
) {
	let left = T::Funds::balance(dispatcher).saturating_sub(before);
	let fee = fee.min(left);
	if !fee.is_zero() {
		let _ = T::Funds::burn_from(
			dispatcher,
			fee,
			Preservation::Expendable,
			Precision::BestEffort,
			Fortitude::Force,
		);
	}
	let unused = T::Funds::balance(dispatcher).saturating_sub(before);
	if !unused.is_zero() {
		let _ = T::Funds::transfer(dispatcher, &entry.account, unused, Preservation::Expendable);
	}
}

impl<T: Config> Pallet<T> {
	/// Record contract request `request_id` (opened for `account`, the account of
	/// `contract`): hold twice the prepay of `gas` (for the result's callback and one
	/// correction's) and remember whom to call back. No callback, nothing held, for `gas` zero.
	pub fn record_request(
		request_id: RequestId,
		account: T::AccountId,
		contract: sp_core::H160,
		gas: u64,
	) -> Result<(), Error<T>> {
		let prepay = crate::callbacks::prepay_of::<T>(gas);
		if gas > 0 {
			let held = prepay.saturating_mul(2u32.into());
			let spendable =
				T::Funds::reducible_balance(&account, Preservation::Preserve, Fortitude::Polite);
			if spendable < held {
				return Err(Error::<T>::InsufficientBalance);
			}
			T::Funds::hold(&T::PrepayHoldReason::get(), &account, held)
				.map_err(|_| Error::<T>::InsufficientBalance)?;
			ContractRequests::<T>::insert(
				request_id,
				ContractRequest { contract, account, gas_limit: gas, prepay, funded: 2 },
			);
		}
		Self::deposit_event(Event::ContractRequested {
			request_id,
			contract,
			callback_gas: gas,
			prepay,
		});
		Ok(())
	}

	/// Release what is still held for request `request_id`'s callbacks and forget it.
	pub(crate) fn return_prepay(request_id: RequestId) {
		let Some(entry) = ContractRequests::<T>::take(request_id) else { return };
		let reason = T::PrepayHoldReason::get();
		let held = T::Funds::balance_on_hold(&reason, &entry.account);
		let owed = entry.prepay.saturating_mul(entry.funded.into()).min(held);
		if owed.is_zero() {
			return;
		}
		let released = T::Funds::release(&reason, &entry.account, owed, Precision::BestEffort)
			.unwrap_or_default();
		Self::deposit_event(Event::PrepayReturned {
			request_id,
			contract: entry.contract,
			amount: released,
		});
	}
}
