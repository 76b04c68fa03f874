//! Callbacks: the settled result delivered into the requesting contract.
//!
//! The inference pallet tells this pallet of settlements, corrections, failures and the end of
//! challenge periods ([`pallet_inference::OnRequestFinalized`]). Settlements, corrections and
//! failures of contract requests join a queue; `on_initialize` delivers from its front while
//! the block's callback budget lasts (counted at each callback's gas limit) and
//! `MaxCallbacksPerBlock` allows. Running from the block's start, a callback never runs inside another contract's
//! execution.
//!
//! A callback is a call from [`crate::PRECOMPILE_ADDRESS`] (its fallback account) to the
//! contract, with the weight its gas buys and its prepay as the limit of the storage deposit
//! it may create. Its gas used is burned at [`crate::Config::GasPrice`]; the rest goes back.

use crate::{
	prepay, BalanceOf, CallbackKind, CallbackQueue, CallbackQueueEnds, Config, ContractRequest,
	ContractRequests, Event, IInferenceConsumer, Pallet, SkipReason, WeightInfo,
	PRECOMPILE_ADDRESS,
};
use alloc::vec::Vec;
use frame_support::{traits::Get, weights::Weight, BoundedVec};
use pallet_inference::{OnRequestFinalized, ResultStatus};
use pallet_revive::{
	precompiles::alloy::{primitives::U256, sol_types::SolCall},
	AddressMapper, ExecConfig, TransactionLimits,
};
use sp_runtime::traits::{Saturating, UniqueSaturatedFrom, UniqueSaturatedInto};
use verity_primitives::{ModelId, RequestId};

/// The weight `gas` units of callback gas buy.
pub fn gas_weight<T: Config>(gas: u64) -> Weight {
	Weight::from_parts(gas.saturating_mul(T::RefTimePerGas::get()), T::CallbackProofSize::get())
}

/// The prepay of one callback of `gas` units, in planck.
pub fn prepay_of<T: Config>(gas: u64) -> BalanceOf<T> {
	T::GasPrice::get().saturating_mul(BalanceOf::<T>::unique_saturated_from(gas))
}

/// The gas units a callback that used `weight` is charged: its reference time, rounded up.
pub fn gas_used<T: Config>(weight: Weight) -> u64 {
	weight.ref_time().div_ceil(T::RefTimePerGas::get().max(1))
}

/// The account callbacks come from: the fallback account of the precompile's address, which
/// no key controls.
pub fn dispatcher<T: Config>() -> T::AccountId {
	<T as pallet_revive::Config>::AddressMapper::to_fallback_account_id(&PRECOMPILE_ADDRESS)
}

impl<T: Config> Pallet<T> {
	/// Put a callback at the back of the queue; `false` when the queue is full.
	pub(crate) fn enqueue(request_id: RequestId, kind: CallbackKind) -> bool {
		let (front, back) = CallbackQueueEnds::<T>::get();
		// Each request in flight queues at most its result, a correction or two and a reserve
		// return; four per request bounds the queue. A failure is always queued, beyond that
		// bound: a request fails once, having queued nothing else, and its failure's callback
		// is the one that returns its prepay; so the queue holds at most five per request.
		let capacity = u64::from(T::MaxContractRequests::get()).saturating_mul(4);
		if kind != CallbackKind::Failed && back.wrapping_sub(front) >= capacity {
			Self::deposit_event(Event::CallbackSkipped {
				request_id,
				kind,
				reason: SkipReason::QueueFull,
			});
			return false;
		}
		CallbackQueue::<T>::insert(back, (request_id, kind));
		CallbackQueueEnds::<T>::put((front, back.wrapping_add(1)));
		true
	}

