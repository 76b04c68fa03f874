//! The reads offchain workers, executors and clients need, as a runtime API.

use crate::{
	Assignments, BalanceOf, ChallengeState, Config, ExecutorByKey, ExecutorStats, ExecutorStatus,
	Models, Pallet, RequestKind, RequestStatus, Requests,
};
use alloc::vec::Vec;
use codec::{Codec, Decode, Encode};
use frame_system::pallet_prelude::BlockNumberFor;
use scale_info::TypeInfo;
use sp_core::H256;
use verity_primitives::{
	ExecutionProfileId, ExecutorPublic, ExecutorSignature, ModelId, ModelInfo, RejectionCode,
	RequestId,
};

/// One attestation of a request, with the executor that signed it.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo)]
#[cfg_attr(feature = "std", derive(serde::Serialize))]
pub struct AttestationView<AccountId, BlockNumber> {
	/// The executor's account.
	pub executor: AccountId,
	/// The key it signed with.
	pub attestation_key: ExecutorPublic,
	/// The revealed outcome's hash.
	pub output_hash: H256,
	/// Whether it matched the executor's commitment.
	pub matches_commitment: bool,
	/// The signature over the attestation payload.
	#[cfg_attr(feature = "std", serde(serialize_with = "hex_signature"))]
	pub signature: ExecutorSignature,
	/// The block it arrived in.
	pub submitted_at: BlockNumber,
}

/// A request with its status, attestations and output.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo)]
#[cfg_attr(feature = "std", derive(serde::Serialize))]
pub struct RequestView<AccountId, Balance, BlockNumber> {
	/// The request's id.
	pub request_id: RequestId,
	/// Who pays.
	pub requester: AccountId,
	/// The model run.
	pub model_id: ModelId,
	/// The canonical input encoding.
	#[cfg_attr(feature = "std", serde(serialize_with = "hex_bytes"))]
	pub input: Vec<u8>,
	/// Its hash.
	pub input_hash: H256,
	/// Why the request exists.
	pub kind: RequestKind<AccountId, Balance>,
	/// How many executors run it.
	pub redundancy: u8,
	/// What each agreeing executor earns.
	pub fee_per_executor: Balance,
	/// What is still in escrow.
	pub escrow: Balance,
	/// When it was submitted.
	pub created_at: BlockNumber,
	/// The executors drawn, with their keys.
	pub assigned: Vec<(AccountId, ExecutorPublic)>,
	/// The block from which reveals are taken even if some executor never committed.
	pub commit_deadline: BlockNumber,
	/// The commitments received: executor and commitment.
	pub commitments: Vec<(AccountId, H256)>,
	/// The attestations (reveals) received.
	pub attestations: Vec<AttestationView<AccountId, BlockNumber>>,
	/// Where it is in its life.
	pub status: RequestStatus<BlockNumber>,
	/// The agreed output, once there is one and it is not a rejection.
	#[cfg_attr(feature = "std", serde(serialize_with = "hex_optional_bytes"))]
	pub output: Option<Vec<u8>>,
	/// The agreed rejection, when the quorum found the input could not be run.
	pub rejection: Option<RejectionCode>,
	/// Whether it was challenged, and how that ended.
	pub challenge: ChallengeState,
}

/// An executor's public record.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo)]
#[cfg_attr(feature = "std", derive(serde::Serialize))]
pub struct ExecutorView<Balance, BlockNumber> {
	/// Its attestation key.
	pub attestation_key: ExecutorPublic,
	/// The models it serves.
	pub models: Vec<ModelId>,
	/// Its bond.
	pub bond: Balance,
	/// Whether it takes new work.
	pub status: ExecutorStatus<BlockNumber>,
	/// Its counters.
	pub stats: ExecutorStats<Balance>,
	/// Requests it still has to answer.
	pub open_assignments: Vec<RequestId>,
}

