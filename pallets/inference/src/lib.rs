#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
mod impl_models;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
#[cfg(any(feature = "try-runtime", test))]
mod try_state;
pub mod types;
pub mod weights;

pub use pallet::*;
pub use types::*;
pub use weights::WeightInfo;

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{pallet_prelude::*, traits::fungible};
	use frame_system::pallet_prelude::*;
	use verity_primitives::{ModelId, ModelMetadata, ModelStatus};

	/// The in-code storage version.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Configuration of the inference protocol.
	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The currency fees are paid in and bonds are held in.
		type Currency: fungible::Inspect<Self::AccountId>;

		/// The origin allowed to register models and change their status: governance.
		type ModelOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// The highest redundancy a model may ask for: how many executors run one request.
		#[pallet::constant]
		type MaxRedundancy: Get<u8>;

		/// The largest model artifact, in bytes, the chain accepts for registration.
		#[pallet::constant]
		type MaxArtifactSize: Get<u64>;

		/// Weights of this pallet's calls, generated from its benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// Every registered model, by the blake2-256 hash of its artifact.
	#[pallet::storage]
	pub type Models<T: Config> =
		StorageMap<_, Blake2_128Concat, ModelId, ModelInfoOf<T>, OptionQuery>;

	/// Models registered at genesis, e.g. the demo models of a development chain.
	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// `(model id, metadata)` of each model to register.
		pub models: alloc::vec::Vec<(ModelId, ModelMetadata<BalanceOf<T>>)>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			for (model_id, metadata) in &self.models {
				if let Err(error) = Pallet::<T>::do_register_model(*model_id, metadata.clone()) {
					panic!("genesis model {model_id:?} is invalid: {error:?}");
				}
			}
		}
	}

	/// Events of the inference protocol.
	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// Governance registered a model.
		ModelRegistered {
			/// The model's id: the hash of its artifact.
			model_id: ModelId,
			/// The model this version replaces, if any.
			predecessor: Option<ModelId>,
		},
		/// Governance changed a model's status.
		ModelStatusChanged {
			/// The model whose status changed.
			model_id: ModelId,
			/// Its status before.
			old_status: ModelStatus,
			/// Its status now.
			new_status: ModelStatus,
		},
	}

	/// Errors of the inference protocol.
	#[pallet::error]
	pub enum Error<T> {
		/// A model with this id is already registered.
		ModelAlreadyRegistered,
		/// No model with this id is registered.
		UnknownModel,
		/// The model name is empty.
		EmptyModelName,
		/// The model version is empty.
		EmptyModelVersion,
		/// The artifact URI is not `file://`, `http://` or `https://` followed by a location.
		UnsupportedArtifactUri,
		/// The artifact size is zero.
		EmptyArtifact,
		/// The artifact is larger than `MaxArtifactSize`.
		ArtifactTooLarge,
		/// The execution profile is empty.
		EmptyExecutionProfile,
		/// The model declares no input tensor.
		NoInputs,
		/// The model declares no output tensor.
		NoOutputs,
		/// A tensor's name is empty.
		EmptyTensorName,
		/// Two inputs, or two outputs, share a name.
		DuplicateTensorName,
		/// A tensor has no dimension.
		EmptyTensorShape,
		/// A tensor has a fixed dimension of size zero.
		ZeroTensorDimension,
		/// The redundancy is zero or above `MaxRedundancy`.
		InvalidRedundancy,
		/// The predecessor is not a registered model.
		UnknownPredecessor,
		/// The predecessor has a different name: versions of one model share a name.
		PredecessorNameMismatch,
		/// The predecessor already has a successor.
		PredecessorSuperseded,
		/// The model already has the requested status.
		StatusUnchanged,
		/// The model is retired: its status can no longer change.
		ModelRetired,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			assert!(T::MaxRedundancy::get() > 0, "MaxRedundancy must be at least 1");
			assert!(T::MaxArtifactSize::get() > 0, "MaxArtifactSize must be at least 1");
			let max = T::BlockWeights::get().max_block;
			for (name, weight) in [
				("register_model", T::WeightInfo::register_model()),
				("set_model_status", T::WeightInfo::set_model_status()),
			] {
				assert!(weight.all_lt(max), "{name} does not fit in a block");
			}
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call(weight(<T as Config>::WeightInfo))]
	impl<T: Config> Pallet<T> {
		/// Register a model.
		///
		/// - Origin: `ModelOrigin` (governance).
		/// - `model_id`: blake2-256 of the model artifact's bytes; executors check it on load.
		/// - `metadata`: name, version, format, artifact URI and size, execution profile,
		///   input and output tensor specs, fee per run, redundancy, and optionally the
		///   predecessor this version replaces (same name, not already superseded).
		///
		/// The model starts `Active`. Emits `ModelRegistered`.
		///
		/// Errors: `ModelAlreadyRegistered`, any metadata error (`EmptyModelName`,
		/// `EmptyModelVersion`, `UnsupportedArtifactUri`, `EmptyArtifact`, `ArtifactTooLarge`,
		/// `EmptyExecutionProfile`, `NoInputs`, `NoOutputs`, `EmptyTensorName`,
		/// `DuplicateTensorName`, `EmptyTensorShape`, `ZeroTensorDimension`,
		/// `InvalidRedundancy`), `UnknownPredecessor`, `PredecessorNameMismatch`,
		/// `PredecessorSuperseded`.
		#[pallet::call_index(0)]
		pub fn register_model(
			origin: OriginFor<T>,
			model_id: ModelId,
			metadata: ModelMetadata<BalanceOf<T>>,
		) -> DispatchResult {
			T::ModelOrigin::ensure_origin(origin)?;
			Self::do_register_model(model_id, metadata)
		}

		/// Change a model's life-cycle status.
		///
		/// - Origin: `ModelOrigin` (governance).
		/// - `model_id`: the model.
		/// - `status`: `Active`, `Deprecated` or `Retired`. Retirement is final.
		///
		/// Emits `ModelStatusChanged`.
		///
		/// Errors: `UnknownModel`, `StatusUnchanged`, `ModelRetired`.
		#[pallet::call_index(1)]
		pub fn set_model_status(
			origin: OriginFor<T>,
			model_id: ModelId,
			status: ModelStatus,
		) -> DispatchResult {
			T::ModelOrigin::ensure_origin(origin)?;
			Self::do_set_model_status(model_id, status)
		}
	}
}