	/// Deliver callbacks from the queue's front within this block's budget; the weight used.
	pub(crate) fn deliver_callbacks() -> Weight {
		let mut used = <T as Config>::WeightInfo::on_initialize_idle();
		let budget = T::CallbackWeightPerBlock::get();
		let mut committed = Weight::zero();
		for _ in 0..T::MaxCallbacksPerBlock::get() {
			let (front, back) = CallbackQueueEnds::<T>::get();
			if front == back {
				break;
			}
			let Some((request_id, kind)) = CallbackQueue::<T>::get(front) else {
				CallbackQueueEnds::<T>::put((front.wrapping_add(1), back));
				continue;
			};
			let entry = ContractRequests::<T>::get(request_id);
			let limit = match (kind, &entry) {
				(CallbackKind::ReturnReserve, _) | (_, None) => Weight::zero(),
				(_, Some(entry)) => gas_weight::<T>(entry.gas_limit),
			};
			if !committed.saturating_add(limit).all_lte(budget) {
				break;
			}
			committed.saturating_accrue(limit);
			CallbackQueue::<T>::remove(front);
			CallbackQueueEnds::<T>::put((front.wrapping_add(1), back));
			let consumed = Self::deliver(request_id, kind, entry);
			used.saturating_accrue(delivery_weight::<T>(kind));
			used.saturating_accrue(consumed);
		}
		used
	}

	/// Deliver one queued callback, `entry` its request's record as just read; the weight the
	/// contract's execution consumed. After a failure's callback, the request's last, what is
	/// left of its prepay goes back.
	fn deliver(
		request_id: RequestId,
		kind: CallbackKind,
		entry: Option<ContractRequest<T::AccountId, BalanceOf<T>>>,
	) -> Weight {
		let consumed = Self::call_back(request_id, kind, entry);
		if kind == CallbackKind::Failed {
			Self::return_prepay(request_id);
		}
		consumed
	}

	/// Make one queued callback's call (or its reserve's return), `entry` its request's record
	/// as just read; the weight the contract's execution consumed.
	fn call_back(
		request_id: RequestId,
		kind: CallbackKind,
		entry: Option<ContractRequest<T::AccountId, BalanceOf<T>>>,
	) -> Weight {
		let Some(mut entry) = entry else {
			return Weight::zero();
		};
		let result = pallet_inference::Pallet::<T>::result_of(request_id);
		if kind == CallbackKind::ReturnReserve {
			if result.status == ResultStatus::Challenged {
				Self::enqueue(request_id, CallbackKind::ReturnReserve);
			} else {
				Self::return_prepay(request_id);
			}
			return Weight::zero();
		}
		if entry.funded == 0 {
			Self::deposit_event(Event::CallbackSkipped {
				request_id,
				kind,
				reason: SkipReason::PrepaySpent,
			});
			return Weight::zero();
		}
		entry.funded = entry.funded.saturating_sub(1);
		ContractRequests::<T>::insert(request_id, &entry);

		let dispatcher = dispatcher::<T>();
		let Some(moved) = prepay::move_to_dispatcher::<T>(&entry, &dispatcher) else {
			Self::deposit_event(Event::CallbackSkipped {
				request_id,
				kind,
				reason: SkipReason::PrepayUnavailable,
			});
			return Weight::zero();
		};
		let data = callback_data(request_id, kind, result.status as u8, result.output);
		let weight_limit = gas_weight::<T>(entry.gas_limit);
		let deposit_limit: u128 = entry.prepay.unique_saturated_into();
		let outcome = pallet_revive::Pallet::<T>::bare_call(
			frame_system::RawOrigin::Signed(dispatcher.clone()).into(),
			entry.contract,
			Default::default(),
			TransactionLimits::WeightAndDeposit {
				weight_limit,
				deposit_limit: UniqueSaturatedFrom::unique_saturated_from(deposit_limit),
			},
			data,
			&ExecConfig::new_substrate_tx_without_bump(),
		);
		let consumed = outcome.weight_consumed.min(weight_limit);
		let gas = gas_used::<T>(consumed);
		prepay::settle_callback::<T>(&entry, &dispatcher, moved, prepay_of::<T>(gas));
		let contract = entry.contract;
		match outcome.result {
			Ok(returned) if !returned.did_revert() => {
				Self::deposit_event(Event::CallbackDelivered {
					request_id,
					contract,
					kind,
					gas_used: gas,
				});
			},
			Ok(returned) => {
				let mut revert_data = returned.data;
				revert_data.truncate(256);
				Self::deposit_event(Event::CallbackReverted {
					request_id,
					contract,
					kind,
					gas_used: gas,
					revert_data: BoundedVec::truncate_from(revert_data),
				});
			},
			Err(error) => {
				Self::deposit_event(Event::CallbackFailed {
					request_id,
					contract,
					kind,
					gas_used: gas,
					error,
				});
			},
		}
		consumed
	}
}

