//! The model registry: every call, every error.

use crate::{mock::*, Error, Event, Models};
use frame_support::{assert_noop, assert_ok, BoundedVec};
use sp_core::H256;
use sp_runtime::{BuildStorage, DispatchError};
use verity_primitives::{DType, Dim, ModelFormat, ModelId, ModelMetadata, ModelStatus, TensorSpec};

const MODEL: ModelId = H256::repeat_byte(0xaa);
const NEXT: ModelId = H256::repeat_byte(0xbb);

fn bounded<const N: u32>(bytes: &[u8]) -> BoundedVec<u8, sp_core::ConstU32<N>> {
	bytes.to_vec().try_into().expect("test data fits its bound")
}

fn tensor(name: &str, dtype: DType, shape: &[Dim]) -> TensorSpec {
	TensorSpec {
		name: bounded(name.as_bytes()),
		dtype,
		shape: shape.to_vec().try_into().expect("test shape fits its bound"),
	}
}

fn metadata() -> ModelMetadata<Balance> {
	ModelMetadata {
		name: bounded(b"text-direction"),
		version: bounded(b"2.0"),
		format: ModelFormat::Onnx,
		artifact_uri: bounded(b"https://models.example/cls.onnx"),
		artifact_size: 585_532,
		execution_profile: bounded(b"tract-0.23/generic"),
		inputs: vec![tensor("x", DType::F32, &[Dim::Any, Dim::Fixed(3), Dim::Fixed(48), Dim::Any])]
			.try_into()
			.unwrap(),
		outputs: vec![tensor("softmax", DType::F32, &[Dim::Any, Dim::Fixed(2)])]
			.try_into()
			.unwrap(),
		fee_per_run: 10,
		redundancy: 2,
		predecessor: None,
		answer_blocks: 0,
	}
}

fn register(model_id: ModelId, metadata: ModelMetadata<Balance>) -> sp_runtime::DispatchResult {
	Inference::register_model(RuntimeOrigin::root(), model_id, metadata)
}

#[test]
fn register_model_stores_an_active_model() {
	run_test(|| {
		System::set_block_number(7);
		assert_ok!(register(MODEL, metadata()));

		let model = Models::<Test>::get(MODEL).expect("stored");
		assert_eq!(model.metadata, metadata());
		assert_eq!(model.status, ModelStatus::Active);
		assert_eq!(model.successor, None);
		assert_eq!(model.registered_at, 7);
		System::assert_last_event(
			Event::ModelRegistered { model_id: MODEL, predecessor: None }.into(),
		);
	});
}

