//! Configuration of every pallet of the runtime.

mod contracts;
mod governance;
mod inference;
mod memory;

pub use contracts::*;
pub use governance::*;
pub use inference::*;
pub use memory::*;

use crate::{
	AccountId, Aura, Balance, Balances, Block, BlockNumber, Hash, Nonce, PalletInfo, Runtime,
	RuntimeCall, RuntimeEvent, RuntimeFreezeReason, RuntimeHoldReason, RuntimeOrigin, RuntimeTask,
	System, EXISTENTIAL_DEPOSIT, SLOT_DURATION, VERSION,
};
use frame_support::dispatch::DispatchClass;
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstBool, ConstU128, ConstU32, ConstU64, ConstU8, VariantCountOf},
	weights::{constants::WEIGHT_REF_TIME_PER_SECOND, ConstantMultiplier, Weight},
};
use frame_system::limits::{BlockLength, BlockWeights};
use pallet_transaction_payment::{FungibleAdapter, Multiplier, TargetedFeeAdjustment};
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_runtime::{
	traits::{Bounded, One},
	FixedPointNumber, Perbill, Perquintill,
};
use sp_version::RuntimeVersion;

/// The share of a block's weight normal transactions (requests among them) may fill; the rest
/// is for operational ones, above all executors' answers. Answers are what a block mostly
/// carries: a request's commitments and reveals, settlement included, are charged about five
/// times the request itself before dispatch, and the chain assigns requests only as fast as the
/// operational part carries their answers (`pallet_inference::Config::AnswerWeightPerBlock`).
/// At 38%, 300 requests a block fit, each charged the queued turn it serves first (test
/// `a_blocks_normal_class_takes_300_requests`); at 30% the class held `bench-capacity` to 242
/// requests a block.
const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(38);

/// The share of a block's bytes normal transactions may fill: requests carry inputs of up to
/// 256 KiB, answers mostly small outputs.
const NORMAL_LENGTH_RATIO: Perbill = Perbill::from_percent(75);

parameter_types! {
	/// How many recent block hashes the chain remembers.
	pub const BlockHashCount: BlockNumber = 2400;
	/// The runtime version.
	pub const Version: RuntimeVersion = VERSION;
	/// Up to 1 second of compute in a 2 second block.
	pub RuntimeBlockWeights: BlockWeights = BlockWeights::with_sensible_defaults(
		Weight::from_parts(WEIGHT_REF_TIME_PER_SECOND, u64::MAX),
		NORMAL_DISPATCH_RATIO,
	);
	/// At most 5 MiB per block.
	pub RuntimeBlockLength: BlockLength = BlockLength::builder()
		.max_length(5 * 1024 * 1024)
		.modify_max_length_for_class(DispatchClass::Normal, |max| {
			*max = NORMAL_LENGTH_RATIO * *max
		})
		.build();
	/// The generic Substrate SS58 prefix.
	pub const SS58Prefix: u8 = 42;
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
	type Block = Block;
	type BlockWeights = RuntimeBlockWeights;
	type BlockLength = RuntimeBlockLength;
	type AccountId = AccountId;
	type Nonce = Nonce;
	type Hash = Hash;
	type BlockHashCount = BlockHashCount;
	/// The node stores its state in ParityDB; what a read and a write cost there, as measured
	/// (`make bench-storage`).
	type DbWeight = crate::db_weights::ParityDbWeight;
	/// What `frame_system`'s transaction extensions cost here, as measured (`make bench`).
	type ExtensionsWeightInfo = crate::weights::frame_system_extensions::WeightInfo<Runtime>;
	type Version = Version;
	type AccountData = pallet_balances::AccountData<Balance>;
	type SS58Prefix = SS58Prefix;
	type MaxConsumers = ConstU32<16>;
	/// Every account gets its Ethereum address mapped when it is created, and unmapped when
	/// it is reaped, so contracts and Ethereum tools see it without a `map_account` call.
	type OnNewAccount = pallet_revive::AutoMapper<Runtime>;
	type OnKilledAccount = pallet_revive::AutoMapper<Runtime>;
}

impl pallet_aura::Config for Runtime {
	type AuthorityId = AuraId;
	type DisabledValidators = ();
	type MaxAuthorities = ConstU32<32>;
	type AllowMultipleBlocksPerSlot = ConstBool<false>;
	type SlotDuration = pallet_aura::MinimumPeriodTimesTwo<Runtime>;
}

/// The block author as Aura recorded it: the authority whose turn the block's slot is.
pub struct AuraAuthor;

