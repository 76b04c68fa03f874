//! Benchmarks of the inference pallet's calls and hook work, the source of `weights.rs`.
//!
//! Every benchmark builds the worst case its weight must cover: the largest metadata, full
//! model pools, the highest redundancy, outputs and inputs of the benchmarked size.

use super::*;
use alloc::{vec, vec::Vec};
use codec::Encode;
use frame_benchmarking::v2::*;
use frame_support::dispatch::GetDispatchInfo;
use frame_support::{
	pallet_prelude::TransactionSource,
	traits::{fungible::Mutate, Authorize, EnsureOrigin, Get, Hooks},
	BoundedVec,
};
use frame_system::RawOrigin;
use sp_core::H256;
use sp_runtime::{
	traits::{Bounded, One, TransactionExtension, TxBaseImplication, Zero},
	RuntimeAppPublic, Saturating,
};
use verity_primitives::{
	commitment, key_ownership_message, DType, Dim, ExecutorPublic, ExecutorSignature,
	InferenceOutcome, ModelFormat, ModelId, ModelMetadata, ModelStatus, RequestId, Tensor,
	TensorMap, TensorSpec, MAX_NAME_LEN, MAX_RANK, MAX_TENSORS, MAX_TENSOR_NAME_LEN, MAX_URI_LEN,
};

/// Metadata at every bound: the longest names, the most tensors of the highest rank.
fn largest_metadata<T: Config>(predecessor: Option<ModelId>) -> ModelMetadata<BalanceOf<T>> {
	let tensors = |prefix: u8| {
		(0..MAX_TENSORS)
			.map(|i| {
				let mut name = vec![prefix; MAX_TENSOR_NAME_LEN as usize];
				name[0] = i as u8;
				TensorSpec {
					name: name.try_into().expect("within the bound"),
					dtype: DType::F32,
					shape: vec![Dim::Any; MAX_RANK as usize].try_into().expect("within the bound"),
				}
			})
			.collect::<Vec<_>>()
			.try_into()
			.expect("within the bound")
	};
	let mut uri = b"https://".to_vec();
	uri.resize(MAX_URI_LEN as usize, b'a');
	ModelMetadata {
		name: vec![b'n'; MAX_NAME_LEN as usize].try_into().expect("within the bound"),
		version: b"1.0.0".to_vec().try_into().expect("within the bound"),
		format: ModelFormat::Onnx,
		artifact_uri: uri.try_into().expect("within the bound"),
		artifact_size: T::MaxArtifactSize::get(),
		execution_profile: b"tract/generic".to_vec().try_into().expect("within the bound"),
		inputs: tensors(b'i'),
		outputs: tensors(b'o'),
		fee_per_run: 1_000u32.into(),
		redundancy: max_redundancy::<T>(),
		predecessor,
		answer_blocks: 0,
	}
}

fn max_redundancy<T: Config>() -> u8 {
	T::MaxRedundancy::get().min(u32::from(u8::MAX)) as u8
}

/// Models a registry is benchmarked among: registration and lookups are weighed with this many
/// already registered (a deeper trie than an empty one), the scale the registry is built for.
const REGISTERED_MODELS: u32 = 10_000;

/// Fill the registry with [`REGISTERED_MODELS`] models of the largest metadata, under ids no
/// benchmark uses otherwise.
fn fill_registry<T: Config>() {
	for index in 0..REGISTERED_MODELS {
		let mut id = [0x55; 32];
		id[28..].copy_from_slice(&index.to_be_bytes());
		Pallet::<T>::do_register_model(H256(id), largest_metadata::<T>(None))
			.expect("a valid model");
	}
}

/// A one-input, one-output model for request benchmarks: `x` and `y`, f32 vectors.
fn vector_model<T: Config>(seed: u32, redundancy: u8) -> ModelId {
	let mut id = [0xaa; 32];
	id[28..].copy_from_slice(&seed.to_be_bytes());
	let model_id = H256(id);
	let spec = |name: &[u8]| TensorSpec {
		name: name.to_vec().try_into().expect("within the bound"),
		dtype: DType::F32,
		shape: vec![Dim::Any].try_into().expect("within the bound"),
	};
	let metadata = ModelMetadata {
		inputs: vec![spec(b"x")].try_into().expect("within the bound"),
		outputs: vec![spec(b"y")].try_into().expect("within the bound"),
		redundancy,
		..largest_metadata::<T>(None)
	};
	Pallet::<T>::do_register_model(model_id, metadata).expect("a valid model");
	model_id
}

