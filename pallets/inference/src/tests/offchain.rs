//! The offchain worker against a scripted executor: replies checked (profile, size), each
//! step dispatched once, nothing kept once the job closes, and nothing kept for a request of
//! one fork taken for another fork's request under the same id.

use super::*;
use crate::offchain::{
	claims::Attempt,
	claims::{self, Claim, JobKey, Step},
	executor_http::{HttpFailure, Job},
	EXECUTOR_URL_KEY,
};
use codec::Decode;
use frame_support::traits::Hooks;
use parking_lot::RwLock;
use sp_core::offchain::{
	testing::{OffchainState, PendingRequest, PoolState, TestOffchainExt, TestTransactionPoolExt},
	OffchainDbExt, OffchainWorkerExt, TransactionPoolExt,
};
use sp_runtime::offchain::storage::StorageValueRef;
use std::sync::Arc;
use verity_primitives::RejectionCode;

/// Where the scripted executor answers.
const URL: &str = "http://executor.test";

/// The profile the test models name.
const PROFILE: &str = "tract-0.23/generic";

/// The offchain side of a test: the executor's script and the transaction pool. A job sent
/// to the executor without a scripted answer panics the test, and a scripted answer left
/// unasked panics it when the state is dropped: each test sends exactly the jobs it scripts.
struct Node {
	offchain: Arc<RwLock<OffchainState>>,
	pool: Arc<RwLock<PoolState>>,
}

impl Node {
	/// Script the executor's next answer to the job `request_id` asks for.
	fn executor_answers(&self, request_id: RequestId, reply: impl Into<Vec<u8>>) {
		let request = Requests::<Test>::get(request_id).unwrap();
		let model = crate::Models::<Test>::get(request.model_id).unwrap();
		let artifact_uri = String::from_utf8(model.metadata.artifact_uri.to_vec()).unwrap();
		let input = Inference::request_input(request_id);
		let job = job(&request.model_id, &artifact_uri, &input);
		self.offchain.write().expect_request(PendingRequest {
			method: "POST".into(),
			uri: format!("{URL}/v1/infer"),
			headers: vec![("Content-Type".into(), "application/json".into())],
			body: job.body().unwrap().into_bytes(),
			response: Some(reply.into()),
			sent: true,
			..Default::default()
		});
	}

	/// The calls the worker submitted so far, taken out of the pool.
	fn take_submitted(&self) -> Vec<crate::Call<Test>> {
		std::mem::take(&mut self.pool.write().transactions)
			.into_iter()
			.map(|bytes| match Extrinsic::decode(&mut &bytes[..]).unwrap().function {
				RuntimeCall::Inference(call) => call,
				other => panic!("the worker submitted {other:?}"),
			})
			.collect()
	}

	/// The worker's one submission, a batch of one commitment; panics on anything else.
	fn take_one_commitment(&self) -> crate::CommitmentItem {
		let submitted = self.take_submitted();
		let [crate::Call::submit_commitments { batch }] = &submitted[..] else {
			panic!("expected one batch of commitments, got {submitted:?}");
		};
		let [item] = &batch[..] else { panic!("expected one commitment, got {batch:?}") };
		item.clone()
	}

	/// The worker's one submission, a batch of one reveal; panics on anything else.
	fn take_one_reveal(&self) -> crate::RevealItem {
		let submitted = self.take_submitted();
		let [crate::Call::submit_attestations { batch }] = &submitted[..] else {
			panic!("expected one batch of reveals, got {submitted:?}");
		};
		let [item] = &batch[..] else { panic!("expected one reveal, got {batch:?}") };
		item.clone()
	}

	/// The worker's submitted batches of commitments, as the request ids in each; panics on
	/// any other call.
	fn take_commitment_batches(&self) -> Vec<Vec<RequestId>> {
		self.take_submitted()
			.iter()
			.map(|call| match call {
				crate::Call::submit_commitments { batch } => {
					batch.iter().map(|item| item.request_id).collect()
				},
				other => panic!("expected batches of commitments, got {other:?}"),
			})
			.collect()
	}
}

/// A job as the worker builds it.
fn job<'a>(model_id: &'a ModelId, artifact_uri: &'a str, input: &'a [u8]) -> Job<'a> {
	Job {
		url: URL,
		auth_token: None,
		model_id,
		artifact_uri,
		profile: PROFILE.as_bytes(),
		input,
		max_output_len: 4096,
	}
}

