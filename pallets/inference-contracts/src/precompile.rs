//! The inference precompile: `IInference` (`contracts/src/IInference.sol`) for contracts.
//!
//! Every function charges its benchmarked weight before it does any work. `requestInference`
//! is refused in delegate and static calls, and reverts with `Error(string)` naming the
//! pallet error for every refusal, so a contract can `try`/`catch` it.

use crate::{callbacks, BalanceOf, Config, ContractRequests, Error, Pallet, WeightInfo};
use alloc::{string::ToString, vec::Vec};
use core::{marker::PhantomData, num::NonZero};
use frame_support::traits::Get;
use pallet_revive::{
	precompiles::{
		alloy::{
			primitives::{FixedBytes, I256, U256},
			sol,
			sol_types::{Revert, SolCall},
		},
		AddressMatcher, Error as PrecompileError, Ext, Precompile,
	},
	AddressMapper,
};
use sp_core::{H160, H256};
use sp_runtime::{
	traits::{Saturating, UniqueSaturatedInto},
	DispatchError, ModuleError,
};

sol!("../../contracts/src/IInference.sol");

/// The precompile's index: it answers at `0x000000000000000000000000000000000a000000`.
pub const PRECOMPILE_INDEX: u16 = 0x0A00;

/// The precompile's address, the `msg.sender` of every callback.
pub const PRECOMPILE_ADDRESS: H160 =
	H160([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0A, 0, 0, 0]);

/// The inference precompile of runtime `T`.
pub struct InferencePrecompile<T>(PhantomData<T>);

impl<T: Config> Precompile for InferencePrecompile<T> {
	type T = T;
	type Interface = IInference::IInferenceCalls;
	const MATCHER: AddressMatcher = AddressMatcher::Fixed(match NonZero::new(PRECOMPILE_INDEX) {
		Some(index) => index,
		None => panic!("the index is not zero"),
	});
	const HAS_CONTRACT_INFO: bool = false;

	fn call(
		_address: &[u8; 20],
		input: &Self::Interface,
		env: &mut impl Ext<T = Self::T>,
	) -> Result<Vec<u8>, PrecompileError> {
		use IInference::IInferenceCalls;
		match input {
			IInferenceCalls::requestInference(call) => request(call, env),
			IInferenceCalls::resultOf(call) => {
				env.charge(<T as Config>::WeightInfo::result_of())?;
				let id = request_id(&call.requestId)?;
				let result = pallet_inference::Pallet::<T>::result_of(id);
				Ok(IInference::resultOfCall::abi_encode_returns(&IInference::resultOfReturn {
					status: result.status as u8,
					outcomeHash: FixedBytes::<32>(result.outcome_hash.0),
					outcome: result.output.into(),
				}))
			},
			IInferenceCalls::quote(call) => {
				env.charge(<T as Config>::WeightInfo::quote())?;
				let model = H256(call.model.0);
				let fee = pallet_inference::Pallet::<T>::quote(&model)
					.ok_or_else(|| revert("UnknownModel"))?;
				let prepay =
					callbacks::prepay_of::<T>(call.callbackGasLimit).saturating_mul(2u32.into());
				Ok(IInference::quoteCall::abi_encode_returns(&IInference::quoteReturn {
					fee: to_wei::<T>(fee),
					callbackPrepay: to_wei::<T>(prepay),
				}))
			},
			IInferenceCalls::tensorValue(call) => {
				env.charge(<T as Config>::WeightInfo::tensor_value(call.outcome.len() as u32))?;
				let value = crate::tensor_value::element_e6(
					&call.outcome,
					call.tensor as usize,
					call.element as usize,
				)
				.map_err(|error| {
					use crate::tensor_value::ValueError;
					revert(error_name::<T>(match error {
						ValueError::Malformed => Error::<T>::MalformedOutput,
						ValueError::OutOfRange => Error::<T>::IndexOutOfRange,
						ValueError::NotANumber => Error::<T>::NotANumber,
					}))
				})?;
				let value = I256::try_from(value).map_err(|_| revert("NotANumber"))?;
				Ok(IInference::tensorValueCall::abi_encode_returns(&value))
			},
		}
	}
}

