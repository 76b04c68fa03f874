//! Requests: admission, escrow, assignment.

use super::*;
use crate::{Assignments, Deadlines, Error, Event, HoldReason, NextRequestId};
use frame_support::{assert_noop, assert_ok};
use verity_primitives::ModelStatus;

#[test]
fn request_inference_escrows_the_fee_and_assigns_in_its_own_block() {
	run_test(|| {
		let model = vector_model(1, 2);
		for who in 10..13 {
			executor(who, &[model]);
		}
		let fee = total_fee(2);
		assert_ok!(Inference::request_inference(RuntimeOrigin::signed(1), model, input(), fee));
		assert_eq!(held(HoldReason::RequestEscrow, 1), fee);
		assert_eq!(free(1), ENDOWMENT - fee);
		System::assert_has_event(
			Event::InferenceRequested { request_id: 0, requester: 1, model_id: model, fee }.into(),
		);

		// No request waits before it and the block has room: drawn at once, no block lost.
		let deadline = 1 + RESPONSE_TIMEOUT;
		assert_eq!(status(0), RequestStatus::Assigned { deadline });
		let drawn = assignees(0);
		assert_eq!(drawn.len(), 2);
		assert_ne!(drawn[0].0, drawn[1].0, "executors are distinct");
		for (account, _) in &drawn {
			assert!(Assignments::<Test>::contains_key(account, 0));
		}
		assert_eq!(Deadlines::<Test>::get(deadline).to_vec(), vec![0]);
		assert_eq!(NextRequestId::<Test>::get(), 1);
	});
}

#[test]
fn request_inference_refusals_hold_nothing() {
	run_test(|| {
		let model = vector_model(1, 2);
		executor(10, &[model]);
		let request = |model_id, input: Vec<u8>, max_fee| {
			Inference::request_inference(RuntimeOrigin::signed(1), model_id, input, max_fee)
		};

		assert_noop!(request(H256::repeat_byte(9), input(), u64::MAX), Error::<Test>::UnknownModel);
		assert_noop!(request(model, vec![0; 4097], u64::MAX), Error::<Test>::InputTooLarge);
		assert_noop!(request(model, vec![1, 2, 3], u64::MAX), Error::<Test>::MalformedInput);
		// Data length not matching the shape.
		let mut ragged = TensorMap(vec![Tensor {
			name: b"x".to_vec(),
			dtype: DType::F32,
			shape: vec![3],
			data: vec![0; 11],
		}]);
		assert_noop!(request(model, ragged.encode(), u64::MAX), Error::<Test>::MalformedInput);
		// Well formed, but named, typed or shaped unlike the model's input.
		assert_noop!(
			request(model, vector("z", &[1.0]), u64::MAX),
			Error::<Test>::InputSpecMismatch
		);
		ragged.0[0].dtype = DType::U8;
		ragged.0[0].data = vec![0; 3];
		assert_noop!(request(model, ragged.encode(), u64::MAX), Error::<Test>::InputSpecMismatch);
		assert_noop!(request(model, input(), total_fee(2) - 1), Error::<Test>::FeeAboveMax);
		// Only one executor serves a redundancy-2 model.
		assert_noop!(request(model, input(), u64::MAX), Error::<Test>::NotEnoughExecutors);
		executor(11, &[model]);
		assert_noop!(
			Inference::request_inference(RuntimeOrigin::signed(99), model, input(), u64::MAX),
			Error::<Test>::InsufficientBalance
		);

		assert_ok!(Inference::set_model_status(
			RuntimeOrigin::root(),
			model,
			ModelStatus::Deprecated
		));
		assert_noop!(request(model, input(), u64::MAX), Error::<Test>::ModelNotActive);
		assert_eq!(held(HoldReason::RequestEscrow, 1), 0);
	});
}

