//! The Verity runtime.
//!
//! A FRAME solochain runtime: Aura block production and GRANDPA finality, balances and
//! transaction payment, sudo, a technical committee that governs the model registry, the
//! inference protocol (`pallet_inference`), agent memory, and Solidity contracts
//! (`pallet_revive`) that request models through the inference precompile.
//!
//! - `configs/`: every pallet's configuration.
//! - `apis.rs`: the runtime APIs the node and clients call.
//! - `genesis_config_presets.rs`: the `development` and `local_testnet` genesis presets.

#![cfg_attr(not(feature = "std"), no_std)]
// `construct_runtime`-style macros expand to deep types.
#![recursion_limit = "256"]

#[cfg(feature = "std")]
include!(concat!(env!("OUT_DIR"), "/wasm_binary.rs"));

extern crate alloc;

use alloc::vec::Vec;

#[cfg(feature = "runtime-benchmarks")]
#[macro_use]
mod benchmarks;
pub mod apis;
pub mod configs;
#[cfg(test)]
mod contract_tests;
pub mod db_weights;
pub mod demo_models;
pub mod genesis_config_presets;
pub mod weights;

use sp_runtime::{
	generic, impl_opaque_keys,
	traits::{BlakeTwo256, IdentifyAccount, Verify},
	MultiAddress, MultiSignature,
};
use sp_version::{runtime_version, RuntimeVersion};

pub use frame_system::Call as SystemCall;
pub use pallet_balances::Call as BalancesCall;
pub use pallet_inference::Call as InferenceCall;
#[cfg(any(feature = "std", test))]
pub use sp_runtime::BuildStorage;

/// A block number.
pub type BlockNumber = u32;
/// A transaction signature.
pub type Signature = MultiSignature;
/// An account: the public key of the signature scheme.
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
/// An account balance.
pub type Balance = u128;
/// How many transactions an account has signed.
pub type Nonce = u32;
/// A hash of chain data.
pub type Hash = sp_core::H256;

/// Opaque types, for the parts of the node that need not know the runtime's types.
pub mod opaque {
	use super::*;
	pub use sp_runtime::OpaqueExtrinsic as UncheckedExtrinsic;

	/// An opaque block header.
	pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
	/// An opaque block.
	pub type Block = generic::Block<Header, UncheckedExtrinsic>;
	/// An opaque block id.
	pub type BlockId = generic::BlockId<Block>;
	/// An opaque block hash.
	pub type Hash = <BlakeTwo256 as sp_core::Hasher>::Out;

	impl_opaque_keys! {
		/// The keys a validator holds.
		pub struct SessionKeys {
			/// Block production.
			pub aura: Aura,
			/// Finality.
			pub grandpa: Grandpa,
		}
	}
}

/// The runtime's version.
#[runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
	spec_name: alloc::borrow::Cow::Borrowed("verity"),
	impl_name: alloc::borrow::Cow::Borrowed("verity"),
	authoring_version: 1,
	spec_version: 101,
	impl_version: 1,
	apis: apis::RUNTIME_API_VERSIONS,
	transaction_version: 1,
	system_version: 1,
};

/// Target block time. Short, so that an inference round trip takes seconds.
pub const MILLISECS_PER_BLOCK: u64 = 2000;
/// Aura slot duration; cannot change once the chain runs.
pub const SLOT_DURATION: u64 = MILLISECS_PER_BLOCK;
/// Blocks per minute.
pub const MINUTES: BlockNumber = 60_000 / (MILLISECS_PER_BLOCK as BlockNumber);
/// Blocks per hour.
pub const HOURS: BlockNumber = MINUTES * 60;
/// Blocks per day.
pub const DAYS: BlockNumber = HOURS * 24;

/// One unit of the native token, 12 decimals.
pub const UNIT: Balance = 1_000_000_000_000;
/// A thousandth of a unit.
pub const MILLI_UNIT: Balance = 1_000_000_000;
/// The smallest balance an account may hold.
pub const EXISTENTIAL_DEPOSIT: Balance = MILLI_UNIT;

/// The address format.
pub type Address = MultiAddress<AccountId, ()>;
/// A block header.
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
/// A block.
pub type Block = generic::Block<Header, UncheckedExtrinsic>;

