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

use crate::impl_settlement::FollowUp;
use crate::{
	AccountIdOf, BalanceOf, ChallengeState, Config, Error, Event, HoldReason, InferenceRequest,
	Models, OnRequestFinalized, Pallet, RequestKind, RequestStatus, Requests, SlashReason,
};
use frame_support::{
	ensure,
	pallet_prelude::DispatchResult,
	traits::{
		fungible::Inspect,
		tokens::{Fortitude, Preservation},
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
		ensure!(Self::is_challengeable(&request.kind), Error::<T>::NotChallengeable);
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
		// A re-execution of a re-execution is served by executors outside every earlier level.
		let earlier = Self::excluded_executors(&request.kind);
		let redundancy = Self::rerun_redundancy(&request, &earlier)
			.ok_or(Error::<T>::NotEnoughFreshExecutors)?;
		let fees = Self::fees(model.metadata.fee_per_run, redundancy);
		let deposit = Self::storage_deposit(&request.model_id, request.input_len, redundancy);
		// The bond, the re-execution fee and its storage deposit must all be affordable, or
		// nothing is held.
		let reducible =
			T::Currency::reducible_balance(&who, Preservation::Preserve, Fortitude::Polite);
		ensure!(
			reducible >= bond.saturating_add(fees.total).saturating_add(deposit),
			Error::<T>::InsufficientBalance
		);

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
	/// contradicts the original output, reject it otherwise. When the challenged request was
	/// itself a re-execution, the request it had judged is judged again against the output
	/// that now stands.
	pub(crate) fn resolve_challenge(
		original_id: RequestId,
		rerun: &InferenceRequest<T>,
		rerun_output: H256,
	) {
		let Some(mut original) = Requests::<T>::get(original_id) else { return };
		let RequestKind::Challenge { challenger, .. } = rerun.kind.clone() else { return };
		let ChallengeState::Open { rerun: rerun_id } = original.challenge else { return };
		let Some(original_output) = original.status.agreed_output_hash() else { return };

		// Slash whoever the output that now stands shows wrong, refund whoever it shows right.
		let slashed = Self::apply_standing_output(original_id, &mut original, rerun_output);
		if rerun_output != original_output {
			if let Some(challenger) = &challenger {
				Self::reward_challenger(challenger, slashed);
			}
			Self::release_challenge_bond(&rerun.kind);
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
			Self::forfeit_challenge_bond(&rerun.kind);
			original.challenge = ChallengeState::Rejected { rerun: rerun_id };
			Self::deposit_event(Event::ChallengeRejected { request_id: original_id });
			// A failed audit opened this challenge and the original stands: the auditor lied.
			if let RequestKind::Challenge { audit: Some(audit_id), .. } = rerun.kind {
				Self::slash_lying_auditor(audit_id, original_output);
			}
		}
		let overturned_rerun = rerun_output != original_output;
		let judged = match &original.kind {
			RequestKind::Challenge { original: judged, .. } if overturned_rerun => Some(*judged),
			_ => None,
		};
		Requests::<T>::insert(original_id, original);
		if let Some(judged) = judged {
			Self::judge_again(judged, rerun_id, rerun_output, rerun.agreed_output());
		}
	}

	/// Settle every settled, commitment-keeping attestation of `request` against `standing`,
	/// the output that stands for it now: one that attested `standing` and carries a penalty
	/// gets it back; one that attested anything else and carries none is slashed (an executor
	/// of the quorum by `ChallengeSlash` as overturned, a dissenter by `DissentSlash`), and
	/// the penalty is recorded, so that a later verdict can undo it. Returns what the quorum's
	/// executors were slashed.
	fn apply_standing_output(
		request_id: RequestId,
		request: &mut InferenceRequest<T>,
		standing: H256,
	) -> BalanceOf<T> {
		let agreed = request.status.agreed_output_hash();
		let mut slashed_quorum: BalanceOf<T> = Zero::zero();
		for attestation in
			request.attestations.iter_mut().filter(|a| a.settled && a.matches_commitment)
		{
			let Some(assignee) = request.assigned.get(usize::from(attestation.executor_index))
			else {
				continue;
			};
			let right = attestation.output_hash == standing;
			if right && !attestation.penalty.is_zero() {
				let penalty = core::mem::take(&mut attestation.penalty);
				Self::refund_slash(&assignee.account, request_id, penalty);
			} else if !right && attestation.penalty.is_zero() {
				if Some(attestation.output_hash) == agreed {
					attestation.penalty = Self::slash(
						&assignee.account,
						T::ChallengeSlash::get(),
						request_id,
						SlashReason::Overturned,
					);
					slashed_quorum = slashed_quorum.saturating_add(attestation.penalty);
				} else {
					attestation.penalty = Self::slash(
						&assignee.account,
						T::DissentSlash::get(),
						request_id,
						SlashReason::Dissent,
					);
				}
			}
		}
		slashed_quorum
	}

	/// A second-level challenge overturned the re-execution that had judged `request_id`: judge
	/// it again against `standing`, the output of `rerun`, the re-execution that now stands.
	///
	/// What the first verdict did is undone where the new one contradicts it: slashes of
	/// executors shown right come back, executors shown wrong are slashed, and a first
	/// challenger whose challenge was wrongly rejected gets its bond back and its share of the
	/// slash. A first challenger whose challenge was wrongly upheld keeps the reward it was
	/// paid: the protocol account bears it (its bond was already back in its hands).
	fn judge_again(
		request_id: RequestId,
		rerun: RequestId,
		standing: H256,
		standing_output: Option<&crate::RequestOutput<T>>,
	) {
		let Some(mut request) = Requests::<T>::get(request_id) else { return };
		let Some(agreed) = request.status.agreed_output_hash() else { return };
		let first_rerun = match request.challenge {
			ChallengeState::Upheld { rerun, .. } | ChallengeState::Rejected { rerun } => rerun,
			_ => return,
		};
		let was_rejected = matches!(request.challenge, ChallengeState::Rejected { .. });
		let slashed = Self::apply_standing_output(request_id, &mut request, standing);
		if standing == agreed {
			request.challenge = ChallengeState::Rejected { rerun };
		} else {
			if was_rejected {
				if let Some(first) = Requests::<T>::get(first_rerun) {
					Self::return_forfeited_challenge_bond(&first.kind);
					if let RequestKind::Challenge { challenger: Some(challenger), .. } = first.kind
					{
						Self::reward_challenger(&challenger, slashed);
					}
				}
			}
			request.challenge = ChallengeState::Upheld { rerun, corrected_output_hash: standing };
		}
		Self::deposit_event(Event::VerdictRevised { request_id, standing_output_hash: standing });
		if let (RequestKind::Inference, Some(output)) = (&request.kind, standing_output) {
			T::OnFinalized::on_output_corrected(request_id, &request.model_id, output);
		}
		Requests::<T>::insert(request_id, request);
	}

	/// Whether a finalized request of `kind` may be challenged: an ordinary request, or the
	/// re-execution that judged one (a first-level challenge). A second-level re-execution's
	/// verdict is final, which bounds how far a verdict can be revised and how many
	/// executors a chain of challenges needs.
	pub(crate) fn is_challengeable(kind: &RequestKind<AccountIdOf<T>, BalanceOf<T>>) -> bool {
		match kind {
			RequestKind::Inference => true,
			RequestKind::Challenge { original, .. } => Requests::<T>::get(original)
				.is_some_and(|original| original.kind == RequestKind::Inference),
			RequestKind::Audit { .. } => false,
		}
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

	/// Draw whether the finalized request `request_id` is audited; if so, open the audit,
	/// paid by the protocol account.
	pub(crate) fn draw_audit(request_id: RequestId) -> FollowUp {
		let seed = Self::seed(AUDIT_DOMAIN, request_id);
		let roll = Permill::from_parts(
			u32::from_le_bytes([seed[0], seed[1], seed[2], seed[3]]) % 1_000_000,
		);
		if roll < T::AuditProbability::get() {
			Self::open_audit(request_id);
			FollowUp::Opened
		} else {
			FollowUp::Nothing
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
		match original.challenge {
			ChallengeState::None | ChallengeState::Inconclusive { .. } => {},
			// A challenge already decided what stands: an audit that contradicts it lied.
			ChallengeState::Upheld { .. } | ChallengeState::Rejected { .. } => {
				if let Some(standing) = original.standing_output_hash() {
					if standing != audit_output {
						Self::slash_lying_auditor(audit_id, standing);
					}
				}
				return;
			},
			// The open challenge's re-execution decides; the audit adds nothing to it.
			ChallengeState::Open { .. } => return,
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
