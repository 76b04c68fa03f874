//! Attestations: checking an executor's signed answer and recording it.
//!
//! The same checks run when the transaction is validated (`#[pallet::authorize]`, so an
//! invalid attestation never enters a block and executors pay no fee) and when it is
//! dispatched. The signed payload binds the chain (genesis hash), the request, the model, the
//! execution profile, the input and the output, so a signature cannot be replayed on another
//! chain, request or model; each executor answers a request once.

use crate::{
	Attestation, CandidateOutput, Config, Error, Event, InferenceRequest, Models, Pallet,
	PendingSettlement, RequestOutput, RequestStatus, Requests, SignedAttestation,
};
use frame_support::{
	ensure,
	pallet_prelude::{
		DispatchResult, InvalidTransaction, TransactionSource, TransactionValidityError,
		TransactionValidityWithRefund, ValidTransaction,
	},
	weights::Weight,
};
use sp_core::H256;
use sp_runtime::{traits::Saturating, RuntimeAppPublic, SaturatedConversion};
use verity_primitives::{content_hash, AttestationPayload, RequestId, TensorMap};

/// Priority of attestations in the pool: above ordinary transactions, so answers are never
/// crowded out by new requests.
const ATTESTATION_PRIORITY: u64 = 1 << 20;

/// An attestation that passed every check, with the request it answers.
pub(crate) struct CheckedAttestation<T: Config> {
	request: InferenceRequest<T>,
}

impl<T: Config> Pallet<T> {
	/// Validity of a `submit_attestation` transaction: every check of the call, then a pool
	/// tag unique to (request, executor) so duplicates are dropped.
	// `#[pallet::authorize]` hands over the call's arguments by reference, as declared.
	#[allow(clippy::ptr_arg)]
	pub(crate) fn authorize_attestation(
		_source: TransactionSource,
		request_id: &RequestId,
		output: &alloc::vec::Vec<u8>,
		signature: &SignedAttestation,
	) -> TransactionValidityWithRefund {
		let checked = Self::check_attestation(*request_id, output, signature)
			.map_err(|error| TransactionValidityError::Invalid(invalid(error)))?;
		let now = frame_system::Pallet::<T>::block_number();
		let longevity = checked
			.request
			.status
			.deadline()
			.map(|deadline| deadline.saturating_sub(now).saturated_into::<u64>())
			.unwrap_or(1)
			.max(1);
		let validity = ValidTransaction::with_tag_prefix("VerityAttestation")
			.priority(ATTESTATION_PRIORITY)
			.and_provides((request_id, &signature.attestation_key))
			.longevity(longevity)
			.propagate(true)
			.build()?;
		Ok((validity, Weight::zero()))
	}

	/// Every check an attestation must pass.
	pub(crate) fn check_attestation(
		request_id: RequestId,
		output: &[u8],
		signature: &SignedAttestation,
	) -> Result<CheckedAttestation<T>, Error<T>> {
		let request = Requests::<T>::get(request_id).ok_or(Error::<T>::UnknownRequest)?;
		let now = frame_system::Pallet::<T>::block_number();
		let deadline = request.status.deadline().ok_or(Error::<T>::RequestNotOpen)?;
		ensure!(now < deadline, Error::<T>::RequestNotOpen);
		let executor_index = request
			.assigned
			.iter()
			.position(|assignee| assignee.attestation_key == signature.attestation_key)
			.ok_or(Error::<T>::NotAssigned)? as u8;
		ensure!(
			!request.attestations.iter().any(|a| a.executor_index == executor_index),
			Error::<T>::AlreadyAttested
		);
		let output: RequestOutput<T> =
			output.to_vec().try_into().map_err(|_| Error::<T>::OutputTooLarge)?;
		let model = Models::<T>::get(request.model_id).ok_or(Error::<T>::UnknownModel)?;
		TensorMap::decode_canonical(&output)
			.and_then(|tensors| tensors.ensure_matches(&model.metadata.outputs))
			.map_err(|_| Error::<T>::MalformedOutput)?;
		let output_hash = content_hash(&output);
		let payload = AttestationPayload::new(
			Self::genesis_hash(),
			request_id,
			request.model_id,
			model.metadata.execution_profile,
			request.input_hash,
			output_hash,
		);
		ensure!(
			signature
				.attestation_key
				.verify(&codec::Encode::encode(&payload), &signature.signature),
			Error::<T>::BadSignature
		);
		Ok(CheckedAttestation { request })
	}

