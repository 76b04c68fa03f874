//! Drawing executors for a request.
//!
//! A request opened in block `n` is assigned in the `on_initialize` of block `n + 1`, from a
//! seed that hashes block `n`'s hash with the request id. Block `n` contains the request
//! itself, so its hash does not exist yet when the requester signs: a requester cannot
//! predict, let alone choose, who will serve it, and cannot grind by resubmitting without
//! paying a new fee each time. What it does not resist: the author of block `n`, who can
//! reorder or drop transactions to try different block hashes (one try per candidate block it
//! seals, and only while it holds the slot). Executors are drawn uniformly from the live
//! executors serving the model, without replacement, so none is favoured or starved.

use crate::{
	AccountIdOf, Assignee, Assignments, Config, Deadlines, Event, HoldReason, ModelExecutors,
	Pallet, RequestKind, RequestStatus, Requests,
};
use alloc::vec::Vec;
use codec::Encode;
use frame_support::{
	traits::{fungible::MutateHold, tokens::Precision, Get},
	BoundedVec,
};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::Saturating;
use verity_primitives::{ModelId, RequestId};

/// Domain separation for assignment seeds.
const ASSIGNMENT_DOMAIN: &[u8] = b"verity/assign";

impl<T: Config> Pallet<T> {
	/// The seed drawn for `request_id` in this block: the parent block's hash with the id.
	pub(crate) fn seed(domain: &[u8], request_id: RequestId) -> [u8; 32] {
		let parent_hash = frame_system::Pallet::<T>::parent_hash();
		sp_io::hashing::blake2_256(&(domain, parent_hash, request_id).encode())
	}

	/// Draw `count` distinct live executors serving `model_id`, none of them in `excluded`.
	///
	/// Returns `None` when fewer than `count` qualify.
	pub(crate) fn draw_executors(
		model_id: &ModelId,
		count: u8,
		excluded: &[AccountIdOf<T>],
		seed: [u8; 32],
	) -> Option<Vec<Assignee<T>>> {
		let mut candidates: Vec<Assignee<T>> = ModelExecutors::<T>::get(model_id)
			.into_iter()
			.filter(|account| !excluded.contains(account))
			.filter_map(|account| {
				let executor = crate::Executors::<T>::get(&account)?;
				Self::is_live(&executor)
					.then(|| Assignee { account, attestation_key: executor.attestation_key })
			})
			.collect();
		let count = usize::from(count);
		if candidates.len() < count {
			return None;
		}
		// A partial Fisher-Yates shuffle: position `i` takes a uniform pick of the rest.
		for i in 0..count {
			let remaining = (candidates.len() - i) as u64;
			let pick = (draw(&seed, i as u32) % remaining) as usize;
			candidates.swap(i, i + pick);
		}
		candidates.truncate(count);
		Some(candidates)
	}

	/// Assign the request opened in the previous block: draw its executors, record their
	/// assignments and queue its deadline; or refund it if too few executors are left.
	pub(crate) fn assign_request(request_id: RequestId, now: BlockNumberFor<T>) {
		let Some(mut request) = Requests::<T>::get(request_id) else { return };
		if request.status != RequestStatus::Pending {
			return;
		}
		let excluded = Self::excluded_executors(&request.kind);
		let seed = Self::seed(ASSIGNMENT_DOMAIN, request_id);
		let drawn = Self::draw_executors(&request.model_id, request.redundancy, &excluded, seed);
		let deadline = now.saturating_add(T::ResponseTimeout::get());
		let queued = drawn.as_ref().is_some_and(|_| {
			Deadlines::<T>::mutate(deadline, |queue| queue.try_push(request_id).is_ok())
		});
		let Some(assignees) = drawn.filter(|_| queued) else {
			let _ = <T::Currency as MutateHold<_>>::release(
				&HoldReason::RequestEscrow.into(),
				&request.requester,
				request.escrow,
				Precision::BestEffort,
			);
			request.escrow = Default::default();
			request.status = RequestStatus::Unassignable;
			Requests::<T>::insert(request_id, request.clone());
			Self::deposit_event(Event::RequestUnassignable { request_id });
			if let RequestKind::Challenge { original, .. } = &request.kind {
				Self::challenge_inconclusive(*original, &request.kind);
			}
			return;
		};
		for assignee in &assignees {
			Assignments::<T>::insert(&assignee.account, request_id, ());
		}
		let executors = assignees.iter().map(|assignee| assignee.account.clone()).collect();
		request.assigned = BoundedVec::truncate_from(assignees);
		request.status = RequestStatus::Assigned { deadline };
		Requests::<T>::insert(request_id, request);
		Self::deposit_event(Event::RequestAssigned { request_id, executors, deadline });
	}

	/// Executors that may not serve a request of this kind: a re-execution needs fresh eyes,
	/// so it excludes the original's executors and, for a challenge opened by a failed audit,
	/// the auditor.
	fn excluded_executors(
		kind: &RequestKind<AccountIdOf<T>, crate::BalanceOf<T>>,
	) -> Vec<AccountIdOf<T>> {
		let (original, audit) = match kind {
			RequestKind::Inference => return Vec::new(),
			RequestKind::Challenge { original, audit, .. } => (*original, *audit),
			RequestKind::Audit { original } => (*original, None),
		};
		core::iter::once(original)
			.chain(audit)
			.filter_map(Requests::<T>::get)
			.flat_map(|request| request.assigned.into_iter().map(|assignee| assignee.account))
			.collect()
	}
}

/// The `index`-th pseudo-random number of `seed`.
fn draw(seed: &[u8; 32], index: u32) -> u64 {
	let hash = sp_io::hashing::blake2_256(&(seed, index).encode());
	u64::from_le_bytes([hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7]])
}
