//! The inference protocol's configuration.

use crate::{
	configs::ModelOrigin, Balance, Balances, BlockNumber, Runtime, RuntimeCall, RuntimeHoldReason,
	TxExtension, UncheckedExtrinsic, MINUTES, UNIT,
};
use frame_support::{parameter_types, PalletId};
use sp_runtime::{Perbill, Permill};

parameter_types! {
	/// The protocol account's id: it collects protocol fees and slashes, and pays for audits.
	pub const InferencePalletId: PalletId = PalletId(*b"vrty/inf");
	/// At most five executors run one request.
	pub const MaxRedundancy: u32 = 5;
	/// Model artifacts up to 256 MiB.
	pub const MaxArtifactSize: u64 = 256 * 1024 * 1024;
	/// An executor bonds at least 100 units.
	pub const MinExecutorBond: Balance = 100 * UNIT;
	/// An executor serves up to 128 models.
	pub const MaxModelsPerExecutor: u32 = 128;
	/// Up to 64 executors serve one model.
	pub const MaxExecutorsPerModel: u32 = 64;
	/// Inputs up to 256 KiB: an image for the demo models fits.
	pub const MaxInputLen: u32 = 256 * 1024;
	/// Outputs up to 64 KiB.
	pub const MaxOutputLen: u32 = 64 * 1024;
	/// Executors answer within 10 blocks (20 seconds), unless the model declares more.
	pub const ResponseTimeout: BlockNumber = 10;
	/// A model may give its executors up to 60 blocks (two minutes) to answer: a language
	/// model generating hundreds of tokens.
	pub const MaxAnswerBlocks: u32 = 60;
	/// Executors commit within 5 blocks of assignment; reveals open then at the latest.
	pub const CommitTimeout: BlockNumber = 5;
	/// Misses in five blocks in a row take an executor out of its pools.
	pub const MaxConsecutiveMisses: u32 = 5;
	/// Up to 384 requests share a deadline block (so a block assigns at most 384, the rest
	/// waiting a block), and the hook takes up to 384 turns of the assignment queue: above the
	/// 300 a block the network is built for, below what a block's weight carries.
	pub const MaxRequestsPerBlock: u32 = 384;
	/// An executor's commitments (or reveals) travel up to 64 to a transaction.
	pub const MaxAnswersPerBatch: u32 = 64;
	/// An executor holds up to 1,024 unanswered assignments: four blocks of four full
	/// commitment batches each, so it can commit to every one before the fifth block's commit
	/// deadline. An assignment stays open about three blocks (commitment, reveal, inclusion),
	/// so this caps a network at about 340 requests a block; at 256 the cap was what held
	/// `bench-capacity` at 64 a block, at 512 what held it near 170.
	pub const MaxOpenAssignments: u32 =
		4 * MaxAnswersPerBatch::get() * (CommitTimeout::get() - 1);
	/// A block's hook (closing requests at their deadlines, pruning them, assigning queued
	/// ones) may use 40% of the block; past it, the rest waits for the next block. A request's
	/// closing and pruning typically weigh about 1 ms, so this keeps up with about 400
	/// requests a block.
	pub HookWeight: frame_support::weights::Weight =
		Perbill::from_percent(40) * crate::configs::RuntimeBlockWeights::get().max_block;
	/// Nine tenths of the block weight normal transactions cannot take go to answers; the
	/// rest is room for root's operational calls. A block full of answers as counted keeps
	/// room for a full batch of reveals' settlement charge on top (the runtime test
	/// `a_full_answer_space_leaves_room_for_a_batch_of_reveals`).
	pub AnswerWeightPerBlock: frame_support::weights::Weight = Perbill::from_percent(90) *
		crate::configs::RuntimeBlockWeights::get()
			.get(frame_support::dispatch::DispatchClass::Operational)
			.reserved
			.unwrap_or_default();
	/// Nine tenths of the block bytes normal transactions cannot take go to answers.
	pub AnswerLengthPerBlock: u32 = {
		let length = crate::configs::RuntimeBlockLength::get().max;
		let all = *length.get(frame_support::dispatch::DispatchClass::Operational);
		let normal = *length.get(frame_support::dispatch::DispatchClass::Normal);
		Perbill::from_percent(90) * all.saturating_sub(normal)
	};
	/// Answers owed may fill four blocks' answer space: about two are owed on time, the rest
	/// is room for answers a block or two late. The space counts each request's settlement at
	/// its heaviest, and blocks carry more than it when settlements keep less, so
	/// a full debt lands within two blocks, inside the five-block commit window. Measured: a
	/// bound of three gave a quarter less throughput under `bench-capacity` at 300 a block,
	/// with no more safety.
	pub const MaxAnswerBlocksOwed: u32 = 4;
	/// Up to 4,096 requests wait for executors (more than ten blocks' worth of assignments);
	/// transactions may fill all but 768 places (`2 * MaxRequestsPerBlock`), which audits keep.
	pub const MaxQueuedRequests: u32 = 4096;
	/// 5% on top of the executors' fees.
	pub const ProtocolFee: Perbill = Perbill::from_percent(5);
	/// A wrong answer costs a tenth of the bond.
	pub const DissentSlash: Perbill = Perbill::from_percent(10);
	/// A missed assignment costs a fiftieth of the bond.
	pub const MissSlash: Perbill = Perbill::from_percent(2);
	/// An overturned answer costs half the bond.
	pub const ChallengeSlash: Perbill = Perbill::from_percent(50);
	/// A fifth of an overturn slash rewards the challenger; the rest goes to the protocol
	/// account, so overturning one's own answer costs four fifths of the slash plus the fees.
	pub const ChallengeRewardShare: Perbill = Perbill::from_percent(20);
	/// Results can be challenged for 30 minutes.
	pub const ChallengePeriod: BlockNumber = 30 * MINUTES;
	/// Bonds unlock two hours after unregistering, after any challenge, and any challenge of
	/// its re-execution, could have ended.
	pub const UnbondingPeriod: BlockNumber = 120 * MINUTES;
	/// A challenger bonds at least 10 units.
	pub const MinChallengeBond: Balance = 10 * UNIT;
	/// A request holds a millionth of a unit per byte it may keep in state, as much as the
	/// length fee of a byte: at most about 0.6 units for the largest input with five of the
	/// largest outputs, returned when the bytes leave state.
	pub const ByteDeposit: Balance = UNIT / 1_000_000;
	/// One finalized request in fifty is audited.
	pub const AuditProbability: Permill = Permill::from_percent(2);
}

