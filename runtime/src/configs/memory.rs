//! Agent memory's configuration.

use crate::{Balance, Balances, Inference, Runtime, RuntimeHoldReason, MILLI_UNIT, UNIT};
use frame_support::parameter_types;

parameter_types! {
	/// A thousandth of a unit per byte of entry content.
	pub const MemoryDepositPerByte: Balance = MILLI_UNIT;
	/// One unit per space.
	pub const MemorySpaceDeposit: Balance = UNIT;
	/// Entries up to 1 KiB: a fact, a note, an encrypted record.
	pub const MaxEntryLen: u32 = 1024;
	/// Up to 10,000 entries per space; recall ranks all of them in one call.
	pub const MaxEntriesPerSpace: u32 = 10_000;
	/// Up to 16 accounts granted access per space.
	pub const MaxGrantsPerSpace: u32 = 16;
	/// Embeddings up to 1,024 dimensions (all-MiniLM-L6-v2 has 384).
	pub const MaxEmbeddingLen: u32 = 1024;
	/// At most 32 entries per recall.
	pub const MaxRecall: u32 = 32;
	/// Questions up to 512 bytes.
	pub const MaxQueryLen: u32 = 512;
}

impl pallet_memory::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Inference = Inference;
	type DepositPerByte = MemoryDepositPerByte;
	type SpaceDeposit = MemorySpaceDeposit;
	type MaxEntryLen = MaxEntryLen;
	type MaxEntriesPerSpace = MaxEntriesPerSpace;
	type MaxGrantsPerSpace = MaxGrantsPerSpace;
	type MaxEmbeddingLen = MaxEmbeddingLen;
	type MaxRecall = MaxRecall;
	type MaxQueryLen = MaxQueryLen;
	type WeightInfo = pallet_memory::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = benchmark_helper::MemoryBenchmarkHelper;
}

/// The inference protocol state agent memory's benchmarks start from.
#[cfg(feature = "runtime-benchmarks")]
mod benchmark_helper {
	use crate::{
		demo_models::{demo_models, SENTENCE_EMBEDDING_ID},
		AccountId, Balance, Balances, Inference, Runtime, UNIT,
	};
	use alloc::vec::Vec;
	use frame_support::traits::fungible::Mutate;
	use frame_system::RawOrigin;
	use pallet_inference::{
		CandidateOutput, ChallengeState, InferenceRequest, RequestKind, RequestStatus,
	};
	use sp_core::H256;
	use sp_runtime::RuntimeAppPublic;
	use verity_primitives::{content_hash, ExecutorPublic, ModelId, RequestId};

	/// Registers the demo embedding model and an executor serving it.
	pub struct MemoryBenchmarkHelper;

	impl pallet_memory::BenchmarkHelper for MemoryBenchmarkHelper {
		fn embedding_model() -> ModelId {
			let model_id = H256(SENTENCE_EMBEDDING_ID);
			if pallet_inference::Models::<Runtime>::contains_key(model_id) {
				return model_id;
			}
			let (_, metadata) = demo_models(1)
				.into_iter()
				.find(|(id, _)| *id == model_id)
				.expect("the embedding model is a demo model");
			Inference::register_model(RawOrigin::Root.into(), model_id, metadata)
				.expect("a valid registration");
			let executor: AccountId = frame_benchmarking::account("executor", 0, 0);
			let bond: Balance = crate::configs::MinExecutorBond::get();
			Balances::set_balance(&executor, bond.saturating_add(1_000 * UNIT));
			let key = ExecutorPublic::generate_pair(None);
			let proof = key
				.sign(&verity_primitives::key_ownership_message(
					&executor,
					Inference::genesis_hash(),
				))
				.expect("the key is in the benchmark keystore");
			Inference::register_executor(
				RawOrigin::Signed(executor).into(),
				key,
				proof,
				alloc::vec![model_id].try_into().expect("one model"),
				bond,
			)
			.expect("a valid executor");
			model_id
		}

		fn finalized_request(model_id: ModelId, output: Vec<u8>) -> RequestId {
			let request_id = pallet_inference::NextRequestId::<Runtime>::mutate(|next| {
				let id = *next;
				*next += 1;
				id
			});
			let output_hash = content_hash(&output);
			let requester: AccountId = frame_benchmarking::account("requester", 0, 0);
			let request = InferenceRequest::<Runtime> {
				requester,
				model_id,
				input_len: 0,
				input_hash: content_hash(&[]),
				kind: RequestKind::Inference,
				redundancy: 1,
				fee_per_executor: 0,
				protocol_fee: 0,
				escrow: 0,
				storage_deposit: 0,
				created_at: 0,
				assigned: Default::default(),
				commit_deadline: 0,
				commitments: Default::default(),
				attestations: Default::default(),
				candidates: alloc::vec![CandidateOutput {
					output_hash,
					outcome: pallet_inference::StoredOutcome::Output(
						output.try_into().expect("within MaxOutputLen"),
					),
					votes: 1,
				}]
				.try_into()
				.expect("one candidate"),
				status: RequestStatus::Finalized { deadline: 1, finalized_at: 0, output_hash },
				challenge: ChallengeState::None,
				answers_owed: Default::default(),
			};
			pallet_inference::Requests::<Runtime>::insert(request_id, request);
			request_id
		}
	}
}