/// The canonical encoding of one f32 vector called `name`, about `bytes` long.
fn vector(name: &[u8], bytes: u32) -> Vec<u8> {
	let elements = bytes.saturating_sub(16) / 4;
	TensorMap(vec![Tensor {
		name: name.to_vec(),
		dtype: DType::F32,
		shape: vec![elements],
		data: vec![7; elements as usize * 4],
	}])
	.encode()
}

fn funded<T: Config>(name: &'static str, index: u32) -> T::AccountId {
	let who: T::AccountId = account(name, index, 0);
	let plenty = T::MinExecutorBond::get()
		.saturating_add(T::MinChallengeBond::get())
		.saturating_mul(1_000u32.into())
		.saturating_add(1_000_000_000u32.into());
	T::Currency::set_balance(&who, plenty);
	who
}

/// Register executor `index` serving `models`, with a fresh attestation key.
fn executor<T: Config>(index: u32, models: &[ModelId]) -> (T::AccountId, ExecutorPublic) {
	let who = funded::<T>("executor", index);
	let key = ExecutorPublic::generate_pair(None);
	Pallet::<T>::do_register_executor(
		who.clone(),
		key.clone(),
		models.to_vec().try_into().expect("within the bound"),
		T::MinExecutorBond::get(),
	)
	.expect("a valid executor");
	(who, key)
}

/// Fill every pool of `models` with `count` registered executors.
fn fill_pool<T: Config>(models: &[ModelId], count: u32) -> Vec<(T::AccountId, ExecutorPublic)> {
	(0..count).map(|i| executor::<T>(1_000 + i, models)).collect()
}

/// Fill `model`'s pool with placeholder members, leaving `free` places.
fn crowd_pool<T: Config>(model_id: ModelId, free: u32) {
	let members: Vec<T::AccountId> = (0..T::MaxExecutorsPerModel::get().saturating_sub(free))
		.map(|i| account("member", i, 0))
		.collect();
	ModelExecutors::<T>::insert(model_id, BoundedVec::truncate_from(members));
}

/// The next block, with its hooks run.
fn next_block<T: Config>() {
	let now = frame_system::Pallet::<T>::block_number().saturating_add(One::one());
	frame_system::Pallet::<T>::set_block_number(now);
	Pallet::<T>::on_initialize(now);
}

/// An assigned request of `model_id` with an input about `input_bytes` long.
fn assigned_request<T: Config>(model_id: ModelId, input_bytes: u32) -> RequestId {
	let requester = funded::<T>("requester", 0);
	let id = Pallet::<T>::do_request_inference(
		requester,
		model_id,
		vector(b"x", input_bytes),
		BalanceOf::<T>::max_value(),
	)
	.expect("a valid request");
	next_block::<T>();
	id
}

/// `key`'s proof that `who` holds it.
fn key_proof<T: Config>(who: &T::AccountId, key: &ExecutorPublic) -> ExecutorSignature {
	key.sign(&key_ownership_message(who, Pallet::<T>::genesis_hash()))
		.expect("the key is in the keystore")
}

/// The signature `key` gives to reveal `output` for `request_id`.
fn attestation<T: Config>(
	request_id: RequestId,
	key: &ExecutorPublic,
	output: &[u8],
) -> SignedAttestation {
	let request = Requests::<T>::get(request_id).expect("the request exists");
	let outcome = InferenceOutcome::Output(output.to_vec());
	let payload = Pallet::<T>::attestation_payload(request_id, &request, outcome.hash())
		.expect("the model exists");
	SignedAttestation {
		attestation_key: key.clone(),
		signature: key.sign(&payload.encode()).expect("the key is in the keystore"),
	}
}

/// `key`'s commitment to `output` for `request_id`, with its signature.
fn signed_commitment<T: Config>(
	request_id: RequestId,
	key: &ExecutorPublic,
	output: &[u8],
) -> (H256, SignedAttestation) {
	let request = Requests::<T>::get(request_id).expect("the request exists");
	let outcome = InferenceOutcome::Output(output.to_vec());
	let payload = Pallet::<T>::attestation_payload(request_id, &request, outcome.hash())
		.expect("the model exists");
	let committed = commitment(&payload, key);
	let message = Pallet::<T>::commitment_message_for(request_id, &request, committed);
	let signature = key.sign(&message).expect("the key is in the keystore");
	(committed, SignedAttestation { attestation_key: key.clone(), signature })
}

