//! The offchain worker: the node's executor keys answer their assignments.
//!
//! Each block, for every executor key in the node's keystore, every open assignment is claimed
//! under an offchain lock (so one step is dispatched once, not once per block), the nearest
//! deadline first, and answered in two steps:
//!
//! 1. **Commit**, in the commit phase: the job goes to the executor at the URL the node was
//!    started with (`--executor-url`, or the embedded executor); its outcome (the output, or
//!    the executor's rejection of the input) is kept in the node's offchain storage, and the
//!    commitment to it is signed with the keystore key and submitted in an authorized
//!    `submit_commitments` transaction, with the key's other commitments of this block.
//! 2. **Reveal**, once the commit phase is over: the kept outcome (or, if the node lost it, a
//!    re-run, which gives the same bytes) is signed and submitted in a `submit_attestations`
//!    transaction, with the key's other reveals of this block.
//!
//! A step is claimed until its HTTP deadline while it runs, and after its transaction went
//! to the pool until the chain shows it or a few blocks pass (see [`claims`]); a failed step
//! releases its claim so a later block retries while the deadline allows. The executor's
//! reply is refused unless it names the model's execution profile, and it is read within a
//! deadline and a size bound (see [`executor_http`]).
//!
//! A node started with the test-only `--executor-copycat` answers as a copycat would instead:
//! it runs nothing, commits a copy of the first commitment on chain and reveals the first
//! outcome revealed. The integration tests use it to show that copying gains nothing: the
//! copied commitment binds the other executor's key, so the reveal breaks it and is slashed.

pub mod claims;
pub mod executor_http;

use crate::{
	runtime_api::AssignmentView, Call, CommitmentItem, Config, Models, Pallet, RevealItem,
	SignedAttestation,
};
use alloc::{string::String, vec::Vec};
use claims::Step;
use codec::Encode;
use executor_http::{HttpFailure, Job, HTTP_TIMEOUT_MS};
use frame_support::{traits::Get, BoundedVec};
use frame_system::{
	offchain::{CreateAuthorizedTransaction, SubmitTransaction},
	pallet_prelude::BlockNumberFor,
};
use sp_core::H256;
use sp_runtime::{offchain::storage::StorageValueRef, RuntimeAppPublic};
use verity_primitives::{
	commitment, commitment_message, AttestationPayload, ExecutorPublic, InferenceOutcome,
};

/// Offchain (persistent, node-local) storage key of the executor's base URL.
pub const EXECUTOR_URL_KEY: &[u8] = b"verity::executor-url";

/// Offchain storage key of the token presented to the executor (SCALE bytes; empty: none).
pub const EXECUTOR_TOKEN_KEY: &[u8] = b"verity::executor-token";

/// Offchain storage key of the test-only copycat mode: SCALE `true` when it is on.
pub const COPYCAT_KEY: &[u8] = b"verity::copycat";

/// Time a step may take beyond its HTTP exchange (signing, submission) before its claim lapses.
const CLAIM_MARGIN_MS: u64 = 10_000;

/// Why a job could not be answered; logged through `Debug`.
#[derive(Debug)]
#[allow(dead_code)]
pub(crate) enum DispatchFailure {
	/// The executor gave no usable outcome.
	Executor(HttpFailure),
	/// The keystore could not sign with the key.
	Signing,
	/// The transaction pool refused the attestation.
	Submission,
	/// The model is not registered any more.
	UnknownModel,
	/// Copycat mode: nothing on chain to copy yet.
	NothingToCopy,
}

impl From<HttpFailure> for DispatchFailure {
	fn from(failure: HttpFailure) -> Self {
		Self::Executor(failure)
	}
}

