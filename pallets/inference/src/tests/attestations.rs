//! Commitments and reveals: validation by signature, the commit phase, recording, quorum;
//! every error, in the dispatch and in transaction validation; the copycat and the liar.

use super::*;
use crate::{Assignments, Call, Error, Event, Executors, HoldReason, SlashReason};
use frame_support::{
	assert_noop, assert_ok,
	pallet_prelude::{InvalidTransaction, TransactionSource, TransactionValidityError},
	traits::Authorize,
};
use verity_primitives::RejectionCode;

/// The transaction validity of a commitment.
fn commitment_validity(
	request_id: RequestId,
	commitment: H256,
	signature: SignedAttestation,
) -> Result<u64, TransactionValidityError> {
	Call::<Test>::submit_commitment { request_id, commitment, signature }
		.authorize(TransactionSource::External)
		.expect("submit_commitment is authorized by its signature")
		.map(|(validity, _)| validity.priority)
}

/// The transaction validity of a reveal.
fn reveal_validity(
	request_id: RequestId,
	outcome: InferenceOutcome,
	signature: SignedAttestation,
) -> Result<u64, TransactionValidityError> {
	Call::<Test>::submit_attestation { request_id, outcome, signature }
		.authorize(TransactionSource::External)
		.expect("submit_attestation is authorized by its signature")
		.map(|(validity, _)| validity.priority)
}

/// The validity error a call refused with `error` gets.
fn refused(error: &Error<Test>) -> Result<u64, TransactionValidityError> {
	Err(TransactionValidityError::Invalid(InvalidTransaction::Custom(error.encode()[0])))
}

/// A redundancy-3 model with executors 10, 11, 12 and one assigned request.
fn three_way_request() -> (RequestId, Vec<(AccountId, ExecutorPublic)>) {
	let model = vector_model(1, 3);
	for who in 10..13 {
		executor(who, &[model]);
	}
	let id = assigned_request(1, model);
	(id, assignees(id))
}

#[test]
fn answers_commit_first_and_reveal_once_every_executor_committed() {
	run_test(|| {
		let (id, drawn) = three_way_request();
		let honest = out(&honest_output());
		let (committed, signature) = signed_commitment(id, &drawn[0].1, &honest);
		assert_eq!(
			commitment_validity(id, committed, signature.clone()),
			Ok(crate::ANSWER_PRIORITY),
			"commitments take the top pool priority"
		);
		assert_ok!(submit_commitment(id, committed, signature));
		System::assert_last_event(
			Event::CommitmentSubmitted { request_id: id, executor: drawn[0].0 }.into(),
		);
		// Nothing is revealed while others may still commit.
		assert_eq!(
			reveal_validity(id, honest.clone(), sign_outcome(id, &drawn[0].1, &honest)),
			refused(&Error::CommitPhaseOpen)
		);
		assert_noop!(reveal_outcome(id, &drawn[0].1, &honest), Error::<Test>::CommitPhaseOpen);
		// The executor's job moves from "commit" to "wait".
		let job = &Inference::open_assignments(drawn[0].1.clone())[0];
		assert!(job.committed && !job.reveal_open);

		assert_ok!(commit_outcome(id, &drawn[1].1, &honest));
		assert_ok!(commit_outcome(id, &drawn[2].1, &honest));
		let job = &Inference::open_assignments(drawn[0].1.clone())[0];
		assert!(job.committed && job.reveal_open, "every executor committed: reveals open");
		assert_eq!(
			commitment_validity(id, committed, signed_commitment(id, &drawn[0].1, &honest).1),
			refused(&Error::CommitPhaseOver)
		);

		assert_eq!(
			reveal_validity(id, honest.clone(), sign_outcome(id, &drawn[0].1, &honest)),
			Ok(crate::ANSWER_PRIORITY),
			"reveals take the top pool priority"
		);
		assert_ok!(reveal_outcome(id, &drawn[0].1, &honest));
		System::assert_last_event(
			Event::AttestationSubmitted {
				request_id: id,
				executor: drawn[0].0,
				output_hash: content_hash(&honest_output()),
				matches_commitment: true,
			}
			.into(),
		);
		// The answered job leaves the executor's open assignments; the assignment itself stays
		// until the deadline, when the request closes.
		assert!(Inference::open_assignments(drawn[0].1.clone()).is_empty());
		assert_eq!(Inference::open_assignments(drawn[1].1.clone()).len(), 1);
		assert!(Assignments::<Test>::contains_key(drawn[0].0, id));
		let request = Requests::<Test>::get(id).unwrap();
		assert_eq!((request.commitments.len(), request.attestations.len()), (3, 1));
		assert_eq!(request.candidates[0].votes, 1);
		assert!(matches!(request.status, RequestStatus::Assigned { .. }));

		// The reveal that makes a quorum of 2 of 3 settles the request in its own block.
		assert_ok!(reveal_outcome(id, &drawn[1].1, &honest));
		assert!(matches!(status(id), RequestStatus::Finalized { .. }));
		System::assert_has_event(
			Event::RequestFinalized { request_id: id, output_hash: honest.hash(), rejection: None }
				.into(),
		);
	});
}

