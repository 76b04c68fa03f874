//! Commitments and reveals: an executor's signed answer, in two steps.
//!
//! **Commit.** Each assigned executor first submits [`verity_primitives::commitment`]: the
//! hash of the payload it will reveal followed by its own attestation key, signed over
//! [`verity_primitives::commitment_message`]. Nothing about its answer is visible.
//!
//! **Reveal.** Once the commit phase is over (every assigned executor committed, or the commit
//! deadline passed) each committed executor reveals its outcome with its signature over the
//! [`AttestationPayload`]. A reveal must hash to its commitment; one that does not is
//! recorded, counts for no outcome, and is slashed as dissent at settlement.
//!
//! Attacks this stops: copying. An executor that waits for another's answer and repeats it
//! must have committed before any answer was visible; repeating another's commitment does not
//! help, because the commitment binds the committer's key, so the copier's reveal never matches
//! it. A copied commitment cannot be submitted under the victim's key either (it needs the
//! victim's signature), and a victim's signed commitment cannot be replayed onto another
//! request (the signed message names the request, by its id, model and input, and the chain).
//! Naming the request by its content also keeps a fork from slashing an honest executor: a
//! commitment made on a fork the chain left does not verify on the request that reuses its id
//! on the fork that stays (`a_commitment_made_on_a_forks_request_does_not_verify_on_another`).
//!
//! What it does not stop: executors that share answers off-chain before committing (collusion
//! is bounded by the bond-weighted majority and challenges, not by this step); and an executor
//! that commits and then withholds its reveal, which counts as a miss.
//!
//! The same checks run when the transaction is validated (`#[pallet::authorize]`, so an
//! invalid commitment or reveal never enters a block and executors pay no fee) and when it is
//! dispatched: [`Pallet::check_commitment`] and [`Pallet::check_reveal`] are the one place for
//! each. Both are operational transactions with the top pool priority, so ordinary traffic,
//! whatever its tip, cannot push answers past their deadline.

use crate::{
	Attestation, CandidateOutput, Commitment, Config, Error, Event, InferenceRequest, Models,
	Pallet, RequestStatus, Requests, SignedAttestation, StoredOutcome,
};
use frame_support::{
	ensure,
	pallet_prelude::{
		DispatchResult, InvalidTransaction, TransactionPriority, TransactionSource,
		TransactionValidityError, TransactionValidityWithRefund, ValidTransaction,
	},
	weights::Weight,
	BoundedVec,
};
use sp_core::H256;
use sp_runtime::{traits::Saturating, RuntimeAppPublic, SaturatedConversion};
use verity_primitives::{
	commitment, commitment_message, AttestationPayload, InferenceOutcome, RequestId, TensorMap,
};

/// Pool priority of commitments and reveals: the top of the range. An ordinary transaction's
/// priority is its tip scaled by how many such transactions fit in a block, so tying it takes
/// a tip of at least `u64::MAX / (transactions per block)` planck on every transaction.
pub const ANSWER_PRIORITY: TransactionPriority = TransactionPriority::MAX;

/// A commitment that passed every check.
pub(crate) struct CheckedCommitment<T: Config> {
	/// The request it commits to.
	pub request: InferenceRequest<T>,
	/// The committing executor's index in the request's `assigned` list.
	pub executor_index: u8,
}

/// A reveal that passed every check.
pub(crate) struct CheckedReveal<T: Config> {
	/// The request it answers.
	pub request: InferenceRequest<T>,
	/// The revealing executor's index in the request's `assigned` list.
	pub executor_index: u8,
	/// The outcome, bounded for storage.
	pub outcome: StoredOutcome<T>,
	/// Its hash, as signed.
	pub output_hash: H256,
	/// Whether the signed payload hashes to the executor's commitment.
	pub matches_commitment: bool,
	/// What the request's answers cost blocks.
	pub shares: crate::impl_answer_space::AnswerShares,
}

impl<T: Config> Pallet<T> {
	/// Validity of a `submit_commitment` transaction.
	pub(crate) fn authorize_commitment(
		_source: TransactionSource,
		request_id: &RequestId,
		commitment: &H256,
		signature: &SignedAttestation,
	) -> TransactionValidityWithRefund {
		let checked = Self::check_commitment(*request_id, *commitment, signature, true)
			.map_err(|error| TransactionValidityError::Invalid(invalid(error)))?;
		let longevity = blocks_until::<T>(checked.request.commit_deadline);
		let validity = ValidTransaction::with_tag_prefix("VerityCommitment")
			.priority(ANSWER_PRIORITY)
			.and_provides((request_id, &signature.attestation_key))
			.longevity(longevity)
			.propagate(true)
			.build()?;
		Ok((validity, Weight::zero()))
	}

