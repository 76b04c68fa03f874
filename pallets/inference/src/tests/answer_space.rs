//! Answer space: a block assigns only the requests whose answers blocks can carry, so a flood
//! of requests cannot leave honest executors' answers waiting past their deadlines.

use super::*;
use crate::{Call, CommitmentItem, Event, Pallet, RevealItem, SlashReason};
use frame_support::{
	dispatch::GetDispatchInfo,
	traits::{Authorize, Get, UnfilteredDispatchable},
	weights::Weight,
	BoundedVec,
};

/// A redundancy-3 model served by executors 10, 11 and 12, and their keys.
fn three_executor_model() -> (ModelId, Vec<ExecutorPublic>) {
	let model = vector_model(1, 3);
	let keys = (10..=12).map(|who| executor(who, &[model])).collect();
	(model, keys)
}

/// The answer space one request of `model` (redundancy 3) calls for.
fn one_requests_answers(model: &ModelId) -> crate::types::AnswerLoad {
	let output_len = Pallet::<Test>::output_bound(model) as u32;
	Pallet::<Test>::answer_space_of(3, output_len)
}

/// A block that carries `requests` requests' answers of `model`, as the chain counts them, and
/// the room a full batch of reveals is charged for the settlements it may complete and does
/// not (the room the chain keeps above its answer space; see `reveal_batch_room`).
fn block_for(model: &ModelId, requests: u64) -> Weight {
	one_requests_answers(model).weight * requests + Pallet::<Test>::reveal_batch_room()
}

/// How many of `ids` have been assigned (answered since, or not).
fn assigned_count(ids: &[RequestId]) -> usize {
	ids.iter().filter(|id| status(**id) != RequestStatus::Pending).count()
}

#[test]
fn a_block_assigns_only_the_requests_whose_answers_it_can_carry() {
	run_test(|| {
		let (model, _) = three_executor_model();
		let weight = one_requests_answers(&model).weight;
		AnswerWeightPerBlock::set(weight * 2);
		let ids = request_many(1, model, 5);
		assert_eq!(assigned_count(&ids), 2, "two requests' answers fit the block");
		assert_eq!(Inference::queued_request_ids().collect::<Vec<_>>(), ids[2..].to_vec());
		next_block();
		assert_eq!(assigned_count(&ids), 4, "the next block assigns the next two, in order");
		next_block();
		assert_eq!(assigned_count(&ids), 5);
		assert_eq!(Inference::queued_requests(), 0);
	});
}

#[test]
fn answer_bytes_bound_a_block_as_answer_weight_does() {
	run_test(|| {
		let (model, _) = three_executor_model();
		let length = one_requests_answers(&model).length;
		AnswerLengthPerBlock::set(length * 3 - 1);
		let ids = request_many(1, model, 4);
		assert_eq!(assigned_count(&ids), 2, "a third request's answers are a byte too long");
		next_block();
		assert_eq!(assigned_count(&ids), 4);
	});
}

#[test]
fn with_nothing_owed_the_first_request_of_a_block_is_always_assigned() {
	run_test(|| {
		AnswerWeightPerBlock::set(Weight::from_parts(1, 1));
		AnswerLengthPerBlock::set(1);
		let (model, keys) = three_executor_model();
		let ids = request_many(1, model, 2);
		assert_eq!(assigned_count(&ids), 1, "one per block: never stuck at the front");
		next_block();
		assert_eq!(assigned_count(&ids), 1, "its answers are owed: the next one waits");
		include_answers_within(&keys, Weight::MAX);
		include_answers_within(&keys, Weight::MAX);
		next_block();
		assert_eq!(assigned_count(&ids), 2, "nothing owed: the next one is assigned");
	});
}