#[test]
fn answers_need_no_signed_origin_and_refuse_one() {
	run_test(|| {
		let model = vector_model(1, 1);
		let key = executor(10, &[model]);
		let id = assigned_request(1, model);
		let (committed, signature) = signed_commitment(id, &key, &out(&honest_output()));
		assert_noop!(
			Inference::submit_commitment(RuntimeOrigin::signed(10), id, committed, signature),
			sp_runtime::DispatchError::BadOrigin
		);
		assert_noop!(
			Inference::submit_attestation(
				RuntimeOrigin::signed(10),
				id,
				out(&honest_output()),
				sign(id, &key, &honest_output())
			),
			sp_runtime::DispatchError::BadOrigin
		);
	});
}

#[test]
fn commitment_refusals() {
	run_test(|| {
		let model = vector_model(1, 2);
		let keys: Vec<_> = (10..13).map(|who| executor(who, &[model])).collect();
		let id = assigned_request(1, model);
		let drawn = assignees(id);
		let outsider = keys.iter().find(|key| drawn.iter().all(|(_, k)| k != *key)).unwrap();
		let insider = &drawn[0].1;
		let honest = out(&honest_output());

		let (committed, signature) = signed_commitment(id, insider, &honest);
		assert_eq!(
			commitment_validity(99, committed, signature.clone()),
			refused(&Error::UnknownRequest)
		);
		let (outside, outside_signature) = signed_commitment(id, outsider, &honest);
		assert_eq!(
			commitment_validity(id, outside, outside_signature),
			refused(&Error::NotAssigned)
		);
		// A signature over another commitment, or by another key.
		let (other, _) = signed_commitment(id, insider, &out(&wrong_output()));
		assert_eq!(
			commitment_validity(id, other, signature.clone()),
			refused(&Error::BadSignature)
		);
		let mut forged = signature.clone();
		forged.attestation_key = drawn[1].1.clone();
		assert_eq!(commitment_validity(id, committed, forged), refused(&Error::BadSignature));

		// Once per executor.
		assert_ok!(submit_commitment(id, committed, signature.clone()));
		assert_eq!(
			commitment_validity(id, committed, signature.clone()),
			refused(&Error::AlreadyCommitted)
		);
		assert_noop!(submit_commitment(id, committed, signature), Error::<Test>::AlreadyCommitted);

		// After the commit deadline, none.
		close_commit_phase(id);
		let (late, late_signature) = signed_commitment(id, &drawn[1].1, &honest);
		assert_eq!(
			commitment_validity(id, late, late_signature.clone()),
			refused(&Error::CommitPhaseOver)
		);
		assert_noop!(submit_commitment(id, late, late_signature), Error::<Test>::CommitPhaseOver);
	});
}

