//! Challenges and random audits: re-executing a finalized request by fresh executors and
//! acting on the outcome.

use crate::{
	AccountIdOf, BalanceOf, ChallengeState, Config, Error, Event, HoldReason, InferenceRequest,
	Models, OnRequestFinalized, Pallet, RequestKind, RequestStatus, Requests, SlashReason,
};
use frame_support::{
	ensure,
	pallet_prelude::DispatchResult,
	traits::{
		fungible::{Inspect, MutateHold},
		tokens::{Fortitude, Precision, Preservation, Restriction},
		Get,
	},
};
use sp_core::H256;
use sp_runtime::{traits::Saturating, Permill};
use verity_primitives::RequestId;

/// Domain separation for audit draws.
const AUDIT_DOMAIN: &[u8] = b"verity/audit";

impl<T: Config> Pallet<T> {
	pub(crate) fn do_challenge(
		who: AccountIdOf<T>,
		request_id: RequestId,
		bond: BalanceOf<T>,
	) -> DispatchResult {
		let mut request = Requests::<T>::get(request_id).ok_or(Error::<T>::UnknownRequest)?;
		ensure!(request.kind == RequestKind::Inference, Error::<T>::NotChallengeable);
		let RequestStatus::Finalized { finalized_at, .. } = request.status else {
			return Err(Error::<T>::NotFinalized.into());
		};
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(
			now <= finalized_at.saturating_add(T::ChallengePeriod::get()),
			Error::<T>::ChallengePeriodOver
		);
		ensure!(request.challenge == ChallengeState::None, Error::<T>::AlreadyChallenged);
		ensure!(bond >= T::MinChallengeBond::get(), Error::<T>::ChallengeBondTooLow);
		let model = Models::<T>::get(request.model_id).ok_or(Error::<T>::UnknownModel)?;
		let fees = Self::fees(model.metadata.fee_per_run, request.redundancy);
		// Both the bond and the re-execution fee must be affordable, or nothing is held.
		let reducible =
			T::Currency::reducible_balance(&who, Preservation::Preserve, Fortitude::Polite);
		ensure!(reducible >= bond.saturating_add(fees.total), Error::<T>::InsufficientBalance);

		Self::hold(&HoldReason::ChallengeBond, &who, bond)?;
		let rerun = Self::open_request(
			who.clone(),
			request.model_id,
			request.input.clone(),
			request.redundancy,
			fees,
			RequestKind::Challenge {
				original: request_id,
				challenger: Some(who.clone()),
				bond,
				audit: None,
			},
		)?;
		request.challenge = ChallengeState::Open { rerun };
		Requests::<T>::insert(request_id, request);
		Self::deposit_event(Event::ChallengeOpened { request_id, rerun, challenger: Some(who) });
		Ok(())
	}

	/// A challenge's re-execution was finalized on `rerun_output`: uphold the challenge if it
	/// contradicts the original output, reject it otherwise.
	pub(crate) fn resolve_challenge(
		original_id: RequestId,
		rerun: &InferenceRequest<T>,
		rerun_output: H256,
	) {
		let Some(mut original) = Requests::<T>::get(original_id) else { return };
		let RequestKind::Challenge { challenger, bond, .. } = rerun.kind.clone() else { return };
		let ChallengeState::Open { rerun: rerun_id } = original.challenge else { return };
		let Some(original_output) = original.status.agreed_output_hash() else { return };

		if rerun_output != original_output {
			let beneficiary = challenger.clone().unwrap_or_else(Self::protocol_account);
			for attestation in
				original.attestations.iter().filter(|a| a.output_hash == original_output)
			{
				if let Some(assignee) =
					original.assigned.get(usize::from(attestation.executor_index))
				{
					Self::slash(
						&assignee.account,
						T::ChallengeSlash::get(),
						original_id,
						SlashReason::Overturned,
						&beneficiary,
					);
				}
			}
			if let Some(challenger) = &challenger {
				let _ = T::Currency::release(
					&HoldReason::ChallengeBond.into(),
					challenger,
					bond,
					Precision::BestEffort,
				);
			}
			original.challenge =
				ChallengeState::Upheld { rerun: rerun_id, corrected_output_hash: rerun_output };
			Self::deposit_event(Event::ChallengeUpheld {
				request_id: original_id,
				corrected_output_hash: rerun_output,
			});
			// Whoever took the overturned output (agent memory's embeddings) takes the
			// corrected one instead.
			if let (RequestKind::Inference, Some(corrected)) =
				(&original.kind, rerun.agreed_output())
			{
				T::OnFinalized::on_output_corrected(original_id, &original.model_id, corrected);
			}
		} else {
			if let Some(challenger) = &challenger {
				let _ = T::Currency::transfer_on_hold(
					&HoldReason::ChallengeBond.into(),
					challenger,
					&Self::protocol_account(),
					bond,
					Precision::BestEffort,
					Restriction::Free,
					Fortitude::Force,
				);
			}
			original.challenge = ChallengeState::Rejected { rerun: rerun_id };
			Self::deposit_event(Event::ChallengeRejected { request_id: original_id });
		}
		Requests::<T>::insert(original_id, original);
	}

