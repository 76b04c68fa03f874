//! The offchain worker: the node's executor keys answer their assignments.
//!
//! Each block, for every executor key in the node's keystore, every open assignment is claimed
//! under an offchain lock (so one step is dispatched once, not once per block) and answered in
//! two steps:
//!
//! 1. **Commit**, in the commit phase: the job goes to the executor at the URL the node was
//!    started with (`--executor-url`, or the embedded executor); its outcome (the output, or
//!    the executor's rejection of the input) is kept in the node's offchain storage, and the
//!    commitment to it is signed with the keystore key and submitted as an authorized
//!    `submit_commitment` transaction.
//! 2. **Reveal**, once the commit phase is over: the kept outcome (or, if the node lost it, a
//!    re-run, which gives the same bytes) is signed and submitted as `submit_attestation`.
//!
//! A failed step releases its claim so a later block retries while the deadline allows.
//!
//! A node started with the test-only `--executor-copycat` answers as a copycat would instead:
//! it runs nothing, commits a copy of the first commitment on chain and reveals the first
//! outcome revealed. The integration tests use it to show that copying gains nothing: the
//! copied commitment binds the other executor's key, so the reveal breaks it and is slashed.

use crate::{runtime_api::AssignmentView, Call, Config, Models, Pallet, SignedAttestation};
use alloc::{format, string::String, vec::Vec};
use codec::Encode;
use frame_system::{
	offchain::{CreateAuthorizedTransaction, SubmitTransaction},
	pallet_prelude::BlockNumberFor,
};
use sp_runtime::{
	offchain::{http, storage::StorageValueRef, Duration},
	traits::Saturating,
	RuntimeAppPublic,
};
use verity_primitives::{
	commitment, commitment_message, AttestationPayload, ExecutorPublic, InferenceOutcome, ModelId,
	RejectionCode,
};

/// Offchain (persistent, node-local) storage key of the executor's base URL.
pub const EXECUTOR_URL_KEY: &[u8] = b"verity::executor-url";

/// Offchain storage key of the test-only copycat mode: SCALE `true` when it is on.
pub const COPYCAT_KEY: &[u8] = b"verity::copycat";

/// Prefix of the per-job dispatch claims.
const CLAIM_PREFIX: &[u8] = b"verity::dispatch::";

/// Prefix of the outcomes kept between commit and reveal.
const OUTCOME_PREFIX: &[u8] = b"verity::outcome::";

/// The two steps of answering, each claimed on its own.
#[derive(Clone, Copy, Encode)]
enum Step {
	/// Run the job and commit to its outcome.
	Commit,
	/// Reveal the committed outcome.
	Reveal,
}

/// How long one inference over HTTP may take.
const HTTP_TIMEOUT_MS: u64 = 60_000;

/// Blocks a claim stays taken; if the attestation has not landed by then, the job is retried.
const CLAIM_BLOCKS: u32 = 4;

/// Why a job could not be answered; logged through `Debug`.
#[derive(Debug)]
#[allow(dead_code)]
pub(crate) enum DispatchFailure {
	/// The request to the executor could not be sent or timed out.
	Http,
	/// The executor answered with a non-200 status.
	Status(u16),
	/// The executor's answer is not the expected JSON.
	BadReply,
	/// The keystore could not sign with the key.
	Signing,
	/// The transaction pool refused the attestation.
	Submission,
	/// The model is not registered any more.
	UnknownModel,
	/// Copycat mode: nothing on chain to copy yet.
	NothingToCopy,
}

impl<T: Config> Pallet<T> {
	/// The offchain worker's work for block `now`.
	pub(crate) fn run_offchain_worker(now: BlockNumberFor<T>) {
		let Some(url) = executor_url() else { return };
		for key in ExecutorPublic::all() {
			for assignment in Self::open_assignments(key.clone()) {
				let step = match (assignment.committed, assignment.reveal_open) {
					(false, false) => Step::Commit,
					(true, true) => Step::Reveal,
					// Committed, waiting for the others; or too late to commit.
					_ => continue,
				};
				if !claim::<T>(&assignment, &key, step, now) {
					continue;
				}
				let answered = match (step, copycat()) {
					(Step::Commit, false) => Self::commit(&url, &assignment, &key),
					(Step::Reveal, false) => Self::reveal(&url, &assignment, &key),
					(Step::Commit, true) => Self::copy_commitment(&assignment, &key),
					(Step::Reveal, true) => Self::copy_reveal(&assignment, &key),
				};
				if let Err(failure) = answered {
					log::warn!(
						target: "runtime::inference",
						"request {} not answered: {failure:?}; retrying in a later block",
						assignment.request_id,
					);
					release(&assignment, &key, step);
				}
			}
		}
	}