/// The replay attack: an executor's signed commitment for one request, put on another request
/// it is also assigned to, would take its one commitment there and get its honest reveal
/// slashed. The signed message names the request, so the replay does not verify.
#[test]
fn a_signed_commitment_cannot_be_replayed_on_another_request() {
	run_test(|| {
		let model = vector_model(1, 1);
		let key = executor(10, &[model]);
		let first = assigned_request(1, model);
		let second = assigned_request(1, model);
		let (committed, signature) = signed_commitment(first, &key, &out(&honest_output()));
		assert_eq!(
			commitment_validity(second, committed, signature),
			refused(&Error::BadSignature)
		);
		// The reveal signature of one request does not verify on another either.
		assert_ok!(commit_outcome(second, &key, &out(&honest_output())));
		assert_eq!(
			reveal_validity(second, out(&honest_output()), sign(first, &key, &honest_output())),
			refused(&Error::BadSignature)
		);
	});
}

#[test]
fn reveal_refusals() {
	run_test(|| {
		let model = vector_model(1, 2);
		let keys: Vec<_> = (10..13).map(|who| executor(who, &[model])).collect();
		let id = assigned_request(1, model);
		let drawn = assignees(id);
		let outsider = keys.iter().find(|key| drawn.iter().all(|(_, k)| k != *key)).unwrap();
		let (insider, silent) = (&drawn[0].1, &drawn[1].1);
		assert_ok!(commit_outcome(id, insider, &out(&honest_output())));
		close_commit_phase(id);

		// Refused both in validation and in dispatch.
		let cases: Vec<(RequestId, Vec<u8>, SignedAttestation, Error<Test>)> = vec![
			(99, honest_output(), sign(id, insider, &honest_output()), Error::UnknownRequest),
			(id, honest_output(), sign(id, outsider, &honest_output()), Error::NotAssigned),
			(id, honest_output(), sign(id, silent, &honest_output()), Error::NotCommitted),
			(id, vec![0; 4097], sign(id, insider, &honest_output()), Error::OutputTooLarge),
			(id, vec![1, 2, 3], sign(id, insider, &[1, 2, 3]), Error::MalformedOutput),
			(
				id,
				vector("z", &[1.0]),
				sign(id, insider, &vector("z", &[1.0])),
				Error::MalformedOutput,
			),
			// Signed for another output.
			(id, honest_output(), sign(id, insider, &wrong_output()), Error::BadSignature),
		];
		for (request_id, output, signature, error) in cases {
			assert_eq!(
				reveal_validity(request_id, out(&output), signature.clone()),
				refused(&error),
				"{error:?}"
			);
			assert_noop!(submit_reveal(request_id, out(&output), signature), error);
		}
		// A signature by one key presented as another's.
		let mut forged = sign(id, insider, &honest_output());
		forged.attestation_key = drawn[1].1.clone();
		assert_eq!(
			reveal_validity(id, out(&honest_output()), forged),
			refused(&Error::NotCommitted)
		);

		// Revealing twice.
		assert_ok!(reveal_outcome(id, insider, &out(&honest_output())));
		assert_eq!(
			reveal_validity(id, out(&honest_output()), sign(id, insider, &honest_output())),
			refused(&Error::AlreadyAttested)
		);
		assert_noop!(
			reveal_outcome(id, insider, &out(&honest_output())),
			Error::<Test>::AlreadyAttested
		);
	});
}

#[test]
fn answers_are_refused_before_assignment_and_after_the_deadline() {
	run_test(|| {
		let model = vector_model(1, 1);
		let key = executor(10, &[model]);
		fill_this_blocks_assignments();
		let id = crate::NextRequestId::<Test>::get();
		assert_ok!(Inference::request_inference(
			RuntimeOrigin::signed(1),
			model,
			input(),
			u64::MAX
		));
		assert_eq!(status(id), RequestStatus::Pending);
		assert_noop!(
			commit_outcome(id, &key, &out(&honest_output())),
			Error::<Test>::CommitPhaseOver
		);
		next_block();
		assert_ok!(commit_outcome(id, &key, &out(&honest_output())));
		let RequestStatus::Assigned { deadline } = status(id) else { panic!("assigned") };
		while System::block_number() < deadline {
			next_block();
		}
		// The deadline block's hook closed the request.
		assert_eq!(status(id), RequestStatus::Expired);
		assert_noop!(
			reveal_outcome(id, &key, &out(&honest_output())),
			Error::<Test>::RequestNotOpen
		);
	});
}