/// One executor's answers due now, as its offchain worker batches them: commitments to the
/// requests still in their commit phase, then reveals of those whose commit phase is over.
fn due_answers(key: &ExecutorPublic) -> Vec<Call<Test>> {
	let mut ids: Vec<RequestId> = Requests::<Test>::iter()
		.filter(|(_, request)| request.status.deadline().is_some())
		.map(|(id, _)| id)
		.collect();
	ids.sort();
	let outcome = out(&honest_output());
	let commitments: Vec<CommitmentItem> = ids
		.iter()
		.filter_map(|id| {
			let (commitment, signature) = signed_commitment(*id, key, &outcome);
			Pallet::<Test>::check_commitment(*id, commitment, &signature, true)
				.ok()
				.map(|_| CommitmentItem { request_id: *id, commitment, signature })
		})
		.collect();
	let reveals: Vec<RevealItem> = ids
		.iter()
		.filter_map(|id| {
			let signature = sign_outcome(*id, key, &outcome);
			Pallet::<Test>::check_reveal(*id, &outcome, &signature, true)
				.ok()
				.map(|_| RevealItem { request_id: *id, outcome: outcome.clone(), signature })
		})
		.collect();
	let per_batch: u32 = <Test as crate::Config>::MaxAnswersPerBatch::get();
	let per_batch = per_batch as usize;
	let commit_batches = commitments
		.chunks(per_batch)
		.map(|items| Call::submit_commitments { batch: BoundedVec::truncate_from(items.to_vec()) });
	let reveal_batches = reveals.chunks(per_batch).map(|items| Call::submit_attestations {
		batch: BoundedVec::truncate_from(items.to_vec()),
	});
	commit_batches.chain(reveal_batches).collect()
}

/// Build this block's operational part as a block builder does: take each executor's due
/// batches in turn while the weight charged before dispatch fits what is left of `space`, and
/// count what each really used once dispatched.
fn include_answers_within(keys: &[ExecutorPublic], space: Weight) {
	let mut queues: Vec<std::collections::VecDeque<Call<Test>>> =
		keys.iter().map(|key| due_answers(key).into()).collect();
	let mut used = Weight::zero();
	while queues.iter().any(|queue| !queue.is_empty()) {
		for queue in queues.iter_mut() {
			let Some(call) = queue.pop_front() else { continue };
			let charged = call.get_dispatch_info().call_weight + call.weight_of_authorize();
			if !(used + charged).all_lte(space) {
				continue;
			}
			call.authorize(frame_support::pallet_prelude::TransactionSource::External)
				.expect("answers are authorized by their signatures")
				.expect("a due answer is valid");
			let origin: RuntimeOrigin = frame_system::Origin::<Test>::Authorized.into();
			let post = call.clone().dispatch_bypass_filter(origin).expect("a due answer lands");
			let call_weight = post.actual_weight.unwrap_or(call.get_dispatch_info().call_weight);
			used += call_weight + call.weight_of_authorize();
		}
	}
}

/// Slashes for misses so far.
fn misses() -> usize {
	System::events()
		.iter()
		.filter(|record| {
			matches!(
				record.event,
				RuntimeEvent::Inference(Event::ExecutorSlashed { reason: SlashReason::Missed, .. })
			)
		})
		.count()
}

/// A flood of requests against executors whose answers blocks carry only `block_space` of: each
/// block, every executor answers all it can and the block takes what fits. Returns the flood's
/// requests.
fn flood_with_answer_space(
	block_space: Weight,
	keys: &[ExecutorPublic],
	model: ModelId,
) -> Vec<RequestId> {
	flood_with_answers_late(block_space, 0, keys, model)
}

/// As `flood_with_answer_space`, but every `late_every`-th block carries no answers at all (its
/// author began before they reached it; 0: none late), so they wait for the next.
fn flood_with_answers_late(
	block_space: Weight,
	late_every: u32,
	keys: &[ExecutorPublic],
	model: ModelId,
) -> Vec<RequestId> {
	let ids = request_many(1, model, u64::from(Inference::queue_room_for_transactions()));
	for block in 1..=40u32 {
		if late_every == 0 || block % late_every != 0 {
			include_answers_within(keys, block_space);
		}
		next_block();
	}
	ids
}

/// The answers owed, in requests' worth of `model` (redundancy 3).
fn requests_owed(model: &ModelId) -> u64 {
	let weight = one_requests_answers(model).weight;
	crate::AnswersOwedTotal::<Test>::get().weight.ref_time() / weight.ref_time()
}

