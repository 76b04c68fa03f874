//! Challenges and random audits.

use super::*;
use crate::{
	ChallengeState, Error, Event, Executors, HoldReason, InferenceProvider, RequestKind,
	RequestOutcome, SlashReason,
};
use frame_support::{assert_noop, assert_ok};

/// A redundancy-2 model served by executors 10..16, and a request of it finalized on `output`
/// by its two assigned executors.
fn finalized_on(output: &[u8]) -> (ModelId, RequestId) {
	let model = vector_model(1, 2);
	for who in 10..16 {
		executor(who, &[model]);
	}
	let id = assigned_request(1, model);
	for (_, key) in assignees(id) {
		assert_ok!(attest(id, &key, output));
	}
	next_block();
	assert!(matches!(status(id), RequestStatus::Finalized { .. }));
	(model, id)
}

/// The re-execution opened by a challenge of `original`.
fn rerun_of(original: RequestId) -> RequestId {
	match Requests::<Test>::get(original).unwrap().challenge {
		ChallengeState::Open { rerun } => rerun,
		other => panic!("no open challenge: {other:?}"),
	}
}

#[test]
fn an_upheld_challenge_slashes_the_original_executors_to_the_challenger() {
	run_test(|| {
		let (_, id) = finalized_on(&wrong_output());
		let original_executors = assignees(id);
		let challenger = 3;
		assert_ok!(Inference::challenge(RuntimeOrigin::signed(challenger), id, MIN_CHALLENGE_BOND));
		let rerun = rerun_of(id);
		System::assert_last_event(
			Event::ChallengeOpened { request_id: id, rerun, challenger: Some(challenger) }.into(),
		);
		assert_eq!(held(HoldReason::ChallengeBond, challenger), MIN_CHALLENGE_BOND);
		assert_eq!(held(HoldReason::RequestEscrow, challenger), total_fee(2));

		next_block();
		let fresh = assignees(rerun);
		for (account, _) in &fresh {
			assert!(
				original_executors.iter().all(|(original, _)| original != account),
				"a re-execution is served by fresh executors"
			);
		}
		for (_, key) in &fresh {
			assert_ok!(attest(rerun, key, &honest_output()));
		}
		next_block();

		let corrected = content_hash(&honest_output());
		assert_eq!(
			Requests::<Test>::get(id).unwrap().challenge,
			ChallengeState::Upheld { rerun, corrected_output_hash: corrected }
		);
		System::assert_has_event(
			Event::ChallengeUpheld { request_id: id, corrected_output_hash: corrected }.into(),
		);
		let slash = ChallengeSlash::get() * MIN_BOND;
		for (account, _) in &original_executors {
			assert_eq!(Executors::<Test>::get(account).unwrap().bond, MIN_BOND - slash);
			System::assert_has_event(
				Event::ExecutorSlashed {
					executor: *account,
					request_id: id,
					amount: slash,
					reason: SlashReason::Overturned,
				}
				.into(),
			);
		}
		assert_eq!(held(HoldReason::ChallengeBond, challenger), 0);
		// The challenger paid for the re-execution and received both slashes.
		assert_eq!(free(challenger), ENDOWMENT - total_fee(2) + 2 * slash);
		// The pallets that took the overturned output hear of the corrected one; the
		// re-execution itself is no ordinary finalization.
		assert_eq!(FinalizedOutputs::get(), vec![(id, wrong_output())]);
		assert_eq!(CorrectedOutputs::get(), vec![(id, honest_output())]);
		let model_id = Requests::<Test>::get(id).unwrap().model_id;
		assert_eq!(
			<Inference as InferenceProvider<AccountId>>::outcome(id),
			RequestOutcome::Finalized { model_id, output: honest_output() }
		);
	});
}

#[test]
fn a_rejected_challenge_slashes_the_challengers_bond() {
	run_test(|| {
		let (_, id) = finalized_on(&honest_output());
		let protocol = Inference::protocol_account();
		assert_ok!(Inference::challenge(RuntimeOrigin::signed(3), id, MIN_CHALLENGE_BOND));
		let rerun = rerun_of(id);
		next_block();
		let protocol_before = free(protocol);
		for (_, key) in assignees(rerun) {
			assert_ok!(attest(rerun, &key, &honest_output()));
		}
		next_block();
		assert_eq!(
			Requests::<Test>::get(id).unwrap().challenge,
			ChallengeState::Rejected { rerun }
		);
		System::assert_has_event(Event::ChallengeRejected { request_id: id }.into());
		assert_eq!(held(HoldReason::ChallengeBond, 3), 0);
		assert_eq!(free(3), ENDOWMENT - total_fee(2) - MIN_CHALLENGE_BOND);
		assert_eq!(free(protocol), protocol_before + MIN_CHALLENGE_BOND + (total_fee(2) - 2 * FEE));
		for (account, _) in assignees(id) {
			assert_eq!(Executors::<Test>::get(account).unwrap().bond, MIN_BOND);
		}
		assert!(CorrectedOutputs::get().is_empty(), "the original output stands");
	});
}