/// The commit deadline opens reveals even when an executor never commits, and that
/// executor cannot reveal: a silent executor cannot hold the others' answers hostage.
#[test]
fn the_commit_deadline_opens_reveals_without_the_silent_executor() {
	run_test(|| {
		let (id, drawn) = three_way_request();
		answer(id, &[(&drawn[0].1, honest_output()), (&drawn[1].1, honest_output())]);
		assert!(matches!(status(id), RequestStatus::Finalized { .. }));
		assert!(
			Inference::open_assignments(drawn[2].1.clone()).is_empty(),
			"too late to commit: nothing left to do"
		);
	});
}

/// The copycat: executor 0 waits, sees executor 1's commitment and submits the same hash as
/// its own. It can never reveal a payload that hashes to it (the commitment binds executor 1's
/// key), so whatever it reveals is slashed as dissent, while the honest executors are paid.
#[test]
fn a_copied_commitment_cannot_be_revealed() {
	run_test(|| {
		let (id, drawn) = three_way_request();
		let honest = out(&honest_output());
		let (copycat, victim, third) = (&drawn[0], &drawn[1], &drawn[2]);
		let (victim_commitment, victim_signature) = signed_commitment(id, &victim.1, &honest);
		assert_ok!(submit_commitment(id, victim_commitment, victim_signature));
		// The copycat signs the copied hash with its own key.
		let request = Requests::<Test>::get(id).unwrap();
		let message = Inference::commitment_message_for(id, &request, victim_commitment);
		let copied = SignedAttestation {
			attestation_key: copycat.1.clone(),
			signature: copycat.1.sign(&message).unwrap(),
		};
		assert_ok!(submit_commitment(id, victim_commitment, copied));
		assert_ok!(commit_outcome(id, &third.1, &honest));

		assert_ok!(reveal_outcome(id, &victim.1, &honest));
		assert_ok!(reveal_outcome(id, &third.1, &honest));
		// The copycat reveals the honest output it now sees: it does not match its commitment.
		assert_ok!(reveal_outcome(id, &copycat.1, &honest));
		System::assert_has_event(
			Event::AttestationSubmitted {
				request_id: id,
				executor: copycat.0,
				output_hash: honest.hash(),
				matches_commitment: false,
			}
			.into(),
		);
		assert_eq!(Requests::<Test>::get(id).unwrap().candidates[0].votes, 2);
		// The honest pair's quorum settled the request; the copycat's late reveal is settled at
		// the deadline.
		assert!(matches!(status(id), RequestStatus::Finalized { .. }));
		run_to_deadline(id);
		let slash = DissentSlash::get() * MIN_BOND;
		assert_eq!(Executors::<Test>::get(copycat.0).unwrap().bond, MIN_BOND - slash);
		assert_eq!(free(copycat.0), ENDOWMENT - MIN_BOND, "the copycat earns nothing");
		System::assert_has_event(
			Event::ExecutorSlashed {
				executor: copycat.0,
				request_id: id,
				amount: slash,
				reason: SlashReason::Dissent,
			}
			.into(),
		);
		for honest_executor in [victim.0, third.0] {
			assert_eq!(free(honest_executor), ENDOWMENT - MIN_BOND + FEE);
			assert_eq!(held(HoldReason::ExecutorBond, honest_executor), MIN_BOND);
		}
	});
}

/// A reveal that breaks its commitment is a provable lie: slashed even when no quorum forms.
#[test]
fn a_broken_commitment_is_slashed_even_without_a_quorum() {
	run_test(|| {
		let (id, drawn) = three_way_request();
		assert_ok!(commit_outcome(id, &drawn[0].1, &out(&honest_output())));
		close_commit_phase(id);
		assert_ok!(reveal_outcome(id, &drawn[0].1, &out(&wrong_output())));
		run_blocks(RESPONSE_TIMEOUT);

		assert_eq!(status(id), RequestStatus::Expired);
		let slash = DissentSlash::get() * MIN_BOND;
		assert_eq!(Executors::<Test>::get(drawn[0].0).unwrap().bond, MIN_BOND - slash);
		// The two that never answered are not slashed: nobody showed the input was answerable.
		for (who, _) in &drawn[1..] {
			assert_eq!(Executors::<Test>::get(who).unwrap().bond, MIN_BOND);
			assert_eq!(Executors::<Test>::get(who).unwrap().stats.missed, 1);
		}
		assert_eq!(free(1), ENDOWMENT, "the requester is refunded in full");
	});
}