#[test]
fn a_request_behind_an_audit_is_drawn_in_its_own_block_after_it() {
	// A settlement in a block queues its audit; a request later in the block used to find the
	// queue not empty and wait for the next block's hook. It now gives the one request before
	// it its turn first (first come, first served) and pays for that turn; behind two it waits.
	run_test(|| {
		AuditProbability::set(sp_runtime::Permill::one());
		let model = vector_model(1, 1);
		for who in 10..13 {
			executor(who, &[model]);
		}
		let first = assigned_request(1, model);
		answer_all(first, &honest_output());
		assert_eq!(Inference::queued_requests(), 1, "the audit waits");
		let audit = NextRequestId::<Test>::get() - 1;

		let info = Inference::request_inference(RuntimeOrigin::signed(1), model, input(), u64::MAX)
			.expect("a valid request");
		let request = audit + 1;
		assert!(matches!(status(audit), RequestStatus::Assigned { .. }));
		assert!(matches!(status(request), RequestStatus::Assigned { .. }));
		assert_eq!(Inference::queued_requests(), 0);
		assert_eq!(
			info.actual_weight,
			Some(Inference::request_weight(
				input().len() as u32,
				crate::ServedBefore::Yes,
				crate::DrawSize {
					pool: crate::ModelExecutors::<Test>::decode_len(model).unwrap_or(0) as u32,
					seated: 1,
				}
			)),
			"charged by its own draw: the pool it read and the executor it seated"
		);

		// Two settlements, two audits before it: the hook serves them all, in order.
		let pair = request_many(1, model, 2);
		next_block();
		for id in pair {
			answer_all(id, &honest_output());
		}
		assert_eq!(Inference::queued_requests(), 2);
		let info = Inference::request_inference(RuntimeOrigin::signed(1), model, input(), u64::MAX)
			.expect("a valid request");
		let waiting = NextRequestId::<Test>::get() - 1;
		assert_eq!(status(waiting), RequestStatus::Pending);
		assert_eq!(
			info.actual_weight,
			Some(Inference::request_weight(
				input().len() as u32,
				crate::ServedBefore::No,
				crate::DrawSize::NONE
			)),
			"a request left waiting drew from no pool: charged the smallest"
		);
		next_block();
		assert!(matches!(status(waiting), RequestStatus::Assigned { .. }));
		assert_eq!(Inference::queued_requests(), 0);
	});
}

#[test]
fn requests_beyond_a_blocks_capacity_wait_their_turn_and_none_fails() {
	// 300 requests sent at once used to leave all but 64 included and failed, fees paid. Now
	// `MaxRequestsPerBlock` (8 here) are assigned in the block that carries them and the rest
	// queue, assigned as room frees up, first come, first served: every one of them is
	// assigned.
	run_test(|| {
		let model = vector_model(1, 1);
		// Three executors, so that none reaches `MaxOpenAssignments` (16 here).
		executor(10, &[model]);
		executor(11, &[model]);
		executor(12, &[model]);
		for _ in 0..20 {
			assert_ok!(Inference::request_inference(
				RuntimeOrigin::signed(1),
				model,
				input(),
				u64::MAX
			));
		}
		let assigned = |ids: core::ops::Range<u64>| {
			ids.map(status).filter(|s| matches!(s, RequestStatus::Assigned { .. })).count()
		};
		assert_eq!(assigned(0..8), 8, "the first eight, at once");
		assert_eq!(assigned(8..20), 0);
		assert_eq!(Inference::queued_requests(), 12);
		next_block();
		assert_eq!(assigned(8..16), 8, "the next eight, in order");
		assert_eq!(status(16), RequestStatus::Pending);
		next_block();
		assert_eq!(assigned(0..20), 20);
		assert_eq!(Inference::queued_requests(), 0);
		// A request waits without its deadline running: each was given the full timeouts
		// from the block it was assigned in.
		assert_eq!(status(19), RequestStatus::Assigned { deadline: 3 + RESPONSE_TIMEOUT });
	});
}