/// Commit to `output` for `request_id` by every assigned executor in `indices`.
fn commit<T: Config>(request_id: RequestId, indices: core::ops::Range<usize>, output: &[u8]) {
	let request = Requests::<T>::get(request_id).expect("the request exists");
	for assignee in &request.assigned[indices] {
		let (committed, signature) =
			signed_commitment::<T>(request_id, &assignee.attestation_key, output);
		Pallet::<T>::do_submit_commitment(request_id, committed, signature)
			.expect("a valid commitment");
	}
}

/// Reveal `output` for `request_id` by every assigned executor in `indices`; a reveal that
/// completes the quorum settles the request.
fn reveal<T: Config>(request_id: RequestId, indices: core::ops::Range<usize>, output: &[u8]) {
	let request = Requests::<T>::get(request_id).expect("the request exists");
	for assignee in &request.assigned[indices] {
		let signature = attestation::<T>(request_id, &assignee.attestation_key, output);
		Pallet::<T>::do_submit_attestation(
			request_id,
			InferenceOutcome::Output(output.to_vec()),
			signature,
		)
		.expect("a valid reveal");
	}
}

/// [`reveal`], leaving a quorum it completes unsettled (`QuorumReached`).
fn reveal_unsettled<T: Config>(
	request_id: RequestId,
	indices: core::ops::Range<usize>,
	output: &[u8],
) {
	let request = Requests::<T>::get(request_id).expect("the request exists");
	for assignee in &request.assigned[indices] {
		let signature = attestation::<T>(request_id, &assignee.attestation_key, output);
		Pallet::<T>::record_reveal(
			request_id,
			InferenceOutcome::Output(output.to_vec()),
			signature,
		)
		.expect("a valid reveal");
	}
}

/// An ordinary request split between a quorum and the rest, both committed.
struct Split {
	request_id: RequestId,
	/// The quorum's executor indices.
	quorum: core::ops::Range<usize>,
	/// The agreed output the quorum committed to.
	agreed: Vec<u8>,
	/// The other executors' indices, each with the output of its own it committed to.
	rest: Vec<(usize, Vec<u8>)>,
}

impl Split {
	/// Reveal what each executor outside the quorum committed to.
	fn reveal_rest<T: Config>(&self) {
		for (index, output) in &self.rest {
			reveal::<T>(self.request_id, *index..index + 1, output);
		}
	}
}

/// An assigned request of `redundancy` executors with the largest input, drawn from a full
/// pool, whose quorum committed to an output of `output_bytes` and each of the rest to a
/// different one as long: the most distinct candidates its record can hold.
fn split_commitments<T: Config>(redundancy: u8, output_bytes: u32) -> Split {
	let model_id = vector_model::<T>(10, redundancy);
	fill_pool::<T>(&[model_id], T::MaxExecutorsPerModel::get());
	let request_id = assigned_request::<T>(model_id, T::MaxInputLen::get());
	let quorum = usize::from(quorum_of(redundancy));
	let agreed = vector(b"y", output_bytes);
	let rest = (quorum..usize::from(redundancy))
		.map(|index| {
			let mut output = agreed.clone();
			if let Some(last) = output.last_mut() {
				*last = index as u8;
			}
			(index, output)
		})
		.collect::<Vec<_>>();
	commit::<T>(request_id, 0..quorum, &agreed);
	for (index, output) in &rest {
		commit::<T>(request_id, *index..index + 1, output);
	}
	Split { request_id, quorum: 0..quorum, agreed, rest }
}

/// Commit to, then reveal, `output` for `request_id` by every assigned executor in `indices`;
/// the commit phase must close with these commitments.
fn attest<T: Config>(request_id: RequestId, indices: core::ops::Range<usize>, output: &[u8]) {
	commit::<T>(request_id, indices.clone(), output);
	reveal::<T>(request_id, indices, output);
}