/// The transaction extensions every transaction carries, in order.
///
/// `AuthorizeCall` comes first: it lets calls with a `#[pallet::authorize]` rule (such as an
/// executor's signed attestation) be valid without a signer, and no fee is charged for them.
/// `SetOrigin` turns an Ethereum transaction's origin into its signer's, after every extension
/// that relies on a signed origin; `WeightReclaim` comes last, to catch every refund.
pub type TxExtension = (
	frame_system::AuthorizeCall<Runtime>,
	frame_system::CheckNonZeroSender<Runtime>,
	frame_system::CheckSpecVersion<Runtime>,
	frame_system::CheckTxVersion<Runtime>,
	frame_system::CheckGenesis<Runtime>,
	frame_system::CheckEra<Runtime>,
	frame_system::CheckNonce<Runtime>,
	frame_system::CheckWeight<Runtime>,
	pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
	frame_metadata_hash_extension::CheckMetadataHash<Runtime>,
	// Nested, so the tuple stays within the twelve elements the codec's traits cover; the
	// extensions run in the same order and encode the same as if they were flat.
	(
		pallet_inference::CheckRequestRoom<Runtime>,
		pallet_revive::evm::tx_extension::SetOrigin<Runtime>,
		frame_system::WeightReclaim<Runtime>,
	),
);

/// The extensions of a transaction the runtime itself builds: immortal, with `nonce` and `tip`
/// and `origin` (an offchain worker's authorized transaction: nonce and tip zero, the default
/// `SetOrigin`; an Ethereum transaction: its own, and `SetOrigin` marking it as Ethereum's).
pub fn transaction_extension(
	nonce: Nonce,
	tip: Balance,
	origin: pallet_revive::evm::tx_extension::SetOrigin<Runtime>,
) -> TxExtension {
	(
		frame_system::AuthorizeCall::<Runtime>::new(),
		frame_system::CheckNonZeroSender::<Runtime>::new(),
		frame_system::CheckSpecVersion::<Runtime>::new(),
		frame_system::CheckTxVersion::<Runtime>::new(),
		frame_system::CheckGenesis::<Runtime>::new(),
		frame_system::CheckEra::<Runtime>::from(generic::Era::Immortal),
		frame_system::CheckNonce::<Runtime>::from(nonce),
		frame_system::CheckWeight::<Runtime>::new(),
		pallet_transaction_payment::ChargeTransactionPayment::<Runtime>::from(tip),
		frame_metadata_hash_extension::CheckMetadataHash::<Runtime>::new(false),
		(
			pallet_inference::CheckRequestRoom::<Runtime>::new(),
			origin,
			frame_system::WeightReclaim::<Runtime>::new(),
		),
	)
}

/// An extrinsic as this runtime checks it: a Substrate extrinsic, or an Ethereum transaction
/// (`Revive::eth_transact`) that the runtime checks and turns into one.
pub type UncheckedExtrinsic =
	pallet_revive::evm::runtime::UncheckedExtrinsic<Address, Signature, configs::EthExtraImpl>;
/// The payload a transaction signer signs.
pub type SignedPayload = generic::SignedPayload<RuntimeCall, TxExtension>;

/// Migrations to run on the next runtime upgrade, besides the pallets' own.
type Migrations = ();

/// Dispatches calls and runs the block life cycle.
pub type Executive = frame_executive::Executive<
	Runtime,
	Block,
	frame_system::ChainContext<Runtime>,
	Runtime,
	AllPalletsWithSystem,
	Migrations,
>;

