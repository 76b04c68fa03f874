//! Settlement: payment on quorum, dissent and no-show slashing, refunds, late answers.

use super::*;
use crate::{Assignments, Event, Executors, HoldReason, SlashReason};
use frame_support::{assert_noop, assert_ok};

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
		let drawn = assignees(id);
		answer(id, &drawn.iter().map(|(_, key)| (key, honest_output())).collect::<Vec<_>>());

		// The second matching reveal made the quorum and settled the request in its block.
		let RequestStatus::Finalized { output_hash, finalized_at, .. } = status(id) else {
			panic!("finalized, got {:?}", status(id))
		};
		assert_eq!(output_hash, content_hash(&honest_output()));
		assert_eq!(finalized_at, System::block_number());
		// The third, after the quorum, is paid at the deadline.
		run_to_deadline(id);
		assert_eq!(
			Requests::<Test>::get(id).unwrap().agreed_output().unwrap().to_vec(),
			honest_output()
		);
		System::assert_has_event(
			Event::RequestFinalized { request_id: id, output_hash, rejection: None }.into(),
		);
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
		answer(
			id,
			&[
				(&drawn[0].1, wrong_output()),
				(&drawn[1].1, honest_output()),
				(&drawn[2].1, honest_output()),
			],
		);
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
		// Four commit in time (the fourth honestly, the fifth to a wrong output); the fifth
		// never reveals.
		for (_, key) in &drawn[..4] {
			assert_ok!(commit_outcome(id, key, &out(&honest_output())));
		}
		assert_ok!(commit_outcome(id, &drawn[4].1, &out(&wrong_output())));
		for (_, key) in &drawn[..3] {
			assert_ok!(reveal_outcome(id, key, &out(&honest_output())));
		}
		next_block();
		assert!(matches!(status(id), RequestStatus::Finalized { .. }));
		// One late honest reveal, one late wrong reveal.
		assert_ok!(reveal_outcome(id, &drawn[3].1, &out(&honest_output())));
		assert_ok!(reveal_outcome(id, &drawn[4].1, &out(&wrong_output())));
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

/// Without a quorum nobody showed the input could be answered in time, so a miss is counted
/// but not slashed: an input no one can run, or an outage, costs no executor its bond.
#[test]
fn without_quorum_the_request_expires_the_fee_is_refunded_and_nobody_is_slashed() {
	run_test(|| {
		let model = three_executor_model();
		let id = assigned_request(1, model);
		let drawn = assignees(id);
		answer(id, &[(&drawn[0].1, honest_output()), (&drawn[1].1, wrong_output())]);
		run_blocks(RESPONSE_TIMEOUT);

		assert_eq!(status(id), RequestStatus::Expired);
		System::assert_has_event(Event::RequestExpired { request_id: id }.into());
		assert_eq!(free(1), ENDOWMENT, "the whole escrow is returned");
		assert_eq!(held(HoldReason::RequestEscrow, 1), 0);
		let no_show = drawn[2].0;
		assert_eq!(Executors::<Test>::get(no_show).unwrap().bond, MIN_BOND);
		let stats = Executors::<Test>::get(no_show).unwrap().stats;
		assert_eq!((stats.missed, stats.consecutive_misses, stats.slashed), (1, 1, 0));
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
		let model = three_executor_model();
		let id = assigned_request(1, model);
		let drawn = assignees(id);
		let dissenter = drawn[0].0;
		answer(
			id,
			&[
				(&drawn[0].1, wrong_output()),
				(&drawn[1].1, honest_output()),
				(&drawn[2].1, honest_output()),
			],
		);
		next_block();
		assert!(Executors::<Test>::get(dissenter).unwrap().bond < MIN_BOND);
		assert!(!crate::ModelExecutors::<Test>::get(model).contains(&dissenter), "evicted");
		System::assert_has_event(
			Event::ExecutorEvicted {
				executor: dissenter,
				reason: crate::EvictionReason::BondBelowMinimum,
			}
			.into(),
		);
		assert_eq!(Inference::live_executor_count(&model, &[]), 2);
		assert_ok!(Inference::bond_extra(RuntimeOrigin::signed(dissenter), MIN_BOND));
		assert!(crate::ModelExecutors::<Test>::get(model).contains(&dissenter), "rejoined");
		assert_eq!(Inference::live_executor_count(&model, &[]), 3);
	});
}

