//! Benchmarks of the inference pallet's calls, the source of `weights.rs`.

use super::*;
use frame_benchmarking::v2::*;
use frame_support::traits::EnsureOrigin;
use sp_core::H256;
use verity_primitives::{
	DType, Dim, ModelFormat, ModelMetadata, ModelStatus, TensorSpec, MAX_NAME_LEN, MAX_RANK,
	MAX_TENSORS, MAX_TENSOR_NAME_LEN, MAX_URI_LEN,
};

/// Metadata at every bound: the longest names, the most tensors of the highest rank.
fn largest_metadata<T: Config>(predecessor: Option<ModelId>) -> ModelMetadata<BalanceOf<T>> {
	let tensors = |prefix: u8| {
		(0..MAX_TENSORS)
			.map(|i| {
				let mut name = alloc::vec![prefix; MAX_TENSOR_NAME_LEN as usize];
				name[0] = i as u8;
				TensorSpec {
					name: name.try_into().expect("within the bound"),
					dtype: DType::F32,
					shape: alloc::vec![Dim::Any; MAX_RANK as usize]
						.try_into()
						.expect("within the bound"),
				}
			})
			.collect::<alloc::vec::Vec<_>>()
			.try_into()
			.expect("within the bound")
	};
	let mut uri = b"https://".to_vec();
	uri.resize(MAX_URI_LEN as usize, b'a');
	ModelMetadata {
		name: alloc::vec![b'n'; MAX_NAME_LEN as usize].try_into().expect("within the bound"),
		version: b"1.0.0".to_vec().try_into().expect("within the bound"),
		format: ModelFormat::Onnx,
		artifact_uri: uri.try_into().expect("within the bound"),
		artifact_size: T::MaxArtifactSize::get(),
		execution_profile: b"tract/generic".to_vec().try_into().expect("within the bound"),
		inputs: tensors(b'i'),
		outputs: tensors(b'o'),
		fee_per_run: Default::default(),
		redundancy: T::MaxRedundancy::get(),
		predecessor,
	}
}

#[benchmarks]
mod benchmarks {
	use super::*;

	/// Worst case: the longest metadata, linked to a predecessor that must be read and updated.
	#[benchmark]
	fn register_model() -> Result<(), BenchmarkError> {
		let origin =
			T::ModelOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let predecessor = H256::repeat_byte(1);
		Pallet::<T>::do_register_model(predecessor, largest_metadata::<T>(None))?;
		let model_id = H256::repeat_byte(2);
		let metadata = largest_metadata::<T>(Some(predecessor));

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, model_id, metadata);

		assert!(Models::<T>::contains_key(model_id));
		assert_eq!(Models::<T>::get(predecessor).and_then(|m| m.successor), Some(model_id));
		Ok(())
	}

	#[benchmark]
	fn set_model_status() -> Result<(), BenchmarkError> {
		let origin =
			T::ModelOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let model_id = H256::repeat_byte(1);
		Pallet::<T>::do_register_model(model_id, largest_metadata::<T>(None))?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, model_id, ModelStatus::Deprecated);

		assert_eq!(Models::<T>::get(model_id).map(|m| m.status), Some(ModelStatus::Deprecated));
		Ok(())
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
