//! Settlement: finalizing on a quorum, paying agreeing executors, slashing dissent and
//! no-shows, refunding escrow, and expiring requests at their deadline.
//!
//! Misses are slashed only when the request was answerable: a quorum of the other executors
//! answered in time, so the input could be run and the deadline left room to run it. When no
//! quorum forms, nobody is slashed for missing (an input no one could run, or an outage of the
//! chain, is not an executor's fault); the escrow goes back in full and each miss is counted.
//! An executor that misses `MaxConsecutiveMisses` assignments in a row leaves every pool it
//! is in (`ExecutorEvicted`) and is drawn for nothing until it rejoins with
//! `update_executor`. A reveal that does not match its commitment is slashed as dissent
//! whatever the quorum: it is a provable lie.

use crate::{
	AccountIdOf, Assignments, BalanceOf, Config, Event, InferenceRequest, OnRequestFinalized,
	Pallet, PruneAt, RecordShape, RequestInputs, RequestKind, RequestStatus, Requests, SlashReason,
	StoredOutcome,
};
use frame_support::{traits::Get, weights::Weight};
use sp_runtime::{traits::UniqueSaturatedInto, Saturating};
use verity_primitives::RequestId;

impl<T: Config> Pallet<T> {
	/// Settle a request whose attestations reached the quorum: finalize it, pay the agreeing
	/// executors, slash the dissenting ones, pay the protocol fee, then act on what it was a
	/// re-execution of, or draw its random audit.
	///
	/// The audit is drawn here, with the settlement, not queued: no flood of requests can take
	/// the room an audit needs, and no bound on a queue lets a finalized request skip its draw.
	///
	/// Returns the weight it used: by the request's record, what its listeners did, and
	/// whether an audit was opened (one in `AuditProbability`).
	pub(crate) fn settle_request(request_id: RequestId) -> Weight {
		let untouched = T::DbWeight::get().reads(1);
		let Some(mut request) = Requests::<T>::get(request_id) else { return untouched };
		let RequestStatus::QuorumReached { deadline, output_hash } = request.status else {
			return untouched;
		};
		let now = frame_system::Pallet::<T>::block_number();
		request.status = RequestStatus::Finalized { deadline, finalized_at: now, output_hash };
		Self::settle_attestations(request_id, &mut request);
		let protocol_fee = core::mem::take(&mut request.protocol_fee);
		Self::pay_from_escrow(&mut request, &Self::protocol_account(), protocol_fee);
		let rejection = request.agreed_rejection();
		Self::deposit_event(Event::RequestFinalized { request_id, output_hash, rejection });

		let kind = request.kind.clone();
		let told = match (&kind, request.agreed_output()) {
			(RequestKind::Inference, Some(output)) => {
				T::OnFinalized::on_request_finalized(request_id, &request.model_id, output)
			},
			(RequestKind::Inference, None) => T::OnFinalized::on_request_failed(request_id),
			_ => Weight::zero(),
		};
		Requests::<T>::insert(request_id, request.clone());
		let follow_up = match kind {
			RequestKind::Inference => Self::draw_audit(request_id),
			RequestKind::Challenge { original, .. } => {
				Self::resolve_challenge(original, &request, output_hash);
				FollowUp::Heaviest
			},
			RequestKind::Audit { original } => {
				Self::resolve_audit(original, request_id, output_hash);
				FollowUp::Opened
			},
		};
		Self::settlement_used(&request, told, follow_up)
	}

