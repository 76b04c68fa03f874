//! Type aliases the pallet's storage and calls are written in.

use crate::Config;
use frame_support::traits::fungible::Inspect;
use frame_system::pallet_prelude::BlockNumberFor;
use verity_primitives::ModelInfo;

/// The balance type of the configured currency.
pub type BalanceOf<T> =
	<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// A registered model as this runtime stores it.
pub type ModelInfoOf<T> = ModelInfo<BalanceOf<T>, BlockNumberFor<T>>;
