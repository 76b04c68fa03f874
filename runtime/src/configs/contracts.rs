//! Contracts: pallet-revive (Solidity compiled by plain `solc` to EVM bytecode, or to PolkaVM),
//! Ethereum addresses for every account, and the inference precompile with its callbacks.

use crate::{
	Address, Balance, Balances, Runtime, RuntimeCall, RuntimeEvent, RuntimeHoldReason,
	RuntimeOrigin, Signature, Timestamp, TxExtension, UNIT,
};
use frame_support::{
	parameter_types,
	traits::{ConstBool, ConstU32, ConstU64},
	weights::Weight,
};
use frame_system::EnsureSigned;
use pallet_revive::{
	evm::{fees::Info as FeeInfo, runtime::EthExtra},
	AccountId32Mapper,
};
use sp_runtime::{FixedU128, Perbill};

/// Verity's EIP-155 chain id ("VERI" in ASCII), which every Ethereum transaction signs.
pub const CHAIN_ID: u64 = 0x5645_5249;

/// How fine Ethereum gas is on this chain: a unit of gas costs this many planck of fees (and
/// buys as many picoseconds of reference compute). Ethereum tools see the same number scaled
/// into gas price.
pub const GAS_SCALE: u32 = 50_000;

parameter_types! {
	/// A contract's storage: a hundredth of a unit per item, a hundred-thousandth per byte.
	pub const DepositPerItem: Balance = UNIT / 100;
	/// Per byte of contract storage and code.
	pub const DepositPerByte: Balance = UNIT / 100_000;
	/// Per item of a contract's own storage (a Solidity slot).
	pub const DepositPerChildTrieItem: Balance = UNIT / 1_000;
	/// Instantiating from stored code locks 30% of the code's deposit.
	pub CodeHashLockupDepositPercent: Perbill = Perbill::from_percent(30);
	/// An `eth_transact` may use half of an extrinsic's maximum weight.
	pub MaxEthExtrinsicWeight: FixedU128 = FixedU128::from_rational(1, 2);
}

impl pallet_revive::Config for Runtime {
	type Time = Timestamp;
	type Balance = Balance;
	type Currency = Balances;
	type OnBurn = ();
	#[allow(deprecated)]
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type RuntimeOrigin = RuntimeOrigin;
	type RuntimeHoldReason = RuntimeHoldReason;
	type WeightInfo = pallet_revive::weights::SubstrateWeight<Self>;
	type Precompiles = (pallet_inference_contracts::InferencePrecompile<Self>,);
	type FindAuthor = ();
	type DepositPerByte = DepositPerByte;
	type DepositPerItem = DepositPerItem;
	type DepositPerChildTrieItem = DepositPerChildTrieItem;
	type CodeHashLockupDepositPercent = CodeHashLockupDepositPercent;
	type AddressMapper = AccountId32Mapper<Self>;
	type AllowEVMBytecode = ConstBool<true>;
	type UploadOrigin = EnsureSigned<Self::AccountId>;
	type InstantiateOrigin = EnsureSigned<Self::AccountId>;
	type RuntimeMemory = ConstU32<{ 128 * 1024 * 1024 }>;
	type PVFMemory = ConstU32<{ 512 * 1024 * 1024 }>;
	type ChainId = ConstU64<CHAIN_ID>;
	type NativeToEthRatio = ConstU32<1_000_000>;
	type FeeInfo = FeeInfo<Address, Signature, EthExtraImpl>;
	type Deposit = ();
	type MaxEthExtrinsicWeight = MaxEthExtrinsicWeight;
	type DebugEnabled = ConstBool<false>;
	type AutoMap = ConstBool<true>;
	type GasScale = ConstU32<GAS_SCALE>;
}

/// The transaction extensions an Ethereum transaction is given when the runtime turns it into
/// an extrinsic: its nonce and tip, immortal, and `SetOrigin` marking it as Ethereum's.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EthExtraImpl;

impl EthExtra for EthExtraImpl {
	type Config = Runtime;
	type ExtensionV0 = TxExtension;
	type ExtensionOtherVersions = sp_runtime::traits::InvalidVersion;

	fn get_eth_extension(nonce: u32, tip: Balance) -> Self::ExtensionV0 {
		crate::transaction_extension(
			nonce,
			tip,
			pallet_revive::evm::tx_extension::SetOrigin::<Runtime>::new_from_eth_transaction(),
		)
	}
}

parameter_types! {
	/// The hold reason of callback prepays.
	pub const PrepayHoldReason: RuntimeHoldReason =
		RuntimeHoldReason::InferenceContracts(pallet_inference_contracts::HoldReason::CallbackPrepay);
	/// Callback gas is Ethereum gas on this chain: a unit buys `GAS_SCALE` picoseconds...
	pub const RefTimePerGas: u64 = GAS_SCALE as u64;
	/// ...and costs `GAS_SCALE` planck, the weight fee of that compute.
	pub const CallbackGasPrice: Balance = GAS_SCALE as Balance;
	/// A callback may read and write up to 1 MiB of proof: enough for `resultOf` on the largest
	/// output (its benchmarked proof is about 330 KB) and the contract's own storage. (This
	/// solochain has no proof-of-validity limit; proof size is counted, not scarce.)
	pub const CallbackProofSize: u64 = 1024 * 1024;
	/// At most 2,000,000 gas (100 ms of compute) per callback.
	pub const MaxCallbackGas: u64 = 2_000_000;
	/// Callbacks use at most a quarter of a block's compute, counted at their limits.
	pub CallbackWeightPerBlock: Weight = Weight::from_parts(250_000_000_000, 128 * 1024 * 1024);
	/// At most 100 callbacks per block.
	pub const MaxCallbacksPerBlock: u32 = 100;
	/// At most 50,000 contract requests with a callback in flight.
	pub const MaxContractRequests: u32 = 50_000;
}

impl pallet_inference_contracts::Config for Runtime {
	type Funds = Balances;
	type PrepayHoldReason = PrepayHoldReason;
	type RefTimePerGas = RefTimePerGas;
	type GasPrice = CallbackGasPrice;
	type CallbackProofSize = CallbackProofSize;
	type MaxCallbackGas = MaxCallbackGas;
	type CallbackWeightPerBlock = CallbackWeightPerBlock;
	type MaxCallbacksPerBlock = MaxCallbacksPerBlock;
	type MaxContractRequests = MaxContractRequests;
	type WeightInfo = pallet_inference_contracts::weights::SubstrateWeight<Runtime>;
}