	/// Validity of a `submit_attestation` transaction (a reveal).
	pub(crate) fn authorize_attestation(
		_source: TransactionSource,
		request_id: &RequestId,
		outcome: &InferenceOutcome,
		signature: &SignedAttestation,
	) -> TransactionValidityWithRefund {
		let checked = Self::check_reveal(*request_id, outcome, signature, true)
			.map_err(|error| TransactionValidityError::Invalid(invalid(error)))?;
		let longevity = checked.request.status.deadline().map_or(1, blocks_until::<T>);
		let validity = ValidTransaction::with_tag_prefix("VerityAttestation")
			.priority(ANSWER_PRIORITY)
			.and_provides((request_id, &signature.attestation_key))
			.longevity(longevity)
			.propagate(true)
			.build()?;
		Ok((validity, Weight::zero()))
	}

	/// Validity of a `submit_commitments` transaction: every item valid, one key, no request
	/// twice; it provides each item's tag, so it conflicts with a single commitment of the same
	/// answer, and lives until the earliest item's commit deadline.
	pub(crate) fn authorize_commitments(
		_source: TransactionSource,
		batch: &BoundedVec<crate::CommitmentItem, T::MaxAnswersPerBatch>,
	) -> TransactionValidityWithRefund {
		let key = Self::batch_key(batch.iter().map(|item| (item.request_id, &item.signature)))?;
		let mut validity = ValidTransaction::with_tag_prefix("VerityCommitment")
			.priority(ANSWER_PRIORITY)
			.propagate(true);
		let mut longevity = u64::MAX;
		for item in batch {
			let checked =
				Self::check_commitment(item.request_id, item.commitment, &item.signature, true)
					.map_err(|error| TransactionValidityError::Invalid(invalid(error)))?;
			longevity = longevity.min(blocks_until::<T>(checked.request.commit_deadline));
			validity = validity.and_provides((item.request_id, key));
		}
		Ok((validity.longevity(longevity).build()?, Weight::zero()))
	}

	/// Validity of a `submit_attestations` transaction: every item valid, one key, no request
	/// twice; it provides each item's tag and lives until the earliest item's deadline.
	pub(crate) fn authorize_attestations(
		_source: TransactionSource,
		batch: &BoundedVec<crate::RevealItem, T::MaxAnswersPerBatch>,
	) -> TransactionValidityWithRefund {
		let key = Self::batch_key(batch.iter().map(|item| (item.request_id, &item.signature)))?;
		let mut validity = ValidTransaction::with_tag_prefix("VerityAttestation")
			.priority(ANSWER_PRIORITY)
			.propagate(true);
		let mut longevity = u64::MAX;
		for item in batch {
			let checked = Self::check_reveal(item.request_id, &item.outcome, &item.signature, true)
				.map_err(|error| TransactionValidityError::Invalid(invalid(error)))?;
			let lives = checked.request.status.deadline().map_or(1, blocks_until::<T>);
			longevity = longevity.min(lives);
			validity = validity.and_provides((item.request_id, key));
		}
		Ok((validity.longevity(longevity).build()?, Weight::zero()))
	}