impl<T: Config> Pallet<T> {
	/// The offchain worker's work for block `now`.
	pub(crate) fn run_offchain_worker(now: BlockNumberFor<T>) {
		let Some(url) = executor_url() else { return };
		let mut open = Vec::new();
		for key in ExecutorPublic::all() {
			let started_ms = sp_io::offchain::timestamp().unix_millis();
			let mut assignments = Self::open_assignments(key.clone());
			let listed = assignments.len();
			let mut steps = 0u32;
			// The nearest deadline first: behind a backlog, what would be missed soonest
			// goes first.
			assignments.sort_by_key(|assignment| (assignment.deadline, assignment.request_id));
			let mut batches = Batches::<T>::new(key.clone(), now);
			for assignment in assignments {
				open.push((assignment.request_id, key.clone()));
				if assignment.committed {
					claims::done(assignment.request_id, &key, Step::Commit);
				}
				let step = match (assignment.committed, assignment.reveal_open) {
					(false, false) => Step::Commit,
					(true, true) => Step::Reveal,
					// Committed, waiting for the others; or too late to commit.
					_ => continue,
				};
				let now_ms = sp_io::offchain::timestamp().unix_millis();
				let until_ms = now_ms.saturating_add(HTTP_TIMEOUT_MS + CLAIM_MARGIN_MS);
				let Some(attempt) = claims::take(&assignment, &key, step, now, now_ms, until_ms)
				else {
					continue;
				};
				steps = steps.saturating_add(1);
				let answered = match (step, copycat()) {
					(Step::Commit, false) => Self::commit(&url, &assignment, &key),
					(Step::Reveal, false) => Self::reveal(&url, &assignment, &key),
					(Step::Commit, true) => Self::copy_commitment(&assignment, &key),
					(Step::Reveal, true) => Self::copy_reveal(&assignment, &key),
				};
				match answered {
					Ok(answer) => batches.push(answer, attempt),
					Err(failure) => {
						log::warn!(
							target: "runtime::inference",
							"request {} not answered: {failure:?}; retrying in a later block",
							assignment.request_id,
						);
						claims::release(assignment.request_id, &key, step);
					},
				}
			}
			batches.flush();
			log::debug!(
				target: "runtime::inference",
				"block {now:?}: {listed} open assignments, {steps} steps answered in {} ms",
				sp_io::offchain::timestamp().unix_millis().saturating_sub(started_ms),
			);
		}
		claims::forget_closed_jobs(&open, now);
	}

	/// Run the job (or take the outcome kept from an earlier run), keep its outcome and sign
	/// the commitment to it.
	fn commit(
		url: &str,
		assignment: &AssignmentView<BlockNumberFor<T>>,
		key: &ExecutorPublic,
	) -> Result<Answer, DispatchFailure> {
		let outcome = Self::kept_or_run(url, assignment, key)?;
		let payload = Self::payload_for(assignment, &outcome);
		Self::signed_commitment(assignment, key, commitment(&payload, key))
	}

	/// `committed`, signed with `key` as the commitment to `assignment`.
	fn signed_commitment(
		assignment: &AssignmentView<BlockNumberFor<T>>,
		key: &ExecutorPublic,
		committed: H256,
	) -> Result<Answer, DispatchFailure> {
		let message = commitment_message(Self::genesis_hash(), assignment.request_id, committed);
		let signature = key.sign(&message).ok_or(DispatchFailure::Signing)?;
		Ok(Answer::Commit(CommitmentItem {
			request_id: assignment.request_id,
			commitment: committed,
			signature: SignedAttestation { attestation_key: key.clone(), signature },
		}))
	}

	/// Reveal the outcome committed to; re-run the job if this node no longer has it (the
	/// executor is deterministic, so the re-run matches the commitment).
	fn reveal(
		url: &str,
		assignment: &AssignmentView<BlockNumberFor<T>>,
		key: &ExecutorPublic,
	) -> Result<Answer, DispatchFailure> {
		let outcome = Self::kept_or_run(url, assignment, key)?;
		Self::signed_reveal(assignment, key, outcome)
	}

	/// The outcome kept for the job, or the executor's, then kept until the job closes.
	fn kept_or_run(
		url: &str,
		assignment: &AssignmentView<BlockNumberFor<T>>,
		key: &ExecutorPublic,
	) -> Result<InferenceOutcome, DispatchFailure> {
		let kept_key = claims::outcome_key(assignment.request_id, key);
		let kept = StorageValueRef::persistent(&kept_key);
		if let Some(outcome) = kept.get::<InferenceOutcome>().ok().flatten() {
			return Ok(outcome);
		}
		let outcome = Self::run_job(url, assignment)?;
		kept.set(&outcome);
		Ok(outcome)
	}

