//! A minimal runtime for the pallet's unit tests.

use crate as pallet_inference;
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU32, ConstU64, Hooks},
	PalletId,
};
use frame_system::EnsureRoot;
use sp_runtime::{BuildStorage, Perbill, Permill};

type Block = frame_system::mocking::MockBlock<Test>;

/// Balance of the test currency.
pub type Balance = u64;
/// Accounts are plain numbers.
pub type AccountId = u64;

#[frame_support::runtime]
mod runtime {
	#[runtime::runtime]
	#[runtime::derive(
		RuntimeCall,
		RuntimeEvent,
		RuntimeError,
		RuntimeOrigin,
		RuntimeFreezeReason,
		RuntimeHoldReason,
		RuntimeSlashReason,
		RuntimeLockId,
		RuntimeTask,
		RuntimeViewFunction
	)]
	pub struct Test;

	#[runtime::pallet_index(0)]
	pub type System = frame_system;
	#[runtime::pallet_index(1)]
	pub type Balances = pallet_balances;
	#[runtime::pallet_index(2)]
	pub type Inference = pallet_inference;
}

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<Balance>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
}

/// The extrinsic type of the test chain.
pub type Extrinsic = frame_system::mocking::MockUncheckedExtrinsic<Test>;

impl<LocalCall> frame_system::offchain::CreateTransactionBase<LocalCall> for Test
where
	RuntimeCall: From<LocalCall>,
{
	type Extrinsic = Extrinsic;
	type RuntimeCall = RuntimeCall;
}

impl<LocalCall> frame_system::offchain::CreateTransaction<LocalCall> for Test
where
	RuntimeCall: From<LocalCall>,
{
	type Extension = ();

	fn create_transaction(call: RuntimeCall, extension: ()) -> Extrinsic {
		Extrinsic::new_transaction(call, extension)
	}
}

impl<LocalCall> frame_system::offchain::CreateAuthorizedTransaction<LocalCall> for Test
where
	RuntimeCall: From<LocalCall>,
{
	fn create_extension() {}
}

/// Smallest executor bond.
pub const MIN_BOND: Balance = 1_000;
/// Smallest challenge bond.
pub const MIN_CHALLENGE_BOND: Balance = 500;
/// Blocks executors have to answer.
pub const RESPONSE_TIMEOUT: u64 = 5;
/// Blocks executors have to commit.
pub const COMMIT_TIMEOUT: u64 = 2;
/// Misses in a row that evict an executor from its pools.
pub const MAX_CONSECUTIVE_MISSES: u32 = 3;
/// Blocks a result can be challenged for.
pub const CHALLENGE_PERIOD: u64 = 10;
/// Blocks an unregistered executor waits for its bond.
pub const UNBONDING_PERIOD: u64 = 40;
/// What every test account starts with.
pub const ENDOWMENT: Balance = 1_000_000;

parameter_types! {
	/// The protocol account's id.
	pub const InferencePalletId: PalletId = PalletId(*b"vrty/inf");
	/// A tenth of a bond for dissent.
	pub const DissentSlash: Perbill = Perbill::from_percent(10);
	/// A twentieth for a miss.
	pub const MissSlash: Perbill = Perbill::from_percent(5);
	/// Half for an overturned output.
	pub const ChallengeSlash: Perbill = Perbill::from_percent(50);
	/// A fifth of an overturn slash rewards the challenger.
	pub const ChallengeRewardShare: Perbill = Perbill::from_percent(20);
	/// A tenth of the fees.
	pub const ProtocolFee: Perbill = Perbill::from_percent(10);
	/// Audits are switched on per test.
	pub static AuditProbability: Permill = Permill::zero();
	/// Storage deposits are switched on per test, so that balances elsewhere stay simple.
	pub static ByteDeposit: Balance = 0;
	/// Answer space is unbounded unless a test bounds it.
	pub static AnswerWeightPerBlock: frame_support::weights::Weight =
		frame_support::weights::Weight::MAX;
	/// Answer bytes are unbounded unless a test bounds them.
	pub static AnswerLengthPerBlock: u32 = u32::MAX;
	/// Answers owed may fill three blocks' answer space, as on the runtime.
	pub static MaxAnswerBlocksOwed: u32 = 3;
	/// What a block's hook may use: ample unless a test lowers it.
	pub static HookWeight: frame_support::weights::Weight =
		frame_support::weights::Weight::from_parts(400_000_000_000, u64::MAX / 2);
	/// Each finalization the hook was told of: the request and its output.
	pub static FinalizedOutputs: Vec<(verity_primitives::RequestId, Vec<u8>)> = Vec::new();
	/// Each correction the hook was told of: the overturned request and the corrected output.
	pub static CorrectedOutputs: Vec<(verity_primitives::RequestId, Vec<u8>)> = Vec::new();
}

/// A finalization hook that records what it is told.
pub struct RecordingHook;

