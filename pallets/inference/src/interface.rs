//! How other pallets use the inference protocol: open requests on an account's behalf, read
//! finalized outputs, and hear of finalizations.

use crate::{
	AccountIdOf, BalanceOf, ChallengeState, Config, Models, Pallet, RequestKind, RequestStatus,
	Requests,
};
use alloc::vec::Vec;
use frame_support::weights::Weight;
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
pub trait OnRequestFinalized {
	/// Request `request_id` of `model_id` was finalized with `output`.
	fn on_request_finalized(request_id: RequestId, model_id: &ModelId, output: &[u8]);

	/// A challenge overturned the output request `request_id` of `model_id` was finalized
	/// with: `corrected` is the re-execution's agreed output, which now stands.
	fn on_output_corrected(request_id: RequestId, model_id: &ModelId, corrected: &[u8]);

	/// The most either call weighs.
	fn weight() -> Weight;
}

impl OnRequestFinalized for () {
	fn on_request_finalized(_: RequestId, _: &ModelId, _: &[u8]) {}

	fn on_output_corrected(_: RequestId, _: &ModelId, _: &[u8]) {}

	fn weight() -> Weight {
		Weight::zero()
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