/// A job an executor has to do.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo)]
#[cfg_attr(feature = "std", derive(serde::Serialize))]
pub struct AssignmentView<BlockNumber> {
	/// The request.
	pub request_id: RequestId,
	/// The model to run.
	pub model_id: ModelId,
	/// The profile to run it under.
	pub execution_profile: ExecutionProfileId,
	/// The canonical input encoding.
	#[cfg_attr(feature = "std", serde(serialize_with = "hex_bytes"))]
	pub input: Vec<u8>,
	/// Its hash.
	pub input_hash: H256,
	/// Block at whose start the request closes; answer before it.
	pub deadline: BlockNumber,
	/// Block from which no commitment is taken.
	pub commit_deadline: BlockNumber,
	/// Whether this executor has committed.
	pub committed: bool,
	/// Whether reveals are taken now (the commit phase is over).
	pub reveal_open: bool,
}

/// Bytes as `0x`-prefixed hex in JSON.
#[cfg(feature = "std")]
fn hex_bytes<S: serde::Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
	serializer.serialize_str(&sp_core::bytes::to_hex(bytes, false))
}

/// Optional bytes as `0x`-prefixed hex or `null` in JSON.
#[cfg(feature = "std")]
fn hex_optional_bytes<S: serde::Serializer>(
	bytes: &Option<Vec<u8>>,
	serializer: S,
) -> Result<S::Ok, S::Error> {
	match bytes {
		Some(bytes) => hex_bytes(bytes, serializer),
		None => serializer.serialize_none(),
	}
}

/// A signature as `0x`-prefixed hex in JSON.
#[cfg(feature = "std")]
fn hex_signature<S: serde::Serializer>(
	signature: &ExecutorSignature,
	serializer: S,
) -> Result<S::Ok, S::Error> {
	hex_bytes(signature.as_ref(), serializer)
}

/// The most models one page of [`InferenceApi::models`] holds.
pub const MAX_MODELS_PAGE: u32 = 1000;

sp_api::decl_runtime_apis! {
	/// Reads of the inference protocol.
	pub trait InferenceApi<AccountId, Balance, BlockNumber>
	where
		AccountId: Codec,
		Balance: Codec,
		BlockNumber: Codec,
	{
		/// A request with its status, attestations and output.
		fn request(request_id: RequestId) -> Option<RequestView<AccountId, Balance, BlockNumber>>;
		/// A registered model.
		fn model(model_id: ModelId) -> Option<ModelInfo<Balance, BlockNumber>>;
		/// Up to `limit` (at most [`MAX_MODELS_PAGE`]) registered models in storage order, from
		/// the first (or the one after `start_after`): a page; the next page starts after the
		/// last model of this one.
		fn models(
			start_after: Option<ModelId>,
			limit: u32,
		) -> Vec<(ModelId, ModelInfo<Balance, BlockNumber>)>;
		/// A registered executor.
		fn executor(account: AccountId) -> Option<ExecutorView<Balance, BlockNumber>>;
		/// The executor an attestation key belongs to.
		fn executor_of_key(attestation_key: ExecutorPublic) -> Option<AccountId>;
		/// The jobs the executor holding `attestation_key` still has to answer.
		fn open_assignments(attestation_key: ExecutorPublic) -> Vec<AssignmentView<BlockNumber>>;
		/// The chain's genesis hash, as bound into attestation payloads.
		fn genesis_hash() -> H256;
	}
}

