//! The offchain worker: the node's executor keys answer their assignments.
//!
//! Each block, for every executor key in the node's keystore, every open assignment is claimed
//! under an offchain lock (so one step is dispatched once, not once per block), the nearest
//! deadline first, and answered in two steps:
//!
//! 1. **Commit**, in the commit phase: the job goes to the executor at the URL the node was
//!    started with (`--executor-url`, or the embedded executor), several jobs at once
//!    ([`JOBS_IN_FLIGHT`]) while the worker goes on down the list; its outcome (the output, or
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
use alloc::{collections::VecDeque, string::String, vec::Vec};
use claims::{JobKey, Step};
use codec::Encode;
use executor_http::{HttpFailure, Job, HTTP_TIMEOUT_MS};
use frame_support::{
	traits::{Get, UnixTime},
	BoundedVec,
};
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

/// Offchain storage key of how many executor jobs a worker run keeps in flight at once (SCALE
/// `u32`; absent: one at a time).
pub const JOBS_IN_FLIGHT_KEY: &[u8] = b"verity::jobs-in-flight";

/// Offchain storage key of the test-only copycat mode: SCALE `true` when it is on.
pub const COPYCAT_KEY: &[u8] = b"verity::copycat";

/// Time a step may take beyond its HTTP exchange (signing, submission) before its claim lapses.
const CLAIM_MARGIN_MS: u64 = 10_000;