/// An input every executor must reject is an answer: a quorum on the rejection finalizes the
/// request, the agreeing executors are paid, and the requester pays the fee.
#[test]
fn a_quorum_on_a_rejection_settles_the_request() {
	run_test(|| {
		let (id, drawn) = three_way_request();
		let rejected = InferenceOutcome::Rejected(RejectionCode::UnsupportedShape);
		answer_outcomes(id, &[(&drawn[0].1, rejected.clone()), (&drawn[1].1, rejected.clone())]);
		next_block();

		let RequestStatus::Finalized { output_hash, .. } = status(id) else {
			panic!("finalized, got {:?}", status(id))
		};
		assert_eq!(output_hash, rejected.hash());
		let request = Requests::<Test>::get(id).unwrap();
		assert_eq!(request.agreed_rejection(), Some(RejectionCode::UnsupportedShape));
		assert_eq!(request.agreed_output(), None);
		System::assert_has_event(
			Event::RequestFinalized {
				request_id: id,
				output_hash,
				rejection: Some(RejectionCode::UnsupportedShape),
			}
			.into(),
		);
		for (who, _) in &drawn[..2] {
			assert_eq!(free(*who), ENDOWMENT - MIN_BOND + FEE, "executor {who} is paid");
		}
		assert!(FinalizedOutputs::get().is_empty(), "a rejection is no output to hand on");
		assert_eq!(
			<Inference as crate::InferenceProvider<AccountId>>::outcome(id),
			crate::RequestOutcome::Failed
		);
		// The executor that never answered an answerable request is slashed for it.
		run_blocks(RESPONSE_TIMEOUT);
		let miss = MissSlash::get() * MIN_BOND;
		assert_eq!(Executors::<Test>::get(drawn[2].0).unwrap().bond, MIN_BOND - miss);
		assert_eq!(free(1), ENDOWMENT - total_fee(3) + FEE, "the requester paid for two runs");
	});
}

/// A fork: blocks of two forks at one height carry different requests under one id. An
/// executor's commitment made on the fork the chain leaves (its transaction still travels and
/// reaches an author of the fork that stays) must not take its slot on the request that reuses
/// the id there: it would commit the executor to another request's answer, and its honest
/// reveal would then be slashed as a broken commitment.
#[test]
fn a_commitment_made_on_a_forks_request_does_not_verify_on_another() {
	run_test(|| {
		let model = vector_model(1, 1);
		let key = executor(10, &[model]);
		let forked_output = out(&wrong_output());

		sp_io::storage::start_transaction();
		let id = assigned_request(1, model);
		let (forked_commitment, forked_signature) = signed_commitment(id, &key, &forked_output);
		assert_ok!(commitment_validity(id, forked_commitment, forked_signature.clone()));
		sp_io::storage::rollback_transaction();

		// The fork that stays: the same id, another input, the same executor drawn.
		let other_input = vector("x", &[9.0, 8.0]);
		assert_ok!(Inference::request_inference(
			RuntimeOrigin::signed(2),
			model,
			other_input,
			u64::MAX
		));
		next_block();
		assert_eq!(assignees(id)[0].1, key);
		assert_eq!(
			commitment_validity(id, forked_commitment, forked_signature.clone()),
			refused(&Error::<Test>::BadSignature),
			"the pool refuses it"
		);
		assert_noop!(
			submit_commitment(id, forked_commitment, forked_signature),
			Error::<Test>::BadSignature
		);

		// The executor's own answer to this fork's request goes through, unslashed.
		let honest = out(&honest_output());
		assert_ok!(commit_outcome(id, &key, &honest));
		assert_ok!(reveal_outcome(id, &key, &honest));
		let request = Requests::<Test>::get(id).unwrap();
		assert!(matches!(request.status, RequestStatus::Finalized { .. }));
		assert!(request.attestations[0].matches_commitment);
		assert!(!System::events().iter().any(|record| matches!(
			record.event,
			RuntimeEvent::Inference(Event::ExecutorSlashed { .. })
		)));
	});
}