	/// Close a request at its deadline: settle late attestations, slash executors that never
	/// answered, and return what is left in escrow. A request that never reached a quorum
	/// expires and its whole escrow goes back.
	pub(crate) fn expire_request(request_id: RequestId) -> Expiry {
		let settles_here = matches!(
			Requests::<T>::get(request_id).map(|r| r.status),
			Some(RequestStatus::QuorumReached { .. })
		);
		if settles_here {
			// Reveals settle their quorum at once; only a state written without that (a
			// benchmark's) is settled here.
			Self::settle_request(request_id);
		}
		let Some(mut request) = Requests::<T>::get(request_id) else {
			return Expiry::Finalized(RecordShape { redundancy: 1, largest_output: 0 });
		};
		let finalized = match request.status {
			RequestStatus::Finalized { .. } => true,
			RequestStatus::Assigned { .. } => false,
			_ => return Expiry::Finalized(request.shape()),
		};
		Self::release_answers_owed(&mut request);
		let expiry = match (&request.kind, finalized && !settles_here) {
			(RequestKind::Challenge { .. }, _) | (_, false) => Expiry::Full,
			(_, true) => Expiry::Finalized(request.shape()),
		};
		if finalized {
			Self::settle_attestations(request_id, &mut request);
		} else {
			Self::slash_broken_commitments(request_id, &mut request);
			request.status = RequestStatus::Expired;
		}
		Self::close_assignments(request_id, &request, finalized);
		Self::refund_escrow(&mut request);
		if !finalized {
			Self::deposit_event(Event::RequestExpired { request_id });
			if let RequestKind::Inference = request.kind {
				T::OnFinalized::on_request_failed(request_id);
			}
			if let RequestKind::Challenge { original, .. } = request.kind {
				Self::challenge_inconclusive(original, &request.kind);
			}
		}
		// A finalized challengeable request's bytes (an ordinary request's, or a first-level
		// re-execution's) are kept through its challenge period, for a challenge to copy; no
		// other request needs them after its deadline. The last block a challenge can come in
		// is the deadline plus the period; the hook of the block after it prunes.
		// A closing the hook did late (`HookWeight`) still prunes in a block to come.
		let now = frame_system::Pallet::<T>::block_number();
		let prune_at = request
			.status
			.deadline_passed_at(T::ChallengePeriod::get().saturating_add(1u32.into()))
			.map(|at| at.max(now.saturating_add(1u32.into())));
		match (finalized && Self::is_challengeable(&request.kind), prune_at) {
			(true, Some(at)) => {
				let queued = PruneAt::<T>::mutate(at, |queue| queue.try_push(request_id).is_ok());
				if !queued {
					frame_support::defensive!("one prune entry per deadline entry fits");
					Self::prune_bytes(request_id, &mut request);
				}
			},
			_ => Self::prune_bytes(request_id, &mut request),
		}
		Requests::<T>::insert(request_id, request);
		expiry
	}

	/// Drop a request's input and output bytes from state and return its storage deposit.
	/// The bytes stay in the bodies of the blocks that carried the request (`created_at`) and
	/// the reveals (`submitted_at`); the record keeps their hashes, which pin them.
	pub(crate) fn prune_bytes(request_id: RequestId, request: &mut InferenceRequest<T>) {
		RequestInputs::<T>::remove(request_id);
		for candidate in request.candidates.iter_mut() {
			if matches!(candidate.outcome, StoredOutcome::Output(_)) {
				candidate.outcome = StoredOutcome::Pruned;
			}
		}
		Self::refund_storage_deposit(request);
	}

	/// The hook's pruning of a finalized request whose challenge period is over.
	pub(crate) fn prune_request(request_id: RequestId) {
		Requests::<T>::mutate(request_id, |maybe_request| {
			if let Some(request) = maybe_request {
				Self::prune_bytes(request_id, request);
			}
		});
	}

	/// Pay every unsettled attestation that matches the agreed outcome; slash every one that
	/// contradicts it or does not match its own commitment.
	///
	/// Once a challenge has overturned the request, late attestations are judged against the
	/// corrected outcome, not the overturned one.
	fn settle_attestations(request_id: RequestId, request: &mut InferenceRequest<T>) {
		let Some(agreed) = request.standing_output_hash() else { return };
		let fee = request.fee_per_executor;
		let mut outcomes = alloc::vec::Vec::new();
		for (index, attestation) in
			request.attestations.iter_mut().enumerate().filter(|(_, a)| !a.settled)
		{
			attestation.settled = true;
			if let Some(assignee) = request.assigned.get(usize::from(attestation.executor_index)) {
				let agrees = attestation.matches_commitment && attestation.output_hash == agreed;
				outcomes.push((index, assignee.account.clone(), agrees));
			}
		}
		for (index, executor, agrees) in outcomes {
			Self::record(&executor, |stats| {
				stats.answered.saturating_inc();
				if agrees {
					stats.agreed.saturating_inc();
				} else {
					stats.dissented.saturating_inc();
				}
			});
			if agrees {
				Self::pay_from_escrow(request, &executor, fee);
			} else {
				let penalty = Self::slash_dissent(&executor, request_id);
				if let Some(attestation) = request.attestations.get_mut(index) {
					attestation.penalty = penalty;
				}
			}
		}
	}