#[test]
fn an_unanswered_challenge_is_inconclusive_and_returns_the_bond() {
	run_test(|| {
		let (_, id) = finalized_on(&honest_output());
		assert_ok!(Inference::challenge(RuntimeOrigin::signed(3), id, MIN_CHALLENGE_BOND));
		let rerun = rerun_of(id);
		run_blocks(RESPONSE_TIMEOUT + 1);
		assert_eq!(status(rerun), RequestStatus::Expired);
		assert_eq!(
			Requests::<Test>::get(id).unwrap().challenge,
			ChallengeState::Inconclusive { rerun }
		);
		System::assert_has_event(Event::ChallengeInconclusive { request_id: id }.into());
		assert_eq!(free(3), ENDOWMENT);
	});
}

#[test]
fn challenge_refusals_hold_nothing() {
	run_test(|| {
		let (model, id) = finalized_on(&honest_output());
		let challenge = |who, request_id, bond| {
			Inference::challenge(RuntimeOrigin::signed(who), request_id, bond)
		};
		assert_noop!(challenge(3, 99, MIN_CHALLENGE_BOND), Error::<Test>::UnknownRequest);
		assert_noop!(challenge(3, id, MIN_CHALLENGE_BOND - 1), Error::<Test>::ChallengeBondTooLow);
		assert_noop!(challenge(99, id, MIN_CHALLENGE_BOND), Error::<Test>::InsufficientBalance);
		assert_noop!(challenge(3, id, ENDOWMENT), Error::<Test>::InsufficientBalance);

		let open = assigned_request(1, model);
		assert_noop!(challenge(3, open, MIN_CHALLENGE_BOND), Error::<Test>::NotFinalized);

		assert_ok!(challenge(3, id, MIN_CHALLENGE_BOND));
		assert_noop!(challenge(4, id, MIN_CHALLENGE_BOND), Error::<Test>::AlreadyChallenged);
		let rerun = rerun_of(id);
		assert_noop!(challenge(4, rerun, MIN_CHALLENGE_BOND), Error::<Test>::NotChallengeable);
		assert_eq!(held(HoldReason::ChallengeBond, 4), 0);
	});
}

#[test]
fn challenges_close_with_the_challenge_period() {
	run_test(|| {
		let (_, id) = finalized_on(&honest_output());
		run_blocks(CHALLENGE_PERIOD + 1);
		assert_noop!(
			Inference::challenge(RuntimeOrigin::signed(3), id, MIN_CHALLENGE_BOND),
			Error::<Test>::ChallengePeriodOver
		);
	});
}

#[test]
fn a_failed_audit_opens_a_challenge_that_overturns_the_result() {
	run_test(|| {
		AuditProbability::set(sp_runtime::Permill::one());
		let (_, id) = finalized_on(&wrong_output());
		// The block after finalization draws the audit.
		next_block();
		let audit = crate::NextRequestId::<Test>::get() - 1;
		assert_eq!(Requests::<Test>::get(audit).unwrap().kind, RequestKind::Audit { original: id });
		System::assert_has_event(Event::AuditOpened { request_id: id, audit }.into());
		next_block();
		let auditor = assignees(audit);
		assert_eq!(auditor.len(), 1);
		assert!(assignees(id).iter().all(|(account, _)| *account != auditor[0].0));
		assert_ok!(attest(audit, &auditor[0].1, &honest_output()));
		next_block();
		System::assert_has_event(Event::AuditFailed { request_id: id }.into());
		let rerun = rerun_of(id);
		assert_eq!(
			Requests::<Test>::get(rerun).unwrap().kind,
			RequestKind::Challenge { original: id, challenger: None, bond: 0, audit: Some(audit) }
		);
		next_block();
		for (account, key) in assignees(rerun) {
			assert_ne!(account, auditor[0].0, "the auditor does not judge its own audit");
			assert_ok!(attest(rerun, &key, &honest_output()));
		}
		next_block();
		assert!(matches!(
			Requests::<Test>::get(id).unwrap().challenge,
			ChallengeState::Upheld { .. }
		));
	});
}

#[test]
fn a_passed_audit_changes_nothing() {
	run_test(|| {
		AuditProbability::set(sp_runtime::Permill::one());
		let (_, id) = finalized_on(&honest_output());
		next_block();
		let audit = crate::NextRequestId::<Test>::get() - 1;
		next_block();
		let auditor = assignees(audit);
		assert_ok!(attest(audit, &auditor[0].1, &honest_output()));
		next_block();
		System::assert_has_event(Event::AuditPassed { request_id: id }.into());
		assert_eq!(Requests::<Test>::get(id).unwrap().challenge, ChallengeState::None);
	});
}

#[test]
fn no_audits_are_drawn_at_zero_probability() {
	run_test(|| {
		let (_, id) = finalized_on(&honest_output());
		let next = crate::NextRequestId::<Test>::get();
		run_blocks(3);
		assert_eq!(crate::NextRequestId::<Test>::get(), next);
		assert_eq!(Requests::<Test>::get(id).unwrap().challenge, ChallengeState::None);
	});
}