#[test]
fn register_model_requires_the_model_origin() {
	run_test(|| {
		assert_noop!(
			Inference::register_model(RuntimeOrigin::signed(1), MODEL, metadata()),
			DispatchError::BadOrigin
		);
		assert_noop!(
			Inference::register_model(RuntimeOrigin::none(), MODEL, metadata()),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn register_model_refuses_a_duplicate() {
	run_test(|| {
		assert_ok!(register(MODEL, metadata()));
		assert_noop!(register(MODEL, metadata()), Error::<Test>::ModelAlreadyRegistered);
	});
}

#[test]
fn register_model_refuses_bad_metadata() {
	type Case = (fn(&mut ModelMetadata<Balance>), Error<Test>);
	let cases: Vec<Case> = vec![
		(|m| m.name = bounded(b""), Error::EmptyModelName),
		(|m| m.version = bounded(b""), Error::EmptyModelVersion),
		(
			|m| m.artifact_uri = bounded(b"ftp://models.example/a.onnx"),
			Error::UnsupportedArtifactUri,
		),
		(|m| m.artifact_uri = bounded(b"https://"), Error::UnsupportedArtifactUri),
		(|m| m.artifact_uri = bounded(b""), Error::UnsupportedArtifactUri),
		(|m| m.artifact_size = 0, Error::EmptyArtifact),
		(|m| m.artifact_size = 64 * 1024 * 1024 + 1, Error::ArtifactTooLarge),
		(|m| m.execution_profile = bounded(b""), Error::EmptyExecutionProfile),
		(|m| m.inputs = Default::default(), Error::NoInputs),
		(|m| m.outputs = Default::default(), Error::NoOutputs),
		(|m| m.inputs[0].name = bounded(b""), Error::EmptyTensorName),
		(|m| m.outputs[0].name = bounded(b""), Error::EmptyTensorName),
		(
			|m| {
				let copy = m.inputs[0].clone();
				m.inputs.try_push(copy).unwrap();
			},
			Error::DuplicateTensorName,
		),
		(|m| m.inputs[0].shape[1] = Dim::Fixed(0), Error::ZeroTensorDimension),
		(|m| m.redundancy = 0, Error::InvalidRedundancy),
		(|m| m.redundancy = 6, Error::InvalidRedundancy),
	];
	for (index, (corrupt, error)) in cases.into_iter().enumerate() {
		run_test(|| {
			let mut bad = metadata();
			corrupt(&mut bad);
			assert_eq!(register(MODEL, bad), Err(error.into()), "case {index}");
			assert!(!Models::<Test>::contains_key(MODEL), "case {index} stored nothing");
		});
	}
}

#[test]
fn scalar_tensors_are_declared_with_an_empty_shape() {
	run_test(|| {
		let mut with_scalar = metadata();
		with_scalar.inputs.try_push(tensor("sr", DType::I64, &[])).unwrap();
		assert_ok!(register(MODEL, with_scalar));
	});
}

#[test]
fn register_model_accepts_the_bounds_themselves() {
	run_test(|| {
		let mut edge = metadata();
		edge.artifact_size = 64 * 1024 * 1024;
		edge.redundancy = 5;
		edge.artifact_uri = bounded(b"file:///var/lib/verity/models/cls.onnx");
		assert_ok!(register(MODEL, edge));
	});
}

#[test]
fn a_new_version_links_to_its_predecessor() {
	run_test(|| {
		assert_ok!(register(MODEL, metadata()));
		let mut next = metadata();
		next.version = bounded(b"2.1");
		next.predecessor = Some(MODEL);
		assert_ok!(register(NEXT, next));

		assert_eq!(Models::<Test>::get(MODEL).unwrap().successor, Some(NEXT));
		assert_eq!(Models::<Test>::get(NEXT).unwrap().metadata.predecessor, Some(MODEL));
		// The old version keeps its status until governance changes it.
		assert_eq!(Models::<Test>::get(MODEL).unwrap().status, ModelStatus::Active);
		System::assert_last_event(
			Event::ModelRegistered { model_id: NEXT, predecessor: Some(MODEL) }.into(),
		);
	});
}

#[test]
fn a_new_version_needs_a_registered_predecessor() {
	run_test(|| {
		let mut next = metadata();
		next.predecessor = Some(MODEL);
		assert_noop!(register(NEXT, next), Error::<Test>::UnknownPredecessor);
	});
}

#[test]
fn a_new_version_shares_its_predecessors_name() {
	run_test(|| {
		assert_ok!(register(MODEL, metadata()));
		let mut other = metadata();
		other.name = bounded(b"another-model");
		other.predecessor = Some(MODEL);
		assert_noop!(register(NEXT, other), Error::<Test>::PredecessorNameMismatch);
	});
}

#[test]
fn a_model_has_at_most_one_successor() {
	run_test(|| {
		assert_ok!(register(MODEL, metadata()));
		let mut next = metadata();
		next.predecessor = Some(MODEL);
		assert_ok!(register(NEXT, next.clone()));
		assert_noop!(register(H256::repeat_byte(0xcc), next), Error::<Test>::PredecessorSuperseded);
	});
}

#[test]
fn set_model_status_walks_the_life_cycle() {
	run_test(|| {
		assert_ok!(register(MODEL, metadata()));
		for (old_status, new_status) in [
			(ModelStatus::Active, ModelStatus::Deprecated),
			(ModelStatus::Deprecated, ModelStatus::Active),
			(ModelStatus::Active, ModelStatus::Retired),
		] {
			assert_ok!(Inference::set_model_status(RuntimeOrigin::root(), MODEL, new_status));
			assert_eq!(Models::<Test>::get(MODEL).unwrap().status, new_status);
			System::assert_last_event(
				Event::ModelStatusChanged { model_id: MODEL, old_status, new_status }.into(),
			);
		}
	});
}

#[test]
fn set_model_status_requires_the_model_origin() {
	run_test(|| {
		assert_ok!(register(MODEL, metadata()));
		assert_noop!(
			Inference::set_model_status(RuntimeOrigin::signed(1), MODEL, ModelStatus::Retired),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn set_model_status_refuses_an_unknown_model() {
	run_test(|| {
		assert_noop!(
			Inference::set_model_status(RuntimeOrigin::root(), MODEL, ModelStatus::Retired),
			Error::<Test>::UnknownModel
		);
	});
}

#[test]
fn set_model_status_refuses_a_no_op() {
	run_test(|| {
		assert_ok!(register(MODEL, metadata()));
		assert_noop!(
			Inference::set_model_status(RuntimeOrigin::root(), MODEL, ModelStatus::Active),
			Error::<Test>::StatusUnchanged
		);
	});
}

#[test]
fn retirement_is_final() {
	run_test(|| {
		assert_ok!(register(MODEL, metadata()));
		assert_ok!(Inference::set_model_status(RuntimeOrigin::root(), MODEL, ModelStatus::Retired));
		for status in [ModelStatus::Active, ModelStatus::Deprecated, ModelStatus::Retired] {
			assert_noop!(
				Inference::set_model_status(RuntimeOrigin::root(), MODEL, status),
				Error::<Test>::ModelRetired
			);
		}
	});
}

#[test]
fn genesis_registers_models() {
	let mut next = metadata();
	next.predecessor = Some(MODEL);
	let storage = RuntimeGenesisConfig {
		inference: crate::GenesisConfig {
			models: vec![(MODEL, metadata()), (NEXT, next)],
			executors: vec![],
		},
		..Default::default()
	}
	.build_storage()
	.unwrap();
	sp_io::TestExternalities::new(storage).execute_with(|| {
		assert_eq!(Models::<Test>::get(MODEL).unwrap().successor, Some(NEXT));
		assert_eq!(Models::<Test>::get(NEXT).unwrap().status, ModelStatus::Active);
		Inference::do_try_state().unwrap();
	});
}

#[test]
#[should_panic(expected = "genesis model")]
fn genesis_refuses_an_invalid_model() {
	let mut bad = metadata();
	bad.redundancy = 0;
	let _ = RuntimeGenesisConfig {
		inference: crate::GenesisConfig { models: vec![(MODEL, bad)], executors: vec![] },
		..Default::default()
	}
	.build_storage();
}

#[test]
fn the_registry_reads_in_pages_that_cover_every_model_once() {
	run_test(|| {
		let registered: Vec<ModelId> = (0..25u64).map(H256::from_low_u64_be).collect();
		for model_id in &registered {
			assert_ok!(Inference::register_model(RuntimeOrigin::root(), *model_id, metadata()));
		}
		let mut seen = Vec::new();
		let mut pages = Vec::new();
		let mut start_after = None;
		loop {
			let page = Inference::models_page(start_after, 10);
			pages.push(page.len());
			start_after = page.last().map(|(model_id, _)| *model_id);
			seen.extend(page.into_iter().map(|(model_id, _)| model_id));
			if pages.last() != Some(&10) {
				break;
			}
		}
		assert_eq!(pages, vec![10, 10, 5]);
		seen.sort();
		assert_eq!(seen, registered, "every model once, none twice");
		let limit = crate::runtime_api::MAX_MODELS_PAGE;
		assert_eq!(Inference::models_page(None, u32::MAX).len(), 25, "a page is capped at {limit}");
	});
}

#[test]
fn the_registry_holds_ten_thousand_models_and_reads_them_in_capped_pages() {
	run_test(|| {
		let count = 10_000u64;
		for index in 0..count {
			let model_id = H256::from_low_u64_be(index + 1);
			assert_ok!(Inference::register_model(RuntimeOrigin::root(), model_id, metadata()));
		}
		let limit = crate::runtime_api::MAX_MODELS_PAGE;
		let mut seen = std::collections::BTreeSet::new();
		let mut start_after = None;
		let mut pages = 0;
		loop {
			let page = Inference::models_page(start_after, u32::MAX);
			assert!(page.len() <= limit as usize, "a page is capped at {limit}");
			if page.is_empty() {
				break;
			}
			pages += 1;
			start_after = page.last().map(|(model_id, _)| *model_id);
			for (model_id, _) in page {
				assert!(seen.insert(model_id), "{model_id:?} read twice");
			}
		}
		assert_eq!(seen.len() as u64, count, "every model read");
		assert_eq!(pages, count.div_ceil(u64::from(limit)));
		assert!(crate::Models::<Test>::contains_key(H256::from_low_u64_be(count)), "the last one");
	});
}