	/// On a request that expired without a quorum: slash every reveal that does not match its
	/// commitment, and close the rest unpaid and unslashed.
	fn slash_broken_commitments(request_id: RequestId, request: &mut InferenceRequest<T>) {
		let mut liars = alloc::vec::Vec::new();
		for attestation in request.attestations.iter_mut().filter(|a| !a.settled) {
			attestation.settled = true;
			if !attestation.matches_commitment {
				if let Some(assignee) =
					request.assigned.get(usize::from(attestation.executor_index))
				{
					liars.push(assignee.account.clone());
				}
			}
		}
		for liar in liars {
			Self::record(&liar, |stats| stats.dissented.saturating_inc());
			let _ = Self::slash_dissent(&liar, request_id);
		}
	}

	/// Slash `executor` by `DissentSlash` to the protocol account; returns what moved.
	fn slash_dissent(executor: &AccountIdOf<T>, request_id: RequestId) -> BalanceOf<T> {
		Self::slash(executor, T::DissentSlash::get(), request_id, SlashReason::Dissent)
	}

	/// Close every assignment of the request and count each executor that never revealed as
	/// a miss (its place for another assignment is freed here; a revealer's was at its reveal); slash those, by `MissSlash`, only when the request was `answerable` (finalized
	/// on a quorum of the others); evict from its pools an executor whose misses in a row
	/// reach `MaxConsecutiveMisses`.
	fn close_assignments(request_id: RequestId, request: &InferenceRequest<T>, answerable: bool) {
		let now: u32 = frame_system::Pallet::<T>::block_number().unique_saturated_into();
		for (index, assignee) in request.assigned.iter().enumerate() {
			Assignments::<T>::remove(&assignee.account, request_id);
			if request.attestations.iter().any(|a| usize::from(a.executor_index) == index) {
				continue;
			}
			let mut misses = 0;
			crate::Executors::<T>::mutate(&assignee.account, |maybe_info| {
				if let Some(info) = maybe_info {
					info.stats.missed.saturating_inc();
					// The misses one block judges count once toward eviction.
					if info.stats.consecutive_misses == 0 || info.stats.last_miss_block != now {
						info.stats.consecutive_misses.saturating_inc();
						info.stats.last_miss_block = now;
					}
					misses = info.stats.consecutive_misses;
					Self::release_assignment(info);
				}
			});
			if answerable {
				Self::slash(
					&assignee.account,
					T::MissSlash::get(),
					request_id,
					SlashReason::Missed,
				);
			}
			if misses >= T::MaxConsecutiveMisses::get() {
				Self::evict(&assignee.account, crate::EvictionReason::ConsecutiveMisses(misses));
			}
		}
	}

	/// Update an executor's counters, if it is still registered.
	fn record(
		executor: &AccountIdOf<T>,
		update: impl FnOnce(&mut crate::ExecutorStats<BalanceOf<T>>),
	) {
		crate::Executors::<T>::mutate(executor, |maybe_info| {
			if let Some(info) = maybe_info {
				update(&mut info.stats);
			}
		});
	}
}

/// Which path a request's deadline took, for the weight the hook charges.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Expiry {
	/// An ordinary request or audit its quorum had finalized (its late reveals judged, its
	/// no-shows slashed, the rest of its escrow returned), or one already closed; its record
	/// had this shape.
	Finalized(RecordShape),
	/// Anything else: an expiry without a quorum, or a re-execution, which may settle and
	/// judge its original.
	Full,
}

/// What a settlement went on to do after paying its executors, for the weight it used.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum FollowUp {
	/// Nothing: the audit draw fell outside `AuditProbability`.
	Nothing,
	/// Opened a request: the audit drawn, or the challenge an audit's mismatch opens.
	Opened,
	/// Judged a challenged original: charged as the heaviest settlement.
	Heaviest,
}