#[test]
fn an_executor_at_its_cap_is_passed_over_and_a_busy_pool_waits_at_the_front_of_the_queue() {
	// The attack on capacity: a burst of requests handing one executor more work than its
	// answers can carry before the deadlines, so that it misses, is slashed and evicted, and
	// the requests fail. With `MaxOpenAssignments` (16 here) the draw passes over an executor
	// at the cap, and a request whose pool has no executor with room waits at the front of the
	// queue, ahead of later requests (of any model), until an answer frees a place.
	run_test(|| {
		let model = vector_model(1, 1);
		let key = executor(10, &[model]);
		let ids = request_many(1, model, 20);
		next_block();
		let open = || crate::Executors::<Test>::get(10).unwrap().open_assignments;
		assert_eq!(open(), 16, "eight at once, eight in the next block");
		let assigned = |range: &[RequestId]| {
			range
				.iter()
				.filter(|id| matches!(status(**id), RequestStatus::Assigned { .. }))
				.count()
		};
		assert_eq!(assigned(&ids), 16);
		// A request of another model, behind the busy pool's, waits its turn too.
		let other = vector_model(2, 1);
		executor(11, &[other]);
		let behind = request_many(2, other, 1)[0];
		next_block();
		assert_eq!(assigned(&ids), 16, "the cap holds");
		assert_eq!(status(ids[16]), RequestStatus::Pending);
		assert_eq!(status(behind), RequestStatus::Pending, "first come, first served");
		assert_eq!(Inference::queued_requests(), 5);
		let waiting: Vec<RequestId> = Inference::queued_request_ids().collect();
		assert_eq!(waiting, [&ids[16..], &[behind]].concat(), "in arrival order");

		// One answer frees one place: the next block assigns exactly one more.
		assert_ok!(attest(ids[8], &key, &honest_output()));
		assert_eq!(open(), 15);
		next_block();
		assert_eq!(open(), 16);
		assert!(matches!(status(ids[16]), RequestStatus::Assigned { .. }));
		assert_eq!(status(ids[17]), RequestStatus::Pending);

		// A second executor joining the pool has room: the draw seats the waiting requests
		// on it, and the request behind them gets its turn.
		executor(12, &[model]);
		next_block();
		assert_eq!(assigned(&ids), 19);
		assert!(matches!(status(behind), RequestStatus::Assigned { .. }));
		assert_eq!(crate::Executors::<Test>::get(12).unwrap().open_assignments, 3);
		assert_eq!(Inference::queued_requests(), 0);

		// At the deadlines the unanswered assignments close as misses and free their places;
		// nothing was refused or lost on the way.
		for _ in 0..=RESPONSE_TIMEOUT {
			next_block();
		}
		assert_eq!(open(), 0);
		assert_eq!(crate::Executors::<Test>::get(12).unwrap().open_assignments, 0);
		assert!(ids.iter().all(|id| !matches!(status(*id), RequestStatus::Unassignable)));
	});
}

/// A call that requests `model` with the tests' input.
fn request_call(model: verity_primitives::ModelId) -> RuntimeCall {
	crate::Call::<Test>::request_inference { model_id: model, input: input(), max_fee: u64::MAX }
		.into()
}

/// What the transaction pool (and the block builder) says of `call` from account 1:
/// `CheckRequestRoom`'s validation.
fn pool_validity(
	call: &RuntimeCall,
) -> Result<(), frame_support::pallet_prelude::TransactionValidityError> {
	use crate::CheckRequestRoom;
	use frame_support::{dispatch::GetDispatchInfo, pallet_prelude::TransactionSource};
	use sp_runtime::traits::{TransactionExtension, TxBaseImplication};
	CheckRequestRoom::<Test>::new()
		.validate(
			RuntimeOrigin::signed(1),
			call,
			&call.get_dispatch_info(),
			0,
			(),
			&TxBaseImplication(()),
			TransactionSource::External,
		)
		.map(|_| ())
}

#[test]
fn a_full_queue_refuses_requests_in_the_pool_and_holds_nothing() {
	// The block assigns 8 at once; then transactions may fill the queue up to 2 *
	// MaxRequestsPerBlock short of its bound (40 - 16 = 24 here). Beyond that the transaction
	// extension refuses the request before it is included, so no fee is charged; a request
	// dispatched anyway is refused by name, holding nothing. Audits still find room in the
	// reserve.
	use crate::{RequestKind, QUEUE_FULL};
	use frame_support::pallet_prelude::{InvalidTransaction, TransactionValidityError};
	run_test(|| {
		let model = vector_model(1, 1);
		executor(10, &[model]);
		let call = request_call(model);
		for _ in 0..8 + 24 {
			assert_ok!(pool_validity(&call));
			assert_ok!(Inference::request_inference(
				RuntimeOrigin::signed(1),
				model,
				input(),
				u64::MAX
			));
		}
		assert_eq!(
			pool_validity(&call),
			Err(TransactionValidityError::Invalid(InvalidTransaction::Custom(QUEUE_FULL)))
		);
		let remark: RuntimeCall = frame_system::Call::<Test>::remark { remark: vec![] }.into();
		assert_ok!(pool_validity(&remark));
		assert_noop!(
			Inference::request_inference(RuntimeOrigin::signed(1), model, input(), u64::MAX),
			Error::<Test>::RequestQueueFull
		);
		assert_ok!(Inference::ensure_queue_room(&RequestKind::Audit { original: 0 }));
		next_block();
		assert_ok!(pool_validity(&call));
	});
}

