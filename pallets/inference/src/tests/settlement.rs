//! Settlement: payment on quorum, dissent and no-show slashing, refunds, late answers.

use super::*;
use crate::{Assignments, Event, Executors, HoldReason, SlashReason};
use frame_support::assert_ok;

/// A redundancy-3 model with executors 10, 11, 12.
fn three_executor_model() -> ModelId {
	let model = vector_model(1, 3);
	for who in 10..13 {
		executor(who, &[model]);
	}
	model
}

#[test]
fn a_unanimous_quorum_is_finalized_and_paid() {
	run_test(|| {
		let model = three_executor_model();
		let id = assigned_request(1, model);
		let protocol = Inference::protocol_account();
		let protocol_before = free(protocol);
		for (_, key) in assignees(id) {
			assert_ok!(attest(id, &key, &honest_output()));
		}
		next_block();

		let RequestStatus::Finalized { output_hash, finalized_at, .. } = status(id) else {
			panic!("finalized, got {:?}", status(id))
		};
		assert_eq!(output_hash, content_hash(&honest_output()));
		assert_eq!(finalized_at, System::block_number());
		assert_eq!(
			Requests::<Test>::get(id).unwrap().agreed_output().unwrap().to_vec(),
			honest_output()
		);
		System::assert_has_event(Event::RequestFinalized { request_id: id, output_hash }.into());
		for who in 10..13 {
			assert_eq!(free(who), ENDOWMENT - MIN_BOND + FEE, "executor {who} is paid");
			let stats = Executors::<Test>::get(who).unwrap().stats;
			assert_eq!((stats.answered, stats.agreed, stats.dissented), (1, 1, 0));
		}
		assert_eq!(free(protocol), protocol_before + total_fee(3) - 3 * FEE);
		assert_eq!(free(1), ENDOWMENT - total_fee(3));
		assert_eq!(held(HoldReason::RequestEscrow, 1), 0);
	});
}

#[test]
fn a_dissenting_executor_is_slashed_and_the_quorum_paid() {
	run_test(|| {
		let model = three_executor_model();
		let id = assigned_request(1, model);
		let drawn = assignees(id);
		assert_ok!(attest(id, &drawn[0].1, &wrong_output()));
		assert_ok!(attest(id, &drawn[1].1, &honest_output()));
		assert_ok!(attest(id, &drawn[2].1, &honest_output()));
		next_block();

		assert!(matches!(status(id), RequestStatus::Finalized { .. }));
		let slash = DissentSlash::get() * MIN_BOND;
		let dissenter = drawn[0].0;
		assert_eq!(Executors::<Test>::get(dissenter).unwrap().bond, MIN_BOND - slash);
		assert_eq!(held(HoldReason::ExecutorBond, dissenter), MIN_BOND - slash);
		assert_eq!(free(dissenter), ENDOWMENT - MIN_BOND, "a dissenter earns nothing");
		let stats = Executors::<Test>::get(dissenter).unwrap().stats;
		assert_eq!((stats.dissented, stats.slashed), (1, slash));
		System::assert_has_event(
			Event::ExecutorSlashed {
				executor: dissenter,
				request_id: id,
				amount: slash,
				reason: SlashReason::Dissent,
			}
			.into(),
		);
		for (who, _) in &drawn[1..] {
			assert_eq!(free(*who), ENDOWMENT - MIN_BOND + FEE);
		}
		// The dissenter's share of the fee stays in escrow until the deadline, then goes back.
		assert_eq!(held(HoldReason::RequestEscrow, 1), FEE);
		run_blocks(RESPONSE_TIMEOUT);
		assert_eq!(held(HoldReason::RequestEscrow, 1), 0);
		assert_eq!(free(1), ENDOWMENT - total_fee(3) + FEE);
	});
}

#[test]
fn a_late_answer_is_paid_or_slashed_and_a_no_show_slashed_at_the_deadline() {
	run_test(|| {
		let model = vector_model(1, 5);
		for who in 10..15 {
			executor(who, &[model]);
		}
		let id = assigned_request(1, model);
		let drawn = assignees(id);
		for (_, key) in &drawn[..3] {
			assert_ok!(attest(id, key, &honest_output()));
		}
		next_block();
		assert!(matches!(status(id), RequestStatus::Finalized { .. }));
		// One late honest answer, one late wrong answer, the fifth never answers.
		assert_ok!(attest(id, &drawn[3].1, &honest_output()));
		assert_ok!(attest(id, &drawn[4].1, &wrong_output()));
		let RequestStatus::Finalized { deadline, .. } = status(id) else { panic!() };
		let _ = deadline;
		run_blocks(RESPONSE_TIMEOUT);

		assert_eq!(free(drawn[3].0), ENDOWMENT - MIN_BOND + FEE, "late but honest: paid");
		assert_eq!(
			Executors::<Test>::get(drawn[4].0).unwrap().bond,
			MIN_BOND - DissentSlash::get() * MIN_BOND
		);
		assert_eq!(held(HoldReason::RequestEscrow, 1), 0);
		assert_eq!(free(1), ENDOWMENT - total_fee(5) + FEE);
	});
}

#[test]
fn without_quorum_the_request_expires_no_shows_are_slashed_and_the_fee_refunded() {
	run_test(|| {
		let model = three_executor_model();
		let id = assigned_request(1, model);
		let drawn = assignees(id);
		assert_ok!(attest(id, &drawn[0].1, &honest_output()));
		assert_ok!(attest(id, &drawn[1].1, &wrong_output()));
		run_blocks(RESPONSE_TIMEOUT);

		assert_eq!(status(id), RequestStatus::Expired);
		System::assert_has_event(Event::RequestExpired { request_id: id }.into());
		assert_eq!(free(1), ENDOWMENT, "the whole escrow is returned");
		assert_eq!(held(HoldReason::RequestEscrow, 1), 0);
		let miss = MissSlash::get() * MIN_BOND;
		let no_show = drawn[2].0;
		assert_eq!(Executors::<Test>::get(no_show).unwrap().bond, MIN_BOND - miss);
		assert_eq!(Executors::<Test>::get(no_show).unwrap().stats.missed, 1);
		assert!(!Assignments::<Test>::contains_key(no_show, id));
		for (who, _) in &drawn[..2] {
			assert_eq!(
				Executors::<Test>::get(who).unwrap().bond,
				MIN_BOND,
				"answered: not slashed"
			);
		}
	});
}

#[test]
fn an_executor_slashed_below_the_minimum_bond_is_no_longer_drawn() {
	run_test(|| {
		let model = vector_model(1, 1);
		executor(10, &[model]);
		let id = assigned_request(1, model);
		run_blocks(RESPONSE_TIMEOUT);
		assert!(Executors::<Test>::get(10).unwrap().bond < MIN_BOND);
		assert_eq!(status(id), RequestStatus::Expired);
		assert_eq!(Inference::live_executor_count(&model, &[]), 0);
		assert_ok!(Inference::bond_extra(RuntimeOrigin::signed(10), MIN_BOND));
		assert_eq!(Inference::live_executor_count(&model, &[]), 1);
	});
}

#[test]
fn total_issuance_is_unchanged_by_settlement() {
	run_test(|| {
		let issuance = Balances::total_issuance();
		let model = three_executor_model();
		let id = assigned_request(1, model);
		let drawn = assignees(id);
		assert_ok!(attest(id, &drawn[0].1, &wrong_output()));
		assert_ok!(attest(id, &drawn[1].1, &honest_output()));
		run_blocks(RESPONSE_TIMEOUT + 1);
		assert_eq!(Balances::total_issuance(), issuance);
	});
}
