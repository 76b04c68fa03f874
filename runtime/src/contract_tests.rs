//! Contracts and inference inside the runtime: the precompile answered from an account, and
//! callbacks delivered to small EVM contracts from the block's start, within the prepaid gas
//! and the per-block bounds. (`tests/tests/integration/contracts.rs` plays the same rules end to end with
//! Solidity, solc and viem.)

use crate::{
	configs, AccountId, Balances, InferenceContracts, Revive, Runtime, RuntimeEvent,
	RuntimeGenesisConfig, RuntimeOrigin, System, UNIT,
};
use frame_support::traits::{
	fungible::{InspectHold, Mutate},
	Get, Hooks,
};
use pallet_inference::OnRequestFinalized;
use pallet_inference_contracts::{
	callbacks::{gas_weight, prepay_of},
	CallbackKind, CallbackQueue, CallbackQueueEnds, ContractRequests, Event as ContractsEvent,
	HoldReason, IInference, IInferenceConsumer, SkipReason, PRECOMPILE_ADDRESS,
};
use pallet_revive::{
	precompiles::alloy::{
		primitives::{FixedBytes, U256 as AbiU256},
		sol_types::{Revert, SolCall, SolError},
	},
	AddressMapper, Code, ExecConfig, TransactionLimits, U256,
};
use sp_core::{H160, H256};
use sp_runtime::BuildStorage;

/// Runtime code that stores its calldata's size in slot 0: `CALLDATASIZE PUSH0 SSTORE STOP`.
const RECORDER: &[u8] = &[0x36, 0x5f, 0x55, 0x00];
/// Runtime code that stores its calldata's first word in slot 0 and its size in slot 1:
/// `PUSH0 CALLDATALOAD PUSH0 SSTORE CALLDATASIZE PUSH1 1 SSTORE STOP`.
const CALL_RECORDER: &[u8] = &[0x5f, 0x35, 0x5f, 0x55, 0x36, 0x60, 0x01, 0x55, 0x00];
/// Runtime code that always reverts: `PUSH0 PUSH0 REVERT`.
const REVERTER: &[u8] = &[0x5f, 0x5f, 0xfd];
/// Runtime code that never ends: `JUMPDEST PUSH0 JUMP`.
const SPINNER: &[u8] = &[0x5b, 0x5f, 0x56];

/// A chain with the default genesis, at block 1, and Alice funded.
fn chain() -> sp_io::TestExternalities {
	let storage = RuntimeGenesisConfig::default().build_storage().expect("the genesis builds");
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| {
		System::set_block_number(1);
		Balances::set_balance(&alice(), 1_000_000 * UNIT);
	});
	ext
}

fn alice() -> AccountId {
	sp_keyring::Sr25519Keyring::Alice.to_account_id()
}

/// Deploy `runtime_code` from Alice, funded with 1,000 units; its address and account.
fn deploy(runtime_code: &[u8]) -> (H160, AccountId) {
	let length = runtime_code.len() as u8;
	// PUSH1 len PUSH1 12 PUSH0 CODECOPY PUSH1 len PUSH0 RETURN, then the runtime code.
	let mut init = vec![0x60, length, 0x60, 11, 0x5f, 0x39, 0x60, length, 0x5f, 0xf3];
	init.insert(0, 0x5b); // JUMPDEST: pads the prefix to the 11 bytes the copy skips
	init.extend_from_slice(runtime_code);
	let result = Revive::bare_instantiate(
		RuntimeOrigin::signed(alice()),
		U256::zero(),
		TransactionLimits::WeightAndDeposit {
			weight_limit: frame_support::weights::Weight::from_parts(100_000_000_000, 1 << 22),
			deposit_limit: 100 * UNIT,
		},
		Code::Upload(init),
		Vec::new(),
		Some(sp_io::hashing::blake2_256(runtime_code)),
		&ExecConfig::new_substrate_tx(),
	);
	let address = result.result.expect("the contract deploys").addr;
	let account = <Runtime as pallet_revive::Config>::AddressMapper::to_account_id(&address);
	Balances::set_balance(&account, 1_000 * UNIT);
	(address, account)
}

/// Open contract request `request_id` for `contract` with `gas` per callback, as the precompile
/// does, and report it settled.
fn settled_contract_request(request_id: u64, contract: (H160, AccountId), gas: u64) {
	InferenceContracts::record_request(request_id, contract.1, contract.0, gas)
		.expect("the contract pays the prepay");
	<InferenceContracts as OnRequestFinalized>::on_request_finalized(
		request_id,
		&H256::zero(),
		&[],
	);
}