/// The runtime: every pallet at a fixed index.
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
	pub struct Runtime;

	/// Accounts, blocks, events.
	#[runtime::pallet_index(0)]
	pub type System = frame_system;
	/// The block timestamp inherent.
	#[runtime::pallet_index(1)]
	pub type Timestamp = pallet_timestamp;
	/// Block production.
	#[runtime::pallet_index(2)]
	pub type Aura = pallet_aura;
	/// Finality.
	#[runtime::pallet_index(3)]
	pub type Grandpa = pallet_grandpa;
	/// The native token.
	#[runtime::pallet_index(4)]
	pub type Balances = pallet_balances;
	/// Transaction fees.
	#[runtime::pallet_index(5)]
	pub type TransactionPayment = pallet_transaction_payment;
	/// The chain's superuser, for development and bootstrapping.
	#[runtime::pallet_index(6)]
	pub type Sudo = pallet_sudo;
	/// The technical committee: governs the model registry.
	#[runtime::pallet_index(7)]
	pub type TechnicalCommittee = pallet_collective<Instance1>;
	/// Randomness no block author can choose: each author's VRF over the previous randomness.
	#[runtime::pallet_index(8)]
	pub type AuthorVrf = pallet_author_vrf;
	/// The inference protocol.
	#[runtime::pallet_index(10)]
	pub type Inference = pallet_inference;
	/// Agent memory: committed entries, embedded through the inference protocol.
	#[runtime::pallet_index(11)]
	pub type Memory = pallet_memory;
	/// Smart contracts: Solidity (EVM bytecode) and PolkaVM, with Ethereum transactions.
	#[runtime::pallet_index(12)]
	pub type Revive = pallet_revive;
	/// The inference precompile and result callbacks for contracts.
	#[runtime::pallet_index(13)]
	pub type InferenceContracts = pallet_inference_contracts;
}

#[cfg(test)]
mod tests {
	use super::*;
	use frame_support::{dispatch::DispatchClass, weights::Weight};
	use pallet_inference::WeightInfo;

	/// Bytes of the demo text-direction classifier's canonical output.
	const CLASSIFIER_OUTPUT_BYTES: u32 = 64;

	/// What one executor's answer costs a block: its commitment and its reveal, each with its
	/// dispatch, its authorization and the extrinsic base, and its share of the settlement.
	fn answer_weight(output_bytes: u32) -> Weight {
		type Weights = pallet_inference::weights::SubstrateWeight<Runtime>;
		let base = answer_extrinsic_base();
		// A request's quorum settles in the reveal that completes it: at redundancy 3, one
		// ordinary settlement for every three answers.
		let shape = pallet_inference::RecordShape { redundancy: 3, largest_output: output_bytes };
		let settlement_share =
			Inference::settle_weight_of(&pallet_inference::RequestKind::Inference, shape) / 3;
		Weights::submit_commitment()
			.saturating_add(Weights::authorize_submit_commitment())
			.saturating_add(Weights::submit_attestation(output_bytes))
			.saturating_add(Weights::authorize_submit_attestation(output_bytes))
			.saturating_add(base.saturating_mul(2))
			.saturating_add(settlement_share)
	}

	/// What one executor's answer costs a block when it travels in full batches
	/// (`submit_commitments`, `submit_attestations`): the same dispatches and authorizations,
	/// the two extrinsic bases shared by a batch's items.
	fn batched_answer_weight(output_bytes: u32) -> Weight {
		let base = answer_extrinsic_base();
		let per_batch = u64::from(configs::MaxAnswersPerBatch::get());
		answer_weight(output_bytes)
			.saturating_sub(base.saturating_mul(2))
			.saturating_add(base.saturating_mul(2) / per_batch)
	}

	/// What an answer transaction (a commitment or a reveal, alone or in a batch) costs a block
	/// besides its items: the extrinsic base and its transaction extensions' weights, which
	/// are charged whatever the origin.
	fn answer_extrinsic_base() -> Weight {
		let base = configs::RuntimeBlockWeights::get()
			.get(DispatchClass::Operational)
			.base_extrinsic;
		let batch = RuntimeCall::Inference(pallet_inference::Call::submit_commitments {
			batch: Default::default(),
		});
		base.saturating_add(extensions_weight(&batch))
	}

	/// What `call`'s transaction extensions are charged (the call's own dispatch info counts
	/// none): the same for every origin and nonce.
	fn extensions_weight(call: &RuntimeCall) -> Weight {
		use sp_runtime::traits::TransactionExtension;
		transaction_extension(0, 0, Default::default()).weight(call)
	}

	/// How many answers of `weight` each fit in a block: commitments and reveals are
	/// operational, so they may use the whole block.
	fn answers_per_block(weight: Weight) -> u64 {
		let operational = configs::RuntimeBlockWeights::get()
			.get(DispatchClass::Operational)
			.max_total
			.expect("the operational class is bounded");
		operational.ref_time() / weight.ref_time()
	}

