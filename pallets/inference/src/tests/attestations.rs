//! Attestations: validation by signature, recording, quorum; every error, in the dispatch and
//! in transaction validation.

use super::*;
use crate::{Assignments, Call, Error, Event, PendingSettlement};
use frame_support::{
	assert_noop, assert_ok,
	pallet_prelude::{InvalidTransaction, TransactionSource, TransactionValidityError},
	traits::Authorize,
};

/// The transaction validity of an attestation.
fn validity(
	request_id: RequestId,
	output: Vec<u8>,
	signature: SignedAttestation,
) -> Result<(), TransactionValidityError> {
	Call::<Test>::submit_attestation { request_id, output, signature }
		.authorize(TransactionSource::External)
		.expect("submit_attestation is authorized by its signature")
		.map(|_| ())
}

/// The validity error an attestation refused with `error` gets.
fn refused(error: &Error<Test>) -> Result<(), TransactionValidityError> {
	Err(TransactionValidityError::Invalid(InvalidTransaction::Custom(error.encode()[0])))
}

#[test]
fn an_attestation_is_recorded_and_closes_the_assignment() {
	run_test(|| {
		let model = vector_model(1, 3);
		for who in 10..13 {
			executor(who, &[model]);
		}
		let id = assigned_request(1, model);
		let drawn = assignees(id);
		let signature = sign(id, &drawn[0].1, &honest_output());
		assert_eq!(validity(id, honest_output(), signature), Ok(()));
		assert_ok!(attest(id, &drawn[0].1, &honest_output()));

		System::assert_last_event(
			Event::AttestationSubmitted {
				request_id: id,
				executor: drawn[0].0,
				output_hash: content_hash(&honest_output()),
			}
			.into(),
		);
		// The answered job leaves the executor's open assignments; the assignment itself stays
		// until the deadline, when the request closes.
		assert!(Inference::open_assignments(drawn[0].1.clone()).is_empty());
		assert_eq!(Inference::open_assignments(drawn[1].1.clone()).len(), 1);
		assert!(Assignments::<Test>::contains_key(drawn[0].0, id));
		let request = Requests::<Test>::get(id).unwrap();
		assert_eq!(request.attestations.len(), 1);
		assert_eq!(request.candidates[0].votes, 1);
		assert!(matches!(request.status, RequestStatus::Assigned { .. }));

		// A quorum of 2 of 3 matching outputs marks the request for settlement.
		assert_ok!(attest(id, &drawn[1].1, &honest_output()));
		assert!(matches!(status(id), RequestStatus::QuorumReached { .. }));
		assert_eq!(PendingSettlement::<Test>::get().to_vec(), vec![id]);
	});
}

#[test]
fn attestations_need_no_signed_origin_and_refuse_one() {
	run_test(|| {
		let model = vector_model(1, 1);
		let key = executor(10, &[model]);
		let id = assigned_request(1, model);
		let signature = sign(id, &key, &honest_output());
		assert_noop!(
			Inference::submit_attestation(
				RuntimeOrigin::signed(10),
				id,
				honest_output(),
				signature
			),
			sp_runtime::DispatchError::BadOrigin
		);
	});
}

#[test]
fn attestation_refusals() {
	run_test(|| {
		let model = vector_model(1, 2);
		let keys: Vec<_> = (10..13).map(|who| executor(who, &[model])).collect();
		let id = assigned_request(1, model);
		let drawn = assignees(id);
		let outsider = keys.iter().find(|key| drawn.iter().all(|(_, k)| k != *key)).unwrap();
		let insider = &drawn[0].1;

		// Refused both in validation and, for what the dispatch re-checks, in dispatch.
		let cases: Vec<(RequestId, Vec<u8>, SignedAttestation, Error<Test>)> = vec![
			(99, honest_output(), sign(id, insider, &honest_output()), Error::UnknownRequest),
			(id, honest_output(), sign(id, outsider, &honest_output()), Error::NotAssigned),
			(id, vec![0; 4097], sign(id, insider, &honest_output()), Error::OutputTooLarge),
		];
		for (request_id, output, signature, error) in cases {
			assert_eq!(validity(request_id, output.clone(), signature.clone()), refused(&error));
			assert_noop!(
				Inference::submit_attestation(
					frame_system::Origin::<Test>::Authorized.into(),
					request_id,
					output,
					signature
				),
				error
			);
		}
		// Refused in validation: such a transaction never gets the authorized origin.
		let cases: Vec<(RequestId, Vec<u8>, SignedAttestation, Error<Test>)> = vec![
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
			assert_eq!(validity(request_id, output, signature), refused(&error));
		}

		// A signature by one key presented as another's.
		let mut forged = sign(id, insider, &honest_output());
		forged.attestation_key = drawn[1].1.clone();
		assert_eq!(validity(id, honest_output(), forged), refused(&Error::BadSignature));

		// Answering twice.
		assert_ok!(attest(id, insider, &honest_output()));
		let again = sign(id, insider, &honest_output());
		assert_eq!(validity(id, honest_output(), again), refused(&Error::AlreadyAttested));
		assert_noop!(attest(id, insider, &honest_output()), Error::<Test>::AlreadyAttested);
	});
}

#[test]
fn a_signature_cannot_be_replayed_on_another_request() {
	run_test(|| {
		let model = vector_model(1, 1);
		let key = executor(10, &[model]);
		let first = assigned_request(1, model);
		let second = assigned_request(1, model);
		let signature = sign(first, &key, &honest_output());
		assert_eq!(validity(second, honest_output(), signature), refused(&Error::BadSignature));
	});
}

#[test]
fn attestations_are_refused_before_assignment_and_after_the_deadline() {
	run_test(|| {
		let model = vector_model(1, 1);
		let key = executor(10, &[model]);
		assert_ok!(Inference::request_inference(
			RuntimeOrigin::signed(1),
			model,
			input(),
			u64::MAX
		));
		assert_noop!(attest(0, &key, &honest_output()), Error::<Test>::RequestNotOpen);
		next_block();
		let RequestStatus::Assigned { deadline } = status(0) else { panic!("assigned") };
		while System::block_number() < deadline {
			next_block();
		}
		// The deadline block's hook closed the request.
		assert_eq!(status(0), RequestStatus::Expired);
		assert_noop!(attest(0, &key, &honest_output()), Error::<Test>::RequestNotOpen);
	});
}