/// The next block's start, with this pallet's hook run.
fn next_block_start() {
	let next = System::block_number() + 1;
	System::set_block_number(next);
	InferenceContracts::on_initialize(next);
}

fn contract_events() -> Vec<ContractsEvent<Runtime>> {
	System::events()
		.into_iter()
		.filter_map(|record| match record.event {
			RuntimeEvent::InferenceContracts(event) => Some(event),
			_ => None,
		})
		.collect()
}

fn held(account: &AccountId) -> u128 {
	Balances::balance_on_hold(
		&crate::RuntimeHoldReason::InferenceContracts(HoldReason::CallbackPrepay),
		account,
	)
}

/// A settled request's callback runs at the next block's start, with the requested gas: the
/// contract sees the ABI call (`onInferenceResult(uint256,bytes)`: 4 + 32 + 32 + 32 bytes for
/// an empty outcome) and pays exactly the gas it used; the rest of its prepay is still held
/// for a correction or goes back.
#[test]
fn a_callback_runs_at_the_next_block_start_and_pays_only_its_gas() {
	chain().execute_with(|| {
		let contract = deploy(RECORDER);
		let before = Balances::free_balance(&contract.1);
		let gas = 200_000;
		settled_contract_request(1, contract.clone(), gas);
		let prepay = prepay_of::<Runtime>(gas);
		assert_eq!(held(&contract.1), 2 * prepay);
		assert_eq!(Revive::get_storage(contract.0, [0; 32]), Ok(None), "not before the block");

		next_block_start();

		let stored = Revive::get_storage(contract.0, [0; 32]).expect("a contract");
		let mut expected = [0u8; 32];
		expected[31] = 100;
		assert_eq!(stored, Some(expected.to_vec()), "the contract ran on the callback's data");
		let gas_used = contract_events()
			.into_iter()
			.find_map(|event| match event {
				ContractsEvent::CallbackDelivered { request_id: 1, kind, gas_used, .. } => {
					assert_eq!(kind, CallbackKind::Result);
					Some(gas_used)
				},
				_ => None,
			})
			.expect("CallbackDelivered");
		assert!(gas_used > 0 && gas_used <= gas);
		assert_eq!(held(&contract.1), prepay, "the correction's prepay stays held");
		let paid = before - Balances::free_balance(&contract.1) - prepay;
		// The callback's storage deposit came out of the prepay too.
		let deposit = configs::DepositPerChildTrieItem::get() + 32 * configs::DepositPerByte::get();
		assert!(paid >= prepay_of::<Runtime>(gas_used), "{paid}");
		assert!(paid <= prepay_of::<Runtime>(gas_used) + 2 * deposit + 32 * 1_000, "{paid}");
		assert_eq!(ContractRequests::<Runtime>::get(1).map(|entry| entry.funded), Some(1));

		// The challenge period ends: the correction's prepay goes back.
		<InferenceContracts as OnRequestFinalized>::on_challenge_period_over(1);
		next_block_start();
		assert_eq!(held(&contract.1), 0);
		assert!(!ContractRequests::<Runtime>::contains_key(1));
	});
}

/// A contract's request that ends without an output calls `onInferenceFailed(id, status)` at
/// the next block's start, and then everything left of its prepay goes back: the contract paid
/// only the callback's gas and storage, and nothing stays held.
#[test]
fn a_failed_request_calls_back_then_returns_the_rest_of_its_prepay() {
	chain().execute_with(|| {
		let contract = deploy(CALL_RECORDER);
		let before = Balances::free_balance(&contract.1);
		let gas = 200_000;
		InferenceContracts::record_request(1, contract.1.clone(), contract.0, gas)
			.expect("the contract pays the prepay");
		<InferenceContracts as OnRequestFinalized>::on_request_failed(1);
		let prepay = prepay_of::<Runtime>(gas);
		assert_eq!(held(&contract.1), 2 * prepay, "held until the callback has run");

		next_block_start();

		let slot = |index: u8| {
			let mut key = [0u8; 32];
			key[31] = index;
			Revive::get_storage(contract.0, key)
				.expect("a contract")
				.expect("a stored word")
		};
		assert_eq!(&slot(0)[..4], IInferenceConsumer::onInferenceFailedCall::SELECTOR.as_slice());
		assert_eq!(slot(1)[31], 4 + 32 + 32, "onInferenceFailed(uint256,uint8): id and status");
		let events = contract_events();
		let gas_used = events
			.iter()
			.find_map(|event| match event {
				ContractsEvent::CallbackDelivered {
					request_id: 1,
					kind: CallbackKind::Failed,
					gas_used,
					..
				} => Some(*gas_used),
				_ => None,
			})
			.expect("CallbackDelivered for the failure");
		assert!(events
			.iter()
			.any(|event| matches!(event, ContractsEvent::PrepayReturned { request_id: 1, .. })));
		assert_eq!(held(&contract.1), 0, "the correction's prepay went back too");
		assert!(!ContractRequests::<Runtime>::contains_key(1));
		let paid = before - Balances::free_balance(&contract.1);
		let deposit = configs::DepositPerChildTrieItem::get() + 32 * configs::DepositPerByte::get();
		assert!(paid >= prepay_of::<Runtime>(gas_used), "{paid}");
		assert!(paid <= prepay_of::<Runtime>(gas_used) + 4 * deposit + 64 * 1_000, "{paid}");
	});
}