	/// The capacity the protocol promises: at least 600 answers (commitment, reveal and a third
	/// of an ordinary settlement) per block, by the benchmarked weights: 200 requests of
	/// redundancy 3 settled per block; more when they travel in batches.
	#[test]
	fn at_least_600_answers_and_their_settlements_fit_in_a_block() {
		for output_bytes in [CLASSIFIER_OUTPUT_BYTES, 1024, 4096] {
			println!(
				"answers of {output_bytes} output bytes per block: {} one per transaction, {} \
				 in batches (weights {} and {})",
				answers_per_block(answer_weight(output_bytes)),
				answers_per_block(batched_answer_weight(output_bytes)),
				answer_weight(output_bytes).ref_time(),
				batched_answer_weight(output_bytes).ref_time(),
			);
		}
		let single = answers_per_block(answer_weight(CLASSIFIER_OUTPUT_BYTES));
		let batched = answers_per_block(batched_answer_weight(CLASSIFIER_OUTPUT_BYTES));
		assert!(single >= 600);
		assert!(batched > single);
	}

	/// What a classifier request's whole life weighs by the benchmarked weights, at
	/// redundancy 3 drawn from a pool of three with a 4 KiB input: its call (the draw
	/// included), its six answers in full batches, its settlement (no listener acting, no
	/// audit drawn), its closing at the deadline and its pruning after the challenge period.
	/// A block's 1 s over that is the most requests a block can carry from start to end:
	/// at least 250.
	#[test]
	fn a_requests_life_leaves_room_for_at_least_250_a_block() {
		type Weights = pallet_inference::weights::SubstrateWeight<Runtime>;
		let blocks = configs::RuntimeBlockWeights::get();
		let normal_base = blocks.get(DispatchClass::Normal).base_extrinsic;
		let answer_base = answer_extrinsic_base();
		let per_batch = u64::from(configs::MaxAnswersPerBatch::get());
		let output = CLASSIFIER_OUTPUT_BYTES.max(pallet_inference::MIN_WEIGHED_OUTPUT);
		let lookups = <Runtime as frame_system::Config>::DbWeight::get().reads(2);
		let request = RuntimeCall::Inference(pallet_inference::Call::request_inference {
			model_id: Default::default(),
			input: vec![0u8; 4096],
			max_fee: 0,
		});
		let extensions = extensions_weight(&request);
		let stages = [
			(
				"call",
				Inference::request_weight(
					4096,
					pallet_inference::ServedBefore::No,
					pallet_inference::DrawSize { pool: 3, seated: 3 },
				)
				.saturating_add(extensions)
				.saturating_add(normal_base),
			),
			(
				"answers",
				Weights::submit_commitment()
					.saturating_add(Weights::authorize_submit_commitment())
					.saturating_add(Weights::submit_attestation(output))
					.saturating_add(Weights::authorize_submit_attestation(output))
					.saturating_add(answer_base.saturating_mul(2) / per_batch)
					.saturating_mul(3),
			),
			("settlement", Weights::settle_ordinary_request(3, output).saturating_add(lookups)),
			("closing", Weights::expire_finalized_request(3, output)),
			("pruning", Weights::prune_request().saturating_add(lookups)),
		];
		let life = stages.iter().fold(Weight::zero(), |total, (_, w)| total.saturating_add(*w));
		for (stage, weight) in &stages {
			println!("a request's {stage}: {} µs", weight.ref_time() / 1_000_000);
		}
		println!(
			"a reveal's charge before dispatch for the heaviest settlement it may complete: {} µs",
			Inference::settle_weight().ref_time() / 1_000_000
		);
		let per_block = blocks.max_block.ref_time() / life.ref_time();
		println!(
			"a request's life: {} µs, {per_block} requests a block at most",
			life.ref_time() / 1_000_000
		);
		assert!(per_block >= 250);
	}

