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
	finalized_with(2, 10..16, output)
}

/// A model of `redundancy` served by `executors`, and a request of it finalized on `output` by
/// all its assigned executors.
fn finalized_with(
	redundancy: u8,
	executors: core::ops::Range<AccountId>,
	output: &[u8],
) -> (ModelId, RequestId) {
	let model = vector_model(1, redundancy);
	for who in executors {
		executor(who, &[model]);
	}
	let id = assigned_request(1, model);
	answer_all(id, output);
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
fn an_upheld_challenge_slashes_the_original_executors_and_rewards_the_challenger() {
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
		// Twice the original redundancy re-runs it: 4 of the 4 fresh executors.
		assert_eq!(held(HoldReason::RequestEscrow, challenger), total_fee(4));

		next_block();
		let fresh = assignees(rerun);
		assert_eq!(fresh.len(), 4);
		for (account, _) in &fresh {
			assert!(
				original_executors.iter().all(|(original, _)| original != account),
				"a re-execution is served by fresh executors"
			);
		}
		answer_all(rerun, &honest_output());
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
		// The challenger paid for the re-execution and received a fifth of both slashes; the
		// protocol account keeps the rest.
		let reward = ChallengeRewardShare::get() * (2 * slash);
		assert_eq!(free(challenger), ENDOWMENT - total_fee(4) + reward);
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
		answer_all(rerun, &honest_output());
		next_block();
		assert_eq!(
			Requests::<Test>::get(id).unwrap().challenge,
			ChallengeState::Rejected { rerun }
		);
		System::assert_has_event(Event::ChallengeRejected { request_id: id }.into());
		assert_eq!(held(HoldReason::ChallengeBond, 3), 0);
		assert_eq!(free(3), ENDOWMENT - total_fee(4) - MIN_CHALLENGE_BOND);
		assert_eq!(free(protocol), protocol_before + MIN_CHALLENGE_BOND + (total_fee(4) - 4 * FEE));
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
		// A first-level re-execution can be challenged in its turn, once it is finalized.
		let rerun = rerun_of(id);
		assert_noop!(challenge(4, rerun, MIN_CHALLENGE_BOND), Error::<Test>::NotFinalized);
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
		// The hook that finalizes a request draws its audit at once.
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
		for (account, _) in assignees(rerun) {
			assert_ne!(account, auditor[0].0, "the auditor does not judge its own audit");
		}
		answer_all(rerun, &honest_output());
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

/// A challenge needs more fresh eyes than the original had: with 2 executors besides the
/// original 2, a re-run of at least 3 cannot be drawn, so the challenge is refused and holds
/// nothing.
#[test]
fn a_challenge_needs_enough_fresh_executors() {
	run_test(|| {
		let model = vector_model(1, 2);
		for who in 10..14 {
			executor(who, &[model]);
		}
		let id = assigned_request(1, model);
		answer_all(id, &honest_output());
		next_block();
		assert_noop!(
			Inference::challenge(RuntimeOrigin::signed(3), id, MIN_CHALLENGE_BOND),
			Error::<Test>::NotEnoughFreshExecutors
		);
		assert_eq!(free(3), ENDOWMENT);
		executor(14, &[model]);
		assert_ok!(Inference::challenge(RuntimeOrigin::signed(3), id, MIN_CHALLENGE_BOND));
		assert_eq!(Requests::<Test>::get(rerun_of(id)).unwrap().redundancy, 3);
	});
}

/// The shield: a cheater challenges its own wrong result and lets the re-run fail. An
/// inconclusive re-run leaves the request open, so an honest challenger still overturns it.
#[test]
fn an_inconclusive_challenge_leaves_the_request_challengeable() {
	run_test(|| {
		let (_, id) = finalized_on(&wrong_output());
		assert_ok!(Inference::challenge(RuntimeOrigin::signed(3), id, MIN_CHALLENGE_BOND));
		let first = rerun_of(id);
		run_blocks(RESPONSE_TIMEOUT + 1);
		assert_eq!(
			Requests::<Test>::get(id).unwrap().challenge,
			ChallengeState::Inconclusive { rerun: first }
		);
		assert_ok!(Inference::challenge(RuntimeOrigin::signed(4), id, MIN_CHALLENGE_BOND));
		let second = rerun_of(id);
		next_block();
		answer_all(second, &honest_output());
		next_block();
		assert!(matches!(
			Requests::<Test>::get(id).unwrap().challenge,
			ChallengeState::Upheld { .. }
		));
	});
}

/// Self-challenge: the two executors that finalized a wrong output, one of them challenging
/// it, lose more than the challenger's reward brings back.
#[test]
fn challenging_ones_own_wrong_result_loses_money() {
	run_test(|| {
		let (_, id) = finalized_on(&wrong_output());
		let cheaters: Vec<AccountId> = assignees(id).into_iter().map(|(who, _)| who).collect();
		let wealth = |who: AccountId| {
			<Balances as frame_support::traits::fungible::Inspect<_>>::total_balance(&who)
		};
		let before: Balance = cheaters.iter().map(|who| wealth(*who)).sum();
		let challenger = cheaters[0];
		assert_ok!(Inference::challenge(RuntimeOrigin::signed(challenger), id, MIN_CHALLENGE_BOND));
		let rerun = rerun_of(id);
		next_block();
		answer_all(rerun, &honest_output());
		// The re-run's last reveal, after its quorum, is paid from the escrow at its deadline.
		run_to_deadline(rerun);
		assert!(matches!(
			Requests::<Test>::get(id).unwrap().challenge,
			ChallengeState::Upheld { .. }
		));
		let after: Balance = cheaters.iter().map(|who| wealth(*who)).sum();
		let slashed = 2 * (ChallengeSlash::get() * MIN_BOND);
		let reward = ChallengeRewardShare::get() * slashed;
		assert_eq!(after, before - slashed + reward - total_fee(4));
		assert!(after < before, "the self-challenge lost {} planck", before - after);
	});
}

/// A lying auditor: its audit contradicts an honest result, the challenge that follows
/// confirms the result, and the auditor is slashed like a dissenter.
#[test]
fn a_lying_auditor_is_slashed() {
	run_test(|| {
		AuditProbability::set(sp_runtime::Permill::one());
		let (_, id) = finalized_on(&honest_output());
		let audit = crate::NextRequestId::<Test>::get() - 1;
		next_block();
		let auditor = assignees(audit);
		assert_ok!(attest(audit, &auditor[0].1, &wrong_output()));
		next_block();
		System::assert_has_event(Event::AuditFailed { request_id: id }.into());
		let rerun = rerun_of(id);
		next_block();
		answer_all(rerun, &honest_output());
		next_block();
		assert!(matches!(
			Requests::<Test>::get(id).unwrap().challenge,
			ChallengeState::Rejected { .. }
		));
		let slash = DissentSlash::get() * MIN_BOND;
		assert_eq!(Executors::<Test>::get(auditor[0].0).unwrap().bond, MIN_BOND - slash);
		System::assert_has_event(
			Event::ExecutorSlashed {
				executor: auditor[0].0,
				request_id: audit,
				amount: slash,
				reason: SlashReason::Dissent,
			}
			.into(),
		);
		for (account, _) in assignees(id) {
			assert_eq!(Executors::<Test>::get(account).unwrap().bond, MIN_BOND);
		}
	});
}

/// The attack: an auditor answers an audit wrongly after a challenge has already decided the
/// request, hoping no new challenge will judge it. The decided verdict judges it: it is
/// slashed like a dissenter.
#[test]
fn an_auditor_contradicting_a_decided_challenge_is_slashed() {
	run_test(|| {
		AuditProbability::set(sp_runtime::Permill::one());
		let (_, id) = finalized_on(&honest_output());
		let audit = crate::NextRequestId::<Test>::get() - 1;
		// The auditor commits to its wrong answer in time, and waits.
		let auditor = assignees(audit);
		assert_ok!(commit_outcome(audit, &auditor[0].1, &out(&wrong_output())));
		assert_ok!(Inference::challenge(RuntimeOrigin::signed(3), id, MIN_CHALLENGE_BOND));
		let rerun = rerun_of(id);
		next_block();
		answer_all(rerun, &honest_output());
		assert!(matches!(
			Requests::<Test>::get(id).unwrap().challenge,
			ChallengeState::Rejected { .. }
		));
		// Then reveals it, once the challenge has decided the request.
		let bond = Executors::<Test>::get(auditor[0].0).unwrap().bond;
		close_commit_phase(audit);
		assert_ok!(reveal_outcome(audit, &auditor[0].1, &out(&wrong_output())));
		next_block();
		System::assert_has_event(Event::AuditFailed { request_id: id }.into());
		let slash = DissentSlash::get() * bond;
		assert_eq!(Executors::<Test>::get(auditor[0].0).unwrap().bond, bond - slash);
		System::assert_has_event(
			Event::ExecutorSlashed {
				executor: auditor[0].0,
				request_id: audit,
				amount: slash,
				reason: SlashReason::Dissent,
			}
			.into(),
		);
	});
}

/// A dissenter that was right: two colluding executors finalize a wrong output and the honest
/// third is slashed for dissent; the challenge that overturns the output gives the honest
/// executor its slash back.
#[test]
fn an_upheld_challenge_refunds_the_honest_dissenter() {
	run_test(|| {
		let model = vector_model(1, 3);
		for who in 10..20 {
			executor(who, &[model]);
		}
		let id = assigned_request(1, model);
		let drawn = assignees(id);
		let honest = drawn[2].0;
		answer(
			id,
			&[
				(&drawn[0].1, wrong_output()),
				(&drawn[1].1, wrong_output()),
				(&drawn[2].1, honest_output()),
			],
		);
		// Its reveal came after the colluders' quorum: it is judged at the deadline.
		run_to_deadline(id);
		let penalty = DissentSlash::get() * MIN_BOND;
		assert_eq!(Executors::<Test>::get(honest).unwrap().bond, MIN_BOND - penalty);

		assert_ok!(Inference::challenge(RuntimeOrigin::signed(3), id, MIN_CHALLENGE_BOND));
		let rerun = rerun_of(id);
		next_block();
		assert_eq!(assignees(rerun).len(), 5, "twice the redundancy, capped at the maximum");
		answer_all(rerun, &honest_output());
		next_block();

		assert!(matches!(
			Requests::<Test>::get(id).unwrap().challenge,
			ChallengeState::Upheld { .. }
		));
		assert_eq!(Executors::<Test>::get(honest).unwrap().bond, MIN_BOND);
		assert_eq!(held(HoldReason::ExecutorBond, honest), MIN_BOND);
		System::assert_has_event(
			Event::SlashRefunded {
				executor: honest,
				request_id: id,
				amount: penalty,
				rebonded: true,
			}
			.into(),
		);
		let slash = ChallengeSlash::get() * MIN_BOND;
		for (liar, _) in &drawn[..2] {
			assert_eq!(Executors::<Test>::get(liar).unwrap().bond, MIN_BOND - slash);
		}
	});
}

/// A late reveal after an upheld challenge is judged against the corrected output.
#[test]
fn late_reveals_settle_against_the_corrected_output() {
	run_test(|| {
		let model = vector_model(1, 3);
		for who in 10..20 {
			executor(who, &[model]);
		}
		let id = assigned_request(1, model);
		let drawn = assignees(id);
		for (_, key) in &drawn[..2] {
			assert_ok!(commit_outcome(id, key, &out(&wrong_output())));
		}
		assert_ok!(commit_outcome(id, &drawn[2].1, &out(&honest_output())));
		for (_, key) in &drawn[..2] {
			assert_ok!(reveal_outcome(id, key, &out(&wrong_output())));
		}
		next_block();
		assert_ok!(Inference::challenge(RuntimeOrigin::signed(3), id, MIN_CHALLENGE_BOND));
		let rerun = rerun_of(id);
		next_block();
		answer_all(rerun, &honest_output());
		next_block();
		assert!(matches!(
			Requests::<Test>::get(id).unwrap().challenge,
			ChallengeState::Upheld { .. }
		));
		// The honest executor reveals late, before the original deadline: it is paid.
		assert_ok!(reveal_outcome(id, &drawn[2].1, &out(&honest_output())));
		let before = free(drawn[2].0);
		run_blocks(RESPONSE_TIMEOUT);
		assert_eq!(free(drawn[2].0), before + FEE);
		assert_eq!(Executors::<Test>::get(drawn[2].0).unwrap().bond, MIN_BOND);
	});
}

/// A redundancy-1 model served by executors 10..18 (enough for two levels of re-execution:
/// one, then two, then four fresh executors), and a request of it finalized on `output`.
fn finalized_alone_on(output: &[u8]) -> RequestId {
	finalized_with(1, 10..18, output).1
}

/// Challenge `id` from `challenger`, have its re-execution's executors all answer `output`,
/// and settle it; returns the re-execution.
fn challenge_and_rerun(challenger: AccountId, id: RequestId, output: &[u8]) -> RequestId {
	assert_ok!(Inference::challenge(RuntimeOrigin::signed(challenger), id, MIN_CHALLENGE_BOND));
	let rerun = rerun_of(id);
	next_block();
	answer_all(rerun, output);
	next_block();
	assert!(matches!(status(rerun), RequestStatus::Finalized { .. }));
	rerun
}

/// The attack: colluders make up the majority of a first-level re-execution and overturn an
/// honest result. A second-level challenge, served by executors outside both earlier levels,
/// overturns their verdict: they are slashed, the honest executor's slash comes back, the
/// original output stands again, and the pallets that took the wrong correction hear of the
/// right one. A second-level verdict is final.
#[test]
fn a_rerun_that_overturned_an_honest_result_is_challenged_and_the_result_restored() {
	run_test(|| {
		let id = finalized_alone_on(&honest_output());
		let honest_executor = assignees(id)[0].0;
		let first = challenge_and_rerun(3, id, &wrong_output());
		let colluders = assignees(first);
		assert_eq!(colluders.len(), 2);
		let slash = ChallengeSlash::get() * MIN_BOND;
		assert_eq!(Executors::<Test>::get(honest_executor).unwrap().bond, MIN_BOND - slash);

		let second = challenge_and_rerun(4, first, &honest_output());
		let judges = assignees(second);
		assert_eq!(judges.len(), 4, "twice the first level's redundancy");
		for (judge, _) in &judges {
			assert!(*judge != honest_executor && colluders.iter().all(|(c, _)| c != judge));
		}
		let honest = content_hash(&honest_output());
		assert_eq!(
			Requests::<Test>::get(first).unwrap().challenge,
			ChallengeState::Upheld { rerun: second, corrected_output_hash: honest }
		);
		for (colluder, _) in &colluders {
			assert_eq!(Executors::<Test>::get(colluder).unwrap().bond, MIN_BOND - slash);
		}
		// The original is judged again: its executor's slash comes back.
		assert_eq!(
			Requests::<Test>::get(id).unwrap().challenge,
			ChallengeState::Rejected { rerun: second }
		);
		System::assert_has_event(
			Event::VerdictRevised { request_id: id, standing_output_hash: honest }.into(),
		);
		assert_eq!(Executors::<Test>::get(honest_executor).unwrap().bond, MIN_BOND);
		let model_id = Requests::<Test>::get(id).unwrap().model_id;
		assert_eq!(
			<Inference as InferenceProvider<AccountId>>::outcome(id),
			RequestOutcome::Finalized { model_id, output: honest_output() }
		);
		assert_eq!(CorrectedOutputs::get(), vec![(id, wrong_output()), (id, honest_output())]);
		// The second challenger was paid its share of the colluders' slashes.
		let reward = ChallengeRewardShare::get() * (2 * slash);
		assert_eq!(free(4), ENDOWMENT - total_fee(4) + reward);

		// A second-level verdict is final.
		assert_noop!(
			Inference::challenge(RuntimeOrigin::signed(5), second, MIN_CHALLENGE_BOND),
			Error::<Test>::NotChallengeable
		);
	});
}

/// The attack: a cheater's wrong result is confirmed by colluders in the first-level
/// re-execution, so the honest challenger loses its bond. A second-level challenge overturns
/// the confirmation: the cheater and the colluders are slashed, the first challenger gets its
/// bond back and its share of the cheater's slash, and the corrected output stands.
#[test]
fn a_rerun_that_confirmed_a_wrong_result_is_challenged_and_the_result_overturned() {
	run_test(|| {
		let id = finalized_alone_on(&wrong_output());
		let cheater = assignees(id)[0].0;
		let first = challenge_and_rerun(3, id, &wrong_output());
		assert_eq!(
			Requests::<Test>::get(id).unwrap().challenge,
			ChallengeState::Rejected { rerun: first }
		);
		assert_eq!(free(3), ENDOWMENT - total_fee(2) - MIN_CHALLENGE_BOND);

		let second = challenge_and_rerun(4, first, &honest_output());
		let honest = content_hash(&honest_output());
		assert_eq!(
			Requests::<Test>::get(id).unwrap().challenge,
			ChallengeState::Upheld { rerun: second, corrected_output_hash: honest }
		);
		let slash = ChallengeSlash::get() * MIN_BOND;
		assert_eq!(Executors::<Test>::get(cheater).unwrap().bond, MIN_BOND - slash);
		for (colluder, _) in assignees(first) {
			assert_eq!(Executors::<Test>::get(colluder).unwrap().bond, MIN_BOND - slash);
		}
		// The first challenger was right: its bond comes back, with its share of the slash.
		let reward = ChallengeRewardShare::get() * slash;
		assert_eq!(free(3), ENDOWMENT - total_fee(2) + reward);
		assert_eq!(CorrectedOutputs::get(), vec![(id, honest_output())]);
		let model_id = Requests::<Test>::get(id).unwrap().model_id;
		assert_eq!(
			<Inference as InferenceProvider<AccountId>>::outcome(id),
			RequestOutcome::Finalized { model_id, output: honest_output() }
		);
	});
}
