//! How other pallets use the inference protocol: open requests on an account's behalf, read
//! finalized outputs, and hear of finalizations.

use crate::{
	AccountIdOf, BalanceOf, ChallengeState, Config, Models, Pallet, RequestKind, RequestStatus,
	Requests,
};
use alloc::vec::Vec;
use frame_support::weights::Weight;
use sp_core::H256;
use sp_runtime::{traits::Bounded, DispatchError};
use verity_primitives::{ModelId, ModelStatus, RequestId};

/// Where a request another pallet opened stands.
#[derive(Clone, Eq, PartialEq, Debug)]
pub enum RequestOutcome {
	/// Still waiting for a quorum.
	Open,
	/// Finalized: the model that ran and the agreed output's canonical encoding (the
	/// re-execution's, once a challenge overturned the original one).
	Finalized {
		/// The model that ran.
		model_id: ModelId,
		/// The agreed output.
		output: Vec<u8>,
	},
	/// Finalized with an output whose bytes left state after the challenge period; they are
	/// in the body of the block that carried a reveal.
	Pruned,
	/// Expired or unassignable: it will never have an output.
	Failed,
	/// No such request.
	Unknown,
}

/// The inference protocol as another pallet sees it.
pub trait InferenceProvider<AccountId> {
	/// Open an ordinary request for `model_id` on `input`, paid by `payer`; the same checks and
	/// errors as `request_inference`.
	fn request(
		payer: &AccountId,
		model_id: ModelId,
		input: Vec<u8>,
	) -> Result<RequestId, DispatchError>;

	/// Where request `request_id` stands.
	fn outcome(request_id: RequestId) -> RequestOutcome;

	/// Whether `model_id` is registered and active.
	fn is_active_model(model_id: &ModelId) -> bool;
}

/// Told when an ordinary request is finalized, and when a challenge overturns its output.
///
/// Each call returns the weight it used: the settlement that tells it is charged the most any
/// call weighs (`weight`) before dispatch and refunded down to that, so a listener with nothing
/// to do for a request (most requests have no listener) costs its lookup, not its work.
pub trait OnRequestFinalized {
	/// Request `request_id` of `model_id` was finalized with `output`.
	fn on_request_finalized(request_id: RequestId, model_id: &ModelId, output: &[u8]) -> Weight;

	/// A challenge overturned the output request `request_id` of `model_id` was finalized
	/// with: `corrected` is the re-execution's agreed output, which now stands.
	fn on_output_corrected(request_id: RequestId, model_id: &ModelId, corrected: &[u8]) -> Weight;

	/// Ordinary request `request_id` closed without an output (it expired, found too few
	/// executors, or its quorum agreed the input cannot run): `on_request_finalized` will
	/// never be called for it.
	fn on_request_failed(_request_id: RequestId) -> Weight {
		Weight::zero()
	}

	/// The challenge period of finalized request `request_id` is over: no new challenge can
	/// be opened against it (one opened before may still be running).
	fn on_challenge_period_over(_request_id: RequestId) -> Weight {
		Weight::zero()
	}

	/// The most any of these calls weighs.
	fn weight() -> Weight;
}

impl OnRequestFinalized for () {
	fn on_request_finalized(_: RequestId, _: &ModelId, _: &[u8]) -> Weight {
		Weight::zero()
	}

	fn on_output_corrected(_: RequestId, _: &ModelId, _: &[u8]) -> Weight {
		Weight::zero()
	}

	fn weight() -> Weight {
		Weight::zero()
	}
}

/// Two listeners, told in order: for a runtime where pallets and contracts both consume results.
impl<A: OnRequestFinalized, B: OnRequestFinalized> OnRequestFinalized for (A, B) {
	fn on_request_finalized(request_id: RequestId, model_id: &ModelId, output: &[u8]) -> Weight {
		A::on_request_finalized(request_id, model_id, output)
			.saturating_add(B::on_request_finalized(request_id, model_id, output))
	}

	fn on_output_corrected(request_id: RequestId, model_id: &ModelId, corrected: &[u8]) -> Weight {
		A::on_output_corrected(request_id, model_id, corrected)
			.saturating_add(B::on_output_corrected(request_id, model_id, corrected))
	}

	fn on_request_failed(request_id: RequestId) -> Weight {
		A::on_request_failed(request_id).saturating_add(B::on_request_failed(request_id))
	}

	fn on_challenge_period_over(request_id: RequestId) -> Weight {
		A::on_challenge_period_over(request_id)
			.saturating_add(B::on_challenge_period_over(request_id))
	}

	fn weight() -> Weight {
		A::weight().saturating_add(B::weight())
	}
}

impl<T: Config> InferenceProvider<AccountIdOf<T>> for Pallet<T> {
	fn request(
		payer: &AccountIdOf<T>,
		model_id: ModelId,
		input: Vec<u8>,
	) -> Result<RequestId, DispatchError> {
		Self::do_request_inference(payer.clone(), model_id, input, BalanceOf::<T>::max_value())
	}

