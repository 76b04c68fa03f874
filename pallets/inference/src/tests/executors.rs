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
		let models =
			|list: &[ModelId]| -> crate::ExecutorModels<Test> { list.to_vec().try_into().unwrap() };
		let register = |who, key: &ExecutorPublic, list: &[ModelId], bond| {
			Inference::register_executor(
				RuntimeOrigin::signed(who),
				key.clone(),
				key_proof(who, key),
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
				key_proof(8, &fresh),
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

/// The key claim: account 8 registers a key it does not hold (7's key, before 7 registers
/// it, or any key another party published) with a proof made for someone else, or none that
/// verifies. Refused, nothing held; the real holder still registers its key.
#[test]
fn an_attestation_key_needs_a_proof_of_possession() {
	run_test(|| {
		let model = vector_model(1, 1);
		let victim_key = ExecutorPublic::generate_pair(None);
		let models: crate::ExecutorModels<Test> = vec![model].try_into().unwrap();
		// The proof the victim made for itself does not work for the thief...
		assert_noop!(
			Inference::register_executor(
				RuntimeOrigin::signed(8),
				victim_key.clone(),
				key_proof(7, &victim_key),
				models.clone(),
				MIN_BOND
			),
			Error::<Test>::BadKeyProof
		);
		// ...nor a proof by the thief's own key.
		let thief_key = ExecutorPublic::generate_pair(None);
		assert_noop!(
			Inference::register_executor(
				RuntimeOrigin::signed(8),
				victim_key.clone(),
				key_proof(8, &thief_key),
				models.clone(),
				MIN_BOND
			),
			Error::<Test>::BadKeyProof
		);
		// A proof made on another chain does not verify here.
		let elsewhere = victim_key
			.sign(&verity_primitives::key_ownership_message(&8u64, H256::repeat_byte(9)))
			.unwrap();
		assert_noop!(
			Inference::register_executor(
				RuntimeOrigin::signed(8),
				victim_key.clone(),
				elsewhere,
				models.clone(),
				MIN_BOND
			),
			Error::<Test>::BadKeyProof
		);
		assert_eq!(held(HoldReason::ExecutorBond, 8), 0);
		assert_ok!(Inference::register_executor(
			RuntimeOrigin::signed(7),
			victim_key.clone(),
			key_proof(7, &victim_key),
			models,
			MIN_BOND
		));
		// Rotating to a key also takes its proof.
		let rotated = ExecutorPublic::generate_pair(None);
		assert_noop!(
			Inference::update_executor(RuntimeOrigin::signed(7), Some(rotated.clone()), None, None),
			Error::<Test>::BadKeyProof
		);
		assert_noop!(
			Inference::update_executor(
				RuntimeOrigin::signed(7),
				Some(rotated.clone()),
				Some(key_proof(8, &rotated)),
				None
			),
			Error::<Test>::BadKeyProof
		);
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
				key.clone(),
				key_proof(17, &key),
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
			Some(key_proof(7, &new_key)),
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
			Inference::update_executor(RuntimeOrigin::signed(9), None, None, None),
			Error::<Test>::NotExecutor
		);
		assert_noop!(
			Inference::update_executor(
				RuntimeOrigin::signed(7),
				Some(other.clone()),
				Some(key_proof(7, &other)),
				None
			),
			Error::<Test>::AttestationKeyInUse
		);
		assert_noop!(
			Inference::update_executor(
				RuntimeOrigin::signed(7),
				None,
				None,
				Some(Default::default())
			),
			Error::<Test>::NoModels
		);
		// Rotation is refused while an assignment drawn for the old key is open.
		let request = assigned_request(1, model);
		let assigned = assignees(request)[0].0;
		let fresh = ExecutorPublic::generate_pair(None);
		assert_noop!(
			Inference::update_executor(
				RuntimeOrigin::signed(assigned),
				Some(fresh.clone()),
				Some(key_proof(assigned, &fresh)),
				None
			),
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
			Inference::update_executor(RuntimeOrigin::signed(7), None, None, None),
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

/// The first comers cannot hold a pool for good: once it is full, a larger bond takes the
/// place of the smallest member; an equal bond does not.
#[test]
fn a_full_pool_takes_a_larger_bond_in_place_of_the_smallest() {
	run_test(|| {
		let model = vector_model(1, 1);
		for who in 1..=15 {
			executor(who, &[model]);
		}
		executor_with_bond(16, &[model], MIN_BOND + 1);
		let key = ExecutorPublic::generate_pair(None);
		let models: crate::ExecutorModels<Test> = vec![model].try_into().unwrap();
		assert_noop!(
			Inference::register_executor(
				RuntimeOrigin::signed(17),
				key.clone(),
				key_proof(17, &key),
				models.clone(),
				MIN_BOND
			),
			Error::<Test>::TooManyExecutorsForModel
		);
		executor_with_bond(17, &[model], 2 * MIN_BOND);
		let pool = ModelExecutors::<Test>::get(model);
		assert_eq!(pool.len(), 16);
		assert!(pool.contains(&17) && pool.contains(&16));
		// Among the smallest bonds, the latest to join leaves.
		assert!(!pool.contains(&15));
		System::assert_has_event(
			Event::ExecutorDisplaced { executor: 15, model_id: model, by: 17 }.into(),
		);
		// Still registered and bonded: it can come back with a larger bond.
		assert_eq!(Executors::<Test>::get(15).unwrap().bond, MIN_BOND);
	});
}

/// Sybils: splitting a bond over many accounts buys no extra draws. A whale bonding 4 units
/// and four accounts bonding 1 each hold the same share of the pool's bond, and each side
/// gets about half the seats; the share of seats follows the share of bond, so holding a
/// majority of a request's draw costs a bond comparable to the rest of the pool.
#[test]
fn draws_follow_bond_not_accounts() {
	run_test(|| {
		let model = vector_model(1, 1);
		executor_with_bond(10, &[model], 4 * MIN_BOND);
		for who in 11..15 {
			executor(who, &[model]);
		}
		let rounds = 400;
		let mut whale = 0;
		for _ in 0..rounds {
			let id = assigned_request(1, model);
			if assignees(id)[0].0 == 10 {
				whale += 1;
			}
			answer_all(id, &honest_output());
		}
		assert!((160..=240).contains(&whale), "the whale got {whale} of {rounds} seats");

		// Six more sybils of 1 unit each: ten units against the whale's four, a share of bond
		// of 10/14, and about that share of the seats (286 of 400).
		for who in 15..=20 {
			executor(who, &[model]);
		}
		let mut sybil_seats = 0;
		for _ in 0..rounds {
			let id = assigned_request(1, model);
			if assignees(id)[0].0 != 10 {
				sybil_seats += 1;
			}
			answer_all(id, &honest_output());
		}
		assert!((250..=320).contains(&sybil_seats), "sybils got {sybil_seats} of {rounds}");
	});
}