	/// Run the job, keep its outcome and submit the signed commitment to it.
	fn commit(
		url: &str,
		assignment: &AssignmentView<BlockNumberFor<T>>,
		key: &ExecutorPublic,
	) -> Result<(), DispatchFailure> {
		let outcome = Self::run_job(url, assignment)?;
		let payload = Self::payload_for(assignment, &outcome);
		let committed = commitment(&payload, key);
		let message = commitment_message(Self::genesis_hash(), assignment.request_id, committed);
		let signature = key.sign(&message).ok_or(DispatchFailure::Signing)?;
		StorageValueRef::persistent(&outcome_key(assignment, key)).set(&outcome);
		Self::submit(Call::<T>::submit_commitment {
			request_id: assignment.request_id,
			commitment: committed,
			signature: SignedAttestation { attestation_key: key.clone(), signature },
		})
	}

	/// Reveal the outcome committed to; re-run the job if this node no longer has it (the
	/// executor is deterministic, so the re-run matches the commitment).
	fn reveal(
		url: &str,
		assignment: &AssignmentView<BlockNumberFor<T>>,
		key: &ExecutorPublic,
	) -> Result<(), DispatchFailure> {
		let kept_key = outcome_key(assignment, key);
		let kept = StorageValueRef::persistent(&kept_key);
		let outcome = match kept.get::<InferenceOutcome>().ok().flatten() {
			Some(outcome) => outcome,
			None => Self::run_job(url, assignment)?,
		};
		Self::submit_reveal(assignment, key, outcome)?;
		let mut kept = kept;
		kept.clear();
		Ok(())
	}

	/// Copycat mode: commit, signed with `key`, the first commitment another executor made.
	fn copy_commitment(
		assignment: &AssignmentView<BlockNumberFor<T>>,
		key: &ExecutorPublic,
	) -> Result<(), DispatchFailure> {
		let copied = crate::Requests::<T>::get(assignment.request_id)
			.and_then(|request| request.commitments.first().map(|c| c.commitment))
			.ok_or(DispatchFailure::NothingToCopy)?;
		let message = commitment_message(Self::genesis_hash(), assignment.request_id, copied);
		let signature = key.sign(&message).ok_or(DispatchFailure::Signing)?;
		Self::submit(Call::<T>::submit_commitment {
			request_id: assignment.request_id,
			commitment: copied,
			signature: SignedAttestation { attestation_key: key.clone(), signature },
		})
	}

	/// Copycat mode: reveal, signed with `key`, the first outcome another executor revealed.
	fn copy_reveal(
		assignment: &AssignmentView<BlockNumberFor<T>>,
		key: &ExecutorPublic,
	) -> Result<(), DispatchFailure> {
		let outcome = crate::Requests::<T>::get(assignment.request_id)
			.and_then(|request| request.candidates.first().and_then(|c| c.outcome.to_outcome()))
			.ok_or(DispatchFailure::NothingToCopy)?;
		Self::submit_reveal(assignment, key, outcome)
	}

	/// Sign `outcome` as the answer to `assignment` with `key` and submit the reveal.
	fn submit_reveal(
		assignment: &AssignmentView<BlockNumberFor<T>>,
		key: &ExecutorPublic,
		outcome: InferenceOutcome,
	) -> Result<(), DispatchFailure> {
		let payload = Self::payload_for(assignment, &outcome);
		let signature = key.sign(&payload.encode()).ok_or(DispatchFailure::Signing)?;
		Self::submit(Call::<T>::submit_attestation {
			request_id: assignment.request_id,
			outcome,
			signature: SignedAttestation { attestation_key: key.clone(), signature },
		})
	}