	fn outcome(request_id: RequestId) -> RequestOutcome {
		let Some(request) = Requests::<T>::get(request_id) else { return RequestOutcome::Unknown };
		match (&request.kind, &request.status) {
			(RequestKind::Inference, RequestStatus::Finalized { .. }) => {
				// An upheld challenge's re-execution gave the output that stands.
				let standing = match request.challenge {
					ChallengeState::Upheld { rerun, .. } => Requests::<T>::get(rerun),
					_ => None,
				};
				let standing = standing.as_ref().unwrap_or(&request);
				match standing.agreed_output() {
					Some(output) => RequestOutcome::Finalized {
						model_id: request.model_id,
						output: output.to_vec(),
					},
					None if standing.output_pruned() => RequestOutcome::Pruned,
					None => RequestOutcome::Failed,
				}
			},
			(_, RequestStatus::Expired | RequestStatus::Unassignable) => RequestOutcome::Failed,
			(RequestKind::Inference, _) => RequestOutcome::Open,
			// Challenges and audits are the protocol's own; they are never another pallet's.
			_ => RequestOutcome::Failed,
		}
	}

	fn is_active_model(model_id: &ModelId) -> bool {
		Models::<T>::get(model_id).is_some_and(|model| model.status == ModelStatus::Active)
	}
}

/// Where a request stands, as a contract reads it (`IInference.resultOf`): the number is the
/// Solidity interface's `uint8 status`.
#[derive(Clone, Copy, Eq, PartialEq, Debug)]
#[repr(u8)]
pub enum ResultStatus {
	/// No such request (never opened, or its record was pruned after its challenge period).
	Unknown = 0,
	/// Waiting for executors or for a quorum.
	Pending = 1,
	/// Settled by a quorum of matching attestations; no challenge is open against it.
	Finalized = 2,
	/// Settled, but a challenge is re-executing it: do not act on it yet.
	Challenged = 3,
	/// A challenge overturned the quorum's output; the re-execution's output stands.
	Corrected = 4,
	/// Expired or unassignable: it will never have an output; the fee went back.
	Failed = 5,
	/// The quorum agreed the input cannot be run (a rejection, no output).
	Rejected = 6,
	/// Settled with an output whose bytes left state; only its hash remains.
	Pruned = 7,
}

/// A request's standing result, as the inference precompile returns it.
#[derive(Clone, Eq, PartialEq, Debug)]
pub struct RequestResult {
	/// Where the request stands.
	pub status: ResultStatus,
	/// The hash of the outcome that stands (the one every attestation signs), or zero.
	pub outcome_hash: H256,
	/// The standing output's canonical tensor encoding; empty unless `Finalized`,
	/// `Challenged` or `Corrected`.
	pub output: Vec<u8>,
}

impl<T: Config> Pallet<T> {
	/// Open an ordinary request for `model_id` on `input`, paid by `payer`, with the same checks,
	/// errors and fee bound (`max_fee`) as `request_inference`, and draw its executors at once
	/// when the queue allows. Used by the inference precompile on a contract's behalf.
	pub fn request_on_behalf(
		payer: AccountIdOf<T>,
		model_id: ModelId,
		input: Vec<u8>,
		max_fee: BalanceOf<T>,
	) -> Result<RequestId, DispatchError> {
		let request_id = Self::do_request_inference(payer, model_id, input, max_fee)?;
		Self::assign_at_once(request_id);
		Ok(request_id)
	}

	/// The weight of [`Self::request_on_behalf`] with an input of `input_len` bytes: that of
	/// `request_inference` at its most.
	pub fn request_on_behalf_weight(input_len: u32) -> Weight {
		Self::max_request_weight(input_len)
	}

	/// The total a request of `model_id` costs its payer now (executors' fees and the protocol
	/// fee, without the storage deposit, which is returned), or `None` for an unknown model.
	pub fn quote(model_id: &ModelId) -> Option<BalanceOf<T>> {
		let model = Models::<T>::get(model_id)?;
		Some(Self::fees(model.metadata.fee_per_run, model.metadata.redundancy).total)
	}

	/// Where request `request_id` stands and the outcome that stands, for a contract.
	pub fn result_of(request_id: RequestId) -> RequestResult {
		let none =
			|status| RequestResult { status, outcome_hash: H256::zero(), output: Vec::new() };
		let Some(request) = Requests::<T>::get(request_id) else {
			return none(ResultStatus::Unknown);
		};
		if !matches!(request.kind, RequestKind::Inference) {
			return none(ResultStatus::Unknown);
		}
		match request.status {
			RequestStatus::Expired | RequestStatus::Unassignable => {
				return none(ResultStatus::Failed)
			},
			RequestStatus::Finalized { .. } => {},
			_ => return none(ResultStatus::Pending),
		}
		let (standing, status) = match request.challenge {
			ChallengeState::Open { .. } => (None, ResultStatus::Challenged),
			ChallengeState::Upheld { rerun, .. } => {
				(Requests::<T>::get(rerun), ResultStatus::Corrected)
			},
			_ => (None, ResultStatus::Finalized),
		};
		let standing = standing.as_ref().unwrap_or(&request);
		let outcome_hash = request.standing_output_hash().unwrap_or_default();
		if standing.agreed_rejection().is_some() {
			return RequestResult {
				status: ResultStatus::Rejected,
				outcome_hash,
				output: Vec::new(),
			};
		}
		match standing.agreed_output() {
			Some(output) => RequestResult { status, outcome_hash, output: output.to_vec() },
			None if standing.output_pruned() => {
				RequestResult { status: ResultStatus::Pruned, outcome_hash, output: Vec::new() }
			},
			None => none(ResultStatus::Failed),
		}
	}
}