	/// Copycat mode: commit, signed with `key`, the first commitment another executor made.
	fn copy_commitment(
		assignment: &AssignmentView<BlockNumberFor<T>>,
		key: &ExecutorPublic,
	) -> Result<Answer, DispatchFailure> {
		let copied = crate::Requests::<T>::get(assignment.request_id)
			.and_then(|request| request.commitments.first().map(|c| c.commitment))
			.ok_or(DispatchFailure::NothingToCopy)?;
		Self::signed_commitment(assignment, key, copied)
	}

	/// Copycat mode: reveal, signed with `key`, the first outcome another executor revealed.
	fn copy_reveal(
		assignment: &AssignmentView<BlockNumberFor<T>>,
		key: &ExecutorPublic,
	) -> Result<Answer, DispatchFailure> {
		let outcome = crate::Requests::<T>::get(assignment.request_id)
			.and_then(|request| request.candidates.first().and_then(|c| c.outcome.to_outcome()))
			.ok_or(DispatchFailure::NothingToCopy)?;
		Self::signed_reveal(assignment, key, outcome)
	}

	/// `outcome`, signed with `key` as the answer to `assignment`: a reveal to submit.
	fn signed_reveal(
		assignment: &AssignmentView<BlockNumberFor<T>>,
		key: &ExecutorPublic,
		outcome: InferenceOutcome,
	) -> Result<Answer, DispatchFailure> {
		let payload = Self::payload_for(assignment, &outcome);
		let signature = key.sign(&payload.encode()).ok_or(DispatchFailure::Signing)?;
		Ok(Answer::Reveal(RevealItem {
			request_id: assignment.request_id,
			outcome,
			signature: SignedAttestation { attestation_key: key.clone(), signature },
		}))
	}

	/// The job's outcome from the executor.
	fn run_job(
		url: &str,
		assignment: &AssignmentView<BlockNumberFor<T>>,
	) -> Result<InferenceOutcome, DispatchFailure> {
		let model = Models::<T>::get(assignment.model_id).ok_or(DispatchFailure::UnknownModel)?;
		let artifact_uri = String::from_utf8_lossy(&model.metadata.artifact_uri).into_owned();
		let auth_token = executor_token();
		let job = Job {
			url,
			auth_token: auth_token.as_deref(),
			model_id: &assignment.model_id,
			artifact_uri: &artifact_uri,
			profile: &model.metadata.execution_profile,
			input: &assignment.input,
			max_output_len: T::MaxOutputLen::get() as usize,
		};
		Ok(job.run()?)
	}

	/// The payload signed for `outcome` as the answer to `assignment`.
	fn payload_for(
		assignment: &AssignmentView<BlockNumberFor<T>>,
		outcome: &InferenceOutcome,
	) -> AttestationPayload {
		AttestationPayload::new(
			Self::genesis_hash(),
			assignment.request_id,
			assignment.model_id,
			assignment.execution_profile.clone(),
			assignment.input_hash,
			outcome.hash(),
		)
	}

	/// Submit `call` as an authorized general transaction.
	fn submit(call: Call<T>) -> Result<(), DispatchFailure> {
		let xt =
			<T as CreateAuthorizedTransaction<Call<T>>>::create_authorized_transaction(call.into());
		SubmitTransaction::<T, Call<T>>::submit_transaction(xt)
			.map_err(|()| DispatchFailure::Submission)
	}
}

/// A signed answer, ready to travel in a batch.
pub(crate) enum Answer {
	/// A commitment.
	Commit(CommitmentItem),
	/// A reveal.
	Reveal(RevealItem),
}

/// One executor key's answers of one worker run, submitted as `submit_commitments` and
/// `submit_attestations` transactions of at most `MaxAnswersPerBatch` items each: one per kind
/// when they fit, which is what lets hundreds of answers per block through (a transaction's
/// base weight, envelope and pool work paid once per batch, not once per answer).
///
/// Answers sent again travel apart from first answers. An answer is sent again when the chain
/// does not show it a few blocks on, and its earlier transaction may still wait in a pool:
/// the two provide the same tags, so the pool refuses the later one. Mixed into one batch, the
/// first answers would be refused with it, block after block, until the old transaction
/// landed or lapsed, and they would miss their deadlines for an answer they never sent.
struct Batches<T: Config> {
	key: ExecutorPublic,
	now: BlockNumberFor<T>,
	/// Commitments and reveals sent for the first time, then those sent again.
	first: Pending,
	again: Pending,
	_chain: core::marker::PhantomData<T>,
}