	/// The job's outcome from the executor.
	fn run_job(
		url: &str,
		assignment: &AssignmentView<BlockNumberFor<T>>,
	) -> Result<InferenceOutcome, DispatchFailure> {
		let model = Models::<T>::get(assignment.model_id).ok_or(DispatchFailure::UnknownModel)?;
		let uri = String::from_utf8_lossy(&model.metadata.artifact_uri).into_owned();
		run_on_executor(url, &assignment.model_id, &uri, &assignment.input)
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

/// The executor URL the node was started with.
fn executor_url() -> Option<String> {
	StorageValueRef::persistent(EXECUTOR_URL_KEY)
		.get::<Vec<u8>>()
		.ok()
		.flatten()
		.and_then(|bytes| String::from_utf8(bytes).ok())
		.filter(|url| !url.is_empty())
}

/// Whether the node runs the test-only copycat mode.
fn copycat() -> bool {
	StorageValueRef::persistent(COPYCAT_KEY)
		.get::<bool>()
		.ok()
		.flatten()
		.unwrap_or(false)
}

/// The storage key of the claim on one step of one job.
fn claim_key<N: Encode>(
	assignment: &AssignmentView<N>,
	key: &ExecutorPublic,
	step: Step,
) -> Vec<u8> {
	let mut storage_key = CLAIM_PREFIX.to_vec();
	storage_key.extend((assignment.request_id, key, step).encode());
	storage_key
}

/// The storage key of the outcome kept for one job between commit and reveal.
fn outcome_key<N: Encode>(assignment: &AssignmentView<N>, key: &ExecutorPublic) -> Vec<u8> {
	let mut storage_key = OUTCOME_PREFIX.to_vec();
	storage_key.extend((assignment.request_id, key).encode());
	storage_key
}

/// Take the claim on a job unless another worker holds it. Claims expire after
/// `CLAIM_BLOCKS`, so a job whose attestation got lost is dispatched again.
fn claim<T: Config>(
	assignment: &AssignmentView<BlockNumberFor<T>>,
	key: &ExecutorPublic,
	step: Step,
	now: BlockNumberFor<T>,
) -> bool {
	let storage_key = claim_key(assignment, key, step);
	let storage = StorageValueRef::persistent(&storage_key);
	let until = now.saturating_add(CLAIM_BLOCKS.into());
	storage
		.mutate(|held: Result<Option<BlockNumberFor<T>>, _>| match held {
			Ok(Some(held_until)) if held_until > now => Err(()),
			_ => Ok(until),
		})
		.is_ok()
}

/// Give a claim back after a failed dispatch.
fn release<N: Encode>(assignment: &AssignmentView<N>, key: &ExecutorPublic, step: Step) {
	StorageValueRef::persistent(&claim_key(assignment, key, step)).clear();
}

/// POST the job to `<url>/v1/infer` and return its outcome: the output bytes (200), or the
/// executor's canonical rejection of the input (422 with a `rejection` code). Any other
/// answer is a failure to retry, never an outcome.
fn run_on_executor(
	url: &str,
	model_id: &ModelId,
	artifact_uri: &str,
	input: &[u8],
) -> Result<InferenceOutcome, DispatchFailure> {
	let body = format!(
		"{{\"model_id\":\"{}\",\"input\":\"{}\",\"artifact_uri\":{}}}",
		to_hex(model_id.as_bytes()),
		to_hex(input),
		serde_json::to_string(artifact_uri).map_err(|_| DispatchFailure::BadReply)?,
	);
	let endpoint = format!("{}/v1/infer", url.trim_end_matches('/'));
	let deadline = sp_io::offchain::timestamp().add(Duration::from_millis(HTTP_TIMEOUT_MS));
	let pending = http::Request::post(&endpoint, alloc::vec![body.into_bytes()])
		.add_header("Content-Type", "application/json")
		.deadline(deadline)
		.send()
		.map_err(|_| DispatchFailure::Http)?;
	let response = pending
		.try_wait(deadline)
		.map_err(|_| DispatchFailure::Http)?
		.map_err(|_| DispatchFailure::Http)?;
	let code = response.code;
	let body = response.body().collect::<Vec<u8>>();
	match code {
		200 => {
			let reply: ExecutorReply =
				serde_json::from_slice(&body).map_err(|_| DispatchFailure::BadReply)?;
			from_hex(&reply.output)
				.map(InferenceOutcome::Output)
				.ok_or(DispatchFailure::BadReply)
		},
		422 => match serde_json::from_slice::<ExecutorRejection>(&body) {
			Ok(ExecutorRejection { rejection: Some(code) }) => Ok(InferenceOutcome::Rejected(code)),
			_ => Err(DispatchFailure::Status(code)),
		},
		_ => Err(DispatchFailure::Status(code)),
	}
}

/// The part of the executor's answer the worker uses; the hash is recomputed, not trusted.
#[derive(serde::Deserialize)]
struct ExecutorReply {
	output: String,
}

/// The part of a 422 answer that makes it an outcome: the rejection code, when there is one.
#[derive(serde::Deserialize)]
struct ExecutorRejection {
	#[serde(default)]
	rejection: Option<RejectionCode>,
}

/// `0x`-prefixed lower-case hex.
fn to_hex(bytes: &[u8]) -> String {
	const DIGITS: &[u8; 16] = b"0123456789abcdef";
	let mut hex = String::with_capacity(2 + bytes.len() * 2);
	hex.push_str("0x");
	for byte in bytes {
		hex.push(DIGITS[usize::from(byte >> 4)] as char);
		hex.push(DIGITS[usize::from(byte & 0xf)] as char);
	}
	hex
}

/// Bytes of `0x`-prefixed (or bare) hex.
fn from_hex(hex: &str) -> Option<Vec<u8>> {
	let hex = hex.strip_prefix("0x").unwrap_or(hex);
	if !hex.len().is_multiple_of(2) {
		return None;
	}
	let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
	hex.as_bytes()
		.chunks(2)
		.map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
		.collect()
}
