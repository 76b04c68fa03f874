//! The pallet's invariants, checked by `try-runtime` and at the end of every unit test.

use crate::{
	types::AnswerLoad, AccountIdOf, AnswersOwedTotal, Assignments, BalanceOf, ChallengeState,
	Config, Deadlines, ExecutorByKey, HoldReason, ModelExecutors, Models, Pallet, RequestKind,
	RequestStatus, Requests,
};
use alloc::collections::BTreeMap;
use frame_support::{
	ensure,
	traits::{fungible::InspectHold, Get},
};
use sp_runtime::{traits::Zero, Saturating, TryRuntimeError};

impl<T: Config> Pallet<T> {
	/// Check every invariant of the pallet's storage.
	///
	/// - Version links are mutual.
	/// - Escrow held from each account equals the escrow its open requests still owe.
	/// - Challenge bonds held equal the bonds of open challenges.
	/// - Executor bonds held equal the bonds recorded; keys map both ways.
	/// - Every model pool lists active executors that serve that model.
	/// - Every assignment and deadline entry points at a live request that lists it.
	/// - Each executor's open-assignment count is its assignments not yet revealed, within
	///   the cap.
	/// - Every request still being answered has its input.
	/// - Each open request counts at least what its executors still owe (exactly, but for
	///   commitments since its last reveal), a closed one nothing, and the total is their sum.
	pub fn do_try_state() -> Result<(), TryRuntimeError> {
		Self::check_model_links()?;
		Self::check_escrow_and_bonds()?;
		Self::check_executors()?;
		Self::check_assignments()?;
		Self::check_answers_owed()?;
		Ok(())
	}

	fn check_answers_owed() -> Result<(), TryRuntimeError> {
		let now = frame_system::Pallet::<T>::block_number();
		let mut total = AnswerLoad::default();
		for (_, request) in Requests::<T>::iter() {
			let open = request.status.deadline().is_some_and(|deadline| now < deadline);
			ensure!(
				open || request.answers_owed.is_zero(),
				"a request past its deadline still counts answers owed"
			);
			ensure!(
				Self::answers_owed_by(&request, &Self::answer_shares_for(&request), now)
					.fits(request.answers_owed),
				"a request counts fewer answers owed than its executors owe"
			);
			total = total.saturating_add(request.answers_owed);
		}
		ensure!(
			AnswersOwedTotal::<T>::get() == total,
			"the total of answers owed is not the sum over the requests"
		);
		Ok(())
	}

	fn check_model_links() -> Result<(), TryRuntimeError> {
		for (model_id, model) in Models::<T>::iter() {
			if let Some(successor_id) = model.successor {
				let successor = Models::<T>::get(successor_id)
					.ok_or("a model's successor is not registered")?;
				ensure!(
					successor.metadata.predecessor == Some(model_id),
					"a model's successor does not name it as predecessor"
				);
			}
			if let Some(predecessor_id) = model.metadata.predecessor {
				let predecessor = Models::<T>::get(predecessor_id)
					.ok_or("a model's predecessor is not registered")?;
				ensure!(
					predecessor.successor == Some(model_id),
					"a model's predecessor does not name it as successor"
				);
			}
		}
		Ok(())
	}

	fn check_escrow_and_bonds() -> Result<(), TryRuntimeError> {
		let mut escrow_owed: BTreeMap<AccountIdOf<T>, BalanceOf<T>> = BTreeMap::new();
		let mut challenge_bonds: BTreeMap<AccountIdOf<T>, BalanceOf<T>> = BTreeMap::new();
		let mut deposits: BTreeMap<AccountIdOf<T>, BalanceOf<T>> = BTreeMap::new();
		for (request_id, request) in Requests::<T>::iter() {
			// A request holds a deposit exactly while it keeps bytes in state.
			let holds_bytes = crate::RequestInputs::<T>::contains_key(request_id)
				|| request
					.candidates
					.iter()
					.any(|c| matches!(c.outcome, crate::StoredOutcome::Output(_)));
			if holds_bytes {
				let held = deposits.entry(request.requester.clone()).or_default();
				*held = held.saturating_add(request.storage_deposit);
			} else {
				ensure!(
					request.storage_deposit.is_zero(),
					"a request whose bytes left state still holds a storage deposit"
				);
			}
			let open = matches!(
				request.status,
				RequestStatus::Pending
					| RequestStatus::Assigned { .. }
					| RequestStatus::QuorumReached { .. }
					| RequestStatus::Finalized { .. }
			);
			if open {
				let owed = escrow_owed.entry(request.requester.clone()).or_default();
				*owed = owed.saturating_add(request.escrow);
			} else {
				ensure!(request.escrow.is_zero(), "a closed request still holds escrow");
			}
			if let RequestKind::Challenge { challenger: Some(challenger), bond, original, .. } =
				&request.kind
			{
				let original = Requests::<T>::get(original).ok_or("a challenge of nothing")?;
				// Only the open challenge's re-run holds its bond; earlier, inconclusive ones
				// returned theirs.
				if original.challenge == (ChallengeState::Open { rerun: request_id }) {
					let held = challenge_bonds.entry(challenger.clone()).or_default();
					*held = held.saturating_add(*bond);
				}
			}
		}
		for (account, owed) in &escrow_owed {
			ensure!(
				T::Currency::balance_on_hold(&HoldReason::RequestEscrow.into(), account) == *owed,
				"escrow held differs from the escrow open requests owe"
			);
		}
		for (account, held) in &deposits {
			ensure!(
				T::Currency::balance_on_hold(&HoldReason::StorageDeposit.into(), account) == *held,
				"storage deposits held differ from what requests with bytes in state hold"
			);
		}
		for (account, bonds) in &challenge_bonds {
			ensure!(
				T::Currency::balance_on_hold(&HoldReason::ChallengeBond.into(), account) == *bonds,
				"challenge bonds held differ from open challenges' bonds"
			);
		}
		Ok(())
	}