impl pallet_inference::Config for Runtime {
	type Randomness = crate::AuthorVrf;
	type BlockTime = crate::Timestamp;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type ModelOrigin = ModelOrigin;
	type PalletId = InferencePalletId;
	type MaxRedundancy = MaxRedundancy;
	type MaxArtifactSize = MaxArtifactSize;
	type MinExecutorBond = MinExecutorBond;
	type MaxModelsPerExecutor = MaxModelsPerExecutor;
	type MaxExecutorsPerModel = MaxExecutorsPerModel;
	type UnbondingPeriod = UnbondingPeriod;
	type MaxInputLen = MaxInputLen;
	type MaxOutputLen = MaxOutputLen;
	type ResponseTimeout = ResponseTimeout;
	type MaxAnswerBlocks = MaxAnswerBlocks;
	type CommitTimeout = CommitTimeout;
	type MaxConsecutiveMisses = MaxConsecutiveMisses;
	type MaxRequestsPerBlock = MaxRequestsPerBlock;
	type MaxAnswersPerBatch = MaxAnswersPerBatch;
	type MaxOpenAssignments = MaxOpenAssignments;
	type HookWeight = HookWeight;
	type AnswerWeightPerBlock = AnswerWeightPerBlock;
	type AnswerLengthPerBlock = AnswerLengthPerBlock;
	type MaxAnswerBlocksOwed = MaxAnswerBlocksOwed;
	type MaxQueuedRequests = MaxQueuedRequests;
	type ProtocolFee = ProtocolFee;
	type DissentSlash = DissentSlash;
	type MissSlash = MissSlash;
	type ChallengeSlash = ChallengeSlash;
	type ChallengeRewardShare = ChallengeRewardShare;
	type ChallengePeriod = ChallengePeriod;
	type MinChallengeBond = MinChallengeBond;
	type ByteDeposit = ByteDeposit;
	type AuditProbability = AuditProbability;
	type OnFinalized = (crate::Memory, crate::InferenceContracts);
	type WeightInfo = pallet_inference::weights::SubstrateWeight<Runtime>;
}

impl<LocalCall> frame_system::offchain::CreateTransactionBase<LocalCall> for Runtime
where
	RuntimeCall: From<LocalCall>,
{
	type Extrinsic = UncheckedExtrinsic;
	type RuntimeCall = RuntimeCall;
}

impl<LocalCall> frame_system::offchain::CreateTransaction<LocalCall> for Runtime
where
	RuntimeCall: From<LocalCall>,
{
	type Extension = TxExtension;

	fn create_transaction(call: RuntimeCall, extension: TxExtension) -> UncheckedExtrinsic {
		pallet_revive::evm::runtime::UncheckedExtrinsic(
			sp_runtime::generic::UncheckedExtrinsic::new_transaction(call, extension),
		)
	}
}

/// Offchain workers submit attestations as general transactions: authorized by the call itself
/// (`#[pallet::authorize]`), with no signer, so the signer-bound extensions are inert.
impl<LocalCall> frame_system::offchain::CreateAuthorizedTransaction<LocalCall> for Runtime
where
	RuntimeCall: From<LocalCall>,
{
	fn create_extension() -> TxExtension {
		crate::transaction_extension(0, 0, Default::default())
	}
}

/// The calls that open requests in the inference protocol's assignment queue, so that
/// `CheckRequestRoom` can refuse them in the pool when it is full, and the model they name,
/// so that it can refuse a request whose model has too few executors.
impl pallet_inference::OpensRequests for crate::RuntimeCall {
	fn requests_opened(&self) -> u32 {
		use crate::RuntimeCall;
		if let Some(call) = sudo_inner_call(self) {
			return call.requests_opened();
		}
		match self {
			RuntimeCall::Inference(call) => call.requests_opened(),
			RuntimeCall::Memory(
				pallet_memory::Call::remember { .. }
				| pallet_memory::Call::recall { .. }
				| pallet_memory::Call::retry_embedding { .. },
			) => 1,
			_ => 0,
		}
	}

	fn model_requested(&self) -> Option<verity_primitives::ModelId> {
		if let Some(call) = sudo_inner_call(self) {
			return call.model_requested();
		}
		match self {
			crate::RuntimeCall::Inference(call) => call.model_requested(),
			_ => None,
		}
	}
}

/// The call a sudo call dispatches, if `call` is one: it opens the requests its inner call
/// opens.
fn sudo_inner_call(call: &crate::RuntimeCall) -> Option<&crate::RuntimeCall> {
	match call {
		crate::RuntimeCall::Sudo(
			pallet_sudo::Call::sudo { call }
			| pallet_sudo::Call::sudo_unchecked_weight { call, .. }
			| pallet_sudo::Call::sudo_as { call, .. },
		) => Some(call),
		_ => None,
	}
}