/// Liveness: an executor that misses `MaxConsecutiveMisses` assignments in a row leaves its
/// pools, so requests stop waiting on it; an answer in between resets the run; it comes back
/// with `update_executor`.
#[test]
fn an_executor_missing_in_a_row_leaves_its_pools_until_it_rejoins() {
	run_test(|| {
		let model = vector_model(1, 1);
		let key = executor(10, &[model]);
		let answered = assigned_request(1, model);
		run_blocks(RESPONSE_TIMEOUT);
		assert_eq!(status(answered), RequestStatus::Expired);
		let answered = assigned_request(1, model);
		assert_ok!(attest(answered, &key, &honest_output()));
		assert_eq!(Executors::<Test>::get(10).unwrap().stats.consecutive_misses, 0);
		run_blocks(RESPONSE_TIMEOUT);

		for miss in 1..=MAX_CONSECUTIVE_MISSES {
			assert!(crate::ModelExecutors::<Test>::get(model).contains(&10), "miss {miss}");
			let id = assigned_request(1, model);
			run_blocks(RESPONSE_TIMEOUT);
			assert_eq!(status(id), RequestStatus::Expired);
		}
		let executor_record = Executors::<Test>::get(10).unwrap();
		assert_eq!(executor_record.stats.consecutive_misses, MAX_CONSECUTIVE_MISSES);
		assert_eq!(executor_record.bond, MIN_BOND, "no quorum: misses are never slashed");
		assert!(!crate::ModelExecutors::<Test>::get(model).contains(&10));
		System::assert_has_event(
			Event::ExecutorEvicted {
				executor: 10,
				reason: crate::EvictionReason::ConsecutiveMisses(MAX_CONSECUTIVE_MISSES),
			}
			.into(),
		);
		assert_noop!(
			Inference::request_inference(RuntimeOrigin::signed(1), model, input(), u64::MAX),
			crate::Error::<Test>::NotEnoughExecutors
		);

		assert_ok!(Inference::update_executor(
			RuntimeOrigin::signed(10),
			None,
			None,
			Some(vec![model].try_into().unwrap())
		));
		assert!(crate::ModelExecutors::<Test>::get(model).contains(&10));
		assert_eq!(Executors::<Test>::get(10).unwrap().stats.consecutive_misses, 0);
	});
}

/// A lost transaction is not a dead executor: the misses one block's closings judge count
/// once toward eviction. Each is still recorded (and slashed where a quorum answered), so an
/// executor whose batch of answers never reached a block keeps its place in its pools, while
/// one missing block after block still leaves them (the test above).
#[test]
fn misses_judged_in_one_block_count_once_toward_eviction() {
	run_test(|| {
		let model = vector_model(1, 1);
		executor(10, &[model]);
		let lost_batch = MAX_CONSECUTIVE_MISSES + 2;
		let ids = request_many(1, model, lost_batch.into());
		next_block();
		let deadlines: Vec<_> = ids.iter().map(|id| status(*id).deadline()).collect();
		assert!(deadlines.iter().all(Option::is_some), "all assigned");
		assert!(deadlines.windows(2).all(|pair| pair[0] == pair[1]), "one deadline block");
		run_blocks(RESPONSE_TIMEOUT);
		assert!(ids.iter().all(|id| status(*id) == RequestStatus::Expired));
		let stats = Executors::<Test>::get(10).unwrap().stats;
		assert_eq!((stats.missed, stats.consecutive_misses), (lost_batch, 1));
		assert!(crate::ModelExecutors::<Test>::get(model).contains(&10), "still in its pool");

		// The next block with a miss counts again.
		let id = assigned_request(1, model);
		run_blocks(RESPONSE_TIMEOUT);
		assert_eq!(status(id), RequestStatus::Expired);
		let stats = Executors::<Test>::get(10).unwrap().stats;
		assert_eq!((stats.missed, stats.consecutive_misses), (lost_batch + 1, 2));
	});
}