	/// The normal class (`NORMAL_DISPATCH_RATIO` of a block) carries the 300 requests a block
	/// the network is built for, each charged as when it draws its executors at once: a 4 KiB
	/// input, a draw of three from a pool of three, its transaction extensions and the
	/// extrinsic base; and the last one's charge before dispatch still fits. Below that, the
	/// class itself would refuse requests a block has room to answer.
	#[test]
	fn a_blocks_normal_class_takes_300_requests() {
		use frame_support::dispatch::GetDispatchInfo;
		let normal = configs::RuntimeBlockWeights::get();
		let normal = normal.get(DispatchClass::Normal);
		let input = vec![0u8; 4096];
		let call = RuntimeCall::Inference(pallet_inference::Call::request_inference {
			model_id: Default::default(),
			input,
			max_fee: 0,
		});
		let info = call.get_dispatch_info();
		// What a signed request's extensions are charged (the pool's check of its model among
		// them).
		let extensions = extensions_weight(&call);
		let request = Inference::request_weight(
			4096,
			pallet_inference::ServedBefore::No,
			pallet_inference::DrawSize { pool: 3, seated: 3 },
		)
		.saturating_add(extensions)
		.saturating_add(normal.base_extrinsic);
		let room = normal
			.max_total
			.expect("the normal class is bounded")
			.saturating_sub(info.call_weight.saturating_add(extensions));
		let per_block = room.ref_time() / request.ref_time() + 1;
		println!(
			"requests a block's normal class takes: {per_block} ({} µs each, {} µs of it \
			 extensions)",
			request.ref_time() / 1_000_000,
			extensions.ref_time() / 1_000_000,
		);
		assert!(per_block >= 300, "only {per_block} requests a block");
	}

	/// The answer space a block keeps (`AnswerWeightPerBlock`, `AnswerLengthPerBlock`) bounds
	/// how many requests the chain assigns per block, whatever load it is offered: at least 100
	/// of redundancy 3 with the classifier's outputs.
	#[test]
	fn the_answer_space_assigns_at_least_100_requests_a_block() {
		let per_block = |output_bytes: u32| {
			let space = Inference::answer_space_of(3, output_bytes);
			let by_weight =
				configs::AnswerWeightPerBlock::get().ref_time() / space.weight.ref_time();
			let by_length = u64::from(configs::AnswerLengthPerBlock::get() / space.length);
			println!(
				"requests of redundancy 3 with {output_bytes}-byte outputs assigned per block: \
				 {} ({by_weight} by weight, {by_length} by length; a request's answers and \
				 settlement counted {} ps)",
				by_weight.min(by_length),
				space.weight.ref_time(),
			);
			by_weight.min(by_length)
		};
		let assigned = [CLASSIFIER_OUTPUT_BYTES, 1024, 4096, 65_536].map(per_block);
		assert!(assigned[0] >= 100, "only {} requests a block", assigned[0]);
	}

	/// A full batch of the largest reveals, each settling its request, still fits one
	/// operational extrinsic: the worker's batches are never too heavy to include.
	#[test]
	fn the_heaviest_batch_of_reveals_fits_a_block() {
		use frame_support::dispatch::GetDispatchInfo;
		let key =
			verity_primitives::ExecutorPublic::from(sp_core::sr25519::Public::from_raw([1; 32]));
		let signature = pallet_inference::SignedAttestation {
			attestation_key: key,
			signature: sp_core::sr25519::Signature::from_raw([2; 64]).into(),
		};
		let item = pallet_inference::RevealItem {
			request_id: 0,
			outcome: verity_primitives::InferenceOutcome::Output(vec![
				0;
				configs::MaxOutputLen::get()
					as usize
			]),
			signature,
		};
		let batch = vec![item; configs::MaxAnswersPerBatch::get() as usize];
		let call = RuntimeCall::Inference(pallet_inference::Call::submit_attestations {
			batch: batch.try_into().expect("a full batch"),
		});
		let info = call.get_dispatch_info();
		let limit = configs::RuntimeBlockWeights::get()
			.get(DispatchClass::Operational)
			.max_extrinsic
			.expect("bounded");
		let total = info.call_weight.saturating_add(info.extension_weight);
		println!("the heaviest batch weighs {} of {}", total.ref_time(), limit.ref_time());
		assert!(total.all_lte(limit), "{total:?} exceeds {limit:?}");
	}