/// How long after its block's time (`Config::BlockTime`) a worker run holds back its first
/// transaction: half of a 2-second block, by when the other validators have imported the
/// block under all but the heaviest loads. Peers check an answer against their best block: one
/// that arrives before the block that assigned its request (or opened its reveals) is refused
/// there, the whole batch with it, and does not reach the next author from that peer. The
/// author's own worker starts the moment it built the block and, several jobs in flight,
/// answered a light block's new assignments in tens of milliseconds, before its peers had the
/// block: its commitments then waited for its next turn to author, two blocks on
/// (`bench-capacity --trace`). Holding back costs no block: the next block is not built
/// before the next slot.
pub const SUBMIT_FROM_MS_INTO_BLOCK: u64 = 1_000;

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
		let copycat = copycat();
		let window = jobs_in_flight();
		let auth_token = executor_token();
		let block_ms = u64::try_from(T::BlockTime::now().as_millis()).unwrap_or(u64::MAX);
		let hold_until_ms = block_ms.saturating_add(SUBMIT_FROM_MS_INTO_BLOCK);
		let mut open = Vec::new();
		for key in ExecutorPublic::all() {
			let started_ms = sp_io::offchain::timestamp().unix_millis();
			let mut assignments = Self::open_assignments(key.clone());
			let listed = assignments.len();
			let mut steps = 0u32;
			// The nearest deadline first: behind a backlog, what would be missed soonest
			// goes first.
			assignments.sort_by_key(|assignment| (assignment.deadline, assignment.request_id));
			let jobs_open: Vec<JobKey> =
				assignments.iter().map(|assignment| JobKey::of(assignment, &key)).collect();
			claims::note_open_jobs(&jobs_open, now);
			let mut batches = Batches::<T>::new(now, hold_until_ms);
			let mut jobs = InFlight::<T> {
				url: &url,
				auth_token: auth_token.as_deref(),
				window,
				running: VecDeque::new(),
			};
			for (assignment, job) in assignments.into_iter().zip(jobs_open.iter().cloned()) {
				if assignment.committed {
					claims::done(&job, Step::Commit);
				}
				let step = match (assignment.committed, assignment.reveal_open) {
					(false, false) => Step::Commit,
					(true, true) => Step::Reveal,
					// Committed, waiting for the others; or too late to commit.
					_ => continue,
				};
				let now_ms = sp_io::offchain::timestamp().unix_millis();
				let until_ms = now_ms.saturating_add(HTTP_TIMEOUT_MS + CLAIM_MARGIN_MS);
				let Some(attempt) = claims::take(&job, step, now, now_ms, until_ms) else {
					continue;
				};
				steps = steps.saturating_add(1);
				let claimed = Claimed { assignment, job, step, attempt };
				let answered = match (step, copycat) {
					(Step::Commit, true) => Self::copy_commitment(&claimed.assignment, &key),
					(Step::Reveal, true) => Self::copy_reveal(&claimed.assignment, &key),
					(_, false) => match kept_outcome(&claimed.job) {
						Some(outcome) => Self::answer(&claimed, &key, outcome),
						None => {
							// The executor runs it; the worker goes on with the next.
							for (done, outcome) in jobs.start(claimed) {
								Self::settle_job(&mut batches, done, &key, outcome);
							}
							continue;
						},
					},
				};
				settle(&mut batches, &claimed, answered);
			}
			for (done, outcome) in jobs.finish() {
				Self::settle_job(&mut batches, done, &key, outcome);
			}
			batches.flush();
			open.extend(jobs_open);
			log::debug!(
				target: "runtime::inference",
				"block {now:?}: {listed} open assignments, {steps} steps answered in {} ms",
				sp_io::offchain::timestamp().unix_millis().saturating_sub(started_ms),
			);
		}
		claims::forget_closed_jobs(&open, now);
	}

	/// Keep the outcome the executor gave for `step` (or its failure) and answer with it.
	fn settle_job(
		batches: &mut Batches<T>,
		claimed: Claimed<T>,
		key: &ExecutorPublic,
		outcome: Result<InferenceOutcome, DispatchFailure>,
	) {
		let answered = outcome.and_then(|outcome| {
			StorageValueRef::persistent(&claims::outcome_key(&claimed.job)).set(&outcome);
			Self::answer(&claimed, key, outcome)
		});
		settle(batches, &claimed, answered);
	}

	/// The signed answer `outcome` gives to `step`: the commitment to it in the commit phase,
	/// the outcome itself once reveals are open.
	fn answer(
		claimed: &Claimed<T>,
		key: &ExecutorPublic,
		outcome: InferenceOutcome,
	) -> Result<Answer, DispatchFailure> {
		match claimed.step {
			Step::Commit => {
				let payload = Self::payload_for(&claimed.assignment, &outcome);
				Self::signed_commitment(&claimed.assignment, key, commitment(&payload, key))
			},
			Step::Reveal => Self::signed_reveal(&claimed.assignment, key, outcome),
		}
	}

	/// `committed`, signed with `key` as the commitment to `assignment`.
	fn signed_commitment(
		assignment: &AssignmentView<BlockNumberFor<T>>,
		key: &ExecutorPublic,
		committed: H256,
	) -> Result<Answer, DispatchFailure> {
		let message = commitment_message(
			Self::genesis_hash(),
			assignment.request_id,
			assignment.model_id,
			assignment.input_hash,
			committed,
		);
		let signature = key.sign(&message).ok_or(DispatchFailure::Signing)?;
		Ok(Answer::Commit(CommitmentItem {
			request_id: assignment.request_id,
			commitment: committed,
			signature: SignedAttestation { attestation_key: key.clone(), signature },
		}))
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

	/// Send `assignment`'s job to the executor at `url`, presenting `auth_token` if any.
	fn send_job(
		url: &str,
		auth_token: Option<&str>,
		assignment: &AssignmentView<BlockNumberFor<T>>,
	) -> Result<executor_http::Sent, DispatchFailure> {
		let model = Models::<T>::get(assignment.model_id).ok_or(DispatchFailure::UnknownModel)?;
		let artifact_uri = String::from_utf8_lossy(&model.metadata.artifact_uri).into_owned();
		let job = Job {
			url,
			auth_token,
			model_id: &assignment.model_id,
			artifact_uri: &artifact_uri,
			profile: &model.metadata.execution_profile,
			input: &assignment.input,
			max_output_len: T::MaxOutputLen::get() as usize,
		};
		Ok(job.send()?)
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

/// Executor jobs a node's worker run keeps in flight at once (the node records it under
/// [`JOBS_IN_FLIGHT_KEY`]). While the executor runs one job the next ones travel, so a block's
/// work takes about the executor's own time, not that time plus every round trip through a
/// busy node; an executor with fewer slots answers the surplus with 503, and those jobs go
/// again (`BUSY_RETRIES`). Measured with `bench-capacity` at 300 requests a block: a worker
/// answers twice the steps per second it did one job at a time.
pub const JOBS_IN_FLIGHT: u32 = 4;

/// The most jobs in flight a node may ask for.
const MAX_JOBS_IN_FLIGHT: u32 = 64;

/// How often one job the executor refused as busy goes again within a worker run; after that
/// its claim is released and a later block retries it.
const BUSY_RETRIES: u8 = 3;

/// A step the worker has claimed: what it answers, and whether it answered it before.
struct Claimed<T: Config> {
	assignment: AssignmentView<BlockNumberFor<T>>,
	job: JobKey,
	step: Step,
	attempt: claims::Attempt,
}

/// A job's outcome from the executor, or why there is none.
type JobResult = Result<InferenceOutcome, DispatchFailure>;

/// The executor jobs one worker run has sent and not read yet, oldest first: up to `window`,
/// each read in the order it was sent.
struct InFlight<'a, T: Config> {
	url: &'a str,
	auth_token: Option<&'a str>,
	window: usize,
	running: VecDeque<Running<T>>,
}

/// One job sent (or that failed to send), with the step it answers.
struct Running<T: Config> {
	claimed: Claimed<T>,
	sent: Result<executor_http::Sent, DispatchFailure>,
	busy_retries_left: u8,
}

impl<T: Config> InFlight<'_, T> {
	/// Send `claimed`'s job, first reading the oldest jobs' outcomes while the window is full;
	/// returns the steps whose jobs ended.
	fn start(&mut self, claimed: Claimed<T>) -> Vec<(Claimed<T>, JobResult)> {
		let mut ended = Vec::new();
		while self.running.len() >= self.window {
			ended.extend(self.read_oldest());
		}
		self.send(claimed, BUSY_RETRIES);
		ended
	}

	/// Read every job still running; returns their steps and outcomes.
	fn finish(mut self) -> Vec<(Claimed<T>, JobResult)> {
		let mut ended = Vec::new();
		while !self.running.is_empty() {
			ended.extend(self.read_oldest());
		}
		ended
	}

	fn send(&mut self, claimed: Claimed<T>, busy_retries_left: u8) {
		let sent = Pallet::<T>::send_job(self.url, self.auth_token, &claimed.assignment);
		self.running.push_back(Running { claimed, sent, busy_retries_left });
	}

	/// Read the oldest job's reply. A job the executor had no free slot for goes again, at
	/// the back (so the jobs ahead of it end first), while it has retries left.
	fn read_oldest(&mut self) -> Option<(Claimed<T>, JobResult)> {
		let running = self.running.pop_front()?;
		let outcome = running.sent.and_then(|sent| Ok(sent.receive()?));
		match outcome {
			Err(DispatchFailure::Executor(failure))
				if failure.executor_busy() && running.busy_retries_left > 0 =>
			{
				self.send(running.claimed, running.busy_retries_left - 1);
				None
			},
			outcome => Some((running.claimed, outcome)),
		}
	}
}