	fn check_executors() -> Result<(), TryRuntimeError> {
		for (account, executor) in crate::Executors::<T>::iter() {
			ensure!(
				T::Currency::balance_on_hold(&HoldReason::ExecutorBond.into(), &account)
					== executor.bond,
				"an executor's bond held differs from its recorded bond"
			);
			ensure!(
				ExecutorByKey::<T>::get(&executor.attestation_key) == Some(account.clone()),
				"an executor's key does not map back to it"
			);
		}
		for (key, account) in ExecutorByKey::<T>::iter() {
			let executor =
				crate::Executors::<T>::get(&account).ok_or("a key maps to no executor")?;
			ensure!(executor.attestation_key == key, "a key maps to an executor with another key");
		}
		for (model_id, pool) in ModelExecutors::<T>::iter() {
			for account in pool {
				let executor =
					crate::Executors::<T>::get(&account).ok_or("a pool lists a non-executor")?;
				ensure!(
					executor.status == crate::ExecutorStatus::Active,
					"a pool lists an unbonding executor"
				);
				ensure!(
					executor.models.contains(&model_id),
					"a pool lists an executor not serving it"
				);
			}
		}
		Ok(())
	}

	fn check_assignments() -> Result<(), TryRuntimeError> {
		let mut unanswered: BTreeMap<AccountIdOf<T>, u32> = BTreeMap::new();
		for (account, request_id, ()) in Assignments::<T>::iter() {
			let request =
				Requests::<T>::get(request_id).ok_or("an assignment points at no request")?;
			let index = request.assigned.iter().position(|assignee| assignee.account == account);
			let revealed = request
				.attestations
				.iter()
				.any(|attestation| Some(usize::from(attestation.executor_index)) == index);
			if !revealed {
				unanswered.entry(account.clone()).or_default().saturating_inc();
			}
			ensure!(
				request.status.deadline().is_some(),
				"an assignment points at a closed request"
			);
			ensure!(
				request.assigned.iter().any(|assignee| assignee.account == account),
				"an assignment is not in its request's list"
			);
		}
		for (account, executor) in crate::Executors::<T>::iter() {
			ensure!(
				executor.open_assignments == unanswered.get(&account).copied().unwrap_or(0),
				"an executor's open assignments disagree with its unanswered assignments"
			);
			ensure!(
				executor.open_assignments <= T::MaxOpenAssignments::get(),
				"an executor holds more open assignments than the cap"
			);
		}
		let cursors = crate::DueCursor::<T>::get();
		for (deadline, queue) in Deadlines::<T>::iter() {
			ensure!(
				queue.is_empty() || deadline >= cursors.deadlines,
				"a deadline list lies behind the hook's cursor: it would never be closed"
			);
			for request_id in queue {
				let request =
					Requests::<T>::get(request_id).ok_or("a deadline points at no request")?;
				ensure!(
					request.status.deadline() == Some(deadline),
					"a deadline entry disagrees with its request"
				);
			}
		}
		for (at, queue) in crate::PruneAt::<T>::iter() {
			ensure!(
				queue.is_empty() || at >= cursors.prunes,
				"a prune list lies behind the hook's cursor: it would never be pruned"
			);
		}
		for (request_id, request) in Requests::<T>::iter() {
			let answerable = matches!(
				request.status,
				RequestStatus::Pending
					| RequestStatus::Assigned { .. }
					| RequestStatus::QuorumReached { .. }
			);
			ensure!(
				!answerable || crate::RequestInputs::<T>::contains_key(request_id),
				"a request still being answered lost its input"
			);
		}
		ensure!(
			Pallet::<T>::queued_requests() <= T::MaxQueuedRequests::get(),
			"the assignment queue is longer than its bound"
		);
		for request_id in Pallet::<T>::queued_request_ids() {
			let request =
				Requests::<T>::get(request_id).ok_or("a pending entry points at no request")?;
			ensure!(request.status == RequestStatus::Pending, "a pending entry is not pending");
		}
		Ok(())
	}
}