#[test]
fn a_request_for_a_model_short_of_executors_is_refused_in_the_pool() {
	// What it plays: an executor leaves a redundancy-2 pool (it unregisters here; an eviction
	// or a slash below the minimum bond takes it out the same way) while a load of requests
	// for that model is on its way. Each would fail in its block with `NotEnoughExecutors`
	// and pay its fee; the pool refuses them before inclusion instead, and admits them again
	// once the pool is full enough. A request for a model that is not registered is left to
	// the call, which refuses it by name at the requester's cost.
	use crate::{CheckRequestRoom, WeightInfo, TOO_FEW_EXECUTORS};
	use frame_support::pallet_prelude::{InvalidTransaction, TransactionValidityError};
	use sp_runtime::traits::TransactionExtension;
	run_test(|| {
		let model = vector_model(1, 2);
		executor(10, &[model]);
		executor(11, &[model]);
		let call = request_call(model);
		assert_ok!(pool_validity(&call));

		assert_ok!(Inference::unregister_executor(RuntimeOrigin::signed(11)));
		assert_eq!(
			pool_validity(&call),
			Err(TransactionValidityError::Invalid(InvalidTransaction::Custom(TOO_FEW_EXECUTORS)))
		);
		// Dispatched anyway (a block built on an older view): refused by name, holding nothing.
		assert_noop!(
			Inference::request_inference(RuntimeOrigin::signed(1), model, input(), u64::MAX),
			Error::<Test>::NotEnoughExecutors
		);
		assert_ok!(pool_validity(&request_call(H256::repeat_byte(9))));

		executor(12, &[model]);
		assert_ok!(pool_validity(&call));
		assert_ok!(Inference::request_inference(
			RuntimeOrigin::signed(1),
			model,
			input(),
			u64::MAX
		));

		// A request is charged the benchmarked check; a call that opens no request, nothing.
		let remark: RuntimeCall = frame_system::Call::<Test>::remark { remark: vec![] }.into();
		assert_eq!(
			CheckRequestRoom::<Test>::new().weight(&call),
			<() as WeightInfo>::check_request_room()
		);
		assert_eq!(
			CheckRequestRoom::<Test>::new().weight(&remark),
			frame_support::weights::Weight::zero()
		);
	});
}

#[test]
fn a_request_is_refunded_when_its_executors_leave_before_assignment() {
	run_test(|| {
		let model = vector_model(1, 1);
		executor(10, &[model]);
		fill_this_blocks_assignments();
		let id = crate::NextRequestId::<Test>::get();
		assert_ok!(Inference::request_inference(
			RuntimeOrigin::signed(1),
			model,
			input(),
			u64::MAX
		));
		assert_eq!(status(id), RequestStatus::Pending, "queued: the block's room is taken");
		assert_ok!(Inference::unregister_executor(RuntimeOrigin::signed(10)));
		use frame_support::traits::{Get, Hooks};
		let next = System::block_number() + 1;
		System::set_block_number(next);
		let charged = Inference::on_initialize(next);
		assert_eq!(status(id), RequestStatus::Unassignable);
		assert_eq!(held(HoldReason::RequestEscrow, 1), 0);
		assert_eq!(free(1), ENDOWMENT);
		System::assert_has_event(Event::RequestUnassignable { request_id: id }.into());
		// Its turn seated nobody, but a refund writes as much as a seating and tells the
		// listeners: it is charged the most seats a draw makes.
		let pool = crate::ModelExecutors::<Test>::decode_len(model).unwrap_or(0) as u32;
		let seated = <Test as crate::Config>::MaxRedundancy::get();
		assert_eq!(
			charged,
			Inference::hook_overhead()
				.saturating_add(Inference::assign_weight(crate::DrawSize { pool, seated }))
		);
		assert!(Inference::assign_weight(crate::DrawSize { pool, seated: 1 }).all_lt(charged));
	});
}

#[test]
fn assignment_spreads_work_fairly() {
	run_test(|| {
		let model = vector_model(1, 2);
		let executors: Vec<AccountId> = (10..14).collect();
		for who in &executors {
			executor(*who, &[model]);
		}
		let mut counts = std::collections::BTreeMap::<AccountId, u32>::new();
		let rounds = 200;
		for _ in 0..rounds {
			let id = assigned_request(1, model);
			for (account, _) in assignees(id) {
				*counts.entry(account).or_default() += 1;
			}
			answer_all(id, &honest_output());
		}
		// Each of 4 executors expects 2 * 200 / 4 = 100 assignments.
		for who in &executors {
			let count = counts.get(who).copied().unwrap_or_default();
			assert!((70..=130).contains(&count), "executor {who} got {count} of 400 assignments");
		}
	});
}