/// Put `answered` in its batch, or release the step's claim so a later block retries it.
fn settle<T: Config>(
	batches: &mut Batches<T>,
	claimed: &Claimed<T>,
	answered: Result<Answer, DispatchFailure>,
) {
	match answered {
		Ok(answer) => batches.push(answer, claimed.job.clone(), claimed.attempt),
		Err(failure) => {
			log::warn!(
				target: "runtime::inference",
				"request {} not answered: {failure:?}; retrying in a later block",
				claimed.assignment.request_id,
			);
			claims::release(&claimed.job, claimed.step);
		},
	}
}

/// The outcome this node kept for `job` (from an earlier run), if any.
fn kept_outcome(job: &JobKey) -> Option<InferenceOutcome> {
	StorageValueRef::persistent(&claims::outcome_key(job))
		.get::<InferenceOutcome>()
		.ok()
		.flatten()
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
	now: BlockNumberFor<T>,
	/// No transaction goes to the pool before this time (`SUBMIT_FROM_MS_INTO_BLOCK`).
	hold_until_ms: u64,
	/// Commitments and reveals sent for the first time, then those sent again.
	first: Pending,
	again: Pending,
	_chain: core::marker::PhantomData<T>,
}

/// Answers of one kind of attempt waiting to be batched, each with the job it answers.
#[derive(Default)]
struct Pending {
	commitments: Vec<(JobKey, CommitmentItem)>,
	reveals: Vec<(JobKey, RevealItem)>,
}