	/// The one key that signed every item of a batch; refuses an empty batch, one signed by
	/// several keys (a batch is one executor's) and one answering a request twice.
	fn batch_key<'a>(
		items: impl Iterator<Item = (RequestId, &'a SignedAttestation)>,
	) -> Result<&'a verity_primitives::ExecutorPublic, TransactionValidityError> {
		let refuse = |error: Error<T>| TransactionValidityError::Invalid(invalid(error));
		let mut key = None;
		let mut seen = alloc::collections::BTreeSet::new();
		for (request_id, signature) in items {
			let first = *key.get_or_insert(&signature.attestation_key);
			if *first != signature.attestation_key {
				return Err(refuse(Error::<T>::MixedBatch));
			}
			if !seen.insert(request_id) {
				return Err(refuse(Error::<T>::DuplicateInBatch));
			}
		}
		key.ok_or_else(|| refuse(Error::<T>::EmptyBatch))
	}

	/// Every check a commitment must pass. `verify_signature` is false only at dispatch, whose
	/// `Authorized` origin `authorize_commitment` grants after verifying it in the same state.
	pub(crate) fn check_commitment(
		request_id: RequestId,
		commitment: H256,
		signature: &SignedAttestation,
		verify_signature: bool,
	) -> Result<CheckedCommitment<T>, Error<T>> {
		let request = Requests::<T>::get(request_id).ok_or(Error::<T>::UnknownRequest)?;
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(
			matches!(request.status, RequestStatus::Assigned { .. }),
			Error::<T>::CommitPhaseOver
		);
		ensure!(!request.commit_phase_closed(now), Error::<T>::CommitPhaseOver);
		let executor_index = Self::assigned_index(&request, signature)?;
		ensure!(request.commitment_of(executor_index).is_none(), Error::<T>::AlreadyCommitted);
		if verify_signature {
			let message = Self::commitment_message_for(request_id, &request, commitment);
			ensure!(
				signature.attestation_key.verify(&message, &signature.signature),
				Error::<T>::BadSignature
			);
		}
		Ok(CheckedCommitment { request, executor_index })
	}

	/// Every check a reveal must pass; whether it matches its commitment is reported, not
	/// refused, so that a mismatch can be slashed.
	pub(crate) fn check_reveal(
		request_id: RequestId,
		outcome: &InferenceOutcome,
		signature: &SignedAttestation,
		verify_signature: bool,
	) -> Result<CheckedReveal<T>, Error<T>> {
		let request = Requests::<T>::get(request_id).ok_or(Error::<T>::UnknownRequest)?;
		let now = frame_system::Pallet::<T>::block_number();
		let deadline = request.status.deadline().ok_or(Error::<T>::RequestNotOpen)?;
		ensure!(now < deadline, Error::<T>::RequestNotOpen);
		let executor_index = Self::assigned_index(&request, signature)?;
		ensure!(request.commit_phase_closed(now), Error::<T>::CommitPhaseOpen);
		let committed = request.commitment_of(executor_index).ok_or(Error::<T>::NotCommitted)?;
		ensure!(
			!request.attestations.iter().any(|a| a.executor_index == executor_index),
			Error::<T>::AlreadyAttested
		);
		let model = Models::<T>::get(request.model_id).ok_or(Error::<T>::UnknownModel)?;
		let stored = match outcome {
			InferenceOutcome::Output(output) => {
				let output: crate::RequestOutput<T> =
					output.clone().try_into().map_err(|_| Error::<T>::OutputTooLarge)?;
				TensorMap::decode_canonical(&output)
					.and_then(|tensors| tensors.ensure_matches(&model.metadata.outputs))
					.map_err(|_| Error::<T>::MalformedOutput)?;
				StoredOutcome::Output(output)
			},
			InferenceOutcome::Rejected(code) => StoredOutcome::Rejected(*code),
		};
		let output_hash = outcome.hash();
		let payload = Self::attestation_payload(request_id, &request, output_hash)
			.ok_or(Error::<T>::UnknownModel)?;
		if verify_signature {
			ensure!(
				signature
					.attestation_key
					.verify(&codec::Encode::encode(&payload), &signature.signature),
				Error::<T>::BadSignature
			);
		}
		let matches_commitment = commitment(&payload, &signature.attestation_key) == committed;
		let shares = Self::answer_shares_of(&request, &model);
		Ok(CheckedReveal {
			request,
			executor_index,
			outcome: stored,
			output_hash,
			matches_commitment,
			shares,
		})
	}

	/// The payload an executor signs for `outcome_hash` as the answer to `request`: the one
	/// constructor, used by the chain, the offchain worker and the tests.
	pub fn attestation_payload(
		request_id: RequestId,
		request: &InferenceRequest<T>,
		output_hash: H256,
	) -> Option<AttestationPayload> {
		let model = Models::<T>::get(request.model_id)?;
		Some(AttestationPayload::new(
			Self::genesis_hash(),
			request_id,
			request.model_id,
			model.metadata.execution_profile,
			request.input_hash,
			output_hash,
		))
	}

	/// The message an executor signs to commit `commitment` as its answer to `request`: the
	/// one constructor the chain, the benchmarks and the tests use for a stored request (the
	/// offchain worker builds it from the same fields of its assignment).
	pub fn commitment_message_for(
		request_id: RequestId,
		request: &InferenceRequest<T>,
		commitment: H256,
	) -> alloc::vec::Vec<u8> {
		commitment_message(
			Self::genesis_hash(),
			request_id,
			request.model_id,
			request.input_hash,
			commitment,
		)
	}

	/// The index in `request.assigned` of the executor whose key signed.
	fn assigned_index(
		request: &InferenceRequest<T>,
		signature: &SignedAttestation,
	) -> Result<u8, Error<T>> {
		request
			.assigned
			.iter()
			.position(|assignee| assignee.attestation_key == signature.attestation_key)
			.map(|index| index as u8)
			.ok_or(Error::<T>::NotAssigned)
	}

	/// Record a commitment.
	pub(crate) fn do_submit_commitment(
		request_id: RequestId,
		commitment: H256,
		signature: SignedAttestation,
	) -> DispatchResult {
		let CheckedCommitment { mut request, executor_index } =
			Self::check_commitment(request_id, commitment, &signature, false)?;
		let now = frame_system::Pallet::<T>::block_number();
		request
			.commitments
			.try_push(Commitment { executor_index, commitment, submitted_at: now })
			.map_err(|_| Error::<T>::AlreadyCommitted)?;
		let executor = Self::assignee_account(&request, executor_index)?;
		Requests::<T>::insert(request_id, request);
		Self::deposit_event(Event::CommitmentSubmitted { request_id, executor });
		Ok(())
	}

	/// Record a reveal and, when it completes a quorum, settle the request at once: the
	/// executors are paid and the result stands in the block that carries the deciding reveal.
	/// (A reveal arriving after that is settled at the deadline, against the output standing
	/// then, which a challenge may have corrected.) Returns the weight the settlement used,
	/// nothing if it settled nothing.
	pub(crate) fn do_submit_attestation(
		request_id: RequestId,
		outcome: InferenceOutcome,
		signature: SignedAttestation,
	) -> Result<Weight, sp_runtime::DispatchError> {
		let quorum_reached = Self::record_reveal(request_id, outcome, signature)?;
		Ok(if quorum_reached { Self::settle_request(request_id) } else { Weight::zero() })
	}

	/// Record a reveal; returns whether it completed a quorum (the request is then
	/// `QuorumReached`, to be settled).
	pub(crate) fn record_reveal(
		request_id: RequestId,
		outcome: InferenceOutcome,
		signature: SignedAttestation,
	) -> Result<bool, sp_runtime::DispatchError> {
		let CheckedReveal {
			mut request,
			executor_index,
			outcome,
			output_hash,
			matches_commitment,
			shares,
		} = Self::check_reveal(request_id, &outcome, &signature, false)?;
		let now = frame_system::Pallet::<T>::block_number();

		if matches_commitment {
			match request.candidates.iter_mut().find(|c| c.output_hash == output_hash) {
				Some(candidate) => candidate.votes = candidate.votes.saturating_add(1),
				None => request
					.candidates
					.try_push(CandidateOutput { output_hash, outcome, votes: 1 })
					.map_err(|_| Error::<T>::AlreadyAttested)?,
			}
		}
		request
			.attestations
			.try_push(Attestation {
				executor_index,
				output_hash,
				signature: signature.signature.into(),
				submitted_at: now,
				settled: false,
				matches_commitment,
				penalty: Default::default(),
			})
			.map_err(|_| Error::<T>::AlreadyAttested)?;
		let executor = Self::assignee_account(&request, executor_index)?;

		let mut quorum_reached = false;
		if let RequestStatus::Assigned { deadline } = request.status {
			let votes = request
				.candidates
				.iter()
				.find(|c| c.output_hash == output_hash)
				.map_or(0, |c| c.votes);
			if matches_commitment && votes >= request.quorum() {
				request.status = RequestStatus::QuorumReached { deadline, output_hash };
				quorum_reached = true;
			}
		}
		Self::recount_answers_owed(&mut request, &shares, now);
		Requests::<T>::insert(request_id, request);
		// An answer ends a run of misses and frees a place for another assignment.
		crate::Executors::<T>::mutate(&executor, |maybe_info| {
			if let Some(info) = maybe_info {
				info.stats.consecutive_misses = 0;
				Self::release_assignment(info);
			}
		});
		Self::deposit_event(Event::AttestationSubmitted {
			request_id,
			executor,
			output_hash,
			matches_commitment,
		});
		Ok(quorum_reached)
	}

	/// The account of the executor at `executor_index`.
	fn assignee_account(
		request: &InferenceRequest<T>,
		executor_index: u8,
	) -> Result<crate::AccountIdOf<T>, Error<T>> {
		request
			.assigned
			.get(usize::from(executor_index))
			.map(|assignee| assignee.account.clone())
			.ok_or(Error::<T>::NotAssigned)
	}

	/// The chain's genesis hash, bound into every attestation payload.
	pub fn genesis_hash() -> H256 {
		let hash = frame_system::Pallet::<T>::block_hash(
			frame_system::pallet_prelude::BlockNumberFor::<T>::default(),
		);
		H256::from_slice(hash.as_ref())
	}
}

/// Blocks from now until `until`, at least one: a transaction's pool longevity.
fn blocks_until<T: Config>(until: frame_system::pallet_prelude::BlockNumberFor<T>) -> u64 {
	let now = frame_system::Pallet::<T>::block_number();
	until.saturating_sub(now).saturated_into::<u64>().max(1)
}

/// The transaction validity error for a pallet error: its custom code is the error's index in
/// the pallet's `Error` enum, so clients can name it from the metadata.
fn invalid<T: Config>(error: Error<T>) -> InvalidTransaction {
	let index = codec::Encode::encode(&error).first().copied().unwrap_or(u8::MAX);
	InvalidTransaction::Custom(index)
}