#[test]
fn unbonding_and_under_bonded_executors_are_not_drawn() {
	run_test(|| {
		let model = vector_model(1, 1);
		executor(10, &[model]);
		executor(11, &[model]);
		assert_ok!(Inference::unregister_executor(RuntimeOrigin::signed(10)));
		for _ in 0..10 {
			let id = assigned_request(1, model);
			assert_eq!(assignees(id)[0].0, 11);
			let (_, key) = assignees(id)[0].clone();
			assert_ok!(attest(id, &key, &honest_output()));
		}
	});
}

/// A model of one input `name` of `dtype`, any length.
fn model_taking(seed: u8, name: &str, dtype: DType) -> ModelId {
	let mut metadata = vector_metadata(1);
	metadata.inputs = vec![TensorSpec {
		name: name.as_bytes().to_vec().try_into().unwrap(),
		dtype,
		shape: vec![Dim::Any].try_into().unwrap(),
	}]
	.try_into()
	.unwrap();
	let model_id = H256::repeat_byte(seed);
	assert_ok!(Inference::register_model(RuntimeOrigin::root(), model_id, metadata));
	executor(10 + u64::from(seed), &[model_id]);
	model_id
}

/// The unrunnable-input attack: inputs the chain accepted but no executor could run used to
/// expire and get the honest executor slashed, for the price of a transaction. What the chain
/// can check cheaply it refuses at submission, holding nothing and asking no executor.
#[test]
fn inputs_no_executor_could_run_are_refused() {
	run_test(|| {
		let text_model = model_taking(1, "text", DType::U8);
		let bytes_model = model_taking(2, "bytes", DType::U8);
		let mask_model = model_taking(3, "mask", DType::Bool);
		let vector_model = model_taking(4, "x", DType::F32);
		let request = |model_id, input: TensorMap| {
			Inference::request_inference(
				RuntimeOrigin::signed(1),
				model_id,
				input.encode(),
				u64::MAX,
			)
		};
		let tensor = |name: &str, dtype, shape: Vec<u32>, data: Vec<u8>| {
			TensorMap(vec![Tensor { name: name.as_bytes().to_vec(), dtype, shape, data }])
		};

		assert_noop!(
			request(text_model, TensorMap::text(&[0xff, 0xfe, 0x41])),
			Error::<Test>::InvalidUtf8Input
		);
		assert_noop!(
			request(mask_model, tensor("mask", DType::Bool, vec![3], vec![0, 1, 2])),
			Error::<Test>::InvalidBoolInput
		);
		assert_noop!(
			request(vector_model, tensor("x", DType::F32, vec![0], vec![])),
			Error::<Test>::EmptyInputAxis
		);
		assert_noop!(request(text_model, TensorMap::text(b"")), Error::<Test>::EmptyInputAxis);
		assert_eq!(held(HoldReason::RequestEscrow, 1), 0);
		assert_eq!(NextRequestId::<Test>::get(), 0, "nothing was stored");

		// The same bytes are fine where they mean no text, and real text is fine.
		assert_ok!(request(
			bytes_model,
			tensor("bytes", DType::U8, vec![3], vec![0xff, 0xfe, 0x41])
		));
		assert_ok!(request(text_model, TensorMap::text("héllo".as_bytes())));
		assert_ok!(request(mask_model, tensor("mask", DType::Bool, vec![3], vec![0, 1, 1])));
	});
}

#[test]
fn a_queued_requests_turn_is_charged_by_the_draw_it_made() {
	// The draw reads every member of the model's pool and writes for each executor it seats:
	// charging each turn for a full pool and the highest redundancy spent the block's room on
	// reads and writes that did not happen.
	run_test(|| {
		use crate::WeightInfo;
		use frame_support::traits::Hooks;
		let model = vector_model(1, 2);
		for who in 10..18 {
			executor(who, &[model]);
		}
		let space = Inference::answer_space_of(2, Inference::output_bound(&model) as u32);
		AnswerWeightPerBlock::set(space.weight);
		let ids = request_many(1, model, 2);
		assert_eq!(status(ids[1]), RequestStatus::Pending, "the second waits for the next block");

		let next = System::block_number() + 1;
		System::set_block_number(next);
		let charged = Inference::on_initialize(next);

		assert!(matches!(status(ids[1]), RequestStatus::Assigned { .. }));
		type Weights = <Test as crate::Config>::WeightInfo;
		// Its draw read a pool of eight and seated two.
		assert_eq!(
			charged,
			Inference::hook_overhead().saturating_add(Weights::assign_request(8, 2))
		);
		assert!(Weights::assign_request(8, 2).all_lt(Inference::max_assign_weight()));
	});
}
