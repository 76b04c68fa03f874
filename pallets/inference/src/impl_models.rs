//! The model registry: registration, metadata checks, versions and status.

use crate::{Config, Error, Event, Models, Pallet};
use alloc::collections::BTreeSet;
use frame_support::{ensure, pallet_prelude::DispatchResult, traits::Get};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::SaturatedConversion;
use sp_runtime::Saturating;
use verity_primitives::{
	generation_specs, Dim, ModelFormat, ModelId, ModelInfo, ModelMetadata, ModelStatus,
	TensorSpecs, ARTIFACT_URI_SCHEMES,
};

impl<T: Config> Pallet<T> {
	/// The blocks executors get to answer a request of a model with `metadata`, and the
	/// blocks of those in which commitments are taken: a model's `answer_blocks` beyond the
	/// chain's `ResponseTimeout` all go to the commit phase, in which executors compute.
	pub(crate) fn answer_windows(
		metadata: &ModelMetadata<crate::BalanceOf<T>>,
	) -> (BlockNumberFor<T>, BlockNumberFor<T>) {
		let response = T::ResponseTimeout::get();
		let declared: BlockNumberFor<T> = metadata.answer_blocks.into();
		let extra = declared.saturating_sub(response);
		(response.saturating_add(extra), T::CommitTimeout::get().saturating_add(extra))
	}

	/// Check `metadata`, link it to its predecessor and store it as an active model.
	pub(crate) fn do_register_model(
		model_id: ModelId,
		metadata: ModelMetadata<crate::BalanceOf<T>>,
	) -> DispatchResult {
		ensure!(!Models::<T>::contains_key(model_id), Error::<T>::ModelAlreadyRegistered);
		Self::ensure_valid_metadata(&metadata)?;

		if let Some(predecessor_id) = metadata.predecessor {
			let mut predecessor =
				Models::<T>::get(predecessor_id).ok_or(Error::<T>::UnknownPredecessor)?;
			ensure!(
				predecessor.metadata.name == metadata.name,
				Error::<T>::PredecessorNameMismatch
			);
			ensure!(predecessor.successor.is_none(), Error::<T>::PredecessorSuperseded);
			predecessor.successor = Some(model_id);
			Models::<T>::insert(predecessor_id, predecessor);
		}

		let predecessor = metadata.predecessor;
		Models::<T>::insert(
			model_id,
			ModelInfo {
				metadata,
				status: ModelStatus::Active,
				successor: None,
				registered_at: frame_system::Pallet::<T>::block_number(),
			},
		);
		Self::deposit_event(Event::ModelRegistered { model_id, predecessor });
		Ok(())
	}

	/// Move a model to `status`, refusing no-op changes and any change to a retired model.
	pub(crate) fn do_set_model_status(model_id: ModelId, status: ModelStatus) -> DispatchResult {
		Models::<T>::try_mutate(model_id, |maybe_model| {
			let model = maybe_model.as_mut().ok_or(Error::<T>::UnknownModel)?;
			let old_status = model.status;
			ensure!(old_status != ModelStatus::Retired, Error::<T>::ModelRetired);
			ensure!(old_status != status, Error::<T>::StatusUnchanged);
			model.status = status;
			Self::deposit_event(Event::ModelStatusChanged {
				model_id,
				old_status,
				new_status: status,
			});
			Ok(())
		})
	}

	/// Every check a model's metadata must pass before it is stored.
	fn ensure_valid_metadata(metadata: &ModelMetadata<crate::BalanceOf<T>>) -> DispatchResult {
		ensure!(!metadata.name.is_empty(), Error::<T>::EmptyModelName);
		ensure!(!metadata.version.is_empty(), Error::<T>::EmptyModelVersion);
		ensure!(is_supported_uri(&metadata.artifact_uri), Error::<T>::UnsupportedArtifactUri);
		ensure!(metadata.artifact_size > 0, Error::<T>::EmptyArtifact);
		ensure!(metadata.artifact_size <= T::MaxArtifactSize::get(), Error::<T>::ArtifactTooLarge);
		ensure!(!metadata.execution_profile.is_empty(), Error::<T>::EmptyExecutionProfile);
		ensure!(!metadata.inputs.is_empty(), Error::<T>::NoInputs);
		ensure!(!metadata.outputs.is_empty(), Error::<T>::NoOutputs);
		Self::ensure_valid_tensors(&metadata.inputs)?;
		Self::ensure_valid_tensors(&metadata.outputs)?;
		ensure!(
			(1..=T::MaxRedundancy::get()).contains(&u32::from(metadata.redundancy)),
			Error::<T>::InvalidRedundancy
		);
		let default_blocks: u32 = T::ResponseTimeout::get().saturated_into();
		ensure!(
			metadata.answer_blocks == 0
				|| (default_blocks..=T::MaxAnswerBlocks::get()).contains(&metadata.answer_blocks),
			Error::<T>::InvalidAnswerBlocks
		);
		if metadata.format == ModelFormat::Gguf {
			let (inputs, outputs) = generation_specs();
			ensure!(
				metadata.inputs.as_slice() == inputs.as_slice()
					&& metadata.outputs.as_slice() == outputs.as_slice(),
				Error::<T>::NotAGenerationModel
			);
		}
		Ok(())
	}

	/// Tensor names are non-empty and unique, shapes have no zero-sized axis (an empty shape is
	/// a scalar).
	fn ensure_valid_tensors(tensors: &TensorSpecs) -> DispatchResult {
		let mut names = BTreeSet::new();
		for tensor in tensors {
			ensure!(!tensor.name.is_empty(), Error::<T>::EmptyTensorName);
			ensure!(names.insert(&tensor.name), Error::<T>::DuplicateTensorName);
			ensure!(
				tensor.shape.iter().all(|dim| *dim != Dim::Fixed(0)),
				Error::<T>::ZeroTensorDimension
			);
		}
		Ok(())
	}
}

/// Whether `uri` starts with a scheme executors can fetch from and names something after it.
fn is_supported_uri(uri: &[u8]) -> bool {
	ARTIFACT_URI_SCHEMES
		.iter()
		.any(|scheme| uri.len() > scheme.len() && uri.starts_with(scheme))
}