impl<T: Config> Batches<T> {
	fn new(now: BlockNumberFor<T>, hold_until_ms: u64) -> Self {
		Self {
			now,
			hold_until_ms,
			first: Pending::default(),
			again: Pending::default(),
			_chain: core::marker::PhantomData,
		}
	}

	/// Add `answer` to `job`; submit its batch once it is full.
	fn push(&mut self, answer: Answer, job: JobKey, attempt: claims::Attempt) {
		let full = T::MaxAnswersPerBatch::get() as usize;
		let pending = match attempt {
			claims::Attempt::First => &mut self.first,
			claims::Attempt::Again => &mut self.again,
		};
		match answer {
			Answer::Commit(item) => {
				pending.commitments.push((job, item));
				if pending.commitments.len() >= full {
					let items = core::mem::take(&mut pending.commitments);
					self.submit_commitments(items);
				}
			},
			Answer::Reveal(item) => {
				pending.reveals.push((job, item));
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

	fn submit_commitments(&self, items: Vec<(JobKey, CommitmentItem)>) {
		if items.is_empty() {
			return;
		}
		let (jobs, items): (Vec<_>, Vec<_>) = items.into_iter().unzip();
		let batch = BoundedVec::truncate_from(items);
		self.settle_claims(&jobs, Step::Commit, Call::<T>::submit_commitments { batch });
	}

	fn submit_reveals(&self, items: Vec<(JobKey, RevealItem)>) {
		if items.is_empty() {
			return;
		}
		let (jobs, items): (Vec<_>, Vec<_>) = items.into_iter().unzip();
		let batch = BoundedVec::truncate_from(items);
		self.settle_claims(&jobs, Step::Reveal, Call::<T>::submit_attestations { batch });
	}

	/// Submit `call` for the answers to `jobs`, and mark their claims submitted, or release
	/// them for a later block if the pool refused it.
	fn settle_claims(&self, jobs: &[JobKey], step: Step, call: Call<T>) {
		if jobs.is_empty() {
			return;
		}
		if sp_io::offchain::timestamp().unix_millis() < self.hold_until_ms {
			sp_io::offchain::sleep_until(sp_runtime::offchain::Timestamp::from_unix_millis(
				self.hold_until_ms,
			));
		}
		match Pallet::<T>::submit(call) {
			Ok(()) => {
				for job in jobs {
					claims::submitted(job, step, self.now);
				}
			},
			Err(failure) => {
				log::warn!(
					target: "runtime::inference",
					"{} answers not submitted: {failure:?}; retrying in a later block",
					jobs.len(),
				);
				for job in jobs {
					claims::release(job, step);
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

/// How many executor jobs the node keeps in flight: what it recorded, within 1 and
/// `MAX_JOBS_IN_FLIGHT`; one at a time if it recorded nothing.
fn jobs_in_flight() -> usize {
	StorageValueRef::persistent(JOBS_IN_FLIGHT_KEY)
		.get::<u32>()
		.ok()
		.flatten()
		.unwrap_or(1)
		.clamp(1, MAX_JOBS_IN_FLIGHT) as usize
}

/// Whether the node runs the test-only copycat mode.
fn copycat() -> bool {
	StorageValueRef::persistent(COPYCAT_KEY)
		.get::<bool>()
		.ok()
		.flatten()
		.unwrap_or(false)
}