impl pallet_inference::OnRequestFinalized for RecordingHook {
	fn on_request_finalized(
		request_id: verity_primitives::RequestId,
		_: &verity_primitives::ModelId,
		output: &[u8],
	) -> frame_support::weights::Weight {
		FinalizedOutputs::mutate(|heard| heard.push((request_id, output.to_vec())));
		frame_support::weights::Weight::zero()
	}

	fn on_output_corrected(
		request_id: verity_primitives::RequestId,
		_: &verity_primitives::ModelId,
		corrected: &[u8],
	) -> frame_support::weights::Weight {
		CorrectedOutputs::mutate(|heard| heard.push((request_id, corrected.to_vec())));
		frame_support::weights::Weight::zero()
	}

	fn weight() -> frame_support::weights::Weight {
		frame_support::weights::Weight::zero()
	}
}

/// Every call of the inference pallet that opens a request, as the runtime counts them.
impl crate::OpensRequests for RuntimeCall {
	fn requests_opened(&self) -> u32 {
		match self {
			RuntimeCall::Inference(call) => call.requests_opened(),
			_ => 0,
		}
	}

	fn model_requested(&self) -> Option<verity_primitives::ModelId> {
		match self {
			RuntimeCall::Inference(call) => call.model_requested(),
			_ => None,
		}
	}
}

/// The tests' randomness: the parent hash, which `run_to_block` sets to the block number.
pub struct ParentHashRandomness;

impl frame_support::traits::Randomness<sp_core::H256, u64> for ParentHashRandomness {
	fn random(_subject: &[u8]) -> (sp_core::H256, u64) {
		(System::parent_hash(), System::block_number())
	}
}

/// The mock chain's clock: every block at the Unix epoch.
pub struct EpochClock;

impl frame_support::traits::UnixTime for EpochClock {
	fn now() -> core::time::Duration {
		core::time::Duration::ZERO
	}
}

impl pallet_inference::Config for Test {
	type Randomness = ParentHashRandomness;
	type BlockTime = EpochClock;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type ModelOrigin = EnsureRoot<AccountId>;
	type PalletId = InferencePalletId;
	type MaxRedundancy = ConstU32<5>;
	type MaxArtifactSize = ConstU64<{ 64 * 1024 * 1024 }>;
	type MinExecutorBond = ConstU64<MIN_BOND>;
	type MaxModelsPerExecutor = ConstU32<4>;
	type MaxExecutorsPerModel = ConstU32<16>;
	type UnbondingPeriod = ConstU64<UNBONDING_PERIOD>;
	type MaxInputLen = ConstU32<4096>;
	type MaxOutputLen = ConstU32<4096>;
	type ResponseTimeout = ConstU64<RESPONSE_TIMEOUT>;
	type CommitTimeout = ConstU64<COMMIT_TIMEOUT>;
	type MaxConsecutiveMisses = ConstU32<MAX_CONSECUTIVE_MISSES>;
	type MaxRequestsPerBlock = ConstU32<8>;
	type MaxAnswersPerBatch = ConstU32<4>;
	type MaxOpenAssignments = ConstU32<16>;
	type HookWeight = HookWeight;
	type AnswerWeightPerBlock = AnswerWeightPerBlock;
	type AnswerLengthPerBlock = AnswerLengthPerBlock;
	type MaxAnswerBlocksOwed = MaxAnswerBlocksOwed;
	type MaxAnswerBlocks = ConstU32<8>;
	type MaxQueuedRequests = ConstU32<40>;
	type ProtocolFee = ProtocolFee;
	type DissentSlash = DissentSlash;
	type MissSlash = MissSlash;
	type ChallengeSlash = ChallengeSlash;
	type ChallengeRewardShare = ChallengeRewardShare;
	type ChallengePeriod = ConstU64<CHALLENGE_PERIOD>;
	type MinChallengeBond = ConstU64<MIN_CHALLENGE_BOND>;
	type ByteDeposit = ByteDeposit;
	type AuditProbability = AuditProbability;
	type OnFinalized = RecordingHook;
	type WeightInfo = ();
}

/// Externalities at block 1 with accounts 1..=20 and the protocol account endowed.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let mut balances: Vec<(AccountId, Balance)> = (1..=20).map(|who| (who, ENDOWMENT)).collect();
	balances.push((Inference::protocol_account(), ENDOWMENT));
	pallet_balances::GenesisConfig::<Test> { balances, ..Default::default() }
		.assimilate_storage(&mut storage)
		.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.register_extension(sp_keystore::KeystoreExt::new(
		sp_keystore::testing::MemoryKeystore::new(),
	));
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Run `test` on fresh externalities, then check every pallet invariant.
pub fn run_test(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		Inference::do_try_state().expect("pallet invariants hold");
	});
}

/// Finish the current block and start the next, running the pallet's hooks.
pub fn next_block() {
	let next = System::block_number() + 1;
	System::set_block_number(next);
	System::set_parent_hash(sp_core::H256::from_low_u64_be(next));
	Inference::on_initialize(next);
}

/// Advance `n` blocks.
pub fn run_blocks(n: u64) {
	for _ in 0..n {
		next_block();
	}
}
