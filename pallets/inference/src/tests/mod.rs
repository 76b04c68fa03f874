//! Unit tests of the inference pallet on the mock runtime.

mod answer_space;
mod attestations;
mod batches;
mod challenges;
mod executors;
mod generation;
mod models;
mod offchain;
mod random_calls;
mod requests;
mod settlement;

use crate::{mock::*, RequestStatus, Requests, SignedAttestation};
use codec::Encode;
use frame_support::{assert_ok, traits::fungible::InspectHold};
use sp_core::H256;
use sp_runtime::RuntimeAppPublic;
use verity_primitives::{
	commitment, content_hash, AttestationPayload, DType, Dim, ExecutorPublic, InferenceOutcome,
	ModelFormat, ModelId, ModelMetadata, RequestId, Tensor, TensorMap, TensorSpec,
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
		answer_blocks: 0,
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

/// The proof that `key` belongs to `who` on this chain.
pub fn key_proof(who: AccountId, key: &ExecutorPublic) -> verity_primitives::ExecutorSignature {
	key.sign(&verity_primitives::key_ownership_message(&who, Inference::genesis_hash()))
		.unwrap()
}

/// Register account `who` as an executor of `models` with a fresh key and the minimum bond.
pub fn executor(who: AccountId, models: &[ModelId]) -> ExecutorPublic {
	executor_with_bond(who, models, MIN_BOND)
}

/// Register account `who` as an executor of `models` with a fresh key and `bond`.
pub fn executor_with_bond(who: AccountId, models: &[ModelId], bond: Balance) -> ExecutorPublic {
	let key = ExecutorPublic::generate_pair(None);
	assert_ok!(Inference::register_executor(
		RuntimeOrigin::signed(who),
		key.clone(),
		key_proof(who, &key),
		models.to_vec().try_into().unwrap(),
		bond,
	));
	key
}

/// Run blocks until `request_id`'s deadline has closed it (late reveals settled, no-shows
/// slashed).
pub fn run_to_deadline(request_id: RequestId) {
	let deadline = status(request_id).deadline().expect("an open or finalized request");
	while System::block_number() < deadline {
		next_block();
	}
}

/// Take every assignment this block has room for (`MaxRequestsPerBlock`) with requests of
/// another model, served by executor 19, so that the next request waits in the queue.
pub fn fill_this_blocks_assignments() {
	let model = vector_model(0xee, 1);
	executor(19, &[model]);
	for _ in 0..8 {
		assert_ok!(Inference::request_inference(
			RuntimeOrigin::signed(2),
			model,
			input(),
			u64::MAX
		));
	}
	assert_eq!(Inference::queued_requests(), 0, "all eight drawn at once");
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

/// `count` requests from `who` for `model_id` in this block (not yet drawn unless the queue
/// was empty); their ids, in order.
pub fn request_many(who: AccountId, model_id: ModelId, count: u64) -> Vec<RequestId> {
	let first = crate::NextRequestId::<Test>::get();
	for _ in 0..count {
		assert_ok!(Inference::request_inference(
			RuntimeOrigin::signed(who),
			model_id,
			input(),
			u64::MAX
		));
	}
	(first..first + count).collect()
}

/// An output as an outcome.
pub fn out(output: &[u8]) -> InferenceOutcome {
	InferenceOutcome::Output(output.to_vec())
}

/// The payload `key` signs to reveal `outcome` for `request_id`.
pub fn payload(request_id: RequestId, outcome: &InferenceOutcome) -> AttestationPayload {
	let request = Requests::<Test>::get(request_id).unwrap();
	Inference::attestation_payload(request_id, &request, outcome.hash()).unwrap()
}

/// The signature of `key` revealing `outcome` for `request_id`.
pub fn sign_outcome(
	request_id: RequestId,
	key: &ExecutorPublic,
	outcome: &InferenceOutcome,
) -> SignedAttestation {
	SignedAttestation {
		attestation_key: key.clone(),
		signature: key.sign(&payload(request_id, outcome).encode()).unwrap(),
	}
}

/// The signature of `key` revealing `output` for `request_id`.
pub fn sign(request_id: RequestId, key: &ExecutorPublic, output: &[u8]) -> SignedAttestation {
	sign_outcome(request_id, key, &out(output))
}

/// The commitment `key` makes to `outcome` for `request_id`, with its signature.
pub fn signed_commitment(
	request_id: RequestId,
	key: &ExecutorPublic,
	outcome: &InferenceOutcome,
) -> (H256, SignedAttestation) {
	let committed = commitment(&payload(request_id, outcome), key);
	let request = Requests::<Test>::get(request_id).unwrap();
	let message = Inference::commitment_message_for(request_id, &request, committed);
	(
		committed,
		SignedAttestation { attestation_key: key.clone(), signature: key.sign(&message).unwrap() },
	)
}

/// Submit a commitment as `authorize` then dispatch would: the transaction validity first,
/// then the call through the authorized origin.
pub fn submit_commitment(
	request_id: RequestId,
	committed: H256,
	signature: SignedAttestation,
) -> sp_runtime::DispatchResult {
	Inference::check_commitment(request_id, committed, &signature, true)
		.map_err(sp_runtime::DispatchError::from)?;
	Inference::submit_commitment(
		frame_system::Origin::<Test>::Authorized.into(),
		request_id,
		committed,
		signature,
	)
}

/// Submit a reveal as `authorize` then dispatch would.
pub fn submit_reveal(
	request_id: RequestId,
	outcome: InferenceOutcome,
	signature: SignedAttestation,
) -> sp_runtime::DispatchResult {
	Inference::check_reveal(request_id, &outcome, &signature, true)
		.map_err(sp_runtime::DispatchError::from)?;
	Inference::submit_attestation(
		frame_system::Origin::<Test>::Authorized.into(),
		request_id,
		outcome,
		signature,
	)
	.map(|_| ())
	.map_err(|error| error.error)
}

/// Commit to `outcome` for `request_id` as the executor holding `key`.
pub fn commit_outcome(
	request_id: RequestId,
	key: &ExecutorPublic,
	outcome: &InferenceOutcome,
) -> sp_runtime::DispatchResult {
	let (committed, signature) = signed_commitment(request_id, key, outcome);
	submit_commitment(request_id, committed, signature)
}

/// Reveal `outcome` for `request_id` as the executor holding `key`.
pub fn reveal_outcome(
	request_id: RequestId,
	key: &ExecutorPublic,
	outcome: &InferenceOutcome,
) -> sp_runtime::DispatchResult {
	submit_reveal(request_id, outcome.clone(), sign_outcome(request_id, key, outcome))
}

/// Commit to `output`, then reveal it: for a request whose commit phase this commitment
/// closes (redundancy 1, or every other executor committed already).
pub fn attest(
	request_id: RequestId,
	key: &ExecutorPublic,
	output: &[u8],
) -> sp_runtime::DispatchResult {
	commit_outcome(request_id, key, &out(output))?;
	reveal_outcome(request_id, key, &out(output))
}

/// Run blocks until the commit phase of `request_id` is over.
pub fn close_commit_phase(request_id: RequestId) {
	while !Requests::<Test>::get(request_id)
		.unwrap()
		.commit_phase_closed(System::block_number())
	{
		next_block();
	}
}

/// The executors listed answer `request_id` honestly in two steps: all commit, the commit
/// phase closes (at once if every assigned executor committed, at the commit deadline
/// otherwise), all reveal, in order.
pub fn answer(request_id: RequestId, answers: &[(&ExecutorPublic, Vec<u8>)]) {
	answer_outcomes(
		request_id,
		&answers.iter().map(|(key, output)| (*key, out(output))).collect::<Vec<_>>(),
	);
}

/// Every executor assigned to `request_id` answers `output`, in two steps.
pub fn answer_all(request_id: RequestId, output: &[u8]) {
	let drawn = assignees(request_id);
	answer(request_id, &drawn.iter().map(|(_, key)| (key, output.to_vec())).collect::<Vec<_>>());
}

/// [`answer`] with outcomes (outputs or rejections).
pub fn answer_outcomes(request_id: RequestId, answers: &[(&ExecutorPublic, InferenceOutcome)]) {
	for (key, outcome) in answers {
		assert_ok!(commit_outcome(request_id, key, outcome));
	}
	close_commit_phase(request_id);
	for (key, outcome) in answers {
		assert_ok!(reveal_outcome(request_id, key, outcome));
	}
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
