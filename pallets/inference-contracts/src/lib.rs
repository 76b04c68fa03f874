//! Contracts act on verified inference.
//!
//! Solidity contracts (pallet-revive, EVM bytecode or PolkaVM) reach the inference protocol
//! through a precompile, and receive settled results through callbacks:
//!
//! - [`precompile`]: `IInference` (`contracts/src/IInference.sol`) at
//!   [`PRECOMPILE_ADDRESS`]: `requestInference`, `resultOf`, `quote`, `tensorValue`.
//! - [`callbacks`]: when a contract's request settles, `onInferenceResult(id, outcome)` is
//!   called from the start of a block, with the gas the contract prepaid; a correction by a
//!   challenge calls `onInferenceCorrected`, and a request that ends without an output (failed
//!   or rejected) calls `onInferenceFailed(id, status)`.
//! - [`prepay`]: the callback gas held with the fee, moved to the callback, burned as used and
//!   returned when unused.
//! - [`tensor_value`]: reading one number out of a canonical tensor encoding, for contracts.
//!
//! The rules, and what each stops:
//!
//! - The fee and the callback prepay come from the calling contract's own balance, held like a
//!   signed requester's: a contract cannot make others pay for its requests.
//! - Delegate calls are refused: a contract delegating to the precompile would make the
//!   precompile act for whoever called that contract. Static (read-only) calls cannot request.
//! - The precompile charges its benchmarked weight before it does any work, so a contract that
//!   runs out of gas has paid for what was done.
//! - Callbacks run from `on_initialize`, never inside another contract's execution: a callback
//!   cannot re-enter a contract that is mid-call. Their total gas per block and their count are
//!   bounded (`CallbackWeightPerBlock`, `MaxCallbacksPerBlock`); the rest wait in a queue,
//!   first in, first out. A callback's caller (`msg.sender`) is [`PRECOMPILE_ADDRESS`], which
//!   no account can sign for.
//! - A callback that reverts or runs out of gas changes nothing, pays for the gas it used and
//!   is recorded in an event; the result stays readable through `resultOf` (the pull path).
//!
//! What it does not stop: a contract can act on a result a challenge later overturns; it is
//! told by `onInferenceCorrected` and can read the status (`Challenged`, `Corrected`) from
//! `resultOf`, and should wait for the challenge period when the stakes call for it.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
pub mod callbacks;
pub mod precompile;
pub mod prepay;
pub mod tensor_value;
pub mod weights;