/// The weight of delivering one callback of `kind`, less the contract's execution. A
/// failure's callback is a result's (benchmarked with the largest output in its call, where a
/// failure's call carries two words) followed by the prepay's return (`on_request_event`'s
/// benchmark).
fn delivery_weight<T: Config>(kind: CallbackKind) -> Weight {
	let callback = <T as Config>::WeightInfo::deliver_callback();
	match kind {
		CallbackKind::Failed => {
			callback.saturating_add(<T as Config>::WeightInfo::on_request_event())
		},
		_ => callback,
	}
}

/// The ABI call of `kind` for request `request_id`, whose result has `status` and `outcome`.
fn callback_data(
	request_id: RequestId,
	kind: CallbackKind,
	status: u8,
	outcome: Vec<u8>,
) -> Vec<u8> {
	let id = U256::from(request_id);
	match kind {
		CallbackKind::Corrected => {
			IInferenceConsumer::onInferenceCorrectedCall { requestId: id, outcome: outcome.into() }
				.abi_encode()
		},
		CallbackKind::Failed => {
			IInferenceConsumer::onInferenceFailedCall { requestId: id, status }.abi_encode()
		},
		_ => IInferenceConsumer::onInferenceResultCall { requestId: id, outcome: outcome.into() }
			.abi_encode(),
	}
}

impl<T: Config> Pallet<T> {
	/// Queue a `kind` callback for `request_id` if a contract made it; returns the weight used:
	/// the lookup alone for a request no contract made.
	fn enqueue_if_contracts(request_id: RequestId, kind: CallbackKind) -> Weight {
		if ContractRequests::<T>::contains_key(request_id) {
			Self::enqueue(request_id, kind);
			<T as Config>::WeightInfo::on_request_event()
		} else {
			<T as frame_system::Config>::DbWeight::get().reads(1)
		}
	}
}

impl<T: Config> OnRequestFinalized for Pallet<T> {
	fn on_request_finalized(request_id: RequestId, _model_id: &ModelId, _output: &[u8]) -> Weight {
		Self::enqueue_if_contracts(request_id, CallbackKind::Result)
	}

	fn on_output_corrected(
		request_id: RequestId,
		_model_id: &ModelId,
		_corrected: &[u8],
	) -> Weight {
		Self::enqueue_if_contracts(request_id, CallbackKind::Corrected)
	}

	/// A contract's request that ends without an output is told so (`onInferenceFailed`), as
	/// it would be told its result: a contract waiting on a verdict learns that none will come
	/// without polling. Queued behind the callbacks before it; the prepay goes back once the
	/// callback has run.
	fn on_request_failed(request_id: RequestId) -> Weight {
		Self::enqueue_if_contracts(request_id, CallbackKind::Failed)
	}

	fn on_challenge_period_over(request_id: RequestId) -> Weight {
		// Queued behind the request's own callbacks, so none of them finds its prepay gone.
		Self::enqueue_if_contracts(request_id, CallbackKind::ReturnReserve)
	}

	fn weight() -> Weight {
		<T as Config>::WeightInfo::on_request_event()
	}
}
