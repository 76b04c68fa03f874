//! Batches of answers: one executor's commitments (or reveals) for many requests in one
//! transaction, valid only when every item is, with the effects of the single calls.

use super::*;
use crate::{Call, CommitmentItem, Error, Event, RevealItem};
use frame_support::{
	assert_ok,
	pallet_prelude::{
		InvalidTransaction, TransactionSource, TransactionValidityError, ValidTransaction,
	},
	traits::Authorize,
	BoundedVec,
};

/// The transaction validity of `call`.
fn validity(call: Call<Test>) -> Result<ValidTransaction, TransactionValidityError> {
	call.authorize(TransactionSource::External)
		.expect("answers are authorized by their signatures")
		.map(|(validity, _)| validity)
}

/// The validity error a call refused with `error` gets.
fn refused(error: Error<Test>) -> TransactionValidityError {
	TransactionValidityError::Invalid(InvalidTransaction::Custom(error.encode()[0]))
}

/// A redundancy-1 model served by executor 10 alone, and `count` requests assigned to it.
fn requests_of_one_executor(count: usize) -> (ExecutorPublic, Vec<RequestId>) {
	let model = vector_model(1, 1);
	let key = executor(10, &[model]);
	let ids = request_many(1, model, count as u64);
	next_block();
	for id in &ids {
		assert!(matches!(status(*id), RequestStatus::Assigned { .. }), "request {id}");
	}
	(key, ids)
}

/// `key`'s signed commitments to the honest output of each request.
fn commitments(key: &ExecutorPublic, ids: &[RequestId]) -> Vec<CommitmentItem> {
	ids.iter()
		.map(|id| {
			let (commitment, signature) = signed_commitment(*id, key, &out(&honest_output()));
			CommitmentItem { request_id: *id, commitment, signature }
		})
		.collect()
}

/// `key`'s signed reveals of the honest output of each request.
fn reveals(key: &ExecutorPublic, ids: &[RequestId]) -> Vec<RevealItem> {
	ids.iter()
		.map(|id| {
			let outcome = out(&honest_output());
			RevealItem { request_id: *id, signature: sign_outcome(*id, key, &outcome), outcome }
		})
		.collect()
}

fn commit_call(items: Vec<CommitmentItem>) -> Call<Test> {
	Call::submit_commitments { batch: BoundedVec::truncate_from(items) }
}

fn reveal_call(items: Vec<RevealItem>) -> Call<Test> {
	Call::submit_attestations { batch: BoundedVec::truncate_from(items) }
}

/// Validate, then dispatch through the authorized origin, as a block would.
fn include(call: Call<Test>) {
	assert_ok!(validity(call.clone()));
	let origin: RuntimeOrigin = frame_system::Origin::<Test>::Authorized.into();
	assert_ok!(frame_support::traits::UnfilteredDispatchable::dispatch_bypass_filter(call, origin));
}

#[test]
fn one_batch_commits_and_one_batch_reveals_and_settles_many_requests() {
	run_test(|| {
		let (key, ids) = requests_of_one_executor(4);
		include(commit_call(commitments(&key, &ids)));
		for id in &ids {
			assert_eq!(Requests::<Test>::get(id).unwrap().commitments.len(), 1, "request {id}");
		}
		include(reveal_call(reveals(&key, &ids)));
		for id in &ids {
			assert!(matches!(status(*id), RequestStatus::Finalized { .. }), "request {id}");
			System::assert_has_event(
				Event::AttestationSubmitted {
					request_id: *id,
					executor: 10,
					output_hash: out(&honest_output()).hash(),
					matches_commitment: true,
				}
				.into(),
			);
		}
	});
}

#[test]
fn one_bad_item_makes_the_whole_batch_invalid_and_records_nothing() {
	run_test(|| {
		let (key, ids) = requests_of_one_executor(4);
		let mut items = commitments(&key, &ids);
		// The last item's signature is another request's.
		items[3].signature = items[0].signature.clone();
		assert_eq!(validity(commit_call(items)), Err(refused(Error::<Test>::BadSignature)));
		for id in &ids {
			assert!(Requests::<Test>::get(id).unwrap().commitments.is_empty());
		}
	});
}

#[test]
fn empty_mixed_and_repeating_batches_are_refused() {
	run_test(|| {
		let model = vector_model(1, 1);
		let first = executor(10, &[model]);
		let second = executor(11, &[model]);
		let mut ids = Vec::new();
		while ids.len() < 2 || assignees(ids[ids.len() - 1])[0].1 == assignees(ids[0])[0].1 {
			ids.push(assigned_request(1, model));
		}
		let (a, b) = (ids[0], ids[ids.len() - 1]);
		let key_of = |id| if assignees(id)[0].1 == first { first.clone() } else { second.clone() };
		assert_eq!(validity(commit_call(vec![])), Err(refused(Error::<Test>::EmptyBatch)));
		let mixed = [commitments(&key_of(a), &[a]), commitments(&key_of(b), &[b])].concat();
		assert_eq!(validity(commit_call(mixed)), Err(refused(Error::<Test>::MixedBatch)));
		let twice = commitments(&key_of(a), &[a, a]);
		assert_eq!(validity(commit_call(twice)), Err(refused(Error::<Test>::DuplicateInBatch)));
		assert_eq!(validity(reveal_call(vec![])), Err(refused(Error::<Test>::EmptyBatch)));
	});
}

#[test]
fn a_batch_and_a_single_answer_provide_the_same_tags() {
	// The pool keeps one of the two: an answer is never recorded twice, and a batch cannot
	// ride alongside a single transaction carrying one of its items.
	run_test(|| {
		let (key, ids) = requests_of_one_executor(2);
		let items = commitments(&key, &ids);
		let batch = validity(commit_call(items.clone())).unwrap();
		for item in items {
			let single = validity(Call::submit_commitment {
				request_id: item.request_id,
				commitment: item.commitment,
				signature: item.signature,
			})
			.unwrap();
			assert!(single.provides.iter().all(|tag| batch.provides.contains(tag)));
		}
	});
}

#[test]
fn a_batch_weighs_its_items() {
	run_test(|| {
		use frame_support::dispatch::GetDispatchInfo;
		let (key, ids) = requests_of_one_executor(4);
		let one = commit_call(commitments(&key, &ids[..1])).get_dispatch_info().call_weight;
		let four = commit_call(commitments(&key, &ids)).get_dispatch_info().call_weight;
		assert_eq!(four, one * 4);
		let one = reveal_call(reveals(&key, &ids[..1])).get_dispatch_info().call_weight;
		let four = reveal_call(reveals(&key, &ids)).get_dispatch_info().call_weight;
		assert_eq!(four, one * 4);
	});
}