/// `requestInference`: open the request for the calling contract, hold the callback prepay.
fn request<T: Config>(
	call: &IInference::requestInferenceCall,
	env: &mut impl Ext<T = T>,
) -> Result<Vec<u8>, PrecompileError> {
	env.charge(
		pallet_inference::Pallet::<T>::request_on_behalf_weight(call.input.len() as u32)
			.saturating_add(<T as Config>::WeightInfo::request_overhead()),
	)?;
	if env.is_delegate_call() {
		return Err(revert(error_name::<T>(Error::<T>::DelegateCallRefused)));
	}
	if env.is_read_only() {
		return Err(revert(error_name::<T>(Error::<T>::StaticCallRefused)));
	}
	let caller = env.caller();
	let account = caller
		.account_id()
		.map_err(|_| revert(error_name::<T>(Error::<T>::NoCallerAccount)))?
		.clone();
	let contract = <T as pallet_revive::Config>::AddressMapper::to_address(&account);
	let gas = call.callbackGasLimit;
	if gas > <T as Config>::MaxCallbackGas::get() {
		return Err(revert(error_name::<T>(Error::<T>::CallbackGasTooHigh)));
	}
	if gas > 0 && ContractRequests::<T>::count() >= <T as Config>::MaxContractRequests::get() {
		return Err(revert(error_name::<T>(Error::<T>::TooManyContractRequests)));
	}
	let max_fee = from_wei::<T>(call.maxFee);
	let model = H256(call.model.0);
	let request_id = pallet_inference::Pallet::<T>::request_on_behalf(
		account.clone(),
		model,
		call.input.to_vec(),
		max_fee,
	)
	.map_err(|error| revert(dispatch_error_name(error)))?;
	Pallet::<T>::record_request(request_id, account, contract, gas)
		.map_err(|error| revert(error_name::<T>(error)))?;
	Ok(IInference::requestInferenceCall::abi_encode_returns(&U256::from(request_id)))
}

/// A request id from its `uint256`; ids above `u64::MAX` do not exist.
fn request_id(id: &U256) -> Result<u64, PrecompileError> {
	u64::try_from(*id).map_err(|_| revert("UnknownRequest"))
}

/// A revert with `reason` as its `Error(string)`.
fn revert(reason: &str) -> PrecompileError {
	PrecompileError::Revert(Revert { reason: reason.to_string() })
}

/// The name of one of this pallet's errors.
fn error_name<T: Config>(error: Error<T>) -> &'static str {
	error.into()
}

/// The name a pallet error carries (`UnknownModel`, `FeeAboveMax`, ...), or a description of
/// another dispatch error.
fn dispatch_error_name(error: DispatchError) -> &'static str {
	match error {
		DispatchError::Module(ModuleError { message: Some(name), .. }) => name,
		DispatchError::Module(_) => "ModuleError",
		DispatchError::Token(_) => "InsufficientBalance",
		DispatchError::Arithmetic(_) => "ArithmeticError",
		DispatchError::BadOrigin => "BadOrigin",
		DispatchError::Exhausted => "Exhausted",
		DispatchError::ConsumerRemaining | DispatchError::NoProviders => "AccountInUse",
		_ => "Unavailable",
	}
}

/// Planck (12 decimals) as wei (18 decimals).
fn to_wei<T: Config>(amount: BalanceOf<T>) -> U256 {
	let planck: u128 = amount.unique_saturated_into();
	let ratio: u32 = <T as pallet_revive::Config>::NativeToEthRatio::get();
	U256::from(planck).saturating_mul(U256::from(ratio))
}

/// Wei as planck, rounded down (an amount of at most `wei` is never exceeded).
fn from_wei<T: Config>(wei: U256) -> BalanceOf<T> {
	let ratio: u32 = <T as pallet_revive::Config>::NativeToEthRatio::get();
	let planck = wei / U256::from(ratio.max(1));
	let planck: u128 = u128::try_from(planck).unwrap_or(u128::MAX);
	sp_runtime::traits::UniqueSaturatedFrom::unique_saturated_from(planck)
}