/// A failure's callback is queued even when the queue is full: it is the callback that
/// returns the request's prepay, so a flood of callbacks filling the queue would otherwise keep
/// a failed request's prepay held for good. A request fails once, having queued nothing else,
/// so the queue still holds at most five entries per request in flight. A result that meets
/// the full queue is skipped, as before (its contract reads it with `resultOf`).
#[test]
fn a_failure_is_queued_even_when_the_queue_is_full() {
	chain().execute_with(|| {
		let contract = deploy(CALL_RECORDER);
		for request_id in [1, 2] {
			InferenceContracts::record_request(request_id, contract.1.clone(), contract.0, 100_000)
				.expect("the contract pays the prepay");
		}
		let capacity = 4 * u64::from(
			<<Runtime as pallet_inference_contracts::Config>::MaxContractRequests as Get<u32>>::get(
			),
		);
		let (front, back) = (7, 7 + capacity);
		CallbackQueueEnds::<Runtime>::put((front, back));

		<InferenceContracts as OnRequestFinalized>::on_request_finalized(2, &H256::zero(), b"");
		<InferenceContracts as OnRequestFinalized>::on_request_failed(1);

		assert!(contract_events().iter().any(|event| matches!(
			event,
			ContractsEvent::CallbackSkipped {
				request_id: 2,
				kind: CallbackKind::Result,
				reason: SkipReason::QueueFull,
			}
		)));
		assert!(!contract_events()
			.iter()
			.any(|event| matches!(event, ContractsEvent::CallbackSkipped { request_id: 1, .. })));
		assert_eq!(CallbackQueue::<Runtime>::get(back), Some((1, CallbackKind::Failed)));
		assert_eq!(CallbackQueueEnds::<Runtime>::get(), (front, back + 1));
	});
}

/// A callback that reverts changes nothing in the contract, pays for its gas, and is recorded;
/// one that runs out of gas likewise. Neither can take more than its prepay.
#[test]
fn reverting_and_starving_callbacks_are_recorded_and_bounded_by_their_prepay() {
	chain().execute_with(|| {
		let reverter = deploy(REVERTER);
		let spinner = deploy(SPINNER);
		let spinner_before = Balances::free_balance(&spinner.1);
		settled_contract_request(1, reverter.clone(), 100_000);
		settled_contract_request(2, spinner.clone(), 50_000);

		next_block_start();

		let events = contract_events();
		assert!(events
			.iter()
			.any(|event| matches!(event, ContractsEvent::CallbackReverted { request_id: 1, .. })));
		let spent = events
			.iter()
			.find_map(|event| match event {
				ContractsEvent::CallbackFailed { request_id: 2, gas_used, .. } => Some(*gas_used),
				_ => None,
			})
			.expect("CallbackFailed for the spinner");
		assert_eq!(spent, 50_000, "out of gas uses all of it");
		let prepay = prepay_of::<Runtime>(50_000);
		assert_eq!(spinner_before - Balances::free_balance(&spinner.1), 2 * prepay);
		assert_eq!(held(&spinner.1), prepay, "one prepay burned, one still held");
	});
}

