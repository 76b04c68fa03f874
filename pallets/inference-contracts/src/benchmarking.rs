//! Benchmarks of the precompile's and the callbacks' own work, the source of `weights.rs`.
//!
//! A callback's contract execution is not in these: it is charged as the gas it used, within
//! the limit its requester prepaid.

use super::*;
use crate::callbacks::{dispatcher, prepay_of};
use alloc::vec;
use codec::Encode;
use frame_benchmarking::v2::*;
use frame_support::traits::{fungible::Mutate, Get};
use pallet_revive::AddressMapper;
use sp_core::H160;
use sp_runtime::Saturating;
use verity_primitives::{DType, Tensor, TensorMap};

/// A contract account with plenty of funds.
fn funded_contract<T: Config>() -> (T::AccountId, H160) {
	let contract = H160::repeat_byte(0x42);
	let account = <T as pallet_revive::Config>::AddressMapper::to_fallback_account_id(&contract);
	let plenty = prepay_of::<T>(T::MaxCallbackGas::get())
		.saturating_mul(1_000u32.into())
		.saturating_add(sp_runtime::traits::UniqueSaturatedFrom::unique_saturated_from(
			1_000_000_000_000u64,
		));
	T::Funds::set_balance(&account, plenty);
	(account, contract)
}

/// The largest output the chain stores.
fn largest_output<T: Config>() -> u32 {
	<T as pallet_inference::Config>::MaxOutputLen::get()
}

/// A finalized request opened by a contract with the largest callback gas: its request id.
fn contract_request<T: Config>() -> u64 {
	let request_id =
		pallet_inference::benchmarking::finalized_request_with_output::<T>(largest_output::<T>());
	let (account, contract) = funded_contract::<T>();
	Pallet::<T>::record_request(request_id, account, contract, T::MaxCallbackGas::get())
		.expect("the contract can pay");
	request_id
}

#[benchmarks]
mod benchmarks {
	use super::*;

	/// Worst case: a finalized request with the largest output.
	#[benchmark]
	fn result_of() {
		let request_id = pallet_inference::benchmarking::finalized_request_with_output::<T>(
			largest_output::<T>(),
		);
		let result;
		#[block]
		{
			result = pallet_inference::Pallet::<T>::result_of(request_id);
		}
		assert_eq!(result.status, pallet_inference::ResultStatus::Finalized);
	}

	/// A model's quote: one registry read.
	#[benchmark]
	fn quote() {
		let request_id = pallet_inference::benchmarking::finalized_request_with_output::<T>(64);
		let model = pallet_inference::Requests::<T>::get(request_id).expect("a request").model_id;
		let fee;
		#[block]
		{
			fee = pallet_inference::Pallet::<T>::quote(&model);
		}
		assert!(fee.is_some());
	}

	/// Reading the last element of an `n`-byte tensor encoding.
	#[benchmark]
	fn tensor_value(n: Linear<64, { largest_output::<T>() }>) {
		let elements = (n - 32) / 4;
		let bytes = TensorMap(vec![Tensor {
			name: b"y".to_vec(),
			dtype: DType::F32,
			shape: vec![elements],
			data: vec![1; elements as usize * 4],
		}])
		.encode();
		let value;
		#[block]
		{
			value = crate::tensor_value::element_e6(&bytes, 0, elements as usize - 1);
		}
		assert!(value.is_ok());
	}

	/// Recording a contract request with a callback: the hold, the record, the event.
	#[benchmark]
	fn request_overhead() {
		let (account, contract) = funded_contract::<T>();
		let gas = T::MaxCallbackGas::get();
		#[block]
		{
			Pallet::<T>::record_request(7, account, contract, gas).expect("funded");
		}
		assert!(ContractRequests::<T>::contains_key(7));
	}

	/// Delivering one callback of the largest output, less the contract's execution (the
	/// callee has no code): the result read, the prepay moved, the call, the gas burned and the
	/// rest returned, the event.
	#[benchmark]
	fn deliver_callback() {
		let request_id = contract_request::<T>();
		assert!(Pallet::<T>::enqueue(request_id, CallbackKind::Result));
		#[block]
		{
			Pallet::<T>::deliver_callbacks();
		}
		assert_eq!(ContractRequests::<T>::get(request_id).map(|entry| entry.funded), Some(1));
		assert!(frame_system::Pallet::<T>::account_exists(&dispatcher::<T>()));
	}

	/// A block's start with no callback queued.
	#[benchmark]
	fn on_initialize_idle() {
		#[block]
		{
			Pallet::<T>::deliver_callbacks();
		}
		assert_eq!(CallbackQueueEnds::<T>::get().0, CallbackQueueEnds::<T>::get().1);
	}

	/// The most the inference pallet's hooks cost this pallet: returning a request's prepay.
	#[benchmark]
	fn on_request_event() {
		let request_id = contract_request::<T>();
		#[block]
		{
			Pallet::<T>::return_prepay(request_id);
		}
		assert!(!ContractRequests::<T>::contains_key(request_id));
	}
}