/// A request of the highest redundancy with the largest input, committed to by all its
/// executors but the last; returns it with the last one's signed commitment.
fn last_commitment<T: Config>() -> (RequestId, H256, SignedAttestation) {
	let redundancy = max_redundancy::<T>();
	let model_id = vector_model::<T>(10, redundancy);
	fill_pool::<T>(&[model_id], u32::from(redundancy));
	let request_id = assigned_request::<T>(model_id, T::MaxInputLen::get());
	let output = vector(b"y", 64);
	let last = usize::from(redundancy) - 1;
	commit::<T>(request_id, 0..last, &output);
	let key = Requests::<T>::get(request_id).expect("exists").assigned[last]
		.attestation_key
		.clone();
	let (committed, signature) = signed_commitment::<T>(request_id, &key, &output);
	(request_id, committed, signature)
}

/// A finalized ordinary request with the highest redundancy; returns it and its output.
fn finalized_request<T: Config>(model_id: ModelId) -> (RequestId, Vec<u8>) {
	let request_id = assigned_request::<T>(model_id, 64);
	let output = vector(b"y", 64);
	attest::<T>(request_id, 0..usize::from(max_redundancy::<T>()), &output);
	next_block::<T>();
	(request_id, output)
}

/// A finalized request of `model_id` under challenge, its re-execution assigned; returns both.
fn challenged_request<T: Config>(model_id: ModelId) -> (RequestId, RequestId) {
	let (original, _) = finalized_request::<T>(model_id);
	let challenger = funded::<T>("challenger", 0);
	Pallet::<T>::do_challenge(challenger, original, T::MinChallengeBond::get())
		.expect("a valid challenge");
	next_block::<T>();
	match Requests::<T>::get(original).map(|r| r.challenge) {
		Some(ChallengeState::Open { rerun }) => (original, rerun),
		_ => panic!("the challenge is open"),
	}
}

/// A finalized ordinary request whose agreed output is about `output_bytes` long, on a fresh
/// model served by a full pool at the highest redundancy; for other pallets' benchmarks (the
/// inference precompile reads such results).
pub fn finalized_request_with_output<T: Config>(output_bytes: u32) -> RequestId {
	let model_id = vector_model::<T>(0x00c0_ffee, max_redundancy::<T>());
	fill_pool::<T>(&[model_id], u32::from(max_redundancy::<T>()));
	let request_id = assigned_request::<T>(model_id, 64);
	let output = vector(b"y", output_bytes);
	attest::<T>(request_id, 0..usize::from(max_redundancy::<T>()), &output);
	next_block::<T>();
	request_id
}

#[benchmarks(
	where
		T: Send + Sync,
		<T as frame_system::Config>::RuntimeCall: From<Call<T>>
			+ OpensRequests
			+ sp_runtime::traits::Dispatchable<Info = frame_support::dispatch::DispatchInfo>,
)]
mod benchmarks {
	use super::*;

	/// Worst case: the longest metadata, linked to a predecessor that must be read and updated,
	/// among 10,000 registered models.
	#[benchmark]
	fn register_model() -> Result<(), BenchmarkError> {
		let origin =
			T::ModelOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		fill_registry::<T>();
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

	/// Among 10,000 registered models.
	#[benchmark]
	fn set_model_status() -> Result<(), BenchmarkError> {
		let origin =
			T::ModelOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		fill_registry::<T>();
		let model_id = H256::repeat_byte(1);
		Pallet::<T>::do_register_model(model_id, largest_metadata::<T>(None))?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, model_id, ModelStatus::Deprecated);

		assert_eq!(Models::<T>::get(model_id).map(|m| m.status), Some(ModelStatus::Deprecated));
		Ok(())
	}