/// Callbacks are bounded per block (`MaxCallbacksPerBlock`, and the gas budget counted at
/// their limits); the rest wait, first in first out, for the next blocks.
#[test]
fn callbacks_beyond_a_blocks_bounds_wait_for_the_next_block() {
	chain().execute_with(|| {
		let recorder = deploy(RECORDER);
		let per_block = configs::MaxCallbacksPerBlock::get();
		for request_id in 0..u64::from(per_block) + 20 {
			settled_contract_request(request_id, recorder.clone(), 40_000);
		}
		next_block_start();
		let delivered = |events: &[ContractsEvent<Runtime>]| {
			events
				.iter()
				.filter(|event| matches!(event, ContractsEvent::CallbackDelivered { .. }))
				.count()
		};
		assert_eq!(delivered(&contract_events()), per_block as usize);
		System::reset_events();
		next_block_start();
		assert_eq!(delivered(&contract_events()), 20);

		// At the largest gas, the block's gas budget binds first.
		System::reset_events();
		let largest = configs::MaxCallbackGas::get();
		for request_id in 1_000..1_010 {
			settled_contract_request(request_id, recorder.clone(), largest);
		}
		next_block_start();
		let budget = configs::CallbackWeightPerBlock::get().ref_time();
		let fit = budget / gas_weight::<Runtime>(largest).ref_time();
		assert_eq!(delivered(&contract_events()) as u64, fit);
	});
}

/// The precompile from an account: an unknown model reverts with `Error("UnknownModel")`, a
/// caller could catch; nothing is held. `tensorValue` and `resultOf` answer.
#[test]
fn the_precompile_reverts_with_the_pallet_errors_name_and_answers_reads() {
	chain().execute_with(|| {
		let call = |data: Vec<u8>| {
			Revive::bare_call(
				RuntimeOrigin::signed(alice()),
				PRECOMPILE_ADDRESS,
				U256::zero(),
				TransactionLimits::WeightAndDeposit {
					weight_limit: frame_support::weights::Weight::from_parts(
						100_000_000_000,
						1 << 22,
					),
					deposit_limit: 100 * UNIT,
				},
				data,
				&ExecConfig::new_substrate_tx(),
			)
			.result
			.expect("the precompile answers")
		};
		let free = Balances::free_balance(alice());
		let refused = call(
			IInference::requestInferenceCall {
				model: FixedBytes([0xab; 32]),
				input: vec![0].into(),
				maxFee: AbiU256::MAX,
				callbackGasLimit: 100_000,
			}
			.abi_encode(),
		);
		assert!(refused.did_revert());
		let reason = Revert::abi_decode(&refused.data).expect("an Error(string)").reason;
		assert_eq!(reason, "UnknownModel");
		assert_eq!(Balances::free_balance(alice()), free, "nothing held or paid");

		let too_much_gas = call(
			IInference::requestInferenceCall {
				model: FixedBytes([0xab; 32]),
				input: vec![0].into(),
				maxFee: AbiU256::MAX,
				callbackGasLimit: configs::MaxCallbackGas::get() + 1,
			}
			.abi_encode(),
		);
		let reason = Revert::abi_decode(&too_much_gas.data).expect("an Error(string)").reason;
		assert_eq!(reason, "CallbackGasTooHigh");

		let unknown =
			call(IInference::resultOfCall { requestId: AbiU256::from(7u64) }.abi_encode());
		let decoded = IInference::resultOfCall::abi_decode_returns(&unknown.data).expect("decodes");
		assert_eq!(decoded.status, 0, "Unknown");

		let probability = verity_primitives::TensorMap(vec![verity_primitives::Tensor {
			name: b"p".to_vec(),
			dtype: verity_primitives::DType::F32,
			shape: vec![2],
			data: [0.25f32, 0.75].iter().flat_map(|v| v.to_le_bytes()).collect(),
		}]);
		let value = call(
			IInference::tensorValueCall {
				outcome: codec::Encode::encode(&probability).into(),
				tensor: 0,
				element: 1,
			}
			.abi_encode(),
		);
		let decoded =
			IInference::tensorValueCall::abi_decode_returns(&value.data).expect("decodes");
		assert_eq!(decoded.to_string(), "750000");
	});
}

/// A callback's proof budget covers what a contract does to read its result: `resultOf` on
/// the largest output and `tensorValue` over it, twice over (a contract reading its result
/// must not run out of proof where it would not run out of gas).
#[test]
fn a_callbacks_proof_budget_covers_reading_the_largest_result() {
	use pallet_inference_contracts::WeightInfo;
	type Weights = pallet_inference_contracts::weights::SubstrateWeight<Runtime>;
	let largest = <Runtime as pallet_inference::Config>::MaxOutputLen::get();
	let reading = Weights::result_of().saturating_add(Weights::tensor_value(largest));
	let budget = configs::CallbackProofSize::get();
	assert!(2 * reading.proof_size() <= budget, "{} of {budget}", reading.proof_size());
}