#[test]
fn total_issuance_is_unchanged_by_settlement() {
	run_test(|| {
		let issuance = Balances::total_issuance();
		let model = three_executor_model();
		let id = assigned_request(1, model);
		let drawn = assignees(id);
		answer(id, &[(&drawn[0].1, wrong_output()), (&drawn[1].1, honest_output())]);
		run_blocks(RESPONSE_TIMEOUT + 1);
		assert_eq!(Balances::total_issuance(), issuance);
	});
}

/// State hygiene: a request's input bytes (up to `MaxInputLen`) leave state once nothing can
/// need them: at the deadline of a request that expired, and after the challenge period of
/// one that was finalized. The compact record stays: hashes, status, who paid, and the blocks
/// whose bodies still carry the input (`created_at`) and the reveals (`submitted_at`).
#[test]
fn input_bytes_leave_state_after_the_challenge_window() {
	run_test(|| {
		let model = three_executor_model();
		let finalized = assigned_request(1, model);
		answer_all(finalized, &honest_output());
		let expired = assigned_request(2, model);
		assert!(crate::RequestInputs::<Test>::contains_key(expired));
		next_block();
		let RequestStatus::Finalized { deadline, .. } = status(finalized) else {
			panic!("finalized")
		};
		while System::block_number() < deadline {
			next_block();
		}
		// Past its deadline: the unanswered request's input is gone, the finalized one's kept
		// for a challenge to copy.
		run_blocks(1);
		assert!(!crate::RequestInputs::<Test>::contains_key(expired));
		assert!(crate::RequestInputs::<Test>::contains_key(finalized));
		while System::block_number() <= deadline + CHALLENGE_PERIOD {
			next_block();
		}
		assert!(!crate::RequestInputs::<Test>::contains_key(finalized));
		let record = Requests::<Test>::get(finalized).unwrap();
		assert_eq!(record.input_hash, content_hash(&input()));
		assert_eq!(record.input_len as usize, input().len());
		assert!(matches!(record.status, RequestStatus::Finalized { .. }));
		assert!(record.attestations.iter().all(|a| a.submitted_at > 0));
		assert!(Inference::request_view(finalized).unwrap().input.is_empty());
	});
}

/// The bytes a request keeps in state are paid for while they are there: a deposit per byte
/// of its input and of the largest output each executor could attest is held from the
/// requester, and returned when the input and the outputs leave state at the end of the
/// challenge period. The compact record and the outcome's hash stay.
#[test]
fn a_storage_deposit_is_held_while_the_bytes_are_in_state_and_returned_when_they_leave() {
	run_test(|| {
		crate::mock::ByteDeposit::set(2);
		let model = three_executor_model();
		let free_before = free(1);
		let id = assigned_request(1, model);
		// `y` has a free axis: each of the three outputs is bounded by `MaxOutputLen` (4096).
		let deposit = 2 * (input().len() as u64 + 3 * 4096);
		assert_eq!(held(HoldReason::StorageDeposit, 1), deposit);
		assert_eq!(Requests::<Test>::get(id).unwrap().storage_deposit, deposit);
		answer_all(id, &honest_output());
		next_block();
		let RequestStatus::Finalized { deadline, output_hash, .. } = status(id) else {
			panic!("finalized")
		};
		assert_eq!(Inference::request_view(id).unwrap().output, Some(honest_output()));
		while System::block_number() <= deadline + CHALLENGE_PERIOD {
			assert_eq!(held(HoldReason::StorageDeposit, 1), deposit);
			next_block();
		}
		// The bytes left state, the deposit came back; the requester paid only the fee.
		assert_eq!(held(HoldReason::StorageDeposit, 1), 0);
		assert_eq!(free(1), free_before - total_fee(3));
		let record = Requests::<Test>::get(id).unwrap();
		assert_eq!(record.storage_deposit, 0);
		assert!(record.candidates.iter().all(|c| c.outcome == crate::StoredOutcome::Pruned));
		assert_eq!(record.standing_output_hash(), Some(output_hash));
		let view = Inference::request_view(id).unwrap();
		assert_eq!((view.output, view.rejection), (None, None));
		assert_eq!(
			<Inference as crate::InferenceProvider<_>>::outcome(id),
			crate::RequestOutcome::Pruned
		);
	});
}