impl<T: Config> Pallet<T> {
	/// The runtime API's view of a request.
	pub fn request_view(
		request_id: RequestId,
	) -> Option<RequestView<T::AccountId, BalanceOf<T>, BlockNumberFor<T>>> {
		let request = Requests::<T>::get(request_id)?;
		let output = request.agreed_output().map(|output| output.to_vec());
		let rejection = request.agreed_rejection();
		let commitments = request
			.commitments
			.iter()
			.filter_map(|c| {
				let assignee = request.assigned.get(usize::from(c.executor_index))?;
				Some((assignee.account.clone(), c.commitment))
			})
			.collect();
		let attestations = request
			.attestations
			.iter()
			.filter_map(|attestation| {
				let assignee = request.assigned.get(usize::from(attestation.executor_index))?;
				Some(AttestationView {
					executor: assignee.account.clone(),
					attestation_key: assignee.attestation_key.clone(),
					output_hash: attestation.output_hash,
					matches_commitment: attestation.matches_commitment,
					signature: attestation.signature.into(),
					submitted_at: attestation.submitted_at,
				})
			})
			.collect();
		Some(RequestView {
			request_id,
			requester: request.requester,
			model_id: request.model_id,
			input: Self::request_input(request_id).into_inner(),
			input_hash: request.input_hash,
			kind: request.kind,
			redundancy: request.redundancy,
			fee_per_executor: request.fee_per_executor,
			escrow: request.escrow,
			created_at: request.created_at,
			assigned: request
				.assigned
				.into_iter()
				.map(|assignee| (assignee.account, assignee.attestation_key))
				.collect(),
			commit_deadline: request.commit_deadline,
			commitments,
			attestations,
			status: request.status,
			output,
			rejection,
			challenge: request.challenge,
		})
	}

	/// The runtime API's view of an executor.
	pub fn executor_view(
		account: T::AccountId,
	) -> Option<ExecutorView<BalanceOf<T>, BlockNumberFor<T>>> {
		let executor = crate::Executors::<T>::get(&account)?;
		Some(ExecutorView {
			attestation_key: executor.attestation_key,
			models: executor.models.into_inner(),
			bond: executor.bond,
			status: executor.status,
			stats: executor.stats,
			open_assignments: Assignments::<T>::iter_key_prefix(&account).collect(),
		})
	}

	/// Every registered model.
	pub fn models_page(
		start_after: Option<ModelId>,
		limit: u32,
	) -> Vec<(ModelId, crate::ModelInfoOf<T>)> {
		let limit = limit.min(MAX_MODELS_PAGE) as usize;
		match start_after {
			Some(model_id) => Models::<T>::iter_from(Models::<T>::hashed_key_for(model_id))
				.take(limit)
				.collect(),
			None => Models::<T>::iter().take(limit).collect(),
		}
	}

	/// The executor holding `attestation_key`.
	pub fn executor_of_key(attestation_key: ExecutorPublic) -> Option<T::AccountId> {
		ExecutorByKey::<T>::get(attestation_key)
	}

	/// The jobs the executor holding `attestation_key` has not revealed and can still act on:
	/// commit (in the commit phase, not committed yet) or reveal (committed, reveals open).
	pub fn open_assignments(
		attestation_key: ExecutorPublic,
	) -> Vec<AssignmentView<BlockNumberFor<T>>> {
		let Some(account) = ExecutorByKey::<T>::get(&attestation_key) else { return Vec::new() };
		let now = frame_system::Pallet::<T>::block_number();
		Assignments::<T>::iter_key_prefix(&account)
			.filter_map(|request_id| {
				let request = Requests::<T>::get(request_id)?;
				let deadline = request.status.deadline().filter(|deadline| *deadline > now)?;
				let index =
					request.assigned.iter().position(|a| a.attestation_key == attestation_key)?;
				if request.attestations.iter().any(|a| usize::from(a.executor_index) == index) {
					return None;
				}
				let committed = request.commitment_of(index as u8).is_some();
				let reveal_open = request.commit_phase_closed(now);
				if !committed && reveal_open {
					// Too late to commit, so nothing to reveal.
					return None;
				}
				let model = Models::<T>::get(request.model_id)?;
				Some(AssignmentView {
					request_id,
					model_id: request.model_id,
					execution_profile: model.metadata.execution_profile,
					input_hash: request.input_hash,
					input: Self::request_input(request_id).into_inner(),
					deadline,
					commit_deadline: request.commit_deadline,
					committed,
					reveal_open,
				})
			})
			.collect()
	}
}
