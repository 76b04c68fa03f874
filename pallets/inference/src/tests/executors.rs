//! Executors: registration, updates, bonds, unbonding; every error.

use super::*;
use crate::{Error, Event, ExecutorByKey, ExecutorStatus, Executors, HoldReason, ModelExecutors};
use frame_support::{assert_noop, assert_ok};
use verity_primitives::ModelStatus;

#[test]
fn register_executor_bonds_and_joins_pools() {
	run_test(|| {
		let (a, b) = (vector_model(1, 1), vector_model(2, 1));
		let key = executor(7, &[a, b]);

		let info = Executors::<Test>::get(7).unwrap();
		assert_eq!(info.attestation_key, key);
		assert_eq!(info.bond, MIN_BOND);
		assert_eq!(info.status, ExecutorStatus::Active);
		assert_eq!(held(HoldReason::ExecutorBond, 7), MIN_BOND);
		assert_eq!(free(7), ENDOWMENT - MIN_BOND);
		assert_eq!(ExecutorByKey::<Test>::get(&key), Some(7));
		assert_eq!(ModelExecutors::<Test>::get(a).to_vec(), vec![7]);
		assert_eq!(ModelExecutors::<Test>::get(b).to_vec(), vec![7]);
		System::assert_last_event(
			Event::ExecutorRegistered { executor: 7, attestation_key: key, bond: MIN_BOND }.into(),
		);
	});
}

#[test]
fn register_executor_refusals_hold_nothing() {
	run_test(|| {
		let model = vector_model(1, 1);
		let key = executor(7, &[model]);
		let fresh = ExecutorPublic::generate_pair(None);
		let models = |list: &[ModelId]| list.to_vec().try_into().unwrap();
		let register = |who, key: &ExecutorPublic, list: &[ModelId], bond| {
			Inference::register_executor(
				RuntimeOrigin::signed(who),
				key.clone(),
				models(list),
				bond,
			)
		};

		assert_noop!(
			register(7, &fresh, &[model], MIN_BOND),
			Error::<Test>::ExecutorAlreadyRegistered
		);
		assert_noop!(register(8, &key, &[model], MIN_BOND), Error::<Test>::AttestationKeyInUse);
		assert_noop!(register(8, &fresh, &[model], MIN_BOND - 1), Error::<Test>::BondTooLow);
		assert_noop!(register(8, &fresh, &[], MIN_BOND), Error::<Test>::NoModels);
		assert_noop!(register(8, &fresh, &[model, model], MIN_BOND), Error::<Test>::DuplicateModel);
		assert_noop!(
			register(8, &fresh, &[H256::repeat_byte(99)], MIN_BOND),
			Error::<Test>::UnknownModel
		);
		assert_noop!(
			register(8, &fresh, &[model], ENDOWMENT * 2),
			Error::<Test>::InsufficientBalance
		);
		assert_noop!(
			Inference::register_executor(
				RuntimeOrigin::none(),
				fresh.clone(),
				models(&[model]),
				MIN_BOND
			),
			sp_runtime::DispatchError::BadOrigin
		);

		let retired = vector_model(2, 1);
		assert_ok!(Inference::set_model_status(
			RuntimeOrigin::root(),
			retired,
			ModelStatus::Retired
		));
		assert_noop!(register(8, &fresh, &[retired], MIN_BOND), Error::<Test>::ModelRetired);
		assert_eq!(held(HoldReason::ExecutorBond, 8), 0);
	});
}

#[test]
fn a_model_pool_is_bounded() {
	run_test(|| {
		let model = vector_model(1, 1);
		for who in 1..=16 {
			executor(who, &[model]);
		}
		let key = ExecutorPublic::generate_pair(None);
		assert_noop!(
			Inference::register_executor(
				RuntimeOrigin::signed(17),
				key,
				vec![model].try_into().unwrap(),
				MIN_BOND
			),
			Error::<Test>::TooManyExecutorsForModel
		);
	});
}

#[test]
fn update_executor_changes_models_and_rotates_the_key() {
	run_test(|| {
		let (a, b) = (vector_model(1, 1), vector_model(2, 1));
		let old_key = executor(7, &[a]);
		let new_key = ExecutorPublic::generate_pair(None);
		assert_ok!(Inference::update_executor(
			RuntimeOrigin::signed(7),
			Some(new_key.clone()),
			Some(vec![b].try_into().unwrap()),
		));
		let info = Executors::<Test>::get(7).unwrap();
		assert_eq!(info.attestation_key, new_key);
		assert_eq!(info.models.to_vec(), vec![b]);
		assert_eq!(ExecutorByKey::<Test>::get(&old_key), None);
		assert_eq!(ExecutorByKey::<Test>::get(&new_key), Some(7));
		assert!(ModelExecutors::<Test>::get(a).is_empty());
		assert_eq!(ModelExecutors::<Test>::get(b).to_vec(), vec![7]);
		System::assert_last_event(Event::ExecutorUpdated { executor: 7 }.into());
	});
}

