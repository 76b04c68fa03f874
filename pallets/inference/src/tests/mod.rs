//! Unit tests of the inference pallet on the mock runtime.

mod attestations;
mod challenges;
mod executors;
mod models;
mod random_calls;
mod requests;
mod settlement;

use crate::{mock::*, RequestStatus, Requests, SignedAttestation};
use codec::Encode;
use frame_support::{assert_ok, traits::fungible::InspectHold};
use sp_core::H256;
use sp_runtime::RuntimeAppPublic;
use verity_primitives::{
	content_hash, AttestationPayload, DType, Dim, ExecutorPublic, ModelFormat, ModelId,
	ModelMetadata, RequestId, Tensor, TensorMap, TensorSpec,
};

/// Fee one executor earns for one run of the test models.
pub const FEE: Balance = 100;

/// Metadata of a model taking `x` (f32, any length) and returning `y` (f32, any length).
pub fn vector_metadata(redundancy: u8) -> ModelMetadata<Balance> {
	let spec = |name: &str| TensorSpec {
		name: name.as_bytes().to_vec().try_into().unwrap(),
		dtype: DType::F32,
		shape: vec![Dim::Any].try_into().unwrap(),
	};
	ModelMetadata {
		name: b"vector".to_vec().try_into().unwrap(),
		version: b"1".to_vec().try_into().unwrap(),
		format: ModelFormat::Onnx,
		artifact_uri: b"file:///models/vector.onnx".to_vec().try_into().unwrap(),
		artifact_size: 1_000,
		execution_profile: b"tract-0.23/generic".to_vec().try_into().unwrap(),
		inputs: vec![spec("x")].try_into().unwrap(),
		outputs: vec![spec("y")].try_into().unwrap(),
		fee_per_run: FEE,
		redundancy,
		predecessor: None,
	}
}

/// Register a vector model with this redundancy; its id is derived from `seed`.
pub fn vector_model(seed: u8, redundancy: u8) -> ModelId {
	let model_id = H256::repeat_byte(seed);
	assert_ok!(Inference::register_model(
		RuntimeOrigin::root(),
		model_id,
		vector_metadata(redundancy)
	));
	model_id
}

/// The canonical encoding of one f32 vector.
pub fn vector(name: &str, values: &[f32]) -> Vec<u8> {
	TensorMap(vec![Tensor {
		name: name.as_bytes().to_vec(),
		dtype: DType::F32,
		shape: vec![values.len() as u32],
		data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
	}])
	.encode()
}

/// A model input.
pub fn input() -> Vec<u8> {
	vector("x", &[1.0, 2.0, 3.0])
}

/// The output honest executors give.
pub fn honest_output() -> Vec<u8> {
	vector("y", &[0.25, 0.75])
}

/// An output that disagrees with the honest one.
pub fn wrong_output() -> Vec<u8> {
	vector("y", &[0.75, 0.25])
}

/// Register account `who` as an executor of `models` with a fresh key and the minimum bond.
pub fn executor(who: AccountId, models: &[ModelId]) -> ExecutorPublic {
	let key = ExecutorPublic::generate_pair(None);
	assert_ok!(Inference::register_executor(
		RuntimeOrigin::signed(who),
		key.clone(),
		models.to_vec().try_into().unwrap(),
		MIN_BOND,
	));
	key
}

/// What the fee of one request of a model of this redundancy totals, protocol cut included.
pub fn total_fee(redundancy: u8) -> Balance {
	let executors = FEE * Balance::from(redundancy);
	executors + ProtocolFee::get().mul_ceil(executors)
}

/// Request an inference from `who` and run to the next block, where it is assigned.
pub fn assigned_request(who: AccountId, model_id: ModelId) -> RequestId {
	let id = crate::NextRequestId::<Test>::get();
	assert_ok!(Inference::request_inference(
		RuntimeOrigin::signed(who),
		model_id,
		input(),
		u64::MAX
	));
	next_block();
	assert!(matches!(Requests::<Test>::get(id).unwrap().status, RequestStatus::Assigned { .. }));
	id
}

/// The signature of `key` on `output` for `request_id`.
pub fn sign(request_id: RequestId, key: &ExecutorPublic, output: &[u8]) -> SignedAttestation {
	let request = Requests::<Test>::get(request_id).unwrap();
	let model = crate::Models::<Test>::get(request.model_id).unwrap();
	let payload = AttestationPayload::new(
		Inference::genesis_hash(),
		request_id,
		request.model_id,
		model.metadata.execution_profile,
		request.input_hash,
		content_hash(output),
	);
	SignedAttestation {
		attestation_key: key.clone(),
		signature: key.sign(&payload.encode()).unwrap(),
	}
}

/// Submit `output` for `request_id` as the executor holding `key`, through the authorized
/// origin, after checking the transaction would be valid.
pub fn attest(
	request_id: RequestId,
	key: &ExecutorPublic,
	output: &[u8],
) -> sp_runtime::DispatchResult {
	let signature = sign(request_id, key, output);
	Inference::submit_attestation(
		frame_system::Origin::<Test>::Authorized.into(),
		request_id,
		output.to_vec(),
		signature,
	)
}

/// The assigned executors of a request, with their keys.
pub fn assignees(request_id: RequestId) -> Vec<(AccountId, ExecutorPublic)> {
	Requests::<Test>::get(request_id)
		.unwrap()
		.assigned
		.into_iter()
		.map(|assignee| (assignee.account, assignee.attestation_key))
		.collect()
}

/// Funds held from `who` for `reason`.
pub fn held(reason: crate::HoldReason, who: AccountId) -> Balance {
	Balances::balance_on_hold(&reason.into(), &who)
}

/// Free balance of `who`.
pub fn free(who: AccountId) -> Balance {
	Balances::free_balance(who)
}

/// The status of a request.
pub fn status(request_id: RequestId) -> RequestStatus<u64> {
	Requests::<Test>::get(request_id).unwrap().status
}