	/// Worst case: the most models, each pool one short of full.
	#[benchmark]
	fn register_executor() {
		let models: Vec<ModelId> = (0..T::MaxModelsPerExecutor::get())
			.map(|i| vector_model::<T>(i + 10, 1))
			.collect();
		for model_id in &models {
			crowd_pool::<T>(*model_id, 1);
		}
		let who = funded::<T>("executor", 0);
		let key = ExecutorPublic::generate_pair(None);
		let proof = key_proof::<T>(&who, &key);
		let bounded: ExecutorModels<T> = models.clone().try_into().expect("within the bound");

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), key, proof, bounded, T::MinExecutorBond::get());

		assert!(Executors::<T>::contains_key(&who));
	}

	/// Worst case: key rotation and a full change of models, leaving and joining full pools.
	#[benchmark]
	fn update_executor() {
		let max = T::MaxModelsPerExecutor::get();
		let old: Vec<ModelId> = (0..max).map(|i| vector_model::<T>(i + 10, 1)).collect();
		let new: Vec<ModelId> = (0..max).map(|i| vector_model::<T>(i + 10 + max, 1)).collect();
		let (who, _) = executor::<T>(0, &old);
		for model_id in &new {
			crowd_pool::<T>(*model_id, 1);
		}
		let key = ExecutorPublic::generate_pair(None);
		let proof = key_proof::<T>(&who, &key);
		let bounded: ExecutorModels<T> = new.clone().try_into().expect("within the bound");

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), Some(key.clone()), Some(proof), Some(bounded));

		assert_eq!(Executors::<T>::get(&who).map(|e| e.attestation_key), Some(key));
	}

	#[benchmark]
	fn bond_extra() {
		let model_id = vector_model::<T>(10, 1);
		let (who, _) = executor::<T>(0, &[model_id]);

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), T::MinExecutorBond::get());

		assert_eq!(
			Executors::<T>::get(&who).map(|e| e.bond),
			Some(T::MinExecutorBond::get().saturating_mul(2u32.into()))
		);
	}

	/// Worst case: leaving the most models' pools.
	#[benchmark]
	fn unregister_executor() {
		let models: Vec<ModelId> = (0..T::MaxModelsPerExecutor::get())
			.map(|i| vector_model::<T>(i + 10, 1))
			.collect();
		let (who, _) = executor::<T>(0, &models);

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()));

		assert!(matches!(
			Executors::<T>::get(&who).map(|e| e.status),
			Some(ExecutorStatus::Unbonding { .. })
		));
	}

	#[benchmark]
	fn withdraw_bond() {
		let model_id = vector_model::<T>(10, 1);
		let (who, _) = executor::<T>(0, &[model_id]);
		Pallet::<T>::do_unregister_executor(who.clone()).expect("no open assignments");
		let later =
			frame_system::Pallet::<T>::block_number().saturating_add(T::UnbondingPeriod::get());
		frame_system::Pallet::<T>::set_block_number(later);

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()));

		assert!(!Executors::<T>::contains_key(&who));
	}

	/// `i`: input bytes, `e`: the pool's executors, `r`: the executors drawn (the model's
	/// redundancy). Worst case otherwise: the draw in the same block, the model looked up
	/// among 10,000.
	#[benchmark]
	fn request_inference(
		i: Linear<64, { T::MaxInputLen::get() }>,
		e: Linear<{ T::MaxRedundancy::get() }, { T::MaxExecutorsPerModel::get() }>,
		r: Linear<1, { T::MaxRedundancy::get() }>,
	) {
		fill_registry::<T>();
		let model_id = vector_model::<T>(10, r as u8);
		fill_pool::<T>(&[model_id], e);
		let requester = funded::<T>("requester", 0);
		let input = vector(b"x", i);

		#[extrinsic_call]
		_(RawOrigin::Signed(requester), model_id, input, BalanceOf::<T>::max_value());

		assert_eq!(NextRequestId::<T>::get(), 1);
		// Drawn at once: the weight includes the assignment.
		assert!(matches!(
			Requests::<T>::get(0).map(|request| request.status),
			Some(RequestStatus::Assigned { .. })
		));
	}

	/// The transaction pool's check of a request (`CheckRequestRoom`): the queue's ends, then
	/// the model (the largest metadata, among 10,000) and its full pool, which it admits.
	#[benchmark]
	fn check_request_room() -> Result<(), BenchmarkError> {
		fill_registry::<T>();
		let model_id = H256([0xcc; 32]);
		let metadata =
			ModelMetadata { redundancy: max_redundancy::<T>(), ..largest_metadata::<T>(None) };
		Pallet::<T>::do_register_model(model_id, metadata).expect("a valid model");
		crowd_pool::<T>(model_id, 0);
		let requester = funded::<T>("requester", 0);
		let call: <T as frame_system::Config>::RuntimeCall = Call::<T>::request_inference {
			model_id,
			input: vector(b"x", 64),
			max_fee: BalanceOf::<T>::max_value(),
		}
		.into();
		let info = call.get_dispatch_info();

		#[block]
		{
			CheckRequestRoom::<T>::new()
				.validate(
					RawOrigin::Signed(requester).into(),
					&call,
					&info,
					0,
					(),
					&TxBaseImplication(()),
					TransactionSource::External,
				)
				.map_err(|_| "the request has room")?;
		}
		Ok(())
	}

	/// `o`: output bytes. Worst case: the reveal that completes the quorum of the highest
	/// redundancy with a new candidate output (its settlement weighed apart).
	#[benchmark]
	fn submit_attestation(o: Linear<64, { T::MaxOutputLen::get() }>) {
		let redundancy = max_redundancy::<T>();
		let model_id = vector_model::<T>(10, redundancy);
		fill_pool::<T>(&[model_id], u32::from(redundancy));
		let request_id = assigned_request::<T>(model_id, T::MaxInputLen::get());
		let quorum = usize::from(quorum_of(redundancy));
		let output = vector(b"y", o);
		// Dissenters first, then all but one of the quorum.
		let dissent = vector(b"y", 32);
		let dissenters = usize::from(redundancy) - quorum;
		commit::<T>(request_id, 0..dissenters, &dissent);
		commit::<T>(request_id, dissenters..usize::from(redundancy), &output);
		reveal::<T>(request_id, 0..dissenters, &dissent);
		reveal::<T>(request_id, dissenters..usize::from(redundancy) - 1, &output);
		let last = Requests::<T>::get(request_id).expect("exists").assigned
			[usize::from(redundancy) - 1]
			.attestation_key
			.clone();
		let signature = attestation::<T>(request_id, &last, &output);

		// Recording the reveal; the settlement it triggers is weighed by `settle_request`.
		#[block]
		{
			Pallet::<T>::record_reveal(request_id, InferenceOutcome::Output(output), signature)
				.expect("a valid reveal");
		}

		assert!(matches!(
			Requests::<T>::get(request_id).map(|r| r.status),
			Some(RequestStatus::QuorumReached { .. })
		));
	}

	/// `o`: output bytes. The validation of a reveal: decode, hash, verify, recompute the
	/// commitment; on a request with the largest input.
	#[benchmark]
	fn authorize_submit_attestation(
		o: Linear<64, { T::MaxOutputLen::get() }>,
	) -> Result<(), BenchmarkError> {
		let redundancy = max_redundancy::<T>();
		let model_id = vector_model::<T>(10, redundancy);
		fill_pool::<T>(&[model_id], u32::from(redundancy));
		let request_id = assigned_request::<T>(model_id, T::MaxInputLen::get());
		let output = vector(b"y", o);
		commit::<T>(request_id, 0..usize::from(redundancy), &output);
		let last = Requests::<T>::get(request_id).expect("exists").assigned
			[usize::from(redundancy) - 1]
			.attestation_key
			.clone();
		let signature = attestation::<T>(request_id, &last, &output);
		let call = Call::<T>::submit_attestation {
			request_id,
			outcome: InferenceOutcome::Output(output),
			signature,
		};

		#[block]
		{
			call.authorize(TransactionSource::External)
				.ok_or("the call has an authorization")?
				.map_err(|_| "the reveal is valid")?;
		}
		Ok(())
	}

	/// The last commitment of the highest redundancy, on a request with the largest input.
	#[benchmark]
	fn submit_commitment() {
		let (request_id, committed, signature) = last_commitment::<T>();
		let redundancy = max_redundancy::<T>();

		#[extrinsic_call]
		_(frame_system::Origin::<T>::Authorized, request_id, committed, signature);

		assert_eq!(
			Requests::<T>::get(request_id).map(|r| r.commitments.len()),
			Some(usize::from(redundancy))
		);
	}

	/// The validation of a commitment: find the assignee, verify the signature.
	#[benchmark]
	fn authorize_submit_commitment() -> Result<(), BenchmarkError> {
		let (request_id, commitment, signature) = last_commitment::<T>();
		let call = Call::<T>::submit_commitment { request_id, commitment, signature };

		#[block]
		{
			call.authorize(TransactionSource::External)
				.ok_or("the call has an authorization")?
				.map_err(|_| "the commitment is valid")?;
		}
		Ok(())
	}

	/// Worst case: a first-level re-execution is challenged, so the request it judged is read
	/// too and its executors are kept out of the second level.
	#[benchmark]
	fn challenge() {
		let redundancy = max_redundancy::<T>();
		let model_id = vector_model::<T>(10, redundancy);
		fill_pool::<T>(&[model_id], T::MaxExecutorsPerModel::get());
		let (_, request_id) = challenged_request::<T>(model_id);
		let rerun_redundancy = Requests::<T>::get(request_id).expect("exists").assigned.len();
		attest::<T>(request_id, 0..rerun_redundancy, &vector(b"y", 64));
		next_block::<T>();
		let challenger = funded::<T>("challenger", 1);

		#[extrinsic_call]
		_(RawOrigin::Signed(challenger), request_id, T::MinChallengeBond::get());

		assert!(matches!(
			Requests::<T>::get(request_id).map(|r| r.challenge),
			Some(ChallengeState::Open { .. })
		));
	}

	/// The hook with every queue empty.
	#[benchmark]
	fn on_initialize_idle() {
		let now = frame_system::Pallet::<T>::block_number();
		#[block]
		{
			Pallet::<T>::run_block_hooks(now);
		}
	}

	/// Assigning one request: `r` executors drawn from a pool of `e`.
	#[benchmark]
	fn assign_request(
		e: Linear<{ T::MaxRedundancy::get() }, { T::MaxExecutorsPerModel::get() }>,
		r: Linear<1, { T::MaxRedundancy::get() }>,
	) {
		let model_id = vector_model::<T>(10, r as u8);
		fill_pool::<T>(&[model_id], e);
		let requester = funded::<T>("requester", 0);
		let request_id = Pallet::<T>::do_request_inference(
			requester,
			model_id,
			vector(b"x", 64),
			BalanceOf::<T>::max_value(),
		)
		.expect("a valid request");
		let now = frame_system::Pallet::<T>::block_number().saturating_add(One::one());
		frame_system::Pallet::<T>::set_block_number(now);

		#[block]
		{
			Pallet::<T>::assign_next(now);
		}

		assert!(matches!(
			Requests::<T>::get(request_id).map(|r| r.status),
			Some(RequestStatus::Assigned { .. })
		));
	}

	/// Settling one request: a challenge re-execution that overturns the original, paying its
	/// quorum, slashing its dissenters and the original's executors.
	#[benchmark]
	fn settle_request() {
		let redundancy = max_redundancy::<T>();
		let model_id = vector_model::<T>(10, redundancy);
		fill_pool::<T>(&[model_id], T::MaxExecutorsPerModel::get());
		let (original, rerun) = challenged_request::<T>(model_id);
		let quorum = usize::from(quorum_of(redundancy));
		let (agreed, dissent) = (vector(b"y", T::MaxOutputLen::get()), vector(b"y", 96));
		commit::<T>(rerun, 0..quorum, &agreed);
		commit::<T>(rerun, quorum..usize::from(redundancy), &dissent);
		reveal::<T>(rerun, quorum..usize::from(redundancy), &dissent);
		reveal_unsettled::<T>(rerun, 0..quorum, &agreed);

		#[block]
		{
			Pallet::<T>::settle_request(rerun);
		}

		assert!(matches!(
			Requests::<T>::get(original).map(|r| r.challenge),
			Some(ChallengeState::Upheld { .. })
		));
	}

	/// Settling one ordinary request of `r` executors whose outputs are `o` bytes long: its
	/// quorum paid, each of the rest revealing an output of its own and slashed as a dissenter,
	/// the finalization hook told.
	#[benchmark]
	fn settle_ordinary_request(
		r: Linear<1, { T::MaxRedundancy::get() }>,
		o: Linear<{ MIN_WEIGHED_OUTPUT }, { T::MaxOutputLen::get() }>,
	) {
		let split = split_commitments::<T>(r as u8, o);
		split.reveal_rest::<T>();
		let request_id = split.request_id;
		reveal_unsettled::<T>(request_id, split.quorum.clone(), &split.agreed);

		#[block]
		{
			Pallet::<T>::settle_request(request_id);
		}

		assert!(matches!(
			Requests::<T>::get(request_id).map(|r| r.status),
			Some(RequestStatus::Finalized { .. })
		));
	}

	/// Drawing one audit, in the worst case: the draw selects it and the audit is opened.
	#[benchmark]
	fn draw_audit() {
		let redundancy = max_redundancy::<T>();
		let model_id = vector_model::<T>(10, redundancy);
		fill_pool::<T>(&[model_id], T::MaxExecutorsPerModel::get());
		let (request_id, _) = finalized_request::<T>(model_id);
		let protocol = Pallet::<T>::protocol_account();
		T::Currency::set_balance(
			&protocol,
			T::MinExecutorBond::get().saturating_mul(1_000u32.into()),
		);
		let queued = Pallet::<T>::queued_requests();

		#[block]
		{
			let _ = Pallet::<T>::seed(b"verity/audit", request_id);
			Pallet::<T>::open_audit(request_id);
		}

		assert_eq!(Pallet::<T>::queued_requests(), queued.saturating_add(1));
	}

	/// Expiring one request, in the worst case: a challenge re-execution whose quorum formed
	/// but never settled (reveals settle at once; this is the expiry's own fallback), so its
	/// expiry settles it (paying the quorum, overturning the original, slashing its executors),
	/// slashes the rest as no-shows and releases the reveals they still owe.
	#[benchmark]
	fn expire_request() {
		let redundancy = max_redundancy::<T>();
		let model_id = vector_model::<T>(10, redundancy);
		fill_pool::<T>(&[model_id], T::MaxExecutorsPerModel::get());
		let (original, rerun) = challenged_request::<T>(model_id);
		let quorum = usize::from(quorum_of(redundancy));
		let output = vector(b"y", T::MaxOutputLen::get());
		// Everyone commits, only the quorum reveals: the rest still owe their reveals, which
		// the expiry releases.
		commit::<T>(rerun, 0..usize::from(redundancy), &output);
		let commit_deadline = Requests::<T>::get(rerun).expect("exists").commit_deadline;
		frame_system::Pallet::<T>::set_block_number(commit_deadline);
		reveal_unsettled::<T>(rerun, 0..quorum, &output);
		assert!(!Requests::<T>::get(rerun).expect("exists").answers_owed.is_zero());

		#[block]
		{
			Pallet::<T>::expire_request(rerun);
		}

		assert!(matches!(
			Requests::<T>::get(original).map(|r| r.challenge),
			Some(ChallengeState::Upheld { .. })
		));
	}

	/// Closing, at its deadline, an ordinary request of `r` executors its quorum already
	/// finalized, outputs `o` bytes long, in the worst case: every executor outside the quorum
	/// revealing late an output of its own, so each is judged and slashed; the rest of the
	/// escrow returns.
	#[benchmark]
	fn expire_finalized_request(
		r: Linear<1, { T::MaxRedundancy::get() }>,
		o: Linear<{ MIN_WEIGHED_OUTPUT }, { T::MaxOutputLen::get() }>,
	) {
		let split = split_commitments::<T>(r as u8, o);
		let request_id = split.request_id;
		reveal::<T>(request_id, split.quorum.clone(), &split.agreed);
		split.reveal_rest::<T>();

		#[block]
		{
			Pallet::<T>::expire_request(request_id);
		}

		let request = Requests::<T>::get(request_id).expect("exists");
		assert!(matches!(request.status, RequestStatus::Finalized { .. }));
		assert!(request.attestations.iter().all(|attestation| attestation.settled));
	}

	/// Pruning one request at the end of its challenge period, in the worst case: the largest
	/// input and a distinct output of the largest size from every executor leave state, and its
	/// storage deposit returns.
	#[benchmark]
	fn prune_request() {
		let redundancy = max_redundancy::<T>();
		let model_id = vector_model::<T>(10, redundancy);
		fill_pool::<T>(&[model_id], T::MaxExecutorsPerModel::get());
		let request_id = assigned_request::<T>(model_id, T::MaxInputLen::get());
		let outputs: Vec<Vec<u8>> = (0..redundancy)
			.map(|i| {
				let mut output = vector(b"y", T::MaxOutputLen::get());
				if let Some(last) = output.last_mut() {
					*last = i;
				}
				output
			})
			.collect();
		for (index, output) in outputs.iter().enumerate() {
			commit::<T>(request_id, index..index + 1, output);
		}
		for (index, output) in outputs.iter().enumerate() {
			reveal::<T>(request_id, index..index + 1, output);
		}

		#[block]
		{
			Pallet::<T>::prune_request(request_id);
		}

		assert!(!RequestInputs::<T>::contains_key(request_id));
		let request = Requests::<T>::get(request_id).expect("the record stays");
		assert!(request.candidates.iter().all(|c| c.outcome == StoredOutcome::Pruned));
		assert!(request.storage_deposit.is_zero());
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