	/// The answer space counts one settlement per request, but each reveal is charged before
	/// dispatch the heaviest settlement it may complete. So a block whose answers fill the
	/// answer space must still have room for a full batch of reveals' charge on top: answers go
	/// first (top pool priority), and the operational class may fill the whole block.
	#[test]
	fn a_full_answer_space_leaves_room_for_a_batch_of_reveals() {
		let operational = configs::RuntimeBlockWeights::get()
			.get(DispatchClass::Operational)
			.max_total
			.expect("the operational class is bounded");
		let needed =
			configs::AnswerWeightPerBlock::get().saturating_add(Inference::reveal_batch_room());
		println!(
			"answer space {} ps and a reveal batch's settlement room {} ps of {} ps",
			configs::AnswerWeightPerBlock::get().ref_time(),
			Inference::reveal_batch_room().ref_time(),
			operational.ref_time(),
		);
		assert!(needed.ref_time() <= operational.ref_time(), "{needed:?} exceeds {operational:?}");
	}

	/// The `verity` client's calls, storage reads and events are generated at compile time
	/// from `client/metadata.scale`, so a renamed call or field fails to compile there. This
	/// fails when the runtime's metadata moved on without that file; `make metadata` writes it
	/// anew (`VERITY_WRITE_METADATA=1`). The file is the runtime as the node builds it, with
	/// `runtime-benchmarks` (whose `Benchmark` API is part of the metadata), so the check runs
	/// in that feature set.
	#[cfg(feature = "runtime-benchmarks")]
	#[test]
	fn the_clients_metadata_is_the_runtimes() {
		// pallet-revive's constants read storage, so metadata is built inside externalities.
		let metadata = sp_io::TestExternalities::new(Default::default()).execute_with(|| {
			Runtime::metadata_at_version(16).expect("the runtime serves metadata v16")
		});
		// Read when the test runs, not compiled in, so a build made in one clone serves another.
		let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
			.expect("CARGO_MANIFEST_DIR is set by `cargo test`");
		let path = std::path::Path::new(&manifest_dir).join("../client/metadata.scale");
		if std::env::var_os("VERITY_WRITE_METADATA").is_some() {
			std::fs::write(&path, &*metadata).expect("client/metadata.scale is writable");
		}
		let recorded = std::fs::read(&path).unwrap_or_default();
		assert!(
			recorded == *metadata,
			"client/metadata.scale is not this runtime's metadata: run `make metadata`"
		);
	}

	/// Externalities of an empty chain.
	fn empty_chain() -> sp_io::TestExternalities {
		sp_io::TestExternalities::new(
			RuntimeGenesisConfig::default()
				.build_storage()
				.expect("the default genesis builds"),
		)
	}

	/// A commitment call, as it weighs and encodes (its signature is not checked here).
	fn commitment_call() -> RuntimeCall {
		let key =
			verity_primitives::ExecutorPublic::from(sp_core::sr25519::Public::from_raw([1; 32]));
		let signature = verity_primitives::ExecutorSignature::from(
			sp_core::sr25519::Signature::from_raw([2; 64]),
		);
		RuntimeCall::Inference(pallet_inference::Call::submit_commitment {
			request_id: 0,
			commitment: sp_core::H256::repeat_byte(3),
			signature: pallet_inference::SignedAttestation { attestation_key: key, signature },
		})
	}

	/// Apply `call` of `len` bytes to the current block's consumed weight and length, as
	/// `CheckWeight` does when a block includes it; `false` once it no longer fits.
	fn include(call: &RuntimeCall, len: usize) -> bool {
		use frame_support::dispatch::GetDispatchInfo;
		type Check = frame_system::CheckWeight<Runtime>;
		let info = call.get_dispatch_info();
		Check::do_validate(&info, len)
			.and_then(|(_, next_len)| Check::do_prepare(&info, len, next_len))
			.is_ok()
	}