#[test]
fn assignment_waits_while_answers_owed_fill_their_bound() {
	run_test(|| {
		let (model, keys) = three_executor_model();
		let weight = one_requests_answers(&model).weight;
		AnswerWeightPerBlock::set(weight * 2);
		MaxAnswerBlocksOwed::set(1);
		let ids = request_many(1, model, 6);
		assert_eq!(assigned_count(&ids), 2);
		assert_eq!(requests_owed(&model), 2, "each assigned request owes all its answers");
		next_block();
		assert_eq!(assigned_count(&ids), 2, "a block's worth is owed: the next requests wait");
		include_answers_within(&keys, Weight::MAX);
		assert_eq!(requests_owed(&model), 2, "commitments leave the count at the next reveal");
		next_block();
		assert_eq!(assigned_count(&ids), 2, "still owed: still waiting");
		include_answers_within(&keys[..1], Weight::MAX);
		let request = Requests::<Test>::get(ids[0]).expect("stored");
		let shares = Pallet::<Test>::answer_shares_for(&request);
		assert_eq!(
			crate::AnswersOwedTotal::<Test>::get().weight,
			shares.reveal.weight * 4 + shares.settlement.weight * 2,
			"one executor revealed both: the two others' reveals, and both settlements, are owed"
		);
		include_answers_within(&keys[1..], Weight::MAX);
		assert!(crate::AnswersOwedTotal::<Test>::get().is_zero(), "every answer is in");
		next_block();
		assert_eq!(assigned_count(&ids), 4, "answered in full: the next two are assigned");
	});
}

#[test]
fn answers_that_can_no_longer_come_leave_the_count() {
	run_test(|| {
		let (model, keys) = three_executor_model();
		let ids = request_many(1, model, 1);
		include_answers_within(&keys[..2], Weight::MAX);
		assert!(!crate::AnswersOwedTotal::<Test>::get().is_zero(), "the third executor owes");
		run_blocks(COMMIT_TIMEOUT);
		include_answers_within(&keys[..2], Weight::MAX);
		assert!(
			crate::AnswersOwedTotal::<Test>::get().is_zero(),
			"past the commit deadline the silent executor owes nothing more"
		);
		assert!(matches!(status(ids[0]), RequestStatus::Finalized { .. }));
		assert!(Requests::<Test>::get(ids[0]).unwrap().answers_owed.is_zero());
	});
}

#[test]
fn answers_a_block_late_cannot_snowball_into_slashes() {
	run_test(|| {
		let (model, keys) = three_executor_model();
		let weight = one_requests_answers(&model).weight;
		// The chain assigns two requests' answers a block; blocks carry a fifth more, but every
		// third block carries none, so answers come slower than a block's worth a block.
		AnswerWeightPerBlock::set(weight * 2);
		MaxAnswerBlocksOwed::set(2);
		let ids = flood_with_answers_late(
			weight * 12 / 5 + Pallet::<Test>::reveal_batch_room(),
			3,
			&keys,
			model,
		);
		assert_eq!(misses(), 0, "no honest executor is slashed for answers that came late");
		for id in &ids {
			assert!(
				matches!(status(*id), RequestStatus::Finalized { .. }),
				"request {id} finalized"
			);
		}
	});
}

#[test]
fn without_the_count_answers_a_block_late_snowball_into_slashes() {
	run_test(|| {
		let (model, keys) = three_executor_model();
		let weight = one_requests_answers(&model).weight;
		AnswerWeightPerBlock::set(weight * 2);
		// The rule lifted: the attack it stops.
		MaxAnswerBlocksOwed::set(u32::MAX);
		flood_with_answers_late(
			weight * 12 / 5 + Pallet::<Test>::reveal_batch_room(),
			3,
			&keys,
			model,
		);
		assert!(misses() > 0, "late answers pile up past their deadlines and are slashed");
	});
}

#[test]
fn a_flood_of_requests_cannot_get_honest_executors_slashed() {
	run_test(|| {
		let (model, keys) = three_executor_model();
		let weight = one_requests_answers(&model).weight;
		// Blocks carry two requests' answers, and the chain assigns as many per block.
		AnswerWeightPerBlock::set(weight * 2);
		let ids = flood_with_answer_space(block_for(&model, 2), &keys, model);
		assert!(ids.len() >= 20, "a flood: {} requests at once", ids.len());
		assert_eq!(
			misses(),
			0,
			"no honest executor is slashed for answers a block had no room for"
		);
		for id in &ids {
			assert!(
				matches!(status(*id), RequestStatus::Finalized { .. }),
				"request {id} finalized"
			);
		}
		for who in 10..=12 {
			let info = crate::Executors::<Test>::get(who).expect("still registered");
			assert_eq!(info.stats.consecutive_misses, 0);
		}
	});
}

#[test]
fn without_the_bound_the_same_flood_gets_honest_executors_slashed() {
	run_test(|| {
		let (model, keys) = three_executor_model();
		// The chain assigns as its other limits allow, blocks still carry two requests' answers:
		// the attack the bound stops.
		flood_with_answer_space(block_for(&model, 2), &keys, model);
		assert!(misses() > 0, "answers waiting past their deadlines are slashed as misses");
	});
}