/// A request the requester cannot also pay the storage deposit for is refused with a named
/// error, holding nothing.
#[test]
fn a_request_whose_deposit_is_unaffordable_is_refused_holding_nothing() {
	run_test(|| {
		let model = three_executor_model();
		crate::mock::ByteDeposit::set(ENDOWMENT);
		let before = free(1);
		assert_noop!(
			Inference::request_inference(RuntimeOrigin::signed(1), model, input(), u64::MAX),
			crate::Error::<Test>::InsufficientBalance
		);
		assert_eq!(free(1), before);
		assert_eq!(held(HoldReason::StorageDeposit, 1), 0);
		assert_eq!(held(HoldReason::RequestEscrow, 1), 0);
	});
}

#[test]
fn a_deadline_is_charged_for_the_path_it_took() {
	// Closing a request its quorum finalized costs about a third of an expiry; charging every
	// deadline as an expiry spent the block's room on work that did not happen, which under a
	// steady load left transactions a fraction of the block.
	run_test(|| {
		use crate::{OnRequestFinalized, WeightInfo};
		use frame_support::traits::Hooks;
		let model = vector_model(1, 2);
		executor(10, &[model]);
		executor(11, &[model]);
		let ids = request_many(1, model, 2);
		answer_all(ids[0], &honest_output());
		let deadline = status(ids[1]).deadline().expect("assigned");
		assert_eq!(status(ids[0]).deadline(), Some(deadline));
		while System::block_number() + 1 < deadline {
			next_block();
		}
		System::set_block_number(deadline);
		let shape = crate::Requests::<Test>::get(ids[0]).expect("stored").shape();
		assert_eq!(shape.redundancy, 2);

		let charged = Inference::on_initialize(deadline);

		type Weights = <Test as crate::Config>::WeightInfo;
		let expiry = Weights::expire_request()
			.saturating_add(<Test as crate::Config>::OnFinalized::weight())
			.saturating_add(Weights::draw_audit());
		// The closing is charged by the record it closed: its executors and its longest output.
		let closing = Weights::expire_finalized_request(
			2,
			shape.largest_output.max(crate::MIN_WEIGHED_OUTPUT),
		);
		assert_eq!(
			charged,
			Inference::hook_overhead().saturating_add(closing).saturating_add(expiry)
		);
		assert!(closing.all_lt(expiry));
		assert!(matches!(status(ids[0]), RequestStatus::Finalized { .. }));
		assert_eq!(status(ids[1]), RequestStatus::Expired);
	});
}

/// Commit `output` for every assignee of `request_id`, reveal it by the first, and dispatch
/// the second's reveal, the one that completes the quorum, as the call; returns its post-
/// dispatch info and the outcome revealed.
fn dispatch_the_deciding_reveal(
	request_id: RequestId,
	output: &[u8],
) -> (frame_support::dispatch::PostDispatchInfo, InferenceOutcome) {
	let keys = assignees(request_id);
	let outcome = out(output);
	for (_, key) in &keys {
		assert_ok!(commit_outcome(request_id, key, &outcome));
	}
	assert_ok!(reveal_outcome(request_id, &keys[0].1, &outcome));
	let signature = sign_outcome(request_id, &keys[1].1, &outcome);
	assert!(Inference::check_reveal(request_id, &outcome, &signature, true).is_ok());
	let post = Inference::submit_attestation(
		frame_system::Origin::<Test>::Authorized.into(),
		request_id,
		outcome.clone(),
		signature,
	)
	.expect("a valid reveal");
	assert!(matches!(status(request_id), RequestStatus::Finalized { .. }));
	(post, outcome)
}