pub use pallet::*;
pub use precompile::{IInference, IInferenceConsumer, InferencePrecompile, PRECOMPILE_ADDRESS};
pub use weights::WeightInfo;

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{pallet_prelude::*, traits::fungible};
	use frame_system::pallet_prelude::*;
	use sp_core::H160;
	use verity_primitives::RequestId;

	/// The balance type of the native token.
	pub type BalanceOf<T> = pallet_inference::BalanceOf<T>;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config:
		frame_system::Config + pallet_inference::Config + pallet_revive::Config
	{
		/// The native token: holds a contract's callback prepay, pays a callback's gas from it
		/// and returns the rest.
		type Funds: fungible::Mutate<Self::AccountId, Balance = BalanceOf<Self>>
			+ fungible::hold::Mutate<
				Self::AccountId,
				Reason = <Self as pallet_inference::Config>::RuntimeHoldReason,
				Balance = BalanceOf<Self>,
			>;

		/// The runtime's hold reason for callback prepays (this pallet's
		/// `HoldReason::CallbackPrepay`).
		type PrepayHoldReason: Get<<Self as pallet_inference::Config>::RuntimeHoldReason>;

		/// Reference time (picoseconds) one unit of callback gas buys.
		#[pallet::constant]
		type RefTimePerGas: Get<u64>;

		/// What one unit of callback gas costs, in planck.
		#[pallet::constant]
		type GasPrice: Get<BalanceOf<Self>>;

		/// The proof size a callback may use.
		#[pallet::constant]
		type CallbackProofSize: Get<u64>;

		/// The most gas a request may prepay for one callback.
		#[pallet::constant]
		type MaxCallbackGas: Get<u64>;

		/// The weight the callbacks of one block may use together, counted at their limits.
		#[pallet::constant]
		type CallbackWeightPerBlock: Get<Weight>;

		/// The most callbacks one block delivers.
		#[pallet::constant]
		type MaxCallbacksPerBlock: Get<u32>;

		/// The most contract requests with a callback in flight; the precompile refuses more
		/// (`TooManyContractRequests`).
		#[pallet::constant]
		type MaxContractRequests: Get<u32>;

		/// Benchmarked weights of this pallet's work.
		type WeightInfo: WeightInfo;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A contract's prepaid callback gas, until its callbacks ran or can no longer come.
		CallbackPrepay,
	}

	/// Which callback a queue entry delivers.
	#[derive(
		Clone,
		Copy,
		Encode,
		Decode,
		DecodeWithMemTracking,
		MaxEncodedLen,
		TypeInfo,
		PartialEq,
		Eq,
		Debug,
	)]
	pub enum CallbackKind {
		/// `onInferenceResult`: the request settled by quorum.
		Result,
		/// `onInferenceCorrected`: a challenge overturned the result.
		Corrected,
		/// No call: the challenge period ended while a challenge was open; the correction
		/// reserve is returned once that challenge is over.
		ReturnReserve,
		/// `onInferenceFailed`: the request ended without an output (it failed, or its
		/// executors rejected its input). The request's last callback: what is left of its
		/// prepay goes back after it.
		Failed,
	}

	/// Why a callback was not called.
	#[derive(
		Clone,
		Copy,
		Encode,
		Decode,
		DecodeWithMemTracking,
		MaxEncodedLen,
		TypeInfo,
		PartialEq,
		Eq,
		Debug,
	)]
	pub enum SkipReason {
		/// The request's prepay already paid for the callbacks it covers.
		PrepaySpent,
		/// The callback queue was full.
		QueueFull,
		/// The prepay could not be moved to the callback's origin.
		PrepayUnavailable,
	}

	/// A request a contract opened with a callback.
	#[derive(
		Clone, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo, PartialEq, Eq, Debug,
	)]
	pub struct ContractRequest<AccountId, Balance> {
		/// The contract to call back.
		pub contract: H160,
		/// The contract's account, which paid and gets back what is unused.
		pub account: AccountId,
		/// The gas each callback may use.
		pub gas_limit: u64,
		/// The prepay of one callback, in planck: `gas_limit` times the gas price.
		pub prepay: Balance,
		/// Callbacks the held prepay still pays for: two at first (the result and one
		/// correction; a failure's callback takes the result's place).
		pub funded: u8,
	}

	/// The contract requests with a callback whose prepay is still held, by request id.
	#[pallet::storage]
	pub type ContractRequests<T: Config> =
		CountedStorageMap<_, Twox64Concat, RequestId, ContractRequest<T::AccountId, BalanceOf<T>>>;

	/// Callbacks waiting for a block's start, by position; delivered first in, first out.
	#[pallet::storage]
	pub type CallbackQueue<T: Config> = StorageMap<_, Twox64Concat, u64, (RequestId, CallbackKind)>;

	/// The callback queue's front (next to deliver) and back (next free position).
	#[pallet::storage]
	pub type CallbackQueueEnds<T: Config> = StorageValue<_, (u64, u64), ValueQuery>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A contract opened a request through the precompile; `prepay` (planck) is held for
		/// each of up to two callbacks of `callback_gas` gas.
		ContractRequested {
			/// The request.
			request_id: RequestId,
			/// The contract that pays and is called back.
			contract: H160,
			/// Gas per callback; zero for none.
			callback_gas: u64,
			/// The prepay of one callback.
			prepay: BalanceOf<T>,
		},
		/// A callback ran to its end.
		CallbackDelivered {
			/// The request.
			request_id: RequestId,
			/// The contract called.
			contract: H160,
			/// Which callback.
			kind: CallbackKind,
			/// The gas it used.
			gas_used: u64,
		},
		/// A callback reverted: its changes were undone; the result stays readable through
		/// `resultOf`.
		CallbackReverted {
			/// The request.
			request_id: RequestId,
			/// The contract called.
			contract: H160,
			/// Which callback.
			kind: CallbackKind,
			/// The gas it used.
			gas_used: u64,
			/// The start of its revert data (an `Error(string)` reason, for one).
			revert_data: BoundedVec<u8, ConstU32<256>>,
		},
		/// A callback failed without returning: out of gas, or another execution error. Its
		/// changes were undone; the result stays readable through `resultOf`.
		CallbackFailed {
			/// The request.
			request_id: RequestId,
			/// The contract called.
			contract: H160,
			/// Which callback.
			kind: CallbackKind,
			/// The gas it used.
			gas_used: u64,
			/// What went wrong.
			error: DispatchError,
		},
		/// A callback was not called.
		CallbackSkipped {
			/// The request.
			request_id: RequestId,
			/// Which callback.
			kind: CallbackKind,
			/// Why.
			reason: SkipReason,
		},
		/// What was left of a request's prepay went back to the contract.
		PrepayReturned {
			/// The request.
			request_id: RequestId,
			/// The contract.
			contract: H160,
			/// The amount, in planck.
			amount: BalanceOf<T>,
		},
	}

	/// Why the precompile refused a call (each reverts with its name as the reason).
	#[pallet::error]
	pub enum Error<T> {
		/// `callbackGasLimit` is above `MaxCallbackGas`.
		CallbackGasTooHigh,
		/// The precompile was reached through `DELEGATECALL`.
		DelegateCallRefused,
		/// A request was attempted in a static (read-only) call.
		StaticCallRefused,
		/// `MaxContractRequests` contract requests with a callback are in flight.
		TooManyContractRequests,
		/// The caller has no account (a root call).
		NoCallerAccount,
		/// The caller cannot cover the callback prepay.
		InsufficientBalance,
		/// The bytes are not a canonical tensor encoding.
		MalformedOutput,
		/// No such tensor or element.
		IndexOutOfRange,
		/// The element is not a number that fits an `int256` with six decimals.
		NotANumber,
	}

	/// Genesis: the account callbacks come from is created with the existential deposit, so a
	/// callback's prepay of any size can be moved to it and it is never reaped.
	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		#[serde(skip)]
		_config: core::marker::PhantomData<T>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			use fungible::{Inspect, Mutate};
			let dispatcher = callbacks::dispatcher::<T>();
			if T::Funds::balance(&dispatcher) < T::Funds::minimum_balance() {
				let _ = T::Funds::mint_into(&dispatcher, T::Funds::minimum_balance());
			}
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		/// Deliver queued callbacks, within this block's callback budget.
		fn on_initialize(_now: BlockNumberFor<T>) -> Weight {
			Self::deliver_callbacks()
		}

		fn integrity_test() {
			let largest = callbacks::gas_weight::<T>(T::MaxCallbackGas::get());
			assert!(
				largest.all_lte(T::CallbackWeightPerBlock::get()),
				"the largest callback must fit a block's callback budget"
			);
			assert!(T::RefTimePerGas::get() > 0, "RefTimePerGas must be positive");
			assert!(T::MaxCallbacksPerBlock::get() > 0, "MaxCallbacksPerBlock must be positive");
		}
	}
}