	/// A challenge's re-execution expired or could not be assigned: return the bond, leave the
	/// original output standing.
	pub(crate) fn challenge_inconclusive(
		original_id: RequestId,
		kind: &crate::RequestKind<AccountIdOf<T>, BalanceOf<T>>,
	) {
		Self::release_challenge_bond(kind);
		Requests::<T>::mutate(original_id, |maybe_original| {
			if let Some(original) = maybe_original {
				if let ChallengeState::Open { rerun } = original.challenge {
					original.challenge = ChallengeState::Inconclusive { rerun };
				}
			}
		});
		Self::deposit_event(Event::ChallengeInconclusive { request_id: original_id });
	}

	/// Return a challenger's bond, if `kind` is a challenge with one.
	pub(crate) fn release_challenge_bond(kind: &RequestKind<AccountIdOf<T>, BalanceOf<T>>) {
		if let RequestKind::Challenge { challenger: Some(challenger), bond, .. } = kind {
			let _ = T::Currency::release(
				&HoldReason::ChallengeBond.into(),
				challenger,
				*bond,
				Precision::BestEffort,
			);
		}
	}

	/// Draw whether the finalized request `request_id` is audited; if so, open the audit,
	/// paid by the protocol account.
	pub(crate) fn draw_audit(request_id: RequestId) {
		let seed = Self::seed(AUDIT_DOMAIN, request_id);
		let roll = Permill::from_parts(
			u32::from_le_bytes([seed[0], seed[1], seed[2], seed[3]]) % 1_000_000,
		);
		if roll < T::AuditProbability::get() {
			Self::open_audit(request_id);
		}
	}

	/// Open an audit of `request_id` by one fresh executor, paid by the protocol account.
	pub(crate) fn open_audit(request_id: RequestId) {
		let Some(request) = Requests::<T>::get(request_id) else { return };
		let Some(model) = Models::<T>::get(request.model_id) else { return };
		let fees = Self::fees(model.metadata.fee_per_run, 1);
		match Self::open_request(
			Self::protocol_account(),
			request.model_id,
			request.input,
			1,
			fees,
			RequestKind::Audit { original: request_id },
		) {
			Ok(audit) => Self::deposit_event(Event::AuditOpened { request_id, audit }),
			Err(_) => Self::deposit_event(Event::AuditSkipped { request_id }),
		}
	}

	/// An audit was finalized on `audit_output`: a mismatch with the original output opens a
	/// challenge, paid by the protocol account.
	pub(crate) fn resolve_audit(original_id: RequestId, audit_id: RequestId, audit_output: H256) {
		let Some(mut original) = Requests::<T>::get(original_id) else { return };
		if original.status.agreed_output_hash() == Some(audit_output) {
			Self::deposit_event(Event::AuditPassed { request_id: original_id });
			return;
		}
		Self::deposit_event(Event::AuditFailed { request_id: original_id });
		if original.challenge != ChallengeState::None {
			return;
		}
		let Some(model) = Models::<T>::get(original.model_id) else { return };
		let fees = Self::fees(model.metadata.fee_per_run, original.redundancy);
		match Self::open_request(
			Self::protocol_account(),
			original.model_id,
			original.input.clone(),
			original.redundancy,
			fees,
			RequestKind::Challenge {
				original: original_id,
				challenger: None,
				bond: Default::default(),
				audit: Some(audit_id),
			},
		) {
			Ok(rerun) => {
				original.challenge = ChallengeState::Open { rerun };
				Requests::<T>::insert(original_id, original);
				Self::deposit_event(Event::ChallengeOpened {
					request_id: original_id,
					rerun,
					challenger: None,
				});
			},
			Err(_) => Self::deposit_event(Event::AuditSkipped { request_id: original_id }),
		}
	}
}