	/// Record an attestation. Its origin is `Authorized`, which only `authorize_attestation`
	/// grants, in the same block state, after every check including the signature; what is
	/// re-checked here is only what a named error must report.
	pub(crate) fn do_submit_attestation(
		request_id: RequestId,
		output: alloc::vec::Vec<u8>,
		signature: SignedAttestation,
	) -> DispatchResult {
		let mut request = Requests::<T>::get(request_id).ok_or(Error::<T>::UnknownRequest)?;
		let deadline = request.status.deadline().ok_or(Error::<T>::RequestNotOpen)?;
		ensure!(frame_system::Pallet::<T>::block_number() < deadline, Error::<T>::RequestNotOpen);
		let executor_index = request
			.assigned
			.iter()
			.position(|assignee| assignee.attestation_key == signature.attestation_key)
			.ok_or(Error::<T>::NotAssigned)? as u8;
		ensure!(
			!request.attestations.iter().any(|a| a.executor_index == executor_index),
			Error::<T>::AlreadyAttested
		);
		let output: RequestOutput<T> = output.try_into().map_err(|_| Error::<T>::OutputTooLarge)?;
		let output_hash = content_hash(&output);
		let now = frame_system::Pallet::<T>::block_number();

		match request.candidates.iter_mut().find(|c| c.output_hash == output_hash) {
			Some(candidate) => candidate.votes = candidate.votes.saturating_add(1),
			None => request
				.candidates
				.try_push(CandidateOutput { output_hash, output, votes: 1 })
				.map_err(|_| Error::<T>::AlreadyAttested)?,
		}
		request
			.attestations
			.try_push(Attestation {
				executor_index,
				output_hash,
				signature: signature.signature.into(),
				submitted_at: now,
				settled: false,
			})
			.map_err(|_| Error::<T>::AlreadyAttested)?;

		let executor = request
			.assigned
			.get(usize::from(executor_index))
			.map(|assignee| assignee.account.clone())
			.ok_or(Error::<T>::NotAssigned)?;

		if let RequestStatus::Assigned { deadline } = request.status {
			let votes = request
				.candidates
				.iter()
				.find(|c| c.output_hash == output_hash)
				.map_or(0, |c| c.votes);
			if votes >= request.quorum() {
				request.status = RequestStatus::QuorumReached { deadline, output_hash };
				// When this block's settlement queue is full the request settles at its
				// deadline instead.
				PendingSettlement::<T>::mutate(|queue| {
					let _ = queue.try_push(request_id);
				});
			}
		}
		Requests::<T>::insert(request_id, request);
		Self::deposit_event(Event::AttestationSubmitted { request_id, executor, output_hash });
		Ok(())
	}

	/// The chain's genesis hash, bound into every attestation payload.
	pub fn genesis_hash() -> H256 {
		let hash = frame_system::Pallet::<T>::block_hash(
			frame_system::pallet_prelude::BlockNumberFor::<T>::default(),
		);
		H256::from_slice(hash.as_ref())
	}
}

/// The transaction validity error for a pallet error: its custom code is the error's index in
/// the pallet's `Error` enum, so clients can name it from the metadata.
fn invalid<T: Config>(error: Error<T>) -> InvalidTransaction {
	let index = codec::Encode::encode(&error).first().copied().unwrap_or(u8::MAX);
	InvalidTransaction::Custom(index)
}