/// An executor's 200 reply with `output` under `profile`.
fn reply(output: &[u8], profile: &str) -> Vec<u8> {
	serde_json::json!({
		"output": crate::offchain::executor_http::to_hex(output),
		"output_hash": format!("{:#x}", verity_primitives::content_hash(output)),
		"profile": profile,
		"elapsed_ms": 3,
	})
	.to_string()
	.into_bytes()
}

/// Run `test` with a worker whose node has an executor URL, a scripted executor and a pool.
fn with_worker(test: impl FnOnce(&Node)) {
	let mut ext = new_test_ext();
	let (offchain, offchain_state) = TestOffchainExt::new();
	let (pool, pool_state) = TestTransactionPoolExt::new();
	ext.register_extension(OffchainDbExt::new(offchain.clone()));
	ext.register_extension(OffchainWorkerExt::new(offchain));
	ext.register_extension(TransactionPoolExt::new(pool));
	ext.execute_with(|| {
		StorageValueRef::persistent(EXECUTOR_URL_KEY).set(&URL.as_bytes().to_vec());
		test(&Node { offchain: offchain_state, pool: pool_state });
	});
}

/// Run the worker for the current block.
fn run_worker() {
	Inference::offchain_worker(System::block_number());
}

/// The job request `request_id`, as the chain shows it now, gives `key`.
fn job_of(request_id: RequestId, key: &ExecutorPublic) -> JobKey {
	let request = Requests::<Test>::get(request_id).unwrap();
	JobKey {
		request_id,
		model_id: request.model_id,
		input_hash: request.input_hash,
		key: key.clone(),
	}
}

/// The claim held on `step` of the job.
fn claim_on(request_id: RequestId, key: &ExecutorPublic, step: Step) -> Option<Claim<u64>> {
	StorageValueRef::persistent(&claims::claim_key(&job_of(request_id, key), step))
		.get()
		.unwrap()
}

/// The outcome the node keeps for the job.
fn kept_outcome(request_id: RequestId, key: &ExecutorPublic) -> Option<InferenceOutcome> {
	StorageValueRef::persistent(&claims::outcome_key(&job_of(request_id, key)))
		.get::<InferenceOutcome>()
		.unwrap()
}

/// One executor (the node's key) of a redundancy-1 model, with a request assigned to it.
fn one_assigned_job() -> (RequestId, ExecutorPublic) {
	let model_id = vector_model(1, 1);
	let key = executor(10, &[model_id]);
	(assigned_request(1, model_id), key)
}

#[test]
fn each_step_is_dispatched_once_and_the_closed_job_leaves_nothing_behind() {
	with_worker(|node| {
		let (request_id, key) = one_assigned_job();
		node.executor_answers(request_id, reply(&honest_output(), PROFILE));
		run_worker();
		let crate::CommitmentItem { commitment, signature, .. } = node.take_one_commitment();

		// Another worker of this block neither runs the job again nor resubmits while the
		// commitment is on its way.
		run_worker();
		assert!(node.take_submitted().is_empty(), "no double dispatch (and no job sent again)");

		// On chain, the commitment ends the commit phase; the reveal uses the kept outcome.
		assert_ok!(submit_commitment(request_id, commitment, signature));
		next_block();
		// Nothing is scripted: the reveal does not run the job again.
		run_worker();
		assert_eq!(claim_on(request_id, &key, Step::Commit), None, "a step on chain is let go");
		let crate::RevealItem { outcome, signature, .. } = node.take_one_reveal();
		assert_eq!(outcome, out(&honest_output()));
		assert_ok!(submit_reveal(request_id, outcome, signature));

		// The job is closed. It stays in the ledger while the chain could still switch to a
		// fork where it is open; then its claims, its kept outcome and its ledger entry go.
		run_worker();
		assert_eq!(claims::ledger::<u64>().len(), 1);
		run_blocks(u64::from(claims::FORK_MARGIN_BLOCKS));
		run_worker();
		assert_eq!(claim_on(request_id, &key, Step::Reveal), None);
		assert_eq!(kept_outcome(request_id, &key), None);
		assert!(claims::ledger::<u64>().is_empty());
	});
}

#[test]
fn a_reply_under_another_profile_is_refused_and_the_job_retried() {
	with_worker(|node| {
		let (request_id, key) = one_assigned_job();
		node.executor_answers(request_id, reply(&honest_output(), "tract-0.23/native"));
		run_worker();
		assert!(node.take_submitted().is_empty(), "nothing is committed for a foreign profile");
		assert_eq!(claim_on(request_id, &key, Step::Commit), None, "the claim is given back");

		node.executor_answers(request_id, reply(&honest_output(), PROFILE));
		run_worker();
		assert!(matches!(&node.take_submitted()[..], [crate::Call::submit_commitments { .. }]));
	});
}