#[test]
fn the_deciding_reveal_keeps_its_own_settlement_not_the_heaviest() {
	// Every reveal is charged the heaviest settlement before dispatch (a challenge's, of the
	// widest record, with every listener's most and an audit opened). Keeping that after
	// dispatch made blocks look full of work that never happened: the reveal that settles an
	// ordinary request of three executors, no listener acting and no audit drawn, keeps the
	// ordinary settlement of its record's shape only.
	run_test(|| {
		use crate::WeightInfo;
		type Weights = <Test as crate::Config>::WeightInfo;
		let model = three_executor_model();
		let id = assigned_request(1, model);

		let (post, outcome) = dispatch_the_deciding_reveal(id, &honest_output());

		let output_len = crate::outcome_len(&outcome);
		let own = Weights::settle_ordinary_request(3, output_len.max(crate::MIN_WEIGHED_OUTPUT));
		assert_eq!(post.actual_weight, Some(Weights::submit_attestation(output_len) + own));
		assert!(own.all_lt(Inference::settle_weight()));
	});
}

#[test]
fn a_settlement_that_opens_an_audit_keeps_the_audits_weight() {
	// The refund stops at what was done: a settlement whose draw opens an audit keeps the
	// audit's opening on top of its own.
	run_test(|| {
		use crate::WeightInfo;
		type Weights = <Test as crate::Config>::WeightInfo;
		crate::mock::AuditProbability::set(sp_runtime::Permill::one());
		let model = three_executor_model();
		executor(13, &[model]);
		let id = assigned_request(1, model);

		let (post, outcome) = dispatch_the_deciding_reveal(id, &honest_output());

		assert!(System::events().iter().any(|record| matches!(
			record.event,
			RuntimeEvent::Inference(Event::AuditOpened { request_id, .. }) if request_id == id
		)));
		let output_len = crate::outcome_len(&outcome);
		let own = Weights::settle_ordinary_request(3, output_len.max(crate::MIN_WEIGHED_OUTPUT));
		assert_eq!(
			post.actual_weight,
			Some(Weights::submit_attestation(output_len) + own + Weights::draw_audit())
		);
	});
}

#[test]
fn closings_past_the_hooks_budget_wait_for_the_next_block_in_order() {
	// Attack: many requests sharing a deadline block, all expiring in full (their executors
	// went silent), would fill that block with closings and leave no room for answers and
	// requests. The hook stops at `HookWeight` and goes on in the next block, oldest first;
	// the late closings lose nothing: each request expires and is refunded in full.
	run_test(|| {
		let model = vector_model(1, 2);
		executor(10, &[model]);
		executor(11, &[model]);
		let ids = request_many(1, model, 4);
		next_block();
		let deadline = status(ids[0]).deadline().expect("assigned");
		assert!(ids.iter().all(|id| status(*id).deadline() == Some(deadline)));
		crate::mock::HookWeight::set(Inference::expire_weight() * 2);
		let charged_before = held(HoldReason::RequestEscrow, 1);
		assert!(charged_before > 0);
		while System::block_number() < deadline {
			next_block();
		}

		let expired = |ids: &[RequestId]| {
			ids.iter().filter(|id| status(**id) == RequestStatus::Expired).count()
		};
		assert_eq!(expired(&ids), 2, "the budget holds two full expiries");
		assert_eq!(status(ids[2]), RequestStatus::Assigned { deadline }, "the rest waits");
		assert!(
			Inference::submit_attestation(
				frame_system::Origin::<Test>::Authorized.into(),
				ids[2],
				out(&honest_output()),
				sign(ids[2], &assignees(ids[2])[0].1, &honest_output()),
			)
			.is_err(),
			"past its deadline a request takes no answer, closed or not"
		);
		next_block();
		assert_eq!(expired(&ids), 4, "the next block closes the rest");
		assert_eq!(held(HoldReason::RequestEscrow, 1), 0, "every escrow returned");
		assert!(crate::Deadlines::<Test>::get(deadline).is_empty());
	});
}