#[test]
fn update_executor_refusals() {
	run_test(|| {
		let model = vector_model(1, 1);
		let key = executor(7, &[model]);
		let other = executor(8, &[model]);
		assert_noop!(
			Inference::update_executor(RuntimeOrigin::signed(9), None, None),
			Error::<Test>::NotExecutor
		);
		assert_noop!(
			Inference::update_executor(RuntimeOrigin::signed(7), Some(other), None),
			Error::<Test>::AttestationKeyInUse
		);
		assert_noop!(
			Inference::update_executor(RuntimeOrigin::signed(7), None, Some(Default::default())),
			Error::<Test>::NoModels
		);
		// Rotation is refused while an assignment drawn for the old key is open.
		let request = assigned_request(1, model);
		let assigned = assignees(request)[0].0;
		let fresh = ExecutorPublic::generate_pair(None);
		assert_noop!(
			Inference::update_executor(RuntimeOrigin::signed(assigned), Some(fresh), None),
			Error::<Test>::HasOpenAssignments
		);
		let _ = key;
	});
}

#[test]
fn bond_extra_adds_to_the_bond() {
	run_test(|| {
		let model = vector_model(1, 1);
		executor(7, &[model]);
		assert_ok!(Inference::bond_extra(RuntimeOrigin::signed(7), 500));
		assert_eq!(Executors::<Test>::get(7).unwrap().bond, MIN_BOND + 500);
		assert_eq!(held(HoldReason::ExecutorBond, 7), MIN_BOND + 500);
		System::assert_last_event(
			Event::ExecutorBonded { executor: 7, bond: MIN_BOND + 500 }.into(),
		);
		assert_noop!(
			Inference::bond_extra(RuntimeOrigin::signed(8), 1),
			Error::<Test>::NotExecutor
		);
		assert_noop!(
			Inference::bond_extra(RuntimeOrigin::signed(7), ENDOWMENT),
			Error::<Test>::InsufficientBalance
		);
	});
}

#[test]
fn unbonding_releases_the_bond_after_the_period() {
	run_test(|| {
		let model = vector_model(1, 1);
		let key = executor(7, &[model]);
		assert_noop!(
			Inference::withdraw_bond(RuntimeOrigin::signed(7)),
			Error::<Test>::NotUnbonding
		);
		assert_ok!(Inference::unregister_executor(RuntimeOrigin::signed(7)));
		let until = 1 + UNBONDING_PERIOD;
		System::assert_last_event(Event::ExecutorUnregistered { executor: 7, until }.into());
		assert!(ModelExecutors::<Test>::get(model).is_empty());
		assert_eq!(held(HoldReason::ExecutorBond, 7), MIN_BOND, "still slashable");
		assert_noop!(
			Inference::unregister_executor(RuntimeOrigin::signed(7)),
			Error::<Test>::ExecutorUnbonding
		);
		assert_noop!(
			Inference::update_executor(RuntimeOrigin::signed(7), None, None),
			Error::<Test>::ExecutorUnbonding
		);
		assert_noop!(
			Inference::bond_extra(RuntimeOrigin::signed(7), 1),
			Error::<Test>::ExecutorUnbonding
		);

		System::set_block_number(until - 1);
		assert_noop!(
			Inference::withdraw_bond(RuntimeOrigin::signed(7)),
			Error::<Test>::StillUnbonding
		);
		System::set_block_number(until);
		assert_ok!(Inference::withdraw_bond(RuntimeOrigin::signed(7)));
		assert_eq!(free(7), ENDOWMENT);
		assert!(!Executors::<Test>::contains_key(7));
		assert_eq!(ExecutorByKey::<Test>::get(&key), None);
		System::assert_last_event(
			Event::ExecutorBondWithdrawn { executor: 7, amount: MIN_BOND }.into(),
		);
		assert_noop!(
			Inference::withdraw_bond(RuntimeOrigin::signed(7)),
			Error::<Test>::NotExecutor
		);
	});
}

#[test]
fn unregister_is_refused_with_open_assignments() {
	run_test(|| {
		let model = vector_model(1, 1);
		executor(7, &[model]);
		assert_noop!(
			Inference::unregister_executor(RuntimeOrigin::signed(8)),
			Error::<Test>::NotExecutor
		);
		let request = assigned_request(1, model);
		assert_noop!(
			Inference::unregister_executor(RuntimeOrigin::signed(7)),
			Error::<Test>::HasOpenAssignments
		);
		// Answering is not enough: the request needs its executors until its deadline.
		let (_, key) = assignees(request)[0].clone();
		assert_ok!(attest(request, &key, &honest_output()));
		assert_noop!(
			Inference::unregister_executor(RuntimeOrigin::signed(7)),
			Error::<Test>::HasOpenAssignments
		);
		run_blocks(RESPONSE_TIMEOUT);
		assert_ok!(Inference::unregister_executor(RuntimeOrigin::signed(7)));
	});
}