#[test]
fn a_reply_longer_than_any_honest_one_is_refused() {
	with_worker(|node| {
		let (request_id, _) = one_assigned_job();
		let limit = job(&ModelId::zero(), "", &[]).reply_limit();
		let mut bloated = reply(&honest_output(), PROFILE);
		bloated.resize(limit + 1, b' ');
		node.executor_answers(request_id, bloated);
		run_worker();
		assert!(node.take_submitted().is_empty(), "a reply past the limit is no outcome");
	});
}

#[test]
fn a_rejection_counts_only_under_the_models_profile() {
	let model_id = ModelId::repeat_byte(1);
	let job = job(&model_id, "", &[]);
	let rejection = |profile: Option<&str>| {
		let mut body =
			serde_json::json!({ "error": "text is not UTF-8", "rejection": "InvalidUtf8" });
		if let Some(profile) = profile {
			body["profile"] = profile.into();
		}
		body.to_string().into_bytes()
	};
	assert_eq!(
		job.outcome_of(422, &rejection(Some(PROFILE))),
		Ok(InferenceOutcome::Rejected(RejectionCode::InvalidUtf8))
	);
	assert_eq!(
		job.outcome_of(422, &rejection(Some("tract-0.23/native"))),
		Err(HttpFailure::ProfileMismatch { executor: "tract-0.23/native".into() })
	);
	assert_eq!(
		job.outcome_of(422, &rejection(None)),
		Err(HttpFailure::ProfileMismatch { executor: String::new() }),
		"a rejection that names no profile is refused"
	);
	assert_eq!(
		job.outcome_of(422, br#"{"error": "the model is malformed"}"#),
		Err(HttpFailure::Status(422)),
		"a 422 without a rejection code is a failure to retry"
	);
	assert_eq!(job.outcome_of(503, br#"{"error": "busy"}"#), Err(HttpFailure::Status(503)));
	assert_eq!(job.outcome_of(200, b"not json"), Err(HttpFailure::BadReply));
}

#[test]
fn a_running_claim_lasts_until_its_http_deadline_and_a_submitted_one_a_few_blocks() {
	with_worker(|_| {
		let (request_id, key) = one_assigned_job();
		let job = job_of(request_id, &key);
		let take = |now, now_ms, until_ms| claims::take(&job, Step::Commit, now, now_ms, until_ms);
		assert_eq!(take(2u64, 0, 70_000), Some(Attempt::First));
		assert_eq!(take(3, 69_999, 139_999), None);
		assert_eq!(take(3, 70_000, 140_000), Some(Attempt::Again), "lapsed");

		claims::submitted(&job, Step::Commit, 5u64);
		let retry_from = 5 + u64::from(claims::RESUBMIT_BLOCKS);
		assert_eq!(take(retry_from - 1, u64::MAX, 0), None);
		assert_eq!(take(retry_from, 0, 1), Some(Attempt::Again), "resent");

		// A job last seen open at `retry_from` is cleared `FORK_MARGIN_BLOCKS` later, not before
		// (nor by a worker of an older block, which may not see the job yet).
		claims::note_open_jobs::<u64>(std::slice::from_ref(&job), retry_from);
		let margin = u64::from(claims::FORK_MARGIN_BLOCKS);
		claims::forget_closed_jobs::<u64>(&[], retry_from - 1);
		claims::forget_closed_jobs::<u64>(&[], retry_from + margin - 1);
		assert_eq!(claims::ledger::<u64>().len(), 1);
		claims::forget_closed_jobs::<u64>(&[], retry_from + margin);
		assert!(claims::ledger::<u64>().is_empty());
		assert_eq!(claim_on(request_id, &key, Step::Commit), None);
	});
}

#[test]
fn a_blocks_answers_travel_in_full_batches_nearest_deadline_first() {
	with_worker(|node| {
		let model_id = vector_model(1, 1);
		let key = executor(10, &[model_id]);
		// Two requests a block before five others: drawn in the block that carries them (the
		// queue is empty), their deadline is a block earlier.
		let mut ids = Vec::new();
		for (count, then_next_block) in [(2, true), (5, false)] {
			ids.extend(request_many(1, model_id, count));
			if then_next_block {
				next_block();
			}
		}
		let first = ids[0];
		for id in &ids {
			node.executor_answers(*id, reply(&honest_output(), PROFILE));
		}
		run_worker();
		let batches = node.take_commitment_batches();
		let full = <<Test as crate::Config>::MaxAnswersPerBatch as frame_support::traits::Get<
			u32,
		>>::get() as usize;
		assert_eq!(batches.len(), ids.len().div_ceil(full), "{batches:?}");
		assert!(batches.iter().all(|batch| batch.len() <= full));
		let order: Vec<RequestId> = batches.concat();
		let deadline = |id: &RequestId| crate::Requests::<Test>::get(id).unwrap().status.deadline();
		assert!(order.windows(2).all(|pair| deadline(&pair[0]) <= deadline(&pair[1])), "{order:?}");
		assert!(deadline(&first) < deadline(&ids[6]), "two deadlines to order");
		let mut answered = order.clone();
		answered.sort();
		assert_eq!(answered, ids, "every job answered once");
		for id in &ids {
			assert!(claim_on(*id, &key, Step::Commit).is_some(), "request {id} stays claimed");
		}
	});
}

#[test]
fn an_answer_sent_again_travels_apart_from_first_answers() {
	with_worker(|node| {
		// Answer windows long enough for a resend before the commit deadline.
		let mut metadata = vector_metadata(1);
		metadata.answer_blocks = 8;
		let model_id = ModelId::repeat_byte(7);
		assert_ok!(Inference::register_model(RuntimeOrigin::root(), model_id, metadata));
		executor(10, &[model_id]);
		let first = assigned_request(1, model_id);
		node.executor_answers(first, reply(&honest_output(), PROFILE));
		run_worker();
		// Its transaction went to the pool; the chain never shows it (it may still wait there).
		assert_eq!(node.take_submitted().len(), 1);
		// `assigned_request` opens the request and runs the block that assigns it.
		run_blocks(u64::from(claims::RESUBMIT_BLOCKS) - 1);
		let second = assigned_request(1, model_id);
		node.executor_answers(second, reply(&honest_output(), PROFILE));
		run_worker();
		let batches = node.take_commitment_batches();
		assert_eq!(
			batches,
			vec![vec![second], vec![first]],
			"a pool still holding the first answer refuses only its resend, not the new answer"
		);
	});
}

#[test]
fn a_request_id_another_fork_gave_another_input_is_answered_for_its_own_input() {
	with_worker(|node| {
		let model_id = vector_model(1, 1);
		let key = executor(10, &[model_id]);
		let honest_for = |input: &[u8]| vector("y", &[input.len() as f32, 0.5]);

		// On a fork the chain then leaves, request `id` carries one input; the node's worker
		// runs it, keeps its outcome and commits to it.
		sp_io::storage::start_transaction();
		let id = assigned_request(1, model_id);
		let forked_input = Inference::request_input(id).to_vec();
		node.executor_answers(id, reply(&honest_for(&forked_input), PROFILE));
		run_worker();
		assert_eq!(node.take_commitment_batches(), vec![vec![id]]);
		sp_io::storage::rollback_transaction();

		// On the fork that stays, the same id carries another request.
		let other_input = vector("x", &[4.0, 5.0, 6.0, 7.0, 8.0]);
		assert_ok!(Inference::request_inference(
			RuntimeOrigin::signed(2),
			model_id,
			other_input.clone(),
			u64::MAX
		));
		next_block();
		assert_eq!(Inference::request_input(id).to_vec(), other_input, "the id is reused");
		let output = honest_for(&other_input);
		assert_ne!(output, honest_for(&forked_input));

		// The worker runs it (the scripted job is asked for, or the test fails) and commits to
		// its own outcome, not to the one it kept for the other fork's request.
		node.executor_answers(id, reply(&output, PROFILE));
		run_worker();
		assert_eq!(
			claims::ledger::<u64>().len(),
			2,
			"the other fork's job is kept while the chain could still switch back to it"
		);
		let crate::CommitmentItem { commitment, signature, .. } = node.take_one_commitment();
		assert_eq!(kept_outcome(id, &key), Some(out(&output)));
		assert_ok!(submit_commitment(id, commitment, signature));
		next_block();

		// Its reveal matches its commitment and the quorum: paid, not slashed.
		run_worker();
		let crate::RevealItem { outcome, signature, .. } = node.take_one_reveal();
		assert_eq!(outcome, out(&output));
		assert_ok!(submit_reveal(id, outcome, signature));
		let attestation = &Requests::<Test>::get(id).unwrap().attestations[0];
		assert!(attestation.matches_commitment, "the reveal keeps the commitment");

		// The other fork's job is not open here: the worker forgets it with the closed ones,
		// once the chain could no longer switch back.
		run_blocks(u64::from(claims::FORK_MARGIN_BLOCKS));
		run_worker();
		assert!(claims::ledger::<u64>().is_empty(), "{:?}", claims::ledger::<u64>());
	});
}
