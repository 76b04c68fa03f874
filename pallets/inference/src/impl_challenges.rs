//! Challenges and random audits: re-executing a finalized request by fresh executors and
//! acting on the outcome.
//!
//! A re-execution is served only by executors outside the original set, at twice the
//! original redundancy (capped by `MaxRedundancy` and by the fresh executors live), and never
//! by fewer than the original redundancy plus one (or `MaxRedundancy`, for a model already at
//! it): a challenge is refused, with nothing held, when fewer fresh executors are live
//! (`NotEnoughFreshExecutors`). So a single dishonest
//! re-executor cannot overturn an honest quorum, and a cheater cannot get its own result
//! re-run by too few eyes.
//!
//! A re-execution that reaches no quorum is inconclusive and leaves the request open to
//! another challenge within the challenge period, so a cheater cannot shield its result by
//! challenging it first and letting the re-run fail.
//!
//! An upheld challenge slashes every executor of the overturned quorum by `ChallengeSlash`.
//! The challenger receives only `ChallengeRewardShare` of what was slashed; the rest goes to
//! the protocol account. Challenging one's own wrong result therefore always loses money:
//! with `S` the slashed total and `F` the re-execution fees it pays,
//! `reward - loss = ChallengeRewardShare * S - S - F < 0` whenever `ChallengeRewardShare < 1`.
//!
//! A failed audit opens a challenge paid by the protocol; when that challenge confirms the
//! original output, the auditor lied and is slashed like a dissenter.

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
use sp_runtime::{
	traits::{Saturating, Zero},
	Permill,
};
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
		ensure!(
			crate::RequestInputs::<T>::contains_key(request_id),
			Error::<T>::ChallengePeriodOver
		);
		ensure!(
			matches!(request.challenge, ChallengeState::None | ChallengeState::Inconclusive { .. }),
			Error::<T>::AlreadyChallenged
		);
		ensure!(bond >= T::MinChallengeBond::get(), Error::<T>::ChallengeBondTooLow);
		let model = Models::<T>::get(request.model_id).ok_or(Error::<T>::UnknownModel)?;
		let redundancy =
			Self::rerun_redundancy(&request, &[]).ok_or(Error::<T>::NotEnoughFreshExecutors)?;
		let fees = Self::fees(model.metadata.fee_per_run, redundancy);
		// Both the bond and the re-execution fee must be affordable, or nothing is held.
		let reducible =
			T::Currency::reducible_balance(&who, Preservation::Preserve, Fortitude::Polite);
		ensure!(reducible >= bond.saturating_add(fees.total), Error::<T>::InsufficientBalance);

		Self::hold(&HoldReason::ChallengeBond, &who, bond)?;
		let rerun = Self::open_request(
			who.clone(),
			request.model_id,
			Self::request_input(request_id),
			redundancy,
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

	/// How many fresh executors re-run `original`: twice its redundancy, capped by
	/// `MaxRedundancy` and by the live executors outside its assigned set (and outside
	/// `also_excluded`); `None` when fewer than its redundancy plus one (at most
	/// `MaxRedundancy`) are live.
	pub(crate) fn rerun_redundancy(
		original: &InferenceRequest<T>,
		also_excluded: &[AccountIdOf<T>],
	) -> Option<u8> {
		let excluded: alloc::vec::Vec<AccountIdOf<T>> = original
			.assigned
			.iter()
			.map(|assignee| assignee.account.clone())
			.chain(also_excluded.iter().cloned())
			.collect();
		let fresh = Self::live_executor_count(&original.model_id, &excluded);
		let max = T::MaxRedundancy::get();
		let needed = u32::from(original.redundancy).saturating_add(1).min(max);
		if fresh < needed {
			return None;
		}
		let target = u32::from(original.redundancy).saturating_mul(2).min(max);
		u8::try_from(target.min(fresh).max(needed)).ok()
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
			let protocol = Self::protocol_account();
			let mut slashed: BalanceOf<T> = Default::default();
			for attestation in original
				.attestations
				.iter()
				.filter(|a| a.output_hash == original_output && a.matches_commitment)
			{
				if let Some(assignee) =
					original.assigned.get(usize::from(attestation.executor_index))
				{
					slashed = slashed.saturating_add(Self::slash(
						&assignee.account,
						T::ChallengeSlash::get(),
						original_id,
						SlashReason::Overturned,
						&protocol,
					));
				}
			}
			if let Some(challenger) = &challenger {
				let reward = T::ChallengeRewardShare::get().mul_floor(slashed);
				let _ = <T::Currency as frame_support::traits::fungible::Mutate<_>>::transfer(
					&protocol,
					challenger,
					reward,
					Preservation::Preserve,
				);
			}
			if let Some(challenger) = &challenger {
				let _ = T::Currency::release(
					&HoldReason::ChallengeBond.into(),
					challenger,
					bond,
					Precision::BestEffort,
				);
			}
			// Those who dissented with the overturned quorum were right: their slashes return.
			for attestation in original.attestations.iter_mut().filter(|a| {
				a.output_hash == rerun_output && a.matches_commitment && !a.penalty.is_zero()
			}) {
				if let Some(assignee) =
					original.assigned.get(usize::from(attestation.executor_index))
				{
					let penalty = core::mem::take(&mut attestation.penalty);
					Self::refund_slash(&assignee.account, original_id, penalty);
				}
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
			// A failed audit opened this challenge and the original stands: the auditor lied.
			if let RequestKind::Challenge { audit: Some(audit_id), .. } = rerun.kind {
				Self::slash_lying_auditor(audit_id, original_output);
			}
		}
		Requests::<T>::insert(original_id, original);
	}

	/// Give `amount`, slashed from `executor` over `request_id` in error, back to its bond from
	/// the protocol account.
	fn refund_slash(executor: &AccountIdOf<T>, request_id: RequestId, amount: BalanceOf<T>) {
		let protocol = Self::protocol_account();
		let moved = <T::Currency as frame_support::traits::fungible::Mutate<_>>::transfer(
			&protocol,
			executor,
			amount,
			Preservation::Preserve,
		);
		if moved.is_err() {
			frame_support::defensive!("the protocol account holds the slashes it took");
			return;
		}
		let rebonded = crate::Executors::<T>::mutate(executor, |maybe_info| {
			let info = maybe_info.as_mut()?;
			T::Currency::hold(&HoldReason::ExecutorBond.into(), executor, amount).ok()?;
			info.bond = info.bond.saturating_add(amount);
			info.stats.slashed = info.stats.slashed.saturating_sub(amount);
			Some(())
		});
		Self::deposit_event(Event::SlashRefunded {
			executor: executor.clone(),
			request_id,
			amount,
			rebonded: rebonded.is_some(),
		});
	}

	/// Slash, like a dissenter, every auditor of `audit_id` whose answer contradicted the
	/// output the challenge confirmed.
	fn slash_lying_auditor(audit_id: RequestId, confirmed: H256) {
		let Some(audit) = Requests::<T>::get(audit_id) else { return };
		for attestation in audit.attestations.iter().filter(|a| a.output_hash != confirmed) {
			if let Some(assignee) = audit.assigned.get(usize::from(attestation.executor_index)) {
				Self::slash(
					&assignee.account,
					T::DissentSlash::get(),
					audit_id,
					SlashReason::Dissent,
					&Self::protocol_account(),
				);
			}
		}
	}

	/// A challenge's re-execution expired or could not be assigned: return the bond, leave the
	/// original output standing and open to another challenge.
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
			Self::request_input(request_id),
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
		let auditors: alloc::vec::Vec<AccountIdOf<T>> = Requests::<T>::get(audit_id)
			.map(|audit| audit.assigned.into_iter().map(|assignee| assignee.account).collect())
			.unwrap_or_default();
		let Some(redundancy) = Self::rerun_redundancy(&original, &auditors) else {
			Self::deposit_event(Event::AuditSkipped { request_id: original_id });
			return;
		};
		let fees = Self::fees(model.metadata.fee_per_run, redundancy);
		match Self::open_request(
			Self::protocol_account(),
			original.model_id,
			Self::request_input(original_id),
			redundancy,
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