	/// Block stuffing: the largest remarks, each carrying a tip of a million units (all a
	/// development account holds), fill a block's normal class. They pay at least a unit for
	/// the block; none outranks a commitment in the pool; and once they fill every byte and
	/// every picosecond they can, hundreds of commitments still fit in the block.
	#[test]
	fn a_stuffed_block_still_takes_answers() {
		use codec::Encode;
		use frame_support::dispatch::GetDispatchInfo;
		empty_chain().execute_with(|| {
			let normal_length =
				*configs::RuntimeBlockLength::get().max.get(DispatchClass::Normal) as usize;
			// A signed extrinsic's envelope: address, signature and extensions.
			let envelope = 150;
			let remark = RuntimeCall::System(frame_system::Call::remark {
				remark: vec![0; normal_length / 2 - envelope],
			});
			let remark_len = remark.encoded_size() + envelope;
			let info = remark.get_dispatch_info();
			let tip = 1_000_000 * UNIT;
			let fee = TransactionPayment::compute_fee(remark_len as u32, &info, 0);
			let priority =
				pallet_transaction_payment::ChargeTransactionPayment::<Runtime>::get_priority(
					&info,
					remark_len,
					tip,
					fee.saturating_add(tip),
				);
			assert!(priority < pallet_inference::ANSWER_PRIORITY, "a tip outranks answers");

			let mut stuffed = 0;
			while include(&remark, remark_len) {
				stuffed += 1;
			}
			let small_remark =
				RuntimeCall::System(frame_system::Call::remark { remark: vec![0; 16] });
			while include(&small_remark, small_remark.encoded_size() + envelope) {}
			// And the stuffer's heavy calls take every picosecond of the normal class.
			let normal_weight = configs::RuntimeBlockWeights::get()
				.get(DispatchClass::Normal)
				.max_total
				.expect("bounded");
			frame_system::BlockWeight::<Runtime>::mutate(|consumed| {
				consumed.set(normal_weight, DispatchClass::Normal)
			});
			assert!(!include(&small_remark, small_remark.encoded_size() + envelope));
			let paid = fee * stuffed;
			println!(
				"{stuffed} remarks of {remark_len} bytes fill the normal class for {paid} planck"
			);
			assert!(stuffed >= 1);
			assert!(paid >= UNIT, "a full block of junk costs at least a unit, not {paid}");

			let commitment = commitment_call();
			let commitment_len = commitment.encoded_size() + 16;
			let mut answers = 0;
			while answers < 10_000 && include(&commitment, commitment_len) {
				answers += 1;
			}
			println!("{answers} commitments still fit in the stuffed block");
			assert!(answers >= 500, "only {answers} commitments fit beside the stuffing");
		});
	}

	/// Full blocks raise fees for the next block; empty ones never take them below the base.
	#[test]
	fn congestion_raises_fees() {
		use pallet_transaction_payment::Multiplier;
		use sp_runtime::traits::{Convert, One};
		type Update = <Runtime as pallet_transaction_payment::Config>::FeeMultiplierUpdate;
		empty_chain().execute_with(|| {
			let normal = configs::RuntimeBlockWeights::get()
				.get(DispatchClass::Normal)
				.max_total
				.expect("bounded");
			frame_system::Pallet::<Runtime>::set_block_consumed_resources(normal, 0);
			let after_full = Update::convert(Multiplier::one());
			assert!(after_full > Multiplier::one(), "a full block raises the multiplier");
			frame_system::Pallet::<Runtime>::set_block_consumed_resources(Weight::zero(), 0);
			assert_eq!(Update::convert(Multiplier::one()), Multiplier::one());
			assert!(Update::convert(after_full) < after_full, "an empty block lowers it");
		});
	}

	#[test]
	fn the_genesis_presets_build() {
		for preset in genesis_config_presets::preset_names() {
			let patch = genesis_config_presets::get_preset(&preset).expect("a listed preset");
			let json: serde_json::Value = serde_json::from_slice(&patch).expect("JSON");
			let mut config = serde_json::to_value(RuntimeGenesisConfig::default()).unwrap();
			json_merge(&mut config, json);
			let config: RuntimeGenesisConfig =
				serde_json::from_value(config).expect("a full config");
			let storage = config.build_storage().expect("the preset builds");
			sp_io::TestExternalities::new(storage).execute_with(|| {
				assert_eq!(pallet_inference::Models::<Runtime>::iter().count(), 4);
				assert!(pallet_inference::Executors::<Runtime>::iter().count() >= 1);
				Inference::do_try_state().expect("the preset keeps the pallet's invariants");
			});
		}
	}

	/// Merge a JSON patch into a JSON value, as the genesis builder does.
	fn json_merge(base: &mut serde_json::Value, patch: serde_json::Value) {
		match (base, patch) {
			(serde_json::Value::Object(base), serde_json::Value::Object(patch)) => {
				for (key, value) in patch {
					json_merge(base.entry(key).or_insert(serde_json::Value::Null), value);
				}
			},
			(base, patch) => *base = patch,
		}
	}
}