impl pallet_author_vrf::BlockAuthor for AuraAuthor {
	fn author_and_slot() -> Option<(sp_core::sr25519::Public, u64)> {
		let slot = pallet_aura::CurrentSlot::<Runtime>::get();
		let index = pallet_aura::Pallet::<Runtime>::slot_author_index(slot)?;
		let key = pallet_aura::Authorities::<Runtime>::get().get(index as usize)?.clone();
		Some((key.into(), *slot))
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn set_author_for_benchmark(key: sp_core::sr25519::Public, slot: u64) {
		let authorities = frame_support::BoundedVec::truncate_from(alloc::vec![AuraId::from(key)]);
		pallet_aura::Authorities::<Runtime>::put(authorities);
		pallet_aura::CurrentSlot::<Runtime>::put(sp_consensus_aura::Slot::from(slot));
	}
}

impl pallet_author_vrf::Config for Runtime {
	type BlockAuthor = AuraAuthor;
	type WeightInfo = pallet_author_vrf::weights::SubstrateWeight<Runtime>;
}

impl pallet_grandpa::Config for Runtime {
	#[allow(deprecated)]
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = ();
	type MaxAuthorities = ConstU32<32>;
	type MaxNominators = ConstU32<0>;
	type MaxSetIdSessionEntries = ConstU64<0>;
	type KeyOwnerProof = sp_core::Void;
	type EquivocationReportSystem = ();
}

impl pallet_timestamp::Config for Runtime {
	/// Milliseconds since the Unix epoch.
	type Moment = u64;
	type OnTimestampSet = Aura;
	type MinimumPeriod = ConstU64<{ SLOT_DURATION / 2 }>;
	type WeightInfo = ();
}

impl pallet_balances::Config for Runtime {
	type MaxLocks = ConstU32<50>;
	type MaxReserves = ();
	type ReserveIdentifier = [u8; 8];
	type Balance = Balance;
	#[allow(deprecated)]
	type RuntimeEvent = RuntimeEvent;
	type DustRemoval = ();
	type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
	type AccountStore = System;
	type WeightInfo = pallet_balances::weights::SubstrateWeight<Runtime>;
	type FreezeIdentifier = RuntimeFreezeReason;
	type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeFreezeReason = RuntimeFreezeReason;
	type DoneSlashHandler = ();
}

/// What one byte of a transaction costs: a millionth of a unit, so the normal share of a block
/// (3.75 MiB) filled with junk costs about 3.9 units, before congestion raises it.
pub const FEE_PER_BYTE: Balance = crate::UNIT / 1_000_000;

parameter_types! {
	/// The share of a block's normal class the fee multiplier steers towards: fuller blocks
	/// raise fees, emptier ones lower them (never below the base fees).
	pub const TargetBlockFullness: Perquintill = Perquintill::from_percent(25);
	/// How fast the multiplier moves: a full block raises it by about 0.0225% (the variable
	/// times the 75% excess over the target), so sustained full blocks double fees in about
	/// 3,100 blocks (an hour and three quarters) and by more than 10,000 over a day.
	pub AdjustmentVariable: Multiplier = Multiplier::saturating_from_rational(3, 10_000);
	/// Fees never drop below the base schedule.
	pub MinimumMultiplier: Multiplier = Multiplier::one();
	/// Fees may rise without bound while congestion lasts.
	pub MaximumMultiplier: Multiplier = Bounded::max_value();
}

/// Fees: a weight fee of one unit per second of compute (`BlockRatioFee<1, 1>`: a picosecond of
/// reference time costs a planck), a length fee of [`FEE_PER_BYTE`], and a congestion
/// multiplier over both (`TargetedFeeAdjustment`). Commitments and reveals carry no signer and
/// pay nothing: they are authorized by their executor signature, bounded to one per assigned
/// executor and request, and operational, so a stuffer's normal transactions cannot take their
/// room.
impl pallet_transaction_payment::Config for Runtime {
	#[allow(deprecated)]
	type RuntimeEvent = RuntimeEvent;
	type OnChargeTransaction = FungibleAdapter<Balances, ()>;
	type OperationalFeeMultiplier = ConstU8<5>;
	// A picosecond of reference time costs a planck (and proof size its share of the block's,
	// which is far cheaper): the one fee shape pallet-revive maps Ethereum gas onto.
	type WeightToFee = pallet_revive::evm::fees::BlockRatioFee<1, 1, Runtime, Balance>;
	type LengthToFee = ConstantMultiplier<Balance, ConstU128<FEE_PER_BYTE>>;
	type FeeMultiplierUpdate = TargetedFeeAdjustment<
		Self,
		TargetBlockFullness,
		AdjustmentVariable,
		MinimumMultiplier,
		MaximumMultiplier,
	>;
	/// What charging the fee costs here, as measured (`make bench`).
	type WeightInfo = crate::weights::pallet_transaction_payment::WeightInfo<Runtime>;
}

impl pallet_sudo::Config for Runtime {
	#[allow(deprecated)]
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type WeightInfo = pallet_sudo::weights::SubstrateWeight<Runtime>;
}