/// Answers of one kind of attempt waiting to be batched.
#[derive(Default)]
struct Pending {
	commitments: Vec<CommitmentItem>,
	reveals: Vec<RevealItem>,
}

impl<T: Config> Batches<T> {
	fn new(key: ExecutorPublic, now: BlockNumberFor<T>) -> Self {
		Self {
			key,
			now,
			first: Pending::default(),
			again: Pending::default(),
			_chain: core::marker::PhantomData,
		}
	}

	/// Add `answer`; submit its batch once it is full.
	fn push(&mut self, answer: Answer, attempt: claims::Attempt) {
		let full = T::MaxAnswersPerBatch::get() as usize;
		let pending = match attempt {
			claims::Attempt::First => &mut self.first,
			claims::Attempt::Again => &mut self.again,
		};
		match answer {
			Answer::Commit(item) => {
				pending.commitments.push(item);
				if pending.commitments.len() >= full {
					let items = core::mem::take(&mut pending.commitments);
					self.submit_commitments(items);
				}
			},
			Answer::Reveal(item) => {
				pending.reveals.push(item);
				if pending.reveals.len() >= full {
					let items = core::mem::take(&mut pending.reveals);
					self.submit_reveals(items);
				}
			},
		}
	}

	/// Submit what is left.
	fn flush(mut self) {
		for pending in [core::mem::take(&mut self.first), core::mem::take(&mut self.again)] {
			self.submit_commitments(pending.commitments);
			self.submit_reveals(pending.reveals);
		}
	}

	fn submit_commitments(&self, items: Vec<CommitmentItem>) {
		if items.is_empty() {
			return;
		}
		let ids: Vec<_> = items.iter().map(|item| item.request_id).collect();
		let batch = BoundedVec::truncate_from(items);
		self.settle_claims(&ids, Step::Commit, Call::<T>::submit_commitments { batch });
	}

	fn submit_reveals(&self, items: Vec<RevealItem>) {
		if items.is_empty() {
			return;
		}
		let ids: Vec<_> = items.iter().map(|item| item.request_id).collect();
		let batch = BoundedVec::truncate_from(items);
		self.settle_claims(&ids, Step::Reveal, Call::<T>::submit_attestations { batch });
	}

	/// Submit `call` for the answers to `ids`, and mark their claims submitted, or release them
	/// for a later block if the pool refused it.
	fn settle_claims(&self, ids: &[verity_primitives::RequestId], step: Step, call: Call<T>) {
		if ids.is_empty() {
			return;
		}
		match Pallet::<T>::submit(call) {
			Ok(()) => {
				for id in ids {
					claims::submitted(*id, &self.key, step, self.now);
				}
			},
			Err(failure) => {
				log::warn!(
					target: "runtime::inference",
					"{} answers not submitted: {failure:?}; retrying in a later block",
					ids.len(),
				);
				for id in ids {
					claims::release(*id, &self.key, step);
				}
			},
		}
	}
}

/// The executor URL the node was started with.
fn executor_url() -> Option<String> {
	StorageValueRef::persistent(EXECUTOR_URL_KEY)
		.get::<Vec<u8>>()
		.ok()
		.flatten()
		.and_then(|bytes| String::from_utf8(bytes).ok())
		.filter(|url| !url.is_empty())
}

/// The token the node presents to its executor, if it was given one.
fn executor_token() -> Option<String> {
	StorageValueRef::persistent(EXECUTOR_TOKEN_KEY)
		.get::<Vec<u8>>()
		.ok()
		.flatten()
		.and_then(|bytes| String::from_utf8(bytes).ok())
		.filter(|token| !token.is_empty())
}

/// Whether the node runs the test-only copycat mode.
fn copycat() -> bool {
	StorageValueRef::persistent(COPYCAT_KEY)
		.get::<bool>()
		.ok()
		.flatten()
		.unwrap_or(false)
}
